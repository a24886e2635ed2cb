//! `GET /v1/users/confirm/{code}` and `POST /v1/users/confirm`.

use crate::App;
use crate::domain::UserId;
use crate::ports::{ConfirmOutcome, StoreError};
use crate::secrets::{OneTimeCode, SecretHash};

#[derive(Debug, thiserror::Error)]
pub enum ConfirmError {
    #[error("the confirmation code is unknown or expired")]
    InvalidCode,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Activates the account the code belongs to. Opening the same unexpired link
/// again succeeds again (idempotent), since mail scanners prefetch links.
pub async fn confirm_email(app: &App, code: &str) -> Result<UserId, ConfirmError> {
    if !OneTimeCode::is_plausible(code) {
        return Err(ConfirmError::InvalidCode);
    }
    match app
        .store
        .confirm_email(&SecretHash::of(code), app.clock.now())
        .await?
    {
        ConfirmOutcome::Confirmed(user_id) => {
            tracing::info!(%user_id, "email confirmed");
            Ok(user_id)
        }
        ConfirmOutcome::AlreadyConfirmed(user_id) => Ok(user_id),
        ConfirmOutcome::Invalid => Err(ConfirmError::InvalidCode),
    }
}
