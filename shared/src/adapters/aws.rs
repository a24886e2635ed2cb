//! The one place the AWS SDK's shared configuration is loaded, so every
//! client (Lambda, local-api, the admin tool, tests) talks TLS the same way.

use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_http_client::{
    Builder,
    tls::{Provider, rustls_provider::CryptoMode},
};

use crate::ports::BoxError;

/// The SDK's usual loader (region, credentials and `AWS_ENDPOINT_URL` from
/// the environment) with an HTTPS client on rustls and ring. The SDK's own
/// default client uses aws-lc, which would put a second, larger crypto
/// library in every binary beside the RustCrypto code the tokens use.
pub fn config_loader() -> ConfigLoader {
    let https = Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest()).http_client(https)
}

/// [`config_loader`] loaded from the environment.
pub async fn load_from_env() -> SdkConfig {
    config_loader().load().await
}

/// What an AWS call's failure means for the caller: the service asked us
/// to slow down (answered 503 + `Retry-After`), or anything else (an opaque
/// 500). One list of throttling codes serves DynamoDB, KMS and SES.
pub(crate) enum SdkFailure {
    Throttled(BoxError),
    Failed(BoxError),
}

/// The error codes by which DynamoDB, KMS and SES v2 say "too many
/// requests" (`LimitExceededException` is KMS's request quota and SES's
/// sending rate).
const THROTTLING_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "LimitExceededException",
    "TooManyRequestsException",
];

// Every SDK crate re-exports the same smithy error types; DynamoDB's path
// names them for all three.
pub(crate) fn classify<E, R>(error: SdkError<E, R>) -> SdkFailure
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let throttled = error
        .code()
        .is_some_and(|code| THROTTLING_CODES.contains(&code));
    let boxed: BoxError = Box::new(error);
    if throttled {
        SdkFailure::Throttled(boxed)
    } else {
        SdkFailure::Failed(boxed)
    }
}
