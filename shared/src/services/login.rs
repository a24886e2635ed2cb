//! `POST /v1/auth/login`: check the password, open a session, issue tokens.

use std::time::Instant;

use crate::App;
use crate::domain::{AccountStatus, Authentication, Email, Login, Password, UserId, UserType};
use crate::ports::{Account, StoreError};
use crate::services::mfa::{self, MfaRequired};
use crate::services::passwords::{self, HashError};
use crate::services::security_log;
use crate::services::sessions::{self, Connection, TokenPair};
use crate::services::throttle::{self, Subject};
use crate::tokens::IssueError;

#[derive(Debug)]
pub struct Credentials {
    /// An email or a login, as typed.
    pub identifier: String,
    /// The type the account is of (`source`).
    pub user_type: UserType,
    pub password: Password,
    pub remember_me: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown account or wrong password: one error, so answers cannot tell
    /// which.
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("email not confirmed")]
    EmailNotConfirmed,
    #[error("account disabled")]
    AccountDisabled,
    #[error("too many failed sign-ins; retry after {retry_after_seconds} s")]
    TooManyAttempts { retry_after_seconds: u64 },
    /// The password was right; the account's second factor must follow.
    #[error("a second factor is required")]
    MfaRequired(MfaRequired),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Issue(#[from] IssueError),
}

throttle::from_throttle_error!(LoginError);

/// Signs in over `connection`.
pub async fn login(
    app: &App,
    credentials: Credentials,
    connection: &Connection<'_>,
) -> Result<TokenPair, LoginError> {
    let client_ip = connection.ip;
    let account = find_account(app, &credentials.identifier, &credentials.user_type).await?;
    let subject = match &account {
        Some(account) => Subject::account(account.user.id, &account.password_hash, client_ip),
        None => Subject::unknown(&credentials.identifier, &credentials.user_type, client_ip),
    };
    let admission = throttle::admit(app, &subject, client_ip).await?;
    let known = account.as_ref().map(|account| account.user.id);
    // Exactly one argon2id verification whatever the account's state, so
    // timing tells an unknown account from a wrong password no more than the
    // answer does.
    let verified = match account {
        Some(account) if account.has_password() => {
            passwords::verify(credentials.password, account.password_hash.clone())
                .await?
                .then_some(account)
        }
        // No account, or one without a password: as long as a check.
        _ => {
            passwords::verify_dummy(credentials.password, app.config.argon2).await?;
            None
        }
    };
    let Some(account) = verified else {
        throttle::record_failure(app, admission);
        log_failure(app, known, connection).await;
        return Err(LoginError::InvalidCredentials);
    };
    let now = app.clock.now();
    let user = &account.user;
    // Status is told only after a correct password, and before a second
    // factor is asked for: a code would not make a disabled or unconfirmed
    // account any more able to sign in.
    let refusal = match user.status {
        AccountStatus::Disabled => Some(LoginError::AccountDisabled),
        AccountStatus::Waiting if app.config.require_email_confirmation => {
            Some(LoginError::EmailNotConfirmed)
        }
        AccountStatus::Waiting | AccountStatus::Active => None,
    };
    if user.second_factor && refusal.is_none() {
        // Not signed in until the second factor is: the attempt stays
        // counted, so rounds of a known password and guessed codes slow
        // down like wrong passwords; the second factor's success ends the
        // streak.
        throttle::record_failure(app, admission);
        let challenge = mfa::challenge(
            app,
            &account,
            credentials.remember_me,
            Authentication::password(now),
        )
        .await?;
        return Err(LoginError::MfaRequired(challenge));
    }
    throttle::record_success(app, &subject, admission).await?;
    if let Some(refusal) = refusal {
        return Err(refusal);
    }
    let (session, refresh_token) = sessions::new_session(
        app,
        user.id,
        credentials.remember_me,
        Authentication::password(now),
        connection,
        now,
    );
    let session_id = session.id;
    // Signed before the session is stored, so a signing fault leaves no
    // session behind that no client holds a token for.
    let pair = sessions::token_pair(app, &session, &user.user_type, refresh_token, now).await?;
    // The password checked above must still be the account's: a reset,
    // password change or disable that committed meanwhile wins.
    if !app
        .store
        .start_session(&session, &account.password_hash, now)
        .await?
    {
        return Err(LoginError::InvalidCredentials);
    }
    tracing::info!(user_id = %user.id, session_id = %session_id, "signed in");
    Ok(pair)
}

/// The account of `user_type` an identifier names: with `@` an email,
/// otherwise a login. One that is neither finds nothing (and still costs a
/// dummy verification).
pub(crate) async fn find_account(
    app: &App,
    identifier: &str,
    user_type: &UserType,
) -> Result<Option<Account>, StoreError> {
    if identifier.contains('@') {
        match Email::parse(identifier) {
            Ok(email) => app.store.find_by_email(&user_type.email_key(&email)).await,
            Err(_) => Ok(None),
        }
    } else {
        match Login::parse(identifier) {
            Ok(login) => app.store.find_by_login(&user_type.login_key(&login)).await,
            Err(_) => Ok(None),
        }
    }
}

/// Records a wrong password in the account's security log. An unknown
/// identifier has no log: its answer waits as long as the write takes for
/// a known one, so timing does not tell them apart.
async fn log_failure(app: &App, known: Option<UserId>, connection: &Connection<'_>) {
    let started = Instant::now();
    match known {
        Some(user_id) => {
            security_log::failed_sign_in(app, user_id, connection, "pwd").await;
            app.pacers.sign_in_failure.record(started.elapsed());
        }
        None => app.pacers.sign_in_failure.pad(started).await,
    }
}
