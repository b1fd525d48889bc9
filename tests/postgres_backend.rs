//! What is particular to `PostgresStore`: the schema check, sealed secrets at rest, byte
//! order of ids, and a database unreachable at start. The contract suite runs in
//! `postgres_store.rs`, the server faults in `postgres_faults.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use sqlx::postgres::PgPoolOptions;
use webhook_kit::{PostgresStore, SchemaError, WebhookId, WebhookStore};

use support::postgres::{fresh_database, shared_url};
use support::{schema_error, scope, webhook};

async fn shared_store() -> PostgresStore {
    let store = PostgresStore::connect(shared_url()).await.unwrap();
    store.migrate().await.unwrap();
    store
}

#[tokio::test]
async fn the_store_keeps_the_trait_semantics() {
    support::store_semantics(&shared_store().await).await;
}

#[tokio::test]
async fn ids_list_in_byte_order_whatever_the_database_collation() {
    let store = shared_store().await;
    // Ids are time-ordered text of digits and lowercase letters; a linguistic collation
    // would sort some of them differently from bytes (digits against letters, for one).
    let scope = scope();
    let mut inserted = Vec::new();
    for _ in 0..20 {
        let hook = webhook(&scope, &[]);
        store.insert(&hook).await.unwrap();
        inserted.push(hook.id().clone());
    }
    let listed: Vec<WebhookId> = store
        .list(&scope, None)
        .await
        .unwrap()
        .iter()
        .map(|hook| hook.id().clone())
        .collect();
    let mut sorted = inserted.clone();
    sorted.sort();
    assert_eq!(listed, sorted);
    let collation: Option<String> = sqlx::query_scalar(
        "SELECT collation_name FROM information_schema.columns \
         WHERE table_name = 'webhook_kit_webhooks' AND column_name = 'id'",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(collation.as_deref(), Some("C"));
}

#[tokio::test]
async fn a_database_never_migrated_is_a_typed_error_until_migrate_runs() {
    let url = fresh_database().await;
    let store = PostgresStore::connect(&url).await.unwrap();
    let scope = scope();
    let hook = webhook(&scope, &[]);
    assert_eq!(
        schema_error(store.check_schema().await.unwrap_err()),
        SchemaError::Missing
    );
    assert_eq!(
        schema_error(store.insert(&hook).await.unwrap_err()),
        SchemaError::Missing
    );
    store.migrate().await.unwrap();
    store.migrate().await.unwrap(); // idempotent
    store.insert(&hook).await.unwrap();
    assert!(store.get(&scope, hook.id()).await.unwrap().is_some());
}

#[tokio::test]
async fn a_database_migrated_by_a_newer_release_is_refused() {
    let url = fresh_database().await;
    let store = PostgresStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    sqlx::query(
        "INSERT INTO webhook_kit_migrations (version, description, success, checksum, \
         execution_time) VALUES (99990101000000, 'from the future', true, '\\x00', 0)",
    )
    .execute(store.pool())
    .await
    .unwrap();
    let restarted = PostgresStore::connect(&url).await.unwrap();
    let newer = SchemaError::Newer {
        version: 99_990_101_000_000,
    };
    assert_eq!(
        schema_error(restarted.list(&scope(), None).await.unwrap_err()),
        newer
    );
    assert_eq!(schema_error(restarted.migrate().await.unwrap_err()), newer);
}

#[tokio::test]
async fn two_instances_migrating_at_once_both_succeed() {
    let url = fresh_database().await;
    let first = PostgresStore::connect(&url).await.unwrap();
    let second = PostgresStore::connect(&url).await.unwrap();
    let (a, b) = tokio::join!(first.migrate(), second.migrate());
    a.unwrap();
    b.unwrap();
    second.check_schema().await.unwrap();
}

#[tokio::test]
async fn secrets_are_sealed_at_rest() {
    // A database of its own: the test uses keys under ids other tests use too.
    let store = PostgresStore::connect(&fresh_database().await)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let pool = store.pool().clone();
    support::secrets_at_rest(
        |keyring| {
            let store = PostgresStore::new(pool.clone());
            match keyring {
                Some(keyring) => store.with_keyring(keyring),
                None => store,
            }
        },
        async |id: &WebhookId| {
            // Every column as text, bytea as hex.
            let row: String = sqlx::query_scalar(
                "SELECT row_to_json(w)::text FROM webhook_kit_webhooks w WHERE w.id = $1",
            )
            .bind(id.as_str())
            .fetch_one(&pool)
            .await
            .unwrap();
            row.into_bytes()
        },
    )
    .await;
}

#[tokio::test]
async fn a_database_unreachable_at_start_is_a_retryable_error() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let error = PostgresStore::connect(&url).await.unwrap_err();
    assert!(error.is_retryable(), "{error:?}");

    // A lazily connected pool: the first operation reports it, typed and retryable.
    let pool = PgPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_secs(2))
        .connect_lazy(&url)
        .unwrap();
    let store = PostgresStore::new(pool);
    let error = store
        .get(&scope(), &WebhookId::generate())
        .await
        .unwrap_err();
    assert!(error.is_retryable(), "{error:?}");
    let error = store.migrate().await.unwrap_err();
    assert!(error.is_retryable(), "{error:?}");
}

/// Listing the webhooks of one account is an index look-up: with sequential scans disabled
/// for the store's connection, the planner still finds index paths for both tables, and
/// those indexes hand out about as many entries as webhooks are listed, where a full index
/// scan or a sequential one reads the thousands of rows of other organisations.
#[tokio::test]
async fn listing_for_an_account_scans_no_table() {
    let url = fresh_database().await;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .after_connect(|connection, _| {
            Box::pin(async move {
                sqlx::query("SET enable_seqscan = off")
                    .execute(connection)
                    .await
                    .map(|_| ())
            })
        })
        .connect(&url)
        .await
        .unwrap();
    let store = PostgresStore::new(pool.clone());
    store.migrate().await.unwrap();
    let scope = scope();
    for index in 0..40 {
        let accounts: &[&str] = match index % 4 {
            0 => &[],
            1 => &["acc_listed", "acc_other"],
            _ => &["acc_other"],
        };
        store.insert(&webhook(&scope, accounts)).await.unwrap();
    }
    // Other organisations' webhooks, some for an account of the same name.
    sqlx::query(
        "INSERT INTO webhook_kit_webhooks (id, organization, account_type, url, enabled, \
         account_ids, created_at_ns, secret, revision) \
         SELECT 'wh_other' || g, 'org_other_' || (g % 50), 'live', 'https://example.com/x', \
         true, CASE WHEN g % 2 = 0 THEN ARRAY['acc_listed'] ELSE ARRAY[]::text[] END, 0, \
         '\\x00', 1 FROM generate_series(1, 5000) AS g",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("ANALYZE").execute(&pool).await.unwrap();

    let observer = PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    let counters = async || -> Vec<(String, i64, i64)> {
        sqlx::query("SELECT pg_stat_clear_snapshot()")
            .execute(&observer)
            .await
            .unwrap();
        sqlx::query_as(
            "SELECT t.relname::text, coalesce(t.seq_scan, 0), sum(i.idx_tup_read)::bigint \
             FROM pg_stat_user_tables t JOIN pg_stat_user_indexes i USING (relid) \
             WHERE t.relname LIKE 'webhook_kit_webhook%' \
             GROUP BY t.relname, t.seq_scan ORDER BY t.relname",
        )
        .fetch_all(&observer)
        .await
        .unwrap()
    };
    // Flush the store connection's pending statistics before each reading.
    let flush = async || {
        sqlx::query("SELECT pg_stat_force_next_flush()")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("SELECT 1").execute(&pool).await.unwrap();
    };
    flush().await;
    let before = counters().await;
    let listed = store
        .list(&scope, Some(&support::account("acc_listed")))
        .await
        .unwrap();
    assert_eq!(listed.len(), 20);
    flush().await;
    let after = counters().await;
    assert_eq!(before.len(), 2, "{before:?}");
    for ((table, seq_before, read_before), (_, seq_after, read_after)) in before.iter().zip(&after)
    {
        assert_eq!(seq_before, seq_after, "{table} was scanned sequentially");
        let read = read_after - read_before;
        assert!(read > 0, "{table} was not read through an index");
        assert!(
            read < 40,
            "{table}: {read} index entries read for 20 webhooks listed"
        );
    }
}

#[tokio::test]
async fn stray_index_rows_change_no_listing() {
    let store = shared_store().await;
    let pool = store.pool().clone();
    support::stray_index_rows_change_no_listing(&store, async |scope, account, id| {
        sqlx::query(
            "INSERT INTO webhook_kit_webhook_accounts \
             (organization, account_type, account_id, webhook_id) VALUES ($1, $2, $3, $4)",
        )
        .bind(scope.organization().as_str())
        .bind(scope.account_type().as_str())
        .bind(account)
        .bind(id.as_str())
        .execute(&pool)
        .await
        .unwrap();
    })
    .await;
}

/// A store without a keyring on a database of its own: these tests use key ids other
/// tests use too.
async fn own_database() -> PostgresStore {
    let store = PostgresStore::connect(&fresh_database().await)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store
}

#[tokio::test]
async fn sealed_rows_are_bound_to_their_scope() {
    support::sealing::sealed_rows_are_bound_to_their_scope(&own_database().await).await;
}

#[tokio::test]
async fn old_format_rows_open_and_are_sealed_again_on_their_next_write() {
    support::sealing::old_format_rows_open_and_are_sealed_again_on_their_next_write(
        &own_database().await,
    )
    .await;
}

#[tokio::test]
async fn a_different_key_under_a_known_id_is_refused_at_start() {
    support::sealing::a_different_key_under_a_known_id_is_refused_at_start(&own_database().await)
        .await;
}

#[tokio::test]
async fn one_corrupted_row_does_not_take_down_its_scope() {
    support::sealing::one_corrupted_row_does_not_take_down_its_scope(&own_database().await).await;
}

#[tokio::test]
async fn resealing_moves_every_row_to_the_current_key() {
    support::sealing::resealing_moves_every_row_to_the_current_key(&own_database().await).await;
}

#[tokio::test]
async fn resealing_loses_no_concurrent_write() {
    support::sealing::resealing_loses_no_concurrent_write(&own_database().await).await;
}

#[tokio::test]
async fn resealing_reports_unreadable_rows() {
    support::sealing::resealing_reports_unreadable_rows(&own_database().await).await;
}

#[tokio::test]
async fn resealing_never_overwrites_a_write_made_after_its_read() {
    support::sealing::resealing_never_overwrites_a_write_made_after_its_read(&own_database().await)
        .await;
}
