//! The traits services depend on, split by capability. Production adapters
//! talk to DynamoDB, SES v2 and KMS; local adapters make `local-api` and the
//! fast tests work with no network. Services never see an SDK type.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::domain::{
    AccountStatus, Authentication, ClientId, Login, Role, SessionId, User, UserId, UserType,
};
use crate::secrets::SecretHash;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A user together with the argon2id PHC string of their password.
#[derive(Debug, Clone)]
pub struct Account {
    pub user: User,
    pub password_hash: String,
}

/// What single-use codes are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CodeKind {
    Confirm,
    Reset,
}

/// A single-use code as stored: only its hash, never the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCode {
    pub hash: SecretHash,
    pub kind: CodeKind,
    pub user_id: UserId,
    pub expires_at: OffsetDateTime,
}

/// A login session: the refresh token's hash and the session's hard end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub refresh_hash: SecretHash,
    /// The hash the last rotation replaced, and when: a second use of that
    /// token is a benign double submit within the grace window, a replay after.
    pub previous_hash: Option<SecretHash>,
    /// Hashes retired before `previous_hash`, newest first, a bounded number
    /// (`services::sessions::RETIRED_HASHES_KEPT`): any of them coming back is
    /// a replay of a stolen generation (RFC 9700 §4.14.2).
    pub older_hashes: Vec<SecretHash>,
    pub rotated_at: Option<OffsetDateTime>,
    /// Counts refresh rotations.
    pub generation: u32,
    pub remember_me: bool,
    /// How and when the person proved who they are; refreshes keep it.
    pub authentication: Authentication,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmOutcome {
    /// This call spent the code and activated the account.
    Confirmed(UserId),
    /// The code was spent before and has not expired: the same success again,
    /// because mail scanners open links before people do.
    AlreadyConfirmed(UserId),
    /// Unknown, expired, of another kind, or for a disabled account.
    Invalid,
}

/// Which sessions a profile change ends, in the same transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndSessions {
    None,
    All,
    /// Every session but the caller's (a password change).
    AllExcept(SessionId),
}

/// A change to an account, written as one conditional transaction.
#[derive(Debug, Clone, Copy)]
pub struct ProfileChange<'a> {
    /// The account as it is to be stored, its version already bumped.
    pub user: &'a User,
    /// The version it was read at: the write happens only if that is still
    /// the stored one, so concurrent edits never overwrite each other.
    pub expected_version: u64,
    /// The login it was read with; the login guard moves when `user.login`
    /// differs, and a login another account holds is `StoreError::LoginTaken`.
    pub previous_login: Option<&'a Login>,
    /// A new argon2id hash, when the password changes.
    pub password_hash: Option<&'a str>,
    pub end_sessions: EndSessions,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeOutcome {
    Saved {
        sessions_ended: usize,
    },
    /// The stored version is not the expected one, or the account is gone:
    /// nothing written; read again.
    Stale,
}

/// What a password reset did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetOutcome {
    /// The code is spent, the profile written, and this many sessions ended.
    Reset { sessions_ended: usize },
    /// The code was spent, replaced or expired meanwhile: nothing written.
    InvalidCode,
    /// The profile changed since it was read: nothing written; read again.
    ProfileChanged,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("email already registered")]
    EmailTaken,
    #[error("login already taken")]
    LoginTaken,
    /// The backend asked us to slow down (DynamoDB throughput exceeded).
    #[error("the store is throttling requests")]
    Throttled(#[source] BoxError),
    #[error("stored item is not readable: {0}")]
    Corrupt(String),
    #[error("store failure")]
    Backend(#[source] BoxError),
}

#[async_trait]
pub trait UserStore: Send + Sync {
    /// Writes the profile, the email and login guards and the confirmation
    /// code in one transaction: all or nothing, and never two accounts for one
    /// email or login, however many registrations race.
    async fn create_user(
        &self,
        account: &Account,
        confirmation: Option<&StoredCode>,
    ) -> Result<(), StoreError>;

    /// Registers `account` over `expired`, an account of the same email
    /// that was never confirmed in time: in one transaction, only if
    /// `expired` is still waiting, unconfirmed and at its version, its
    /// profile and login guard go and the email guard passes to `account`,
    /// written as [`UserStore::create_user`] writes. `EmailTaken` when the
    /// old account moved meanwhile (confirmed, say) or another registration
    /// won the address first; `LoginTaken` as for `create_user`.
    async fn replace_expired_account(
        &self,
        expired: &Account,
        account: &Account,
        confirmation: Option<&StoredCode>,
    ) -> Result<(), StoreError>;

    /// Opens the connection to the backend (DNS, TCP, TLS) ahead of the
    /// first request, during a cold start. Failures only log: the request
    /// that needs the store reports them properly.
    async fn open_connection(&self) {}

    /// Looks an account up by the normalized email key.
    async fn find_by_email(&self, email_key: &str) -> Result<Option<Account>, StoreError>;

    /// Looks an account up by the lower-cased login key.
    async fn find_by_login(&self, login_key: &str) -> Result<Option<Account>, StoreError>;

    async fn get_user(&self, id: UserId) -> Result<Option<User>, StoreError>;

    /// The user with the password hash, by id.
    async fn get_account(&self, id: UserId) -> Result<Option<Account>, StoreError>;

    /// Writes a change of the profile (and of the login guard, the password
    /// hash and the sessions it ends) in one conditional transaction.
    async fn update_profile(&self, change: ProfileChange<'_>) -> Result<ChangeOutcome, StoreError>;

    /// Accounts of one type, newest first, that match the search: at most
    /// `limit`, and where the next page begins if there may be more.
    async fn search_users(&self, search: &UserSearch) -> Result<UserPage, StoreError>;
}

/// What an admin looks accounts up by (`GET /v1/admin/users`).
#[derive(Debug, Clone)]
pub struct UserSearch {
    pub user_type: UserType,
    /// A prefix of the email key (lower case).
    pub email_prefix: Option<String>,
    pub status: Option<AccountStatus>,
    pub role: Option<Role>,
    /// Only accounts older than this one: the end of the previous page.
    pub before: Option<UserId>,
    /// 1 to [`MAX_SEARCH_PAGE`].
    pub limit: usize,
}

/// The largest page of a user search.
pub const MAX_SEARCH_PAGE: usize = 100;

impl UserSearch {
    /// Whether `user` passes the filters (the type and the position are
    /// the stores' to apply: they are how accounts are keyed).
    pub fn matches(&self, user: &User) -> bool {
        self.email_prefix
            .as_ref()
            .is_none_or(|prefix| user.email.key().starts_with(prefix.as_str()))
            && self.status.is_none_or(|status| user.status == status)
            && self
                .role
                .as_ref()
                .is_none_or(|role| user.roles.contains(role))
    }
}

#[derive(Debug, Default)]
pub struct UserPage {
    pub users: Vec<User>,
    /// Where the next page begins (pass as `before`); `None` at the end.
    pub next: Option<UserId>,
}

#[async_trait]
pub trait CodeStore: Send + Sync {
    /// Spends a confirmation code and activates its account in one
    /// conditional transaction, so concurrent uses cannot both spend it.
    async fn confirm_email(
        &self,
        hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<ConfirmOutcome, StoreError>;

    /// Stores one more confirmation code (a resend); earlier codes keep
    /// working until they expire, so an email already in flight is not wasted.
    async fn add_confirmation_code(&self, code: &StoredCode) -> Result<(), StoreError>;

    /// Makes `code` the account's one reset code: any earlier reset code
    /// stops working at once.
    async fn replace_reset_code(&self, code: &StoredCode) -> Result<(), StoreError>;

    /// The account of a reset code that is live, unspent and still the
    /// account's current one.
    async fn find_reset_code(
        &self,
        hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<Option<UserId>, StoreError>;

    /// In one transaction: spends the reset code (which must still be
    /// live, unspent and current), writes `account` over the profile if the
    /// stored version is still `expected_version`, and ends the account's
    /// sessions. Of concurrent resets with one code exactly one succeeds.
    async fn reset_password(
        &self,
        hash: &SecretHash,
        account: &Account,
        expected_version: u64,
        now: OffsetDateTime,
    ) -> Result<ResetOutcome, StoreError>;
}

/// A run of consecutive failures under one key (failed sign-ins of one
/// account), as the store last saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureStreak {
    /// Attempts counted as failed (an attempt counts from the moment it is
    /// let through, so parallel ones cannot all slip under the limit).
    pub failures: u64,
    pub last_failure_at: OffsetDateTime,
    /// The next attempt must wait until then; `None` when it need not (or,
    /// for a streak written before this was kept, derive it).
    pub next_attempt_at: Option<OffsetDateTime>,
}

/// Counters for rate limits and sign-in throttling, kept in the store so
/// every Lambda instance sees the same counts.
#[async_trait]
pub trait RateStore: Send + Sync {
    /// Adds one to the counter `key` and returns the new count, in one atomic
    /// increment. A new counter starts at 1 and is deleted after `expires_at`.
    async fn increment_counter(
        &self,
        key: &str,
        expires_at: OffsetDateTime,
    ) -> Result<u64, StoreError>;

    /// Takes one back from the counter `key` (an event counted ahead that
    /// turned out not to count); nothing when the counter is gone.
    async fn decrement_counter(&self, key: &str) -> Result<(), StoreError>;

    async fn failure_streak(&self, key: &str) -> Result<Option<FailureStreak>, StoreError>;

    /// Writes `next` as the streak `key`, deleted after `expires_at`, if the
    /// stored streak is still `expected` (`None`: there is none), in one
    /// conditional write. `false` when another writer changed it first.
    async fn replace_failure_streak(
        &self,
        key: &str,
        expected: Option<&FailureStreak>,
        next: &FailureStreak,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    async fn end_failure_streak(&self, key: &str) -> Result<(), StoreError>;
}

#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a new session and records the sign-in on the profile
    /// (`last_sign_in_at`, `sign_in_count`) in one transaction, if the
    /// account still holds `credential`, the password hash the sign-in
    /// checked, and is not disabled; `false`, with nothing written, when a
    /// password change, reset or disable committed since it was read. The
    /// account's version moves too, so such a change still in flight retries
    /// and ends this session with the others.
    async fn start_session(
        &self,
        session: &Session,
        credential: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Moves the session to `next` if its refresh hash is still `current`
    /// (the replaced hash becomes `previous_hash`, and `older` the hashes
    /// retired before it). `false` when another
    /// rotation got there first or the session is gone: one conditional
    /// write, so concurrent refreshes cannot fork the chain.
    async fn rotate_session(
        &self,
        user_id: UserId,
        id: SessionId,
        current: &SecretHash,
        next: &SecretHash,
        older: &[SecretHash],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Deletes one session (logout, replay detected). Absent is fine.
    async fn end_session(&self, user_id: UserId, id: SessionId) -> Result<(), StoreError>;

    /// Deletes every session of the user; returns how many there were.
    async fn end_all_sessions(&self, user_id: UserId) -> Result<usize, StoreError>;

    /// The session if it exists and has not ended at `now`.
    async fn get_session(
        &self,
        user_id: UserId,
        id: SessionId,
        now: OffsetDateTime,
    ) -> Result<Option<Session>, StoreError>;
}

/// A service client: a program that gets access tokens with its own
/// credentials (client-credentials grant). Only the secret's hash is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceClient {
    pub id: ClientId,
    pub name: String,
    pub secret_hash: SecretHash,
    /// The scopes it may ask for.
    pub scopes: Vec<String>,
    pub created_at: OffsetDateTime,
}

#[async_trait]
pub trait ClientStore: Send + Sync {
    async fn create_client(&self, client: &ServiceClient) -> Result<(), StoreError>;
    async fn get_client(&self, id: ClientId) -> Result<Option<ServiceClient>, StoreError>;
    /// Every client, for the operator; order unspecified.
    async fn list_clients(&self) -> Result<Vec<ServiceClient>, StoreError>;
    /// Replaces the secret's hash; `false` if the client does not exist.
    async fn replace_client_secret(
        &self,
        id: ClientId,
        secret_hash: &SecretHash,
    ) -> Result<bool, StoreError>;
    /// `false` if the client did not exist.
    async fn delete_client(&self, id: ClientId) -> Result<bool, StoreError>;
}

/// Everything a store adapter provides.
pub trait Store: UserStore + CodeStore + SessionStore + ClientStore + RateStore {}
impl<T: UserStore + CodeStore + SessionStore + ClientStore + RateStore> Store for T {}

/// One email, already rendered, addressed to the stored address only.
#[derive(Clone)]
pub struct EmailMessage {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The link the message is about; the local outbox prints it so a
    /// developer can click through. Production adapters never log it.
    pub link: Option<String>,
}

impl std::fmt::Debug for EmailMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailMessage")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("the mail service is throttling requests")]
    Throttled(#[source] BoxError),
    #[error("the message could not be sent")]
    Failed(#[source] BoxError),
}

#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, message: &EmailMessage) -> Result<(), MailError>;

    /// Opens the connection to the mail service ahead of the first send,
    /// during a cold start. Failures only log.
    async fn open_connection(&self) {}
}

/// JWS algorithms this service signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SigningAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 on an RSA 2048 key (KMS `RSA_2048`).
    RS256,
    /// ECDSA P-256 with SHA-256 (KMS `ECC_NIST_P256`), signature as `r||s`.
    ES256,
}

impl SigningAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::ES256 => "ES256",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    #[error("the key service is throttling requests")]
    Throttled(#[source] BoxError),
    #[error("signing failed")]
    Failed(#[source] BoxError),
}

#[async_trait]
pub trait TokenSigner: Send + Sync {
    fn algorithm(&self) -> SigningAlgorithm;
    /// The `kid` header value of tokens this signer makes.
    fn key_id(&self) -> &str;
    /// SubjectPublicKeyInfo PEM of the signing key.
    fn public_key_pem(&self) -> &str;
    /// The signing key's public half, as published and as verified against.
    fn public_key(&self) -> crate::tokens::PublicKey {
        crate::tokens::PublicKey {
            kid: self.key_id().to_owned(),
            algorithm: self.algorithm(),
            pem: self.public_key_pem().to_owned(),
        }
    }
    /// The JWS signature of `signing_input` (`header.payload`), in JWS form:
    /// PKCS#1 v1.5 bytes for RS256, the 64-byte `r||s` for ES256.
    async fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, SignerError>;
}

pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A secret sealed for storage: envelope encryption, a fresh data key per
/// secret, the data key wrapped by a key that never leaves KMS (locally: a
/// key file in the data folder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedSecret {
    /// The data key, wrapped.
    pub wrapped_key: Vec<u8>,
    pub nonce: Vec<u8>,
    /// AES-256-GCM ciphertext and tag.
    pub ciphertext: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// Wrong key, wrong purpose, or changed bytes.
    #[error("the sealed secret does not open: tampered with or sealed for another purpose")]
    Tampered,
    /// The key service is throttling.
    #[error("throttled: {0}")]
    Throttled(#[source] BoxError),
    #[error("sealing failed: {0}")]
    Failed(#[source] BoxError),
}

/// Seals and opens small secrets (TOTP seeds). `purpose` is bound to the
/// sealed secret (KMS encryption context and AEAD associated data): a
/// secret sealed for one purpose does not open for another.
#[async_trait]
pub trait SecretSealer: Send + Sync {
    async fn seal(&self, secret: &[u8], purpose: &str) -> Result<SealedSecret, SealError>;

    async fn open(&self, sealed: &SealedSecret, purpose: &str) -> Result<Vec<u8>, SealError>;
}
