//! `SessionStore` on DynamoDB: refresh sessions under their user.

use super::*;

impl DynamoStore {
    /// A sign-in's three writes: put the session and its entry in the
    /// security log, and record the sign-in on the profile if the account still holds `credential`, is not
    /// disabled, and (for a session of one proof) has no second factor.
    /// `proves_email`: the sign-in came by email (a code), so the address
    /// is proven and a waiting account becomes active.
    pub(super) fn sign_in_writes(
        &self,
        session: &Session,
        credential: &str,
        proves_email: bool,
        now: OffsetDateTime,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let put = self.put_new(Self::item(
            records::user_pk(session.user_id),
            &records::session_sk(session.id),
            &SessionItem::new(session),
        )?)?;
        let mut condition = String::from(
            "attribute_exists(pk) AND #password_hash = :credential AND #user.#status <> :disabled",
        );
        let single_proof = session.authentication.assurance_level() < 2;
        if single_proof {
            condition.push_str(
                " AND (attribute_not_exists(#user.#second_factor) OR #user.#second_factor = :false)",
            );
        }
        let mut names_used = vec![
            ("#user", attr::USER),
            ("#last_sign_in", attr::LAST_SIGN_IN_AT),
            ("#sign_ins", attr::SIGN_IN_COUNT),
            ("#version", attr::VERSION),
            ("#password_hash", attr::PASSWORD_HASH),
            ("#status", attr::STATUS),
        ];
        if single_proof {
            names_used.push(("#second_factor", attr::SECOND_FACTOR));
        }
        let mut update = String::from(
            "SET #user.#last_sign_in = :at, #user.#sign_ins = #user.#sign_ins + :one, \
             #user.#version = #user.#version + :one",
        );
        if proves_email {
            update.push_str(", #user.#status = :active, #user.#email_confirmed = :true");
            names_used.push(("#email_confirmed", attr::EMAIL_CONFIRMED));
        }
        let mut record_sign_in = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(
                records::user_pk(session.user_id),
                records::PROFILE,
            )))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(names(&names_used))
            .expression_attribute_values(":at", timestamp(now)?)
            .expression_attribute_values(":one", number(1))
            .expression_attribute_values(":credential", AttributeValue::S(credential.to_owned()))
            .expression_attribute_values(":disabled", status(AccountStatus::Disabled));
        if single_proof {
            record_sign_in =
                record_sign_in.expression_attribute_values(":false", AttributeValue::Bool(false));
        }
        if proves_email {
            record_sign_in = record_sign_in
                .expression_attribute_values(":active", status(AccountStatus::Active))
                .expression_attribute_values(":true", AttributeValue::Bool(true));
        }
        let event = session.sign_in_event();
        Ok(vec![
            put,
            TransactWriteItem::builder()
                .update(record_sign_in.build().map_err(boxed)?)
                .build(),
            self.put_event(&event)?,
        ])
    }
}

#[async_trait]
impl SessionStore for DynamoStore {
    async fn start_session(
        &self,
        session: &Session,
        credential: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        match self
            .transact(self.sign_in_writes(session, credential, false, now)?)
            .await?
        {
            Ok(()) => Ok(true),
            Err(reasons) if failed_at(&reasons, 1) => Ok(false),
            Err(reasons) => Err(StoreError::Backend(
                format!("session not started: {reasons:?}").into(),
            )),
        }
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
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(
                records::user_pk(user_id),
                &records::session_sk(id),
            )))
            .update_expression(
                "SET refresh_hash = :next, previous_hash = :current, older_hashes = :older, \
                 rotated_at = :at, generation = generation + :one",
            )
            .condition_expression("refresh_hash = :current AND expires_at > :now")
            .expression_attribute_values(":next", AttributeValue::S(next.as_str().to_owned()))
            .expression_attribute_values(":current", AttributeValue::S(current.as_str().to_owned()))
            .expression_attribute_values(
                ":older",
                AttributeValue::L(
                    records::stored_hashes(older)
                        .into_iter()
                        .map(AttributeValue::S)
                        .collect(),
                ),
            )
            .expression_attribute_values(":at", timestamp(now)?)
            .expression_attribute_values(":now", number(now.unix_timestamp()))
            .expression_attribute_values(":one", number(1))
            .send()
            .await;
        applied(updated)
    }

    async fn end_session(
        &self,
        user_id: UserId,
        id: SessionId,
        event: Option<&SecurityEvent>,
    ) -> Result<(), StoreError> {
        let mut writes = vec![self.delete(Self::key(
            records::user_pk(user_id),
            &records::session_sk(id),
        ))?];
        if let Some(event) = event {
            writes.push(self.put_event(event)?);
        }
        match self.transact(writes).await? {
            Ok(()) => Ok(()),
            Err(reasons) => Err(StoreError::Corrupt(format!(
                "an unconditional write was refused: {reasons:?}"
            ))),
        }
    }

    async fn end_all_sessions(&self, user_id: UserId) -> Result<usize, StoreError> {
        let keys = self.session_keys(user_id).await?;
        self.delete_keys(&keys).await?;
        Ok(keys.len())
    }

    async fn sessions(
        &self,
        user_id: UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<Session>, StoreError> {
        let mut sessions = Vec::new();
        for item in self
            .user_items::<SessionItem>(user_id, records::SESSION_PREFIX)
            .await?
        {
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
        match self
            .get::<SessionItem>(records::user_pk(user_id), &records::session_sk(id))
            .await?
        {
            Some(item) => item.into_session(user_id, now),
            None => Ok(None),
        }
    }
}
