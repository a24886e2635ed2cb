//! Recent authentication: sensitive changes (factors, password, email,
//! deleting the account) need proof that the person, not only their token,
//! is at the keyboard: a sign-in within `REAUTH_MAX_AGE_SECONDS` (the
//! token's `auth_time`), or the current password sent with the request.

use crate::App;
use crate::domain::{Password, UserId};
use crate::ports::{Account, StoreError};
use crate::services::passwords::{self, HashError};
use crate::services::sessions::Principal;
use crate::services::throttle::{self, Subject};

#[derive(Debug, thiserror::Error)]
pub enum ReauthError {
    /// The sign-in is too old and no password came with the request.
    #[error("a recent sign-in or the current password is required")]
    Required,
    #[error("the current password is wrong")]
    InvalidCredentials,
    #[error("too many failed attempts; retry after {retry_after_seconds} s")]
    TooManyAttempts { retry_after_seconds: u64 },
    /// The caller's account is gone.
    #[error("the caller's account no longer exists")]
    CallerGone,
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

throttle::from_throttle_error!(ReauthError);

/// Passes when the caller signed in within `REAUTH_MAX_AGE_SECONDS`, or
/// sent their current password (checked under the sign-in throttle).
pub async fn require_recent(
    app: &App,
    caller: &Principal,
    current_password: Option<Password>,
    client_ip: &str,
) -> Result<(), ReauthError> {
    let now = app.clock.now().unix_timestamp();
    let max_age = i64::try_from(app.config.reauth_max_age.as_secs()).unwrap_or(i64::MAX);
    let recent = caller
        .claims
        .auth_time
        .is_some_and(|at| at <= now && now - at <= max_age);
    if recent {
        return Ok(());
    }
    match current_password {
        Some(password) => check_password(app, caller.user_id, password, client_ip)
            .await
            .map(drop),
        None => Err(ReauthError::Required),
    }
}

/// The account, if `password` is its current password. Each check counts
/// toward the account's sign-in throttle like a sign-in: a stolen token
/// does not make guessing the password any cheaper.
pub async fn check_password(
    app: &App,
    user_id: UserId,
    password: Password,
    client_ip: &str,
) -> Result<Account, ReauthError> {
    let account = app
        .store
        .get_account(user_id)
        .await?
        .ok_or(ReauthError::CallerGone)?;
    let subject = Subject::account(user_id, &account.password_hash, client_ip);
    let admission = throttle::admit(app, &subject, client_ip).await?;
    if !passwords::verify(password, account.password_hash.clone()).await? {
        throttle::record_failure(app, admission);
        return Err(ReauthError::InvalidCredentials);
    }
    throttle::record_success(app, &subject, admission).await?;
    Ok(account)
}
