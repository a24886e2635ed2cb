//! Counters that let tests prove what happens once per cold start and never
//! per request. Compiled only with the `test-support` feature, which the
//! test crates enable and the Lambda binaries do not.

use std::sync::atomic::{AtomicUsize, Ordering};

static AWS_CLIENT_SETS_BUILT: AtomicUsize = AtomicUsize::new(0);
static PUBLIC_KEY_FETCHES: AtomicUsize = AtomicUsize::new(0);

/// How many times this process has built its AWS SDK clients.
pub fn aws_client_sets_built() -> usize {
    AWS_CLIENT_SETS_BUILT.load(Ordering::Relaxed)
}

/// How many times this process has fetched a public key from KMS.
pub fn public_key_fetches() -> usize {
    PUBLIC_KEY_FETCHES.load(Ordering::Relaxed)
}

pub(crate) fn count_aws_client_set() {
    AWS_CLIENT_SETS_BUILT.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn count_public_key_fetch() {
    PUBLIC_KEY_FETCHES.fetch_add(1, Ordering::Relaxed);
}
