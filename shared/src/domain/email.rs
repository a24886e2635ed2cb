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
    /// The local part holds compatibility characters (a Kelvin sign, a
    /// fullwidth letter) that NFKC would change: a lookalike of another
    /// address, never a new account's.
    #[error("email is a lookalike of another address")]
    Lookalike,
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
        let (local, domain) = address.rsplit_once('@').ok_or(EmailError::Invalid)?;
        let domain = idna::domain_to_ascii(domain).map_err(|_| EmailError::Invalid)?;
        // A host name: letters, digits and hyphens between dots. (Keys rely
        // on it: a key ends in its domain, so `#` after the `@` can only be
        // a user type's mark, never part of an address.)
        let host_name = domain.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
        if !host_name {
            return Err(EmailError::Invalid);
        }
        Ok(Self {
            key: format!("{}@{domain}", fold(local)),
            address: address.to_owned(),
        })
    }

    /// An address a new account may take: [`Email::parse`], and a local part
    /// NFKC leaves as it is. Lookups still fold lookalikes onto their key, so
    /// they find the account the plain address belongs to.
    pub fn parse_new(input: &str) -> Result<Self, EmailError> {
        let email = Self::parse(input)?;
        let (local, _) = email.address.rsplit_once('@').ok_or(EmailError::Invalid)?;
        if !local.nfkc().eq(local.chars()) {
            return Err(EmailError::Lookalike);
        }
        Ok(email)
    }

    /// The address as the user typed it (trimmed). Mail is sent here only.
    /// The address with most of its local part hidden (`a***@example.com`),
    /// for notices that must say which address without showing all of it.
    pub fn masked(&self) -> String {
        let (local, domain) = self
            .address
            .rsplit_once('@')
            .unwrap_or((self.address.as_str(), ""));
        let first: String = local.chars().take(1).collect();
        format!("{first}***@{domain}")
    }

    pub fn as_str(&self) -> &str {
        &self.address
    }

    /// The comparison key: the local part NFKC-folded and lower-cased, the
    /// domain mapped as IDNA (UTS #46) to its ASCII form, so
    /// `Bob@Example.COM`, `bob@example.com`, compatibility lookalikes such as
    /// the Kelvin sign `K` or the long `ſ`, and `bob@münchen.de` beside
    /// `bob@xn--mnchen-3ya.de` land on one key and cannot make a second
    /// account.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// NFKC, lower case, NFKC again (lower-casing can make characters NFKC maps).
fn fold(text: &str) -> String {
    let folded: String = text.nfkc().collect::<String>().to_lowercase();
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
    fn an_internationalized_domain_and_its_punycode_share_one_key() {
        let unicode = Email::parse("bob@M\u{fc}nchen.de").unwrap();
        let ascii = Email::parse("Bob@xn--mnchen-3ya.DE").unwrap();
        assert_eq!(unicode.key(), "bob@xn--mnchen-3ya.de");
        assert_eq!(unicode.key(), ascii.key());
        assert_eq!(unicode.as_str(), "bob@M\u{fc}nchen.de");
    }

    #[test]
    fn a_new_account_cannot_take_a_lookalike_local_part() {
        assert_eq!(
            Email::parse_new("\u{212A}elvin@example.com"),
            Err(EmailError::Lookalike)
        );
        assert_eq!(
            Email::parse_new("\u{FF41}lice@example.com"),
            Err(EmailError::Lookalike)
        );
        assert!(Email::parse_new("J\u{fc}rgen@example.com").is_ok());
        assert!(Email::parse_new("bob@m\u{fc}nchen.de").is_ok());
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
