//! The token signer on an asymmetric KMS key. The public key is fetched once
//! at start-up (which also opens the TLS connection the first request would
//! otherwise pay for); each token costs one `Sign` of its SHA-256 digest.

use super::aws::SdkFailure;
use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec, MessageType, SigningAlgorithmSpec};
use sha2::{Digest, Sha256};

use super::spki_der_to_pem;
use crate::ports::{BoxError, SignerError, SigningAlgorithm, TokenSigner};
use crate::tokens::PublicKey;

#[derive(Debug, thiserror::Error)]
pub enum KmsSignerError {
    #[error("GetPublicKey failed for {key}")]
    PublicKey {
        key: String,
        #[source]
        source: BoxError,
    },
    #[error("KMS key {key} is {actual}, but SIGNING_ALGORITHM {algorithm} needs {expected}")]
    WrongKeySpec {
        key: String,
        actual: String,
        algorithm: &'static str,
        expected: String,
    },
}

#[derive(Debug, Clone)]
pub struct KmsSigner {
    client: Client,
    /// The key's ARN, used for `Sign`.
    key_arn: String,
    kid: String,
    algorithm: SigningAlgorithm,
    public_key_pem: String,
    /// Send the signing input itself instead of its digest (emulators).
    sign_raw: bool,
}

impl KmsSigner {
    /// Fetches the public key and checks the key can sign with the algorithm.
    pub async fn connect(
        client: Client,
        key_id: &str,
        algorithm: SigningAlgorithm,
    ) -> Result<Self, KmsSignerError> {
        Self::connect_with(client, key_id, algorithm, false).await
    }

    /// `sign_raw`: send the whole signing input (`MessageType::Raw`, up to
    /// 4 KiB) instead of its SHA-256 digest. Only for emulators that do not
    /// implement `Digest`; KMS itself does both.
    pub async fn connect_with(
        client: Client,
        key_id: &str,
        algorithm: SigningAlgorithm,
        sign_raw: bool,
    ) -> Result<Self, KmsSignerError> {
        let (arn, key) = fetch_public_key(&client, key_id, algorithm).await?;
        Ok(Self {
            client,
            key_arn: arn,
            kid: key.kid,
            algorithm,
            public_key_pem: key.pem,
            sign_raw,
        })
    }
}

/// The public half of a KMS key (its ARN, and the key as published),
/// checked to sign with `algorithm`. Used for the signing key and for the
/// keys being retired.
pub async fn fetch_public_key(
    client: &Client,
    key_id: &str,
    algorithm: SigningAlgorithm,
) -> Result<(String, PublicKey), KmsSignerError> {
    #[cfg(feature = "test-support")]
    crate::test_support::count_public_key_fetch();
    let output = client
        .get_public_key()
        .key_id(key_id)
        .send()
        .await
        .map_err(|error| KmsSignerError::PublicKey {
            key: key_id.to_owned(),
            source: Box::new(error),
        })?;
    // What matters is that the key can make this algorithm's signatures;
    // the key spec is only for the error message (emulators omit it).
    let (needed, expected) = signing_spec(algorithm);
    if !output.signing_algorithms().contains(&needed) {
        return Err(KmsSignerError::WrongKeySpec {
            key: key_id.to_owned(),
            actual: output
                .key_spec()
                .map(|spec| spec.as_str().to_owned())
                .unwrap_or_else(|| "another kind".to_owned()),
            algorithm: algorithm.as_str(),
            expected: expected.as_str().to_owned(),
        });
    }
    let der = output.public_key().map(Blob::as_ref).unwrap_or_default();
    // The key's own id (the last part of its ARN) names it in `kid`.
    let arn = output.key_id().unwrap_or(key_id).to_owned();
    let kid = arn.rsplit('/').next().unwrap_or(&arn).to_owned();
    Ok((
        arn,
        PublicKey {
            kid,
            algorithm,
            pem: spki_der_to_pem(der),
        },
    ))
}

#[async_trait]
impl TokenSigner for KmsSigner {
    fn algorithm(&self) -> SigningAlgorithm {
        self.algorithm
    }

    fn key_id(&self) -> &str {
        &self.kid
    }

    fn public_key_pem(&self) -> &str {
        &self.public_key_pem
    }

    async fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, SignerError> {
        let (spec, _) = signing_spec(self.algorithm);
        let (message, message_type) = if self.sign_raw {
            (signing_input.to_vec(), MessageType::Raw)
        } else {
            (Sha256::digest(signing_input).to_vec(), MessageType::Digest)
        };
        let output = self
            .client
            .sign()
            .key_id(&self.key_arn)
            .message(Blob::new(message))
            .message_type(message_type)
            .signing_algorithm(spec)
            .send()
            .await
            .map_err(classify)?;
        let signature = output
            .signature()
            .map(|blob| blob.as_ref().to_vec())
            .ok_or_else(|| SignerError::Failed("KMS returned no signature".into()))?;
        match self.algorithm {
            SigningAlgorithm::RS256 => Ok(signature),
            SigningAlgorithm::ES256 => der_to_jws_ecdsa(&signature),
        }
    }
}

/// The KMS signing algorithm and key spec behind a JWS algorithm.
fn signing_spec(algorithm: SigningAlgorithm) -> (SigningAlgorithmSpec, KeySpec) {
    match algorithm {
        SigningAlgorithm::RS256 => (SigningAlgorithmSpec::RsassaPkcs1V15Sha256, KeySpec::Rsa2048),
        SigningAlgorithm::ES256 => (SigningAlgorithmSpec::EcdsaSha256, KeySpec::EccNistP256),
    }
}

/// KMS returns ECDSA signatures DER-encoded; a JWS wants the fixed 64-byte
/// `r||s` (RFC 7518 §3.4). Low-S form, which every verifier accepts.
pub fn der_to_jws_ecdsa(der: &[u8]) -> Result<Vec<u8>, SignerError> {
    let signature = p256::ecdsa::Signature::from_der(der)
        .map_err(|error| SignerError::Failed(Box::new(error)))?;
    let signature = signature.normalize_s().unwrap_or(signature);
    Ok(signature.to_bytes().to_vec())
}

fn classify<E, R>(error: SdkError<E, R>) -> SignerError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match super::aws::classify(error) {
        SdkFailure::Throttled(error) => SignerError::Throttled(error),
        SdkFailure::Failed(error) => SignerError::Failed(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::{Signer, Verifier};
    use p256::ecdsa::{Signature, SigningKey};

    #[test]
    fn a_der_signature_becomes_a_verifiable_64_byte_r_s() {
        let key = SigningKey::from_slice(&[7u8; 32]).unwrap();
        let message = b"header.payload";
        let signature: Signature = key.sign(message);
        let der = signature.to_der();
        assert_ne!(der.as_bytes().len(), 64);
        let raw = der_to_jws_ecdsa(der.as_bytes()).unwrap();
        assert_eq!(raw.len(), 64);
        let decoded = Signature::from_slice(&raw).unwrap();
        assert!(key.verifying_key().verify(message, &decoded).is_ok());
    }

    #[test]
    fn garbage_is_not_a_signature() {
        assert!(der_to_jws_ecdsa(b"not der").is_err());
    }
}
