//! `PasskeyStore` on the embedded store: passkeys under their owner with an
//! owner index item per credential, and ceremonies under their challenge's
//! hash.

use super::factors::ItemTable;
use super::*;
use crate::domain::FactorName;
use crate::ports::{Passkey, PasskeyCeremony, PasskeyStore};

#[async_trait]
impl PasskeyStore for EmbeddedStore {
    async fn add_ceremony(&self, ceremony: &PasskeyCeremony) -> Result<(), StoreError> {
        let pk = records::ceremony_pk(&ceremony.hash);
        let item = CeremonyItem::new(ceremony);
        self.write(move |table| {
            if exists(table, &pk, records::CEREMONY)? {
                return Err(StoreError::Backend("ceremony id in use".into()));
            }
            put(table, &pk, records::CEREMONY, &item)
        })
        .await
    }

    async fn take_ceremony(
        &self,
        hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<Option<PasskeyCeremony>, StoreError> {
        let hash = hash.clone();
        self.write(move |table| {
            let pk = records::ceremony_pk(&hash);
            let Some(item) = get::<CeremonyItem>(table, &pk, records::CEREMONY)? else {
                return Ok(None);
            };
            let ceremony = item.clone().into_ceremony(&hash, now)?;
            if ceremony.is_some() {
                let spent = CeremonyItem {
                    used_at: Some(now),
                    ..item
                };
                put(table, &pk, records::CEREMONY, &spent)?;
            }
            Ok(ceremony)
        })
        .await
    }

    async fn add_passkey(
        &self,
        passkey: &Passkey,
        event: &SecurityEvent,
    ) -> Result<bool, StoreError> {
        let (user_id, event) = (passkey.user_id, self.event_item(event));
        let owner_pk = records::passkey_owner_pk(&passkey.credential_id);
        let user_pk = records::user_pk(passkey.user_id);
        let sk = records::passkey_sk(&passkey.credential_id);
        let owner = PasskeyOwnerItem {
            user_id: passkey.user_id,
        };
        let item = PasskeyItem::new(passkey);
        self.write(move |table| {
            if exists(table, &owner_pk, records::PASSKEY)? {
                return Ok(false);
            }
            put(table, &owner_pk, records::PASSKEY, &owner)?;
            put(table, &user_pk, &sk, &item)?;
            put_event(table, user_id, &event)?;
            Ok(true)
        })
        .await
    }

    async fn passkeys(&self, user_id: UserId) -> Result<Vec<Passkey>, StoreError> {
        let read = self.db.begin_read().map_err(backend)?;
        let table = read.open_table(ITEMS).map_err(backend)?;
        items_with_prefix::<PasskeyItem>(
            &table,
            &records::user_pk(user_id),
            records::PASSKEY_PREFIX,
        )?
        .into_iter()
        .map(|(_, item)| item.into_passkey(user_id))
        .collect()
    }

    async fn passkey_owner(&self, credential_id: &[u8]) -> Result<Option<UserId>, StoreError> {
        Ok(self
            .read::<PasskeyOwnerItem>(&records::passkey_owner_pk(credential_id), records::PASSKEY)?
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
        let passkey_use = PasskeyUse::new(user_id, credential_id, expected, state, now);
        self.write(move |table| passkey_use.apply(table)).await
    }

    async fn rename_passkey(
        &self,
        user_id: UserId,
        credential_id: &[u8],
        name: &FactorName,
    ) -> Result<bool, StoreError> {
        let (pk, sk) = (
            records::user_pk(user_id),
            records::passkey_sk(credential_id),
        );
        let name = name.as_str().to_owned();
        self.write(move |table| {
            let Some(mut item) = get::<PasskeyItem>(table, &pk, &sk)? else {
                return Ok(false);
            };
            item.name = name;
            put(table, &pk, &sk, &item)?;
            Ok(true)
        })
        .await
    }

    async fn remove_passkey(
        &self,
        user_id: UserId,
        credential_id: &[u8],
        event: &SecurityEvent,
    ) -> Result<bool, StoreError> {
        let event = self.event_item(event);
        let (pk, sk) = (
            records::user_pk(user_id),
            records::passkey_sk(credential_id),
        );
        let owner_pk = records::passkey_owner_pk(credential_id);
        self.write(move |table| {
            let removed = table
                .remove((pk.as_str(), sk.as_str()))
                .map_err(backend)?
                .is_some();
            if removed {
                table
                    .remove((owner_pk.as_str(), records::PASSKEY))
                    .map_err(backend)?;
                put_event(table, user_id, &event)?;
            }
            Ok(removed)
        })
        .await
    }
}

/// A passkey's state moving after a use, if it is still the one the use
/// was checked against.
pub(super) struct PasskeyUse {
    pk: String,
    sk: String,
    expected: String,
    state: String,
    now: OffsetDateTime,
}

impl PasskeyUse {
    pub(super) fn new(
        user_id: UserId,
        credential_id: &[u8],
        expected: &[u8],
        state: &[u8],
        now: OffsetDateTime,
    ) -> Self {
        Self {
            pk: records::user_pk(user_id),
            sk: records::passkey_sk(credential_id),
            expected: records::stored_passkey_state(expected),
            state: records::stored_passkey_state(state),
            now,
        }
    }

    /// `false` when the state moved meanwhile or the passkey is gone.
    pub(super) fn apply(self, table: &mut ItemTable<'_>) -> Result<bool, StoreError> {
        let Some(mut item) = get::<PasskeyItem>(table, &self.pk, &self.sk)? else {
            return Ok(false);
        };
        if item.state != self.expected {
            return Ok(false);
        }
        item.state = self.state;
        item.last_used_at = Some(self.now);
        put(table, &self.pk, &self.sk, &item)?;
        Ok(true)
    }
}
