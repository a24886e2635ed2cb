//! `GET /v1/users/confirm/{code}` and `POST /v1/users/confirm`.

use crate::App;
use crate::domain::{Locale, UserId, UserType};
use crate::ports::{ConfirmOutcome, StoreError};
use crate::secrets::{OneTimeCode, SecretHash};

#[derive(Debug, thiserror::Error)]
pub enum ConfirmError {
    #[error("the confirmation code is unknown or expired")]
    InvalidCode,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A successful confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Confirmed {
    pub user_id: UserId,
    /// The code had been used before (the same answer, for the page to say so).
    pub already: bool,
}

/// [`confirm_email`] for a browser: also the account's language and type,
/// for the page the link lands on (`None` if the account could not be read).
pub async fn confirm_email_for_page(
    app: &App,
    code: &str,
) -> Result<(Confirmed, Option<(Locale, UserType)>), ConfirmError> {
    let confirmed = confirm_email(app, code).await?;
    let account = match app.store.get_user(confirmed.user_id).await {
        Ok(user) => user.map(|user| (user.locale, user.user_type)),
        // The account is confirmed: a failed read only costs the page its
        // language.
        Err(error) => {
            tracing::warn!(error = %error, "the confirmed account could not be read");
            None
        }
    };
    Ok((confirmed, account))
}

/// Activates the account the code belongs to. Opening the same unexpired link
/// again succeeds again (idempotent), since mail scanners prefetch links.
pub async fn confirm_email(app: &App, code: &str) -> Result<Confirmed, ConfirmError> {
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
            Ok(Confirmed {
                user_id,
                already: false,
            })
        }
        ConfirmOutcome::AlreadyConfirmed(user_id) => Ok(Confirmed {
            user_id,
            already: true,
        }),
        ConfirmOutcome::Invalid => Err(ConfirmError::InvalidCode),
    }
}
