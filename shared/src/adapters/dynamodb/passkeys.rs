//! `PasskeyStore` on DynamoDB: passkeys under their owner with an owner
//! index item per credential, and ceremonies under their challenge's hash.

use super::*;
use crate::domain::FactorName;
use crate::ports::{Passkey, PasskeyCeremony, PasskeyStore};

#[async_trait]
impl PasskeyStore for DynamoStore {
    async fn add_ceremony(&self, ceremony: &PasskeyCeremony) -> Result<(), StoreError> {
        let item = CeremonyItem::new(ceremony);
        self.put_absent(
            records::ceremony_pk(&ceremony.hash),
            records::CEREMONY,
            &item,
        )
        .await
    }

    async fn take_ceremony(
        &self,
        hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<Option<PasskeyCeremony>, StoreError> {
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(
                records::ceremony_pk(hash),
                records::CEREMONY,
            )))
            .update_expression("SET used_at = :at")
            .condition_expression(
                "attribute_exists(pk) AND attribute_not_exists(used_at) AND expires_at > :now",
            )
            .expression_attribute_values(":at", timestamp(now)?)
            .expression_attribute_values(":now", number(now.unix_timestamp()))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        let attributes = match updated {
            Ok(output) => output.attributes.unwrap_or_default(),
            Err(error) if error.code() == Some("ConditionalCheckFailedException") => {
                return Ok(None);
            }
            Err(error) => return Err(classify(error)),
        };
        let item: CeremonyItem =
            from_item(attributes).map_err(|error| StoreError::Corrupt(error.to_string()))?;
        item.into_ceremony(hash, now)
    }

    async fn add_passkey(
        &self,
        passkey: &Passkey,
        event: &SecurityEvent,
    ) -> Result<bool, StoreError> {
        let owner = self.put_new(Self::item(
            records::passkey_owner_pk(&passkey.credential_id),
            records::PASSKEY,
            &PasskeyOwnerItem {
                user_id: passkey.user_id,
            },
        )?)?;
        let item = self.put_new(Self::item(
            records::user_pk(passkey.user_id),
            &records::passkey_sk(&passkey.credential_id),
            &PasskeyItem::new(passkey),
        )?)?;
        match self
            .transact(vec![owner, item, self.put_event(event)?])
            .await?
        {
            Ok(()) => Ok(true),
            Err(_) => Ok(false),
        }
    }

    async fn passkeys(&self, user_id: UserId) -> Result<Vec<Passkey>, StoreError> {
        self.user_items::<PasskeyItem>(user_id, records::PASSKEY_PREFIX)
            .await?
            .into_iter()
            .map(|item| item.into_passkey(user_id))
            .collect()
    }

    async fn passkey_owner(&self, credential_id: &[u8]) -> Result<Option<UserId>, StoreError> {
        Ok(self
            .get::<PasskeyOwnerItem>(records::passkey_owner_pk(credential_id), records::PASSKEY)
            .await?
            .map(|owner| owner.user_id))
    }

    async fn record_passkey_use(
        &self,
        user_id: UserId,
        credential_id: &[u8],
        expected: &[u8],
        state: &[u8],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let update = self.passkey_use(user_id, credential_id, expected, state, now)?;
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(update.key))
            .update_expression(update.update_expression)
            .set_condition_expression(update.condition_expression)
            .set_expression_attribute_names(update.expression_attribute_names)
            .set_expression_attribute_values(update.expression_attribute_values)
            .send()
            .await;
        applied(updated)
    }

    async fn rename_passkey(
        &self,
        user_id: UserId,
        credential_id: &[u8],
        name: &FactorName,
    ) -> Result<bool, StoreError> {
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(
                records::user_pk(user_id),
                &records::passkey_sk(credential_id),
            )))
            .update_expression("SET #name = :name")
            .condition_expression("attribute_exists(pk)")
            .set_expression_attribute_names(names(&[("#name", "name")]))
            .expression_attribute_values(":name", AttributeValue::S(name.as_str().to_owned()))
            .send()
            .await;
        applied(updated)
    }

    async fn remove_passkey(
        &self,
        user_id: UserId,
        credential_id: &[u8],
        event: &SecurityEvent,
    ) -> Result<bool, StoreError> {
        let item = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(
                records::user_pk(user_id),
                &records::passkey_sk(credential_id),
            )))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(boxed)?;
        let owner = self.delete(Self::key(
            records::passkey_owner_pk(credential_id),
            records::PASSKEY,
        ))?;
        match self
            .transact(vec![
                TransactWriteItem::builder().delete(item).build(),
                owner,
                self.put_event(event)?,
            ])
            .await?
        {
            Ok(()) => Ok(true),
            Err(_) => Ok(false),
        }
    }
}

impl DynamoStore {
    /// The update that moves a passkey's state after a use, if it is still
    /// the one the use was checked against (alone, or in the transaction
    /// that finishes a sign-in with a second factor).
    pub(super) fn passkey_use(
        &self,
        user_id: UserId,
        credential_id: &[u8],
        expected: &[u8],
        state: &[u8],
        now: OffsetDateTime,
    ) -> Result<Update, StoreError> {
        Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(
                records::user_pk(user_id),
                &records::passkey_sk(credential_id),
            )))
            .update_expression("SET #state = :state, last_used_at = :at")
            .condition_expression("#state = :expected")
            .set_expression_attribute_names(names(&[("#state", "state")]))
            .expression_attribute_values(
                ":state",
                AttributeValue::S(records::stored_passkey_state(state)),
            )
            .expression_attribute_values(
                ":expected",
                AttributeValue::S(records::stored_passkey_state(expected)),
            )
            .expression_attribute_values(":at", timestamp(now)?)
            .build()
            .map_err(boxed)
    }
}
