//! Fixed-window rate limits over the store's counters, so every Lambda
//! instance counts together.

use time::OffsetDateTime;

use crate::App;
use crate::config::RateLimit;
use crate::ports::StoreError;
use crate::secrets::SecretHash;

/// What one counted event may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Over the limit until the window ends, this many seconds from now.
    Limited {
        retry_after_seconds: u64,
    },
}

/// What is being limited; part of the counter's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Emails sent to one address.
    EmailsToAddress,
    /// Forgot and resend requests from one client IP.
    EmailRequestsFromIp,
    /// Email-exists checks from one client IP.
    ExistsChecksFromIp,
    /// Failed sign-ins from one client IP, across accounts.
    FailedLoginsFromIp,
    /// Registration attempts from one client IP.
    RegistrationsFromIp,
    /// Sign-ins with another provider started from one client IP.
    ProviderSignInsFromIp,
}

impl Scope {
    /// Whether the subject is a client IP (else an address key).
    fn per_ip(self) -> bool {
        !matches!(self, Self::EmailsToAddress)
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::EmailsToAddress => "mail-address",
            Self::EmailRequestsFromIp => "mail-ip",
            Self::ExistsChecksFromIp => "exists-ip",
            Self::FailedLoginsFromIp => "login-ip",
            Self::RegistrationsFromIp => "register-ip",
            Self::ProviderSignInsFromIp => "oidc-ip",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LimitedError {
    #[error("too many requests; retry after {retry_after_seconds} s")]
    RateLimited { retry_after_seconds: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `impl From<LimitedError>` for a service error with `RateLimited {
/// retry_after_seconds }` and a conversion from `StoreError`.
macro_rules! from_limited_error {
    ($error:ty) => {
        impl From<$crate::services::limits::LimitedError> for $error {
            fn from(error: $crate::services::limits::LimitedError) -> Self {
                match error {
                    $crate::services::limits::LimitedError::RateLimited {
                        retry_after_seconds,
                    } => Self::RateLimited {
                        retry_after_seconds,
                    },
                    $crate::services::limits::LimitedError::Store(error) => error.into(),
                }
            }
        }
    };
}
pub(crate) use from_limited_error;

/// Counts one event and refuses it when over the limit.
pub async fn enforce(
    app: &App,
    scope: Scope,
    subject: &str,
    limit: RateLimit,
) -> Result<(), LimitedError> {
    match count(app, scope, subject, limit).await? {
        Verdict::Allowed => Ok(()),
        Verdict::Limited {
            retry_after_seconds,
        } => {
            tracing::warn!(scope = scope.as_str(), retry_after_seconds, "rate limited");
            Err(LimitedError::RateLimited {
                retry_after_seconds,
            })
        }
    }
}

/// Counts one forgot or resend request from `client_ip` against
/// `EMAIL_REQUEST_LIMIT_PER_IP`.
pub async fn email_request(app: &App, client_ip: &str) -> Result<(), LimitedError> {
    enforce(
        app,
        Scope::EmailRequestsFromIp,
        client_ip,
        app.config.email_request_limit_per_ip,
    )
    .await
}

/// Counts one event of `scope` for `subject` (an address key or an IP) and
/// says whether it is within `limit`.
pub async fn count(
    app: &App,
    scope: Scope,
    subject: &str,
    limit: RateLimit,
) -> Result<Verdict, StoreError> {
    let (verdict, _counted_for_good) = count_ahead(app, scope, subject, limit).await?;
    Ok(verdict)
}

/// An event counted ahead of knowing whether it counts (a sign-in, counted
/// as failed before its password is checked, so parallel requests cannot
/// all pass a limit that counts failures only).
#[derive(Debug)]
#[must_use]
pub struct CountedAhead {
    key: String,
}

/// Counts one event of `scope` for `subject` now, in one atomic increment,
/// and says whether it is within `limit`; [`take_back`] uncounts it.
pub async fn count_ahead(
    app: &App,
    scope: Scope,
    subject: &str,
    limit: RateLimit,
) -> Result<(Verdict, CountedAhead), StoreError> {
    let window = Window::now(app, scope, subject, limit);
    let count = app
        .store
        .increment_counter(&window.key, window.expires_at)
        .await?;
    let verdict = window.verdict(count, limit);
    Ok((verdict, CountedAhead { key: window.key }))
}

/// Uncounts an event counted ahead, in the window it was counted in.
pub async fn take_back(app: &App, counted: CountedAhead) -> Result<(), StoreError> {
    app.store.decrement_counter(&counted.key).await
}

/// What one client is, for per-IP limits: an IPv4 address, or the /64 an
/// IPv6 address is in (one subscriber's or host's prefix: counting single
/// IPv6 addresses would let one client take 2^64 of them). An IPv4-mapped
/// IPv6 address counts as its IPv4 address.
pub(crate) fn network_of(client_ip: &str) -> String {
    match client_ip.trim().parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(address)) => match address.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let prefix = u128::from(address) & !((1u128 << 64) - 1);
                format!("{}/64", std::net::Ipv6Addr::from(prefix))
            }
        },
        Ok(std::net::IpAddr::V4(address)) => address.to_string(),
        Err(_) => client_ip.to_owned(),
    }
}

/// The fixed window a counter falls in now.
struct Window {
    key: String,
    expires_at: OffsetDateTime,
    seconds_left: u64,
}

impl Window {
    fn now(app: &App, scope: Scope, subject: &str, limit: RateLimit) -> Self {
        let now = app.clock.now();
        let window = limit.window.as_secs().max(1);
        let now_seconds = u64::try_from(now.unix_timestamp()).unwrap_or_default();
        let window_start = now_seconds - now_seconds % window;
        let window_end = window_start + window;
        let subject = if scope.per_ip() {
            network_of(subject)
        } else {
            subject.to_owned()
        };
        // The subject is hashed: counters need not keep addresses or IPs.
        let key = format!(
            "{}#{}#{window_start}",
            scope.as_str(),
            SecretHash::of(&subject).as_str()
        );
        let expires_at =
            OffsetDateTime::from_unix_timestamp(i64::try_from(window_end).unwrap_or(i64::MAX))
                .unwrap_or(now);
        Self {
            key,
            expires_at,
            seconds_left: (window_end - now_seconds).max(1),
        }
    }

    fn verdict(&self, count: u64, limit: RateLimit) -> Verdict {
        if count <= limit.max {
            Verdict::Allowed
        } else {
            Verdict::Limited {
                retry_after_seconds: self.seconds_left,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::network_of;

    #[test]
    fn ipv6_clients_are_counted_by_their_64_and_ipv4_by_address() {
        assert_eq!(network_of("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(
            network_of("2001:db8:1:2:ffff:ffff:ffff:ffff"),
            "2001:db8:1:2::/64"
        );
        assert_ne!(network_of("2001:db8:1:3::1"), network_of("2001:db8:1:2::1"));
        assert_eq!(network_of("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(network_of("203.0.113.7"), "203.0.113.7");
        assert_ne!(network_of("203.0.113.8"), network_of("203.0.113.7"));
    }
}
