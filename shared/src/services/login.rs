//! `POST /v1/auth/login`: check the password, open a session, issue tokens.

use crate::App;
use crate::domain::{AccountStatus, Authentication, Email, Login, Password, SessionId, UserType};
use crate::ports::{Account, Session, StoreError};
use crate::services::passwords::{self, HashError};
use crate::services::sessions::{self, TokenPair};
use crate::services::throttle::{self, Subject, ThrottleError};
use crate::tokens::{IssueError, RefreshToken};

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
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Issue(#[from] IssueError),
}

impl From<ThrottleError> for LoginError {
    fn from(error: ThrottleError) -> Self {
        match error {
            ThrottleError::TooManyAttempts {
                retry_after_seconds,
            } => Self::TooManyAttempts {
                retry_after_seconds,
            },
            ThrottleError::Store(error) => Self::Store(error),
        }
    }
}

/// Signs in from `client_ip` (the connection's address, for throttling).
pub async fn login(
    app: &App,
    credentials: Credentials,
    client_ip: &str,
) -> Result<TokenPair, LoginError> {
    let account = find_account(app, &credentials.identifier, &credentials.user_type).await?;
    let subject = match &account {
        Some(account) => Subject::account(account.user.id, &account.password_hash, client_ip),
        None => Subject::unknown(&credentials.identifier, &credentials.user_type, client_ip),
    };
    let admission = throttle::admit(app, &subject, client_ip).await?;
    // Exactly one argon2id verification whatever the account's state, so
    // timing tells an unknown account from a wrong password no more than the
    // answer does.
    let verified = match account {
        Some(account) => passwords::verify(credentials.password, account.password_hash.clone())
            .await?
            .then_some(account),
        None => {
            passwords::verify_dummy(credentials.password, app.config.argon2).await?;
            None
        }
    };
    let Some(account) = verified else {
        throttle::record_failure(app, admission);
        return Err(LoginError::InvalidCredentials);
    };
    throttle::record_success(app, &subject, admission).await?;
    // Status is told only after a correct password.
    let user = account.user;
    match user.status {
        AccountStatus::Disabled => return Err(LoginError::AccountDisabled),
        AccountStatus::Waiting if app.config.require_email_confirmation => {
            return Err(LoginError::EmailNotConfirmed);
        }
        AccountStatus::Waiting | AccountStatus::Active => {}
    }

    let now = app.clock.now();
    let lifetime = if credentials.remember_me {
        app.config.remembered_session_ttl
    } else {
        app.config.session_ttl
    };
    let session_id = SessionId::new();
    let refresh_token = RefreshToken::generate(user.id, session_id);
    let session = Session {
        id: session_id,
        user_id: user.id,
        refresh_hash: refresh_token.hash(),
        previous_hash: None,
        older_hashes: Vec::new(),
        rotated_at: None,
        generation: 0,
        remember_me: credentials.remember_me,
        authentication: Authentication::password(now),
        created_at: now,
        expires_at: now + lifetime,
    };
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
