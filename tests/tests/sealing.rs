//! Secrets sealed for storage (TOTP seeds) with KMS envelope encryption, on
//! KMS in moto: a fresh data key per secret, wrapped by the symmetric key;
//! they open for their own purpose only, and changed bytes do not open.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use latchkey::adapters::kms_sealer::KmsSealer;
use latchkey::ports::{SealError, SecretSealer};

#[tokio::test]
async fn kms_sealed_secrets_open_for_their_purpose_only() {
    let kms = aws_sdk_kms::Client::new(&latchkey_tests::moto().sdk_config().await);
    let key = kms.create_key().send().await.unwrap();
    let key_id = key.key_metadata().unwrap().key_id().to_owned();
    let sealer = KmsSealer::new(kms, key_id);

    let sealed = sealer.seal(b"JBSWY3DPEHPK3PXP", "totp").await.unwrap();
    assert!(
        !sealed
            .ciphertext
            .windows(16)
            .any(|window| window == b"JBSWY3DPEHPK3PXP"),
        "the secret is stored in clear"
    );
    assert_eq!(
        sealer.open(&sealed, "totp").await.unwrap(),
        b"JBSWY3DPEHPK3PXP"
    );
    assert!(matches!(
        sealer.open(&sealed, "recovery").await,
        Err(SealError::Tampered)
    ));
    let mut changed = sealed.clone();
    changed.ciphertext[0] ^= 1;
    assert!(matches!(
        sealer.open(&changed, "totp").await,
        Err(SealError::Tampered)
    ));
    // Each secret has its own data key.
    let other = sealer.seal(b"JBSWY3DPEHPK3PXP", "totp").await.unwrap();
    assert_ne!(other.wrapped_key, sealed.wrapped_key);
}
