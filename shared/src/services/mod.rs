//! The use cases, as plain async functions over the ports in [`App`](crate::App).
//! Each has its own error enum; the HTTP edge maps them to `ApiError` once.

pub mod clients;
pub mod confirm;
pub mod exists;
pub mod limits;
pub mod login;
pub mod notify;
pub mod pacing;
pub mod passwords;
pub mod profile;
pub mod register;
pub mod resend;
pub mod reset;
pub mod sessions;
pub mod throttle;
