//! The delivery queue on the real databases, beyond the contract: enqueueing inside the
//! host's PostgreSQL transaction, and claims racing from two pools on one database (two
//! service instances) never taking a delivery twice.
#![allow(clippy::unwrap_used)]

mod contract;
mod support;

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use contract::queue::{at, event, success, webhooks};
use tokio::task::JoinSet;
use webhook_kit::{
    AccountType, CreateWebhookRequest, DeliveryId, DeliveryState, DeliveryStore, Finish,
    PostgresStore, Scope, Trigger, WebhookStore, Webhooks,
};

fn scope() -> Scope {
    contract::new_scope(AccountType::Live)
}

#[tokio::test]
async fn postgres_enqueue_commits_and_rolls_back_with_the_host_transaction() {
    let store = support::fresh_postgres_store().await;
    let webhooks = Webhooks::new(store.clone());
    let scope = scope();
    let url = "https://example.com/hook".parse().unwrap();
    let created = webhooks
        .create(&scope, CreateWebhookRequest::new(url))
        .await
        .unwrap();
    let webhook_id = created.webhook().id().clone();
    sqlx::query("CREATE TABLE orders (id text PRIMARY KEY)")
        .execute(store.pool())
        .await
        .unwrap();

    // Rolled back: neither the host's row nor a delivery.
    let dropped = event(&scope);
    let mut tx = store.pool().begin().await.unwrap();
    sqlx::query("INSERT INTO orders (id) VALUES ('order_1')")
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(
        webhooks.enqueue_in(&mut tx, &dropped).await.unwrap().len(),
        1
    );
    tx.rollback().await.unwrap();
    assert!(
        store
            .deliveries(&scope, &webhook_id, None, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .claim(Utc::now(), Duration::from_secs(30), 10)
            .await
            .unwrap()
            .is_empty()
    );
    // The same event can be enqueued later: the rollback left no trace of it.
    // Committed: both.
    let mut tx = store.pool().begin().await.unwrap();
    sqlx::query("INSERT INTO orders (id) VALUES ('order_2')")
        .execute(&mut *tx)
        .await
        .unwrap();
    let ids = webhooks.enqueue_in(&mut tx, &dropped).await.unwrap();
    assert_eq!(ids.len(), 1);
    // Not visible to others before the commit.
    assert_eq!(store.delivery(&scope, &ids[0]).await.unwrap(), None);
    tx.commit().await.unwrap();
    let listed = store
        .deliveries(&scope, &webhook_id, None, None, 10)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, ids[0]);
    assert_eq!(listed[0].state, DeliveryState::Pending);
    let orders: Vec<(String,)> = sqlx::query_as("SELECT id FROM orders")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(orders, [("order_2".to_owned(),)]);
    // The webhook store is untouched by the rollback too.
    assert!(store.get(&scope, &webhook_id).await.unwrap().is_some());
}

/// Enqueues `events` deliveries on `store`, then has `workers` tasks per store claim
/// batches of 7 and finish them, and checks that every delivery was claimed exactly once.
async fn claims_race<S>(stores: [S; 2], events: usize)
where
    S: DeliveryStore + Clone + 'static,
{
    let scope = scope();
    let target = webhooks(1);
    let mut all = HashSet::new();
    for _ in 0..events {
        let ids = stores[0]
            .enqueue(&event(&scope), &target, at(0))
            .await
            .unwrap();
        all.extend(ids);
    }
    let now: DateTime<Utc> = at(1);
    let mut tasks = JoinSet::new();
    for store in stores {
        for _ in 0..4 {
            let store = store.clone();
            tasks.spawn(async move {
                let mut mine: Vec<DeliveryId> = Vec::new();
                loop {
                    let claims = store.claim(now, Duration::from_secs(600), 7).await.unwrap();
                    if claims.is_empty() {
                        return mine;
                    }
                    for claim in claims {
                        store
                            .finish(
                                &claim,
                                Finish::Delivered(success(1, Trigger::Scheduled)),
                                now,
                            )
                            .await
                            .unwrap();
                        mine.push(claim.delivery_id);
                    }
                }
            });
        }
    }
    let mut claimed = Vec::new();
    while let Some(mine) = tasks.join_next().await {
        claimed.extend(mine.unwrap());
    }
    let unique: HashSet<DeliveryId> = claimed.iter().cloned().collect();
    assert_eq!(unique.len(), claimed.len(), "a delivery was claimed twice");
    assert_eq!(unique, all, "every delivery was claimed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_claims_from_two_pools_never_overlap() {
    let first = support::fresh_postgres_store().await;
    let options = first.pool().connect_options();
    let second = PostgresStore::new(
        sqlx::postgres::PgPoolOptions::new()
            .connect_with((*options).clone())
            .await
            .unwrap(),
    );
    claims_race([first, second], 300).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_claims_from_two_pools_never_overlap() {
    let first = support::fresh_sqlite_store().await;
    let options = first.pool().connect_options();
    let second = webhook_kit::SqliteStore::new(
        sqlx::sqlite::SqlitePoolOptions::new()
            .connect_with((*options).clone())
            .await
            .unwrap(),
    );
    claims_race([first, second], 300).await;
}
