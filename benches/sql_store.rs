//! The SQL stores against the bare statement each operation runs, in the same run: create,
//! get, list for one account, update. Each group has `store` (the `WebhookStore` call) and
//! `sqlx` (the same single statement with the same values, through plain sqlx), so their
//! ratio is the store's overhead: mapping, encoding, the schema flag. The two are timed in
//! alternation within each iteration, so a shared machine's changing load falls on both.
//! `create_sealed` compares sealing secrets with a keyring against plaintext storage.
//!
//! PostgreSQL: `DATABASE_URL`, or a throwaway server started from the local binaries.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

#[path = "support/paired.rs"]
mod paired;
#[path = "../tests/support/postgres.rs"]
mod pg;

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use paired::paired;
use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;
use tokio::runtime::Runtime;
use webhook_kit::{
    AccountFilter, AccountType, EncryptionKey, Keyring, PostgresStore, Scope, SqliteStore, Webhook,
    WebhookId, WebhookParts, WebhookStore,
};

/// How many webhooks the benchmarked scope holds; a tenth filter on the listed account.
const WEBHOOKS: usize = 50;

type Columns = (
    String,
    String,
    String,
    String,
    bool,
    String,
    i64,
    Option<i64>,
    Vec<u8>,
    Option<i64>,
    Option<Vec<u8>>,
    i64,
);
type PgColumns = (
    String,
    String,
    String,
    String,
    bool,
    Vec<String>,
    i64,
    Option<i64>,
    Vec<u8>,
    Option<i64>,
    Option<Vec<u8>>,
    i64,
);

const COLUMNS: &str = "w.id, w.organization, w.account_type, w.url, w.enabled, w.account_ids, \
    w.created_at_ns, w.secret_key_id, w.secret, w.previous_key_id, w.previous_secrets, w.revision";

fn scope() -> Scope {
    Scope::new(
        format!("org_{}", WebhookId::generate()).parse().unwrap(),
        AccountType::Live,
    )
}

fn webhook(scope: &Scope, filtered: bool) -> Webhook {
    let filter = if filtered {
        AccountFilter::from_ids(["acc_listed".parse().unwrap(), "acc_other".parse().unwrap()])
            .unwrap()
    } else {
        AccountFilter::all()
    };
    Webhook::new(
        scope.clone(),
        "https://example.com/hooks".parse().unwrap(),
        filter,
    )
}

fn with_revision(webhook: &Webhook, revision: u64) -> Webhook {
    let mut parts: WebhookParts = webhook.clone().into_parts();
    parts.revision = revision;
    Webhook::from_parts(parts)
}

async fn fill<S: WebhookStore>(store: &S, scope: &Scope) -> Webhook {
    let mut first = None;
    for index in 0..WEBHOOKS {
        let hook = webhook(scope, index % 10 == 0);
        store.insert(&hook).await.unwrap();
        first.get_or_insert(hook);
    }
    first.unwrap()
}

fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap()
}

/// One backend's benches; the SQL and the types that differ between backends are given.
macro_rules! backend_benches {
    (
        $name:ident, $label:literal, |$dir:ident| $open:expr, $pool:ty, $columns:ty,
        $accounts:expr,
        insert: $insert:literal, get: $get:literal, list: $list:literal, update: $update:literal
    ) => {
        fn $name(c: &mut Criterion) {
            let runtime = Runtime::new().unwrap();
            let $dir = tempfile::tempdir().unwrap();
            let store = runtime.block_on(async {
                let store = $open;
                store.migrate().await.unwrap();
                store
            });
            let sealed = store
                .clone()
                // A fixed key: the database (`DATABASE_URL`) may outlive this run, and its key
                // check value holds the store to the key first used under an id.
                .with_keyring(Keyring::new(EncryptionKey::new(7, [7; 32])));
            let pool: $pool = store.pool().clone();
            let scope = scope();
            let target = runtime.block_on(fill(&store, &scope));
            let org = scope.organization().as_str().to_owned();
            let secret = target.secret().expose_secret().as_bytes().to_vec();
            let accounts = $accounts;
            let get_sql: &'static str = Box::leak(format!($get).into_boxed_str());
            let list_sql: &'static str = Box::leak(format!($list).into_boxed_str());

            let store_create = async || {
                store
                    .insert(black_box(&webhook(&scope, true)))
                    .await
                    .unwrap()
            };
            let mut group = c.benchmark_group(concat!($label, "/create"));
            paired(
                &mut group,
                concat!($label, "/create"),
                &runtime,
                ("store", store_create),
                ("sqlx", async || {
                    sqlx::query($insert)
                        .bind(WebhookId::generate().as_str())
                        .bind(&org)
                        .bind("live")
                        .bind("https://example.com/hooks")
                        .bind(true)
                        .bind(&accounts)
                        .bind(now_ns())
                        .bind(None::<i64>)
                        .bind(black_box(&secret[..]))
                        .bind(None::<i64>)
                        .bind(None::<&[u8]>)
                        .bind(1_i64)
                        .execute(&pool)
                        .await
                        .unwrap();
                }),
            );
            group.finish();
            let mut group = c.benchmark_group(concat!($label, "/create_sealed"));
            paired(
                &mut group,
                concat!($label, "/create_sealed"),
                &runtime,
                ("store_sealed", async || {
                    sealed
                        .insert(black_box(&webhook(&scope, true)))
                        .await
                        .unwrap()
                }),
                ("store", store_create),
            );
            group.finish();

            // Reads run on a scope of WEBHOOKS webhooks, untouched by the creates above.
            let scope = self::scope();
            let target = runtime.block_on(fill(&store, &scope));
            let org = scope.organization().as_str().to_owned();
            let mut group = c.benchmark_group(concat!($label, "/get"));
            paired(
                &mut group,
                concat!($label, "/get"),
                &runtime,
                ("store", async || {
                    black_box(store.get(&scope, target.id()).await.unwrap().unwrap());
                }),
                ("sqlx", async || {
                    let row: Option<$columns> = sqlx::query_as(get_sql)
                        .bind(target.id().as_str())
                        .bind(&org)
                        .bind("live")
                        .fetch_optional(&pool)
                        .await
                        .unwrap();
                    black_box(row.unwrap());
                }),
            );
            group.finish();

            let listed = "acc_listed".parse().unwrap();
            let mut group = c.benchmark_group(concat!($label, "/list_for_account"));
            paired(
                &mut group,
                concat!($label, "/list_for_account"),
                &runtime,
                ("store", async || {
                    black_box(store.list(&scope, Some(&listed)).await.unwrap());
                }),
                ("sqlx", async || {
                    let rows: Vec<$columns> = sqlx::query_as(list_sql)
                        .bind(&org)
                        .bind("live")
                        .bind("acc_listed")
                        .fetch_all(&pool)
                        .await
                        .unwrap();
                    black_box(rows);
                }),
            );
            group.finish();

            let revision = AtomicU64::new(target.revision());
            let mut group = c.benchmark_group(concat!($label, "/update"));
            paired(
                &mut group,
                concat!($label, "/update"),
                &runtime,
                ("store", async || {
                    let current = revision.fetch_add(1, Ordering::Relaxed);
                    let next = with_revision(&target, current + 1);
                    store.replace(black_box(&next), current).await.unwrap();
                }),
                ("sqlx", async || {
                    let current = i64::try_from(revision.fetch_add(1, Ordering::Relaxed)).unwrap();
                    let updated = sqlx::query($update)
                        .bind(target.id().as_str())
                        .bind(&org)
                        .bind("live")
                        .bind("https://example.com/hooks")
                        .bind(true)
                        .bind(&accounts)
                        .bind(target.created_at().timestamp_nanos_opt().unwrap())
                        .bind(None::<i64>)
                        .bind(black_box(&secret[..]))
                        .bind(None::<i64>)
                        .bind(None::<&[u8]>)
                        .bind(current + 1)
                        .bind(current)
                        .execute(&pool)
                        .await
                        .unwrap();
                    assert_eq!(updated.rows_affected(), 1);
                }),
            );
            group.finish();
        }
    };
}

backend_benches!(
    sqlite,
    "sqlite",
    |dir| SqliteStore::open(dir.path().join("bench.db")).await.unwrap(),
    SqlitePool,
    Columns,
    r#"["acc_listed","acc_other"]"#,
    insert: "INSERT INTO webhook_kit_webhooks (id, organization, account_type, url, enabled, \
        account_ids, created_at_ns, secret_key_id, secret, previous_key_id, previous_secrets, \
        revision) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    get: "SELECT {COLUMNS} FROM webhook_kit_webhooks w \
        WHERE w.id = ?1 AND w.organization = ?2 AND w.account_type = ?3",
    list: "SELECT {COLUMNS} FROM webhook_kit_webhooks w \
        WHERE w.organization = ?1 AND w.account_type = ?2 AND w.account_ids = '[]' \
        UNION ALL SELECT {COLUMNS} FROM webhook_kit_webhook_accounts a \
        JOIN webhook_kit_webhooks w ON w.id = a.webhook_id \
        WHERE a.organization = ?1 AND a.account_type = ?2 AND a.account_id = ?3 ORDER BY 1",
    update: "UPDATE webhook_kit_webhooks SET url = ?4, enabled = ?5, account_ids = ?6, \
        created_at_ns = ?7, secret_key_id = ?8, secret = ?9, previous_key_id = ?10, \
        previous_secrets = ?11, revision = ?12 \
        WHERE id = ?1 AND organization = ?2 AND account_type = ?3 AND revision = ?13"
);

backend_benches!(
    postgres,
    "postgres",
    |_dir| PostgresStore::connect(pg::shared_url()).await.unwrap(),
    PgPool,
    PgColumns,
    vec!["acc_listed".to_owned(), "acc_other".to_owned()],
    insert: "INSERT INTO webhook_kit_webhooks (id, organization, account_type, url, enabled, \
        account_ids, created_at_ns, secret_key_id, secret, previous_key_id, previous_secrets, \
        revision) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    get: "SELECT {COLUMNS} FROM webhook_kit_webhooks w \
        WHERE w.id = $1 AND w.organization = $2 AND w.account_type = $3",
    list: "SELECT {COLUMNS} FROM webhook_kit_webhooks w \
        WHERE w.organization = $1 AND w.account_type = $2 AND cardinality(w.account_ids) = 0 \
        UNION ALL SELECT {COLUMNS} FROM webhook_kit_webhook_accounts a \
        JOIN webhook_kit_webhooks w ON w.id = a.webhook_id \
        WHERE a.organization = $1 AND a.account_type = $2 AND a.account_id = $3 ORDER BY 1",
    update: "UPDATE webhook_kit_webhooks SET url = $4, enabled = $5, account_ids = $6, \
        created_at_ns = $7, secret_key_id = $8, secret = $9, previous_key_id = $10, \
        previous_secrets = $11, revision = $12 \
        WHERE id = $1 AND organization = $2 AND account_type = $3 AND revision = $13"
);

criterion_group!(benches, sqlite, postgres);
criterion_main!(benches);
