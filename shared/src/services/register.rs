//! `POST /v1/users`: create a waiting account and send the confirmation email.
//!
//! Attempts are limited per client IP (`REGISTRATION_LIMIT_PER_IP`), taken
//! addresses included, and the confirmation email counts toward the
//! address's sending limit. With `REGISTRATION_REVEALS_EXISTING=false` a
//! taken address gets the answer a new registration gets (a made-up
//! account that is never stored), after the same work, and its owner an
//! email about the attempt.

use time::OffsetDateTime;

use crate::App;
use crate::config::PasswordSettings;
use crate::domain::{
    AccountStatus, Attributes, Email, Locale, Login, Password, PasswordError, PersonName, Roles,
    User, UserType,
};
use crate::mail;
use crate::ports::{Account, CodeKind, EmailMessage, Store, StoreError, StoredCode};
use crate::secrets::OneTimeCode;
use crate::services::limits::{self, Scope};
use crate::services::notify;
use crate::services::passwords::{self, HashError};

/// A registration whose every field has been parsed into its domain type.
#[derive(Debug)]
pub struct Registration {
    /// The type the account is of (`source`).
    pub user_type: UserType,
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
    #[error("too many registrations; retry after {retry_after_seconds} s")]
    RateLimited { retry_after_seconds: u64 },
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

limits::from_limited_error!(RegisterError);

/// Registers from `client_ip` (the connection's address, for the limit).
pub async fn register(
    app: &App,
    client_ip: &str,
    registration: Registration,
) -> Result<Registered, RegisterError> {
    limits::enforce(
        app,
        Scope::RegistrationsFromIp,
        client_ip,
        app.config.registration_limit_per_ip,
    )
    .await?;
    let now = app.clock.now();
    let password_hash = passwords::hash(registration.password, app.config.argon2).await?;
    let status = if app.config.require_email_confirmation {
        AccountStatus::Waiting
    } else {
        AccountStatus::Active
    };
    let user = User {
        user_type: registration.user_type,
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
    let created = match app.store.create_user(&account, Some(&stored_code)).await {
        Err(StoreError::EmailTaken) => over_expired(app, &account, &stored_code).await,
        created => created,
    };
    match created {
        Ok(()) => {}
        Err(StoreError::EmailTaken) if !app.config.registration_reveals_existing => {
            return answer_as_new(app, client_ip, account.user).await;
        }
        Err(error) => return Err(error.into()),
    }

    let message = mail::confirmation(&app.config, &account.user, &code);
    // A mail failure keeps the account: losing it over a mail hiccup would be
    // worse, the log keeps the cause, and the client can ask for a resend. So
    // does a store failure counting the email, now the account is made.
    let confirmation_email_sent =
        match send_within_limit(app, client_ip, &account.user, &message, "confirmation").await {
            Ok(sent) => sent,
            Err(error) => {
                tracing::error!(
                    user_id = %account.user.id,
                    %error,
                    "email not sent: its address limit could not be counted"
                );
                false
            }
        };
    Ok(Registered {
        user: account.user,
        confirmation_email_sent,
    })
}

/// Registers `account` over the address's account if nobody confirmed that
/// one in time (`UNCONFIRMED_ACCOUNT_TTL_SECONDS`); else the address is
/// taken.
async fn over_expired(app: &App, account: &Account, code: &StoredCode) -> Result<(), StoreError> {
    let ttl = app.config.unconfirmed_account_ttl;
    match app.store.find_by_email(&account.user.email_key()).await? {
        Some(expired) if expired.user.unconfirmed_for(ttl, app.clock.now()) => {
            app.store
                .replace_expired_account(&expired, account, Some(code))
                .await?;
            tracing::info!(
                expired = %expired.user.id,
                user_id = %account.user.id,
                "registered over an account nobody confirmed in time"
            );
            Ok(())
        }
        _ => Err(StoreError::EmailTaken),
    }
}

/// The answer a new registration of `attempted` would get; the account it
/// describes is never stored. The address's owner is told instead, within
/// the address's sending limit, as a confirmation email would be.
async fn answer_as_new(
    app: &App,
    client_ip: &str,
    attempted: User,
) -> Result<Registered, RegisterError> {
    let Some(owner) = app.store.find_by_email(&attempted.email_key()).await? else {
        // Gone since: the same answer anyway.
        return Ok(Registered {
            user: attempted,
            confirmation_email_sent: false,
        });
    };
    let message = mail::already_registered(&owner.user);
    let sent =
        send_within_limit(app, client_ip, &owner.user, &message, "already registered").await?;
    tracing::info!(user_id = %owner.user.id, "registration with a taken address answered as new");
    Ok(Registered {
        user: attempted,
        confirmation_email_sent: sent,
    })
}

/// Sends unless the address's limit is reached; whether it went out.
async fn send_within_limit(
    app: &App,
    client_ip: &str,
    to: &User,
    message: &EmailMessage,
    what: &'static str,
) -> Result<bool, StoreError> {
    Ok(
        notify::within_address_limit(app, to, client_ip, what).await?
            && notify::send(app, to, message, what).await,
    )
}

#[derive(Debug, thiserror::Error)]
pub enum OperatorCreateError {
    #[error("the password: {0}")]
    WeakPassword(PasswordError),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error("account not created: {0}")]
    Store(#[from] StoreError),
}

/// An account the operator makes (`latchkey-admin users create`, for the
/// first admin): active and confirmed at once, under the deployment's
/// password policy and argon2id cost, behind the same uniqueness guards as
/// a registration. No email is sent.
pub async fn create_by_operator(
    store: &dyn Store,
    passwords: &PasswordSettings,
    email: Email,
    user_type: UserType,
    password: &str,
    roles: Roles,
    now: OffsetDateTime,
) -> Result<User, OperatorCreateError> {
    let password = Password::parse(password, &passwords.policy, &[email.as_str()])
        .map_err(OperatorCreateError::WeakPassword)?;
    let password_hash = passwords::hash(password, passwords.argon2).await?;
    let user = User {
        user_type,
        status: AccountStatus::Active,
        email_confirmed: true,
        roles: roles.into(),
        ..User::new(email, now)
    };
    let account = Account {
        user,
        password_hash,
    };
    store.create_user(&account, None).await?;
    tracing::info!(user_id = %account.user.id, "account created by the operator");
    Ok(account.user)
}
