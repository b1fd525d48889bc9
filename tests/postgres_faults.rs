//! The PostgreSQL server goes away and comes back: every call fails with a typed,
//! retryable error, nothing is half-written, and the same call succeeds once it is back.
//! These tests start a server of their own, whatever `DATABASE_URL` says, to stop it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use sqlx::Connection as _;
use sqlx::postgres::{PgConnection, PgPoolOptions};
use webhook_kit::{PostgresStore, StoreError, Webhook, WebhookStore};

use support::postgres::PgServer;
use support::{account, assert_same, refiltered, rotated, scope, webhook};

async fn store_on(server: &PgServer) -> PostgresStore {
    let pool = PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(2))
        .connect(&server.url("postgres"))
        .await
        .unwrap();
    let store = PostgresStore::new(pool);
    store.migrate().await.unwrap();
    store
}

fn assert_retryable<T: std::fmt::Debug>(result: Result<T, StoreError>, what: &str) {
    let error = result.expect_err(what);
    assert!(error.is_retryable(), "{what}: {error:?}");
    assert!(
        matches!(error, StoreError::Backend { .. }),
        "{what}: {error:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_goes_away_gives_retryable_errors_and_the_calls_succeed_once_back() {
    let server = PgServer::start();
    let store = store_on(&server).await;
    let scope = scope();
    let hook = webhook(&scope, &["acc_a"]);
    store.insert(&hook).await.unwrap();
    let next = refiltered(&rotated(&hook), &["acc_b"]);
    let other = webhook(&scope, &[]);

    server.stop();
    assert_retryable(store.insert(&other).await, "insert");
    assert_retryable(store.get(&scope, hook.id()).await, "get");
    assert_retryable(store.list(&scope, Some(&account("acc_b"))).await, "list");
    assert_retryable(store.replace(&next, 1).await, "replace");
    assert_retryable(store.delete(&scope, hook.id()).await, "delete");

    server.start_again();
    // Nothing of the failed calls was written.
    assert_same(&store.get(&scope, hook.id()).await.unwrap().unwrap(), &hook);
    assert!(store.get(&scope, other.id()).await.unwrap().is_none());
    assert!(
        store
            .list(&scope, Some(&account("acc_b")))
            .await
            .unwrap()
            .is_empty()
    );
    // The same calls succeed now.
    store.insert(&other).await.unwrap();
    store.replace(&next, 1).await.unwrap();
    assert_same(&store.get(&scope, hook.id()).await.unwrap().unwrap(), &next);
    let for_b: Vec<Webhook> = store.list(&scope, Some(&account("acc_b"))).await.unwrap();
    assert_eq!(for_b.len(), 2);
    store.delete(&scope, other.id()).await.unwrap();
}

/// The server crashes while a write is waiting inside it (blocked on a row lock): the write
/// fails with a retryable error, its changes are gone after the restart, and retrying it
/// succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_during_a_write_loses_the_whole_write_and_the_retry_succeeds() {
    let server = PgServer::start();
    let store = store_on(&server).await;
    let scope = scope();
    let hook = webhook(&scope, &["acc_a"]);
    store.insert(&hook).await.unwrap();
    let next = refiltered(&rotated(&hook), &["acc_b", "acc_c"]);

    let mut locker = PgConnection::connect(&server.url("postgres"))
        .await
        .unwrap();
    sqlx::query("BEGIN").execute(&mut locker).await.unwrap();
    sqlx::query("SELECT 1 FROM webhook_kit_webhooks WHERE id = $1 FOR UPDATE")
        .bind(hook.id().as_str())
        .execute(&mut locker)
        .await
        .unwrap();
    let writer = {
        let store = store.clone();
        let next = next.clone();
        tokio::spawn(async move { store.replace(&next, 1).await })
    };
    // Wait until the write is inside the server, blocked on the lock. Watched from a
    // connection outside any transaction: inside one, pg_stat_activity is a snapshot.
    let mut observer = PgConnection::connect(&server.url("postgres"))
        .await
        .unwrap();
    let mut waiting = false;
    for _ in 0..600 {
        let blocked: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE webhook_kit_webhooks%'",
        )
        .fetch_one(&mut observer)
        .await
        .unwrap();
        if blocked > 0 {
            waiting = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(waiting, "the write never reached the server");

    server.stop();
    assert_retryable(writer.await.unwrap(), "replace during the crash");
    drop((locker, observer));

    server.start_again();
    assert_same(&store.get(&scope, hook.id()).await.unwrap().unwrap(), &hook);
    for account_id in ["acc_b", "acc_c"] {
        assert!(
            store
                .list(&scope, Some(&account(account_id)))
                .await
                .unwrap()
                .is_empty()
        );
    }
    store.replace(&next, 1).await.unwrap();
    assert_same(&store.get(&scope, hook.id()).await.unwrap().unwrap(), &next);
}
