//! Where a session was opened from, as the account's owner sees it in the
//! session list: the network, never the address (IPv4 /24, IPv6 /48), and
//! the browser's user agent, shortened. Enough to tell "my laptop at home"
//! from "someone elsewhere", without keeping where exactly a person is.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The most characters of a user agent that are kept.
pub const MAX_USER_AGENT_CHARS: usize = 256;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionOrigin {
    network: Option<String>,
    user_agent: Option<String>,
}

impl SessionOrigin {
    /// From the connection's address and the `User-Agent` header as sent.
    pub fn new(client_ip: &str, user_agent: Option<&str>) -> Self {
        Self {
            network: network_of(client_ip),
            user_agent: user_agent.and_then(clean_user_agent),
        }
    }

    /// As stored: cleaned again, so nothing longer or rawer comes back out.
    pub fn from_stored(network: Option<String>, user_agent: Option<String>) -> Self {
        Self {
            network: network.as_deref().and_then(|network| {
                let address = network.split('/').next().unwrap_or_default();
                network_of(address)
            }),
            user_agent: user_agent.as_deref().and_then(clean_user_agent),
        }
    }

    /// `a.b.c.0/24` or `x:y:z::/48`.
    pub fn network(&self) -> Option<&str> {
        self.network.as_deref()
    }

    pub fn user_agent(&self) -> Option<&str> {
        self.user_agent.as_deref()
    }
}

/// The /24 of an IPv4 address (an IPv4-mapped IPv6 one included) or the
/// /48 of an IPv6 one; `None` for what is not an address.
fn network_of(client_ip: &str) -> Option<String> {
    let v4 = |address: Ipv4Addr| {
        let [a, b, c, _] = address.octets();
        format!("{}/24", Ipv4Addr::new(a, b, c, 0))
    };
    match client_ip.trim().parse::<IpAddr>().ok()? {
        IpAddr::V4(address) => Some(v4(address)),
        IpAddr::V6(address) => Some(match address.to_ipv4_mapped() {
            Some(mapped) => v4(mapped),
            None => {
                let prefix = u128::from(address) & !((1u128 << 80) - 1);
                format!("{}/48", Ipv6Addr::from(prefix))
            }
        }),
    }
}

/// Printable characters only (a header could carry terminal escapes into
/// someone's screen), at most [`MAX_USER_AGENT_CHARS`]; `None` when nothing
/// is left.
fn clean_user_agent(text: &str) -> Option<String> {
    let cleaned: String = text
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_USER_AGENT_CHARS)
        .collect();
    let cleaned = cleaned.trim();
    (!cleaned.is_empty()).then(|| cleaned.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_network_is_kept() {
        let origin = SessionOrigin::new("203.0.113.77", Some("Mozilla/5.0"));
        assert_eq!(origin.network(), Some("203.0.113.0/24"));
        assert_eq!(origin.user_agent(), Some("Mozilla/5.0"));
        let v6 = SessionOrigin::new("2001:db8:1234:5678::1", None);
        assert_eq!(v6.network(), Some("2001:db8:1234::/48"));
        assert_eq!(
            SessionOrigin::new("::ffff:198.51.100.9", None).network(),
            Some("198.51.100.0/24")
        );
        assert_eq!(SessionOrigin::new("unknown", None).network(), None);
    }

    #[test]
    fn user_agents_are_printable_and_short() {
        let origin = SessionOrigin::new("", Some("evil\u{1b}[2Jagent"));
        assert_eq!(origin.user_agent(), Some("evil[2Jagent"));
        let long = "x".repeat(1000);
        assert_eq!(
            SessionOrigin::new("", Some(&long))
                .user_agent()
                .map(str::len),
            Some(MAX_USER_AGENT_CHARS)
        );
        assert_eq!(SessionOrigin::new("", Some(" \n ")).user_agent(), None);
        let stored = SessionOrigin::from_stored(Some("203.0.113.5/24".into()), Some(long.clone()));
        assert_eq!(stored.network(), Some("203.0.113.0/24"));
        assert_eq!(
            stored.user_agent().map(str::len),
            Some(MAX_USER_AGENT_CHARS)
        );
    }
}
