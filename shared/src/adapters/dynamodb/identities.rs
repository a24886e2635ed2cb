//! `IdentityStore` on DynamoDB: identities under their owner with an owner
//! item each, flights and grants under their secret's hash (single use:
//! a take deletes the item and gets it back in one conditional write).

use super::*;
use crate::domain::{Identity, IdentityKey, UserType};
use crate::ports::{IdentityStore, LinkOutcome, ProviderFlight, ProviderGrant, UnlinkOutcome};

impl DynamoStore {
    /// Deletes the item and returns what it held: of two takes one wins.
    async fn take<T: DeserializeOwned>(
        &self,
        pk: String,
        sk: &str,
    ) -> Result<Option<T>, StoreError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(pk, sk)))
            .condition_expression("attribute_exists(pk)")
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match deleted {
            Ok(output) => from_item(output.attributes.unwrap_or_default())
                .map(Some)
                .map_err(|error| StoreError::Corrupt(error.to_string())),
            Err(error) if error.code() == Some("ConditionalCheckFailedException") => Ok(None),
            Err(error) => Err(classify(error)),
        }
    }
}

/// Whether the transaction's first item is the one whose condition failed.
fn first_refused(reasons: &[Option<String>]) -> bool {
    reasons.first().and_then(Option::as_deref) == Some("ConditionalCheckFailed")
}

#[async_trait]
impl IdentityStore for DynamoStore {
    async fn add_flight(&self, flight: &ProviderFlight) -> Result<(), StoreError> {
        let item = FlightItem::new(flight);
        self.put_absent(records::oidc_pk(&flight.hash), records::FLIGHT, &item)
            .await
    }

    async fn take_flight(
        &self,
        hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<Option<ProviderFlight>, StoreError> {
        match self
            .take::<FlightItem>(records::oidc_pk(hash), records::FLIGHT)
            .await?
        {
            Some(item) => item.into_flight(hash, now),
            None => Ok(None),
        }
    }

    async fn add_grant(&self, grant: &ProviderGrant) -> Result<(), StoreError> {
        let item = GrantItem::new(grant);
        self.put_absent(records::oidc_pk(&grant.hash), records::GRANT, &item)
            .await
    }

    async fn take_grant(
        &self,
        hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<Option<ProviderGrant>, StoreError> {
        match self
            .take::<GrantItem>(records::oidc_pk(hash), records::GRANT)
            .await?
        {
            Some(item) => item.into_grant(hash, now),
            None => Ok(None),
        }
    }

    async fn identity_owner(
        &self,
        key: &IdentityKey,
        user_type: &UserType,
    ) -> Result<Option<UserId>, StoreError> {
        Ok(self
            .get::<IdentityOwnerItem>(
                records::identity_owner_pk(key, user_type),
                records::IDENTITY,
            )
            .await?
            .map(|owner| owner.user_id))
    }

    async fn identities(&self, user_id: UserId) -> Result<Vec<Identity>, StoreError> {
        self.user_items::<IdentityItem>(user_id, records::IDENTITY_PREFIX)
            .await?
            .into_iter()
            .map(|item| item.into_identity(user_id))
            .collect()
    }

    async fn link_identity(
        &self,
        identity: &Identity,
        user_type: &UserType,
        expected_version: u64,
        event: &SecurityEvent,
    ) -> Result<LinkOutcome, StoreError> {
        let user_id = identity.user_id;
        let writes = vec![
            self.put_new(Self::item(
                records::identity_owner_pk(&identity.key, user_type),
                records::IDENTITY,
                &IdentityOwnerItem { user_id },
            )?)?,
            self.put_new(Self::item(
                records::user_pk(user_id),
                &records::identity_sk(&identity.key, user_type),
                &IdentityItem::new(identity),
            )?)?,
            self.move_profile_version(user_id, expected_version, identity.linked_at, None)?,
            self.put_event(event)?,
        ];
        Ok(match self.transact(writes).await? {
            Ok(()) => LinkOutcome::Linked,
            Err(reasons) if first_refused(&reasons) => LinkOutcome::Taken,
            Err(_) => LinkOutcome::AccountChanged,
        })
    }

    async fn unlink_identity(
        &self,
        user_id: UserId,
        key: &IdentityKey,
        user_type: &UserType,
        expected_version: u64,
        event: &SecurityEvent,
    ) -> Result<UnlinkOutcome, StoreError> {
        let item = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(
                records::user_pk(user_id),
                &records::identity_sk(key, user_type),
            )))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(boxed)?;
        let writes = vec![
            TransactWriteItem::builder().delete(item).build(),
            self.delete(Self::key(
                records::identity_owner_pk(key, user_type),
                records::IDENTITY,
            ))?,
            self.move_profile_version(user_id, expected_version, event.at, None)?,
            self.put_event(event)?,
        ];
        Ok(match self.transact(writes).await? {
            Ok(()) => UnlinkOutcome::Unlinked,
            Err(reasons) if first_refused(&reasons) => UnlinkOutcome::NotFound,
            Err(_) => UnlinkOutcome::AccountChanged,
        })
    }
}
