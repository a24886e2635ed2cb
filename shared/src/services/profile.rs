//! The account's own profile, its password, its addresses, others'
//! profiles, and what admins change.
//!
//! Every change reads the profile, edits it and writes it back only if its
//! version is unchanged; on a collision it reads again and re-applies the
//! same edit. So two concurrent edits of different fields both land, and
//! neither silently overwrites the other.

use time::OffsetDateTime;

use crate::App;
use crate::domain::{
    AccountStatus, Actor, Address, AddressId, AddressValue, AttributeError, AttributePatch,
    EventKind, Locale, Login, MAX_ADDRESSES, Password, PasswordError, PersonName, Role, Roles,
    SecurityEvent, SessionOrigin, User, UserId,
};
use crate::mail;
use crate::ports::{
    ChangeOutcome, EndSessions, ProfileChange, Store, StoreError, UserPage, UserSearch,
};
use crate::services::COLLISION_RETRIES;
use crate::services::notify;
use crate::services::passwords::{self, HashError};
use crate::services::reauth::{self, ReauthError};
use crate::services::sessions::Principal;

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The caller's own account is gone: their token speaks for no one.
    #[error("the caller's account no longer exists")]
    CallerGone,
    #[error("no such user")]
    UserNotFound,
    #[error("the caller may not do this")]
    Forbidden,
    #[error("login already taken")]
    LoginTaken,
    #[error("the current password is wrong")]
    InvalidCredentials,
    /// Too many wrong current passwords: the account's sign-in throttle.
    #[error("too many failed attempts; retry after {retry_after_seconds} s")]
    TooManyAttempts { retry_after_seconds: u64 },
    #[error("the new password is not acceptable: {0}")]
    WeakPassword(PasswordError),
    #[error("invalid attributes")]
    InvalidAttributes(Vec<AttributeError>),
    #[error("the address is already on the account")]
    AddressExists,
    #[error("the account has {MAX_ADDRESSES} addresses already")]
    TooManyAddresses,
    #[error("no such address on the account")]
    AddressNotFound,
    /// An admin may not lock themselves out; `field` names the change.
    #[error("an admin cannot take their own account out of active or drop their own admin role")]
    SelfLockout { field: &'static str },
    #[error("a recent sign-in or the current password is required")]
    ReauthenticationRequired,
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Store(StoreError),
}

impl From<ReauthError> for ProfileError {
    fn from(error: ReauthError) -> Self {
        match error {
            ReauthError::Required => Self::ReauthenticationRequired,
            ReauthError::InvalidCredentials => Self::InvalidCredentials,
            ReauthError::TooManyAttempts {
                retry_after_seconds,
            } => Self::TooManyAttempts {
                retry_after_seconds,
            },
            ReauthError::CallerGone => Self::CallerGone,
            ReauthError::Hash(error) => Self::Hash(error),
            ReauthError::Store(error) => Self::Store(error),
        }
    }
}

impl From<StoreError> for ProfileError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::LoginTaken => Self::LoginTaken,
            other => Self::Store(other),
        }
    }
}

/// What a profile change writes besides the profile.
#[derive(Clone, Copy)]
struct Writes<'a> {
    password_hash: Option<&'a str>,
    end_sessions: EndSessions,
    event: Option<&'a SecurityEvent>,
}

/// Reads the account, applies `edit`, and writes it if nobody wrote in
/// between; otherwise reads again. `missing` is the error when there is no
/// such account.
async fn change(
    store: &dyn Store,
    now: OffsetDateTime,
    user_id: UserId,
    missing: fn() -> ProfileError,
    writes: Writes<'_>,
    mut edit: impl FnMut(&mut User) -> Result<(), ProfileError>,
) -> Result<(User, usize), ProfileError> {
    for _ in 0..COLLISION_RETRIES {
        let Some(stored) = store.get_user(user_id).await? else {
            return Err(missing());
        };
        let mut user = stored.clone();
        edit(&mut user)?;
        user.updated_at = now;
        user.version = stored.version + 1;
        let outcome = store
            .update_profile(ProfileChange {
                user: &user,
                expected_version: stored.version,
                previous_login: stored.login.as_ref(),
                previous_email: &stored.email,
                password_hash: writes.password_hash,
                completes: None,
                end_sessions: writes.end_sessions,
                event: writes.event,
            })
            .await?;
        match outcome {
            ChangeOutcome::Saved { sessions_ended } => return Ok((user, sessions_ended)),
            ChangeOutcome::Stale => continue,
        }
    }
    Err(ProfileError::Store(StoreError::Backend(
        "the profile kept changing under concurrent writes".into(),
    )))
}

/// A change of the caller's own profile that ends no session.
async fn change_own(
    app: &App,
    caller: &Principal,
    edit: impl FnMut(&mut User) -> Result<(), ProfileError>,
) -> Result<User, ProfileError> {
    let (user, _) = change(
        app.store.as_ref(),
        app.clock.now(),
        caller.user_id,
        || ProfileError::CallerGone,
        Writes {
            password_hash: None,
            end_sessions: EndSessions::None,
            event: None,
        },
        edit,
    )
    .await?;
    Ok(user)
}

/// `GET /v1/users/me`.
pub async fn me(app: &App, caller: &Principal) -> Result<User, ProfileError> {
    app.store
        .get_user(caller.user_id)
        .await?
        .ok_or(ProfileError::CallerGone)
}

/// `PATCH /v1/users/me`: only the fields present change. For the optional
/// text fields, `Some(None)` clears the value.
#[derive(Debug, Default)]
pub struct ProfilePatch {
    pub login: Option<Option<Login>>,
    pub first_name: Option<Option<PersonName>>,
    pub last_name: Option<Option<PersonName>>,
    pub locale: Option<Locale>,
    pub profile_is_public: Option<bool>,
    pub attributes: Option<AttributePatch>,
}

pub async fn update_me(
    app: &App,
    caller: &Principal,
    patch: ProfilePatch,
) -> Result<User, ProfileError> {
    let specs = &app.config.profile_attributes;
    change_own(app, caller, |user| {
        if let Some(login) = &patch.login {
            user.login.clone_from(login);
        }
        if let Some(name) = &patch.first_name {
            user.first_name.clone_from(name);
        }
        if let Some(name) = &patch.last_name {
            user.last_name.clone_from(name);
        }
        if let Some(locale) = patch.locale {
            user.locale = locale;
        }
        if let Some(public) = patch.profile_is_public {
            user.profile_is_public = public;
        }
        if let Some(attributes) = &patch.attributes {
            user.attributes = user
                .attributes
                .patched(attributes, specs)
                .map_err(ProfileError::InvalidAttributes)?;
        }
        Ok(())
    })
    .await
}

/// `POST /v1/users/me/password`: needs the current password; ends every
/// other session and keeps the caller's; a notice goes out. Guesses at the
/// current password (a stolen access token) count toward the account's
/// sign-in throttle, as wrong passwords at sign-in do.
pub async fn change_password(
    app: &App,
    caller: &Principal,
    client_ip: &str,
    current: Password,
    new_password: &str,
) -> Result<(), ProfileError> {
    let account = reauth::check_password(app, caller.user_id, current, client_ip).await?;
    let user = account.user;
    let password = user
        .new_password(new_password, &app.config.password_policy)
        .map_err(ProfileError::WeakPassword)?;
    let hash = passwords::hash(password, app.config.argon2).await?;
    let (user, sessions_ended) = change(
        app.store.as_ref(),
        app.clock.now(),
        caller.user_id,
        || ProfileError::CallerGone,
        Writes {
            password_hash: Some(&hash),
            end_sessions: EndSessions::AllExcept(caller.session_id),
            event: Some(&SecurityEvent::new(
                caller.user_id,
                EventKind::PasswordChanged,
                Actor::Owner,
                SessionOrigin::new(client_ip, None),
                app.clock.now(),
            )),
        },
        |_| Ok(()),
    )
    .await?;
    tracing::info!(user_id = %user.id, sessions_ended, "password changed");
    let message = mail::password_changed(&user, user.updated_at);
    notify::send(app, &user, &message, "password changed").await;
    Ok(())
}

/// `POST /v1/users/me/addresses`.
pub async fn add_address(
    app: &App,
    caller: &Principal,
    address: AddressValue,
    name: Option<PersonName>,
) -> Result<AddressId, ProfileError> {
    let id = AddressId::new();
    let now = app.clock.now();
    change_own(app, caller, |user| {
        if user.addresses.iter().any(|known| known.address == address) {
            return Err(ProfileError::AddressExists);
        }
        if user.addresses.len() >= MAX_ADDRESSES {
            return Err(ProfileError::TooManyAddresses);
        }
        user.addresses.push(Address {
            id,
            address: address.clone(),
            name: name.clone(),
            created_at: now,
        });
        Ok(())
    })
    .await?;
    Ok(id)
}

/// `DELETE /v1/users/me/addresses/{address_id}`: only the caller's own.
pub async fn delete_address(
    app: &App,
    caller: &Principal,
    address_id: AddressId,
) -> Result<(), ProfileError> {
    change_own(app, caller, |user| {
        let before = user.addresses.len();
        user.addresses.retain(|address| address.id != address_id);
        if user.addresses.len() == before {
            return Err(ProfileError::AddressNotFound);
        }
        Ok(())
    })
    .await?;
    Ok(())
}

/// Who is looking at a profile, which decides what they see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    /// The account's owner or an admin: the whole `User`.
    Privileged,
    /// Anyone else: `PublicUser`.
    Public,
}

/// `GET /v1/users/{id}`: the account and how much of it the caller sees.
/// A disabled account is not found for anyone but an admin.
pub async fn view_user(
    app: &App,
    caller: Option<&Principal>,
    id: UserId,
) -> Result<(User, Viewer), ProfileError> {
    let user = app
        .store
        .get_user(id)
        .await?
        .ok_or(ProfileError::UserNotFound)?;
    let is_admin = match caller {
        Some(caller) if caller.user_id != id => app
            .store
            .get_user(caller.user_id)
            .await?
            .is_some_and(|viewer| viewer.is_admin()),
        _ => false,
    };
    let is_owner = caller.is_some_and(|caller| caller.user_id == id);
    if is_owner || is_admin {
        return Ok((user, Viewer::Privileged));
    }
    // When registration does not reveal taken addresses, the account it
    // makes up for one is never stored; unconfirmed accounts are hidden too,
    // so the Location of either reads the same.
    let hidden_while_waiting =
        !app.config.registration_reveals_existing && user.status == AccountStatus::Waiting;
    if user.status == AccountStatus::Disabled || hidden_while_waiting {
        return Err(ProfileError::UserNotFound);
    }
    Ok((user, Viewer::Public))
}

/// `PATCH /v1/admin/users/{id}`: what an admin may set.
#[derive(Debug, Default)]
pub struct AdminChange {
    pub status: Option<AccountStatus>,
    pub roles: Option<Roles>,
}

/// Applies an admin's change. Disabling ends every session in the same
/// transaction, so the account's tokens stop working at once.
pub async fn admin_update(
    app: &App,
    caller: &Principal,
    id: UserId,
    request: AdminChange,
) -> Result<User, ProfileError> {
    require_admin(app, caller).await?;
    apply_admin_change(
        app.store.as_ref(),
        app.clock.now(),
        id,
        request,
        Some(caller.user_id),
    )
    .await
}

/// `GET /v1/admin/users/{id}`: the whole account, disabled or not.
pub async fn admin_view(app: &App, caller: &Principal, id: UserId) -> Result<User, ProfileError> {
    require_admin(app, caller).await?;
    app.store
        .get_user(id)
        .await?
        .ok_or(ProfileError::UserNotFound)
}

/// `GET /v1/admin/users`: accounts of one type, newest first, filtered.
pub async fn search_users(
    app: &App,
    caller: &Principal,
    search: &UserSearch,
) -> Result<UserPage, ProfileError> {
    require_admin(app, caller).await?;
    Ok(app.store.search_users(search).await?)
}

/// The caller's account holds the `admin` role (read now, not from the
/// token: a role taken away takes effect at once).
async fn require_admin(app: &App, caller: &Principal) -> Result<(), ProfileError> {
    let admin = app
        .store
        .get_user(caller.user_id)
        .await?
        .ok_or(ProfileError::CallerGone)?;
    if admin.is_admin() {
        Ok(())
    } else {
        Err(ProfileError::Forbidden)
    }
}

/// The change itself, for the admin endpoint and the operator program
/// (`acting` is the admin making it, `None` for the operator).
pub async fn apply_admin_change(
    store: &dyn Store,
    now: OffsetDateTime,
    id: UserId,
    request: AdminChange,
    acting: Option<UserId>,
) -> Result<User, ProfileError> {
    let disabling = request.status == Some(AccountStatus::Disabled);
    if acting == Some(id) {
        let drops_admin = request
            .roles
            .as_ref()
            .is_some_and(|roles| !roles.contains(&Role::admin()));
        // `waiting` locks out as surely as `disabled` does: sign-in then
        // asks for an email confirmation that will never come.
        if request
            .status
            .is_some_and(|status| status != AccountStatus::Active)
        {
            return Err(ProfileError::SelfLockout { field: "status" });
        }
        if drops_admin {
            return Err(ProfileError::SelfLockout { field: "roles" });
        }
    }
    let end_sessions = if disabling {
        EndSessions::All
    } else {
        EndSessions::None
    };
    let actor = acting.map_or(Actor::Operator, Actor::Admin);
    let mut event = SecurityEvent::new(
        id,
        EventKind::AccountChanged,
        actor,
        SessionOrigin::default(),
        now,
    );
    if let Some(status) = request.status {
        event = event.with("status", status.as_str());
    }
    if let Some(roles) = &request.roles {
        let roles: Vec<Role> = roles.clone().into();
        let names: Vec<&str> = roles.iter().map(Role::as_str).collect();
        event = event.with("roles", names.join(" "));
    }
    let (user, sessions_ended) = change(
        store,
        now,
        id,
        || ProfileError::UserNotFound,
        Writes {
            password_hash: None,
            end_sessions,
            event: Some(&event),
        },
        |user| {
            if let Some(status) = request.status {
                user.status = status;
            }
            if let Some(roles) = &request.roles {
                user.roles = roles.clone().into();
            }
            Ok(())
        },
    )
    .await?;
    tracing::info!(
        user_id = %user.id,
        status = user.status.as_str(),
        roles = ?user.roles,
        acting = ?acting,
        sessions_ended,
        "account changed by an admin"
    );
    Ok(user)
}
