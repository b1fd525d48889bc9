//! `DeliveryWorker` on a `MemoryStore` (and on a `SqliteStore` where the real database
//! matters) against real HTTPS receivers on loopback (tests/support/https.rs), with a
//! `ManualClock`: nothing sleeps to wait for a schedule.
//! Webhooks point at `hooks.example.test:<port>`, which the transport's resolver maps to
//! 127.0.0.1, and loopback is allowed through the transport's allow-list.
#![allow(clippy::unwrap_used)]

#[path = "support/https.rs"]
mod https;
#[path = "support/postgres.rs"]
mod postgres;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::TimeDelta;
use https::{Cert, Receiver, Reply, Seen};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use webhook_kit::send::{HttpsTransport, StaticResolver};
use webhook_kit::{
    AccountFilter, AccountType, AttemptRecord, Clock, DeliveryId, DeliveryState, DeliveryStore,
    DeliveryWorker, DisableReason, EncryptionKey, EndpointHealth, ErrorKind, Event, EventId,
    HealthPolicy, Keyring, ManualClock, MemoryStore, Notice, Observation, Observer, QueuedDelivery,
    RetrySchedule, Scope, SqliteStore, StoreError, Trigger, UpdateWebhookRequest, Verifier,
    Webhook, WebhookId, WebhookStore, WorkerError,
};

const HOST: &str = "hooks.example.test";
const SECOND: Duration = Duration::from_secs(1);

type Store = Arc<MemoryStore>;
type Worker<S = Store> = DeliveryWorker<S, HttpsTransport>;

fn transport(cert: &Cert, timeout: Duration) -> HttpsTransport {
    HttpsTransport::builder()
        .resolver(StaticResolver::new().with(HOST, [IpAddr::V4(Ipv4Addr::LOCALHOST)]))
        .add_root_certificates_pem(cert.pem.as_bytes())
        .allow_network("127.0.0.0/8".parse().unwrap())
        .connect_timeout(timeout)
        .timeout(timeout)
        .build()
        .unwrap()
}

/// The notices a worker gave, in order.
#[derive(Debug, Clone, Default)]
struct Notices(Arc<Mutex<Vec<Notice>>>);

impl Observer for Notices {
    fn notice(&self, notice: &Notice) {
        self.0.lock().unwrap().push(notice.clone());
    }
}

impl Notices {
    fn codes(&self) -> Vec<&'static str> {
        self.0.lock().unwrap().iter().map(Notice::code).collect()
    }
}

struct Setup<S = Store> {
    store: S,
    clock: ManualClock,
    notices: Notices,
    cert: Cert,
    scope: Scope,
}

impl Setup {
    fn new() -> Self {
        Setup::on(Arc::new(MemoryStore::new()))
    }
}

impl Setup<SqliteStore> {
    /// On a migrated SQLite file in `dir` whose secrets are sealed under a fresh key.
    async fn sqlite(dir: &tempfile::TempDir) -> Self {
        let store = SqliteStore::open(dir.path().join("hooks.db"))
            .await
            .unwrap()
            .with_keyring(Keyring::new(EncryptionKey::generate(1)));
        store.migrate().await.unwrap();
        Setup::on(store)
    }
}

impl<S> Setup<S>
where
    S: WebhookStore + DeliveryStore + Clone + 'static,
{
    fn on(store: S) -> Self {
        Self {
            store,
            clock: ManualClock::starting_now(),
            notices: Notices::default(),
            cert: Cert::new(&[HOST]),
            scope: Scope::new("org_1".parse().unwrap(), AccountType::Live),
        }
    }

    /// A worker with no jitter, a 2 s transport timeout and a 10 s lease.
    fn worker(&self, schedule: RetrySchedule) -> Worker<S> {
        self.builder(schedule).build().unwrap()
    }

    fn builder(&self, schedule: RetrySchedule) -> webhook_kit::WorkerBuilder<S, HttpsTransport> {
        self.builder_timed(schedule, 2 * SECOND, 10 * SECOND)
    }

    /// As `builder`, with this transport timeout and lease.
    fn builder_timed(
        &self,
        schedule: RetrySchedule,
        timeout: Duration,
        lease: Duration,
    ) -> webhook_kit::WorkerBuilder<S, HttpsTransport> {
        DeliveryWorker::builder(self.store.clone(), transport(&self.cert, timeout))
            .lease(lease)
            .schedule(schedule.with_jitter_percent(0).unwrap())
            .clock(self.clock.clone())
            .observer(self.notices.clone())
    }

    /// A webhook to `addr`, for `accounts` (empty: all).
    async fn webhook(&self, addr: SocketAddr, accounts: &[&str]) -> Webhook {
        let url = format!("https://{HOST}:{}/hook", addr.port());
        let filter =
            AccountFilter::from_ids(accounts.iter().map(|id| id.parse().unwrap())).unwrap();
        let webhook = Webhook::new(self.scope.clone(), url.parse().unwrap(), filter);
        self.store.insert(&webhook).await.unwrap();
        webhook
    }

    async fn enqueue(&self, worker: &Worker<S>, account: &str) -> (Event, Vec<DeliveryId>) {
        let id = EventId::generate();
        let body = format!(r#"{{"event":"{id}"}}"#).into_bytes();
        let event = Event::new(id, self.scope.clone(), account.parse().unwrap(), body);
        let ids = worker
            .webhooks()
            .enqueue_at(&event, self.clock.now())
            .await
            .unwrap();
        (event, ids)
    }

    async fn state(&self, id: &DeliveryId) -> DeliveryState {
        self.store
            .delivery(&self.scope, id)
            .await
            .unwrap()
            .unwrap()
            .state
    }

    async fn attempts(&self, id: &DeliveryId) -> Vec<AttemptRecord> {
        self.store.attempts(&self.scope, id).await.unwrap()
    }

    /// The endpoint health history of `webhook`, read by resetting it (the store's only
    /// way to read it).
    async fn take_health(&self, webhook: &WebhookId) -> EndpointHealth {
        let now = self.clock.now();
        let change = self
            .store
            .observe_health(&self.scope, webhook, Observation::Reset, now);
        change.await.unwrap().before
    }

    /// A verifier for `webhook`'s current secret that accepts the manual clock's timestamps.
    fn verifier(&self, webhook: &Webhook) -> Verifier {
        Verifier::from_secret(webhook.secret()).with_tolerance(Duration::from_secs(30 * 24 * 3600))
    }
}

/// `worker.run` in a task, and the sender that stops it.
fn spawn_run<S: WebhookStore + DeliveryStore + Clone + 'static>(
    worker: &Worker<S>,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<webhook_kit::RunReport>,
) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = worker.clone();
    let running = tokio::spawn(async move {
        worker
            .run(async {
                stopped.await.ok();
            })
            .await
    });
    (stop, running)
}

/// A loopback port nobody listens on (yet).
fn closed_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn header<'a>(seen: &'a Seen, name: &str) -> &'a str {
    seen.headers
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
        .unwrap()
}

#[tokio::test]
async fn enqueued_events_reach_the_matching_webhooks_signed() {
    let setup = Setup::new();
    let worker = setup.worker(RetrySchedule::standard());
    let placeholder = Webhook::new(
        setup.scope.clone(),
        "https://example.com/x".parse().unwrap(),
        AccountFilter::default(),
    );
    let receiver = Receiver::start(&setup.cert, Reply::status(204)).await;
    let webhook = setup.webhook(receiver.addr, &["acc_1"]).await;
    let other = setup.webhook(receiver.addr, &["acc_2"]).await;
    let (event, ids) = setup.enqueue(&worker, "acc_1").await;
    assert_eq!(ids.len(), 1, "only the webhook whose filter matches");

    assert_eq!(worker.run_once().await.unwrap(), 1);
    let seen = receiver.seen();
    assert_eq!(seen.len(), 1);
    let request = &seen[0];
    assert_eq!(request.body, event.body());
    assert_eq!(header(request, "webhook-id"), event.id().as_str());
    let verifier = setup.verifier(&webhook);
    let headers: http::HeaderMap = request
        .headers
        .iter()
        .map(|(k, v)| (k.parse::<http::HeaderName>().unwrap(), v.parse().unwrap()))
        .collect();
    verifier.verify(&headers, &request.body).unwrap();
    assert!(
        setup
            .verifier(&other)
            .verify(&headers, &request.body)
            .is_err()
    );
    assert!(
        setup
            .verifier(&placeholder)
            .verify(&headers, &request.body)
            .is_err()
    );

    assert_eq!(setup.state(&ids[0]).await, DeliveryState::Delivered);
    let attempts = setup.attempts(&ids[0]).await;
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].number, 1);
    assert_eq!(attempts[0].trigger, Trigger::Scheduled);
    assert_eq!(attempts[0].status, Some(204));
    assert_eq!(attempts[0].remote_addr, Some(receiver.addr));
    assert_eq!(attempts[0].error, None);
    assert!(setup.notices.codes().is_empty());
    assert_eq!(worker.run_once().await.unwrap(), 0, "nothing left");
}

#[tokio::test]
async fn a_receiver_down_then_back_gets_the_delivery_on_schedule() {
    let setup = Setup::new();
    let worker = setup.worker(RetrySchedule::standard());
    let addr = closed_port();
    let webhook = setup.webhook(addr, &[]).await;
    let (event, ids) = setup.enqueue(&worker, "acc_1").await;

    // Attempt 1 at once: refused.
    assert_eq!(worker.run_once().await.unwrap(), 1);
    let first = setup.attempts(&ids[0]).await;
    assert_eq!(first[0].error, Some(ErrorKind::Connect));
    let due = setup
        .store
        .delivery(&setup.scope, &ids[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(due.state, DeliveryState::Pending);
    assert_eq!(due.due_at, Some(setup.clock.now() + TimeDelta::seconds(5)));
    // Not due before 5 s.
    setup.clock.advance(4 * SECOND);
    assert_eq!(worker.run_once().await.unwrap(), 0);
    setup.clock.advance(SECOND);
    assert_eq!(worker.run_once().await.unwrap(), 1, "attempt 2 after 5 s");
    // Back up; attempt 3 comes 5 minutes later.
    let receiver = Receiver::start_on(addr.port(), &setup.cert, Reply::status(200)).await;
    setup.clock.advance(299 * SECOND);
    assert_eq!(worker.run_once().await.unwrap(), 0);
    setup.clock.advance(SECOND);
    assert_eq!(worker.run_once().await.unwrap(), 1);

    assert_eq!(setup.state(&ids[0]).await, DeliveryState::Delivered);
    let attempts = setup.attempts(&ids[0]).await;
    assert_eq!(
        attempts.iter().map(|a| a.number).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(attempts[2].status, Some(200));
    let seen = receiver.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(header(&seen[0], "webhook-id"), event.id().as_str());
    assert_eq!(
        header(&seen[0], "webhook-timestamp"),
        setup.clock.now().timestamp().to_string(),
        "signed afresh at the attempt"
    );
    assert_eq!(
        setup.notices.codes(),
        ["attempt_failed", "attempt_failed", "webhook_recovered"]
    );
    assert!(
        setup
            .store
            .get(&setup.scope, webhook.id())
            .await
            .unwrap()
            .unwrap()
            .enabled()
    );
}

#[tokio::test]
async fn a_410_disables_the_webhook_and_nothing_more_is_sent() {
    let setup = Setup::new();
    let worker = setup
        .builder(RetrySchedule::standard())
        .concurrency(1)
        .build()
        .unwrap();
    let receiver = Receiver::start(&setup.cert, Reply::status(410)).await;
    let webhook = setup.webhook(receiver.addr, &[]).await;
    let (_, first) = setup.enqueue(&worker, "acc_1").await;
    let (_, second) = setup.enqueue(&worker, "acc_1").await;

    assert_eq!(worker.run_once().await.unwrap(), 1);
    assert_eq!(setup.state(&first[0]).await, DeliveryState::Failed);
    let stored = setup
        .store
        .get(&setup.scope, webhook.id())
        .await
        .unwrap()
        .unwrap();
    assert!(!stored.enabled(), "disabled at once");
    assert_eq!(
        setup.notices.codes(),
        ["attempt_failed", "webhook_disabled"]
    );
    let disabled = setup.notices.0.lock().unwrap()[1].clone();
    assert!(matches!(
        disabled,
        Notice::WebhookDisabled {
            reason: DisableReason::Gone,
            ..
        }
    ));

    assert_eq!(worker.run_once().await.unwrap(), 1);
    assert_eq!(setup.state(&second[0]).await, DeliveryState::Cancelled);
    assert!(setup.attempts(&second[0]).await.is_empty());
    assert_eq!(receiver.seen().len(), 1, "nothing more was sent");
    // Later events are not even queued for it.
    assert!(setup.enqueue(&worker, "acc_1").await.1.is_empty());
}

#[tokio::test]
async fn each_attempt_reads_the_webhook_again() {
    let setup = Setup::new();
    let worker = setup.worker(RetrySchedule::standard());
    let old = Receiver::start(&setup.cert, Reply::status(500)).await;
    let new = Receiver::start(&setup.cert, Reply::status(204)).await;
    let webhook = setup.webhook(old.addr, &[]).await;
    let (event, ids) = setup.enqueue(&worker, "acc_1").await;
    assert_eq!(worker.run_once().await.unwrap(), 1);
    assert_eq!(old.seen().len(), 1);

    // The URL moves and the secret rotates with an overlap: both sign.
    let service = worker.webhooks();
    let id = webhook.id().as_str();
    let new_url = format!("https://{HOST}:{}/new", new.addr.port());
    let update = |body: String| UpdateWebhookRequest::from_json(body.as_bytes()).unwrap();
    service
        .update(
            &setup.scope,
            id,
            update(format!(r#"{{"url":"{new_url}"}}"#)),
        )
        .await
        .unwrap();
    service
        .rotate_secret_with_overlap(&setup.scope, id, TimeDelta::hours(1))
        .await
        .unwrap();

    setup.clock.advance(5 * SECOND);
    assert_eq!(worker.run_once().await.unwrap(), 1);
    assert_eq!(old.seen().len(), 1);
    let seen = new.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/new");
    assert_eq!(header(&seen[0], "webhook-id"), event.id().as_str());
    let signatures = header(&seen[0], "webhook-signature");
    assert_eq!(signatures.split(' ').count(), 2, "new and old secrets sign");
    assert_eq!(setup.state(&ids[0]).await, DeliveryState::Delivered);

    // Disabled, or deleted: the delivery is cancelled, not sent.
    let (_, waiting) = setup.enqueue(&worker, "acc_1").await;
    let set_enabled =
        |enabled: bool| update(format!(r#"{{"url":"{new_url}","enabled":{enabled}}}"#));
    service
        .update(&setup.scope, id, set_enabled(false))
        .await
        .unwrap();
    assert_eq!(worker.run_once().await.unwrap(), 1);
    assert_eq!(setup.state(&waiting[0]).await, DeliveryState::Cancelled);

    service
        .update(&setup.scope, id, set_enabled(true))
        .await
        .unwrap();
    let (_, orphan) = setup.enqueue(&worker, "acc_1").await;
    setup
        .store
        .delete(&setup.scope, webhook.id())
        .await
        .unwrap();
    assert_eq!(worker.run_once().await.unwrap(), 1);
    assert_eq!(setup.state(&orphan[0]).await, DeliveryState::Cancelled);
    assert_eq!(new.seen().len(), 1);
}

#[tokio::test]
async fn an_exhausted_delivery_fails_and_recovers_by_hand() {
    let setup = Setup::new();
    let worker = setup.worker(RetrySchedule::new([SECOND]).unwrap());
    let addr = closed_port();
    let webhook = setup.webhook(addr, &[]).await;
    let (_, ids) = setup.enqueue(&worker, "acc_1").await;
    worker.run_once().await.unwrap();
    setup.clock.advance(SECOND);
    worker.run_once().await.unwrap();
    assert_eq!(setup.state(&ids[0]).await, DeliveryState::Failed);
    assert_eq!(
        setup.notices.codes(),
        ["attempt_failed", "attempt_failed", "delivery_exhausted"]
    );

    let receiver = Receiver::start_on(addr.port(), &setup.cert, Reply::status(204)).await;
    let since = setup.clock.now() - TimeDelta::hours(1);
    let recovered = setup
        .store
        .recover(&setup.scope, webhook.id(), since, setup.clock.now(), 10)
        .await
        .unwrap();
    assert_eq!(recovered, 1);
    assert_eq!(worker.run_once().await.unwrap(), 1);
    assert_eq!(setup.state(&ids[0]).await, DeliveryState::Delivered);
    let attempts = setup.attempts(&ids[0]).await;
    assert_eq!(attempts.len(), 3);
    assert_eq!(attempts[2].trigger, Trigger::Manual);
    assert_eq!(receiver.seen().len(), 1);
}

#[tokio::test]
async fn an_endpoint_failing_for_five_days_is_disabled() {
    let setup = Setup::new();
    let worker = setup.worker(RetrySchedule::new([SECOND]).unwrap());
    let receiver = Receiver::start(&setup.cert, Reply::status(500)).await;
    let webhook = setup.webhook(receiver.addr, &[]).await;
    let enabled = || async {
        setup
            .store
            .get(&setup.scope, webhook.id())
            .await
            .unwrap()
            .unwrap()
            .enabled()
    };
    // Exhausted once now and once 13 hours later.
    for _ in 0..2 {
        setup.enqueue(&worker, "acc_1").await;
        worker.run_once().await.unwrap();
        setup.clock.advance(SECOND);
        worker.run_once().await.unwrap();
        setup.clock.advance(Duration::from_secs(13 * 3600));
    }
    assert!(enabled().await);
    // Failing, but not yet for five days.
    setup.clock.advance(Duration::from_secs(3 * 24 * 3600));
    setup.enqueue(&worker, "acc_1").await;
    worker.run_once().await.unwrap();
    assert!(enabled().await);
    // Past five days: the next failure disables it.
    setup.clock.advance(Duration::from_secs(24 * 3600));
    setup.clock.advance(SECOND);
    worker.run_once().await.unwrap();
    assert!(!enabled().await);
    let codes = setup.notices.codes();
    assert_eq!(codes.last(), Some(&"webhook_disabled"));
    assert_eq!(
        codes
            .iter()
            .filter(|code| **code == "delivery_exhausted")
            .count(),
        3
    );
    assert_eq!(receiver.seen().len(), 6);
}

#[tokio::test]
async fn a_success_resets_the_failing_clock() {
    let setup = Setup::new();
    let worker = setup.worker(RetrySchedule::new([SECOND]).unwrap());
    let policy = HealthPolicy::default();
    let addr = closed_port();
    let webhook = setup.webhook(addr, &[]).await;
    for _ in 0..2 {
        setup.enqueue(&worker, "acc_1").await;
        worker.run_once().await.unwrap();
        setup.clock.advance(SECOND);
        worker.run_once().await.unwrap();
        setup.clock.advance(Duration::from_secs(13 * 3600));
    }
    let receiver = Receiver::start_on(addr.port(), &setup.cert, Reply::status(204)).await;
    setup.enqueue(&worker, "acc_1").await;
    worker.run_once().await.unwrap();
    assert_eq!(receiver.seen().len(), 1);
    drop(receiver);
    let change = setup
        .store
        .observe_health(
            &setup.scope,
            webhook.id(),
            webhook_kit::Observation::Failed,
            setup.clock.now(),
        )
        .await
        .unwrap();
    assert_eq!(
        change.before,
        Default::default(),
        "the success forgot the failures"
    );
    assert!(!policy.should_disable(&change.after, setup.clock.now() + TimeDelta::days(4)));
    assert_eq!(setup.notices.codes().last(), Some(&"webhook_recovered"));
}

#[tokio::test]
async fn a_lease_not_longer_than_the_transport_timeout_is_refused() {
    let setup = Setup::new();
    let build = |lease| {
        DeliveryWorker::builder(
            Arc::clone(&setup.store),
            transport(&setup.cert, 15 * SECOND),
        )
        .lease(lease)
        .build()
    };
    for lease in [10 * SECOND, 15 * SECOND] {
        let error = build(lease).unwrap_err();
        assert_eq!(
            error,
            WorkerError::LeaseTooShort {
                lease,
                timeout: 15 * SECOND
            }
        );
        assert_eq!(error.code(), "lease_too_short");
    }
    assert!(build(16 * SECOND).is_ok());
    let zero = DeliveryWorker::builder(Arc::clone(&setup.store), transport(&setup.cert, SECOND))
        .concurrency(0)
        .build()
        .unwrap_err();
    assert_eq!(zero.code(), "worker_invalid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_attempts_finish_and_returns_unstarted_claims() {
    let setup = Setup::new();
    let receiver = Receiver::start(&setup.cert, Reply::Never).await;
    let worker = setup
        .builder(RetrySchedule::standard())
        .per_webhook_concurrency(1)
        .shutdown_grace(5 * SECOND)
        .poll_interval(Duration::from_millis(20))
        .build()
        .unwrap();
    setup.webhook(receiver.addr, &[]).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.extend(setup.enqueue(&worker, "acc_1").await.1);
    }
    let (stop, running) = spawn_run(&worker);
    // Wait (bounded) until the one attempt allowed is at the receiver.
    for _ in 0..200 {
        if !receiver.seen().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(receiver.seen().len(), 1);
    stop.send(()).unwrap();
    let report = running.await.unwrap();
    assert_eq!(report.claimed, 3);
    assert_eq!(report.released, 2);
    assert_eq!(
        report.abandoned, 0,
        "the attempt in flight finished (its 2 s timeout)"
    );
    let mut attempts = Vec::new();
    for id in &ids {
        let delivery = setup
            .store
            .delivery(&setup.scope, id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(delivery.state, DeliveryState::Pending);
        attempts.push(delivery.attempts);
    }
    attempts.sort_unstable();
    assert_eq!(attempts, [0, 0, 1], "unstarted claims were not counted");
    assert_eq!(receiver.seen().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_are_batched_while_attempts_are_in_flight() {
    let setup = Setup::new();
    let receiver = Receiver::start(&setup.cert, Reply::status(204)).await;
    // A poll interval longer than the test: only finished attempts make the worker claim.
    let worker = setup
        .builder(RetrySchedule::standard())
        .concurrency(16)
        .batch_size(16)
        .poll_interval(Duration::from_secs(60))
        .build()
        .unwrap();
    let _webhooks = [
        setup.webhook(receiver.addr, &[]).await,
        setup.webhook(receiver.addr, &[]).await,
    ];
    let mut ids = Vec::new();
    for _ in 0..80 {
        ids.extend(setup.enqueue(&worker, "acc_1").await.1);
    }
    assert_eq!(ids.len(), 160);
    let (stop, running) = spawn_run(&worker);
    for _ in 0..1000 {
        if receiver.count() >= 160 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send(()).unwrap();
    let report = running.await.unwrap();
    assert_eq!(report.claimed, 160);
    // Each claim waits for half a batch of free slots (8): at most 160 / 8 claims, where
    // claiming whenever one slot is free would take one delivery per claim.
    assert!(
        report.batches <= 20,
        "{} claims for 160 deliveries",
        report.batches
    );
    for id in &ids {
        assert_eq!(setup.state(id).await, DeliveryState::Delivered);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_delivers_a_stream_of_events_with_bounded_concurrency() {
    let setup = Setup::new();
    // Each answer takes a moment, so that attempts overlap as much as the worker allows.
    let receiver = Receiver::start(&setup.cert, Reply::Slow(Duration::from_millis(15), 204)).await;
    let worker = setup
        .builder(RetrySchedule::standard())
        .concurrency(4)
        .batch_size(3)
        .poll_interval(Duration::from_millis(10))
        .build()
        .unwrap();
    let first = setup.webhook(receiver.addr, &[]).await;
    let second = setup.webhook(receiver.addr, &[]).await;
    let mut ids = Vec::new();
    for _ in 0..40 {
        ids.extend(setup.enqueue(&worker, "acc_1").await.1);
    }
    assert_eq!(ids.len(), 80);
    let (stop, running) = spawn_run(&worker);
    for _ in 0..1000 {
        if receiver.seen().len() >= 80 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send(()).unwrap();
    let report = running.await.unwrap();
    assert_eq!(report.claimed, 80);
    for id in &ids {
        assert_eq!(setup.state(id).await, DeliveryState::Delivered);
    }
    let ids_seen: std::collections::HashSet<(String, String)> = receiver
        .seen()
        .iter()
        .map(|seen| {
            (
                header(seen, "webhook-id").to_owned(),
                header(seen, "webhook-signature").to_owned(),
            )
        })
        .collect();
    assert_eq!(ids_seen.len(), 80, "each delivery once");
    let most = receiver.most_in_flight();
    assert!(
        (2..=4).contains(&most),
        "attempts overlap, never more than the concurrency: {most} at once"
    );
    // Connections are kept alive. Not bounded by the concurrency itself: when an attempt
    // starts the moment another finished, the finished one's connection may not be back in
    // the transport's pool yet, and the pool opens another.
    assert!(
        receiver.connections() <= 2 * 4,
        "connections kept alive: {} for 80 requests",
        receiver.connections()
    );
    let _ = (first, second);
}

/// The sealed secret of `webhook` as stored, and a copy whose last byte (in the
/// authentication tag) is flipped: it no longer opens.
async fn sealed_secret(store: &SqliteStore, webhook: &Webhook) -> (Vec<u8>, Vec<u8>) {
    let sealed: Vec<u8> =
        sqlx::query_scalar("SELECT secret FROM webhook_kit_webhooks WHERE id = ?1")
            .bind(webhook.id().as_str())
            .fetch_one(store.pool())
            .await
            .unwrap();
    let mut corrupted = sealed.clone();
    *corrupted.last_mut().unwrap() ^= 1;
    (sealed, corrupted)
}

/// Writes `secret` as `webhook`'s sealed secret, behind the store's back.
async fn write_secret(store: &SqliteStore, webhook: &Webhook, secret: &[u8]) {
    let written = sqlx::query("UPDATE webhook_kit_webhooks SET secret = ?1 WHERE id = ?2")
        .bind(secret)
        .bind(webhook.id().as_str())
        .execute(store.pool())
        .await
        .unwrap();
    assert_eq!(written.rows_affected(), 1);
}

#[tokio::test]
async fn an_unreadable_webhook_is_our_failure_not_the_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    let setup = Setup::sqlite(&dir).await;
    let worker = setup.worker(RetrySchedule::standard());
    // The receiver verifies with the webhook's secret, so the webhook comes first.
    let addr = closed_port();
    let webhook = setup.webhook(addr, &[]).await;
    let receiver = Receiver::start_on(
        addr.port(),
        &setup.cert,
        Reply::Verify(setup.verifier(&webhook), 204),
    )
    .await;
    let (sealed, corrupted) = sealed_secret(&setup.store, &webhook).await;
    write_secret(&setup.store, &webhook, &corrupted).await;
    // Routing needs no secret: the webhook still gets its delivery.
    let (event, ids) = setup.enqueue(&worker, "acc_1").await;
    assert_eq!(ids.len(), 1);

    // The attempt is made and recorded as ours: nothing sent, no status, retried on schedule.
    assert_eq!(worker.run_once().await.unwrap(), 1);
    assert_eq!(receiver.count(), 0, "nothing was sent");
    let attempts = setup.attempts(&ids[0]).await;
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].number, 1);
    assert_eq!(attempts[0].trigger, Trigger::Scheduled);
    assert_eq!(attempts[0].error, Some(ErrorKind::Internal));
    assert_eq!(attempts[0].status, None);
    assert_eq!(attempts[0].remote_addr, None);
    let delivery = setup
        .store
        .delivery(&setup.scope, &ids[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(delivery.state, DeliveryState::Pending);
    assert_eq!(delivery.attempts, 1);
    assert_eq!(
        delivery.due_at,
        Some(setup.clock.now() + TimeDelta::seconds(5)),
        "the schedule's second step"
    );
    {
        let notices = setup.notices.0.lock().unwrap();
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert!(
            matches!(
                &notices[0],
                Notice::AttemptFailed {
                    code: "internal",
                    status: None,
                    attempt: 1,
                    ..
                }
            ),
            "{notices:?}"
        );
    }
    // The endpoint is not blamed: its health history is still empty.
    assert_eq!(
        setup.take_health(webhook.id()).await,
        EndpointHealth::default(),
        "endpoint not marked failing"
    );

    // The secret opens again: the retry arrives, signed with it.
    write_secret(&setup.store, &webhook, &sealed).await;
    setup.clock.advance(4 * SECOND);
    assert_eq!(worker.run_once().await.unwrap(), 0, "not due before 5 s");
    setup.clock.advance(SECOND);
    assert_eq!(worker.run_once().await.unwrap(), 1);
    let seen = receiver.seen();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].verified, "signed with the webhook's secret");
    assert_eq!(header(&seen[0], "webhook-id"), event.id().as_str());
    assert_eq!(setup.state(&ids[0]).await, DeliveryState::Delivered);
    let attempts = setup.attempts(&ids[0]).await;
    assert_eq!(
        attempts.iter().map(|a| a.number).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(attempts[1].status, Some(204));
    assert_eq!(attempts[1].error, None);
}

/// The lease of a race's workers, in manual time. Their transport's timeout (real time) is
/// 10 s: room for one worker's whole run while another's request is held.
const RACE_LEASE: Duration = Duration::from_secs(20);

/// A lease that runs out during an attempt: two workers on one SQLite store, one webhook
/// to a receiver that holds requests as told, one event queued for it.
struct Race {
    setup: Setup<SqliteStore>,
    receiver: Receiver,
    first: Worker<SqliteStore>,
    second: Worker<SqliteStore>,
    webhook: Webhook,
    event: Event,
    delivery: DeliveryId,
    _dir: tempfile::TempDir,
}

impl Race {
    /// The race, its receiver answering as `Reply::Hold(held, 204)`.
    async fn start(held: Vec<(Arc<Notify>, u16)>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let setup = Setup::sqlite(&dir).await;
        let receiver = Receiver::start(&setup.cert, Reply::Hold(held, 204)).await;
        let build = || {
            setup
                .builder_timed(RetrySchedule::standard(), 10 * SECOND, RACE_LEASE)
                .build()
                .unwrap()
        };
        let (first, second) = (build(), build());
        let webhook = setup.webhook(receiver.addr, &[]).await;
        let (event, ids) = setup.enqueue(&first, "acc_1").await;
        assert_eq!(ids.len(), 1);
        Self {
            delivery: ids[0].clone(),
            setup,
            receiver,
            first,
            second,
            webhook,
            event,
            _dir: dir,
        }
    }

    /// The first worker claims the delivery and sends it; once its request is held at the
    /// receiver, the lease runs out. Answers the first worker's `run_once`, in a task.
    async fn first_held_past_its_lease(&self) -> JoinHandle<Result<usize, StoreError>> {
        let running = run_once_in_task(&self.first);
        wait_for_requests(&self.receiver, 1).await;
        let claimed = self.delivery().await;
        assert_eq!(claimed.state, DeliveryState::InFlight);
        assert_eq!(claimed.attempts, 1);
        self.setup.clock.advance(RACE_LEASE + SECOND);
        running
    }

    /// The second worker claims the delivery again (attempt 2) and delivers it while the
    /// first worker's request is held. Answers the delivery then.
    async fn second_delivers(&self) -> QueuedDelivery {
        assert_eq!(claimed_by(run_once_in_task(&self.second)).await, 1);
        assert_eq!(self.receiver.count(), 2);
        let delivered = self.delivery().await;
        assert_eq!(delivered.state, DeliveryState::Delivered);
        assert_eq!(delivered.attempts, 2);
        delivered
    }

    async fn delivery(&self) -> QueuedDelivery {
        self.setup
            .store
            .delivery(&self.setup.scope, &self.delivery)
            .await
            .unwrap()
            .unwrap()
    }

    async fn attempt_numbers(&self) -> Vec<u32> {
        let attempts = self.setup.attempts(&self.delivery).await;
        attempts.iter().map(|attempt| attempt.number).collect()
    }

    /// Every request the receiver saw carried the event's id as `webhook-id`.
    fn all_seen_carry_the_event_id(&self) {
        for request in &self.receiver.seen() {
            assert_eq!(header(request, "webhook-id"), self.event.id().as_str());
        }
    }
}

/// `worker.run_once()` in a task of its own.
fn run_once_in_task(worker: &Worker<SqliteStore>) -> JoinHandle<Result<usize, StoreError>> {
    let worker = worker.clone();
    tokio::spawn(async move { worker.run_once().await })
}

/// What the `run_once` in `task` claimed, waiting at most 10 s.
async fn claimed_by(task: JoinHandle<Result<usize, StoreError>>) -> usize {
    let run = tokio::time::timeout(10 * SECOND, task).await;
    run.unwrap().unwrap().unwrap()
}

/// Waits (at most 5 s) until `receiver` has had `count` requests, and checks it has.
async fn wait_for_requests(receiver: &Receiver, count: usize) {
    for _ in 0..500 {
        if receiver.count() >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(receiver.count(), count);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_whose_lease_ran_out_cannot_overwrite_the_next_holder() {
    let release = Arc::new(Notify::new());
    let race = Race::start(vec![(Arc::clone(&release), 204)]).await;
    let held = race.first_held_past_its_lease().await;

    // The second worker claims the delivery again (attempt 2) and delivers it.
    let delivered = race.second_delivers().await;
    let recorded = race.setup.attempts(&race.delivery).await;
    assert_eq!(race.attempt_numbers().await, [2]);
    assert_eq!(recorded[0].status, Some(204));

    // The first attempt's 204 comes now: its finish finds the lease lost, writes nothing.
    release.notify_one();
    assert_eq!(claimed_by(held).await, 1);
    assert_eq!(
        race.delivery().await,
        delivered,
        "the delivery is as the second worker left it"
    );
    assert_eq!(
        race.setup.attempts(&race.delivery).await,
        recorded,
        "only the second worker's attempt is recorded"
    );
    assert!(race.setup.notices.codes().is_empty());
    let seen = race.receiver.seen();
    assert_eq!(seen.len(), 2, "at least once: the receiver de-duplicates");
    race.all_seen_carry_the_event_id();
    assert_ne!(
        header(&seen[0], "webhook-timestamp"),
        header(&seen[1], "webhook-timestamp"),
        "each attempt signed afresh"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_whose_lease_ran_out_cannot_finish_while_the_next_holder_works() {
    let releases = [Arc::new(Notify::new()), Arc::new(Notify::new())];
    let held = releases.iter().map(|release| (Arc::clone(release), 204));
    let race = Race::start(held.collect()).await;

    // Both attempts are held at the receiver: the first worker's, then (its lease run
    // out) the second worker's, which holds the claim now.
    let held_first = race.first_held_past_its_lease().await;
    let held_second = run_once_in_task(&race.second);
    wait_for_requests(&race.receiver, 2).await;
    let holding = race.delivery().await;
    assert_eq!(holding.state, DeliveryState::InFlight);
    assert_eq!(holding.attempts, 2);
    assert_eq!(holding.due_at, Some(race.setup.clock.now() + RACE_LEASE));

    // The first worker's 204 comes while the second holds the claim: its token no longer
    // fences the delivery, so its finish writes nothing.
    releases[0].notify_one();
    assert_eq!(claimed_by(held_first).await, 1);
    assert_eq!(
        race.delivery().await,
        holding,
        "still the second worker's claim"
    );
    assert!(race.attempt_numbers().await.is_empty());

    // The holder's own finish still goes through.
    releases[1].notify_one();
    assert_eq!(claimed_by(held_second).await, 1);
    assert_eq!(race.delivery().await.state, DeliveryState::Delivered);
    assert_eq!(race.attempt_numbers().await, [2]);
    assert!(race.setup.notices.codes().is_empty());
    assert_eq!(race.receiver.count(), 2);
    race.all_seen_carry_the_event_id();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_workers_failed_attempt_neither_tells_nor_blames() {
    // The first request is held, then fails with a 500; the next ones get a 204 at once.
    let release = Arc::new(Notify::new());
    let race = Race::start(vec![(Arc::clone(&release), 500)]).await;
    let held = race.first_held_past_its_lease().await;
    let delivered = race.second_delivers().await;

    // The stale attempt's 500 comes after the delivery arrived: not recorded, so not told
    // to the observer, and the endpoint that just took the delivery is not marked failing.
    release.notify_one();
    assert_eq!(claimed_by(held).await, 1);
    assert_eq!(race.delivery().await, delivered);
    assert_eq!(race.attempt_numbers().await, [2]);
    let notices = race.setup.notices.codes();
    assert!(notices.is_empty(), "{notices:?}");
    assert_eq!(
        race.setup.take_health(race.webhook.id()).await,
        EndpointHealth::default(),
        "not marked failing"
    );
    assert_eq!(race.receiver.count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_lost_before_shutdown_gives_it_back_is_no_store_failure() {
    let dir = tempfile::tempdir().unwrap();
    let setup = Setup::sqlite(&dir).await;
    let release = Arc::new(Notify::new());
    let receiver = Receiver::start(
        &setup.cert,
        Reply::Hold(vec![(Arc::clone(&release), 204)], 204),
    )
    .await;
    let build = |per_webhook| {
        setup
            .builder_timed(RetrySchedule::standard(), 10 * SECOND, RACE_LEASE)
            .per_webhook_concurrency(per_webhook)
            .build()
            .unwrap()
    };
    let (first, second) = (build(1), build(2));
    let _webhook = setup.webhook(receiver.addr, &[]).await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        ids.extend(setup.enqueue(&first, "acc_1").await.1);
    }
    // The first worker claims both: one attempt held at the receiver, the other claim
    // waiting for the webhook's only slot.
    let (stop, running) = spawn_run(&first);
    wait_for_requests(&receiver, 1).await;
    for _ in 0..500 {
        let mut in_flight = 0;
        for id in &ids {
            in_flight += usize::from(setup.state(id).await == DeliveryState::InFlight);
        }
        if in_flight == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Both leases run out; the second worker takes both and delivers them.
    setup.clock.advance(RACE_LEASE + SECOND);
    assert_eq!(claimed_by(run_once_in_task(&second)).await, 2);
    assert_eq!(receiver.count(), 3);
    // The first worker stops: the claim it never started is no longer its own to give
    // back, and its held attempt ends stale. Neither is a failure of the store.
    stop.send(()).unwrap();
    release.notify_one();
    let report = tokio::time::timeout(10 * SECOND, running)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((report.claimed, report.released), (2, 0), "{report:?}");
    assert_eq!(report.store_failures, 0, "{report:?}");
    for id in &ids {
        assert_eq!(setup.state(id).await, DeliveryState::Delivered);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attempt_held_back_by_the_per_webhook_cap_reads_the_webhook_when_it_starts() {
    let setup = Setup::new();
    let release = Arc::new(Notify::new());
    let old = Receiver::start(
        &setup.cert,
        Reply::Hold(vec![(Arc::clone(&release), 204)], 204),
    )
    .await;
    let new = Receiver::start(&setup.cert, Reply::status(204)).await;
    let worker = setup
        .builder(RetrySchedule::standard())
        .per_webhook_concurrency(1)
        .build()
        .unwrap();
    let webhook = setup.webhook(old.addr, &[]).await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        ids.extend(setup.enqueue(&worker, "acc_1").await.1);
    }
    // Both are claimed together; the first attempt is held at the receiver, the second
    // waits for the webhook's only slot.
    let running = {
        let worker = worker.clone();
        tokio::spawn(async move { worker.run_once().await })
    };
    for _ in 0..500 {
        if old.count() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(old.count(), 1);
    // Meanwhile the webhook moves: the waiting attempt goes where it points now.
    let new_url = format!("https://{HOST}:{}/new", new.addr.port());
    worker
        .webhooks()
        .update(
            &setup.scope,
            webhook.id().as_str(),
            UpdateWebhookRequest::from_json(format!(r#"{{"url":"{new_url}"}}"#).as_bytes())
                .unwrap(),
        )
        .await
        .unwrap();
    release.notify_one();
    let claimed = tokio::time::timeout(10 * SECOND, running)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(claimed, 2);
    assert_eq!((old.count(), new.count()), (1, 1));
    for id in &ids {
        assert_eq!(setup.state(id).await, DeliveryState::Delivered);
    }
}

/// The calls PostgreSQL counted (`pg_stat_statements`) in the database of `pool` of the
/// statements whose text contains `fragment`.
async fn calls_of(pool: &sqlx::PgPool, fragment: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT COALESCE(SUM(calls), 0)::bigint FROM pg_stat_statements \
         WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
         AND strpos(query, $1) > 0",
    )
    .bind(fragment)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claimed_batch_reads_its_webhooks_in_one_statement() {
    let store = webhook_kit::PostgresStore::connect(&postgres::fresh_database().await)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let pool = store.pool().clone();
    let setup = Setup::on(store);
    let receiver = Receiver::start(&setup.cert, Reply::status(204)).await;
    let worker = setup
        .builder(RetrySchedule::standard())
        .concurrency(16)
        .batch_size(16)
        .build()
        .unwrap();
    for _ in 0..3 {
        setup.webhook(receiver.addr, &[]).await;
    }
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.extend(setup.enqueue(&worker, "acc_1").await.1);
    }
    sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("SELECT pg_stat_statements_reset()")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(worker.run_once().await.unwrap(), 12);
    assert_eq!(receiver.count(), 12);
    // One read of the batch's webhooks, none one by one.
    assert_eq!(
        calls_of(&pool, "FROM webhook_kit_webhooks w WHERE w.id = ANY").await,
        1
    );
    assert_eq!(
        calls_of(&pool, "FROM webhook_kit_webhooks w WHERE w.id = $1").await,
        0
    );
    for id in &ids {
        assert_eq!(setup.state(id).await, DeliveryState::Delivered);
    }
}
