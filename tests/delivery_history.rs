//! The history operations of `Webhooks` over the queue: ids parsed, everything scoped
//! (another scope's webhook or delivery is `not_found`, and nothing changes), on the memory
//! store.
#![allow(clippy::unwrap_used)]

use chrono::{TimeDelta, Utc};
use webhook_kit::{
    AccountType, CreateWebhookRequest, DeliveryState, DeliveryStore, Event, EventId, Finish,
    MemoryStore, Scope, Trigger, Webhooks,
};

#[tokio::test]
async fn history_is_scoped_and_ids_are_parsed() {
    let webhooks = Webhooks::new(MemoryStore::new());
    let scope = Scope::new("org_1".parse().unwrap(), AccountType::Live);
    let other = Scope::new("org_1".parse().unwrap(), AccountType::Test);
    let url = "https://example.com/hook".parse().unwrap();
    let created = webhooks
        .create(&scope, CreateWebhookRequest::new(url))
        .await
        .unwrap();
    let webhook_id = created.webhook().id().to_string();
    let event = Event::new(
        EventId::generate(),
        scope.clone(),
        "acc_1".parse().unwrap(),
        &b"{}"[..],
    );
    let ids = webhooks.enqueue(&event).await.unwrap();
    let id = ids[0].to_string();

    // Exhaust it by hand, as a worker would.
    let store = webhooks.store();
    let claim = store
        .claim(Utc::now(), std::time::Duration::from_secs(30), 10)
        .await
        .unwrap()
        .pop()
        .unwrap();
    let attempt = webhook_kit::AttemptRecord {
        number: 1,
        trigger: Trigger::Scheduled,
        started_at: Utc::now(),
        duration: std::time::Duration::from_millis(5),
        remote_addr: None,
        status: Some(500),
        error: None,
        response: b"down".to_vec(),
    };
    store
        .finish(&claim, Finish::Failed(attempt.clone()), Utc::now())
        .await
        .unwrap();

    let history = webhooks
        .delivery_history(&scope, &webhook_id, None, None, 10)
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].state, DeliveryState::Failed);
    let failed = webhooks
        .delivery_history(&scope, &webhook_id, Some(DeliveryState::Failed), None, 10)
        .await
        .unwrap();
    assert_eq!(failed.len(), 1);
    assert!(
        webhooks
            .delivery_history(&scope, &webhook_id, None, Some(&id), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        webhooks.delivery_attempts(&scope, &id).await.unwrap(),
        [attempt]
    );

    // Another scope: not_found for every operation, and nothing changes.
    let since = Utc::now() - TimeDelta::hours(1);
    let codes = [
        webhooks
            .delivery_history(&other, &webhook_id, None, None, 10)
            .await
            .unwrap_err()
            .code(),
        webhooks
            .delivery_attempts(&other, &id)
            .await
            .unwrap_err()
            .code(),
        webhooks.resend(&other, &id).await.unwrap_err().code(),
        webhooks
            .recover(&other, &webhook_id, since, 10)
            .await
            .unwrap_err()
            .code(),
        webhooks
            .cancel_delivery(&other, &id)
            .await
            .unwrap_err()
            .code(),
    ];
    assert_eq!(codes, ["not_found"; 5]);
    assert_eq!(
        webhooks
            .delivery_history(&scope, &webhook_id, None, None, 10)
            .await
            .unwrap(),
        history
    );

    // Malformed ids: a webhook id as `get` treats it (the seed's 404), a delivery id
    // `id_invalid`.
    assert_eq!(
        webhooks
            .delivery_history(&scope, "dlv_x", None, None, 10)
            .await
            .unwrap_err()
            .code(),
        webhooks.get(&scope, "dlv_x").await.unwrap_err().code()
    );
    let codes = [
        webhooks
            .delivery_history(&scope, &webhook_id, None, Some("wh_x"), 10)
            .await
            .unwrap_err()
            .code(),
        webhooks
            .delivery_attempts(&scope, &webhook_id)
            .await
            .unwrap_err()
            .code(),
        webhooks.resend(&scope, "").await.unwrap_err().code(),
        webhooks
            .cancel_delivery(&scope, "dlv_")
            .await
            .unwrap_err()
            .code(),
    ];
    assert_eq!(codes, ["id_invalid"; 4]);

    // Recovery gives it a manual attempt; then a resend is refused while it is in flight.
    assert_eq!(
        webhooks
            .recover(&scope, &webhook_id, since, 10)
            .await
            .unwrap(),
        1
    );
    let manual = store
        .claim(Utc::now(), std::time::Duration::from_secs(30), 10)
        .await
        .unwrap();
    assert_eq!(manual[0].trigger, Trigger::Manual);
    assert_eq!(
        webhooks.resend(&scope, &id).await.unwrap_err().code(),
        "conflict"
    );
    webhooks.cancel_delivery(&scope, &id).await.unwrap();
    let history = webhooks
        .delivery_history(&scope, &webhook_id, None, None, 10)
        .await
        .unwrap();
    assert_eq!(history[0].state, DeliveryState::Cancelled);
    webhooks.resend(&scope, &id).await.unwrap();
    let history = webhooks
        .delivery_history(&scope, &webhook_id, None, None, 10)
        .await
        .unwrap();
    assert_eq!(history[0].state, DeliveryState::Pending);
}
