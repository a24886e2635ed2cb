//! Role names: lower-case words an admin grants. `admin` is the one the
//! service itself knows; others are for the deployment's own use.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The role that may change other accounts' status and roles.
pub const ADMIN: &str = "admin";

/// How many roles one account may hold.
pub const MAX_ROLES: usize = 20;

/// 1–32 characters of `a-z`, `0-9`, `_`, `-`, starting with a letter.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Role(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a role is 1 to 32 characters of a-z, 0-9, _ and -, starting with a letter")]
pub struct RoleError;

impl Role {
    pub fn parse(input: &str) -> Result<Self, RoleError> {
        let role = input.trim();
        let mut chars = role.chars();
        let valid = role.len() <= 32
            && chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if valid {
            Ok(Self(role.to_owned()))
        } else {
            Err(RoleError)
        }
    }

    pub fn admin() -> Self {
        Self(ADMIN.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Role {
    type Error = RoleError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Role> for String {
    fn from(value: Role) -> Self {
        value.0
    }
}

impl fmt::Debug for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Role({})", self.0)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The roles an account holds: sorted, without repeats, at most
/// [`MAX_ROLES`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Roles(Vec<Role>);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an account holds at most {MAX_ROLES} roles")]
pub struct TooManyRoles;

impl Roles {
    /// Repeats count once.
    pub fn new(mut roles: Vec<Role>) -> Result<Self, TooManyRoles> {
        roles.sort();
        roles.dedup();
        if roles.len() > MAX_ROLES {
            return Err(TooManyRoles);
        }
        Ok(Self(roles))
    }

    pub fn contains(&self, role: &Role) -> bool {
        self.0.contains(role)
    }
}

impl From<Roles> for Vec<Role> {
    fn from(value: Roles) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_set_counts_repeats_once_and_holds_at_most_the_limit() {
        let role = |index: usize| Role::parse(&format!("r{index}")).unwrap();
        let repeated: Vec<Role> = (0..MAX_ROLES * 2).map(|index| role(index % 3)).collect();
        assert_eq!(Vec::from(Roles::new(repeated).unwrap()).len(), 3);
        let full: Vec<Role> = (0..MAX_ROLES).map(role).collect();
        assert!(Roles::new(full.clone()).is_ok());
        let over: Vec<Role> = (0..=MAX_ROLES).map(role).collect();
        assert_eq!(Roles::new(over), Err(TooManyRoles));
    }

    #[test]
    fn role_names_are_lower_case_words() {
        for good in ["admin", "support", "billing_read", "a-1"] {
            assert_eq!(Role::parse(good).unwrap().as_str(), good);
        }
        for bad in ["", "Admin", "1admin", "ad min", "-x", &"a".repeat(33)] {
            assert_eq!(Role::parse(bad), Err(RoleError), "{bad:?}");
        }
    }
}
