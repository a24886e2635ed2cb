//! [`SecretSealer`] for local mode: the key that wraps data keys is 32
//! random bytes in a file in the data folder (made on first start, readable
//! by its owner only), standing in for the KMS key. Each secret still gets
//! its own data key, wrapped with AES-256-GCM under the file's key.

use std::path::Path;

use async_trait::async_trait;

use super::envelope::{self, DATA_KEY_LEN};
use crate::ports::{SealError, SealedSecret, SecretSealer};

/// What a wrapped data key is bound to, besides the secret's purpose.
const WRAPPING_PURPOSE: &str = "data-key";

pub struct LocalSealer {
    key: [u8; DATA_KEY_LEN],
}

impl LocalSealer {
    /// Loads the key at `path`, or makes one there if the file is absent.
    pub fn load_or_create(path: &Path) -> Result<Self, std::io::Error> {
        Ok(Self {
            key: load_or_create_key(path)?,
        })
    }
}

/// A 32-byte key kept in a file readable by its owner only: read, or made
/// from the system's CSPRNG on first use.
pub(crate) fn load_or_create_key(path: &Path) -> Result<[u8; DATA_KEY_LEN], std::io::Error> {
    match std::fs::read(path) {
        Ok(bytes) => <[u8; DATA_KEY_LEN]>::try_from(bytes.as_slice()).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} is not a {DATA_KEY_LEN}-byte key", path.display()),
            )
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let key = envelope::new_data_key()
                .map_err(|error| std::io::Error::other(error.to_string()))?;
            write_private(path, &key)?;
            Ok(key)
        }
        Err(error) => Err(error),
    }
}

fn write_private(path: &Path, key: &[u8]) -> Result<(), std::io::Error> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(key)
}

#[async_trait]
impl SecretSealer for LocalSealer {
    async fn seal(&self, secret: &[u8], purpose: &str) -> Result<SealedSecret, SealError> {
        let data_key = envelope::new_data_key()?;
        let (key_nonce, wrapped) =
            envelope::seal(&self.key, &data_key, &wrapping_purpose(purpose))?;
        let (nonce, ciphertext) = envelope::seal(&data_key, secret, purpose)?;
        let mut wrapped_key = key_nonce.to_vec();
        wrapped_key.extend(wrapped);
        Ok(SealedSecret {
            wrapped_key,
            nonce: nonce.to_vec(),
            ciphertext,
        })
    }

    async fn open(&self, sealed: &SealedSecret, purpose: &str) -> Result<Vec<u8>, SealError> {
        let nonce_len = ring::aead::NONCE_LEN;
        if sealed.wrapped_key.len() <= nonce_len {
            return Err(SealError::Tampered);
        }
        let (key_nonce, wrapped) = sealed.wrapped_key.split_at(nonce_len);
        let data_key = envelope::open(&self.key, key_nonce, wrapped, &wrapping_purpose(purpose))?;
        envelope::open(&data_key, &sealed.nonce, &sealed.ciphertext, purpose)
    }
}

fn wrapping_purpose(purpose: &str) -> String {
    format!("{WRAPPING_PURPOSE}:{purpose}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn secrets_open_with_the_same_key_file_and_purpose_only() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("secrets.key");
        let sealer = LocalSealer::load_or_create(&path).unwrap();
        let sealed = sealer.seal(b"JBSWY3DPEHPK3PXP", "totp").await.unwrap();
        // The same file after a restart opens it; another purpose does not.
        let again = LocalSealer::load_or_create(&path).unwrap();
        assert_eq!(
            again.open(&sealed, "totp").await.unwrap(),
            b"JBSWY3DPEHPK3PXP"
        );
        assert!(matches!(
            again.open(&sealed, "other").await,
            Err(SealError::Tampered)
        ));
        // Another key file does not.
        let other = LocalSealer::load_or_create(&folder.path().join("other.key")).unwrap();
        assert!(matches!(
            other.open(&sealed, "totp").await,
            Err(SealError::Tampered)
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
