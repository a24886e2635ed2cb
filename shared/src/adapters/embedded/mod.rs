//! The store on an embedded database (redb) in the local data folder: the
//! same items and keys as DynamoDB, in one table keyed by `(pk, sk)`, values
//! as JSON. A write transaction is serializable (redb has one writer at a
//! time), which gives the same guarantees as DynamoDB's conditional
//! transactions. Survives restarts; used by `local-api` and the fast tests.

mod clients;
mod codes;
mod email_codes;
mod events;
mod factors;
mod identities;
mod passkeys;
mod rates;
mod sessions;
mod users;

pub use events::EventLog;
use events::{forget_written, put_event};

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use redb::{Database, ReadableTable, Table, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use super::records::{
    self, CeremonyItem, ClientItem, CodeItem, CounterItem, EmailCodeItem, EventItem, FactorItem,
    FlightItem, GrantItem, GuardItem, IdentityItem, IdentityOwnerItem, MfaChallengeItem,
    PasskeyItem, PasskeyOwnerItem, ProfileItem, RecoveryItem, ResetPointerItem, SessionItem,
    StreakItem, USER_PREFIX,
};
use crate::domain::{AccountStatus, ClientId, SecurityEvent, SessionId, User, UserId};
use crate::ports::registered_event;
use crate::ports::{
    Account, AccountDeletion, ActivationOutcome, ChangeOutcome, ClientStore, CodeKind, CodeStore,
    ConfirmOutcome, DeletionOutcome, EMAIL_CODE_ATTEMPTS, EmailCodeOutcome, EmailCodeStore,
    EmailSignInCode, EndSessions, EventPage, EventStore, Factor, FactorActivation, FactorRemoval,
    FactorStore, FailureStreak, MFA_ATTEMPTS, MfaChallenge, MfaFinish, MfaOutcome, MfaProof,
    ProfileChange, RateStore, ResetOutcome, ServiceClient, Session, SessionStore, StoreError,
    StoredCode, UserPage, UserSearch, UserStore,
};
use crate::secrets::SecretHash;

const ITEMS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("items");

#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    /// How long the security log keeps an entry.
    audit_retention: std::time::Duration,
    /// Where committed writes' lifecycle events go, if anywhere.
    event_log: Option<Arc<EventLog>>,
}

fn backend(error: impl Into<redb::Error>) -> StoreError {
    StoreError::Backend(Box::new(error.into()))
}

impl EmbeddedStore {
    /// Opens (or creates) the database file.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path).map_err(|error| match error {
            // redb lets one process at a time hold the file.
            redb::DatabaseError::DatabaseAlreadyOpen => {
                StoreError::Backend("the database is in use by another process".into())
            }
            other => backend(other),
        })?;
        let write = db.begin_write().map_err(backend)?;
        write.open_table(ITEMS).map_err(backend)?;
        write.commit().map_err(backend)?;
        Ok(Self {
            db: Arc::new(db),
            audit_retention: records::DEFAULT_AUDIT_RETENTION,
            event_log: None,
        })
    }

    /// Keeps the security log's entries for `retention` instead of
    /// [`records::DEFAULT_AUDIT_RETENTION`].
    pub fn with_audit_retention(self, retention: std::time::Duration) -> Self {
        Self {
            audit_retention: retention,
            ..self
        }
    }

    /// Appends the lifecycle events of every committed write to `log`.
    pub fn with_event_log(self, log: EventLog) -> Self {
        Self {
            event_log: Some(Arc::new(log)),
            ..self
        }
    }

    /// Runs a read or write closure on a blocking thread (redb is synchronous).
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Database) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || work(&db))
            .await
            .map_err(|error| StoreError::Backend(Box::new(error)))?
    }

    /// A point read, on the calling thread: redb's readers never wait for a
    /// writer (each reads a committed snapshot) and a read takes
    /// microseconds, less than handing it to the blocking pool costs.
    /// Writes, which take the write lock and sync to disk, go through
    /// [`blocking`](Self::blocking).
    fn read<T: DeserializeOwned>(&self, pk: &str, sk: &str) -> Result<Option<T>, StoreError> {
        let read = self.db.begin_read().map_err(backend)?;
        let table = read.open_table(ITEMS).map_err(backend)?;
        get(&table, pk, sk)
    }

    async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(
            &mut Table<'_, (&'static str, &'static str), &'static [u8]>,
        ) -> Result<T, StoreError>
        + Send
        + 'static,
    ) -> Result<T, StoreError> {
        let event_log = self.event_log.clone();
        self.blocking(move |db| {
            forget_written();
            let write = db.begin_write().map_err(backend)?;
            let outcome = {
                let mut table = write.open_table(ITEMS).map_err(backend)?;
                work(&mut table)?
            };
            write.commit().map_err(backend)?;
            if let Some(log) = event_log {
                log.append_committed();
            }
            Ok(outcome)
        })
        .await
    }
}

fn get<T: DeserializeOwned>(
    table: &impl ReadableTable<(&'static str, &'static str), &'static [u8]>,
    pk: &str,
    sk: &str,
) -> Result<Option<T>, StoreError> {
    match table.get((pk, sk)).map_err(backend)? {
        None => Ok(None),
        Some(value) => serde_json::from_slice(value.value())
            .map(Some)
            .map_err(|error| StoreError::Corrupt(error.to_string())),
    }
}

fn put(
    table: &mut Table<'_, (&'static str, &'static str), &'static [u8]>,
    pk: &str,
    sk: &str,
    value: &impl Serialize,
) -> Result<(), StoreError> {
    let bytes = serde_json::to_vec(value).map_err(|error| StoreError::Backend(Box::new(error)))?;
    table.insert((pk, sk), bytes.as_slice()).map_err(backend)?;
    Ok(())
}

fn exists(
    table: &impl ReadableTable<(&'static str, &'static str), &'static [u8]>,
    pk: &str,
    sk: &str,
) -> Result<bool, StoreError> {
    Ok(table.get((pk, sk)).map_err(backend)?.is_some())
}

/// The sort keys of every session item of the account `pk`.
fn session_keys(
    table: &impl ReadableTable<(&'static str, &'static str), &'static [u8]>,
    pk: &str,
) -> Result<Vec<String>, StoreError> {
    Ok(
        items_with_prefix::<serde::de::IgnoredAny>(table, pk, records::SESSION_PREFIX)?
            .into_iter()
            .map(|(sk, _)| sk)
            .collect(),
    )
}

/// The items under `pk` whose sort key starts with `prefix`, with their
/// sort keys, in key order.
fn items_with_prefix<T: DeserializeOwned>(
    table: &impl ReadableTable<(&'static str, &'static str), &'static [u8]>,
    pk: &str,
    prefix: &str,
) -> Result<Vec<(String, T)>, StoreError> {
    let mut items = Vec::new();
    for entry in table.range((pk, prefix)..).map_err(backend)? {
        let (key, value) = entry.map_err(backend)?;
        let (item_pk, sk) = key.value();
        if item_pk != pk || !sk.starts_with(prefix) {
            break;
        }
        let item = serde_json::from_slice(value.value())
            .map_err(|error| StoreError::Corrupt(error.to_string()))?;
        items.push((sk.to_owned(), item));
    }
    Ok(items)
}

/// The reset code with this hash, if it is live, unspent and its account's
/// current one.
fn current_reset_code(
    table: &impl ReadableTable<(&'static str, &'static str), &'static [u8]>,
    hash: &SecretHash,
    now: OffsetDateTime,
) -> Result<Option<CodeItem>, StoreError> {
    let Some(code) = get::<CodeItem>(table, &records::code_pk(hash), records::CODE)? else {
        return Ok(None);
    };
    if code.kind != CodeKind::Reset || !code.is_live(now) || code.used_at.is_some() {
        return Ok(None);
    }
    let pointer = get::<ResetPointerItem>(table, &records::user_pk(code.user_id), records::RESET)?;
    Ok(pointer
        .filter(|pointer| pointer.code_hash == hash.as_str())
        .map(|_| code))
}

/// A new account as stored: its profile item and its guards' keys (which
/// depend on its type), taken before the write moves to its thread.
struct NewAccount {
    profile: ProfileItem,
    email_pk: String,
    login_pk: Option<String>,
    /// The log's first entry.
    registered: EventItem,
}

impl NewAccount {
    fn of(account: &Account, audit_retention: std::time::Duration) -> Self {
        Self {
            profile: ProfileItem::from_account(account),
            email_pk: records::email_pk(&account.user.email_key()),
            login_pk: account.user.login_key().map(|key| records::login_pk(&key)),
            registered: EventItem::new(&registered_event(&account.user), audit_retention),
        }
    }
}

/// A new account's profile, its email and login guards and its
/// confirmation code, once the caller has checked the guards are free.
fn write_account(
    table: &mut Table<'_, (&'static str, &'static str), &'static [u8]>,
    account: &NewAccount,
    code: Option<&(String, CodeItem)>,
) -> Result<(), StoreError> {
    let profile = &account.profile;
    let guard = GuardItem {
        user_id: profile.user.id,
    };
    if let Some(login_pk) = &account.login_pk {
        put(table, login_pk, records::LOGIN, &guard)?;
    }
    put(table, &account.email_pk, records::EMAIL, &guard)?;
    put(
        table,
        &records::user_pk(profile.user.id),
        records::PROFILE,
        profile,
    )?;
    if let Some((pk, item)) = code {
        put(table, pk, records::CODE, item)?;
    }
    put_event(table, profile.user.id, &account.registered)
}
