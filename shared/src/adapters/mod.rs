//! Adapters behind the ports: DynamoDB (and its stream), SES v2, KMS and
//! EventBridge in production; with
//! the `local` feature, an embedded store, an outbox mailer and a local key.

pub mod aws;
pub mod dynamodb;
mod envelope;
pub mod eventbridge;
pub mod kms;
pub mod kms_mac;
pub mod kms_sealer;
mod records;
pub mod secrets_manager;
pub mod ses;
pub mod stream;

#[cfg(feature = "local")]
pub mod embedded;
#[cfg(feature = "local")]
pub mod local_key;
#[cfg(feature = "local")]
pub mod local_mac;
#[cfg(feature = "local")]
pub mod local_sealer;
#[cfg(feature = "local")]
pub mod local_secrets;
#[cfg(feature = "local")]
pub mod outbox;

pub(crate) use records::spki_der_to_pem;
