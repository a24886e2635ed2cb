//! Sign-in with another provider (OpenID Connect), as a relying party.
//!
//! 1. `authorize`: the app sends the browser here with its `redirect_uri`
//!    (exactly one of `OIDC_REDIRECT_ALLOWLIST`) and its own PKCE
//!    challenge; we keep a flight (our state's hash, our PKCE verifier and
//!    nonce, ten minutes, single use) and send the browser to the provider.
//! 2. `callback`: the provider sends the browser back; the flight is spent,
//!    the code traded and the ID token verified; the person's account is
//!    found, linked or made; the browser goes back to the app with our
//!    one-time code (60 seconds, single use), or with `?error=<code>`.
//! 3. `redeem`: the app trades that code and its PKCE verifier for a token
//!    pair (`amr: ["fed"]`), or learns a second factor must follow.
//!
//! Tokens never travel in a URL: the browser carries only codes that are
//! worthless without the app's verifier.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime};
use url::Url;

use crate::App;
use crate::config::OidcProvider;
use crate::domain::{
    AccountStatus, Actor, Authentication, Email, EventKind, Identity, IdentityKey, PersonName,
    ProviderId, SecurityEvent, User, UserId, UserType,
};
use crate::federation::{ProviderError, VerifiedPerson};
use crate::ports::{
    Account, FlightPurpose, LinkOutcome, ProviderFlight, ProviderGrant, StoreError, UnlinkOutcome,
};
use crate::secrets::{SecretHash, random_token};
use crate::services::COLLISION_RETRIES;
use crate::services::limits::{self, Scope};
use crate::services::mfa::{self, MfaRequired};
use crate::services::reauth::ReauthError;
use crate::services::sessions::{self, Connection, Principal, TokenPair};
use crate::tokens::IssueError;

/// How long a sign-in may stay at the provider.
pub const FLIGHT_TTL: Duration = Duration::minutes(10);

/// How long the app has to trade our one-time code.
pub const GRANT_TTL: Duration = Duration::seconds(60);

#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    #[error("no such provider")]
    ProviderNotFound,
    /// A request the flow cannot start from (the field at fault).
    #[error("invalid {0}")]
    InvalidRequest(&'static str),
    /// Our one-time code: unknown, spent, expired, or the verifier does not
    /// answer its challenge.
    #[error("invalid grant")]
    InvalidGrant,
    #[error("account disabled")]
    AccountDisabled,
    #[error("a second factor is required")]
    MfaRequired(MfaRequired),
    #[error("no such identity")]
    IdentityNotFound,
    /// Unlinking would leave the account with no way to sign in.
    #[error("the last way to sign in")]
    LastSignInMethod,
    #[error("too many sign-ins started; retry after {retry_after_seconds} s")]
    RateLimited { retry_after_seconds: u64 },
    #[error(transparent)]
    Reauth(#[from] ReauthError),
    #[error("the provider failed: {0}")]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Issue(#[from] IssueError),
}

/// Why a callback sends the browser back with `?error=`: stable codes an
/// app can match on (README, "Sign-in with another provider").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackError {
    /// The state is unknown, spent, expired or another provider's.
    InvalidState,
    /// The person declined at the provider.
    AccessDenied,
    /// The provider answered with another error, or refused its code.
    ProviderError,
    /// The provider could not be reached.
    ProviderUnavailable,
    /// The ID token did not verify (signature, issuer, audience, nonce,
    /// expiry).
    InvalidIdToken,
    /// No account is linked and the provider vouches for no address.
    EmailNotVerified,
    /// The address belongs to an account that cannot be linked (it was
    /// never confirmed and is in use).
    EmailInUse,
    /// Linking: the identity is another account's.
    IdentityInUse,
    AccountDisabled,
    ServerError,
}

impl CallbackError {
    pub const ALL: [Self; 10] = [
        Self::InvalidState,
        Self::AccessDenied,
        Self::ProviderError,
        Self::ProviderUnavailable,
        Self::InvalidIdToken,
        Self::EmailNotVerified,
        Self::EmailInUse,
        Self::IdentityInUse,
        Self::AccountDisabled,
        Self::ServerError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidState => "invalid_state",
            Self::AccessDenied => "access_denied",
            Self::ProviderError => "provider_error",
            Self::ProviderUnavailable => "provider_unavailable",
            Self::InvalidIdToken => "invalid_id_token",
            Self::EmailNotVerified => "email_not_verified",
            Self::EmailInUse => "email_in_use",
            Self::IdentityInUse => "identity_in_use",
            Self::AccountDisabled => "account_disabled",
            Self::ServerError => "server_error",
        }
    }
}

impl From<&ProviderError> for CallbackError {
    fn from(error: &ProviderError) -> Self {
        match error {
            ProviderError::Unreachable(_) => Self::ProviderUnavailable,
            ProviderError::CodeRefused(_) => Self::ProviderError,
            ProviderError::InvalidIdToken(_) => Self::InvalidIdToken,
            ProviderError::Secret(_) => Self::ServerError,
        }
    }
}

/// Where a flight returns to: the app's address (the allowlist's entry
/// `index`) and its own state. Made only by [`check_return`].
#[derive(Debug, Clone)]
pub struct AppReturn {
    index: usize,
    redirect_uri: Url,
    state: Option<String>,
}

/// What `authorize` is given.
#[derive(Debug)]
pub struct SignInStart {
    pub provider: ProviderId,
    pub app: AppReturn,
    /// The app's PKCE challenge: `BASE64URL(SHA256(verifier))`.
    pub code_challenge: String,
    pub user_type: UserType,
    pub remember_me: bool,
}

fn provider(app: &App, id: &ProviderId) -> Result<OidcProvider, FederationError> {
    app.config
        .oidc_providers
        .iter()
        .find(|provider| provider.id == *id)
        .cloned()
        .ok_or(FederationError::ProviderNotFound)
}

/// Checks an app's return address against the allowlist: it must be
/// exactly one of its entries.
pub fn check_return(
    app: &App,
    redirect_uri: &str,
    state: Option<String>,
) -> Result<AppReturn, FederationError> {
    let allowlist = &app.config.oidc_redirect_allowlist;
    let index = allowlist
        .iter()
        .position(|allowed| allowed.as_str() == redirect_uri)
        .ok_or(FederationError::InvalidRequest("redirect_uri"))?;
    if state.as_ref().is_some_and(|state| state.len() > 512) {
        return Err(FederationError::InvalidRequest("state"));
    }
    Ok(AppReturn {
        index,
        redirect_uri: allowlist[index].clone(),
        state,
    })
}

/// Whether `challenge` can be an S256 PKCE challenge (43 base64url
/// characters: a SHA-256 digest).
pub fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Our callback's address for `provider`.
fn callback_url(app: &App, provider: &ProviderId) -> Result<Url, FederationError> {
    app.config
        .public_base_url
        .join(&format!("v1/auth/oidc/{provider}/callback"))
        .map_err(|_| FederationError::InvalidRequest("provider"))
}

limits::from_limited_error!(FederationError);

/// `GET /v1/auth/oidc/{provider}/authorize` from `client_ip`: where to send
/// the browser.
pub async fn authorize(
    app: &App,
    client_ip: &str,
    start: SignInStart,
) -> Result<Url, FederationError> {
    if !is_s256_challenge(&start.code_challenge) {
        return Err(FederationError::InvalidRequest("code_challenge"));
    }
    // Anyone may start one, and each keeps a flight item for its ten
    // minutes: a client cannot fill the table with them.
    limits::enforce(
        app,
        Scope::ProviderSignInsFromIp,
        client_ip,
        app.config.oidc_start_limit_per_ip,
    )
    .await?;
    let purpose = FlightPurpose::SignIn {
        user_type: start.user_type,
        remember_me: start.remember_me,
        code_challenge: start.code_challenge,
    };
    fly(app, &start.provider, start.app, purpose).await
}

/// `POST /v1/users/me/identities/{provider}/link`: where to send the
/// signed-in owner's browser to link an account at `provider`. The caller
/// passed the recent-sign-in check (as for a new passkey): a stolen token
/// alone must not add a way into the account.
pub async fn start_link(
    app: &App,
    caller: &Principal,
    provider: &ProviderId,
    app_return: AppReturn,
) -> Result<Url, FederationError> {
    fly(
        app,
        provider,
        app_return,
        FlightPurpose::Link(caller.user_id),
    )
    .await
}

/// Keeps a new flight and makes the provider's authorization URL.
async fn fly(
    app: &App,
    provider_id: &ProviderId,
    app_return: AppReturn,
    purpose: FlightPurpose,
) -> Result<Url, FederationError> {
    let provider = provider(app, provider_id)?;
    // The allowlist entry rides in the state, so a state that is tampered
    // with or replayed still tells which (allowed) app to send the error to.
    let state = format!("{}.{}", app_return.index, random_token());
    let (nonce, pkce_verifier) = (random_token(), random_token());
    let callback = callback_url(app, provider_id)?;
    let url = app
        .providers
        .authorization_url(&provider, &callback, &state, &nonce, &pkce_verifier)
        .await?;
    app.store
        .add_flight(&ProviderFlight {
            hash: SecretHash::of(&state),
            provider: provider_id.clone(),
            purpose,
            redirect_uri: app_return.redirect_uri.to_string(),
            app_state: app_return.state,
            pkce_verifier,
            nonce,
            expires_at: app.clock.now() + FLIGHT_TTL,
        })
        .await?;
    Ok(url)
}

/// What the provider sent back to the callback.
#[derive(Debug, Default)]
pub struct ProviderAnswer {
    pub state: Option<String>,
    pub code: Option<String>,
    /// The provider's `error` (`access_denied`, …).
    pub error: Option<String>,
}

/// Where the callback sends the browser; `None` when the state names no
/// allowed app (nowhere safe to send it: the caller answers `400`).
pub async fn callback(
    app: &App,
    provider_id: &ProviderId,
    answer: ProviderAnswer,
    connection: &Connection<'_>,
) -> Option<Url> {
    let state = answer.state.as_deref().unwrap_or_default();
    let index: usize = state.split_once('.')?.0.parse().ok()?;
    let fallback = app.config.oidc_redirect_allowlist.get(index)?.clone();
    let flight = match app
        .store
        .take_flight(&SecretHash::of(state), app.clock.now())
        .await
    {
        Ok(Some(flight)) if flight.provider == *provider_id => flight,
        Ok(_) => {
            tracing::warn!(provider = %provider_id, "provider callback with an unknown or spent state");
            return Some(with_query(
                &fallback,
                &[("error", CallbackError::InvalidState.as_str())],
            ));
        }
        Err(error) => {
            tracing::error!(%error, "provider flight could not be read");
            return Some(with_query(
                &fallback,
                &[("error", CallbackError::ServerError.as_str())],
            ));
        }
    };
    let back = Url::parse(&flight.redirect_uri).unwrap_or(fallback);
    let app_state = flight.app_state.clone();
    let outcome = land(app, &flight, answer, connection).await;
    let mut query: Vec<(&str, String)> = match outcome {
        Ok(Landed::SignedIn(code)) => vec![("code", code)],
        Ok(Landed::Linked) => vec![("linked", provider_id.to_string())],
        Err(error) => {
            tracing::warn!(provider = %provider_id, error = error.as_str(), "provider sign-in refused");
            vec![("error", error.as_str().to_owned())]
        }
    };
    if let Some(state) = app_state {
        query.push(("state", state));
    }
    let pairs: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Some(with_query(&back, &pairs))
}

/// `url` with `pairs` added to its query.
fn with_query(url: &Url, pairs: &[(&str, &str)]) -> Url {
    let mut url = url.clone();
    url.query_pairs_mut().extend_pairs(pairs);
    url
}

enum Landed {
    /// Our one-time code for the app.
    SignedIn(String),
    Linked,
}

/// Finishes the flight at the provider and acts on whom it vouched for.
async fn land(
    app: &App,
    flight: &ProviderFlight,
    answer: ProviderAnswer,
    connection: &Connection<'_>,
) -> Result<Landed, CallbackError> {
    if let Some(error) = answer.error {
        return Err(if error == "access_denied" {
            CallbackError::AccessDenied
        } else {
            CallbackError::ProviderError
        });
    }
    let code = answer.code.ok_or(CallbackError::ProviderError)?;
    let provider = provider(app, &flight.provider).map_err(|_| CallbackError::InvalidState)?;
    let callback = callback_url(app, &flight.provider).map_err(|_| CallbackError::ServerError)?;
    let person = app
        .providers
        .finish(
            &provider,
            &callback,
            &code,
            &flight.pkce_verifier,
            &flight.nonce,
        )
        .await
        .map_err(|error| {
            tracing::warn!(provider = %flight.provider, %error, "provider sign-in failed");
            CallbackError::from(&error)
        })?;
    let key = IdentityKey::new(flight.provider.clone(), &person.subject)
        .ok_or(CallbackError::InvalidIdToken)?;
    let server_error = |error: StoreError| {
        tracing::error!(%error, "provider sign-in could not be stored");
        CallbackError::ServerError
    };
    match &flight.purpose {
        FlightPurpose::Link(user_id) => link_to(app, *user_id, &key, &person, connection)
            .await
            .map_err(server_error)?
            .map(|_| Landed::Linked),
        FlightPurpose::SignIn {
            user_type,
            remember_me,
            code_challenge,
        } => {
            let account = sign_in_account(app, user_type, &key, &person, connection)
                .await
                .map_err(server_error)??;
            let now = app.clock.now();
            let code = random_token();
            app.store
                .add_grant(&ProviderGrant {
                    hash: SecretHash::of(&code),
                    user_id: account.user.id,
                    provider: flight.provider.clone(),
                    code_challenge: code_challenge.clone(),
                    remember_me: *remember_me,
                    authenticated_at: now,
                    credential_digest: SecretHash::of(&account.password_hash),
                    expires_at: now + GRANT_TTL,
                })
                .await
                .map_err(server_error)?;
            Ok(Landed::SignedIn(code))
        }
    }
}

fn linked_event(
    user_id: UserId,
    key: &IdentityKey,
    kind: EventKind,
    connection: &Connection<'_>,
    at: OffsetDateTime,
) -> SecurityEvent {
    SecurityEvent::new(user_id, kind, Actor::Owner, connection.origin(), at)
        .with("provider", key.provider.as_str())
        .with("identity_id", key.id())
}

/// Links `key` to the account `user_id` (the owner asked for it).
async fn link_to(
    app: &App,
    user_id: UserId,
    key: &IdentityKey,
    person: &VerifiedPerson,
    connection: &Connection<'_>,
) -> Result<Result<(), CallbackError>, StoreError> {
    for _ in 0..COLLISION_RETRIES {
        let Some(account) = app.store.get_account(user_id).await? else {
            return Ok(Err(CallbackError::InvalidState));
        };
        match app
            .store
            .identity_owner(key, &account.user.user_type)
            .await?
        {
            Some(owner) if owner == user_id => return Ok(Ok(())),
            Some(_) => return Ok(Err(CallbackError::IdentityInUse)),
            None => {}
        }
        match link(app, &account, key, person, connection).await? {
            LinkOutcome::Linked => return Ok(Ok(())),
            LinkOutcome::Taken | LinkOutcome::AccountChanged => {}
        }
    }
    Err(StoreError::Backend("the account kept changing".into()))
}

async fn link(
    app: &App,
    account: &Account,
    key: &IdentityKey,
    person: &VerifiedPerson,
    connection: &Connection<'_>,
) -> Result<LinkOutcome, StoreError> {
    let now = app.clock.now();
    let identity = Identity {
        key: key.clone(),
        user_id: account.user.id,
        email_hint: person
            .email
            .as_deref()
            .and_then(|email| Email::parse(email).ok())
            .map(|email| email.masked()),
        linked_at: now,
    };
    let event = linked_event(
        account.user.id,
        key,
        EventKind::IdentityLinked,
        connection,
        now,
    );
    let outcome = app
        .store
        .link_identity(
            &identity,
            &account.user.user_type,
            account.user.version,
            &event,
        )
        .await?;
    if outcome == LinkOutcome::Linked {
        tracing::info!(user_id = %account.user.id, provider = %key.provider, "identity linked");
    }
    Ok(outcome)
}

/// The account the person signs in to: the identity's, or the account of
/// the provider's verified address when that address is confirmed here
/// (linked now), or a new one.
async fn sign_in_account(
    app: &App,
    user_type: &UserType,
    key: &IdentityKey,
    person: &VerifiedPerson,
    connection: &Connection<'_>,
) -> Result<Result<Account, CallbackError>, StoreError> {
    for _ in 0..COLLISION_RETRIES {
        if let Some(owner) = app.store.identity_owner(key, user_type).await? {
            return Ok(match app.store.get_account(owner).await? {
                Some(account) if account.user.status == AccountStatus::Disabled => {
                    Err(CallbackError::AccountDisabled)
                }
                Some(account) => Ok(account),
                None => Err(CallbackError::ServerError),
            });
        }
        let verified = person
            .email
            .as_deref()
            .filter(|_| person.email_verified)
            .and_then(|email| Email::parse(email).ok());
        let Some(email) = verified else {
            return Ok(Err(CallbackError::EmailNotVerified));
        };
        let account = match app
            .store
            .find_by_email(&user_type.email_key(&email))
            .await?
        {
            Some(account) if account.user.status == AccountStatus::Disabled => {
                return Ok(Err(CallbackError::AccountDisabled));
            }
            Some(account) if account.user.email_confirmed => account,
            // A waiting account nobody confirmed: whoever made it never
            // proved the address, which the provider just did. The
            // address passes to a new account, as after its time is up.
            Some(squatter) if squatter.user.status == AccountStatus::Waiting => {
                let account = new_account(app, user_type, email, person);
                match app
                    .store
                    .replace_expired_account(&squatter, &account, None)
                    .await
                {
                    Ok(()) => account,
                    Err(StoreError::EmailTaken) => continue,
                    Err(error) => return Err(error),
                }
            }
            Some(_) => return Ok(Err(CallbackError::EmailInUse)),
            None => {
                let account = new_account(app, user_type, email, person);
                match app.store.create_user(&account, None).await {
                    Ok(()) => account,
                    // Another sign-in made it first: look again.
                    Err(StoreError::EmailTaken) => continue,
                    Err(error) => return Err(error),
                }
            }
        };
        match link(app, &account, key, person, connection).await? {
            LinkOutcome::Linked => return Ok(Ok(account)),
            LinkOutcome::Taken | LinkOutcome::AccountChanged => {}
        }
    }
    Err(StoreError::Backend("the account kept changing".into()))
}

/// A new account for a person a provider vouched for: active, its address
/// confirmed by the provider, no password.
fn new_account(app: &App, user_type: &UserType, email: Email, person: &VerifiedPerson) -> Account {
    let name = |name: &Option<String>| name.as_deref().and_then(|n| PersonName::parse(n).ok());
    Account {
        user: User {
            user_type: user_type.clone(),
            first_name: name(&person.given_name),
            last_name: name(&person.family_name),
            status: AccountStatus::Active,
            email_confirmed: true,
            ..User::new(email, app.clock.now())
        },
        password_hash: Account::NO_PASSWORD.to_owned(),
    }
}

/// `POST /v1/auth/oidc/token`: our one-time code and the app's PKCE
/// verifier, for a token pair.
pub async fn redeem(
    app: &App,
    code: &str,
    code_verifier: &str,
    connection: &Connection<'_>,
) -> Result<TokenPair, FederationError> {
    let now = app.clock.now();
    // Spent whatever follows: a code gets one try.
    let grant = app
        .store
        .take_grant(&SecretHash::of(code), now)
        .await?
        .ok_or(FederationError::InvalidGrant)?;
    let answer = URL_SAFE_NO_PAD.encode(Sha256::digest(code_verifier.as_bytes()));
    if !bool::from(answer.as_bytes().ct_eq(grant.code_challenge.as_bytes())) {
        return Err(FederationError::InvalidGrant);
    }
    // The account as the provider's sign-in left it: a password set,
    // changed or reset since then ends every session, and this one too.
    let account = app
        .store
        .get_account(grant.user_id)
        .await?
        .filter(|account| SecretHash::of(&account.password_hash) == grant.credential_digest)
        .ok_or(FederationError::InvalidGrant)?;
    if account.user.status == AccountStatus::Disabled {
        return Err(FederationError::AccountDisabled);
    }
    let authentication = Authentication::federated(grant.authenticated_at);
    if account.user.second_factor {
        let challenge = mfa::challenge(app, &account, grant.remember_me, authentication).await?;
        return Err(FederationError::MfaRequired(challenge));
    }
    let (session, refresh_token) = sessions::new_session(
        app,
        account.user.id,
        grant.remember_me,
        authentication,
        connection,
        now,
    );
    let pair =
        sessions::token_pair(app, &session, &account.user.user_type, refresh_token, now).await?;
    // A disable or new second factor committed meanwhile wins.
    if !app
        .store
        .start_session(&session, &account.password_hash, now)
        .await?
    {
        return Err(FederationError::InvalidGrant);
    }
    tracing::info!(user_id = %account.user.id, session_id = %session.id, provider = %grant.provider, "signed in with a provider");
    Ok(pair)
}

/// `GET /v1/users/me/identities`.
pub async fn identities(app: &App, caller: &Principal) -> Result<Vec<Identity>, FederationError> {
    Ok(app.store.identities(caller.user_id).await?)
}

/// `DELETE /v1/users/me/identities/{id}`: refused when it is the account's
/// last way to sign in (no password, no passkey, no other identity).
pub async fn unlink(
    app: &App,
    caller: &Principal,
    identity_id: &str,
    connection: &Connection<'_>,
) -> Result<(), FederationError> {
    let key = IdentityKey::parse_id(identity_id).ok_or(FederationError::IdentityNotFound)?;
    for _ in 0..COLLISION_RETRIES {
        let account = app
            .store
            .get_account(caller.user_id)
            .await?
            .ok_or(FederationError::IdentityNotFound)?;
        let identities = app.store.identities(caller.user_id).await?;
        if !identities.iter().any(|identity| identity.key == key) {
            return Err(FederationError::IdentityNotFound);
        }
        let other_way = account.has_password()
            || identities.len() > 1
            || !app.store.passkeys(caller.user_id).await?.is_empty();
        if !other_way {
            return Err(FederationError::LastSignInMethod);
        }
        let event = linked_event(
            caller.user_id,
            &key,
            EventKind::IdentityUnlinked,
            connection,
            app.clock.now(),
        );
        match app
            .store
            .unlink_identity(
                caller.user_id,
                &key,
                &account.user.user_type,
                account.user.version,
                &event,
            )
            .await?
        {
            UnlinkOutcome::Unlinked => {
                tracing::info!(user_id = %caller.user_id, provider = %key.provider, "identity unlinked");
                return Ok(());
            }
            UnlinkOutcome::NotFound => return Err(FederationError::IdentityNotFound),
            UnlinkOutcome::AccountChanged => {}
        }
    }
    Err(StoreError::Backend("the account kept changing".into()).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_s256_challenge_is_43_base64url_characters() {
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(b"verifier"));
        assert!(is_s256_challenge(&challenge));
        assert!(!is_s256_challenge(&challenge[1..]));
        assert!(!is_s256_challenge(&format!("{}=", &challenge[1..])));
        assert!(!is_s256_challenge("plain-verifier"));
    }

    #[test]
    fn callback_errors_have_distinct_codes() {
        let codes: std::collections::HashSet<_> = CallbackError::ALL
            .iter()
            .map(|error| error.as_str())
            .collect();
        assert_eq!(codes.len(), CallbackError::ALL.len());
    }
}
