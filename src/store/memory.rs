//! [`MemoryStore`]: webhooks in the process's memory, indexed per scope and per account,
//! and the delivery queue (`memory/queue.rs`).

mod queue;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::event::Event;
use crate::health::{HealthChange, Observation};
use crate::id::{AccountId, DeliveryId, WebhookId};
use crate::store::queue::{
    AttemptRecord, Claim, DeliveryState, DeliveryStore, Finish, QueuedDelivery,
};
use crate::store::{PageRequest, Selection, StoreError, WebhookStore};
use crate::webhook::{Scope, Webhook};

/// A [`WebhookStore`] in memory: for tests, examples and single-process services.
///
/// Always compiled, no runtime needed: every call completes on its first poll. Webhooks are
/// indexed per scope and, within a scope, per account, so listing one scope or one account's
/// webhooks costs in proportion to the result, not to the whole store.
///
/// Nothing the store does while holding its lock can panic (allocation failure aborts). Were
/// the lock poisoned all the same, later calls would carry on with the data as it is and
/// clear the poisoning on their next write: they never panic.
///
/// ```
/// use webhook_kit::{AccountType, CreateWebhookRequest, MemoryStore, Scope, Webhooks};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let webhooks = Webhooks::new(MemoryStore::new());
/// let scope = Scope::new("org_1".parse().unwrap(), AccountType::Live);
/// let url = "https://example.com/hook".parse().unwrap();
/// webhooks.create(&scope, CreateWebhookRequest::new(url)).await.unwrap();
/// assert_eq!(webhooks.list(&scope, None).await.unwrap().len(), 1);
/// # });
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: RwLock<Inner>,
    queue: Mutex<queue::Queue>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Every stored id: ids are unique across scopes.
    ids: HashSet<WebhookId>,
    scopes: HashMap<Scope, ScopeIndex>,
}

/// One scope's webhooks, shared between the indexes so that a listing reads the webhooks
/// straight from the index it walks.
#[derive(Debug, Default)]
struct ScopeIndex {
    /// The scope's webhooks in id (creation) order.
    webhooks: BTreeMap<WebhookId, Arc<Webhook>>,
    /// The webhooks without an account filter: they match every account.
    unfiltered: BTreeMap<WebhookId, Arc<Webhook>>,
    /// For each account named in a filter, the webhooks that name it.
    by_account: HashMap<AccountId, BTreeMap<WebhookId, Arc<Webhook>>>,
}

impl ScopeIndex {
    fn index(&mut self, webhook: &Arc<Webhook>) {
        let id = webhook.id();
        let filter = webhook.account_filter();
        if filter.is_all() {
            self.unfiltered.insert(id.clone(), Arc::clone(webhook));
        }
        for account in filter.account_ids() {
            self.by_account
                .entry(account.clone())
                .or_default()
                .insert(id.clone(), Arc::clone(webhook));
        }
        self.webhooks.insert(id.clone(), Arc::clone(webhook));
    }

    fn unindex(&mut self, webhook: &Webhook) {
        let id = webhook.id();
        self.webhooks.remove(id);
        self.unfiltered.remove(id);
        for account in webhook.account_filter().account_ids() {
            if let Some(named) = self.by_account.get_mut(account) {
                named.remove(id);
                if named.is_empty() {
                    self.by_account.remove(account);
                }
            }
        }
    }

    /// The webhooks that push events for `account` with ids after `after`, in id order, at
    /// most `limit`: a merge of two sorted ranges, each holding only matching webhooks.
    fn for_account(
        &self,
        account: &AccountId,
        after: Option<&WebhookId>,
        limit: usize,
    ) -> Vec<Webhook> {
        let named = self.by_account.get(account);
        let capacity = self.unfiltered.len() + named.map_or(0, BTreeMap::len);
        let mut result = Vec::with_capacity(capacity.min(limit));
        let mut unfiltered = range_after(&self.unfiltered, after).peekable();
        let mut named = named
            .into_iter()
            .flat_map(|named| range_after(named, after))
            .peekable();
        while result.len() < limit {
            let next = match (unfiltered.peek(), named.peek()) {
                (Some((a, _)), Some((b, _))) if a <= b => unfiltered.next(),
                (_, Some(_)) => named.next(),
                (Some(_), None) => unfiltered.next(),
                (None, None) => break,
            };
            if let Some((_, webhook)) = next {
                result.push(Webhook::clone(webhook));
            }
        }
        result
    }
}

/// The entries of `map` with ids after `after` (all of them without it), in id order.
fn range_after<'a>(
    map: &'a BTreeMap<WebhookId, Arc<Webhook>>,
    after: Option<&WebhookId>,
) -> std::collections::btree_map::Range<'a, WebhookId, Arc<Webhook>> {
    let start = after.map_or(Bound::Unbounded, Bound::Excluded);
    map.range::<WebhookId, _>((start, Bound::Unbounded))
}

/// At most `limit` webhooks of `map` after `after`, copied.
fn page_of(
    map: &BTreeMap<WebhookId, Arc<Webhook>>,
    after: Option<&WebhookId>,
    limit: usize,
) -> Vec<Webhook> {
    range_after(map, after)
        .take(limit)
        .map(|(_, webhook)| Webhook::clone(webhook))
        .collect()
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        let guard = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        self.inner.clear_poison();
        guard
    }

    fn queue(&self) -> MutexGuard<'_, queue::Queue> {
        let guard = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        self.queue.clear_poison();
        guard
    }
}

/// The queue in memory: every call completes on its first poll, under one lock.
impl DeliveryStore for MemoryStore {
    async fn enqueue(
        &self,
        event: &Event,
        webhooks: &[WebhookId],
        now: DateTime<Utc>,
    ) -> Result<Vec<DeliveryId>, StoreError> {
        Ok(self.queue().enqueue(event, webhooks, now))
    }

    async fn enqueue_routed(
        &self,
        event: &Event,
        now: DateTime<Utc>,
    ) -> Result<Vec<DeliveryId>, StoreError> {
        let targets: Vec<WebhookId> = {
            let inner = self.read();
            inner
                .scopes
                .get(event.scope())
                .map_or_else(Vec::new, |index| {
                    index
                        .for_account(event.account(), None, usize::MAX)
                        .iter()
                        .filter(|webhook| crate::delivery::routes(webhook, event))
                        .map(|webhook| webhook.id().clone())
                        .collect()
                })
        };
        Ok(self.queue().enqueue(event, &targets, now))
    }

    async fn claim(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Claim>, StoreError> {
        Ok(self.queue().claim(now, lease, limit))
    }

    async fn finish(
        &self,
        claim: &Claim,
        finish: Finish,
        now: DateTime<Utc>,
    ) -> Result<Option<HealthChange>, StoreError> {
        self.queue().finish(claim, finish, now)
    }

    async fn release(&self, claim: &Claim) -> Result<(), StoreError> {
        self.queue().release(claim)
    }

    async fn delivery(
        &self,
        scope: &Scope,
        id: &DeliveryId,
    ) -> Result<Option<QueuedDelivery>, StoreError> {
        Ok(self.queue().delivery(scope, id))
    }

    async fn deliveries(
        &self,
        scope: &Scope,
        webhook_id: &WebhookId,
        state: Option<DeliveryState>,
        after: Option<&DeliveryId>,
        limit: usize,
    ) -> Result<Vec<QueuedDelivery>, StoreError> {
        Ok(self
            .queue()
            .deliveries(scope, webhook_id, state, after, limit))
    }

    async fn attempts(
        &self,
        scope: &Scope,
        id: &DeliveryId,
    ) -> Result<Vec<AttemptRecord>, StoreError> {
        self.queue().attempts(scope, id)
    }

    async fn redeliver(
        &self,
        scope: &Scope,
        id: &DeliveryId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.queue().redeliver(scope, id, now)
    }

    async fn recover(
        &self,
        scope: &Scope,
        webhook_id: &WebhookId,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<usize, StoreError> {
        Ok(self.queue().recover(scope, webhook_id, since, now, limit))
    }

    async fn cancel(
        &self,
        scope: &Scope,
        id: &DeliveryId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.queue().cancel(scope, id, now)
    }

    async fn prune(&self, before: DateTime<Utc>, limit: usize) -> Result<usize, StoreError> {
        Ok(self.queue().prune(before, limit))
    }

    async fn observe_health(
        &self,
        scope: &Scope,
        webhook_id: &WebhookId,
        observation: Observation,
        now: DateTime<Utc>,
    ) -> Result<HealthChange, StoreError> {
        Ok(self
            .queue()
            .observe_health(scope, webhook_id, observation, now))
    }
}

impl WebhookStore for MemoryStore {
    async fn insert(&self, webhook: &Webhook) -> Result<(), StoreError> {
        // Copies are made before the lock is taken, to hold it briefly.
        let stored = Arc::new(webhook.clone());
        let (id, scope) = (webhook.id().clone(), webhook.scope().clone());
        let mut inner = self.write();
        if !inner.ids.insert(id) {
            return Err(StoreError::AlreadyExists);
        }
        inner.scopes.entry(scope).or_default().index(&stored);
        Ok(())
    }

    async fn get(&self, scope: &Scope, id: &WebhookId) -> Result<Option<Webhook>, StoreError> {
        let found = self
            .read()
            .scopes
            .get(scope)
            .and_then(|index| index.webhooks.get(id))
            .map(Arc::clone);
        // The copy is made after the lock is released.
        Ok(found.map(|webhook| Webhook::clone(&webhook)))
    }

    async fn list(
        &self,
        scope: &Scope,
        account: Option<&AccountId>,
    ) -> Result<Vec<Webhook>, StoreError> {
        let inner = self.read();
        let Some(index) = inner.scopes.get(scope) else {
            return Ok(Vec::new());
        };
        Ok(match account {
            None => index
                .webhooks
                .values()
                .map(|webhook| Webhook::clone(webhook))
                .collect(),
            Some(account) => index.for_account(account, None, usize::MAX),
        })
    }

    async fn list_page(
        &self,
        scope: &Scope,
        page: &PageRequest,
    ) -> Result<Vec<Webhook>, StoreError> {
        let inner = self.read();
        let Some(index) = inner.scopes.get(scope) else {
            return Ok(Vec::new());
        };
        let after = page.after.as_ref();
        Ok(match &page.selection {
            Selection::All => page_of(&index.webhooks, after, page.limit),
            Selection::Unfiltered => page_of(&index.unfiltered, after, page.limit),
            Selection::Account(account) => index.for_account(account, after, page.limit),
        })
    }

    async fn replace(&self, webhook: &Webhook, expected_revision: u64) -> Result<(), StoreError> {
        let replacement = Arc::new(webhook.clone());
        let mut inner = self.write();
        let index = inner
            .scopes
            .get_mut(webhook.scope())
            .ok_or(StoreError::NotFound)?;
        let previous = Arc::clone(
            index
                .webhooks
                .get(webhook.id())
                .ok_or(StoreError::NotFound)?,
        );
        if previous.revision() != expected_revision {
            return Err(StoreError::Conflict {
                expected: expected_revision,
                actual: previous.revision(),
            });
        }
        index.unindex(&previous);
        index.index(&replacement);
        Ok(())
    }

    async fn delete(&self, scope: &Scope, id: &WebhookId) -> Result<(), StoreError> {
        let mut inner = self.write();
        let index = inner.scopes.get_mut(scope).ok_or(StoreError::NotFound)?;
        let removed = Arc::clone(index.webhooks.get(id).ok_or(StoreError::NotFound)?);
        index.unindex(&removed);
        if index.webhooks.is_empty() {
            inner.scopes.remove(scope);
        }
        inner.ids.remove(id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use super::*;
    use crate::account::{AccountFilter, AccountType};

    /// Memory-store futures finish on their first poll; anything else is a bug.
    fn ready<T>(future: impl Future<Output = T>) -> T {
        match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(value) => value,
            Poll::Pending => panic!("a memory store call was pending"),
        }
    }

    fn scope() -> Scope {
        Scope::new("org_1".parse().unwrap(), AccountType::Live)
    }

    fn webhook(accounts: &[&str]) -> Webhook {
        let filter = AccountFilter::from_ids(accounts.iter().map(|id| id.parse().unwrap()));
        Webhook::new(
            scope(),
            "https://example.com/hook".parse().unwrap(),
            filter.unwrap(),
        )
    }

    #[test]
    fn a_poisoned_lock_does_not_panic_later_callers() {
        let store = Arc::new(MemoryStore::new());
        let kept = webhook(&[]);
        ready(store.insert(&kept)).unwrap();
        let poisoner = Arc::clone(&store);
        let outcome = std::thread::spawn(move || {
            let _guard = poisoner.inner.write().unwrap();
            panic!("poisoning the lock on purpose");
        })
        .join();
        assert!(outcome.is_err());
        assert!(store.inner.is_poisoned());

        assert_eq!(ready(store.list(&scope(), None)).unwrap().len(), 1);
        let added = webhook(&["acc_a"]);
        ready(store.insert(&added)).unwrap();
        ready(store.delete(&scope(), kept.id())).unwrap();
        let left = ready(store.list(&scope(), None)).unwrap();
        assert_eq!(
            left.iter().map(Webhook::id).collect::<Vec<_>>(),
            [added.id()]
        );
        assert!(!store.inner.is_poisoned());
    }

    #[test]
    fn indexes_follow_replacements_and_deletions() {
        let store = MemoryStore::new();
        let first = webhook(&["acc_a", "acc_b"]);
        let second = webhook(&[]);
        ready(store.insert(&first)).unwrap();
        ready(store.insert(&second)).unwrap();
        let mut moved = first.next_revision().unwrap();
        moved.set_account_filter(AccountFilter::from_ids(["acc_c".parse().unwrap()]).unwrap());
        ready(store.replace(&moved, 1)).unwrap();
        let ids = |account: &str| {
            ready(store.list(&scope(), Some(&account.parse().unwrap())))
                .unwrap()
                .into_iter()
                .map(|webhook| webhook.id().clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids("acc_a"), [second.id().clone()]);
        assert_eq!(ids("acc_c"), [first.id().clone(), second.id().clone()]);
        ready(store.delete(&scope(), second.id())).unwrap();
        ready(store.delete(&scope(), first.id())).unwrap();
        let inner = store.read();
        assert!(inner.scopes.is_empty() && inner.ids.is_empty());
    }
}
