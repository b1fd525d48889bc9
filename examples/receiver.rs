//! A webhook receiver (axum) that verifies Standard Webhooks signatures with webhook-kit.
//!
//! - Verifies from the raw body bytes, exactly as received: never parse the JSON and
//!   serialise it again before verifying, a single changed byte breaks the signature.
//! - Answers `401` with `{"code": …, "message": …}` when verification fails (the code says
//!   which check: `signature_mismatch`, `timestamp_too_old`, `header_missing` …).
//! - De-duplicates by `webhook-id`: a sender retries with the same id, so an id seen before
//!   is acknowledged (`200`) and not processed again. Ids are recorded only after the
//!   signature verified (nobody can poison the set), and only the last 10,000 are kept, so
//!   memory stays bounded.
//!
//! Run:
//!
//! ```text
//! WEBHOOK_SECRET=whsec_… cargo run --example receiver --features http
//! ```
//!
//! `WEBHOOK_SECRET` holds the webhook's secret; during a rotation it may hold several,
//! space-separated, and a delivery signed by any of them is accepted. It listens on
//! `127.0.0.1:3000` (`RECEIVER_ADDR` to change it) at `POST /webhooks`.

use std::collections::{HashSet, VecDeque};
use std::error::Error as StdError;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use webhook_kit::{HEADER_ID, Secret, Verifier};

/// How many recent `webhook-id`s are remembered for de-duplication.
const REMEMBERED_IDS: usize = 10_000;

/// The last `capacity` ids seen, oldest evicted first.
struct RecentIds {
    ids: HashSet<String>,
    order: VecDeque<String>,
    capacity: usize,
}

impl RecentIds {
    fn new(capacity: usize) -> Self {
        Self {
            ids: HashSet::with_capacity(capacity),
            order: VecDeque::with_capacity(capacity),
            capacity,
        }
    }

    /// Records `id`; `false` when it was already there.
    fn insert(&mut self, id: &str) -> bool {
        if self.ids.contains(id) {
            return false;
        }
        if self.order.len() >= self.capacity
            && let Some(oldest) = self.order.pop_front()
        {
            self.ids.remove(&oldest);
        }
        self.ids.insert(id.to_owned());
        self.order.push_back(id.to_owned());
        true
    }
}

struct Receiver {
    verifier: Verifier,
    seen: Mutex<RecentIds>,
}

/// The receiver's routes: `POST /webhooks`.
fn app(verifier: Verifier, remembered_ids: usize) -> Router {
    let receiver = Arc::new(Receiver {
        verifier,
        seen: Mutex::new(RecentIds::new(remembered_ids)),
    });
    Router::new()
        .route("/webhooks", post(receive))
        .with_state(receiver)
}

async fn receive(
    State(receiver): State<Arc<Receiver>>,
    headers: HeaderMap,
    // The raw bytes: what was signed.
    body: Bytes,
) -> Response {
    if let Err(error) = receiver.verifier.verify(&headers, &body) {
        let answer = serde_json::json!({ "code": error.code(), "message": error.to_string() });
        return (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "application/json")],
            answer.to_string(),
        )
            .into_response();
    }
    // Verified, so the id is present once and is visible ASCII.
    let id = headers
        .get(HEADER_ID)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let first_time = receiver
        .seen
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(id);
    if !first_time {
        return (StatusCode::OK, "duplicate").into_response();
    }
    // Only now parse the body, and do the work.
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(event) => println!("{id}: {event}"),
        Err(_) => println!("{id}: {} bytes, not JSON", body.len()),
    }
    StatusCode::NO_CONTENT.into_response()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn StdError>> {
    let secrets = std::env::var("WEBHOOK_SECRET")
        .map_err(|_| "set WEBHOOK_SECRET to the webhook's secret (whsec_…)")?;
    let secrets = secrets
        .split_whitespace()
        .map(str::parse::<Secret>)
        .collect::<Result<Vec<_>, _>>()?;
    let verifier = Verifier::new(&secrets)?;
    let addr = std::env::var("RECEIVER_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("receiving on http://{addr}/webhooks");
    axum::serve(listener, app(verifier, REMEMBERED_IDS)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use webhook_kit::Signer;

    const BODY: &[u8] = br#"{"type":"order.paid"}"#;

    /// The receiver on loopback, remembering `remembered` ids; its URL.
    async fn start(secret: &Secret, remembered: usize) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/webhooks", listener.local_addr().unwrap());
        let app = app(Verifier::from_secret(secret), remembered);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }

    /// A plain-HTTP client. With the `send` feature in the build, reqwest's TLS comes
    /// without a crypto provider (the transport brings its own), so one is installed as the
    /// process default first.
    fn client() -> reqwest::Client {
        let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::new()
    }

    /// Posts `body` with the headers `signer` makes for `BODY`: a different `body` is a
    /// tampered delivery.
    async fn post(url: &str, signer: &Signer, id: &str, body: &[u8]) -> (u16, String) {
        let signed = signer.headers_now(id, BODY).unwrap();
        let mut request = client().post(url).body(body.to_vec());
        for (name, value) in signed.pairs() {
            request = request.header(name, value);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    #[tokio::test]
    async fn accepts_verified_deliveries_once_and_refuses_others_with_the_code() {
        let secret = Secret::generate();
        let url = start(&secret, 2).await;
        let signer = Signer::from_secret(&secret);

        assert_eq!(post(&url, &signer, "msg_1", BODY).await.0, 204);
        assert_eq!(
            post(&url, &signer, "msg_1", BODY).await,
            (200, "duplicate".to_owned())
        );

        let (status, answer) = post(&url, &signer, "msg_2", b"{\"type\": \"order.paid\"}").await;
        assert_eq!(status, 401);
        let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(answer["code"], "signature_mismatch");
        // A refused delivery is not remembered: the genuine one still goes through.
        assert_eq!(post(&url, &signer, "msg_2", BODY).await.0, 204);

        let stranger = Signer::from_secret(&Secret::generate());
        let (status, answer) = post(&url, &stranger, "msg_3", BODY).await;
        assert_eq!(status, 401);
        assert!(answer.contains("signature_mismatch"), "{answer}");

        let unsigned = client().post(&url).body(BODY).send().await.unwrap();
        assert_eq!(unsigned.status().as_u16(), 401);
        assert!(unsigned.text().await.unwrap().contains("header_missing"));
    }

    #[tokio::test]
    async fn remembers_a_bounded_number_of_ids() {
        let secret = Secret::generate();
        let url = start(&secret, 2).await;
        let signer = Signer::from_secret(&secret);
        for id in ["msg_a", "msg_b", "msg_c"] {
            assert_eq!(post(&url, &signer, id, BODY).await.0, 204);
        }
        // `msg_a` was evicted by `msg_c`; `msg_c` is still remembered.
        assert_eq!(post(&url, &signer, "msg_c", BODY).await.0, 200);
        assert_eq!(post(&url, &signer, "msg_a", BODY).await.0, 204);
    }

    #[test]
    fn recent_ids_stay_within_capacity() {
        let mut recent = RecentIds::new(3);
        for index in 0..100 {
            assert!(recent.insert(&format!("msg_{index}")));
            assert!(recent.ids.len() <= 3 && recent.order.len() <= 3);
        }
        assert!(!recent.insert("msg_99"));
        assert!(recent.insert("msg_0"));
    }
}
