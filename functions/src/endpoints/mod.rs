//! One module per endpoint: parse → one service call → response.

pub mod account_deletion;
pub mod addresses;
pub mod client_token;
pub mod confirm;
pub mod email_change;
pub mod email_code;
pub mod email_exists;
pub mod export;
pub mod factors;
pub mod federation;
pub mod keys;
pub mod login;
pub mod logout;
pub mod me;
pub mod mfa;
pub mod pages;
pub mod passkeys;
pub mod password_reset;
pub mod refresh;
pub mod register;
pub mod resend_confirmation;
pub mod security_log;
pub mod sessions;
pub mod status;
pub mod token_info;
pub mod users;

use lambda_http::{Request, RequestExt};
use latchkey::domain::UserId;
use latchkey::http::ApiError;

/// The path's `{name}`, as sent.
pub(crate) fn path_parameter<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request
        .path_parameters_ref()
        .and_then(|parameters| parameters.first(name))
}

/// The account a path names by its `{id}`: `404 user_not_found` for one
/// that is not an id, as for an id that names nobody.
pub(crate) fn user_id_in_path(request: &Request) -> Result<UserId, ApiError> {
    path_parameter(request, "id")
        .and_then(UserId::parse)
        .ok_or(ApiError::UserNotFound)
}
