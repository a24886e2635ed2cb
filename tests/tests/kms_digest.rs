//! KMS signing as deployed: `MessageType=DIGEST` (the default; moto lacks
//! it, so `tests/kms_digest.py` implements it as AWS documents it). The
//! request carries the SHA-256 of the JWS signing input and the algorithm
//! the key signs with, and the signature KMS makes over that digest
//! verifies with the published key, for RS256 and ES256.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use latchkey::adapters::kms::KmsSigner;
use latchkey::domain::{SessionId, UserId};
use latchkey::ports::{SigningAlgorithm, TokenSigner};
use latchkey::tokens::{AccessClaims, TokenVerifier, issue_access_token};
use latchkey_tests::KmsDigest;
use sha2::{Digest, Sha256};

async fn a_token_signed_over_its_digest_verifies(algorithm: SigningAlgorithm) {
    let kms = KmsDigest::start();
    let key = match algorithm {
        SigningAlgorithm::RS256 => KmsDigest::RSA_KEY,
        SigningAlgorithm::ES256 => KmsDigest::EC_KEY,
    };
    let client = aws_sdk_kms::Client::new(&kms.sdk_config().await);
    // `connect` is what KMS_MESSAGE_TYPE's default (DIGEST) builds.
    let signer = KmsSigner::connect(client, key, algorithm).await.unwrap();
    let claims = AccessClaims::for_user(
        "https://auth.example.com",
        "latchkey",
        UserId::new(),
        SessionId::new(),
        time::OffsetDateTime::now_utc(),
        Duration::from_secs(900),
    );
    let token = issue_access_token(&signer, &claims).await.unwrap();

    // The exact request: the key's ARN, the algorithm, DIGEST, and the
    // SHA-256 of `header.payload` as the message.
    let requests = kms.sign_requests().await;
    assert_eq!(requests.len(), 1, "{requests:?}");
    let request = &requests[0];
    let signing_input = token.rsplit_once('.').unwrap().0;
    assert_eq!(request["KeyId"], key);
    assert_eq!(request["MessageType"], "DIGEST");
    assert_eq!(
        request["SigningAlgorithm"],
        match algorithm {
            SigningAlgorithm::RS256 => "RSASSA_PKCS1_V1_5_SHA_256",
            SigningAlgorithm::ES256 => "ECDSA_SHA_256",
        }
    );
    let message = STANDARD
        .decode(request["Message"].as_str().unwrap())
        .unwrap();
    assert_eq!(message, Sha256::digest(signing_input.as_bytes()).to_vec());

    // It verifies with the published key: through our verifier, and through
    // jsonwebtoken on the PEM alone.
    let verifier = TokenVerifier::new(
        &[signer.public_key()],
        "https://auth.example.com",
        "latchkey",
        Duration::from_secs(900),
    )
    .unwrap();
    assert_eq!(verifier.verify(&token).unwrap(), claims);
    let pem = signer.public_key_pem().as_bytes();
    let (decoding_key, jws_algorithm) = match algorithm {
        SigningAlgorithm::RS256 => (DecodingKey::from_rsa_pem(pem).unwrap(), Algorithm::RS256),
        SigningAlgorithm::ES256 => (DecodingKey::from_ec_pem(pem).unwrap(), Algorithm::ES256),
    };
    let mut validation = Validation::new(jws_algorithm);
    validation.set_audience(&["latchkey"]);
    jsonwebtoken::decode::<serde_json::Value>(&token, &decoding_key, &validation).unwrap();

    // A signature over anything else does not.
    let (rest, signature) = token.rsplit_once('.').unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
    bytes[10] ^= 1;
    let forged = format!("{rest}.{}", URL_SAFE_NO_PAD.encode(bytes));
    assert!(verifier.verify(&forged).is_err());
}

#[tokio::test]
async fn rs256_signs_the_digest() {
    a_token_signed_over_its_digest_verifies(SigningAlgorithm::RS256).await;
}

#[tokio::test]
async fn es256_signs_the_digest() {
    a_token_signed_over_its_digest_verifies(SigningAlgorithm::ES256).await;
}
