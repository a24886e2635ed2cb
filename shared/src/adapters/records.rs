//! The single-table item layout of DESIGN.md, shared by every store
//! adapter so they cannot drift: keys, and the serde form of each item.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::domain::{ClientId, SessionId, User, UserId};
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

pub fn user_pk(id: UserId) -> String {
    format!("USER#{id}")
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

/// `USER#<id>` / `PROFILE`: the user (a nested map) and the password hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProfileItem {
    pub user: User,
    pub password_hash: String,
}

impl ProfileItem {
    pub fn from_account(account: &Account) -> Self {
        Self {
            user: account.user.clone(),
            password_hash: account.password_hash.clone(),
        }
    }

    pub fn into_account(self) -> Account {
        Account {
            user: self.user,
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
        Ok(Some(Session {
            id: self.session_id,
            user_id,
            refresh_hash,
            previous_hash,
            older_hashes,
            rotated_at: self.rotated_at,
            generation: self.generation,
            remember_me: self.remember_me,
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
