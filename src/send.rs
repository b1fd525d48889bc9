//! Sending deliveries over HTTPS (feature `send`): [`HttpsTransport`] makes one attempt of a
//! [`Delivery`] and returns an [`Attempt`], with the destination checked at connect time.
//!
//! - **The guard.** The host name is resolved by the transport's own [`Resolve`]r; if *any*
//!   address it returns is not public ([`is_public`]) and not in the [`AllowList`], the
//!   attempt is refused before a byte is sent (`destination_not_allowed`, naming the
//!   address). The connection goes to the addresses that were checked, never to a second
//!   look-up's (DNS rebinding). An IP-literal host is checked the same way. Only `https`
//!   URLs are sent.
//! - **No surprises.** Redirects are never followed (a `3xx` is a failed attempt, its
//!   `Location` is not fetched); no proxy is taken from the environment; an egress proxy is
//!   explicit configuration. One pooled client per transport, connections kept alive,
//!   HTTP/1.1, exactly one try.
//! - **Limits.** Connect timeout 5 s and total 15 s by default (total at most 60 s); at most
//!   [`MAX_RESPONSE_BODY`] bytes of the response body are read and kept, the rest is not
//!   read; response headers are bounded by the HTTP client's limits.
//! - **The request.** `POST` to [`Delivery::request_url`] with the delivery's three Standard
//!   Webhooks headers, `content-type`, `user-agent: webhook-kit/<version>` ([`USER_AGENT`]),
//!   and the body byte for byte. The HTTP client adds `host`, `content-length` and
//!   `accept: */*`, nothing else.
//!
//! The pure rules are functions tested without I/O: [`is_public`], [`parse_retry_after`],
//! [`classify_status`].
//!
//! ```no_run
//! use webhook_kit::send::HttpsTransport;
//! use webhook_kit::Transport;
//! # async fn run(delivery: webhook_kit::Delivery) -> Result<(), Box<dyn std::error::Error>> {
//! let transport = HttpsTransport::builder().build()?;
//! let attempt = transport.attempt(&delivery).await;
//! println!("{} {:?} {:?}", attempt.code(), attempt.status(), attempt.duration());
//! # Ok(()) }
//! ```

mod address;
mod resolver;
mod retry_after;
mod status;

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use chrono::Utc;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

use crate::attempt::{Attempt, AttemptError, ErrorKind, Outcome, Transport};
use crate::delivery::Delivery;

pub use address::{AllowList, InvalidNetwork, Network, embedded_ipv4, is_public};
pub use resolver::{Resolve, Resolving, StaticResolver, SystemResolver};
pub use retry_after::{DEFAULT_MAX_RETRY_AFTER, parse_retry_after};
pub use status::{StatusClass, classify_status};

use resolver::{Guard, Refused, Unresolved, resolve_checked};

/// The `user-agent` of every request: `webhook-kit/<version>`.
pub const USER_AGENT: &str = concat!("webhook-kit/", env!("CARGO_PKG_VERSION"));

/// How much of a response body is read and kept: 16 KiB.
pub const MAX_RESPONSE_BODY: usize = 16 * 1024;

/// The default connect timeout: 5 seconds.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The default total timeout of an attempt: 15 seconds.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// The longest total timeout a transport accepts: 60 seconds.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);

/// The HTTPS [`Transport`]: one shared, pooled HTTP/1.1 client with the destination guard.
/// Cheap to clone (clones share the client and its connections).
///
/// Build it with [`HttpsTransport::builder`].
#[derive(Clone)]
pub struct HttpsTransport {
    inner: Arc<Inner>,
}

struct Inner {
    client: reqwest::Client,
    resolver: Arc<dyn Resolve>,
    allow: Arc<AllowList>,
    proxied: bool,
    timeout: Duration,
    max_retry_after: Duration,
}

impl fmt::Debug for HttpsTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpsTransport")
            .field("allow", &self.inner.allow)
            .field("proxied", &self.inner.proxied)
            .field("timeout", &self.inner.timeout)
            .field("max_retry_after", &self.inner.max_retry_after)
            .finish_non_exhaustive()
    }
}

impl HttpsTransport {
    /// A builder with the defaults: public destinations only, the system resolver and trust
    /// store, connect timeout 5 s, total 15 s, `Retry-After` capped at one hour, no proxy.
    pub fn builder() -> TransportBuilder {
        TransportBuilder::default()
    }

    /// The networks allowed besides public addresses.
    pub fn allow_list(&self) -> &AllowList {
        &self.inner.allow
    }

    /// Sends and reads the kept prefix of the answer; every failure as an [`AttemptError`].
    async fn exchange(&self, delivery: &Delivery) -> Result<Exchange, AttemptError> {
        let inner = &self.inner;
        let url = delivery
            .parsed_request_url()
            .map_err(|error| AttemptError::new(ErrorKind::Internal, error.to_string()))?;
        if url.scheme() != "https" {
            return Err(AttemptError::new(
                ErrorKind::DestinationNotAllowed,
                "only https destinations are sent to",
            ));
        }
        match url.host() {
            Some(url::Host::Ipv4(ip)) => check_literal(&inner.allow, IpAddr::V4(ip))?,
            Some(url::Host::Ipv6(ip)) => check_literal(&inner.allow, IpAddr::V6(ip))?,
            Some(url::Host::Domain(host)) if inner.proxied => {
                // The proxy resolves the name again: this check is a first gate, the proxy's
                // own guard the one at connect time. The client's timeout does not cover it.
                let checked = resolve_checked(inner.resolver.as_ref(), &inner.allow, host);
                tokio::time::timeout(inner.timeout, checked)
                    .await
                    .map_err(|_| AttemptError::new(ErrorKind::Timeout, "resolving took too long"))?
                    .map_err(|error| {
                        classify_chain(error.as_ref()).unwrap_or_else(|| connect(&*error))
                    })?;
            }
            Some(url::Host::Domain(_)) => {}
            None => {
                return Err(AttemptError::new(
                    ErrorKind::Internal,
                    "the url has no host",
                ));
            }
        }

        let mut request = inner
            .client
            .post(url)
            .body(Bytes::from_owner(Arc::clone(delivery.shared_body())));
        for (name, value) in delivery.header_pairs() {
            request = request.header(name, value);
        }
        let mut response = request.send().await.map_err(classify)?;

        let status = response.status().as_u16();
        let remote_addr = response.remote_addr();
        let retry_after = (classify_status(status) == StatusClass::Throttled)
            .then(|| response.headers().get(reqwest::header::RETRY_AFTER))
            .flatten()
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, SystemTime::now(), inner.max_retry_after));

        let mut body = Vec::new();
        let mut body_error = None;
        while body.len() < MAX_RESPONSE_BODY {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = MAX_RESPONSE_BODY - body.len();
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
                Ok(None) => break,
                Err(error) => {
                    let mut error = classify(error);
                    if error.kind() != ErrorKind::Timeout {
                        error = AttemptError::new(ErrorKind::Body, error.message().to_owned());
                    }
                    body_error = Some(error);
                    break;
                }
            }
        }
        // Dropping the response closes a connection whose body was not read to the end.
        Ok(Exchange {
            status,
            remote_addr,
            retry_after,
            body,
            body_error,
        })
    }
}

/// What came back.
struct Exchange {
    status: u16,
    remote_addr: Option<SocketAddr>,
    retry_after: Option<Duration>,
    body: Vec<u8>,
    body_error: Option<AttemptError>,
}

impl Exchange {
    fn into_attempt(self, started_at: chrono::DateTime<Utc>, duration: Duration) -> Attempt {
        let (outcome, error) = match classify_status(self.status) {
            StatusClass::Success => (Outcome::Delivered, self.body_error),
            StatusClass::Gone => (Outcome::Gone, self.body_error),
            StatusClass::Redirect => (
                Outcome::Retry { after: None },
                Some(AttemptError::new(
                    ErrorKind::Redirect,
                    format!("answered {}: redirects are not followed", self.status),
                )),
            ),
            StatusClass::Throttled => (
                Outcome::Retry {
                    after: self.retry_after,
                },
                self.body_error,
            ),
            _ => (Outcome::Retry { after: None }, self.body_error),
        };
        let mut attempt = Attempt::new(started_at, duration, outcome)
            .with_status(self.status)
            .with_response_body(self.body);
        if let Some(addr) = self.remote_addr {
            attempt = attempt.with_remote_addr(addr);
        }
        if let Some(error) = error {
            attempt = attempt.with_error(error);
        }
        attempt
    }
}

impl Transport for HttpsTransport {
    fn timeout(&self) -> Option<Duration> {
        Some(self.inner.timeout)
    }

    async fn attempt(&self, delivery: &Delivery) -> Attempt {
        let started_at = Utc::now();
        let clock = Instant::now();
        // The client's total timeout covers resolving, connecting, sending and reading.
        let result = self.exchange(delivery).await;
        let duration = clock.elapsed();
        match result {
            Ok(exchange) => exchange.into_attempt(started_at, duration),
            Err(error) => Attempt::failed(started_at, duration, error),
        }
    }
}

/// An IP-literal host, which the resolver never sees, checked the same way.
fn check_literal(allow: &AllowList, ip: IpAddr) -> Result<(), AttemptError> {
    if allow.allows(ip) {
        Ok(())
    } else {
        Err(AttemptError::new(
            ErrorKind::DestinationNotAllowed,
            format!("{ip} is not public and not allowed"),
        ))
    }
}

/// The kind of a failed request, from the error and its sources.
fn classify(error: reqwest::Error) -> AttemptError {
    let error = error.without_url();
    if let Some(found) = classify_chain(&error) {
        return found;
    }
    let kind = if error.is_timeout() {
        ErrorKind::Timeout
    } else if has_tls_error(&error) {
        ErrorKind::Tls
    } else if error.is_builder() {
        ErrorKind::Internal
    } else if error.is_body() || error.is_decode() {
        ErrorKind::Body
    } else {
        ErrorKind::Connect
    };
    AttemptError::new(kind, chain_message(&error))
}

/// Our own resolver's refusal or failure, wherever it sits in the chain.
fn classify_chain(error: &(dyn StdError + 'static)) -> Option<AttemptError> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(refused) = error.downcast_ref::<Refused>() {
            return Some(AttemptError::new(
                ErrorKind::DestinationNotAllowed,
                refused.to_string(),
            ));
        }
        if let Some(unresolved) = error.downcast_ref::<Unresolved>() {
            return Some(AttemptError::new(ErrorKind::Dns, unresolved.to_string()));
        }
        next = error.source();
    }
    None
}

fn connect(error: &(dyn StdError + 'static)) -> AttemptError {
    AttemptError::new(ErrorKind::Connect, chain_message(error))
}

/// Whether a rustls error is in the chain, also inside an `io::Error` (whose `source` skips
/// the error it wraps).
fn has_tls_error(error: &(dyn StdError + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(error) = next {
        if error.is::<rustls::Error>() {
            return true;
        }
        if let Some(inner) = error
            .downcast_ref::<io::Error>()
            .and_then(|io| io.get_ref())
            && (inner.is::<rustls::Error>() || has_tls_error(inner))
        {
            return true;
        }
        next = error.source();
    }
    false
}

/// The messages of the error and its sources, joined: "error sending request: … : …".
fn chain_message(error: &(dyn StdError + 'static)) -> String {
    let mut message = error.to_string();
    let mut next = error.source();
    while let Some(source) = next {
        let text = source.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        next = source.source();
    }
    message
}

/// Settings of an [`HttpsTransport`]; impossible ones are refused by
/// [`build`](Self::build).
pub struct TransportBuilder {
    connect_timeout: Duration,
    timeout: Duration,
    max_retry_after: Duration,
    allow: AllowList,
    resolver: Arc<dyn Resolve>,
    proxy: Option<String>,
    roots: Vec<CertificateDer<'static>>,
    root_error: bool,
}

impl Default for TransportBuilder {
    fn default() -> Self {
        Self {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            max_retry_after: DEFAULT_MAX_RETRY_AFTER,
            allow: AllowList::new(),
            resolver: Arc::new(SystemResolver),
            proxy: None,
            roots: Vec::new(),
            root_error: false,
        }
    }
}

impl fmt::Debug for TransportBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportBuilder")
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("max_retry_after", &self.max_retry_after)
            .field("allow", &self.allow)
            .field("proxy", &self.proxy.as_ref().map(|_| "[set]"))
            .field("extra_roots", &self.roots.len())
            .finish_non_exhaustive()
    }
}

impl TransportBuilder {
    /// How long connecting (TCP and TLS handshake) may take: more than zero, at most the
    /// total timeout. Default 5 s.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long a whole attempt may take, until the kept body prefix is read: more than zero,
    /// at most [`MAX_TIMEOUT`]. Default 15 s.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The longest wait a `Retry-After` may ask for; longer asks are cut to this. Default
    /// [`DEFAULT_MAX_RETRY_AFTER`].
    #[must_use]
    pub fn max_retry_after(mut self, cap: Duration) -> Self {
        self.max_retry_after = cap;
        self
    }

    /// Allows `network` besides the public addresses (a private deployment's own network;
    /// loopback in tests).
    #[must_use]
    pub fn allow_network(mut self, network: Network) -> Self {
        self.allow = self.allow.with(network);
        self
    }

    /// Replaces the allowed networks.
    #[must_use]
    pub fn allow_list(mut self, allow: AllowList) -> Self {
        self.allow = allow;
        self
    }

    /// Resolves host names with `resolver` instead of the operating system's.
    #[must_use]
    pub fn resolver(mut self, resolver: impl Resolve) -> Self {
        self.resolver = Arc::new(resolver);
        self
    }

    /// Sends every request through the egress proxy at `url` (`http://proxy.internal:3128`),
    /// for HTTPS with `CONNECT`. The proxy's own name is resolved without the guard (it is
    /// configuration, not a destination); the destination is still resolved and checked
    /// before the request, but the proxy connects on its own look-up, so the connect-time
    /// guard is then the proxy's job (Smokescreen and the like).
    #[must_use]
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = Some(url.into());
        self
    }

    /// Trusts the certificates of a PEM file's `CERTIFICATE` blocks as roots, besides the
    /// operating system's (a private CA; a self-signed receiver in tests).
    #[must_use]
    pub fn add_root_certificates_pem(mut self, pem: &[u8]) -> Self {
        let mut found = false;
        for cert in CertificateDer::pem_slice_iter(pem) {
            match cert {
                Ok(cert) => {
                    self.roots.push(cert);
                    found = true;
                }
                Err(_) => self.root_error = true,
            }
        }
        if !found {
            self.root_error = true;
        }
        self
    }

    /// Trusts a DER certificate as a root, besides the operating system's.
    #[must_use]
    pub fn add_root_certificate_der(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.roots.push(CertificateDer::from(der.into()));
        self
    }

    /// The transport.
    ///
    /// # Errors
    ///
    /// [`BuildError::Timeout`] when a timeout is zero, the total is over [`MAX_TIMEOUT`] or
    /// the connect timeout is over the total; [`BuildError::Certificate`] when an extra root
    /// does not parse; [`BuildError::Proxy`] when the proxy URL is not one;
    /// [`BuildError::Tls`] when the trust store cannot be set up; [`BuildError::Client`] when
    /// the HTTP client cannot be built.
    pub fn build(self) -> Result<HttpsTransport, BuildError> {
        if self.timeout.is_zero()
            || self.timeout > MAX_TIMEOUT
            || self.connect_timeout.is_zero()
            || self.connect_timeout > self.timeout
        {
            return Err(BuildError::Timeout);
        }
        if self.root_error {
            return Err(BuildError::Certificate);
        }
        let tls = tls_config(self.roots)?;
        let allow = Arc::new(self.allow);
        let mut proxy_host = None;
        let mut builder = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .http1_only()
            .redirect(reqwest::redirect::Policy::none())
            .retry(reqwest::retry::never())
            .referer(false)
            .connect_timeout(self.connect_timeout)
            .timeout(self.timeout)
            .user_agent(USER_AGENT);
        builder = match &self.proxy {
            None => builder.no_proxy(),
            Some(url) => {
                let parsed = ::url::Url::parse(url).map_err(|_| BuildError::Proxy)?;
                proxy_host = parsed.host_str().map(str::to_owned);
                let proxy = reqwest::Proxy::all(parsed).map_err(|_| BuildError::Proxy)?;
                builder.proxy(proxy)
            }
        };
        let proxied = self.proxy.is_some();
        let client = builder
            .dns_resolver(Arc::new(Guard {
                resolver: Arc::clone(&self.resolver),
                allow: Arc::clone(&allow),
                proxy_host,
            }))
            .build()
            .map_err(BuildError::Client)?;
        Ok(HttpsTransport {
            inner: Arc::new(Inner {
                client,
                resolver: self.resolver,
                allow,
                proxied,
                timeout: self.timeout,
                max_retry_after: self.max_retry_after,
            }),
        })
    }
}

/// rustls on `ring`, verifying with the operating system's roots plus `extra_roots`.
fn tls_config(
    extra_roots: Vec<CertificateDer<'static>>,
) -> Result<rustls::ClientConfig, BuildError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = if extra_roots.is_empty() {
        rustls_platform_verifier::Verifier::new(Arc::clone(&provider))
    } else {
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra_roots, Arc::clone(&provider))
    }
    .map_err(BuildError::Tls)?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(BuildError::Tls)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Why a transport could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A timeout is zero, the total is over [`MAX_TIMEOUT`], or the connect timeout is longer
    /// than the total.
    #[error(
        "timeouts must be above zero, the total at most 60 s and the connect timeout at most the total"
    )]
    Timeout,
    /// An extra root certificate does not parse (no PEM `CERTIFICATE` block, or a broken one).
    #[error("a root certificate does not parse")]
    Certificate,
    /// The proxy URL is not a URL a proxy can have.
    #[error("the proxy url is invalid")]
    Proxy,
    /// The TLS configuration could not be made (the trust store could not be loaded).
    #[error("tls setup failed")]
    Tls(#[source] rustls::Error),
    /// The HTTP client could not be built.
    #[error("http client setup failed")]
    Client(#[source] reqwest::Error),
}

impl BuildError {
    /// The stable machine code: `timeout_invalid`, `certificate_invalid`, `proxy_invalid`,
    /// `tls_unavailable` or `client_unavailable`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Timeout => "timeout_invalid",
            Self::Certificate => "certificate_invalid",
            Self::Proxy => "proxy_invalid",
            Self::Tls(_) => "tls_unavailable",
            Self::Client(_) => "client_unavailable",
        }
    }
}
