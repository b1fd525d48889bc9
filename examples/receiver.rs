//! A webhook receiver (axum) that verifies Standard Webhooks signatures with webhook-kit's
//! `VerifiedWebhook` extractor (feature `axum`).
//!
//! - The extractor verifies from the raw body bytes, exactly as received (never parse the
//!   JSON and serialise it again before verifying: a single changed byte breaks the
//!   signature), reading at most 1 MiB.
//! - It answers `401` with `{"code": …, "message": …}` when verification fails (the code says
//!   which check: `signature_mismatch`, `timestamp_too_old`, `header_missing` …).
//! - Its replay guard de-duplicates by `webhook-id`: a sender retries with the same id, so an
//!   id seen before is acknowledged (`200`, `duplicate`) without running the handler again.
//!   Ids are recorded only after the signature verified (nobody can poison the guard), only
//!   while their timestamp is within the tolerance, and at most 10,000 here, so memory stays
//!   bounded. A handler that fails releases the id, so the sender's retry is handled.
//!
//! Run:
//!
//! ```text
//! WEBHOOK_SECRET=whsec_… cargo run --example receiver --features axum
//! ```
//!
//! `WEBHOOK_SECRET` holds the webhook's secret; during a rotation it may hold several,
//! space-separated, and a delivery signed by any of them is accepted. It listens on
//! `127.0.0.1:3000` (`RECEIVER_ADDR` to change it) at `POST /webhooks`.

use std::error::Error as StdError;
use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use webhook_kit::api::{MemoryReplayGuard, Receiver, VerifiedWebhook};
use webhook_kit::{Secret, Verifier};

/// How many recent `webhook-id`s are remembered for de-duplication.
const REMEMBERED_IDS: usize = 10_000;

/// The receiver's routes: `POST /webhooks`.
fn app(verifier: Verifier, remembered_ids: usize) -> Router {
    let receiver =
        Receiver::new(verifier).with_replay_guard(MemoryReplayGuard::new(remembered_ids));
    Router::new()
        .route("/webhooks", post(receive))
        .with_state(Arc::new(receiver))
}

/// Runs only for a verified delivery seen for the first time.
async fn receive(webhook: VerifiedWebhook) -> StatusCode {
    match webhook.json::<serde_json::Value>() {
        Ok(event) => {
            println!("{}: {event}", webhook.id());
            StatusCode::NO_CONTENT
        }
        Err(_) => {
            // Failed: forget the id, so that the sender's retry is handled again.
            webhook.release();
            StatusCode::UNPROCESSABLE_ENTITY
        }
    }
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
        let (status, answer) = post(&url, &signer, "msg_1", BODY).await;
        assert_eq!(status, 200);
        let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(answer["code"], "duplicate");

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

    #[tokio::test]
    async fn a_failed_handling_is_released_and_handled_again() {
        let secret = Secret::generate();
        let url = start(&secret, 2).await;
        let signer = Signer::from_secret(&secret);
        let not_json = b"not json";
        let signed = signer.headers_now("msg_x", not_json).unwrap();
        let send = || {
            let mut request = client().post(&url).body(not_json.to_vec());
            for (name, value) in signed.pairs() {
                request = request.header(name, value);
            }
            request.send()
        };
        assert_eq!(send().await.unwrap().status().as_u16(), 422);
        // Not a duplicate: the handler ran again.
        assert_eq!(send().await.unwrap().status().as_u16(), 422);
    }
}
