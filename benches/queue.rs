//! End-to-end delivery through the queue against the bare transport, in the same run:
//! enqueue to the receiver's `2xx`, 1 KiB bodies, a loopback HTTPS receiver that verifies
//! each signature; 16 tasks enqueue and the worker has 16 attempts in flight, as the bare
//! transport has 16 requests in flight. Prints deliveries per second for each and the
//! ratio to the bare rate; then, for the SQL stores, the enqueue alone (no worker: the
//! ceiling the enqueue sets) and the worker alone (draining `DELIVERIES` deliveries enqueued
//! beforehand), and the statements per delivery PostgreSQL counted (`pg_stat_statements`,
//! which the test server loads).
//!
//! ```text
//! flock /work/bench.lock cargo bench --all-features --bench queue
//! ```
//!
//! Not criterion: one measurement is a whole flow of `DELIVERIES` deliveries; the rounds
//! alternate between contenders so that load on the machine falls on all alike, and the
//! median round is reported.
//!
//! Every contender is timed warm, as a running service is: before its clock starts it
//! delivers `WARM_UP` deliveries the same way (the bare transport sends them; a queue
//! enqueues and delivers them), so that the transport's TLS connections and a store's
//! pooled connections (PostgreSQL: a backend each, its statements prepared) are open.
//! All contenders share one transport.

#[path = "../tests/support/https.rs"]
mod https;
#[path = "../tests/support/postgres.rs"]
mod postgres;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use https::{Cert, Receiver, Reply};
use tokio::sync::Semaphore;
use webhook_kit::send::{HttpsTransport, StaticResolver};
use webhook_kit::{
    AccountFilter, AccountType, Delivery, DeliveryStore, DeliveryWorker, Event, EventId,
    MemoryStore, PostgresStore, Scope, SqliteStore, Transport, Verifier, Webhook, WebhookStore,
    Webhooks,
};

const HOST: &str = "hooks.example.test";
/// Timed deliveries per contender and round: enough that the bare transport, the fastest,
/// runs for about a tenth of a second.
const DELIVERIES: usize = 2000;
const CONCURRENCY: usize = 16;
const ROUNDS: usize = 5;
/// Deliveries made before a contender's clock starts, to open its connections.
const WARM_UP: usize = 2 * CONCURRENCY;

fn transport(cert: &Cert) -> HttpsTransport {
    HttpsTransport::builder()
        .resolver(StaticResolver::new().with(HOST, [IpAddr::V4(Ipv4Addr::LOCALHOST)]))
        .add_root_certificates_pem(cert.pem.as_bytes())
        .allow_network("127.0.0.0/8".parse().expect("network"))
        .build()
        .expect("transport")
}

fn body(n: usize) -> Vec<u8> {
    let mut body = format!(r#"{{"n":{n},"pad":""#).into_bytes();
    body.resize(1024 - 2, b'x');
    body.extend_from_slice(b"\"}");
    body
}

struct Flow {
    /// Shared by every contender, so that its connections stay open between them.
    transport: HttpsTransport,
    receiver: Receiver,
    webhook: Webhook,
    scope: Scope,
}

impl Flow {
    async fn new() -> Self {
        let cert = Cert::new(&[HOST]);
        let scope = Scope::new("org_bench".parse().expect("org"), AccountType::Live);
        let draft = Webhook::new(
            scope.clone(),
            "https://example.com/x".parse().expect("url"),
            AccountFilter::default(),
        );
        // The receiver verifies with the webhook's secret; the URL then names its port.
        let verifier = Verifier::from_secret(draft.secret());
        let receiver = Receiver::start(&cert, Reply::Verify(verifier, 204)).await;
        let mut parts = draft.into_parts();
        parts.url = format!("https://{HOST}:{}/hook", receiver.port())
            .parse()
            .expect("url");
        Self {
            transport: transport(&cert),
            receiver,
            webhook: Webhook::from_parts(parts),
            scope,
        }
    }

    fn events(&self) -> Vec<Event> {
        self.events_of(DELIVERIES)
    }

    fn events_of(&self, count: usize) -> Vec<Event> {
        (0..count)
            .map(|n| {
                Event::new(
                    EventId::generate(),
                    self.scope.clone(),
                    "acc_1".parse().expect("acc"),
                    body(n),
                )
            })
            .collect()
    }

    /// The bare transport: sign and send each event once, `CONCURRENCY` at a time (after
    /// the warm-up, sent the same way).
    async fn bare(&self) -> Duration {
        let transport = Arc::new(self.transport.clone());
        self.send_all(&transport, self.events_of(WARM_UP)).await;
        let events = self.events();
        let before = self.receiver.count();
        let start = Instant::now();
        self.send_all(&transport, events).await;
        let elapsed = start.elapsed();
        assert_eq!(self.receiver.count() - before, DELIVERIES);
        elapsed
    }

    async fn send_all(&self, transport: &Arc<HttpsTransport>, events: Vec<Event>) {
        let permits = Arc::new(Semaphore::new(CONCURRENCY));
        let mut tasks = tokio::task::JoinSet::new();
        for event in events {
            let permit = Arc::clone(&permits).acquire_owned().await.expect("permit");
            let (transport, webhook) = (Arc::clone(transport), self.webhook.clone());
            tasks.spawn(async move {
                let delivery =
                    Delivery::new(webhook, &event, chrono::Utc::now().timestamp()).expect("sign");
                let attempt = transport.attempt(&delivery).await;
                assert_eq!(attempt.status(), Some(204));
                drop(permit);
            });
        }
        while tasks.join_next().await.is_some() {}
    }

    /// The enqueue alone, as in [`queued`](Self::queued) but with no worker: the ceiling
    /// the store's enqueue sets on this machine.
    async fn enqueue_only<S>(&self, store: S) -> Duration
    where
        S: WebhookStore + DeliveryStore + Clone + 'static,
    {
        let webhooks = Webhooks::new(store);
        enqueue_all(&webhooks, self.events_of(WARM_UP)).await;
        let start = Instant::now();
        enqueue_all(&webhooks, self.events()).await;
        start.elapsed()
    }

    /// Through the queue: enqueue every event, a worker delivers them all. With
    /// `enqueued_before`, the events are all enqueued before the clock starts, and only the
    /// worker's draining of the queue is timed.
    async fn queued<S>(&self, store: S, enqueued_before: bool) -> Duration
    where
        S: WebhookStore + DeliveryStore + Clone + 'static,
    {
        let worker = DeliveryWorker::builder(store.clone(), self.transport.clone())
            .concurrency(CONCURRENCY)
            .batch_size(CONCURRENCY)
            .poll_interval(Duration::from_millis(2))
            .build()
            .expect("worker");
        let webhooks = Webhooks::new(store);
        self.deliver(&worker, &webhooks, self.events_of(WARM_UP), false)
            .await;
        self.deliver(&worker, &webhooks, self.events(), enqueued_before)
            .await
    }

    /// Delivers `events` through `worker`, timed from the worker's start (after the
    /// enqueue when `enqueued_before`) to the last delivery's arrival.
    async fn deliver<S>(
        &self,
        worker: &DeliveryWorker<S, HttpsTransport>,
        webhooks: &Webhooks<S>,
        events: Vec<Event>,
        enqueued_before: bool,
    ) -> Duration
    where
        S: WebhookStore + DeliveryStore + Clone + 'static,
    {
        let (count, before) = (events.len(), self.receiver.count());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let events = if enqueued_before {
            enqueue_all(webhooks, events).await;
            Vec::new()
        } else {
            events
        };
        let start = Instant::now();
        let running = tokio::spawn({
            let worker = worker.clone();
            async move {
                worker
                    .run(async {
                        stopped.await.ok();
                    })
                    .await
            }
        });
        enqueue_all(webhooks, events).await;
        let deadline = Instant::now() + Duration::from_secs(120);
        while self.receiver.count() - before < count && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let elapsed = start.elapsed();
        stop.send(()).ok();
        running.await.expect("worker");
        assert_eq!(self.receiver.count() - before, count, "all delivered");
        elapsed
    }
}

/// Enqueues `events` from `CONCURRENCY` tasks, as many request handlers of a service would.
async fn enqueue_all<S>(webhooks: &Webhooks<S>, events: Vec<Event>)
where
    S: WebhookStore + DeliveryStore + Clone + 'static,
{
    let mut enqueuers = tokio::task::JoinSet::new();
    for chunk in events.chunks(events.len().div_ceil(CONCURRENCY).max(1)) {
        let (webhooks, chunk) = (webhooks.clone(), chunk.to_vec());
        enqueuers.spawn(async move {
            for event in &chunk {
                webhooks.enqueue(event).await.expect("enqueue");
            }
        });
    }
    while enqueuers.join_next().await.is_some() {}
}

/// The statements PostgreSQL ran since the last reset: calls of each (most first), with
/// their total execution time in milliseconds.
async fn statements(pg: &PostgresStore) -> Vec<(String, i64, f64)> {
    sqlx::query_as(
        "SELECT query, calls, total_exec_time FROM pg_stat_statements \
         WHERE query NOT LIKE '%pg_stat_statements%' ORDER BY calls DESC",
    )
    .fetch_all(pg.pool())
    .await
    .expect("statements")
}

/// A fresh SQLite store at `path` holding `webhook`.
async fn sqlite_with(path: std::path::PathBuf, webhook: &Webhook) -> SqliteStore {
    let sqlite = SqliteStore::open(path).await.expect("sqlite");
    sqlite.migrate().await.expect("migrate");
    sqlite.insert(webhook).await.expect("insert");
    sqlite
}

/// A store on a fresh PostgreSQL database holding `webhook`.
async fn postgres_with(webhook: &Webhook) -> PostgresStore {
    let pg = PostgresStore::connect(&postgres::fresh_database().await)
        .await
        .expect("postgres");
    pg.migrate().await.expect("migrate");
    pg.insert(webhook).await.expect("insert");
    pg
}

/// PostgreSQL under an offered load of `per_second` deliveries for `seconds`: the
/// percentiles of the time from enqueue to the first attempt's start.
async fn latency(
    flow: &Flow,
    store: PostgresStore,
    per_second: u64,
    seconds: u64,
) -> Vec<Duration> {
    let worker = DeliveryWorker::builder(store.clone(), flow.transport.clone())
        .concurrency(CONCURRENCY)
        .batch_size(CONCURRENCY)
        .poll_interval(Duration::from_millis(10))
        .build()
        .expect("worker");
    let webhooks = Webhooks::new(store.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn({
        let worker = worker.clone();
        async move {
            worker
                .run(async {
                    stopped.await.ok();
                })
                .await
        }
    });
    let total = per_second * seconds;
    let mut ids = Vec::new();
    let start = Instant::now();
    for n in 0..total {
        // Offer at a steady rate: wait for this event's moment.
        let due = start + Duration::from_micros(n * 1_000_000 / per_second);
        tokio::time::sleep_until(due.into()).await;
        let event = Event::new(
            EventId::generate(),
            flow.scope.clone(),
            "acc_1".parse().expect("acc"),
            body(n as usize),
        );
        ids.extend(webhooks.enqueue(&event).await.expect("enqueue"));
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut waits = Vec::new();
    for id in &ids {
        loop {
            let attempts = store.attempts(&flow.scope, id).await.expect("attempts");
            if let Some(first) = attempts.first() {
                let delivery = store
                    .delivery(&flow.scope, id)
                    .await
                    .expect("delivery")
                    .expect("stored");
                waits.push(
                    (first.started_at - delivery.created_at)
                        .to_std()
                        .unwrap_or_default(),
                );
                break;
            }
            assert!(Instant::now() < deadline, "not attempted in time");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    stop.send(()).ok();
    running.await.expect("worker");
    waits.sort();
    [50, 90, 99]
        .iter()
        .map(|p| waits[(waits.len() * p / 100).min(waits.len() - 1)])
        .collect()
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn rate(time: Duration) -> f64 {
    DELIVERIES as f64 / time.as_secs_f64()
}

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        println!("queue: bench");
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let flow = Flow::new().await;
        let directory = tempfile::tempdir().expect("tempdir");
        let mut results: Vec<(&str, Vec<Duration>)> = [
            "bare transport",
            "memory",
            "sqlite",
            "postgres",
            "sqlite enqueue",
            "pg enqueue",
            "sqlite drain",
            "pg drain",
        ]
        .into_iter()
        .map(|name| (name, Vec::new()))
        .collect();
        let (mut per_delivery, mut breakdown) = (Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            results[0].1.push(flow.bare().await);
            let memory = Arc::new(MemoryStore::new());
            memory.insert(&flow.webhook).await.expect("insert");
            results[1].1.push(flow.queued(memory, false).await);
            let path = |name: &str| directory.path().join(format!("{name}-{round}.db"));
            let sqlite = sqlite_with(path("queue"), &flow.webhook).await;
            results[2].1.push(flow.queued(sqlite, false).await);
            let pg = postgres_with(&flow.webhook).await;
            sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                .execute(pg.pool())
                .await
                .expect("extension");
            sqlx::query("SELECT pg_stat_statements_reset()")
                .execute(pg.pool())
                .await
                .expect("reset");
            results[3].1.push(flow.queued(pg.clone(), false).await);
            breakdown = statements(&pg).await;
            let calls: i64 = breakdown.iter().map(|row| row.1).sum();
            // The warm-up's deliveries are counted too: they ran since the reset.
            per_delivery.push(calls as f64 / (DELIVERIES + WARM_UP) as f64);
            let sqlite = sqlite_with(path("enqueue"), &flow.webhook).await;
            results[4].1.push(flow.enqueue_only(sqlite).await);
            results[5]
                .1
                .push(flow.enqueue_only(postgres_with(&flow.webhook).await).await);
            let sqlite = sqlite_with(path("drain"), &flow.webhook).await;
            results[6].1.push(flow.queued(sqlite, true).await);
            results[7]
                .1
                .push(flow.queued(postgres_with(&flow.webhook).await, true).await);
        }
        let pg = postgres_with(&flow.webhook).await;
        let percentiles = latency(&flow, pg, 500, 4).await;
        let bare = rate(median(results[0].1.clone()));
        println!(
            "{DELIVERIES} deliveries of 1 KiB, {CONCURRENCY} in flight, median of {ROUNDS} rounds"
        );
        for (name, times) in results {
            let per_second = rate(median(times));
            println!(
                "{name:>15}: {per_second:>8.0} deliveries/s  {:.2}x bare",
                per_second / bare
            );
        }
        per_delivery.sort_by(f64::total_cmp);
        println!(
            "postgres statements per delivery (pg_stat_statements): median {:.2}, \
             rounds {per_delivery:.2?}; the last round's:",
            per_delivery[per_delivery.len() / 2]
        );
        for (query, calls, ms) in &breakdown {
            let query: String = query.chars().take(100).collect();
            println!("  {calls:>5} calls {ms:>7.1} ms  {query}");
        }
        println!(
            "postgres, 500 deliveries/s offered for 4 s, enqueue to first attempt: \
             p50 {:?}, p90 {:?}, p99 {:?}",
            percentiles[0], percentiles[1], percentiles[2]
        );
    });
}
