//! The service's own behaviour, whatever the store: bounded retries under interference,
//! store failures, `Send` futures and the store handles it accepts.
#![allow(clippy::unwrap_used)]

mod contract;

use std::error::Error as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::TimeDelta;
use webhook_kit::{
    AccountId, AccountType, DEFAULT_MAX_ATTEMPTS, MemoryStore, Scope, StoreError,
    UpdateWebhookRequest, Webhook, WebhookId, WebhookStore, Webhooks,
};

use contract::{create_request, new_scope, stored, url};

/// A memory store where, after each of the first `interferences` reads, another writer
/// disables the webhook just read: the reader's write then meets a newer revision.
#[derive(Default)]
struct Interfering {
    inner: MemoryStore,
    interferences: AtomicUsize,
    gets: AtomicUsize,
}

impl Interfering {
    fn new(interferences: usize) -> Self {
        Self {
            interferences: AtomicUsize::new(interferences),
            ..Self::default()
        }
    }

    fn gets(&self) -> usize {
        self.gets.load(Ordering::SeqCst)
    }
}

impl WebhookStore for Interfering {
    async fn insert(&self, webhook: &Webhook) -> Result<(), StoreError> {
        self.inner.insert(webhook).await
    }

    async fn get(&self, scope: &Scope, id: &WebhookId) -> Result<Option<Webhook>, StoreError> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        let found = self.inner.get(scope, id).await?;
        let interfere = self
            .interferences
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(1)
            })
            .is_ok();
        if let (Some(current), true) = (&found, interfere) {
            let mut parts = current.clone().into_parts();
            parts.revision += 1;
            parts.enabled = false;
            self.inner
                .replace(&Webhook::from_parts(parts), current.revision())
                .await?;
        }
        Ok(found)
    }

    async fn list(
        &self,
        scope: &Scope,
        account: Option<&AccountId>,
    ) -> Result<Vec<Webhook>, StoreError> {
        self.inner.list(scope, account).await
    }

    async fn replace(&self, webhook: &Webhook, expected_revision: u64) -> Result<(), StoreError> {
        self.inner.replace(webhook, expected_revision).await
    }

    async fn delete(&self, scope: &Scope, id: &WebhookId) -> Result<(), StoreError> {
        self.inner.delete(scope, id).await
    }
}

async fn created(webhooks: &Webhooks<&Interfering>, scope: &Scope) -> String {
    let created = webhooks
        .create(scope, create_request("a", &["acc_a"]))
        .await
        .unwrap();
    created.webhook().id().to_string()
}

#[tokio::test]
async fn a_change_that_loses_the_race_is_retried_and_keeps_the_winners_change() {
    let store = Interfering::new(0);
    let webhooks = Webhooks::new(&store);
    let scope = new_scope(AccountType::Live);
    let id = created(&webhooks, &scope).await;
    store.interferences.store(3, Ordering::SeqCst);
    let update = UpdateWebhookRequest::new(url("mine").parse().unwrap());
    let response = webhooks.update(&scope, &id, update).await.unwrap();
    assert_eq!(store.gets(), 4, "three lost races, then a win");
    // Both the interloper's change (disabled) and the update's (URL) are kept.
    assert!(!response.enabled());
    let last = stored(&webhooks, &scope, &id).await;
    assert_eq!(last.url().as_str(), url("mine"));
    assert!(!last.enabled());
    assert_eq!(last.revision(), 5);
}

#[tokio::test]
async fn a_rotation_that_loses_the_race_answers_the_secret_it_stored() {
    let store = Interfering::new(0);
    let webhooks = Webhooks::new(&store);
    let scope = new_scope(AccountType::Live);
    let id = created(&webhooks, &scope).await;
    store.interferences.store(2, Ordering::SeqCst);
    let rotated = webhooks
        .rotate_secret_with_overlap(&scope, &id, TimeDelta::hours(1))
        .await
        .unwrap();
    let last = stored(&webhooks, &scope, &id).await;
    assert_eq!(
        last.secret().expose_secret(),
        rotated.secret().expose_secret()
    );
    assert_eq!(last.previous_secrets().len(), 1);
    assert!(!last.enabled());
}

#[tokio::test]
async fn a_change_that_keeps_losing_is_a_conflict_after_bounded_attempts() {
    for (max_attempts, expected_gets) in [
        (None, DEFAULT_MAX_ATTEMPTS as usize),
        (Some(3), 3),
        (Some(0), 1),
    ] {
        let store = Interfering::new(0);
        let mut webhooks = Webhooks::new(&store);
        if let Some(max_attempts) = max_attempts {
            webhooks = webhooks.with_max_attempts(max_attempts);
        }
        let scope = new_scope(AccountType::Live);
        let id = created(&webhooks, &scope).await;
        store.interferences.store(usize::MAX, Ordering::SeqCst);
        let update = UpdateWebhookRequest::new(url("mine").parse().unwrap());
        let error = webhooks.update(&scope, &id, update).await.unwrap_err();
        assert_eq!((error.code(), error.http_status()), ("conflict", 409));
        assert!(error.is_retryable());
        assert_eq!(store.gets(), expected_gets, "{max_attempts:?}");
        store.interferences.store(0, Ordering::SeqCst);
        let last = stored(&webhooks, &scope, &id).await;
        assert_eq!(last.url().as_str(), url("a"), "the update was not written");
        assert_eq!(last.revision(), 1 + expected_gets as u64);

        store.interferences.store(usize::MAX, Ordering::SeqCst);
        let error = webhooks.rotate_secret(&scope, &id).await.unwrap_err();
        assert_eq!(error.code(), "conflict");
        store.interferences.store(0, Ordering::SeqCst);
        let after = stored(&webhooks, &scope, &id).await;
        assert_eq!(
            after.secret().expose_secret(),
            last.secret().expose_secret()
        );
    }
}

/// A store whose backend is down.
struct Broken;

const BACKEND_DETAIL: &str = "connect to db.internal:5432 as admin password=hunter2 failed";

fn broken() -> StoreError {
    StoreError::retryable(std::io::Error::other(BACKEND_DETAIL))
}

impl WebhookStore for Broken {
    async fn insert(&self, _: &Webhook) -> Result<(), StoreError> {
        Err(broken())
    }

    async fn get(&self, _: &Scope, _: &WebhookId) -> Result<Option<Webhook>, StoreError> {
        Err(broken())
    }

    async fn list(&self, _: &Scope, _: Option<&AccountId>) -> Result<Vec<Webhook>, StoreError> {
        Err(broken())
    }

    async fn replace(&self, _: &Webhook, _: u64) -> Result<(), StoreError> {
        Err(broken())
    }

    async fn delete(&self, _: &Scope, _: &WebhookId) -> Result<(), StoreError> {
        Err(broken())
    }
}

#[tokio::test]
async fn store_failures_are_internal_errors_that_show_nothing_of_the_backend() {
    let webhooks = Webhooks::new(Broken);
    let scope = new_scope(AccountType::Live);
    let id = WebhookId::generate().to_string();
    let update = || UpdateWebhookRequest::new(url("a").parse().unwrap());
    let errors = [
        webhooks
            .create(&scope, create_request("a", &[]))
            .await
            .map(|_| ())
            .unwrap_err(),
        webhooks.list(&scope, None).await.map(|_| ()).unwrap_err(),
        webhooks
            .list(&scope, Some("acc_a"))
            .await
            .map(|_| ())
            .unwrap_err(),
        webhooks.get(&scope, &id).await.map(|_| ()).unwrap_err(),
        webhooks
            .update(&scope, &id, update())
            .await
            .map(|_| ())
            .unwrap_err(),
        webhooks.delete(&scope, &id).await.unwrap_err(),
        webhooks
            .rotate_secret(&scope, &id)
            .await
            .map(|_| ())
            .unwrap_err(),
        webhooks
            .rotate_secret_with_overlap(&scope, &id, TimeDelta::hours(1))
            .await
            .map(|_| ())
            .unwrap_err(),
    ];
    for error in errors {
        assert_eq!((error.code(), error.http_status()), ("internal_error", 500));
        assert!(error.is_retryable());
        let shown = format!(
            "{error} {}",
            serde_json::to_string(&error.to_body()).unwrap()
        );
        assert!(
            !shown.contains("hunter2") && !shown.contains("db.internal"),
            "{shown}"
        );
        // The source is kept for the host's logs.
        let mut source = error.source();
        let mut chain = Vec::new();
        while let Some(cause) = source {
            chain.push(cause.to_string());
            source = cause.source();
        }
        assert!(
            chain.iter().any(|cause| cause == BACKEND_DETAIL),
            "{chain:?}"
        );
    }
    // Input is checked before the store is asked.
    assert_eq!(
        webhooks.get(&scope, "nope").await.unwrap_err().code(),
        "not_found"
    );
    let update = UpdateWebhookRequest::new("https://example.com/b".parse().unwrap());
    assert_eq!(
        webhooks
            .update(&scope, "nope", update)
            .await
            .unwrap_err()
            .code(),
        "id_invalid"
    );
}

fn assert_send<T: Send>(value: T) -> T {
    value
}

#[tokio::test]
async fn the_service_runs_on_any_store_handle_and_its_futures_are_send() {
    let store = Arc::new(MemoryStore::new());
    let shared = Webhooks::new(Arc::clone(&store));
    let borrowed = Webhooks::new(&*store);
    let scope = new_scope(AccountType::Test);
    let created = assert_send(shared.create(&scope, create_request("a", &[])))
        .await
        .unwrap();
    let id = created.webhook().id().to_string();
    // What one handle wrote, the other reads.
    assert_eq!(
        assert_send(borrowed.get(&scope, &id)).await.unwrap(),
        *created.webhook()
    );
    assert_eq!(
        assert_send(borrowed.list(&scope, None))
            .await
            .unwrap()
            .len(),
        1
    );
    let update = UpdateWebhookRequest::new(url("b").parse().unwrap());
    assert_send(borrowed.update(&scope, &id, update))
        .await
        .unwrap();
    assert_send(shared.rotate_secret(&scope, &id))
        .await
        .unwrap();
    assert_send(shared.rotate_secret_with_overlap(&scope, &id, TimeDelta::hours(1)))
        .await
        .unwrap();
    assert_send(shared.delete(&scope, &id)).await.unwrap();
    assert!(store.list(&scope, None).await.unwrap().is_empty());
    // A host spawns the operations on a multi-threaded runtime.
    let spawned = Arc::new(shared);
    let task = tokio::spawn({
        let (webhooks, scope) = (Arc::clone(&spawned), scope.clone());
        async move { webhooks.create(&scope, create_request("c", &[])).await }
    });
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn debug_output_never_shows_a_secret() {
    let webhooks = Webhooks::new(MemoryStore::new());
    let scope = new_scope(AccountType::Live);
    let created = webhooks
        .create(&scope, create_request("a", &[]))
        .await
        .unwrap();
    let id = created.webhook().id().to_string();
    let rotated = webhooks
        .rotate_secret_with_overlap(&scope, &id, TimeDelta::hours(1))
        .await
        .unwrap();
    let full = webhooks.webhook(&scope, &id).await.unwrap();
    let shown = format!("{webhooks:?} {created:?} {rotated:?} {full:?}");
    for secret in [created.secret(), rotated.secret()] {
        let text = secret.expose_secret();
        assert!(!shown.contains(&text["whsec_".len()..]), "{shown}");
    }
    assert!(shown.contains("[REDACTED]"));
}
