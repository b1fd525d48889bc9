//! Name resolution for [`HttpsTransport`](super::HttpsTransport): the resolver it asks, and
//! the guard between that resolver and the connection.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use super::address::AllowList;

/// The future a [`Resolve`] returns: the addresses of a host name.
pub type Resolving = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>>;

/// Resolves host names to addresses for [`HttpsTransport`](super::HttpsTransport). Every
/// address it returns is checked; the connection goes only to those addresses.
///
/// [`SystemResolver`] (the default) asks the operating system; [`StaticResolver`] answers
/// from a fixed table (tests, pinned names).
pub trait Resolve: Send + Sync + 'static {
    /// The addresses of `host` (a name, never an IP literal).
    fn resolve(&self, host: &str) -> Resolving;
}

/// Asks the operating system (`getaddrinfo`, through tokio).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, host: &str) -> Resolving {
        let host = host.to_owned();
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addrs.map(|addr| addr.ip()).collect())
        })
    }
}

/// Answers from a fixed table of names; any other name does not resolve.
///
/// ```
/// # use webhook_kit::send::StaticResolver;
/// let resolver = StaticResolver::new().with("hooks.example.test", ["127.0.0.1".parse().unwrap()]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct StaticResolver {
    names: HashMap<String, Vec<IpAddr>>,
}

impl StaticResolver {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// The table with `host` (compared without regard to ASCII case) resolving to `addresses`.
    #[must_use]
    pub fn with(mut self, host: &str, addresses: impl IntoIterator<Item = IpAddr>) -> Self {
        self.names
            .insert(host.to_ascii_lowercase(), addresses.into_iter().collect());
        self
    }
}

impl Resolve for StaticResolver {
    fn resolve(&self, host: &str) -> Resolving {
        let found = self.names.get(&host.to_ascii_lowercase()).cloned();
        Box::pin(async move {
            found.ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "name not in the table"))
        })
    }
}

/// The refusal of an address, carried through the HTTP client's error chain.
#[derive(Debug)]
pub(super) struct Refused {
    pub(super) host: String,
    pub(super) address: IpAddr,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} resolves to {}, which is not public and not allowed",
            self.host, self.address
        )
    }
}

impl std::error::Error for Refused {}

/// A failed name resolution, carried through the HTTP client's error chain.
#[derive(Debug)]
pub(super) struct Unresolved {
    pub(super) host: String,
    pub(super) source: Option<io::Error>,
}

impl fmt::Display for Unresolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(source) => write!(f, "{} does not resolve: {source}", self.host),
            None => write!(f, "{} resolves to no address", self.host),
        }
    }
}

impl std::error::Error for Unresolved {}

/// Resolves `host` and checks every address: all of them allowed, or a refusal naming the
/// first that is not.
pub(super) async fn resolve_checked(
    resolver: &dyn Resolve,
    allow: &AllowList,
    host: &str,
) -> Result<Vec<IpAddr>, Box<dyn std::error::Error + Send + Sync>> {
    let addresses = resolver.resolve(host).await.map_err(|source| Unresolved {
        host: host.to_owned(),
        source: Some(source),
    })?;
    if addresses.is_empty() {
        return Err(Box::new(Unresolved {
            host: host.to_owned(),
            source: None,
        }));
    }
    if let Some(&address) = addresses.iter().find(|ip| !allow.allows(**ip)) {
        return Err(Box::new(Refused {
            host: host.to_owned(),
            address,
        }));
    }
    Ok(addresses)
}

/// The resolver the HTTP client uses: ours, then the check. The addresses it hands back are
/// the checked ones, so the connection goes where the check looked (no second look-up).
/// The egress proxy's own name, when one is configured, is resolved without the check: it is
/// the operator's choice, not a destination.
pub(super) struct Guard {
    pub(super) resolver: Arc<dyn Resolve>,
    pub(super) allow: Arc<AllowList>,
    pub(super) proxy_host: Option<String>,
}

impl reqwest::dns::Resolve for Guard {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let resolver = Arc::clone(&self.resolver);
        let allow = Arc::clone(&self.allow);
        let host = name.as_str().to_owned();
        let unchecked = self
            .proxy_host
            .as_deref()
            .is_some_and(|proxy| proxy.eq_ignore_ascii_case(&host));
        Box::pin(async move {
            let addresses = if unchecked {
                resolver.resolve(&host).await?
            } else {
                resolve_checked(resolver.as_ref(), &allow, &host).await?
            };
            let addrs: reqwest::dns::Addrs =
                Box::new(addresses.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}
