//! The token signer for local mode: a private key kept as PKCS#8 PEM in the
//! local data folder, made on first start, with the algorithm of the
//! configuration (RS256 or ES256), behind the same port as KMS.
//!
//! The keys are made and read with `rsa` and `p256` (ring cannot make RSA
//! keys), and sign with `ring`: its RSA signing is constant-time and blinded,
//! and three times faster than `rsa`'s, which shows in sign-in throughput.

use std::path::Path;

use async_trait::async_trait;
use p256::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};
use sha2::{Digest, Sha256};

use crate::ports::{BoxError, SignerError, SigningAlgorithm, TokenSigner};
use crate::secrets::hex;
use crate::tokens::PublicKey;

enum PrivateKey {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

pub struct LocalKeySigner {
    key: PrivateKey,
    random: SystemRandom,
    algorithm: SigningAlgorithm,
    kid: String,
    public_key_pem: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LocalKeyError {
    #[error("cannot read or write the signing key at {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the signing key at {path} is not a {algorithm} PKCS#8 key; remove it to make a new one"
    )]
    WrongKey {
        path: String,
        algorithm: &'static str,
    },
    #[error("key generation failed")]
    Generate(#[source] BoxError),
}

impl LocalKeySigner {
    /// Loads the key at `path`, or makes one there if the file is absent.
    pub fn load_or_create(path: &Path, algorithm: SigningAlgorithm) -> Result<Self, LocalKeyError> {
        let io = |source| LocalKeyError::Io {
            path: path.display().to_string(),
            source,
        };
        let pem = match std::fs::read_to_string(path) {
            Ok(pem) => pem,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let pem = generate(algorithm)?;
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(io)?;
                }
                write_private(path, &pem).map_err(io)?;
                pem
            }
            Err(error) => return Err(io(error)),
        };
        Self::from_pem(&pem, algorithm).ok_or_else(|| LocalKeyError::WrongKey {
            path: path.display().to_string(),
            algorithm: algorithm.as_str(),
        })
    }

    fn from_pem(pem: &str, algorithm: SigningAlgorithm) -> Option<Self> {
        let random = SystemRandom::new();
        let (key, public_der) = match algorithm {
            SigningAlgorithm::RS256 => {
                let private = rsa::RsaPrivateKey::from_pkcs8_pem(pem).ok()?;
                let public = private.to_public_key().to_public_key_der().ok()?;
                let pkcs8 = private.to_pkcs8_der().ok()?;
                let pair = RsaKeyPair::from_pkcs8(pkcs8.as_bytes()).ok()?;
                (PrivateKey::Rsa(pair), public)
            }
            SigningAlgorithm::ES256 => {
                let private = p256::ecdsa::SigningKey::from_pkcs8_pem(pem).ok()?;
                let public = private.verifying_key().to_public_key_der().ok()?;
                // Re-encoded so the document carries the public key, which ring requires.
                let pkcs8 = private.to_pkcs8_der().ok()?;
                let pair = EcdsaKeyPair::from_pkcs8(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    pkcs8.as_bytes(),
                    &random,
                )
                .ok()?;
                (PrivateKey::Ec(pair), public)
            }
        };
        Some(Self {
            key,
            random,
            algorithm,
            kid: kid_of(public_der.as_bytes()),
            public_key_pem: super::spki_der_to_pem(public_der.as_bytes()),
        })
    }
}

/// The public key in a PEM file (a private PKCS#8 key or a public SPKI
/// key), for keys being retired in local mode.
pub fn public_key_from_file(
    path: &Path,
    algorithm: SigningAlgorithm,
) -> Result<PublicKey, LocalKeyError> {
    let pem = std::fs::read_to_string(path).map_err(|source| LocalKeyError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let wrong = || LocalKeyError::WrongKey {
        path: path.display().to_string(),
        algorithm: algorithm.as_str(),
    };
    if let Some(signer) = LocalKeySigner::from_pem(&pem, algorithm) {
        return Ok(signer.public_key());
    }
    let public_der = match algorithm {
        SigningAlgorithm::RS256 => rsa::RsaPublicKey::from_public_key_pem(&pem)
            .ok()
            .and_then(|key| key.to_public_key_der().ok()),
        SigningAlgorithm::ES256 => p256::PublicKey::from_public_key_pem(&pem)
            .ok()
            .and_then(|key| key.to_public_key_der().ok()),
    }
    .ok_or_else(wrong)?;
    Ok(PublicKey {
        kid: kid_of(public_der.as_bytes()),
        algorithm,
        pem: super::spki_der_to_pem(public_der.as_bytes()),
    })
}

/// `local-` and the first 8 bytes of the SHA-256 of the public key.
fn kid_of(public_der: &[u8]) -> String {
    format!("local-{}", hex(&Sha256::digest(public_der)[..8]))
}

fn generate(algorithm: SigningAlgorithm) -> Result<String, LocalKeyError> {
    let mut rng = rand_core06::OsRng;
    let document = match algorithm {
        SigningAlgorithm::RS256 => rsa::RsaPrivateKey::new(&mut rng, 2048)
            .map_err(|error| LocalKeyError::Generate(Box::new(error)))?
            .to_pkcs8_pem(LineEnding::LF),
        SigningAlgorithm::ES256 => {
            p256::ecdsa::SigningKey::random(&mut rng).to_pkcs8_pem(LineEnding::LF)
        }
    };
    document
        .map(|pem| pem.to_string())
        .map_err(|error| LocalKeyError::Generate(Box::new(error)))
}

/// Private keys are written readable by their owner only.
fn write_private(path: &Path, pem: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    options.open(path)?.write_all(pem.as_bytes())
}

#[async_trait]
impl TokenSigner for LocalKeySigner {
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
        let failed = |_: ring::error::Unspecified| {
            SignerError::Failed("the local key could not sign".into())
        };
        match &self.key {
            PrivateKey::Rsa(pair) => {
                let mut signature = vec![0; pair.public().modulus_len()];
                pair.sign(
                    &RSA_PKCS1_SHA256,
                    &self.random,
                    signing_input,
                    &mut signature,
                )
                .map_err(failed)?;
                Ok(signature)
            }
            // The fixed encoding is JWS's: r and s, 32 bytes each.
            PrivateKey::Ec(pair) => Ok(pair
                .sign(&self.random, signing_input)
                .map_err(failed)?
                .as_ref()
                .to_vec()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{SessionId, UserId};
    use crate::tokens::{AccessClaims, TokenVerifier, issue_access_token};

    async fn round_trip(algorithm: SigningAlgorithm) {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("key.pem");
        let signer = LocalKeySigner::load_or_create(&path, algorithm).unwrap();
        let claims = AccessClaims::for_user(
            "https://issuer",
            "aud",
            UserId::new(),
            SessionId::new(),
            time::OffsetDateTime::now_utc(),
            std::time::Duration::from_secs(60),
        );
        let token = issue_access_token(&signer, &claims).await.unwrap();
        // A restart loads the same key, so earlier tokens still verify.
        let reloaded = LocalKeySigner::load_or_create(&path, algorithm).unwrap();
        assert_eq!(reloaded.key_id(), signer.key_id());
        let verifier = TokenVerifier::new(
            &[reloaded.public_key()],
            "https://issuer",
            "aud",
            std::time::Duration::from_secs(60),
        )
        .unwrap();
        assert_eq!(verifier.verify(&token).unwrap(), claims);
    }

    #[tokio::test]
    async fn rs256_tokens_verify_with_the_published_key_after_a_restart() {
        round_trip(SigningAlgorithm::RS256).await;
    }

    #[tokio::test]
    async fn es256_tokens_verify_with_the_published_key_after_a_restart() {
        round_trip(SigningAlgorithm::ES256).await;
    }

    #[test]
    fn a_key_of_the_other_algorithm_is_refused_with_a_clear_error() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("key.pem");
        LocalKeySigner::load_or_create(&path, SigningAlgorithm::ES256).unwrap();
        let error = LocalKeySigner::load_or_create(&path, SigningAlgorithm::RS256)
            .err()
            .unwrap();
        assert!(error.to_string().contains("remove it"), "{error}");
    }
}
