//! Answers that must not tell whether an address has an account (forgot,
//! resend, emailed sign-in codes) take as long either way. The request that finds an account does
//! the work (store writes, an email through SES) and records how long it
//! took; one that finds none, or sends nothing, waits until the median of
//! the recent working ones has passed. Mail stays on the response path, so
//! a send that fails is still logged and answered as before.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Durations kept: enough for a stable median, few enough to follow drift.
const KEPT: usize = 32;

/// The recent durations of one kind of request that did its work.
#[derive(Debug, Default)]
pub struct Pacer {
    recent: Mutex<VecDeque<Duration>>,
}

impl Pacer {
    /// A request that did the work took `took`.
    pub fn record(&self, took: Duration) {
        let mut recent = self
            .recent
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if recent.len() == KEPT {
            recent.pop_front();
        }
        recent.push_back(took);
    }

    /// How long a request that did no work should take: the median of the
    /// recent working ones (none yet: no wait).
    pub fn target(&self) -> Duration {
        let recent = self
            .recent
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let mut sorted: Vec<Duration> = recent.iter().copied().collect();
        sorted.sort_unstable();
        sorted.get(sorted.len() / 2).copied().unwrap_or_default()
    }

    /// Runs `work`, which says whether it did the work: if it did, its
    /// duration is recorded, else the answer waits for the target.
    pub async fn pace<E>(
        &self,
        work: impl std::future::Future<Output = Result<bool, E>>,
    ) -> Result<(), E> {
        let started = Instant::now();
        if work.await? {
            self.record(started.elapsed());
        } else {
            self.pad(started).await;
        }
        Ok(())
    }

    /// Waits until `started` plus [`Pacer::target`].
    pub async fn pad(&self, started: Instant) {
        let target = self.target();
        let elapsed = started.elapsed();
        if let Some(left) = target.checked_sub(elapsed) {
            tokio::time::sleep(left).await;
        }
    }
}

/// One pacer per kind of request whose answer must not depend on the
/// account.
#[derive(Debug, Default)]
pub struct Pacers {
    pub forgot: Pacer,
    pub resend: Pacer,
    /// Asking for a sign-in code by email.
    pub email_code: Pacer,
    /// Checking an emailed sign-in code: a known address's check takes a
    /// store write and a MAC, an unknown one's only the MAC.
    pub email_code_check: Pacer,
    /// Logging a wrong password: a known account's takes a store write, an
    /// unknown identifier's nothing.
    pub sign_in_failure: Pacer,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_is_the_median_of_the_recent_working_requests() {
        let pacer = Pacer::default();
        assert_eq!(pacer.target(), Duration::ZERO);
        for ms in [30, 10, 20] {
            pacer.record(Duration::from_millis(ms));
        }
        assert_eq!(pacer.target(), Duration::from_millis(20));
        // Only the latest KEPT count.
        for _ in 0..KEPT {
            pacer.record(Duration::from_millis(5));
        }
        assert_eq!(pacer.target(), Duration::from_millis(5));
    }

    #[tokio::test]
    async fn a_request_without_work_waits_until_the_target_has_passed() {
        let pacer = Pacer::default();
        pacer.record(Duration::from_millis(60));
        let started = Instant::now();
        pacer.pad(started).await;
        assert!(started.elapsed() >= Duration::from_millis(60));
        // Already late: no more waiting on top.
        let late = Instant::now() - Duration::from_millis(100);
        let before = Instant::now();
        pacer.pad(late).await;
        assert!(before.elapsed() < Duration::from_millis(60));
    }
}
