//! Second factors: what kind a factor is and the name its owner gives it.

use std::fmt;

use unicode_general_category::{GeneralCategory, get_general_category};

/// The kinds of second factor an account can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FactorKind {
    /// An authenticator app's time-based codes (RFC 6238).
    Totp,
}

impl FactorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "totp" => Some(Self::Totp),
            _ => None,
        }
    }
}

/// How many factors (pending ones included) an account may hold.
pub const MAX_FACTORS: usize = 10;

/// What a person calls a factor ("Phone", "Work laptop"): 1–64 characters,
/// no control or format characters.
#[derive(Clone, PartialEq, Eq)]
pub struct FactorName(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a factor name is 1 to 64 characters without control or format characters")]
pub struct FactorNameError;

impl FactorName {
    pub const MAX_CHARS: usize = 64;

    pub fn parse(input: &str) -> Result<Self, FactorNameError> {
        let name = input.trim();
        let length = name.chars().count();
        let invisible = |c: char| {
            matches!(
                get_general_category(c),
                GeneralCategory::Control | GeneralCategory::Format
            )
        };
        if (1..=Self::MAX_CHARS).contains(&length) && !name.chars().any(invisible) {
            Ok(Self(name.to_owned()))
        } else {
            Err(FactorNameError)
        }
    }

    /// The name a factor gets when its owner gives none.
    pub fn default_for(kind: FactorKind) -> Self {
        match kind {
            FactorKind::Totp => Self("Authenticator app".to_owned()),
        }
    }

    /// The name a passkey gets when its owner gives none.
    pub fn default_for_passkey() -> Self {
        Self("Passkey".to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for FactorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FactorName({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_bounded_and_visible() {
        assert_eq!(FactorName::parse("  Phone ").unwrap().as_str(), "Phone");
        assert!(FactorName::parse(&"x".repeat(64)).is_ok());
        for bad in ["", "   ", &"x".repeat(65), "a\u{202e}b", "a\nb"] {
            assert_eq!(FactorName::parse(bad), Err(FactorNameError), "{bad:?}");
        }
    }

    #[test]
    fn kinds_round_trip() {
        assert_eq!(
            FactorKind::parse(FactorKind::Totp.as_str()),
            Some(FactorKind::Totp)
        );
        assert_eq!(FactorKind::parse("sms"), None);
    }
}
