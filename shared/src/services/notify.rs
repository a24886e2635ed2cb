//! Sending an account's emails: mail failures are logged, never fatal to
//! the change that caused them, and per-address limits keep anyone from
//! using the service to flood a mailbox.

use crate::App;
use crate::domain::User;
use crate::ports::{EmailMessage, StoreError};
use crate::services::limits::{self, Scope, Verdict};

/// Sends `message` to `user`; `false` when the mail service failed (logged
/// with its cause, never with the message).
pub async fn send(app: &App, user: &User, message: &EmailMessage, what: &'static str) -> bool {
    match app.mailer.send(message).await {
        Ok(()) => true,
        Err(error) => {
            tracing::error!(
                user_id = %user.id,
                email = what,
                error = %error,
                source = ?std::error::Error::source(&error),
                "email not sent"
            );
            false
        }
    }
}

/// Counts one email to the user's address and says whether it may go out.
/// Beyond the limit emails are dropped without a word to the caller, whose
/// answer must not differ.
pub async fn within_address_limit(
    app: &App,
    user: &User,
    what: &'static str,
) -> Result<bool, StoreError> {
    let limit = app.config.email_limit_per_address;
    match limits::count(app, Scope::EmailsToAddress, user.email.key(), limit).await? {
        Verdict::Allowed => Ok(true),
        Verdict::Limited { .. } => {
            tracing::warn!(user_id = %user.id, email = what, "email not sent: address limit reached");
            Ok(false)
        }
    }
}
