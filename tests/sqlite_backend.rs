//! What is particular to `SqliteStore`: the file, its settings, the schema check, sealed
//! secrets at rest and a busy database. The contract suite runs in `sqlite_store.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::time::Duration;

use sqlx::Connection as _;
use sqlx::sqlite::{SqliteConnection, SqlitePoolOptions};
use webhook_kit::{EncryptionKey, Keyring, SchemaError, SqliteStore, WebhookId, WebhookStore};

use support::{assert_same, forms_of, rotated, schema_error, scope, webhook};

async fn migrated(path: &Path) -> SqliteStore {
    let store = SqliteStore::open(path).await.unwrap();
    store.migrate().await.unwrap();
    store
}

/// A connection of its own to the file at `path`, holding its write lock (an open
/// `BEGIN IMMEDIATE`) until it runs `ROLLBACK` or is dropped.
async fn write_locked(path: &Path) -> SqliteConnection {
    let mut locker = SqliteConnection::connect_with(&SqliteStore::connect_options(path))
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut locker)
        .await
        .unwrap();
    locker
}

#[tokio::test]
async fn the_store_keeps_the_trait_semantics_in_a_file() {
    let dir = tempfile::tempdir().unwrap();
    support::store_semantics(&migrated(&dir.path().join("hooks.db")).await).await;
}

#[tokio::test]
async fn data_survives_closing_and_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hooks.db");
    let scope = scope();
    let hook = rotated(&webhook(&scope, &["acc_a"]));
    {
        let store = migrated(&path).await;
        store.insert(&hook).await.unwrap();
        store.pool().close().await;
    }
    let reopened = SqliteStore::open(&path).await.unwrap();
    reopened.check_schema().await.unwrap();
    assert_same(
        &reopened.get(&scope, hook.id()).await.unwrap().unwrap(),
        &hook,
    );
}

#[tokio::test]
async fn the_file_runs_in_wal_mode_with_full_sync_and_a_busy_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let store = migrated(&dir.path().join("hooks.db")).await;
    let mut connection = store.pool().acquire().await.unwrap();
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut *connection)
        .await
        .unwrap();
    let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(&mut *connection)
        .await
        .unwrap();
    let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
        .fetch_one(&mut *connection)
        .await
        .unwrap();
    assert_eq!(journal, "wal");
    assert_eq!(synchronous, 2, "FULL");
    assert_eq!(
        u128::try_from(busy).unwrap(),
        webhook_kit::SQLITE_BUSY_TIMEOUT.as_millis()
    );
}

#[tokio::test]
async fn a_database_never_migrated_is_a_typed_error_until_migrate_runs() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("hooks.db"))
        .await
        .unwrap();
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
    assert_eq!(
        schema_error(store.list(&scope, None).await.unwrap_err()),
        SchemaError::Missing
    );
    store.migrate().await.unwrap();
    store.migrate().await.unwrap(); // idempotent
    store.insert(&hook).await.unwrap();
    assert!(store.get(&scope, hook.id()).await.unwrap().is_some());
}

#[tokio::test]
async fn a_database_migrated_by_a_newer_release_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hooks.db");
    let store = migrated(&path).await;
    sqlx::query(
        "INSERT INTO webhook_kit_migrations (version, description, success, checksum, \
         execution_time) VALUES (99990101000000, 'from the future', 1, x'00', 0)",
    )
    .execute(store.pool())
    .await
    .unwrap();
    let restarted = SqliteStore::open(&path).await.unwrap();
    let newer = SchemaError::Newer {
        version: 99_990_101_000_000,
    };
    assert_eq!(
        schema_error(
            restarted
                .get(&scope(), &WebhookId::generate())
                .await
                .unwrap_err()
        ),
        newer
    );
    assert_eq!(schema_error(restarted.migrate().await.unwrap_err()), newer);
}

#[tokio::test]
async fn a_changed_migration_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hooks.db");
    let store = migrated(&path).await;
    sqlx::query("UPDATE webhook_kit_migrations SET checksum = x'00'")
        .execute(store.pool())
        .await
        .unwrap();
    let restarted = SqliteStore::open(&path).await.unwrap();
    assert!(matches!(
        schema_error(restarted.check_schema().await.unwrap_err()),
        SchemaError::Modified { .. }
    ));
}

#[tokio::test]
async fn secrets_are_sealed_at_rest() {
    let dir = tempfile::tempdir().unwrap();
    let store = migrated(&dir.path().join("hooks.db")).await;
    let pool = store.pool().clone();
    support::secrets_at_rest(
        |keyring| {
            let store = SqliteStore::new(pool.clone());
            match keyring {
                Some(keyring) => store.with_keyring(keyring),
                None => store,
            }
        },
        async |id: &WebhookId| {
            let row: String = sqlx::query_scalar(
                "SELECT json_array(id, organization, account_type, url, enabled, account_ids, \
                 created_at_ns, secret_key_id, lower(hex(secret)), previous_key_id, \
                 lower(hex(previous_secrets)), revision) \
                 FROM webhook_kit_webhooks WHERE id = ?1",
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

/// With a keyring from the start, no byte of the database files (main file and WAL) holds
/// a secret, its key or the encryption key.
#[tokio::test]
async fn sealed_database_files_hold_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hooks.db");
    let key = EncryptionKey::generate(1);
    let store = migrated(&path)
        .await
        .with_keyring(Keyring::new(key.clone()));
    let scope = scope();
    let mut hooks = Vec::new();
    for _ in 0..5 {
        let hook = webhook(&scope, &["acc_a"]);
        store.insert(&hook).await.unwrap();
        let hook = rotated(&hook);
        store.replace(&hook, 1).await.unwrap();
        hooks.push(hook);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        files.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    assert!(files.len() > 4096, "the database files were read");
    let key_bytes = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        key.expose_base64().as_bytes(),
    )
    .unwrap();
    for hook in &hooks {
        for secret in std::iter::once(hook.secret())
            .chain(hook.previous_secrets().iter().map(|old| &old.secret))
        {
            for form in forms_of(secret).iter().chain([&key_bytes]) {
                assert!(
                    !files.windows(form.len()).any(|window| window == &form[..]),
                    "a secret is in the database files"
                );
            }
        }
    }
}

/// A writer holds the lock longer than the busy timeout: the store's write fails with a
/// retryable error and writes nothing; once the lock is gone the same call succeeds.
#[tokio::test]
async fn a_busy_database_is_a_retryable_error_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hooks.db");
    migrated(&path).await.pool().close().await;
    let pool = SqlitePoolOptions::new()
        .connect_with(SqliteStore::connect_options(&path).busy_timeout(Duration::from_millis(50)))
        .await
        .unwrap();
    let store = SqliteStore::new(pool);
    let scope = scope();
    let hook = webhook(&scope, &["acc_a"]);

    let mut locker = write_locked(&path).await;
    let error = store.insert(&hook).await.unwrap_err();
    assert!(error.is_retryable(), "{error:?}");
    let error = store.replace(&rotated(&hook), 1).await.unwrap_err();
    assert!(error.is_retryable(), "{error:?}");
    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();

    assert!(store.get(&scope, hook.id()).await.unwrap().is_none());
    assert!(store.list(&scope, None).await.unwrap().is_empty());
    store.insert(&hook).await.unwrap();
    assert_same(&store.get(&scope, hook.id()).await.unwrap().unwrap(), &hook);
}

/// A writer that holds the lock for less than the busy timeout only delays the store.
#[tokio::test]
async fn a_short_lock_is_waited_for_not_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hooks.db");
    let store = migrated(&path).await;
    let scope = scope();
    let hook = webhook(&scope, &[]);
    let mut locker = write_locked(&path).await;
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        sqlx::query("COMMIT").execute(&mut locker).await.unwrap();
    });
    store.insert(&hook).await.unwrap();
    release.await.unwrap();
    assert!(store.get(&scope, hook.id()).await.unwrap().is_some());
}

#[tokio::test]
async fn stray_index_rows_change_no_listing() {
    let dir = tempfile::tempdir().unwrap();
    let store = migrated(&dir.path().join("hooks.db")).await;
    let pool = store.pool().clone();
    support::stray_index_rows_change_no_listing(&store, async |scope, account, id| {
        sqlx::query(
            "INSERT INTO webhook_kit_webhook_accounts \
             (organization, account_type, account_id, webhook_id) VALUES (?1, ?2, ?3, ?4)",
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

/// A store without a keyring on a database file of its own.
async fn own_file() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = migrated(&dir.path().join("hooks.db")).await;
    (dir, store)
}

#[tokio::test]
async fn sealed_rows_are_bound_to_their_scope() {
    let (_dir, store) = own_file().await;
    support::sealing::sealed_rows_are_bound_to_their_scope(&store).await;
}

#[tokio::test]
async fn old_format_rows_open_and_are_sealed_again_on_their_next_write() {
    let (_dir, store) = own_file().await;
    support::sealing::old_format_rows_open_and_are_sealed_again_on_their_next_write(&store).await;
}

#[tokio::test]
async fn a_different_key_under_a_known_id_is_refused_at_start() {
    let (_dir, store) = own_file().await;
    support::sealing::a_different_key_under_a_known_id_is_refused_at_start(&store).await;
}

#[tokio::test]
async fn one_corrupted_row_does_not_take_down_its_scope() {
    let (_dir, store) = own_file().await;
    support::sealing::one_corrupted_row_does_not_take_down_its_scope(&store).await;
}

#[tokio::test]
async fn resealing_moves_every_row_to_the_current_key() {
    let (_dir, store) = own_file().await;
    support::sealing::resealing_moves_every_row_to_the_current_key(&store).await;
}

#[tokio::test]
async fn resealing_loses_no_concurrent_write() {
    let (_dir, store) = own_file().await;
    support::sealing::resealing_loses_no_concurrent_write(&store).await;
}

#[tokio::test]
async fn resealing_reports_unreadable_rows() {
    let (_dir, store) = own_file().await;
    support::sealing::resealing_reports_unreadable_rows(&store).await;
}

#[tokio::test]
async fn resealing_never_overwrites_a_write_made_after_its_read() {
    let (_dir, store) = own_file().await;
    support::sealing::resealing_never_overwrites_a_write_made_after_its_read(&store).await;
}
