//! `App`: the configuration and the adapters behind every port, built once
//! per process (per Lambda cold start) and shared by every request.

use std::sync::Arc;

use crate::Config;
use crate::adapters::dynamodb::DynamoStore;
use crate::adapters::kms::{KmsSigner, KmsSignerError};
use crate::adapters::ses::SesMailer;
use crate::ports::{Clock, Mailer, Store, SystemClock, TokenSigner};
use crate::tokens::{TokenVerifier, VerifierError};

pub struct App {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub mailer: Arc<dyn Mailer>,
    pub signer: Arc<dyn TokenSigner>,
    pub clock: Arc<dyn Clock>,
    /// Checks access tokens locally against the signer's public key.
    pub verifier: TokenVerifier,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Signer(#[from] KmsSignerError),
    #[error(transparent)]
    Verifier(#[from] VerifierError),
}

impl App {
    pub fn new(
        config: Config,
        store: Arc<dyn Store>,
        mailer: Arc<dyn Mailer>,
        signer: Arc<dyn TokenSigner>,
    ) -> Result<Self, VerifierError> {
        let verifier = TokenVerifier::new(
            signer.algorithm(),
            &[(signer.key_id(), signer.public_key_pem())],
            &config.token_issuer,
            &config.token_audience,
        )?;
        Ok(Self {
            config,
            store,
            mailer,
            signer,
            clock: Arc::new(SystemClock),
            verifier,
        })
    }

    /// The production adapters on one shared AWS configuration (region,
    /// credentials, and `AWS_ENDPOINT_URL` for an emulator).
    pub async fn on_aws(config: Config) -> Result<Self, StartupError> {
        Self::on_aws_with(config, &aws_config::load_from_env().await).await
    }

    /// The production adapters on a given AWS configuration.
    pub async fn on_aws_with(
        config: Config,
        aws: &aws_config::SdkConfig,
    ) -> Result<Self, StartupError> {
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(aws), &config.table_name);
        let mailer = SesMailer::new(aws_sdk_sesv2::Client::new(aws), &config.mail_from);
        let signer = KmsSigner::connect_with(
            aws_sdk_kms::Client::new(aws),
            &config.kms_key_id,
            config.signing_algorithm,
            config.kms_sign_raw,
        )
        .await?;
        Ok(Self::new(
            config,
            Arc::new(store),
            Arc::new(mailer),
            Arc::new(signer),
        )?)
    }

    /// For Lambda: configuration from the environment, production adapters.
    pub async fn from_env() -> Result<Self, StartupError> {
        Self::on_aws(Config::from_env()?).await
    }
}
