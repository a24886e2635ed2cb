//! [`CodeMac`] for local mode: HMAC-SHA-256 (ring) under a key file in the
//! data folder, standing in for the KMS HMAC key.

use std::path::Path;

use async_trait::async_trait;
use ring::hmac;

use super::local_sealer::load_or_create_key;
use crate::ports::{CodeMac, MacError};

pub struct LocalMac {
    key: hmac::Key,
}

impl LocalMac {
    /// Loads the key at `path`, or makes one there if the file is absent.
    pub fn load_or_create(path: &Path) -> Result<Self, std::io::Error> {
        let bytes = load_or_create_key(path)?;
        Ok(Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &bytes),
        })
    }
}

#[async_trait]
impl CodeMac for LocalMac {
    async fn mac(&self, message: &[u8]) -> Result<Vec<u8>, MacError> {
        Ok(hmac::sign(&self.key, message).as_ref().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_mac_is_keyed_stable_and_kept_across_restarts() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("mac.key");
        let one = LocalMac::load_or_create(&path).unwrap();
        let again = LocalMac::load_or_create(&path).unwrap();
        let other = LocalMac::load_or_create(&folder.path().join("other.key")).unwrap();
        let mac = one.mac(b"123456").await.unwrap();
        assert_eq!(mac.len(), 32);
        assert_eq!(again.mac(b"123456").await.unwrap(), mac);
        assert_ne!(one.mac(b"123457").await.unwrap(), mac);
        assert_ne!(other.mac(b"123456").await.unwrap(), mac);
    }
}
