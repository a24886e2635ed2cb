//! The account as services see it. The password hash is not part of it: it
//! travels separately (see `ports::Account`) so a `User` can be shown freely.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Address, Attributes, Email, Locale, Login, PersonName, Role, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    /// Registered, email not confirmed yet.
    Waiting,
    Active,
    Disabled,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Active => "active",
            Self::Disabled => "disabled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    #[serde(with = "email_serde")]
    pub email: Email,
    pub login: Option<Login>,
    pub first_name: Option<PersonName>,
    pub last_name: Option<PersonName>,
    pub locale: Locale,
    pub status: AccountStatus,
    pub email_confirmed: bool,
    pub roles: Vec<Role>,
    #[serde(default)]
    pub addresses: Vec<Address>,
    pub profile_is_public: bool,
    pub attributes: Attributes,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_sign_in_at: Option<OffsetDateTime>,
    pub sign_in_count: u64,
    /// Bumped on every change of the profile item; updates are conditional
    /// on it so concurrent writers cannot silently overwrite each other.
    pub version: u64,
}

impl User {
    /// A new account: waiting for confirmation, no optional fields, version 1.
    pub fn new(email: Email, now: OffsetDateTime) -> Self {
        Self {
            id: UserId::new(),
            email,
            login: None,
            first_name: None,
            last_name: None,
            locale: Locale::default(),
            status: AccountStatus::Waiting,
            email_confirmed: false,
            roles: Vec::new(),
            addresses: Vec::new(),
            profile_is_public: false,
            attributes: Attributes::default(),
            created_at: now,
            updated_at: now,
            last_sign_in_at: None,
            sign_in_count: 0,
            version: 1,
        }
    }

    /// Whether nobody confirmed this account's address within `ttl` of its
    /// creation: then a new registration may take the address over, so a
    /// squatter cannot hold someone else's address.
    pub fn unconfirmed_for(&self, ttl: std::time::Duration, now: OffsetDateTime) -> bool {
        self.status == AccountStatus::Waiting
            && !self.email_confirmed
            && self.created_at + ttl <= now
    }

    pub fn is_admin(&self) -> bool {
        self.roles
            .iter()
            .any(|role| role.as_str() == super::role::ADMIN)
    }

    /// `first last`, `first`, `last` or nothing: derived, never stored.
    pub fn full_name(&self) -> Option<String> {
        let parts: Vec<&str> = [&self.first_name, &self.last_name]
            .into_iter()
            .flatten()
            .map(PersonName::as_str)
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    }
}

/// Stored as the typed address; the key is recomputed (and the address
/// re-validated) on load.
mod email_serde {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    use crate::domain::Email;

    pub fn serialize<S: Serializer>(email: &Email, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(email.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Email, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Email::parse(&raw).map_err(D::Error::custom)
    }
}
