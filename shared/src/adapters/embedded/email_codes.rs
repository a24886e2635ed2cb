//! `EmailCodeStore` on the embedded store: one emailed sign-in code per
//! account.

use super::factors::{Abort, ItemTable};
use super::sessions::{SignIn, sign_in};
use super::*;

/// Spends the account's code if its MAC is `mac` and it is unused and
/// unexpired; `false` otherwise.
fn spend(
    table: &mut ItemTable<'_>,
    user_id: UserId,
    mac: &str,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let pk = records::user_pk(user_id);
    let live = get::<EmailCodeItem>(table, &pk, records::EMAIL_CODE)?.filter(|item| {
        item.mac == mac && item.used_at.is_none() && item.expires_at > now.unix_timestamp()
    });
    let Some(mut item) = live else {
        return Ok(false);
    };
    item.used_at = Some(now);
    put(table, &pk, records::EMAIL_CODE, &item)?;
    Ok(true)
}

#[async_trait]
impl EmailCodeStore for EmbeddedStore {
    async fn replace_email_code(&self, code: &EmailSignInCode) -> Result<(), StoreError> {
        let pk = records::user_pk(code.user_id);
        let item = EmailCodeItem::new(code);
        self.write(move |table| put(table, &pk, records::EMAIL_CODE, &item))
            .await
    }

    async fn attempt_email_code(
        &self,
        user_id: UserId,
        now: OffsetDateTime,
    ) -> Result<Option<EmailSignInCode>, StoreError> {
        self.write(move |table| {
            let pk = records::user_pk(user_id);
            let Some(mut item) = get::<EmailCodeItem>(table, &pk, records::EMAIL_CODE)? else {
                return Ok(None);
            };
            if item.attempts >= EMAIL_CODE_ATTEMPTS {
                return Ok(None);
            }
            item.attempts += 1;
            put(table, &pk, records::EMAIL_CODE, &item)?;
            item.into_code(user_id, now)
        })
        .await
    }

    async fn spend_email_code(
        &self,
        user_id: UserId,
        mac: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mac = mac.to_owned();
        self.write(move |table| spend(table, user_id, &mac, now))
            .await
    }

    async fn sign_in_with_email_code(
        &self,
        mac: &str,
        session: &Session,
        credential: &str,
        now: OffsetDateTime,
    ) -> Result<EmailCodeOutcome, StoreError> {
        let mac = mac.to_owned();
        let user_id = session.user_id;
        let item = self.session_items(session);
        let single_proof = session.authentication.assurance_level() < 2;
        let credential = credential.to_owned();
        self.write_or_roll_back(move |table| {
            if !spend(table, user_id, &mac, now)? {
                return Err(Abort::With(EmailCodeOutcome::CodeGone));
            }
            let proof = SignIn {
                single_proof,
                proves_email: true,
            };
            if !sign_in(table, user_id, &item, proof, &credential, now)? {
                return Err(Abort::With(EmailCodeOutcome::AccountChanged));
            }
            Ok(EmailCodeOutcome::SignedIn)
        })
        .await
    }
}
