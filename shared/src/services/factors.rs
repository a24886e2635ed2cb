//! Second factors of one's own account: enrol an authenticator app (TOTP),
//! prove it with a code, list, remove, renew recovery codes; and an admin's
//! or operator's reset of someone's factors.
//!
//! The profile's `second_factor` flag says whether sign-in needs a second
//! step. It changes only in the transaction that activates or removes a
//! factor, conditional on the profile's version, so a removal racing an
//! activation cannot leave an active factor that sign-in ignores.

use time::{Duration, OffsetDateTime};

use crate::App;
use crate::domain::{
    Actor, EventKind, FactorId, FactorKind, FactorName, MAX_FACTORS, SecurityEvent, SessionOrigin,
    TotpError, TotpSecret, User, UserId,
};
use crate::mail::{self, FactorChange};
use crate::ports::{
    ActivationOutcome, ChangeOutcome, Factor, FactorActivation, FactorRemoval, FactorState,
    Passkey, SealError, Store, StoreError,
};
use crate::secrets::{RECOVERY_CODES, RecoveryCode, SecretHash};
use crate::services::notify;
use crate::services::sessions::Principal;
use crate::services::{COLLISION_RETRIES, admin_caller};

/// How long an enrolled factor waits for its first code.
pub const PENDING_FACTOR_TTL: Duration = Duration::minutes(10);

#[derive(Debug, thiserror::Error)]
pub enum FactorError {
    #[error("the caller's account no longer exists")]
    CallerGone,
    #[error("no such user")]
    UserNotFound,
    #[error("the caller may not do this")]
    Forbidden,
    #[error("the account holds {MAX_FACTORS} factors already")]
    FactorLimit,
    /// Unknown, another account's, or (for verify) not pending.
    #[error("no such factor")]
    FactorNotFound,
    /// Recovery codes asked for while no factor is on.
    #[error("the account has no active second factor")]
    NoActiveFactor,
    #[error("the code does not match")]
    InvalidCode,
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error(transparent)]
    Totp(#[from] TotpError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The sealing purpose of a factor's secret: a sealed secret opens only
/// as the secret of the factor it was made for.
fn purpose(id: FactorId) -> String {
    format!("totp-factor:{id}")
}

/// The factor's TOTP secret, unsealed.
pub async fn open_secret(app: &App, factor: &Factor) -> Result<TotpSecret, SealError> {
    let bytes = app.sealer.open(&factor.secret, &purpose(factor.id)).await?;
    TotpSecret::from_bytes(bytes).ok_or(SealError::Tampered)
}

/// The account's active factors.
pub async fn active(
    app: &App,
    user_id: UserId,
    now: OffsetDateTime,
) -> Result<Vec<Factor>, StoreError> {
    let mut factors = app.store.factors(user_id, now).await?;
    factors.retain(Factor::is_active);
    Ok(factors)
}

async fn caller_user(app: &App, caller: &Principal) -> Result<User, FactorError> {
    app.store
        .get_user(caller.user_id)
        .await?
        .ok_or(FactorError::CallerGone)
}

/// What an enrolment hands the person: the secret for their app, once.
#[derive(Debug)]
pub struct Enrolment {
    pub factor_id: FactorId,
    pub secret: TotpSecret,
    pub otpauth_uri: String,
}

/// `POST /v1/users/me/factors/totp` (after the recent-auth check): a new
/// pending factor with a fresh secret, stored sealed.
pub async fn enrol_totp(
    app: &App,
    caller: &Principal,
    name: Option<FactorName>,
) -> Result<Enrolment, FactorError> {
    let user = caller_user(app, caller).await?;
    let now = app.clock.now();
    // Counted before the write: parallel enrolments can pass the limit by
    // their number at most, and pending ones expire within minutes.
    if app.store.factors(user.id, now).await?.len() >= MAX_FACTORS {
        return Err(FactorError::FactorLimit);
    }
    let id = FactorId::new();
    let secret = TotpSecret::generate()?;
    let sealed = app.sealer.seal(secret.as_bytes(), &purpose(id)).await?;
    let factor = Factor {
        id,
        user_id: user.id,
        kind: FactorKind::Totp,
        name: name.unwrap_or_else(|| FactorName::default_for(FactorKind::Totp)),
        secret: sealed,
        state: FactorState::Pending {
            expires_at: now + PENDING_FACTOR_TTL,
        },
        created_at: now,
        last_used_at: None,
    };
    app.store.add_factor(&factor).await?;
    let otpauth_uri = secret.otpauth_uri(&app.config.totp_issuer, user.email.as_str())?;
    tracing::info!(user_id = %user.id, factor_id = %id, "second factor enrolled, pending");
    Ok(Enrolment {
        factor_id: id,
        secret,
        otpauth_uri,
    })
}

/// `POST /v1/users/me/factors/totp/{id}/verify`: a code from the app turns
/// the pending factor on. The account's first active factor comes with a
/// new set of recovery codes (returned here, once); later ones with none.
pub async fn verify_totp(
    app: &App,
    caller: &Principal,
    factor_id: FactorId,
    code: &str,
) -> Result<Vec<RecoveryCode>, FactorError> {
    for _ in 0..COLLISION_RETRIES {
        let user = caller_user(app, caller).await?;
        let now = app.clock.now();
        let factor = app
            .store
            .factors(user.id, now)
            .await?
            .into_iter()
            .find(|factor| factor.id == factor_id && !factor.is_active())
            .ok_or(FactorError::FactorNotFound)?;
        let secret = open_secret(app, &factor).await?;
        let step = secret
            .matching_step(code.trim(), now)
            .ok_or(FactorError::InvalidCode)?;
        let recovery_codes: Vec<RecoveryCode> = if user.second_factor {
            Vec::new()
        } else {
            (0..RECOVERY_CODES)
                .map(|_| RecoveryCode::generate())
                .collect()
        };
        let hashes: Vec<SecretHash> = recovery_codes.iter().map(RecoveryCode::hash).collect();
        let event = SecurityEvent::new(
            user.id,
            EventKind::FactorAdded,
            Actor::Owner,
            SessionOrigin::default(),
            now,
        )
        .with("factor_id", factor_id.to_string())
        .with("name", factor.name.as_str());
        let outcome = app
            .store
            .activate_factor(FactorActivation {
                user_id: user.id,
                factor_id,
                step,
                expected_version: user.version,
                recovery_codes: (!hashes.is_empty()).then_some(hashes.as_slice()),
                event: &event,
                now,
            })
            .await?;
        match outcome {
            ActivationOutcome::Activated => {
                tracing::info!(user_id = %user.id, %factor_id, "second factor on");
                let notice =
                    mail::factor_changed(&user, FactorChange::Added(factor.name.as_str()), now);
                notify::send(app, &user, &notice, "factor added").await;
                return Ok(recovery_codes);
            }
            ActivationOutcome::FactorGone => return Err(FactorError::FactorNotFound),
            ActivationOutcome::Stale => continue,
        }
    }
    Err(StoreError::Backend("the profile kept changing under concurrent writes".into()).into())
}

/// What `GET /v1/users/me/factors` shows.
#[derive(Debug)]
pub struct FactorList {
    /// The active TOTP factors.
    pub factors: Vec<Factor>,
    /// The passkeys: each also answers the second step.
    pub passkeys: Vec<Passkey>,
    /// Unspent recovery codes (none while no TOTP factor is on).
    pub recovery_codes_left: usize,
}

/// `GET /v1/users/me/factors`: the active factors, the passkeys, and how
/// many recovery codes are left.
pub async fn list(app: &App, caller: &Principal) -> Result<FactorList, FactorError> {
    let user = caller_user(app, caller).await?;
    let factors = active(app, user.id, app.clock.now()).await?;
    let recovery_codes_left = if factors.is_empty() {
        0
    } else {
        app.store.recovery_codes_left(user.id).await?
    };
    let mut passkeys = app.store.passkeys(user.id).await?;
    passkeys.sort_by_key(|passkey| passkey.created_at);
    Ok(FactorList {
        factors,
        passkeys,
        recovery_codes_left,
    })
}

/// `DELETE /v1/users/me/factors/{id}` (after the recent-auth check), for a
/// pending or an active factor. Removing the last active factor turns the
/// second step off and drops the recovery codes.
pub async fn remove(app: &App, caller: &Principal, factor_id: FactorId) -> Result<(), FactorError> {
    let user = caller_user(app, caller).await?;
    let now = app.clock.now();
    let removed = remove_where(
        app.store.as_ref(),
        now,
        user.id,
        (EventKind::FactorRemoved, Actor::Owner),
        |factor| factor.id == factor_id,
    )
    .await?;
    let Some(factor) = removed.first() else {
        return Err(FactorError::FactorNotFound);
    };
    tracing::info!(user_id = %user.id, %factor_id, "second factor removed");
    if factor.is_active() {
        let notice = mail::factor_changed(&user, FactorChange::Removed(factor.name.as_str()), now);
        notify::send(app, &user, &notice, "factor removed").await;
    }
    Ok(())
}

/// `POST /v1/users/me/recovery-codes` (after the recent-auth check): a new
/// set; the old codes stop working.
pub async fn renew_recovery_codes(
    app: &App,
    caller: &Principal,
) -> Result<Vec<RecoveryCode>, FactorError> {
    let user = caller_user(app, caller).await?;
    if !user.second_factor {
        return Err(FactorError::NoActiveFactor);
    }
    let codes: Vec<RecoveryCode> = (0..RECOVERY_CODES)
        .map(|_| RecoveryCode::generate())
        .collect();
    let hashes: Vec<SecretHash> = codes.iter().map(RecoveryCode::hash).collect();
    let event = SecurityEvent::new(
        user.id,
        EventKind::RecoveryCodesRenewed,
        Actor::Owner,
        SessionOrigin::default(),
        app.clock.now(),
    );
    app.store
        .replace_recovery_codes(user.id, &hashes, &event)
        .await?;
    tracing::info!(user_id = %user.id, "recovery codes renewed");
    let notice = mail::factor_changed(&user, FactorChange::RecoveryCodesRenewed, app.clock.now());
    notify::send(app, &user, &notice, "recovery codes renewed").await;
    Ok(codes)
}

/// `DELETE /v1/admin/users/{id}/factors`: an admin removes every factor
/// and passkey of someone who lost theirs.
pub async fn admin_reset(app: &App, caller: &Principal, id: UserId) -> Result<(), FactorError> {
    let admin = admin_caller(app, caller)
        .await?
        .ok_or(FactorError::Forbidden)?;
    let user = reset(
        app.store.as_ref(),
        app.clock.now(),
        id,
        Actor::Admin(admin.id),
    )
    .await?;
    tracing::info!(user_id = %id, admin_id = %admin.id, "second factors reset by an admin");
    let notice = mail::factor_changed(&user, FactorChange::Reset, app.clock.now());
    notify::send(app, &user, &notice, "factors reset").await;
    Ok(())
}

/// Removes every factor and passkey of the account (the operator
/// program's `users reset-factors`, and the admin endpoint); returns the
/// account.
pub async fn reset(
    store: &dyn Store,
    now: OffsetDateTime,
    id: UserId,
    actor: Actor,
) -> Result<User, FactorError> {
    if store.get_user(id).await?.is_none() {
        return Err(FactorError::UserNotFound);
    }
    remove_where(store, now, id, (EventKind::FactorsReset, actor), |_| true).await?;
    for passkey in store.passkeys(id).await? {
        let event = SecurityEvent::new(
            id,
            EventKind::PasskeyRemoved,
            actor,
            SessionOrigin::default(),
            now,
        )
        .with("name", passkey.name.as_str());
        store
            .remove_passkey(id, &passkey.credential_id, &event)
            .await?;
    }
    store.get_user(id).await?.ok_or(FactorError::UserNotFound)
}

/// Removes the account's factors that `chosen` picks and sets the
/// profile's flag to match what is left, retrying collisions, logged as
/// `logged` (the entry's kind and who did it); returns the removed factors
/// (none: nothing was written, unless the flag was wrong).
async fn remove_where(
    store: &dyn Store,
    now: OffsetDateTime,
    user_id: UserId,
    (kind, actor): (EventKind, Actor),
    chosen: impl Fn(&Factor) -> bool,
) -> Result<Vec<Factor>, FactorError> {
    for _ in 0..COLLISION_RETRIES {
        let Some(user) = store.get_user(user_id).await? else {
            return Err(FactorError::UserNotFound);
        };
        let (removed, kept): (Vec<Factor>, Vec<Factor>) = store
            .factors(user_id, now)
            .await?
            .into_iter()
            .partition(|factor| chosen(factor));
        let second_factor_left = kept.iter().any(Factor::is_active);
        if removed.is_empty() && user.second_factor == second_factor_left {
            return Ok(removed);
        }
        let ids: Vec<FactorId> = removed.iter().map(|factor| factor.id).collect();
        let names: Vec<&str> = removed.iter().map(|factor| factor.name.as_str()).collect();
        let event = SecurityEvent::new(user_id, kind, actor, SessionOrigin::default(), now)
            .with("factors", names.join(", "));
        let outcome = store
            .remove_factors(FactorRemoval {
                user_id,
                factors: &ids,
                expected_version: user.version,
                second_factor_left,
                event: &event,
                now,
            })
            .await?;
        match outcome {
            ChangeOutcome::Saved { .. } => return Ok(removed),
            ChangeOutcome::Stale => continue,
        }
    }
    Err(StoreError::Backend("the factors kept changing under concurrent writes".into()).into())
}
