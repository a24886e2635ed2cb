//! Passkeys of one's own account (add after a recent sign-in, list,
//! rename, remove) and sign-in with one. The ceremonies themselves are
//! `crate::passkeys`; this is who may run them, what is kept between their
//! two requests, and what a sign-in opens.
//!
//! Rules: a ceremony is single use and lives five minutes, kept under the
//! hash of an opaque `challenge_id`; a registration ceremony belongs to the
//! account that started it; an unknown credential, a wrong origin, a
//! reused, expired or foreign ceremony, a counter that did not move: one
//! `invalid_credential`. Failed sign-ins with a known passkey count toward
//! its account's throttle like wrong passwords. A passkey whose
//! authenticator verified the person (PIN, biometric) is two factors in one
//! (`aal` 2); without that it is one, and an account with a second factor
//! then asks for it as after a password.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::Duration;

use crate::App;
use crate::domain::{
    AccountStatus, Actor, Authentication, EventKind, FactorName, SecurityEvent, SessionOrigin,
    UserId, UserType,
};
use crate::mail::{self, FactorChange};
use crate::passkeys::{self as webauthn, PasskeyError, RelyingParty, SignedIn, StoredPasskey};
use crate::ports::{Account, CeremonyPurpose, MacError, Passkey, PasskeyCeremony, StoreError};
use crate::secrets::{SecretHash, random_token};
use crate::services::login::find_account;
use crate::services::mfa::{self, MfaRequired};
use crate::services::notify;
use crate::services::security_log;
use crate::services::sessions::{self, Connection, Principal, TokenPair};
use crate::services::throttle::{self, Subject, identifier_key};
use crate::tokens::IssueError;

/// How long a ceremony waits for the browser's answer.
pub const CEREMONY_TTL: Duration = Duration::minutes(5);

/// How many passkeys an account may hold.
pub const MAX_PASSKEYS: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum PasskeyServiceError {
    #[error("the caller's account no longer exists")]
    CallerGone,
    /// A registration the ceremony did not accept: the request is at fault.
    #[error("the new passkey was not accepted")]
    RegistrationRefused,
    /// Unknown or another's credential, wrong origin, a used, expired or
    /// foreign ceremony, a bad signature or counter: one error for all.
    #[error("the credential was not accepted")]
    InvalidCredential,
    #[error("no such passkey")]
    PasskeyNotFound,
    #[error("the account holds {MAX_PASSKEYS} passkeys already")]
    PasskeyLimit,
    #[error("account disabled")]
    AccountDisabled,
    #[error("email not confirmed")]
    EmailNotConfirmed,
    #[error("too many failed sign-ins; retry after {retry_after_seconds} s")]
    TooManyAttempts { retry_after_seconds: u64 },
    /// The passkey was right but did not verify the person, and the
    /// account has a second factor.
    #[error("a second factor is required")]
    MfaRequired(MfaRequired),
    /// `WEBAUTHN_RP_ID` is not a domain.
    #[error(transparent)]
    Config(PasskeyError),
    #[error(transparent)]
    Mac(#[from] MacError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Issue(#[from] IssueError),
}

throttle::from_throttle_error!(PasskeyServiceError);

/// A passkey's id in the API: its credential id, base64url as the
/// browser's `rawId`.
pub fn passkey_id(credential_id: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(credential_id)
}

/// The credential id an API passkey id names (WebAuthn credential ids are
/// 16 to 1023 bytes).
pub fn credential_id(passkey_id: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(passkey_id)
        .ok()
        .filter(|bytes| (16..=1023).contains(&bytes.len()))
}

/// The relying party `WEBAUTHN_RP_ID` and `WEBAUTHN_ORIGINS` describe.
pub(crate) fn relying_party(app: &App) -> Result<RelyingParty, PasskeyError> {
    RelyingParty::new(
        &app.config.webauthn_rp_id,
        app.config.webauthn_origins.clone(),
    )
}

/// What a started ceremony gives the client.
#[derive(Debug)]
pub struct Started {
    pub challenge_id: String,
    pub public_key: serde_json::Value,
}

async fn keep(
    app: &App,
    purpose: CeremonyPurpose,
    ceremony: webauthn::Ceremony,
) -> Result<Started, PasskeyServiceError> {
    let challenge_id = random_token();
    app.store
        .add_ceremony(&PasskeyCeremony {
            hash: SecretHash::of(&challenge_id),
            purpose,
            state: ceremony.state,
            expires_at: app.clock.now() + CEREMONY_TTL,
        })
        .await?;
    // The library wraps the options in `{"publicKey": …}`, as
    // `navigator.credentials` takes them; the contract's field is that one.
    let public_key = match ceremony.options {
        serde_json::Value::Object(mut wrapper) if wrapper.contains_key("publicKey") => wrapper
            .remove("publicKey")
            .unwrap_or(serde_json::Value::Null),
        options => options,
    };
    Ok(Started {
        challenge_id,
        public_key,
    })
}

/// The ceremony `challenge_id` names, spent, if it was started for
/// `purpose` (a spent, expired or foreign one is refused all the same).
pub(crate) async fn take_ceremony(
    app: &App,
    challenge_id: &str,
    purpose: CeremonyPurpose,
) -> Result<Option<PasskeyCeremony>, StoreError> {
    Ok(app
        .store
        .take_ceremony(&SecretHash::of(challenge_id), app.clock.now())
        .await?
        .filter(|ceremony| ceremony.purpose == purpose))
}

/// `POST /v1/users/me/passkeys/options` (after the recent-auth check).
pub async fn registration_options(
    app: &App,
    caller: &Principal,
) -> Result<Started, PasskeyServiceError> {
    let user = app
        .store
        .get_user(caller.user_id)
        .await?
        .ok_or(PasskeyServiceError::CallerGone)?;
    let existing: Vec<Vec<u8>> = app
        .store
        .passkeys(user.id)
        .await?
        .into_iter()
        .map(|passkey| passkey.credential_id)
        .collect();
    if existing.len() >= MAX_PASSKEYS {
        return Err(PasskeyServiceError::PasskeyLimit);
    }
    let ceremony = webauthn::start_registration(
        &relying_party(app).map_err(PasskeyServiceError::Config)?,
        user.id,
        user.email.as_str(),
        &existing,
    )
    .map_err(PasskeyServiceError::Config)?;
    keep(app, CeremonyPurpose::Register(user.id), ceremony).await
}

/// `POST /v1/users/me/passkeys`: the browser's answer to the caller's own
/// registration ceremony. A notice goes to the account's address.
pub async fn register(
    app: &App,
    caller: &Principal,
    challenge_id: &str,
    credential: &serde_json::Value,
    name: Option<FactorName>,
) -> Result<Passkey, PasskeyServiceError> {
    let user = app
        .store
        .get_user(caller.user_id)
        .await?
        .ok_or(PasskeyServiceError::CallerGone)?;
    let ceremony = take_ceremony(app, challenge_id, CeremonyPurpose::Register(user.id))
        .await?
        .ok_or(PasskeyServiceError::RegistrationRefused)?;
    let rp = relying_party(app).map_err(PasskeyServiceError::Config)?;
    let new = webauthn::finish_registration(&rp, &ceremony.state, credential).map_err(|error| {
        tracing::info!(user_id = %user.id, %error, "passkey registration refused");
        PasskeyServiceError::RegistrationRefused
    })?;
    let now = app.clock.now();
    let passkey = Passkey {
        user_id: user.id,
        credential_id: new.credential_id,
        name: name.unwrap_or_else(FactorName::default_for_passkey),
        public_key: new.public_key,
        state: new.state,
        device_bound: new.device_bound,
        created_at: now,
        last_used_at: None,
    };
    // The ceremony excluded the account's own passkeys; one already
    // registered (to anyone) is refused like any other bad registration.
    let event = SecurityEvent::new(
        user.id,
        EventKind::PasskeyAdded,
        Actor::Owner,
        SessionOrigin::default(),
        now,
    )
    .with("name", passkey.name.as_str());
    if !app.store.add_passkey(&passkey, &event).await? {
        return Err(PasskeyServiceError::RegistrationRefused);
    }
    tracing::info!(user_id = %user.id, "passkey added");
    let notice = mail::factor_changed(
        &user,
        FactorChange::PasskeyAdded(passkey.name.as_str()),
        now,
    );
    notify::send(app, &user, &notice, "passkey added").await;
    Ok(passkey)
}

/// `GET /v1/users/me/passkeys`, oldest first.
pub async fn list(app: &App, caller: &Principal) -> Result<Vec<Passkey>, PasskeyServiceError> {
    let mut passkeys = app.store.passkeys(caller.user_id).await?;
    passkeys.sort_by_key(|passkey| passkey.created_at);
    Ok(passkeys)
}

async fn own_passkey(
    app: &App,
    user_id: UserId,
    passkey_id: &str,
) -> Result<Passkey, PasskeyServiceError> {
    let credential_id = credential_id(passkey_id).ok_or(PasskeyServiceError::PasskeyNotFound)?;
    app.store
        .passkeys(user_id)
        .await?
        .into_iter()
        .find(|passkey| passkey.credential_id == credential_id)
        .ok_or(PasskeyServiceError::PasskeyNotFound)
}

/// `PATCH /v1/users/me/passkeys/{id}`.
pub async fn rename(
    app: &App,
    caller: &Principal,
    passkey_id: &str,
    name: FactorName,
) -> Result<Passkey, PasskeyServiceError> {
    let mut passkey = own_passkey(app, caller.user_id, passkey_id).await?;
    if !app
        .store
        .rename_passkey(caller.user_id, &passkey.credential_id, &name)
        .await?
    {
        return Err(PasskeyServiceError::PasskeyNotFound);
    }
    passkey.name = name;
    Ok(passkey)
}

/// `DELETE /v1/users/me/passkeys/{id}` (after the recent-auth check). A
/// notice goes to the account's address.
pub async fn remove(
    app: &App,
    caller: &Principal,
    passkey_id: &str,
) -> Result<(), PasskeyServiceError> {
    let user = app
        .store
        .get_user(caller.user_id)
        .await?
        .ok_or(PasskeyServiceError::CallerGone)?;
    let passkey = own_passkey(app, user.id, passkey_id).await?;
    let event = SecurityEvent::new(
        user.id,
        EventKind::PasskeyRemoved,
        Actor::Owner,
        SessionOrigin::default(),
        app.clock.now(),
    )
    .with("name", passkey.name.as_str());
    if !app
        .store
        .remove_passkey(user.id, &passkey.credential_id, &event)
        .await?
    {
        return Err(PasskeyServiceError::PasskeyNotFound);
    }
    tracing::info!(user_id = %user.id, "passkey removed");
    let notice = mail::factor_changed(
        &user,
        FactorChange::PasskeyRemoved(passkey.name.as_str()),
        app.clock.now(),
    );
    notify::send(app, &user, &notice, "passkey removed").await;
    Ok(())
}

/// Who `POST /v1/auth/passkey/options` names, if anyone.
#[derive(Debug)]
pub struct Named {
    /// An email or a login, as typed.
    pub identifier: String,
    pub user_type: UserType,
}

/// `POST /v1/auth/passkey/options`. Without a name the ceremony is
/// discoverable (the authenticator offers the passkeys it holds for this
/// site); with one, only the named account's passkeys are allowed, for
/// authenticators that cannot offer theirs.
pub async fn sign_in_options(
    app: &App,
    named: Option<Named>,
) -> Result<Started, PasskeyServiceError> {
    let allowed = match named {
        Some(named) => named_credentials(app, &named).await?,
        None => Vec::new(),
    };
    let rp = relying_party(app).map_err(PasskeyServiceError::Config)?;
    let ceremony = webauthn::start_sign_in(&rp, &allowed).map_err(PasskeyServiceError::Config)?;
    keep(app, CeremonyPurpose::SignIn, ceremony).await
}

/// Length of a decoy credential id.
const DECOY_ID_BYTES: usize = 16;

/// The credentials a ceremony for `named` lists: the account's passkeys;
/// for an unknown name, or an account without passkeys, one decoy id made
/// from the name under the server's MAC key (the same each time), so the
/// answer does not tell which names have accounts or passkeys. The same
/// reads happen either way.
async fn named_credentials(app: &App, named: &Named) -> Result<Vec<Vec<u8>>, PasskeyServiceError> {
    let key = named.user_type.scope(&identifier_key(&named.identifier));
    let mut decoy = app
        .code_mac
        .mac(format!("passkey-decoy:{key}").as_bytes())
        .await?;
    decoy.truncate(DECOY_ID_BYTES);
    let owner = find_account(app, &named.identifier, &named.user_type)
        .await?
        .map(|account| account.user.id);
    // An unknown name reads the passkeys of an id nobody has.
    let passkeys = app
        .store
        .passkeys(owner.unwrap_or_else(UserId::new))
        .await?;
    if passkeys.is_empty() {
        return Ok(vec![decoy]);
    }
    Ok(passkeys
        .into_iter()
        .map(|passkey| passkey.credential_id)
        .collect())
}

/// A passkey assertion checked against its ceremony and the stored
/// passkey it claims.
pub(crate) struct Asserted {
    pub passkey: Passkey,
    pub signed_in: SignedIn,
}

/// The account whose passkey `credential` (an `AuthenticationResponseJSON`)
/// claims to be, if the credential is registered and the user handle, when
/// sent, names the same account.
async fn claimed_owner(
    app: &App,
    credential: &serde_json::Value,
) -> Result<Option<UserId>, StoreError> {
    let Ok(claimed) = webauthn::claimed(credential) else {
        return Ok(None);
    };
    Ok(app
        .store
        .passkey_owner(&claimed.credential_id)
        .await?
        .filter(|owner| claimed.user_id.is_none_or(|user| user == *owner)))
}

/// Checks `credential` against the ceremony's state and the passkey of
/// `owner` it names; `None` when it is not one of `owner`'s or does not
/// verify.
pub(crate) async fn assert(
    app: &App,
    rp: &RelyingParty,
    ceremony: &PasskeyCeremony,
    credential: &serde_json::Value,
    owner: UserId,
) -> Result<Option<Asserted>, StoreError> {
    let Ok(claimed) = webauthn::claimed(credential) else {
        return Ok(None);
    };
    let Some(passkey) = app
        .store
        .passkeys(owner)
        .await?
        .into_iter()
        .find(|passkey| passkey.credential_id == claimed.credential_id)
    else {
        return Ok(None);
    };
    let verified = webauthn::finish_sign_in(
        rp,
        &ceremony.state,
        credential,
        &StoredPasskey {
            credential_id: &passkey.credential_id,
            user_id: owner,
            public_key: &passkey.public_key,
            state: &passkey.state,
        },
    );
    match verified {
        Ok(signed_in) => Ok(Some(Asserted { passkey, signed_in })),
        Err(error) => {
            // A counter that did not move is how a cloned authenticator
            // shows: worth an operator's eye.
            tracing::warn!(user_id = %owner, %error, "passkey assertion refused");
            Ok(None)
        }
    }
}

/// `POST /v1/auth/passkey`.
pub async fn sign_in(
    app: &App,
    challenge_id: &str,
    credential: &serde_json::Value,
    remember_me: bool,
    connection: &Connection<'_>,
) -> Result<TokenPair, PasskeyServiceError> {
    let client_ip = connection.ip;
    let ceremony = take_ceremony(app, challenge_id, CeremonyPurpose::SignIn)
        .await?
        .ok_or(PasskeyServiceError::InvalidCredential)?;
    let Some(account) = (match claimed_owner(app, credential).await? {
        Some(owner) => app.store.get_account(owner).await?,
        None => None,
    }) else {
        return Err(PasskeyServiceError::InvalidCredential);
    };
    let subject = Subject::account(account.user.id, &account.password_hash, client_ip);
    let admission = throttle::admit(app, &subject, client_ip).await?;
    let rp = relying_party(app).map_err(PasskeyServiceError::Config)?;
    let Some(asserted) = assert(app, &rp, &ceremony, credential, account.user.id).await? else {
        throttle::record_failure(app, admission);
        security_log::failed_sign_in(app, account.user.id, connection, "passkey").await;
        return Err(PasskeyServiceError::InvalidCredential);
    };
    let now = app.clock.now();
    // Of two sign-ins with one assertion (or a clone's racing the
    // original), only the one that moves the stored state goes on.
    if !app
        .store
        .record_passkey_use(
            account.user.id,
            &asserted.passkey.credential_id,
            &asserted.passkey.state,
            &asserted.signed_in.state,
            now,
        )
        .await?
    {
        throttle::record_failure(app, admission);
        security_log::failed_sign_in(app, account.user.id, connection, "passkey").await;
        return Err(PasskeyServiceError::InvalidCredential);
    }
    let authentication = Authentication::passkey(
        asserted.signed_in.device_bound,
        asserted.signed_in.user_verified,
        now,
    );
    // Status is told only after a good assertion, as after a good password.
    let refusal = match account.user.status {
        AccountStatus::Disabled => Some(PasskeyServiceError::AccountDisabled),
        AccountStatus::Waiting if app.config.require_email_confirmation => {
            Some(PasskeyServiceError::EmailNotConfirmed)
        }
        AccountStatus::Waiting | AccountStatus::Active => None,
    };
    if refusal.is_none() && account.user.second_factor && authentication.assurance_level() < 2 {
        // As after a password: still counted until the second step is done.
        throttle::record_failure(app, admission);
        let challenge = mfa::challenge(app, &account, remember_me, authentication).await?;
        return Err(PasskeyServiceError::MfaRequired(challenge));
    }
    throttle::record_success(app, &subject, admission).await?;
    if let Some(refusal) = refusal {
        return Err(refusal);
    }
    start_session(app, &account, remember_me, authentication, connection).await
}

async fn start_session(
    app: &App,
    account: &Account,
    remember_me: bool,
    authentication: Authentication,
    connection: &Connection<'_>,
) -> Result<TokenPair, PasskeyServiceError> {
    let now = app.clock.now();
    let (session, refresh_token) = sessions::new_session(
        app,
        account.user.id,
        remember_me,
        authentication,
        connection,
        now,
    );
    let pair =
        sessions::token_pair(app, &session, &account.user.user_type, refresh_token, now).await?;
    // A password change, disable or new second factor committed meanwhile
    // wins, as at sign-in with a password.
    if !app
        .store
        .start_session(&session, &account.password_hash, now)
        .await?
    {
        return Err(PasskeyServiceError::InvalidCredential);
    }
    tracing::info!(user_id = %account.user.id, session_id = %session.id, "signed in with a passkey");
    Ok(pair)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passkey_ids_are_the_credential_ids_in_base64url() {
        let id = vec![7u8; 16];
        assert_eq!(credential_id(&passkey_id(&id)), Some(id));
        assert_eq!(credential_id("short"), None, "too few bytes");
        assert_eq!(credential_id("not base64!"), None);
        assert_eq!(credential_id(&passkey_id(&[1u8; 1024])), None, "too long");
    }
}
