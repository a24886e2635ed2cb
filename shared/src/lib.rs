//! Latchkey's common crate: everything that is not one endpoint's HTTP edge.
//!
//! - [`domain`]: newtypes that cannot hold invalid values.
//! - [`ports`]: the traits services depend on (store, mailer, token signer, clock).
//! - [`services`]: the use cases, as plain async functions over the ports.
//! - [`adapters`]: DynamoDB, SES v2 and KMS in production; with the `local`
//!   feature, an embedded store, an outbox mailer and a local signing key.
//! - [`http`]: request parsing and the one mapping of errors to problem+json.
//! - [`federation`]: the relying party toward other providers (OpenID
//!   Connect).
//! - [`lifecycle`]: the security log's entries other systems hear of, as
//!   EventBridge documents.

pub mod adapters;
pub mod app;
pub mod config;
pub mod domain;
pub mod federation;
pub mod http;
mod jwt_backend;
pub mod lifecycle;
pub mod mail;
pub mod passkeys;
pub mod ports;
pub mod secrets;
pub mod services;
pub mod telemetry;
#[cfg(any(test, feature = "test-support"))]
pub mod test_support;
pub mod tokens;

pub use app::{Adapters, App};
pub use config::Config;
