//! `ApiError`: every way a request can fail, mapped once to a status, a
//! stable `code` and a problem document. Service errors convert into it here
//! and nowhere else.

use http::StatusCode;

use crate::domain::{AttributeError, PasswordError};
use crate::ports::{BoxError, MacError, SealError, StoreError};
use crate::services::account_deletion::DeletionError;
use crate::services::clients::ClientTokenError;
use crate::services::confirm::ConfirmError;
use crate::services::email_change::EmailChangeError;
use crate::services::email_code::EmailCodeError;
use crate::services::exists::ExistsError;
use crate::services::export::ExportError;
use crate::services::factors::FactorError;
use crate::services::federation::FederationError;
use crate::services::limits::LimitedError;
use crate::services::login::LoginError;
use crate::services::mfa::{MfaError, MfaRequired};
use crate::services::passkeys::PasskeyServiceError;
use crate::services::passwords::HashError;
use crate::services::profile::ProfileError;
use crate::services::reauth::ReauthError;
use crate::services::register::RegisterError;
use crate::services::reset::ResetError;
use crate::services::security_log::SecurityLogError;
use crate::services::session_management::SessionManagementError;
use crate::services::sessions::SessionError;
use crate::tokens::IssueError;

/// Declares a fieldless enum of codes once: the variants, `ALL` and each
/// variant's wire string (and, for problem codes, its status) come from the
/// same line, so no list of codes can fall out of step with the enum.
macro_rules! codes {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident = $code:literal $(, $status:ident)? ; )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$variant_meta])* $variant, )+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$(Self::$variant),+];

            /// The stable string clients match on.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)+
                }
            }
        }

        codes!(@status $name $( $variant $($status)? ; )+);
    };
    (@status $name:ident $( $variant:ident ; )+) => {};
    (@status $name:ident $( $variant:ident $status:ident ; )+) => {
        impl $name {
            pub fn status(self) -> StatusCode {
                match self {
                    $(Self::$variant => StatusCode::$status,)+
                }
            }
        }
    };
}

codes! {
    /// Codes inside `validation_failed`, one per invalid field.
    pub enum FieldCode {
        Required = "required";
        InvalidEmail = "invalid_email";
        PasswordTooShort = "password_too_short";
        PasswordTooLong = "password_too_long";
        PasswordTooCommon = "password_too_common";
        PasswordMismatch = "password_mismatch";
        InvalidLogin = "invalid_login";
        InvalidFirstName = "invalid_first_name";
        InvalidLastName = "invalid_last_name";
        InvalidLocale = "invalid_locale";
        InvalidAttribute = "invalid_attribute";
        TooLong = "too_long";
        /// A list with more entries than allowed (addresses, roles).
        TooMany = "too_many";
        /// A value of the wrong type or content where no specific code applies
        /// (a flag that is not a boolean).
        InvalidValue = "invalid_value";
    }
}

codes! {
    /// Every problem a response can carry: its `code` and HTTP status. The
    /// message catalogue (`i18n`) matches on it exhaustively, so a new code
    /// does not compile until it has its texts in every locale.
    pub enum ErrorCode {
        ValidationFailed = "validation_failed", BAD_REQUEST;
        MalformedBody = "malformed_body", BAD_REQUEST;
        UnsupportedMediaType = "unsupported_media_type", UNSUPPORTED_MEDIA_TYPE;
        PayloadTooLarge = "payload_too_large", PAYLOAD_TOO_LARGE;
        EmailTaken = "email_taken", CONFLICT;
        LoginTaken = "login_taken", CONFLICT;
        InvalidConfirmationCode = "invalid_confirmation_code", BAD_REQUEST;
        InvalidResetToken = "invalid_reset_token", BAD_REQUEST;
        InvalidCredentials = "invalid_credentials", UNAUTHORIZED;
        Forbidden = "forbidden", FORBIDDEN;
        UserNotFound = "user_not_found", NOT_FOUND;
        AddressExists = "address_exists", CONFLICT;
        AddressNotFound = "address_not_found", NOT_FOUND;
        EmailNotConfirmed = "email_not_confirmed", FORBIDDEN;
        AccountDisabled = "account_disabled", FORBIDDEN;
        InvalidToken = "invalid_token", UNAUTHORIZED;
        InvalidClient = "invalid_client", UNAUTHORIZED;
        UnsupportedGrantType = "unsupported_grant_type", BAD_REQUEST;
        InvalidScope = "invalid_scope", BAD_REQUEST;
        NotFound = "not_found", NOT_FOUND;
        MethodNotAllowed = "method_not_allowed", METHOD_NOT_ALLOWED;
        RateLimited = "rate_limited", TOO_MANY_REQUESTS;
        TooManyAttempts = "too_many_attempts", TOO_MANY_REQUESTS;
        /// The password was right; the second factor must follow.
        MfaRequired = "mfa_required", FORBIDDEN;
        /// A second-factor code at sign-in: wrong, replayed or spent.
        InvalidCode = "invalid_code", UNAUTHORIZED;
        /// A code that does not prove a factor being enrolled: the same
        /// code as at sign-in, but the request (not the caller) is at fault.
        InvalidEnrolmentCode = "invalid_code", BAD_REQUEST;
        ReauthenticationRequired = "reauthentication_required", FORBIDDEN;
        FactorLimit = "factor_limit", CONFLICT;
        FactorNotFound = "factor_not_found", NOT_FOUND;
        /// A passkey sign-in that did not verify, whatever was wrong.
        InvalidCredential = "invalid_credential", UNAUTHORIZED;
        /// A new passkey the registration ceremony did not accept: the
        /// same code, but the request (not the caller) is at fault.
        InvalidRegistration = "invalid_credential", BAD_REQUEST;
        PasskeyNotFound = "passkey_not_found", NOT_FOUND;
        SessionNotFound = "session_not_found", NOT_FOUND;
        /// A provider sign-in that cannot start: the field at fault is
        /// listed as in `validation_failed`.
        InvalidRequest = "invalid_request", BAD_REQUEST;
        ProviderNotFound = "provider_not_found", NOT_FOUND;
        /// Our one-time code after a provider sign-in: unknown, spent,
        /// expired, or the app's verifier does not answer its challenge.
        InvalidGrant = "invalid_grant", BAD_REQUEST;
        /// A provider's callback whose state names no app to return to.
        InvalidState = "invalid_state", BAD_REQUEST;
        IdentityNotFound = "identity_not_found", NOT_FOUND;
        LastSignInMethod = "last_sign_in_method", CONFLICT;
        ServiceUnavailable = "service_unavailable", SERVICE_UNAVAILABLE;
        InternalError = "internal_error", INTERNAL_SERVER_ERROR;
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
                // One code for both: a guessable password (README, "Endpoints").
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
    /// The problem carries the token and methods that finish the sign-in.
    #[error("a second factor is required")]
    MfaRequired(MfaRequired),
    #[error("invalid code")]
    InvalidCode,
    #[error("invalid enrolment code")]
    InvalidEnrolmentCode,
    #[error("reauthentication required")]
    ReauthenticationRequired,
    #[error("factor limit reached")]
    FactorLimit,
    #[error("factor not found")]
    FactorNotFound,
    #[error("invalid credential")]
    InvalidCredential,
    #[error("invalid registration")]
    InvalidRegistration,
    #[error("passkey not found")]
    PasskeyNotFound,
    #[error("session not found")]
    SessionNotFound,
    #[error("invalid request")]
    InvalidRequest(FieldError),
    #[error("provider not found")]
    ProviderNotFound,
    #[error("invalid grant")]
    InvalidGrant,
    #[error("invalid state")]
    InvalidState,
    #[error("identity not found")]
    IdentityNotFound,
    #[error("last way to sign in")]
    LastSignInMethod,
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
    /// What went wrong, as the code a client sees.
    pub fn kind(&self) -> ErrorCode {
        match self {
            Self::Validation(_) => ErrorCode::ValidationFailed,
            Self::MalformedBody => ErrorCode::MalformedBody,
            Self::UnsupportedMediaType => ErrorCode::UnsupportedMediaType,
            Self::PayloadTooLarge => ErrorCode::PayloadTooLarge,
            Self::EmailTaken => ErrorCode::EmailTaken,
            Self::LoginTaken => ErrorCode::LoginTaken,
            Self::InvalidConfirmationCode => ErrorCode::InvalidConfirmationCode,
            Self::InvalidResetToken => ErrorCode::InvalidResetToken,
            Self::InvalidCredentials => ErrorCode::InvalidCredentials,
            Self::Forbidden => ErrorCode::Forbidden,
            Self::UserNotFound => ErrorCode::UserNotFound,
            Self::AddressExists => ErrorCode::AddressExists,
            Self::AddressNotFound => ErrorCode::AddressNotFound,
            Self::EmailNotConfirmed => ErrorCode::EmailNotConfirmed,
            Self::AccountDisabled => ErrorCode::AccountDisabled,
            Self::InvalidToken => ErrorCode::InvalidToken,
            Self::InvalidClient => ErrorCode::InvalidClient,
            Self::UnsupportedGrantType => ErrorCode::UnsupportedGrantType,
            Self::InvalidScope => ErrorCode::InvalidScope,
            Self::NotFound => ErrorCode::NotFound,
            Self::MethodNotAllowed => ErrorCode::MethodNotAllowed,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::TooManyAttempts { .. } => ErrorCode::TooManyAttempts,
            Self::MfaRequired(_) => ErrorCode::MfaRequired,
            Self::InvalidCode => ErrorCode::InvalidCode,
            Self::InvalidEnrolmentCode => ErrorCode::InvalidEnrolmentCode,
            Self::ReauthenticationRequired => ErrorCode::ReauthenticationRequired,
            Self::FactorLimit => ErrorCode::FactorLimit,
            Self::FactorNotFound => ErrorCode::FactorNotFound,
            Self::InvalidCredential => ErrorCode::InvalidCredential,
            Self::InvalidRegistration => ErrorCode::InvalidRegistration,
            Self::PasskeyNotFound => ErrorCode::PasskeyNotFound,
            Self::SessionNotFound => ErrorCode::SessionNotFound,
            Self::InvalidRequest(_) => ErrorCode::InvalidRequest,
            Self::ProviderNotFound => ErrorCode::ProviderNotFound,
            Self::InvalidGrant => ErrorCode::InvalidGrant,
            Self::InvalidState => ErrorCode::InvalidState,
            Self::IdentityNotFound => ErrorCode::IdentityNotFound,
            Self::LastSignInMethod => ErrorCode::LastSignInMethod,
            Self::Unavailable(_) => ErrorCode::ServiceUnavailable,
            Self::Internal(_) => ErrorCode::InternalError,
        }
    }

    pub fn code(&self) -> &'static str {
        self.kind().as_str()
    }

    pub fn status(&self) -> StatusCode {
        self.kind().status()
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
            LoginError::MfaRequired(required) => Self::MfaRequired(required),
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

impl From<SessionManagementError> for ApiError {
    fn from(error: SessionManagementError) -> Self {
        match error {
            SessionManagementError::SessionNotFound => Self::SessionNotFound,
            SessionManagementError::UserNotFound => Self::UserNotFound,
            SessionManagementError::Forbidden => Self::Forbidden,
            SessionManagementError::Store(error) => error.into(),
        }
    }
}

impl From<EmailChangeError> for ApiError {
    fn from(error: EmailChangeError) -> Self {
        match error {
            EmailChangeError::CallerGone => Self::InvalidToken,
            EmailChangeError::SameAddress => {
                Self::Validation(vec![FieldError::new("new_email", FieldCode::InvalidValue)])
            }
            EmailChangeError::EmailTaken => Self::EmailTaken,
            EmailChangeError::InvalidCode => Self::InvalidConfirmationCode,
            EmailChangeError::RateLimited {
                retry_after_seconds,
            } => Self::RateLimited {
                retry_after_seconds,
            },
            EmailChangeError::Store(error) => error.into(),
        }
    }
}

impl From<DeletionError> for ApiError {
    fn from(error: DeletionError) -> Self {
        match error {
            DeletionError::UserNotFound => Self::UserNotFound,
            DeletionError::Forbidden => Self::Forbidden,
            DeletionError::Reauth(error) => error.into(),
            DeletionError::Store(error) => error.into(),
        }
    }
}

impl From<SecurityLogError> for ApiError {
    fn from(error: SecurityLogError) -> Self {
        match error {
            SecurityLogError::UserNotFound => Self::UserNotFound,
            SecurityLogError::Forbidden => Self::Forbidden,
            SecurityLogError::Store(error) => error.into(),
        }
    }
}

impl From<ExportError> for ApiError {
    fn from(error: ExportError) -> Self {
        match error {
            ExportError::CallerGone => Self::InvalidToken,
            ExportError::Store(error) => error.into(),
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
            ProfileError::ReauthenticationRequired => Self::ReauthenticationRequired,
            ProfileError::Hash(error) => error.into(),
            ProfileError::Store(error) => error.into(),
        }
    }
}

impl From<EmailCodeError> for ApiError {
    fn from(error: EmailCodeError) -> Self {
        match error {
            // Switched off: indistinguishable from a route that never was.
            EmailCodeError::Disabled => Self::NotFound,
            EmailCodeError::RateLimited {
                retry_after_seconds,
            } => Self::RateLimited {
                retry_after_seconds,
            },
            EmailCodeError::InvalidCode => Self::InvalidCode,
            EmailCodeError::TooManyAttempts {
                retry_after_seconds,
            } => Self::TooManyAttempts {
                retry_after_seconds,
            },
            EmailCodeError::MfaRequired(required) => Self::MfaRequired(required),
            EmailCodeError::Mac(MacError::Throttled(error)) => Self::Unavailable(error),
            EmailCodeError::Mac(error) => Self::internal(error),
            EmailCodeError::Store(error) => error.into(),
            EmailCodeError::Issue(error) => error.into(),
        }
    }
}

impl From<SealError> for ApiError {
    fn from(error: SealError) -> Self {
        match error {
            SealError::Throttled(_) => Self::Unavailable(Box::new(error)),
            other => Self::internal(other),
        }
    }
}

impl From<ReauthError> for ApiError {
    fn from(error: ReauthError) -> Self {
        ProfileError::from(error).into()
    }
}

impl From<FactorError> for ApiError {
    fn from(error: FactorError) -> Self {
        match error {
            FactorError::CallerGone => Self::InvalidToken,
            FactorError::UserNotFound => Self::UserNotFound,
            FactorError::Forbidden => Self::Forbidden,
            FactorError::FactorLimit => Self::FactorLimit,
            FactorError::FactorNotFound | FactorError::NoActiveFactor => Self::FactorNotFound,
            FactorError::InvalidCode => Self::InvalidEnrolmentCode,
            FactorError::Seal(error) => error.into(),
            FactorError::Totp(error) => Self::internal(error),
            FactorError::Store(error) => error.into(),
        }
    }
}

impl From<MfaError> for ApiError {
    fn from(error: MfaError) -> Self {
        match error {
            MfaError::InvalidToken => Self::InvalidToken,
            MfaError::InvalidCode => Self::InvalidCode,
            MfaError::TooManyAttempts {
                retry_after_seconds,
            } => Self::TooManyAttempts {
                retry_after_seconds,
            },
            MfaError::Seal(error) => error.into(),
            MfaError::Passkeys(error) => Self::internal(error),
            MfaError::Store(error) => error.into(),
            MfaError::Issue(error) => error.into(),
        }
    }
}

impl From<FederationError> for ApiError {
    fn from(error: FederationError) -> Self {
        match error {
            FederationError::ProviderNotFound => Self::ProviderNotFound,
            FederationError::InvalidRequest(field) => {
                Self::InvalidRequest(FieldError::new(field, FieldCode::InvalidValue))
            }
            FederationError::InvalidGrant => Self::InvalidGrant,
            FederationError::AccountDisabled => Self::AccountDisabled,
            FederationError::MfaRequired(required) => Self::MfaRequired(required),
            FederationError::IdentityNotFound => Self::IdentityNotFound,
            FederationError::LastSignInMethod => Self::LastSignInMethod,
            FederationError::RateLimited {
                retry_after_seconds,
            } => Self::RateLimited {
                retry_after_seconds,
            },
            FederationError::Reauth(error) => error.into(),
            // Discovery failed: the provider may be back in a moment.
            FederationError::Provider(error) => Self::Unavailable(Box::new(error)),
            FederationError::Store(error) => error.into(),
            FederationError::Issue(error) => error.into(),
        }
    }
}

impl From<PasskeyServiceError> for ApiError {
    fn from(error: PasskeyServiceError) -> Self {
        match error {
            PasskeyServiceError::CallerGone => Self::InvalidToken,
            PasskeyServiceError::RegistrationRefused => Self::InvalidRegistration,
            PasskeyServiceError::InvalidCredential => Self::InvalidCredential,
            PasskeyServiceError::PasskeyNotFound => Self::PasskeyNotFound,
            PasskeyServiceError::PasskeyLimit => Self::FactorLimit,
            PasskeyServiceError::AccountDisabled => Self::AccountDisabled,
            PasskeyServiceError::EmailNotConfirmed => Self::EmailNotConfirmed,
            PasskeyServiceError::TooManyAttempts {
                retry_after_seconds,
            } => Self::TooManyAttempts {
                retry_after_seconds,
            },
            PasskeyServiceError::MfaRequired(required) => Self::MfaRequired(required),
            PasskeyServiceError::Config(error) => Self::internal(error),
            PasskeyServiceError::Mac(MacError::Throttled(error)) => Self::Unavailable(error),
            PasskeyServiceError::Mac(error) => Self::internal(error),
            PasskeyServiceError::Store(error) => error.into(),
            PasskeyServiceError::Issue(error) => error.into(),
        }
    }
}
