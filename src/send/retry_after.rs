//! `Retry-After` (RFC 9110 §10.2.3): seconds or an HTTP date, capped. Pure, no I/O.

use std::time::{Duration, SystemTime};

/// The longest wait a `Retry-After` can ask for by default: one hour. A receiver cannot hold
/// a delivery back longer than the retry schedule would through this header.
pub const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(60 * 60);

/// The wait a `Retry-After` value asks for, as of `now`, at most `cap`.
///
/// A value is either a number of seconds (digits only) or an HTTP date in any of the three
/// formats recipients must accept (`Sun, 06 Nov 1994 08:49:37 GMT`, the RFC 850 and the
/// asctime forms). A date in the past is no wait; a number too large for any clock is the cap.
/// Anything else (negative, fractional, empty, a date with another zone) is `None`: the
/// header is ignored and the caller's own schedule applies.
///
/// ```
/// # use std::time::{Duration, SystemTime};
/// # use webhook_kit::send::parse_retry_after;
/// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // 06 Nov 1994 08:49:37
/// let cap = Duration::from_secs(3600);
/// assert_eq!(parse_retry_after("120", now, cap), Some(Duration::from_secs(120)));
/// assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:50:37 GMT", now, cap), Some(Duration::from_secs(60)));
/// assert_eq!(parse_retry_after("99999999999999999999", now, cap), Some(cap));
/// assert_eq!(parse_retry_after("soon", now, cap), None);
/// ```
pub fn parse_retry_after(value: &str, now: SystemTime, cap: Duration) -> Option<Duration> {
    let value = value.trim_matches([' ', '\t']);
    if value.is_empty() {
        return None;
    }
    let wait = if value.bytes().all(|b| b.is_ascii_digit()) {
        // Digits only: a count too long for u64 is still a (very long) wait.
        value
            .parse::<u64>()
            .map_or(Duration::MAX, Duration::from_secs)
    } else {
        let at = httpdate::parse_http_date(value).ok()?;
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.min(cap))
}
