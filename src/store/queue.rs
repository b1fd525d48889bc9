//! The delivery queue's storage: the [`DeliveryStore`] trait beside
//! [`WebhookStore`](crate::WebhookStore), and the records it keeps.
//!
//! A delivery is one event for one webhook. It is `pending` until a worker claims it, then
//! `in_flight` under a lease and a fresh [`ClaimToken`]; the worker finishes it (delivered,
//! retried later, failed, cancelled) only while its token still holds. A lease that runs
//! out puts the delivery back in the queue. Every method runs inside a [`Scope`] where it
//! names a delivery or a webhook: another scope's delivery is absent (`not_found`).

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::TryRng;
use rand::rngs::SysRng;

use crate::attempt::{Attempt, ErrorKind};
use crate::event::Event;
use crate::health::{HealthChange, Observation};
use crate::id::{DeliveryId, EventId, WebhookId};
use crate::store::StoreError;
use crate::webhook::Scope;

/// How much of a response body an [`AttemptRecord`] keeps: 1 KiB.
pub const MAX_KEPT_RESPONSE: usize = 1024;

/// The most records one listing or one recovery returns or touches.
pub const MAX_BATCH: usize = 1000;

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum DeliveryState {
    /// Waiting for its next attempt.
    Pending,
    /// Claimed by a worker, under a lease.
    InFlight,
    /// It arrived (a `2xx`).
    Delivered,
    /// Its attempts are used up, or the endpoint answered `410`: recoverable by hand.
    Failed,
    /// Not sent: cancelled by hand, or its webhook was deleted or disabled.
    Cancelled,
}

impl DeliveryState {
    /// Every state, in order.
    pub const ALL: [DeliveryState; 5] = [
        Self::Pending,
        Self::InFlight,
        Self::Delivered,
        Self::Failed,
        Self::Cancelled,
    ];

    /// The stable machine code: `pending`, `in_flight`, `delivered`, `failed`, `cancelled`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::InFlight => "in_flight",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// The state of a code, as [`code`](Self::code) writes it.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.code() == code)
    }

    /// Whether nothing more happens to it unless asked (delivered, failed, cancelled).
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Delivered | Self::Failed | Self::Cancelled)
    }
}

/// Why an attempt was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Trigger {
    /// The retry schedule (the first attempt included).
    Scheduled,
    /// A redelivery or a recovery asked for by hand: tried once.
    Manual,
}

impl Trigger {
    /// The stable machine code: `scheduled` or `manual`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Manual => "manual",
        }
    }

    /// The trigger of a code, as [`code`](Self::code) writes it.
    pub fn from_code(code: &str) -> Option<Self> {
        [Self::Scheduled, Self::Manual]
            .into_iter()
            .find(|trigger| trigger.code() == code)
    }
}

/// A claim's fencing token: 128 random bits, new for every claim. Finishing a delivery
/// needs the token of its current claim, so a worker whose lease ran out cannot overwrite
/// the work of the worker that claimed it next.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ClaimToken(u128);

impl ClaimToken {
    /// A new random token.
    ///
    /// # Panics
    ///
    /// When the operating system's random number generator fails, as `rand` does.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 16];
        SysRng
            .try_fill_bytes(&mut bytes)
            .expect("the operating system's random number generator failed");
        Self(u128::from_be_bytes(bytes))
    }

    /// The token as 32 lowercase hex digits, as stores keep it.
    pub fn to_hex(&self) -> String {
        format!("{:032x}", self.0)
    }

    /// A token from its hex text.
    pub fn from_hex(text: &str) -> Option<Self> {
        if text.len() != 32 {
            return None;
        }
        u128::from_str_radix(text, 16).ok().map(Self)
    }
}

impl fmt::Debug for ClaimToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not a secret (it only fences a worker's own writes), but long: the first digits do.
        write!(f, "ClaimToken({}…)", &self.to_hex()[..8])
    }
}

/// A delivery as the history lists it (without its body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedDelivery {
    /// Its id.
    pub id: DeliveryId,
    /// The scope of its webhook and event.
    pub scope: Scope,
    /// The webhook it goes to.
    pub webhook_id: WebhookId,
    /// The event it carries (the `webhook-id` header).
    pub event_id: EventId,
    /// Where it stands.
    pub state: DeliveryState,
    /// Attempts claimed so far.
    pub attempts: u32,
    /// When its next attempt is due (pending), or its lease ends (in flight).
    pub due_at: Option<DateTime<Utc>>,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
    /// When its state last changed.
    pub updated_at: DateTime<Utc>,
}

/// A delivery claimed by a worker: what it needs to make the attempt.
#[derive(Debug, Clone)]
pub struct Claim {
    /// The delivery.
    pub delivery_id: DeliveryId,
    /// The webhook it goes to.
    pub webhook_id: WebhookId,
    /// The event, with its body (its scope is the delivery's).
    pub event: Event,
    /// This attempt's number, 1 for the first: counted when claimed.
    pub attempt: u32,
    /// Why this attempt is made.
    pub trigger: Trigger,
    /// The claim's fencing token.
    pub token: ClaimToken,
    /// When the lease ends: the delivery returns to the queue then.
    pub lease_until: DateTime<Utc>,
}

/// One attempt, as the history keeps it. Never holds a secret, a signature or the body
/// sent; the response is cut to [`MAX_KEPT_RESPONSE`] bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    /// Its number, 1 for the first.
    pub number: u32,
    /// Why it was made.
    pub trigger: Trigger,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// How long it took.
    pub duration: Duration,
    /// The address connected to, when a response came.
    pub remote_addr: Option<SocketAddr>,
    /// The response status, when one came.
    pub status: Option<u16>,
    /// Why it failed without a usable answer.
    pub error: Option<ErrorKind>,
    /// The start of the response body.
    pub response: Vec<u8>,
}

impl AttemptRecord {
    /// The record of `attempt`, made as number `number` for `trigger`.
    pub fn new(number: u32, trigger: Trigger, attempt: &Attempt) -> Self {
        let body = attempt.response_body();
        Self {
            number,
            trigger,
            started_at: attempt.started_at(),
            duration: attempt.duration(),
            remote_addr: attempt.remote_addr(),
            status: attempt.status(),
            error: attempt.error().map(|error| error.kind()),
            response: body[..body.len().min(MAX_KEPT_RESPONSE)].to_vec(),
        }
    }
}

/// How a worker finishes a claimed delivery.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Finish {
    /// The attempt arrived.
    Delivered(AttemptRecord),
    /// The attempt failed; try again at `at`.
    Retry {
        /// The failed attempt.
        attempt: AttemptRecord,
        /// When the next attempt is due.
        at: DateTime<Utc>,
    },
    /// The attempt failed and was the last (or the endpoint is gone).
    Failed(AttemptRecord),
    /// Not sent: the webhook was deleted, disabled or no longer gets the event.
    Cancelled,
}

impl Finish {
    /// The state the delivery takes.
    pub fn state(&self) -> DeliveryState {
        match self {
            Self::Delivered(_) => DeliveryState::Delivered,
            Self::Retry { .. } => DeliveryState::Pending,
            Self::Failed(_) => DeliveryState::Failed,
            Self::Cancelled => DeliveryState::Cancelled,
        }
    }

    /// The attempt it records, if any.
    pub fn attempt(&self) -> Option<&AttemptRecord> {
        match self {
            Self::Delivered(attempt) | Self::Failed(attempt) | Self::Retry { attempt, .. } => {
                Some(attempt)
            }
            Self::Cancelled => None,
        }
    }

    /// When the next attempt is due, for a retry.
    pub fn due_at(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::Retry { at, .. } => Some(*at),
            _ => None,
        }
    }
}

/// Persistence for the delivery queue and its history, beside
/// [`WebhookStore`](crate::WebhookStore). Every store of the crate implements both; the
/// crate's contract suite (`tests/contract/queue.rs`) checks each the same way.
///
/// Methods return `impl Future + Send`; implementors write `async fn`. Times are passed in
/// (from the worker's [`Clock`](crate::Clock)), never read by the store.
pub trait DeliveryStore: Send + Sync {
    /// Stores `event` (its body once) and one pending delivery of it per webhook in
    /// `webhooks`, due at `now`. An event id already stored in the event's scope adds
    /// nothing; neither does an empty `webhooks`. Answers the new deliveries' ids.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`].
    fn enqueue(
        &self,
        event: &Event,
        webhooks: &[WebhookId],
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<DeliveryId>, StoreError>> + Send;

    /// Stores `event` (its body once) and one pending delivery of it per webhook that gets
    /// it, due at `now`, reading the webhooks and writing the deliveries in one step (one
    /// statement on PostgreSQL, one call on SQLite; the SQL stores write the enqueues of
    /// concurrent callers together). The webhooks that get an event are
    /// those [`Webhooks::deliveries`](crate::Webhooks::deliveries) signs for: enabled, in
    /// the event's scope, with no account filter or one naming the event's account. An
    /// event id already stored in the event's scope adds nothing; neither does an event
    /// that no webhook gets (it is not stored). Answers the new deliveries' ids in the
    /// order of their webhooks' ids.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`].
    fn enqueue_routed(
        &self,
        event: &Event,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<DeliveryId>, StoreError>> + Send;

    /// Claims at most `limit` deliveries due at `now` (pending and due, or in flight with an
    /// expired lease), earliest first: each gets a lease until `now + lease`, a fresh
    /// [`ClaimToken`] and one more attempt counted.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`].
    fn claim(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Claim>, StoreError>> + Send;

    /// Finishes a claimed delivery as `finish` says and records its attempt, only if
    /// `claim`'s token still holds. A [`Finish::Delivered`] also resets the webhook's
    /// endpoint health in the same write, as [`Observation::Succeeded`] does, and answers
    /// that change; other finishes leave the health alone and answer `None`.
    ///
    /// # Errors
    ///
    /// [`StoreError::LeaseLost`] when the delivery was claimed again, cancelled or
    /// redelivered meanwhile (nothing is written); [`StoreError::Backend`].
    fn finish(
        &self,
        claim: &Claim,
        finish: Finish,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<HealthChange>, StoreError>> + Send;

    /// Finishes many claimed deliveries, each as [`finish`](Self::finish) would, in one
    /// write where the store can (one statement on PostgreSQL, one call on SQLite): the
    /// [`DeliveryWorker`](crate::DeliveryWorker) gathers the finishes of attempts that end
    /// together. Answers what `finish` answers for each, in order; two delivered finishes
    /// of one webhook answer as two `finish` calls in that order would (the first gets the
    /// health the reset forgot). An item answering an error other than
    /// [`StoreError::LeaseLost`] wrote nothing. The SQL stores write all or none: a store
    /// failure answers it for every item.
    ///
    /// The provided method calls `finish` for each in turn.
    fn finish_each(
        &self,
        finishes: Vec<(Claim, Finish)>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Vec<Result<Option<HealthChange>, StoreError>>> + Send {
        async move {
            let mut answers = Vec::with_capacity(finishes.len());
            for (claim, finish) in finishes {
                answers.push(self.finish(&claim, finish, now).await);
            }
            answers
        }
    }

    /// Puts a claimed delivery whose attempt never started back in the queue, due as it
    /// was, without counting the attempt; only if `claim`'s token still holds.
    ///
    /// # Errors
    ///
    /// [`StoreError::LeaseLost`]; [`StoreError::Backend`].
    fn release(&self, claim: &Claim) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The delivery `id` of `scope`, `Ok(None)` when there is none.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`].
    fn delivery(
        &self,
        scope: &Scope,
        id: &DeliveryId,
    ) -> impl Future<Output = Result<Option<QueuedDelivery>, StoreError>> + Send;

    /// The deliveries of the webhook `webhook_id` of `scope`, oldest first, after the id
    /// `after` (for paging), only those in `state` when given, at most `limit` (itself at
    /// most [`MAX_BATCH`]).
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`].
    fn deliveries(
        &self,
        scope: &Scope,
        webhook_id: &WebhookId,
        state: Option<DeliveryState>,
        after: Option<&DeliveryId>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<QueuedDelivery>, StoreError>> + Send;

    /// The attempts of the delivery `id` of `scope`, in order.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`]; [`StoreError::Backend`].
    fn attempts(
        &self,
        scope: &Scope,
        id: &DeliveryId,
    ) -> impl Future<Output = Result<Vec<AttemptRecord>, StoreError>> + Send;

    /// Makes the delivery `id` of `scope` due at `now`. A delivered, failed or cancelled one
    /// becomes pending for one manual attempt; a pending one is only hurried.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`]; [`StoreError::InFlight`] while a worker holds it;
    /// [`StoreError::Backend`].
    fn redeliver(
        &self,
        scope: &Scope,
        id: &DeliveryId,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Redelivers (as [`redeliver`](Self::redeliver)) the failed deliveries of the webhook
    /// `webhook_id` of `scope` enqueued at or after `since`, oldest first, at most `limit`
    /// (itself at most [`MAX_BATCH`]). Answers how many.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`].
    fn recover(
        &self,
        scope: &Scope,
        webhook_id: &WebhookId,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// Cancels the delivery `id` of `scope`: a pending one is not sent, an in-flight one's
    /// worker loses its claim (an attempt already under way may still arrive). A delivery
    /// in a final state is left as it is.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`]; [`StoreError::Backend`].
    fn cancel(
        &self,
        scope: &Scope,
        id: &DeliveryId,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes the deliveries in a final state last changed before `before`, with their
    /// attempts, and the events left without a delivery; at most `limit` deliveries (itself
    /// at most [`MAX_BATCH`]) per call. Answers how many deliveries.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`].
    fn prune(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// Records `observation` about the endpoint of the webhook `webhook_id` of `scope` at
    /// `now`, as [`EndpointHealth::observe`](crate::EndpointHealth::observe) says, in one
    /// atomic step; answers the history before and after.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`].
    fn observe_health(
        &self,
        scope: &Scope,
        webhook_id: &WebhookId,
        observation: Observation,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<HealthChange, StoreError>> + Send;
}

macro_rules! forward_delivery_store {
    ($($pointer:ty),*) => {$(
        impl<S: DeliveryStore> DeliveryStore for $pointer {
            fn enqueue(
                &self,
                event: &Event,
                webhooks: &[WebhookId],
                now: DateTime<Utc>,
            ) -> impl Future<Output = Result<Vec<DeliveryId>, StoreError>> + Send {
                (**self).enqueue(event, webhooks, now)
            }

            fn enqueue_routed(
                &self,
                event: &Event,
                now: DateTime<Utc>,
            ) -> impl Future<Output = Result<Vec<DeliveryId>, StoreError>> + Send {
                (**self).enqueue_routed(event, now)
            }

            fn claim(
                &self,
                now: DateTime<Utc>,
                lease: Duration,
                limit: usize,
            ) -> impl Future<Output = Result<Vec<Claim>, StoreError>> + Send {
                (**self).claim(now, lease, limit)
            }

            fn finish(
                &self,
                claim: &Claim,
                finish: Finish,
                now: DateTime<Utc>,
            ) -> impl Future<Output = Result<Option<HealthChange>, StoreError>> + Send {
                (**self).finish(claim, finish, now)
            }

            fn finish_each(
                &self,
                finishes: Vec<(Claim, Finish)>,
                now: DateTime<Utc>,
            ) -> impl Future<Output = Vec<Result<Option<HealthChange>, StoreError>>> + Send {
                (**self).finish_each(finishes, now)
            }

            fn release(&self, claim: &Claim) -> impl Future<Output = Result<(), StoreError>> + Send {
                (**self).release(claim)
            }

            fn delivery(
                &self,
                scope: &Scope,
                id: &DeliveryId,
            ) -> impl Future<Output = Result<Option<QueuedDelivery>, StoreError>> + Send {
                (**self).delivery(scope, id)
            }

            fn deliveries(
                &self,
                scope: &Scope,
                webhook_id: &WebhookId,
                state: Option<DeliveryState>,
                after: Option<&DeliveryId>,
                limit: usize,
            ) -> impl Future<Output = Result<Vec<QueuedDelivery>, StoreError>> + Send {
                (**self).deliveries(scope, webhook_id, state, after, limit)
            }

            fn attempts(
                &self,
                scope: &Scope,
                id: &DeliveryId,
            ) -> impl Future<Output = Result<Vec<AttemptRecord>, StoreError>> + Send {
                (**self).attempts(scope, id)
            }

            fn redeliver(
                &self,
                scope: &Scope,
                id: &DeliveryId,
                now: DateTime<Utc>,
            ) -> impl Future<Output = Result<(), StoreError>> + Send {
                (**self).redeliver(scope, id, now)
            }

            fn recover(
                &self,
                scope: &Scope,
                webhook_id: &WebhookId,
                since: DateTime<Utc>,
                now: DateTime<Utc>,
                limit: usize,
            ) -> impl Future<Output = Result<usize, StoreError>> + Send {
                (**self).recover(scope, webhook_id, since, now, limit)
            }

            fn cancel(
                &self,
                scope: &Scope,
                id: &DeliveryId,
                now: DateTime<Utc>,
            ) -> impl Future<Output = Result<(), StoreError>> + Send {
                (**self).cancel(scope, id, now)
            }

            fn prune(
                &self,
                before: DateTime<Utc>,
                limit: usize,
            ) -> impl Future<Output = Result<usize, StoreError>> + Send {
                (**self).prune(before, limit)
            }

            fn observe_health(
                &self,
                scope: &Scope,
                webhook_id: &WebhookId,
                observation: Observation,
                now: DateTime<Utc>,
            ) -> impl Future<Output = Result<HealthChange, StoreError>> + Send {
                (**self).observe_health(scope, webhook_id, observation, now)
            }
        }
    )*};
}

forward_delivery_store!(Arc<S>, &S);
