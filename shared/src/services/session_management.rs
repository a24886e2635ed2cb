//! A person's view of their sessions (where and when each was opened, when
//! it was last refreshed, how the person proved who they were) and ending
//! one; an admin ending all of someone's. An ended session's refresh token
//! stops working and its access tokens with it: every bearer request checks
//! that its session is still there.

use crate::App;
use crate::domain::{Actor, EventKind, SecurityEvent, SessionId, SessionOrigin, UserId};
use crate::ports::{Session, StoreError};
use crate::services::sessions::{self, Principal};
use crate::services::{admin_caller, security_log};

#[derive(Debug, thiserror::Error)]
pub enum SessionManagementError {
    /// Unknown, ended, or another account's.
    #[error("no such session")]
    SessionNotFound,
    #[error("no such user")]
    UserNotFound,
    #[error("the caller may not do this")]
    Forbidden,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `GET /v1/users/me/sessions`: the caller's live sessions, the most
/// recently opened first.
pub async fn list(app: &App, caller: &Principal) -> Result<Vec<Session>, SessionManagementError> {
    let mut sessions = app.store.sessions(caller.user_id, app.clock.now()).await?;
    sessions.sort_by_key(|session| std::cmp::Reverse(session.created_at));
    Ok(sessions)
}

/// `DELETE /v1/users/me/sessions/{id}`: ends one of the caller's sessions
/// (the current one included, which is a logout).
pub async fn end(
    app: &App,
    caller: &Principal,
    id: SessionId,
) -> Result<(), SessionManagementError> {
    app.store
        .get_session(caller.user_id, id, app.clock.now())
        .await?
        .ok_or(SessionManagementError::SessionNotFound)?;
    let event = sessions::session_ended(app, caller.user_id, id, "ended_by_owner");
    app.store
        .end_session(caller.user_id, id, Some(&event))
        .await?;
    tracing::info!(user_id = %caller.user_id, session_id = %id, "session ended by its owner");
    Ok(())
}

/// `DELETE /v1/admin/users/{id}/sessions`: an admin signs someone out
/// everywhere; the number of sessions ended.
pub async fn admin_end_all(
    app: &App,
    caller: &Principal,
    user_id: UserId,
) -> Result<usize, SessionManagementError> {
    let admin = admin_caller(app, caller)
        .await?
        .ok_or(SessionManagementError::Forbidden)?;
    app.store
        .get_user(user_id)
        .await?
        .ok_or(SessionManagementError::UserNotFound)?;
    let ended = app.store.end_all_sessions(user_id).await?;
    tracing::info!(%user_id, admin_id = %admin.id, ended, "every session ended by an admin");
    let event = SecurityEvent::new(
        user_id,
        EventKind::SessionsEnded,
        Actor::Admin(admin.id),
        SessionOrigin::default(),
        app.clock.now(),
    )
    .with("sessions", ended.to_string());
    security_log::record(app, &event).await;
    Ok(ended)
}
