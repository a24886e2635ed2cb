//! `POST /v1/password/forgot` and `POST /v1/password/reset`.
//!
//! Forgot answers the same whether or not the account exists. A reset code
//! is 256 random bits, stored only as a hash, valid for `RESET_CODE_TTL_SECONDS`
//! (1 hour); asking again retires the previous code. A reset spends the
//! code, sets the password, activates a waiting account and ends every
//! session in one transaction, then sends a "password changed" notice.

use crate::App;
use crate::domain::{
    AccountStatus, Actor, EventKind, PasswordError, SecurityEvent, SessionOrigin, UserId, UserType,
};
use crate::mail;
use crate::ports::{Account, CodeKind, ResetOutcome, StoreError, StoredCode};
use crate::secrets::{OneTimeCode, SecretHash};
use crate::services::limits::{self, LimitedError};
use crate::services::login::find_account;
use crate::services::notify;
use crate::services::passwords::{self, HashError};

/// `identifier` is an email or a login, as typed, of an account of
/// `user_type`.
pub async fn forgot_password(
    app: &App,
    client_ip: &str,
    identifier: &str,
    user_type: &UserType,
) -> Result<(), LimitedError> {
    limits::email_request(app, client_ip).await?;
    app.pacers
        .forgot
        .pace(send_reset_code(app, client_ip, identifier, user_type))
        .await
}

/// Mails a new reset code if an account may have one; whether it did.
async fn send_reset_code(
    app: &App,
    client_ip: &str,
    identifier: &str,
    user_type: &UserType,
) -> Result<bool, LimitedError> {
    let Some(account) = find_account(app, identifier, user_type).await? else {
        return Ok(false);
    };
    let user = account.user;
    // A disabled account stays disabled; a reset would not let it in anyway.
    if user.status == AccountStatus::Disabled {
        return Ok(false);
    }
    // Checked before the code is replaced, so a flood of requests cannot keep
    // retiring the code in the owner's inbox either.
    if !notify::within_address_limit(app, &user, client_ip, "password reset").await? {
        return Ok(false);
    }
    let code = OneTimeCode::generate();
    app.store
        .replace_reset_code(&StoredCode {
            hash: code.hash(),
            kind: CodeKind::Reset,
            user_id: user.id,
            expires_at: app.clock.now() + app.config.reset_code_ttl,
        })
        .await?;
    let message = mail::password_reset(&app.config, &user, &code);
    notify::send(app, &user, &message, "password reset").await;
    Ok(true)
}

#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    /// Unknown, expired, spent or replaced code, or a disabled account.
    #[error("the reset code is unknown, expired or used")]
    InvalidToken,
    #[error("the new password is not acceptable: {0}")]
    WeakPassword(PasswordError),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A profile edited while a reset runs makes the reset read it again; this
/// many tries before giving up.
const PROFILE_RACE_RETRIES: usize = 3;

pub async fn reset_password(
    app: &App,
    token: &str,
    new_password: &str,
) -> Result<UserId, ResetError> {
    if !OneTimeCode::is_plausible(token) {
        return Err(ResetError::InvalidToken);
    }
    let hash = SecretHash::of(token);
    let mut password_hash: Option<String> = None;
    for _ in 0..PROFILE_RACE_RETRIES {
        let now = app.clock.now();
        let Some(user_id) = app.store.find_reset_code(&hash, now).await? else {
            return Err(ResetError::InvalidToken);
        };
        // The code came by email: the address is proven, which activates a
        // waiting account and never a disabled one.
        let Some((user, status)) = app
            .store
            .get_user(user_id)
            .await?
            .and_then(|user| Some((user.status.after_email_proof()?, user)))
            .map(|(status, user)| (user, status))
        else {
            return Err(ResetError::InvalidToken);
        };
        let password_hash = match &password_hash {
            Some(hashed) => hashed.clone(),
            None => {
                let password = user
                    .new_password(new_password, &app.config.password_policy)
                    .map_err(ResetError::WeakPassword)?;
                let hashed = passwords::hash(password, app.config.argon2).await?;
                password_hash.insert(hashed).clone()
            }
        };
        let expected_version = user.version;
        let updated = Account {
            user: crate::domain::User {
                status,
                email_confirmed: true,
                updated_at: now,
                version: expected_version + 1,
                ..user
            },
            password_hash,
        };
        match app
            .store
            .reset_password(
                &hash,
                &updated,
                expected_version,
                &SecurityEvent::new(
                    user_id,
                    EventKind::PasswordReset,
                    Actor::Owner,
                    SessionOrigin::default(),
                    now,
                ),
                now,
            )
            .await?
        {
            ResetOutcome::Reset { sessions_ended } => {
                tracing::info!(%user_id, sessions_ended, "password reset");
                let message = mail::password_changed(&updated.user, now);
                notify::send(app, &updated.user, &message, "password changed").await;
                return Ok(user_id);
            }
            ResetOutcome::InvalidCode => return Err(ResetError::InvalidToken),
            ResetOutcome::ProfileChanged => continue,
        }
    }
    Err(ResetError::Store(StoreError::Backend(
        "the profile kept changing during a password reset".into(),
    )))
}
