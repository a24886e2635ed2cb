//! The traits services depend on, split by capability. Production adapters
//! talk to DynamoDB, SES v2 and KMS; local adapters make `local-api` and the
//! fast tests work with no network. Services never see an SDK type.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::domain::{
    AccountStatus, Actor, Authentication, ClientId, Email, EventId, EventKind, FactorId,
    FactorKind, FactorName, Identity, IdentityKey, Login, ProviderId, Role, SecurityEvent,
    SessionId, SessionOrigin, User, UserId, UserType,
};
use crate::secrets::SecretHash;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A user together with the argon2id PHC string of their password.
#[derive(Debug, Clone)]
pub struct Account {
    pub user: User,
    pub password_hash: String,
}

impl Account {
    /// The `password_hash` of an account made by another provider's
    /// sign-in: no PHC string, so no password matches it, until a reset
    /// sets one.
    pub const NO_PASSWORD: &'static str = "!none";

    pub fn has_password(&self) -> bool {
        self.password_hash != Self::NO_PASSWORD
    }
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
    /// Where the sign-in came from.
    pub origin: SessionOrigin,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// The security log's first entry: the account was created (written with
/// it, so every account's log starts there). Its id is the account's (a
/// UUIDv7 of the same moment), so a registration that takes over an
/// expired account can remove the old one's without reading it.
pub fn registered_event(user: &User) -> SecurityEvent {
    SecurityEvent {
        id: EventId::from_bytes(*user.id.as_bytes()),
        ..SecurityEvent::new(
            user.id,
            EventKind::Registered,
            Actor::Owner,
            SessionOrigin::default(),
            user.created_at,
        )
    }
}

/// The log's entry for a confirmation link used.
pub fn email_confirmed_event(user_id: UserId, at: OffsetDateTime) -> SecurityEvent {
    SecurityEvent::new(
        user_id,
        EventKind::EmailConfirmed,
        Actor::Owner,
        SessionOrigin::default(),
        at,
    )
}

impl Session {
    /// The security log's entry for the session's start.
    pub fn sign_in_event(&self) -> SecurityEvent {
        let methods: Vec<&str> = self
            .authentication
            .methods
            .iter()
            .map(|method| method.as_str())
            .collect();
        SecurityEvent::new(
            self.user_id,
            EventKind::SignedIn,
            Actor::Owner,
            self.origin.clone(),
            self.created_at,
        )
        .with("session_id", self.id.to_string())
        .with("amr", methods.join(" "))
    }
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
    /// The email it was read with; the email guard moves when `user.email`
    /// differs, and an address another account holds is
    /// `StoreError::EmailTaken`.
    pub previous_email: &'a Email,
    /// A new argon2id hash, when the password changes.
    pub password_hash: Option<&'a str>,
    /// The pending change of email this write completes, by its code's
    /// hash: spent in the same write, which happens only while it is still
    /// pending and unexpired at `now` (otherwise `Stale`).
    pub completes: Option<(&'a SecretHash, OffsetDateTime)>,
    pub end_sessions: EndSessions,
    /// The security log's entry for the change, written with it.
    pub event: Option<&'a SecurityEvent>,
}

/// A change of email waiting for the link sent to the new address: only
/// the hash of the link's code is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailChange {
    pub user_id: UserId,
    pub new_email: Email,
    pub code_hash: SecretHash,
    pub expires_at: OffsetDateTime,
}

/// An account to delete, as it was read.
#[derive(Debug, Clone, Copy)]
pub struct AccountDeletion<'a> {
    /// Its guards' keys come from its email and login, so they are the ones
    /// deleted only while its version is still `user.version`.
    pub user: &'a User,
    /// Failure-streak keys to forget with it.
    pub streaks: &'a [String],
    /// The caller's session, ended last.
    pub keep_last: Option<SessionId>,
    /// The deletion's entry, written by the first write (and removed with
    /// the rest: it is there for the account's lifecycle event).
    pub event: &'a SecurityEvent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeletionOutcome {
    /// Gone, with this many items besides the profile and its guards.
    Deleted { items: usize },
    /// The account changed (or went) since it was read: nothing deleted.
    Stale,
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

    /// Makes `change` the account's one pending change of email: an earlier
    /// one's link stops working.
    async fn replace_email_change(&self, change: &EmailChange) -> Result<(), StoreError>;

    /// The account's pending change of email, if any and unexpired.
    async fn email_change(
        &self,
        user_id: UserId,
        now: OffsetDateTime,
    ) -> Result<Option<EmailChange>, StoreError>;

    /// Writes a change of the profile (and of the login guard, the password
    /// hash and the sessions it ends) in one conditional transaction.
    async fn update_profile(&self, change: ProfileChange<'_>) -> Result<ChangeOutcome, StoreError>;

    /// Deletes an account. First, in one conditional write, its profile
    /// (only if still at the version read) and its email and login guards:
    /// from then on it cannot sign in and its email and login are free.
    /// Then everything else stored under it (see
    /// [`UserStore::finish_account_deletion`]). `Stale` when the account
    /// changed since it was read: nothing deleted; read again.
    async fn delete_account(
        &self,
        deletion: AccountDeletion<'_>,
    ) -> Result<DeletionOutcome, StoreError>;

    /// Removes every item stored under an account (sessions, factors,
    /// codes, passkeys with their owner items, pending changes) and what
    /// they point to, in writes of at most 100 items, `keep_last` (the
    /// caller's session) last, so that a deletion cut short can be
    /// finished by the same caller. How many items it removed.
    async fn finish_account_deletion(
        &self,
        user_id: UserId,
        keep_last: Option<SessionId>,
    ) -> Result<usize, StoreError>;

    /// Every item stored, as `(pk, sk, its attributes as text)`: for tests
    /// that check what a deletion left behind. A scan; never in a request.
    #[cfg(feature = "test-support")]
    async fn all_items(&self) -> Result<Vec<(String, String, String)>, StoreError>;

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
        event: &SecurityEvent,
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
    /// checked, is not disabled, and, for a session of one proof (assurance
    /// level 1), has no second factor; `false`, with nothing written, when a
    /// password change, reset or disable committed since it was read. The
    /// account's version moves too, so such a change still in flight retries
    /// and ends this session with the others. The same transaction adds the
    /// sign-in to the security log (as does every write that starts a
    /// session: the second step, an emailed code).
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
    /// Deletes the session and adds `event` to the log, in one write (no
    /// entry for an account that is gone: nothing may be left under it).
    async fn end_session(
        &self,
        user_id: UserId,
        id: SessionId,
        event: Option<&SecurityEvent>,
    ) -> Result<(), StoreError>;

    /// Deletes every session of the user; returns how many there were.
    async fn end_all_sessions(&self, user_id: UserId) -> Result<usize, StoreError>;

    /// The user's sessions that have not ended at `now`.
    async fn sessions(
        &self,
        user_id: UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<Session>, StoreError>;

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

/// A second factor as stored: its secret only sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Factor {
    pub id: FactorId,
    pub user_id: UserId,
    pub kind: FactorKind,
    pub name: FactorName,
    pub secret: SealedSecret,
    pub state: FactorState,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactorState {
    /// Enrolled, not yet proven with a code; gone after `expires_at`.
    Pending { expires_at: OffsetDateTime },
    /// Proven; `last_step` is the last TOTP step accepted, and no code of
    /// that step or an earlier one is accepted again.
    Active {
        verified_at: OffsetDateTime,
        last_step: u64,
    },
}

impl Factor {
    pub fn is_active(&self) -> bool {
        matches!(self.state, FactorState::Active { .. })
    }

    /// The last TOTP step the factor accepted, once it is active.
    pub fn last_step(&self) -> Option<u64> {
        match self.state {
            FactorState::Active { last_step, .. } => Some(last_step),
            FactorState::Pending { .. } => None,
        }
    }
}

/// Turning a pending factor on with the step of the code that proved it.
#[derive(Debug, Clone, Copy)]
pub struct FactorActivation<'a> {
    pub user_id: UserId,
    pub factor_id: FactorId,
    pub step: u64,
    /// The profile's version when it was read: the profile's
    /// `second_factor` flag is set only if it is still that.
    pub expected_version: u64,
    /// A new set of recovery codes (their hashes), replacing any old set.
    pub recovery_codes: Option<&'a [SecretHash]>,
    /// The log's entry, written with the activation.
    pub event: &'a SecurityEvent,
    pub now: OffsetDateTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivationOutcome {
    Activated,
    /// The factor is not pending any more (expired, removed, or activated
    /// by a concurrent request): nothing written.
    FactorGone,
    /// The profile changed since it was read: nothing written; read again.
    Stale,
}

/// Removing factors, with the profile's flag as it is to be afterwards.
#[derive(Debug, Clone, Copy)]
pub struct FactorRemoval<'a> {
    pub user_id: UserId,
    pub factors: &'a [FactorId],
    pub expected_version: u64,
    /// Whether an active factor remains: when none does, the recovery codes
    /// go too.
    pub second_factor_left: bool,
    /// The log's entry, written with the removal.
    pub event: &'a SecurityEvent,
    pub now: OffsetDateTime,
}

/// A password (or other first proof) was right and the account has a
/// second factor: the sign-in waits for it under a single-use token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaChallenge {
    pub hash: SecretHash,
    pub user_id: UserId,
    /// SHA-256 of the password hash the first proof was checked against: a
    /// password change meanwhile kills the challenge.
    pub credential_digest: SecretHash,
    pub authentication: Authentication,
    pub remember_me: bool,
    /// Codes tried so far (each counted before it is checked).
    pub attempts: u32,
    pub expires_at: OffsetDateTime,
}

/// What proves the second factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MfaProof {
    /// A TOTP code of `step` for this factor: accepted only if the factor
    /// has accepted no code of that step or a later one.
    Totp { factor_id: FactorId, step: u64 },
    /// An unspent recovery code, by its hash.
    RecoveryCode(SecretHash),
    /// A passkey's assertion: its state moves from `expected` (the one the
    /// assertion was checked against) to `state`, so one assertion signs
    /// in once.
    Passkey {
        credential_id: Vec<u8>,
        expected: Vec<u8>,
        state: Vec<u8>,
    },
}

/// Finishing a sign-in with its second factor, in one transaction.
#[derive(Debug, Clone, Copy)]
pub struct MfaFinish<'a> {
    pub challenge: &'a SecretHash,
    pub proof: &'a MfaProof,
    pub session: &'a Session,
    /// The password hash the session is opened against, as for
    /// [`SessionStore::start_session`].
    pub credential: &'a str,
    pub now: OffsetDateTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfaOutcome {
    /// The challenge and the proof are spent and the session started.
    SignedIn,
    /// The challenge was used, expired or removed meanwhile.
    ChallengeGone,
    /// The code's step was accepted before, or the recovery code is spent.
    ProofRefused,
    /// The password changed or the account was disabled meanwhile.
    AccountChanged,
}

/// The most codes one sign-in challenge accepts trying.
pub const MFA_ATTEMPTS: u32 = 5;

#[async_trait]
pub trait FactorStore: Send + Sync {
    /// Stores a new pending factor.
    async fn add_factor(&self, factor: &Factor) -> Result<(), StoreError>;

    /// The account's factors: active ones, and pending ones not expired.
    async fn factors(
        &self,
        user_id: UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<Factor>, StoreError>;

    /// In one transaction: the pending factor becomes active with `step`
    /// as its last accepted step, the profile's `second_factor` is set (if
    /// the profile is still at `expected_version`), and the recovery codes
    /// are replaced when a new set comes along.
    async fn activate_factor(
        &self,
        activation: FactorActivation<'_>,
    ) -> Result<ActivationOutcome, StoreError>;

    /// In one transaction: deletes the factors (each must still exist),
    /// sets the profile's `second_factor` (if the profile is still at
    /// `expected_version`), and deletes the recovery codes when no factor
    /// is left. `Stale` when anything moved meanwhile.
    async fn remove_factors(&self, removal: FactorRemoval<'_>)
    -> Result<ChangeOutcome, StoreError>;

    /// Replaces the account's recovery codes with this set.
    async fn replace_recovery_codes(
        &self,
        user_id: UserId,
        codes: &[SecretHash],
        event: &SecurityEvent,
    ) -> Result<(), StoreError>;

    async fn recovery_codes_left(&self, user_id: UserId) -> Result<usize, StoreError>;

    async fn add_mfa_challenge(&self, challenge: &MfaChallenge) -> Result<(), StoreError>;

    /// Counts one more attempt at the challenge, atomically, and returns it
    /// if the attempt may go ahead: it exists, is unused, unexpired, and had
    /// fewer than [`MFA_ATTEMPTS`] attempts. However many attempts race,
    /// no more than that many go ahead.
    async fn attempt_mfa_challenge(
        &self,
        hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<Option<MfaChallenge>, StoreError>;

    /// In one transaction: spends the challenge (unused, unexpired), spends
    /// the proof, stores the session and records the sign-in as
    /// [`SessionStore::start_session`] does. Of two finishes with one
    /// challenge or one proof, exactly one signs in.
    async fn finish_mfa(&self, finish: MfaFinish<'_>) -> Result<MfaOutcome, StoreError>;
}

/// An account's emailed sign-in code as stored: only its keyed hash (six
/// digits are few enough to try offline against a plain hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailSignInCode {
    pub user_id: UserId,
    /// Lower-case hex of the code's MAC under the server's key.
    pub mac: String,
    /// Codes tried so far (each counted before it is checked).
    pub attempts: u32,
    pub expires_at: OffsetDateTime,
}

/// The most tries one emailed sign-in code takes.
pub const EMAIL_CODE_ATTEMPTS: u32 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailCodeOutcome {
    /// The code is spent and the session started.
    SignedIn,
    /// The code was used, replaced or expired meanwhile.
    CodeGone,
    /// The account was disabled or given a second factor meanwhile.
    AccountChanged,
}

#[async_trait]
pub trait EmailCodeStore: Send + Sync {
    /// Makes `code` the account's one sign-in code: an earlier one stops
    /// working at once.
    async fn replace_email_code(&self, code: &EmailSignInCode) -> Result<(), StoreError>;

    /// Counts one more try at the account's code, atomically, and returns
    /// it if the try may go ahead: unused, unexpired, fewer than
    /// [`EMAIL_CODE_ATTEMPTS`] tries before.
    async fn attempt_email_code(
        &self,
        user_id: UserId,
        now: OffsetDateTime,
    ) -> Result<Option<EmailSignInCode>, StoreError>;

    /// Spends the code with this MAC if it is still the account's, unused
    /// and unexpired; `false` otherwise (a second factor follows).
    async fn spend_email_code(
        &self,
        user_id: UserId,
        mac: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// In one transaction: spends the code as
    /// [`spend_email_code`](EmailCodeStore::spend_email_code) does, stores
    /// the session and records the sign-in as
    /// [`SessionStore::start_session`] does, and marks the address proven
    /// (a waiting account becomes active). Of two uses of one code exactly
    /// one signs in.
    async fn sign_in_with_email_code(
        &self,
        mac: &str,
        session: &Session,
        credential: &str,
        now: OffsetDateTime,
    ) -> Result<EmailCodeOutcome, StoreError>;
}

/// What a passkey ceremony was started for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyPurpose {
    /// Adding a passkey to this account.
    Register(UserId),
    /// Signing in with any passkey.
    SignIn,
}

/// A started passkey ceremony, kept (single use, five minutes) until the
/// browser's answer comes back under the opaque `challenge_id` whose hash
/// keys it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyCeremony {
    pub hash: SecretHash,
    pub purpose: CeremonyPurpose,
    /// The relying party's half of the ceremony (`passkeys::Ceremony::state`).
    pub state: Vec<u8>,
    pub expires_at: OffsetDateTime,
}

/// A registered passkey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passkey {
    pub user_id: UserId,
    pub credential_id: Vec<u8>,
    pub name: FactorName,
    /// What registration fixed (`passkeys::NewPasskey::public_key`).
    pub public_key: Vec<u8>,
    /// The counter and flags sign-ins move (`passkeys::NewPasskey::state`).
    pub state: Vec<u8>,
    pub device_bound: bool,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

#[async_trait]
pub trait PasskeyStore: Send + Sync {
    async fn add_ceremony(&self, ceremony: &PasskeyCeremony) -> Result<(), StoreError>;

    /// The ceremony, spent: of two takes of one ceremony only one gets it;
    /// an expired or unknown one is `None`.
    async fn take_ceremony(
        &self,
        hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<Option<PasskeyCeremony>, StoreError>;

    /// Stores the passkey and its owner index in one transaction; `false`
    /// when the credential id is registered already (to anyone).
    async fn add_passkey(
        &self,
        passkey: &Passkey,
        event: &SecurityEvent,
    ) -> Result<bool, StoreError>;

    async fn passkeys(&self, user_id: UserId) -> Result<Vec<Passkey>, StoreError>;

    /// Whose the credential is (discoverable sign-in).
    async fn passkey_owner(&self, credential_id: &[u8]) -> Result<Option<UserId>, StoreError>;

    /// Writes the state after a sign-in if the stored one is still
    /// `expected`: of two sign-ins racing with one counter value only one
    /// moves it. `false` when it moved meanwhile or the passkey is gone.
    async fn record_passkey_use(
        &self,
        user_id: UserId,
        credential_id: &[u8],
        expected: &[u8],
        state: &[u8],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Gives the passkey a new name; `false` if there is no such passkey.
    async fn rename_passkey(
        &self,
        user_id: UserId,
        credential_id: &[u8],
        name: &FactorName,
    ) -> Result<bool, StoreError>;

    /// Deletes the passkey and its owner index; `false` if there was none.
    async fn remove_passkey(
        &self,
        user_id: UserId,
        credential_id: &[u8],
        event: &SecurityEvent,
    ) -> Result<bool, StoreError>;
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The bus asked us to slow down.
    #[error("the event bus is throttling requests")]
    Throttled(#[source] BoxError),
    #[error("publishing failed")]
    Failed(#[source] BoxError),
}

/// Where lifecycle events go: EventBridge.
#[async_trait]
pub trait EventPublisher: Send + Sync {
    /// Publishes `events` (at most [`crate::lifecycle::BATCH`]) in one call;
    /// for each, whether the bus took it.
    async fn publish(
        &self,
        events: &[crate::lifecycle::LifecycleEvent],
    ) -> Result<Vec<bool>, PublishError>;
}

/// A page of an account's security log, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventPage {
    pub events: Vec<SecurityEvent>,
    /// Where the next page begins, if there may be more.
    pub next: Option<EventId>,
}

/// The security log. Entries for changes are written by the change's own
/// transaction (a session's start, a profile change); what changes nothing
/// else (a failed sign-in) or is one item's change is appended here.
#[async_trait]
pub trait EventStore: Send + Sync {
    async fn append_event(&self, event: &SecurityEvent) -> Result<(), StoreError>;

    /// The account's entries unexpired at `now`, newest first: at most
    /// `limit`, older than `before` when given.
    async fn events(
        &self,
        user_id: UserId,
        before: Option<EventId>,
        limit: usize,
        now: OffsetDateTime,
    ) -> Result<EventPage, StoreError>;
}

/// What a sign-in at another provider was started for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlightPurpose {
    /// Signing in (or up) with an account of `user_type`.
    SignIn {
        user_type: UserType,
        remember_me: bool,
        /// The app's PKCE challenge (S256), which its code verifier must
        /// answer when it trades our one-time code.
        code_challenge: String,
    },
    /// The signed-in owner of this account linking the provider account.
    Link(UserId),
}

/// A sign-in at a provider under way, kept (single use, ten minutes) under
/// the hash of the `state` sent to the provider until the provider sends
/// the browser back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderFlight {
    pub hash: SecretHash,
    pub provider: ProviderId,
    pub purpose: FlightPurpose,
    /// The app's address, one of `OIDC_REDIRECT_ALLOWLIST`.
    pub redirect_uri: String,
    /// The app's own `state`, handed back to it untouched.
    pub app_state: Option<String>,
    /// Our PKCE verifier toward the provider.
    pub pkce_verifier: String,
    /// The nonce the ID token must carry.
    pub nonce: String,
    pub expires_at: OffsetDateTime,
}

/// What our one-time code (60 seconds, single use) stands for: a person
/// the provider vouched for, to be signed in when the app proves it
/// started the flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderGrant {
    pub hash: SecretHash,
    pub user_id: UserId,
    pub provider: ProviderId,
    pub code_challenge: String,
    pub remember_me: bool,
    /// When the provider's sign-in came back: the session's `auth_time`.
    pub authenticated_at: OffsetDateTime,
    /// [`SecretHash`] of the account's password hash when the provider's
    /// sign-in came back: a password set, changed or reset before the code
    /// is traded kills it, as it ends every session.
    pub credential_digest: SecretHash,
    pub expires_at: OffsetDateTime,
}

/// How linking an identity went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkOutcome {
    Linked,
    /// The identity belongs to an account already (maybe this one).
    Taken,
    /// The account is gone, or moved from `expected_version`.
    AccountChanged,
}

/// How unlinking an identity went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnlinkOutcome {
    Unlinked,
    NotFound,
    /// The account moved from `expected_version` (another unlink, say):
    /// read it again and decide again.
    AccountChanged,
}

#[async_trait]
pub trait IdentityStore: Send + Sync {
    async fn add_flight(&self, flight: &ProviderFlight) -> Result<(), StoreError>;

    /// The flight, spent: of two takes only one gets it; an expired or
    /// unknown one is `None`.
    async fn take_flight(
        &self,
        hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<Option<ProviderFlight>, StoreError>;

    async fn add_grant(&self, grant: &ProviderGrant) -> Result<(), StoreError>;

    /// The grant, spent, as [`IdentityStore::take_flight`].
    async fn take_grant(
        &self,
        hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<Option<ProviderGrant>, StoreError>;

    /// Whose account of `user_type` the identity is linked to.
    async fn identity_owner(
        &self,
        key: &IdentityKey,
        user_type: &UserType,
    ) -> Result<Option<UserId>, StoreError>;

    async fn identities(&self, user_id: UserId) -> Result<Vec<Identity>, StoreError>;

    /// Stores the identity under its account and its owner item, in one
    /// transaction with `event`, if nobody holds the identity and the
    /// account is at `expected_version` (which moves).
    async fn link_identity(
        &self,
        identity: &Identity,
        user_type: &UserType,
        expected_version: u64,
        event: &SecurityEvent,
    ) -> Result<LinkOutcome, StoreError>;

    /// Deletes the identity and its owner item, in one transaction with
    /// `event`, if the account is at `expected_version` (which moves): two
    /// unlinks racing cannot both pass the last-way-to-sign-in check.
    async fn unlink_identity(
        &self,
        user_id: UserId,
        key: &IdentityKey,
        user_type: &UserType,
        expected_version: u64,
        event: &SecurityEvent,
    ) -> Result<UnlinkOutcome, StoreError>;
}

/// Everything a store adapter provides.
pub trait Store:
    UserStore
    + CodeStore
    + SessionStore
    + ClientStore
    + RateStore
    + FactorStore
    + EmailCodeStore
    + PasskeyStore
    + IdentityStore
    + EventStore
{
}
impl<T> Store for T where
    T: UserStore
        + CodeStore
        + SessionStore
        + ClientStore
        + RateStore
        + FactorStore
        + EmailCodeStore
        + PasskeyStore
        + IdentityStore
        + EventStore
{
}

#[derive(Debug, thiserror::Error)]
#[error("the secret could not be read: {0}")]
pub struct SecretReadError(#[source] pub BoxError);

/// Where providers' client secrets are kept: Secrets Manager, or locally a
/// file standing in for it.
#[async_trait]
pub trait SecretSource: Send + Sync {
    /// The secret's string value.
    async fn secret(&self, arn: &str) -> Result<String, SecretReadError>;
}

#[derive(Debug, thiserror::Error)]
pub enum MacError {
    #[error("throttled: {0}")]
    Throttled(#[source] BoxError),
    #[error("the MAC could not be made: {0}")]
    Failed(#[source] BoxError),
}

/// Keyed hashes of short codes under a key the store never holds (KMS
/// `GenerateMac` with an HMAC key; locally a key file), so a copy of the
/// table does not let anyone try every six-digit code offline.
#[async_trait]
pub trait CodeMac: Send + Sync {
    /// HMAC-SHA-256 of `message`.
    async fn mac(&self, message: &[u8]) -> Result<Vec<u8>, MacError>;
}

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
