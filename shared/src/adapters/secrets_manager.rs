//! [`SecretSource`] on Secrets Manager: `GetSecretValue` of a provider's
//! client secret, by ARN (the functions may read those ARNs only).

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;

use crate::ports::{SecretReadError, SecretSource};

pub struct SecretsManagerSource {
    client: Client,
}

impl SecretsManagerSource {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl SecretSource for SecretsManagerSource {
    async fn secret(&self, arn: &str) -> Result<String, SecretReadError> {
        let output = self
            .client
            .get_secret_value()
            .secret_id(arn)
            .send()
            .await
            .map_err(|error| SecretReadError(Box::new(error)))?;
        output
            .secret_string
            .ok_or_else(|| SecretReadError(format!("{arn} holds no string").into()))
    }
}
