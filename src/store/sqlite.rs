//! [`SqliteStore`]: webhooks in a SQLite file, for a service that runs on one machine.

use std::path::Path;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use sqlx::Row as _;
use sqlx::Sqlite;
use sqlx::migrate::Migrator;
use sqlx::query::Query;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};

use crate::id::{AccountId, WebhookId};
use crate::seal::Keyring;
use crate::store::sql::Writing;
use crate::store::sql::{
    ACCOUNT_IDS_COLUMN, Checked, Dialect, Encoded, MIGRATIONS_TABLE, PageStatements, RawRow,
    RowError, backend_error, compare_migrations, is_unique_violation, migrate_error,
    replace_refused, select_columns, selected, sql_store_methods, sql_store_reads, stored_revision,
};
use crate::store::{StoreError, WebhookStore};
use crate::webhook::{Scope, Webhook};

mod group_commit;

/// How long a connection waits for another one's write lock before the operation fails
/// with a retryable [`StoreError`].
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

fn db_error(error: sqlx::Error) -> StoreError {
    backend_error(Dialect::Sqlite, error)
}

/// Binds a webhook's columns to `?1`..`?13` in the order of the table (`account_ids` as
/// its JSON text): the parameters of both the `INSERT` and the `UPDATE`.
fn bind_row<'q>(
    query: Query<'q, Sqlite, SqliteArguments>,
    row: &Encoded,
    account_ids: &str,
) -> Query<'q, Sqlite, SqliteArguments> {
    query
        .bind(&row.id)
        .bind(&row.organization)
        .bind(row.account_type)
        .bind(&row.url)
        .bind(row.enabled)
        .bind(account_ids)
        .bind(row.created_at_ns)
        .bind(row.secret_key_id)
        .bind(&row.secret[..])
        .bind(row.previous_key_id)
        .bind(row.previous_secrets.as_deref().map(|bytes| &bytes[..]))
        .bind(row.revision)
        .bind(&row.secret_last4)
}

/// Webhooks of scope (?1, ?2) that push events for account ?3: those without a filter
/// (partial index) and those whose filter holds it (join table's primary key).
macro_rules! list_for_account_sql {
    () => {
        concat!(
            "SELECT ",
            select_columns!(),
            " FROM webhook_kit_webhooks w \
             WHERE w.organization = ?1 AND w.account_type = ?2 AND w.account_ids = '[]' \
             UNION ALL SELECT ",
            select_columns!(),
            " FROM webhook_kit_webhook_accounts a \
             JOIN webhook_kit_webhooks w ON w.id = a.webhook_id \
             WHERE a.organization = ?1 AND a.account_type = ?2 AND a.account_id = ?3 \
             ORDER BY 1"
        )
    };
}

/// The statements of [`WebhookStore::list_page`].
static PAGE: LazyLock<PageStatements> =
    LazyLock::new(|| PageStatements::new(|index| format!("?{index}"), "w.account_ids = '[]'"));

static MIGRATOR: LazyLock<Migrator> = LazyLock::new(|| {
    let mut migrator = sqlx::migrate!("migrations/sqlite");
    migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
    migrator
});

/// A [`WebhookStore`] in a SQLite database file.
///
/// Open it with [`SqliteStore::open`] (or build the pool yourself from
/// [`SqliteStore::connect_options`] and use [`SqliteStore::new`]), then call
/// [`SqliteStore::migrate`] once at start-up. Every operation checks the schema before its
/// first query: a database that was never migrated, or that a newer release of this crate
/// migrated, fails with a [`SchemaError`](crate::SchemaError) instead of running.
///
/// # Durability
///
/// The database runs in WAL mode with `synchronous = FULL`: a write that returned `Ok`
/// has been synced to disk and survives a crash or a power loss. Writers wait up to
/// [`SQLITE_BUSY_TIMEOUT`] for each other; past that the call fails with a retryable
/// error, and nothing was written. The delivery queue's writes (enqueue, claim, finish)
/// are committed in groups: those of many callers that arrive while one transaction
/// commits share the next one and its sync to disk, each in a savepoint of its own (a
/// write that fails is rolled back alone), and each caller is answered after the commit.
/// A task of the store does the writing, on the tokio runtime of the first write.
///
/// # Secrets
///
/// Without a [`Keyring`] secrets are stored **in plaintext**: anyone who can read the file
/// can sign deliveries. Give one with [`SqliteStore::with_keyring`] to seal them.
/// Sealed values are bound to the webhook's id, organisation and account type; a different
/// key under a known key id is refused at start ([`SqliteStore::check_keys`]). To retire a
/// key, [`SqliteStore::reseal_all`] re-seals every row under the current one. The crate's
/// README ("Encryption keys") says what sealing protects against and what not.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use webhook_kit::{EncryptionKey, Keyring, SqliteStore};
///
/// let dir = tempfile::tempdir()?;
/// let key = EncryptionKey::generate(1); // in production: from your secret manager
/// let store = SqliteStore::open(dir.path().join("webhooks.db"))
///     .await?
///     .with_keyring(Keyring::new(key));
/// store.migrate().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// The queue's writes, committed in groups (shared by clones).
    group: Arc<group_commit::GroupCommit>,
    /// Concurrent enqueues, written together (shared by clones).
    enqueues: Arc<crate::store::sql::queue::Enqueues>,
    keyring: Option<Arc<Keyring>>,
    schema: Checked,
    keys: Checked,
}

impl SqliteStore {
    /// The connection options this store is meant to run with: the file at `path` (created
    /// when missing), WAL journal, `synchronous = FULL`, a busy timeout of
    /// [`SQLITE_BUSY_TIMEOUT`], foreign keys on and temporary storage in memory.
    pub fn connect_options(path: impl AsRef<Path>) -> SqliteConnectOptions {
        SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(SQLITE_BUSY_TIMEOUT)
            .foreign_keys(true)
            // Statement journals (each write of a group commit runs in a savepoint) in
            // memory rather than in a temporary file created and deleted per statement.
            .pragma("temp_store", "memory")
    }

    /// Opens (or creates) the database file at `path` with
    /// [`SqliteStore::connect_options`]. Does not touch the schema: call
    /// [`SqliteStore::migrate`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the file cannot be opened or created.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let pool = SqlitePoolOptions::new()
            .connect_with(Self::connect_options(path))
            .await
            .map_err(db_error)?;
        Ok(Self::new(pool))
    }

    /// A store on a pool you built. Its connections should use WAL and a busy timeout, as
    /// [`SqliteStore::connect_options`] sets them.
    pub fn new(pool: SqlitePool) -> Self {
        Self {
            pool,
            group: Arc::default(),
            enqueues: Arc::default(),
            keyring: None,
            schema: Checked::default(),
            keys: Checked::default(),
        }
    }

    /// Seals secrets with `keyring` from now on, and opens the stored ones with it. A row
    /// whose secret is in plaintext or under a key the keyring lacks fails to read with a
    /// [`SealError`](crate::SealError). The keys are checked against the database
    /// ([`check_keys`](Self::check_keys)) by `migrate` and before the first operation.
    #[must_use]
    pub fn with_keyring(mut self, keyring: Keyring) -> Self {
        self.keyring = Some(Arc::new(keyring));
        self.keys = Checked::default();
        self
    }

    /// The connection pool.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Runs `work` atomically, in a transaction shared with other callers' writes (a group
    /// commit: one sync to disk for all); answers once it committed.
    async fn write<R, F>(&self, work: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: for<'c> Fn(&'c mut sqlx::SqliteConnection) -> Writing<'c, Result<R, StoreError>>
            + Send
            + 'static,
    {
        self.group.write(&self.pool, work).await
    }

    /// Applies the migrations this crate embeds that the database lacks, then checks the
    /// keyring's keys ([`check_keys`](Self::check_keys)).
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`]: a [`SchemaError`](crate::SchemaError) when the database was
    /// migrated by a newer release, a [`SealError::KeyMismatch`](crate::SealError) naming
    /// the key id whose key is wrong, or the driver's error.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|error| migrate_error(Dialect::Sqlite, error))?;
        self.schema.set();
        self.check_keys().await
    }

    /// Checks that the database has exactly the migrations this crate embeds.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] with a [`SchemaError`](crate::SchemaError) when it does
    /// not; with the driver's error (retryable when passing) when it cannot be read.
    pub async fn check_schema(&self) -> Result<(), StoreError> {
        let exists: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
        )
        .bind(MIGRATIONS_TABLE)
        .fetch_one(&self.pool)
        .await
        .map_err(db_error)?;
        let applied = if exists {
            Some(
                sqlx::query_as(
                    "SELECT version, success, checksum FROM webhook_kit_migrations ORDER BY version",
                )
                .fetch_all(&self.pool)
                .await
                .map_err(db_error)?,
            )
        } else {
            None
        };
        compare_migrations(&MIGRATOR, applied).map_err(StoreError::backend)?;
        self.schema.set();
        Ok(())
    }

    fn raw(row: &SqliteRow) -> Result<RawRow, StoreError> {
        let account_ids: String = row.try_get(ACCOUNT_IDS_COLUMN).map_err(db_error)?;
        let account_ids: Vec<String> = serde_json::from_str(&account_ids).map_err(|_| {
            StoreError::backend(RowError::Corrupt {
                column: "account_ids",
            })
        })?;
        RawRow::read(row, account_ids).map_err(db_error)
    }

    async fn list_rows(
        &self,
        scope: &Scope,
        account: Option<&AccountId>,
    ) -> Result<Vec<RawRow>, StoreError> {
        self.ready().await?;
        let mut query = sqlx::query(match account {
            None => concat!(
                "SELECT ",
                select_columns!(),
                " FROM webhook_kit_webhooks w \
                 WHERE w.organization = ?1 AND w.account_type = ?2 ORDER BY w.id"
            ),
            Some(_) => list_for_account_sql!(),
        })
        .bind(scope.organization().as_str())
        .bind(scope.account_type().as_str());
        if let Some(account) = account {
            query = query.bind(account.as_str());
        }
        Ok(selected(self.rows(query).await?, scope, account))
    }

    fn encode(&self, webhook: &Webhook) -> Result<(Encoded, String), StoreError> {
        let encoded = Encoded::new(webhook, self.keyring.as_deref())?;
        let account_ids =
            serde_json::to_string(&encoded.account_ids).map_err(StoreError::backend)?;
        Ok((encoded, account_ids))
    }

    sql_store_methods! {
        query: Query<'_, Sqlite, SqliteArguments>,
        sealed_rows_of_key: concat!(
            "SELECT ",
            select_columns!(),
            " FROM webhook_kit_webhooks w WHERE w.secret_key_id = ?1 LIMIT 8"
        ),
        insert_key_check: "INSERT INTO webhook_kit_key_checks (key_id, key_check) \
             VALUES (?1, ?2) ON CONFLICT (key_id) DO NOTHING",
        row_in_scope: concat!(
            "SELECT ",
            select_columns!(),
            " FROM webhook_kit_webhooks w \
             WHERE w.id = ?1 AND w.organization = ?2 AND w.account_type = ?3"
        ),
        rows_after: concat!(
            "SELECT ",
            select_columns!(),
            " FROM webhook_kit_webhooks w WHERE w.id > ?1 ORDER BY w.id LIMIT ?2"
        ),
        reseal_row: "UPDATE webhook_kit_webhooks SET secret_key_id = ?1, secret = ?2, \
             previous_key_id = ?3, previous_secrets = ?4, secret_last4 = ?5 \
             WHERE id = ?6 AND organization = ?7 AND account_type = ?8 \
             AND revision = ?9",
        row_by_id: concat!(
            "SELECT ",
            select_columns!(),
            " FROM webhook_kit_webhooks w WHERE w.id = ?1"
        ),
        rows_of_ids: concat!(
            "SELECT ",
            select_columns!(),
            " FROM webhook_kit_webhooks w WHERE w.id IN (SELECT value FROM json_each(?1))"
        ),
    }
}

impl WebhookStore for SqliteStore {
    async fn insert(&self, webhook: &Webhook) -> Result<(), StoreError> {
        self.ready().await?;
        let (row, account_ids) = self.encode(webhook)?;
        let result = bind_row(
            sqlx::query(
                "INSERT INTO webhook_kit_webhooks (id, organization, account_type, url, enabled, \
                 account_ids, created_at_ns, secret_key_id, secret, previous_key_id, \
                 previous_secrets, revision, secret_last4) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            ),
            &row,
            &account_ids,
        )
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) if is_unique_violation(&error) => Err(StoreError::AlreadyExists),
            Err(error) => Err(db_error(error)),
        }
    }

    sql_store_reads!();

    async fn replace(&self, webhook: &Webhook, expected_revision: u64) -> Result<(), StoreError> {
        self.ready().await?;
        let (row, account_ids) = self.encode(webhook)?;
        let expected = stored_revision(expected_revision)?;
        let updated = bind_row(
            sqlx::query(
                "UPDATE webhook_kit_webhooks SET url = ?4, enabled = ?5, account_ids = ?6, \
                 created_at_ns = ?7, secret_key_id = ?8, secret = ?9, previous_key_id = ?10, \
                 previous_secrets = ?11, revision = ?12, secret_last4 = ?13 \
                 WHERE id = ?1 AND organization = ?2 AND account_type = ?3 AND revision = ?14",
            ),
            &row,
            &account_ids,
        )
        .bind(expected)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        if updated.rows_affected() == 1 {
            return Ok(());
        }
        let actual: Option<i64> = sqlx::query_scalar(
            "SELECT revision FROM webhook_kit_webhooks \
             WHERE id = ?1 AND organization = ?2 AND account_type = ?3",
        )
        .bind(&row.id)
        .bind(&row.organization)
        .bind(row.account_type)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        Err(replace_refused(expected_revision, actual))
    }

    async fn delete(&self, scope: &Scope, id: &WebhookId) -> Result<(), StoreError> {
        self.ready().await?;
        let deleted = sqlx::query(
            "DELETE FROM webhook_kit_webhooks \
             WHERE id = ?1 AND organization = ?2 AND account_type = ?3",
        )
        .bind(id.as_str())
        .bind(scope.organization().as_str())
        .bind(scope.account_type().as_str())
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        if deleted.rows_affected() == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }
}

crate::store::sql::queue::sql_delivery_store!(
    SqliteStore,
    sqlx::SqliteConnection,
    SqliteRow,
    crate::store::sql::queue::SQLITE_DIALECT
);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A store on a new in-memory database, migrated.
    async fn memory_store() -> SqliteStore {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        let store = SqliteStore::new(pool);
        store.migrate().await.unwrap();
        store
    }

    /// The steps of `sql`'s query plan with parameters `org`, `live`, `acc` (the account
    /// listing) or `org`, `live`, `wh_`, 100, `acc` (a page).
    async fn plan(store: &SqliteStore, sql: &str, page: bool) -> Vec<String> {
        let explain = sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}"));
        let query = sqlx::query_as(explain).bind("org").bind("live");
        let query = if page {
            query.bind("wh_").bind(100_i64).bind("acc")
        } else {
            query.bind("acc")
        };
        let rows: Vec<(i64, i64, i64, String)> = query.fetch_all(store.pool()).await.unwrap();
        rows.into_iter().map(|row| row.3).collect()
    }

    #[tokio::test]
    async fn enqueues_gathered_into_one_write_are_each_routed() {
        let store = memory_store().await;
        crate::store::sql::queue::tests::check_enqueue_each(&store, |items| {
            store.enqueue_routed_each(items)
        })
        .await;
    }

    #[tokio::test]
    async fn a_claim_walks_the_due_index_in_order_without_sorting() {
        let store = memory_store().await;
        let explain = sqlx::AssertSqlSafe(format!(
            "EXPLAIN QUERY PLAN {}",
            crate::store::sql::queue::SQLITE_DIALECT.claim
        ));
        let rows: Vec<(i64, i64, i64, String)> = sqlx::query_as(explain)
            .bind(2_i64)
            .bind("token")
            .bind(1_i64)
            .bind(32_i64)
            .fetch_all(store.pool())
            .await
            .unwrap();
        let details: Vec<String> = rows.into_iter().map(|row| row.3).collect();
        assert_plan(&details, "webhook_kit_deliveries_due", "TEMP B-TREE");
    }

    /// Asserts that a query plan's steps use `index` and that none mentions `avoided`.
    fn assert_plan(details: &[String], index: &str, avoided: &str) {
        assert!(
            details.iter().any(|step| step.contains(index)),
            "{index} unused: {details:?}"
        );
        assert!(
            details.iter().all(|step| !step.contains(avoided)),
            "{avoided}: {details:?}"
        );
    }

    #[tokio::test]
    async fn listing_for_an_account_searches_indexes_and_scans_no_table() {
        let store = memory_store().await;
        let details = plan(&store, list_for_account_sql!(), false).await;
        assert_plan(&details, "webhook_kit_webhooks_scope_all_accounts", "SCAN");
    }

    #[tokio::test]
    async fn a_page_is_read_through_indexes_only() {
        use crate::store::Selection;
        let store = memory_store().await;
        let selections = [
            Selection::All,
            Selection::Unfiltered,
            Selection::Account("acc".parse().unwrap()),
        ];
        for selection in selections {
            let details = plan(&store, PAGE.of(&selection), true).await;
            // Tables are only searched through an index range (`w` and `a`); what is scanned
            // is a subquery's rows, at most a page each.
            assert!(
                details
                    .iter()
                    .all(|step| !step.starts_with("SCAN w") && !step.starts_with("SCAN a")),
                "{selection:?}: {details:?}"
            );
            assert!(
                details.iter().any(|step| step.contains("USING")),
                "{selection:?}: {details:?}"
            );
        }
    }
}
