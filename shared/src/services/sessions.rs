//! Sessions after sign-in: the token pair, refresh rotation, logout, and the
//! live check every bearer-protected endpoint makes.
//!
//! The refresh rule: a session stores the hash of its current refresh token
//! and of the one the last rotation replaced.
//! - The current token rotates: a new pair, the old token stops working. The
//!   rotation is one conditional write, so of concurrent refreshes with one
//!   token exactly one wins; the others are refused.
//! - The replaced token, within `REFRESH_GRACE_SECONDS` (10 s) of its
//!   rotation, is refused but leaves the session alone: two tabs refreshing
//!   at once is not an attack.
//! - The replaced token after that window, or any earlier generation the
//!   session still remembers (`RETIRED_HASHES_KEPT`), is a replay: the
//!   whole session ends, so the newest token of the chain dies too
//!   (RFC 9700 §4.14.2). Logout treats them the same way.
//! - Anything else (forgeries, generations older than those remembered) is
//!   refused without ending the session, so someone who only knows a session
//!   id cannot end it.

use time::OffsetDateTime;

use crate::App;
use crate::domain::{
    AccountStatus, Actor, Authentication, EventKind, SecurityEvent, SessionId, SessionOrigin,
    UserId, UserType,
};
use crate::ports::{Session, StoreError};
use crate::secrets::SecretHash;
use crate::tokens::{AccessClaims, IssueError, RefreshToken, issue_access_token};

#[derive(Debug)]
pub struct TokenPair {
    pub access_token: String,
    pub expires_in: u64,
    pub refresh_token: RefreshToken,
    pub refresh_expires_in: u64,
    pub user_id: UserId,
}

/// The connection a sign-in came on: its address (throttles count by it,
/// the session keeps its network) and the user agent.
#[derive(Debug, Clone, Copy)]
pub struct Connection<'a> {
    pub ip: &'a str,
    pub user_agent: Option<&'a str>,
}

impl Connection<'_> {
    pub fn origin(&self) -> SessionOrigin {
        SessionOrigin::new(self.ip, self.user_agent)
    }
}

/// A new session of `user_id` (not yet stored) opened over `connection`,
/// and its first refresh token: short, or long when `remember_me`.
pub fn new_session(
    app: &App,
    user_id: UserId,
    remember_me: bool,
    authentication: Authentication,
    connection: &Connection<'_>,
    now: OffsetDateTime,
) -> (Session, RefreshToken) {
    let lifetime = if remember_me {
        app.config.remembered_session_ttl
    } else {
        app.config.session_ttl
    };
    let id = SessionId::new();
    let refresh_token = RefreshToken::generate(user_id, id);
    let session = Session {
        id,
        user_id,
        refresh_hash: refresh_token.hash(),
        previous_hash: None,
        older_hashes: Vec::new(),
        rotated_at: None,
        generation: 0,
        remember_me,
        authentication,
        origin: connection.origin(),
        created_at: now,
        expires_at: now + lifetime,
    };
    (session, refresh_token)
}

/// A new access token for the session of an account of `user_type`,
/// paired with its refresh token.
pub async fn token_pair(
    app: &App,
    session: &Session,
    user_type: &UserType,
    refresh_token: RefreshToken,
    now: OffsetDateTime,
) -> Result<TokenPair, IssueError> {
    let proof = &session.authentication;
    let claims = AccessClaims {
        user_type: Some(app.config.user_types.name(user_type).to_owned()),
        amr: proof.amr(),
        aal: Some(proof.assurance_level()),
        auth_time: Some(proof.at.unix_timestamp()),
        ..AccessClaims::for_user(
            &app.config.token_issuer,
            &app.config.token_audience,
            session.user_id,
            session.id,
            now,
            app.config.access_token_ttl,
        )
    };
    let access_token = issue_access_token(app.signer.as_ref(), &claims).await?;
    let remaining = (session.expires_at - now).whole_seconds().max(0);
    Ok(TokenPair {
        access_token,
        expires_in: app.config.access_token_ttl.as_secs(),
        refresh_token,
        refresh_expires_in: u64::try_from(remaining).unwrap_or_default(),
        user_id: session.user_id,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Unknown, expired, rotated, revoked or forged: one answer for all.
    #[error("invalid token")]
    InvalidToken,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Issue(#[from] IssueError),
}

/// Refresh-token hashes a session remembers after they are rotated out
/// (the previous one included), so a stolen generation coming back ends the
/// session. Sixteen hashes keep a session item under 1 KB, one write unit;
/// with 15-minute access tokens that is four hours of refreshes.
pub const RETIRED_HASHES_KEPT: usize = 16;

/// What a presented refresh token is to its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Presented {
    Current,
    /// The token just rotated out, again within the grace window: two tabs
    /// refreshing at once.
    DoubleSubmit,
    /// A generation rotated out before: someone else holds a copy.
    Replay,
    /// Not of this session's chain, as far as it remembers.
    Unknown,
}

fn presented(app: &App, session: &Session, hash: &SecretHash, now: OffsetDateTime) -> Presented {
    if *hash == session.refresh_hash {
        return Presented::Current;
    }
    if session.previous_hash.as_ref() == Some(hash) {
        let rotated_at = session.rotated_at.unwrap_or(session.created_at);
        if now - rotated_at <= app.config.refresh_grace {
            return Presented::DoubleSubmit;
        }
        return Presented::Replay;
    }
    if session.older_hashes.contains(hash) {
        return Presented::Replay;
    }
    Presented::Unknown
}

/// The session a refresh token names, if the token is its current one. A
/// replayed generation ends the session first.
async fn session_of(
    app: &App,
    token: &RefreshToken,
    now: OffsetDateTime,
) -> Result<Session, SessionError> {
    let (user_id, session_id) = (token.user_id, token.session_id);
    let Some(session) = app.store.get_session(user_id, session_id, now).await? else {
        return Err(SessionError::InvalidToken);
    };
    match presented(app, &session, &token.hash(), now) {
        Presented::Current => Ok(session),
        Presented::Replay => {
            let event = session_ended(app, user_id, session_id, "refresh_token_replayed");
            app.store
                .end_session(user_id, session_id, Some(&event))
                .await?;
            tracing::warn!(%user_id, %session_id, "replayed refresh token; session ended");
            Err(SessionError::InvalidToken)
        }
        Presented::DoubleSubmit | Presented::Unknown => Err(SessionError::InvalidToken),
    }
}

/// `POST /v1/auth/refresh`.
pub async fn refresh(app: &App, presented: &str) -> Result<TokenPair, SessionError> {
    let token = RefreshToken::parse(presented).ok_or(SessionError::InvalidToken)?;
    let now = app.clock.now();
    let (user_id, session_id) = (token.user_id, token.session_id);
    let session = session_of(app, &token, now).await?;
    let hash = token.hash();
    // An account disabled or deleted since sign-in gets no new tokens.
    let user = match app.store.get_user(user_id).await? {
        Some(user) if user.status != AccountStatus::Disabled => user,
        Some(_) => {
            let event = session_ended(app, user_id, session_id, "account_disabled");
            app.store
                .end_session(user_id, session_id, Some(&event))
                .await?;
            return Err(SessionError::InvalidToken);
        }
        None => {
            app.store.end_session(user_id, session_id, None).await?;
            return Err(SessionError::InvalidToken);
        }
    };
    let next = RefreshToken::generate(user_id, session_id);
    let next_hash = next.hash();
    // Signed before the rotation: if signing fails the old refresh token
    // still works, rather than the session being rotated to a token nobody
    // ever received.
    let pair = token_pair(app, &session, &user.user_type, next, now).await?;
    let older: Vec<SecretHash> = session
        .previous_hash
        .iter()
        .chain(&session.older_hashes)
        .take(RETIRED_HASHES_KEPT - 1)
        .cloned()
        .collect();
    if !app
        .store
        .rotate_session(user_id, session_id, &hash, &next_hash, &older, now)
        .await?
    {
        // A concurrent refresh with the same token won.
        return Err(SessionError::InvalidToken);
    }
    Ok(pair)
}

/// The caller behind a verified access token whose session is still live.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: UserId,
    pub session_id: SessionId,
    pub claims: AccessClaims,
}

/// Verifies an access token and checks its session still exists, so
/// logout, password change and disabling take effect at once.
pub async fn authenticate(app: &App, access_token: &str) -> Result<Principal, SessionError> {
    live_user(app, verify(app, access_token)?).await
}

/// Checks signature, algorithm, key and claims; the reason for a refusal
/// goes to the log, the caller only learns `InvalidToken`.
pub fn verify(app: &App, access_token: &str) -> Result<AccessClaims, SessionError> {
    app.verifier.verify(access_token).map_err(|reason| {
        tracing::info!(%reason, "access token refused");
        SessionError::InvalidToken
    })
}

/// The user behind verified claims, if their session is still live.
pub async fn live_user(app: &App, claims: AccessClaims) -> Result<Principal, SessionError> {
    let user_id = UserId::parse(&claims.sub).ok_or(SessionError::InvalidToken)?;
    // Service-client tokens carry no session and are no user's.
    let sid = claims.sid.as_deref().ok_or(SessionError::InvalidToken)?;
    let session_id = SessionId::parse(sid).ok_or(SessionError::InvalidToken)?;
    match app
        .store
        .get_session(user_id, session_id, app.clock.now())
        .await?
    {
        Some(_) => Ok(Principal {
            user_id,
            session_id,
            claims,
        }),
        None => Err(SessionError::InvalidToken),
    }
}

/// What a logout names: the session of a bearer token, of a refresh token,
/// or both (they may differ).
#[derive(Debug, Default)]
pub struct Logout {
    pub principal: Option<Principal>,
    pub refresh_token: Option<String>,
    /// End every session of the user.
    pub all: bool,
}

/// `POST /v1/auth/logout`.
pub async fn logout(app: &App, request: Logout) -> Result<(), SessionError> {
    let mut sessions: Vec<(UserId, SessionId)> = Vec::new();
    if let Some(principal) = &request.principal {
        sessions.push((principal.user_id, principal.session_id));
    }
    if let Some(presented) = &request.refresh_token {
        // Only the current token signs out: a rotated one is refused, and
        // ends the session when it is a replay, as at refresh.
        let token = RefreshToken::parse(presented).ok_or(SessionError::InvalidToken)?;
        session_of(app, &token, app.clock.now()).await?;
        sessions.push((token.user_id, token.session_id));
    }
    if sessions.is_empty() {
        return Err(SessionError::InvalidToken);
    }
    for (user_id, session_id) in sessions {
        if request.all {
            let ended = app.store.end_all_sessions(user_id).await?;
            tracing::info!(%user_id, ended, "signed out everywhere");
            let event = SecurityEvent::new(
                user_id,
                EventKind::SessionsEnded,
                Actor::Owner,
                SessionOrigin::default(),
                app.clock.now(),
            )
            .with("sessions", ended.to_string())
            .with("reason", "sign_out_everywhere");
            crate::services::security_log::record(app, &event).await;
        } else {
            let event = session_ended(app, user_id, session_id, "sign_out");
            app.store
                .end_session(user_id, session_id, Some(&event))
                .await?;
            tracing::info!(%user_id, %session_id, "signed out");
        }
    }
    Ok(())
}

/// The log's entry for a session ended by its owner's token, and why.
pub(crate) fn session_ended(
    app: &App,
    user_id: UserId,
    session_id: SessionId,
    reason: &str,
) -> SecurityEvent {
    SecurityEvent::new(
        user_id,
        EventKind::SessionEnded,
        Actor::Owner,
        SessionOrigin::default(),
        app.clock.now(),
    )
    .with("session_id", session_id.to_string())
    .with("reason", reason)
}
