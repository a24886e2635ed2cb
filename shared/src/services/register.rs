//! `POST /v1/users`: create a waiting account and send the confirmation email.

use crate::App;
use crate::domain::{AccountStatus, Attributes, Email, Locale, Login, Password, PersonName, User};
use crate::mail;
use crate::ports::{Account, CodeKind, StoreError, StoredCode};
use crate::secrets::OneTimeCode;
use crate::services::notify;
use crate::services::passwords::{self, HashError};

/// A registration whose every field has been parsed into its domain type.
#[derive(Debug)]
pub struct Registration {
    pub email: Email,
    pub login: Option<Login>,
    pub password: Password,
    pub first_name: Option<PersonName>,
    pub last_name: Option<PersonName>,
    pub locale: Locale,
    pub profile_is_public: bool,
    pub attributes: Attributes,
}

#[derive(Debug)]
pub struct Registered {
    pub user: User,
    /// False when the mail service failed: the account is kept and the
    /// client can ask for the email again.
    pub confirmation_email_sent: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("email already registered")]
    EmailTaken,
    #[error("login already taken")]
    LoginTaken,
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for RegisterError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::EmailTaken => Self::EmailTaken,
            StoreError::LoginTaken => Self::LoginTaken,
            other => Self::Store(other),
        }
    }
}

pub async fn register(app: &App, registration: Registration) -> Result<Registered, RegisterError> {
    let now = app.clock.now();
    let password_hash = passwords::hash(registration.password, app.config.argon2).await?;
    let status = if app.config.require_email_confirmation {
        AccountStatus::Waiting
    } else {
        AccountStatus::Active
    };
    let user = User {
        login: registration.login,
        first_name: registration.first_name,
        last_name: registration.last_name,
        locale: registration.locale,
        status,
        profile_is_public: registration.profile_is_public,
        attributes: registration.attributes,
        ..User::new(registration.email, now)
    };
    let code = OneTimeCode::generate();
    let stored_code = StoredCode {
        hash: code.hash(),
        kind: CodeKind::Confirm,
        user_id: user.id,
        expires_at: now + app.config.confirmation_code_ttl,
    };
    let account = Account {
        user,
        password_hash,
    };
    app.store.create_user(&account, Some(&stored_code)).await?;

    let message = mail::confirmation(&app.config, &account.user, &code);
    // A mail failure keeps the account: losing it over a mail hiccup would be
    // worse, the log keeps the cause, and the client can ask for a resend.
    let confirmation_email_sent = notify::send(app, &account.user, &message, "confirmation").await;
    Ok(Registered {
        user: account.user,
        confirmation_email_sent,
    })
}
