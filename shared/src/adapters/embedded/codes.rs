//! `CodeStore` on the embedded store: confirmation and reset codes.

use super::*;
use crate::ports::email_confirmed_event;

#[async_trait]
impl CodeStore for EmbeddedStore {
    async fn confirm_email(
        &self,
        hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<ConfirmOutcome, StoreError> {
        let code_pk = records::code_pk(hash);
        let retention = self.audit_retention;
        self.write(move |table| {
            let Some(mut code) = get::<CodeItem>(table, &code_pk, records::CODE)? else {
                return Ok(ConfirmOutcome::Invalid);
            };
            if code.kind != CodeKind::Confirm || !code.is_live(now) {
                return Ok(ConfirmOutcome::Invalid);
            }
            if code.used_at.is_some() {
                return Ok(ConfirmOutcome::AlreadyConfirmed(code.user_id));
            }
            let profile_pk = records::user_pk(code.user_id);
            let Some(mut profile) = get::<ProfileItem>(table, &profile_pk, records::PROFILE)?
            else {
                return Ok(ConfirmOutcome::Invalid);
            };
            let Some(status) = profile.user.status.after_email_proof() else {
                return Ok(ConfirmOutcome::Invalid);
            };
            profile.user.status = status;
            profile.user.email_confirmed = true;
            profile.user.updated_at = now;
            profile.user.version += 1;
            code.used_at = Some(now.unix_timestamp());
            put(table, &profile_pk, records::PROFILE, &profile)?;
            put(table, &code_pk, records::CODE, &code)?;
            let confirmed = email_confirmed_event(code.user_id, now);
            put_event(table, code.user_id, &EventItem::new(&confirmed, retention))?;
            Ok(ConfirmOutcome::Confirmed(code.user_id))
        })
        .await
    }

    async fn add_confirmation_code(&self, code: &StoredCode) -> Result<(), StoreError> {
        let (pk, item) = (records::code_pk(&code.hash), CodeItem::new(code));
        self.write(move |table| {
            if exists(table, &pk, records::CODE)? {
                return Err(StoreError::Backend("code already exists".into()));
            }
            put(table, &pk, records::CODE, &item)
        })
        .await
    }

    async fn replace_reset_code(&self, code: &StoredCode) -> Result<(), StoreError> {
        let (code_pk, item) = (records::code_pk(&code.hash), CodeItem::new(code));
        let (user_pk, pointer) = (records::user_pk(code.user_id), ResetPointerItem::new(code));
        self.write(move |table| {
            if exists(table, &code_pk, records::CODE)? {
                return Err(StoreError::Backend("code already exists".into()));
            }
            if let Some(old) = get::<ResetPointerItem>(table, &user_pk, records::RESET)? {
                let old_hash = SecretHash::from_stored(&old.code_hash)
                    .ok_or_else(|| StoreError::Corrupt("reset pointer".to_owned()))?;
                let old_pk = records::code_pk(&old_hash);
                table
                    .remove((old_pk.as_str(), records::CODE))
                    .map_err(backend)?;
            }
            put(table, &code_pk, records::CODE, &item)?;
            put(table, &user_pk, records::RESET, &pointer)
        })
        .await
    }

    async fn find_reset_code(
        &self,
        hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<Option<UserId>, StoreError> {
        let hash = hash.clone();
        self.blocking(move |db| {
            let read = db.begin_read().map_err(backend)?;
            let table = read.open_table(ITEMS).map_err(backend)?;
            Ok(current_reset_code(&table, &hash, now)?.map(|code| code.user_id))
        })
        .await
    }

    async fn reset_password(
        &self,
        hash: &SecretHash,
        account: &Account,
        expected_version: u64,
        event: &SecurityEvent,
        now: OffsetDateTime,
    ) -> Result<ResetOutcome, StoreError> {
        let (code_pk, hash) = (records::code_pk(hash), hash.clone());
        let profile = ProfileItem::from_account(account);
        let event = self.event_item(event);
        self.write(move |table| {
            let Some(mut code) = current_reset_code(table, &hash, now)? else {
                return Ok(ResetOutcome::InvalidCode);
            };
            if code.user_id != profile.user.id {
                return Ok(ResetOutcome::InvalidCode);
            }
            let user_pk = records::user_pk(code.user_id);
            match get::<ProfileItem>(table, &user_pk, records::PROFILE)? {
                Some(stored) if stored.user.version == expected_version => {}
                _ => return Ok(ResetOutcome::ProfileChanged),
            }
            code.used_at = Some(now.unix_timestamp());
            put(table, &code_pk, records::CODE, &code)?;
            table
                .remove((user_pk.as_str(), records::RESET))
                .map_err(backend)?;
            put(table, &user_pk, records::PROFILE, &profile)?;
            put_event(table, code.user_id, &event)?;
            let sessions = session_keys(table, &user_pk)?;
            for sk in &sessions {
                table
                    .remove((user_pk.as_str(), sk.as_str()))
                    .map_err(backend)?;
            }
            Ok(ResetOutcome::Reset {
                sessions_ended: sessions.len(),
            })
        })
        .await
    }
}
