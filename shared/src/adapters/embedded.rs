//! The store on an embedded database (redb) in the local data folder: the
//! same items and keys as DynamoDB, in one table keyed by `(pk, sk)`, values
//! as JSON. A write transaction is serializable (redb has one writer at a
//! time), which gives the same guarantees as DynamoDB's conditional
//! transactions. Survives restarts; used by `local-api` and the fast tests.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use redb::{Database, ReadableTable, Table, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use super::records::{
    self, ClientItem, CodeItem, CounterItem, GuardItem, ProfileItem, ResetPointerItem, SessionItem,
    StreakItem,
};
use crate::domain::{AccountStatus, ClientId, SessionId, User, UserId};
use crate::ports::{
    Account, ChangeOutcome, ClientStore, CodeKind, CodeStore, ConfirmOutcome, EndSessions,
    FailureStreak, ProfileChange, RateStore, ResetOutcome, ServiceClient, Session, SessionStore,
    StoreError, StoredCode, UserStore,
};
use crate::secrets::SecretHash;

const ITEMS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("items");

#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
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
        Ok(Self { db: Arc::new(db) })
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

    async fn read<T: DeserializeOwned + Send + 'static>(
        &self,
        pk: String,
        sk: String,
    ) -> Result<Option<T>, StoreError> {
        self.blocking(move |db| {
            let read = db.begin_read().map_err(backend)?;
            let table = read.open_table(ITEMS).map_err(backend)?;
            get(&table, &pk, &sk)
        })
        .await
    }

    async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(
            &mut Table<'_, (&'static str, &'static str), &'static [u8]>,
        ) -> Result<T, StoreError>
        + Send
        + 'static,
    ) -> Result<T, StoreError> {
        self.blocking(move |db| {
            let write = db.begin_write().map_err(backend)?;
            let outcome = {
                let mut table = write.open_table(ITEMS).map_err(backend)?;
                work(&mut table)?
            };
            write.commit().map_err(backend)?;
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
    let mut keys = Vec::new();
    for entry in table
        .range((pk, records::SESSION_PREFIX)..)
        .map_err(backend)?
    {
        let (key, _) = entry.map_err(backend)?;
        let (item_pk, sk) = key.value();
        if item_pk != pk || !sk.starts_with(records::SESSION_PREFIX) {
            break;
        }
        keys.push(sk.to_owned());
    }
    Ok(keys)
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

/// A new account's profile, its email and login guards and its
/// confirmation code, once the caller has checked the guards are free.
fn write_account(
    table: &mut Table<'_, (&'static str, &'static str), &'static [u8]>,
    profile: &ProfileItem,
    code: Option<&(String, CodeItem)>,
) -> Result<(), StoreError> {
    let user = &profile.user;
    let guard = GuardItem { user_id: user.id };
    if let Some(login) = &user.login {
        put(
            table,
            &records::login_pk(&login.key()),
            records::LOGIN,
            &guard,
        )?;
    }
    put(
        table,
        &records::email_pk(user.email.key()),
        records::EMAIL,
        &guard,
    )?;
    put(table, &records::user_pk(user.id), records::PROFILE, profile)?;
    if let Some((pk, item)) = code {
        put(table, pk, records::CODE, item)?;
    }
    Ok(())
}

#[async_trait]
impl UserStore for EmbeddedStore {
    async fn create_user(
        &self,
        account: &Account,
        confirmation: Option<&StoredCode>,
    ) -> Result<(), StoreError> {
        let profile = ProfileItem::from_account(account);
        let code = confirmation.map(|code| (records::code_pk(&code.hash), CodeItem::new(code)));
        self.write(move |table| {
            let user = &profile.user;
            if exists(table, &records::email_pk(user.email.key()), records::EMAIL)? {
                return Err(StoreError::EmailTaken);
            }
            if let Some(login) = &user.login
                && exists(table, &records::login_pk(&login.key()), records::LOGIN)?
            {
                return Err(StoreError::LoginTaken);
            }
            write_account(table, &profile, code.as_ref())
        })
        .await
    }

    async fn replace_expired_account(
        &self,
        expired: &Account,
        account: &Account,
        confirmation: Option<&StoredCode>,
    ) -> Result<(), StoreError> {
        let old = expired.user.clone();
        let profile = ProfileItem::from_account(account);
        let code = confirmation.map(|code| (records::code_pk(&code.hash), CodeItem::new(code)));
        self.write(move |table| {
            let user = &profile.user;
            let email_pk = records::email_pk(user.email.key());
            let old_pk = records::user_pk(old.id);
            let guard = get::<GuardItem>(table, &email_pk, records::EMAIL)?;
            let stored = get::<ProfileItem>(table, &old_pk, records::PROFILE)?;
            let unchanged = guard.is_some_and(|guard| guard.user_id == old.id)
                && stored.is_some_and(|stored| {
                    stored.user.version == old.version
                        && stored.user.status == AccountStatus::Waiting
                        && !stored.user.email_confirmed
                });
            if !unchanged {
                return Err(StoreError::EmailTaken);
            }
            let old_login = old
                .login
                .as_ref()
                .map(|login| records::login_pk(&login.key()));
            let login_pk = user
                .login
                .as_ref()
                .map(|login| records::login_pk(&login.key()));
            if let Some(login_pk) = &login_pk {
                let held_by_old = old_login.as_ref() == Some(login_pk);
                if !held_by_old && exists(table, login_pk, records::LOGIN)? {
                    return Err(StoreError::LoginTaken);
                }
            }
            if let Some(old_login) = &old_login {
                table
                    .remove((old_login.as_str(), records::LOGIN))
                    .map_err(backend)?;
            }
            table
                .remove((old_pk.as_str(), records::PROFILE))
                .map_err(backend)?;
            write_account(table, &profile, code.as_ref())
        })
        .await
    }

    async fn find_by_email(&self, email_key: &str) -> Result<Option<Account>, StoreError> {
        self.find_by_guard(records::email_pk(email_key), records::EMAIL)
            .await
    }

    async fn find_by_login(&self, login_key: &str) -> Result<Option<Account>, StoreError> {
        self.find_by_guard(records::login_pk(login_key), records::LOGIN)
            .await
    }

    async fn get_user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let profile: Option<ProfileItem> = self
            .read(records::user_pk(id), records::PROFILE.to_owned())
            .await?;
        Ok(profile.map(|profile| profile.user))
    }

    async fn get_account(&self, id: UserId) -> Result<Option<Account>, StoreError> {
        let profile: Option<ProfileItem> = self
            .read(records::user_pk(id), records::PROFILE.to_owned())
            .await?;
        Ok(profile.map(ProfileItem::into_account))
    }

    async fn update_profile(&self, change: ProfileChange<'_>) -> Result<ChangeOutcome, StoreError> {
        let user = change.user.clone();
        let expected_version = change.expected_version;
        let previous_login = change.previous_login.map(|login| login.key());
        let password_hash = change.password_hash.map(str::to_owned);
        let end_sessions = change.end_sessions;
        self.write(move |table| {
            let user_pk = records::user_pk(user.id);
            let Some(mut profile) = get::<ProfileItem>(table, &user_pk, records::PROFILE)? else {
                return Ok(ChangeOutcome::Stale);
            };
            if profile.user.version != expected_version {
                return Ok(ChangeOutcome::Stale);
            }
            let login = user.login.as_ref().map(|login| login.key());
            if login != previous_login {
                if let Some(key) = &login {
                    let pk = records::login_pk(key);
                    if exists(table, &pk, records::LOGIN)? {
                        return Err(StoreError::LoginTaken);
                    }
                    put(table, &pk, records::LOGIN, &GuardItem { user_id: user.id })?;
                }
                if let Some(key) = &previous_login {
                    let pk = records::login_pk(key);
                    table
                        .remove((pk.as_str(), records::LOGIN))
                        .map_err(backend)?;
                }
            }
            profile.user = user;
            if let Some(hash) = password_hash {
                profile.password_hash = hash;
            }
            put(table, &user_pk, records::PROFILE, &profile)?;
            let keep = match end_sessions {
                EndSessions::None => return Ok(ChangeOutcome::Saved { sessions_ended: 0 }),
                EndSessions::All => None,
                EndSessions::AllExcept(id) => Some(records::session_sk(id)),
            };
            let mut ended = 0;
            for sk in session_keys(table, &user_pk)? {
                if keep.as_ref() != Some(&sk) {
                    table
                        .remove((user_pk.as_str(), sk.as_str()))
                        .map_err(backend)?;
                    ended += 1;
                }
            }
            Ok(ChangeOutcome::Saved {
                sessions_ended: ended,
            })
        })
        .await
    }
}

impl EmbeddedStore {
    async fn find_by_guard(
        &self,
        pk: String,
        sk: &'static str,
    ) -> Result<Option<Account>, StoreError> {
        self.blocking(move |db| {
            // One read transaction: guard and profile from the same snapshot.
            let read = db.begin_read().map_err(backend)?;
            let table = read.open_table(ITEMS).map_err(backend)?;
            let Some(guard) = get::<GuardItem>(&table, &pk, sk)? else {
                return Ok(None);
            };
            let profile =
                get::<ProfileItem>(&table, &records::user_pk(guard.user_id), records::PROFILE)?;
            Ok(profile.map(ProfileItem::into_account))
        })
        .await
    }
}

#[async_trait]
impl CodeStore for EmbeddedStore {
    async fn confirm_email(
        &self,
        hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<ConfirmOutcome, StoreError> {
        let code_pk = records::code_pk(hash);
        self.write(move |table| {
            let Some(mut code) = get::<CodeItem>(table, &code_pk, records::CODE)? else {
                return Ok(ConfirmOutcome::Invalid);
            };
            if code.kind != CodeKind::Confirm || !code.is_live(now) {
                return Ok(ConfirmOutcome::Invalid);
            }
            if code.used_at.is_some() {
                return Ok(ConfirmOutcome::AlreadyConfirmed(code.user_id));
            }
            let profile_pk = records::user_pk(code.user_id);
            let Some(mut profile) = get::<ProfileItem>(table, &profile_pk, records::PROFILE)?
            else {
                return Ok(ConfirmOutcome::Invalid);
            };
            if profile.user.status == AccountStatus::Disabled {
                return Ok(ConfirmOutcome::Invalid);
            }
            profile.user.status = AccountStatus::Active;
            profile.user.email_confirmed = true;
            profile.user.updated_at = now;
            profile.user.version += 1;
            code.used_at = Some(now.unix_timestamp());
            put(table, &profile_pk, records::PROFILE, &profile)?;
            put(table, &code_pk, records::CODE, &code)?;
            Ok(ConfirmOutcome::Confirmed(code.user_id))
        })
        .await
    }

    async fn add_confirmation_code(&self, code: &StoredCode) -> Result<(), StoreError> {
        let (pk, item) = (records::code_pk(&code.hash), CodeItem::new(code));
        self.write(move |table| {
            if exists(table, &pk, records::CODE)? {
                return Err(StoreError::Backend("code already exists".into()));
            }
            put(table, &pk, records::CODE, &item)
        })
        .await
    }

    async fn replace_reset_code(&self, code: &StoredCode) -> Result<(), StoreError> {
        let (code_pk, item) = (records::code_pk(&code.hash), CodeItem::new(code));
        let (user_pk, pointer) = (records::user_pk(code.user_id), ResetPointerItem::new(code));
        self.write(move |table| {
            if exists(table, &code_pk, records::CODE)? {
                return Err(StoreError::Backend("code already exists".into()));
            }
            if let Some(old) = get::<ResetPointerItem>(table, &user_pk, records::RESET)? {
                let old_hash = SecretHash::from_stored(&old.code_hash)
                    .ok_or_else(|| StoreError::Corrupt("reset pointer".to_owned()))?;
                let old_pk = records::code_pk(&old_hash);
                table
                    .remove((old_pk.as_str(), records::CODE))
                    .map_err(backend)?;
            }
            put(table, &code_pk, records::CODE, &item)?;
            put(table, &user_pk, records::RESET, &pointer)
        })
        .await
    }

    async fn find_reset_code(
        &self,
        hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<Option<UserId>, StoreError> {
        let hash = hash.clone();
        self.blocking(move |db| {
            let read = db.begin_read().map_err(backend)?;
            let table = read.open_table(ITEMS).map_err(backend)?;
            Ok(current_reset_code(&table, &hash, now)?.map(|code| code.user_id))
        })
        .await
    }

    async fn reset_password(
        &self,
        hash: &SecretHash,
        account: &Account,
        expected_version: u64,
        now: OffsetDateTime,
    ) -> Result<ResetOutcome, StoreError> {
        let (code_pk, hash) = (records::code_pk(hash), hash.clone());
        let profile = ProfileItem::from_account(account);
        self.write(move |table| {
            let Some(mut code) = current_reset_code(table, &hash, now)? else {
                return Ok(ResetOutcome::InvalidCode);
            };
            if code.user_id != profile.user.id {
                return Ok(ResetOutcome::InvalidCode);
            }
            let user_pk = records::user_pk(code.user_id);
            match get::<ProfileItem>(table, &user_pk, records::PROFILE)? {
                Some(stored) if stored.user.version == expected_version => {}
                _ => return Ok(ResetOutcome::ProfileChanged),
            }
            code.used_at = Some(now.unix_timestamp());
            put(table, &code_pk, records::CODE, &code)?;
            table
                .remove((user_pk.as_str(), records::RESET))
                .map_err(backend)?;
            put(table, &user_pk, records::PROFILE, &profile)?;
            let sessions = session_keys(table, &user_pk)?;
            for sk in &sessions {
                table
                    .remove((user_pk.as_str(), sk.as_str()))
                    .map_err(backend)?;
            }
            Ok(ResetOutcome::Reset {
                sessions_ended: sessions.len(),
            })
        })
        .await
    }
}

#[async_trait]
impl RateStore for EmbeddedStore {
    async fn increment_counter(
        &self,
        key: &str,
        expires_at: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let pk = records::rate_pk(key);
        self.write(move |table| {
            let item = match get::<CounterItem>(table, &pk, records::RATE)? {
                Some(counter) => CounterItem {
                    count: counter.count + 1,
                    ..counter
                },
                None => CounterItem {
                    count: 1,
                    expires_at: expires_at.unix_timestamp(),
                },
            };
            put(table, &pk, records::RATE, &item)?;
            Ok(item.count)
        })
        .await
    }

    async fn decrement_counter(&self, key: &str) -> Result<(), StoreError> {
        let pk = records::rate_pk(key);
        self.write(move |table| {
            if let Some(counter) = get::<CounterItem>(table, &pk, records::RATE)? {
                let item = CounterItem {
                    count: counter.count.saturating_sub(1),
                    ..counter
                };
                put(table, &pk, records::RATE, &item)?;
            }
            Ok(())
        })
        .await
    }

    async fn replace_failure_streak(
        &self,
        key: &str,
        expected: Option<&FailureStreak>,
        next: &FailureStreak,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let pk = records::streak_pk(key);
        let expected = expected.copied();
        let item = StreakItem::new(next, expires_at);
        self.write(move |table| {
            let stored = get::<StreakItem>(table, &pk, records::STREAK)?;
            let unchanged = match (&stored, &expected) {
                (None, None) => true,
                // `failures` and the millisecond of the last attempt
                // identify a version, as in the DynamoDB condition.
                (Some(stored), Some(expected)) => {
                    stored.failures == expected.failures
                        && stored.last_failure_ms == StreakItem::epoch_ms(expected.last_failure_at)
                }
                _ => false,
            };
            if unchanged {
                put(table, &pk, records::STREAK, &item)?;
            }
            Ok(unchanged)
        })
        .await
    }

    async fn failure_streak(&self, key: &str) -> Result<Option<FailureStreak>, StoreError> {
        let item: Option<StreakItem> = self
            .read(records::streak_pk(key), records::STREAK.to_owned())
            .await?;
        item.map(|item| item.streak()).transpose()
    }

    async fn end_failure_streak(&self, key: &str) -> Result<(), StoreError> {
        let pk = records::streak_pk(key);
        self.write(move |table| {
            table
                .remove((pk.as_str(), records::STREAK))
                .map_err(backend)?;
            Ok(())
        })
        .await
    }
}

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
        let item: Option<SessionItem> = self
            .read(records::user_pk(user_id), records::session_sk(id))
            .await?;
        match item {
            Some(item) => item.into_session(user_id, now),
            None => Ok(None),
        }
    }
}

#[async_trait]
impl ClientStore for EmbeddedStore {
    async fn create_client(&self, client: &ServiceClient) -> Result<(), StoreError> {
        let (pk, item) = (records::client_pk(client.id), ClientItem::new(client));
        self.write(move |table| {
            if exists(table, &pk, records::CLIENT)? {
                return Err(StoreError::Backend("client id already exists".into()));
            }
            put(table, &pk, records::CLIENT, &item)
        })
        .await
    }

    async fn get_client(&self, id: ClientId) -> Result<Option<ServiceClient>, StoreError> {
        let item: Option<ClientItem> = self
            .read(records::client_pk(id), records::CLIENT.to_owned())
            .await?;
        item.map(ClientItem::into_client).transpose()
    }

    async fn list_clients(&self) -> Result<Vec<ServiceClient>, StoreError> {
        self.blocking(|db| {
            let read = db.begin_read().map_err(backend)?;
            let table = read.open_table(ITEMS).map_err(backend)?;
            let mut clients = Vec::new();
            for entry in table
                .range((records::CLIENT_PREFIX, "")..)
                .map_err(backend)?
            {
                let (key, value) = entry.map_err(backend)?;
                let (pk, sk) = key.value();
                if !pk.starts_with(records::CLIENT_PREFIX) {
                    break;
                }
                if sk == records::CLIENT {
                    let item: ClientItem = serde_json::from_slice(value.value())
                        .map_err(|error| StoreError::Corrupt(error.to_string()))?;
                    clients.push(item.into_client()?);
                }
            }
            Ok(clients)
        })
        .await
    }

    async fn replace_client_secret(
        &self,
        id: ClientId,
        secret_hash: &SecretHash,
    ) -> Result<bool, StoreError> {
        let (pk, hash) = (records::client_pk(id), secret_hash.as_str().to_owned());
        self.write(move |table| {
            let Some(mut item) = get::<ClientItem>(table, &pk, records::CLIENT)? else {
                return Ok(false);
            };
            item.secret_hash = hash;
            put(table, &pk, records::CLIENT, &item)?;
            Ok(true)
        })
        .await
    }

    async fn delete_client(&self, id: ClientId) -> Result<bool, StoreError> {
        let pk = records::client_pk(id);
        self.write(move |table| {
            Ok(table
                .remove((pk.as_str(), records::CLIENT))
                .map_err(backend)?
                .is_some())
        })
        .await
    }
}
