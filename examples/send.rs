//! Sending a delivery over HTTPS with `HttpsTransport` (feature `send`), and reading what
//! the attempt tells.
//!
//! To run without the internet, the example starts its own HTTPS receiver on loopback
//! (the tests' receiver: a self-signed certificate made on the spot, a handler that verifies
//! the signature). Three things a real deployment would not need show how the guard works:
//!
//! - `StaticResolver` pins `hooks.example.test` to 127.0.0.1 (a real one resolves through
//!   the operating system);
//! - loopback is not a public address, so the first attempt is refused
//!   (`destination_not_allowed`) before a byte is sent, and the second transport allows
//!   127.0.0.0/8 explicitly, as a private deployment would allow its own network;
//! - the self-signed certificate is trusted as an extra root.
//!
//! Run: `cargo run --example send --features send`.
#![allow(clippy::unwrap_used)]

#[path = "../tests/support/https.rs"]
mod https;

use std::net::{IpAddr, Ipv4Addr};

use https::{Cert, Receiver, Reply};
use webhook_kit::send::{HttpsTransport, StaticResolver};
use webhook_kit::{
    AccountType, Attempt, CreateWebhookRequest, DestinationPolicy, Event, EventId, MemoryStore,
    Outcome, Scope, Transport, Verifier, Webhooks,
};

const HOST: &str = "hooks.example.test";

/// Registers a webhook at a loopback receiver, sends an event's delivery without and with
/// the allow-list, and returns both attempts.
async fn run() -> (Attempt, Attempt) {
    // The receiving side. It needs the webhook's secret, known once the webhook exists, so
    // the webhook is registered first on a port reserved here.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);

    // The service: a webhook pointing at the receiver. `.test` names are internal for the
    // strict policy; the connect-time guard is what protects the sender here.
    let webhooks = Webhooks::new(MemoryStore::new()).with_policy(DestinationPolicy::permissive());
    let scope = Scope::new("org_acme".parse().unwrap(), AccountType::Live);
    let url = format!("https://{HOST}:{port}/webhooks");
    let created = webhooks
        .create(&scope, CreateWebhookRequest::new(url.parse().unwrap()))
        .await
        .unwrap();
    let cert = Cert::new(&[HOST]);
    let verifier = Verifier::from_secret(created.secret());
    let receiver = Receiver::start_on(port, &cert, Reply::Verify(verifier, 204)).await;

    let body = br#"{"type":"order.paid","data":{"order":"ord_1"}}"#;
    let event = Event::new(
        EventId::generate(),
        scope,
        "acc_1".parse().unwrap(),
        &body[..],
    );
    let now = chrono::Utc::now().timestamp();
    let delivery = webhooks
        .deliveries(&event, now)
        .await
        .unwrap()
        .into_vec()
        .pop()
        .unwrap();

    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let builder = || {
        HttpsTransport::builder()
            .resolver(StaticResolver::new().with(HOST, [loopback]))
            .add_root_certificates_pem(cert.pem.as_bytes())
    };

    // Public addresses only (the default): refused, naming the address.
    let refused = builder().build().unwrap().attempt(&delivery).await;
    print(&refused);

    // The receiver's network allowed.
    let transport = builder()
        .allow_network("127.0.0.0/8".parse().unwrap())
        .build()
        .unwrap();
    let delivered = transport.attempt(&delivery).await;
    print(&delivered);
    match delivered.outcome() {
        Outcome::Delivered => println!("  done"),
        Outcome::Gone => println!("  the endpoint is gone: disable the webhook"),
        Outcome::Retry { after } => println!("  retry after {after:?} or on the schedule"),
        _ => println!("  unknown outcome"),
    }
    assert_eq!(receiver.seen().len(), 1);
    (refused, delivered)
}

fn print(attempt: &Attempt) {
    let status = attempt.status().map_or("-".to_owned(), |s| s.to_string());
    println!("{} {status} {:?}", attempt.code(), attempt.duration());
    if let Some(error) = attempt.error() {
        println!("  {error}");
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    run().await;
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn refused_then_delivered() {
        let (refused, delivered) = super::run().await;
        assert_eq!(refused.code(), "destination_not_allowed");
        assert_eq!(delivered.outcome(), webhook_kit::Outcome::Delivered);
        assert_eq!(delivered.status(), Some(204));
    }
}
