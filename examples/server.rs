//! A complete webhook-registration service: the seed's API (`webhook_kit::api`) on SQLite,
//! with bearer tokens mapped to scopes, serving its OpenAPI document at `/v1/openapi.json`.
//!
//! ```text
//! WEBHOOK_KIT_TOKENS='tok_live=org_acme:live,tok_test=org_acme:test' \
//! WEBHOOK_KIT_DB=webhooks.db \
//!     cargo run --example server --features axum,sqlite
//! ```
//!
//! - `WEBHOOK_KIT_TOKENS`: `token=organization:live|test`, comma-separated (required).
//! - `WEBHOOK_KIT_ADDR`: where to listen, `127.0.0.1:8080` by default.
//! - `WEBHOOK_KIT_DB`: the SQLite file, `webhook-kit.db` by default (created when missing).
//! - `WEBHOOK_KIT_KEY`: base64 of 32 bytes sealing the secrets at rest; without it they are
//!   stored in plaintext (a warning says so).

use std::collections::HashMap;
use std::error::Error as StdError;

use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use webhook_kit::api::{Api, Authenticate, Unauthorized};
use webhook_kit::{EncryptionKey, Keyring, Scope, SqliteStore, Webhooks};

/// Bearer tokens, kept as SHA-256 digests: looking one up compares digests, so the time it
/// takes says nothing about the tokens, and the tokens themselves are not kept in memory.
struct BearerTokens(HashMap<[u8; 32], Scope>);

impl BearerTokens {
    /// Parses `token=organization:live|test,…`.
    fn parse(text: &str) -> Result<Self, String> {
        let mut tokens = HashMap::new();
        for entry in text
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
        {
            let invalid = || format!("expected `token=organization:live|test`, got {entry:?}");
            let (token, scope) = entry.split_once('=').ok_or_else(invalid)?;
            let (organization, mode) = scope.split_once(':').ok_or_else(invalid)?;
            let scope = Scope::new(
                organization.parse().map_err(|_| invalid())?,
                mode.parse().map_err(|_| invalid())?,
            );
            if token.is_empty() || tokens.insert(digest(token), scope).is_some() {
                return Err(format!("empty or repeated token in {entry:?}"));
            }
        }
        if tokens.is_empty() {
            return Err("no token given".to_owned());
        }
        Ok(Self(tokens))
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Authenticate for BearerTokens {
    async fn authenticate(&self, request: &Parts) -> Result<Scope, Unauthorized> {
        let token = request
            .headers
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or_else(|| Unauthorized::new("send `authorization: Bearer <token>`"))?;
        self.0
            .get(&digest(token))
            .cloned()
            .ok_or_else(|| Unauthorized::new("unknown token"))
    }
}

/// The service's router over the SQLite file at `path`.
async fn app(path: &str, tokens: BearerTokens) -> Result<axum::Router, Box<dyn StdError>> {
    let mut store = SqliteStore::open(path).await?;
    match std::env::var("WEBHOOK_KIT_KEY") {
        Ok(key) => store = store.with_keyring(Keyring::new(EncryptionKey::from_base64(1, &key)?)),
        Err(_) => eprintln!("warning: no WEBHOOK_KIT_KEY, secrets are stored in plaintext"),
    }
    store.migrate().await?;
    Ok(Api::new(Webhooks::new(store), tokens)
        .serving_openapi()
        .into_router())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn StdError>> {
    let tokens = BearerTokens::parse(
        &std::env::var("WEBHOOK_KIT_TOKENS").map_err(|_| "set WEBHOOK_KIT_TOKENS")?,
    )?;
    let addr = std::env::var("WEBHOOK_KIT_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".to_owned());
    let path = std::env::var("WEBHOOK_KIT_DB").unwrap_or_else(|_| "webhook-kit.db".to_owned());
    let router = app(&path, tokens).await?;
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("serving the webhook API on http://{addr}/v1/webhooks ({path})");
    axum::serve(listener, router).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn tokens_parse_or_say_what_is_wrong() {
        let tokens = BearerTokens::parse(" a=org_1:live, b=org_1:test ,").unwrap();
        assert_eq!(tokens.0.len(), 2);
        assert_eq!(tokens.0[&digest("b")].account_type().as_str(), "test");
        for bad in [
            "",
            "a",
            "a=org_1",
            "a=org_1:prod",
            "=org_1:live",
            "a=org_1:live,a=org_2:live",
        ] {
            assert!(BearerTokens::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn serves_the_api_and_its_document_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("webhooks.db");
        let tokens = BearerTokens::parse("t1=org_1:live,t2=org_2:live").unwrap();
        let router = app(path.to_str().unwrap(), tokens).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        // reqwest comes without a TLS crypto provider in a build with `send`.
        let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::new();

        let created = client
            .post(format!("{base}/v1/webhooks"))
            .header("authorization", "Bearer t1")
            .body(r#"{"url": "https://example.com/hook"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(created.status().as_u16(), 201);
        let created: serde_json::Value =
            serde_json::from_str(&created.text().await.unwrap()).unwrap();
        let item = format!("{base}/v1/webhooks/{}", created["id"].as_str().unwrap());
        let status = |token: &'static str| {
            let request = client
                .get(&item)
                .header("authorization", format!("Bearer {token}"));
            async move { request.send().await.unwrap().status().as_u16() }
        };
        assert_eq!(status("t1").await, 200);
        assert_eq!(status("t2").await, 404);
        assert_eq!(status("nope").await, 401);
        let document = client
            .get(format!("{base}/v1/openapi.json"))
            .send()
            .await
            .unwrap();
        assert_eq!(document.status().as_u16(), 200);
        assert!(
            document
                .text()
                .await
                .unwrap()
                .contains("/v1/webhooks/{id}/rotate-secret")
        );
    }
}
