//! An account's security log: what happened to it, newest first, kept
//! `AUDIT_RETENTION_DAYS`. Entries for changes are written by the change's
//! own transaction; [`record`] appends those whose change is a single write
//! of its own (a session ended).

use crate::App;
use crate::domain::{Actor, EventId, EventKind, SecurityEvent, UserId};
use crate::ports::{EventPage, StoreError};
use crate::services::admin_caller;
use crate::services::sessions::{Connection, Principal};

/// Entries per page when the caller names no `limit`, and the most it may.
pub const DEFAULT_PAGE: usize = 20;
pub const MAX_PAGE: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum SecurityLogError {
    #[error("no such user")]
    UserNotFound,
    #[error("the caller may not do this")]
    Forbidden,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Appends `event` after its change committed. A failure is logged, not
/// returned: the change stands, and answering it with an error would only
/// invite a retry of something already done.
pub async fn record(app: &App, event: &SecurityEvent) {
    if let Err(error) = app.store.append_event(event).await {
        tracing::error!(
            user_id = %event.user_id,
            kind = event.kind.as_str(),
            %error,
            "security log entry not written"
        );
    }
}

/// Records a failed sign-in of an existing account, by `method` (an `amr`
/// value: `pwd`, `otp`, `email`; or `passkey`, `recovery_code`).
pub async fn failed_sign_in(app: &App, user_id: UserId, connection: &Connection<'_>, method: &str) {
    let event = SecurityEvent::new(
        user_id,
        EventKind::SignInFailed,
        Actor::Owner,
        connection.origin(),
        app.clock.now(),
    )
    .with("method", method);
    record(app, &event).await;
}

/// `GET /v1/users/me/events`.
pub async fn own(
    app: &App,
    caller: &Principal,
    before: Option<EventId>,
    limit: usize,
) -> Result<EventPage, SecurityLogError> {
    page(app, caller.user_id, before, limit).await
}

/// `GET /v1/admin/users/{id}/events`.
pub async fn of_user(
    app: &App,
    caller: &Principal,
    user_id: UserId,
    before: Option<EventId>,
    limit: usize,
) -> Result<EventPage, SecurityLogError> {
    admin_caller(app, caller)
        .await?
        .ok_or(SecurityLogError::Forbidden)?;
    app.store
        .get_user(user_id)
        .await?
        .ok_or(SecurityLogError::UserNotFound)?;
    page(app, user_id, before, limit).await
}

async fn page(
    app: &App,
    user_id: UserId,
    before: Option<EventId>,
    limit: usize,
) -> Result<EventPage, SecurityLogError> {
    let limit = limit.clamp(1, MAX_PAGE);
    Ok(app
        .store
        .events(user_id, before, limit, app.clock.now())
        .await?)
}
