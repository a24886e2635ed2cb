//! The entries of an account's security log: what happened to the account,
//! when, from where and by whom, with a detail that never holds a secret.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use super::{EventId, SessionOrigin, UserId};

/// What a log entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    Registered,
    EmailConfirmed,
    SignedIn,
    SignInFailed,
    PasswordChanged,
    PasswordReset,
    EmailChanged,
    FactorAdded,
    FactorRemoved,
    FactorsReset,
    RecoveryCodesRenewed,
    PasskeyAdded,
    PasskeyRemoved,
    IdentityLinked,
    IdentityUnlinked,
    SessionEnded,
    SessionsEnded,
    AccountChanged,
    /// Written by the deletion's first write and removed with the rest: it
    /// lives only to carry `user.deleted` to other systems.
    AccountDeleted,
}

impl EventKind {
    pub const ALL: [Self; 19] = [
        Self::Registered,
        Self::EmailConfirmed,
        Self::SignedIn,
        Self::SignInFailed,
        Self::PasswordChanged,
        Self::PasswordReset,
        Self::EmailChanged,
        Self::FactorAdded,
        Self::FactorRemoved,
        Self::FactorsReset,
        Self::RecoveryCodesRenewed,
        Self::PasskeyAdded,
        Self::PasskeyRemoved,
        Self::IdentityLinked,
        Self::IdentityUnlinked,
        Self::SessionEnded,
        Self::SessionsEnded,
        Self::AccountChanged,
        Self::AccountDeleted,
    ];

    /// The `type` the API and the stored item carry.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registered => "registered",
            Self::EmailConfirmed => "email_confirmed",
            Self::SignedIn => "sign_in",
            Self::SignInFailed => "sign_in_failed",
            Self::PasswordChanged => "password_changed",
            Self::PasswordReset => "password_reset",
            Self::EmailChanged => "email_changed",
            Self::FactorAdded => "factor_added",
            Self::FactorRemoved => "factor_removed",
            Self::FactorsReset => "factors_reset",
            Self::RecoveryCodesRenewed => "recovery_codes_renewed",
            Self::PasskeyAdded => "passkey_added",
            Self::PasskeyRemoved => "passkey_removed",
            Self::IdentityLinked => "identity_linked",
            Self::IdentityUnlinked => "identity_unlinked",
            Self::SessionEnded => "session_ended",
            Self::SessionsEnded => "sessions_ended",
            Self::AccountChanged => "account_changed",
            Self::AccountDeleted => "account_deleted",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// Who made the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// The account's owner (or someone trying to be, for a failed sign-in).
    Owner,
    Admin(UserId),
    /// `latchkey-admin`, from the machine that holds the table.
    Operator,
}

/// One entry of an account's security log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityEvent {
    pub id: EventId,
    pub user_id: UserId,
    pub kind: EventKind,
    pub at: OffsetDateTime,
    pub actor: Actor,
    /// Where the request came from, coarsened like a session's.
    pub origin: SessionOrigin,
    /// Names and values that say more (the sign-in's methods, the factor's
    /// name, the session's id); never a secret, code or hash. The store
    /// keeps the entry `AUDIT_RETENTION_DAYS` after `at`.
    pub detail: BTreeMap<String, String>,
}

impl SecurityEvent {
    pub fn new(
        user_id: UserId,
        kind: EventKind,
        actor: Actor,
        origin: SessionOrigin,
        at: OffsetDateTime,
    ) -> Self {
        Self {
            id: EventId::new(),
            user_id,
            kind,
            at,
            actor,
            origin,
            detail: BTreeMap::new(),
        }
    }

    /// With one more detail.
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.detail.insert(name.to_owned(), value.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_name_and_names_are_distinct() {
        let mut names = std::collections::HashSet::new();
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
            assert!(names.insert(kind.as_str()));
        }
        assert_eq!(EventKind::parse("sign-in"), None);
    }
}
