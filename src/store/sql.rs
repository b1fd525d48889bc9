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
use crate::seal::{Keyring, SealError};
use crate::secret::Secret;
use crate::store::{PageRequest, Selection, StoreError};
use crate::url::WebhookUrl;
use crate::webhook::{PreviousSecret, Scope, Webhook, WebhookParts};

/// The table where the SQL stores record the migrations they applied; their own, so that
/// the host's migrations in the same database never mix with the crate's.
pub(crate) const MIGRATIONS_TABLE: &str = "webhook_kit_migrations";

/// The columns every read selects, in the order [`RawRow::read`] expects them, from the
/// webhooks table aliased `w`.
macro_rules! select_columns {
    () => {
        "w.id, w.organization, w.account_type, w.url, w.enabled, w.account_ids, \
         w.created_at_ns, w.secret_key_id, w.secret, w.previous_key_id, w.previous_secrets, \
         w.revision"
    };
}
pub(crate) use select_columns;

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

/// Whether a store (and its clones) saw a schema that matches its migrations.
#[derive(Debug, Clone, Default)]
pub(crate) struct SchemaChecked(Arc<AtomicBool>);

impl SchemaChecked {
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
}

const SECRET_COLUMN: &str = "secret";
const PREVIOUS_SECRETS_COLUMN: &str = "previous_secrets";
/// First byte of the previous-secrets encoding: its format version.
const PREVIOUS_SECRETS_FORMAT: u8 = 1;

/// The associated data a column's secret is sealed with: the webhook id and the column, so
/// a sealed value moved to another row or column does not open.
fn associated_data(id: &str, column: &str) -> Vec<u8> {
    let mut data = Vec::with_capacity(id.len() + 1 + column.len());
    data.extend_from_slice(id.as_bytes());
    data.push(0);
    data.extend_from_slice(column.as_bytes());
    data
}

fn seal_column(
    keyring: Option<&Keyring>,
    id: &str,
    column: &str,
    plaintext: Zeroizing<Vec<u8>>,
) -> Result<(Option<i64>, Zeroizing<Vec<u8>>), StoreError> {
    match keyring {
        None => Ok((None, plaintext)),
        Some(keyring) => {
            let (key_id, sealed) = keyring
                .seal(&plaintext, &associated_data(id, column))
                .map_err(StoreError::backend)?;
            Ok((Some(i64::from(key_id)), Zeroizing::new(sealed)))
        }
    }
}

fn open_column(
    keyring: Option<&Keyring>,
    id: &str,
    column: &str,
    key_id: Option<i64>,
    stored: Vec<u8>,
) -> Result<Zeroizing<Vec<u8>>, SealError> {
    let stored = Zeroizing::new(stored);
    match (key_id, keyring) {
        (None, None) => Ok(stored),
        (None, Some(keyring)) if keyring.accepts_plaintext() => Ok(stored),
        (None, Some(_)) => Err(SealError::Plaintext),
        (Some(_), None) => Err(SealError::NoKeyring),
        (Some(key_id), Some(keyring)) => {
            let key_id = u32::try_from(key_id).map_err(|_| SealError::Malformed)?;
            keyring.open(key_id, &stored, &associated_data(id, column))
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
    /// Takes a webhook apart for writing, sealing its secrets when a keyring is given.
    pub(crate) fn new(webhook: &Webhook, keyring: Option<&Keyring>) -> Result<Self, StoreError> {
        let id = webhook.id().as_str();
        let (secret_key_id, secret) = seal_column(
            keyring,
            id,
            SECRET_COLUMN,
            Zeroizing::new(webhook.secret().expose_secret().as_bytes().to_vec()),
        )?;
        let (previous_key_id, previous_secrets) = if webhook.previous_secrets().is_empty() {
            (None, None)
        } else {
            let (key_id, sealed) = seal_column(
                keyring,
                id,
                PREVIOUS_SECRETS_COLUMN,
                encode_previous(webhook.previous_secrets())?,
            )?;
            (key_id, Some(sealed))
        };
        Ok(Self {
            id: id.to_owned(),
            organization: webhook.scope().organization().as_str().to_owned(),
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
    created_at_ns: i64,
    secret_key_id: Option<i64>,
    secret: Vec<u8>,
    previous_key_id: Option<i64>,
    previous_secrets: Option<Vec<u8>>,
    revision: i64,
}

impl RawRow {
    /// Reads the columns of [`select_columns!`] but `account_ids`.
    pub(crate) fn read<'r, R>(row: &'r R) -> Result<Self, sqlx::Error>
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
            created_at_ns: row.try_get(6)?,
            secret_key_id: row.try_get(7)?,
            secret: row.try_get(8)?,
            previous_key_id: row.try_get(9)?,
            previous_secrets: row.try_get(10)?,
            revision: row.try_get(11)?,
        })
    }

    /// Rebuilds the webhook, opening its secrets with the keyring.
    pub(crate) fn into_webhook(
        self,
        account_ids: Vec<String>,
        keyring: Option<&Keyring>,
    ) -> Result<Webhook, StoreError> {
        let corrupt = |column| StoreError::backend(RowError::Corrupt { column });
        let id = WebhookId::from_str(&self.id).map_err(|_| corrupt("id"))?;
        let organization =
            OrganizationId::try_from(self.organization).map_err(|_| corrupt("organization"))?;
        let account_type =
            AccountType::from_str(&self.account_type).map_err(|_| corrupt("account_type"))?;
        let url = WebhookUrl::try_from(self.url).map_err(|_| corrupt("url"))?;
        let accounts = account_ids
            .into_iter()
            .map(AccountId::try_from)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| corrupt("account_ids"))?;
        let account_filter =
            AccountFilter::from_ids(accounts).map_err(|_| corrupt("account_ids"))?;
        let revision = u64::try_from(self.revision).map_err(|_| corrupt("revision"))?;
        let secret_text = open_column(
            keyring,
            &self.id,
            SECRET_COLUMN,
            self.secret_key_id,
            self.secret,
        )
        .map_err(StoreError::backend)?;
        let secret = parse_secret(&secret_text, SECRET_COLUMN).map_err(StoreError::backend)?;
        let previous_secrets = match self.previous_secrets {
            None => Vec::new(),
            Some(stored) => {
                let bytes = open_column(
                    keyring,
                    &self.id,
                    PREVIOUS_SECRETS_COLUMN,
                    self.previous_key_id,
                    stored,
                )
                .map_err(StoreError::backend)?;
                decode_previous(&bytes).map_err(StoreError::backend)?
            }
        };
        let mut parts = WebhookParts::new(
            id,
            Scope::new(organization, account_type),
            url,
            self.enabled,
            account_filter,
            DateTime::from_timestamp_nanos(self.created_at_ns),
            secret,
        );
        parts.previous_secrets = previous_secrets;
        parts.revision = revision;
        Ok(Webhook::from_parts(parts))
    }
}

/// The webhooks, in id order, that `scope` and `account` really select, checked on the
/// webhook rows themselves: the account index is only trusted to find candidates, so a
/// stray index row (written by hand, say) can neither show another scope's webhook nor list
/// one twice.
pub(crate) fn selected(
    mut webhooks: Vec<Webhook>,
    scope: &Scope,
    account: Option<&AccountId>,
) -> Vec<Webhook> {
    webhooks.retain(|webhook| {
        webhook.scope() == scope
            && account.is_none_or(|account| webhook.account_filter().matches(account))
    });
    webhooks.dedup_by(|a, b| a.id() == b.id());
    webhooks
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
