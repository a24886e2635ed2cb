//! The account's language: chooses email templates and message catalogues.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Locale {
    #[default]
    En,
    Ru,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unsupported locale")]
pub struct LocaleError;

impl Locale {
    pub const ALL: [Locale; 2] = [Locale::En, Locale::Ru];

    /// Accepts a language tag (`ru`, `RU`, `ru-RU`, `en_GB`); only the
    /// language subtag matters.
    pub fn parse(input: &str) -> Result<Self, LocaleError> {
        let language = input
            .trim()
            .split(['-', '_'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match language.as_str() {
            "en" => Ok(Self::En),
            "ru" => Ok(Self::Ru),
            _ => Err(LocaleError),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Ru => "ru",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_tags_are_reduced_to_the_language() {
        assert_eq!(Locale::parse("ru"), Ok(Locale::Ru));
        assert_eq!(Locale::parse("RU-ru"), Ok(Locale::Ru));
        assert_eq!(Locale::parse("en_GB"), Ok(Locale::En));
    }

    #[test]
    fn unsupported_languages_are_rejected() {
        for bad in ["", "de", "english", "r"] {
            assert_eq!(Locale::parse(bad), Err(LocaleError), "{bad:?}");
        }
    }
}
