//! `GET /v1/users/me/export`: everything kept about the person, as one
//! document they can take away: the profile with its addresses, the live
//! sessions (where and when, how they signed in), the second factors' and
//! passkeys' names and dates, how many recovery codes are left, the
//! linked provider accounts, the security log. Never a
//! secret, hash or code: the views it is built from hold none.

use time::OffsetDateTime;

use crate::App;
use crate::domain::{Identity, SecurityEvent, User};
use crate::ports::{Factor, Passkey, Session, StoreError};
use crate::services::factors;
use crate::services::security_log;
use crate::services::sessions::Principal;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("the caller's account no longer exists")]
    CallerGone,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What is kept about one account.
#[derive(Debug)]
pub struct AccountExport {
    pub exported_at: OffsetDateTime,
    pub user: User,
    pub sessions: Vec<Session>,
    pub factors: Vec<Factor>,
    pub recovery_codes_left: usize,
    pub passkeys: Vec<Passkey>,
    pub identities: Vec<Identity>,
    /// The whole security log, newest first.
    pub events: Vec<SecurityEvent>,
}

/// The caller's account (after the recent-auth check).
pub async fn export(app: &App, caller: &Principal) -> Result<AccountExport, ExportError> {
    let now = app.clock.now();
    let user = app
        .store
        .get_user(caller.user_id)
        .await?
        .ok_or(ExportError::CallerGone)?;
    let mut sessions = app.store.sessions(user.id, now).await?;
    sessions.sort_by_key(|session| std::cmp::Reverse(session.created_at));
    let factors = factors::active(app, user.id, now).await?;
    let recovery_codes_left = if factors.is_empty() {
        0
    } else {
        app.store.recovery_codes_left(user.id).await?
    };
    let mut passkeys = app.store.passkeys(user.id).await?;
    passkeys.sort_by_key(|passkey| passkey.created_at);
    let mut identities = app.store.identities(user.id).await?;
    identities.sort_by_key(|identity| identity.linked_at);
    let mut events = Vec::new();
    let mut before = None;
    loop {
        let page = app
            .store
            .events(user.id, before, security_log::MAX_PAGE, now)
            .await?;
        events.extend(page.events);
        match page.next {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    tracing::info!(user_id = %user.id, "account exported");
    Ok(AccountExport {
        exported_at: now,
        user,
        sessions,
        factors,
        recovery_codes_left,
        passkeys,
        identities,
        events,
    })
}
