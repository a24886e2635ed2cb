//! `SessionStore` on the embedded store: refresh sessions under their user.

use super::*;

#[async_trait]
impl SessionStore for EmbeddedStore {
    async fn start_session(
        &self,
        session: &Session,
        credential: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let item = SessionItem::new(session);
        let user_pk = records::user_pk(session.user_id);
        let credential = credential.to_owned();
        self.write(move |table| {
            let Some(mut profile) = get::<ProfileItem>(table, &user_pk, records::PROFILE)? else {
                return Err(StoreError::Backend("session for a missing account".into()));
            };
            if profile.password_hash != credential || profile.user.status == AccountStatus::Disabled
            {
                return Ok(false);
            }
            profile.user.last_sign_in_at = Some(now);
            profile.user.sign_in_count += 1;
            profile.user.version += 1;
            put(table, &user_pk, records::PROFILE, &profile)?;
            put(
                table,
                &user_pk,
                &records::session_sk(item.session_id),
                &item,
            )?;
            Ok(true)
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

    async fn end_session(&self, user_id: UserId, id: SessionId) -> Result<(), StoreError> {
        let (pk, sk) = (records::user_pk(user_id), records::session_sk(id));
        self.write(move |table| {
            table.remove((pk.as_str(), sk.as_str())).map_err(backend)?;
            Ok(())
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
