//! The single-table item layout (docs/data-model.md), shared by every store
//! adapter so they cannot drift: keys, and each item's own record type, so
//! what is stored never follows a rename in the domain.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::domain::{
    AccountStatus, Address, AddressId, AddressValue, Attributes, AuthMethod, Authentication,
    ClientId, Email, Locale, Login, PersonName, Role, SessionId, User, UserId, UserType,
};
use crate::ports::{
    Account, CodeKind, FailureStreak, ServiceClient, Session, StoreError, StoredCode,
};
use crate::secrets::SecretHash;

pub const PROFILE: &str = "PROFILE";
pub const EMAIL: &str = "EMAIL";
pub const LOGIN: &str = "LOGIN";
pub const CODE: &str = "CODE";
pub const CLIENT: &str = "CLIENT";
pub const CLIENT_PREFIX: &str = "CLIENT#";
/// `USER#<id>` / `RESET`: which reset code is the account's current one.
pub const RESET: &str = "RESET";
pub const RATE: &str = "RATE";

pub fn rate_pk(key: &str) -> String {
    format!("RATE#{key}")
}

pub const STREAK: &str = "STREAK";

pub fn streak_pk(key: &str) -> String {
    format!("STREAK#{key}")
}

pub fn client_pk(id: ClientId) -> String {
    format!("{CLIENT_PREFIX}{id}")
}

pub const USER_PREFIX: &str = "USER#";

pub fn user_pk(id: UserId) -> String {
    format!("{USER_PREFIX}{id}")
}

pub fn email_pk(key: &str) -> String {
    format!("EMAIL#{key}")
}

pub fn login_pk(key: &str) -> String {
    format!("LOGIN#{key}")
}

pub fn code_pk(hash: &SecretHash) -> String {
    format!("CODE#{}", hash.as_str())
}

pub const SESSION_PREFIX: &str = "SESSION#";

pub fn session_sk(id: SessionId) -> String {
    format!("{SESSION_PREFIX}{id}")
}

/// The attribute names DynamoDB expressions refer to, through `#name`
/// placeholders. They are the names the records below serialize to (serde
/// needs literals); `the_stored_layout_is_fixed` ties the two together.
pub mod attr {
    /// The profile item's nested map of the user.
    pub const USER: &str = "user";
    pub const PASSWORD_HASH: &str = "password_hash";
    /// Inside [`USER`].
    pub const STATUS: &str = "status";
    pub const VERSION: &str = "version";
    pub const EMAIL_CONFIRMED: &str = "email_confirmed";
    pub const UPDATED_AT: &str = "updated_at";
    pub const LAST_SIGN_IN_AT: &str = "last_sign_in_at";
    pub const SIGN_IN_COUNT: &str = "sign_in_count";
    pub const ROLES: &str = "roles";
    /// The `accounts` index's keys, and the email key it filters on.
    pub const ACCOUNTS_PK: &str = "accounts_pk";
    pub const ACCOUNTS_SK: &str = "accounts_sk";
    pub const ACCOUNTS_EMAIL: &str = "accounts_email";
}

/// The index of accounts for admin search: every account of one type under
/// one key, sorted by id (UUIDv7, so by creation time).
pub const ACCOUNTS_INDEX: &str = "accounts";

/// What a profile item holds for the `accounts` index, from its user.
pub struct AccountsIndex {
    pub pk: String,
    pub sk: String,
    pub email: String,
}

impl AccountsIndex {
    pub fn of(user: &User) -> Self {
        Self {
            pk: accounts_pk(&user.user_type),
            sk: user.id.to_string(),
            email: user.email.key().to_owned(),
        }
    }
}

/// The `accounts` index's partition of a user type.
pub fn accounts_pk(user_type: &UserType) -> String {
    match user_type.stored_name() {
        None => "ACCOUNTS".to_owned(),
        Some(name) => format!("ACCOUNTS#{name}"),
    }
}

/// How an account's status is written in the `status` attribute, which
/// condition expressions compare against.
pub fn status_value(status: AccountStatus) -> &'static str {
    match status {
        AccountStatus::Waiting => "waiting",
        AccountStatus::Active => "active",
        AccountStatus::Disabled => "disabled",
    }
}

mod stored_status {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    use crate::domain::AccountStatus;

    pub fn serialize<S: Serializer>(
        status: &AccountStatus,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(super::status_value(*status))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<AccountStatus, D::Error> {
        let raw = String::deserialize(deserializer)?;
        AccountStatus::ALL
            .into_iter()
            .find(|status| super::status_value(*status) == raw)
            .ok_or_else(|| D::Error::custom(format!("unknown status {raw:?}")))
    }
}

mod stored_email {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    use crate::domain::Email;

    pub fn serialize<S: Serializer>(email: &Email, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(email.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Email, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Email::parse(&raw).map_err(D::Error::custom)
    }
}

/// The stored form of a user, the profile item's `user` map. Its field names
/// are attribute names, fixed here whatever the domain's fields are called.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserRecord {
    pub id: UserId,
    /// The user type's name; absent for the default type (and on every
    /// account written before types existed, which is how they belong to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(with = "stored_email")]
    pub email: Email,
    pub login: Option<Login>,
    pub first_name: Option<PersonName>,
    pub last_name: Option<PersonName>,
    pub locale: Locale,
    #[serde(with = "stored_status")]
    pub status: AccountStatus,
    pub email_confirmed: bool,
    pub roles: Vec<Role>,
    #[serde(default)]
    pub addresses: Vec<AddressRecord>,
    pub profile_is_public: bool,
    pub attributes: Attributes,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_sign_in_at: Option<OffsetDateTime>,
    pub sign_in_count: u64,
    pub version: u64,
}

/// One entry of the user's `addresses` list.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddressRecord {
    pub id: AddressId,
    pub address: AddressValue,
    pub name: Option<PersonName>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<&User> for UserRecord {
    fn from(user: &User) -> Self {
        let User {
            id,
            user_type,
            email,
            login,
            first_name,
            last_name,
            locale,
            status,
            email_confirmed,
            roles,
            addresses,
            profile_is_public,
            attributes,
            created_at,
            updated_at,
            last_sign_in_at,
            sign_in_count,
            version,
        } = user.clone();
        Self {
            id,
            source: user_type.stored_name().map(str::to_owned),
            email,
            login,
            first_name,
            last_name,
            locale,
            status,
            email_confirmed,
            roles,
            addresses: addresses
                .into_iter()
                .map(
                    |Address {
                         id,
                         address,
                         name,
                         created_at,
                     }| AddressRecord {
                        id,
                        address,
                        name,
                        created_at,
                    },
                )
                .collect(),
            profile_is_public,
            attributes,
            created_at,
            updated_at,
            last_sign_in_at,
            sign_in_count,
            version,
        }
    }
}

impl From<UserRecord> for User {
    fn from(record: UserRecord) -> Self {
        let UserRecord {
            id,
            source,
            email,
            login,
            first_name,
            last_name,
            locale,
            status,
            email_confirmed,
            roles,
            addresses,
            profile_is_public,
            attributes,
            created_at,
            updated_at,
            last_sign_in_at,
            sign_in_count,
            version,
        } = record;
        Self {
            id,
            user_type: UserType::from_stored(source),
            email,
            login,
            first_name,
            last_name,
            locale,
            status,
            email_confirmed,
            roles,
            addresses: addresses
                .into_iter()
                .map(
                    |AddressRecord {
                         id,
                         address,
                         name,
                         created_at,
                     }| Address {
                        id,
                        address,
                        name,
                        created_at,
                    },
                )
                .collect(),
            profile_is_public,
            attributes,
            created_at,
            updated_at,
            last_sign_in_at,
            sign_in_count,
            version,
        }
    }
}

/// `USER#<id>` / `PROFILE`: the user (a nested map) and the password hash,
/// and the `accounts` index's attributes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProfileItem {
    pub user: UserRecord,
    pub password_hash: String,
    /// [`accounts_pk`] of the account's type. Absent on items written before
    /// the index existed, until their next profile write.
    #[serde(default)]
    pub accounts_pk: String,
    /// The user id.
    #[serde(default)]
    pub accounts_sk: String,
    /// The email key, for prefix search.
    #[serde(default)]
    pub accounts_email: String,
}

impl ProfileItem {
    pub fn from_account(account: &Account) -> Self {
        let index = AccountsIndex::of(&account.user);
        Self {
            user: UserRecord::from(&account.user),
            password_hash: account.password_hash.clone(),
            accounts_pk: index.pk,
            accounts_sk: index.sk,
            accounts_email: index.email,
        }
    }

    pub fn into_account(self) -> Account {
        Account {
            user: self.user.into(),
            password_hash: self.password_hash,
        }
    }
}

/// `EMAIL#<key>` / `EMAIL` and `LOGIN#<key>` / `LOGIN`: uniqueness guards.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GuardItem {
    pub user_id: UserId,
}

/// `CODE#<sha256>` / `CODE`. `expires_at` is epoch seconds (the TTL attribute).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodeItem {
    pub kind: CodeKind,
    pub user_id: UserId,
    pub expires_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_at: Option<i64>,
}

impl CodeItem {
    pub fn new(code: &StoredCode) -> Self {
        Self {
            kind: code.kind,
            user_id: code.user_id,
            expires_at: code.expires_at.unix_timestamp(),
            used_at: None,
        }
    }

    /// DynamoDB TTL deletes late, so every read checks the expiry itself.
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        self.expires_at > now.unix_timestamp()
    }
}

/// `USER#<id>` / `RESET`: the hash of the account's current reset code, so
/// asking again retires the earlier code without having to find it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResetPointerItem {
    pub code_hash: String,
    /// Epoch seconds, the TTL attribute: gone when its code would be.
    pub expires_at: i64,
}

impl ResetPointerItem {
    pub fn new(code: &StoredCode) -> Self {
        Self {
            code_hash: code.hash.as_str().to_owned(),
            expires_at: code.expires_at.unix_timestamp(),
        }
    }
}

/// `RATE#<key>` / `RATE`: a fixed-window counter.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CounterItem {
    pub count: u64,
    /// Epoch seconds, the TTL attribute.
    pub expires_at: i64,
}

/// `STREAK#<key>` / `STREAK`: consecutive failures (failed sign-ins).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreakItem {
    pub failures: u64,
    /// Epoch milliseconds: delays start at the failure, not the second.
    pub last_failure_ms: i64,
    /// Epoch milliseconds before which no attempt is let through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_ms: Option<i64>,
    /// Epoch seconds, the TTL attribute.
    pub expires_at: i64,
}

impl StreakItem {
    pub fn epoch_ms(at: OffsetDateTime) -> i64 {
        i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
    }

    pub fn new(streak: &FailureStreak, expires_at: OffsetDateTime) -> Self {
        Self {
            failures: streak.failures,
            last_failure_ms: Self::epoch_ms(streak.last_failure_at),
            next_attempt_ms: streak.next_attempt_at.map(Self::epoch_ms),
            expires_at: expires_at.unix_timestamp(),
        }
    }

    pub fn streak(&self) -> Result<FailureStreak, StoreError> {
        let at = |ms: i64| {
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
                .map_err(|error| StoreError::Corrupt(error.to_string()))
        };
        Ok(FailureStreak {
            failures: self.failures,
            last_failure_at: at(self.last_failure_ms)?,
            next_attempt_at: self.next_attempt_ms.map(at).transpose()?,
        })
    }
}

/// `USER#<id>` / `SESSION#<sid>`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionItem {
    pub session_id: SessionId,
    pub refresh_hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_hash: Option<String>,
    /// Newest first; absent on sessions that never rotated twice.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub older_hashes: Vec<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub rotated_at: Option<OffsetDateTime>,
    pub generation: u32,
    pub remember_me: bool,
    /// The `amr` values the session was opened with; absent on sessions from
    /// before they were kept, which were all opened with a password.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// When the person proved who they are; absent on older sessions, which
    /// were opened then.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub auth_time: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub expires_at: i64,
}

impl SessionItem {
    pub fn new(session: &Session) -> Self {
        Self {
            session_id: session.id,
            refresh_hash: session.refresh_hash.as_str().to_owned(),
            previous_hash: session
                .previous_hash
                .as_ref()
                .map(|hash| hash.as_str().to_owned()),
            older_hashes: stored_hashes(&session.older_hashes),
            rotated_at: session.rotated_at,
            generation: session.generation,
            remember_me: session.remember_me,
            amr: session.authentication.amr(),
            auth_time: Some(session.authentication.at),
            created_at: session.created_at,
            expires_at: session.expires_at.unix_timestamp(),
        }
    }

    pub fn into_session(
        self,
        user_id: UserId,
        now: OffsetDateTime,
    ) -> Result<Option<Session>, StoreError> {
        if self.expires_at <= now.unix_timestamp() {
            return Ok(None);
        }
        let corrupt = || StoreError::Corrupt("session refresh hash".to_owned());
        let refresh_hash = SecretHash::from_stored(&self.refresh_hash).ok_or_else(corrupt)?;
        let previous_hash = match &self.previous_hash {
            Some(hash) => Some(SecretHash::from_stored(hash).ok_or_else(corrupt)?),
            None => None,
        };
        let older_hashes = self
            .older_hashes
            .iter()
            .map(|hash| SecretHash::from_stored(hash).ok_or_else(corrupt))
            .collect::<Result<_, _>>()?;
        let expires_at = OffsetDateTime::from_unix_timestamp(self.expires_at)
            .map_err(|error| StoreError::Corrupt(error.to_string()))?;
        let methods = if self.amr.is_empty() {
            vec![AuthMethod::Password]
        } else {
            self.amr
                .iter()
                .map(|value| {
                    AuthMethod::parse(value)
                        .ok_or_else(|| StoreError::Corrupt(format!("session amr {value:?}")))
                })
                .collect::<Result<_, _>>()?
        };
        let authentication = Authentication {
            methods,
            at: self.auth_time.unwrap_or(self.created_at),
        };
        Ok(Some(Session {
            id: self.session_id,
            user_id,
            refresh_hash,
            previous_hash,
            older_hashes,
            rotated_at: self.rotated_at,
            generation: self.generation,
            remember_me: self.remember_me,
            authentication,
            created_at: self.created_at,
            expires_at,
        }))
    }
}

/// Hashes as stored.
pub fn stored_hashes(hashes: &[SecretHash]) -> Vec<String> {
    hashes.iter().map(|hash| hash.as_str().to_owned()).collect()
}

/// `CLIENT#<id>` / `CLIENT`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientItem {
    pub client_id: ClientId,
    pub name: String,
    pub secret_hash: String,
    pub scopes: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl ClientItem {
    pub fn new(client: &ServiceClient) -> Self {
        Self {
            client_id: client.id,
            name: client.name.clone(),
            secret_hash: client.secret_hash.as_str().to_owned(),
            scopes: client.scopes.clone(),
            created_at: client.created_at,
        }
    }

    pub fn into_client(self) -> Result<ServiceClient, StoreError> {
        let secret_hash = SecretHash::from_stored(&self.secret_hash)
            .ok_or_else(|| StoreError::Corrupt("client secret hash".to_owned()))?;
        Ok(ServiceClient {
            id: self.client_id,
            name: self.name,
            secret_hash,
            scopes: self.scopes,
            created_at: self.created_at,
        })
    }
}

/// SubjectPublicKeyInfo DER (what KMS `GetPublicKey` returns) as PEM, the
/// form `jsonwebtoken` reads and `/v1/auth/public-key` serves.
pub fn spki_der_to_pem(der: &[u8]) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
    for line in encoded.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END PUBLIC KEY-----\n");
    pem
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::macros::datetime;

    use super::*;

    /// What a profile item holds is a stored format: existing tables keep
    /// items written by earlier versions. A rename in the domain must not
    /// change it, and this pins it attribute by attribute.
    #[test]
    fn the_stored_layout_is_fixed() {
        let at = datetime!(2026-01-02 03:04:05 UTC);
        let user = User {
            id: UserId::parse("01900000-0000-7000-8000-000000000001").unwrap(),
            login: Some(Login::parse("ann").unwrap()),
            first_name: Some(PersonName::parse("Ann").unwrap()),
            status: AccountStatus::Disabled,
            email_confirmed: true,
            roles: vec![Role::admin()],
            addresses: vec![Address {
                id: AddressId::parse("01900000-0000-7000-8000-000000000002").unwrap(),
                address: AddressValue::parse("0xabc").unwrap(),
                name: None,
                created_at: at,
            }],
            last_sign_in_at: Some(at),
            sign_in_count: 3,
            version: 7,
            ..User::new(Email::parse("ann@example.com").unwrap(), at)
        };
        let account = Account {
            user: user.clone(),
            password_hash: "$argon2id$hash".to_owned(),
        };
        let stored = serde_json::to_value(ProfileItem::from_account(&account)).unwrap();
        assert_eq!(
            stored,
            json!({
                "user": {
                    "id": "01900000-0000-7000-8000-000000000001",
                    "email": "ann@example.com",
                    "login": "ann",
                    "first_name": "Ann",
                    "last_name": null,
                    "locale": "en",
                    "status": "disabled",
                    "email_confirmed": true,
                    "roles": ["admin"],
                    "addresses": [{
                        "id": "01900000-0000-7000-8000-000000000002",
                        "address": "0xabc",
                        "name": null,
                        "created_at": "2026-01-02T03:04:05Z",
                    }],
                    "profile_is_public": false,
                    "attributes": {},
                    "created_at": "2026-01-02T03:04:05Z",
                    "updated_at": "2026-01-02T03:04:05Z",
                    "last_sign_in_at": "2026-01-02T03:04:05Z",
                    "sign_in_count": 3,
                    "version": 7,
                },
                "password_hash": "$argon2id$hash",
                "accounts_pk": "ACCOUNTS",
                "accounts_sk": "01900000-0000-7000-8000-000000000001",
                "accounts_email": "ann@example.com",
            })
        );
        // The names expressions use are the names written.
        for name in [
            attr::USER,
            attr::PASSWORD_HASH,
            attr::ACCOUNTS_PK,
            attr::ACCOUNTS_SK,
            attr::ACCOUNTS_EMAIL,
        ] {
            assert!(stored.get(name).is_some(), "{name}");
        }
        for name in [
            attr::STATUS,
            attr::VERSION,
            attr::EMAIL_CONFIRMED,
            attr::UPDATED_AT,
            attr::LAST_SIGN_IN_AT,
            attr::SIGN_IN_COUNT,
            attr::ROLES,
        ] {
            assert!(stored[attr::USER].get(name).is_some(), "{name}");
        }
        // And it reads back as the same account.
        let read: ProfileItem = serde_json::from_value(stored).unwrap();
        assert_eq!(read.into_account().user, user);

        // Another type's account says which; the default type says nothing,
        // so items written before types existed read as the default type.
        let partner = Account {
            user: User {
                user_type: UserType::Named("partner".to_owned()),
                ..user
            },
            password_hash: account.password_hash,
        };
        let stored = serde_json::to_value(ProfileItem::from_account(&partner)).unwrap();
        assert_eq!(stored["user"]["source"], "partner");
        assert_eq!(stored[attr::ACCOUNTS_PK], "ACCOUNTS#partner");
        let read: ProfileItem = serde_json::from_value(stored).unwrap();
        assert_eq!(read.into_account().user, partner.user);
    }

    #[test]
    fn every_status_has_its_own_stored_word() {
        let words: std::collections::HashSet<_> =
            AccountStatus::ALL.into_iter().map(status_value).collect();
        assert_eq!(words.len(), AccountStatus::ALL.len());
    }
}
