//! argon2id hashing and verification, off the async threads.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::config::Argon2Params;
use crate::domain::Password;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("argon2 parameters are invalid: {0}")]
    Params(String),
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("the hashing task did not finish")]
    Join(#[from] tokio::task::JoinError),
}

fn hasher(params: Argon2Params) -> Result<Argon2<'static>, HashError> {
    let params = Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        None,
    )
    .map_err(|error| HashError::Params(error.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Runs argon2id work on the blocking pool, at most one job per core at a
/// time. More at once would not finish sooner (the work is CPU-bound), but
/// each job holds its 19 MiB, and the allocator keeps what a blocking
/// thread once used: a burst of sign-ins grew `local-api` past 1 GiB.
async fn on_argon2_thread<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, HashError> + Send + 'static,
) -> Result<T, HashError> {
    static SLOTS: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        tokio::sync::Semaphore::new(cores)
    });
    let _slot = SLOTS
        .acquire()
        .await
        .map_err(|error| HashError::Hash(error.to_string()))?;
    tokio::task::spawn_blocking(work).await?
}

/// The PHC string (`$argon2id$v=19$m=…`) of a new password.
pub async fn hash(password: Password, params: Argon2Params) -> Result<String, HashError> {
    on_argon2_thread(move || {
        let hash = hasher(params)?
            .hash_password(password.expose())
            .map_err(|error| HashError::Hash(error.to_string()))?;
        Ok(hash.to_string())
    })
    .await
}

/// True when `password` matches the PHC string. The parameters come from
/// the string itself, so hashes made under older settings still verify.
pub async fn verify(password: Password, phc: String) -> Result<bool, HashError> {
    on_argon2_thread(move || {
        let argon2 = Argon2::default();
        Ok(argon2
            .verify_password(password.expose(), phc.as_str())
            .is_ok())
    })
    .await
}

/// Verifies against a fixed hash made with the configured cost, so a sign-in
/// for an unknown account costs what a real one costs. The hash is made on
/// first use (the cost is fixed per process), not at every cold start.
pub async fn verify_dummy(password: Password, params: Argon2Params) -> Result<(), HashError> {
    static DUMMY_HASH: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    let phc = DUMMY_HASH
        .get_or_try_init(|| async {
            let dummy = Password::candidate("a password no account has")
                .ok_or_else(|| HashError::Hash("dummy password rejected".to_owned()))?;
            hash(dummy, params).await
        })
        .await?;
    verify(password, phc.clone()).await.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password(text: &str) -> Password {
        Password::candidate(text).unwrap()
    }

    #[tokio::test]
    async fn a_hash_is_argon2id_and_verifies_only_its_password() {
        let phc = hash(password("correct horse battery"), Argon2Params::default())
            .await
            .unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(
            verify(password("correct horse battery"), phc.clone())
                .await
                .unwrap()
        );
        assert!(!verify(password("wrong horse battery"), phc).await.unwrap());
    }

    #[tokio::test]
    async fn a_hash_made_with_other_parameters_still_verifies() {
        let cheap = Argon2Params {
            memory_kib: 8,
            iterations: 1,
            parallelism: 1,
        };
        let phc = hash(password("correct horse battery"), cheap)
            .await
            .unwrap();
        assert!(
            verify(password("correct horse battery"), phc)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_malformed_stored_hash_does_not_verify() {
        assert!(
            !verify(password("anything at all"), "not a phc string".into())
                .await
                .unwrap()
        );
    }
}
