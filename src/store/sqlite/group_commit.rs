//! Group commit for the SQLite store's queue writes: the writes of many callers that arrive
//! while one transaction commits go into the next transaction together, so they share its
//! sync to disk. With `synchronous = FULL` each commit waits for an `fsync`, which costs far
//! more than the statements; one commit per write capped the queue at a few hundred
//! deliveries per second, one commit per group does not.
//!
//! The writes run one after the other in the group's transaction, one round trip each to
//! the connection's thread. When one fails, what it wrote may be half a write: the whole
//! group is rolled back and run again, each write then in a savepoint of its own, so that
//! only the failed ones are undone and the others commit. A write may thus run twice; it
//! is a function called again, and only the run that committed answers. A caller is
//! answered only after the commit (or with its failure), so a write that returned `Ok` is
//! on disk. One writer
//! task per store does these writes, a group at a time, on a connection it takes from the
//! pool for each group; SQLite has one writer at a time anyway, so the task takes no
//! concurrency away, and callers of one process no longer wait for each other's locks.

use std::sync::{Mutex, PoisonError};

use sqlx::{Connection as _, SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use crate::store::StoreError;
use crate::store::sql::Writing;

/// The most writes in one transaction: bounds how long the first of a group waits.
const MAX_GROUP: usize = 256;

/// Hands writes to the store's writer task, which commits them in groups.
#[derive(Debug, Default)]
pub(crate) struct GroupCommit {
    jobs: Mutex<Option<mpsc::UnboundedSender<Box<dyn Job>>>>,
}

impl GroupCommit {
    /// Runs `work` on the writing connection, inside a transaction shared with other
    /// writes; answers its result once the transaction committed. When `work` fails, what
    /// it wrote is rolled back and the others still commit; `work` may be called twice
    /// (see the module's documentation).
    pub(crate) async fn write<R, F>(&self, pool: &SqlitePool, work: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: for<'c> Fn(&'c mut SqliteConnection) -> Writing<'c, Result<R, StoreError>>
            + Send
            + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.send(
            pool,
            Box::new(Pending {
                work,
                result: None,
                reply,
            }),
        );
        answer
            .await
            .unwrap_or_else(|_| Err(StoreError::retryable(WriterStopped)))
    }

    /// Queues `job` for the writer task, starting one when there is none (or the runtime
    /// that ran the last one has gone).
    fn send(&self, pool: &SqlitePool, job: Box<dyn Job>) {
        let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        let job = match jobs.as_ref() {
            Some(sender) => match sender.send(job) {
                Ok(()) => return,
                Err(mpsc::error::SendError(job)) => job,
            },
            None => job,
        };
        let (sender, receiver) = mpsc::unbounded_channel();
        // A fresh channel has its receiver: the send cannot fail.
        let _ = sender.send(job);
        tokio::spawn(run(pool.clone(), receiver));
        *jobs = Some(sender);
    }
}

/// The writer task sent no answer: it stopped (its runtime shut down) before committing.
#[derive(Debug, thiserror::Error)]
#[error("the SQLite writer stopped before the write committed")]
struct WriterStopped;

/// The commit of a group failed; every write of the group was rolled back.
#[derive(Debug, thiserror::Error)]
#[error("the group commit failed: {0}")]
struct GroupFailed(String);

/// One caller's write, with the way back to the caller.
trait Job: Send {
    /// Runs the write; `true` when it succeeded.
    fn run<'c>(&'c mut self, conn: &'c mut SqliteConnection) -> Writing<'c, bool>;

    /// Answers the caller: its own result when the group committed (`None`), else the
    /// group's failure.
    fn answer(self: Box<Self>, failed: Option<(&str, bool)>);
}

struct Pending<R, F> {
    work: F,
    result: Option<Result<R, StoreError>>,
    reply: oneshot::Sender<Result<R, StoreError>>,
}

impl<R, F> Job for Pending<R, F>
where
    R: Send + 'static,
    F: for<'c> Fn(&'c mut SqliteConnection) -> Writing<'c, Result<R, StoreError>> + Send + 'static,
{
    fn run<'c>(&'c mut self, conn: &'c mut SqliteConnection) -> Writing<'c, bool> {
        Box::pin(async move {
            let result = (self.work)(conn).await;
            let ok = result.is_ok();
            self.result = Some(result);
            ok
        })
    }

    fn answer(self: Box<Self>, failed: Option<(&str, bool)>) {
        let answer = match (failed, self.result) {
            (None, Some(result)) => result,
            (Some((message, retryable)), _) => Err(group_error(message, retryable)),
            (None, None) => Err(StoreError::retryable(WriterStopped)),
        };
        // The caller may have given up waiting: nothing to do then.
        let _ = self.reply.send(answer);
    }
}

fn group_error(message: &str, retryable: bool) -> StoreError {
    let error = GroupFailed(message.to_owned());
    if retryable {
        StoreError::retryable(error)
    } else {
        StoreError::backend(error)
    }
}

/// The writer task: takes whatever writes are waiting, commits them as one group, and
/// again, until every sender is gone. It takes a connection from the pool for each group
/// and gives it back after, so that a pool of one connection (an in-memory database)
/// still serves the store's reads between groups.
async fn run(pool: SqlitePool, mut jobs: mpsc::UnboundedReceiver<Box<dyn Job>>) {
    let mut group = Vec::new();
    while jobs.recv_many(&mut group, MAX_GROUP).await > 0 {
        let committed = match pool.acquire().await.map_err(super::db_error) {
            Ok(mut conn) => commit(&mut conn, &mut group).await,
            Err(error) => Err(error),
        };
        let failed = committed.err().map(|error| {
            let source = std::error::Error::source(&error)
                .map(|source| format!(": {source}"))
                .unwrap_or_default();
            (format!("{error}{source}"), error.is_retryable())
        });
        for job in group.drain(..) {
            job.answer(failed.as_ref().map(|(text, retry)| (text.as_str(), *retry)));
        }
    }
}

/// Runs every job of `group` in one immediate transaction on `conn` and commits; when one
/// fails, rolls back and runs them all again, each in a savepoint.
async fn commit(conn: &mut SqliteConnection, group: &mut [Box<dyn Job>]) -> Result<(), StoreError> {
    let mut tx = conn
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(super::db_error)?;
    let mut succeeded = true;
    for job in group.iter_mut() {
        if !job.run(&mut tx).await {
            succeeded = false;
            break;
        }
    }
    if succeeded {
        return tx.commit().await.map_err(super::db_error);
    }
    tx.rollback().await.map_err(super::db_error)?;
    commit_in_savepoints(conn, group).await
}

/// Runs every job of `group` in one immediate transaction on `conn`, each in a savepoint
/// (rolled back when the job fails), and commits.
async fn commit_in_savepoints(
    conn: &mut SqliteConnection,
    group: &mut [Box<dyn Job>],
) -> Result<(), StoreError> {
    let mut tx = conn
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(super::db_error)?;
    // One round trip to the connection's thread between two writes: the savepoint of one
    // is released (or rolled back) and the next one's taken in the same call; the commit
    // releases the last.
    let mut between = "SAVEPOINT webhook_kit_write";
    for job in group.iter_mut() {
        sqlx::raw_sql(between)
            .execute(&mut *tx)
            .await
            .map_err(super::db_error)?;
        between = if job.run(&mut tx).await {
            "RELEASE webhook_kit_write; SAVEPOINT webhook_kit_write"
        } else {
            "ROLLBACK TO webhook_kit_write; RELEASE webhook_kit_write; \
             SAVEPOINT webhook_kit_write"
        };
    }
    if between.starts_with("ROLLBACK") {
        // The last write failed: undo it before the commit.
        sqlx::raw_sql("ROLLBACK TO webhook_kit_write")
            .execute(&mut *tx)
            .await
            .map_err(super::db_error)?;
    }
    tx.commit().await.map_err(super::db_error)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use sqlx::sqlite::SqlitePoolOptions;

    use super::*;
    use crate::store::sqlite::SqliteStore;

    async fn open(path: &std::path::Path) -> SqlitePool {
        let pool = SqlitePoolOptions::new()
            .connect_with(SqliteStore::connect_options(path))
            .await
            .unwrap();
        sqlx::raw_sql("CREATE TABLE IF NOT EXISTS t (n INTEGER PRIMARY KEY)")
            .execute(&pool)
            .await
            .unwrap();
        pool
    }

    /// Inserts `n`, then fails with `LeaseLost` when `fail`.
    async fn insert(
        group: &GroupCommit,
        pool: &SqlitePool,
        n: i64,
        fail: bool,
    ) -> Result<i64, StoreError> {
        group
            .write(pool, move |conn| {
                Box::pin(async move {
                    sqlx::query("INSERT INTO t (n) VALUES ($1)")
                        .bind(n)
                        .execute(&mut *conn)
                        .await
                        .map_err(super::super::db_error)?;
                    if fail {
                        Err(StoreError::LeaseLost)
                    } else {
                        Ok(n)
                    }
                })
            })
            .await
    }

    async fn stored(pool: &SqlitePool) -> Vec<i64> {
        sqlx::query_scalar("SELECT n FROM t ORDER BY n")
            .fetch_all(pool)
            .await
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_write_is_rolled_back_alone_and_the_others_commit() {
        let dir = tempfile::tempdir().unwrap();
        let pool = open(&dir.path().join("group.db")).await;
        let group = Arc::new(GroupCommit::default());
        let mut writes = tokio::task::JoinSet::new();
        for n in 0..60 {
            let (group, pool) = (Arc::clone(&group), pool.clone());
            writes.spawn(async move { (n, insert(&group, &pool, n, n % 3 == 0).await) });
        }
        while let Some(done) = writes.join_next().await {
            let (n, answer) = done.unwrap();
            match answer {
                Ok(answered) => assert_eq!(answered, n, "each caller gets its own answer"),
                Err(StoreError::LeaseLost) => assert_eq!(n % 3, 0),
                Err(other) => panic!("{n}: {other:?}"),
            }
        }
        // A group of one whose write fails: the last write of a group is undone too.
        assert!(matches!(
            insert(&group, &pool, 100, true).await,
            Err(StoreError::LeaseLost)
        ));
        // What the failed writes inserted before failing was rolled back; nothing else.
        let expected: Vec<i64> = (0..60).filter(|n| n % 3 != 0).collect();
        assert_eq!(stored(&pool).await, expected);
    }

    #[tokio::test]
    async fn a_write_that_answered_ok_is_committed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("group.db");
        let (pool, group) = (open(&path).await, GroupCommit::default());
        assert_eq!(insert(&group, &pool, 7, false).await.unwrap(), 7);
        // Another pool, so another connection: it sees the write, committed.
        let reader = open(&path).await;
        assert_eq!(stored(&reader).await, [7]);
    }

    #[test]
    fn the_writer_starts_again_when_its_runtime_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("group.db");
        let group = GroupCommit::default();
        for n in 0..3 {
            // Each runtime ends with this loop's turn, and the writer task with it.
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let pool = open(&path).await;
                assert_eq!(insert(&group, &pool, n, false).await.unwrap(), n);
            });
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async { assert_eq!(stored(&open(&path).await).await, [0, 1, 2]) });
    }

    #[tokio::test]
    async fn a_pool_of_one_connection_serves_reads_between_writes() {
        use crate::store::{DeliveryStore, WebhookStore};
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect("sqlite::memory:")
            .await
            .unwrap();
        let store = SqliteStore::new(pool);
        store.migrate().await.unwrap();
        let scope =
            crate::webhook::Scope::new("org_1".parse().unwrap(), crate::account::AccountType::Live);
        let webhook = crate::webhook::Webhook::new(
            scope.clone(),
            "https://example.com/hook".parse().unwrap(),
            crate::account::AccountFilter::default(),
        );
        store.insert(&webhook).await.unwrap();
        let event = crate::Event::new(
            crate::EventId::generate(),
            scope.clone(),
            "acc_1".parse().unwrap(),
            &b"{}"[..],
        );
        let now = chrono::Utc::now();
        let queued = store
            .enqueue(&event, &[webhook.id().clone()], now)
            .await
            .unwrap();
        assert_eq!(queued.len(), 1);
        // The writer gave its connection back: a read finds one.
        assert!(store.get(&scope, webhook.id()).await.unwrap().is_some());
        let claims = store
            .claim(now, std::time::Duration::from_secs(30), 8)
            .await
            .unwrap();
        assert_eq!(claims.len(), 1);
        assert!(store.delivery(&scope, &queued[0]).await.unwrap().is_some());
    }
}
