//! Gathering: the items of concurrent callers written in one call (the worker's finishes,
//! the SQL stores' enqueues), instead of one call each.
//!
//! No task and no timer: each caller queues its item and takes the write lock; whoever
//! holds it writes every item queued so far (at most [`MAX_GATHERED`]) and answers each.
//! Items that arrive while a write is under way go together into the next one, and a caller
//! whose item was written meanwhile returns as soon as it has the lock. A lone item is
//! written at once. A caller dropped before its item was taken gives it up; one dropped
//! after is answered nothing, but its item is written.

use std::future::Future;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;
use tokio::sync::oneshot::error::TryRecvError;

use crate::store::StoreError;

/// The most items written in one call.
pub(crate) const MAX_GATHERED: usize = 64;

/// Items waiting to be written with the way back to their callers, and the lock of the
/// one writing them.
pub(crate) struct Gather<I, A> {
    waiting: Mutex<Vec<(I, oneshot::Sender<A>)>>,
    writing: tokio::sync::Mutex<()>,
}

impl<I, A> Default for Gather<I, A> {
    fn default() -> Self {
        Self {
            waiting: Mutex::new(Vec::new()),
            writing: tokio::sync::Mutex::new(()),
        }
    }
}

impl<I, A> std::fmt::Debug for Gather<I, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gather").finish_non_exhaustive()
    }
}

impl<I, A> Gather<I, A> {
    /// Writes `item` with the items of other callers waiting at the same time: `write`
    /// gets them in the order they came and answers each, in that order. Answers this
    /// item's answer, or `unanswered()` when the write that took it stopped before
    /// answering (it was dropped, or answered fewer items than it got).
    pub(crate) async fn write<W, F>(&self, item: I, write: W, unanswered: impl Fn() -> A) -> A
    where
        W: Fn(Vec<I>) -> F,
        F: Future<Output = Vec<A>>,
    {
        let (sender, mut answer) = oneshot::channel();
        self.waiting().push((item, sender));
        loop {
            let writing = self.writing.lock().await;
            match answer.try_recv() {
                Ok(answered) => return answered,
                Err(TryRecvError::Closed) => return unanswered(),
                Err(TryRecvError::Empty) => {}
            }
            let (items, senders): (Vec<I>, Vec<oneshot::Sender<A>>) = {
                let mut waiting = self.waiting();
                let count = waiting.len().min(MAX_GATHERED);
                // A caller that stopped waiting before its item was taken (its task was
                // dropped) gave it up: it is not written.
                waiting
                    .drain(..count)
                    .filter(|(_, sender)| !sender.is_closed())
                    .unzip()
            };
            let answers = if items.is_empty() {
                Vec::new()
            } else {
                write(items).await
            };
            for (sender, answered) in senders.into_iter().zip(answers) {
                // The caller may have stopped waiting (its task was dropped).
                let _ = sender.send(answered);
            }
            drop(writing);
            match answer.try_recv() {
                Ok(answered) => return answered,
                Err(TryRecvError::Closed) => return unanswered(),
                // Ours was past the write's limit: the next write takes it.
                Err(TryRecvError::Empty) => {}
            }
        }
    }

    fn waiting(&self) -> MutexGuard<'_, Vec<(I, oneshot::Sender<A>)>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What a caller gets when the write that took its item stopped before answering it:
/// whether it was written is unknown, so the error is retryable (a retried finish that was
/// written then answers a lost lease; a retried enqueue adds nothing).
pub(crate) fn unanswered<T>() -> Result<T, StoreError> {
    Err(StoreError::retryable(Unanswered))
}

/// A gathered write stopped before it answered this item.
#[derive(Debug, thiserror::Error)]
#[error("the write this was gathered into stopped before it answered")]
struct Unanswered;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use tokio::sync::Notify;

    use super::*;

    /// Records the items of each write; the first waits for `open`.
    #[derive(Default)]
    struct Recording {
        writes: Mutex<Vec<Vec<u32>>>,
        open: Notify,
    }

    impl Recording {
        async fn write(&self, items: Vec<u32>) -> Vec<u32> {
            let first = {
                let mut writes = self.writes.lock().unwrap();
                writes.push(items.clone());
                writes.len() == 1
            };
            if first {
                self.open.notified().await;
            }
            items.iter().map(|item| item * 10).collect()
        }
    }

    /// A task writing `item` through `gather` into `store`.
    fn spawn_write(
        gather: &Arc<Gather<u32, u32>>,
        store: &Arc<Recording>,
        item: u32,
    ) -> tokio::task::JoinHandle<u32> {
        let (gather, store) = (Arc::clone(gather), Arc::clone(store));
        tokio::spawn(async move {
            let write = |items| {
                let store = Arc::clone(&store);
                async move { store.write(items).await }
            };
            gather.write(item, write, || 0).await
        })
    }

    #[tokio::test]
    async fn items_waiting_during_a_write_go_together_into_the_next() {
        let gather = Arc::new(Gather::<u32, u32>::default());
        let store = Arc::new(Recording::default());
        let spawn = |item| spawn_write(&gather, &store, item);
        let first = spawn(0);
        // The first item is written alone, at once; its write waits.
        while store.writes.lock().unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
        let later: Vec<_> = (1..=70).map(spawn).collect();
        while gather.waiting().len() < 70 {
            tokio::task::yield_now().await;
        }
        store.open.notify_one();
        assert_eq!(first.await.unwrap(), 0);
        for (item, answer) in (1..=70).zip(later) {
            assert_eq!(
                answer.await.unwrap(),
                item * 10,
                "each caller its own answer"
            );
        }
        // The 70 that waited: as many as a write takes, in order, then the rest.
        let writes = store.writes.lock().unwrap().clone();
        let sizes: Vec<usize> = writes.iter().map(Vec::len).collect();
        assert_eq!(sizes, [1, MAX_GATHERED, 70 - MAX_GATHERED]);
        assert!(
            writes[1].windows(2).all(|pair| pair[0] < pair[1]),
            "in order"
        );
    }

    #[tokio::test]
    async fn an_item_whose_caller_stopped_waiting_is_not_written() {
        let gather = Arc::new(Gather::<u32, u32>::default());
        let store = Arc::new(Recording::default());
        let spawn = |item| spawn_write(&gather, &store, item);
        let first = spawn(1);
        while store.writes.lock().unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
        let (given_up, kept) = (spawn(2), spawn(3));
        while gather.waiting().len() < 2 {
            tokio::task::yield_now().await;
        }
        given_up.abort();
        assert!(given_up.await.unwrap_err().is_cancelled());
        store.open.notify_one();
        assert_eq!(first.await.unwrap(), 10);
        assert_eq!(kept.await.unwrap(), 30);
        assert_eq!(*store.writes.lock().unwrap(), [vec![1], vec![3]]);
    }

    #[tokio::test]
    async fn an_item_left_unanswered_gets_the_fallback() {
        let gather = Gather::<u32, u32>::default();
        let answer = gather.write(5, |_| async { Vec::new() }, || 99).await;
        assert_eq!(answer, 99);
    }
}
