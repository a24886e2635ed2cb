//! `GET /v1/users/exists`: the one answer that tells whether an address is
//! registered, kept because clients asked for it; limited per client IP and
//! switched off by `EMAIL_EXISTS_ENABLED=false`.

use crate::App;
use crate::domain::{Email, UserType};
use crate::services::limits::{self, LimitedError, Scope};

#[derive(Debug, thiserror::Error)]
pub enum ExistsError {
    #[error("the email-exists check is switched off")]
    Disabled,
    #[error(transparent)]
    Limited(#[from] LimitedError),
}

/// Whether an account of `user_type` has `email`.
pub async fn email_exists(
    app: &App,
    client_ip: &str,
    email: &Email,
    user_type: &UserType,
) -> Result<bool, ExistsError> {
    if !app.config.email_exists_enabled {
        return Err(ExistsError::Disabled);
    }
    limits::enforce(
        app,
        Scope::ExistsChecksFromIp,
        client_ip,
        app.config.exists_limit_per_ip,
    )
    .await?;
    let account = app
        .store
        .find_by_email(&user_type.email_key(email))
        .await
        .map_err(LimitedError::from)?;
    Ok(account.is_some())
}
