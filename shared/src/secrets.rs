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

/// A recovery code: 80 random bits as 16 lower-case base32 characters in
/// groups of four (`abcd-efgh-ijkl-mnop`), easy to copy from paper. 80 bits
/// keep a leaked SHA-256 hash of one out of reach of guessing, so a fast
/// hash is enough here too.
pub struct RecoveryCode(String);

/// How many recovery codes a set holds.
pub const RECOVERY_CODES: usize = 10;

impl RecoveryCode {
    const ALPHABET: &'static [u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

    pub fn generate() -> Self {
        let mut bytes = [0u8; 10];
        rand::rng().fill_bytes(&mut bytes);
        // 80 bits, five at a time.
        let mut bits = bytes
            .iter()
            .fold(0u128, |acc, byte| (acc << 8) | u128::from(*byte));
        let mut chars = [0u8; 16];
        for slot in chars.iter_mut().rev() {
            *slot = Self::ALPHABET[(bits & 31) as usize];
            bits >>= 5;
        }
        let text: Vec<String> = chars
            .chunks(4)
            .map(|group| String::from_utf8_lossy(group).into_owned())
            .collect();
        Self(text.join("-"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The hash of the code as typed: case, spaces and dashes do not
    /// matter. `None` when it cannot be a recovery code.
    pub fn hash_of_typed(text: &str) -> Option<SecretHash> {
        let normalized: String = text
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        (normalized.len() == 16 && normalized.bytes().all(|b| Self::ALPHABET.contains(&b)))
            .then(|| SecretHash::of(&normalized))
    }

    pub fn hash(&self) -> SecretHash {
        SecretHash::of(&self.0.replace('-', ""))
    }
}

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode(***)")
    }
}

/// A six-digit sign-in code for an email. Six digits are easy to type and
/// few enough to guess offline from a plain hash, so the store keeps only a
/// keyed hash (`ports::CodeMac`), and each code takes five tries at most.
pub struct SignInCode(String);

impl SignInCode {
    /// Uniform over 000000–999999, from the thread's CSPRNG (reseeded from
    /// the OS).
    pub fn generate() -> Self {
        use rand::Rng;
        Self(format!("{:06}", rand::rng().random_range(0..1_000_000u32)))
    }

    /// The code as typed (spaces around or inside are ignored); `None`
    /// unless it is six digits.
    pub fn typed(text: &str) -> Option<Self> {
        let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        (digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit())).then_some(Self(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SignInCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SignInCode(***)")
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

    #[test]
    fn sign_in_codes_are_six_digits_and_typed_ones_are_checked() {
        let codes: std::collections::HashSet<String> = (0..50)
            .map(|_| SignInCode::generate().as_str().to_owned())
            .collect();
        assert!(codes.len() > 40, "{codes:?}");
        for code in &codes {
            assert!(code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()));
        }
        assert_eq!(SignInCode::typed(" 012 345 ").unwrap().as_str(), "012345");
        for bad in ["12345", "1234567", "12345a", ""] {
            assert!(SignInCode::typed(bad).is_none(), "{bad:?}");
        }
        assert_eq!(format!("{:?}", SignInCode::generate()), "SignInCode(***)");
    }

    #[test]
    fn recovery_codes_are_random_and_match_however_they_are_typed() {
        let code = RecoveryCode::generate();
        let text = code.as_str();
        assert_eq!(text.len(), 19, "{text}");
        assert_eq!(text.matches('-').count(), 3, "{text}");
        assert_ne!(text, RecoveryCode::generate().as_str());
        assert_eq!(RecoveryCode::hash_of_typed(text), Some(code.hash()));
        let sloppy = format!(" {} ", text.to_uppercase().replace('-', " "));
        assert_eq!(RecoveryCode::hash_of_typed(&sloppy), Some(code.hash()));
        assert_eq!(RecoveryCode::hash_of_typed("abcd-efgh"), None);
        assert_eq!(RecoveryCode::hash_of_typed("abcd-efgh-ijkl-mno1"), None);
        assert_eq!(format!("{code:?}"), "RecoveryCode(***)");
    }
}
