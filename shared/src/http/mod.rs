//! The HTTP side shared by every endpoint: body parsing into fields, the one
//! `ApiError` → `application/problem+json` mapping, localized messages,
//! response views and the per-request envelope (request id, log line).

pub mod auth;
pub mod body;
pub mod error;
pub mod forms;
pub mod i18n;
pub mod respond;
pub mod views;

pub use body::{Fields, MAX_BODY_BYTES, Validator, parse_fields};
pub use error::{ApiError, ErrorCode, FieldCode, FieldError};
pub use respond::{RequestMeta, finish, json_response, no_content};
