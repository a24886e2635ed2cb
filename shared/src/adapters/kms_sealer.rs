//! [`SecretSealer`] on KMS: `GenerateDataKey` (AES-256) makes each secret's
//! data key and wraps it under the symmetric key `SECRETS_KEY_ID`; `Decrypt`
//! unwraps it to open. The purpose is the encryption context, so KMS itself
//! refuses to unwrap a key for another purpose, and CloudTrail records it.

use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;

use super::aws::SdkFailure;
use super::envelope;
use crate::ports::{SealError, SealedSecret, SecretSealer};

/// The encryption context's one key.
const CONTEXT_KEY: &str = "purpose";

pub struct KmsSealer {
    client: Client,
    key_id: String,
}

impl KmsSealer {
    pub fn new(client: Client, key_id: impl Into<String>) -> Self {
        Self {
            client,
            key_id: key_id.into(),
        }
    }
}

#[async_trait]
impl SecretSealer for KmsSealer {
    async fn seal(&self, secret: &[u8], purpose: &str) -> Result<SealedSecret, SealError> {
        let data_key = self
            .client
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256)
            .encryption_context(CONTEXT_KEY, purpose)
            .send()
            .await
            .map_err(classify)?;
        let (Some(plaintext), Some(wrapped)) = (data_key.plaintext(), data_key.ciphertext_blob())
        else {
            return Err(SealError::Failed("GenerateDataKey returned no key".into()));
        };
        let (nonce, ciphertext) = envelope::seal(plaintext.as_ref(), secret, purpose)?;
        Ok(SealedSecret {
            wrapped_key: wrapped.as_ref().to_vec(),
            nonce: nonce.to_vec(),
            ciphertext,
        })
    }

    async fn open(&self, sealed: &SealedSecret, purpose: &str) -> Result<Vec<u8>, SealError> {
        let unwrapped = self
            .client
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(sealed.wrapped_key.clone()))
            .encryption_context(CONTEXT_KEY, purpose)
            .send()
            .await
            .map_err(|error| match error.code() {
                // Another purpose's (or key's) wrapped key.
                Some("InvalidCiphertextException" | "IncorrectKeyException") => SealError::Tampered,
                _ => classify(error),
            })?;
        let data_key = unwrapped
            .plaintext()
            .ok_or_else(|| SealError::Failed("Decrypt returned no key".into()))?;
        envelope::open(
            data_key.as_ref(),
            &sealed.nonce,
            &sealed.ciphertext,
            purpose,
        )
    }
}

fn classify<E, R>(error: SdkError<E, R>) -> SealError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match super::aws::classify(error) {
        SdkFailure::Throttled(error) => SealError::Throttled(error),
        SdkFailure::Failed(error) => SealError::Failed(error),
    }
}
