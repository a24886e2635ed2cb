//! Sign-in throttling (`429 too_many_attempts`), with both counts in the
//! store so every Lambda instance shares them:
//! - per account, consecutive failures, in two streaks: the failures from
//!   the caller's network (an IPv4 address, an IPv6 /64), strict, and those
//!   from everywhere, looser. After `failures_before_delay` (5) failures from
//!   one network, attempts from it wait `first_delay · 2^(failures − free)`
//!   (capped at `max_delay`) after the last failure; every network waits so
//!   only after `account_failures_before_delay` (20) failures in all. So
//!   failures from elsewhere do not lock the owner out as their own would.
//!   A correct password ends both streaks; a new password (reset, change)
//!   starts fresh ones.
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
use crate::domain::{Email, UserId, UserType};
use crate::ports::{FailureStreak, StoreError};
use crate::secrets::SecretHash;
use crate::services::limits::{self, CountedAhead, Scope, Verdict};

/// A streak is forgotten a day after its last failure.
const STREAK_MEMORY: Duration = Duration::from_secs(24 * 3600);

/// Whose consecutive failures are counted: the account (or an identifier
/// that matched none) from the caller's network, and from everywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    from_network: String,
    everywhere: String,
}

/// An identifier as typed, normalized the way lookups are: an email's key,
/// or the trimmed, lower-cased text.
pub(crate) fn identifier_key(identifier: &str) -> String {
    match Email::parse(identifier) {
        Ok(email) => email.key().to_owned(),
        Err(_) => identifier.trim().to_lowercase(),
    }
}

impl Subject {
    /// An account's sign-ins from `client_ip` under its current password
    /// hash (`credential`): a new password starts both streaks afresh, so an
    /// owner who reset it is not held back by the failures before.
    pub fn account(id: UserId, credential: &str, client_ip: &str) -> Self {
        Self::of(&account_whose(id, credential), client_ip)
    }

    /// An identifier that matched no account of `user_type`, normalized the
    /// way lookups are, so case or Unicode variants share one streak (and
    /// one type's streak is not another's).
    pub fn unknown(identifier: &str, user_type: &UserType, client_ip: &str) -> Self {
        let normalized = user_type.scope(&identifier_key(identifier));
        Self::of(&format!("identifier:{normalized}"), client_ip)
    }

    fn of(whose: &str, client_ip: &str) -> Self {
        let network = limits::network_of(client_ip);
        Self {
            from_network: hashed(&format!("{whose}@{network}")),
            everywhere: hashed(whose),
        }
    }
}

fn account_whose(id: UserId, credential: &str) -> String {
    format!("account:{id}:{}", SecretHash::of(credential).as_str())
}

/// The key of an account's streak from everywhere under its password hash
/// `credential`, to forget it with the account. Its streaks per network
/// cannot be listed (their keys hash the network in); with the password
/// hash gone nothing links them to the account, and they lapse a day after
/// their last failure.
pub fn account_streak_everywhere(id: UserId, credential: &str) -> String {
    hashed(&account_whose(id, credential))
}

/// Keys hold no identifiers or addresses.
fn hashed(raw: &str) -> String {
    format!("login#{}", SecretHash::of(raw).as_str())
}

/// `From<ThrottleError>` for a service error with `TooManyAttempts {
/// retry_after_seconds }` and `Store(StoreError)` variants: every service
/// that admits an attempt reports the throttle's refusal the same way.
macro_rules! from_throttle_error {
    ($error:ty) => {
        impl From<$crate::services::throttle::ThrottleError> for $error {
            fn from(error: $crate::services::throttle::ThrottleError) -> Self {
                match error {
                    $crate::services::throttle::ThrottleError::TooManyAttempts {
                        retry_after_seconds,
                    } => Self::TooManyAttempts {
                        retry_after_seconds,
                    },
                    $crate::services::throttle::ThrottleError::Store(error) => Self::Store(error),
                }
            }
        }
    };
}
pub(crate) use from_throttle_error;

#[derive(Debug, thiserror::Error)]
pub enum ThrottleError {
    #[error("too many failed sign-ins; retry after {retry_after_seconds} s")]
    TooManyAttempts { retry_after_seconds: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Leave to check one password. Until [`record_success`], the attempt
/// counts as a failure for the subject and the IP: counted before the check,
/// so parallel guesses cannot all pass limits read before any is counted.
#[derive(Debug)]
#[must_use]
pub struct Admission {
    from_ip: CountedAhead,
    /// The subject's consecutive failures, this attempt included.
    failures: u64,
}

/// How many times an attempt re-reads a streak that parallel attempts keep
/// changing before it is refused like a throttled one.
const RESERVATION_TRIES: usize = 5;

/// Refuses the attempt while the subject or the IP is throttled; otherwise
/// counts it (as failed, until it succeeds) and lets it through.
pub async fn admit(
    app: &App,
    subject: &Subject,
    client_ip: &str,
) -> Result<Admission, ThrottleError> {
    let settings = app.config.login_throttle;
    let (verdict, from_ip) = limits::count_ahead(
        app,
        Scope::FailedLoginsFromIp,
        client_ip,
        settings.failures_per_ip,
    )
    .await?;
    if let Verdict::Limited {
        retry_after_seconds,
    } = verdict
    {
        tracing::warn!(retry_after_seconds, by_ip = true, "sign-in throttled");
        return Err(ThrottleError::TooManyAttempts {
            retry_after_seconds,
        });
    }
    match reserve_both(app, subject).await {
        Ok(failures) => Ok(Admission { from_ip, failures }),
        Err(error) => {
            // Not checked, so not an attempt from this IP either.
            if let Err(error) = limits::take_back(app, from_ip).await {
                tracing::warn!(%error, "a refused sign-in stays counted for its IP");
            }
            if let ThrottleError::TooManyAttempts {
                retry_after_seconds,
            } = error
            {
                tracing::warn!(retry_after_seconds, by_ip = false, "sign-in throttled");
            }
            Err(error)
        }
    }
}

/// Counts the attempt on both streaks. The wide one is looked at first, so
/// an attempt it refuses does not count on the network's streak either.
/// Returns the failures from the caller's network.
async fn reserve_both(app: &App, subject: &Subject) -> Result<u64, ThrottleError> {
    let settings = app.config.login_throttle;
    let wide = settings.account_failures_before_delay;
    // Both read at once; each is read again only after losing a race.
    let (from_network, everywhere) = tokio::join!(
        app.store.failure_streak(&subject.from_network),
        app.store.failure_streak(&subject.everywhere),
    );
    let everywhere = everywhere?;
    next_attempt(settings, wide, everywhere, app.clock.now()).map_err(too_many)?;
    let failures = reserve_attempt(
        app,
        &subject.from_network,
        settings.failures_before_delay,
        from_network?,
    )
    .await?;
    reserve_attempt(app, &subject.everywhere, wide, everywhere).await?;
    Ok(failures)
}

fn too_many(retry_after_seconds: u64) -> ThrottleError {
    ThrottleError::TooManyAttempts {
        retry_after_seconds,
    }
}

/// Writes the streak `key` with this attempt counted as failed, if its
/// delay (after `free` failures) allows an attempt now; one conditional
/// write on the streak it read, so of parallel attempts each is counted and
/// none passes a delay that another's failure set. `stored` is the streak
/// as last read. Returns the failures counted.
async fn reserve_attempt(
    app: &App,
    key: &str,
    free: u64,
    mut stored: Option<FailureStreak>,
) -> Result<u64, ThrottleError> {
    let settings = app.config.login_throttle;
    for _ in 0..RESERVATION_TRIES {
        let now = app.clock.now();
        let next = next_attempt(settings, free, stored, now).map_err(too_many)?;
        if app
            .store
            .replace_failure_streak(key, stored.as_ref(), &next, now + STREAK_MEMORY)
            .await?
        {
            return Ok(next.failures);
        }
        stored = app.store.failure_streak(key).await?;
    }
    // Others keep counting attempts on this subject right now: wait as if
    // throttled.
    Err(ThrottleError::TooManyAttempts {
        retry_after_seconds: 1,
    })
}

/// The wrong password stays counted (it was counted on admission).
pub fn record_failure(app: &App, admission: Admission) {
    if admission.failures >= app.config.login_throttle.failures_before_delay {
        tracing::warn!(failures = admission.failures, "consecutive failed sign-ins");
    }
}

/// A correct password ends the subject's streaks and uncounts the attempt
/// from the IP's failures. Spraying that finds one password still has its
/// failures counted.
pub async fn record_success(
    app: &App,
    subject: &Subject,
    admission: Admission,
) -> Result<(), StoreError> {
    app.store.end_failure_streak(&subject.from_network).await?;
    app.store.end_failure_streak(&subject.everywhere).await?;
    limits::take_back(app, admission.from_ip).await
}

/// The streak after one more attempt at `now`, counted as failed, or the
/// seconds to wait before one is allowed. A streak whose last attempt is
/// older than `STREAK_MEMORY` is over: counting starts again from zero.
fn next_attempt(
    settings: LoginThrottle,
    free: u64,
    stored: Option<FailureStreak>,
    now: OffsetDateTime,
) -> Result<FailureStreak, u64> {
    let current = stored.filter(|streak| now < streak.last_failure_at + STREAK_MEMORY);
    if let Some(streak) = current {
        let ready_at = streak
            .next_attempt_at
            .unwrap_or(streak.last_failure_at + delay_after(settings, free, streak.failures));
        if now < ready_at {
            let wait = (ready_at - now).as_seconds_f64().ceil();
            // `as` is safe: the wait is positive and at most `max_delay`.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            return Err((wait as u64).max(1));
        }
    }
    let failures = current.map_or(0, |streak| streak.failures) + 1;
    let delay = delay_after(settings, free, failures);
    Ok(FailureStreak {
        failures,
        last_failure_at: now,
        next_attempt_at: (!delay.is_zero()).then(|| now + delay),
    })
}

/// The wait after `failures` consecutive failures: none for the `free` ones,
/// then `first_delay`, doubling with each further failure up to `max_delay`.
fn delay_after(settings: LoginThrottle, free: u64, failures: u64) -> Duration {
    let Some(over) = failures.checked_sub(free) else {
        return Duration::ZERO;
    };
    // 2^over, kept from overflowing; the cap decides long before 2^20.
    let factor = 1u32 << over.min(20);
    settings
        .first_delay
        .saturating_mul(factor)
        .min(settings.max_delay)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> LoginThrottle {
        LoginThrottle {
            failures_before_delay: 5,
            account_failures_before_delay: 20,
            first_delay: Duration::from_secs(30),
            max_delay: Duration::from_secs(900),
            failures_per_ip: "50/900".parse().unwrap_or_else(|_| unreachable!()),
        }
    }

    fn epoch() -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000)
    }

    /// The wait `elapsed` seconds after `failures` failures, 0 if none.
    fn wait_after(failures: u64, elapsed: i64) -> u64 {
        let streak = FailureStreak {
            failures,
            last_failure_at: epoch(),
            next_attempt_at: None,
        };
        next_attempt(
            settings(),
            5,
            Some(streak),
            epoch() + time::Duration::seconds(elapsed),
        )
        .err()
        .unwrap_or(0)
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
    fn an_attempt_is_counted_with_the_wait_it_leaves_behind() {
        let mut streak = None;
        let mut now = epoch();
        for expected in 1..=5 {
            let next = next_attempt(settings(), 5, streak, now).unwrap();
            assert_eq!(next.failures, expected);
            assert_eq!(next.next_attempt_at.is_some(), expected == 5, "{expected}");
            streak = Some(next);
        }
        // Parallel attempts see the fifth and wait for its delay.
        assert_eq!(next_attempt(settings(), 5, streak, now), Err(30));
        now += time::Duration::seconds(30);
        let sixth = next_attempt(settings(), 5, streak, now).unwrap();
        assert_eq!(
            sixth.next_attempt_at,
            Some(now + time::Duration::seconds(60))
        );
    }

    #[test]
    fn a_streak_older_than_a_day_starts_again_from_zero() {
        let old = FailureStreak {
            failures: 40,
            last_failure_at: epoch(),
            next_attempt_at: Some(epoch() + time::Duration::seconds(900)),
        };
        let later = epoch() + time::Duration::days(1) + time::Duration::seconds(1);
        let next = next_attempt(settings(), 5, Some(old), later).unwrap();
        assert_eq!((next.failures, next.next_attempt_at), (1, None));
    }

    #[test]
    fn unknown_identifiers_share_a_streak_across_case_and_lookalikes() {
        let ip = "203.0.113.7";
        assert_eq!(
            Subject::unknown("Ivan@Example.com", &UserType::Default, ip),
            Subject::unknown(" ivan@example.COM ", &UserType::Default, ip)
        );
        assert_eq!(
            Subject::unknown("\u{212A}im@example.com", &UserType::Default, ip),
            Subject::unknown("kim@example.com", &UserType::Default, ip)
        );
        assert_ne!(
            Subject::unknown("ivan@example.com", &UserType::Default, ip),
            Subject::unknown("\u{131}van@example.com", &UserType::Default, ip)
        );
        let id = UserId::new();
        assert_ne!(
            Subject::account(id, "hash", ip),
            Subject::unknown(&id.to_string(), &UserType::Default, ip)
        ); // One type's unknown address is not another's.
        let partner = UserType::Named("partner".to_owned());
        assert_ne!(
            Subject::unknown("ivan@example.com", &UserType::Default, ip),
            Subject::unknown("ivan@example.com", &partner, ip)
        );
    }

    #[test]
    fn networks_have_streaks_of_their_own_and_share_the_wide_one() {
        let id = UserId::new();
        let here = Subject::account(id, "hash", "203.0.113.7");
        let there = Subject::account(id, "hash", "198.51.100.1");
        let same_64 = Subject::account(id, "hash", "2001:db8::1");
        assert_ne!(here.from_network, there.from_network);
        assert_eq!(here.everywhere, there.everywhere);
        assert_eq!(
            same_64.from_network,
            Subject::account(id, "hash", "2001:db8::2").from_network
        );
        // A new password starts afresh.
        assert_ne!(Subject::account(id, "new hash", "203.0.113.7"), here);
    }
}
