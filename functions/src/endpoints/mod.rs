//! One module per endpoint: parse → one service call → response.

pub mod addresses;
pub mod client_token;
pub mod confirm;
pub mod email_exists;
pub mod keys;
pub mod login;
pub mod logout;
pub mod me;
pub mod pages;
pub mod password_reset;
pub mod refresh;
pub mod register;
pub mod resend_confirmation;
pub mod status;
pub mod token_info;
pub mod users;
