//! What responses show: the `User` of the README's contract and the `TokenPair`.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use crate::Config;
use crate::domain::{Actor, Address, Identity, SecurityEvent, SessionId, User, UserTypes};
use crate::ports::{Factor, Passkey, Session};
use crate::services::export::AccountExport;
use crate::services::passkeys::passkey_id;
use crate::services::profile::Viewer;
use crate::services::sessions::TokenPair;

/// `User` as the owner or an admin sees it.
#[derive(Debug, Serialize)]
pub struct UserView<'a> {
    pub id: String,
    /// The user type's name.
    pub source: &'a str,
    pub email: &'a str,
    pub login: Option<&'a str>,
    pub first_name: Option<&'a str>,
    pub last_name: Option<&'a str>,
    pub full_name: Option<String>,
    pub locale: &'static str,
    pub status: &'static str,
    pub email_confirmed: bool,
    pub roles: Vec<&'a str>,
    pub addresses: Vec<AddressView<'a>>,
    pub profile_is_public: bool,
    pub attributes: &'a crate::domain::Attributes,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_sign_in_at: Option<OffsetDateTime>,
    pub sign_in_count: u64,
    /// Whether signing in takes a second factor.
    pub mfa_enabled: bool,
}

#[derive(Debug, Serialize)]
pub struct AddressView<'a> {
    pub id: String,
    pub address: &'a str,
    pub name: Option<&'a str>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl<'a> UserView<'a> {
    /// `types`: the deployment's user types, which name the account's.
    pub fn new(user: &'a User, types: &'a UserTypes) -> Self {
        Self {
            id: user.id.to_string(),
            source: types.name(&user.user_type),
            email: user.email.as_str(),
            login: user.login.as_ref().map(|login| login.as_str()),
            first_name: user.first_name.as_ref().map(|name| name.as_str()),
            last_name: user.last_name.as_ref().map(|name| name.as_str()),
            full_name: user.full_name(),
            locale: user.locale.as_str(),
            status: user.status.as_str(),
            email_confirmed: user.email_confirmed,
            roles: user.roles.iter().map(|role| role.as_str()).collect(),
            addresses: user.addresses.iter().map(AddressView::from).collect(),
            profile_is_public: user.profile_is_public,
            attributes: &user.attributes,
            created_at: user.created_at,
            updated_at: user.updated_at,
            last_sign_in_at: user.last_sign_in_at,
            sign_in_count: user.sign_in_count,
            mfa_enabled: user.second_factor,
        }
    }
}

/// A second factor as its owner sees it: never its secret.
#[derive(Debug, Serialize)]
pub struct FactorView<'a> {
    pub id: String,
    pub kind: &'static str,
    pub name: &'a str,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
}

impl<'a> From<&'a Factor> for FactorView<'a> {
    fn from(factor: &'a Factor) -> Self {
        Self {
            id: factor.id.to_string(),
            kind: factor.kind.as_str(),
            name: factor.name.as_str(),
            created_at: factor.created_at,
            last_used_at: factor.last_used_at,
        }
    }
}

impl<'a> From<&'a Passkey> for FactorView<'a> {
    fn from(passkey: &'a Passkey) -> Self {
        Self {
            id: passkey_id(&passkey.credential_id),
            kind: "passkey",
            name: passkey.name.as_str(),
            created_at: passkey.created_at,
            last_used_at: passkey.last_used_at,
        }
    }
}

/// A passkey as `GET /v1/users/me/passkeys` lists it.
#[derive(Debug, Serialize)]
pub struct PasskeyView<'a> {
    pub id: String,
    pub name: &'a str,
    /// Bound to one device (`amr` `hwk`), or may be synced (`swk`).
    pub device_bound: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
}

impl<'a> From<&'a Passkey> for PasskeyView<'a> {
    fn from(passkey: &'a Passkey) -> Self {
        Self {
            id: passkey_id(&passkey.credential_id),
            name: passkey.name.as_str(),
            device_bound: passkey.device_bound,
            created_at: passkey.created_at,
            last_used_at: passkey.last_used_at,
        }
    }
}

/// A linked provider account as `GET /v1/users/me/identities` lists it.
#[derive(Debug, Serialize)]
pub struct IdentityView<'a> {
    /// What `DELETE /v1/users/me/identities/{id}` takes.
    pub id: String,
    pub provider: &'a str,
    /// The provider's address when it was linked, masked.
    pub email: Option<&'a str>,
    #[serde(with = "time::serde::rfc3339")]
    pub linked_at: OffsetDateTime,
}

impl<'a> From<&'a Identity> for IdentityView<'a> {
    fn from(identity: &'a Identity) -> Self {
        Self {
            id: identity.key.id(),
            provider: identity.key.provider.as_str(),
            email: identity.email_hint.as_deref(),
            linked_at: identity.linked_at,
        }
    }
}

/// An entry of the security log as `GET /v1/users/me/events` lists it.
#[derive(Debug, Serialize)]
pub struct EventView<'a> {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// `self`, `admin` or `operator`.
    pub actor: &'static str,
    /// The network the request came from: IPv4 /24, IPv6 /48.
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub detail: &'a std::collections::BTreeMap<String, String>,
}

impl<'a> From<&'a SecurityEvent> for EventView<'a> {
    fn from(event: &'a SecurityEvent) -> Self {
        Self {
            id: event.id.to_string(),
            kind: event.kind.as_str(),
            at: event.at,
            actor: match event.actor {
                Actor::Owner => "self",
                Actor::Admin(_) => "admin",
                Actor::Operator => "operator",
            },
            ip: event.origin.network(),
            user_agent: event.origin.user_agent(),
            detail: &event.detail,
        }
    }
}

/// A session as `GET /v1/users/me/sessions` lists it.
#[derive(Debug, Serialize)]
pub struct SessionView<'a> {
    /// The `sid` claim of the session's access tokens.
    pub id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The last refresh (access tokens are checked without a write), or
    /// the sign-in.
    #[serde(with = "time::serde::rfc3339")]
    pub last_used_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub user_agent: Option<&'a str>,
    /// The network the sign-in came from: IPv4 /24, IPv6 /48.
    pub ip: Option<&'a str>,
    pub amr: Vec<String>,
    /// The session of the request's own token.
    pub current: bool,
}

impl<'a> SessionView<'a> {
    pub fn of(session: &'a Session, current: SessionId) -> Self {
        Self {
            id: session.id.to_string(),
            created_at: session.created_at,
            last_used_at: session.rotated_at.unwrap_or(session.created_at),
            expires_at: session.expires_at,
            user_agent: session.origin.user_agent(),
            ip: session.origin.network(),
            amr: session.authentication.amr(),
            current: session.id == current,
        }
    }
}

/// `GET /v1/users/me/export`: the account as one document.
#[derive(Debug, Serialize)]
pub struct AccountExportView<'a> {
    #[serde(with = "time::serde::rfc3339")]
    pub exported_at: OffsetDateTime,
    pub user: UserView<'a>,
    pub sessions: Vec<SessionView<'a>>,
    pub factors: Vec<FactorView<'a>>,
    pub recovery_codes_left: usize,
    pub passkeys: Vec<PasskeyView<'a>>,
    /// The linked provider accounts.
    pub identities: Vec<IdentityView<'a>>,
    /// The security log, newest first.
    pub events: Vec<EventView<'a>>,
}

impl<'a> AccountExportView<'a> {
    pub fn of(account: &'a AccountExport, current: SessionId, types: &'a UserTypes) -> Self {
        Self {
            exported_at: account.exported_at,
            user: UserView::new(&account.user, types),
            sessions: account
                .sessions
                .iter()
                .map(|session| SessionView::of(session, current))
                .collect(),
            factors: account.factors.iter().map(FactorView::from).collect(),
            recovery_codes_left: account.recovery_codes_left,
            passkeys: account.passkeys.iter().map(PasskeyView::from).collect(),
            identities: account.identities.iter().map(IdentityView::from).collect(),
            events: account.events.iter().map(EventView::from).collect(),
        }
    }
}

impl<'a> From<&'a Address> for AddressView<'a> {
    fn from(address: &'a Address) -> Self {
        Self {
            id: address.id.to_string(),
            address: address.address.as_str(),
            name: address.name.as_ref().map(|name| name.as_str()),
            created_at: address.created_at,
        }
    }
}

/// `PublicUser`: what anyone may see of a public profile.
#[derive(Debug, Serialize)]
pub struct PublicUserView<'a> {
    pub id: String,
    pub login: Option<&'a str>,
    pub first_name: Option<&'a str>,
    pub last_name: Option<&'a str>,
    pub full_name: Option<String>,
    pub profile_is_public: bool,
    pub attributes: BTreeMap<String, Value>,
}

/// `PublicUser` of a private profile: the id alone.
#[derive(Debug, Serialize)]
pub struct PrivateUserView {
    pub id: String,
}

/// The one place that decides what a viewer sees of an account.
pub fn user_for(viewer: Viewer, user: &User, config: &Config) -> Value {
    let specs = &config.profile_attributes;
    let view = match viewer {
        Viewer::Privileged => serde_json::to_value(UserView::new(user, &config.user_types)),
        Viewer::Public if user.profile_is_public => serde_json::to_value(PublicUserView {
            id: user.id.to_string(),
            login: user.login.as_ref().map(|login| login.as_str()),
            first_name: user.first_name.as_ref().map(|name| name.as_str()),
            last_name: user.last_name.as_ref().map(|name| name.as_str()),
            full_name: user.full_name(),
            profile_is_public: true,
            attributes: user.attributes.public_only(specs),
        }),
        Viewer::Public => serde_json::to_value(PrivateUserView {
            id: user.id.to_string(),
        }),
    };
    // Serializing these plain structs cannot fail; an empty object is the
    // safe answer if it ever did.
    view.unwrap_or_else(|_| Value::Object(serde_json::Map::new()))
}

#[derive(Debug, Serialize)]
pub struct TokenPairView<'a> {
    pub access_token: &'a str,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub refresh_token: &'a str,
    pub refresh_expires_in: u64,
    pub user_id: String,
}

impl<'a> From<&'a TokenPair> for TokenPairView<'a> {
    fn from(pair: &'a TokenPair) -> Self {
        Self {
            access_token: &pair.access_token,
            token_type: "Bearer",
            expires_in: pair.expires_in,
            refresh_token: pair.refresh_token.as_str(),
            refresh_expires_in: pair.refresh_expires_in,
            user_id: pair.user_id.to_string(),
        }
    }
}
