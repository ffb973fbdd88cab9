//! The client address that per-address limits count: the socket peer, or —
//! when the peer is a trusted proxy — the address that proxy saw, read from
//! `X-Forwarded-For` from the right (each proxy appends its own peer; the
//! left-most entries are whatever the client sent and prove nothing).
//!
//! - `DXDESK_TRUSTED_PROXIES=10.0.0.0/8,127.0.0.1`: a peer in these ranges is a
//!   trusted proxy; walking `X-Forwarded-For` from the right, entries in them
//!   are further trusted hops and are skipped; the first other entry is the client.
//! - `DXDESK_TRUST_PROXY=1`: the direct peer is one trusted proxy, whatever
//!   its address; with no list, the right-most entry is the client.
//! - An entry that is not an address stops the walk: the client is then the
//!   last trusted hop that wrote it (never a string the client chose).

use crate::config::Config;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request};
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

/// Which peers may name the client.
#[derive(Debug, Clone, Default)]
pub struct ProxyTrust<'a> {
    /// The direct peer is a trusted proxy, whatever its address.
    pub peer_is_proxy: bool,
    /// Addresses of trusted proxies.
    pub trusted: &'a [IpNet],
}

impl ProxyTrust<'_> {
    fn trusts(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|n| n.contains(&ip))
    }
}

/// One `X-Forwarded-For` entry as an address: `1.2.3.4`, `1.2.3.4:5678`,
/// `2001:db8::1`, `[2001:db8::1]:443`; IPv4-mapped IPv6 as IPv4.
pub fn parse_entry(entry: &str) -> Option<IpAddr> {
    let s = entry.trim().trim_matches('"');
    let ip = s
        .parse::<IpAddr>()
        .ok()
        .or_else(|| s.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| {
            s.strip_prefix('[')
                .and_then(|r| r.strip_suffix(']'))
                .and_then(|r| r.parse().ok())
        })?;
    Some(ip.to_canonical())
}

/// The client address, from the socket peer and the `X-Forwarded-For` values
/// (every header line, in order). Pure: see the module doc for the rules.
pub fn client_ip<'h>(
    peer: IpAddr,
    forwarded_for: impl IntoIterator<Item = &'h str>,
    trust: &ProxyTrust<'_>,
) -> IpAddr {
    let peer = peer.to_canonical();
    if !(trust.peer_is_proxy || trust.trusts(peer)) {
        return peer;
    }
    let entries: Vec<&str> = forwarded_for
        .into_iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    // The hop whose report we are reading: first the direct peer.
    let mut reporter = peer;
    for entry in entries.iter().rev() {
        let Some(ip) = parse_entry(entry) else {
            return reporter;
        };
        if !trust.trusts(ip) {
            return ip;
        }
        reporter = ip;
    }
    // Every entry is a trusted hop (or there is none): the left-most one is
    // as far as the trusted chain goes.
    reporter
}

/// The client address of a request, as the configuration says to read it.
pub fn from_request(config: &Config, req: &Request<Body>) -> String {
    let Some(peer) = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
    else {
        return "unknown".to_owned();
    };
    from_parts(config, peer, req.headers()).to_string()
}

/// The client address from the socket peer and the forwarding headers.
pub fn from_parts(config: &Config, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
    let trust = ProxyTrust {
        peer_is_proxy: config.trust_proxy,
        trusted: &config.trusted_proxies,
    };
    let values = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok());
    client_ip(peer, values, &trust)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &str) -> Vec<IpNet> {
        crate::config::parse_trusted_proxies(list).unwrap()
    }

    fn with_list(peer: &str, xff: &[&str], list: &str) -> IpAddr {
        let trusted = nets(list);
        let trust = ProxyTrust {
            peer_is_proxy: false,
            trusted: &trusted,
        };
        client_ip(ip(peer), xff.iter().copied(), &trust)
    }

    fn legacy(peer: &str, xff: &[&str]) -> IpAddr {
        let trust = ProxyTrust {
            peer_is_proxy: true,
            trusted: &[],
        };
        client_ip(ip(peer), xff.iter().copied(), &trust)
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_sends() {
        assert_eq!(
            with_list("203.0.113.5", &["1.1.1.1"], "10.0.0.0/8"),
            ip("203.0.113.5")
        );
        assert_eq!(with_list("203.0.113.5", &[], ""), ip("203.0.113.5"));
        let none = ProxyTrust::default();
        assert_eq!(
            client_ip(ip("198.51.100.1"), ["9.9.9.9"], &none),
            ip("198.51.100.1")
        );
    }

    #[test]
    fn spoofed_left_entries_are_ignored() {
        // The client sent "6.6.6.6, 7.7.7.7"; the proxy appended what it saw.
        let xff = ["6.6.6.6, 7.7.7.7, 203.0.113.9"];
        assert_eq!(with_list("10.0.0.2", &xff, "10.0.0.0/8"), ip("203.0.113.9"));
        assert_eq!(legacy("10.0.0.2", &xff), ip("203.0.113.9"));
        assert_eq!(
            legacy("192.0.2.1", &["1.2.3.4", "203.0.113.9"]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn several_trusted_hops_are_skipped_from_the_right() {
        let xff = ["6.6.6.6, 203.0.113.9, 10.1.0.1, 10.2.0.1"];
        assert_eq!(
            with_list("127.0.0.1", &xff, "10.0.0.0/8,127.0.0.1"),
            ip("203.0.113.9")
        );
        // Split over several header lines, in order.
        let lines = ["6.6.6.6", "203.0.113.9, 10.1.0.1", "10.2.0.1"];
        assert_eq!(
            with_list("127.0.0.1", &lines, "10.0.0.0/8,127.0.0.1"),
            ip("203.0.113.9")
        );
        // Legacy mode with a list: the peer is trusted, the list names further hops.
        let trusted = nets("10.0.0.0/8");
        let both = ProxyTrust {
            peer_is_proxy: true,
            trusted: &trusted,
        };
        assert_eq!(client_ip(ip("192.0.2.7"), xff, &both), ip("203.0.113.9"));
        // Without the list, legacy mode takes only the right-most entry.
        assert_eq!(legacy("192.0.2.7", &xff), ip("10.2.0.1"));
    }

    #[test]
    fn a_trusted_peer_without_a_header_is_the_client() {
        assert_eq!(with_list("10.0.0.2", &[], "10.0.0.0/8"), ip("10.0.0.2"));
        assert_eq!(
            with_list("10.0.0.2", &[" , "], "10.0.0.0/8"),
            ip("10.0.0.2")
        );
        assert_eq!(legacy("192.0.2.1", &[]), ip("192.0.2.1"));
    }

    #[test]
    fn all_trusted_entries_give_the_left_most() {
        assert_eq!(
            with_list("10.0.0.2", &["10.9.9.9, 10.0.0.7"], "10.0.0.0/8"),
            ip("10.9.9.9")
        );
    }

    #[test]
    fn garbage_stops_at_the_hop_that_reported_it() {
        let list = "10.0.0.0/8";
        assert_eq!(with_list("10.0.0.2", &["unknown"], list), ip("10.0.0.2"));
        assert_eq!(
            with_list("10.0.0.2", &["1.2.3.4, not-an-ip"], list),
            ip("10.0.0.2")
        );
        assert_eq!(
            with_list("10.0.0.2", &["1.2.3.4, <script>, 10.0.0.9"], list),
            ip("10.0.0.9")
        );
        assert_eq!(with_list("10.0.0.2", &["999.1.1.1"], list), ip("10.0.0.2"));
        assert_eq!(legacy("192.0.2.1", &["1.2.3.4, _hidden"]), ip("192.0.2.1"));
        assert_eq!(legacy("192.0.2.1", &["01.2.3.4"]), ip("192.0.2.1"));
        // Garbage to the left of the client does not matter.
        assert_eq!(
            with_list("10.0.0.2", &["junk, 203.0.113.9"], list),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn ipv6_entries_ports_and_mapped_addresses() {
        let list = "fd00::/8, ::1";
        assert_eq!(
            with_list("::1", &["2001:db8::dead, 2001:db8::1, fd00::5"], list),
            ip("2001:db8::1")
        );
        assert_eq!(
            with_list("::1", &["[2001:db8::1]:443"], list),
            ip("2001:db8::1")
        );
        assert_eq!(
            legacy("192.0.2.1", &["203.0.113.9:5555"]),
            ip("203.0.113.9")
        );
        assert_eq!(
            legacy("192.0.2.1", &["\"[2001:db8::7]\""]),
            ip("2001:db8::7")
        );
        // An IPv4-mapped peer matches an IPv4 range and is shown as IPv4.
        assert_eq!(
            with_list("::ffff:10.0.0.2", &["::ffff:203.0.113.9"], "10.0.0.0/8"),
            ip("203.0.113.9")
        );
        assert_eq!(
            with_list("::ffff:198.51.100.1", &[], ""),
            ip("198.51.100.1")
        );
    }

    #[test]
    fn reads_every_header_line_of_a_request() {
        let mut config = crate::config::Config::from_lookup(|_| None).unwrap();
        config.trusted_proxies = nets("127.0.0.1");
        let mut headers = HeaderMap::new();
        headers.append("x-forwarded-for", "6.6.6.6".parse().unwrap());
        headers.append("x-forwarded-for", "203.0.113.9".parse().unwrap());
        assert_eq!(
            from_parts(&config, ip("127.0.0.1"), &headers),
            ip("203.0.113.9")
        );
        assert_eq!(
            from_parts(&config, ip("192.0.2.1"), &headers),
            ip("192.0.2.1")
        );
    }
}
