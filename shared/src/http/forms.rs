//! Field parsers more than one endpoint shares: an email field, the reset
//! form (the API and the hosted page post the same fields).

use crate::domain::{Email, EmailError};
use crate::http::body::Fields;
use crate::http::{ApiError, FieldCode, FieldError, Validator};

/// An address to look an account up by, reported in the field `email`.
pub fn email(text: &str) -> Result<Email, FieldError> {
    Email::parse(text).map_err(email_error)
}

/// A new account's address: lookalike local parts are refused too.
pub fn new_email(text: &str) -> Result<Email, FieldError> {
    Email::parse_new(text).map_err(email_error)
}

fn email_error(error: EmailError) -> FieldError {
    let code = match error {
        EmailError::Empty => FieldCode::Required,
        EmailError::TooLong => FieldCode::TooLong,
        EmailError::Invalid | EmailError::Lookalike => FieldCode::InvalidEmail,
    };
    FieldError::new("email", code)
}

/// `token`, `password` and a matching `password_confirmation`. The policy
/// check needs the account's email and login, so it runs in the service
/// once the token has named the account.
pub fn reset(fields: &Fields) -> Result<(String, String), ApiError> {
    let mut check = Validator::default();
    let token = check.required(
        "token",
        fields.text("token"),
        FieldCode::InvalidValue,
        |text| Ok(text.trim().to_owned()),
    );
    let password = check.required(
        "password",
        fields.text("password"),
        FieldCode::InvalidValue,
        |text| Ok(text.to_owned()),
    );
    check.confirmation(fields, "password_confirmation", password.as_deref());
    check.finish_with(|| Some((token?, password?)))
}
