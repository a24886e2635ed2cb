//! argon2id hashing and verification, off the async threads.

use std::sync::{LazyLock, Mutex, PoisonError};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};

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

/// argon2id's working memory (19 MiB at the default cost), one per core,
/// kept from job to job. Allocating it per job cost twice over: the blocking
/// threads' heaps kept what they once held (a burst of sign-ins grew
/// `local-api` past 1 GiB), and fresh mappings instead made each job fault
/// in and zero 19 MiB of pages, a third of the throughput. argon2 writes
/// every block before it reads it, so reused memory needs no clearing.
struct Workspaces {
    /// At most one job per core: more would not finish sooner (the work is
    /// CPU-bound), each would only hold another workspace.
    slots: tokio::sync::Semaphore,
    idle: Mutex<Vec<Vec<Block>>>,
}

static WORKSPACES: LazyLock<Workspaces> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    Workspaces {
        slots: tokio::sync::Semaphore::new(cores),
        idle: Mutex::new(Vec::with_capacity(cores)),
    }
});

/// Runs `work` on the blocking pool with a workspace of its own.
async fn with_workspace<T: Send + 'static>(
    work: impl FnOnce(&mut Vec<Block>) -> Result<T, HashError> + Send + 'static,
) -> Result<T, HashError> {
    let workspaces = &*WORKSPACES;
    let _slot = workspaces
        .slots
        .acquire()
        .await
        .map_err(|error| HashError::Hash(error.to_string()))?;
    let mut memory = workspaces
        .idle
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .pop()
        .unwrap_or_default();
    let (result, memory) = tokio::task::spawn_blocking(move || {
        let result = work(&mut memory);
        (result, memory)
    })
    .await?;
    workspaces
        .idle
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(memory);
    result
}

/// argon2's output for `password` under `argon2`, computed in `memory`
/// (grown to the parameters' size if it is smaller).
fn compute(
    argon2: &Argon2<'_>,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    memory: &mut Vec<Block>,
) -> Result<Output, HashError> {
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut out = vec![0u8; params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN)];
    argon2
        .hash_password_into_with_memory(password, salt, &mut out, &mut memory[..blocks])
        .map_err(|error| HashError::Hash(error.to_string()))?;
    Output::new(&out).map_err(|error| HashError::Hash(error.to_string()))
}

/// The PHC string (`$argon2id$v=19$m=…`) of a new password.
pub async fn hash(password: Password, params: Argon2Params) -> Result<String, HashError> {
    let params = Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        None,
    )
    .map_err(|error| HashError::Params(error.to_string()))?;
    with_workspace(move |memory| {
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let salt = Salt::generate();
        let output = compute(&argon2, &params, password.expose(), &salt, memory)?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params)
                .map_err(|error| HashError::Params(error.to_string()))?,
            salt: Some(salt),
            hash: Some(output),
        };
        Ok(phc.to_string())
    })
    .await
}

/// True when `password` matches the PHC string. The parameters come from
/// the string itself, so hashes made under older settings still verify;
/// a string that is not an argon2 hash matches nothing.
pub async fn verify(password: Password, phc: String) -> Result<bool, HashError> {
    with_workspace(move |memory| {
        let Ok(stored) = PasswordHash::new(&phc) else {
            return Ok(false);
        };
        let (Some(salt), Some(expected)) = (&stored.salt, &stored.hash) else {
            return Ok(false);
        };
        let (Ok(algorithm), Ok(params)) = (
            Algorithm::try_from(stored.algorithm.as_str()),
            Params::try_from(&stored),
        ) else {
            return Ok(false);
        };
        let version = match stored.version {
            Some(number) => match Version::try_from(number) {
                Ok(version) => version,
                Err(_) => return Ok(false),
            },
            None => Version::default(),
        };
        let argon2 = Argon2::new(algorithm, version, params.clone());
        let Ok(computed) = compute(&argon2, &params, password.expose(), salt, memory) else {
            return Ok(false);
        };
        // Output's equality is constant-time.
        Ok(computed == *expected)
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

    /// Hashes stored before the workspaces existed were made by argon2's
    /// own hasher; ours must read them, and argon2 must read ours, whatever
    /// a reused workspace held before (here: a larger hash, then a smaller).
    #[tokio::test]
    async fn hashes_agree_with_the_argon2_crate_across_reused_memory() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};

        for memory_kib in [64, 19456, 8] {
            let params = Argon2Params {
                memory_kib,
                iterations: 2,
                parallelism: 1,
            };
            let ours = hash(password("correct horse battery"), params)
                .await
                .unwrap();
            let reference = Argon2::new(
                Algorithm::Argon2id,
                Version::V0x13,
                Params::new(memory_kib, 2, 1, None).unwrap(),
            );
            assert!(
                reference
                    .verify_password(b"correct horse battery", ours.as_str())
                    .is_ok(),
                "argon2 rejects our hash {ours}"
            );
            let theirs = reference
                .hash_password(b"correct horse battery")
                .unwrap()
                .to_string();
            assert!(
                verify(password("correct horse battery"), theirs.clone())
                    .await
                    .unwrap()
            );
            assert!(
                !verify(password("correct horse batterz"), theirs)
                    .await
                    .unwrap()
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_jobs_share_at_most_one_workspace_per_core() {
        let phc = hash(password("correct horse battery"), Argon2Params::default())
            .await
            .unwrap();
        let jobs: Vec<_> = (0..16)
            .map(|_| tokio::spawn(verify(password("correct horse battery"), phc.clone())))
            .collect();
        for job in jobs {
            assert!(job.await.unwrap().unwrap());
        }
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let idle = WORKSPACES.idle.lock().unwrap().len();
        assert!(idle <= cores, "{idle} workspaces kept for {cores} cores");
    }

    #[tokio::test]
    async fn a_malformed_stored_hash_does_not_verify() {
        for stored in [
            "not a phc string",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ",
            "$argon2id$v=17$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$scrypt$ln=16,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        ] {
            assert!(
                !verify(password("anything at all"), stored.into())
                    .await
                    .unwrap(),
                "{stored}"
            );
        }
    }
}
