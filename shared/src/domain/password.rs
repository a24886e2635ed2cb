//! A password that passed the policy: 8–256 characters by default (the
//! minimum is configurable, never below 6), not on the built-in list of
//! common passwords, not the account's own email or login. No composition
//! rules (NIST SP 800-63B).

use std::collections::HashSet;
use std::fmt;
use std::sync::LazyLock;

use unicode_normalization::UnicodeNormalization;

pub const MAX_PASSWORD_LEN: usize = 256;
pub const MIN_PASSWORD_FLOOR: usize = 6;
pub const DEFAULT_MIN_PASSWORD_LEN: usize = 8;

static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("common-passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect()
});

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    min_len: usize,
}

/// A minimum length outside 6–256: too weak, or impossible to meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the minimum password length must be between {MIN_PASSWORD_FLOOR} and {MAX_PASSWORD_LEN}")]
pub struct PasswordPolicyError;

impl PasswordPolicy {
    /// A minimum of 6 to 256 characters: below, too weak to allow; above, no
    /// password could meet it.
    pub fn new(min_len: usize) -> Result<Self, PasswordPolicyError> {
        if (MIN_PASSWORD_FLOOR..=MAX_PASSWORD_LEN).contains(&min_len) {
            Ok(Self { min_len })
        } else {
            Err(PasswordPolicyError)
        }
    }

    pub fn min_len(&self) -> usize {
        self.min_len
    }
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_len: DEFAULT_MIN_PASSWORD_LEN,
        }
    }
}

/// A password in NFKC form, so the same password typed on two keyboards
/// hashes the same. Its `Debug` never shows it.
#[derive(Clone)]
pub struct Password(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("password is shorter than {0} characters")]
    TooShort(usize),
    #[error("password is longer than {MAX_PASSWORD_LEN} characters")]
    TooLong,
    #[error("password is too common")]
    TooCommon,
    #[error("password is the account's own email or login")]
    SameAsIdentifier,
}

impl Password {
    /// Checks a new password against the policy. `identifiers` are the
    /// account's email and login, which the password must not equal.
    pub fn parse(
        input: &str,
        policy: &PasswordPolicy,
        identifiers: &[&str],
    ) -> Result<Self, PasswordError> {
        let password: String = input.nfkc().collect();
        let length = password.chars().count();
        if length < policy.min_len {
            return Err(PasswordError::TooShort(policy.min_len));
        }
        if length > MAX_PASSWORD_LEN {
            return Err(PasswordError::TooLong);
        }
        let lowered = password.to_lowercase();
        if COMMON_PASSWORDS.contains(lowered.as_str()) {
            return Err(PasswordError::TooCommon);
        }
        if identifiers
            .iter()
            .any(|identifier| !identifier.is_empty() && identifier.trim().to_lowercase() == lowered)
        {
            return Err(PasswordError::SameAsIdentifier);
        }
        Ok(Self(password))
    }

    /// A password typed at sign-in: not checked against the policy (the
    /// policy may have changed since it was set), only normalized and capped
    /// so nobody can make the server hash megabytes.
    pub fn candidate(input: &str) -> Option<Self> {
        let password: String = input.nfkc().collect();
        (!password.is_empty() && password.chars().count() <= MAX_PASSWORD_LEN)
            .then_some(Self(password))
    }

    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn parse(input: &str) -> Result<Password, PasswordError> {
        Password::parse(
            input,
            &PasswordPolicy::default(),
            &["jane@example.com", "jane_doe"],
        )
    }

    #[test]
    fn length_is_counted_in_characters_from_8_to_256() {
        assert_eq!(parse("Zq3!xY7").unwrap_err(), PasswordError::TooShort(8));
        assert!(parse("Zq3!xY7#").is_ok());
        assert!(
            parse("жёлтый-кот").is_ok(),
            "10 Cyrillic characters are 10, not 20"
        );
        assert!(parse(&"kq".repeat(128)).is_ok());
        assert_eq!(
            parse(&format!("{}z", "kq".repeat(128))).unwrap_err(),
            PasswordError::TooLong
        );
    }

    #[test]
    fn common_passwords_are_rejected_in_any_case() {
        for common in [
            "password",
            "Password1",
            "QWERTY123",
            "iloveyou",
            "пароль123",
        ] {
            assert_eq!(
                parse(common).unwrap_err(),
                PasswordError::TooCommon,
                "{common}"
            );
        }
    }

    #[test]
    fn the_accounts_email_or_login_is_not_a_password() {
        assert_eq!(
            parse("Jane@Example.com").unwrap_err(),
            PasswordError::SameAsIdentifier
        );
        assert_eq!(
            parse("JANE_DOE").unwrap_err(),
            PasswordError::SameAsIdentifier
        );
    }

    #[test]
    fn the_minimum_is_configurable_between_six_and_the_maximum() {
        assert_eq!(PasswordPolicy::new(2), Err(PasswordPolicyError));
        assert_eq!(PasswordPolicy::new(257), Err(PasswordPolicyError));
        assert_eq!(PasswordPolicy::new(6).map(|p| p.min_len()), Ok(6));
        assert_eq!(PasswordPolicy::new(256).map(|p| p.min_len()), Ok(256));
        let policy = PasswordPolicy::new(12).unwrap();
        assert_eq!(
            Password::parse("Zq3!xY7#abc", &policy, &[]).unwrap_err(),
            PasswordError::TooShort(12)
        );
    }

    #[test]
    fn debug_output_hides_the_password() {
        let password = parse("correct horse battery").unwrap();
        assert_eq!(format!("{password:?}"), "Password(***)");
    }

    #[test]
    fn compatibility_forms_normalize_to_one_password() {
        let full_width = parse("\u{FF33}ecret-horse-9").unwrap();
        let ascii = parse("Secret-horse-9").unwrap();
        assert_eq!(full_width.expose(), ascii.expose());
    }

    proptest! {
        #[test]
        fn any_long_enough_random_password_is_accepted(password in "[a-zA-Z0-9]{20,60}") {
            prop_assert!(parse(&password).is_ok());
        }
    }
}
