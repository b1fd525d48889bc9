//! Which addresses a delivery may connect to: the public ones, and those of the networks a
//! deployment allows. Pure functions, no I/O.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use ipnet::IpNet;

/// The IPv4 address an IPv6 address stands for, when it embeds one that decides where the
/// packets go: IPv4-mapped `::ffff:0:0/96`, IPv4-translated `::ffff:0:0:0/96`, NAT64
/// `64:ff9b::/96` and 6to4 `2002::/16`. Such an address is judged as the IPv4 inside, so
/// `::ffff:127.0.0.1` is loopback and `64:ff9b::a9fe:a9fe` is the metadata address.
pub fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match s {
        [0, 0, 0, 0, 0, 0xffff, hi, lo] => Some(v4(hi, lo)),
        [0, 0, 0, 0, 0xffff, 0, hi, lo] => Some(v4(hi, lo)),
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(v4(hi, lo)),
        [0x2002, hi, lo, ..] => Some(v4(hi, lo)),
        _ => None,
    }
}

/// Whether `ip` is a public unicast address a delivery may go to without being allowed
/// explicitly. An IPv6 address that embeds an IPv4 one ([`embedded_ipv4`]) is judged as that
/// IPv4 address.
///
/// Not public, IPv4: `0.0.0.0/8`, `10/8`, `100.64/10` (shared address space), `127/8`,
/// `169.254/16` (link-local, cloud metadata), `172.16/12`, `192.0.0/24`, `192.0.2/24`,
/// `192.88.99/24`, `192.168/16`, `198.18/15`, `198.51.100/24`, `203.0.113/24`, `224/4`
/// (multicast), `240/4` (reserved, broadcast). IPv6: `::` and `::1`, the rest of the
/// deprecated IPv4-compatible `::/96`, `fc00::/7` (unique local), `fe80::/10` (link-local),
/// `fec0::/10` (site-local), `ff00::/8` (multicast), `2001:db8::/32` (documentation),
/// `100::/64` (discard), `64:ff9b:1::/48` (local-use NAT64), `2001::/32` (Teredo, whose
/// IPv4 inside cannot be judged), `2001:10::/28` and `2001:20::/28` (ORCHID).
///
/// ```
/// # use webhook_kit::send::is_public;
/// assert!(is_public("93.184.215.14".parse().unwrap()));
/// assert!(!is_public("169.254.169.254".parse().unwrap()));
/// assert!(!is_public("::ffff:10.0.0.1".parse().unwrap()));
/// ```
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match embedded_ipv4(v6) {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let not_public = a == 0
        || a == 10
        || (a == 100 && (64..128).contains(&b))
        || a == 127
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 192 && b == 0 && c == 2)
        || (a == 192 && b == 88 && c == 99)
        || (a == 192 && b == 168)
        || (a == 198 && (b == 18 || b == 19))
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || a >= 224;
    !not_public
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let not_public = (s[..6] == [0; 6]) // ::, ::1 and the deprecated IPv4-compatible ::/96
        || (s[0] & 0xfe00) == 0xfc00 // fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // fec0::/10
        || (s[0] & 0xff00) == 0xff00 // ff00::/8
        || (s[0] == 0x2001 && s[1] == 0x0db8) // 2001:db8::/32
        || s[..4] == [0x0100, 0, 0, 0] // 100::/64
        || (s[0] == 0x0064 && s[1] == 0xff9b && s[2] == 0x0001) // 64:ff9b:1::/48
        || (s[0] == 0x2001 && s[1] == 0) // 2001::/32 Teredo
        || (s[0] == 0x2001 && (s[1] & 0xfff0) == 0x0010) // 2001:10::/28
        || (s[0] == 0x2001 && (s[1] & 0xfff0) == 0x0020); // 2001:20::/28
    !not_public
}

/// Networks a deployment allows deliveries to reach although they are not public (a private
/// network of its own, loopback in tests): CIDR blocks such as `10.1.0.0/16` or `::1/128`.
///
/// An IPv6 address that embeds an IPv4 one is allowed when either form is in a network.
///
/// ```
/// # use webhook_kit::send::AllowList;
/// let allow: AllowList = ["10.1.0.0/16".parse().unwrap()].into_iter().collect();
/// assert!(allow.allows("10.1.2.3".parse().unwrap()));
/// assert!(allow.allows("::ffff:10.1.2.3".parse().unwrap()));
/// assert!(!allow.allows("10.2.0.1".parse().unwrap()));
/// assert!(allow.allows("93.184.215.14".parse().unwrap())); // public
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    networks: Vec<Network>,
}

impl AllowList {
    /// An empty list: public addresses only.
    pub fn new() -> Self {
        Self::default()
    }

    /// The list with `network` added.
    #[must_use]
    pub fn with(mut self, network: Network) -> Self {
        self.networks.push(network);
        self
    }

    /// The networks allowed besides the public addresses.
    pub fn networks(&self) -> &[Network] {
        &self.networks
    }

    /// Whether a delivery may connect to `ip`: it is public, or inside an allowed network.
    pub fn allows(&self, ip: IpAddr) -> bool {
        is_public(ip) || self.contains(ip)
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let embedded = match ip {
            IpAddr::V6(v6) => embedded_ipv4(v6).map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        self.networks.iter().any(|network| {
            network.0.contains(&ip) || embedded.is_some_and(|v4| network.0.contains(&v4))
        })
    }
}

impl FromIterator<Network> for AllowList {
    fn from_iter<I: IntoIterator<Item = Network>>(iter: I) -> Self {
        Self {
            networks: iter.into_iter().collect(),
        }
    }
}

/// One network of an [`AllowList`], parsed from CIDR notation (`10.0.0.0/8`, `fd00::/8`) or a
/// single address (`127.0.0.1`, a /32 or /128).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Network(IpNet);

impl Network {
    /// The network of `prefix_len` bits at `address` (host bits cleared).
    ///
    /// # Errors
    ///
    /// [`InvalidNetwork`] when `prefix_len` is longer than the address (32 or 128 bits).
    pub fn new(address: IpAddr, prefix_len: u8) -> Result<Self, InvalidNetwork> {
        IpNet::new(address, prefix_len)
            .map(|net| Self(net.trunc()))
            .map_err(|_| InvalidNetwork)
    }

    /// Whether `ip` is inside the network (as written: no IPv4 embedded in IPv6 is looked at).
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&ip)
    }
}

impl FromStr for Network {
    type Err = InvalidNetwork;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Ok(net) = text.parse::<IpNet>() {
            return Ok(Self(net.trunc()));
        }
        text.parse::<IpAddr>()
            .map(|ip| Self(IpNet::from(ip)))
            .map_err(|_| InvalidNetwork)
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Network({})", self.0)
    }
}

/// A network that is neither CIDR notation nor an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a network: expected CIDR notation such as 10.0.0.0/8 or an address")]
pub struct InvalidNetwork;

impl InvalidNetwork {
    /// The stable machine code: `network_invalid`.
    pub fn code(&self) -> &'static str {
        "network_invalid"
    }
}
