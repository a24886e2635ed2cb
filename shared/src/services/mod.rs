//! The use cases, as plain async functions over the ports in [`App`](crate::App).
//! Each has its own error enum; the HTTP edge maps them to `ApiError` once.

pub mod account_deletion;
pub mod clients;
pub mod confirm;
pub mod email_change;
pub mod email_code;
pub mod exists;
pub mod export;
pub mod factors;
pub mod federation;
pub mod limits;
pub mod login;
pub mod mfa;
pub mod notify;
pub mod pacing;
pub mod passkeys;
pub mod passwords;
pub mod profile;
pub mod reauth;
pub mod register;
pub mod resend;
pub mod reset;
pub mod security_log;
pub mod session_management;
pub mod sessions;
pub mod throttle;

/// Collisions with concurrent writers (a conditional write finding the
/// account changed since it was read) before a change gives up.
const COLLISION_RETRIES: usize = 5;

/// The caller's account if it holds the `admin` role now: read now, not
/// from the token, so a role taken away takes effect at once.
async fn admin_caller(
    app: &crate::App,
    caller: &sessions::Principal,
) -> Result<Option<crate::domain::User>, crate::ports::StoreError> {
    Ok(app
        .store
        .get_user(caller.user_id)
        .await?
        .filter(crate::domain::User::is_admin))
}
