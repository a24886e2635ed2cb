//! A login name: 3–64 of `[A-Za-z0-9._-]`, unique without regard to case.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Login(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a login is 3 to 64 of the characters A-Z a-z 0-9 . _ -")]
pub struct LoginError;

impl Login {
    pub fn parse(input: &str) -> Result<Self, LoginError> {
        let login = input.trim();
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if (3..=64).contains(&login.len()) && login.chars().all(allowed) {
            Ok(Self(login.to_owned()))
        } else {
            Err(LoginError)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The uniqueness key.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl TryFrom<String> for Login {
    type Error = LoginError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Login> for String {
    fn from(value: Login) -> Self {
        value.0
    }
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Login({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn valid_logins_keep_their_case_and_share_a_lowercase_key() {
        let login = Login::parse("Jane.Doe_1-x").unwrap();
        assert_eq!(login.as_str(), "Jane.Doe_1-x");
        assert_eq!(login.key(), "jane.doe_1-x");
    }

    #[test]
    fn invalid_logins_are_rejected() {
        let too_long = "a".repeat(65);
        for bad in [
            "",
            "ab",
            "has space",
            "bob@example.com",
            "кирилл",
            "semi;colon",
            too_long.as_str(),
        ] {
            assert_eq!(Login::parse(bad), Err(LoginError), "{bad:?}");
        }
        assert!(Login::parse(&"a".repeat(64)).is_ok());
    }
}
