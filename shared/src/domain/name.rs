//! A person's first or last name: 1–100 characters, no control (Cc) or
//! format (Cf) characters: no bidi overrides or zero-width characters that
//! could make a name show as something else.

use std::fmt;

use serde::{Deserialize, Serialize};
use unicode_general_category::{GeneralCategory, get_general_category};

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonName(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a name is 1 to 100 characters without control or format characters")]
pub struct PersonNameError;

impl PersonName {
    pub fn parse(input: &str) -> Result<Self, PersonNameError> {
        let name = input.trim();
        let length = name.chars().count();
        let invisible = |c: char| {
            matches!(
                get_general_category(c),
                GeneralCategory::Control | GeneralCategory::Format
            )
        };
        if (1..=100).contains(&length) && !name.chars().any(invisible) {
            Ok(Self(name.to_owned()))
        } else {
            Err(PersonNameError)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PersonName {
    type Error = PersonNameError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<PersonName> for String {
    fn from(value: PersonName) -> Self {
        value.0
    }
}

impl fmt::Debug for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PersonName(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_may_be_any_script() {
        assert_eq!(
            PersonName::parse("  Анна ").map(|n| n.0),
            Ok("Анна".to_owned())
        );
        assert!(PersonName::parse(&"é".repeat(100)).is_ok());
    }

    #[test]
    fn empty_overlong_and_control_names_are_rejected() {
        let bidi_override = "Ann\u{202E}nimda";
        let zero_width = "Ad\u{200B}min";
        let isolate = "\u{2067}Eve\u{2069}";
        let soft_hyphen = "Ma\u{AD}llory";
        for bad in [
            "",
            "   ",
            "a\nb",
            "tab\there",
            &"x".repeat(101),
            bidi_override,
            zero_width,
            isolate,
            soft_hyphen,
        ] {
            assert_eq!(PersonName::parse(bad), Err(PersonNameError), "{bad:?}");
        }
    }
}
