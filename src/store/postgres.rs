//! [`PostgresStore`]: webhooks in PostgreSQL, shared by many service instances.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use sqlx::Postgres;
use sqlx::Row as _;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgArguments, PgPool, PgPoolOptions, PgRow};
use sqlx::query::Query;

use crate::id::{AccountId, WebhookId};
use crate::seal::Keyring;
use crate::store::sql::{
    ACCOUNT_IDS_COLUMN, Checked, Dialect, Encoded, MIGRATIONS_TABLE, PageStatements, RawRow,
    backend_error, compare_migrations, is_unique_violation, migrate_error, replace_refused,
    select_columns, selected, sql_store_methods, sql_store_reads, stored_revision,
};
use crate::store::{StoreError, WebhookStore};
use crate::webhook::{Scope, Webhook};

/// How long [`PostgresStore::connect`]'s pool waits for a connection before the operation
/// fails with a retryable [`StoreError`].
pub const POSTGRES_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

fn db_error(error: sqlx::Error) -> StoreError {
    backend_error(Dialect::Postgres, error)
}

/// Binds a webhook's columns to `$1`..`$13` in the order of the table: the parameters of
/// both the `INSERT` and the `UPDATE`.
fn bind_row<'q>(
    query: Query<'q, Postgres, PgArguments>,
    row: &Encoded,
) -> Query<'q, Postgres, PgArguments> {
    query
        .bind(&row.id)
        .bind(&row.organization)
        .bind(row.account_type)
        .bind(&row.url)
        .bind(row.enabled)
        .bind(&row.account_ids)
        .bind(row.created_at_ns)
        .bind(row.secret_key_id)
        .bind(&row.secret[..])
        .bind(row.previous_key_id)
        .bind(row.previous_secrets.as_deref().map(|bytes| &bytes[..]))
        .bind(row.revision)
        .bind(&row.secret_last4)
}

/// The statements of [`WebhookStore::list_page`].
static PAGE: LazyLock<PageStatements> = LazyLock::new(|| {
    PageStatements::new(
        |index| format!("${index}"),
        "cardinality(w.account_ids) = 0",
    )
});

static MIGRATOR: LazyLock<Migrator> = LazyLock::new(|| {
    let mut migrator = sqlx::migrate!("migrations/postgres");
    migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
    migrator
});

/// A [`WebhookStore`] in a PostgreSQL database, for many service instances sharing one
/// database.
///
/// Connect with [`PostgresStore::connect`] (or build the pool yourself and use
/// [`PostgresStore::new`]), then call [`PostgresStore::migrate`] once at start-up; it takes
/// an advisory lock, so instances starting together migrate once. Every operation checks
/// the schema before its first query: a database that was never migrated, or that a newer
/// release of this crate migrated, fails with a [`SchemaError`](crate::SchemaError)
/// instead of running.
///
/// Every write is one statement, so it is applied whole or not at all; revisions are
/// checked inside the `UPDATE`, so two instances racing on one webhook never lose a write.
/// A lost connection, a server that is down or restarting, or a pool time-out is a
/// retryable [`StoreError`].
///
/// Tables are prefixed `webhook_kit_`, and applied migrations are recorded in
/// `webhook_kit_migrations`, so the store can share a database with the host's own tables.
///
/// # Secrets
///
/// Without a [`Keyring`] secrets are stored **in plaintext**: anyone who can read the table
/// can sign deliveries. Give one with [`PostgresStore::with_keyring`] to seal them.
/// Sealed values are bound to the webhook's id, organisation and account type; a different
/// key under a known key id is refused at start ([`PostgresStore::check_keys`]). To retire a
/// key, [`PostgresStore::reseal_all`] re-seals every row under the current one. The crate's
/// README ("Encryption keys") says what sealing protects against and what not.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use webhook_kit::{EncryptionKey, Keyring, PostgresStore};
///
/// let key = EncryptionKey::from_base64(1, &std::env::var("WEBHOOK_KEY")?)?;
/// let store = PostgresStore::connect(&std::env::var("DATABASE_URL")?)
///     .await?
///     .with_keyring(Keyring::new(key));
/// store.migrate().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    keyring: Option<Arc<Keyring>>,
    /// Concurrent enqueues, written together (shared by clones).
    enqueues: Arc<crate::store::sql::queue::Enqueues>,
    schema: Checked,
    keys: Checked,
}

impl PostgresStore {
    /// Connects a pool to `url` (`postgres://user:password@host:port/database`), waiting at
    /// most [`POSTGRES_ACQUIRE_TIMEOUT`] for a connection. Does not touch the schema: call
    /// [`PostgresStore::migrate`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the server cannot be reached (retryable) or refuses
    /// the connection.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .acquire_timeout(POSTGRES_ACQUIRE_TIMEOUT)
            .connect(url)
            .await
            .map_err(db_error)?;
        Ok(Self::new(pool))
    }

    /// A store on a pool you built.
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            keyring: None,
            enqueues: Arc::default(),
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
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Runs the queue's write `work` on a pooled connection: each is one statement here
    /// (data-modifying CTEs), atomic on its own.
    async fn write<R, F>(&self, work: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: for<'c> Fn(
                &'c mut sqlx::PgConnection,
            ) -> crate::store::sql::Writing<'c, Result<R, StoreError>>
            + Send
            + 'static,
    {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        work(&mut conn).await
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
            .map_err(|error| migrate_error(Dialect::Postgres, error))?;
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
        let exists: bool =
            sqlx::query_scalar("SELECT to_regclass('webhook_kit_migrations') IS NOT NULL")
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

    fn raw(row: &PgRow) -> Result<RawRow, StoreError> {
        let account_ids: Vec<String> = row.try_get(ACCOUNT_IDS_COLUMN).map_err(db_error)?;
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
                 WHERE w.organization = $1 AND w.account_type = $2 ORDER BY w.id"
            ),
            Some(_) => concat!(
                "SELECT ",
                select_columns!(),
                " FROM webhook_kit_webhooks w \
                 WHERE w.organization = $1 AND w.account_type = $2 AND cardinality(w.account_ids) = 0 \
                 UNION ALL SELECT ",
                select_columns!(),
                " FROM webhook_kit_webhook_accounts a \
                 JOIN webhook_kit_webhooks w ON w.id = a.webhook_id \
                 WHERE a.organization = $1 AND a.account_type = $2 AND a.account_id = $3 \
                 ORDER BY 1"
            ),
        })
        .bind(scope.organization().as_str())
        .bind(scope.account_type().as_str());
        if let Some(account) = account {
            query = query.bind(account.as_str());
        }
        Ok(selected(self.rows(query).await?, scope, account))
    }

    sql_store_methods! {
        query: Query<'_, Postgres, PgArguments>,
        sealed_rows_of_key: concat!(
            "SELECT ",
            select_columns!(),
            " FROM webhook_kit_webhooks w WHERE w.secret_key_id = $1 LIMIT 8"
        ),
        insert_key_check: "INSERT INTO webhook_kit_key_checks (key_id, key_check) \
             VALUES ($1, $2) ON CONFLICT (key_id) DO NOTHING",
        row_in_scope: concat!(
            "SELECT ",
            select_columns!(),
            " FROM webhook_kit_webhooks w \
             WHERE w.id = $1 AND w.organization = $2 AND w.account_type = $3"
        ),
        rows_after: concat!(
            "SELECT ",
            select_columns!(),
            " FROM webhook_kit_webhooks w WHERE w.id > $1 ORDER BY w.id LIMIT $2"
        ),
        reseal_row: "UPDATE webhook_kit_webhooks SET secret_key_id = $1, secret = $2, \
             previous_key_id = $3, previous_secrets = $4, secret_last4 = $5 \
             WHERE id = $6 AND organization = $7 AND account_type = $8 \
             AND revision = $9",
        row_by_id: concat!(
            "SELECT ",
            select_columns!(),
            " FROM webhook_kit_webhooks w WHERE w.id = $1"
        ),
        rows_of_ids: ROWS_OF_IDS,
    }
}

/// The webhooks whose ids are in the JSON array `$1`, looked up by primary key (an array,
/// not `IN (subquery)`: see `ids_among!` in the queue's SQL).
const ROWS_OF_IDS: &str = concat!(
    "SELECT ",
    select_columns!(),
    " FROM webhook_kit_webhooks w \
     WHERE w.id = ANY(ARRAY(SELECT jsonb_array_elements_text($1::jsonb)))"
);

impl WebhookStore for PostgresStore {
    async fn insert(&self, webhook: &Webhook) -> Result<(), StoreError> {
        self.ready().await?;
        let row = Encoded::new(webhook, self.keyring.as_deref())?;
        let result = bind_row(
            sqlx::query(
                "INSERT INTO webhook_kit_webhooks (id, organization, account_type, url, enabled, \
                 account_ids, created_at_ns, secret_key_id, secret, previous_key_id, \
                 previous_secrets, revision, secret_last4) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            ),
            &row,
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
        let row = Encoded::new(webhook, self.keyring.as_deref())?;
        let expected = stored_revision(expected_revision)?;
        let updated = bind_row(
            sqlx::query(
                "UPDATE webhook_kit_webhooks SET url = $4, enabled = $5, account_ids = $6, \
                 created_at_ns = $7, secret_key_id = $8, secret = $9, previous_key_id = $10, \
                 previous_secrets = $11, revision = $12, secret_last4 = $13 \
                 WHERE id = $1 AND organization = $2 AND account_type = $3 AND revision = $14",
            ),
            &row,
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
             WHERE id = $1 AND organization = $2 AND account_type = $3",
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
             WHERE id = $1 AND organization = $2 AND account_type = $3",
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
    PostgresStore,
    sqlx::PgConnection,
    sqlx::postgres::PgRow,
    crate::store::sql::queue::POSTGRES_DIALECT
);

impl PostgresStore {
    /// [`DeliveryStore::enqueue`](crate::DeliveryStore::enqueue) on the host's own
    /// connection or transaction: the deliveries commit or roll back with the host's data.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`].
    pub async fn enqueue_in(
        &self,
        conn: &mut sqlx::PgConnection,
        event: &crate::Event,
        webhooks: &[WebhookId],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<crate::DeliveryId>, StoreError> {
        self.ready().await?;
        Self::enqueue_on(conn, event, webhooks, now).await
    }

    /// [`DeliveryStore::enqueue_routed`](crate::DeliveryStore::enqueue_routed) on the
    /// host's own connection or transaction: the webhooks are read and the deliveries
    /// written there, so they commit (or roll back) with the host's data.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`].
    pub async fn enqueue_routed_in(
        &self,
        conn: &mut sqlx::PgConnection,
        event: &crate::Event,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<crate::DeliveryId>, StoreError> {
        self.ready().await?;
        Self::enqueue_routed_on(conn, event, now).await
    }
}

#[cfg(test)]
#[path = "../../tests/support/postgres.rs"]
mod test_server;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::store::sql::queue::POSTGRES_DIALECT;

    /// The plan of `sql` prepared on `conn` as the generic plan a pooled prepared statement
    /// ends up with, `arguments` given to `EXPLAIN EXECUTE`.
    async fn generic_plan(
        conn: &mut sqlx::PgConnection,
        name: &str,
        sql: &str,
        arguments: &str,
    ) -> Vec<String> {
        sqlx::query("SET plan_cache_mode = force_generic_plan")
            .execute(&mut *conn)
            .await
            .unwrap();
        let prepare = sqlx::AssertSqlSafe(format!("PREPARE {name} AS {sql}"));
        sqlx::raw_sql(prepare).execute(&mut *conn).await.unwrap();
        let explain = sqlx::AssertSqlSafe(format!("EXPLAIN EXECUTE {name}({arguments})"));
        sqlx::query_scalar(explain)
            .fetch_all(&mut *conn)
            .await
            .unwrap()
    }

    /// A store on a fresh database of the test server, migrated.
    async fn fresh_store() -> PostgresStore {
        let store = PostgresStore::connect(&test_server::fresh_database().await)
            .await
            .unwrap();
        store.migrate().await.unwrap();
        store
    }

    #[tokio::test]
    async fn enqueues_gathered_into_one_write_are_each_routed() {
        let store = fresh_store().await;
        crate::store::sql::queue::tests::check_enqueue_each(&store, |items| {
            store.enqueue_routed_each(items)
        })
        .await;
    }

    /// A young queue grows fast before PostgreSQL first analyses its tables; without
    /// statistics an `IN (subquery)` was planned as a hash join over a sequential scan of
    /// every delivery, on every claim. The queue's statements must find their rows through
    /// indexes whatever the statistics.
    #[tokio::test]
    async fn queue_statements_use_indexes_on_a_large_table_never_analysed() {
        let store = fresh_store().await;
        let mut conn = store.pool().acquire().await.unwrap();
        sqlx::raw_sql(
            "INSERT INTO webhook_kit_events SELECT 'org', 'live', 'ev' || g, 'acc', '', 0 \
             FROM generate_series(1, 20000) g; \
             INSERT INTO webhook_kit_deliveries SELECT 'dlv_' || g, 'org', 'live', 'wh_1', \
             'ev' || g, 'delivered', 'scheduled', 1, NULL, NULL, g, g \
             FROM generate_series(1, 20000) g; \
             INSERT INTO webhook_kit_webhooks (id, organization, account_type, url, enabled, \
             account_ids, created_at_ns, secret, revision) SELECT 'wh_' || g, 'org', 'live', \
             'https://example.com', true, '{}', 0, '', 1 FROM generate_series(1, 20000) g",
        )
        .execute(&mut *conn)
        .await
        .unwrap();
        let statements = [
            ("claim", POSTGRES_DIALECT.claim, "1, 'token', 1, 16"),
            (
                "recover",
                POSTGRES_DIALECT.recover,
                "1, 'org', 'live', 'wh_1', 0, 16",
            ),
            ("rows_of_ids", ROWS_OF_IDS, "'[\"wh_1\", \"wh_2\"]'"),
            (
                "enqueue_each",
                POSTGRES_DIALECT.enqueue_each,
                "'[[\"other\", \"live\", \"ev\", \"acc\", \"7b7d\", \"dlv_0\", 1]]'",
            ),
            (
                "record",
                POSTGRES_DIALECT.record,
                "'delivered', NULL::bigint, 1, 'dlv_1', 'token', 1, 'scheduled', 1, 1, \
                 NULL::text, 200, NULL::text, ''::bytea, 'org', 'live', 'wh_1'",
            ),
        ];
        for (name, sql, arguments) in statements {
            let plan = generic_plan(&mut conn, name, sql, arguments).await;
            assert!(
                plan.iter().all(|step| !step.contains("Seq Scan")),
                "{name}: {plan:#?}"
            );
        }
    }
}
