//! The delivery queue of [`MemoryStore`](super::MemoryStore): deliveries by id, indexed by
//! due time and per webhook; events kept once, shared by their deliveries.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::clock::later;
use crate::event::Event;
use crate::health::{EndpointHealth, HealthChange, Observation};
use crate::id::{DeliveryId, EventId, WebhookId};
use crate::store::StoreError;
use crate::store::queue::{
    AttemptRecord, Claim, ClaimToken, DeliveryState, Finish, MAX_BATCH, QueuedDelivery, Trigger,
};
use crate::webhook::Scope;

/// The queue's data, behind the store's lock.
#[derive(Debug, Default)]
pub(super) struct Queue {
    /// Every event with deliveries, by scope and id; the value counts its deliveries.
    events: HashMap<(Scope, EventId), usize>,
    deliveries: HashMap<DeliveryId, Entry>,
    /// Pending deliveries by due time and in-flight ones by lease end: what a claim walks.
    due: BTreeSet<(DateTime<Utc>, DeliveryId)>,
    /// Each webhook's deliveries, in id (creation) order.
    by_webhook: HashMap<(Scope, WebhookId), BTreeSet<DeliveryId>>,
    /// Final deliveries by when they last changed: what pruning walks.
    finished: BTreeSet<(DateTime<Utc>, DeliveryId)>,
    health: HashMap<(Scope, WebhookId), EndpointHealth>,
}

#[derive(Debug)]
struct Entry {
    record: QueuedDelivery,
    /// The event, its body shared with the event's other deliveries.
    event: Event,
    trigger: Trigger,
    token: Option<ClaimToken>,
    attempts: Vec<AttemptRecord>,
}

impl Entry {
    fn holds(&self, token: &ClaimToken) -> bool {
        self.record.state == DeliveryState::InFlight && self.token.as_ref() == Some(token)
    }
}

impl Queue {
    /// Moves `id` to `state`, keeping the indexes in step.
    fn set_state(
        &mut self,
        id: &DeliveryId,
        state: DeliveryState,
        due_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) {
        let Some(entry) = self.deliveries.get_mut(id) else {
            return;
        };
        let record = &mut entry.record;
        if let Some(due) = record.due_at {
            self.due.remove(&(due, id.clone()));
        }
        if record.state.is_final() {
            self.finished.remove(&(record.updated_at, id.clone()));
        }
        record.state = state;
        record.due_at = due_at;
        record.updated_at = now;
        if let Some(due) = due_at {
            self.due.insert((due, id.clone()));
        }
        if state.is_final() {
            self.finished.insert((now, id.clone()));
        }
    }

    pub(super) fn enqueue(
        &mut self,
        event: &Event,
        webhooks: &[WebhookId],
        now: DateTime<Utc>,
    ) -> Vec<DeliveryId> {
        let key = (event.scope().clone(), event.id().clone());
        if webhooks.is_empty() || self.events.contains_key(&key) {
            return Vec::new();
        }
        // A webhook named twice gets one delivery.
        let unique: BTreeSet<&WebhookId> = webhooks.iter().collect();
        let mut ids = Vec::with_capacity(unique.len());
        for webhook_id in unique {
            let id = DeliveryId::generate();
            let record = QueuedDelivery {
                id: id.clone(),
                scope: event.scope().clone(),
                webhook_id: webhook_id.clone(),
                event_id: event.id().clone(),
                state: DeliveryState::Pending,
                attempts: 0,
                due_at: Some(now),
                created_at: now,
                updated_at: now,
            };
            self.due.insert((now, id.clone()));
            self.by_webhook
                .entry((event.scope().clone(), webhook_id.clone()))
                .or_default()
                .insert(id.clone());
            self.deliveries.insert(
                id.clone(),
                Entry {
                    record,
                    event: event.clone(),
                    trigger: Trigger::Scheduled,
                    token: None,
                    attempts: Vec::new(),
                },
            );
            ids.push(id);
        }
        self.events.insert(key, ids.len());
        ids
    }

    pub(super) fn claim(
        &mut self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: usize,
    ) -> Vec<Claim> {
        let due: Vec<DeliveryId> = self
            .due
            .iter()
            .take_while(|(at, _)| *at <= now)
            .take(limit)
            .map(|(_, id)| id.clone())
            .collect();
        let lease_until = later(now, lease);
        let mut claims = Vec::with_capacity(due.len());
        for id in due {
            self.set_state(&id, DeliveryState::InFlight, Some(lease_until), now);
            let Some(entry) = self.deliveries.get_mut(&id) else {
                continue;
            };
            let token = ClaimToken::generate();
            entry.token = Some(token.clone());
            entry.record.attempts = entry.record.attempts.saturating_add(1);
            claims.push(Claim {
                delivery_id: id,
                webhook_id: entry.record.webhook_id.clone(),
                event: entry.event.clone(),
                attempt: entry.record.attempts,
                trigger: entry.trigger,
                token,
                lease_until,
            });
        }
        claims
    }

    pub(super) fn finish(
        &mut self,
        claim: &Claim,
        finish: Finish,
        now: DateTime<Utc>,
    ) -> Result<Option<HealthChange>, StoreError> {
        let entry = self
            .deliveries
            .get_mut(&claim.delivery_id)
            .filter(|entry| entry.holds(&claim.token))
            .ok_or(StoreError::LeaseLost)?;
        entry.token = None;
        entry.trigger = Trigger::Scheduled;
        if let Some(attempt) = finish.attempt() {
            entry.attempts.push(attempt.clone());
        }
        self.set_state(&claim.delivery_id, finish.state(), finish.due_at(), now);
        Ok(matches!(finish, Finish::Delivered(_)).then(|| {
            self.observe_health(
                claim.event.scope(),
                &claim.webhook_id,
                Observation::Succeeded,
                now,
            )
        }))
    }

    pub(super) fn release(&mut self, claim: &Claim) -> Result<(), StoreError> {
        let entry = self
            .deliveries
            .get_mut(&claim.delivery_id)
            .filter(|entry| entry.holds(&claim.token))
            .ok_or(StoreError::LeaseLost)?;
        entry.token = None;
        entry.record.attempts = entry.record.attempts.saturating_sub(1);
        // Due when it was claimed (it was due then), so it goes first in the next claim.
        let claimed_at = entry.record.updated_at;
        self.set_state(
            &claim.delivery_id,
            DeliveryState::Pending,
            Some(claimed_at),
            claimed_at,
        );
        Ok(())
    }

    fn entry(&self, scope: &Scope, id: &DeliveryId) -> Option<&Entry> {
        self.deliveries
            .get(id)
            .filter(|entry| &entry.record.scope == scope)
    }

    /// The state of the delivery `id` of `scope`.
    fn state_of(&self, scope: &Scope, id: &DeliveryId) -> Result<DeliveryState, StoreError> {
        self.entry(scope, id)
            .map(|entry| entry.record.state)
            .ok_or(StoreError::NotFound)
    }

    pub(super) fn delivery(&self, scope: &Scope, id: &DeliveryId) -> Option<QueuedDelivery> {
        self.entry(scope, id).map(|entry| entry.record.clone())
    }

    pub(super) fn deliveries(
        &self,
        scope: &Scope,
        webhook_id: &WebhookId,
        state: Option<DeliveryState>,
        after: Option<&DeliveryId>,
        limit: usize,
    ) -> Vec<QueuedDelivery> {
        let Some(ids) = self.by_webhook.get(&(scope.clone(), webhook_id.clone())) else {
            return Vec::new();
        };
        let range = match after {
            Some(after) => ids.range::<DeliveryId, _>((
                std::ops::Bound::Excluded(after),
                std::ops::Bound::Unbounded,
            )),
            None => ids.range::<DeliveryId, _>(..),
        };
        range
            .filter_map(|id| self.deliveries.get(id))
            .map(|entry| &entry.record)
            .filter(|record| state.is_none_or(|state| record.state == state))
            .take(limit.min(MAX_BATCH))
            .cloned()
            .collect()
    }

    pub(super) fn attempts(
        &self,
        scope: &Scope,
        id: &DeliveryId,
    ) -> Result<Vec<AttemptRecord>, StoreError> {
        self.entry(scope, id)
            .map(|entry| entry.attempts.clone())
            .ok_or(StoreError::NotFound)
    }

    pub(super) fn redeliver(
        &mut self,
        scope: &Scope,
        id: &DeliveryId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let state = self.state_of(scope, id)?;
        match state {
            DeliveryState::InFlight => return Err(StoreError::InFlight),
            DeliveryState::Pending => {}
            _ => {
                if let Some(entry) = self.deliveries.get_mut(id) {
                    entry.trigger = Trigger::Manual;
                }
            }
        }
        self.set_state(id, DeliveryState::Pending, Some(now), now);
        Ok(())
    }

    pub(super) fn recover(
        &mut self,
        scope: &Scope,
        webhook_id: &WebhookId,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: usize,
    ) -> usize {
        let failed: Vec<DeliveryId> = self
            .by_webhook
            .get(&(scope.clone(), webhook_id.clone()))
            .into_iter()
            .flatten()
            .filter_map(|id| self.deliveries.get(id))
            .filter(|entry| {
                entry.record.state == DeliveryState::Failed && entry.record.created_at >= since
            })
            .take(limit.min(MAX_BATCH))
            .map(|entry| entry.record.id.clone())
            .collect();
        for id in &failed {
            if let Some(entry) = self.deliveries.get_mut(id) {
                entry.trigger = Trigger::Manual;
            }
            self.set_state(id, DeliveryState::Pending, Some(now), now);
        }
        failed.len()
    }

    pub(super) fn cancel(
        &mut self,
        scope: &Scope,
        id: &DeliveryId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let state = self.state_of(scope, id)?;
        if !state.is_final() {
            if let Some(entry) = self.deliveries.get_mut(id) {
                entry.token = None;
            }
            self.set_state(id, DeliveryState::Cancelled, None, now);
        }
        Ok(())
    }

    pub(super) fn prune(&mut self, before: DateTime<Utc>, limit: usize) -> usize {
        let old: Vec<(DateTime<Utc>, DeliveryId)> = self
            .finished
            .iter()
            .take_while(|(at, _)| *at < before)
            .take(limit.min(MAX_BATCH))
            .cloned()
            .collect();
        for key in &old {
            self.finished.remove(key);
            let Some(entry) = self.deliveries.remove(&key.1) else {
                continue;
            };
            let record = entry.record;
            let webhook_key = (record.scope.clone(), record.webhook_id);
            if let Some(ids) = self.by_webhook.get_mut(&webhook_key) {
                ids.remove(&record.id);
                if ids.is_empty() {
                    self.by_webhook.remove(&webhook_key);
                }
            }
            let event_key = (record.scope, record.event_id);
            if let Some(count) = self.events.get_mut(&event_key) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    self.events.remove(&event_key);
                }
            }
        }
        old.len()
    }

    pub(super) fn observe_health(
        &mut self,
        scope: &Scope,
        webhook_id: &WebhookId,
        observation: Observation,
        now: DateTime<Utc>,
    ) -> HealthChange {
        let key = (scope.clone(), webhook_id.clone());
        let before = self.health.get(&key).copied().unwrap_or_default();
        let after = before.observe(observation, now);
        if after == EndpointHealth::default() {
            self.health.remove(&key);
        } else {
            self.health.insert(key, after);
        }
        HealthChange { before, after }
    }
}
