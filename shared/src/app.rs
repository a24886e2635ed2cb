//! `App`: the configuration and the adapters behind every port, built once
//! per process (per Lambda cold start) and shared by every request.

use std::sync::Arc;

use crate::Config;
use crate::adapters::dynamodb::DynamoStore;
use crate::adapters::kms::{KmsSigner, KmsSignerError, fetch_public_key};
use crate::adapters::kms_mac::KmsMac;
use crate::adapters::kms_sealer::KmsSealer;
use crate::adapters::secrets_manager::SecretsManagerSource;
use crate::adapters::ses::SesMailer;
use crate::ports::{
    Clock, CodeMac, MacError, Mailer, SealError, SealedSecret, SecretSealer, SecretSource, Store,
    SystemClock, TokenSigner,
};
use crate::services::pacing::Pacers;
use crate::tokens::{PublicKey, TokenVerifier, VerifierError};

pub struct App {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub mailer: Arc<dyn Mailer>,
    pub signer: Arc<dyn TokenSigner>,
    /// Seals secrets kept at rest (TOTP seeds).
    pub sealer: Arc<dyn SecretSealer>,
    /// Keyed hashes of emailed sign-in codes.
    pub code_mac: Arc<dyn CodeMac>,
    pub clock: Arc<dyn Clock>,
    /// The signing key's public half first, then keys being retired: what
    /// the JWKS publishes and what tokens verify against.
    pub public_keys: Vec<PublicKey>,
    /// Checks access tokens locally against `public_keys`.
    pub verifier: TokenVerifier,
    /// The providers people sign in with (`OIDC_PROVIDERS`), discovered
    /// and their client secrets read on first use.
    pub providers: crate::federation::Providers,
    /// How long forgot and resend take when they find an account, so they
    /// take as long when they find none.
    pub pacers: Pacers,
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

/// The adapters behind the ports, production or local.
pub struct Adapters {
    pub store: Arc<dyn Store>,
    pub mailer: Arc<dyn Mailer>,
    pub signer: Arc<dyn TokenSigner>,
    pub sealer: Arc<dyn SecretSealer>,
    pub code_mac: Arc<dyn CodeMac>,
    /// Where providers' client secrets are read.
    pub secrets: Arc<dyn SecretSource>,
}

impl App {
    pub fn new(
        config: Config,
        adapters: Adapters,
        previous_keys: Vec<PublicKey>,
    ) -> Result<Self, VerifierError> {
        let Adapters {
            store,
            mailer,
            signer,
            sealer,
            code_mac,
            secrets,
        } = adapters;
        let mut public_keys = vec![signer.public_key()];
        public_keys.extend(previous_keys);
        let verifier = TokenVerifier::new(
            &public_keys,
            &config.token_issuer,
            &config.token_audience,
            config.access_token_ttl,
        )?;
        Ok(Self {
            config,
            store,
            mailer,
            signer,
            sealer,
            code_mac,
            clock: Arc::new(SystemClock),
            public_keys,
            verifier,
            providers: crate::federation::Providers::new(secrets),
            pacers: Pacers::default(),
        })
    }

    /// The production adapters on one shared AWS configuration (region,
    /// credentials, and `AWS_ENDPOINT_URL` for an emulator).
    pub async fn on_aws(config: Config) -> Result<Self, StartupError> {
        Self::on_aws_with(config, &crate::adapters::aws::load_from_env().await).await
    }

    /// The production adapters on a given AWS configuration: each SDK client
    /// is built here once, and the signing key's public half is fetched here
    /// (which opens the KMS connection).
    pub async fn on_aws_with(
        config: Config,
        aws: &aws_config::SdkConfig,
    ) -> Result<Self, StartupError> {
        #[cfg(feature = "test-support")]
        crate::test_support::count_aws_client_set();
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(aws), &config.table_name)
            .with_audit_retention(config.audit_retention);
        let mailer = SesMailer::new(aws_sdk_sesv2::Client::new(aws), &config.mail_from);
        let kms = aws_sdk_kms::Client::new(aws);
        let signer = KmsSigner::connect_with(
            kms.clone(),
            &config.kms_key_id,
            config.signing_algorithm,
            config.kms_sign_raw,
        )
        .await?;
        let mut previous_keys = Vec::new();
        for key_id in &config.previous_signing_keys {
            previous_keys.push(
                fetch_public_key(&kms, key_id, config.signing_algorithm)
                    .await?
                    .1,
            );
        }
        let sealer: Arc<dyn SecretSealer> = match &config.secrets_key_id {
            Some(key_id) => Arc::new(KmsSealer::new(kms.clone(), key_id)),
            None => Arc::new(NoKey),
        };
        let code_mac: Arc<dyn CodeMac> = match &config.code_mac_key_id {
            Some(key_id) => Arc::new(KmsMac::new(kms, key_id)),
            None => Arc::new(NoKey),
        };
        let adapters = Adapters {
            store: Arc::new(store),
            mailer: Arc::new(mailer),
            signer: Arc::new(signer),
            sealer,
            code_mac,
            secrets: Arc::new(SecretsManagerSource::new(
                aws_sdk_secretsmanager::Client::new(aws),
            )),
        };
        Ok(Self::new(config, adapters, previous_keys)?)
    }

    /// Opens the connections an endpoint will use (in parallel), so its
    /// first request does not pay for DNS, TCP and TLS: part of a cold start.
    pub async fn open_connections(&self, store: bool, mail: bool) {
        let store = async {
            if store {
                self.store.open_connection().await;
            }
        };
        let mail = async {
            if mail {
                self.mailer.open_connection().await;
            }
        };
        tokio::join!(store, mail);
    }

    /// For Lambda: configuration from the environment, production adapters.
    pub async fn from_env() -> Result<Self, StartupError> {
        Self::on_aws(Config::from_env()?).await
    }
}

/// The sealer and MAC of a function deployed without `SECRETS_KEY_ID` or
/// `CODE_MAC_KEY_ID`: every use is a configuration error, reported as such.
struct NoKey;

#[async_trait::async_trait]
impl SecretSealer for NoKey {
    async fn seal(&self, _secret: &[u8], _purpose: &str) -> Result<SealedSecret, SealError> {
        Err(SealError::Failed("SECRETS_KEY_ID is not set".into()))
    }

    async fn open(&self, _sealed: &SealedSecret, _purpose: &str) -> Result<Vec<u8>, SealError> {
        Err(SealError::Failed("SECRETS_KEY_ID is not set".into()))
    }
}

#[async_trait::async_trait]
impl CodeMac for NoKey {
    async fn mac(&self, _message: &[u8]) -> Result<Vec<u8>, MacError> {
        Err(MacError::Failed("CODE_MAC_KEY_ID is not set".into()))
    }
}
