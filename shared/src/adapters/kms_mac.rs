//! [`CodeMac`] on KMS: `GenerateMac` (HMAC_SHA_256) under the HMAC key
//! `CODE_MAC_KEY_ID`, whose material never leaves KMS.

use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::MacAlgorithmSpec;

use super::aws::SdkFailure;
use crate::ports::{CodeMac, MacError};

pub struct KmsMac {
    client: Client,
    key_id: String,
}

impl KmsMac {
    pub fn new(client: Client, key_id: impl Into<String>) -> Self {
        Self {
            client,
            key_id: key_id.into(),
        }
    }
}

#[async_trait]
impl CodeMac for KmsMac {
    async fn mac(&self, message: &[u8]) -> Result<Vec<u8>, MacError> {
        let output = self
            .client
            .generate_mac()
            .key_id(&self.key_id)
            .mac_algorithm(MacAlgorithmSpec::HmacSha256)
            .message(Blob::new(message))
            .send()
            .await
            .map_err(|error| match super::aws::classify(error) {
                SdkFailure::Throttled(error) => MacError::Throttled(error),
                SdkFailure::Failed(error) => MacError::Failed(error),
            })?;
        output
            .mac
            .map(Blob::into_inner)
            .ok_or_else(|| MacError::Failed("KMS returned no MAC".into()))
    }
}
