//! `ApiError`: every way a request can fail, mapped once to a status, a
//! stable `code` and a problem document. Service errors convert into it here
//! and nowhere else.

use http::StatusCode;

use crate::domain::{AttributeError, PasswordError};
use crate::ports::{BoxError, StoreError};
use crate::services::clients::ClientTokenError;
use crate::services::confirm::ConfirmError;
use crate::services::exists::ExistsError;
use crate::services::limits::LimitedError;
use crate::services::login::LoginError;
use crate::services::passwords::HashError;
use crate::services::profile::ProfileError;
use crate::services::register::RegisterError;
use crate::services::reset::ResetError;
use crate::services::sessions::SessionError;
use crate::tokens::IssueError;

/// Codes inside `validation_failed`, one per invalid field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldCode {
    Required,
    InvalidEmail,
    PasswordTooShort,
    PasswordTooLong,
    PasswordTooCommon,
    PasswordMismatch,
    InvalidLogin,
    InvalidFirstName,
    InvalidLastName,
    InvalidLocale,
    InvalidAttribute,
    TooLong,
    /// A list with more entries than allowed (addresses, roles).
    TooMany,
    /// A value of the wrong type or content where no specific code applies
    /// (a flag that is not a boolean).
    InvalidValue,
}

impl FieldCode {
    pub const ALL: [FieldCode; 14] = [
        Self::Required,
        Self::InvalidEmail,
        Self::PasswordTooShort,
        Self::PasswordTooLong,
        Self::PasswordTooCommon,
        Self::PasswordMismatch,
        Self::InvalidLogin,
        Self::InvalidFirstName,
        Self::InvalidLastName,
        Self::InvalidLocale,
        Self::InvalidAttribute,
        Self::TooLong,
        Self::TooMany,
        Self::InvalidValue,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Required => "required",
            Self::InvalidEmail => "invalid_email",
            Self::PasswordTooShort => "password_too_short",
            Self::PasswordTooLong => "password_too_long",
            Self::PasswordTooCommon => "password_too_common",
            Self::PasswordMismatch => "password_mismatch",
            Self::InvalidLogin => "invalid_login",
            Self::InvalidFirstName => "invalid_first_name",
            Self::InvalidLastName => "invalid_last_name",
            Self::InvalidLocale => "invalid_locale",
            Self::InvalidAttribute => "invalid_attribute",
            Self::TooLong => "too_long",
            Self::TooMany => "too_many",
            Self::InvalidValue => "invalid_value",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub code: FieldCode,
    /// Extra words for the message, such as the minimum password length.
    pub detail: Option<String>,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: FieldCode) -> Self {
        Self {
            field: field.into(),
            code,
            detail: None,
        }
    }

    /// The error of a new password in the field `field`.
    pub fn password(field: &str, error: PasswordError) -> Self {
        let mut field = Self::new(
            field,
            match error {
                PasswordError::TooShort(_) => FieldCode::PasswordTooShort,
                PasswordError::TooLong => FieldCode::PasswordTooLong,
                // API.md has one code for both: a guessable password.
                PasswordError::TooCommon | PasswordError::SameAsIdentifier => {
                    FieldCode::PasswordTooCommon
                }
            },
        );
        if let PasswordError::TooShort(minimum) = error {
            field.detail = Some(minimum.to_string());
        }
        field
    }

    /// The error of one declared attribute, in the field `attributes.<name>`.
    pub fn attribute(error: AttributeError) -> Self {
        let (name, code) = match error {
            AttributeError::NotAnObject => {
                return Self::new("attributes", FieldCode::InvalidAttribute);
            }
            AttributeError::Missing(name) => (name, FieldCode::Required),
            AttributeError::Undeclared(name) | AttributeError::WrongType(name) => {
                (name, FieldCode::InvalidAttribute)
            }
        };
        let mut field = Self::new(format!("attributes.{name}"), code);
        field.detail = Some(name);
        field
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("malformed body")]
    MalformedBody,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("email taken")]
    EmailTaken,
    #[error("login taken")]
    LoginTaken,
    #[error("invalid confirmation code")]
    InvalidConfirmationCode,
    #[error("invalid reset token")]
    InvalidResetToken,
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("forbidden")]
    Forbidden,
    #[error("user not found")]
    UserNotFound,
    #[error("address exists")]
    AddressExists,
    #[error("address not found")]
    AddressNotFound,
    #[error("email not confirmed")]
    EmailNotConfirmed,
    #[error("account disabled")]
    AccountDisabled,
    #[error("invalid token")]
    InvalidToken,
    #[error("invalid client")]
    InvalidClient,
    #[error("unsupported grant type")]
    UnsupportedGrantType,
    #[error("invalid scope")]
    InvalidScope,
    #[error("no such route")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    /// Too many requests from this client: `429` with `Retry-After`.
    #[error("rate limited")]
    RateLimited { retry_after_seconds: u64 },
    /// Sign-in throttled after failed attempts: `429` with `Retry-After`.
    #[error("too many attempts")]
    TooManyAttempts { retry_after_seconds: u64 },
    /// A dependency is throttling us: the client may retry after a pause.
    #[error("service unavailable")]
    Unavailable(#[source] BoxError),
    /// Anything else: an opaque 500; the chain goes to the log.
    #[error("internal error")]
    Internal(#[source] BoxError),
}

/// Seconds a client should wait after a `503` caused by throttling.
pub const UNAVAILABLE_RETRY_AFTER_SECONDS: u64 = 1;

impl ApiError {
    /// Every code, for the message catalogue's completeness test.
    pub const CODES: [&'static str; 25] = [
        "validation_failed",
        "malformed_body",
        "unsupported_media_type",
        "payload_too_large",
        "email_taken",
        "login_taken",
        "invalid_confirmation_code",
        "invalid_reset_token",
        "invalid_credentials",
        "forbidden",
        "user_not_found",
        "address_exists",
        "address_not_found",
        "email_not_confirmed",
        "account_disabled",
        "invalid_token",
        "invalid_client",
        "unsupported_grant_type",
        "invalid_scope",
        "not_found",
        "method_not_allowed",
        "rate_limited",
        "too_many_attempts",
        "service_unavailable",
        "internal_error",
    ];

    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation(_) => "validation_failed",
            Self::MalformedBody => "malformed_body",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::PayloadTooLarge => "payload_too_large",
            Self::EmailTaken => "email_taken",
            Self::LoginTaken => "login_taken",
            Self::InvalidConfirmationCode => "invalid_confirmation_code",
            Self::InvalidResetToken => "invalid_reset_token",
            Self::InvalidCredentials => "invalid_credentials",
            Self::Forbidden => "forbidden",
            Self::UserNotFound => "user_not_found",
            Self::AddressExists => "address_exists",
            Self::AddressNotFound => "address_not_found",
            Self::EmailNotConfirmed => "email_not_confirmed",
            Self::AccountDisabled => "account_disabled",
            Self::InvalidToken => "invalid_token",
            Self::InvalidClient => "invalid_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::RateLimited { .. } => "rate_limited",
            Self::TooManyAttempts { .. } => "too_many_attempts",
            Self::Unavailable(_) => "service_unavailable",
            Self::Internal(_) => "internal_error",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation(_)
            | Self::MalformedBody
            | Self::InvalidConfirmationCode
            | Self::InvalidResetToken
            | Self::UnsupportedGrantType
            | Self::InvalidScope => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::EmailTaken | Self::LoginTaken | Self::AddressExists => StatusCode::CONFLICT,
            Self::InvalidCredentials | Self::InvalidToken | Self::InvalidClient => {
                StatusCode::UNAUTHORIZED
            }
            Self::EmailNotConfirmed | Self::AccountDisabled | Self::Forbidden => {
                StatusCode::FORBIDDEN
            }
            Self::NotFound | Self::UserNotFound | Self::AddressNotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::RateLimited { .. } | Self::TooManyAttempts { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The RFC 6749 §5.2 `error` value, for the errors of the token endpoint.
    pub fn oauth_error(&self) -> Option<&'static str> {
        match self {
            Self::InvalidClient | Self::UnsupportedGrantType | Self::InvalidScope => {
                Some(self.code())
            }
            _ => None,
        }
    }

    fn internal(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(error))
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Throttled(_) => Self::Unavailable(Box::new(error)),
            StoreError::EmailTaken => Self::EmailTaken,
            StoreError::LoginTaken => Self::LoginTaken,
            other => Self::internal(other),
        }
    }
}

impl From<HashError> for ApiError {
    fn from(error: HashError) -> Self {
        Self::internal(error)
    }
}

impl From<IssueError> for ApiError {
    fn from(error: IssueError) -> Self {
        match error {
            IssueError::Signer(crate::ports::SignerError::Throttled(_)) => {
                Self::Unavailable(Box::new(error))
            }
            other => Self::internal(other),
        }
    }
}

impl From<RegisterError> for ApiError {
    fn from(error: RegisterError) -> Self {
        match error {
            RegisterError::RateLimited {
                retry_after_seconds,
            } => Self::RateLimited {
                retry_after_seconds,
            },
            RegisterError::EmailTaken => Self::EmailTaken,
            RegisterError::LoginTaken => Self::LoginTaken,
            RegisterError::Hash(error) => error.into(),
            RegisterError::Store(error) => error.into(),
        }
    }
}

impl From<ConfirmError> for ApiError {
    fn from(error: ConfirmError) -> Self {
        match error {
            ConfirmError::InvalidCode => Self::InvalidConfirmationCode,
            ConfirmError::Store(error) => error.into(),
        }
    }
}

impl From<LoginError> for ApiError {
    fn from(error: LoginError) -> Self {
        match error {
            LoginError::InvalidCredentials => Self::InvalidCredentials,
            LoginError::EmailNotConfirmed => Self::EmailNotConfirmed,
            LoginError::AccountDisabled => Self::AccountDisabled,
            LoginError::TooManyAttempts {
                retry_after_seconds,
            } => Self::TooManyAttempts {
                retry_after_seconds,
            },
            LoginError::Hash(error) => error.into(),
            LoginError::Store(error) => error.into(),
            LoginError::Issue(error) => error.into(),
        }
    }
}

impl From<SessionError> for ApiError {
    fn from(error: SessionError) -> Self {
        match error {
            SessionError::InvalidToken => Self::InvalidToken,
            SessionError::Store(error) => error.into(),
            SessionError::Issue(error) => error.into(),
        }
    }
}

impl From<ClientTokenError> for ApiError {
    fn from(error: ClientTokenError) -> Self {
        match error {
            ClientTokenError::InvalidClient => Self::InvalidClient,
            ClientTokenError::InvalidScope => Self::InvalidScope,
            ClientTokenError::Store(error) => error.into(),
            ClientTokenError::Issue(error) => error.into(),
        }
    }
}

impl From<LimitedError> for ApiError {
    fn from(error: LimitedError) -> Self {
        match error {
            LimitedError::RateLimited {
                retry_after_seconds,
            } => Self::RateLimited {
                retry_after_seconds,
            },
            LimitedError::Store(error) => error.into(),
        }
    }
}

impl From<ExistsError> for ApiError {
    fn from(error: ExistsError) -> Self {
        match error {
            // Switched off: indistinguishable from a route that never was.
            ExistsError::Disabled => Self::NotFound,
            ExistsError::Limited(error) => error.into(),
        }
    }
}

impl From<ResetError> for ApiError {
    fn from(error: ResetError) -> Self {
        match error {
            ResetError::InvalidToken => Self::InvalidResetToken,
            ResetError::WeakPassword(error) => {
                Self::Validation(vec![FieldError::password("password", error)])
            }
            ResetError::Hash(error) => error.into(),
            ResetError::Store(error) => error.into(),
        }
    }
}

impl From<ProfileError> for ApiError {
    fn from(error: ProfileError) -> Self {
        match error {
            ProfileError::CallerGone => Self::InvalidToken,
            ProfileError::UserNotFound => Self::UserNotFound,
            ProfileError::Forbidden => Self::Forbidden,
            ProfileError::LoginTaken => Self::LoginTaken,
            ProfileError::InvalidCredentials => Self::InvalidCredentials,
            ProfileError::TooManyAttempts {
                retry_after_seconds,
            } => Self::TooManyAttempts {
                retry_after_seconds,
            },
            ProfileError::WeakPassword(error) => {
                Self::Validation(vec![FieldError::password("new_password", error)])
            }
            ProfileError::InvalidAttributes(errors) => {
                Self::Validation(errors.into_iter().map(FieldError::attribute).collect())
            }
            ProfileError::AddressExists => Self::AddressExists,
            ProfileError::TooManyAddresses => {
                Self::Validation(vec![FieldError::new("address", FieldCode::TooMany)])
            }
            ProfileError::AddressNotFound => Self::AddressNotFound,
            ProfileError::SelfLockout { field } => {
                Self::Validation(vec![FieldError::new(field, FieldCode::InvalidValue)])
            }
            ProfileError::TooManyRoles => {
                Self::Validation(vec![FieldError::new("roles", FieldCode::TooMany)])
            }
            ProfileError::Hash(error) => error.into(),
            ProfileError::Store(error) => error.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_code_is_listed_for_the_catalogue() {
        let every_variant = [
            ApiError::Validation(Vec::new()),
            ApiError::MalformedBody,
            ApiError::UnsupportedMediaType,
            ApiError::PayloadTooLarge,
            ApiError::EmailTaken,
            ApiError::LoginTaken,
            ApiError::InvalidConfirmationCode,
            ApiError::InvalidResetToken,
            ApiError::InvalidCredentials,
            ApiError::Forbidden,
            ApiError::UserNotFound,
            ApiError::AddressExists,
            ApiError::AddressNotFound,
            ApiError::EmailNotConfirmed,
            ApiError::AccountDisabled,
            ApiError::InvalidToken,
            ApiError::InvalidClient,
            ApiError::UnsupportedGrantType,
            ApiError::InvalidScope,
            ApiError::NotFound,
            ApiError::MethodNotAllowed,
            ApiError::RateLimited {
                retry_after_seconds: 1,
            },
            ApiError::TooManyAttempts {
                retry_after_seconds: 1,
            },
            ApiError::Unavailable("x".into()),
            ApiError::Internal("x".into()),
        ];
        let codes: Vec<&str> = every_variant.iter().map(ApiError::code).collect();
        assert_eq!(codes, ApiError::CODES);
    }
}
