//! The [`DeliveryWorker`] (feature `worker`): claims due deliveries from a
//! [`DeliveryStore`], sends each through a [`Transport`], and acts on what happened.
//!
//! The loop only wires the pure rules to the store and the transport: the
//! [`RetrySchedule`] decides the next attempt, the [`HealthPolicy`] when an endpoint is
//! disabled; the [`Observer`] hears what happened. Each attempt reads the webhook again
//! (its URL, whether it is enabled, its secrets during a rotation overlap; a claimed batch's
//! webhooks in one read right after the claim, unless a per-webhook cap may hold an
//! attempt back, which then reads its webhook when it starts), signs the event
//! afresh (same `webhook-id`, new timestamp and signatures) and holds no transaction while
//! the request is out. The finishes of attempts that end together are written in one store
//! call ([`DeliveryStore::finish_each`]). Claims are leased: a worker that dies loses its
//! claims when their leases end, and another worker takes them up (at least once; receivers
//! de-duplicate by `webhook-id`).
//!
//! ```no_run
//! use std::time::Duration;
//! use webhook_kit::send::HttpsTransport;
//! use webhook_kit::{DeliveryWorker, MemoryStore};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let store = std::sync::Arc::new(MemoryStore::new());
//! let transport = HttpsTransport::builder().build()?;
//! let worker = DeliveryWorker::builder(store, transport)
//!     .concurrency(32)
//!     .lease(Duration::from_secs(60))
//!     .build()?;
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! // Elsewhere: `stop.send(())` on SIGTERM; attempts in flight finish, unstarted claims go back.
//! # drop(stop);
//! let report = worker.run(async { stopped.await.ok(); }).await;
//! println!("{report:?}");
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rand::TryRng;
use rand::rngs::SysRng;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;

use crate::attempt::{Attempt, AttemptError, ErrorKind, Transport};
use crate::clock::{Clock, SystemClock, later};
use crate::delivery::{Delivery, DeliveryError, redelivery};
use crate::gather::Gather;
use crate::health::{HealthChange, HealthPolicy, Observation};
use crate::id::WebhookId;
use crate::observer::{DisableReason, IgnoreNotices, Notice, Observer};
use crate::schedule::{NextStep, RetrySchedule};
use crate::service::Webhooks;
use crate::store::queue::{AttemptRecord, Claim, DeliveryStore, Finish, Trigger};
use crate::store::{StoreError, WebhookStore};
use crate::webhook::Scope;

/// The default number of attempts in flight at once: 16.
pub const DEFAULT_CONCURRENCY: usize = 16;

/// The default number of deliveries claimed in one statement: 32.
pub const DEFAULT_BATCH_SIZE: usize = 32;

/// The default lease of a claim: 60 seconds.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// The default wait between polls of an empty queue: 250 milliseconds.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(250);

/// The default time attempts in flight get to finish after shutdown is asked: 30 seconds.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// The longest wait between two tries of a failing store: 5 seconds.
pub const MAX_STORE_BACKOFF: Duration = Duration::from_secs(5);

/// Why a worker could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// The lease is not longer than the transport's total timeout: an attempt could outlive
    /// its claim, and another worker send the delivery at the same time.
    #[error("the lease ({lease:?}) must be longer than the transport's timeout ({timeout:?})")]
    LeaseTooShort {
        /// The lease asked for.
        lease: Duration,
        /// The transport's total timeout.
        timeout: Duration,
    },
    /// A count (concurrency, batch size, per-webhook cap) is zero.
    #[error("concurrency, batch size and the per-webhook cap must be at least 1")]
    Zero,
}

impl WorkerError {
    /// The stable machine code: `lease_too_short` or `worker_invalid`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::LeaseTooShort { .. } => "lease_too_short",
            Self::Zero => "worker_invalid",
        }
    }
}

/// Settings of a [`DeliveryWorker`]; impossible ones are refused by [`build`](Self::build).
pub struct WorkerBuilder<S, T> {
    store: S,
    transport: T,
    settings: Settings,
}

/// What a worker is set to do, the same in its builder and in the running worker.
struct Settings {
    concurrency: usize,
    batch_size: usize,
    lease: Duration,
    per_webhook: Option<usize>,
    schedule: RetrySchedule,
    health: HealthPolicy,
    clock: Arc<dyn Clock>,
    observer: Arc<dyn Observer>,
    poll_interval: Duration,
    shutdown_grace: Duration,
}

impl<S, T> fmt::Debug for WorkerBuilder<S, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerBuilder")
            .field("concurrency", &self.settings.concurrency)
            .field("batch_size", &self.settings.batch_size)
            .field("lease", &self.settings.lease)
            .field("per_webhook", &self.settings.per_webhook)
            .field("schedule", &self.settings.schedule)
            .field("health", &self.settings.health)
            .field("clock", &self.settings.clock)
            .field("poll_interval", &self.settings.poll_interval)
            .field("shutdown_grace", &self.settings.shutdown_grace)
            .finish_non_exhaustive()
    }
}

impl<S, T> WorkerBuilder<S, T>
where
    S: WebhookStore + DeliveryStore + 'static,
    T: Transport + 'static,
{
    /// How many attempts may be in flight at once. Default [`DEFAULT_CONCURRENCY`].
    #[must_use]
    pub fn concurrency(mut self, attempts: usize) -> Self {
        self.settings.concurrency = attempts;
        self
    }

    /// How many deliveries one claim takes at most. Default [`DEFAULT_BATCH_SIZE`].
    #[must_use]
    pub fn batch_size(mut self, deliveries: usize) -> Self {
        self.settings.batch_size = deliveries;
        self
    }

    /// How long a claim holds: longer than the transport's total timeout. Default
    /// [`DEFAULT_LEASE`].
    #[must_use]
    pub fn lease(mut self, lease: Duration) -> Self {
        self.settings.lease = lease;
        self
    }

    /// At most `attempts` attempts in flight to one webhook from this worker (default: no
    /// cap beyond the concurrency). A claim that cannot get a slot before its lease would be
    /// at risk goes back to the queue uncounted.
    #[must_use]
    pub fn per_webhook_concurrency(mut self, attempts: usize) -> Self {
        self.settings.per_webhook = Some(attempts);
        self
    }

    /// The retry schedule. Default [`RetrySchedule::standard`].
    #[must_use]
    pub fn schedule(mut self, schedule: RetrySchedule) -> Self {
        self.settings.schedule = schedule;
        self
    }

    /// The endpoint health rule. Default [`HealthPolicy::default`].
    #[must_use]
    pub fn health(mut self, health: HealthPolicy) -> Self {
        self.settings.health = health;
        self
    }

    /// Where time comes from. Default [`SystemClock`]; tests give a
    /// [`ManualClock`](crate::ManualClock).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.settings.clock = Arc::new(clock);
        self
    }

    /// Who hears the [`Notice`]s. Default: nobody.
    #[must_use]
    pub fn observer(mut self, observer: impl Observer) -> Self {
        self.settings.observer = Arc::new(observer);
        self
    }

    /// How long [`run`](DeliveryWorker::run) waits before polling an empty queue again.
    /// Default [`DEFAULT_POLL_INTERVAL`].
    #[must_use]
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.settings.poll_interval = interval;
        self
    }

    /// How long attempts in flight get to finish once shutdown is asked. Default
    /// [`DEFAULT_SHUTDOWN_GRACE`].
    #[must_use]
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.settings.shutdown_grace = grace;
        self
    }

    /// The worker.
    ///
    /// # Errors
    ///
    /// [`WorkerError::LeaseTooShort`] when the lease is not longer than the transport's
    /// [`timeout`](Transport::timeout); [`WorkerError::Zero`] for a zero count.
    pub fn build(self) -> Result<DeliveryWorker<S, T>, WorkerError> {
        if let Some(timeout) = self.transport.timeout()
            && self.settings.lease <= timeout
        {
            return Err(WorkerError::LeaseTooShort {
                lease: self.settings.lease,
                timeout,
            });
        }
        if self.settings.concurrency == 0
            || self.settings.batch_size == 0
            || self.settings.per_webhook == Some(0)
        {
            return Err(WorkerError::Zero);
        }
        Ok(DeliveryWorker {
            shared: Arc::new(Shared {
                webhooks: Webhooks::new(self.store),
                transport: self.transport,
                settings: self.settings,
                slots: Mutex::new(HashMap::new()),
                finishes: Gather::default(),
            }),
        })
    }
}

/// Sends queued deliveries: claims due ones in batches, makes each attempt, records it and
/// schedules the next (see the [module docs](self)). Cheap to clone; clones share their
/// settings and limits.
pub struct DeliveryWorker<S, T> {
    shared: Arc<Shared<S, T>>,
}

impl<S, T> Clone for DeliveryWorker<S, T> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S, T> fmt::Debug for DeliveryWorker<S, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = &self.shared;
        f.debug_struct("DeliveryWorker")
            .field("concurrency", &shared.settings.concurrency)
            .field("batch_size", &shared.settings.batch_size)
            .field("lease", &shared.settings.lease)
            .field("per_webhook", &shared.settings.per_webhook)
            .field("schedule", &shared.settings.schedule)
            .finish_non_exhaustive()
    }
}

struct Shared<S, T> {
    webhooks: Webhooks<S>,
    transport: T,
    settings: Settings,
    /// Per-webhook slots, while any attempt to the webhook holds or waits for one.
    slots: Mutex<HashMap<WebhookId, Arc<Semaphore>>>,
    /// Finishes of attempts that end together, written together (one
    /// [`DeliveryStore::finish_each`]).
    finishes: Gather<(Claim, Finish), Result<Option<HealthChange>, StoreError>>,
}

/// What a [`DeliveryWorker::run`] did, for the host's logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunReport {
    /// Claims taken.
    pub claimed: u64,
    /// Claim statements that took at least one delivery: `claimed / batches` is the mean
    /// batch.
    pub batches: u64,
    /// Claims given back unstarted at shutdown.
    pub released: u64,
    /// Attempts still in flight when the grace ran out (their leases will end).
    pub abandoned: u64,
    /// Store failures met (each was retried).
    pub store_failures: u64,
}

impl<S, T> DeliveryWorker<S, T>
where
    S: WebhookStore + DeliveryStore + 'static,
    T: Transport + 'static,
{
    /// A builder over `store` (webhooks and their queue) and `transport`, with the defaults.
    pub fn builder(store: S, transport: T) -> WorkerBuilder<S, T> {
        WorkerBuilder {
            store,
            transport,
            settings: Settings {
                concurrency: DEFAULT_CONCURRENCY,
                batch_size: DEFAULT_BATCH_SIZE,
                lease: DEFAULT_LEASE,
                per_webhook: None,
                schedule: RetrySchedule::standard(),
                health: HealthPolicy::default(),
                clock: Arc::new(SystemClock),
                observer: Arc::new(IgnoreNotices),
                poll_interval: DEFAULT_POLL_INTERVAL,
                shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            },
        }
    }

    /// The webhooks service over the worker's store.
    pub fn webhooks(&self) -> &Webhooks<S> {
        &self.shared.webhooks
    }

    /// Claims one batch of due deliveries (at most the batch size and the concurrency) and
    /// works them all to the end; answers how many it claimed. For tests and for hosts that
    /// drive the loop themselves.
    ///
    /// # Errors
    ///
    /// The store's error when the claim fails (nothing was claimed).
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let shared = &self.shared;
        let limit = shared.settings.batch_size.min(shared.settings.concurrency);
        let claims = shared
            .webhooks
            .store()
            .claim(shared.settings.clock.now(), shared.settings.lease, limit)
            .await?;
        let count = claims.len();
        let (_stop, stopped) = watch::channel(false);
        let mut tasks = JoinSet::new();
        for (claim, webhook) in shared.with_webhooks(claims).await {
            let (shared, stopped) = (Arc::clone(shared), stopped.clone());
            tasks.spawn(async move { shared.work(claim, webhook, stopped).await });
        }
        while tasks.join_next().await.is_some() {}
        Ok(count)
    }

    /// Works the queue until `shutdown` completes: claims due deliveries in batches, once
    /// half a batch of slots is free (or a poll interval after its last claim, whichever
    /// comes first), polls an empty queue every poll interval, retries a failing store
    /// with backoff (never giving up, never panicking). At shutdown it stops claiming, gives back the
    /// claims whose attempts have not started (uncounted), and lets attempts in flight
    /// finish within the shutdown grace; those still running then are dropped, and their
    /// leases return them to the queue.
    pub async fn run(&self, shutdown: impl Future<Output = ()> + Send) -> RunReport {
        let shared = &self.shared;
        let permits = Arc::new(Semaphore::new(shared.settings.concurrency));
        let (stop, stopped) = watch::channel(false);
        let mut tasks: JoinSet<Outcome> = JoinSet::new();
        let mut report = RunReport::default();
        let mut backoff = Backoff::default();
        let mut shutdown = std::pin::pin!(shutdown);
        // Claims are batched: while fewer slots than half a batch are free, the loop waits
        // for more attempts to finish, but never longer than a poll interval after the
        // last claim.
        let batch = shared.settings.batch_size.min(shared.settings.concurrency);
        let enough = batch.div_ceil(2);
        let mut last_claim = tokio::time::Instant::now();
        loop {
            while let Some(done) = tasks.try_join_next() {
                report.count(done);
            }
            let free = permits.available_permits();
            let patience = last_claim + shared.settings.poll_interval;
            if free == 0 || (free < enough && tokio::time::Instant::now() < patience) {
                tokio::select! {
                    done = tasks.join_next() => if let Some(done) = done { report.count(done) },
                    () = tokio::time::sleep_until(patience), if free > 0 => {}
                    () = &mut shutdown => break,
                }
                continue;
            }
            last_claim = tokio::time::Instant::now();
            let limit = shared.settings.batch_size.min(free);
            let claimed = shared
                .webhooks
                .store()
                .claim(shared.settings.clock.now(), shared.settings.lease, limit)
                .await;
            let wait = match claimed {
                Ok(claims) => {
                    backoff.reset();
                    let full = claims.len() == limit;
                    report.batches += u64::from(!claims.is_empty());
                    for (claim, webhook) in shared.with_webhooks(claims).await {
                        report.claimed += 1;
                        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
                            // Cannot happen (the limit followed the free permits); were it
                            // to, the claim goes back rather than waiting.
                            let _ = shared.webhooks.store().release(&claim).await;
                            continue;
                        };
                        let (task, stopped) = (Arc::clone(shared), stopped.clone());
                        tasks.spawn(async move {
                            let outcome = task.work(claim, webhook, stopped).await;
                            drop(permit);
                            outcome
                        });
                    }
                    if full {
                        None
                    } else {
                        Some(shared.settings.poll_interval)
                    }
                }
                Err(_) => {
                    report.store_failures += 1;
                    Some(backoff.next())
                }
            };
            if let Some(wait) = wait {
                // A finished attempt may have left due work (or a retry) behind: look again
                // at once rather than after the whole poll interval.
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    Some(done) = tasks.join_next(), if !tasks.is_empty() => report.count(done),
                    () = &mut shutdown => break,
                }
            }
        }
        // Shutdown: unstarted claims go back, attempts in flight get the grace.
        let _ = stop.send(true);
        let drained = tokio::time::timeout(shared.settings.shutdown_grace, async {
            let mut finished = Vec::new();
            while let Some(done) = tasks.join_next().await {
                finished.push(done);
            }
            finished
        })
        .await;
        match drained {
            Ok(finished) => finished.into_iter().for_each(|done| report.count(done)),
            Err(_) => {
                report.abandoned += tasks.len() as u64;
                tasks.abort_all();
                while tasks.join_next().await.is_some() {}
            }
        }
        report
    }
}

/// A webhook as the store read it for an attempt.
type Read = Result<Option<crate::webhook::Webhook>, StoreError>;

/// How a claim ended, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Worked,
    /// The claim was lost before the finish was written (its lease ran out and another
    /// worker claimed it, or it was cancelled): nothing of the attempt is recorded, so
    /// nothing of it is told or counted against the endpoint either.
    LeaseLost,
    Released,
    StoreFailed,
}

impl RunReport {
    fn count(&mut self, done: Result<Outcome, tokio::task::JoinError>) {
        match done {
            Ok(Outcome::Released) => self.released += 1,
            Ok(Outcome::StoreFailed) => self.store_failures += 1,
            Ok(Outcome::Worked | Outcome::LeaseLost) | Err(_) => {}
        }
    }
}

/// Doubling waits between tries of a failing store, from 50 ms to [`MAX_STORE_BACKOFF`].
#[derive(Debug, Default)]
struct Backoff {
    failures: u32,
}

impl Backoff {
    fn next(&mut self) -> Duration {
        let wait = Duration::from_millis(50)
            .saturating_mul(1 << self.failures.min(7))
            .min(MAX_STORE_BACKOFF);
        self.failures = self.failures.saturating_add(1);
        wait
    }

    fn reset(&mut self) {
        self.failures = 0;
    }
}

/// A uniformly random `u32` for the jitter (0, no jitter, if the system's generator fails).
fn roll() -> u32 {
    SysRng.try_next_u32().unwrap_or(0)
}

impl<S, T> Shared<S, T>
where
    S: WebhookStore + DeliveryStore + 'static,
    T: Transport + 'static,
{
    fn store(&self) -> &S {
        self.webhooks.store()
    }

    /// The real time left before `claim`'s lease ends.
    fn lease_left(&self, claim: &Claim) -> Duration {
        (claim.lease_until - self.settings.clock.now())
            .to_std()
            .unwrap_or(Duration::ZERO)
    }

    /// The slot of `webhook`, when a per-webhook cap is set.
    fn slot(&self, webhook: &WebhookId, cap: usize) -> Arc<Semaphore> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(
            slots
                .entry(webhook.clone())
                .or_insert_with(|| Arc::new(Semaphore::new(cap))),
        )
    }

    /// Forgets `webhook`'s slot when nobody holds or waits for it, to keep memory bounded.
    fn forget_slot(&self, webhook: &WebhookId) {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if slots
            .get(webhook)
            .is_some_and(|slot| Arc::strong_count(slot) == 1)
        {
            slots.remove(webhook);
        }
    }

    /// Waits for a per-webhook slot, as long as the lease leaves room for an attempt; `None`
    /// when there is no room or shutdown was asked.
    async fn wait_for_slot(
        &self,
        claim: &Claim,
        stopped: &mut watch::Receiver<bool>,
    ) -> Option<Option<OwnedSemaphorePermit>> {
        let Some(cap) = self.settings.per_webhook else {
            return Some(None);
        };
        let slot = self.slot(&claim.webhook_id, cap);
        let attempt_time = self.transport.timeout().unwrap_or(self.settings.lease / 2);
        let room = self.lease_left(claim).saturating_sub(attempt_time);
        let permit = tokio::select! {
            permit = tokio::time::timeout(room, slot.acquire_owned()) => permit.ok().and_then(Result::ok),
            _ = stopped.wait_for(|stop| *stop) => None,
        };
        permit.map(Some)
    }

    /// The webhook of each claim, read for the whole batch at once (`get_each`: one
    /// statement on the SQL stores) when the attempts start at once; `None` (each attempt
    /// reads its own) when a per-webhook cap may hold an attempt back, so that it reads the
    /// webhook as it is when it starts, or when the batch read failed.
    async fn with_webhooks(&self, claims: Vec<Claim>) -> Vec<(Claim, Option<Read>)> {
        let read = match self.settings.per_webhook {
            None if !claims.is_empty() => {
                let wanted: Vec<(Scope, WebhookId)> = claims
                    .iter()
                    .map(|claim| (claim.event.scope().clone(), claim.webhook_id.clone()))
                    .collect();
                self.store().get_each(&wanted).await.ok()
            }
            _ => None,
        };
        match read {
            Some(webhooks) if webhooks.len() == claims.len() => claims
                .into_iter()
                .zip(webhooks)
                // A store failure for one webhook: that attempt reads it again.
                .map(|(claim, read)| match read {
                    Err(StoreError::Backend { .. }) => (claim, None),
                    read => (claim, Some(read)),
                })
                .collect(),
            _ => claims.into_iter().map(|claim| (claim, None)).collect(),
        }
    }

    /// Works one claim to its end; `webhook` is its webhook if already read.
    async fn work(
        &self,
        claim: Claim,
        webhook: Option<Read>,
        mut stopped: watch::Receiver<bool>,
    ) -> Outcome {
        let slot = self.wait_for_slot(&claim, &mut stopped).await;
        let outcome = match slot {
            Some(permit) if !*stopped.borrow() => {
                let outcome = self.attempt(&claim, webhook).await;
                drop(permit);
                outcome
            }
            _ => self.release(&claim).await,
        };
        self.forget_slot(&claim.webhook_id);
        outcome
    }

    /// Gives an unstarted claim back.
    async fn release(&self, claim: &Claim) -> Outcome {
        let deadline = Instant::now() + self.lease_left(claim);
        match self
            .with_retries(deadline, || self.store().release(claim))
            .await
        {
            Ok(()) => Outcome::Released,
            // Its lease ran out and another worker holds it now: nothing to give back.
            Err(StoreError::LeaseLost) => Outcome::LeaseLost,
            Err(_) => Outcome::StoreFailed,
        }
    }

    /// Reads the webhook (unless `webhook` was read with the batch), makes the attempt,
    /// records it, and acts on it.
    async fn attempt(&self, claim: &Claim, webhook: Option<Read>) -> Outcome {
        let now = self.settings.clock.now();
        let deadline = Instant::now() + self.lease_left(claim);
        let event = &claim.event;
        let read = match webhook {
            Some(webhook) => Ok(redelivery(webhook, event, now.timestamp())),
            None => self.read_again(claim, now).await,
        };
        let delivery = match read {
            Err(_) => return self.release(claim).await,
            Ok(Ok(None)) => return self.finish(claim, Finish::Cancelled, deadline).await.0,
            Ok(Ok(Some(delivery))) => Ok(delivery),
            Ok(Err(error)) => Err(error),
        };
        let attempt = match delivery {
            Ok(delivery) => self.send(&delivery, claim).await,
            Err(error) => Attempt::failed(
                now,
                Duration::ZERO,
                AttemptError::new(ErrorKind::Internal, error.to_string()),
            ),
        };
        let step = self.settings.schedule.next_step(
            claim.attempt,
            claim.trigger,
            attempt.outcome(),
            roll(),
        );
        let record = AttemptRecord::new(claim.attempt, claim.trigger, &attempt);
        let finish = match step {
            NextStep::Delivered => Finish::Delivered(record),
            NextStep::RetryIn(wait) => Finish::Retry {
                attempt: record,
                at: later(self.settings.clock.now(), wait),
            },
            _ => Finish::Failed(record),
        };
        let (outcome, reset) = self.finish(claim, finish, deadline).await;
        // Only a recorded attempt is told and counted: a stale one (lease lost) is not.
        if outcome == Outcome::Worked {
            self.after(claim, &attempt, step, reset).await;
        }
        outcome
    }

    /// Reads the claim's webhook on its own and signs its delivery, retrying a failing store
    /// until the lease ends (the error then: the claim goes back).
    async fn read_again(
        &self,
        claim: &Claim,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Result<Option<Delivery>, DeliveryError>, StoreError> {
        let deadline = Instant::now() + self.lease_left(claim);
        self.with_retries(deadline, || async {
            match self
                .webhooks
                .redeliver(&claim.event, &claim.webhook_id, now.timestamp())
                .await
            {
                // The store failed: retried until the lease ends. (An unreadable webhook
                // answers `DeliveryError::Unreadable`, an attempt failed on our side.)
                Err(DeliveryError::Store(error)) => Err(error),
                other => Ok(other),
            }
        })
        .await
    }

    /// The attempt, bounded by the lease whatever the transport does.
    async fn send(&self, delivery: &Delivery, claim: &Claim) -> Attempt {
        let started = self.settings.clock.now();
        let budget = self
            .lease_left(claim)
            .saturating_sub(self.settings.lease / 10);
        match tokio::time::timeout(budget, self.transport.attempt(delivery)).await {
            Ok(attempt) => attempt,
            Err(_) => Attempt::failed(
                started,
                budget,
                AttemptError::new(ErrorKind::Timeout, "the attempt outlived its lease"),
            ),
        }
    }

    /// Writes how the claim ended, retrying a failing store until the lease ends; with the
    /// health a delivered finish reset.
    async fn finish(
        &self,
        claim: &Claim,
        finish: Finish,
        deadline: Instant,
    ) -> (Outcome, Option<HealthChange>) {
        let result = self
            .with_retries(deadline, || {
                self.finishes.write(
                    (claim.clone(), finish.clone()),
                    |finishes| {
                        self.store()
                            .finish_each(finishes, self.settings.clock.now())
                    },
                    crate::gather::unanswered,
                )
            })
            .await;
        match result {
            Ok(reset) => (Outcome::Worked, reset),
            // Another worker holds it now (the lease ran out), or it was cancelled: theirs.
            Err(StoreError::LeaseLost) => (Outcome::LeaseLost, None),
            Err(_) => (Outcome::StoreFailed, None),
        }
    }

    /// Notices and the health rule, after a recorded attempt; `reset` is what the finish of
    /// a delivered attempt did to the endpoint's health.
    async fn after(
        &self,
        claim: &Claim,
        attempt: &Attempt,
        step: NextStep,
        reset: Option<HealthChange>,
    ) {
        let scope = claim.event.scope();
        let webhook_id = &claim.webhook_id;
        if step != NextStep::Delivered {
            self.settings.observer.notice(&Notice::AttemptFailed {
                scope: scope.clone(),
                webhook_id: webhook_id.clone(),
                delivery_id: claim.delivery_id.clone(),
                event_id: claim.event.id().clone(),
                attempt: claim.attempt,
                code: attempt.code(),
                status: attempt.status(),
            });
        }
        let exhausted = step == NextStep::Failed && claim.trigger == Trigger::Scheduled;
        if exhausted {
            self.settings.observer.notice(&Notice::DeliveryExhausted {
                scope: scope.clone(),
                webhook_id: webhook_id.clone(),
                delivery_id: claim.delivery_id.clone(),
                event_id: claim.event.id().clone(),
                attempts: claim.attempt,
            });
        }
        if step == NextStep::Gone {
            self.disable(scope, webhook_id, DisableReason::Gone).await;
            return;
        }
        let observation = match step {
            NextStep::Delivered => {
                // The finish reset the health already, in the same write.
                if reset.is_some_and(|change| change.recovered()) {
                    self.settings.observer.notice(&Notice::WebhookRecovered {
                        scope: scope.clone(),
                        webhook_id: webhook_id.clone(),
                    });
                }
                return;
            }
            _ if !attempt.is_endpoint_failure() => return,
            _ if exhausted => Observation::Exhausted,
            _ => Observation::Failed,
        };
        let now = self.settings.clock.now();
        let deadline = Instant::now() + MAX_STORE_BACKOFF;
        let Ok(change) = self
            .with_retries(deadline, || {
                self.store()
                    .observe_health(scope, webhook_id, observation, now)
            })
            .await
        else {
            return;
        };
        if change.recovered() {
            self.settings.observer.notice(&Notice::WebhookRecovered {
                scope: scope.clone(),
                webhook_id: webhook_id.clone(),
            });
        }
        if self.settings.health.should_disable(&change.after, now) {
            self.disable(scope, webhook_id, DisableReason::Failing)
                .await;
        }
    }

    /// Disables the webhook, forgets its failures, and tells the observer.
    async fn disable(&self, scope: &Scope, webhook_id: &WebhookId, reason: DisableReason) {
        let deadline = Instant::now() + MAX_STORE_BACKOFF;
        let disabled = self
            .with_retries(deadline, || async {
                match self.webhooks.disable(scope, webhook_id).await {
                    Ok(changed) => Ok(changed),
                    Err(crate::Error::Store(error)) => Err(error),
                    Err(_) => Ok(false),
                }
            })
            .await;
        if !matches!(disabled, Ok(true)) {
            return;
        }
        let now = self.settings.clock.now();
        let _ = self
            .with_retries(deadline, || {
                self.store()
                    .observe_health(scope, webhook_id, Observation::Reset, now)
            })
            .await;
        self.settings.observer.notice(&Notice::WebhookDisabled {
            scope: scope.clone(),
            webhook_id: webhook_id.clone(),
            reason,
        });
    }

    /// Calls `operation` until it succeeds, fails for a reason trying again cannot cure
    /// (not found, lease lost, in flight), or `deadline` passes; doubling waits between.
    async fn with_retries<R, F>(
        &self,
        deadline: Instant,
        mut operation: impl FnMut() -> F,
    ) -> Result<R, StoreError>
    where
        F: Future<Output = Result<R, StoreError>>,
    {
        let mut backoff = Backoff::default();
        loop {
            match operation().await {
                Ok(value) => return Ok(value),
                Err(
                    error @ (StoreError::LeaseLost
                    | StoreError::NotFound
                    | StoreError::InFlight
                    | StoreError::Unreadable(_)),
                ) => {
                    return Err(error);
                }
                Err(error) => {
                    let wait = backoff.next();
                    if Instant::now() + wait >= deadline {
                        return Err(error);
                    }
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}
