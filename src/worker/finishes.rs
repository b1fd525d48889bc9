//! The finishes of attempts that end together, written in one store call
//! ([`DeliveryStore::finish_each`]): one statement on PostgreSQL, one call in SQLite's
//! group commit, instead of one per attempt.
//!
//! No task and no timer: each attempt queues its finish and takes the write lock; whoever
//! holds it writes every finish queued so far and answers each. Those that arrived while a
//! write was under way go together into the next one, and a caller whose finish was written
//! meanwhile returns as soon as it has the lock. A lone finish is written at once.

use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use tokio::sync::oneshot;
use tokio::sync::oneshot::error::TryRecvError;

use crate::clock::Clock;
use crate::health::HealthChange;
use crate::store::StoreError;
use crate::store::queue::{Claim, DeliveryStore, Finish};

/// The most finishes written in one call.
const MAX_FINISHES: usize = 64;

/// What a finish answers, as [`DeliveryStore::finish`].
type Answer = Result<Option<HealthChange>, StoreError>;

/// A finish waiting to be written, and the way back to its attempt.
type Waiting = (Claim, Finish, oneshot::Sender<Answer>);

/// The finishes waiting, and the lock of the one writing them.
#[derive(Default)]
pub(super) struct Finishes {
    waiting: Mutex<Vec<Waiting>>,
    writing: tokio::sync::Mutex<()>,
}

/// Where finishes are written: a [`DeliveryStore`] (a seam for the tests).
pub(super) trait WritesFinishes: Sync {
    /// [`DeliveryStore::finish_each`].
    fn write_each(
        &self,
        finishes: Vec<(Claim, Finish)>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Vec<Answer>> + Send;
}

impl<S: DeliveryStore> WritesFinishes for S {
    fn write_each(
        &self,
        finishes: Vec<(Claim, Finish)>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Vec<Answer>> + Send {
        self.finish_each(finishes, now)
    }
}

impl Finishes {
    /// Finishes `claim` as `finish` says, with the finishes of other attempts waiting at the
    /// same time, at the time `clock` tells when the write starts. Answers as
    /// [`DeliveryStore::finish`] would.
    pub(super) async fn finish<S: WritesFinishes>(
        &self,
        store: &S,
        clock: &dyn Clock,
        claim: &Claim,
        finish: Finish,
    ) -> Answer {
        let (sender, mut answer) = oneshot::channel();
        self.waiting().push((claim.clone(), finish, sender));
        loop {
            let writing = self.writing.lock().await;
            match answer.try_recv() {
                Ok(answered) => return answered,
                // The holder that took it was dropped mid-write: whether it was written is
                // unknown, so the caller retries (a written one then answers a lost lease).
                Err(TryRecvError::Closed) => return Err(StoreError::retryable(Unanswered)),
                Err(TryRecvError::Empty) => {}
            }
            let batch: Vec<Waiting> = {
                let mut waiting = self.waiting();
                let count = waiting.len().min(MAX_FINISHES);
                waiting.drain(..count).collect()
            };
            let (finishes, senders): (Vec<(Claim, Finish)>, Vec<_>) = batch
                .into_iter()
                .map(|(claim, finish, sender)| ((claim, finish), sender))
                .unzip();
            let answers = store.write_each(finishes, clock.now()).await;
            for (sender, answered) in senders.into_iter().zip(answers) {
                // The attempt may have stopped waiting (its task was dropped).
                let _ = sender.send(answered);
            }
            drop(writing);
            match answer.try_recv() {
                Ok(answered) => return answered,
                Err(TryRecvError::Closed) => return Err(StoreError::retryable(Unanswered)),
                // Ours was past the batch's limit: the next write takes it.
                Err(TryRecvError::Empty) => {}
            }
        }
    }

    fn waiting(&self) -> MutexGuard<'_, Vec<Waiting>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A finish was taken into a write that never answered it.
#[derive(Debug, thiserror::Error)]
#[error("the write of this finish stopped before it answered")]
struct Unanswered;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use tokio::sync::Notify;

    use super::*;
    use crate::clock::SystemClock;
    use crate::event::Event;
    use crate::id::{DeliveryId, EventId, WebhookId};
    use crate::store::queue::{ClaimToken, Trigger};
    use crate::webhook::Scope;

    /// Records the size of each write; the first waits for `open`.
    #[derive(Default)]
    struct Recording {
        writes: Mutex<Vec<usize>>,
        open: Notify,
    }

    impl WritesFinishes for Recording {
        async fn write_each(
            &self,
            finishes: Vec<(Claim, Finish)>,
            _: DateTime<Utc>,
        ) -> Vec<Answer> {
            let first = {
                let mut writes = self.writes.lock().unwrap();
                writes.push(finishes.len());
                writes.len() == 1
            };
            if first {
                self.open.notified().await;
            }
            finishes.iter().map(|_| Ok(None)).collect()
        }
    }

    fn claim() -> Claim {
        let scope = Scope::new("org".parse().unwrap(), crate::AccountType::Live);
        Claim {
            delivery_id: DeliveryId::generate(),
            webhook_id: WebhookId::generate(),
            event: Event::new(
                EventId::generate(),
                scope,
                "acc".parse().unwrap(),
                &b"{}"[..],
            ),
            attempt: 1,
            trigger: Trigger::Scheduled,
            token: ClaimToken::generate(),
            lease_until: Utc::now(),
        }
    }

    #[tokio::test]
    async fn finishes_waiting_during_a_write_go_together_into_the_next() {
        let (finishes, store) = (
            Arc::new(Finishes::default()),
            Arc::new(Recording::default()),
        );
        let spawn = || {
            let (finishes, store) = (Arc::clone(&finishes), Arc::clone(&store));
            tokio::spawn(async move {
                finishes
                    .finish(store.as_ref(), &SystemClock, &claim(), Finish::Cancelled)
                    .await
            })
        };
        let first = spawn();
        // The first finish is written alone, at once; its write waits.
        while store.writes.lock().unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
        let later: Vec<_> = (0..70).map(|_| spawn()).collect();
        while finishes.waiting().len() < 70 {
            tokio::task::yield_now().await;
        }
        store.open.notify_one();
        assert_eq!(first.await.unwrap().unwrap(), None);
        for finish in later {
            assert_eq!(finish.await.unwrap().unwrap(), None);
        }
        // The 70 that waited: as many as a write takes, then the rest.
        assert_eq!(
            *store.writes.lock().unwrap(),
            [1, MAX_FINISHES, 70 - MAX_FINISHES]
        );
    }
}
