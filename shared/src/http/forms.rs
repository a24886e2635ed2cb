//! Field parsers more than one endpoint shares: an email field, the reset
//! form (the API and the hosted page post the same fields), the user type,
//! the current password of a sensitive change.

use crate::domain::{Email, EmailError, Password, UserType, UserTypes};
use crate::http::body::{FieldValue, Fields};
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

/// The optional `source` field: the user type an entry point acts in; absent
/// is the default type, an unknown name a field error.
pub fn source(check: &mut Validator, fields: &Fields, types: &UserTypes) -> Option<UserType> {
    match fields.text("source") {
        FieldValue::Absent => Some(UserType::Default),
        value => check.optional("source", value, FieldCode::InvalidValue, |text| {
            source_named(Some(text), types)
        }),
    }
}

/// A `source` given as text (a query parameter): absent is the default type.
pub fn source_named(text: Option<&str>, types: &UserTypes) -> Result<UserType, FieldError> {
    types
        .source(text)
        .map_err(|_| FieldError::new("source", FieldCode::InvalidValue))
}

/// The optional `current_password` a sensitive change may carry instead of
/// a recent sign-in (only the length cap applies, as at sign-in).
pub fn current_password(check: &mut Validator, fields: &Fields) -> Option<Password> {
    check.optional(
        "current_password",
        fields.text("current_password"),
        FieldCode::InvalidValue,
        |text| {
            Password::candidate(text)
                .ok_or_else(|| FieldError::new("current_password", FieldCode::PasswordTooLong))
        },
    )
}

/// A passkey ceremony's answer: `challenge_id` and `credential` (the
/// browser's `RegistrationResponseJSON` or `AuthenticationResponseJSON`,
/// an object).
pub fn passkey_answer(
    check: &mut Validator,
    fields: &Fields,
) -> Option<(String, serde_json::Value)> {
    let challenge_id = check.required(
        "challenge_id",
        fields.text("challenge_id"),
        FieldCode::InvalidValue,
        |text| Ok(text.trim().to_owned()),
    );
    let credential = match fields.value("credential") {
        Some(value @ serde_json::Value::Object(_)) => Some(value.clone()),
        Some(_) => {
            check.push(FieldError::new("credential", FieldCode::InvalidValue));
            None
        }
        None => {
            check.push(FieldError::new("credential", FieldCode::Required));
            None
        }
    };
    Some((challenge_id?, credential?))
}
