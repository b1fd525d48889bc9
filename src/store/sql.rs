//! What the SQL stores share: the row format, sealing of secrets, error mapping and the
//! schema check. Compiled when the `sqlite` or `postgres` feature is on.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use sqlx::migrate::Migrator;
use zeroize::Zeroizing;

use crate::account::{AccountFilter, AccountType};
use crate::id::{AccountId, OrganizationId, WebhookId};
use crate::seal::{Binding, Keyring, SealError};
use crate::secret::Secret;
use crate::store::{Listing, PageRequest, Selection, StoreError, UnreadableWebhook};
use crate::url::WebhookUrl;
use crate::webhook::{PreviousSecret, Scope, Webhook, WebhookParts};
use crate::wire::WebhookResponse;

pub(crate) mod queue;

/// A write running on a borrowed connection: what a store's `write` runs atomically.
pub(crate) type Writing<'c, R> =
    std::pin::Pin<Box<dyn std::future::Future<Output = R> + Send + 'c>>;

/// The table where the SQL stores record the migrations they applied; their own, so that
/// the host's migrations in the same database never mix with the crate's.
pub(crate) const MIGRATIONS_TABLE: &str = "webhook_kit_migrations";

/// The columns every read selects, in the order [`RawRow::read`] expects them, from the
/// webhooks table aliased `w`.
macro_rules! select_columns {
    () => {
        "w.id, w.organization, w.account_type, w.url, w.enabled, w.account_ids, \
         w.created_at_ns, w.secret_key_id, w.secret, w.previous_key_id, w.previous_secrets, \
         w.revision, w.secret_last4"
    };
}
pub(crate) use select_columns;

/// The methods both SQL stores share, around the few statements whose placeholders differ
/// (`?1` in SQLite, `$1` in PostgreSQL). Expanded inside each store's inherent `impl`, which
/// provides `pool`, `keyring`, `keys`, `check_schema`, `db_error` and `Self::raw`.
macro_rules! sql_store_methods {
    (
        query: $query:ty,
        sealed_rows_of_key: $sealed_rows_of_key:expr,
        insert_key_check: $insert_key_check:expr,
        row_in_scope: $row_in_scope:expr,
        rows_after: $rows_after:expr,
        reseal_row: $reseal_row:expr,
        row_by_id: $row_by_id:expr,
        rows_of_ids: $rows_of_ids:expr $(,)?
    ) => {
        /// The rows whose ids are in `ids`, whatever their scope, in one statement.
        async fn rows_of_ids(
            &self,
            ids: &[&WebhookId],
        ) -> Result<Vec<$crate::store::sql::RawRow>, StoreError> {
            self.ready().await?;
            let ids = serde_json::to_string(ids).map_err(StoreError::backend)?;
            self.rows(sqlx::query($rows_of_ids).bind(ids)).await
        }

        /// Checks the keyring against the key check values of the database: each key must
        /// open the value stored under its id. The first time a key id is seen (current or
        /// retired), its value is stored, after checking that rows already sealed under that
        /// id, if any, open with it.
        /// Runs in `migrate` and before the store's first operation, so a store given a
        /// different key under a known id refuses every read and write. Without a keyring
        /// there is nothing to check.
        ///
        /// # Errors
        ///
        /// [`StoreError::Backend`] with [`SealError::KeyMismatch`](crate::SealError) naming
        /// the key id whose key is wrong, or with the driver's error.
        pub async fn check_keys(&self) -> Result<(), StoreError> {
            use $crate::store::sql::{new_key_check, unchecked_key_ids, verify_key_checks};
            let Some(keyring) = self.keyring.as_deref() else {
                self.keys.set();
                return Ok(());
            };
            let stored = self.key_checks().await?;
            verify_key_checks(keyring, &stored)?;
            // Every key is checked before any value is stored: a refused start writes nothing.
            let mut new_checks = Vec::new();
            for key_id in unchecked_key_ids(keyring, &stored) {
                let sealed_rows = self
                    .rows(sqlx::query($sealed_rows_of_key).bind(i64::from(key_id)))
                    .await?;
                new_checks.push((key_id, new_key_check(keyring, key_id, &sealed_rows)?));
            }
            for (key_id, check) in &new_checks {
                sqlx::query($insert_key_check)
                    .bind(i64::from(*key_id))
                    .bind(&check[..])
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
            }
            if !new_checks.is_empty() {
                // Another instance may have stored its own values first: check against them.
                verify_key_checks(keyring, &self.key_checks().await?)?;
            }
            self.keys.set();
            Ok(())
        }

        async fn key_checks(&self) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
            sqlx::query_as("SELECT key_id, key_check FROM webhook_kit_key_checks")
                .fetch_all(&self.pool)
                .await
                .map_err(db_error)
        }

        /// The start-up checks, once per store (and its clones): schema, then keys.
        async fn ready(&self) -> Result<(), StoreError> {
            if !self.schema.get() {
                self.check_schema().await?;
            }
            if !self.keys.get() {
                self.check_keys().await?;
            }
            Ok(())
        }

        async fn rows(&self, query: $query) -> Result<Vec<$crate::store::sql::RawRow>, StoreError> {
            let rows = query.fetch_all(&self.pool).await.map_err(db_error)?;
            rows.iter().map(Self::raw).collect()
        }

        async fn get_row(
            &self,
            scope: &Scope,
            id: &WebhookId,
        ) -> Result<Option<$crate::store::sql::RawRow>, StoreError> {
            self.ready().await?;
            let rows = self
                .rows(
                    sqlx::query($row_in_scope)
                        .bind(id.as_str())
                        .bind(scope.organization().as_str())
                        .bind(scope.account_type().as_str()),
                )
                .await?;
            Ok(rows.into_iter().next())
        }

        /// Re-seals one batch of rows under the keyring's current key: the `limit` rows after
        /// `after` in id order (from the first row when `None`). A row is written again when
        /// it is sealed under another key, in the format before
        /// [`SEALED_FORMAT_VERSION`](crate::SEALED_FORMAT_VERSION), in plaintext (read with
        /// [`Keyring::accepting_plaintext`](crate::Keyring::accepting_plaintext)), or lacks
        /// its secret's hint; rows already current are left alone, so a pass can be stopped
        /// and run again. Each write only changes the sealed columns, and only if the row's
        /// revision is still the one read: a concurrent write is never lost, the row is read
        /// again and re-sealed from what it now holds. Revisions are kept: the webhook did
        /// not change.
        ///
        /// Pass [`ResealBatch::next`](crate::ResealBatch::next) to the next call until it is
        /// `None`.
        ///
        /// # Errors
        ///
        /// [`StoreError::Backend`] with [`NoKeyringToReseal`](crate::NoKeyringToReseal) for
        /// a store without a keyring, or the driver's error; [`StoreError::Conflict`] when a
        /// row kept changing. Rows that do not open are reported in
        /// [`ResealBatch::unreadable`](crate::ResealBatch::unreadable).
        pub async fn reseal_batch(
            &self,
            after: Option<&WebhookId>,
            limit: u32,
        ) -> Result<$crate::store::sql::ResealBatch, StoreError> {
            use $crate::store::sql::{Encoded, NoKeyringToReseal, reseal_rows};
            self.ready().await?;
            let keyring = self
                .keyring
                .as_deref()
                .ok_or_else(|| StoreError::backend(NoKeyringToReseal))?;
            let rows = self
                .rows(
                    sqlx::query($rows_after)
                        .bind(after.map_or("", WebhookId::as_str))
                        .bind(i64::from(limit)),
                )
                .await?;
            reseal_rows(
                keyring,
                rows,
                limit,
                async |row: &Encoded, expected: i64| {
                    let updated = sqlx::query($reseal_row)
                        .bind(row.secret_key_id)
                        .bind(&row.secret[..])
                        .bind(row.previous_key_id)
                        .bind(row.previous_secrets.as_deref().map(|bytes| &bytes[..]))
                        .bind(&row.secret_last4)
                        .bind(&row.id)
                        .bind(&row.organization)
                        .bind(row.account_type)
                        .bind(expected)
                        .execute(&self.pool)
                        .await
                        .map_err(db_error)?;
                    Ok(updated.rows_affected() == 1)
                },
                async |id: &str| {
                    let rows = self.rows(sqlx::query($row_by_id).bind(id)).await?;
                    Ok(rows.into_iter().next())
                },
            )
            .await
        }

        /// Re-seals every row under the keyring's current key, `batch_size` rows at a time
        /// (see [`reseal_batch`](Self::reseal_batch)), and says how many it wrote. Once it
        /// reports no unreadable row, keys other than the current one can be dropped from
        /// the keyring. Running it again rewrites only what changed to another key since.
        ///
        /// # Errors
        ///
        /// As [`reseal_batch`](Self::reseal_batch).
        pub async fn reseal_all(
            &self,
            batch_size: u32,
        ) -> Result<$crate::store::sql::ResealReport, StoreError> {
            $crate::store::sql::reseal_in_batches(
                batch_size,
                async |after: Option<WebhookId>, limit| {
                    self.reseal_batch(after.as_ref(), limit).await
                },
            )
            .await
        }
    };
}
pub(crate) use sql_store_methods;

/// The read methods of [`WebhookStore`](crate::WebhookStore) both SQL stores share, over
/// their `get_row`, `list_rows` and `PAGE` statements. Expanded inside each store's
/// `impl WebhookStore`.
macro_rules! sql_store_reads {
    () => {
        async fn get(&self, scope: &Scope, id: &WebhookId) -> Result<Option<Webhook>, StoreError> {
            let row = self.get_row(scope, id).await?;
            row.map(|row| row.to_webhook(self.keyring.as_deref()))
                .transpose()
        }

        async fn get_each(
            &self,
            wanted: &[(Scope, WebhookId)],
        ) -> Result<Vec<Result<Option<Webhook>, StoreError>>, StoreError> {
            let ids: Vec<&WebhookId> = wanted.iter().map(|(_, id)| id).collect();
            let rows = self.rows_of_ids(&ids).await?;
            Ok(wanted
                .iter()
                .map(|(scope, id)| {
                    rows.iter()
                        .find(|row| row.is(scope, id))
                        .map(|row| row.to_webhook(self.keyring.as_deref()))
                        .transpose()
                })
                .collect())
        }

        async fn list(
            &self,
            scope: &Scope,
            account: Option<&AccountId>,
        ) -> Result<Vec<Webhook>, StoreError> {
            let rows = self.list_rows(scope, account).await?;
            $crate::store::sql::all_readable(rows, self.keyring.as_deref())
        }

        async fn list_readable(
            &self,
            scope: &Scope,
            account: Option<&AccountId>,
        ) -> Result<$crate::store::Listing, StoreError> {
            let rows = self.list_rows(scope, account).await?;
            $crate::store::sql::listing(rows, self.keyring.as_deref())
        }

        async fn list_masked(
            &self,
            scope: &Scope,
            account: Option<&AccountId>,
        ) -> Result<Vec<$crate::wire::WebhookResponse>, StoreError> {
            let rows = self.list_rows(scope, account).await?;
            $crate::store::sql::masked(rows, self.keyring.as_deref())
        }

        async fn get_masked(
            &self,
            scope: &Scope,
            id: &WebhookId,
        ) -> Result<Option<$crate::wire::WebhookResponse>, StoreError> {
            let row = self.get_row(scope, id).await?;
            row.map(|row| row.into_masked(self.keyring.as_deref()))
                .transpose()
        }

        async fn list_page(
            &self,
            scope: &Scope,
            page: &$crate::store::PageRequest,
        ) -> Result<Vec<Webhook>, StoreError> {
            use $crate::store::sql::{all_readable, bind_page, selected_page};
            self.ready().await?;
            let query = sqlx::query(PAGE.of(&page.selection));
            let rows = self.rows(bind_page(query, scope, page)).await?;
            let webhooks = all_readable(rows, self.keyring.as_deref())?;
            Ok(selected_page(webhooks, scope, page))
        }

        async fn list_page_masked(
            &self,
            scope: &Scope,
            page: &$crate::store::PageRequest,
        ) -> Result<Vec<$crate::wire::WebhookResponse>, StoreError> {
            use $crate::store::sql::{bind_page, masked, selected_page_rows};
            self.ready().await?;
            let query = sqlx::query(PAGE.of(&page.selection));
            let rows = self.rows(bind_page(query, scope, page)).await?;
            masked(
                selected_page_rows(rows, scope, page),
                self.keyring.as_deref(),
            )
        }
    };
}
pub(crate) use sql_store_reads;

/// Index of `account_ids` in [`select_columns!`]: each backend decodes it its own way.
pub(crate) const ACCOUNT_IDS_COLUMN: usize = 5;

/// The schema of the database does not match the migrations this crate embeds.
///
/// Every operation of a SQL store checks the schema once before its first query, so a
/// service started against a database that was never migrated, or that a newer release
/// migrated, fails at once with this error (inside [`StoreError::Backend`], not
/// retryable) rather than with an obscure SQL error later.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// No migration was ever applied: call the store's `migrate`.
    #[error("database schema is missing: run the store's migrate() first")]
    Missing,
    /// Some migrations this crate knows are not applied yet: call the store's `migrate`.
    #[error("database schema is older than this crate (migration {version} not applied)")]
    Outdated {
        /// The first migration not applied.
        version: i64,
    },
    /// The database was migrated by a newer release of this crate.
    #[error("database schema is newer than this crate (migration {version} is unknown)")]
    Newer {
        /// A migration applied to the database that this crate does not know.
        version: i64,
    },
    /// A migration failed half-way and left the schema in an unknown state.
    #[error("database schema is dirty: migration {version} failed")]
    Dirty {
        /// The migration that failed.
        version: i64,
    },
    /// An applied migration differs from the one this crate embeds.
    #[error("database schema was changed: migration {version} differs from this crate's")]
    Modified {
        /// The migration whose checksum differs.
        version: i64,
    },
}

/// A stored row could not be turned into a webhook, or a webhook into a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RowError {
    /// A column holds a value this crate never writes (changed by hand?).
    #[error("stored webhook has an invalid `{column}`")]
    Corrupt {
        /// The column.
        column: &'static str,
    },
    /// A value does not fit its column: a time outside 1677–2262 (stored as nanoseconds),
    /// or a revision above `i64::MAX`.
    #[error("webhook `{column}` does not fit its column")]
    OutOfRange {
        /// The column.
        column: &'static str,
    },
}

/// Whether a store (and its clones) passed a start-up check: a schema that matches its
/// migrations, or a keyring whose keys match their key check values.
#[derive(Debug, Clone, Default)]
pub(crate) struct Checked(Arc<AtomicBool>);

impl Checked {
    pub(crate) fn get(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    pub(crate) fn set(&self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Compares the migrations applied to a database with the ones a store embeds.
pub(crate) fn compare_migrations(
    migrator: &Migrator,
    applied: Option<Vec<(i64, bool, Vec<u8>)>>,
) -> Result<(), SchemaError> {
    let Some(applied) = applied else {
        return Err(SchemaError::Missing);
    };
    let known: HashMap<i64, &[u8]> = migrator
        .iter()
        .map(|migration| (migration.version, &*migration.checksum))
        .collect();
    let mut applied_versions = HashSet::new();
    for (version, success, checksum) in &applied {
        if !success {
            return Err(SchemaError::Dirty { version: *version });
        }
        match known.get(version) {
            None => return Err(SchemaError::Newer { version: *version }),
            Some(expected) if *expected != checksum.as_slice() => {
                return Err(SchemaError::Modified { version: *version });
            }
            Some(_) => {}
        }
        applied_versions.insert(*version);
    }
    if applied.is_empty() {
        return Err(SchemaError::Missing);
    }
    match migrator
        .iter()
        .find(|migration| !applied_versions.contains(&migration.version))
    {
        Some(migration) => Err(SchemaError::Outdated {
            version: migration.version,
        }),
        None => Ok(()),
    }
}

/// Which database a driver error came from: their error codes overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    #[cfg(feature = "sqlite")]
    Sqlite,
    #[cfg(feature = "postgres")]
    Postgres,
}

/// Maps an error of sqlx's migrator to a store error.
pub(crate) fn migrate_error(dialect: Dialect, error: sqlx::migrate::MigrateError) -> StoreError {
    use sqlx::migrate::MigrateError;
    match error {
        MigrateError::Execute(error) | MigrateError::ExecuteMigration(error, _) => {
            backend_error(dialect, error)
        }
        MigrateError::VersionMissing(version) => {
            StoreError::backend(SchemaError::Newer { version })
        }
        MigrateError::VersionMismatch(version) => {
            StoreError::backend(SchemaError::Modified { version })
        }
        MigrateError::Dirty(version) => StoreError::backend(SchemaError::Dirty { version }),
        other => StoreError::backend(other),
    }
}

/// Maps a driver error to a store error: connection failures, pool time-outs and a busy
/// or shutting-down database are retryable, everything else is not.
pub(crate) fn backend_error(dialect: Dialect, error: sqlx::Error) -> StoreError {
    if is_transient(dialect, &error) {
        StoreError::retryable(error)
    } else {
        StoreError::backend(error)
    }
}

fn is_transient(dialect: Dialect, error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(database) => database
            .code()
            .is_some_and(|code| transient_code(dialect, &code)),
        _ => false,
    }
}

fn transient_code(dialect: Dialect, code: &str) -> bool {
    match dialect {
        // SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes.
        #[cfg(feature = "sqlite")]
        Dialect::Sqlite => code
            .parse::<i64>()
            .is_ok_and(|code| matches!(code & 0xff, 5 | 6)),
        // Class 08: connection exception; 57P01..57P03: the server is shutting down or
        // starting; 53300: too many connections; 40001 and 40P01: serialization failure and
        // deadlock.
        #[cfg(feature = "postgres")]
        Dialect::Postgres => {
            code.starts_with("08")
                || matches!(
                    code,
                    "57P01" | "57P02" | "57P03" | "53300" | "40001" | "40P01"
                )
        }
    }
}

/// Whether an insert failed because the id is taken.
pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(database) if database.is_unique_violation())
}

/// A webhook as the SQL stores write it.
pub(crate) struct Encoded {
    pub(crate) id: String,
    pub(crate) organization: String,
    pub(crate) account_type: &'static str,
    pub(crate) url: String,
    pub(crate) enabled: bool,
    pub(crate) account_ids: Vec<String>,
    pub(crate) created_at_ns: i64,
    pub(crate) secret_key_id: Option<i64>,
    pub(crate) secret: Zeroizing<Vec<u8>>,
    pub(crate) previous_key_id: Option<i64>,
    pub(crate) previous_secrets: Option<Zeroizing<Vec<u8>>>,
    pub(crate) revision: i64,
    /// The secret's last 4 characters, which every masked answer shows anyway: kept apart
    /// so that listing and getting open no secret.
    pub(crate) secret_last4: String,
}

const SECRET_COLUMN: &str = "secret";
const PREVIOUS_SECRETS_COLUMN: &str = "previous_secrets";
/// First byte of the previous-secrets encoding: its format version.
const PREVIOUS_SECRETS_FORMAT: u8 = 1;

fn binding<'a>(
    id: &'a str,
    column: &'a str,
    organization: &'a str,
    account_type: &'a str,
) -> Binding<'a> {
    Binding {
        webhook_id: id,
        column,
        organization,
        account_type,
    }
}

fn seal_column(
    keyring: Option<&Keyring>,
    binding: &Binding<'_>,
    plaintext: Zeroizing<Vec<u8>>,
) -> Result<(Option<i64>, Zeroizing<Vec<u8>>), StoreError> {
    match keyring {
        None => Ok((None, plaintext)),
        Some(keyring) => {
            let (key_id, sealed) = keyring
                .seal(&plaintext, binding)
                .map_err(StoreError::backend)?;
            Ok((Some(i64::from(key_id)), Zeroizing::new(sealed)))
        }
    }
}

/// A column's secret as opened, and whether writing it again would change how it is
/// sealed (an older key, the format before the version byte, or plaintext).
struct OpenedColumn {
    plaintext: Zeroizing<Vec<u8>>,
    stale: bool,
}

fn open_column(
    keyring: Option<&Keyring>,
    binding: &Binding<'_>,
    key_id: Option<i64>,
    stored: &[u8],
) -> Result<OpenedColumn, SealError> {
    match (key_id, keyring) {
        (None, None) => Ok(OpenedColumn {
            plaintext: Zeroizing::new(stored.to_vec()),
            stale: false,
        }),
        (None, Some(keyring)) if keyring.accepts_plaintext() => Ok(OpenedColumn {
            plaintext: Zeroizing::new(stored.to_vec()),
            stale: true,
        }),
        (None, Some(_)) => Err(SealError::Plaintext),
        (Some(_), None) => Err(SealError::NoKeyring),
        (Some(key_id), Some(keyring)) => {
            let key_id = u32::try_from(key_id).map_err(|_| SealError::Malformed)?;
            let opened = keyring.open(key_id, stored, binding)?;
            Ok(OpenedColumn {
                plaintext: opened.plaintext,
                stale: opened.legacy || key_id != keyring.current_key_id(),
            })
        }
    }
}

fn nanos(time: DateTime<Utc>, column: &'static str) -> Result<i64, StoreError> {
    time.timestamp_nanos_opt()
        .ok_or_else(|| StoreError::backend(RowError::OutOfRange { column }))
}

fn encode_previous(previous: &[PreviousSecret]) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    let mut bytes = Zeroizing::new(Vec::with_capacity(1 + previous.len() * 104));
    bytes.push(PREVIOUS_SECRETS_FORMAT);
    for old in previous {
        let text = old.secret.expose_secret().as_bytes();
        // A secret's text is at most `whsec_` + 88 base64 characters.
        let len = u8::try_from(text.len()).map_err(|_| {
            StoreError::backend(RowError::OutOfRange {
                column: "previous_secrets",
            })
        })?;
        bytes.extend_from_slice(&nanos(old.expires_at, "previous_secrets")?.to_be_bytes());
        bytes.push(len);
        bytes.extend_from_slice(text);
    }
    Ok(bytes)
}

fn decode_previous(bytes: &[u8]) -> Result<Vec<PreviousSecret>, RowError> {
    let corrupt = RowError::Corrupt {
        column: PREVIOUS_SECRETS_COLUMN,
    };
    let Some((&PREVIOUS_SECRETS_FORMAT, mut rest)) = bytes.split_first() else {
        return Err(corrupt);
    };
    let mut previous = Vec::new();
    while !rest.is_empty() {
        let (expires, after) = rest.split_at_checked(8).ok_or(corrupt)?;
        let (&len, after) = after.split_first().ok_or(corrupt)?;
        let (text, after) = after.split_at_checked(usize::from(len)).ok_or(corrupt)?;
        let mut expires_ns = [0u8; 8];
        expires_ns.copy_from_slice(expires);
        previous.push(PreviousSecret {
            secret: parse_secret(text, PREVIOUS_SECRETS_COLUMN)?,
            expires_at: DateTime::from_timestamp_nanos(i64::from_be_bytes(expires_ns)),
        });
        rest = after;
    }
    Ok(previous)
}

fn parse_secret(text: &[u8], column: &'static str) -> Result<Secret, RowError> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|text| Secret::from_str(text).ok())
        .ok_or(RowError::Corrupt { column })
}

impl Encoded {
    /// Takes a webhook apart for writing, sealing its secrets when a keyring is given,
    /// bound to the webhook's id, organisation and account type.
    pub(crate) fn new(webhook: &Webhook, keyring: Option<&Keyring>) -> Result<Self, StoreError> {
        let id = webhook.id().as_str();
        let organization = webhook.scope().organization().as_str();
        let account_type = webhook.account_type().as_str();
        let (secret_key_id, secret) = seal_column(
            keyring,
            &binding(id, SECRET_COLUMN, organization, account_type),
            Zeroizing::new(webhook.secret().expose_secret().as_bytes().to_vec()),
        )?;
        let (previous_key_id, previous_secrets) = if webhook.previous_secrets().is_empty() {
            (None, None)
        } else {
            let (key_id, sealed) = seal_column(
                keyring,
                &binding(id, PREVIOUS_SECRETS_COLUMN, organization, account_type),
                encode_previous(webhook.previous_secrets())?,
            )?;
            (key_id, Some(sealed))
        };
        Ok(Self {
            id: id.to_owned(),
            organization: organization.to_owned(),
            account_type: webhook.account_type().as_str(),
            url: webhook.url().as_str().to_owned(),
            enabled: webhook.enabled(),
            account_ids: webhook
                .account_filter()
                .account_ids()
                .iter()
                .map(|account| account.as_str().to_owned())
                .collect(),
            created_at_ns: nanos(webhook.created_at(), "created_at_ns")?,
            secret_key_id,
            secret,
            previous_key_id,
            previous_secrets,
            revision: stored_revision(webhook.revision())?,
            secret_last4: webhook.secret().masked(),
        })
    }
}

/// A revision as the `revision` column holds it.
pub(crate) fn stored_revision(revision: u64) -> Result<i64, StoreError> {
    i64::try_from(revision)
        .map_err(|_| StoreError::backend(RowError::OutOfRange { column: "revision" }))
}

/// Why a revision-checked `UPDATE` changed no row, given the revision now stored under the
/// webhook's scope and id (`None` when there is no such webhook).
pub(crate) fn replace_refused(expected_revision: u64, actual: Option<i64>) -> StoreError {
    match actual {
        None => StoreError::NotFound,
        Some(actual) => match u64::try_from(actual) {
            Ok(actual) => StoreError::Conflict {
                expected: expected_revision,
                actual,
            },
            Err(_) => StoreError::backend(RowError::Corrupt { column: "revision" }),
        },
    }
}

/// A row as read, before its secrets are opened.
pub(crate) struct RawRow {
    id: String,
    organization: String,
    account_type: String,
    url: String,
    enabled: bool,
    account_ids: Vec<String>,
    created_at_ns: i64,
    secret_key_id: Option<i64>,
    secret: Vec<u8>,
    previous_key_id: Option<i64>,
    previous_secrets: Option<Vec<u8>>,
    revision: i64,
    secret_last4: Option<String>,
}

/// Everything of a stored webhook but its secrets, checked.
struct Header {
    id: WebhookId,
    scope: Scope,
    url: WebhookUrl,
    account_filter: AccountFilter,
    revision: u64,
}

/// What [`RawRow::reseal`] found a row to need.
pub(crate) enum Reseal {
    /// Sealed under the current key, in the current format, with its hint: nothing to do.
    Current,
    /// To be written again, if its revision is still `expected_revision`.
    Rewrite {
        row: Box<Encoded>,
        expected_revision: i64,
    },
    /// It cannot be read: it stays as it is.
    Unreadable(UnreadableWebhook),
}

impl RawRow {
    /// Reads the columns of [`select_columns!`], `account_ids` decoded by the backend.
    pub(crate) fn read<'r, R>(row: &'r R, account_ids: Vec<String>) -> Result<Self, sqlx::Error>
    where
        R: sqlx::Row,
        usize: sqlx::ColumnIndex<R>,
        String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    {
        Ok(Self {
            id: row.try_get(0)?,
            organization: row.try_get(1)?,
            account_type: row.try_get(2)?,
            url: row.try_get(3)?,
            enabled: row.try_get(4)?,
            account_ids,
            created_at_ns: row.try_get(6)?,
            secret_key_id: row.try_get(7)?,
            secret: row.try_get(8)?,
            previous_key_id: row.try_get(9)?,
            previous_secrets: row.try_get(10)?,
            revision: row.try_get(11)?,
            secret_last4: row.try_get(12)?,
        })
    }

    /// Whether the row belongs to `scope` and pushes events for `account`, judged on the
    /// row itself: the account index is only trusted to find candidates.
    fn selected_by(&self, scope: &Scope, account: Option<&AccountId>) -> bool {
        self.organization == scope.organization().as_str()
            && self.account_type == scope.account_type().as_str()
            && account.is_none_or(|account| {
                self.account_ids.is_empty()
                    || self.account_ids.iter().any(|id| id == account.as_str())
            })
    }

    /// Whether the row belongs to `scope` and to `page`'s range and selection (the limit
    /// aside), judged on the row itself, as [`PageRequest::admits`] judges a webhook.
    fn in_page(&self, scope: &Scope, page: &PageRequest) -> bool {
        let filtered = !self.account_ids.is_empty();
        self.selected_by(scope, None)
            && page
                .after
                .as_ref()
                .is_none_or(|after| self.id.as_str() > after.as_str())
            && match &page.selection {
                Selection::All => true,
                Selection::Unfiltered => !filtered,
                Selection::Account(account) => {
                    !filtered || self.account_ids.iter().any(|id| id == account.as_str())
                }
            }
    }

    fn unreadable(&self, reason: impl Into<crate::store::BoxError>) -> StoreError {
        match WebhookId::from_str(&self.id) {
            Ok(id) => StoreError::Unreadable(UnreadableWebhook::new(id, reason)),
            Err(_) => StoreError::backend(RowError::Corrupt { column: "id" }),
        }
    }

    fn binding<'a>(&'a self, column: &'a str) -> Binding<'a> {
        binding(&self.id, column, &self.organization, &self.account_type)
    }

    fn header(&self) -> Result<Header, StoreError> {
        let corrupt = |column| self.unreadable(RowError::Corrupt { column });
        let id = WebhookId::from_str(&self.id).map_err(|_| corrupt("id"))?;
        let organization = OrganizationId::try_from(self.organization.clone())
            .map_err(|_| corrupt("organization"))?;
        let account_type =
            AccountType::from_str(&self.account_type).map_err(|_| corrupt("account_type"))?;
        let url = WebhookUrl::try_from(self.url.clone()).map_err(|_| corrupt("url"))?;
        let accounts = self
            .account_ids
            .iter()
            .map(|id| AccountId::try_from(id.clone()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| corrupt("account_ids"))?;
        let account_filter =
            AccountFilter::from_ids(accounts).map_err(|_| corrupt("account_ids"))?;
        let revision = u64::try_from(self.revision).map_err(|_| corrupt("revision"))?;
        Ok(Header {
            id,
            scope: Scope::new(organization, account_type),
            url,
            account_filter,
            revision,
        })
    }

    /// The secret and the rotated-out ones, opened with the keyring, and whether writing
    /// them again would seal them differently.
    fn secrets(
        &self,
        keyring: Option<&Keyring>,
    ) -> Result<(Secret, Vec<PreviousSecret>, bool), StoreError> {
        let opened = open_column(
            keyring,
            &self.binding(SECRET_COLUMN),
            self.secret_key_id,
            &self.secret,
        )
        .map_err(|error| self.unreadable(error))?;
        let secret = parse_secret(&opened.plaintext, SECRET_COLUMN)
            .map_err(|error| self.unreadable(error))?;
        let mut stale = opened.stale;
        let previous_secrets = match &self.previous_secrets {
            None => Vec::new(),
            Some(stored) => {
                let opened = open_column(
                    keyring,
                    &self.binding(PREVIOUS_SECRETS_COLUMN),
                    self.previous_key_id,
                    stored,
                )
                .map_err(|error| self.unreadable(error))?;
                stale |= opened.stale;
                decode_previous(&opened.plaintext).map_err(|error| self.unreadable(error))?
            }
        };
        Ok((secret, previous_secrets, stale))
    }

    /// Rebuilds the webhook, opening its secrets with the keyring.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unreadable`] when a secret does not open or a column is corrupt.
    /// Whether this is the row of the webhook `id` in `scope`.
    pub(crate) fn is(&self, scope: &Scope, id: &WebhookId) -> bool {
        self.id == id.as_str()
            && self.organization == scope.organization().as_str()
            && self.account_type == scope.account_type().as_str()
    }

    pub(crate) fn to_webhook(&self, keyring: Option<&Keyring>) -> Result<Webhook, StoreError> {
        self.webhook_and_staleness(keyring)
            .map(|(webhook, _)| webhook)
    }

    fn webhook_and_staleness(
        &self,
        keyring: Option<&Keyring>,
    ) -> Result<(Webhook, bool), StoreError> {
        let header = self.header()?;
        let (secret, previous_secrets, stale) = self.secrets(keyring)?;
        let mut parts = WebhookParts::new(
            header.id,
            header.scope,
            header.url,
            self.enabled,
            header.account_filter,
            DateTime::from_timestamp_nanos(self.created_at_ns),
            secret,
        );
        parts.previous_secrets = previous_secrets;
        parts.revision = header.revision;
        Ok((Webhook::from_parts(parts), stale))
    }

    /// The webhook as masked answers show it, from the stored hint: no secret is opened.
    /// A row written before the hint had its column (and not written since) has none: its
    /// secret is opened for the hint, and when it does not open the hint is empty, so that
    /// one unreadable row still lists.
    pub(crate) fn into_masked(
        self,
        keyring: Option<&Keyring>,
    ) -> Result<WebhookResponse, StoreError> {
        let header = self.header()?;
        let hint = match &self.secret_last4 {
            Some(hint) => hint.clone(),
            None => self
                .secrets(keyring)
                .map(|(secret, _, _)| secret.masked())
                .unwrap_or_default(),
        };
        Ok(WebhookResponse::from_hint(
            header.id,
            header.url,
            self.enabled,
            header.scope.account_type(),
            header.account_filter,
            DateTime::from_timestamp_nanos(self.created_at_ns),
            hint,
        ))
    }

    /// What re-sealing this row under the keyring's current key takes.
    pub(crate) fn reseal(&self, keyring: &Keyring) -> Result<Reseal, StoreError> {
        let (webhook, stale) = match self.webhook_and_staleness(Some(keyring)) {
            Ok(read) => read,
            Err(StoreError::Unreadable(unreadable)) => return Ok(Reseal::Unreadable(unreadable)),
            Err(other) => return Err(other),
        };
        if !stale && self.secret_last4.is_some() {
            return Ok(Reseal::Current);
        }
        Ok(Reseal::Rewrite {
            row: Box::new(Encoded::new(&webhook, Some(keyring))?),
            expected_revision: self.revision,
        })
    }

    /// The id of the row, as stored.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }
}

/// The rows, in id order, that `scope` and `account` really select, checked on the rows
/// themselves: a stray index row (written by hand, say) can neither show another scope's
/// webhook nor list one twice.
pub(crate) fn selected(
    mut rows: Vec<RawRow>,
    scope: &Scope,
    account: Option<&AccountId>,
) -> Vec<RawRow> {
    rows.retain(|row| row.selected_by(scope, account));
    rows.dedup_by(|a, b| a.id == b.id);
    rows
}

/// The rows as webhooks, those that cannot be read set apart.
///
/// # Errors
///
/// A row whose id itself is corrupt.
pub(crate) fn listing(rows: Vec<RawRow>, keyring: Option<&Keyring>) -> Result<Listing, StoreError> {
    let mut listing = Listing::default();
    for row in rows {
        match row.to_webhook(keyring) {
            Ok(webhook) => listing.webhooks.push(webhook),
            Err(StoreError::Unreadable(unreadable)) => listing.unreadable.push(unreadable),
            Err(other) => return Err(other),
        }
    }
    Ok(listing)
}

/// The rows as webhooks; the first that cannot be read fails the listing.
pub(crate) fn all_readable(
    rows: Vec<RawRow>,
    keyring: Option<&Keyring>,
) -> Result<Vec<Webhook>, StoreError> {
    rows.into_iter()
        .map(|row| row.to_webhook(keyring))
        .collect()
}

/// The rows as masked answers, no secret opened.
pub(crate) fn masked(
    rows: Vec<RawRow>,
    keyring: Option<&Keyring>,
) -> Result<Vec<WebhookResponse>, StoreError> {
    rows.into_iter()
        .map(|row| row.into_masked(keyring))
        .collect()
}

/// The key check values a store keeps, checked against its keyring at start-up.
///
/// # Errors
///
/// [`SealError::KeyMismatch`] (inside [`StoreError::Backend`]) for the first key of the
/// ring that does not open the value stored under its id.
pub(crate) fn verify_key_checks(
    keyring: &Keyring,
    stored: &[(i64, Vec<u8>)],
) -> Result<(), StoreError> {
    for (key_id, check) in stored {
        let Ok(key_id) = u32::try_from(*key_id) else {
            continue;
        };
        keyring
            .verify_key_check(key_id, check)
            .map_err(StoreError::backend)?;
    }
    Ok(())
}

/// The key check value to store for the key `key_id` of the keyring, which has none stored
/// yet. A database sealed before key checks existed may already hold rows under that id:
/// then at least one of `sealed_rows` (a few of them) must open with the key, or it is
/// refused as a wrong one rather than recorded as right.
///
/// # Errors
///
/// [`SealError::KeyMismatch`] when rows under the key id exist and none opens.
pub(crate) fn new_key_check(
    keyring: &Keyring,
    key_id: u32,
    sealed_rows: &[RawRow],
) -> Result<Vec<u8>, StoreError> {
    if !sealed_rows.is_empty()
        && !sealed_rows
            .iter()
            .any(|row| row.secrets(Some(keyring)).is_ok())
    {
        return Err(StoreError::backend(SealError::KeyMismatch { key_id }));
    }
    match keyring.key_check(key_id) {
        Some(check) => check.map_err(StoreError::backend),
        None => Err(StoreError::backend(SealError::UnknownKey { key_id })),
    }
}

/// The ids of the keyring's keys that have no key check value stored yet.
pub(crate) fn unchecked_key_ids(keyring: &Keyring, stored: &[(i64, Vec<u8>)]) -> Vec<u32> {
    keyring
        .key_ids()
        .filter(|key_id| !stored.iter().any(|(id, _)| *id == i64::from(*key_id)))
        .collect()
}

/// How many rows of a store [`reseal`](crate::SqliteStore::reseal_all) wrote again, and
/// those it could not read.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct ResealReport {
    /// Rows written again under the current key (in the current format, with the secret's
    /// hint in its own column).
    pub rewritten: u64,
    /// Rows that do not open with the keyring: left as they are. Until this list is empty,
    /// the keys they were sealed with (if any) cannot be dropped from the keyring.
    pub unreadable: Vec<UnreadableWebhook>,
}

/// One batch of a re-sealing pass: what it did and where the next batch starts.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct ResealBatch {
    /// Rows written again in this batch.
    pub rewritten: u64,
    /// Rows of this batch that do not open with the keyring.
    pub unreadable: Vec<UnreadableWebhook>,
    /// The last id of this batch: pass it to the next call. `None` when the pass is over.
    pub next: Option<WebhookId>,
}

/// Why re-sealing stopped: no keyring to seal with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("re-sealing needs a store with a keyring")]
pub struct NoKeyringToReseal;

/// Runs `batch` from the first id to the last, `batch_size` rows at a time, adding up
/// what each batch did.
pub(crate) async fn reseal_in_batches(
    batch_size: u32,
    mut batch: impl AsyncFnMut(Option<WebhookId>, u32) -> Result<ResealBatch, StoreError>,
) -> Result<ResealReport, StoreError> {
    let mut report = ResealReport::default();
    let mut after = None;
    loop {
        let done = batch(after, batch_size.max(1)).await?;
        report.rewritten += done.rewritten;
        report.unreadable.extend(done.unreadable);
        match done.next {
            Some(next) => after = Some(next),
            None => return Ok(report),
        }
    }
}

/// How many times re-sealing reads a row again after a concurrent write changed it.
const RESEAL_ATTEMPTS: u32 = 10;

/// Re-seals one batch of rows (at most `limit`, in id order, as read): `update` writes a
/// row's sealed columns if its revision is still the one read (`Ok(false)` when it is not),
/// `reread` reads a row again by id. A row changed meanwhile is read again and re-sealed
/// from what it holds now, so a concurrent write is never overwritten; a row deleted
/// meanwhile is skipped.
///
/// # Errors
///
/// The first failure of the backend; [`StoreError::Conflict`] when a row kept changing
/// under [`RESEAL_ATTEMPTS`] attempts.
pub(crate) async fn reseal_rows(
    keyring: &Keyring,
    rows: Vec<RawRow>,
    limit: u32,
    mut update: impl AsyncFnMut(&Encoded, i64) -> Result<bool, StoreError>,
    mut reread: impl AsyncFnMut(&str) -> Result<Option<RawRow>, StoreError>,
) -> Result<ResealBatch, StoreError> {
    let mut batch = ResealBatch::default();
    if rows.len() >= usize::try_from(limit).unwrap_or(usize::MAX)
        && let Some(last) = rows.last()
    {
        batch.next = Some(
            WebhookId::from_str(last.id())
                .map_err(|_| StoreError::backend(RowError::Corrupt { column: "id" }))?,
        );
    }
    for row in rows {
        let mut row = Some(row);
        let mut attempts = 0;
        while let Some(current) = row.take() {
            attempts += 1;
            match current.reseal(keyring)? {
                Reseal::Current => {}
                Reseal::Unreadable(unreadable) => batch.unreadable.push(unreadable),
                Reseal::Rewrite {
                    row: encoded,
                    expected_revision,
                } => {
                    if update(&encoded, expected_revision).await? {
                        batch.rewritten += 1;
                    } else if attempts >= RESEAL_ATTEMPTS {
                        let actual = reread(current.id()).await?.map(|row| row.revision);
                        return Err(replace_refused(
                            u64::try_from(expected_revision).unwrap_or_default(),
                            actual,
                        ));
                    } else {
                        row = reread(current.id()).await?;
                    }
                }
            }
        }
    }
    Ok(batch)
}

/// The statements of a paged listing in one dialect, one per [`Selection`]. Their
/// parameters: 1 the organisation, 2 the account type, 3 the id to start after (`''` from
/// the first), 4 the limit, and for an account, 5 the account. Each is a range scan of at
/// most `limit` rows per index it reads, so its cost follows the page, not the scope.
pub(crate) struct PageStatements {
    all: String,
    unfiltered: String,
    account: String,
}

impl PageStatements {
    /// The statements with parameters written by `placeholder` (`?1` or `$1`), where
    /// `unfiltered` is the dialect's test, on `w`, of a webhook without a filter.
    pub(crate) fn new(placeholder: fn(usize) -> String, unfiltered: &str) -> Self {
        let [org, kind, after, limit, account] = [1, 2, 3, 4, 5].map(placeholder);
        let columns = select_columns!();
        let scoped = format!(
            "SELECT {columns} FROM webhook_kit_webhooks w \
             WHERE w.organization = {org} AND w.account_type = {kind} AND w.id > {after}"
        );
        let unfiltered_page = format!("{scoped} AND {unfiltered} ORDER BY w.id LIMIT {limit}");
        let named_page = format!(
            "SELECT {columns} FROM webhook_kit_webhook_accounts a \
             JOIN webhook_kit_webhooks w ON w.id = a.webhook_id \
             WHERE a.organization = {org} AND a.account_type = {kind} \
             AND a.account_id = {account} AND a.webhook_id > {after} \
             ORDER BY a.webhook_id LIMIT {limit}"
        );
        Self {
            all: format!("{scoped} ORDER BY w.id LIMIT {limit}"),
            account: format!(
                "SELECT * FROM ({unfiltered_page}) AS u \
                 UNION ALL SELECT * FROM ({named_page}) AS n ORDER BY 1 LIMIT {limit}"
            ),
            unfiltered: unfiltered_page,
        }
    }

    /// The statement for `selection`.
    pub(crate) fn of(&self, selection: &Selection) -> &str {
        match selection {
            Selection::All => &self.all,
            Selection::Unfiltered => &self.unfiltered,
            Selection::Account(_) => &self.account,
        }
    }
}

/// Binds the parameters of a [`PageStatements`] statement: the scope, the id to start after
/// (ids compare as text, and every id is greater than `''`), the limit and, for an
/// account's listing, the account.
pub(crate) fn bind_page<'q, DB: sqlx::Database>(
    query: sqlx::query::Query<'q, DB, DB::Arguments>,
    scope: &Scope,
    page: &PageRequest,
) -> sqlx::query::Query<'q, DB, DB::Arguments>
where
    for<'t> &'t str: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> i64: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    let query = query
        .bind(scope.organization().as_str())
        .bind(scope.account_type().as_str())
        .bind(page.after.as_ref().map_or("", WebhookId::as_str))
        .bind(i64::try_from(page.limit).unwrap_or(i64::MAX));
    match &page.selection {
        Selection::Account(account) => query.bind(account.as_str()),
        Selection::All | Selection::Unfiltered => query,
    }
}

/// As [`selected_page`], on rows not yet opened: for masked pages, which open no secret.
pub(crate) fn selected_page_rows(
    mut rows: Vec<RawRow>,
    scope: &Scope,
    page: &PageRequest,
) -> Vec<RawRow> {
    rows.retain(|row| row.in_page(scope, page));
    rows.dedup_by(|a, b| a.id == b.id);
    rows.truncate(page.limit);
    rows
}

/// The page the rows of a [`PageStatements`] statement really hold, checked on the
/// webhook rows themselves as [`selected`] does.
pub(crate) fn selected_page(
    mut webhooks: Vec<Webhook>,
    scope: &Scope,
    page: &PageRequest,
) -> Vec<Webhook> {
    webhooks.retain(|webhook| webhook.scope() == scope && page.admits(webhook));
    webhooks.dedup_by(|a, b| a.id() == b.id());
    webhooks.truncate(page.limit);
    webhooks
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn previous_secrets_round_trip_and_truncations_are_corrupt() {
        let previous = vec![
            PreviousSecret {
                secret: Secret::generate(),
                expires_at: DateTime::from_timestamp_nanos(1_700_000_000_123_456_789),
            },
            PreviousSecret {
                secret: Secret::generate(),
                expires_at: DateTime::from_timestamp_nanos(-5),
            },
        ];
        let bytes = encode_previous(&previous).unwrap();
        let decoded = decode_previous(&bytes).unwrap();
        assert_eq!(decoded.len(), 2);
        for (got, want) in decoded.iter().zip(&previous) {
            assert_eq!(got.secret.expose_secret(), want.secret.expose_secret());
            assert_eq!(got.expires_at, want.expires_at);
        }
        for len in 0..bytes.len() {
            if len == 1 || len == 1 + 9 + previous[0].secret.expose_secret().len() {
                continue; // whole entries: a valid shorter list
            }
            assert_eq!(
                decode_previous(&bytes[..len]).unwrap_err(),
                RowError::Corrupt {
                    column: "previous_secrets"
                },
                "truncated to {len}"
            );
        }
    }

    #[test]
    fn applied_migrations_are_compared_by_version_success_and_checksum() {
        use sqlx::SqlSafeStr as _;
        use sqlx::migrate::{Migration, MigrationType};
        let migration = |version: i64, sql: &'static str| {
            Migration::new(
                version,
                "m".into(),
                MigrationType::Simple,
                sql.into_sql_str(),
                false,
            )
        };
        let migrator = Migrator::with_migrations(vec![migration(1, "a"), migration(2, "b")]);
        let checksum = |version: i64| {
            migrator
                .iter()
                .find(|migration| migration.version == version)
                .map(|migration| migration.checksum.to_vec())
                .unwrap()
        };
        let applied = |rows: &[(i64, bool)]| {
            Some(
                rows.iter()
                    .map(|&(version, success)| (version, success, checksum(version.min(2))))
                    .collect::<Vec<_>>(),
            )
        };
        assert_eq!(
            compare_migrations(&migrator, None),
            Err(SchemaError::Missing)
        );
        assert_eq!(
            compare_migrations(&migrator, applied(&[])),
            Err(SchemaError::Missing)
        );
        assert_eq!(
            compare_migrations(&migrator, applied(&[(1, true)])),
            Err(SchemaError::Outdated { version: 2 })
        );
        assert_eq!(
            compare_migrations(&migrator, applied(&[(1, true), (2, false)])),
            Err(SchemaError::Dirty { version: 2 })
        );
        assert_eq!(
            compare_migrations(&migrator, applied(&[(1, true), (2, true), (3, true)])),
            Err(SchemaError::Newer { version: 3 })
        );
        let mut changed = applied(&[(1, true), (2, true)]).unwrap();
        changed[0].2 = vec![0];
        assert_eq!(
            compare_migrations(&migrator, Some(changed)),
            Err(SchemaError::Modified { version: 1 })
        );
        assert_eq!(
            compare_migrations(&migrator, applied(&[(1, true), (2, true)])),
            Ok(())
        );
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn busy_and_locked_sqlite_codes_are_transient() {
        for code in ["5", "261", "517", "6", "262"] {
            assert!(transient_code(Dialect::Sqlite, code), "{code}");
        }
        for code in ["1", "19", "2067", "8", "11"] {
            assert!(!transient_code(Dialect::Sqlite, code), "{code}");
        }
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn connection_loss_and_shutdown_postgres_codes_are_transient() {
        for code in [
            "08006", "08001", "57P01", "57P03", "53300", "40001", "40P01",
        ] {
            assert!(transient_code(Dialect::Postgres, code), "{code}");
        }
        for code in ["23505", "42P01", "22001", "42501", "28P01"] {
            assert!(!transient_code(Dialect::Postgres, code), "{code}");
        }
    }
}
