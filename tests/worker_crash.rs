//! Proof against real failures: worker processes (`examples/worker.rs serve …`) killed with
//! SIGKILL at random moments while 500 deliveries flow, on SQLite and on PostgreSQL (two
//! worker processes at once there), and a PostgreSQL server stopped and restarted mid-run.
//! The receiver is a real HTTPS server on loopback in this process.
//!
//! What must hold: every delivery reaches the receiver at least once and ends `delivered`;
//! a delivery reaches it more than once only for claims lost to a kill (an attempt counted
//! at claim but never recorded), never otherwise; exactly one attempt is recorded as
//! delivered for each.
#![allow(clippy::unwrap_used)]

#[path = "support/https.rs"]
mod https;
mod support;

use std::collections::HashMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use https::{Cert, Receiver, Reply};
use rand::TryRng as _;
use webhook_kit::{
    AccountFilter, AccountType, DeliveryId, DeliveryState, DeliveryStore, EncryptionKey, Event,
    EventId, Keyring, PostgresStore, Scope, SqliteStore, Webhook, WebhookStore, Webhooks,
};

const HOST: &str = "hooks.example.test";
const DELIVERIES: usize = 500;
const KILLS: usize = 20;

/// The example binary that cargo built beside this test.
fn worker_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let debug = exe.parent().unwrap().parent().unwrap();
    debug.join("examples").join("worker")
}

struct Rig {
    receiver: Receiver,
    scope: Scope,
    key: EncryptionKey,
    root: tempfile::NamedTempFile,
    ids: Vec<DeliveryId>,
}

impl Rig {
    async fn new<S: WebhookStore + DeliveryStore>(store: &S, key: EncryptionKey) -> Self {
        let cert = Cert::new(&[HOST]);
        let receiver = Receiver::start(&cert, Reply::status(204)).await;
        let mut root = tempfile::NamedTempFile::new().unwrap();
        root.write_all(cert.pem.as_bytes()).unwrap();
        let scope = Scope::new(
            format!("org_{}", webhook_kit::WebhookId::generate())
                .parse()
                .unwrap(),
            AccountType::Live,
        );
        let url = format!("https://{HOST}:{}/hook", receiver.port())
            .parse()
            .unwrap();
        store
            .insert(&Webhook::new(scope.clone(), url, AccountFilter::default()))
            .await
            .unwrap();
        let webhooks = Webhooks::new(store);
        let mut ids = Vec::new();
        for n in 0..DELIVERIES {
            let body = format!(r#"{{"n":{n}}}"#).into_bytes();
            let event = Event::new(
                EventId::generate(),
                scope.clone(),
                "acc_1".parse().unwrap(),
                body,
            );
            ids.extend(webhooks.enqueue(&event).await.unwrap());
        }
        assert_eq!(ids.len(), DELIVERIES);
        Self {
            receiver,
            scope,
            key,
            root,
            ids,
        }
    }

    fn spawn(&self, store: &str) -> Child {
        Command::new(worker_binary())
            .args(["serve", store])
            .arg(self.root.path())
            .arg(HOST)
            .env("WEBHOOK_KIT_KEY", self.key.expose_base64().as_str())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("the worker example is built with --all-features")
    }

    /// Runs `processes` workers at a time, killing them at random moments `KILLS` times,
    /// then lets fresh ones finish the queue (bounded).
    async fn run<S: DeliveryStore>(&self, store: &S, spec: &str, processes: usize) -> usize {
        let mut kills = 0;
        while kills < KILLS {
            let mut children: Vec<Child> = (0..processes).map(|_| self.spawn(spec)).collect();
            let pause = 100 + u64::from(rand::rngs::SysRng.try_next_u32().unwrap() % 400);
            tokio::time::sleep(Duration::from_millis(pause)).await;
            for child in &mut children {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                kills += 1;
            }
        }
        let mut children: Vec<Child> = (0..processes).map(|_| self.spawn(spec)).collect();
        let deadline = Instant::now() + Duration::from_secs(120);
        while self.delivered(store).await < DELIVERIES && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        for child in &mut children {
            drop(child.stdin.take()); // a clean stop
            child.wait().unwrap();
        }
        kills
    }

    async fn delivered<S: DeliveryStore>(&self, store: &S) -> usize {
        let mut delivered = 0;
        for id in &self.ids {
            let delivery = store.delivery(&self.scope, id).await.unwrap().unwrap();
            if delivery.state == DeliveryState::Delivered {
                delivered += 1;
            }
        }
        delivered
    }

    /// The guarantees, checked against the store's history and what reached the receiver.
    async fn check<S: DeliveryStore>(&self, store: &S) -> (usize, usize) {
        let mut receipts: HashMap<String, usize> = HashMap::new();
        for seen in self.receiver.seen() {
            let id = seen
                .headers
                .iter()
                .find(|(name, _)| name == "webhook-id")
                .map(|(_, value)| value.clone())
                .unwrap();
            *receipts.entry(id).or_default() += 1;
        }
        let (mut duplicates, mut lost_claims) = (0, 0);
        for id in &self.ids {
            let delivery = store.delivery(&self.scope, id).await.unwrap().unwrap();
            assert_eq!(delivery.state, DeliveryState::Delivered, "{id}");
            let attempts = store.attempts(&self.scope, id).await.unwrap();
            let successes = attempts.iter().filter(|a| a.status == Some(204)).count();
            assert_eq!(successes, 1, "{id}: one recorded delivery, never two");
            let lost = delivery.attempts as usize - attempts.len();
            let received = receipts
                .get(delivery.event_id.as_str())
                .copied()
                .unwrap_or(0);
            assert!(received >= 1, "{id} never arrived");
            assert!(
                received <= 1 + lost,
                "{id} arrived {received} times with {lost} claims lost to kills"
            );
            duplicates += received - 1;
            lost_claims += lost;
        }
        (duplicates, lost_claims)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_workers_killed_twenty_times_lose_nothing() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("queue.db");
    let key = EncryptionKey::generate(1);
    let store = SqliteStore::open(&path)
        .await
        .unwrap()
        .with_keyring(Keyring::new(key.clone()));
    store.migrate().await.unwrap();
    let rig = Rig::new(&store, key).await;
    let kills = rig
        .run(&store, &format!("sqlite:{}", path.display()), 1)
        .await;
    assert!(kills >= KILLS);
    let (duplicates, lost) = rig.check(&store).await;
    println!("sqlite: {kills} kills, {duplicates} duplicates, {lost} claims lost");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_postgres_workers_killed_twenty_times_lose_nothing() {
    let url = support::postgres::fresh_database().await;
    let key = EncryptionKey::generate(1);
    let store = PostgresStore::connect(&url)
        .await
        .unwrap()
        .with_keyring(Keyring::new(key.clone()));
    store.migrate().await.unwrap();
    let rig = Rig::new(&store, key).await;
    let kills = rig.run(&store, &format!("postgres:{url}"), 2).await;
    assert!(kills >= KILLS);
    let (duplicates, lost) = rig.check(&store).await;
    println!("postgres: {kills} kills, {duplicates} duplicates, {lost} claims lost");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_and_restarted_mid_run_loses_nothing() {
    let server = Arc::new(support::postgres::PgServer::start());
    let url = server.url("postgres");
    let key = EncryptionKey::generate(1);
    let store = PostgresStore::connect(&url)
        .await
        .unwrap()
        .with_keyring(Keyring::new(key.clone()));
    store.migrate().await.unwrap();
    let rig = Rig::new(&store, key).await;
    let mut child = rig.spawn(&format!("postgres:{url}"));
    // Let some deliveries flow, then take the database away for two seconds.
    let deadline = Instant::now() + Duration::from_secs(30);
    while rig.receiver.seen().len() < 50 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.stop();
    let during = rig.receiver.seen().len();
    tokio::time::sleep(Duration::from_secs(2)).await;
    server.start_again();
    let deadline = Instant::now() + Duration::from_secs(120);
    while rig.delivered(&store).await < DELIVERIES && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(child.stdin.take());
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "the worker survived the outage and stopped cleanly"
    );
    assert!(during < DELIVERIES, "the outage happened mid-run");
    let (duplicates, lost) = rig.check(&store).await;
    println!("postgres outage: {duplicates} duplicates, {lost} claims lost");
}
