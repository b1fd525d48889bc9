//! `GET /v1/webhooks/{id}` through the router (memory store, authentication, rate limit
//! off, the service, JSON) against a bare axum handler answering the same JSON bytes,
//! both over loopback HTTP/1.1 with a kept-alive client, timed in alternation in the same
//! run (the goal: the router within 1.3×). `with_rate_limit` adds the default per-scope
//! token bucket.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

#[path = "support/paired.rs"]
mod paired;

use std::hint::black_box;

use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use paired::paired;
use tokio::runtime::Runtime;
use webhook_kit::api::{Api, Authenticate, Unauthorized};
use webhook_kit::{AccountType, CreateWebhookRequest, MemoryStore, Scope, Webhooks};

struct OneToken(Scope);

impl Authenticate for OneToken {
    async fn authenticate(&self, request: &Parts) -> Result<Scope, Unauthorized> {
        match request.headers.get("authorization") {
            Some(value) if value.as_bytes() == b"Bearer bench" => Ok(self.0.clone()),
            _ => Err(Unauthorized::default()),
        }
    }
}

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    base
}

fn router_against_bare_handler(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let scope = Scope::new("org_bench".parse().unwrap(), AccountType::Live);
    let (limited, unlimited, bare, path, expected) = runtime.block_on(async {
        let webhooks = Webhooks::new(std::sync::Arc::new(MemoryStore::new()));
        let created = webhooks
            .create(
                &scope,
                CreateWebhookRequest::new("https://example.com/hooks".parse().unwrap()),
            )
            .await
            .unwrap();
        let id = created.webhook().id().to_string();
        let expected = serde_json::to_vec(&webhooks.get(&scope, &id).await.unwrap()).unwrap();
        let unlimited = Api::new(webhooks.clone(), OneToken(scope.clone()))
            .without_rate_limit()
            .into_router();
        // The default rate limit, with a bucket the bench never empties.
        let limited = Api::new(webhooks, OneToken(scope.clone()))
            .with_rate_limit(webhook_kit::api::RateLimit::per_second(
                std::num::NonZeroU32::MAX,
            ))
            .into_router();
        let bytes = axum::body::Bytes::from(expected.clone());
        let bare = axum::Router::new().route(
            "/v1/webhooks/{id}",
            get(move || {
                let bytes = bytes.clone();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            HeaderValue::from_static("application/json"),
                        )],
                        bytes,
                    )
                }
            }),
        );
        (
            serve(limited).await,
            serve(unlimited).await,
            serve(bare).await,
            format!("/v1/webhooks/{id}"),
            expected,
        )
    });
    // reqwest comes without a TLS crypto provider in a build with `send`.
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(4)
        .build()
        .unwrap();
    let fetch = |base: &str| {
        let request = client
            .get(format!("{base}{path}"))
            .header("authorization", "Bearer bench");
        let expected = &expected;
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status().as_u16(), 200);
            let body = response.bytes().await.unwrap();
            assert_eq!(&body[..], &expected[..]);
            black_box(body);
        }
    };
    let mut group = c.benchmark_group("get_webhook");
    paired(
        &mut group,
        "get_webhook",
        &runtime,
        ("router", async || fetch(&unlimited).await),
        ("bare_axum", async || fetch(&bare).await),
    );
    group.finish();
    let mut group = c.benchmark_group("get_webhook_rate_limited");
    paired(
        &mut group,
        "get_webhook_rate_limited",
        &runtime,
        ("router_with_rate_limit", async || fetch(&limited).await),
        ("bare_axum", async || fetch(&bare).await),
    );
    group.finish();
}

criterion_group!(benches, router_against_bare_handler);
criterion_main!(benches);
