//! Email addresses: the form the user typed (mail goes only there) and the
//! normalized key that decides uniqueness.

use std::fmt;
use std::str::FromStr;

use email_address::EmailAddress;
use unicode_normalization::UnicodeNormalization;

const MAX_LEN: usize = 254;

#[derive(Clone, PartialEq, Eq)]
pub struct Email {
    address: String,
    key: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("email is empty")]
    Empty,
    #[error("email is longer than {MAX_LEN} characters")]
    TooLong,
    #[error("email is not a valid address")]
    Invalid,
}

impl Email {
    /// Trims the input and checks it is a plain `local@domain` address (no
    /// display name, no control characters).
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let address = input.trim();
        if address.is_empty() {
            return Err(EmailError::Empty);
        }
        if address.chars().count() > MAX_LEN {
            return Err(EmailError::TooLong);
        }
        if address.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(EmailError::Invalid);
        }
        let parsed = EmailAddress::from_str(address).map_err(|_| EmailError::Invalid)?;
        if parsed.as_str() != address || !parsed.domain().contains('.') {
            return Err(EmailError::Invalid);
        }
        Ok(Self {
            key: normalize(address),
            address: address.to_owned(),
        })
    }

    /// The address as the user typed it (trimmed). Mail is sent here only.
    pub fn as_str(&self) -> &str {
        &self.address
    }

    /// The comparison key: NFKC then lower case, so `Bob@Example.COM`,
    /// `bob@example.com` and compatibility lookalikes such as the Kelvin sign
    /// `K` or the long `ſ` land on one key and cannot make a second account.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// The uniqueness key for an email-shaped lookup string, without validating it.
pub fn normalize(address: &str) -> String {
    let folded: String = address.trim().nfkc().collect::<String>().to_lowercase();
    // Lower-casing can produce characters that NFKC maps again.
    folded.nfkc().collect()
}

impl fmt::Debug for Email {
    // Full addresses are personal data; keep them out of debug output and logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", self.redacted())
    }
}

impl Email {
    /// `b***@example.com`: enough to follow a log line, not enough to harvest.
    pub fn redacted(&self) -> String {
        match self.address.split_once('@') {
            Some((local, domain)) => {
                let first: String = local.chars().take(1).collect();
                format!("{first}***@{domain}")
            }
            None => "***".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn valid_addresses_are_trimmed_and_keep_their_case() {
        let email = Email::parse("  Bob.Smith@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "Bob.Smith@Example.COM");
        assert_eq!(email.key(), "bob.smith@example.com");
    }

    #[test]
    fn invalid_addresses_are_rejected() {
        for bad in [
            "",
            "   ",
            "plainaddress",
            "@example.com",
            "bob@",
            "bob@@example.com",
            "bob smith@example.com",
            "Bob <bob@example.com>",
            "bob@localhost",
            "bob@exa\u{0}mple.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn an_overlong_address_is_rejected() {
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(Email::parse(&long), Err(EmailError::TooLong));
    }

    #[test]
    fn compatibility_lookalikes_share_one_key() {
        let plain = Email::parse("kelvin@example.com").unwrap();
        let kelvin_sign = Email::parse("\u{212A}elvin@example.com").unwrap();
        assert_eq!(plain.key(), kelvin_sign.key());
        let long_s = Email::parse("\u{17F}am@example.com").unwrap();
        assert_eq!(long_s.key(), "sam@example.com");
        // The stored form keeps what was typed: mail only goes there.
        assert_eq!(kelvin_sign.as_str(), "\u{212A}elvin@example.com");
    }

    #[test]
    fn debug_output_does_not_show_the_address() {
        let email = Email::parse("secret.person@example.com").unwrap();
        let shown = format!("{email:?}");
        assert!(!shown.contains("secret.person"), "{shown}");
        assert!(shown.contains("example.com"));
    }

    proptest! {
        #[test]
        fn the_key_ignores_case_and_surrounding_space(local in "[a-zA-Z0-9]{1,20}", domain in "[a-zA-Z]{1,10}") {
            let address = format!("{local}@{domain}.com");
            let upper = Email::parse(&format!(" {} ", address.to_uppercase())).unwrap();
            let lower = Email::parse(&address.to_lowercase()).unwrap();
            prop_assert_eq!(upper.key(), lower.key());
        }
    }
}
