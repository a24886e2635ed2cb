//! Random secrets (confirmation and reset codes, refresh tokens) and their
//! stored form. Codes carry 256 random bits; only SHA-256 hashes are stored.
//! A fast hash is right here: unlike passwords, these secrets have full
//! entropy, so nobody can guess them from a leaked hash.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A fresh random code as it goes into a link: 43 URL-safe characters.
pub struct OneTimeCode(String);

impl OneTimeCode {
    pub fn generate() -> Self {
        Self(random_token())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> SecretHash {
        SecretHash::of(&self.0)
    }

    /// Whether `text` has the shape of a code we issue (43 URL-safe
    /// characters); anything else cannot match and is not worth a lookup.
    pub fn is_plausible(text: &str) -> bool {
        text.len() == 43
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }
}

impl fmt::Debug for OneTimeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OneTimeCode(***)")
    }
}

/// 32 bytes from the OS generator, base64url without padding.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Lower-case hex SHA-256 of a secret: what the store keeps and looks up by.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SecretHash(String);

impl SecretHash {
    pub fn of(secret: &str) -> Self {
        Self(hex(&Sha256::digest(secret.as_bytes())))
    }

    /// Rebuilds a hash read back from the store; `None` if it is not one.
    pub fn from_stored(hex: &str) -> Option<Self> {
        (hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| Self(hex.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretHash {
    // Hashes stay out of logs too.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHash(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_carry_256_bits_and_are_url_safe() {
        let code = OneTimeCode::generate();
        assert_eq!(code.as_str().len(), 43);
        assert!(
            code.as_str()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_ne!(code.as_str(), OneTimeCode::generate().as_str());
    }

    #[test]
    fn the_hash_is_stable_and_is_not_the_code() {
        let code = OneTimeCode::generate();
        assert_eq!(code.hash(), SecretHash::of(code.as_str()));
        assert_ne!(code.hash().as_str(), code.as_str());
        assert_eq!(
            SecretHash::from_stored(code.hash().as_str()),
            Some(code.hash())
        );
        assert_eq!(SecretHash::from_stored("not-a-hash"), None);
    }
}
