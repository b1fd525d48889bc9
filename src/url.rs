//! Webhook destinations: the seed's URL rule and the destination policy applied after it.

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

/// Longest accepted URL, in bytes; checked before the regular expression runs.
pub const MAX_URL_LEN: usize = 4096;

/// The regular expression of the API this crate models, verbatim.
pub const SEED_URL_PATTERN: &str =
    r"^https:\/\/[-a-zA-Z0-9@:%._\+~#=]{2,256}\.[a-z]{2,6}\b([-a-zA-Z0-9@:%_\+.~#?&\/\/=]*)$";

/// Compiled once. Unicode mode is off, which gives the pattern the meaning a JavaScript
/// engine gives it without the `u` flag: `\b` is an ASCII word boundary.
static SEED_URL_REGEX: LazyLock<Regex> = LazyLock::new(|| {
    RegexBuilder::new(SEED_URL_PATTERN)
        .unicode(false)
        .build()
        .expect("the seed's URL pattern compiles")
});

/// Why a URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// Longer than [`MAX_URL_LEN`] bytes.
    #[error("url is longer than 4096 bytes")]
    TooLong,
    /// Does not match the seed's regular expression.
    #[error("url must be an https url matching the documented pattern")]
    NoMatch,
    /// Matches the pattern but a URL parser cannot make a URL of it (a bad port, say).
    #[error("url cannot be parsed")]
    Unparsable,
    /// Valid, but the destination policy refuses where it points.
    #[error("url destination is not allowed: {0}")]
    NotAllowed(Refusal),
}

impl UrlError {
    /// The stable machine code: `url_not_allowed` for policy refusals, `url_invalid` otherwise.
    pub fn code(&self) -> &'static str {
        match self {
            UrlError::NotAllowed(_) => "url_not_allowed",
            UrlError::TooLong | UrlError::NoMatch | UrlError::Unparsable => "url_invalid",
        }
    }
}

/// Which rule of a [`DestinationPolicy`] refused a URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The URL carries a user name or password.
    Credentials,
    /// The host is an IP address, in whatever spelling the parser understood.
    IpAddress,
    /// The host is a single label or an internal name (`localhost`, `*.internal` …).
    InternalHost,
    /// The host has an empty label (`127.0.0.1..`, `localhost..`, `a..example.com`): a
    /// resolver may drop it and reach an IP address or internal name the other rules refuse.
    /// A single trailing dot (`example.com.`) is not an empty label.
    EmptyLabel,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refusal::Credentials => "it carries credentials",
            Refusal::IpAddress => "its host is an ip address",
            Refusal::InternalHost => "its host is an internal name",
            Refusal::EmptyLabel => "its host has an empty label",
        })
    }
}

/// An HTTPS URL that matches the seed's regular expression, exactly as a JavaScript engine
/// would match it, and is at most [`MAX_URL_LEN`] bytes long.
///
/// The pattern alone lets through URLs that a parser sends elsewhere than they seem
/// (`https://evil.com@127.0.0.1`); a [`DestinationPolicy`] decides where deliveries may go.
///
/// ```
/// use webhook_kit::WebhookUrl;
///
/// assert!("https://example.com/hooks".parse::<WebhookUrl>().is_ok());
/// assert!("http://example.com/hooks".parse::<WebhookUrl>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WebhookUrl(String);

impl WebhookUrl {
    /// The URL as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for WebhookUrl {
    type Err = UrlError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.len() > MAX_URL_LEN {
            return Err(UrlError::TooLong);
        }
        if !SEED_URL_REGEX.is_match(text) {
            return Err(UrlError::NoMatch);
        }
        Ok(Self(text.to_owned()))
    }
}

impl TryFrom<String> for WebhookUrl {
    type Error = UrlError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<WebhookUrl> for String {
    fn from(url: WebhookUrl) -> Self {
        url.0
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Host names that only mean something inside a network, refused with their subdomains.
const INTERNAL_NAMES: &[&str] = &[
    "localhost",
    "local",
    "localdomain",
    "internal",
    "intranet",
    "lan",
    "home.arpa",
    "corp",
];

/// Where deliveries may be sent: applied to a [`WebhookUrl`] after the pattern, on create and
/// on update.
///
/// The URL is parsed as a browser would (the `url` crate, WHATWG rules), so
/// `https://2130706433#.com` is seen for what it is, `127.0.0.1`. The default refuses
/// credentials, IP-address hosts in any spelling, single-label hosts, internal names, and
/// hosts with an empty label other than a single trailing dot (`https://127.0.0.1..#.com`,
/// also spelt `%2e%2e` or with ideographic full stops, is none of the others to a parser but
/// may be `127.0.0.1` to a resolver).
/// Whoever sends deliveries must still check the resolved address when connecting: a public
/// name can resolve to a private address.
///
/// ```
/// use webhook_kit::{DestinationPolicy, WebhookUrl};
///
/// let url: WebhookUrl = "https://evil.com@127.0.0.1".parse().unwrap();
/// assert_eq!(DestinationPolicy::default().check(&url).unwrap_err().code(), "url_not_allowed");
/// assert!(DestinationPolicy::permissive().check(&url).is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DestinationPolicy {
    allow_credentials: bool,
    allow_ip_hosts: bool,
    allow_internal_hosts: bool,
}

impl Default for DestinationPolicy {
    fn default() -> Self {
        Self::strict()
    }
}

impl DestinationPolicy {
    /// The default: credentials, IP-address hosts, internal names and hosts with empty labels
    /// are all refused.
    pub const fn strict() -> Self {
        Self {
            allow_credentials: false,
            allow_ip_hosts: false,
            allow_internal_hosts: false,
        }
    }

    /// Allows every URL that parses: for development and tests against loopback servers.
    pub const fn permissive() -> Self {
        Self {
            allow_credentials: true,
            allow_ip_hosts: true,
            allow_internal_hosts: true,
        }
    }

    /// Whether a user name or password in the URL is allowed (they show in every listing).
    pub const fn allow_credentials(mut self, allow: bool) -> Self {
        self.allow_credentials = allow;
        self
    }

    /// Whether a host that is an IP address is allowed.
    pub const fn allow_ip_hosts(mut self, allow: bool) -> Self {
        self.allow_ip_hosts = allow;
        self
    }

    /// Whether single-label and internal host names are allowed.
    ///
    /// Hosts with an empty label ([`Refusal::EmptyLabel`]) stay refused unless both IP hosts
    /// and internal names are allowed: such a host may hide either.
    pub const fn allow_internal_hosts(mut self, allow: bool) -> Self {
        self.allow_internal_hosts = allow;
        self
    }

    /// Checks where `url` points.
    ///
    /// # Errors
    ///
    /// [`UrlError::Unparsable`] when a URL parser refuses it, [`UrlError::NotAllowed`] when a
    /// rule of this policy does.
    pub fn check(&self, url: &WebhookUrl) -> Result<(), UrlError> {
        let parsed = ::url::Url::parse(url.as_str()).map_err(|_| UrlError::Unparsable)?;
        if !self.allow_credentials && (!parsed.username().is_empty() || parsed.password().is_some())
        {
            return Err(UrlError::NotAllowed(Refusal::Credentials));
        }
        match parsed.host() {
            None => Err(UrlError::Unparsable),
            Some(::url::Host::Ipv4(_) | ::url::Host::Ipv6(_)) if !self.allow_ip_hosts => {
                Err(UrlError::NotAllowed(Refusal::IpAddress))
            }
            Some(::url::Host::Domain(name))
                if !(self.allow_ip_hosts && self.allow_internal_hosts) && has_empty_label(name) =>
            {
                Err(UrlError::NotAllowed(Refusal::EmptyLabel))
            }
            Some(::url::Host::Domain(name)) if !self.allow_internal_hosts && is_internal(name) => {
                Err(UrlError::NotAllowed(Refusal::InternalHost))
            }
            Some(_) => Ok(()),
        }
    }

    /// Parses `text` as a [`WebhookUrl`] and checks it against this policy.
    ///
    /// # Errors
    ///
    /// As [`WebhookUrl::from_str`], then as [`DestinationPolicy::check`].
    pub fn parse(&self, text: &str) -> Result<WebhookUrl, UrlError> {
        let url = text.parse()?;
        self.check(&url)?;
        Ok(url)
    }
}

/// Whether `host` has an empty label, a single trailing dot aside.
fn has_empty_label(host: &str) -> bool {
    host.strip_suffix('.')
        .unwrap_or(host)
        .split('.')
        .any(str::is_empty)
}

fn is_internal(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    !host.contains('.')
        || INTERNAL_NAMES.iter().any(|name| {
            host == *name
                || host
                    .strip_suffix(name)
                    .is_some_and(|rest| rest.ends_with('.'))
        })
}
