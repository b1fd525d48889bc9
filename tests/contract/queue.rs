//! The contract every [`DeliveryStore`] keeps, as one suite any store runs.
//!
//! Invoke [`delivery_store_contract!`] with anything callable without arguments that returns
//! a future of a store. Unlike the webhook suite, each test needs a store of its own, empty:
//! claims take whatever is due in the whole store.
//!
//! ```ignore
//! mod contract;
//! contract::queue::delivery_store_contract!(|| async { MemoryStore::new() });
//! ```
//!
//! Times are passed to the store, never read by it, so every test works on a fixed clock.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use webhook_kit::{
    AccountType, AttemptRecord, Claim, DeliveryId, DeliveryState, DeliveryStore, EndpointHealth,
    ErrorKind, Event, EventId, Finish, HealthChange, MAX_BATCH, MAX_KEPT_RESPONSE, Observation,
    QueuedDelivery, Scope, StoreError, Trigger, UpdateWebhookRequest, WebhookId, WebhookStore,
    Webhooks,
};

use super::{account, new_scope};

/// Generates one `#[tokio::test]` per contract test, each with a fresh store from `$make`.
#[allow(unused_macros)]
macro_rules! delivery_store_contract {
    ($make:expr) => {
        $crate::contract::queue::delivery_store_contract!(@tests $make;
            enqueue_adds_one_pending_delivery_per_webhook,
            enqueue_of_a_known_event_adds_nothing,
            enqueue_without_webhooks_adds_nothing,
            enqueue_routed_queues_one_delivery_per_webhook_that_gets_the_event,
            enqueue_routed_numbers_many_deliveries_in_webhook_order,
            concurrent_enqueues_each_get_their_own_deliveries,
            claim_takes_due_deliveries_earliest_first_up_to_the_limit,
            claim_counts_an_attempt_and_gives_a_fresh_token,
            claimed_deliveries_are_not_claimed_again_while_leased,
            expired_leases_return_to_the_queue_and_fence_the_old_worker,
            finish_is_fenced_by_the_claim_token,
            finish_records_the_attempt_and_the_state,
            retry_is_due_when_the_worker_says,
            release_returns_a_claim_without_counting_it,
            attempts_keep_every_field_but_no_secret,
            listing_filters_by_state_and_pages,
            redeliver_gives_a_final_delivery_one_manual_attempt,
            redeliver_hurries_a_pending_delivery_and_refuses_an_in_flight_one,
            recover_redelivers_failed_deliveries_since_a_time_bounded,
            cancel_stops_pending_and_in_flight_deliveries,
            prune_deletes_old_final_deliveries_only,
            health_follows_the_pure_rule,
            a_delivered_finish_resets_the_health_in_the_same_write,
            finish_each_answers_and_writes_as_finish_one_by_one,
            finish_each_fences_a_stale_claim_beside_the_current_one,
            another_scope_sees_nothing_and_changes_nothing,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let store = ($make)().await;
                $crate::contract::queue::$name(store).await;
            }
        )*
    };
}

#[allow(unused_imports)]
pub(crate) use delivery_store_contract;

// ---------------------------------------------------------------------------------------
// Helpers.

const LEASE: Duration = Duration::from_secs(30);

/// A fixed instant, `seconds` after the suite's start of time.
pub fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap() + TimeDelta::seconds(seconds)
}

/// An event of `scope` with a JSON body that names it.
pub fn event(scope: &Scope) -> Event {
    let id = EventId::generate();
    let body = format!(r#"{{"id":"{id}","type":"order.paid"}}"#).into_bytes();
    Event::new(id, scope.clone(), account("acc_1"), body)
}

/// `n` new webhook ids.
pub fn webhooks(n: usize) -> Vec<WebhookId> {
    (0..n).map(|_| WebhookId::generate()).collect()
}

/// A failed attempt record, number `number`.
pub fn failure(number: u32, trigger: Trigger) -> AttemptRecord {
    AttemptRecord {
        number,
        trigger,
        started_at: at(1) + TimeDelta::milliseconds(123),
        duration: Duration::from_micros(4_567),
        remote_addr: Some("127.0.0.1:8443".parse().unwrap()),
        status: Some(503),
        error: None,
        response: b"busy".to_vec(),
    }
}

/// A successful attempt record.
pub fn success(number: u32, trigger: Trigger) -> AttemptRecord {
    AttemptRecord {
        status: Some(204),
        response: Vec::new(),
        ..failure(number, trigger)
    }
}

async fn ids_in<S: DeliveryStore>(
    store: &S,
    scope: &Scope,
    webhook: &WebhookId,
    state: DeliveryState,
) -> Vec<DeliveryId> {
    store
        .deliveries(scope, webhook, Some(state), None, MAX_BATCH)
        .await
        .unwrap()
        .into_iter()
        .map(|delivery| delivery.id)
        .collect()
}

async fn claim_all<S: DeliveryStore>(store: &S, now: DateTime<Utc>) -> Vec<Claim> {
    store.claim(now, LEASE, MAX_BATCH).await.unwrap()
}

async fn state<S: DeliveryStore>(store: &S, scope: &Scope, id: &DeliveryId) -> QueuedDelivery {
    store.delivery(scope, id).await.unwrap().unwrap()
}

/// Everything a store answers about a scope's deliveries of `webhook`, to compare before and
/// after a refused call.
async fn snapshot<S: DeliveryStore>(
    store: &S,
    scope: &Scope,
    webhook: &WebhookId,
) -> Vec<(QueuedDelivery, Vec<AttemptRecord>)> {
    let mut all = Vec::new();
    for delivery in store
        .deliveries(scope, webhook, None, None, MAX_BATCH)
        .await
        .unwrap()
    {
        let attempts = store.attempts(scope, &delivery.id).await.unwrap();
        all.push((delivery, attempts));
    }
    all
}

// ---------------------------------------------------------------------------------------
// The contract.

pub async fn enqueue_adds_one_pending_delivery_per_webhook<S: DeliveryStore>(store: S) {
    let scope = new_scope(AccountType::Live);
    let event = event(&scope);
    let targets = webhooks(3);
    let ids = store.enqueue(&event, &targets, at(0)).await.unwrap();
    assert_eq!(ids.len(), 3);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 3, "distinct ids");
    for (webhook, id) in targets.iter().zip(&ids) {
        let listed = store
            .deliveries(&scope, webhook, None, None, 10)
            .await
            .unwrap();
        assert_eq!(listed.len(), 1);
        let delivery = &listed[0];
        assert_eq!(&delivery.id, id);
        assert_eq!(delivery.scope, scope);
        assert_eq!(&delivery.webhook_id, webhook);
        assert_eq!(&delivery.event_id, event.id());
        assert_eq!(delivery.state, DeliveryState::Pending);
        assert_eq!(delivery.attempts, 0);
        assert_eq!(delivery.due_at, Some(at(0)));
        assert_eq!(delivery.created_at, at(0));
        assert_eq!(state(&store, &scope, id).await, *delivery);
        assert!(store.attempts(&scope, id).await.unwrap().is_empty());
    }
    // Each claim carries the event, body byte for byte.
    let claims = claim_all(&store, at(0)).await;
    assert_eq!(claims.len(), 3);
    for claim in &claims {
        assert_eq!(claim.event.id(), event.id());
        assert_eq!(claim.event.scope(), &scope);
        assert_eq!(claim.event.account(), event.account());
        assert_eq!(claim.event.body(), event.body());
    }
}

pub async fn enqueue_of_a_known_event_adds_nothing<S: DeliveryStore>(store: S) {
    let scope = new_scope(AccountType::Live);
    let event = event(&scope);
    let targets = webhooks(2);
    assert_eq!(
        store.enqueue(&event, &targets, at(0)).await.unwrap().len(),
        2
    );
    let before = snapshot(&store, &scope, &targets[0]).await;
    // The same id again, even for more webhooks or with another body: nothing.
    let again = Event::new(
        event.id().clone(),
        scope.clone(),
        account("acc_2"),
        &b"{}"[..],
    );
    assert!(
        store
            .enqueue(&again, &webhooks(2), at(5))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .enqueue(&event, &targets, at(5))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(snapshot(&store, &scope, &targets[0]).await, before);
    assert_eq!(claim_all(&store, at(10)).await.len(), 2);
    // The same id in another scope is another event.
    let other = new_scope(AccountType::Live);
    let theirs = Event::new(event.id().clone(), other, account("acc_1"), &b"{}"[..]);
    assert_eq!(
        store.enqueue(&theirs, &targets, at(0)).await.unwrap().len(),
        2
    );
    // A webhook named twice gets one delivery.
    let twice = super::queue::event(&scope);
    assert_eq!(
        store
            .enqueue(&twice, &[targets[0].clone(), targets[0].clone()], at(0))
            .await
            .unwrap()
            .len(),
        1
    );
}

pub async fn enqueue_without_webhooks_adds_nothing<S: DeliveryStore>(store: S) {
    let scope = new_scope(AccountType::Test);
    let event = event(&scope);
    assert!(store.enqueue(&event, &[], at(0)).await.unwrap().is_empty());
    assert!(claim_all(&store, at(100)).await.is_empty());
}

/// Creates a webhook in `scope` filtered on `accounts` through `webhooks`, disabled when
/// `enabled` is false; answers its id.
async fn created<S: WebhookStore>(
    webhooks: &Webhooks<S>,
    scope: &Scope,
    accounts: &[&str],
    enabled: bool,
) -> WebhookId {
    let id = webhooks
        .create(scope, super::create_request("routed", accounts))
        .await
        .unwrap()
        .webhook()
        .id()
        .clone();
    if !enabled {
        let update =
            UpdateWebhookRequest::new(super::url("routed").parse().unwrap()).with_enabled(false);
        webhooks.update(scope, id.as_str(), update).await.unwrap();
    }
    id
}

/// The webhooks of `scope` with a delivery of `event`, and those deliveries' ids.
async fn queued_for<S: WebhookStore + DeliveryStore>(
    webhooks: &Webhooks<S>,
    scope: &Scope,
    event: &Event,
) -> (Vec<WebhookId>, Vec<DeliveryId>) {
    let (mut targets, mut ids) = (Vec::new(), Vec::new());
    for webhook in webhooks.store().list(scope, None).await.unwrap() {
        for delivery in webhooks
            .store()
            .deliveries(scope, webhook.id(), None, None, MAX_BATCH)
            .await
            .unwrap()
        {
            if &delivery.event_id == event.id() {
                targets.push(webhook.id().clone());
                ids.push(delivery.id);
            }
        }
    }
    ids.sort();
    (targets, ids)
}

pub async fn enqueue_routed_queues_one_delivery_per_webhook_that_gets_the_event<
    S: WebhookStore + DeliveryStore,
>(
    store: S,
) {
    let webhooks = Webhooks::new(store);
    let scope = new_scope(AccountType::Live);
    let all = created(&webhooks, &scope, &[], true).await;
    let named = created(&webhooks, &scope, &["acc_1", "acc_3"], true).await;
    let _elsewhere = created(&webhooks, &scope, &["acc_2"], true).await;
    let _disabled = created(&webhooks, &scope, &[], false).await;
    let _disabled_named = created(&webhooks, &scope, &["acc_1"], false).await;
    // Same organisation, other account type: another scope.
    let test_scope = Scope::new(scope.organization().clone(), AccountType::Test);
    let other_scope = created(&webhooks, &test_scope, &[], true).await;

    let event = event(&scope);
    let ids = webhooks
        .store()
        .enqueue_routed(&event, at(0))
        .await
        .unwrap();
    let signed: Vec<WebhookId> = webhooks
        .deliveries(&event, at(0).timestamp())
        .await
        .unwrap()
        .iter()
        .map(|delivery| delivery.webhook_id().clone())
        .collect();
    assert_eq!(
        signed,
        [all.clone(), named.clone()],
        "the routing of deliveries"
    );
    let (targets, queued) = queued_for(&webhooks, &scope, &event).await;
    assert_eq!(targets, signed, "queued exactly where deliveries route");
    assert_eq!(ids, queued, "answers the new deliveries, in webhook order");
    for id in &ids {
        let delivery = state(webhooks.store(), &scope, id).await;
        assert_eq!(delivery.state, DeliveryState::Pending);
        assert_eq!(delivery.due_at, Some(at(0)));
        assert_eq!(delivery.created_at, at(0));
        assert_eq!(delivery.attempts, 0);
    }
    assert!(
        webhooks
            .store()
            .deliveries(&test_scope, &other_scope, None, None, MAX_BATCH)
            .await
            .unwrap()
            .is_empty()
    );
    let claims = claim_all(webhooks.store(), at(0)).await;
    assert_eq!(claims.len(), 2);
    assert!(
        claims
            .iter()
            .all(|claim| claim.event.body() == event.body())
    );

    // The same event again adds nothing.
    assert!(
        webhooks
            .store()
            .enqueue_routed(&event, at(5))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(queued_for(&webhooks, &scope, &event).await.1, queued);

    // An event no webhook gets is not stored: once a webhook gets it, it is queued.
    let lonely = new_scope(AccountType::Live);
    let unrouted = super::queue::event(&lonely);
    let none = webhooks.store().enqueue_routed(&unrouted, at(0)).await;
    assert!(none.unwrap().is_empty());
    let late = created(&webhooks, &lonely, &["acc_1"], true).await;
    let ids = webhooks
        .store()
        .enqueue_routed(&unrouted, at(0))
        .await
        .unwrap();
    assert_eq!(
        queued_for(&webhooks, &lonely, &unrouted).await,
        (vec![late], ids)
    );
}

pub async fn enqueue_routed_numbers_many_deliveries_in_webhook_order<
    S: WebhookStore + DeliveryStore,
>(
    store: S,
) {
    let webhooks = Webhooks::new(store);
    let scope = new_scope(AccountType::Live);
    // Past 32, so that the numbers take two digits.
    let mut created_ids = Vec::new();
    for n in 0..40 {
        let accounts: &[&str] = if n % 2 == 0 { &[] } else { &["acc_1"] };
        created_ids.push(created(&webhooks, &scope, accounts, true).await);
    }
    let before = DeliveryId::generate();
    let event = event(&scope);
    let ids = webhooks
        .store()
        .enqueue_routed(&event, at(0))
        .await
        .unwrap();
    let after = DeliveryId::generate();
    assert_eq!(ids.len(), 40);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 40, "distinct ids");
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "in order");
    assert!(before < ids[0] && ids[39] < after, "time-ordered");
    let (targets, queued) = queued_for(&webhooks, &scope, &event).await;
    assert_eq!(targets, created_ids);
    assert_eq!(queued, ids);
    // The n-th id goes to the n-th webhook.
    for (id, webhook) in ids.iter().zip(&created_ids) {
        assert_eq!(
            &state(webhooks.store(), &scope, id).await.webhook_id,
            webhook
        );
    }
}

pub async fn concurrent_enqueues_each_get_their_own_deliveries<
    S: WebhookStore + DeliveryStore + 'static,
>(
    store: S,
) {
    let webhooks = std::sync::Arc::new(Webhooks::new(store));
    let scope = new_scope(AccountType::Live);
    created(&webhooks, &scope, &[], true).await;
    created(&webhooks, &scope, &["acc_1"], true).await;
    let events: Vec<Event> = (0..20)
        .map(|n| {
            let id = EventId::generate();
            let name = if n % 2 == 0 { "acc_1" } else { "acc_2" };
            Event::new(id, scope.clone(), account(name), &b"{}"[..])
        })
        .collect();
    // The first event five times over, all at once with the others.
    let mut calls: Vec<Event> = events.clone();
    calls.extend(std::iter::repeat_n(events[0].clone(), 4));
    let mut tasks = tokio::task::JoinSet::new();
    for (n, event) in calls.into_iter().enumerate() {
        let webhooks = std::sync::Arc::clone(&webhooks);
        tasks.spawn(async move {
            let ids = webhooks.store().enqueue_routed(&event, at(0)).await;
            (n, event, ids.unwrap())
        });
    }
    let mut answers = tasks.join_all().await;
    answers.sort_by_key(|answer| answer.0);
    for (event, answer) in events.iter().zip(&answers).skip(1) {
        let expected = if event.account().as_str() == "acc_1" {
            2
        } else {
            1
        };
        assert_eq!(answer.2.len(), expected, "{}", event.id());
        assert_eq!(queued_for(&webhooks, &scope, event).await.1, answer.2);
    }
    // The repeated event was queued once, by one of its five calls.
    let repeated: Vec<&Vec<DeliveryId>> = answers
        .iter()
        .filter(|answer| answer.1.id() == events[0].id())
        .map(|answer| &answer.2)
        .filter(|ids| !ids.is_empty())
        .collect();
    assert_eq!(repeated.len(), 1);
    assert_eq!(
        &queued_for(&webhooks, &scope, &events[0]).await.1,
        repeated[0]
    );
}

pub async fn claim_takes_due_deliveries_earliest_first_up_to_the_limit<S: DeliveryStore>(store: S) {
    let scope = new_scope(AccountType::Live);
    let target = webhooks(1);
    let mut ids = Vec::new();
    for second in [30, 10, 20, 40] {
        ids.push(
            store
                .enqueue(&event(&scope), &target, at(second))
                .await
                .unwrap()[0]
                .clone(),
        );
    }
    assert!(claim_all(&store, at(9)).await.is_empty(), "nothing due yet");
    let first = store.claim(at(35), LEASE, 2).await.unwrap();
    let claimed: Vec<_> = first
        .iter()
        .map(|claim| claim.delivery_id.clone())
        .collect();
    assert_eq!(
        claimed,
        [ids[1].clone(), ids[2].clone()],
        "earliest first, at most 2"
    );
    let second = claim_all(&store, at(35)).await;
    assert_eq!(second.len(), 1, "the one due at 40 waits");
    assert_eq!(second[0].delivery_id, ids[0]);
    assert!(
        store.claim(at(100), LEASE, 0).await.unwrap().is_empty(),
        "limit 0"
    );
}

pub async fn claim_counts_an_attempt_and_gives_a_fresh_token<S: DeliveryStore>(store: S) {
    let scope = new_scope(AccountType::Live);
    let id = store
        .enqueue(&event(&scope), &webhooks(1), at(0))
        .await
        .unwrap()[0]
        .clone();
    let claim = claim_all(&store, at(1)).await.pop().unwrap();
    assert_eq!(claim.delivery_id, id);
    assert_eq!(claim.attempt, 1);
    assert_eq!(claim.trigger, Trigger::Scheduled);
    assert_eq!(claim.lease_until, at(31));
    let delivery = state(&store, &scope, &id).await;
    assert_eq!(delivery.state, DeliveryState::InFlight);
    assert_eq!(delivery.attempts, 1);
    assert_eq!(
        delivery.due_at,
        Some(at(31)),
        "in flight: due when the lease ends"
    );
    // Attempt 2 after a retry, with another token.
    store
        .finish(
            &claim,
            Finish::Retry {
                attempt: failure(1, Trigger::Scheduled),
                at: at(5),
            },
            at(2),
        )
        .await
        .unwrap();
    let next = claim_all(&store, at(5)).await.pop().unwrap();
    assert_eq!(next.attempt, 2);
    assert_ne!(next.token, claim.token);
}

pub async fn claimed_deliveries_are_not_claimed_again_while_leased<S: DeliveryStore>(store: S) {
    let scope = new_scope(AccountType::Live);
    store
        .enqueue(&event(&scope), &webhooks(5), at(0))
        .await
        .unwrap();
    assert_eq!(claim_all(&store, at(0)).await.len(), 5);
    assert!(claim_all(&store, at(0)).await.is_empty());
    assert!(
        claim_all(&store, at(29)).await.is_empty(),
        "the lease still holds"
    );
}

pub async fn expired_leases_return_to_the_queue_and_fence_the_old_worker<S: DeliveryStore>(
    store: S,
) {
    let scope = new_scope(AccountType::Live);
    let target = webhooks(1);
    let id = store.enqueue(&event(&scope), &target, at(0)).await.unwrap()[0].clone();
    let stale = claim_all(&store, at(0)).await.pop().unwrap();
    let fresh = claim_all(&store, at(30)).await.pop().unwrap();
    assert_eq!(fresh.delivery_id, id);
    assert_eq!(fresh.attempt, 2, "the lost attempt counts");
    assert_ne!(fresh.token, stale.token);
    let before = snapshot(&store, &scope, &target[0]).await;
    let late = store
        .finish(
            &stale,
            Finish::Delivered(success(1, Trigger::Scheduled)),
            at(31),
        )
        .await
        .unwrap_err();
    assert!(matches!(late, StoreError::LeaseLost), "{late:?}");
    assert!(matches!(
        store.release(&stale).await.unwrap_err(),
        StoreError::LeaseLost
    ));
    assert_eq!(
        snapshot(&store, &scope, &target[0]).await,
        before,
        "nothing written"
    );
    store
        .finish(
            &fresh,
            Finish::Delivered(success(2, Trigger::Scheduled)),
            at(32),
        )
        .await
        .unwrap();
    assert_eq!(
        state(&store, &scope, &id).await.state,
        DeliveryState::Delivered
    );
}

pub async fn finish_is_fenced_by_the_claim_token<S: DeliveryStore>(store: S) {
    let scope = new_scope(AccountType::Live);
    let target = webhooks(1);
    store.enqueue(&event(&scope), &target, at(0)).await.unwrap();
    let claim = claim_all(&store, at(0)).await.pop().unwrap();
    let mut forged = claim.clone();
    forged.token = webhook_kit::ClaimToken::generate();
    let before = snapshot(&store, &scope, &target[0]).await;
    for finish in [
        Finish::Delivered(success(1, Trigger::Scheduled)),
        Finish::Failed(failure(1, Trigger::Scheduled)),
        Finish::Cancelled,
    ] {
        let refused = store.finish(&forged, finish, at(1)).await.unwrap_err();
        assert!(matches!(refused, StoreError::LeaseLost), "{refused:?}");
    }
    assert!(matches!(
        store.release(&forged).await.unwrap_err(),
        StoreError::LeaseLost
    ));
    assert_eq!(snapshot(&store, &scope, &target[0]).await, before);
    store
        .finish(
            &claim,
            Finish::Delivered(success(1, Trigger::Scheduled)),
            at(1),
        )
        .await
        .unwrap();
    // Finished: the token is spent.
    let twice = store
        .finish(
            &claim,
            Finish::Failed(failure(1, Trigger::Scheduled)),
            at(2),
        )
        .await
        .unwrap_err();
    assert!(matches!(twice, StoreError::LeaseLost));
    assert_eq!(
        store
            .attempts(&scope, &claim.delivery_id)
            .await
            .unwrap()
            .len(),
        1
    );
}

pub async fn finish_records_the_attempt_and_the_state<S: DeliveryStore>(store: S) {
    let scope = new_scope(AccountType::Live);
    let ids = store
        .enqueue(&event(&scope), &webhooks(3), at(0))
        .await
        .unwrap();
    let claims = claim_all(&store, at(0)).await;
    let finishes = [
        (
            Finish::Delivered(success(1, Trigger::Scheduled)),
            DeliveryState::Delivered,
            1,
        ),
        (
            Finish::Failed(failure(1, Trigger::Scheduled)),
            DeliveryState::Failed,
            1,
        ),
        (Finish::Cancelled, DeliveryState::Cancelled, 0),
    ];
    for (claim, (finish, expected, recorded)) in claims.iter().zip(finishes) {
        let attempt = finish.attempt().cloned();
        store.finish(claim, finish, at(7)).await.unwrap();
        let delivery = state(&store, &scope, &claim.delivery_id).await;
        assert_eq!(delivery.state, expected);
        assert_eq!(delivery.due_at, None);
        assert_eq!(delivery.updated_at, at(7));
        let attempts = store.attempts(&scope, &claim.delivery_id).await.unwrap();
        assert_eq!(attempts.len(), recorded);
        assert_eq!(attempts.first().cloned(), attempt);
    }
    assert!(
        claim_all(&store, at(1000)).await.is_empty(),
        "final deliveries stay put"
    );
    assert_eq!(ids.len(), 3);
}

pub async fn retry_is_due_when_the_worker_says<S: DeliveryStore>(store: S) {
    let scope = new_scope(AccountType::Live);
    let id = store
        .enqueue(&event(&scope), &webhooks(1), at(0))
        .await
        .unwrap()[0]
        .clone();
    let claim = claim_all(&store, at(0)).await.pop().unwrap();
    let retry = Finish::Retry {
        attempt: failure(1, Trigger::Scheduled),
        at: at(300),
    };
    store.finish(&claim, retry, at(1)).await.unwrap();
    let delivery = state(&store, &scope, &id).await;
    assert_eq!(delivery.state, DeliveryState::Pending);
    assert_eq!(delivery.due_at, Some(at(300)));
    assert_eq!(delivery.attempts, 1);
    assert!(claim_all(&store, at(299)).await.is_empty());
    assert_eq!(claim_all(&store, at(300)).await.len(), 1);
}

pub async fn release_returns_a_claim_without_counting_it<S: DeliveryStore>(store: S) {
    let scope = new_scope(AccountType::Live);
    let target = webhooks(1);
    let id = store.enqueue(&event(&scope), &target, at(0)).await.unwrap()[0].clone();
    let claim = claim_all(&store, at(3)).await.pop().unwrap();
    store.release(&claim).await.unwrap();
    let delivery = state(&store, &scope, &id).await;
    assert_eq!(delivery.state, DeliveryState::Pending);
    assert_eq!(delivery.attempts, 0, "an unstarted attempt is not counted");
    assert!(
        delivery.due_at.is_some_and(|due| due <= at(3)),
        "due at once"
    );
    assert!(store.attempts(&scope, &id).await.unwrap().is_empty());
    // The token is spent, and the next claim is attempt 1 again.
    assert!(matches!(
        store.release(&claim).await.unwrap_err(),
        StoreError::LeaseLost
    ));
    let again = claim_all(&store, at(3)).await.pop().unwrap();
    assert_eq!(again.attempt, 1);
}

pub async fn attempts_keep_every_field_but_no_secret<S: DeliveryStore>(store: S) {
    let scope = new_scope(AccountType::Live);
    let id = store
        .enqueue(&event(&scope), &webhooks(1), at(0))
        .await
        .unwrap()[0]
        .clone();
    let ipv6: SocketAddr = "[::1]:443".parse().unwrap();
    let records = [
        AttemptRecord {
            number: 1,
            trigger: Trigger::Scheduled,
            started_at: at(0) + TimeDelta::nanoseconds(123_456_789),
            duration: Duration::from_nanos(15_000_000_001),
            remote_addr: None,
            status: None,
            error: Some(ErrorKind::Timeout),
            response: Vec::new(),
        },
        AttemptRecord {
            number: 2,
            trigger: Trigger::Scheduled,
            started_at: at(10),
            duration: Duration::from_millis(3),
            remote_addr: Some(ipv6),
            status: Some(500),
            error: None,
            response: vec![0xff; MAX_KEPT_RESPONSE],
        },
        AttemptRecord {
            number: 3,
            trigger: Trigger::Manual,
            started_at: at(20),
            duration: Duration::ZERO,
            remote_addr: Some("127.0.0.1:1".parse().unwrap()),
            status: Some(302),
            error: Some(ErrorKind::Redirect),
            response: b"moved \x00 binary".to_vec(),
        },
    ];
    for (index, record) in records.iter().enumerate() {
        let claim = claim_all(&store, at(100 * (index as i64 + 1)))
            .await
            .pop()
            .unwrap();
        let finish = if index == 2 {
            Finish::Failed(record.clone())
        } else {
            Finish::Retry {
                attempt: record.clone(),
                at: at(100 * (index as i64 + 2)),
            }
        };
        store.finish(&claim, finish, at(1)).await.unwrap();
    }
    assert_eq!(store.attempts(&scope, &id).await.unwrap(), records);
}

pub async fn listing_filters_by_state_and_pages<S: DeliveryStore>(store: S) {
    let scope = new_scope(AccountType::Live);
    let target = webhooks(1);
    let mut ids = Vec::new();
    for second in 0..5 {
        ids.push(
            store
                .enqueue(&event(&scope), &target, at(second))
                .await
                .unwrap()[0]
                .clone(),
        );
    }
    // Another webhook's delivery (due later) is not listed.
    store
        .enqueue(&event(&scope), &webhooks(1), at(100))
        .await
        .unwrap();
    let claims = store.claim(at(10), LEASE, 2).await.unwrap();
    store
        .finish(
            &claims[0],
            Finish::Delivered(success(1, Trigger::Scheduled)),
            at(11),
        )
        .await
        .unwrap();
    let listed = |state, after, limit| {
        let (store, scope, target) = (&store, &scope, &target[0]);
        async move {
            store
                .deliveries(scope, target, state, after, limit)
                .await
                .unwrap()
                .into_iter()
                .map(|delivery| delivery.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(listed(None, None, 100).await, ids, "oldest first");
    assert_eq!(
        listed(Some(DeliveryState::Delivered), None, 100).await,
        [ids[0].clone()]
    );
    assert_eq!(
        listed(Some(DeliveryState::InFlight), None, 100).await,
        [ids[1].clone()]
    );
    assert_eq!(
        listed(Some(DeliveryState::Pending), None, 100).await,
        ids[2..]
    );
    assert!(
        listed(Some(DeliveryState::Failed), None, 100)
            .await
            .is_empty()
    );
    assert_eq!(listed(None, None, 2).await, ids[..2]);
    assert_eq!(listed(None, Some(&ids[1]), 2).await, ids[2..4]);
    assert_eq!(
        listed(Some(DeliveryState::Pending), Some(&ids[3]), 10).await,
        ids[4..]
    );
    assert!(listed(None, None, 0).await.is_empty());
    assert!(
        store
            .deliveries(&scope, &WebhookId::generate(), None, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn redeliver_gives_a_final_delivery_one_manual_attempt<S: DeliveryStore>(store: S) {
    let scope = new_scope(AccountType::Live);
    let ids = store
        .enqueue(&event(&scope), &webhooks(3), at(0))
        .await
        .unwrap();
    let claims = claim_all(&store, at(0)).await;
    store
        .finish(
            &claims[0],
            Finish::Delivered(success(1, Trigger::Scheduled)),
            at(1),
        )
        .await
        .unwrap();
    store
        .finish(
            &claims[1],
            Finish::Failed(failure(1, Trigger::Scheduled)),
            at(1),
        )
        .await
        .unwrap();
    store
        .finish(&claims[2], Finish::Cancelled, at(1))
        .await
        .unwrap();
    for claim in &claims {
        store
            .redeliver(&scope, &claim.delivery_id, at(50))
            .await
            .unwrap();
        let delivery = state(&store, &scope, &claim.delivery_id).await;
        assert_eq!(delivery.state, DeliveryState::Pending);
        assert_eq!(delivery.due_at, Some(at(50)));
    }
    assert!(claim_all(&store, at(49)).await.is_empty());
    let manual = claim_all(&store, at(50)).await;
    assert_eq!(manual.len(), 3);
    assert!(
        manual
            .iter()
            .all(|claim| claim.trigger == Trigger::Manual && claim.attempt == 2)
    );
    // After it, the next scheduled retry is scheduled again.
    let retry = Finish::Retry {
        attempt: failure(2, Trigger::Manual),
        at: at(60),
    };
    store.finish(&manual[0], retry, at(51)).await.unwrap();
    let next = claim_all(&store, at(60)).await.pop().unwrap();
    assert_eq!(next.trigger, Trigger::Scheduled);
    assert_eq!(ids.len(), 3);
}

pub async fn redeliver_hurries_a_pending_delivery_and_refuses_an_in_flight_one<S: DeliveryStore>(
    store: S,
) {
    let scope = new_scope(AccountType::Live);
    let target = webhooks(1);
    let id = store.enqueue(&event(&scope), &target, at(0)).await.unwrap()[0].clone();
    let claim = claim_all(&store, at(0)).await.pop().unwrap();
    let before = snapshot(&store, &scope, &target[0]).await;
    let busy = store.redeliver(&scope, &id, at(1)).await.unwrap_err();
    assert!(matches!(busy, StoreError::InFlight), "{busy:?}");
    assert_eq!(snapshot(&store, &scope, &target[0]).await, before);
    let retry = Finish::Retry {
        attempt: failure(1, Trigger::Scheduled),
        at: at(3600),
    };
    store.finish(&claim, retry, at(1)).await.unwrap();
    store.redeliver(&scope, &id, at(2)).await.unwrap();
    let hurried = claim_all(&store, at(2)).await.pop().unwrap();
    assert_eq!(hurried.trigger, Trigger::Scheduled, "still on its schedule");
    assert_eq!(hurried.attempt, 2);
    let missing = store
        .redeliver(&scope, &DeliveryId::generate(), at(3))
        .await
        .unwrap_err();
    assert!(matches!(missing, StoreError::NotFound));
}

pub async fn recover_redelivers_failed_deliveries_since_a_time_bounded<S: DeliveryStore>(store: S) {
    let scope = new_scope(AccountType::Live);
    let target = webhooks(1);
    let mut failed = Vec::new();
    for second in [0, 10, 20, 30] {
        store
            .enqueue(&event(&scope), &target, at(second))
            .await
            .unwrap();
        let claim = claim_all(&store, at(second)).await.pop().unwrap();
        store
            .finish(
                &claim,
                Finish::Failed(failure(1, Trigger::Scheduled)),
                at(second),
            )
            .await
            .unwrap();
        failed.push(claim.delivery_id);
    }
    // A delivered one and another webhook's failed one are left alone.
    store
        .enqueue(&event(&scope), &target, at(40))
        .await
        .unwrap();
    let delivered = claim_all(&store, at(40)).await.pop().unwrap();
    store
        .finish(
            &delivered,
            Finish::Delivered(success(1, Trigger::Scheduled)),
            at(40),
        )
        .await
        .unwrap();
    let other = webhooks(1);
    store.enqueue(&event(&scope), &other, at(40)).await.unwrap();
    let theirs = claim_all(&store, at(40)).await.pop().unwrap();
    store
        .finish(
            &theirs,
            Finish::Failed(failure(1, Trigger::Scheduled)),
            at(40),
        )
        .await
        .unwrap();

    assert_eq!(
        store
            .recover(&scope, &target[0], at(10), at(100), 2)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        ids_in(&store, &scope, &target[0], DeliveryState::Pending).await,
        failed[1..3],
        "oldest first, at most 2, none before 10"
    );
    assert_eq!(
        store
            .recover(&scope, &target[0], at(10), at(100), 100)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        ids_in(&store, &scope, &target[0], DeliveryState::Pending).await,
        failed[1..]
    );
    assert_eq!(
        state(&store, &scope, &failed[0]).await.state,
        DeliveryState::Failed
    );
    assert_eq!(
        state(&store, &scope, &theirs.delivery_id).await.state,
        DeliveryState::Failed
    );
    let manual = claim_all(&store, at(100)).await;
    assert_eq!(manual.len(), 3);
    assert!(manual.iter().all(|claim| claim.trigger == Trigger::Manual));
}

pub async fn cancel_stops_pending_and_in_flight_deliveries<S: DeliveryStore>(store: S) {
    let scope = new_scope(AccountType::Live);
    let ids = store
        .enqueue(&event(&scope), &webhooks(3), at(0))
        .await
        .unwrap();
    let in_flight = store.claim(at(0), LEASE, 1).await.unwrap().pop().unwrap();
    let done = store.claim(at(0), LEASE, 1).await.unwrap().pop().unwrap();
    store
        .finish(
            &done,
            Finish::Delivered(success(1, Trigger::Scheduled)),
            at(1),
        )
        .await
        .unwrap();
    let pending = ids
        .iter()
        .find(|id| **id != in_flight.delivery_id && **id != done.delivery_id)
        .unwrap();
    store.cancel(&scope, pending, at(2)).await.unwrap();
    store
        .cancel(&scope, &in_flight.delivery_id, at(2))
        .await
        .unwrap();
    store
        .cancel(&scope, &done.delivery_id, at(2))
        .await
        .unwrap();
    assert_eq!(
        state(&store, &scope, pending).await.state,
        DeliveryState::Cancelled
    );
    assert_eq!(
        state(&store, &scope, &in_flight.delivery_id).await.state,
        DeliveryState::Cancelled
    );
    assert_eq!(
        state(&store, &scope, &done.delivery_id).await.state,
        DeliveryState::Delivered
    );
    let lost = store
        .finish(
            &in_flight,
            Finish::Delivered(success(1, Trigger::Scheduled)),
            at(3),
        )
        .await
        .unwrap_err();
    assert!(matches!(lost, StoreError::LeaseLost));
    assert!(claim_all(&store, at(1000)).await.is_empty());
    let missing = store
        .cancel(&scope, &DeliveryId::generate(), at(3))
        .await
        .unwrap_err();
    assert!(matches!(missing, StoreError::NotFound));
}

pub async fn prune_deletes_old_final_deliveries_only<S: DeliveryStore>(store: S) {
    let scope = new_scope(AccountType::Live);
    let target = webhooks(1);
    let old_event = event(&scope);
    let old = store.enqueue(&old_event, &target, at(0)).await.unwrap()[0].clone();
    let claim = claim_all(&store, at(0)).await.pop().unwrap();
    store
        .finish(
            &claim,
            Finish::Delivered(success(1, Trigger::Scheduled)),
            at(10),
        )
        .await
        .unwrap();
    let recent = store
        .enqueue(&event(&scope), &target, at(20))
        .await
        .unwrap()[0]
        .clone();
    let claim = claim_all(&store, at(20)).await.pop().unwrap();
    store
        .finish(
            &claim,
            Finish::Failed(failure(1, Trigger::Scheduled)),
            at(30),
        )
        .await
        .unwrap();
    let waiting = store.enqueue(&event(&scope), &target, at(0)).await.unwrap()[0].clone();

    assert_eq!(store.prune(at(10), 100).await.unwrap(), 0, "strictly older");
    assert_eq!(store.prune(at(25), 100).await.unwrap(), 1);
    assert_eq!(store.delivery(&scope, &old).await.unwrap(), None);
    assert!(matches!(
        store.attempts(&scope, &old).await.unwrap_err(),
        StoreError::NotFound
    ));
    assert!(store.delivery(&scope, &recent).await.unwrap().is_some());
    assert_eq!(store.prune(at(10_000), 100).await.unwrap(), 1);
    assert_eq!(
        state(&store, &scope, &waiting).await.state,
        DeliveryState::Pending,
        "a pending delivery is never pruned"
    );
    assert_eq!(store.prune(at(10_000), 100).await.unwrap(), 0);
}

pub async fn health_follows_the_pure_rule<S: DeliveryStore>(store: S) {
    let scope = new_scope(AccountType::Live);
    let webhook = WebhookId::generate();
    let steps = [
        (Observation::Failed, 0),
        (Observation::Failed, 5),
        (Observation::Exhausted, 10),
        (Observation::Exhausted, 8),
        (Observation::Exhausted, 20),
        (Observation::Succeeded, 30),
        (Observation::Exhausted, 40),
        (Observation::Reset, 50),
        (Observation::Succeeded, 60),
    ];
    let mut expected = EndpointHealth::default();
    for (observation, second) in steps {
        let change = store
            .observe_health(&scope, &webhook, observation, at(second))
            .await
            .unwrap();
        assert_eq!(
            change.before, expected,
            "before {observation:?} at {second}"
        );
        expected = expected.observe(observation, at(second));
        assert_eq!(change.after, expected, "after {observation:?} at {second}");
    }
    // Recovery is a success after failures.
    store
        .observe_health(&scope, &webhook, Observation::Failed, at(70))
        .await
        .unwrap();
    let change = store
        .observe_health(&scope, &webhook, Observation::Succeeded, at(71))
        .await
        .unwrap();
    assert!(change.recovered());
    // Health is per webhook and per scope.
    let other = new_scope(AccountType::Live);
    store
        .observe_health(&scope, &webhook, Observation::Failed, at(80))
        .await
        .unwrap();
    let theirs = store
        .observe_health(&other, &webhook, Observation::Failed, at(90))
        .await
        .unwrap();
    assert_eq!(theirs.before, EndpointHealth::default());
    assert_eq!(theirs.after.failing_since, Some(at(90)));
}

pub async fn a_delivered_finish_resets_the_health_in_the_same_write<S: DeliveryStore>(store: S) {
    let scope = new_scope(AccountType::Live);
    let target = webhooks(1);
    let (ours, theirs) = (&target[0], WebhookId::generate());
    for webhook in [ours, &theirs] {
        store
            .observe_health(&scope, webhook, Observation::Failed, at(0))
            .await
            .unwrap();
    }
    let failing = EndpointHealth::default().observe(Observation::Failed, at(0));
    for _ in 0..4 {
        store.enqueue(&event(&scope), &target, at(1)).await.unwrap();
    }
    let mut claims = claim_all(&store, at(1)).await.into_iter();
    // Failures, retries and cancellations leave the health alone, and answer nothing.
    for finish in [
        Finish::Retry {
            attempt: failure(1, Trigger::Scheduled),
            at: at(100),
        },
        Finish::Failed(failure(1, Trigger::Scheduled)),
        Finish::Cancelled,
    ] {
        let claim = claims.next().unwrap();
        assert_eq!(store.finish(&claim, finish, at(2)).await.unwrap(), None);
    }
    let claim = claims.next().unwrap();
    let change = store
        .finish(
            &claim,
            Finish::Delivered(success(1, Trigger::Scheduled)),
            at(3),
        )
        .await
        .unwrap()
        .expect("a success answers its health change");
    assert_eq!(change.before, failing);
    assert_eq!(change.after, EndpointHealth::default());
    assert!(change.recovered());
    // The reset was stored: the next failure starts a new failing period.
    let next = store
        .observe_health(&scope, ours, Observation::Failed, at(4))
        .await
        .unwrap();
    assert_eq!(next.before, EndpointHealth::default());
    // Only that webhook's health, and a success on a healthy endpoint is no recovery.
    let other = store
        .observe_health(&scope, &theirs, Observation::Failed, at(5))
        .await
        .unwrap();
    assert_eq!(other.before, failing);
    store.enqueue(&event(&scope), &target, at(6)).await.unwrap();
    store
        .observe_health(&scope, ours, Observation::Reset, at(6))
        .await
        .unwrap();
    let claim = claim_all(&store, at(6)).await.pop().unwrap();
    let change = store
        .finish(
            &claim,
            Finish::Delivered(success(1, Trigger::Scheduled)),
            at(7),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(change.before, EndpointHealth::default());
    assert!(!change.recovered());
    // A lost lease resets nothing.
    store
        .observe_health(&scope, ours, Observation::Failed, at(8))
        .await
        .unwrap();
    let refused = store
        .finish(
            &claim,
            Finish::Delivered(success(1, Trigger::Scheduled)),
            at(9),
        )
        .await
        .unwrap_err();
    assert!(matches!(refused, StoreError::LeaseLost));
    let still = store
        .observe_health(&scope, ours, Observation::Failed, at(10))
        .await
        .unwrap();
    assert_eq!(
        still.before,
        EndpointHealth::default().observe(Observation::Failed, at(8))
    );
}

pub async fn another_scope_sees_nothing_and_changes_nothing<S: DeliveryStore>(store: S) {
    let scope = new_scope(AccountType::Live);
    let intruder = Scope::new(scope.organization().clone(), AccountType::Test);
    let stranger = new_scope(AccountType::Live);
    let target = webhooks(1);
    let ids = store.enqueue(&event(&scope), &target, at(0)).await.unwrap();
    let claim = claim_all(&store, at(0)).await.pop().unwrap();
    store
        .finish(
            &claim,
            Finish::Failed(failure(1, Trigger::Scheduled)),
            at(1),
        )
        .await
        .unwrap();
    let before = snapshot(&store, &scope, &target[0]).await;
    for other in [&intruder, &stranger] {
        assert_eq!(store.delivery(other, &ids[0]).await.unwrap(), None);
        assert!(
            store
                .deliveries(other, &target[0], None, None, 10)
                .await
                .unwrap()
                .is_empty()
        );
        let refusals = [
            store.attempts(other, &ids[0]).await.unwrap_err(),
            store.redeliver(other, &ids[0], at(2)).await.unwrap_err(),
            store.cancel(other, &ids[0], at(2)).await.unwrap_err(),
        ];
        for refusal in refusals {
            assert!(matches!(refusal, StoreError::NotFound), "{refusal:?}");
        }
        assert_eq!(
            store
                .recover(other, &target[0], at(0), at(2), 10)
                .await
                .unwrap(),
            0
        );
    }
    assert_eq!(snapshot(&store, &scope, &target[0]).await, before);
    assert!(claim_all(&store, at(1000)).await.is_empty());
}

/// One scope's deliveries for the batch test: webhook `a` (failing) twice, then `b`..`e`
/// once; all claimed, and `e` cancelled meanwhile (its claim is lost). Answers the claims
/// in that order and the finishes to give them.
async fn finishing<S: DeliveryStore>(store: &S, scope: &Scope) -> Vec<(Claim, Finish)> {
    let targets = webhooks(5);
    store
        .observe_health(scope, &targets[0], Observation::Failed, at(0))
        .await
        .unwrap();
    let mut ids = store.enqueue(&event(scope), &targets, at(1)).await.unwrap();
    let again = store
        .enqueue(&event(scope), &targets[..1], at(1))
        .await
        .unwrap();
    ids.insert(1, again[0].clone());
    let claims = claim_all(store, at(1)).await;
    let mut ordered: Vec<Claim> = ids
        .iter()
        .map(|id| {
            claims
                .iter()
                .find(|claim| &claim.delivery_id == id)
                .unwrap()
                .clone()
        })
        .collect();
    store.cancel(scope, &ids[5], at(2)).await.unwrap();
    let mut response = success(1, Trigger::Scheduled);
    response.response = vec![0, 1, 0xfe, 0xff, b'x'];
    let finishes = [
        Finish::Delivered(response),
        Finish::Delivered(success(1, Trigger::Manual)),
        Finish::Retry {
            attempt: failure(1, Trigger::Scheduled),
            at: at(100),
        },
        Finish::Failed(AttemptRecord {
            remote_addr: None,
            status: None,
            error: Some(ErrorKind::Timeout),
            ..failure(1, Trigger::Scheduled)
        }),
        Finish::Cancelled,
        Finish::Delivered(success(1, Trigger::Scheduled)),
    ];
    ordered.drain(..).zip(finishes).collect()
}

/// What a finish answered, comparable: `None` for a lost lease.
fn answered(answer: Result<Option<HealthChange>, StoreError>) -> Option<Option<HealthChange>> {
    match answer {
        Ok(change) => Some(change),
        Err(StoreError::LeaseLost) => None,
        Err(other) => panic!("{other}"),
    }
}

/// The stored state of each finished delivery, without its id and scope.
async fn finished_state<S: DeliveryStore>(
    store: &S,
    scope: &Scope,
    finishes: &[(Claim, Finish)],
) -> Vec<(
    DeliveryState,
    u32,
    Option<DateTime<Utc>>,
    Vec<AttemptRecord>,
)> {
    let mut all = Vec::new();
    for (claim, _) in finishes {
        let delivery = state(store, scope, &claim.delivery_id).await;
        let attempts = store.attempts(scope, &claim.delivery_id).await.unwrap();
        all.push((delivery.state, delivery.attempts, delivery.due_at, attempts));
    }
    all
}

pub async fn finish_each_answers_and_writes_as_finish_one_by_one<S: DeliveryStore>(store: S) {
    let (one_by_one, batched) = (new_scope(AccountType::Live), new_scope(AccountType::Live));
    let singles = finishing(&store, &one_by_one).await;
    let batch = finishing(&store, &batched).await;
    let mut expected = Vec::new();
    for (claim, finish) in singles.clone() {
        expected.push(answered(store.finish(&claim, finish, at(3)).await));
    }
    let answers: Vec<_> = store
        .finish_each(batch.clone(), at(3))
        .await
        .into_iter()
        .map(answered)
        .collect();
    assert_eq!(answers, expected);
    // The first success of the failing webhook forgot its health, the second found none;
    // the cancelled delivery's claim was lost.
    let failing = EndpointHealth::default().observe(Observation::Failed, at(0));
    let reset = |before| {
        Some(Some(HealthChange {
            before,
            after: EndpointHealth::default(),
        }))
    };
    assert_eq!(
        answers,
        [
            reset(failing),
            reset(EndpointHealth::default()),
            Some(None),
            Some(None),
            Some(None),
            None
        ]
    );
    assert_eq!(
        finished_state(&store, &batched, &batch).await,
        finished_state(&store, &one_by_one, &singles).await
    );
    let states: Vec<DeliveryState> = finished_state(&store, &batched, &batch)
        .await
        .into_iter()
        .map(|state| state.0)
        .collect();
    assert_eq!(
        states,
        [
            DeliveryState::Delivered,
            DeliveryState::Delivered,
            DeliveryState::Pending,
            DeliveryState::Failed,
            DeliveryState::Cancelled,
            DeliveryState::Cancelled
        ]
    );
    // Each recorded attempt is kept whole, its response's bytes included.
    let (claim, Finish::Delivered(record)) = &batch[0] else {
        unreachable!()
    };
    assert_eq!(
        store.attempts(&batched, &claim.delivery_id).await.unwrap(),
        std::slice::from_ref(record)
    );
    // The health reset was stored.
    let next = store
        .observe_health(&batched, &batch[0].0.webhook_id, Observation::Failed, at(4))
        .await
        .unwrap();
    assert_eq!(next.before, EndpointHealth::default());
    assert!(store.finish_each(Vec::new(), at(5)).await.is_empty());
}

pub async fn finish_each_fences_a_stale_claim_beside_the_current_one<S: DeliveryStore>(store: S) {
    let scope = new_scope(AccountType::Live);
    let targets = webhooks(2);
    let ids = store
        .enqueue(&event(&scope), &targets, at(0))
        .await
        .unwrap();
    let stale = claim_all(&store, at(0)).await;
    // The leases run out; the deliveries are claimed again, with new tokens.
    let later = at(0) + TimeDelta::from_std(LEASE).unwrap() + TimeDelta::seconds(1);
    let current = claim_all(&store, later).await;
    assert_eq!(current.len(), 2);
    let finish = || Finish::Delivered(success(2, Trigger::Scheduled));
    let by_id = |claims: &[Claim], id: &DeliveryId| {
        claims
            .iter()
            .find(|claim| &claim.delivery_id == id)
            .unwrap()
            .clone()
    };
    let answers: Vec<_> = store
        .finish_each(
            vec![
                (by_id(&stale, &ids[0]), finish()),
                (by_id(&current, &ids[0]), finish()),
                (by_id(&current, &ids[1]), finish()),
                (by_id(&stale, &ids[1]), finish()),
            ],
            later,
        )
        .await
        .into_iter()
        .map(answered)
        .collect();
    let delivered = Some(Some(HealthChange::default()));
    assert_eq!(answers, [None, delivered, delivered, None]);
    for id in &ids {
        assert_eq!(
            state(&store, &scope, id).await.state,
            DeliveryState::Delivered
        );
        assert_eq!(store.attempts(&scope, id).await.unwrap().len(), 1);
    }
}
