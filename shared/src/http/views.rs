//! What responses show: the `User` of API.md and the `TokenPair`.

use serde::Serialize;
use time::OffsetDateTime;

use crate::domain::User;
use crate::services::sessions::TokenPair;

/// `User` as the owner or an admin sees it.
#[derive(Debug, Serialize)]
pub struct UserView<'a> {
    pub id: String,
    pub email: &'a str,
    pub login: Option<&'a str>,
    pub first_name: Option<&'a str>,
    pub last_name: Option<&'a str>,
    pub full_name: Option<String>,
    pub locale: &'static str,
    pub status: &'static str,
    pub email_confirmed: bool,
    pub roles: &'a [String],
    pub addresses: Vec<AddressView>,
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
pub struct AddressView {
    pub id: String,
    pub address: String,
    pub name: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl<'a> From<&'a User> for UserView<'a> {
    fn from(user: &'a User) -> Self {
        Self {
            id: user.id.to_string(),
            email: user.email.as_str(),
            login: user.login.as_ref().map(|login| login.as_str()),
            first_name: user.first_name.as_ref().map(|name| name.as_str()),
            last_name: user.last_name.as_ref().map(|name| name.as_str()),
            full_name: user.full_name(),
            locale: user.locale.as_str(),
            status: user.status.as_str(),
            email_confirmed: user.email_confirmed,
            roles: &user.roles,
            // Addresses live in their own items; none are read here yet.
            addresses: Vec::new(),
            profile_is_public: user.profile_is_public,
            attributes: &user.attributes,
            created_at: user.created_at,
            updated_at: user.updated_at,
            last_sign_in_at: user.last_sign_in_at,
            sign_in_count: user.sign_in_count,
        }
    }
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
