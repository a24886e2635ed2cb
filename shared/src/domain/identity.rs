//! Accounts at other providers (OpenID Connect): which provider, and the
//! provider's subject (`sub`), which together name one person there.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::OffsetDateTime;

use super::UserId;

/// A configured provider's id (`OIDC_PROVIDERS`' `id`, and the path's
/// `{provider}`): 1–32 of `a-z`, `0-9` and `-`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProviderId(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a provider id is 1 to 32 of a-z, 0-9 and -")]
pub struct ProviderIdError;

impl ProviderId {
    pub fn parse(input: &str) -> Result<Self, ProviderIdError> {
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        if (1..=32).contains(&input.len()) && input.chars().all(allowed) {
            Ok(Self(input.to_owned()))
        } else {
            Err(ProviderIdError)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProviderId({})", self.0)
    }
}

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A person at a provider: the provider and its subject identifier, which
/// OpenID Connect promises never to reassign (at most 255 ASCII characters).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdentityKey {
    pub provider: ProviderId,
    subject: String,
}

impl IdentityKey {
    pub fn new(provider: ProviderId, subject: &str) -> Option<Self> {
        ((1..=255).contains(&subject.len()) && subject.chars().all(|c| c.is_ascii_graphic())).then(
            || Self {
                provider,
                subject: subject.to_owned(),
            },
        )
    }

    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The id the API shows and `DELETE /v1/users/me/identities/{id}` takes:
    /// `<provider>.<subject in base64url>` (subjects may hold any printable
    /// character, a path segment may not).
    pub fn id(&self) -> String {
        format!(
            "{}.{}",
            self.provider,
            URL_SAFE_NO_PAD.encode(&self.subject)
        )
    }

    pub fn parse_id(id: &str) -> Option<Self> {
        let (provider, subject) = id.split_once('.')?;
        let subject = String::from_utf8(URL_SAFE_NO_PAD.decode(subject).ok()?).ok()?;
        Self::new(ProviderId::parse(provider).ok()?, &subject)
    }
}

impl fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdentityKey({})", self.id())
    }
}

/// A provider account linked to one of ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub key: IdentityKey,
    pub user_id: UserId,
    /// The address the provider gave when it was linked, masked
    /// (`Email::masked`): enough for its owner to tell two apart.
    pub email_hint: Option<String>,
    pub linked_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_ids_go_both_ways_and_refuse_what_is_not_one() {
        let google = ProviderId::parse("google").unwrap();
        let key = IdentityKey::new(google.clone(), "1184/x+y").unwrap();
        assert_eq!(IdentityKey::parse_id(&key.id()), Some(key.clone()));
        assert!(!key.id().contains('/'));
        assert_eq!(IdentityKey::parse_id("google"), None);
        assert_eq!(IdentityKey::parse_id("Google.YQ"), None, "provider case");
        assert_eq!(IdentityKey::parse_id("google.!!"), None);
        assert!(IdentityKey::new(google.clone(), "").is_none());
        assert!(IdentityKey::new(google, &"a".repeat(256)).is_none());
        assert!(ProviderId::parse(&"a".repeat(33)).is_err());
        assert!(ProviderId::parse("git_hub").is_err());
    }
}
