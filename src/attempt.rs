//! One attempt to send a [`Delivery`], and what it tells: the [`Transport`] trait and the
//! [`Attempt`] record a delivery worker acts on.
//!
//! The transport makes one attempt and says what happened; the worker decides what happens
//! next (retry, give up, disable the endpoint). The real transport is
//! [`HttpsTransport`](crate::send::HttpsTransport) (feature `send`); any other implements
//! this trait the same way:
//!
//! ```
//! use std::time::Duration;
//! use webhook_kit::{Attempt, Delivery, Outcome, Transport};
//!
//! /// A transport that drops everything on the floor and says it was delivered.
//! struct Drop;
//!
//! impl Transport for Drop {
//!     async fn attempt(&self, _delivery: &Delivery) -> Attempt {
//!         Attempt::new(chrono::Utc::now(), Duration::ZERO, Outcome::Delivered).with_status(204)
//!     }
//! }
//! ```

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::delivery::Delivery;

/// Makes one attempt to send a delivery. Never retries, never follows a redirect: what
/// happened is in the [`Attempt`], including failures, so the call itself cannot fail.
pub trait Transport: Send + Sync {
    /// Sends `delivery` once and tells what happened.
    fn attempt(&self, delivery: &Delivery) -> impl Future<Output = Attempt> + Send;

    /// The longest an attempt can take, when the transport bounds it: a delivery worker
    /// refuses a lease that is not longer. `None` (the default) when unknown.
    fn timeout(&self) -> Option<Duration> {
        None
    }
}

/// What the worker should do after an attempt, following the Standard Webhooks
/// recommendations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// A `2xx` answer: done.
    Delivered,
    /// `410 Gone`: stop sending and disable the endpoint.
    Gone,
    /// Anything else: try again later. `after` is the wait the receiver asked for with
    /// `Retry-After` on a `429` or `503` (capped by the transport); `None` means the retry
    /// schedule decides.
    Retry {
        /// The wait the receiver asked for, if any.
        after: Option<Duration>,
    },
}

impl Outcome {
    /// The stable machine code: `delivered`, `gone` or `retry`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Gone => "gone",
            Self::Retry { .. } => "retry",
        }
    }
}

/// Why an attempt failed without a usable answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The host name did not resolve.
    Dns,
    /// No connection could be made (refused, reset, unreachable), or it broke before an
    /// answer came.
    Connect,
    /// The TLS handshake failed: an untrusted or expired certificate, one for another name.
    Tls,
    /// The connect timeout or the total timeout passed.
    Timeout,
    /// The destination resolved to (or is) an address that is not public and not allowed.
    DestinationNotAllowed,
    /// The answer was a redirect (`3xx`), which is never followed.
    Redirect,
    /// The response body could not be read.
    Body,
    /// Our own failure, not the endpoint's (the request could not be built, a store failed):
    /// it should not count against the endpoint's health.
    Internal,
}

impl ErrorKind {
    /// The stable machine code: `dns`, `connect`, `tls`, `timeout`,
    /// `destination_not_allowed`, `redirect`, `body` or `internal`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Dns => "dns",
            Self::Connect => "connect",
            Self::Tls => "tls",
            Self::Timeout => "timeout",
            Self::DestinationNotAllowed => "destination_not_allowed",
            Self::Redirect => "redirect",
            Self::Body => "body",
            Self::Internal => "internal",
        }
    }

    /// The kind of a code, as [`code`](Self::code) writes it.
    pub fn from_code(code: &str) -> Option<Self> {
        [
            Self::Dns,
            Self::Connect,
            Self::Tls,
            Self::Timeout,
            Self::DestinationNotAllowed,
            Self::Redirect,
            Self::Body,
            Self::Internal,
        ]
        .into_iter()
        .find(|kind| kind.code() == code)
    }

    /// Whether the failure is the endpoint's (or its network's): every kind but
    /// [`Internal`](Self::Internal).
    pub fn is_endpoint_fault(&self) -> bool {
        !matches!(self, Self::Internal)
    }
}

/// A failed attempt's kind and a message for logs. The message names the refused address or
/// the underlying error; never a secret, a signature, the body or the URL's query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptError {
    kind: ErrorKind,
    message: String,
}

impl AttemptError {
    /// An error of `kind` with a message for logs.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// What failed.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The stable machine code of the kind.
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// What happened, for logs.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for AttemptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.code(), self.message)
    }
}

impl std::error::Error for AttemptError {}

/// The record of one attempt: when, how long, to which address, the answer, and what to do
/// next.
///
/// `Debug` shows the length of the kept response body, not its bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Attempt {
    started_at: DateTime<Utc>,
    duration: Duration,
    remote_addr: Option<SocketAddr>,
    status: Option<u16>,
    response_body: Vec<u8>,
    outcome: Outcome,
    error: Option<AttemptError>,
}

impl Attempt {
    /// An attempt started at `started_at` that took `duration` and ended in `outcome`; no
    /// address, status, body or error yet.
    pub fn new(started_at: DateTime<Utc>, duration: Duration, outcome: Outcome) -> Self {
        Self {
            started_at,
            duration,
            remote_addr: None,
            status: None,
            response_body: Vec::new(),
            outcome,
            error: None,
        }
    }

    /// A failed attempt: outcome [`Outcome::Retry`] without a wait, and `error`.
    pub fn failed(started_at: DateTime<Utc>, duration: Duration, error: AttemptError) -> Self {
        Self::new(started_at, duration, Outcome::Retry { after: None }).with_error(error)
    }

    /// The same record with the address connected to.
    #[must_use]
    pub fn with_remote_addr(mut self, remote_addr: SocketAddr) -> Self {
        self.remote_addr = Some(remote_addr);
        self
    }

    /// The same record with the response status.
    #[must_use]
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// The same record with the kept prefix of the response body.
    #[must_use]
    pub fn with_response_body(mut self, body: Vec<u8>) -> Self {
        self.response_body = body;
        self
    }

    /// The same record with an error.
    #[must_use]
    pub fn with_error(mut self, error: AttemptError) -> Self {
        self.error = Some(error);
        self
    }

    /// When the attempt started.
    pub fn started_at(&self) -> DateTime<Utc> {
        self.started_at
    }

    /// How long it took, until the kept body prefix was read or the failure.
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// The address connected to, when a response came.
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.remote_addr
    }

    /// The response status, when a response came.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// The kept prefix of the response body (at most
    /// [`MAX_RESPONSE_BODY`](crate::send::MAX_RESPONSE_BODY) bytes with `HttpsTransport`).
    pub fn response_body(&self) -> &[u8] {
        &self.response_body
    }

    /// What to do next.
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }

    /// Why it failed: set for failures without a usable answer (and for a redirect, or a body
    /// that broke after the status came).
    pub fn error(&self) -> Option<&AttemptError> {
        self.error.as_ref()
    }

    /// Whether the endpoint gets the blame: false when delivered (whatever happened to the
    /// response body after the `2xx`) and when the failure is our own
    /// ([`ErrorKind::Internal`]); true otherwise.
    pub fn is_endpoint_failure(&self) -> bool {
        match (&self.outcome, &self.error) {
            (Outcome::Delivered, _) => false,
            (_, Some(error)) => error.kind().is_endpoint_fault(),
            (_, None) => true,
        }
    }

    /// The code that sums the attempt up: `delivered` or `gone` when the answer said so;
    /// for a retry, the error's code when there is one (`timeout`, `redirect` …), else
    /// `retry`.
    pub fn code(&self) -> &'static str {
        match (&self.outcome, &self.error) {
            (Outcome::Retry { .. }, Some(error)) => error.code(),
            (outcome, _) => outcome.code(),
        }
    }
}

impl fmt::Debug for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attempt")
            .field("started_at", &self.started_at)
            .field("duration", &self.duration)
            .field("remote_addr", &self.remote_addr)
            .field("status", &self.status)
            .field("response_body_len", &self.response_body.len())
            .field("outcome", &self.outcome)
            .field("error", &self.error)
            .finish()
    }
}
