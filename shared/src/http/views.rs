//! What responses show: the `User` of the README's contract and the `TokenPair`.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use crate::Config;
use crate::domain::{Address, User, UserTypes};
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
