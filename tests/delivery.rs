//! Routing an event to its webhooks, and the signed deliveries it makes: who gets what,
//! signatures that verify with this crate and with the peer `standardwebhooks`, rotation
//! overlap, retries, the `http` conversion.
#![allow(clippy::unwrap_used)]

use chrono::TimeDelta;
#[cfg(feature = "http")]
use webhook_kit::DestinationPolicy;
use webhook_kit::{
    AccountFilter, AccountId, AccountType, CONTENT_TYPE, CreateWebhookRequest, Delivery, Event,
    EventId, MemoryStore, PreviousSecret, Scope, Secret, StoreError, UpdateWebhookRequest,
    Verifier, VerifyError, Webhook, WebhookId, WebhookStore, WebhookUrl, Webhooks,
};

const NOW: i64 = 1_900_000_000;

fn scope(org: &str, account_type: AccountType) -> Scope {
    Scope::new(org.parse().unwrap(), account_type)
}

fn live() -> Scope {
    scope("org_1", AccountType::Live)
}

fn event(scope: Scope, account: &str, body: &[u8]) -> Event {
    Event::new(EventId::generate(), scope, account.parse().unwrap(), body)
}

struct Created {
    id: WebhookId,
    secret: Secret,
}

async fn create(
    webhooks: &Webhooks<MemoryStore>,
    scope: &Scope,
    url: &str,
    accounts: &[&str],
) -> Created {
    let url: WebhookUrl = url.parse().unwrap();
    let mut request = CreateWebhookRequest::new(url);
    if !accounts.is_empty() {
        let filter = AccountFilter::from_ids(accounts.iter().map(|a| a.parse().unwrap())).unwrap();
        request = request.with_account_filter(filter);
    }
    let created = webhooks.create(scope, request).await.unwrap();
    Created {
        id: created.webhook().id().clone(),
        secret: created.secret().clone(),
    }
}

/// The one delivery of `event` at `timestamp`.
async fn only(webhooks: &Webhooks<MemoryStore>, event: &Event, timestamp: i64) -> Delivery {
    let mut deliveries = webhooks
        .deliveries(event, timestamp)
        .await
        .unwrap()
        .into_vec();
    assert_eq!(deliveries.len(), 1);
    deliveries.pop().unwrap()
}

/// Whether a redelivery of `event` to `id` gives nothing.
async fn gone(webhooks: &Webhooks<MemoryStore>, event: &Event, id: &WebhookId) -> bool {
    webhooks.redeliver(event, id, NOW).await.unwrap().is_none()
}

fn ids(deliveries: &[Delivery]) -> Vec<&WebhookId> {
    deliveries.iter().map(Delivery::webhook_id).collect()
}

#[tokio::test]
async fn only_enabled_webhooks_of_the_scope_and_account_get_the_event() {
    let webhooks = Webhooks::new(MemoryStore::new());
    let unfiltered = create(&webhooks, &live(), "https://a.example.com/all", &[]).await;
    let matching = create(
        &webhooks,
        &live(),
        "https://b.example.com/acc",
        &["acc_1", "acc_2"],
    )
    .await;
    let other_account = create(&webhooks, &live(), "https://c.example.com/x", &["acc_9"]).await;
    let disabled = create(&webhooks, &live(), "https://d.example.com/off", &[]).await;
    let update =
        UpdateWebhookRequest::new("https://d.example.com/off".parse().unwrap()).with_enabled(false);
    webhooks
        .update(&live(), disabled.id.as_str(), update)
        .await
        .unwrap();
    let other_org = scope("org_2", AccountType::Live);
    create(&webhooks, &other_org, "https://e.example.com/org2", &[]).await;
    let test_mode = scope("org_1", AccountType::Test);
    create(&webhooks, &test_mode, "https://f.example.com/test", &[]).await;

    let event = event(live(), "acc_1", br#"{"type":"order.paid"}"#);
    let deliveries = webhooks.deliveries(&event, NOW).await.unwrap();
    assert_eq!(ids(&deliveries), [&unfiltered.id, &matching.id]);
    assert_eq!(deliveries[0].url().as_str(), "https://a.example.com/all");
    assert_eq!(deliveries[1].url().as_str(), "https://b.example.com/acc");
    for delivery in &deliveries {
        assert_eq!(delivery.event_id(), event.id());
        assert_eq!(delivery.timestamp(), NOW);
        assert_eq!(delivery.body(), event.body());
        // Shared with the event, not copied.
        assert!(std::sync::Arc::ptr_eq(
            delivery.shared_body(),
            event.shared_body()
        ));
    }
    assert!(!ids(&deliveries).contains(&&other_account.id));

    // Another account of the organisation: only the unfiltered webhook.
    let elsewhere = self::event(live(), "acc_3", b"{}");
    let deliveries = webhooks.deliveries(&elsewhere, NOW).await.unwrap();
    assert_eq!(ids(&deliveries), [&unfiltered.id]);

    // The same account in test mode, and in another organisation: only their own webhooks.
    let in_test = self::event(test_mode.clone(), "acc_1", b"{}");
    let deliveries = webhooks.deliveries(&in_test, NOW).await.unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].url().as_str(), "https://f.example.com/test");
    let in_org2 = self::event(other_org, "acc_1", b"{}");
    let deliveries = webhooks.deliveries(&in_org2, NOW).await.unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].url().as_str(), "https://e.example.com/org2");

    // An organisation without webhooks gets nothing.
    let nobody = self::event(scope("org_3", AccountType::Live), "acc_1", b"{}");
    assert!(webhooks.deliveries(&nobody, NOW).await.unwrap().is_empty());

    // Re-enabling brings the disabled webhook back.
    let update =
        UpdateWebhookRequest::new("https://d.example.com/off".parse().unwrap()).with_enabled(true);
    webhooks
        .update(&live(), disabled.id.as_str(), update)
        .await
        .unwrap();
    let deliveries = webhooks.deliveries(&elsewhere, NOW).await.unwrap();
    assert_eq!(ids(&deliveries), [&unfiltered.id, &disabled.id]);
}

#[tokio::test]
async fn deliveries_carry_the_four_headers_and_verify_with_both_implementations() {
    let webhooks = Webhooks::new(MemoryStore::new());
    let created = create(&webhooks, &live(), "https://example.com/hook", &[]).await;
    let body = br#"{"type":"order.paid","amount":1200}"#;
    let event = event(live(), "acc_1", body);
    let delivery = only(&webhooks, &event, NOW).await;

    let pairs = delivery.header_pairs();
    assert_eq!(pairs[0], ("content-type", CONTENT_TYPE));
    assert_eq!(CONTENT_TYPE, "application/json");
    assert_eq!(pairs[1], ("webhook-id", event.id().as_str()));
    assert_eq!(pairs[2], ("webhook-timestamp", "1900000000"));
    assert_eq!(pairs[3].0, "webhook-signature");
    assert!(pairs[3].1.starts_with("v1,"));
    assert_eq!(pairs[3].1.split(' ').count(), 1);

    let verifier = Verifier::from_secret(&created.secret);
    assert_eq!(verifier.verify_at(&pairs, body, NOW + 30), Ok(()));
    assert_eq!(
        verifier.verify_at(&pairs, b"{}", NOW + 30),
        Err(VerifyError::NoMatchingSignature)
    );

    let peer = standardwebhooks::Webhook::new(created.secret.expose_secret()).unwrap();
    let mut map = http::HeaderMap::new();
    for (name, value) in pairs {
        map.insert(name, value.parse().unwrap());
    }
    // The peer verifies against the system clock: sign a copy for now.
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    let fresh = delivery.resigned(now).unwrap();
    let mut map_now = http::HeaderMap::new();
    for (name, value) in fresh.header_pairs() {
        map_now.insert(name, value.parse().unwrap());
    }
    assert!(peer.verify(body, &map_now).is_ok());
    assert!(peer.verify(b"{}", &map_now).is_err());
    // …and refuses the one timestamped in the future, as ours does.
    assert!(peer.verify(body, &map).is_err());
}

#[tokio::test]
async fn a_retry_keeps_the_id_and_changes_timestamp_and_signature() {
    let webhooks = Webhooks::new(MemoryStore::new());
    let created = create(&webhooks, &live(), "https://example.com/hook", &[]).await;
    let event = event(live(), "acc_1", b"{\"n\":1}");
    let first = only(&webhooks, &event, NOW).await;
    let retry = first.resigned(NOW + 120).unwrap();

    assert_eq!(retry.headers().id(), first.headers().id());
    assert_eq!(retry.event_id(), first.event_id());
    assert_eq!(retry.webhook_id(), first.webhook_id());
    assert_eq!(retry.url(), first.url());
    assert_eq!(retry.body(), first.body());
    assert_eq!(retry.timestamp(), NOW + 120);
    assert_eq!(retry.headers().timestamp(), "1900000120");
    assert_ne!(retry.headers().signature(), first.headers().signature());

    let verifier = Verifier::from_secret(&created.secret);
    assert_eq!(
        verifier.verify_at(retry.headers(), retry.body(), NOW + 121),
        Ok(())
    );
    // The first attempt is too old by then; the retry is not.
    assert_eq!(
        verifier.verify_at(first.headers(), first.body(), NOW + 420),
        Err(VerifyError::TimestampTooOld)
    );
    assert_eq!(
        verifier.verify_at(retry.headers(), retry.body(), NOW + 420),
        Ok(())
    );
    assert_eq!(
        first.resigned(-1).unwrap_err(),
        webhook_kit::SignError::InvalidTimestamp
    );
}

#[tokio::test]
async fn during_an_overlap_both_secrets_sign_newest_first_until_it_ends() {
    let webhooks = Webhooks::new(MemoryStore::new());
    let created = create(&webhooks, &live(), "https://example.com/hook", &[]).await;
    let rotated = webhooks
        .rotate_secret_with_overlap(&live(), created.id.as_str(), TimeDelta::hours(1))
        .await
        .unwrap();
    let new_secret = rotated.secret().clone();
    let stored = webhooks
        .webhook(&live(), created.id.as_str())
        .await
        .unwrap();
    // The first whole second at or after the end of the overlap (it is kept in milliseconds).
    let expires_at = stored.previous_secrets()[0].expires_at;
    let ends = expires_at.timestamp() + i64::from(expires_at.timestamp_subsec_nanos() > 0);

    let now = chrono::Utc::now().timestamp();
    let event = event(live(), "acc_1", b"{}");
    let during = only(&webhooks, &event, now).await;
    let signatures: Vec<&str> = during.headers().signature().split(' ').collect();
    assert_eq!(signatures.len(), 2);
    // Newest first: the first signature is the new secret's alone.
    let only_new = webhook_kit::Signer::from_secret(&new_secret)
        .sign(event.id().as_str(), now, b"{}")
        .unwrap();
    assert_eq!(signatures[0], only_new);
    for secret in [&created.secret, &new_secret] {
        let verifier = Verifier::from_secret(secret);
        assert_eq!(verifier.verify_at(during.headers(), b"{}", now), Ok(()));
    }

    // A delivery timestamped at the end of the overlap is signed by the new secret only.
    let after = only(&webhooks, &event, ends).await;
    assert_eq!(after.headers().signature().split(' ').count(), 1);
    assert_eq!(
        Verifier::from_secret(&created.secret).verify_at(after.headers(), b"{}", ends),
        Err(VerifyError::NoMatchingSignature)
    );
    assert_eq!(
        Verifier::from_secret(&new_secret).verify_at(after.headers(), b"{}", ends),
        Ok(())
    );
    // One second before the end, both still sign.
    let last = only(&webhooks, &event, ends - 1).await;
    assert_eq!(last.headers().signature().split(' ').count(), 2);
}

#[tokio::test]
async fn after_a_rotation_without_overlap_only_the_new_secret_signs_and_redeliver_sees_it() {
    let webhooks = Webhooks::new(MemoryStore::new());
    let created = create(&webhooks, &live(), "https://example.com/hook", &[]).await;
    let event = event(live(), "acc_1", b"{}");
    let first = only(&webhooks, &event, NOW).await;

    let rotated = webhooks
        .rotate_secret(&live(), created.id.as_str())
        .await
        .unwrap();
    let new_verifier = Verifier::from_secret(rotated.secret());
    let old_verifier = Verifier::from_secret(&created.secret);

    // A delivery made after the rotation: the new secret only.
    let fresh = only(&webhooks, &event, NOW).await;
    assert_eq!(new_verifier.verify_at(fresh.headers(), b"{}", NOW), Ok(()));
    assert_eq!(
        old_verifier.verify_at(fresh.headers(), b"{}", NOW),
        Err(VerifyError::NoMatchingSignature)
    );

    // Re-signing the old delivery keeps its old secret (documented); `redeliver` reads the
    // webhook again and signs with the new one, keeping the id.
    let stale = first.resigned(NOW + 60).unwrap();
    assert_eq!(
        new_verifier.verify_at(stale.headers(), b"{}", NOW + 60),
        Err(VerifyError::NoMatchingSignature)
    );
    let retry = webhooks
        .redeliver(&event, first.webhook_id(), NOW + 60)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(retry.headers().id(), first.headers().id());
    assert_eq!(
        new_verifier.verify_at(retry.headers(), b"{}", NOW + 60),
        Ok(())
    );
}

#[tokio::test]
async fn redeliver_gives_nothing_for_a_webhook_that_no_longer_gets_the_event() {
    let webhooks = Webhooks::new(MemoryStore::new());
    let created = create(&webhooks, &live(), "https://example.com/hook", &["acc_1"]).await;
    let event = event(live(), "acc_1", b"{}");
    assert!(
        webhooks
            .redeliver(&event, &created.id, NOW)
            .await
            .unwrap()
            .is_some()
    );

    // Its filter changed to another account.
    let update = UpdateWebhookRequest::new("https://example.com/hook".parse().unwrap())
        .with_account_filter(AccountFilter::from_ids(["acc_2".parse().unwrap()]).unwrap());
    webhooks
        .update(&live(), created.id.as_str(), update)
        .await
        .unwrap();
    assert!(gone(&webhooks, &event, &created.id).await);

    // Disabled.
    let update = UpdateWebhookRequest::new("https://example.com/new".parse().unwrap())
        .with_account_filter(AccountFilter::all())
        .with_enabled(false);
    webhooks
        .update(&live(), created.id.as_str(), update)
        .await
        .unwrap();
    assert!(gone(&webhooks, &event, &created.id).await);

    // Another scope's event never reaches it, and a deleted webhook gets nothing.
    let other = self::event(scope("org_2", AccountType::Live), "acc_1", b"{}");
    assert!(gone(&webhooks, &other, &created.id).await);
    webhooks.delete(&live(), created.id.as_str()).await.unwrap();
    assert!(gone(&webhooks, &event, &created.id).await);
}

#[tokio::test]
async fn a_redelivery_goes_to_the_new_url() {
    let webhooks = Webhooks::new(MemoryStore::new());
    let created = create(&webhooks, &live(), "https://example.com/old", &[]).await;
    let event = event(live(), "acc_1", b"{}");
    let update = UpdateWebhookRequest::new("https://example.com/new".parse().unwrap());
    webhooks
        .update(&live(), created.id.as_str(), update)
        .await
        .unwrap();
    let retry = webhooks
        .redeliver(&event, &created.id, NOW)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(retry.url().as_str(), "https://example.com/new");
}

#[tokio::test]
async fn a_negative_or_unrepresentable_timestamp_is_refused_with_a_code() {
    let webhooks = Webhooks::new(MemoryStore::new());
    let created = create(&webhooks, &live(), "https://example.com/hook", &[]).await;
    let event = event(live(), "acc_1", b"{}");
    for bad in [-1, i64::MIN, i64::MAX] {
        let error = webhooks.deliveries(&event, bad).await.unwrap_err();
        assert_eq!(error.code(), "timestamp_invalid", "{bad}");
        assert!(!error.is_retryable());
        let error = webhooks
            .redeliver(&event, &created.id, bad)
            .await
            .unwrap_err();
        assert_eq!(error.code(), "timestamp_invalid", "{bad}");
    }
    // Zero is a valid Unix time.
    assert_eq!(webhooks.deliveries(&event, 0).await.unwrap().len(), 1);
}

#[tokio::test]
async fn debug_shows_no_secret_and_no_body() {
    let webhooks = Webhooks::new(MemoryStore::new());
    let created = create(&webhooks, &live(), "https://example.com/hook", &[]).await;
    let event = event(live(), "acc_1", b"{\"card\":\"4242\"}");
    let delivery = only(&webhooks, &event, NOW).await;
    let debug = format!("{delivery:?}");
    let secret = created.secret.expose_secret();
    assert!(!debug.contains(secret));
    assert!(!debug.contains(&secret[6..]));
    assert!(!debug.contains("4242"));
    assert!(debug.contains(created.id.as_str()));
    assert!(debug.contains(event.id().as_str()));
}

#[cfg(feature = "http")]
#[tokio::test]
async fn into_request_posts_the_body_and_headers_to_the_policy_parsed_url() {
    let webhooks = Webhooks::new(MemoryStore::new()).with_policy(DestinationPolicy::permissive());
    let created = create(
        &webhooks,
        &live(),
        "https://Example.com:8443/hook?x=1#frag",
        &[],
    )
    .await;
    // The seed's regex allows this; a URL parser sees 127.0.0.1, and so does the request.
    create(&webhooks, &live(), "https://2130706433#.com", &[]).await;
    let body = br#"{"type":"order.paid"}"#;
    let event = event(live(), "acc_1", body);
    let mut deliveries = webhooks.deliveries(&event, NOW).await.unwrap().into_vec();
    let numeric = deliveries.pop().unwrap().into_request().unwrap();
    assert_eq!(numeric.uri().to_string(), "https://127.0.0.1/");

    let delivery = deliveries.pop().unwrap();
    let expected = delivery.headers().clone();
    let request = delivery.into_request().unwrap();
    assert_eq!(request.method(), http::Method::POST);
    assert_eq!(
        request.uri().to_string(),
        "https://example.com:8443/hook?x=1"
    );
    let headers = request.headers();
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["webhook-id"], event.id().as_str());
    assert_eq!(headers["webhook-timestamp"], "1900000000");
    assert_eq!(headers["webhook-signature"], expected.signature());
    assert_eq!(headers.len(), 4);
    assert_eq!(request.body().as_ref(), body);
    // The event's bytes, not a copy.
    assert_eq!(request.body().as_ptr(), event.body().as_ptr());
    assert_eq!(
        Verifier::from_secret(&created.secret).verify_at(headers, request.body(), NOW),
        Ok(())
    );
}

/// A store that answers every webhook of every scope from `list`, whatever it is asked:
/// routing must not trust it.
#[derive(Debug, Default)]
struct CarelessStore(MemoryStore);

impl WebhookStore for CarelessStore {
    async fn insert(&self, webhook: &Webhook) -> Result<(), StoreError> {
        self.0.insert(webhook).await
    }

    async fn get(&self, scope: &Scope, id: &WebhookId) -> Result<Option<Webhook>, StoreError> {
        self.0.get(scope, id).await
    }

    async fn list(
        &self,
        _scope: &Scope,
        _account: Option<&AccountId>,
    ) -> Result<Vec<Webhook>, StoreError> {
        let mut all = Vec::new();
        for org in ["org_1", "org_2"] {
            for account_type in [AccountType::Live, AccountType::Test] {
                all.extend(self.0.list(&scope(org, account_type), None).await?);
            }
        }
        Ok(all)
    }

    async fn replace(&self, webhook: &Webhook, expected_revision: u64) -> Result<(), StoreError> {
        self.0.replace(webhook, expected_revision).await
    }

    async fn delete(&self, scope: &Scope, id: &WebhookId) -> Result<(), StoreError> {
        self.0.delete(scope, id).await
    }
}

#[tokio::test]
async fn routing_checks_scope_filter_and_enabled_again_whatever_the_store_answers() {
    let store = CarelessStore::default();
    let url: WebhookUrl = "https://example.com/hook".parse().unwrap();
    let mine = Webhook::new(live(), url.clone(), AccountFilter::all());
    let filtered = AccountFilter::from_ids(["acc_2".parse().unwrap()]).unwrap();
    let others = [
        Webhook::new(
            scope("org_2", AccountType::Live),
            url.clone(),
            AccountFilter::all(),
        ),
        Webhook::new(
            scope("org_1", AccountType::Test),
            url.clone(),
            AccountFilter::all(),
        ),
        Webhook::new(live(), url.clone(), filtered),
    ];
    let mut disabled = Webhook::new(live(), url, AccountFilter::all()).into_parts();
    disabled.enabled = false;
    store.insert(&mine).await.unwrap();
    for webhook in &others {
        store.insert(webhook).await.unwrap();
    }
    store.insert(&Webhook::from_parts(disabled)).await.unwrap();

    let webhooks = Webhooks::new(store);
    let event = event(live(), "acc_1", b"{}");
    let deliveries = webhooks.deliveries(&event, NOW).await.unwrap();
    assert_eq!(ids(&deliveries), [mine.id()]);
}

#[tokio::test]
async fn a_stored_webhook_with_too_many_secrets_is_a_typed_error() {
    let store = MemoryStore::new();
    let url: WebhookUrl = "https://example.com/hook".parse().unwrap();
    let mut parts = Webhook::new(live(), url, AccountFilter::all()).into_parts();
    // More than a signer takes: only a store that breaks the model's rules holds this.
    parts.previous_secrets = (0..webhook_kit::MAX_SECRETS)
        .map(|_| PreviousSecret {
            secret: Secret::generate(),
            expires_at: chrono::DateTime::from_timestamp(NOW + 3600, 0).unwrap(),
        })
        .collect();
    store.insert(&Webhook::from_parts(parts)).await.unwrap();
    let webhooks = Webhooks::new(store);
    let event = event(live(), "acc_1", b"{}");
    let error = webhooks.deliveries(&event, NOW).await.unwrap_err();
    assert_eq!(error.code(), "secrets_invalid");
    assert!(!format!("{error:?}").contains("whsec_"));
    // Once those secrets have expired, the webhook signs again.
    assert_eq!(
        webhooks.deliveries(&event, NOW + 3600).await.unwrap().len(),
        1
    );
}
