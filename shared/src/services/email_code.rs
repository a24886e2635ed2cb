//! Sign-in with a code sent by email (`POST /v1/auth/email-code` and
//! `/verify`): a six-digit code and a link, for an account that is active
//! or waiting for its confirmation (the code proves the address, so a
//! waiting account becomes active); a disabled one gets nothing.
//!
//! Rules: a code lives ten minutes, takes five tries at most (each counted
//! before it is checked, so parallel guesses cannot pass the limit), is
//! spent by its sign-in in the same transaction that starts the session,
//! and asking again replaces it. Only its keyed hash is stored (HMAC under
//! a key the store does not hold: six digits are too few for a plain
//! hash). Tries count toward the account's sign-in throttle. Asking and
//! checking answer alike, and take as long, whether the address has an
//! account or not.

use std::time::Instant;

use subtle::ConstantTimeEq;
use time::Duration;

use crate::App;
use crate::domain::{AccountStatus, Authentication, Email, UserId, UserType};
use crate::mail;
use crate::ports::{Account, EmailCodeOutcome, EmailSignInCode, MacError, StoreError};
use crate::secrets::{SignInCode, hex};
use crate::services::limits;
use crate::services::mfa::{self, MfaRequired};
use crate::services::notify;
use crate::services::security_log;
use crate::services::sessions::{self, Connection, TokenPair};
use crate::services::throttle::{self, Subject};
use crate::tokens::IssueError;

/// How long an emailed code lives.
pub const EMAIL_CODE_TTL: Duration = Duration::minutes(10);

#[derive(Debug, thiserror::Error)]
pub enum EmailCodeError {
    /// `EMAIL_SIGN_IN_ENABLED=false`.
    #[error("sign-in by email is switched off")]
    Disabled,
    #[error("rate limited; retry after {retry_after_seconds} s")]
    RateLimited { retry_after_seconds: u64 },
    /// Wrong, spent, replaced, expired, tried too often, or no such
    /// account: one error whatever it was.
    #[error("invalid code")]
    InvalidCode,
    #[error("too many failed sign-ins; retry after {retry_after_seconds} s")]
    TooManyAttempts { retry_after_seconds: u64 },
    /// The code was right; the account's second factor must follow.
    #[error("a second factor is required")]
    MfaRequired(MfaRequired),
    #[error(transparent)]
    Mac(#[from] MacError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Issue(#[from] IssueError),
}

limits::from_limited_error!(EmailCodeError);

throttle::from_throttle_error!(EmailCodeError);

/// The code's keyed hash, bound to its account.
async fn mac_of(app: &App, user_id: UserId, code: &SignInCode) -> Result<String, MacError> {
    let message = format!("email-sign-in:{user_id}:{}", code.as_str());
    Ok(hex(&app.code_mac.mac(message.as_bytes()).await?))
}

/// `POST /v1/auth/email-code`: limited per client IP like forgot; the
/// address's own sending limits apply too.
pub async fn request(
    app: &App,
    client_ip: &str,
    email: &Email,
    user_type: &UserType,
) -> Result<(), EmailCodeError> {
    if !app.config.email_sign_in_enabled {
        return Err(EmailCodeError::Disabled);
    }
    limits::email_request(app, client_ip).await?;
    app.pacers
        .email_code
        .pace(send_code(app, client_ip, email, user_type))
        .await
}

/// Mails a new code if the address has an account that may sign in;
/// whether it did.
async fn send_code(
    app: &App,
    client_ip: &str,
    email: &Email,
    user_type: &UserType,
) -> Result<bool, EmailCodeError> {
    let Some(account) = app.store.find_by_email(&user_type.email_key(email)).await? else {
        return Ok(false);
    };
    let user = account.user;
    if user.status == AccountStatus::Disabled {
        return Ok(false);
    }
    if !notify::within_address_limit(app, &user, client_ip, "sign-in code").await? {
        return Ok(false);
    }
    let code = SignInCode::generate();
    app.store
        .replace_email_code(&EmailSignInCode {
            user_id: user.id,
            mac: mac_of(app, user.id, &code).await?,
            attempts: 0,
            expires_at: app.clock.now() + EMAIL_CODE_TTL,
        })
        .await?;
    let message = mail::email_sign_in(&app.config, &user, &code, EMAIL_CODE_TTL.unsigned_abs());
    notify::send(app, &user, &message, "sign-in code").await;
    Ok(true)
}

/// What `POST /v1/auth/email-code/verify` is given.
#[derive(Debug)]
pub struct CodeSignIn {
    pub email: Email,
    pub user_type: UserType,
    /// As typed; anything but six digits is a wrong code.
    pub code: String,
    pub remember_me: bool,
}

/// `POST /v1/auth/email-code/verify`.
pub async fn verify(
    app: &App,
    connection: &Connection<'_>,
    request: CodeSignIn,
) -> Result<TokenPair, EmailCodeError> {
    let client_ip = connection.ip;
    if !app.config.email_sign_in_enabled {
        return Err(EmailCodeError::Disabled);
    }
    // The whole check is timed, the lookup included: finding an account
    // reads its profile too, which finding none does not.
    let started = Instant::now();
    let email_key = request.user_type.email_key(&request.email);
    let account = app.store.find_by_email(&email_key).await?;
    let subject = match &account {
        Some(account) => Subject::account(account.user.id, &account.password_hash, client_ip),
        None => Subject::unknown(request.email.as_str(), &request.user_type, client_ip),
    };
    let admission = throttle::admit(app, &subject, client_ip).await?;
    let code = SignInCode::typed(&request.code);
    let checked = match (account, code) {
        (Some(account), Some(code)) => {
            let matched = check(app, &account, &code).await?;
            if matched.is_none() {
                // Inside the timed part: an unknown address waits as long.
                security_log::failed_sign_in(app, account.user.id, connection, "email").await;
            }
            app.pacers.email_code_check.record(started.elapsed());
            matched.map(|mac| (account, mac))
        }
        _ => {
            // As long as a check of a known address takes.
            app.pacers.email_code_check.pad(started).await;
            None
        }
    };
    let Some((account, mac)) = checked else {
        throttle::record_failure(app, admission);
        return Err(EmailCodeError::InvalidCode);
    };
    let now = app.clock.now();
    let user = &account.user;
    if user.second_factor {
        if !app.store.spend_email_code(user.id, &mac, now).await? {
            throttle::record_failure(app, admission);
            return Err(EmailCodeError::InvalidCode);
        }
        // As after a password: not signed in until the second factor is.
        throttle::record_failure(app, admission);
        let challenge = mfa::challenge(
            app,
            &account,
            request.remember_me,
            Authentication::email(now),
        )
        .await?;
        return Err(EmailCodeError::MfaRequired(challenge));
    }
    let (session, refresh_token) = sessions::new_session(
        app,
        user.id,
        request.remember_me,
        Authentication::email(now),
        connection,
        now,
    );
    // Signed before anything is spent, as at sign-in.
    let pair = sessions::token_pair(app, &session, &user.user_type, refresh_token, now).await?;
    let outcome = app
        .store
        .sign_in_with_email_code(&mac, &session, &account.password_hash, now)
        .await?;
    match outcome {
        EmailCodeOutcome::SignedIn => {
            throttle::record_success(app, &subject, admission).await?;
            tracing::info!(user_id = %user.id, session_id = %session.id, "signed in with an emailed code");
            Ok(pair)
        }
        EmailCodeOutcome::CodeGone | EmailCodeOutcome::AccountChanged => {
            throttle::record_failure(app, admission);
            Err(EmailCodeError::InvalidCode)
        }
    }
}

/// Counts a try at the account's code and compares; the MAC of a code that
/// matched. A disabled account's code never matches.
async fn check(
    app: &App,
    account: &Account,
    code: &SignInCode,
) -> Result<Option<String>, EmailCodeError> {
    let user = &account.user;
    let mac = mac_of(app, user.id, code).await?;
    if user.status == AccountStatus::Disabled {
        return Ok(None);
    }
    let Some(stored) = app
        .store
        .attempt_email_code(user.id, app.clock.now())
        .await?
    else {
        return Ok(None);
    };
    let matched: bool = mac.as_bytes().ct_eq(stored.mac.as_bytes()).into();
    Ok(matched.then_some(mac))
}
