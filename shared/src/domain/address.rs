//! A user's addresses: identifiers such as wallet addresses, each with an
//! optional name. Stored inside the profile, so adding one is a versioned
//! write of the profile and duplicates are caught there.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{AddressId, PersonName};

/// How many addresses one account may keep: the profile is one item, and
/// DynamoDB items stop at 400 KB.
pub const MAX_ADDRESSES: usize = 100;

/// The identifier itself: 1–256 characters, trimmed, no whitespace or
/// control characters inside. Compared exactly (some address formats are
/// case-sensitive).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AddressValue(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AddressValueError {
    #[error("an address is 1 to 256 characters")]
    Length,
    #[error("an address has no spaces or control characters")]
    Characters,
}

impl AddressValue {
    pub fn parse(input: &str) -> Result<Self, AddressValueError> {
        let value = input.trim();
        if !(1..=256).contains(&value.chars().count()) {
            return Err(AddressValueError::Length);
        }
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(AddressValueError::Characters);
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AddressValue {
    type Error = AddressValueError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<AddressValue> for String {
    fn from(value: AddressValue) -> Self {
        value.0
    }
}

impl fmt::Debug for AddressValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AddressValue({:?})", self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub id: AddressId,
    pub address: AddressValue,
    /// A label the user chose; the same rules as a person's name.
    pub name: Option<PersonName>,
    pub created_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_trimmed_and_refuse_blanks_spaces_and_overlong_values() {
        assert_eq!(
            AddressValue::parse("  0xAbC123  ").unwrap().as_str(),
            "0xAbC123"
        );
        assert_eq!(AddressValue::parse("   "), Err(AddressValueError::Length));
        assert_eq!(
            AddressValue::parse(&"a".repeat(257)),
            Err(AddressValueError::Length)
        );
        assert!(AddressValue::parse(&"a".repeat(256)).is_ok());
        assert_eq!(
            AddressValue::parse("0xab cd"),
            Err(AddressValueError::Characters)
        );
        assert_eq!(
            AddressValue::parse("0xab\u{0}cd"),
            Err(AddressValueError::Characters)
        );
    }
}
