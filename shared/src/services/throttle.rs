//! Sign-in throttling (`429 too_many_attempts`), with both counts in the
//! store so every Lambda instance shares them:
//! - per account, consecutive failures: after `failures_before_delay` of
//!   them, each attempt waits `first_delay · 2^(failures − free)` (capped at
//!   `max_delay`) after the last failure. A correct password ends the streak.
//! - per client IP, failed sign-ins in a fixed window across all accounts,
//!   which is what password spraying looks like.
//!
//! Refusals come before the password is checked, so a throttled caller costs
//! no argon2 work. An identifier that matches no account is throttled the
//! same way under its own key, so a 429 does not tell whether it exists.

use std::time::Duration;

use time::OffsetDateTime;

use crate::App;
use crate::config::LoginThrottle;
use crate::domain::{Email, UserId};
use crate::ports::{FailureStreak, StoreError};
use crate::secrets::SecretHash;
use crate::services::limits::{self, Scope, Verdict};

/// A streak is forgotten a day after its last failure.
const STREAK_MEMORY: Duration = Duration::from_secs(24 * 3600);

/// Whose consecutive failures are counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject(String);

impl Subject {
    pub fn account(id: UserId) -> Self {
        Self::hashed(&format!("account:{id}"))
    }

    /// An identifier that matched no account, normalized the way lookups
    /// are, so case or Unicode variants share one streak.
    pub fn unknown(identifier: &str) -> Self {
        let normalized = match Email::parse(identifier) {
            Ok(email) => email.key().to_owned(),
            Err(_) => identifier.trim().to_lowercase(),
        };
        Self::hashed(&format!("identifier:{normalized}"))
    }

    fn hashed(raw: &str) -> Self {
        // Keys hold no identifiers or addresses.
        Self(format!("login#{}", SecretHash::of(raw).as_str()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ThrottleError {
    #[error("too many failed sign-ins; retry after {retry_after_seconds} s")]
    TooManyAttempts { retry_after_seconds: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Leave to check a password, and what a success must clean up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct Admission {
    streak: bool,
}

/// Refuses the attempt while the subject or the IP is throttled.
pub async fn admit(
    app: &App,
    subject: &Subject,
    client_ip: &str,
) -> Result<Admission, ThrottleError> {
    let settings = app.config.login_throttle;
    let (streak, from_ip) = tokio::join!(
        app.store.failure_streak(&subject.0),
        limits::peek(
            app,
            Scope::FailedLoginsFromIp,
            client_ip,
            settings.failures_per_ip
        ),
    );
    let now = app.clock.now();
    let streak = streak?.filter(|streak| now < streak.last_failure_at + STREAK_MEMORY);
    let account_wait = streak.map_or(0, |streak| seconds_to_wait(settings, streak, now));
    let ip_wait = match from_ip? {
        Verdict::Allowed => 0,
        Verdict::Limited {
            retry_after_seconds,
        } => retry_after_seconds,
    };
    let retry_after_seconds = account_wait.max(ip_wait);
    if retry_after_seconds > 0 {
        tracing::warn!(
            retry_after_seconds,
            by_ip = ip_wait > 0,
            "sign-in throttled"
        );
        return Err(ThrottleError::TooManyAttempts {
            retry_after_seconds,
        });
    }
    Ok(Admission {
        streak: streak.is_some(),
    })
}

/// Counts a wrong password (or an unknown account) against the subject and
/// the IP.
pub async fn record_failure(
    app: &App,
    subject: &Subject,
    client_ip: &str,
) -> Result<(), StoreError> {
    let now = app.clock.now();
    let (streak, counted) = tokio::join!(
        app.store.add_failure(&subject.0, now, now + STREAK_MEMORY),
        limits::count(
            app,
            Scope::FailedLoginsFromIp,
            client_ip,
            app.config.login_throttle.failures_per_ip
        ),
    );
    let streak = streak?;
    counted?;
    if streak.failures >= app.config.login_throttle.failures_before_delay {
        tracing::warn!(failures = streak.failures, "consecutive failed sign-ins");
    }
    Ok(())
}

/// A correct password ends the subject's streak (a write only if there was
/// one). The IP's window count stays: spraying that finds one password is
/// still spraying.
pub async fn record_success(
    app: &App,
    subject: &Subject,
    admission: Admission,
) -> Result<(), StoreError> {
    if admission.streak {
        app.store.end_failure_streak(&subject.0).await?;
    }
    Ok(())
}

/// A reset proves the owner: the account's failed sign-ins are forgotten so
/// the new password works at once. Best effort, the reset already holds.
pub async fn forgive(app: &App, user_id: UserId) {
    if let Err(error) = app
        .store
        .end_failure_streak(&Subject::account(user_id).0)
        .await
    {
        tracing::warn!(%user_id, %error, "failed sign-ins not cleared after a reset");
    }
}

/// Seconds the subject must still wait before its next attempt, 0 if none.
fn seconds_to_wait(settings: LoginThrottle, streak: FailureStreak, now: OffsetDateTime) -> u64 {
    let Some(over) = streak.failures.checked_sub(settings.failures_before_delay) else {
        return 0;
    };
    // 2^over, kept from overflowing; the cap decides long before 2^20.
    let factor = 1u32 << over.min(20);
    let delay = settings
        .first_delay
        .saturating_mul(factor)
        .min(settings.max_delay);
    let ready_at = streak.last_failure_at + delay;
    if now >= ready_at {
        return 0;
    }
    let wait = (ready_at - now).as_seconds_f64().ceil();
    // `as` is safe: the wait is positive and at most `max_delay`.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let wait = wait as u64;
    wait.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> LoginThrottle {
        LoginThrottle {
            failures_before_delay: 5,
            first_delay: Duration::from_secs(30),
            max_delay: Duration::from_secs(900),
            failures_per_ip: "50/900".parse().unwrap_or_else(|_| unreachable!()),
        }
    }

    fn wait_after(failures: u64, elapsed: i64) -> u64 {
        let last = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
        seconds_to_wait(
            settings(),
            FailureStreak {
                failures,
                last_failure_at: last,
            },
            last + time::Duration::seconds(elapsed),
        )
    }

    #[test]
    fn the_first_failures_cost_no_wait() {
        for failures in 0..5 {
            assert_eq!(wait_after(failures, 0), 0, "{failures} failures");
        }
    }

    #[test]
    fn the_delay_doubles_with_each_failure_up_to_the_cap() {
        let delays: Vec<u64> = (5..12).map(|failures| wait_after(failures, 0)).collect();
        assert_eq!(delays, [30, 60, 120, 240, 480, 900, 900]);
        assert_eq!(wait_after(1_000, 0), 900);
    }

    #[test]
    fn the_wait_counts_down_from_the_last_failure() {
        assert_eq!(wait_after(6, 59), 1);
        assert_eq!(wait_after(6, 60), 0);
        assert_eq!(wait_after(5, 10), 20);
    }

    #[test]
    fn unknown_identifiers_share_a_streak_across_case_and_lookalikes() {
        assert_eq!(
            Subject::unknown("Ivan@Example.com"),
            Subject::unknown(" ivan@example.COM ")
        );
        assert_eq!(
            Subject::unknown("\u{212A}im@example.com"),
            Subject::unknown("kim@example.com")
        );
        assert_ne!(
            Subject::unknown("ivan@example.com"),
            Subject::unknown("\u{131}van@example.com")
        );
        let id = UserId::new();
        assert_ne!(Subject::account(id), Subject::unknown(&id.to_string()));
    }
}
