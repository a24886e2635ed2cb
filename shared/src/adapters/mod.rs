//! Adapters behind the ports: DynamoDB, SES v2 and KMS in production; with
//! the `local` feature, an embedded store, an outbox mailer and a local key.

pub mod aws;
pub mod dynamodb;
mod envelope;
pub mod kms;
pub mod kms_sealer;
mod records;
pub mod ses;

#[cfg(feature = "local")]
pub mod embedded;
#[cfg(feature = "local")]
pub mod local_key;
#[cfg(feature = "local")]
pub mod local_sealer;
#[cfg(feature = "local")]
pub mod outbox;

pub(crate) use records::spki_der_to_pem;
