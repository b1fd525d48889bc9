//! What a response status means for a delivery, following the Standard Webhooks
//! recommendations. Pure, no I/O.

/// How a response status is acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StatusClass {
    /// `2xx`: the receiver accepted the delivery.
    Success,
    /// `410 Gone`: the endpoint is gone; stop sending and disable it.
    Gone,
    /// `3xx`: a redirect, never followed; a failed attempt.
    Redirect,
    /// `429 Too Many Requests` and `503 Service Unavailable`: retry, honouring `Retry-After`.
    Throttled,
    /// Anything else (`1xx` that reached us, `4xx`, `5xx`): retry on the schedule.
    Failure,
}

/// The class of a response status code.
///
/// ```
/// # use webhook_kit::send::{classify_status, StatusClass};
/// assert_eq!(classify_status(204), StatusClass::Success);
/// assert_eq!(classify_status(410), StatusClass::Gone);
/// assert_eq!(classify_status(308), StatusClass::Redirect);
/// assert_eq!(classify_status(429), StatusClass::Throttled);
/// assert_eq!(classify_status(404), StatusClass::Failure);
/// ```
pub fn classify_status(status: u16) -> StatusClass {
    match status {
        200..=299 => StatusClass::Success,
        410 => StatusClass::Gone,
        300..=399 => StatusClass::Redirect,
        429 | 503 => StatusClass::Throttled,
        _ => StatusClass::Failure,
    }
}
