//! For receivers: the [`VerifiedWebhook`] extractor and the replay guard it consults.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, Request};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::json;
use crate::error::ErrorBody;
use crate::signature::{HEADER_ID, HEADER_TIMESTAMP, Verifier, VerifyError};

/// How many `webhook-id`s a [`MemoryReplayGuard`] remembers unless told otherwise.
pub const DEFAULT_REMEMBERED_IDS: usize = 100_000;

/// Remembers the `webhook-id`s of verified deliveries, so that a replayed (or retried,
/// already handled) delivery does not run the handler twice.
///
/// An id only needs remembering until its delivery's timestamp leaves the verifier's
/// tolerance: after that the signature check refuses the replay by itself. Implement it
/// over a shared store (Redis, a database table) when several receivers share the traffic;
/// calls happen on the request path, so keep them quick.
pub trait ReplayGuard: Send + Sync + 'static {
    /// Records `webhook_id` until `expires_at` (Unix seconds); `false` when it is already
    /// recorded, i.e. the delivery is a replay.
    fn claim(&self, webhook_id: &str, expires_at: i64) -> bool;

    /// Forgets `webhook_id`, so that the sender's next retry is handled again: for a
    /// handler that failed.
    fn release(&self, webhook_id: &str);
}

/// A [`ReplayGuard`] in memory, bounded: ids are forgotten once expired, and beyond the
/// capacity the oldest go first (so under a flood of more distinct deliveries than the
/// capacity within one tolerance window, a replay of a forgotten one would run again).
#[derive(Debug)]
pub struct MemoryReplayGuard {
    inner: Mutex<Remembered>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Remembered {
    /// Each id with its expiry.
    ids: HashMap<String, i64>,
    /// Ids in the order they were claimed, with the expiry they were claimed with (a
    /// released and claimed-again id is in here twice; the map decides).
    order: VecDeque<(i64, String)>,
}

impl MemoryReplayGuard {
    /// A guard remembering at most `capacity` ids (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Remembered::default()),
            capacity: capacity.max(1),
        }
    }

    /// How many ids are remembered now.
    pub fn len(&self) -> usize {
        self.lock().ids.len()
    }

    /// Whether no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Remembered> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// [`ReplayGuard::claim`] as if the clock read `now` (Unix seconds).
    pub fn claim_at(&self, webhook_id: &str, expires_at: i64, now: i64) -> bool {
        let mut inner = self.lock();
        let Remembered { ids, order } = &mut *inner;
        // Forget what expired, and the oldest beyond the capacity (one more for this id).
        while let Some((expiry, oldest)) = order.front() {
            let stale = ids.get(oldest) != Some(expiry);
            if stale || *expiry < now || ids.len() >= self.capacity {
                if !stale {
                    ids.remove(oldest);
                }
                order.pop_front();
            } else {
                break;
            }
        }
        if ids.get(webhook_id).is_some_and(|&expiry| expiry >= now) {
            return false;
        }
        ids.insert(webhook_id.to_owned(), expires_at);
        order.push_back((expires_at, webhook_id.to_owned()));
        // Releases leave stale entries behind: keep the queue within twice the capacity.
        if order.len() > 2 * self.capacity {
            order.retain(|(expiry, id)| ids.get(id) == Some(expiry));
        }
        true
    }
}

impl Default for MemoryReplayGuard {
    /// Remembers up to [`DEFAULT_REMEMBERED_IDS`].
    fn default() -> Self {
        Self::new(DEFAULT_REMEMBERED_IDS)
    }
}

impl ReplayGuard for MemoryReplayGuard {
    fn claim(&self, webhook_id: &str, expires_at: i64) -> bool {
        self.claim_at(webhook_id, expires_at, chrono::Utc::now().timestamp())
    }

    fn release(&self, webhook_id: &str) {
        self.lock().ids.remove(webhook_id);
    }
}

/// What [`VerifiedWebhook`] needs from the app state: the verifier, an optional replay
/// guard and the body limit. Put an `Arc<Receiver>` in the state (or make it reachable with
/// [`FromRef`]).
pub struct Receiver {
    verifier: Verifier,
    guard: Option<Arc<dyn ReplayGuard>>,
    body_limit: usize,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("verifier", &self.verifier)
            .field("replay_guard", &self.guard.is_some())
            .field("body_limit", &self.body_limit)
            .finish()
    }
}

impl Receiver {
    /// Verifies with `verifier`, without a replay guard, reading bodies up to
    /// [`DEFAULT_BODY_LIMIT`](super::DEFAULT_BODY_LIMIT).
    pub fn new(verifier: Verifier) -> Self {
        Self {
            verifier,
            guard: None,
            body_limit: super::DEFAULT_BODY_LIMIT,
        }
    }

    /// Answers replayed deliveries without running the handler, remembering ids in `guard`.
    #[must_use]
    pub fn with_replay_guard(mut self, guard: impl ReplayGuard) -> Self {
        self.guard = Some(Arc::new(guard));
        self
    }

    /// Reads bodies up to `bytes`; larger ones are 413.
    #[must_use]
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }
}

/// A delivery whose Standard Webhooks signature verified: its `webhook-id`, timestamp and
/// raw body, exactly as signed.
///
/// The extractor reads the body (up to the [`Receiver`]'s limit), verifies it with the
/// state's [`Verifier`], then, with a replay guard, claims the `webhook-id`: a delivery seen
/// before is answered `200` (`{"code": "duplicate", …}`) without running the handler. When
/// the handler fails, call [`release`](VerifiedWebhook::release) so that the sender's retry
/// runs it again. A refusal is a [`WebhookRejection`].
///
/// ```
/// use std::sync::Arc;
///
/// use axum::{Router, http::StatusCode, routing::post};
/// use webhook_kit::api::{MemoryReplayGuard, Receiver, VerifiedWebhook};
/// use webhook_kit::{Secret, Verifier};
///
/// async fn receive(webhook: VerifiedWebhook) -> StatusCode {
///     println!("{}: {} bytes", webhook.id(), webhook.body().len());
///     StatusCode::NO_CONTENT
/// }
///
/// let verifier = Verifier::from_secret(&Secret::generate());
/// let receiver = Receiver::new(verifier).with_replay_guard(MemoryReplayGuard::default());
/// let app: Router = Router::new()
///     .route("/webhooks", post(receive))
///     .with_state(Arc::new(receiver));
/// # drop(app);
/// ```
pub struct VerifiedWebhook {
    id: String,
    timestamp: i64,
    body: Bytes,
    guard: Option<Arc<dyn ReplayGuard>>,
}

/// Shows the id, the timestamp and the body's length, never the body.
impl std::fmt::Debug for VerifiedWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedWebhook")
            .field("id", &self.id)
            .field("timestamp", &self.timestamp)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for dyn ReplayGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReplayGuard")
    }
}

impl VerifiedWebhook {
    /// The `webhook-id`: the event's id, the same across retries.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The `webhook-timestamp` (Unix seconds), within the verifier's tolerance.
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }

    /// The raw body, as signed.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The body as JSON of type `T`.
    ///
    /// # Errors
    ///
    /// When the body is not such JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// Forgets this delivery in the replay guard, so that the sender's retry runs the
    /// handler again: call it when handling failed.
    pub fn release(&self) {
        if let Some(guard) = &self.guard {
            guard.release(&self.id);
        }
    }
}

/// Why [`VerifiedWebhook`] refused a delivery.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookRejection {
    /// The signature check failed: 401 with the [`VerifyError`]'s code.
    #[error(transparent)]
    Verification(#[from] VerifyError),
    /// The body is larger than the receiver reads: 413 `payload_too_large`.
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The body could not be read: 400 `body_invalid`.
    #[error("the body could not be read")]
    BodyUnreadable,
    /// The delivery was received before: answered 200 `duplicate`, the handler not run.
    #[error("delivery already received")]
    Duplicate,
}

impl WebhookRejection {
    /// The stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            WebhookRejection::Verification(error) => error.code(),
            WebhookRejection::PayloadTooLarge { .. } => "payload_too_large",
            WebhookRejection::BodyUnreadable => "body_invalid",
            WebhookRejection::Duplicate => "duplicate",
        }
    }

    /// The HTTP status of the answer.
    pub fn status(&self) -> StatusCode {
        match self {
            WebhookRejection::Verification(_) => StatusCode::UNAUTHORIZED,
            WebhookRejection::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            WebhookRejection::BodyUnreadable => StatusCode::BAD_REQUEST,
            WebhookRejection::Duplicate => StatusCode::OK,
        }
    }
}

impl IntoResponse for WebhookRejection {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code().to_owned(),
            message: self.to_string(),
        };
        json(self.status(), &body)
    }
}

impl<S> FromRequest<S> for VerifiedWebhook
where
    S: Send + Sync,
    Arc<Receiver>: FromRef<S>,
{
    type Rejection = WebhookRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, WebhookRejection> {
        let receiver = Arc::<Receiver>::from_ref(state);
        let (parts, body) = request.into_parts();
        let limit = receiver.body_limit;
        let body = axum::body::to_bytes(body, limit).await.map_err(|error| {
            if is_length_limit(error) {
                WebhookRejection::PayloadTooLarge { limit }
            } else {
                WebhookRejection::BodyUnreadable
            }
        })?;
        receiver.verifier.verify(&parts.headers, &body)?;
        // Verified: both headers are present once, the id is visible ASCII and the
        // timestamp canonical.
        let id = header_text(&parts.headers, HEADER_ID).to_owned();
        let timestamp = header_text(&parts.headers, HEADER_TIMESTAMP)
            .parse::<i64>()
            .map_err(|_| VerifyError::InvalidTimestamp)?;
        let tolerance = i64::try_from(receiver.verifier.tolerance().as_secs()).unwrap_or(i64::MAX);
        if let Some(guard) = &receiver.guard
            && !guard.claim(&id, timestamp.saturating_add(tolerance))
        {
            return Err(WebhookRejection::Duplicate);
        }
        Ok(Self {
            id,
            timestamp,
            body,
            guard: receiver.guard.clone(),
        })
    }
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
}

/// Whether reading the body failed on its length limit.
fn is_length_limit(error: axum::Error) -> bool {
    let error = error.into_inner();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&*error);
    while let Some(error) = source {
        if error.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = error.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_guard_refuses_a_replay_until_it_expires() {
        let guard = MemoryReplayGuard::new(10);
        assert!(guard.claim_at("msg_1", 100, 0));
        assert!(!guard.claim_at("msg_1", 100, 50));
        assert!(!guard.claim_at("msg_1", 100, 100));
        // Expired: the signature check refuses such a replay by itself; the id is forgotten.
        assert!(guard.claim_at("msg_1", 300, 101));
        guard.release("msg_1");
        assert!(guard.claim_at("msg_1", 300, 102));
        assert_eq!(guard.len(), 1);
    }

    #[test]
    fn the_memory_guard_stays_within_its_capacity() {
        let guard = MemoryReplayGuard::new(3);
        for index in 0..1000_u32 {
            assert!(guard.claim_at(&format!("msg_{index}"), 10_000, 0));
            assert!(guard.len() <= 3);
            if index.is_multiple_of(2) {
                guard.release(&format!("msg_{index}"));
            }
            assert!(
                guard.lock().order.len() <= 7,
                "{}",
                guard.lock().order.len()
            );
        }
        // The newest are remembered, the oldest forgotten.
        assert!(!guard.claim_at("msg_999", 10_000, 0));
        assert!(guard.claim_at("msg_1", 10_000, 0));
        // Expired ids go first, whatever the capacity.
        let guard = MemoryReplayGuard::new(100);
        for index in 0..50 {
            guard.claim_at(&format!("old_{index}"), 10, 0);
        }
        guard.claim_at("new", 100, 20);
        assert_eq!(guard.len(), 1);
    }
}
