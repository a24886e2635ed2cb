//! Time-based one-time passwords (RFC 6238): SHA-1, 6 digits, 30-second
//! steps, one step of clock skew either way, computed by `totp-rs`. A code
//! is good once: callers keep the last step they accepted and refuse that
//! step and any before it.

use std::fmt;

use ring::rand::{SecureRandom, SystemRandom};
use time::OffsetDateTime;
use totp_rs::{Builder, Secret, Totp};

/// 160 bits, as RFC 4226 recommends.
pub const TOTP_SECRET_LEN: usize = 20;

/// A factor's shared secret. It never appears in a log (its `Debug` says
/// nothing of it) and is stored only sealed.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

#[derive(Debug, thiserror::Error)]
pub enum TotpError {
    #[error("no randomness for a new secret")]
    Random,
    #[error("the authenticator URI cannot be made: {0}")]
    Uri(String),
}

impl TotpSecret {
    pub fn generate() -> Result<Self, TotpError> {
        let mut bytes = vec![0u8; TOTP_SECRET_LEN];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| TotpError::Random)?;
        Ok(Self(bytes))
    }

    /// A stored secret (after opening it): at least 128 bits (RFC 4226).
    pub fn from_bytes(bytes: Vec<u8>) -> Option<Self> {
        (bytes.len() >= 16).then_some(Self(bytes))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The form people type into an authenticator app.
    pub fn base32(&self) -> String {
        Secret::from(self.0.clone()).to_base32()
    }

    /// `otpauth://totp/…` for a QR code: the app shows `issuer` and
    /// `account` (neither may hold a `:`, which the URI format reserves).
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> Result<String, TotpError> {
        Builder::new()
            .with_secret(Secret::from(self.0.clone()))
            .with_issuer(Some(issuer))
            .with_account_name(account)
            .build()
            .and_then(|totp| totp.to_url())
            .map_err(|error| TotpError::Uri(error.to_string()))
    }

    /// A secret as an authenticator app is given it (base32, as
    /// [`base32`](Self::base32) writes it).
    pub fn from_base32(text: &str) -> Option<Self> {
        Secret::try_from_base32(text.trim().to_uppercase())
            .ok()
            .and_then(|secret| Self::from_bytes(secret.as_bytes().to_vec()))
    }

    /// The code an authenticator app shows at `at`.
    pub fn code_at(&self, at: OffsetDateTime) -> Option<String> {
        let at = u64::try_from(at.unix_timestamp()).ok()?;
        Some(self.totp().ok()?.generate(at).to_string())
    }

    /// The time step `code` is this secret's code for, within one step of
    /// `now`; `None` for any other code (a wrong one, or not six digits).
    pub fn matching_step(&self, code: &str, now: OffsetDateTime) -> Option<u64> {
        let now = u64::try_from(now.unix_timestamp()).ok()?;
        if code.len() != 6 || !code.bytes().all(|byte| byte.is_ascii_digit()) {
            return None;
        }
        self.totp().ok()?.check(code, now)
    }

    fn totp(&self) -> Result<Totp, totp_rs::TotpError> {
        Builder::new()
            .with_secret(Secret::from(self.0.clone()))
            .build()
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B's SHA-1 secret.
    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890".to_vec()).unwrap()
    }

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(seconds).unwrap()
    }

    #[test]
    fn the_rfc_test_vectors_match_in_their_step_and_one_step_either_side() {
        let secret = rfc_secret();
        // 94287082 at T=59 (step 1): six digits, 287082.
        assert_eq!(secret.matching_step("287082", at(59)), Some(1));
        assert_eq!(secret.matching_step("287082", at(89)), Some(1));
        assert_eq!(secret.matching_step("287082", at(0)), Some(1));
        assert_eq!(secret.matching_step("287082", at(120)), None);
        // 07081804 at T=1111111109.
        assert_eq!(
            secret.matching_step("081804", at(1_111_111_109)),
            Some(1_111_111_109 / 30)
        );
        for wrong in ["287083", "28708", "2870820", "28708a", ""] {
            assert_eq!(secret.matching_step(wrong, at(59)), None, "{wrong:?}");
        }
    }

    #[test]
    fn secrets_are_random_160_bits_and_never_shown_by_debug() {
        let one = TotpSecret::generate().unwrap();
        let two = TotpSecret::generate().unwrap();
        assert_eq!(one.as_bytes().len(), TOTP_SECRET_LEN);
        assert_ne!(one, two);
        assert_eq!(format!("{one:?}"), "TotpSecret(..)");
        assert!(TotpSecret::from_bytes(vec![0; 15]).is_none());
    }

    #[test]
    fn a_secret_round_trips_through_base32_and_its_codes_match() {
        let secret = TotpSecret::generate().unwrap();
        let read = TotpSecret::from_base32(&secret.base32()).unwrap();
        assert_eq!(read, secret);
        let now = at(1_800_000_000);
        let code = read.code_at(now).unwrap();
        assert_eq!(secret.matching_step(&code, now), Some(1_800_000_000 / 30));
        assert_eq!(rfc_secret().code_at(at(59)).as_deref(), Some("287082"));
        assert!(TotpSecret::from_base32("not base32!").is_none());
    }

    #[test]
    fn the_authenticator_uri_names_the_issuer_and_account() {
        let secret = rfc_secret();
        assert_eq!(secret.base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        let uri = secret.otpauth_uri("Latchkey", "ada@example.com").unwrap();
        assert!(
            uri.starts_with("otpauth://totp/Latchkey:ada%40example.com?"),
            "{uri}"
        );
        assert!(
            uri.contains("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"),
            "{uri}"
        );
        assert!(uri.contains("issuer=Latchkey"), "{uri}");
        assert!(secret.otpauth_uri("Latch:key", "ada@example.com").is_err());
    }
}
