//! The SSRF guard: which addresses a webhook or token URL may reach.
//!
//! A webhook URL is typed by an administrator, so it must not become a way into the
//! platform's own network. After DNS resolution every address is classified; a host whose
//! addresses include a loopback, private (RFC 1918), link-local, unique-local, CGNAT,
//! unspecified, multicast, broadcast, documentation or cloud-metadata address is refused,
//! unless the host is on the explicit allowlist. The connection is made to the addresses
//! that were checked (the resolver hands them straight to the connector), so a DNS answer
//! cannot change between the check and the connect.

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::dns::Name;

/// Why an address may not be reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forbidden {
    /// 127.0.0.0/8, ::1.
    Loopback,
    /// 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 (RFC 1918).
    Private,
    /// 169.254.0.0/16, fe80::/10.
    LinkLocal,
    /// fc00::/7 (RFC 4193).
    UniqueLocal,
    /// 100.64.0.0/10, carrier-grade NAT (RFC 6598).
    Cgnat,
    /// 0.0.0.0/8, ::.
    Unspecified,
    /// 224.0.0.0/4, ff00::/8.
    Multicast,
    /// 255.255.255.255.
    Broadcast,
    /// 169.254.169.254, fd00:ec2::254: cloud instance metadata, where credentials live.
    Metadata,
    /// 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32: never routed.
    Documentation,
    /// 240.0.0.0/4 and 192.0.0.0/24 (IETF protocol assignments): reserved.
    Reserved,
    /// 198.18.0.0/15 (RFC 2544): benchmarking networks, answered on some hosts' own
    /// interfaces.
    Benchmarking,
    /// fec0::/10: the deprecated site-local range, still routed inside some networks.
    SiteLocal,
}

impl Forbidden {
    /// The class in words.
    pub fn as_str(self) -> &'static str {
        match self {
            Forbidden::Loopback => "loopback",
            Forbidden::Private => "private (RFC 1918)",
            Forbidden::LinkLocal => "link-local",
            Forbidden::UniqueLocal => "unique-local (fc00::/7)",
            Forbidden::Cgnat => "carrier-grade NAT (100.64.0.0/10)",
            Forbidden::Unspecified => "unspecified",
            Forbidden::Multicast => "multicast",
            Forbidden::Broadcast => "broadcast",
            Forbidden::Metadata => "cloud metadata",
            Forbidden::Documentation => "documentation-only",
            Forbidden::Reserved => "reserved",
            Forbidden::Benchmarking => "benchmarking (198.18.0.0/15)",
            Forbidden::SiteLocal => "site-local (fec0::/10)",
        }
    }
}

/// The class that forbids `ip`, or `None` when it is an ordinary public address.
pub fn classify(ip: IpAddr) -> Option<Forbidden> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Forbidden> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip == Ipv4Addr::new(169, 254, 169, 254) => Forbidden::Metadata,
        _ if ip.is_broadcast() => Forbidden::Broadcast,
        (0, _, _) => Forbidden::Unspecified,
        (127, _, _) => Forbidden::Loopback,
        (10, _, _) | (172, 16..=31, _) | (192, 168, _) => Forbidden::Private,
        (169, 254, _) => Forbidden::LinkLocal,
        (100, 64..=127, _) => Forbidden::Cgnat,
        (224..=239, _, _) => Forbidden::Multicast,
        (240..=255, _, _) | (192, 0, 0) => Forbidden::Reserved,
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => Forbidden::Documentation,
        (198, 18..=19, _) => Forbidden::Benchmarking,
        _ => return None,
    })
}

fn classify_v6(ip: Ipv6Addr) -> Option<Forbidden> {
    // An IPv4 address in IPv6 clothing is judged as the IPv4 address it carries.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let s = ip.segments();
    Some(match s {
        _ if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) => Forbidden::Metadata,
        _ if ip.is_unspecified() => Forbidden::Unspecified,
        _ if ip.is_loopback() => Forbidden::Loopback,
        [a, ..] if a & 0xfe00 == 0xfc00 => Forbidden::UniqueLocal,
        [a, ..] if a & 0xffc0 == 0xfe80 => Forbidden::LinkLocal,
        [a, ..] if a & 0xffc0 == 0xfec0 => Forbidden::SiteLocal,
        [a, ..] if a & 0xff00 == 0xff00 => Forbidden::Multicast,
        [0x2001, 0xdb8, ..] => Forbidden::Documentation,
        // ::a.b.c.d (deprecated IPv4-compatible), ::ffff:0:a.b.c.d (SIIT, RFC 2765) and
        // 64:ff9b::/96 (NAT64) reach IPv4 in their last 32 bits; 2002::/16 (6to4) in the
        // 32 bits after its prefix.
        [0, 0, 0, 0, 0, 0, hi, lo]
        | [0, 0, 0, 0, 0xffff, 0, hi, lo]
        | [0x64, 0xff9b, 0, 0, 0, 0, hi, lo]
        | [0x2002, hi, lo, ..] => {
            let v4 = Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
            return classify_v4(v4);
        }
        _ => return None,
    })
}

/// A refused connection: the host, the address and why. Its text goes into the
/// delivery log as is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    /// The host name from the URL.
    pub host: String,
    /// The address that is not allowed.
    pub address: IpAddr,
    /// Its class.
    pub class: Forbidden,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "refused by the SSRF guard: {} resolves to {} ({} address); allow it explicitly with --allow-host {} if it is meant",
            self.host,
            self.address,
            self.class.as_str(),
            self.host
        )
    }
}

impl std::error::Error for Refused {}

/// The allowlist and the check.
#[derive(Clone, Debug, Default)]
pub struct Guard {
    allow: Vec<String>,
}

impl Guard {
    /// A guard allowing the given hosts (names or IP addresses, compared case-insensitively
    /// with the URL's host, or, for addresses, with each resolved address).
    pub fn new(allow: impl IntoIterator<Item = String>) -> Guard {
        Guard {
            allow: allow
                .into_iter()
                .map(|h| {
                    h.trim_start_matches('[')
                        .trim_end_matches(']')
                        .to_ascii_lowercase()
                })
                .collect(),
        }
    }

    fn allowed_host(&self, host: &str) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.allow.iter().any(|a| a.eq_ignore_ascii_case(host))
    }

    fn allowed_ip(&self, ip: IpAddr) -> bool {
        self.allow
            .iter()
            .any(|a| a.parse::<IpAddr>().is_ok_and(|x| x == ip))
    }

    /// Check every resolved address of `host`: all of them must be allowed, because the
    /// connector may try any of them.
    pub fn check(&self, host: &str, addrs: &[SocketAddr]) -> Result<(), Refused> {
        if self.allowed_host(host) {
            return Ok(());
        }
        for a in addrs {
            if let Some(class) = classify(a.ip())
                && !self.allowed_ip(a.ip())
            {
                return Err(Refused {
                    host: host.to_string(),
                    address: a.ip(),
                    class,
                });
            }
        }
        Ok(())
    }

    /// Check a URL host that is an IP literal (the connector does not resolve those).
    /// Names pass here and are checked by [`GuardedResolver`] after resolution.
    pub fn check_literal(&self, host: &str) -> Result<(), Refused> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        match bare.parse::<IpAddr>() {
            Ok(ip) => self.check(host, &[SocketAddr::new(ip, 0)]),
            Err(_) => Ok(()),
        }
    }
}

/// A DNS resolver for hyper's connector that checks every answer with the [`Guard`] and
/// hands the connector exactly the addresses it checked.
#[derive(Clone, Debug)]
pub struct GuardedResolver {
    guard: Arc<Guard>,
}

impl GuardedResolver {
    /// A resolver enforcing `guard`.
    pub fn new(guard: Arc<Guard>) -> GuardedResolver {
        GuardedResolver { guard }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl tower_service::Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let guard = self.guard.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            guard.check(&host, &addrs)?;
            Ok(addrs.into_iter())
        })
    }
}

/// The [`Refused`] somewhere in an error's source chain, if the guard caused it.
pub fn find_refusal<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a Refused> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut depth = 0;
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<Refused>() {
            return Some(r);
        }
        depth += 1;
        if depth > 16 {
            break;
        }
        cur = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifier_table() {
        use Forbidden::*;
        let cases: &[(&str, Option<Forbidden>)] = &[
            ("127.0.0.1", Some(Loopback)),
            ("127.255.255.254", Some(Loopback)),
            ("::1", Some(Loopback)),
            ("10.0.0.1", Some(Private)),
            ("10.255.255.255", Some(Private)),
            ("172.16.0.1", Some(Private)),
            ("172.31.255.255", Some(Private)),
            ("172.15.255.255", None),
            ("172.32.0.0", None),
            ("192.168.1.1", Some(Private)),
            ("169.254.1.1", Some(LinkLocal)),
            ("fe80::1", Some(LinkLocal)),
            ("fc00::1", Some(UniqueLocal)),
            ("fd12:3456::1", Some(UniqueLocal)),
            ("100.64.0.1", Some(Cgnat)),
            ("100.127.255.255", Some(Cgnat)),
            ("100.63.255.255", None),
            ("100.128.0.0", None),
            ("0.0.0.0", Some(Unspecified)),
            ("0.1.2.3", Some(Unspecified)),
            ("::", Some(Unspecified)),
            ("224.0.0.1", Some(Multicast)),
            ("239.255.255.250", Some(Multicast)),
            ("ff02::1", Some(Multicast)),
            ("255.255.255.255", Some(Broadcast)),
            ("169.254.169.254", Some(Metadata)),
            ("fd00:ec2::254", Some(Metadata)),
            ("192.0.2.10", Some(Documentation)),
            ("2001:db8::1", Some(Documentation)),
            ("240.0.0.1", Some(Reserved)),
            ("192.0.0.8", Some(Reserved)),
            ("::ffff:127.0.0.1", Some(Loopback)),
            ("::ffff:10.1.2.3", Some(Private)),
            ("::ffff:169.254.169.254", Some(Metadata)),
            ("64:ff9b::a00:1", Some(Private)),
            ("::7f00:1", Some(Loopback)),
            ("8.8.8.8", None),
            ("1.1.1.1", None),
            ("93.184.216.34", None),
            ("2606:4700::1111", None),
            ("::ffff:8.8.8.8", None),
            // Benchmarking networks, site-local, 6to4 and SIIT forms. Classified only:
            // nothing is ever sent to an address outside 127.0.0.0/8 and ::1 to prove it.
            ("198.18.0.1", Some(Benchmarking)),
            ("198.19.255.255", Some(Benchmarking)),
            ("198.17.255.255", None),
            ("198.20.0.0", None),
            ("fec0::1", Some(SiteLocal)),
            ("feff:ffff::1", Some(SiteLocal)),
            ("2002:7f00:1::", Some(Loopback)),
            ("2002:a9fe:a9fe::1", Some(Metadata)),
            ("2002:c0a8:0101::", Some(Private)),
            ("2002:0808:0808::1", None),
            ("::ffff:0:127.0.0.1", Some(Loopback)),
            ("::ffff:0:a00:1", Some(Private)),
            ("::ffff:0:8.8.8.8", None),
        ];
        for (text, want) in cases {
            let ip: IpAddr = text.parse().unwrap();
            assert_eq!(classify(ip), *want, "{text}");
        }
    }

    #[test]
    fn allowlist_by_name_or_address() {
        let lo = [SocketAddr::from(([127, 0, 0, 1], 0))];
        let none = Guard::default();
        let err = none.check("localhost", &lo).unwrap_err();
        assert_eq!(err.class, Forbidden::Loopback);
        assert!(err.to_string().contains("localhost resolves to 127.0.0.1"));
        assert!(
            Guard::new(["LocalHost".to_string()])
                .check("localhost", &lo)
                .is_ok()
        );
        assert!(
            Guard::new(["127.0.0.1".to_string()])
                .check("localhost", &lo)
                .is_ok()
        );
        assert!(
            Guard::new(["::1".to_string()])
                .check_literal("[::1]")
                .is_ok()
        );
        assert!(none.check_literal("[::1]").is_err());
        assert!(none.check_literal("example.com").is_ok());
        // One bad address among good ones refuses the host.
        let mixed = [
            SocketAddr::from(([8, 8, 8, 8], 0)),
            SocketAddr::from(([10, 0, 0, 1], 0)),
        ];
        assert_eq!(
            none.check("mixed.example", &mixed).unwrap_err().class,
            Forbidden::Private
        );
    }
}
