//! `CodeStore` on DynamoDB: confirmation and reset codes.

use super::*;
use crate::ports::email_confirmed_event;

#[async_trait]
impl CodeStore for DynamoStore {
    async fn confirm_email(
        &self,
        hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<ConfirmOutcome, StoreError> {
        let Some(code) = self
            .get::<CodeItem>(records::code_pk(hash), records::CODE)
            .await?
        else {
            return Ok(ConfirmOutcome::Invalid);
        };
        if code.kind != CodeKind::Confirm || !code.is_live(now) {
            return Ok(ConfirmOutcome::Invalid);
        }
        if code.used_at.is_some() {
            return Ok(ConfirmOutcome::AlreadyConfirmed(code.user_id));
        }
        let spend = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(records::code_pk(hash), records::CODE)))
            .update_expression("SET used_at = :now")
            .condition_expression(
                "attribute_exists(pk) AND attribute_not_exists(used_at) AND expires_at > :now",
            )
            .expression_attribute_values(":now", number(now.unix_timestamp()))
            .build()
            .map_err(boxed)?;
        let activate = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(
                records::user_pk(code.user_id),
                records::PROFILE,
            )))
            // AccountStatus::after_email_proof, as a condition: every status
            // but disabled becomes active.
            .update_expression(
                "SET #user.#status = :active, #user.#confirmed = :true, #user.#updated = :at, \
                 #user.#version = #user.#version + :one",
            )
            .condition_expression("attribute_exists(pk) AND #user.#status <> :disabled")
            .set_expression_attribute_names(names(&[
                ("#user", attr::USER),
                ("#status", attr::STATUS),
                ("#confirmed", attr::EMAIL_CONFIRMED),
                ("#updated", attr::UPDATED_AT),
                ("#version", attr::VERSION),
            ]))
            .expression_attribute_values(":active", status(AccountStatus::Active))
            .expression_attribute_values(":disabled", status(AccountStatus::Disabled))
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":at", timestamp(now)?)
            .expression_attribute_values(":one", number(1))
            .build()
            .map_err(boxed)?;
        let items = vec![
            TransactWriteItem::builder().update(spend).build(),
            TransactWriteItem::builder().update(activate).build(),
            self.put_event(&email_confirmed_event(code.user_id, now))?,
        ];
        match self.transact(items).await? {
            Ok(()) => Ok(ConfirmOutcome::Confirmed(code.user_id)),
            // Someone spent it between our read and our write: if it is
            // still live, that was a concurrent open of the same link.
            Err(reasons) if failed_at(&reasons, 0) => {
                let again = self
                    .get::<CodeItem>(records::code_pk(hash), records::CODE)
                    .await?;
                Ok(match again {
                    Some(code) if code.used_at.is_some() && code.is_live(now) => {
                        ConfirmOutcome::AlreadyConfirmed(code.user_id)
                    }
                    _ => ConfirmOutcome::Invalid,
                })
            }
            // The account is gone or disabled.
            Err(_) => Ok(ConfirmOutcome::Invalid),
        }
    }

    async fn add_confirmation_code(&self, code: &StoredCode) -> Result<(), StoreError> {
        let item = Self::item(
            records::code_pk(&code.hash),
            records::CODE,
            &CodeItem::new(code),
        )?;
        match self.transact(vec![self.put_new(item)?]).await? {
            Ok(()) => Ok(()),
            Err(reasons) => Err(StoreError::Backend(
                format!("code not stored: {reasons:?}").into(),
            )),
        }
    }

    async fn replace_reset_code(&self, code: &StoredCode) -> Result<(), StoreError> {
        let user_pk = records::user_pk(code.user_id);
        let previous = self
            .get::<ResetPointerItem>(user_pk.clone(), records::RESET)
            .await?;
        let pointer = Put::builder()
            .table_name(&self.table)
            .set_item(Some(Self::item(
                user_pk,
                records::RESET,
                &ResetPointerItem::new(code),
            )?))
            .build()
            .map_err(boxed)?;
        let mut items = vec![
            self.put_new(Self::item(
                records::code_pk(&code.hash),
                records::CODE,
                &CodeItem::new(code),
            )?)?,
            TransactWriteItem::builder().put(pointer).build(),
        ];
        // Tidiness only: the pointer is what retires the earlier code, even
        // if a concurrent request deletes some other one.
        if let Some(hash) = previous.and_then(|item| SecretHash::from_stored(&item.code_hash)) {
            let delete = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(Self::key(records::code_pk(&hash), records::CODE)))
                .build()
                .map_err(boxed)?;
            items.push(TransactWriteItem::builder().delete(delete).build());
        }
        match self.transact(items).await? {
            Ok(()) => Ok(()),
            Err(reasons) => Err(StoreError::Backend(
                format!("reset code not stored: {reasons:?}").into(),
            )),
        }
    }

    async fn find_reset_code(
        &self,
        hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<Option<UserId>, StoreError> {
        Ok(self
            .current_reset_code(hash, now)
            .await?
            .map(|code| code.user_id))
    }

    async fn reset_password(
        &self,
        hash: &SecretHash,
        account: &Account,
        expected_version: u64,
        event: &SecurityEvent,
        now: OffsetDateTime,
    ) -> Result<ResetOutcome, StoreError> {
        let user_id = account.user.id;
        let spend = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(records::code_pk(hash), records::CODE)))
            .update_expression("SET used_at = :now")
            .condition_expression(
                "attribute_exists(pk) AND attribute_not_exists(used_at) AND expires_at > :now \
                 AND kind = :reset AND user_id = :user",
            )
            .expression_attribute_values(":now", number(now.unix_timestamp()))
            .expression_attribute_values(":reset", AttributeValue::S("reset".to_owned()))
            .expression_attribute_values(":user", AttributeValue::S(user_id.to_string()))
            .build()
            .map_err(boxed)?;
        let retire_pointer = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(records::user_pk(user_id), records::RESET)))
            .condition_expression("code_hash = :hash")
            .expression_attribute_values(":hash", AttributeValue::S(hash.as_str().to_owned()))
            .build()
            .map_err(boxed)?;
        let profile = Put::builder()
            .table_name(&self.table)
            .set_item(Some(Self::item(
                records::user_pk(user_id),
                records::PROFILE,
                &ProfileItem::from_account(account),
            )?))
            .condition_expression("#user.#version = :version")
            .set_expression_attribute_names(names(&[
                ("#user", attr::USER),
                ("#version", attr::VERSION),
            ]))
            .expression_attribute_values(":version", number_u64(expected_version))
            .build()
            .map_err(boxed)?;
        let mut items = vec![
            TransactWriteItem::builder().update(spend).build(),
            TransactWriteItem::builder().delete(retire_pointer).build(),
            TransactWriteItem::builder().put(profile).build(),
            self.put_event(event)?,
        ];
        let sessions = self.session_keys(user_id).await?;
        for key in sessions.iter().take(SESSIONS_PER_RESET_TRANSACTION) {
            items.push(self.delete(key.clone())?);
        }
        match self.transact(items).await? {
            Ok(()) => {}
            Err(reasons) if failed_at(&reasons, 0) || failed_at(&reasons, 1) => {
                return Ok(ResetOutcome::InvalidCode);
            }
            Err(_) => return Ok(ResetOutcome::ProfileChanged),
        }
        let stragglers = self.sweep_sessions(user_id, None).await;
        Ok(ResetOutcome::Reset {
            sessions_ended: sessions.len().min(SESSIONS_PER_RESET_TRANSACTION) + stragglers,
        })
    }
}
