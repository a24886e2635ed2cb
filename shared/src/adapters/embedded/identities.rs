//! `IdentityStore` on the embedded store: identities under their owner
//! with an owner item each, flights and grants under their secret's hash.

use super::factors::{Abort, ItemTable, move_profile_version};
use super::*;
use crate::domain::{Identity, IdentityKey, UserType};
use crate::ports::{IdentityStore, LinkOutcome, ProviderFlight, ProviderGrant, UnlinkOutcome};

/// Removes and returns the item: one take wins.
fn take<T: DeserializeOwned>(
    table: &mut ItemTable<'_>,
    pk: &str,
    sk: &str,
) -> Result<Option<T>, StoreError> {
    let item = get::<T>(table, pk, sk)?;
    if item.is_some() {
        table.remove((pk, sk)).map_err(backend)?;
    }
    Ok(item)
}

#[async_trait]
impl IdentityStore for EmbeddedStore {
    async fn add_flight(&self, flight: &ProviderFlight) -> Result<(), StoreError> {
        let pk = records::oidc_pk(&flight.hash);
        let item = FlightItem::new(flight);
        self.write(move |table| put(table, &pk, records::FLIGHT, &item))
            .await
    }

    async fn take_flight(
        &self,
        hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<Option<ProviderFlight>, StoreError> {
        let hash = hash.clone();
        self.write(move |table| {
            match take::<FlightItem>(table, &records::oidc_pk(&hash), records::FLIGHT)? {
                Some(item) => item.into_flight(&hash, now),
                None => Ok(None),
            }
        })
        .await
    }

    async fn add_grant(&self, grant: &ProviderGrant) -> Result<(), StoreError> {
        let pk = records::oidc_pk(&grant.hash);
        let item = GrantItem::new(grant);
        self.write(move |table| put(table, &pk, records::GRANT, &item))
            .await
    }

    async fn take_grant(
        &self,
        hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<Option<ProviderGrant>, StoreError> {
        let hash = hash.clone();
        self.write(move |table| {
            match take::<GrantItem>(table, &records::oidc_pk(&hash), records::GRANT)? {
                Some(item) => item.into_grant(&hash, now),
                None => Ok(None),
            }
        })
        .await
    }

    async fn identity_owner(
        &self,
        key: &IdentityKey,
        user_type: &UserType,
    ) -> Result<Option<UserId>, StoreError> {
        Ok(self
            .read::<IdentityOwnerItem>(
                &records::identity_owner_pk(key, user_type),
                records::IDENTITY,
            )?
            .map(|owner| owner.user_id))
    }

    async fn identities(&self, user_id: UserId) -> Result<Vec<Identity>, StoreError> {
        let read = self.db.begin_read().map_err(backend)?;
        let table = read.open_table(ITEMS).map_err(backend)?;
        items_with_prefix::<IdentityItem>(
            &table,
            &records::user_pk(user_id),
            records::IDENTITY_PREFIX,
        )?
        .into_iter()
        .map(|(_, item)| item.into_identity(user_id))
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
        let owner_pk = records::identity_owner_pk(&identity.key, user_type);
        let sk = records::identity_sk(&identity.key, user_type);
        let item = IdentityItem::new(identity);
        let event = self.event_item(event);
        let now = identity.linked_at;
        self.write_or_roll_back(move |table| {
            if exists(table, &owner_pk, records::IDENTITY)? {
                return Err(Abort::With(LinkOutcome::Taken));
            }
            if !move_profile_version(table, user_id, expected_version, now, None)? {
                return Err(Abort::With(LinkOutcome::AccountChanged));
            }
            put(
                table,
                &owner_pk,
                records::IDENTITY,
                &IdentityOwnerItem { user_id },
            )?;
            put(table, &records::user_pk(user_id), &sk, &item)?;
            put_event(table, user_id, &event)?;
            Ok(LinkOutcome::Linked)
        })
        .await
    }

    async fn unlink_identity(
        &self,
        user_id: UserId,
        key: &IdentityKey,
        user_type: &UserType,
        expected_version: u64,
        event: &SecurityEvent,
    ) -> Result<UnlinkOutcome, StoreError> {
        let owner_pk = records::identity_owner_pk(key, user_type);
        let sk = records::identity_sk(key, user_type);
        let now = event.at;
        let event = self.event_item(event);
        self.write_or_roll_back(move |table| {
            let user_pk = records::user_pk(user_id);
            if table
                .remove((user_pk.as_str(), sk.as_str()))
                .map_err(backend)?
                .is_none()
            {
                return Err(Abort::With(UnlinkOutcome::NotFound));
            }
            if !move_profile_version(table, user_id, expected_version, now, None)? {
                return Err(Abort::With(UnlinkOutcome::AccountChanged));
            }
            table
                .remove((owner_pk.as_str(), records::IDENTITY))
                .map_err(backend)?;
            put_event(table, user_id, &event)?;
            Ok(UnlinkOutcome::Unlinked)
        })
        .await
    }
}
