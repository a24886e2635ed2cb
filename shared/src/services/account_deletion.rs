//! Deleting an account, by its owner (after a recent sign-in) or by an
//! admin. The store first removes the profile and the email and login
//! guards in one conditional write, so from that moment the account cannot
//! sign in and its email and login are free; then everything else stored
//! under it. A deletion cut short after that first write is finished by
//! the next call for the same account (the owner's session is the last
//! thing to go, so the owner can make that call).

use crate::App;
use crate::domain::{
    Actor, EventKind, Password, SecurityEvent, SessionId, SessionOrigin, User, UserId,
};
use crate::mail;
use crate::ports::{AccountDeletion, DeletionOutcome, StoreError};
use crate::services::notify;
use crate::services::reauth::{self, ReauthError};
use crate::services::sessions::Principal;
use crate::services::throttle;
use crate::services::{COLLISION_RETRIES, admin_caller};

#[derive(Debug, thiserror::Error)]
pub enum DeletionError {
    #[error("no such user")]
    UserNotFound,
    #[error("the caller may not do this")]
    Forbidden,
    #[error(transparent)]
    Reauth(#[from] ReauthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Who asked for a deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deleter {
    /// The owner, from this session (removed last).
    Owner(SessionId),
    Admin(UserId),
}

/// `DELETE /v1/users/me`: the caller deletes their own account; needs a
/// recent sign-in or `current_password`.
pub async fn delete_own(
    app: &App,
    caller: &Principal,
    current_password: Option<Password>,
    client_ip: &str,
) -> Result<(), DeletionError> {
    // A deletion cut short left no profile to reauthenticate against:
    // finishing it needs no proof (`delete` finishes it too, for an admin).
    if app.store.get_user(caller.user_id).await?.is_none() {
        return finish(app, caller.user_id).await;
    }
    reauth::require_recent(app, caller, current_password, client_ip).await?;
    delete(app, caller.user_id, Deleter::Owner(caller.session_id)).await
}

/// `DELETE /v1/admin/users/{id}`.
pub async fn delete_as_admin(
    app: &App,
    caller: &Principal,
    user_id: UserId,
) -> Result<(), DeletionError> {
    let admin = admin_caller(app, caller)
        .await?
        .ok_or(DeletionError::Forbidden)?;
    // An admin's own account goes through `DELETE /v1/users/me`, which asks
    // for a recent sign-in: a stolen admin token cannot skip it here.
    if user_id == admin.id {
        return Err(DeletionError::Forbidden);
    }
    delete(app, user_id, Deleter::Admin(admin.id)).await
}

/// Removes what is left of an account whose profile is gone: `UserNotFound`
/// when nothing was.
async fn finish(app: &App, user_id: UserId) -> Result<(), DeletionError> {
    let items = app.store.finish_account_deletion(user_id, None).await?;
    if items == 0 {
        return Err(DeletionError::UserNotFound);
    }
    tracing::info!(%user_id, items, "account deletion finished");
    Ok(())
}

/// Deletes the account, or finishes a deletion cut short when its profile
/// is gone already.
async fn delete(app: &App, user_id: UserId, deleter: Deleter) -> Result<(), DeletionError> {
    for _ in 0..COLLISION_RETRIES {
        let Some(account) = app.store.get_account(user_id).await? else {
            return finish(app, user_id).await;
        };
        let streaks = [throttle::account_streak_everywhere(
            user_id,
            &account.password_hash,
        )];
        let actor = match deleter {
            Deleter::Owner(_) => Actor::Owner,
            Deleter::Admin(admin_id) => Actor::Admin(admin_id),
        };
        let event = SecurityEvent::new(
            user_id,
            EventKind::AccountDeleted,
            actor,
            SessionOrigin::default(),
            app.clock.now(),
        );
        let outcome = app
            .store
            .delete_account(AccountDeletion {
                user: &account.user,
                streaks: &streaks,
                keep_last: match deleter {
                    Deleter::Owner(session_id) => Some(session_id),
                    Deleter::Admin(_) => None,
                },
                event: &event,
            })
            .await?;
        match outcome {
            DeletionOutcome::Deleted { items } => {
                deleted(app, &account.user, deleter, items).await;
                return Ok(());
            }
            DeletionOutcome::Stale => continue,
        }
    }
    Err(DeletionError::Store(StoreError::Backend(
        "the account kept changing under concurrent writes".into(),
    )))
}

/// Logs the deletion and says goodbye to the address the account had.
async fn deleted(app: &App, user: &User, deleter: Deleter, items: usize) {
    match deleter {
        Deleter::Owner(_) => {
            tracing::info!(user_id = %user.id, items, "account deleted by its owner")
        }
        Deleter::Admin(admin_id) => {
            tracing::info!(user_id = %user.id, %admin_id, items, "account deleted by an admin");
        }
    }
    let by_admin = matches!(deleter, Deleter::Admin(_));
    let goodbye = mail::account_deleted(user, by_admin, app.clock.now());
    notify::send(app, user, &goodbye, "account-deleted").await;
}
