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

/// Counts one email to the user's address, asked for from `requester` (the
/// client IP), and says whether it may go out: within
/// `EMAIL_LIMIT_PER_ADDRESS` for that requester's network, so someone else's
/// requests do not use up the owner's, and within the looser
/// `EMAIL_LIMIT_PER_ADDRESS_TOTAL` from everywhere, so many networks cannot
/// flood a mailbox. Beyond either, emails are dropped without a word to the
/// caller, whose answer must not differ.
pub async fn within_address_limit(
    app: &App,
    user: &User,
    requester: &str,
    what: &'static str,
) -> Result<bool, StoreError> {
    let from_requester = format!("{}#{}", user.email_key(), limits::network_of(requester));
    let allowed = match limits::count(
        app,
        Scope::EmailsToAddress,
        &from_requester,
        app.config.email_limit_per_address,
    )
    .await?
    {
        Verdict::Allowed => matches!(
            limits::count(
                app,
                Scope::EmailsToAddress,
                &user.email_key(),
                app.config.email_limit_per_address_total,
            )
            .await?,
            Verdict::Allowed
        ),
        Verdict::Limited { .. } => false,
    };
    if !allowed {
        tracing::warn!(user_id = %user.id, email = what, "email not sent: address limit reached");
    }
    Ok(allowed)
}
