//! The account as services see it. The password hash is not part of it: it
//! travels separately (see `ports::Account`) so a `User` can be shown freely.

use time::OffsetDateTime;

use super::{
    Address, Attributes, Email, Locale, Login, Password, PasswordError, PasswordPolicy, PersonName,
    Role, UserId, UserType,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountStatus {
    /// Registered, email not confirmed yet.
    Waiting,
    Active,
    Disabled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a status is waiting, active or disabled")]
pub struct UnknownStatus;

impl AccountStatus {
    pub const ALL: [AccountStatus; 3] = [Self::Waiting, Self::Active, Self::Disabled];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Active => "active",
            Self::Disabled => "disabled",
        }
    }

    /// The word as `as_str` writes it; anything else is refused, never
    /// read as some default.
    pub fn parse(text: &str) -> Result<Self, UnknownStatus> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == text.trim())
            .ok_or(UnknownStatus)
    }

    /// A waiting account whose address has just been proven (a confirmation
    /// link, a reset code sent by email) becomes active; an active one stays
    /// so; a disabled one never changes this way (`None`).
    pub fn after_email_proof(self) -> Option<Self> {
        match self {
            Self::Waiting | Self::Active => Some(Self::Active),
            Self::Disabled => None,
        }
    }
}

impl std::str::FromStr for AccountStatus {
    type Err = UnknownStatus;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: UserId,
    /// Which kind of account (`source`); email and login are unique per type.
    pub user_type: UserType,
    pub email: Email,
    pub login: Option<Login>,
    pub first_name: Option<PersonName>,
    pub last_name: Option<PersonName>,
    pub locale: Locale,
    pub status: AccountStatus,
    pub email_confirmed: bool,
    pub roles: Vec<Role>,
    pub addresses: Vec<Address>,
    pub profile_is_public: bool,
    pub attributes: Attributes,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub last_sign_in_at: Option<OffsetDateTime>,
    pub sign_in_count: u64,
    /// Whether a second factor is on: a password (or any other single
    /// proof) then opens no session by itself. Kept on the profile, not
    /// derived from the factor items, so the write that opens a session can
    /// check it in the same condition as the password.
    pub second_factor: bool,
    /// Bumped on every change of the profile item; updates are conditional
    /// on it so concurrent writers cannot silently overwrite each other.
    pub version: u64,
}

impl User {
    /// A new account: waiting for confirmation, no optional fields, version 1.
    pub fn new(email: Email, now: OffsetDateTime) -> Self {
        Self {
            id: UserId::new(),
            user_type: UserType::Default,
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
            second_factor: false,
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

    /// A new password for this account: the policy's, and never the
    /// account's own email or login.
    pub fn new_password(
        &self,
        text: &str,
        policy: &PasswordPolicy,
    ) -> Result<Password, PasswordError> {
        let login = self.login.as_ref().map(Login::as_str).unwrap_or_default();
        Password::parse(text, policy, &[self.email.as_str(), login])
    }

    /// The key that keeps the email unique within the account's type.
    pub fn email_key(&self) -> String {
        self.user_type.email_key(&self.email)
    }

    /// The key that keeps the login unique within the account's type.
    pub fn login_key(&self) -> Option<String> {
        self.login
            .as_ref()
            .map(|login| self.user_type.login_key(login))
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
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_words_round_trip_and_nothing_else_is_a_status() {
        for status in AccountStatus::ALL {
            assert_eq!(AccountStatus::parse(status.as_str()), Ok(status));
        }
        for word in ["", "Active", "frozen", "disable"] {
            assert_eq!(AccountStatus::parse(word), Err(UnknownStatus), "{word:?}");
        }
    }

    #[test]
    fn a_proven_address_activates_a_waiting_account_and_never_a_disabled_one() {
        assert_eq!(
            AccountStatus::Waiting.after_email_proof(),
            Some(AccountStatus::Active)
        );
        assert_eq!(
            AccountStatus::Active.after_email_proof(),
            Some(AccountStatus::Active)
        );
        assert_eq!(AccountStatus::Disabled.after_email_proof(), None);
    }
}
