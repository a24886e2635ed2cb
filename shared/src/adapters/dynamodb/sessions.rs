//! `SessionStore` on DynamoDB: refresh sessions under their user.

use super::*;

#[async_trait]
impl SessionStore for DynamoStore {
    async fn start_session(
        &self,
        session: &Session,
        credential: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let put = self.put_new(Self::item(
            records::user_pk(session.user_id),
            &records::session_sk(session.id),
            &SessionItem::new(session),
        )?)?;
        let record_sign_in = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(
                records::user_pk(session.user_id),
                records::PROFILE,
            )))
            .update_expression(
                "SET #user.#last_sign_in = :at, #user.#sign_ins = #user.#sign_ins + :one, \
                 #user.#version = #user.#version + :one",
            )
            .condition_expression(
                "attribute_exists(pk) AND #password_hash = :credential AND #user.#status <> :disabled",
            )
            .set_expression_attribute_names(names(&[
                ("#user", attr::USER),
                ("#last_sign_in", attr::LAST_SIGN_IN_AT),
                ("#sign_ins", attr::SIGN_IN_COUNT),
                ("#version", attr::VERSION),
                ("#password_hash", attr::PASSWORD_HASH),
                ("#status", attr::STATUS),
            ]))
            .expression_attribute_values(":at", timestamp(now)?)
            .expression_attribute_values(":one", number(1))
            .expression_attribute_values(":credential", AttributeValue::S(credential.to_owned()))
            .expression_attribute_values(":disabled", status(AccountStatus::Disabled))
            .build()
            .map_err(boxed)?;
        match self
            .transact(vec![
                put,
                TransactWriteItem::builder().update(record_sign_in).build(),
            ])
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
        match updated {
            Ok(_) => Ok(true),
            Err(error) if error.code() == Some("ConditionalCheckFailedException") => Ok(false),
            Err(error) => Err(classify(error)),
        }
    }

    async fn end_session(&self, user_id: UserId, id: SessionId) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(
                records::user_pk(user_id),
                &records::session_sk(id),
            )))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn end_all_sessions(&self, user_id: UserId) -> Result<usize, StoreError> {
        let keys = self.session_keys(user_id).await?;
        self.delete_keys(&keys).await?;
        Ok(keys.len())
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
