//! A real round trip: deliveries made by `Webhooks::deliveries`, converted with
//! `Delivery::into_request`, sent by a real HTTP client (reqwest) to a real server (axum) on
//! loopback, whose handler verifies them with this crate from the raw body and answers 204,
//! or 401 with the error code.
//!
//! The webhooks point at `https://receiver.test:PORT/hook`: the seed's regex needs a letter
//! top-level domain, and the service is built with `DestinationPolicy::permissive()`,
//! explicitly, because the test's destination is loopback. The client resolves
//! `receiver.test` to 127.0.0.1 and sends over plain HTTP: TLS is the HTTP client's business
//! and out of scope here; everything the crate produces (URL path, headers, body) goes over
//! the wire unchanged.
#![cfg(feature = "http")]
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::TimeDelta;
use webhook_kit::{
    AccountType, CreateWebhookRequest, Delivery, DestinationPolicy, Event, EventId, MemoryStore,
    Scope, Secret, Verifier, WebhookId, Webhooks,
};

const HOST: &str = "receiver.test";

/// Verifies from the raw body with the system clock: 204, or 401 and the error code.
async fn receive(
    State(verifier): State<Arc<Verifier>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    match verifier.verify(&headers, &body) {
        Ok(()) => (StatusCode::NO_CONTENT, String::new()),
        Err(error) => (StatusCode::UNAUTHORIZED, error.code().to_owned()),
    }
}

/// A listener on 127.0.0.1 for a receiver started later, once its secrets are known.
async fn bind() -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()
}

/// Serves the receiver knowing `secrets` on `listener`, in the background.
fn serve(listener: tokio::net::TcpListener, secrets: &[&Secret]) {
    let verifier = Arc::new(Verifier::new(secrets).unwrap());
    let app = axum::Router::new()
        .route("/hook", post(receive))
        .with_state(verifier);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
}

struct Sender {
    webhooks: Webhooks<MemoryStore>,
    scope: Scope,
    client: reqwest::Client,
    port: u16,
}

impl Sender {
    /// A sender whose webhooks point at `listener`'s port.
    fn new(listener: &tokio::net::TcpListener) -> Self {
        let addr = listener.local_addr().unwrap();
        // With the `send` feature in the build, reqwest's TLS comes without a crypto
        // provider (the transport brings its own): a client that only speaks plain HTTP
        // still needs a process default to be built.
        let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .resolve(HOST, addr)
            .build()
            .unwrap();
        Self {
            // Loopback destination: the permissive policy is asked for explicitly.
            webhooks: Webhooks::new(MemoryStore::new())
                .with_policy(DestinationPolicy::permissive()),
            scope: Scope::new("org_1".parse().unwrap(), AccountType::Live),
            client,
            port: addr.port(),
        }
    }

    /// A webhook pointing at the receiver; its id and secret.
    async fn create(&self) -> (WebhookId, Secret) {
        let url = format!("https://{HOST}:{}/hook", self.port);
        let request = CreateWebhookRequest::new(url.parse().unwrap());
        let created = self.webhooks.create(&self.scope, request).await.unwrap();
        (created.webhook().id().clone(), created.secret().clone())
    }

    fn event(&self) -> Event {
        Event::new(
            EventId::generate(),
            self.scope.clone(),
            "acc_1".parse().unwrap(),
            BODY,
        )
    }

    /// The one delivery of a new event, at `timestamp`.
    async fn delivery(&self, timestamp: i64) -> Delivery {
        let mut deliveries = self
            .webhooks
            .deliveries(&self.event(), timestamp)
            .await
            .unwrap()
            .into_vec();
        assert_eq!(deliveries.len(), 1);
        deliveries.pop().unwrap()
    }

    /// Sends `delivery` (its body replaced by `body` when given); the status and answer.
    async fn send(&self, delivery: Delivery, body: Option<&[u8]>) -> (u16, String) {
        self.send_to(delivery, body, self.port).await
    }

    /// As [`send`](Self::send), to the receiver on `port` whatever the webhook's port.
    async fn send_to(&self, delivery: Delivery, body: Option<&[u8]>, port: u16) -> (u16, String) {
        let mut request = delivery.into_request().unwrap();
        assert_eq!(request.uri().host(), Some(HOST));
        assert_eq!(request.uri().path(), "/hook");
        // Plain HTTP on loopback: same host and path, no TLS.
        let mut parts = request.uri().clone().into_parts();
        parts.scheme = Some(http::uri::Scheme::HTTP);
        parts.authority = Some(format!("{HOST}:{port}").parse().unwrap());
        *request.uri_mut() = http::Uri::from_parts(parts).unwrap();
        if let Some(body) = body {
            *request.body_mut() = bytes::Bytes::copy_from_slice(body);
        }
        let request = reqwest::Request::try_from(request).unwrap();
        let response = self.client.execute(request).await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }
}

/// A sender with one webhook, and a receiver that knows its secret; the webhook's id.
async fn with_receiver() -> (Sender, WebhookId) {
    let listener = bind().await;
    let sender = Sender::new(&listener);
    let (id, secret) = sender.create().await;
    serve(listener, &[&secret]);
    (sender, id)
}

const BODY: &[u8] = br#"{"type":"order.paid","data":{"amount":1200}}"#;

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn accepted() -> (u16, String) {
    (204, String::new())
}

fn refused(code: &str) -> (u16, String) {
    (401, code.to_owned())
}

#[tokio::test]
async fn valid_deliveries_are_accepted_and_retries_too() {
    let (sender, _) = with_receiver().await;

    let delivery = sender.delivery(now()).await;
    let retry = delivery.resigned(now()).unwrap();
    assert_eq!(sender.send(delivery, None).await, accepted());
    assert_eq!(sender.send(retry, None).await, accepted());
}

#[tokio::test]
async fn a_tampered_body_is_refused() {
    let (sender, _) = with_receiver().await;

    let tampered = br#"{"type":"order.paid","data":{"amount":9900}}"#;
    let delivery = sender.delivery(now()).await;
    assert_eq!(
        sender.send(delivery, Some(tampered)).await,
        refused("signature_mismatch")
    );
    // Re-serialised JSON (a space more) is another body too.
    let delivery = sender.delivery(now()).await;
    let spaced = br#"{"type": "order.paid","data":{"amount":1200}}"#;
    assert_eq!(
        sender.send(delivery, Some(spaced)).await,
        refused("signature_mismatch")
    );
}

#[tokio::test]
async fn a_wrong_secret_is_refused() {
    let listener = bind().await;
    let sender = Sender::new(&listener);
    sender.create().await;
    serve(listener, &[&Secret::generate()]);

    let delivery = sender.delivery(now()).await;
    assert_eq!(
        sender.send(delivery, None).await,
        refused("signature_mismatch")
    );
}

#[tokio::test]
async fn an_old_or_future_timestamp_is_refused() {
    let (sender, _) = with_receiver().await;

    let old = sender.delivery(now() - 10 * 60).await;
    assert_eq!(sender.send(old, None).await, refused("timestamp_too_old"));
    let future = sender.delivery(now() + 10 * 60).await;
    assert_eq!(
        sender.send(future, None).await,
        refused("timestamp_too_new")
    );
    // A retry of the old delivery, re-signed now, is accepted.
    let old = sender.delivery(now() - 10 * 60).await;
    let retry = old.resigned(now()).unwrap();
    assert_eq!(sender.send(retry, None).await, accepted());
}

#[tokio::test]
async fn a_secret_rotated_away_without_overlap_is_refused() {
    let listener = bind().await;
    let sender = Sender::new(&listener);
    let (id, old_secret) = sender.create().await;
    // The receiver was never told about the rotation.
    serve(listener, &[&old_secret]);

    let before = sender.delivery(now()).await;
    assert_eq!(sender.send(before, None).await, accepted());
    sender
        .webhooks
        .rotate_secret(&sender.scope, id.as_str())
        .await
        .unwrap();
    let after = sender.delivery(now()).await;
    assert_eq!(after.headers().signature().split(' ').count(), 1);
    assert_eq!(
        sender.send(after, None).await,
        refused("signature_mismatch")
    );
}

#[tokio::test]
async fn during_an_overlap_receivers_knowing_either_secret_accept() {
    let old_listener = bind().await;
    let new_listener = bind().await;
    let sender = Sender::new(&old_listener);
    let (id, old_secret) = sender.create().await;
    let rotated = sender
        .webhooks
        .rotate_secret_with_overlap(&sender.scope, id.as_str(), TimeDelta::hours(1))
        .await
        .unwrap();
    let new_secret = rotated.secret().clone();
    // One receiver not yet switched, one already switched.
    let new_port = new_listener.local_addr().unwrap().port();
    serve(old_listener, &[&old_secret]);
    serve(new_listener, &[&new_secret]);

    let delivery = sender.delivery(now()).await;
    assert_eq!(delivery.headers().signature().split(' ').count(), 2);
    assert_eq!(sender.send(delivery.clone(), None).await, accepted());
    assert_eq!(sender.send_to(delivery, None, new_port).await, accepted());
}
