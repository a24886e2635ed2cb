//! `POST /v1/users/confirm/resend`: a new confirmation email for a waiting
//! account. The caller learns nothing: every address gets the same answer.

use crate::App;
use crate::domain::{AccountStatus, Email, UserType};
use crate::mail;
use crate::ports::{CodeKind, StoredCode};
use crate::secrets::OneTimeCode;
use crate::services::limits::{self, LimitedError};
use crate::services::notify;

pub async fn resend_confirmation(
    app: &App,
    client_ip: &str,
    email: &Email,
    user_type: &UserType,
) -> Result<(), LimitedError> {
    limits::email_request(app, client_ip).await?;
    app.pacers
        .resend
        .pace(send_confirmation_code(app, client_ip, email, user_type))
        .await
}

/// Mails a new confirmation code if the address's account waits for one;
/// whether it did.
async fn send_confirmation_code(
    app: &App,
    client_ip: &str,
    email: &Email,
    user_type: &UserType,
) -> Result<bool, LimitedError> {
    let Some(account) = app.store.find_by_email(&user_type.email_key(email)).await? else {
        return Ok(false);
    };
    let user = account.user;
    if user.status != AccountStatus::Waiting || user.email_confirmed {
        return Ok(false);
    }
    if !notify::within_address_limit(app, &user, client_ip, "confirmation").await? {
        return Ok(false);
    }
    let code = OneTimeCode::generate();
    app.store
        .add_confirmation_code(&StoredCode {
            hash: code.hash(),
            kind: CodeKind::Confirm,
            user_id: user.id,
            expires_at: app.clock.now() + app.config.confirmation_code_ttl,
        })
        .await?;
    let message = mail::confirmation(&app.config, &user, &code);
    notify::send(app, &user, &message, "confirmation").await;
    Ok(true)
}
