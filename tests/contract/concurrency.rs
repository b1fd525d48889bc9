//! Races between the service's operations, on real threads.
//!
//! Invoke [`webhook_store_concurrency!`] with anything callable without arguments that
//! returns a future of a pair of stores over the same data: two handles on one memory store,
//! or two connections to one database. Each test runs two [`Webhooks`] services, one per
//! store, on a multi-threaded runtime and splits its tasks between them, as two instances
//! of a host service would.
//!
//! ```ignore
//! mod contract;
//! contract::webhook_store_concurrency!(|| async {
//!     let store = Arc::new(MemoryStore::new());
//!     (Arc::clone(&store), store)
//! });
//! ```

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use tokio::sync::Barrier;
use tokio::task::JoinSet;
use webhook_kit::{
    AccountType, Error, MAX_PREVIOUS_SECRETS, Scope, UpdateWebhookRequest, WebhookSecretResponse,
    WebhookStore, Webhooks,
};

use super::{create_request, filter, new_scope, signing, stored, url};

/// Generates one multi-threaded `#[tokio::test]` per concurrency test.
#[allow(unused_macros)]
macro_rules! webhook_store_concurrency {
    ($make_pair:expr) => {
        $crate::contract::concurrency::webhook_store_concurrency!(@tests $make_pair;
            concurrent_updates_lose_nothing_and_mix_no_fields,
            updates_of_different_fields_both_stay,
            rotate_racing_update_keeps_both_effects,
            rotate_racing_rotate_loses_no_returned_secret,
            changes_racing_delete_resurrect_nothing,
            another_scope_hammering_ids_gets_not_found,
        );
    };
    (@tests $make_pair:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (first, second) = ($make_pair)().await;
                $crate::contract::concurrency::$name(first, second).await;
            }
        )*
    };
}

#[allow(unused_imports)]
pub(crate) use webhook_store_concurrency;

/// Two services over the same data.
type Pair<S> = [Arc<Webhooks<S>>; 2];

fn services<S: WebhookStore>(first: S, second: S) -> Pair<S> {
    [
        Arc::new(Webhooks::new(first)),
        Arc::new(Webhooks::new(second)),
    ]
}

/// How many times each race is run; every round starts its racers together.
const ROUNDS: usize = 20;

/// Runs `racers` tasks that wait for one another, then each runs `race(service, index)`
/// on one of the two services in turn; answers their results in index order.
async fn race<S, T, F, Fut>(pair: &Pair<S>, racers: usize, race: F) -> Vec<T>
where
    S: WebhookStore + 'static,
    T: Send + 'static,
    F: Fn(Arc<Webhooks<S>>, usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(racers));
    let mut tasks = JoinSet::new();
    for index in 0..racers {
        let barrier = Arc::clone(&barrier);
        let future = race(Arc::clone(&pair[index % 2]), index);
        tasks.spawn(async move {
            barrier.wait().await;
            (index, future.await)
        });
    }
    let mut results: Vec<(usize, T)> = tasks.join_all().await;
    results.sort_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, result)| result).collect()
}

/// Creates a webhook through the first service; answers it and its id.
async fn create<S: WebhookStore>(
    pair: &Pair<S>,
    scope: &Scope,
    path: &str,
    accounts: &[&str],
) -> (WebhookSecretResponse, String) {
    let created = pair[0]
        .create(scope, create_request(path, accounts))
        .await
        .unwrap();
    let id = created.webhook().id().to_string();
    (created, id)
}

/// The update racer `index` sends: its own URL, account and `enabled` value.
fn numbered_update(index: usize) -> UpdateWebhookRequest {
    UpdateWebhookRequest::new(url(&format!("racer/{index}")).parse().unwrap())
        .with_enabled(index.is_multiple_of(2))
        .with_account_filter(filter(&[&format!("acc_{index}")]))
}

/// 50 updates at once, each setting every field to its own values: each either succeeds or
/// says `conflict`; the revision counts exactly the successes; the final webhook is one
/// successful update's, whole.
pub async fn concurrent_updates_lose_nothing_and_mix_no_fields<S: WebhookStore + 'static>(
    first: S,
    second: S,
) {
    const RACERS: usize = 50;
    let pair = services(first, second);
    let scope = new_scope(AccountType::Live);
    let created = pair[0]
        .create(&scope, create_request("start", &["acc_start"]))
        .await
        .unwrap();
    let id = created.webhook().id().to_string();
    let results = race(&pair, RACERS, |service, index| {
        let (scope, id) = (scope.clone(), id.clone());
        async move { service.update(&scope, &id, numbered_update(index)).await }
    })
    .await;

    let mut succeeded = HashSet::new();
    for (index, result) in results.iter().enumerate() {
        match result {
            Ok(response) => {
                assert_eq!(response.url().as_str(), url(&format!("racer/{index}")));
                assert_eq!(response.enabled(), index.is_multiple_of(2));
                assert_eq!(
                    response.account_filter(),
                    &filter(&[&format!("acc_{index}")])
                );
                succeeded.insert(index);
            }
            Err(error) => assert!(matches!(error, Error::Conflict), "racer {index}: {error}"),
        }
    }
    assert!(!succeeded.is_empty());
    let last = stored(&pair[0], &scope, &id).await;
    assert_eq!(
        last.revision(),
        1 + succeeded.len() as u64,
        "a success was lost"
    );
    let winner = last
        .url()
        .as_str()
        .strip_prefix(&url("racer/"))
        .and_then(|index| index.parse::<usize>().ok())
        .unwrap();
    assert!(succeeded.contains(&winner));
    assert_eq!(
        last.enabled(),
        winner.is_multiple_of(2),
        "fields of two updates mixed"
    );
    assert_eq!(last.account_filter(), &filter(&[&format!("acc_{winner}")]));
    assert_eq!(
        last.secret().expose_secret(),
        created.secret().expose_secret()
    );
}

/// One update changes `enabled` only, another the filter only: both changes stay.
pub async fn updates_of_different_fields_both_stay<S: WebhookStore + 'static>(first: S, second: S) {
    let pair = services(first, second);
    let scope = new_scope(AccountType::Live);
    for _ in 0..ROUNDS {
        let (_, id) = create(&pair, &scope, "same", &["acc_a"]).await;
        let results = race(&pair, 2, |service, index| {
            let (scope, id) = (scope.clone(), id.clone());
            async move {
                let same_url = UpdateWebhookRequest::new(url("same").parse().unwrap());
                let request = if index == 0 {
                    same_url.with_enabled(false)
                } else {
                    same_url.with_account_filter(filter(&["acc_b"]))
                };
                service.update(&scope, &id, request).await
            }
        })
        .await;
        for result in results {
            result.unwrap();
        }
        let last = stored(&pair[1], &scope, &id).await;
        assert!(!last.enabled(), "the `enabled` change was lost");
        assert_eq!(
            last.account_filter(),
            &filter(&["acc_b"]),
            "the filter change was lost"
        );
        assert_eq!(last.revision(), 3);
    }
}

/// Rotate and update at once: the URL is the update's and the stored secret is the one the
/// rotation answered.
pub async fn rotate_racing_update_keeps_both_effects<S: WebhookStore + 'static>(
    first: S,
    second: S,
) {
    let pair = services(first, second);
    let scope = new_scope(AccountType::Test);
    for round in 0..ROUNDS {
        let (created, id) = create(&pair, &scope, "before", &[]).await;
        let mut results = race(&pair, 2, |service, index| {
            let (scope, id) = (scope.clone(), id.clone());
            async move {
                if index == 0 {
                    let request =
                        UpdateWebhookRequest::new(url(&format!("after/{round}")).parse().unwrap());
                    service.update(&scope, &id, request).await.map(|_| None)
                } else {
                    service.rotate_secret(&scope, &id).await.map(Some)
                }
            }
        })
        .await;
        let rotated = results.pop().unwrap().unwrap().unwrap();
        assert!(results.pop().unwrap().unwrap().is_none());

        let last = stored(&pair[0], &scope, &id).await;
        assert_eq!(last.url().as_str(), url(&format!("after/{round}")));
        assert_eq!(
            last.secret().expose_secret(),
            rotated.secret().expose_secret()
        );
        assert_ne!(
            last.secret().expose_secret(),
            created.secret().expose_secret()
        );
        assert_eq!(last.revision(), 3);
    }
}

/// Rotations at once: plain ones leave one of the answered secrets; overlapping ones leave
/// every answered secret signing.
pub async fn rotate_racing_rotate_loses_no_returned_secret<S: WebhookStore + 'static>(
    first: S,
    second: S,
) {
    let pair = services(first, second);
    let scope = new_scope(AccountType::Live);
    for _ in 0..ROUNDS {
        let (_, id) = create(&pair, &scope, "a", &[]).await;
        let answered: Vec<String> = race(&pair, 2, |service, _| {
            let (scope, id) = (scope.clone(), id.clone());
            async move { service.rotate_secret(&scope, &id).await }
        })
        .await
        .into_iter()
        .map(|result| result.unwrap().secret().expose_secret().to_owned())
        .collect();
        assert_ne!(answered[0], answered[1]);
        let last = stored(&pair[0], &scope, &id).await;
        assert!(answered.contains(&last.secret().expose_secret().to_owned()));
        assert!(last.previous_secrets().is_empty());
        assert_eq!(last.revision(), 3);

        // As many overlapping rotations as old secrets are kept, plus one.
        let racers = MAX_PREVIOUS_SECRETS + 1;
        let answered: HashSet<String> = race(&pair, racers, |service, _| {
            let (scope, id) = (scope.clone(), id.clone());
            async move {
                service
                    .rotate_secret_with_overlap(&scope, &id, TimeDelta::hours(1))
                    .await
            }
        })
        .await
        .into_iter()
        .map(|result| result.unwrap().secret().expose_secret().to_owned())
        .collect();
        assert_eq!(answered.len(), racers);
        let last = stored(&pair[1], &scope, &id).await;
        let signing: HashSet<String> = signing(&last, Utc::now()).into_iter().collect();
        assert_eq!(signing, answered, "a returned secret no longer signs");
        assert_eq!(last.revision(), 3 + racers as u64);
    }
}

/// Update and rotations racing a delete: each is done before the delete or is `not_found`,
/// and the webhook stays deleted.
pub async fn changes_racing_delete_resurrect_nothing<S: WebhookStore + 'static>(
    first: S,
    second: S,
) {
    let pair = services(first, second);
    let scope = new_scope(AccountType::Live);
    for _ in 0..ROUNDS {
        let (_, id) = create(&pair, &scope, "doomed", &["acc_a"]).await;
        let results = race(&pair, 4, |service, index| {
            let (scope, id) = (scope.clone(), id.clone());
            async move {
                match index {
                    0 => service.delete(&scope, &id).await.map(|()| "deleted"),
                    1 => {
                        let request = UpdateWebhookRequest::new(url("changed").parse().unwrap());
                        service
                            .update(&scope, &id, request)
                            .await
                            .map(|_| "updated")
                    }
                    2 => service.rotate_secret(&scope, &id).await.map(|_| "rotated"),
                    _ => service
                        .rotate_secret_with_overlap(&scope, &id, TimeDelta::hours(1))
                        .await
                        .map(|_| "rotated with overlap"),
                }
            }
        })
        .await;
        let mut results = results.into_iter();
        assert_eq!(results.next().unwrap().unwrap(), "deleted");
        for result in results {
            match result {
                Ok(_) | Err(Error::NotFound) => {}
                Err(error) => panic!("unexpected {error}"),
            }
        }
        for service in &pair {
            let id_parsed = id.parse().unwrap();
            assert!(
                service
                    .store()
                    .get(&scope, &id_parsed)
                    .await
                    .unwrap()
                    .is_none()
            );
            assert!(matches!(
                service.get(&scope, &id).await,
                Err(Error::NotFound)
            ));
            let request = UpdateWebhookRequest::new(url("late").parse().unwrap());
            assert!(matches!(
                service.update(&scope, &id, request).await,
                Err(Error::NotFound)
            ));
            assert!(matches!(
                service.rotate_secret(&scope, &id).await,
                Err(Error::NotFound)
            ));
            assert!(matches!(
                service
                    .rotate_secret_with_overlap(&scope, &id, TimeDelta::hours(1))
                    .await,
                Err(Error::NotFound)
            ));
            assert!(matches!(
                service.delete(&scope, &id).await,
                Err(Error::NotFound)
            ));
        }
    }
    assert!(pair[0].list(&scope, None).await.unwrap().is_empty());
    assert!(
        pair[1]
            .list(&scope, Some("acc_a"))
            .await
            .unwrap()
            .is_empty()
    );
}

/// Tasks of another organisation and of the other mode call every operation on the owner's
/// ids while the owner updates them: they always get `not_found`, and the owner's webhooks
/// end exactly as the owner left them.
pub async fn another_scope_hammering_ids_gets_not_found<S: WebhookStore + 'static>(
    first: S,
    second: S,
) {
    const WEBHOOKS: usize = 4;
    const OWNER_UPDATES: usize = 25;
    const INTRUDER_CALLS: usize = 100;
    let pair = services(first, second);
    let owner = new_scope(AccountType::Live);
    let other_mode = Scope::new(owner.organization().clone(), AccountType::Test);
    let other_organization = new_scope(AccountType::Live);
    let mut created = Vec::new();
    for index in 0..WEBHOOKS {
        let webhook = pair[0]
            .create(
                &owner,
                create_request(&format!("owned/{index}"), &["acc_a"]),
            )
            .await
            .unwrap();
        created.push(webhook);
    }
    let ids: Arc<Vec<String>> = Arc::new(
        created
            .iter()
            .map(|webhook| webhook.webhook().id().to_string())
            .collect(),
    );

    let results = race(&pair, 6, |service, index| {
        let ids = Arc::clone(&ids);
        let (owner, other_mode, other_organization) = (
            owner.clone(),
            other_mode.clone(),
            other_organization.clone(),
        );
        async move {
            let mut answers = Vec::new();
            if index < 2 {
                // The owner: updates each webhook in turn.
                for step in 0..OWNER_UPDATES {
                    let id = &ids[(step * 2 + index) % WEBHOOKS];
                    let request =
                        UpdateWebhookRequest::new(url(&format!("owned/{id}")).parse().unwrap());
                    answers.push(service.update(&owner, id, request).await.map(|_| ()));
                }
                return (true, answers);
            }
            let intruder = if index.is_multiple_of(2) {
                &other_mode
            } else {
                &other_organization
            };
            for call in 0..INTRUDER_CALLS {
                let id = &ids[call % WEBHOOKS];
                let answer = match call % 5 {
                    0 => service.get(intruder, id).await.map(|_| ()),
                    1 => {
                        let request = UpdateWebhookRequest::new(url("stolen").parse().unwrap())
                            .with_enabled(false);
                        service.update(intruder, id, request).await.map(|_| ())
                    }
                    2 => service.rotate_secret(intruder, id).await.map(|_| ()),
                    3 => service
                        .rotate_secret_with_overlap(intruder, id, TimeDelta::hours(1))
                        .await
                        .map(|_| ()),
                    _ => service.delete(intruder, id).await,
                };
                answers.push(answer);
            }
            (false, answers)
        }
    })
    .await;

    let mut owner_successes = 0;
    for (is_owner, answers) in results {
        for answer in answers {
            if is_owner {
                match answer {
                    Ok(()) => owner_successes += 1,
                    Err(error) => assert!(matches!(error, Error::Conflict), "{error}"),
                }
            } else {
                assert!(matches!(answer, Err(Error::NotFound)), "{answer:?}");
            }
        }
    }
    let mut revisions = 0;
    for created in &created {
        let id = created.webhook().id().to_string();
        let last = stored(&pair[0], &owner, &id).await;
        assert_eq!(last.url().as_str(), url(&format!("owned/{id}")));
        assert!(last.enabled());
        assert_eq!(
            last.secret().expose_secret(),
            created.secret().expose_secret()
        );
        assert!(last.previous_secrets().is_empty());
        revisions += last.revision() - 1;
    }
    assert_eq!(revisions, owner_successes);
    for intruder in [&other_mode, &other_organization] {
        assert!(pair[1].list(intruder, None).await.unwrap().is_empty());
    }
}
