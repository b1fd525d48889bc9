//! Standard Webhooks v1 signatures: signing deliveries and verifying them.
//!
//! A delivery carries three headers: [`HEADER_ID`], [`HEADER_TIMESTAMP`] (Unix seconds) and
//! [`HEADER_SIGNATURE`], a space-separated list of `v1,<base64 HMAC-SHA256>` over
//! `"{id}.{timestamp}.{body}"`, keyed by the secret's key. Any Standard Webhooks or Svix
//! library verifies what [`Signer`] produces, and [`Verifier`] accepts what they send.
//!
//! ```
//! use webhook_kit::{Secret, Signer, Verifier};
//!
//! let secret = Secret::generate();
//! let headers = Signer::from_secret(&secret).headers("msg_1", 1_700_000_000, b"{}")?;
//! let verifier = Verifier::from_secret(&secret);
//! assert!(verifier.verify_at(&headers, b"{}", 1_700_000_010).is_ok());
//! assert!(verifier.verify_at(&headers, b"{ }", 1_700_000_010).is_err());
//! # Ok::<(), webhook_kit::SignError>(())
//! ```

use std::borrow::Borrow;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use subtle::ConstantTimeEq as _;

use crate::Secret;

mod keyed;
mod tag64;

use keyed::KeyedMac;

/// Name of the header that carries the message id.
pub const HEADER_ID: &str = "webhook-id";
/// Name of the header that carries the attempt's Unix timestamp, in seconds.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// Name of the header that carries the signatures.
pub const HEADER_SIGNATURE: &str = "webhook-signature";
/// Largest header value [`Verifier`] reads, in bytes; a larger one is
/// [`VerifyError::HeaderTooLarge`]. Message ids are bounded by the same length when signing.
pub const MAX_HEADER_LEN: usize = 8 * 1024;
/// Most space-separated tokens (of any version) a signature header may hold; more is
/// [`VerifyError::TooManySignatures`].
pub const MAX_SIGNATURES: usize = 16;
/// Most secrets a [`Signer`] or [`Verifier`] holds at once.
pub const MAX_SECRETS: usize = 8;
/// How far a timestamp may be from the verifier's clock, in either direction, by default.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// The signature version this crate produces and checks, with its comma.
const VERSION_PREFIX: [u8; 3] = *b"v1,";
use tag64::{ENCODED_LEN as TAG_B64_LEN, TAG_LEN};
/// Characters of one `v1,<base64>` token.
const TOKEN_LEN: usize = VERSION_PREFIX.len() + TAG_B64_LEN;
/// Digits of the longest `i64`.
const MAX_TIMESTAMP_DIGITS: usize = 19;

/// One of the three Standard Webhooks headers, named by verification errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WebhookHeader {
    /// `webhook-id`.
    Id,
    /// `webhook-timestamp`.
    Timestamp,
    /// `webhook-signature`.
    Signature,
}

impl WebhookHeader {
    /// The header's name, in lower case.
    pub fn name(self) -> &'static str {
        match self {
            Self::Id => HEADER_ID,
            Self::Timestamp => HEADER_TIMESTAMP,
            Self::Signature => HEADER_SIGNATURE,
        }
    }
}

impl fmt::Display for WebhookHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a [`Signer`] or [`Verifier`] could not be built from a list of secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretsError {
    /// The list of secrets was empty.
    #[error("at least one secret is needed")]
    Empty,
    /// The list held more than [`MAX_SECRETS`] secrets.
    #[error("at most 8 secrets may be active at once")]
    TooMany,
}

impl SecretsError {
    /// The stable machine code: `secrets_empty` or `secrets_too_many`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "secrets_empty",
            Self::TooMany => "secrets_too_many",
        }
    }
}

/// Why a delivery could not be signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The message id is empty, longer than [`MAX_HEADER_LEN`], or holds a `.` or a byte
    /// outside visible ASCII.
    #[error("message id must be 1 to 8192 visible ASCII characters other than `.`")]
    InvalidMessageId,
    /// The timestamp is negative.
    #[error("timestamp must not be negative")]
    InvalidTimestamp,
}

impl SignError {
    /// The stable machine code: `message_id_invalid` or `timestamp_invalid`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidMessageId => "message_id_invalid",
            Self::InvalidTimestamp => "timestamp_invalid",
        }
    }
}

/// Why a delivery failed verification. Each variant names the check that failed; a
/// signature mismatch says nothing about which key or byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The header is absent.
    #[error("header `{0}` is missing")]
    MissingHeader(WebhookHeader),
    /// The header is present more than once, or its value is not what the scheme allows:
    /// an empty, `.`-holding or non-ASCII id, or a signature list that is blank or not ASCII.
    #[error("header `{0}` is malformed")]
    MalformedHeader(WebhookHeader),
    /// The header's value is longer than [`MAX_HEADER_LEN`] bytes.
    #[error("header `{0}` is too large")]
    HeaderTooLarge(WebhookHeader),
    /// The signature header holds more than [`MAX_SIGNATURES`] tokens.
    #[error("too many signatures")]
    TooManySignatures,
    /// The timestamp is not a canonical non-negative decimal `i64`: digits only, no sign,
    /// no leading zero, no overflow.
    #[error("timestamp is invalid")]
    InvalidTimestamp,
    /// The timestamp is further in the past than the tolerance.
    #[error("timestamp is too old")]
    TimestampTooOld,
    /// The timestamp is further in the future than the tolerance.
    #[error("timestamp is too far in the future")]
    TimestampTooNew,
    /// No `v1` signature matches any of the verifier's secrets.
    #[error("no matching signature")]
    NoMatchingSignature,
}

impl VerifyError {
    /// The stable machine code: `header_missing`, `header_malformed`, `header_too_large`,
    /// `too_many_signatures`, `timestamp_invalid`, `timestamp_too_old`,
    /// `timestamp_too_new` or `signature_mismatch`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingHeader(_) => "header_missing",
            Self::MalformedHeader(_) => "header_malformed",
            Self::HeaderTooLarge(_) => "header_too_large",
            Self::TooManySignatures => "too_many_signatures",
            Self::InvalidTimestamp => "timestamp_invalid",
            Self::TimestampTooOld => "timestamp_too_old",
            Self::TimestampTooNew => "timestamp_too_new",
            Self::NoMatchingSignature => "signature_mismatch",
        }
    }
}

/// Where a [`Verifier`] reads the three headers from.
///
/// Implemented for lists of `(name, value)` pairs (slices, arrays, `Vec`s), for
/// [`SignedHeaders`], and for `http::HeaderMap` with the `http` feature. Implement it for
/// your framework's header type: return every value of the header named `name` (given in
/// lower case), matching names case-insensitively.
///
/// Passing another type is a compile error whose note names the `http` feature (the usual
/// cause: `verifier.verify(request.headers(), …)` without it):
///
/// ```compile_fail,E0277
/// use std::collections::HashMap;
/// use webhook_kit::{Secret, Verifier};
///
/// let headers: HashMap<String, String> = HashMap::new();
/// let verifier = Verifier::from_secret(&Secret::generate());
/// let _ = verifier.verify(&headers, b"{}"); // `HashMap<…>` is not a `HeaderSource`
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a `HeaderSource`: the verifier cannot read webhook headers from it",
    label = "not a `HeaderSource`",
    note = "for `http::HeaderMap`, enable webhook-kit's `http` feature (`features = [\"http\"]`)",
    note = "lists of `(name, value)` pairs (slices, arrays, `Vec`s) are `HeaderSource`s; for another header type, implement `HeaderSource` for it"
)]
pub trait HeaderSource {
    /// Every value of the header `name`, in order.
    fn header_values<'a>(&'a self, name: &'static str) -> impl Iterator<Item = &'a [u8]>;
}

impl<K: AsRef<str>, V: AsRef<[u8]>> HeaderSource for [(K, V)] {
    fn header_values<'a>(&'a self, name: &'static str) -> impl Iterator<Item = &'a [u8]> {
        self.iter()
            .filter(move |(key, _)| name_matches(key.as_ref(), name))
            .map(|(_, value)| value.as_ref())
    }
}

impl<K: AsRef<str>, V: AsRef<[u8]>, const N: usize> HeaderSource for [(K, V); N] {
    fn header_values<'a>(&'a self, name: &'static str) -> impl Iterator<Item = &'a [u8]> {
        self.as_slice().header_values(name)
    }
}

impl<K: AsRef<str>, V: AsRef<[u8]>> HeaderSource for Vec<(K, V)> {
    fn header_values<'a>(&'a self, name: &'static str) -> impl Iterator<Item = &'a [u8]> {
        self.as_slice().header_values(name)
    }
}

#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
impl HeaderSource for http::HeaderMap {
    fn header_values<'a>(&'a self, name: &'static str) -> impl Iterator<Item = &'a [u8]> {
        self.get_all(name).iter().map(http::HeaderValue::as_bytes)
    }
}

/// The three header values of a signed delivery, as [`Signer::headers`] makes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    id: String,
    timestamp: String,
    signature: String,
}

impl SignedHeaders {
    /// The `webhook-id` value.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The `webhook-timestamp` value.
    pub fn timestamp(&self) -> &str {
        &self.timestamp
    }

    /// The `webhook-signature` value.
    pub fn signature(&self) -> &str {
        &self.signature
    }

    /// The three `(name, value)` pairs, names in lower case.
    pub fn pairs(&self) -> [(&'static str, &str); 3] {
        [
            (HEADER_ID, &self.id),
            (HEADER_TIMESTAMP, &self.timestamp),
            (HEADER_SIGNATURE, &self.signature),
        ]
    }

    /// Sets the three headers in `headers`, replacing any value they had.
    #[cfg(feature = "http")]
    #[cfg_attr(docsrs, doc(cfg(feature = "http")))]
    pub fn insert_into(&self, headers: &mut http::HeaderMap) {
        for (name, value) in self.pairs() {
            headers.insert(
                http::HeaderName::from_static(name),
                ascii_header_value(value),
            );
        }
    }

    /// Sets the three headers on `request`, replacing any value they had.
    #[cfg(feature = "http")]
    #[cfg_attr(docsrs, doc(cfg(feature = "http")))]
    pub fn apply_to<B>(&self, request: &mut http::Request<B>) {
        self.insert_into(request.headers_mut());
    }
}

/// A header value from text that signing checked to be visible ASCII and spaces.
#[cfg(feature = "http")]
fn ascii_header_value(value: &str) -> http::HeaderValue {
    match http::HeaderValue::from_str(value) {
        Ok(value) => value,
        // Unreachable: ids are visible ASCII, timestamps digits, signatures base64 and spaces.
        Err(_) => http::HeaderValue::from_static(""),
    }
}

impl HeaderSource for SignedHeaders {
    fn header_values<'a>(&'a self, name: &'static str) -> impl Iterator<Item = &'a [u8]> {
        let value = match name {
            HEADER_ID => Some(self.id.as_bytes()),
            HEADER_TIMESTAMP => Some(self.timestamp.as_bytes()),
            HEADER_SIGNATURE => Some(self.signature.as_bytes()),
            _ => None,
        };
        value.into_iter()
    }
}

/// Pre-keyed HMAC states, one per secret, newest first.
#[derive(Clone)]
struct Keys(Vec<KeyedMac>);

impl Keys {
    fn new<S: Borrow<Secret>>(secrets: &[S]) -> Result<Self, SecretsError> {
        if secrets.is_empty() {
            return Err(SecretsError::Empty);
        }
        if secrets.len() > MAX_SECRETS {
            return Err(SecretsError::TooMany);
        }
        Ok(Self(
            secrets
                .iter()
                .map(|s| KeyedMac::new(s.borrow().expose_key()))
                .collect(),
        ))
    }

    fn one(secret: &Secret) -> Self {
        Self(vec![KeyedMac::new(secret.expose_key())])
    }
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{} key(s) REDACTED]", self.0.len())
    }
}

/// Signs deliveries with one secret, or with several during a rotation overlap.
///
/// Built once per secret set: the HMAC key schedule is computed here, not per delivery.
/// Each delivery's id, timestamp and body are fed to SHA-256 without building the
/// concatenated message; the body's whole blocks are hashed where they lie.
///
/// ```
/// use webhook_kit::{Secret, Signer};
///
/// let (new, old) = (Secret::generate(), Secret::generate());
/// let signer = Signer::new(&[&new, &old])?;
/// let signature = signer.sign("msg_1", 1_700_000_000, b"{\"type\":\"ping\"}")?;
/// assert_eq!(signature.split(' ').count(), 2);
/// assert!(signature.starts_with("v1,"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Signer {
    keys: Keys,
}

impl Signer {
    /// A signer for `secrets`, newest first: each delivery carries one signature per secret,
    /// in that order.
    ///
    /// # Errors
    ///
    /// [`SecretsError::Empty`] for no secret, [`SecretsError::TooMany`] for more than
    /// [`MAX_SECRETS`].
    pub fn new<S: Borrow<Secret>>(secrets: &[S]) -> Result<Self, SecretsError> {
        Keys::new(secrets).map(|keys| Self { keys })
    }

    /// A signer for a single secret.
    pub fn from_secret(secret: &Secret) -> Self {
        Self {
            keys: Keys::one(secret),
        }
    }

    /// The `webhook-signature` value for a delivery: `v1,<base64>` per secret, newest
    /// first, space-separated. Bodies are bytes: empty and non-UTF-8 bodies sign like any
    /// other. Allocates only the returned string.
    ///
    /// # Errors
    ///
    /// [`SignError::InvalidMessageId`] when `id` is empty, longer than [`MAX_HEADER_LEN`],
    /// or holds `.` or anything but visible ASCII; [`SignError::InvalidTimestamp`] when
    /// `timestamp` is negative.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> Result<String, SignError> {
        if !valid_message_id(id.as_bytes()) {
            return Err(SignError::InvalidMessageId);
        }
        let mut digits = [0u8; MAX_TIMESTAMP_DIGITS];
        let digits = format_timestamp(timestamp, &mut digits).ok_or(SignError::InvalidTimestamp)?;
        // `v1,<base64>` per secret, separated by single spaces, written in place.
        let mut out = vec![b' '; self.keys.0.len() * (TOKEN_LEN + 1) - 1];
        for (mac, token) in self.keys.0.iter().zip(out.chunks_mut(TOKEN_LEN + 1)) {
            let tag = mac.tag_message(id.as_bytes(), digits, body);
            if let Some((prefix, encoded)) = token.split_first_chunk_mut::<3>()
                && let Some((encoded, _)) = encoded.split_first_chunk_mut::<TAG_B64_LEN>()
            {
                *prefix = VERSION_PREFIX;
                tag64::encode(&tag, encoded);
            }
        }
        // Base64 and the version are ASCII: this never fails, and never reallocates.
        let out = String::from_utf8(out).unwrap_or_default();
        Ok(out)
    }

    /// The three header values for a delivery.
    ///
    /// # Errors
    ///
    /// As [`Signer::sign`].
    pub fn headers(
        &self,
        id: &str,
        timestamp: i64,
        body: &[u8],
    ) -> Result<SignedHeaders, SignError> {
        let signature = self.sign(id, timestamp, body)?;
        Ok(SignedHeaders {
            id: id.to_owned(),
            timestamp: timestamp.to_string(),
            signature,
        })
    }

    /// The three header values for a delivery attempted now, by the system clock.
    ///
    /// # Errors
    ///
    /// As [`Signer::sign`] (the clock before 1970 gives [`SignError::InvalidTimestamp`]).
    pub fn headers_now(&self, id: &str, body: &[u8]) -> Result<SignedHeaders, SignError> {
        self.headers(id, unix_now(), body)
    }
}

impl From<&Secret> for Signer {
    fn from(secret: &Secret) -> Self {
        Self::from_secret(secret)
    }
}

/// Verifies deliveries against one secret, or several (accepting a match with any).
///
/// ```
/// use webhook_kit::{Secret, Signer, Verifier, VerifyError};
///
/// let secret = Secret::generate();
/// let signed = Signer::from_secret(&secret).headers("msg_1", 1_700_000_000, b"{}")?;
/// // Any list of (name, value) pairs works; names match case-insensitively.
/// let received = [
///     ("Webhook-Id", signed.id()),
///     ("Webhook-Timestamp", signed.timestamp()),
///     ("Webhook-Signature", signed.signature()),
/// ];
/// let verifier = Verifier::from_secret(&secret);
/// assert_eq!(verifier.verify_at(&received, b"{}", 1_700_000_100), Ok(()));
/// assert_eq!(
///     verifier.verify_at(&received, b"{}", 1_700_000_301),
///     Err(VerifyError::TimestampTooOld)
/// );
/// # Ok::<(), webhook_kit::SignError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Verifier {
    keys: Keys,
    tolerance: u64,
}

impl Verifier {
    /// A verifier accepting a signature by any of `secrets`, with the default tolerance.
    ///
    /// # Errors
    ///
    /// [`SecretsError::Empty`] for no secret, [`SecretsError::TooMany`] for more than
    /// [`MAX_SECRETS`].
    pub fn new<S: Borrow<Secret>>(secrets: &[S]) -> Result<Self, SecretsError> {
        Keys::new(secrets).map(|keys| Self {
            keys,
            tolerance: DEFAULT_TOLERANCE.as_secs(),
        })
    }

    /// A verifier for a single secret, with the default tolerance.
    pub fn from_secret(secret: &Secret) -> Self {
        Self {
            keys: Keys::one(secret),
            tolerance: DEFAULT_TOLERANCE.as_secs(),
        }
    }

    /// The same verifier accepting timestamps up to `tolerance` (whole seconds) away from
    /// the clock, in either direction.
    #[must_use]
    pub fn with_tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance.as_secs();
        self
    }

    /// The tolerance in force.
    pub fn tolerance(&self) -> Duration {
        Duration::from_secs(self.tolerance)
    }

    /// Verifies a delivery against the system clock.
    ///
    /// # Errors
    ///
    /// As [`Verifier::verify_at`].
    pub fn verify<H: HeaderSource + ?Sized>(
        &self,
        headers: &H,
        body: &[u8],
    ) -> Result<(), VerifyError> {
        self.verify_at(headers, body, unix_now())
    }

    /// Verifies a delivery as if the clock read `now` (Unix seconds). Makes no heap
    /// allocation; signatures are compared in constant time on their decoded bytes.
    ///
    /// # Errors
    ///
    /// The first failed check, in this order: each header present once
    /// ([`VerifyError::MissingHeader`], [`VerifyError::MalformedHeader`]) and bounded
    /// ([`VerifyError::HeaderTooLarge`]); the id well-formed; the timestamp canonical
    /// ([`VerifyError::InvalidTimestamp`]) and within tolerance
    /// ([`VerifyError::TimestampTooOld`], [`VerifyError::TimestampTooNew`]); the signature
    /// list non-blank ASCII of at most [`MAX_SIGNATURES`] tokens
    /// ([`VerifyError::TooManySignatures`]); then a `v1` signature matching a secret
    /// ([`VerifyError::NoMatchingSignature`]). Tokens of other versions are skipped.
    pub fn verify_at<H: HeaderSource + ?Sized>(
        &self,
        headers: &H,
        body: &[u8],
        now: i64,
    ) -> Result<(), VerifyError> {
        let id = single_header(headers, WebhookHeader::Id)?;
        let timestamp_text = single_header(headers, WebhookHeader::Timestamp)?;
        let signature = single_header(headers, WebhookHeader::Signature)?;
        if !valid_message_id(id) {
            return Err(VerifyError::MalformedHeader(WebhookHeader::Id));
        }
        let timestamp = parse_timestamp(timestamp_text).ok_or(VerifyError::InvalidTimestamp)?;
        self.check_timestamp(timestamp, now)?;

        let mut candidates = [[0u8; TAG_LEN]; MAX_SIGNATURES];
        let count = parse_signatures(signature, &mut candidates)?;
        let candidates = &candidates[..count];

        let mut matched = subtle::Choice::from(0);
        for mac in &self.keys.0 {
            let expected = mac.tag_message(id, timestamp_text, body);
            for candidate in candidates {
                matched |= tags_equal(&expected, candidate);
            }
        }
        if bool::from(matched) {
            Ok(())
        } else {
            Err(VerifyError::NoMatchingSignature)
        }
    }

    fn check_timestamp(&self, timestamp: i64, now: i64) -> Result<(), VerifyError> {
        // i128 holds the difference of any two i64s and any u64 tolerance: no overflow.
        let age = i128::from(now) - i128::from(timestamp);
        let tolerance = i128::from(self.tolerance);
        if age > tolerance {
            Err(VerifyError::TimestampTooOld)
        } else if -age > tolerance {
            Err(VerifyError::TimestampTooNew)
        } else {
            Ok(())
        }
    }
}

impl From<&Secret> for Verifier {
    fn from(secret: &Secret) -> Self {
        Self::from_secret(secret)
    }
}

/// The header's only value, bounded in size.
fn single_header<H: HeaderSource + ?Sized>(
    headers: &H,
    header: WebhookHeader,
) -> Result<&[u8], VerifyError> {
    let mut values = headers.header_values(header.name());
    let value = values.next().ok_or(VerifyError::MissingHeader(header))?;
    if values.next().is_some() {
        return Err(VerifyError::MalformedHeader(header));
    }
    if value.len() > MAX_HEADER_LEN {
        return Err(VerifyError::HeaderTooLarge(header));
    }
    Ok(value)
}

/// Decodes every well-formed `v1` signature into `out`; returns how many there were.
fn parse_signatures(
    header: &[u8],
    out: &mut [[u8; TAG_LEN]; MAX_SIGNATURES],
) -> Result<usize, VerifyError> {
    if !all_bytes(header, |b| b == b' ' || b.is_ascii_graphic()) {
        return Err(VerifyError::MalformedHeader(WebhookHeader::Signature));
    }
    let mut tokens = 0;
    let mut count = 0;
    for token in header.split(|&b| b == b' ').filter(|t| !t.is_empty()) {
        tokens += 1;
        if tokens > MAX_SIGNATURES {
            return Err(VerifyError::TooManySignatures);
        }
        let Some(encoded) = token.strip_prefix(&VERSION_PREFIX) else {
            continue; // another version (`v1a`, `v2` …) or no version at all
        };
        if encoded.len() != TAG_B64_LEN {
            continue; // empty or truncated: can never match
        }
        if let Some(slot) = out.get_mut(count)
            && let Some(tag) = tag64::decode(encoded)
        {
            *slot = tag;
            count += 1;
        }
    }
    if tokens == 0 {
        return Err(VerifyError::MalformedHeader(WebhookHeader::Signature));
    }
    Ok(count)
}

/// A message id is 1 to [`MAX_HEADER_LEN`] bytes of visible ASCII other than `.`.
fn valid_message_id(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= MAX_HEADER_LEN
        && all_bytes(id, |b| b.is_ascii_graphic() && b != b'.')
}

/// Whether every byte passes `test`; without an early exit, so the loop vectorises.
fn all_bytes(bytes: &[u8], test: impl Fn(u8) -> bool) -> bool {
    bytes.iter().fold(true, |ok, &b| ok & test(b))
}

/// Whether header name `key` is `name` (lower case) up to ASCII case.
fn name_matches(key: &str, name: &str) -> bool {
    key.len() == name.len()
        && key
            .bytes()
            .zip(name.bytes())
            .fold(0, |diff, (k, n)| diff | (k.to_ascii_lowercase() ^ n))
            == 0
}

/// Constant-time equality of two tags: every byte is read, whatever differs.
fn tags_equal(a: &[u8; TAG_LEN], b: &[u8; TAG_LEN]) -> subtle::Choice {
    a[..].ct_eq(&b[..])
}

/// Parses a canonical non-negative decimal `i64`: digits only, no sign, no leading zero
/// (except `0` itself), no overflow.
fn parse_timestamp(text: &[u8]) -> Option<i64> {
    match text {
        [] => None,
        [b'0'] => Some(0),
        [b'0', ..] => None,
        _ if text.len() > MAX_TIMESTAMP_DIGITS => None,
        _ => text.iter().try_fold(0i64, |acc, &b| {
            if b.is_ascii_digit() {
                acc.checked_mul(10)?.checked_add(i64::from(b - b'0'))
            } else {
                None
            }
        }),
    }
}

/// `"00"` to `"99"`, for writing two digits at a time.
const DIGIT_PAIRS: [[u8; 2]; 100] = {
    let mut pairs = [[0u8; 2]; 100];
    let mut n = 0;
    while n < 100 {
        pairs[n] = [b'0' + (n / 10) as u8, b'0' + (n % 10) as u8];
        n += 1;
    }
    pairs
};

/// Writes the decimal digits of a non-negative `timestamp` into `buf`; `None` when negative.
fn format_timestamp(timestamp: i64, buf: &mut [u8; MAX_TIMESTAMP_DIGITS]) -> Option<&[u8]> {
    let mut value = u64::try_from(timestamp).ok()?;
    let mut start = buf.len();
    while value >= 10 {
        start -= 2;
        // `value % 100` is below 100, so the cast and the index are exact.
        buf[start..start + 2].copy_from_slice(&DIGIT_PAIRS[(value % 100) as usize]);
        value /= 100;
    }
    if value > 0 || start == buf.len() {
        start -= 1;
        buf[start] = b'0' + value as u8;
    }
    Some(&buf[start..])
}

/// The system clock in Unix seconds (negative before 1970), saturating at the `i64` range.
fn unix_now() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn timestamps_parse_canonically() {
        assert_eq!(parse_timestamp(b"0"), Some(0));
        assert_eq!(parse_timestamp(b"1700000000"), Some(1_700_000_000));
        assert_eq!(parse_timestamp(b"9223372036854775807"), Some(i64::MAX));
        for bad in [
            &b""[..],
            b"00",
            b"01",
            b"+1",
            b"-1",
            b" 1",
            b"1 ",
            b"1.0",
            b"1e3",
            b"9223372036854775808",
            b"99999999999999999999",
            b"\xd9\xa1", // ARABIC-INDIC DIGIT ONE
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn timestamps_format_like_display() {
        let mut buf = [0u8; MAX_TIMESTAMP_DIGITS];
        for t in [
            0,
            7,
            10,
            99,
            100,
            101,
            1_700_000_000,
            1_000_000_000_000_000_000,
            i64::MAX,
        ] {
            assert_eq!(
                format_timestamp(t, &mut buf).unwrap(),
                t.to_string().as_bytes()
            );
        }
        assert_eq!(format_timestamp(-1, &mut buf), None);
        assert_eq!(format_timestamp(i64::MIN, &mut buf), None);
    }

    #[test]
    fn message_ids_exclude_dots_controls_and_non_ascii() {
        assert!(valid_message_id(b"msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"));
        assert!(valid_message_id(&[b'a'; MAX_HEADER_LEN]));
        for bad in [&b""[..], b"a.b", b"a b", b"a\tb", b"a\x7f", "é".as_bytes()] {
            assert!(!valid_message_id(bad), "{bad:?}");
        }
        assert!(!valid_message_id(&[b'a'; MAX_HEADER_LEN + 1]));
    }

    #[test]
    fn unix_now_is_after_2020() {
        assert!(unix_now() > 1_577_836_800);
    }
}
