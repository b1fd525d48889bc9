//! From an [`Event`] to signed [`Delivery`]s: which webhooks get it, and the requests to send.
//!
//! [`Webhooks::deliveries`] lists the webhooks of the event's scope that push events for its
//! account (an indexed look-up: the cost follows the matching webhooks, not the number
//! stored), keeps the enabled ones, and signs the event once per webhook with the secrets
//! that sign at the delivery's timestamp. Each [`Delivery`] carries everything a sender needs:
//! the target URL, the three Standard Webhooks headers, `content-type` and the body, shared
//! with the event rather than copied.
//!
//! ```
//! use webhook_kit::{
//!     AccountType, CreateWebhookRequest, Event, EventId, MemoryStore, Scope, Verifier, Webhooks,
//! };
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let webhooks = Webhooks::new(MemoryStore::new());
//! let scope = Scope::new("org_1".parse().unwrap(), AccountType::Live);
//! let request = CreateWebhookRequest::from_json(br#"{"url": "https://example.com/hook"}"#).unwrap();
//! let created = webhooks.create(&scope, request).await.unwrap();
//!
//! let event = Event::new(EventId::generate(), scope, "acc_1".parse().unwrap(), &b"{}"[..]);
//! let now = 1_700_000_000;
//! let deliveries = webhooks.deliveries(&event, now).await.unwrap();
//! assert_eq!(deliveries.len(), 1);
//! let delivery = &deliveries[0];
//! assert_eq!(delivery.url().as_str(), "https://example.com/hook");
//! assert_eq!(delivery.headers().id(), event.id().as_str());
//!
//! // What the receiver does with the headers and the raw body.
//! let verifier = Verifier::from_secret(created.secret());
//! assert!(verifier.verify_at(delivery.headers(), delivery.body(), now + 5).is_ok());
//!
//! // A retry: the same `webhook-id`, a fresh timestamp and signature.
//! let retry = delivery.resigned(now + 60).unwrap();
//! assert_eq!(retry.headers().id(), delivery.headers().id());
//! assert_ne!(retry.headers().signature(), delivery.headers().signature());
//! # });
//! ```

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::error::Error;
use crate::event::Event;
use crate::id::DeliveryId;
use crate::id::{EventId, WebhookId};
use crate::secret::Secret;
use crate::service::Webhooks;
use crate::signature::{
    HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, SecretsError, SignError, SignedHeaders, Signer,
};
use crate::store::queue::{AttemptRecord, DeliveryState, QueuedDelivery};
use crate::store::{DeliveryStore, StoreError, UnreadableWebhook, WebhookStore};
use crate::url::WebhookUrl;
use crate::webhook::Scope;
use crate::webhook::Webhook;

/// The `content-type` of every delivery. Standard Webhooks payloads are JSON; an event whose
/// body is something else should be wrapped in JSON by the host before it becomes an
/// [`Event`].
pub const CONTENT_TYPE: &str = "application/json";

/// Name of the `content-type` header, in lower case.
pub const HEADER_CONTENT_TYPE: &str = "content-type";

/// Why deliveries could not be produced.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// The timestamp is negative or beyond what a date can hold.
    #[error("timestamp must be a non-negative Unix time in seconds")]
    InvalidTimestamp,
    /// A stored webhook holds more secrets than a [`Signer`] takes
    /// ([`MAX_SECRETS`](crate::MAX_SECRETS)): only a store that breaks the model's rules
    /// can produce it.
    #[error("the webhook's secrets cannot sign")]
    Secrets(#[source] SecretsError),
    /// The webhook [`redeliver`](Webhooks::redeliver) was asked for is stored but cannot be
    /// read (its secret does not open, say). The source names it and says why, for logs.
    #[error("the stored webhook cannot be read")]
    Unreadable(#[source] UnreadableWebhook),
    /// The store failed. The source is kept for logs; the message shows nothing of it.
    #[error("storage failure")]
    Store(#[source] StoreError),
}

impl From<StoreError> for DeliveryError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unreadable(unreadable) => Self::Unreadable(unreadable),
            other => Self::Store(other),
        }
    }
}

impl DeliveryError {
    /// The stable machine code: `timestamp_invalid`, `secrets_invalid`,
    /// `webhook_unreadable` or `internal_error`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidTimestamp => "timestamp_invalid",
            Self::Secrets(_) => "secrets_invalid",
            Self::Unreadable(_) => "webhook_unreadable",
            Self::Store(_) => "internal_error",
        }
    }

    /// Whether the same call may succeed later: only a store failure it says is passing.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Store(error) if error.is_retryable())
    }
}

/// One signed request to send: an event for one webhook, at one timestamp.
///
/// Send it as `POST` to [`request_url`](Self::request_url) with the four [`header_pairs`](Self::header_pairs)
/// and the [`body`](Self::body), byte for byte. With the `http` feature,
/// [`into_request`](Self::into_request) builds the `http::Request`.
///
/// A delivery keeps the [`Signer`] it was made with, so a retry is [`resigned`](Self::resigned)
/// at a fresh timestamp with the same `webhook-id` (receivers de-duplicate by it) without a
/// trip to the store. That signer is frozen at the first attempt's secrets: a retry after the
/// webhook's secret was rotated, its URL changed or it was disabled should go through
/// [`Webhooks::redeliver`], which reads the webhook again.
///
/// `Debug` shows the ids, URL, timestamp and body length; never a secret or the body.
#[derive(Clone)]
pub struct Delivery {
    webhook_id: WebhookId,
    url: WebhookUrl,
    event_id: EventId,
    timestamp: i64,
    headers: SignedHeaders,
    body: Arc<[u8]>,
    signer: Signer,
}

impl Delivery {
    /// Signs `event` for `webhook` at `timestamp` with the secrets that sign at `at` (the same
    /// instant as a date).
    fn sign(
        webhook: Webhook,
        event: &Event,
        timestamp: i64,
        at: DateTime<Utc>,
    ) -> Result<Self, DeliveryError> {
        let signer = if webhook.previous_secrets().is_empty() {
            // The common case, without collecting the secrets first.
            Signer::from_secret(webhook.secret())
        } else {
            let secrets: Vec<&Secret> = webhook.signing_secrets(at).collect();
            Signer::new(&secrets).map_err(DeliveryError::Secrets)?
        };
        // Event ids are 1 to 255 visible ASCII characters without `.`, so they always sign;
        // the timestamp was checked by `instant`.
        let headers = signer
            .headers(event.id().as_str(), timestamp, event.body())
            .map_err(|_| DeliveryError::InvalidTimestamp)?;
        let parts = webhook.into_parts();
        Ok(Self {
            webhook_id: parts.id,
            url: parts.url,
            event_id: event.id().clone(),
            timestamp,
            headers,
            body: Arc::clone(event.shared_body()),
            signer,
        })
    }

    /// `event` signed for `webhook` at `timestamp` (Unix seconds) with the secrets that sign
    /// then, whether or not the webhook would get the event: for a caller that already chose
    /// the webhook (the command line's `send`, a custom router).
    /// [`Webhooks::deliveries`] is the usual way, which routes first.
    ///
    /// # Errors
    ///
    /// [`DeliveryError::InvalidTimestamp`] when `timestamp` is negative or past what a date
    /// can hold; [`DeliveryError::Secrets`] for a webhook with more secrets than the model
    /// allows.
    pub fn new(webhook: Webhook, event: &Event, timestamp: i64) -> Result<Self, DeliveryError> {
        let at = instant(timestamp)?;
        Self::sign(webhook, event, timestamp, at)
    }

    /// The webhook it is for.
    pub fn webhook_id(&self) -> &WebhookId {
        &self.webhook_id
    }

    /// Where to send it: the webhook's URL as registered.
    pub fn url(&self) -> &WebhookUrl {
        &self.url
    }

    /// The event it carries; its text is the `webhook-id` header.
    pub fn event_id(&self) -> &EventId {
        &self.event_id
    }

    /// The Unix timestamp (seconds) it is signed at: the `webhook-timestamp` header.
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }

    /// The three Standard Webhooks headers. During a rotation overlap the signature header
    /// holds one signature per signing secret, newest first.
    pub fn headers(&self) -> &SignedHeaders {
        &self.headers
    }

    /// The `content-type` header's value: always [`CONTENT_TYPE`].
    pub fn content_type(&self) -> &'static str {
        CONTENT_TYPE
    }

    /// The four headers to send, names in lower case: `content-type`, `webhook-id`,
    /// `webhook-timestamp`, `webhook-signature`.
    pub fn header_pairs(&self) -> [(&'static str, &str); 4] {
        [
            (HEADER_CONTENT_TYPE, CONTENT_TYPE),
            (HEADER_ID, self.headers.id()),
            (HEADER_TIMESTAMP, self.headers.timestamp()),
            (HEADER_SIGNATURE, self.headers.signature()),
        ]
    }

    /// The bytes to send, exactly as signed.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body, shared with the event and every other delivery of it.
    pub fn shared_body(&self) -> &Arc<[u8]> {
        &self.body
    }

    /// The same delivery signed again at `timestamp`, for a retry: same `webhook-id`, URL,
    /// body and secrets; a fresh `webhook-timestamp` and signature.
    ///
    /// # Errors
    ///
    /// [`SignError::InvalidTimestamp`] when `timestamp` is negative.
    pub fn resigned(&self, timestamp: i64) -> Result<Self, SignError> {
        let headers = self
            .signer
            .headers(self.event_id.as_str(), timestamp, &self.body)?;
        Ok(Self {
            webhook_id: self.webhook_id.clone(),
            url: self.url.clone(),
            event_id: self.event_id.clone(),
            timestamp,
            headers,
            body: Arc::clone(&self.body),
            signer: self.signer.clone(),
        })
    }

    /// The URL to send the request to: the webhook's URL parsed as the
    /// [`DestinationPolicy`](crate::DestinationPolicy) parsed it (WHATWG rules, the `url`
    /// crate), its fragment (never sent over HTTP) removed. Send to this, not to
    /// [`url`](Self::url), so that the request goes to the host the policy checked:
    /// `https://2130706433#.com` is `https://127.0.0.1/`, which only a permissive policy
    /// lets through, whatever another URL parser would make of the original text.
    ///
    /// ```
    /// # use webhook_kit::{AccountType, CreateWebhookRequest, Event, EventId, MemoryStore, Scope, Webhooks};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let webhooks = Webhooks::new(MemoryStore::new());
    /// # let scope = Scope::new("org_1".parse().unwrap(), AccountType::Live);
    /// let url = "https://Example.com:443/hook?a=1#top".parse().unwrap();
    /// webhooks.create(&scope, CreateWebhookRequest::new(url)).await.unwrap();
    /// # let event = Event::new(EventId::generate(), scope, "acc_1".parse().unwrap(), &b"{}"[..]);
    /// let delivery = webhooks.deliveries(&event, 1_700_000_000).await.unwrap().into_vec().pop().unwrap();
    /// assert_eq!(delivery.request_url().unwrap(), "https://example.com/hook?a=1");
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// [`UnsendableUrl`] when the URL does not parse, which no URL accepted by a policy does.
    pub fn request_url(&self) -> Result<String, UnsendableUrl> {
        self.parsed_request_url().map(String::from)
    }

    /// [`request_url`](Self::request_url), parsed.
    pub(crate) fn parsed_request_url(&self) -> Result<::url::Url, UnsendableUrl> {
        let mut url = ::url::Url::parse(self.url.as_str()).map_err(|_| UnsendableUrl)?;
        url.set_fragment(None);
        Ok(url)
    }

    /// The delivery as an `http::Request`: `POST` to the [`request_url`](Self::request_url),
    /// the four headers, the body (shared with the event, not copied).
    ///
    /// # Errors
    ///
    /// [`UnsendableUrl`] when the URL cannot be expressed as an `http::Uri`, which no URL
    /// accepted by a policy should be.
    #[cfg(feature = "http")]
    #[cfg_attr(docsrs, doc(cfg(feature = "http")))]
    pub fn into_request(self) -> Result<http::Request<bytes::Bytes>, UnsendableUrl> {
        let uri = http::Uri::try_from(self.request_url()?).map_err(|_| UnsendableUrl)?;
        let mut request = http::Request::new(bytes::Bytes::from_owner(self.body));
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = uri;
        let headers = request.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(CONTENT_TYPE),
        );
        self.headers.insert_into(headers);
        Ok(request)
    }
}

/// Why [`Delivery::request_url`] or [`Delivery::into_request`] could not give the URL to
/// send to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the webhook's url cannot be sent")]
pub struct UnsendableUrl;

impl UnsendableUrl {
    /// The stable machine code: `url_invalid`.
    pub fn code(&self) -> &'static str {
        "url_invalid"
    }
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("webhook_id", &self.webhook_id)
            .field("url", &self.url)
            .field("event_id", &self.event_id)
            .field("timestamp", &self.timestamp)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// The deliveries of one event: one per webhook that gets it and could be read, and the
/// webhooks that should have got it but cannot be read (a secret that does not open, say),
/// for the host to log. One broken webhook never keeps the event from the others.
///
/// Derefs to the slice of deliveries and iterates over them.
#[derive(Debug, Default)]
#[must_use = "deliveries do nothing until they are sent"]
pub struct Deliveries {
    deliveries: Vec<Delivery>,
    unreadable: Vec<UnreadableWebhook>,
}

impl Deliveries {
    /// The deliveries, in the store's order.
    pub fn deliveries(&self) -> &[Delivery] {
        &self.deliveries
    }

    /// The webhooks that match the event but cannot be read: each carries the webhook id
    /// and the reason ([`UnreadableWebhook::reason`]), never a secret.
    pub fn unreadable(&self) -> &[UnreadableWebhook] {
        &self.unreadable
    }

    /// The deliveries, dropping the report of unreadable webhooks.
    pub fn into_vec(self) -> Vec<Delivery> {
        self.deliveries
    }

    /// The deliveries and the unreadable webhooks.
    pub fn into_parts(self) -> (Vec<Delivery>, Vec<UnreadableWebhook>) {
        (self.deliveries, self.unreadable)
    }
}

impl std::ops::Deref for Deliveries {
    type Target = [Delivery];

    fn deref(&self) -> &[Delivery] {
        &self.deliveries
    }
}

impl IntoIterator for Deliveries {
    type Item = Delivery;
    type IntoIter = std::vec::IntoIter<Delivery>;

    fn into_iter(self) -> Self::IntoIter {
        self.deliveries.into_iter()
    }
}

impl<'a> IntoIterator for &'a Deliveries {
    type Item = &'a Delivery;
    type IntoIter = std::slice::Iter<'a, Delivery>;

    fn into_iter(self) -> Self::IntoIter {
        self.deliveries.iter()
    }
}

/// The instant of a delivery timestamp, at which secrets are chosen.
fn instant(timestamp: i64) -> Result<DateTime<Utc>, DeliveryError> {
    if timestamp < 0 {
        return Err(DeliveryError::InvalidTimestamp);
    }
    DateTime::from_timestamp(timestamp, 0).ok_or(DeliveryError::InvalidTimestamp)
}

/// Whether `webhook` gets `event`: enabled, same scope, filter matching the account. The
/// store's indexed listing already chose by scope and account; both are checked again so
/// that a store answering too much never sends an event where it does not belong.
pub(crate) fn routes(webhook: &Webhook, event: &Event) -> bool {
    webhook.enabled()
        && webhook.scope() == event.scope()
        && webhook.account_filter().matches(event.account())
}

impl<S: WebhookStore> Webhooks<S> {
    /// The signed deliveries of `event`, one per webhook that gets it: same organisation and
    /// account type as the event, enabled, its account filter matching the event's account
    /// (or no filter). In the store's order (creation order).
    ///
    /// `timestamp` (Unix seconds, usually now) is the `webhook-timestamp` of every delivery
    /// and the instant at which secrets are chosen: a secret rotated out with an overlap
    /// signs deliveries timestamped before its overlap ends, so during the overlap each
    /// delivery carries two signatures, newest first. After a rotation without overlap only
    /// the new secret signs.
    ///
    /// The webhooks are found through the store's per-account listing
    /// ([`WebhookStore::list_readable`]), so the cost follows the number of matching
    /// webhooks, not the number stored. A matching webhook that cannot be read (its secret
    /// does not open) gets no delivery and is reported in [`Deliveries::unreadable`]: every
    /// other webhook still gets the event. Log them; none of them shows a secret.
    ///
    /// # Errors
    ///
    /// [`DeliveryError::InvalidTimestamp`] when `timestamp` is negative or past what a date
    /// can hold (nothing is read);
    /// [`DeliveryError::Store`] when the store fails; [`DeliveryError::Secrets`] for a
    /// webhook with more secrets than the model allows.
    #[cfg_attr(
        feature = "tracing",
        tracing::instrument(name = "webhooks.deliveries", skip_all, fields(
            organization = %event.scope().organization(),
            account_type = %event.scope().account_type(),
            event_id = %event.id(),
        ))
    )]
    pub async fn deliveries(
        &self,
        event: &Event,
        timestamp: i64,
    ) -> Result<Deliveries, DeliveryError> {
        let at = instant(timestamp)?;
        let listing = self
            .store()
            .list_readable(event.scope(), Some(event.account()))
            .await
            .map_err(DeliveryError::Store)?;
        let deliveries = listing
            .webhooks
            .into_iter()
            .filter(|webhook| routes(webhook, event))
            .map(|webhook| Delivery::sign(webhook, event, timestamp, at))
            .collect::<Result<_, _>>()?;
        Ok(Deliveries {
            deliveries,
            unreadable: listing.unreadable,
        })
    }

    /// The delivery of `event` to the webhook `webhook_id`, read again from the store and
    /// signed at `timestamp`: for a retry after the webhook may have changed (a rotated
    /// secret, a new URL). `None` when the webhook is gone, disabled, or no longer gets the
    /// event (another scope, its filter changed).
    ///
    /// # Errors
    ///
    /// As [`deliveries`](Self::deliveries), and [`DeliveryError::Unreadable`] when the
    /// webhook is stored but cannot be read.
    #[cfg_attr(
        feature = "tracing",
        tracing::instrument(name = "webhooks.redeliver", skip_all, fields(
            organization = %event.scope().organization(),
            account_type = %event.scope().account_type(),
            event_id = %event.id(),
            webhook_id = %webhook_id,
        ))
    )]
    pub async fn redeliver(
        &self,
        event: &Event,
        webhook_id: &WebhookId,
        timestamp: i64,
    ) -> Result<Option<Delivery>, DeliveryError> {
        instant(timestamp)?;
        let webhook = self.store().get(event.scope(), webhook_id).await;
        redelivery(webhook, event, timestamp)
    }
}

/// The delivery of `event` to `webhook` as read from a store (see
/// [`Webhooks::redeliver`]), signed at `timestamp`: `None` when the webhook is gone,
/// disabled or no longer gets the event.
pub(crate) fn redelivery(
    webhook: Result<Option<Webhook>, StoreError>,
    event: &Event,
    timestamp: i64,
) -> Result<Option<Delivery>, DeliveryError> {
    let at = instant(timestamp)?;
    webhook?
        .filter(|webhook| routes(webhook, event))
        .map(|webhook| Delivery::sign(webhook, event, timestamp, at))
        .transpose()
}

impl<S: WebhookStore + DeliveryStore> Webhooks<S> {
    /// Puts `event` in the delivery queue: one pending delivery per webhook that gets it (as
    /// [`deliveries`](Self::deliveries) routes), due now, the body stored once. A
    /// [`DeliveryWorker`](crate::DeliveryWorker) sends them, signing each attempt afresh.
    /// Enqueueing an event id already queued in the event's scope adds nothing, so a host
    /// that retries after a crash does not send twice. Answers the new deliveries.
    ///
    /// The store reads the webhooks and writes the deliveries in one step
    /// ([`DeliveryStore::enqueue_routed`]): one statement on PostgreSQL, shared by the
    /// enqueues of concurrent callers. A webhook whose
    /// secret cannot be read now still gets its delivery; the worker reads it again at
    /// each attempt.
    ///
    /// ```
    /// use webhook_kit::{
    ///     AccountType, CreateWebhookRequest, Event, EventId, MemoryStore, Scope, Webhooks,
    /// };
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let webhooks = Webhooks::new(MemoryStore::new());
    /// let scope = Scope::new("org_1".parse().unwrap(), AccountType::Live);
    /// let url = "https://example.com/hook".parse().unwrap();
    /// webhooks.create(&scope, CreateWebhookRequest::new(url)).await.unwrap();
    ///
    /// let event = Event::new(EventId::generate(), scope, "acc_1".parse().unwrap(), &b"{}"[..]);
    /// assert_eq!(webhooks.enqueue(&event).await.unwrap().len(), 1);
    /// assert!(webhooks.enqueue(&event).await.unwrap().is_empty(), "once per event id");
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// [`DeliveryError::Store`] when a store fails (nothing is queued).
    pub async fn enqueue(&self, event: &Event) -> Result<Vec<DeliveryId>, DeliveryError> {
        self.enqueue_at(event, Utc::now()).await
    }

    /// [`enqueue`](crate::Webhooks::enqueue) inside the host's transaction: the webhooks
    /// are read and the deliveries written on `conn`, so they commit (or roll back) with
    /// the host's own writes — an outbox.
    ///
    /// ```no_run
    /// # async fn run(
    /// #     webhooks: webhook_kit::Webhooks<webhook_kit::PostgresStore>,
    /// #     event: webhook_kit::Event,
    /// # ) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut tx = webhooks.store().pool().begin().await?;
    /// // … the host's own writes on `tx` …
    /// webhooks.enqueue_in(&mut tx, &event).await?;
    /// tx.commit().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`DeliveryError::Store`](crate::DeliveryError::Store) when a store fails.
    #[cfg(feature = "postgres")]
    #[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
    pub async fn enqueue_in(
        &self,
        conn: &mut sqlx::PgConnection,
        event: &crate::Event,
    ) -> Result<Vec<crate::DeliveryId>, crate::DeliveryError>
    where
        S: std::borrow::Borrow<crate::PostgresStore>,
    {
        self.store()
            .borrow()
            .enqueue_routed_in(conn, event, chrono::Utc::now())
            .await
            .map_err(crate::DeliveryError::Store)
    }

    /// [`enqueue`](Self::enqueue) with the deliveries due at `now` (from the worker's
    /// [`Clock`](crate::Clock), in tests).
    ///
    /// # Errors
    ///
    /// As [`enqueue`](Self::enqueue).
    pub async fn enqueue_at(
        &self,
        event: &Event,
        now: DateTime<Utc>,
    ) -> Result<Vec<DeliveryId>, DeliveryError> {
        self.store()
            .enqueue_routed(event, now)
            .await
            .map_err(DeliveryError::Store)
    }
}

/// The history and operations of queued deliveries, for a host's API: ids taken as text and
/// parsed (`id_invalid`), everything inside the caller's scope (another scope's webhook or
/// delivery is `not_found`), times from the system clock.
impl<S: WebhookStore + DeliveryStore> Webhooks<S> {
    /// The deliveries of the webhook `webhook_id` of `scope`, oldest first: only those in
    /// `state` when given, after the delivery `after` (paging), at most `limit` (itself at
    /// most [`MAX_BATCH`](crate::MAX_BATCH)).
    ///
    /// # Errors
    ///
    /// `not_found` when `scope` has no such webhook (a malformed webhook id included, as
    /// for [`get`](Self::get)); `id_invalid` for a malformed `after`; `internal_error`.
    pub async fn delivery_history(
        &self,
        scope: &Scope,
        webhook_id: &str,
        state: Option<DeliveryState>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<QueuedDelivery>, Error> {
        let webhook = self.webhook(scope, webhook_id).await?;
        let after = after.map(str::parse::<DeliveryId>).transpose()?;
        Ok(self
            .store()
            .deliveries(scope, webhook.id(), state, after.as_ref(), limit)
            .await?)
    }

    /// The attempts of the delivery `delivery_id` of `scope`, in order.
    ///
    /// # Errors
    ///
    /// `id_invalid`; `not_found`; `internal_error`.
    pub async fn delivery_attempts(
        &self,
        scope: &Scope,
        delivery_id: &str,
    ) -> Result<Vec<AttemptRecord>, Error> {
        let id: DeliveryId = delivery_id.parse()?;
        Ok(self.store().attempts(scope, &id).await?)
    }

    /// Sends the delivery `delivery_id` of `scope` again now: one manual attempt for a
    /// delivered, failed or cancelled one; a pending one is only hurried.
    ///
    /// # Errors
    ///
    /// `id_invalid`; `not_found`; `conflict` while a worker is attempting it;
    /// `internal_error`.
    pub async fn resend(&self, scope: &Scope, delivery_id: &str) -> Result<(), Error> {
        let id: DeliveryId = delivery_id.parse()?;
        Ok(self.store().redeliver(scope, &id, Utc::now()).await?)
    }

    /// Gives the failed deliveries of the webhook `webhook_id` of `scope` enqueued since
    /// `since` one manual attempt each, oldest first, at most `limit` (itself at most
    /// [`MAX_BATCH`](crate::MAX_BATCH)); answers how many.
    ///
    /// # Errors
    ///
    /// `not_found` when `scope` has no such webhook (a malformed id included);
    /// `internal_error`.
    pub async fn recover(
        &self,
        scope: &Scope,
        webhook_id: &str,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<usize, Error> {
        let webhook = self.webhook(scope, webhook_id).await?;
        Ok(self
            .store()
            .recover(scope, webhook.id(), since, Utc::now(), limit)
            .await?)
    }

    /// Cancels the delivery `delivery_id` of `scope` (see
    /// [`DeliveryStore::cancel`](crate::DeliveryStore::cancel)).
    ///
    /// # Errors
    ///
    /// `id_invalid`; `not_found`; `internal_error`.
    pub async fn cancel_delivery(&self, scope: &Scope, delivery_id: &str) -> Result<(), Error> {
        let id: DeliveryId = delivery_id.parse()?;
        Ok(self.store().cancel(scope, &id, Utc::now()).await?)
    }
}
