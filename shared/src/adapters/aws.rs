//! The one place the AWS SDK's shared configuration is loaded, so every
//! client (Lambda, local-api, the admin tool, tests) talks TLS the same way.

use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_smithy_http_client::{
    Builder,
    tls::{Provider, rustls_provider::CryptoMode},
};

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
