//! The outbound SSRF guard for customers' endpoints: a URL a customer typed must never make the
//! executor reach inside the network (loopback, private ranges, link-local and the cloud metadata
//! address 169.254.169.254, CGNAT, unique-local IPv6, multicast, unspecified, reserved).
//!
//! The rule is one pure function over a resolved address ([`AddressPolicy::check`]). It is
//! applied where the connection is made: endpoint requests go through a client whose resolver
//! ([`GuardedResolver`]) resolves the name, drops refused addresses and hands the connector only
//! the ones left, so the address checked is the address connected to (no DNS-rebinding window).
//! A URL whose host is an IP literal never reaches a resolver, so [`AddressPolicy::check_url`]
//! checks it before the request is built. Redirects are never followed, and proxies from the
//! environment are not used for endpoints (a proxy would resolve the name itself).
//!
//! Development setups open subnets with an allowlist ([`ALLOW_NETWORKS_VAR`]).

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use ipnet::IpNet;

/// The variable listing subnets endpoints may reach although the guard would refuse them,
/// comma-separated (`127.0.0.0/8,10.1.0.0/16`).
pub const ALLOW_NETWORKS_VAR: &str = "BUILDAMP_ALLOW_NETWORKS";

/// Why an address is not reachable for endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// `10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16`.
    Private,
    /// `169.254.0.0/16` (with the metadata service at 169.254.169.254), `fe80::/10`.
    LinkLocal,
    /// `100.64.0.0/10`, carrier-grade NAT.
    SharedAddressSpace,
    /// `fc00::/7`.
    UniqueLocal,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// `0.0.0.0/8`, `::`.
    Unspecified,
    /// Broadcast, `240.0.0.0/4` and the IETF's special-purpose blocks (`192.0.0.0/24`,
    /// documentation, benchmarking).
    Reserved,
}

impl Refusal {
    fn describe(self) -> &'static str {
        match self {
            Refusal::Loopback => "a loopback address",
            Refusal::Private => "a private network address",
            Refusal::LinkLocal => "a link-local address (where cloud metadata services live)",
            Refusal::SharedAddressSpace => "a carrier-grade NAT address",
            Refusal::UniqueLocal => "a unique-local IPv6 address",
            Refusal::Multicast => "a multicast address",
            Refusal::Unspecified => "an unspecified address",
            Refusal::Reserved => "a reserved address",
        }
    }
}

/// The class of `ip` that endpoints may not reach, or `None` for a public address.
/// IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) are judged as the IPv4 address they carry.
pub fn classify(ip: IpAddr) -> Option<Refusal> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => classify_v4(v4),
            None => classify_v6(v6),
        },
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Refusal> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (127, ..) => Refusal::Loopback,
        (10, ..) | (172, 16..=31, _) | (192, 168, _) => Refusal::Private,
        (169, 254, _) => Refusal::LinkLocal,
        (100, 64..=127, _) => Refusal::SharedAddressSpace,
        (0, ..) => Refusal::Unspecified,
        (224..=239, ..) => Refusal::Multicast,
        (240..=255, ..)
        | (192, 0, 0)
        | (192, 0, 2)
        | (198, 18..=19, _)
        | (198, 51, 100)
        | (203, 0, 113) => Refusal::Reserved,
        _ => return None,
    })
}

fn classify_v6(ip: Ipv6Addr) -> Option<Refusal> {
    let first = ip.segments()[0];
    Some(if ip.is_loopback() {
        Refusal::Loopback
    } else if ip.is_unspecified() {
        Refusal::Unspecified
    } else if first & 0xffc0 == 0xfe80 {
        Refusal::LinkLocal
    } else if first & 0xfe00 == 0xfc00 {
        Refusal::UniqueLocal
    } else if first & 0xff00 == 0xff00 {
        Refusal::Multicast
    } else if first == 0x2001 && ip.segments()[1] == 0x0db8 {
        Refusal::Reserved
    } else {
        return None;
    })
}

/// Which addresses endpoints may reach: every public one, and refused ones inside an allowed
/// subnet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    allow: Vec<IpNet>,
}

/// An endpoint's address was refused: what, why, and how to allow it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Refused {
    /// The host as written in the URL.
    pub host: String,
    /// The addresses refused.
    pub addresses: Vec<IpAddr>,
    /// Why the first one was.
    pub reason: Option<Refusal>,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(first) = self.addresses.first() else {
            return write!(f, "`{}` resolves to no address", self.host);
        };
        let addresses: Vec<String> = self.addresses.iter().map(ToString::to_string).collect();
        let shown = if self.host == first.to_string() {
            format!("`{}`", self.host)
        } else {
            format!("`{}` ({})", self.host, addresses.join(", "))
        };
        let net = match first {
            IpAddr::V4(_) => format!("{first}/32"),
            IpAddr::V6(_) => format!("{first}/128"),
        };
        write!(
            f,
            "refused to connect to {shown}: {} is {}, and customer endpoints may not reach inside the network. To allow it (a development setup), add its subnet to {ALLOW_NETWORKS_VAR}, e.g. {ALLOW_NETWORKS_VAR}={net}",
            first,
            self.reason.map_or("not allowed", Refusal::describe)
        )
    }
}

impl AddressPolicy {
    /// The default policy: public addresses only.
    pub fn public_only() -> Self {
        AddressPolicy::default()
    }

    /// Also allows every address in `networks`.
    pub fn allowing(mut self, networks: impl IntoIterator<Item = IpNet>) -> Self {
        self.allow.extend(networks);
        self
    }

    /// The policy [`ALLOW_NETWORKS_VAR`] describes (public only when it is unset).
    ///
    /// # Errors
    /// An entry is not a subnet (`10.0.0.0/8`) or an address.
    pub fn from_env(env: &(impl crate::env::Env + ?Sized)) -> Result<Self, String> {
        let Some(value) = env.var(ALLOW_NETWORKS_VAR) else {
            return Ok(Self::public_only());
        };
        let mut allow = Vec::new();
        for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let net = entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{ALLOW_NETWORKS_VAR}: `{entry}` is not a subnet like `10.0.0.0/8` or an address"))?;
            allow.push(net);
        }
        Ok(AddressPolicy { allow })
    }

    /// The subnets allowed beyond public addresses.
    pub fn allowed(&self) -> &[IpNet] {
        &self.allow
    }

    /// Whether endpoints may reach `ip`: `Ok` for a public or allowlisted address, else the class
    /// that refuses it.
    pub fn check(&self, ip: IpAddr) -> Result<(), Refusal> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match classify(ip) {
            Some(refusal) if !self.allow.iter().any(|n| n.contains(&ip)) => Err(refusal),
            _ => Ok(()),
        }
    }

    /// The addresses of `resolved` that endpoints may reach, in order.
    ///
    /// # Errors
    /// [`Refused`] when none is left.
    pub fn filter(&self, host: &str, resolved: &[IpAddr]) -> Result<Vec<IpAddr>, Refused> {
        let kept: Vec<IpAddr> = resolved
            .iter()
            .copied()
            .filter(|ip| self.check(*ip).is_ok())
            .collect();
        if kept.is_empty() {
            return Err(Refused {
                host: host.to_owned(),
                addresses: resolved.to_vec(),
                reason: resolved.first().and_then(|ip| self.check(*ip).err()),
            });
        }
        Ok(kept)
    }

    /// Checks a URL before a request: an IP-literal host (which no resolver sees) against the
    /// policy.
    ///
    /// # Errors
    /// [`Refused`] for a refused literal address.
    pub fn check_url(&self, url: &url::Url) -> Result<(), Refused> {
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            _ => return Ok(()),
        };
        self.filter(&literal.to_string(), &[literal]).map(drop)
    }
}

/// Turns a host name into addresses: the system's resolver, or a stub in tests.
pub trait Lookup: Send + Sync + 'static {
    /// The addresses of `host`.
    fn lookup(
        &self,
        host: &str,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send + '_>>;
}

/// The operating system's resolver (through tokio).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(
        &self,
        host: &str,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send + '_>> {
        let host = host.to_owned();
        Box::pin(async move {
            Ok(tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .map(|a| a.ip())
                .collect())
        })
    }
}

/// The resolver of the endpoint client: resolves with a [`Lookup`] and gives the connector only
/// the addresses the policy allows.
#[derive(Clone)]
pub struct GuardedResolver {
    policy: Arc<AddressPolicy>,
    lookup: Arc<dyn Lookup>,
}

impl fmt::Debug for GuardedResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardedResolver")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl GuardedResolver {
    /// A resolver applying `policy` to what `lookup` answers.
    pub fn new(policy: Arc<AddressPolicy>, lookup: Arc<dyn Lookup>) -> Self {
        GuardedResolver { policy, lookup }
    }

    /// The addresses the connector may connect to for `host`.
    ///
    /// # Errors
    /// The lookup failed, or every address was refused ([`Refused`]).
    pub async fn addresses(
        &self,
        host: &str,
    ) -> Result<Vec<IpAddr>, Box<dyn std::error::Error + Send + Sync>> {
        let resolved = self.lookup.lookup(host).await?;
        Ok(self.policy.filter(host, &resolved)?)
    }
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let this = self.clone();
        Box::pin(async move {
            let addresses = this.addresses(name.as_str()).await?;
            let addrs: reqwest::dns::Addrs =
                Box::new(addresses.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_address_class_is_refused_by_default() {
        let policy = AddressPolicy::public_only();
        for (ip, class) in [
            ("127.0.0.1", Refusal::Loopback),
            ("127.255.0.9", Refusal::Loopback),
            ("::1", Refusal::Loopback),
            ("10.1.2.3", Refusal::Private),
            ("172.16.0.1", Refusal::Private),
            ("172.31.255.255", Refusal::Private),
            ("192.168.1.1", Refusal::Private),
            ("169.254.169.254", Refusal::LinkLocal),
            ("fe80::1", Refusal::LinkLocal),
            ("100.64.0.1", Refusal::SharedAddressSpace),
            ("100.127.255.254", Refusal::SharedAddressSpace),
            ("fc00::1", Refusal::UniqueLocal),
            ("fd12:3456::1", Refusal::UniqueLocal),
            ("224.0.0.1", Refusal::Multicast),
            ("ff02::1", Refusal::Multicast),
            ("0.0.0.0", Refusal::Unspecified),
            ("::", Refusal::Unspecified),
            ("255.255.255.255", Refusal::Reserved),
            ("::ffff:10.0.0.1", Refusal::Private),
            ("::ffff:169.254.169.254", Refusal::LinkLocal),
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(policy.check(ip), Err(class), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "172.32.0.1",
            "100.128.0.1",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert_eq!(policy.check(ip.parse().unwrap()), Ok(()), "{ip}");
        }
    }

    #[test]
    fn an_allowlist_opens_its_subnets_only() {
        let policy = AddressPolicy::public_only().allowing(["127.0.0.0/8".parse().unwrap()]);
        assert_eq!(policy.check("127.0.0.1".parse().unwrap()), Ok(()));
        assert_eq!(policy.check("::ffff:127.0.0.1".parse().unwrap()), Ok(()));
        assert_eq!(
            policy.check("10.0.0.1".parse().unwrap()),
            Err(Refusal::Private)
        );
        assert_eq!(policy.check("::1".parse().unwrap()), Err(Refusal::Loopback));
    }

    #[test]
    fn refusals_say_how_to_allow() {
        let e = AddressPolicy::public_only()
            .filter("internal.example", &["10.0.0.7".parse().unwrap()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("`internal.example` (10.0.0.7)"), "{e}");
        assert!(e.contains("private network"), "{e}");
        assert!(e.contains("BUILDAMP_ALLOW_NETWORKS=10.0.0.7/32"), "{e}");
        let url = url::Url::parse("http://169.254.169.254/latest/meta-data").unwrap();
        let e = AddressPolicy::public_only()
            .check_url(&url)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("refused to connect to `169.254.169.254`: "),
            "{e}"
        );
        assert!(
            AddressPolicy::public_only()
                .check_url(&url::Url::parse("https://example.com/").unwrap())
                .is_ok()
        );
    }

    #[test]
    fn a_name_keeps_only_its_allowed_addresses() {
        let policy = AddressPolicy::public_only();
        let both: Vec<IpAddr> = vec![
            "10.0.0.1".parse().unwrap(),
            "93.184.216.34".parse().unwrap(),
        ];
        assert_eq!(
            policy.filter("mixed.example", &both).unwrap(),
            vec![both[1]]
        );
        assert!(
            policy
                .filter("empty.example", &[])
                .unwrap_err()
                .to_string()
                .contains("no address")
        );
    }

    #[test]
    fn the_allowlist_variable_is_parsed() {
        let env = std::collections::HashMap::from([(
            ALLOW_NETWORKS_VAR.to_owned(),
            "127.0.0.0/8, ::1".to_owned(),
        )]);
        let policy = AddressPolicy::from_env(&env).unwrap();
        assert_eq!(policy.allowed().len(), 2);
        let bad = std::collections::HashMap::from([(
            ALLOW_NETWORKS_VAR.to_owned(),
            "localhost".to_owned(),
        )]);
        assert!(
            AddressPolicy::from_env(&bad)
                .unwrap_err()
                .contains("`localhost` is not a subnet")
        );
    }
}
