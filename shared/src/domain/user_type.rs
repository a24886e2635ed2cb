//! User types (`source`): one deployment serves several kinds of people
//! whose accounts are separate even when they share an email address.
//! `USER_TYPES` names them; the first is the default type.

use std::fmt;

use super::{Email, Login};

/// The type an account belongs to. The default type is stored as no type at
/// all (and its keys carry none), which is how accounts made before types
/// existed belong to it with nothing to migrate.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub enum UserType {
    #[default]
    Default,
    /// Another configured type, by name.
    Named(String),
}

impl UserType {
    /// The stored name: `None` for the default type.
    pub fn stored_name(&self) -> Option<&str> {
        match self {
            Self::Default => None,
            Self::Named(name) => Some(name),
        }
    }

    /// An account read back: no stored name is the default type.
    pub fn from_stored(name: Option<String>) -> Self {
        name.map_or(Self::Default, Self::Named)
    }

    /// A key unique within this type, from a key unique among all accounts
    /// of one type: the default type's keys stay as they were, the others'
    /// get `#<type>` at the end. An email key ends in a domain and a login
    /// holds no `#`, so no key of one type can be another type's.
    pub fn scope(&self, key: &str) -> String {
        match self {
            Self::Default => key.to_owned(),
            Self::Named(name) => format!("{key}#{name}"),
        }
    }

    /// The uniqueness key of `email` within this type.
    pub fn email_key(&self, email: &Email) -> String {
        self.scope(email.key())
    }

    /// The uniqueness key of `login` within this type.
    pub fn login_key(&self, login: &Login) -> String {
        self.scope(&login.key())
    }
}

impl fmt::Debug for UserType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str("UserType(default)"),
            Self::Named(name) => write!(f, "UserType({name})"),
        }
    }
}

/// The configured types (`USER_TYPES`): at least one, the first the default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserTypes {
    names: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserTypesError {
    #[error("name at least one type")]
    Empty,
    #[error("{0:?}: a type is 1 to 32 characters of a-z, 0-9, _ and -, starting with a letter")]
    InvalidName(String),
    #[error("{0:?} is named twice")]
    Repeated(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not one of the configured user types")]
pub struct UnknownUserType;

impl UserTypes {
    /// Comma-separated names, the default first.
    pub fn parse(list: &str) -> Result<Self, UserTypesError> {
        let mut names: Vec<String> = Vec::new();
        for name in list
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
        {
            let mut chars = name.chars();
            let valid = name.len() <= 32
                && chars.next().is_some_and(|c| c.is_ascii_lowercase())
                && chars
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
            if !valid {
                return Err(UserTypesError::InvalidName(name.to_owned()));
            }
            if names.iter().any(|known| known == name) {
                return Err(UserTypesError::Repeated(name.to_owned()));
            }
            names.push(name.to_owned());
        }
        if names.is_empty() {
            return Err(UserTypesError::Empty);
        }
        Ok(Self { names })
    }

    /// A `source` a client sent: absent is the default type.
    pub fn source(&self, text: Option<&str>) -> Result<UserType, UnknownUserType> {
        let Some(text) = text.map(str::trim) else {
            return Ok(UserType::Default);
        };
        match self.names.iter().position(|name| name == text) {
            Some(0) => Ok(UserType::Default),
            Some(_) => Ok(UserType::Named(text.to_owned())),
            None => Err(UnknownUserType),
        }
    }

    /// The name clients see (`source`, the `user_type` claim).
    pub fn name<'a>(&'a self, user_type: &'a UserType) -> &'a str {
        match user_type {
            UserType::Default => &self.names[0],
            UserType::Named(name) => name,
        }
    }
}

impl Default for UserTypes {
    /// `user` alone, as a deployment without `USER_TYPES` has.
    fn default() -> Self {
        Self {
            names: vec!["user".to_owned()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_type_is_the_default_and_unknown_names_are_refused() {
        let types = UserTypes::parse(" customer, partner ").unwrap();
        assert_eq!(types.source(None), Ok(UserType::Default));
        assert_eq!(types.source(Some("customer")), Ok(UserType::Default));
        let partner = types.source(Some(" partner ")).unwrap();
        assert_eq!(partner, UserType::Named("partner".to_owned()));
        assert_eq!(types.name(&partner), "partner");
        assert_eq!(types.name(&UserType::Default), "customer");
        for unknown in ["", "Partner", "admin"] {
            assert_eq!(
                types.source(Some(unknown)),
                Err(UnknownUserType),
                "{unknown:?}"
            );
        }
    }

    #[test]
    fn bad_lists_are_refused() {
        assert_eq!(UserTypes::parse(" , "), Err(UserTypesError::Empty));
        assert!(matches!(
            UserTypes::parse("user,Partner"),
            Err(UserTypesError::InvalidName(_))
        ));
        assert!(matches!(
            UserTypes::parse("user,user"),
            Err(UserTypesError::Repeated(_))
        ));
    }

    #[test]
    fn keys_of_the_default_type_are_unchanged_and_the_others_never_meet_them() {
        let email = Email::parse("Ada@Example.com").unwrap();
        let partner = UserType::Named("partner".to_owned());
        assert_eq!(UserType::Default.email_key(&email), "ada@example.com");
        assert_eq!(partner.email_key(&email), "ada@example.com#partner");
        let login = Login::parse("Ada").unwrap();
        assert_eq!(UserType::Default.login_key(&login), "ada");
        assert_eq!(partner.login_key(&login), "ada#partner");
        // No default-type key can look like another type's.
        assert!(Email::parse("ada@example.com#partner").is_err());
        assert!(Login::parse("ada#partner").is_err());
    }
}
