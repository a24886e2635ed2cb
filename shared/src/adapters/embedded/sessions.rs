//! `SessionStore` on the embedded store: refresh sessions under their user.

use super::*;

/// What a sign-in proved, for [`sign_in`].
#[derive(Debug, Clone, Copy)]
pub(super) struct SignIn {
    /// One proof (assurance level 1): refused on an account with a second
    /// factor.
    pub single_proof: bool,
    /// It came by email, so the address is proven and a waiting account
    /// becomes active.
    pub proves_email: bool,
}

/// A sign-in's writes (the session with its entry in the security log,
/// and the sign-in recorded on the profile) if the account still holds `credential`, is not disabled, and,
/// for a session of one proof, has no second factor; `false` otherwise.
pub(super) fn sign_in(
    table: &mut Table<'_, (&'static str, &'static str), &'static [u8]>,
    user_id: UserId,
    (item, event): &(SessionItem, EventItem),
    proof: SignIn,
    credential: &str,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let user_pk = records::user_pk(user_id);
    // Gone since it was read (deleted): refused like any change meanwhile.
    let Some(mut profile) = get::<ProfileItem>(table, &user_pk, records::PROFILE)? else {
        return Ok(false);
    };
    if profile.password_hash != credential
        || profile.user.status == AccountStatus::Disabled
        || (proof.single_proof && profile.user.second_factor)
    {
        return Ok(false);
    }
    if proof.proves_email {
        // Disabled accounts were refused above (AccountStatus::after_email_proof).
        profile.user.status = AccountStatus::Active;
        profile.user.email_confirmed = true;
    }
    profile.user.last_sign_in_at = Some(now);
    profile.user.sign_in_count += 1;
    profile.user.version += 1;
    put(table, &user_pk, records::PROFILE, &profile)?;
    put(table, &user_pk, &records::session_sk(item.session_id), item)?;
    put_event(table, user_id, event)?;
    Ok(true)
}

#[async_trait]
impl SessionStore for EmbeddedStore {
    async fn start_session(
        &self,
        session: &Session,
        credential: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let item = self.session_items(session);
        let user_id = session.user_id;
        let single_proof = session.authentication.assurance_level() < 2;
        let credential = credential.to_owned();
        self.write(move |table| {
            sign_in(
                table,
                user_id,
                &item,
                SignIn {
                    single_proof,
                    proves_email: false,
                },
                &credential,
                now,
            )
        })
        .await
    }

    async fn rotate_session(
        &self,
        user_id: UserId,
        id: SessionId,
        current: &SecretHash,
        next: &SecretHash,
        older: &[SecretHash],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let (pk, sk) = (records::user_pk(user_id), records::session_sk(id));
        let (current, next) = (current.as_str().to_owned(), next.as_str().to_owned());
        let older = records::stored_hashes(older);
        self.write(move |table| {
            let Some(mut item) = get::<SessionItem>(table, &pk, &sk)? else {
                return Ok(false);
            };
            if item.refresh_hash != current || item.expires_at <= now.unix_timestamp() {
                return Ok(false);
            }
            item.previous_hash = Some(std::mem::replace(&mut item.refresh_hash, next));
            item.older_hashes = older;
            item.rotated_at = Some(now);
            item.generation += 1;
            put(table, &pk, &sk, &item)?;
            Ok(true)
        })
        .await
    }

    async fn end_session(
        &self,
        user_id: UserId,
        id: SessionId,
        event: Option<&SecurityEvent>,
    ) -> Result<(), StoreError> {
        let (pk, sk) = (records::user_pk(user_id), records::session_sk(id));
        let event = event.map(|event| self.event_item(event));
        self.write(move |table| {
            table.remove((pk.as_str(), sk.as_str())).map_err(backend)?;
            match &event {
                Some(event) => put_event(table, user_id, event),
                None => Ok(()),
            }
        })
        .await
    }

    async fn end_all_sessions(&self, user_id: UserId) -> Result<usize, StoreError> {
        let pk = records::user_pk(user_id);
        self.write(move |table| {
            let sessions = session_keys(table, &pk)?;
            for sk in &sessions {
                table.remove((pk.as_str(), sk.as_str())).map_err(backend)?;
            }
            Ok(sessions.len())
        })
        .await
    }

    async fn sessions(
        &self,
        user_id: UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<Session>, StoreError> {
        let read = self.db.begin_read().map_err(backend)?;
        let table = read.open_table(ITEMS).map_err(backend)?;
        let mut sessions = Vec::new();
        for (_, item) in items_with_prefix::<SessionItem>(
            &table,
            &records::user_pk(user_id),
            records::SESSION_PREFIX,
        )? {
            sessions.extend(item.into_session(user_id, now)?);
        }
        Ok(sessions)
    }

    async fn get_session(
        &self,
        user_id: UserId,
        id: SessionId,
        now: OffsetDateTime,
    ) -> Result<Option<Session>, StoreError> {
        let item: Option<SessionItem> =
            self.read(&records::user_pk(user_id), &records::session_sk(id))?;
        match item {
            Some(item) => item.into_session(user_id, now),
            None => Ok(None),
        }
    }
}
