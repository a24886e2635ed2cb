//! The signature backend `jsonwebtoken` verifies access tokens with: ring's
//! RSA PKCS#1 v1.5 and ECDSA P-256 verification, plugged in through
//! `jsonwebtoken`'s own `CryptoProvider` extension point. `jsonwebtoken`
//! still parses the token and checks the algorithm and every claim; only
//! the signature check is ring's. Its RustCrypto backend (the crate feature
//! we build with) parsed the key into big integers and verified with a
//! generic big-integer library on every request, which made verification
//! cost more than all the rest of a `GET /v1/users/me`. Ring is in every
//! binary already (the AWS SDK's TLS runs on it), so this adds no library.
//! Everything else (signers, JWK helpers) stays with the RustCrypto backend.

use std::sync::LazyLock;

use jsonwebtoken::crypto::{CryptoProvider, JwtVerifier, rust_crypto};
use jsonwebtoken::errors::{ErrorKind, Result};
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind};
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents, UnparsedPublicKey,
    VerificationAlgorithm,
};

static PROVIDER: LazyLock<CryptoProvider> = LazyLock::new(|| CryptoProvider {
    verifier_factory: new_verifier,
    ..rust_crypto::DEFAULT_PROVIDER.clone()
});

/// Makes ring the process's verification backend; idempotent. Called before
/// any token is verified (`TokenVerifier::new`).
pub fn install() {
    // `Err`: installed already, by an earlier call.
    let _ = PROVIDER.install_default();
}

fn new_verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    let ring_algorithm: &'static dyn VerificationAlgorithm = match algorithm {
        // 2048 to 8192-bit moduli, as KMS's RSA_2048..4096 keys are.
        Algorithm::RS256 => &RSA_PKCS1_2048_8192_SHA256,
        // JWS carries the 64-byte r||s form, ring's "fixed" encoding.
        Algorithm::ES256 => &ECDSA_P256_SHA256_FIXED,
        other => return (rust_crypto::DEFAULT_PROVIDER.verifier_factory)(other, key),
    };
    // A PEM or DER key: for RS256 the PKCS#1 RSAPublicKey DER, for ES256
    // the SEC1 point, both as ring expects them. A JWK's RSA key: n and e.
    let key = match (key.kind(), algorithm) {
        (DecodingKeyKind::SecretOrDer(public_key), _) => {
            PublicKey::Encoded(UnparsedPublicKey::new(ring_algorithm, public_key.clone()))
        }
        (DecodingKeyKind::RsaModulusExponent { n, e }, Algorithm::RS256) => {
            PublicKey::Components(RsaPublicKeyComponents {
                n: n.clone(),
                e: e.clone(),
            })
        }
        _ => return Err(ErrorKind::InvalidKeyFormat.into()),
    };
    Ok(Box::new(RingVerifier {
        algorithm: *algorithm,
        key,
    }))
}

enum PublicKey {
    Encoded(UnparsedPublicKey<Vec<u8>>),
    Components(RsaPublicKeyComponents<Vec<u8>>),
}

struct RingVerifier {
    algorithm: Algorithm,
    key: PublicKey,
}

impl signature::Verifier<Vec<u8>> for RingVerifier {
    fn verify(
        &self,
        message: &[u8],
        signature: &Vec<u8>,
    ) -> std::result::Result<(), signature::Error> {
        match &self.key {
            PublicKey::Encoded(key) => key.verify(message, signature),
            PublicKey::Components(key) => {
                key.verify(&RSA_PKCS1_2048_8192_SHA256, message, signature)
            }
        }
        .map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for RingVerifier {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::crypto::verify;
    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};

    use super::*;

    const MESSAGE: &[u8] = b"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0";

    fn tampered(signature: &[u8]) -> Vec<u8> {
        let mut changed = signature.to_vec();
        changed[10] ^= 1;
        changed
    }

    /// Whether `signature` of `message` verifies under `key` for `algorithm`,
    /// through `jsonwebtoken` and so through the installed backend.
    fn verifies(signature: &[u8], message: &[u8], key: &DecodingKey, algorithm: Algorithm) -> bool {
        verify(&URL_SAFE_NO_PAD.encode(signature), message, key, algorithm).unwrap_or(false)
    }

    #[test]
    fn ring_is_the_installed_backend() {
        install();
        install();
        assert!(
            rust_crypto::DEFAULT_PROVIDER.install_default().is_err(),
            "another backend could still be installed"
        );
        let key = DecodingKey::from_ec_der(&[4; 65]);
        assert!(new_verifier(&Algorithm::ES256, &key).is_ok());
    }

    #[test]
    fn es256_signatures_verify_and_tampered_ones_do_not() {
        install();
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let signature = pair.sign(&rng, MESSAGE).unwrap();
        let key = DecodingKey::from_ec_der(pair.public_key().as_ref());
        assert!(verifies(
            signature.as_ref(),
            MESSAGE,
            &key,
            Algorithm::ES256
        ));
        assert!(!verifies(
            &tampered(signature.as_ref()),
            MESSAGE,
            &key,
            Algorithm::ES256
        ));
        assert!(!verifies(
            signature.as_ref(),
            b"other",
            &key,
            Algorithm::ES256
        ));
    }

    #[test]
    fn rs256_signatures_verify_and_tampered_ones_do_not() {
        use rsa::pkcs1::EncodeRsaPublicKey;
        use rsa::signature::{SignatureEncoding, Signer};

        install();
        let private = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
        let der = private.to_public_key().to_pkcs1_der().unwrap();
        let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(private);
        let signature = signer.sign(MESSAGE).to_vec();
        let key = DecodingKey::from_rsa_der(der.as_bytes());
        assert!(verifies(&signature, MESSAGE, &key, Algorithm::RS256));
        assert!(!verifies(
            &tampered(&signature),
            MESSAGE,
            &key,
            Algorithm::RS256
        ));
        // The same key as a JWK's modulus and exponent.
        let public = signer.as_ref().to_public_key();
        let components = DecodingKey::from_rsa_raw_components(
            &rsa::traits::PublicKeyParts::n(&public).to_bytes_be(),
            &rsa::traits::PublicKeyParts::e(&public).to_bytes_be(),
        );
        assert!(verifies(&signature, MESSAGE, &components, Algorithm::RS256));
        assert!(!verifies(
            &tampered(&signature),
            MESSAGE,
            &components,
            Algorithm::RS256
        ));
        // The key of another algorithm family is refused, never misread.
        assert!(!verifies(&signature, MESSAGE, &key, Algorithm::ES256));
    }
}
