//! Opaque identifiers: UUIDv7 (time-ordered, not guessable in sequence).

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Accepts only the canonical hyphenated form this service issues.
            pub fn parse(input: &str) -> Option<Self> {
                let uuid = Uuid::try_parse(input).ok()?;
                (uuid.hyphenated().to_string() == input).then_some(Self(uuid))
            }

            pub fn as_bytes(&self) -> &[u8; 16] {
                self.0.as_bytes()
            }

            pub fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(Uuid::from_bytes(bytes))
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.hyphenated())
            }
        }
    };
}

id_type!(
    /// A user's id.
    UserId
);
id_type!(
    /// One of a user's addresses.
    AddressId
);
id_type!(
    /// A login session's id (the `sid` claim).
    SessionId
);
id_type!(
    /// A service client's id (`client_id`).
    ClientId
);
id_type!(
    /// One of a user's second factors.
    FactorId
);
id_type!(
    /// An entry of an account's security log; time-ordered, so the log
    /// sorts by it.
    EventId
);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ids_round_trip_through_their_text_form() {
        let id = UserId::new();
        assert_eq!(UserId::parse(&id.to_string()), Some(id));
    }

    #[test]
    fn non_canonical_or_foreign_text_is_not_an_id() {
        let id = UserId::new().to_string();
        assert_eq!(UserId::parse(&id.to_uppercase()), None);
        assert_eq!(UserId::parse(&id.replace('-', "")), None);
        assert_eq!(UserId::parse("42"), None);
        assert_eq!(UserId::parse(""), None);
    }

    #[test]
    fn new_ids_are_time_ordered() {
        let first = UserId::new();
        let second = UserId::new();
        assert!(first < second);
    }
}
