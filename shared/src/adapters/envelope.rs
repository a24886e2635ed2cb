//! Envelope encryption's inner layer, shared by the KMS and local sealers:
//! a secret sealed with AES-256-GCM (ring) under a fresh 256-bit data key,
//! its purpose bound as associated data, so a sealed TOTP seed cannot be
//! opened as anything else. Who wraps the data key is the sealer's part.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use crate::ports::SealError;

/// A data key: generated per secret.
#[cfg(any(feature = "local", test))]
pub const DATA_KEY_LEN: usize = 32;

/// `(nonce, ciphertext with its tag)`.
pub fn seal(
    data_key: &[u8],
    secret: &[u8],
    purpose: &str,
) -> Result<([u8; NONCE_LEN], Vec<u8>), SealError> {
    let key = aead_key(data_key)?;
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| SealError::Failed("no randomness".into()))?;
    let mut sealed = secret.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(purpose.as_bytes()),
        &mut sealed,
    )
    .map_err(|_| SealError::Failed("sealing failed".into()))?;
    Ok((nonce, sealed))
}

/// The secret, if `sealed` was sealed under `data_key` for `purpose`.
pub fn open(
    data_key: &[u8],
    nonce: &[u8],
    sealed: &[u8],
    purpose: &str,
) -> Result<Vec<u8>, SealError> {
    let key = aead_key(data_key)?;
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Tampered)?;
    let mut buffer = sealed.to_vec();
    let opened = key
        .open_in_place(nonce, Aad::from(purpose.as_bytes()), &mut buffer)
        .map_err(|_| SealError::Tampered)?;
    Ok(opened.to_vec())
}

/// A fresh random data key (the local sealer's; KMS makes its own).
#[cfg(any(feature = "local", test))]
pub fn new_data_key() -> Result<[u8; DATA_KEY_LEN], SealError> {
    let mut key = [0u8; DATA_KEY_LEN];
    SystemRandom::new()
        .fill(&mut key)
        .map_err(|_| SealError::Failed("no randomness".into()))?;
    Ok(key)
}

fn aead_key(data_key: &[u8]) -> Result<LessSafeKey, SealError> {
    UnboundKey::new(&AES_256_GCM, data_key)
        .map(LessSafeKey::new)
        .map_err(|_| SealError::Tampered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_purpose_and_unchanged() {
        let key = new_data_key().unwrap();
        let (nonce, sealed) = seal(&key, b"JBSWY3DPEHPK3PXP", "totp").unwrap();
        assert!(
            !sealed
                .windows(16)
                .any(|window| window == b"JBSWY3DPEHPK3PXP")
        );
        assert_eq!(
            open(&key, &nonce, &sealed, "totp").unwrap(),
            b"JBSWY3DPEHPK3PXP"
        );
        assert!(matches!(
            open(&key, &nonce, &sealed, "other"),
            Err(SealError::Tampered)
        ));
        let other = new_data_key().unwrap();
        assert!(matches!(
            open(&other, &nonce, &sealed, "totp"),
            Err(SealError::Tampered)
        ));
        let mut changed = sealed.clone();
        changed[0] ^= 1;
        assert!(matches!(
            open(&key, &nonce, &changed, "totp"),
            Err(SealError::Tampered)
        ));
        // A fresh nonce each time: the same secret never seals the same way.
        let (again, resealed) = seal(&key, b"JBSWY3DPEHPK3PXP", "totp").unwrap();
        assert!(again != nonce && resealed != sealed);
    }
}
