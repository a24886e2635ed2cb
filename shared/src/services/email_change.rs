//! Changing the account's email. The new address gets a link; the old one
//! a notice; the account keeps the old address until the link is opened.
//! Then, in one conditional write, the new address's guard is taken (so of
//! a registration and a change racing for one address exactly one wins),
//! the old one's released, the pending change spent and the profile
//! updated; the other sessions end and the old address gets a second
//! notice.
//!
//! The link's code is `<user id>.<256 random bits>`; only its hash is kept,
//! with the new address, under the account (one pending change: a new
//! request replaces it), for `CONFIRMATION_CODE_TTL_SECONDS`.

use crate::App;
use crate::domain::{Actor, EventKind, SecurityEvent, SessionOrigin};
use crate::domain::{Email, SessionId, User, UserId};
use crate::mail::{self, EmailChangeStep};
use crate::ports::{ChangeOutcome, EmailChange, EndSessions, ProfileChange, StoreError};
use crate::secrets::{SecretHash, random_token};
use crate::services::COLLISION_RETRIES;
use crate::services::limits;
use crate::services::notify;
use crate::services::sessions::Principal;

#[derive(Debug, thiserror::Error)]
pub enum EmailChangeError {
    #[error("the caller's account no longer exists")]
    CallerGone,
    /// The new address is the account's own already.
    #[error("the address is the account's already")]
    SameAddress,
    #[error("another account has this address")]
    EmailTaken,
    /// Unknown, replaced, used or expired: one answer for all.
    #[error("invalid confirmation code")]
    InvalidCode,
    #[error("too many requests; retry after {retry_after_seconds} s")]
    RateLimited { retry_after_seconds: u64 },
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for EmailChangeError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::EmailTaken => Self::EmailTaken,
            other => Self::Store(other),
        }
    }
}

limits::from_limited_error!(EmailChangeError);

/// The account a link's code is for, if it has the code's shape.
fn code_owner(code: &str) -> Option<UserId> {
    let (user_id, secret) = code.trim().split_once('.')?;
    (secret.len() == 43).then_some(())?;
    UserId::parse(user_id)
}

/// `POST /v1/users/me/email` (after the recent-auth check), from
/// `client_ip`: the emails it sends count toward `EMAIL_REQUEST_LIMIT_PER_IP`.
/// An address another account holds is `EmailTaken` when registration says
/// so too (`REGISTRATION_REVEALS_EXISTING`); otherwise the answer is the
/// same and nothing is sent to it.
pub async fn request(
    app: &App,
    caller: &Principal,
    client_ip: &str,
    new_email: Email,
) -> Result<(), EmailChangeError> {
    let user = app
        .store
        .get_user(caller.user_id)
        .await?
        .ok_or(EmailChangeError::CallerGone)?;
    let new_key = user.user_type.email_key(&new_email);
    if new_key == user.email_key() {
        return Err(EmailChangeError::SameAddress);
    }
    limits::email_request(app, client_ip).await?;
    if app.store.find_by_email(&new_key).await?.is_some() {
        if app.config.registration_reveals_existing {
            return Err(EmailChangeError::EmailTaken);
        }
        tracing::info!(user_id = %user.id, "email change to a taken address: nothing sent");
        return Ok(());
    }
    let now = app.clock.now();
    let code = format!("{}.{}", user.id, random_token());
    app.store
        .replace_email_change(&EmailChange {
            user_id: user.id,
            new_email: new_email.clone(),
            code_hash: SecretHash::of(&code),
            expires_at: now + app.config.confirmation_code_ttl,
        })
        .await?;
    tracing::info!(user_id = %user.id, "email change asked for");
    let confirm = mail::email_change(
        &app.config,
        &user,
        &new_email,
        EmailChangeStep::Confirm { code: &code },
        now,
    );
    notify::send(app, &user, &confirm, "email change link").await;
    let notice = mail::email_change(
        &app.config,
        &user,
        &user.email,
        EmailChangeStep::Requested {
            new_email: &new_email,
        },
        now,
    );
    notify::send(app, &user, &notice, "email change asked for").await;
    Ok(())
}

/// `POST /v1/users/me/email/confirm`: the link's code makes the new address
/// the account's. `keep` is the caller's session when the request carries
/// the account's own token; every other session ends.
pub async fn confirm(
    app: &App,
    code: &str,
    keep: Option<(UserId, SessionId)>,
) -> Result<User, EmailChangeError> {
    let user_id = code_owner(code).ok_or(EmailChangeError::InvalidCode)?;
    let hash = SecretHash::of(code.trim());
    let end_sessions = match keep {
        Some((owner, session)) if owner == user_id => EndSessions::AllExcept(session),
        _ => EndSessions::All,
    };
    for _ in 0..COLLISION_RETRIES {
        let now = app.clock.now();
        let pending = app
            .store
            .email_change(user_id, now)
            .await?
            .filter(|pending| pending.code_hash == hash)
            .ok_or(EmailChangeError::InvalidCode)?;
        let stored = app
            .store
            .get_user(user_id)
            .await?
            .ok_or(EmailChangeError::InvalidCode)?;
        let mut user = stored.clone();
        user.email = pending.new_email.clone();
        user.email_confirmed = true;
        user.status = stored.status.after_email_proof().unwrap_or(stored.status);
        user.updated_at = now;
        user.version = stored.version + 1;
        // The new address shows masked: the log is read by whoever holds
        // the account's token, as the notices are by the old mailbox.
        let event = SecurityEvent::new(
            user.id,
            EventKind::EmailChanged,
            Actor::Owner,
            SessionOrigin::default(),
            now,
        )
        .with("new_email", user.email.masked());
        let outcome = app
            .store
            .update_profile(ProfileChange {
                user: &user,
                expected_version: stored.version,
                previous_login: stored.login.as_ref(),
                previous_email: &stored.email,
                password_hash: None,
                completes: Some((&hash, now)),
                end_sessions,
                event: Some(&event),
            })
            .await?;
        let ChangeOutcome::Saved { sessions_ended } = outcome else {
            // Another write came first (or the change was spent): read
            // again; a spent change is an invalid code then.
            continue;
        };
        tracing::info!(user_id = %user.id, sessions_ended, "email changed");
        let notice = mail::email_change(
            &app.config,
            &user,
            &stored.email,
            EmailChangeStep::Changed {
                new_email: &user.email,
            },
            now,
        );
        notify::send(app, &user, &notice, "email changed").await;
        return Ok(user);
    }
    Err(StoreError::Backend("the profile kept changing under concurrent writes".into()).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_names_its_account_only_in_its_own_shape() {
        let user = UserId::new();
        let code = format!("{user}.{}", random_token());
        assert_eq!(code_owner(&code), Some(user));
        assert_eq!(code_owner(&format!("{user}.short")), None);
        assert_eq!(
            code_owner("not-a-user.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
            None
        );
        assert_eq!(code_owner(""), None);
    }
}
