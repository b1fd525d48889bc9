//! Reliable delivery end to end: events enqueued in a SQLite store, a `DeliveryWorker`
//! sending them to a local HTTPS receiver, and the attempts it recorded.
//!
//! ```text
//! cargo run --example worker --features sqlite,send,worker
//! ```
//!
//! Two endpoints get each event: one answers `204`, the other `503`, so its deliveries stay
//! pending with their next attempt 5 seconds later (the Standard Webhooks schedule).
//!
//! With arguments it is a bare worker process, the one the crash tests kill:
//! `worker serve sqlite:PATH|postgres:URL ROOT_PEM HOST` runs a worker on that store until it
//! is killed, trusting the receiver certificate `ROOT_PEM` and resolving `HOST` to
//! 127.0.0.1 (loopback allowed). Secrets are opened with `WEBHOOK_KIT_KEY` (base64) if set.

// The test suite's loopback HTTPS receiver (self-signed certificate, TLS, HTTP/1.1).
#[path = "../tests/support/https.rs"]
mod https;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use https::{Cert, Receiver, Reply};
use webhook_kit::send::{HttpsTransport, StaticResolver};
use webhook_kit::{
    AccountFilter, AccountType, DeliveryState, DeliveryStore, DeliveryWorker, EncryptionKey, Event,
    EventId, Keyring, PostgresStore, Scope, SqliteStore, Transport, Webhook, WebhookStore,
};

const HOST: &str = "hooks.example.test";

fn transport(root_pem: &[u8], host: &str) -> Result<HttpsTransport, Box<dyn std::error::Error>> {
    Ok(HttpsTransport::builder()
        .resolver(StaticResolver::new().with(host, [IpAddr::V4(Ipv4Addr::LOCALHOST)]))
        .add_root_certificates_pem(root_pem)
        .allow_network("127.0.0.0/8".parse()?)
        .timeout(Duration::from_secs(2))
        .connect_timeout(Duration::from_secs(2))
        .build()?)
}

/// Runs a worker until the process is killed (or stdin closes).
async fn serve<S>(
    store: S,
    transport: impl Transport + 'static,
) -> Result<(), Box<dyn std::error::Error>>
where
    S: WebhookStore + DeliveryStore + 'static,
{
    let worker = DeliveryWorker::builder(store, transport)
        .lease(Duration::from_secs(3))
        .concurrency(8)
        .batch_size(8)
        .poll_interval(Duration::from_millis(20))
        .build()?;
    let stdin_closed = tokio::task::spawn_blocking(|| {
        let mut sink = String::new();
        while std::io::stdin()
            .read_line(&mut sink)
            .is_ok_and(|read| read > 0)
        {}
    });
    worker
        .run(async {
            stdin_closed.await.ok();
        })
        .await;
    Ok(())
}

fn keyring() -> Result<Option<Keyring>, Box<dyn std::error::Error>> {
    Ok(match std::env::var("WEBHOOK_KIT_KEY") {
        Ok(text) => Some(Keyring::new(EncryptionKey::from_base64(1, &text)?)),
        Err(_) => None,
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [mode, store, root, host] = args.as_slice()
        && mode == "serve"
    {
        let transport = transport(&std::fs::read(root)?, host)?;
        let keyring = keyring()?;
        if let Some(path) = store.strip_prefix("sqlite:") {
            let mut store = SqliteStore::open(path).await?;
            if let Some(keyring) = keyring {
                store = store.with_keyring(keyring);
            }
            return serve(store, transport).await;
        }
        if let Some(url) = store.strip_prefix("postgres:") {
            let mut store = PostgresStore::connect(url).await?;
            if let Some(keyring) = keyring {
                store = store.with_keyring(keyring);
            }
            return serve(store, transport).await;
        }
        return Err("the store is sqlite:PATH or postgres:URL".into());
    }
    demo().await
}

async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    // Two local HTTPS receivers with a self-signed certificate: one healthy, one busy.
    let cert = Cert::new(&[HOST]);
    let receiver = Receiver::start(&cert, Reply::status(204)).await;
    let busy = Receiver::start(&cert, Reply::status(503)).await;

    let directory = tempfile::tempdir()?;
    let store = Arc::new(SqliteStore::open(directory.path().join("queue.db")).await?);
    store.migrate().await?;
    let scope = Scope::new("org_1".parse()?, AccountType::Live);
    for addr in [receiver.addr, busy.addr] {
        let url = format!("https://{HOST}:{}/hook", addr.port()).parse()?;
        store
            .insert(&Webhook::new(scope.clone(), url, AccountFilter::default()))
            .await?;
    }

    let worker = DeliveryWorker::builder(Arc::clone(&store), transport(cert.pem.as_bytes(), HOST)?)
        .lease(Duration::from_secs(10))
        .build()?;
    let mut deliveries = Vec::new();
    for n in 1..=3 {
        let body = format!(r#"{{"type":"order.paid","order":{n}}}"#).into_bytes();
        let event = Event::new(EventId::generate(), scope.clone(), "acc_1".parse()?, body);
        deliveries.extend(worker.webhooks().enqueue(&event).await?);
    }
    println!("enqueued {} deliveries", deliveries.len());
    let claimed = worker.run_once().await?;
    println!("first pass: {claimed} attempts");

    for id in &deliveries {
        let delivery = store
            .delivery(&scope, id)
            .await?
            .ok_or("delivery missing")?;
        print!("{} {} ->", delivery.id, delivery.state.code());
        for attempt in store.attempts(&scope, id).await? {
            print!(
                " #{} {} {:?} in {:?}",
                attempt.number,
                attempt.trigger.code(),
                attempt.status,
                attempt.duration
            );
        }
        match delivery.state {
            DeliveryState::Pending => println!(" (next at {:?})", delivery.due_at),
            _ => println!(),
        }
    }
    println!(
        "the healthy receiver got {} requests",
        receiver.seen().len()
    );
    Ok(())
}
