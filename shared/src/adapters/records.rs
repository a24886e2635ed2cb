//! The single-table item layout (docs/data-model.md), shared by every store
//! adapter so they cannot drift: keys, and each item's own record type, so
//! what is stored never follows a rename in the domain.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::domain::{
    AccountStatus, Actor, Address, AddressId, AddressValue, Attributes, AuthMethod, Authentication,
    ClientId, Email, EventId, EventKind, FactorId, FactorKind, FactorName, Identity, IdentityKey,
    Locale, Login, PersonName, ProviderId, Role, SecurityEvent, SessionId, SessionOrigin, User,
    UserId, UserType,
};
use crate::ports::{
    Account, CeremonyPurpose, CodeKind, EmailChange, EmailSignInCode, EventPage, Factor,
    FactorState, FailureStreak, FlightPurpose, MfaChallenge, Passkey, PasskeyCeremony,
    ProviderFlight, ProviderGrant, SealedSecret, ServiceClient, Session, StoreError, StoredCode,
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

pub const FACTOR_PREFIX: &str = "FACTOR#";

pub fn factor_sk(id: FactorId) -> String {
    format!("{FACTOR_PREFIX}{id}")
}

/// `USER#<id>` / `RECOVERY`: the account's unspent recovery codes.
pub const RECOVERY: &str = "RECOVERY";

pub const MFA: &str = "MFA";

/// `USER#<id>` / `EMAILCODE`: the account's one emailed sign-in code.
pub const EMAIL_CODE: &str = "EMAILCODE";

/// `USER#<id>` / `EMAILCHANGE`: the account's one pending change of email.
pub const EMAIL_CHANGE: &str = "EMAILCHANGE";

pub const PASSKEY_PREFIX: &str = "PASSKEY#";

/// A credential id as keys carry it (base64url).
fn credential_key(credential_id: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(credential_id)
}

/// `USER#<id>` / `PASSKEY#<credential id>`: a passkey under its owner.
pub fn passkey_sk(credential_id: &[u8]) -> String {
    format!("{PASSKEY_PREFIX}{}", credential_key(credential_id))
}

/// `PASSKEY#<credential id>` / `PASSKEY`: whose the credential is.
pub fn passkey_owner_pk(credential_id: &[u8]) -> String {
    format!("{PASSKEY_PREFIX}{}", credential_key(credential_id))
}

pub const PASSKEY: &str = "PASSKEY";

pub const IDENTITY_PREFIX: &str = "IDENTITY#";

/// `USER#<id>` / `IDENTITY#<provider>.<subject>[#<type>]`: a linked
/// provider account under its owner (the identity's API id after the
/// prefix, scoped to the account's type as email keys are: one provider
/// account may hold one account of each type).
pub fn identity_sk(key: &IdentityKey, user_type: &UserType) -> String {
    format!("{IDENTITY_PREFIX}{}", user_type.scope(&key.id()))
}

/// `IDENTITY#<provider>.<subject>[#<type>]` / `IDENTITY`: whose the
/// identity is.
pub fn identity_owner_pk(key: &IdentityKey, user_type: &UserType) -> String {
    identity_sk(key, user_type)
}

pub const IDENTITY: &str = "IDENTITY";

/// `OIDC#<sha256 of the state>` / `FLIGHT`, and `OIDC#<sha256 of our
/// one-time code>` / `GRANT`.
pub fn oidc_pk(hash: &SecretHash) -> String {
    format!("OIDC#{}", hash.as_str())
}

pub const FLIGHT: &str = "FLIGHT";
pub const GRANT: &str = "GRANT";

pub const EVENT_PREFIX: &str = "EVENT#";

/// `AUDIT_RETENTION_DAYS`' default: 90 days.
pub const DEFAULT_AUDIT_RETENTION: std::time::Duration =
    std::time::Duration::from_secs(90 * 24 * 3600);

/// `USER#<id>` / `EVENT#<event id>`: one entry of the security log; ids
/// are time-ordered, so the log reads newest first by key.
pub fn event_sk(id: EventId) -> String {
    format!("{EVENT_PREFIX}{id}")
}

/// The `(pk, sk)` keys a deletion removes after the profile and the guards:
/// every other item under `USER#<id>` (`sort_keys`), each passkey's and
/// identity's owner item, and the reset code the account's `RESET` pointer names. Sessions
/// come first, so the account's tokens die before the rest goes, and
/// `keep_last` (the caller's session) last.
pub fn deletion_keys(
    user_id: UserId,
    sort_keys: Vec<String>,
    reset_code_hash: Option<&str>,
    keep_last: Option<SessionId>,
) -> Vec<(String, String)> {
    let pk = user_pk(user_id);
    let last = keep_last.map(session_sk);
    let mut keys = Vec::with_capacity(sort_keys.len() + 2);
    let mut owners = Vec::new();
    let (sessions, others): (Vec<String>, Vec<String>) = sort_keys
        .into_iter()
        .filter(|sk| sk != PROFILE && Some(sk) != last.as_ref())
        .partition(|sk| sk.starts_with(SESSION_PREFIX));
    for sk in sessions.into_iter().chain(others) {
        // The owner item's key is the passkey's sort key as partition key.
        if sk.starts_with(PASSKEY_PREFIX) {
            owners.push((sk.clone(), PASSKEY.to_owned()));
        }
        if sk.starts_with(IDENTITY_PREFIX) {
            owners.push((sk.clone(), IDENTITY.to_owned()));
        }
        keys.push((pk.clone(), sk));
    }
    keys.extend(owners);
    if let Some(hash) = reset_code_hash.and_then(SecretHash::from_stored) {
        keys.push((code_pk(&hash), CODE.to_owned()));
    }
    if let Some(sk) = last {
        keys.push((pk, sk));
    }
    keys
}

/// `WEBAUTHN#<sha256 of the challenge id>` / `CEREMONY`.
pub fn ceremony_pk(hash: &SecretHash) -> String {
    format!("WEBAUTHN#{}", hash.as_str())
}

pub const CEREMONY: &str = "CEREMONY";

pub fn mfa_pk(hash: &SecretHash) -> String {
    format!("MFA#{}", hash.as_str())
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
    pub const SECOND_FACTOR: &str = "second_factor";
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
    /// Written only when true: profiles without a second factor keep the
    /// layout they had before factors existed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub second_factor: bool,
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
            second_factor,
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
            second_factor,
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
            second_factor,
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
            second_factor,
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
    /// The methods (`amr` values) the session was opened with; absent on sessions from
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
    /// The network the sign-in came from (IPv4 /24, IPv6 /48); absent on
    /// older sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// The signing-in browser's user agent, shortened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
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
            amr: stored_methods(&session.authentication),
            auth_time: Some(session.authentication.at),
            network: session.origin.network().map(str::to_owned),
            user_agent: session.origin.user_agent().map(str::to_owned),
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
            parse_methods(&self.amr)?
        };
        let authentication = Authentication {
            methods,
            at: self.auth_time.unwrap_or(self.created_at),
        };
        let origin = SessionOrigin::from_stored(self.network, self.user_agent);
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
            origin,
            created_at: self.created_at,
            expires_at,
        }))
    }
}

/// `USER#<id>` / `FACTOR#<factor id>`. The secret is sealed (envelope
/// encryption); its three parts are base64.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FactorItem {
    pub factor_id: FactorId,
    pub kind: String,
    pub name: String,
    pub wrapped_key: String,
    pub nonce: String,
    pub ciphertext: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Set when the factor is proven; absent while it is pending.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub verified_at: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_step: Option<u64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub last_used_at: Option<OffsetDateTime>,
    /// A pending factor's end (TTL); removed when it is proven.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unbase64(text: &str) -> Result<Vec<u8>, StoreError> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|error| StoreError::Corrupt(format!("stored bytes: {error}")))
}

impl FactorItem {
    pub fn new(factor: &Factor) -> Self {
        let (verified_at, last_step, expires_at) = match factor.state {
            FactorState::Pending { expires_at } => (None, None, Some(expires_at.unix_timestamp())),
            FactorState::Active {
                verified_at,
                last_step,
            } => (Some(verified_at), Some(last_step), None),
        };
        Self {
            factor_id: factor.id,
            kind: factor.kind.as_str().to_owned(),
            name: factor.name.as_str().to_owned(),
            wrapped_key: base64(&factor.secret.wrapped_key),
            nonce: base64(&factor.secret.nonce),
            ciphertext: base64(&factor.secret.ciphertext),
            created_at: factor.created_at,
            verified_at,
            last_step,
            last_used_at: factor.last_used_at,
            expires_at,
        }
    }

    /// The factor, unless it is a pending one past its end.
    pub fn into_factor(
        self,
        user_id: UserId,
        now: OffsetDateTime,
    ) -> Result<Option<Factor>, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("factor {what}"));
        let state = match (self.verified_at, self.expires_at) {
            (Some(verified_at), _) => FactorState::Active {
                verified_at,
                last_step: self.last_step.unwrap_or_default(),
            },
            (None, Some(expires_at)) if expires_at > now.unix_timestamp() => FactorState::Pending {
                expires_at: OffsetDateTime::from_unix_timestamp(expires_at)
                    .map_err(|_| corrupt("expiry"))?,
            },
            (None, _) => return Ok(None),
        };
        Ok(Some(Factor {
            id: self.factor_id,
            user_id,
            kind: FactorKind::parse(&self.kind).ok_or_else(|| corrupt("kind"))?,
            name: FactorName::parse(&self.name).map_err(|_| corrupt("name"))?,
            secret: SealedSecret {
                wrapped_key: unbase64(&self.wrapped_key)?,
                nonce: unbase64(&self.nonce)?,
                ciphertext: unbase64(&self.ciphertext)?,
            },
            state,
            created_at: self.created_at,
            last_used_at: self.last_used_at,
        }))
    }
}

/// `USER#<id>` / `RECOVERY`: hashes of the unspent recovery codes, as the
/// keys of a map (a spent one is removed by its key, conditionally).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecoveryItem {
    pub codes: std::collections::BTreeMap<String, bool>,
}

impl RecoveryItem {
    pub fn new(codes: &[SecretHash]) -> Self {
        Self {
            codes: codes
                .iter()
                .map(|hash| (hash.as_str().to_owned(), true))
                .collect(),
        }
    }
}

/// `MFA#<sha256 of the token>` / `MFA`: a sign-in waiting for its second
/// factor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MfaChallengeItem {
    pub user_id: UserId,
    pub credential_digest: String,
    pub amr: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub auth_time: OffsetDateTime,
    pub remember_me: bool,
    pub attempts: u32,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub used_at: Option<OffsetDateTime>,
    pub expires_at: i64,
}

impl MfaChallengeItem {
    pub fn new(challenge: &MfaChallenge) -> Self {
        Self {
            user_id: challenge.user_id,
            credential_digest: challenge.credential_digest.as_str().to_owned(),
            amr: stored_methods(&challenge.authentication),
            auth_time: challenge.authentication.at,
            remember_me: challenge.remember_me,
            attempts: challenge.attempts,
            used_at: None,
            expires_at: challenge.expires_at.unix_timestamp(),
        }
    }

    /// The challenge, if it is unused and unexpired (attempts are the
    /// caller's to judge).
    pub fn into_challenge(
        self,
        hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<Option<MfaChallenge>, StoreError> {
        if self.used_at.is_some() || self.expires_at <= now.unix_timestamp() {
            return Ok(None);
        }
        let corrupt = |what: &str| StoreError::Corrupt(format!("sign-in challenge {what}"));
        Ok(Some(MfaChallenge {
            hash: hash.clone(),
            user_id: self.user_id,
            credential_digest: SecretHash::from_stored(&self.credential_digest)
                .ok_or_else(|| corrupt("digest"))?,
            authentication: Authentication {
                methods: parse_methods(&self.amr)?,
                at: self.auth_time,
            },
            remember_me: self.remember_me,
            attempts: self.attempts,
            expires_at: OffsetDateTime::from_unix_timestamp(self.expires_at)
                .map_err(|_| corrupt("expiry"))?,
        }))
    }
}

/// `USER#<id>` / `EVENT#<event id>`: an entry of the security log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventItem {
    pub event_id: EventId,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// `self`, `admin` (with `admin_id`) or `operator`.
    pub actor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_id: Option<UserId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub detail: BTreeMap<String, String>,
    pub expires_at: i64,
}

impl EventItem {
    /// The entry as stored, kept `retention` after it happened.
    pub fn new(event: &SecurityEvent, retention: std::time::Duration) -> Self {
        let (actor, admin_id) = match event.actor {
            Actor::Owner => ("self", None),
            Actor::Admin(id) => ("admin", Some(id)),
            Actor::Operator => ("operator", None),
        };
        Self {
            event_id: event.id,
            kind: event.kind.as_str().to_owned(),
            at: event.at,
            actor: actor.to_owned(),
            admin_id,
            network: event.origin.network().map(str::to_owned),
            user_agent: event.origin.user_agent().map(str::to_owned),
            detail: event.detail.clone(),
            expires_at: (event.at + retention).unix_timestamp(),
        }
    }

    /// The entry, if the log still keeps it at `now`.
    pub fn into_event(
        self,
        user_id: UserId,
        now: OffsetDateTime,
    ) -> Result<Option<SecurityEvent>, StoreError> {
        if self.expires_at <= now.unix_timestamp() {
            return Ok(None);
        }
        let kind = EventKind::parse(&self.kind)
            .ok_or_else(|| StoreError::Corrupt(format!("event type {}", self.kind)))?;
        let actor = match (self.actor.as_str(), self.admin_id) {
            ("self", _) => Actor::Owner,
            ("admin", Some(id)) => Actor::Admin(id),
            ("operator", _) => Actor::Operator,
            _ => return Err(StoreError::Corrupt(format!("event actor {}", self.actor))),
        };
        Ok(Some(SecurityEvent {
            id: self.event_id,
            user_id,
            kind,
            at: self.at,
            actor,
            origin: SessionOrigin::from_stored(self.network, self.user_agent),
            detail: self.detail,
        }))
    }
}

/// A page of the log from its stored entries, newest first, past the
/// cursor: the first `limit` (expired ones, which the table removes late,
/// take their place but are left out), and the cursor after them if any
/// entry is left.
pub fn event_page(
    rows: impl Iterator<Item = EventItem>,
    user_id: UserId,
    limit: usize,
    now: OffsetDateTime,
) -> Result<EventPage, StoreError> {
    let mut page = EventPage::default();
    let mut last = None;
    for (taken, row) in rows.enumerate() {
        if taken == limit {
            page.next = last;
            break;
        }
        last = Some(row.event_id);
        page.events.extend(row.into_event(user_id, now)?);
    }
    Ok(page)
}

/// `USER#<id>` / `EMAILCHANGE`: a change of email waiting for its link.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmailChangeItem {
    pub new_email: String,
    pub code_hash: String,
    pub expires_at: i64,
}

impl EmailChangeItem {
    pub fn new(change: &EmailChange) -> Self {
        Self {
            new_email: change.new_email.as_str().to_owned(),
            code_hash: change.code_hash.as_str().to_owned(),
            expires_at: change.expires_at.unix_timestamp(),
        }
    }

    /// The change, if it has not expired.
    pub fn into_change(
        self,
        user_id: UserId,
        now: OffsetDateTime,
    ) -> Result<Option<EmailChange>, StoreError> {
        if self.expires_at <= now.unix_timestamp() {
            return Ok(None);
        }
        let corrupt = |what: &str| StoreError::Corrupt(format!("email change {what}"));
        Ok(Some(EmailChange {
            user_id,
            new_email: Email::parse(&self.new_email).map_err(|_| corrupt("address"))?,
            code_hash: SecretHash::from_stored(&self.code_hash).ok_or_else(|| corrupt("hash"))?,
            expires_at: OffsetDateTime::from_unix_timestamp(self.expires_at)
                .map_err(|error| StoreError::Corrupt(error.to_string()))?,
        }))
    }
}

/// `USER#<id>` / `EMAILCODE`: the keyed hash of the account's emailed
/// sign-in code.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmailCodeItem {
    pub mac: String,
    pub attempts: u32,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub used_at: Option<OffsetDateTime>,
    pub expires_at: i64,
}

impl EmailCodeItem {
    pub fn new(code: &EmailSignInCode) -> Self {
        Self {
            mac: code.mac.clone(),
            attempts: code.attempts,
            used_at: None,
            expires_at: code.expires_at.unix_timestamp(),
        }
    }

    /// The code, if it is unused and unexpired.
    pub fn into_code(
        self,
        user_id: UserId,
        now: OffsetDateTime,
    ) -> Result<Option<EmailSignInCode>, StoreError> {
        if self.used_at.is_some() || self.expires_at <= now.unix_timestamp() {
            return Ok(None);
        }
        Ok(Some(EmailSignInCode {
            user_id,
            mac: self.mac,
            attempts: self.attempts,
            expires_at: OffsetDateTime::from_unix_timestamp(self.expires_at)
                .map_err(|error| StoreError::Corrupt(error.to_string()))?,
        }))
    }
}

/// `WEBAUTHN#<hash>` / `CEREMONY`: a started passkey ceremony.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CeremonyItem {
    /// `register` or `sign-in`.
    pub purpose: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    pub state: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub used_at: Option<OffsetDateTime>,
    pub expires_at: i64,
}

impl CeremonyItem {
    pub fn new(ceremony: &PasskeyCeremony) -> Self {
        let (purpose, user_id) = match ceremony.purpose {
            CeremonyPurpose::Register(user_id) => ("register", Some(user_id)),
            CeremonyPurpose::SignIn => ("sign-in", None),
        };
        Self {
            purpose: purpose.to_owned(),
            user_id,
            state: base64(&ceremony.state),
            used_at: None,
            expires_at: ceremony.expires_at.unix_timestamp(),
        }
    }

    /// The ceremony, unless it was used or has expired.
    pub fn into_ceremony(
        self,
        hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<Option<PasskeyCeremony>, StoreError> {
        if self.used_at.is_some() || self.expires_at <= now.unix_timestamp() {
            return Ok(None);
        }
        let corrupt = || StoreError::Corrupt("passkey ceremony".to_owned());
        let purpose = match (self.purpose.as_str(), self.user_id) {
            ("register", Some(user_id)) => CeremonyPurpose::Register(user_id),
            ("sign-in", None) => CeremonyPurpose::SignIn,
            _ => return Err(corrupt()),
        };
        Ok(Some(PasskeyCeremony {
            hash: hash.clone(),
            purpose,
            state: unbase64(&self.state)?,
            expires_at: OffsetDateTime::from_unix_timestamp(self.expires_at)
                .map_err(|_| corrupt())?,
        }))
    }
}

/// `USER#<id>` / `PASSKEY#<credential id>`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PasskeyItem {
    pub credential_id: String,
    pub name: String,
    pub public_key: String,
    pub state: String,
    pub device_bound: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub last_used_at: Option<OffsetDateTime>,
}

impl PasskeyItem {
    pub fn new(passkey: &Passkey) -> Self {
        Self {
            credential_id: base64(&passkey.credential_id),
            name: passkey.name.as_str().to_owned(),
            public_key: base64(&passkey.public_key),
            state: base64(&passkey.state),
            device_bound: passkey.device_bound,
            created_at: passkey.created_at,
            last_used_at: passkey.last_used_at,
        }
    }

    pub fn into_passkey(self, user_id: UserId) -> Result<Passkey, StoreError> {
        Ok(Passkey {
            user_id,
            credential_id: unbase64(&self.credential_id)?,
            name: FactorName::parse(&self.name)
                .map_err(|_| StoreError::Corrupt("passkey name".to_owned()))?,
            public_key: unbase64(&self.public_key)?,
            state: unbase64(&self.state)?,
            device_bound: self.device_bound,
            created_at: self.created_at,
            last_used_at: self.last_used_at,
        })
    }
}

/// `PASSKEY#<credential id>` / `PASSKEY`: the credential's owner.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PasskeyOwnerItem {
    pub user_id: UserId,
}

/// `USER#<id>` / `IDENTITY#…`: a linked provider account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdentityItem {
    pub provider: String,
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_hint: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub linked_at: OffsetDateTime,
}

impl IdentityItem {
    pub fn new(identity: &Identity) -> Self {
        Self {
            provider: identity.key.provider.as_str().to_owned(),
            subject: identity.key.subject().to_owned(),
            email_hint: identity.email_hint.clone(),
            linked_at: identity.linked_at,
        }
    }

    pub fn into_identity(self, user_id: UserId) -> Result<Identity, StoreError> {
        let key = ProviderId::parse(&self.provider)
            .ok()
            .and_then(|provider| IdentityKey::new(provider, &self.subject))
            .ok_or_else(|| StoreError::Corrupt("identity".to_owned()))?;
        Ok(Identity {
            key,
            user_id,
            email_hint: self.email_hint,
            linked_at: self.linked_at,
        })
    }
}

/// `IDENTITY#…` / `IDENTITY`: the identity's owner.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdentityOwnerItem {
    pub user_id: UserId,
}

/// `OIDC#<hash>` / `FLIGHT`: a provider sign-in under way. `expires_at`
/// is epoch seconds (the TTL attribute).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FlightItem {
    pub provider: String,
    /// `sign-in` or `link`.
    pub purpose: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_type: Option<String>,
    #[serde(default)]
    pub remember_me: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge: Option<String>,
    pub redirect_uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_state: Option<String>,
    pub pkce_verifier: String,
    pub nonce: String,
    pub expires_at: i64,
}

impl FlightItem {
    pub fn new(flight: &ProviderFlight) -> Self {
        let mut item = Self {
            provider: flight.provider.as_str().to_owned(),
            purpose: String::new(),
            user_id: None,
            user_type: None,
            remember_me: false,
            code_challenge: None,
            redirect_uri: flight.redirect_uri.clone(),
            app_state: flight.app_state.clone(),
            pkce_verifier: flight.pkce_verifier.clone(),
            nonce: flight.nonce.clone(),
            expires_at: flight.expires_at.unix_timestamp(),
        };
        match &flight.purpose {
            FlightPurpose::SignIn {
                user_type,
                remember_me,
                code_challenge,
            } => {
                item.purpose = "sign-in".to_owned();
                item.user_type = user_type.stored_name().map(str::to_owned);
                item.remember_me = *remember_me;
                item.code_challenge = Some(code_challenge.clone());
            }
            FlightPurpose::Link(user_id) => {
                item.purpose = "link".to_owned();
                item.user_id = Some(*user_id);
            }
        }
        item
    }

    /// The flight, unless it has expired.
    pub fn into_flight(
        self,
        hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<Option<ProviderFlight>, StoreError> {
        if self.expires_at <= now.unix_timestamp() {
            return Ok(None);
        }
        let corrupt = || StoreError::Corrupt("provider flight".to_owned());
        let purpose = match (self.purpose.as_str(), self.user_id) {
            ("link", Some(user_id)) => FlightPurpose::Link(user_id),
            ("sign-in", None) => FlightPurpose::SignIn {
                user_type: UserType::from_stored(self.user_type),
                remember_me: self.remember_me,
                code_challenge: self.code_challenge.ok_or_else(corrupt)?,
            },
            _ => return Err(corrupt()),
        };
        Ok(Some(ProviderFlight {
            hash: hash.clone(),
            provider: ProviderId::parse(&self.provider).map_err(|_| corrupt())?,
            purpose,
            redirect_uri: self.redirect_uri,
            app_state: self.app_state,
            pkce_verifier: self.pkce_verifier,
            nonce: self.nonce,
            expires_at: OffsetDateTime::from_unix_timestamp(self.expires_at)
                .map_err(|_| corrupt())?,
        }))
    }
}

/// `OIDC#<hash>` / `GRANT`: what our one-time code stands for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GrantItem {
    pub user_id: UserId,
    pub provider: String,
    pub code_challenge: String,
    pub remember_me: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub authenticated_at: OffsetDateTime,
    pub credential_digest: String,
    pub expires_at: i64,
}

impl GrantItem {
    pub fn new(grant: &ProviderGrant) -> Self {
        Self {
            user_id: grant.user_id,
            provider: grant.provider.as_str().to_owned(),
            code_challenge: grant.code_challenge.clone(),
            remember_me: grant.remember_me,
            authenticated_at: grant.authenticated_at,
            credential_digest: grant.credential_digest.as_str().to_owned(),
            expires_at: grant.expires_at.unix_timestamp(),
        }
    }

    /// The grant, unless it has expired.
    pub fn into_grant(
        self,
        hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<Option<ProviderGrant>, StoreError> {
        if self.expires_at <= now.unix_timestamp() {
            return Ok(None);
        }
        let corrupt = || StoreError::Corrupt("provider grant".to_owned());
        Ok(Some(ProviderGrant {
            hash: hash.clone(),
            user_id: self.user_id,
            provider: ProviderId::parse(&self.provider).map_err(|_| corrupt())?,
            code_challenge: self.code_challenge,
            remember_me: self.remember_me,
            authenticated_at: self.authenticated_at,
            credential_digest: SecretHash::from_stored(&self.credential_digest)
                .ok_or_else(corrupt)?,
            expires_at: OffsetDateTime::from_unix_timestamp(self.expires_at)
                .map_err(|_| corrupt())?,
        }))
    }
}

/// The state a passkey item stores, for conditions on it.
pub fn stored_passkey_state(state: &[u8]) -> String {
    base64(state)
}

/// The methods of a proof as stored (`amr` values, without `mfa`, which
/// is derived).
fn stored_methods(authentication: &Authentication) -> Vec<String> {
    authentication
        .methods
        .iter()
        .map(|method| method.as_str().to_owned())
        .collect()
}

fn parse_methods(values: &[String]) -> Result<Vec<AuthMethod>, StoreError> {
    values
        .iter()
        .map(|value| {
            AuthMethod::parse(value)
                .ok_or_else(|| StoreError::Corrupt(format!("stored amr {value:?}")))
        })
        .collect()
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

        // The second-factor flag is written only when on.
        let guarded = Account {
            user: User {
                second_factor: true,
                ..user.clone()
            },
            password_hash: account.password_hash.clone(),
        };
        let stored = serde_json::to_value(ProfileItem::from_account(&guarded)).unwrap();
        assert_eq!(stored[attr::USER][attr::SECOND_FACTOR], true);
        let read: ProfileItem = serde_json::from_value(stored).unwrap();
        assert!(read.into_account().user.second_factor);

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
