//! [`SecretSource`] for `local-api`: a JSON file in the data folder
//! (`secrets.json`, `{"<arn>": "<value>"}`) stands in for Secrets Manager,
//! so a provider's configuration is the same locally and deployed.

use std::path::PathBuf;

use async_trait::async_trait;

use crate::ports::{SecretReadError, SecretSource};

pub struct LocalSecrets {
    path: PathBuf,
}

impl LocalSecrets {
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }
}

#[async_trait]
impl SecretSource for LocalSecrets {
    async fn secret(&self, arn: &str) -> Result<String, SecretReadError> {
        let path = self.path.display();
        let text = tokio::fs::read_to_string(&self.path)
            .await
            .map_err(|error| SecretReadError(format!("{path}: {error}").into()))?;
        let secrets: std::collections::HashMap<String, String> = serde_json::from_str(&text)
            .map_err(|error| SecretReadError(format!("{path}: {error}").into()))?;
        secrets
            .get(arn)
            .cloned()
            .ok_or_else(|| SecretReadError(format!("{path} has no {arn}").into()))
    }
}
