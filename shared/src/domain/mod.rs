//! Domain types. Each is built only through a `parse` that checks it, so a
//! value of the type is valid by construction and services never re-check.

mod address;
mod attributes;
mod authentication;
mod email;
mod factor;
mod identity;
mod ids;
mod locale;
mod login;
mod name;
mod origin;
mod password;
mod role;
mod security_event;
mod totp;
mod user;
mod user_type;

pub use address::{Address, AddressValue, AddressValueError, MAX_ADDRESSES};
pub use attributes::{AttributeError, AttributeKind, AttributePatch, AttributeSpec, Attributes};
pub use authentication::{AuthMethod, Authentication};
pub use email::{Email, EmailError};
pub use factor::{FactorKind, FactorName, FactorNameError, MAX_FACTORS};
pub use identity::{Identity, IdentityKey, ProviderId, ProviderIdError};
pub use ids::{AddressId, ClientId, EventId, FactorId, SessionId, UserId};
pub use locale::{Locale, LocaleError};
pub use login::{Login, LoginError};
pub use name::{PersonName, PersonNameError};
pub use origin::{MAX_USER_AGENT_CHARS, SessionOrigin};
pub use password::{Password, PasswordError, PasswordPolicy, PasswordPolicyError};
pub use role::{MAX_ROLES, Role, RoleError, Roles, TooManyRoles};
pub use security_event::{Actor, EventKind, SecurityEvent};
pub use totp::{TOTP_SECRET_LEN, TotpError, TotpSecret};
pub use user::{AccountStatus, UnknownStatus, User};
pub use user_type::{UnknownUserType, UserType, UserTypes, UserTypesError};
