//! The contract every [`WebhookStore`] keeps, as one suite of tests any store runs.
//!
//! A store's test file declares `mod contract;` at its root and invokes
//! [`webhook_store_contract!`] with anything callable without arguments that returns a
//! future of a store (an `async fn` path or a closure returning an `async` block). It may
//! return a fresh store or a handle to a shared one: every test works in scopes of its own
//! random organisation, so one database can serve all tests at once.
//!
//! ```ignore
//! mod contract;
//! contract::webhook_store_contract!(|| async { MemoryStore::new() });
//! ```
//!
//! The tests go through [`Webhooks`] (the seed's operations) and, for what only a store
//! decides (duplicates, stale revisions, round trips), through the trait itself. Concurrency
//! tests are in [`concurrency`].
#![allow(dead_code, clippy::unwrap_used)]

pub mod concurrency;
pub mod queue;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use webhook_kit::{
    AccountFilter, AccountId, AccountType, CreateWebhookRequest, DestinationPolicy, Error,
    MAX_ACCOUNT_IDS, MAX_PAGE_LIMIT, MAX_PREVIOUS_SECRETS, MAX_ROTATION_OVERLAP, MAX_URL_LEN,
    OrganizationId, PageRequest, PreviousSecret, Scope, Secret, Selection, StoreError,
    UpdateWebhookRequest, Webhook, WebhookId, WebhookParts, WebhookResponse, WebhookSecretResponse,
    WebhookStore, Webhooks,
};

/// Generates one `#[tokio::test]` per contract test, each with a store from `$make`.
#[allow(unused_macros)]
macro_rules! webhook_store_contract {
    ($make:expr) => {
        $crate::contract::webhook_store_contract!(@tests $make;
            create_answers_the_full_secret_once,
            create_sets_the_seed_defaults,
            create_keeps_the_account_filter_as_a_set,
            create_refusals_change_nothing,
            the_destination_policy_is_configurable,
            list_answers_in_creation_order,
            list_filters_by_account,
            list_with_a_malformed_account_id_answers_the_unfiltered,
            list_page_walks_every_selection_in_order,
            list_page_refusals_change_nothing,
            get_refusals_change_nothing,
            update_follows_the_seed,
            update_refusals_change_nothing,
            delete_removes_only_that_webhook,
            delete_refusals_change_nothing,
            rotate_secret_invalidates_the_old_secret_at_once,
            rotate_with_overlap_signs_with_both_until_it_ends,
            rotate_with_overlap_keeps_the_newest_old_secrets,
            rotation_refusals_change_nothing,
            revisions_grow_by_one_per_change,
            another_scope_sees_nothing_and_changes_nothing,
            store_round_trips_every_field,
            store_keeps_the_largest_webhook,
            store_refuses_a_duplicate_id,
            store_replace_checks_the_revision,
            store_replace_never_inserts,
            store_get_and_delete_are_scoped,
            store_get_each_reads_as_get_does_in_order,
            store_lists_in_id_order_with_account_filter,
            store_masked_and_readable_reads_agree_with_full_reads,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let store = ($make)().await;
                $crate::contract::$name(store).await;
            }
        )*
    };
}

#[allow(unused_imports)]
pub(crate) use webhook_store_contract;

// ---------------------------------------------------------------------------------------
// Helpers.

/// A scope of a new organisation nobody else uses.
pub fn new_scope(account_type: AccountType) -> Scope {
    Scope::new(new_organization(), account_type)
}

/// A random organisation id.
pub fn new_organization() -> OrganizationId {
    format!("org_{}", WebhookId::generate()).parse().unwrap()
}

/// A URL the strict policy accepts.
pub fn url(path: &str) -> String {
    format!("https://example.com/{path}")
}

/// A create request for `url(path)` with a filter on `accounts` (empty: all).
pub fn create_request(path: &str, accounts: &[&str]) -> CreateWebhookRequest {
    CreateWebhookRequest::new(url(path).parse().unwrap()).with_account_filter(filter(accounts))
}

/// An account filter on `accounts` (empty: all).
pub fn filter(accounts: &[&str]) -> AccountFilter {
    AccountFilter::from_ids(accounts.iter().map(|id| account(id))).unwrap()
}

/// An account id.
pub fn account(id: &str) -> AccountId {
    id.parse().unwrap()
}

/// Everything stored of a webhook, comparable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub id: String,
    pub scope: Scope,
    pub url: String,
    pub enabled: bool,
    pub account_ids: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub secret: String,
    pub previous_secrets: Vec<(String, DateTime<Utc>)>,
    pub revision: u64,
}

impl Snapshot {
    /// The snapshot of `webhook`.
    pub fn of(webhook: &Webhook) -> Self {
        Self {
            id: webhook.id().to_string(),
            scope: webhook.scope().clone(),
            url: webhook.url().to_string(),
            enabled: webhook.enabled(),
            account_ids: webhook
                .account_filter()
                .account_ids()
                .iter()
                .map(ToString::to_string)
                .collect(),
            created_at: webhook.created_at(),
            secret: webhook.secret().expose_secret().to_owned(),
            previous_secrets: webhook
                .previous_secrets()
                .iter()
                .map(|previous| {
                    (
                        previous.secret.expose_secret().to_owned(),
                        previous.expires_at,
                    )
                })
                .collect(),
            revision: webhook.revision(),
        }
    }
}

/// The full listings of `scopes`, as the store has them.
pub async fn listings<S: WebhookStore>(store: &S, scopes: &[&Scope]) -> Vec<Vec<Snapshot>> {
    let mut all = Vec::new();
    for scope in scopes {
        let webhooks = store.list(scope, None).await.unwrap();
        all.push(webhooks.iter().map(Snapshot::of).collect());
    }
    all
}

/// The stored webhook `id` of `scope`.
pub async fn stored<S: WebhookStore>(webhooks: &Webhooks<S>, scope: &Scope, id: &str) -> Webhook {
    let id: WebhookId = id.parse().unwrap();
    webhooks.store().get(scope, &id).await.unwrap().unwrap()
}

/// The texts of the secrets that sign at `now`.
pub fn signing(webhook: &Webhook, now: DateTime<Utc>) -> Vec<String> {
    webhook
        .signing_secrets(now)
        .map(|secret| secret.expose_secret().to_owned())
        .collect()
}

/// Asserts that `result` is the error with `code`.
#[track_caller]
pub fn assert_code<T: std::fmt::Debug>(result: Result<T, Error>, code: &str) {
    match result {
        Err(error) => assert_eq!(error.code(), code, "{error}"),
        Ok(value) => panic!("expected `{code}`, got {value:?}"),
    }
}

/// Strings that are not webhook ids.
pub const MALFORMED_IDS: &[&str] = &[
    "",
    "nope",
    "wh_../../etc/passwd",
    "WH_00000000000000000000000000",
    "wh_0000000000000000000000000i",
    "wh_80000000000000000000000000",
    "wh_000000000000000000000000000",
    "wh_0000000000000000000000000 ",
];

/// A service with one webhook in a scope of its own.
pub struct One<S> {
    pub webhooks: Webhooks<S>,
    pub scope: Scope,
    pub created: WebhookSecretResponse,
    pub id: String,
}

/// A service over `store` with one webhook to `url(path)` filtered on `accounts`, in a new
/// scope of `account_type`.
pub async fn one<S: WebhookStore>(
    store: S,
    account_type: AccountType,
    path: &str,
    accounts: &[&str],
) -> One<S> {
    let webhooks = Webhooks::new(store);
    let scope = new_scope(account_type);
    let created = webhooks
        .create(&scope, create_request(path, accounts))
        .await
        .unwrap();
    let id = created.webhook().id().to_string();
    One {
        webhooks,
        scope,
        created,
        id,
    }
}

// ---------------------------------------------------------------------------------------
// Create.

pub async fn create_answers_the_full_secret_once<S: WebhookStore>(store: S) {
    let One {
        webhooks,
        scope,
        created,
        ..
    } = one(store, AccountType::Live, "a", &[]).await;
    let full = created.secret().expose_secret().to_owned();
    assert!(full.starts_with("whsec_"));
    let last4: String = full[full.len() - 4..].to_owned();
    assert_eq!(created.webhook().secret_last4(), last4);

    let json = serde_json::to_value(&created).unwrap();
    assert_eq!(json["secret"], full);
    assert!(!format!("{created:?}").contains(&full));

    let id = created.webhook().id().to_string();
    let got = webhooks.get(&scope, &id).await.unwrap();
    assert_eq!(got.secret_last4(), last4);
    let got_json = serde_json::to_string(&got).unwrap();
    assert!(!got_json.contains(&full));
    assert_eq!(serde_json::to_value(&got).unwrap()["secret"], last4);
    let listed = webhooks.list(&scope, None).await.unwrap();
    assert_eq!(listed, std::slice::from_ref(&got));
    assert!(!serde_json::to_string(&listed).unwrap().contains(&full));

    let kept = stored(&webhooks, &scope, &id).await;
    assert_eq!(kept.secret().expose_secret(), full);
    // The full webhook, for signing, is only a separate call away.
    let full_webhook = webhooks.webhook(&scope, &id).await.unwrap();
    assert_eq!(Snapshot::of(&full_webhook), Snapshot::of(&kept));
    assert_code(webhooks.webhook(&scope, "nope").await, "not_found");
    let other = new_scope(AccountType::Live);
    assert_code(webhooks.webhook(&other, &id).await, "not_found");
}

pub async fn create_sets_the_seed_defaults<S: WebhookStore>(store: S) {
    let webhooks = Webhooks::new(store);
    for account_type in [AccountType::Live, AccountType::Test] {
        let scope = new_scope(account_type);
        let before = Utc::now().trunc_subsecs(3);
        let request =
            CreateWebhookRequest::from_json(br#"{"url": "https://example.com/hook"}"#).unwrap();
        let created = webhooks.create(&scope, request).await.unwrap();
        let after = Utc::now();
        let response = created.webhook();
        assert!(response.enabled());
        assert_eq!(response.account_type(), account_type);
        assert!(response.account_filter().is_all());
        assert!(before <= response.created_at() && response.created_at() <= after);
        assert_eq!(response.url().as_str(), "https://example.com/hook");
        let json = serde_json::to_value(response).unwrap();
        assert!(json.get("account_ids").is_none(), "{json}");
        assert_eq!(json["account_type"], account_type.as_str());

        let kept = stored(&webhooks, &scope, response.id().as_str()).await;
        assert_eq!(kept.revision(), 1);
        assert!(kept.previous_secrets().is_empty());
        assert_eq!(kept.scope(), &scope);
        assert_eq!(kept.created_at(), response.created_at());
    }
}

pub async fn create_keeps_the_account_filter_as_a_set<S: WebhookStore>(store: S) {
    let webhooks = Webhooks::new(store);
    let scope = new_scope(AccountType::Live);
    let request = CreateWebhookRequest::from_json(
        br#"{"url": "https://example.com/hook", "account_ids": ["acc_b", "acc_a", "acc_b"]}"#,
    )
    .unwrap();
    let created = webhooks.create(&scope, request).await.unwrap();
    let json = serde_json::to_value(created.webhook()).unwrap();
    assert_eq!(json["account_ids"], serde_json::json!(["acc_a", "acc_b"]));
    let kept = stored(&webhooks, &scope, created.webhook().id().as_str()).await;
    assert_eq!(kept.account_filter(), &filter(&["acc_a", "acc_b"]));
    // `[]` and `null` both mean all accounts.
    for body in [
        &br#"{"url": "https://example.com/hook", "account_ids": []}"#[..],
        br#"{"url": "https://example.com/hook", "account_ids": null}"#,
    ] {
        let request = CreateWebhookRequest::from_json(body).unwrap();
        let created = webhooks.create(&scope, request).await.unwrap();
        assert!(created.webhook().account_filter().is_all());
    }
}

pub async fn create_refusals_change_nothing<S: WebhookStore>(store: S) {
    let One {
        webhooks, scope, ..
    } = one(store, AccountType::Live, "kept", &["acc_a"]).await;
    let before = listings(webhooks.store(), &[&scope]).await;
    for refused in [
        "https://evil.com@127.0.0.1",
        "https://169.254.169.254#.com",
        "https://2130706433#.com",
        "https://user:pass@example.com/hook",
        "https://metadata.google.internal/computeMetadata",
        "https://app.local/hook",
    ] {
        let request = CreateWebhookRequest::new(refused.parse().unwrap());
        assert_code(webhooks.create(&scope, request).await, "url_not_allowed");
        assert_eq!(
            listings(webhooks.store(), &[&scope]).await,
            before,
            "{refused}"
        );
    }
}

pub async fn the_destination_policy_is_configurable<S: WebhookStore>(store: S) {
    let webhooks = Webhooks::new(store).with_policy(DestinationPolicy::permissive());
    assert_eq!(webhooks.policy(), &DestinationPolicy::permissive());
    let scope = new_scope(AccountType::Test);
    let request = CreateWebhookRequest::new("https://127.0.0.1:8443#.com/hook".parse().unwrap());
    let created = webhooks.create(&scope, request).await.unwrap();
    let strict = Webhooks::new(webhooks.store());
    let id = created.webhook().id().to_string();
    let update = UpdateWebhookRequest::new("https://127.0.0.2#.com".parse().unwrap());
    assert_code(strict.update(&scope, &id, update).await, "url_not_allowed");
}

// ---------------------------------------------------------------------------------------
// List.

pub async fn list_answers_in_creation_order<S: WebhookStore>(store: S) {
    let webhooks = Webhooks::new(store);
    let scope = new_scope(AccountType::Live);
    assert!(webhooks.list(&scope, None).await.unwrap().is_empty());
    let mut ids = Vec::new();
    for index in 0..7 {
        let created = webhooks
            .create(&scope, create_request(&format!("{index}"), &[]))
            .await
            .unwrap();
        ids.push(created.webhook().id().clone());
    }
    let listed: Vec<_> = webhooks
        .list(&scope, None)
        .await
        .unwrap()
        .iter()
        .map(|webhook| webhook.id().clone())
        .collect();
    assert_eq!(listed, ids);
    // An update does not move a webhook.
    let update = UpdateWebhookRequest::new(url("moved").parse().unwrap());
    webhooks
        .update(&scope, ids[0].as_str(), update)
        .await
        .unwrap();
    let first = webhooks.list(&scope, None).await.unwrap();
    assert_eq!(first[0].id(), &ids[0]);
    assert_eq!(first[0].url().as_str(), url("moved"));
}

pub async fn list_filters_by_account<S: WebhookStore>(store: S) {
    let webhooks = Webhooks::new(store);
    let scope = new_scope(AccountType::Live);
    let mut ids = std::collections::HashMap::new();
    for (name, accounts) in [
        ("a", &["acc_a"][..]),
        ("ab", &["acc_a", "acc_b"]),
        ("all", &[]),
        ("b", &["acc_b"]),
    ] {
        let created = webhooks
            .create(&scope, create_request(name, accounts))
            .await
            .unwrap();
        ids.insert(name, created.webhook().id().clone());
    }
    for (account, expected) in [
        (Some("acc_a"), &["a", "ab", "all"][..]),
        (Some("acc_b"), &["ab", "all", "b"]),
        (Some("acc_z"), &["all"]),
        (None, &["a", "ab", "all", "b"]),
    ] {
        let listed: Vec<_> = webhooks
            .list(&scope, account)
            .await
            .unwrap()
            .iter()
            .map(|webhook| webhook.id().clone())
            .collect();
        let expected: Vec<_> = expected.iter().map(|name| ids[name].clone()).collect();
        assert_eq!(listed, expected, "account {account:?}");
    }
    // A filter that changes moves the webhook between accounts' listings.
    let update = UpdateWebhookRequest::new(url("a").parse().unwrap())
        .with_account_filter(filter(&["acc_z"]));
    webhooks
        .update(&scope, ids["a"].as_str(), update)
        .await
        .unwrap();
    let for_a: Vec<_> = webhooks.list(&scope, Some("acc_a")).await.unwrap();
    assert_eq!(
        for_a.iter().map(|w| w.id().clone()).collect::<Vec<_>>(),
        [ids["ab"].clone(), ids["all"].clone()]
    );
    let for_z = webhooks.list(&scope, Some("acc_z")).await.unwrap();
    assert_eq!(
        for_z.iter().map(|w| w.id().clone()).collect::<Vec<_>>(),
        [ids["a"].clone(), ids["all"].clone()]
    );
}

pub async fn list_with_a_malformed_account_id_answers_the_unfiltered<S: WebhookStore>(store: S) {
    let webhooks = Webhooks::new(store);
    let scope = new_scope(AccountType::Live);
    let all = webhooks
        .create(&scope, create_request("all", &[]))
        .await
        .unwrap();
    webhooks
        .create(&scope, create_request("a", &["acc_a"]))
        .await
        .unwrap();
    let also_all = webhooks
        .create(&scope, create_request("all2", &[]))
        .await
        .unwrap();
    let before = listings(webhooks.store(), &[&scope]).await;
    let long = "a".repeat(256);
    let unfiltered = [all.webhook().id().clone(), also_all.webhook().id().clone()];
    for malformed in ["", "acc 1", "acc\u{e9}", &long] {
        let listed = webhooks.list(&scope, Some(malformed)).await.unwrap();
        assert_eq!(
            listed.iter().map(|w| w.id().clone()).collect::<Vec<_>>(),
            unfiltered,
            "{malformed:?}"
        );
        let page = webhooks
            .list_page(&scope, Some(malformed), None, 1)
            .await
            .unwrap();
        assert_eq!(page.webhooks.len(), 1);
        assert_eq!(page.next_starting_after(), Some(&unfiltered[0]));
    }
    assert_eq!(listings(webhooks.store(), &[&scope]).await, before);
}

/// Walks `selection` through the service in pages of `size`; the ids in order.
async fn walk<S: WebhookStore>(
    webhooks: &Webhooks<S>,
    scope: &Scope,
    account: Option<&str>,
    size: usize,
) -> Vec<WebhookId> {
    let mut walked = Vec::new();
    let mut after: Option<WebhookId> = None;
    for _ in 0..1000 {
        let page = webhooks
            .list_page(scope, account, after.as_ref().map(WebhookId::as_str), size)
            .await
            .unwrap();
        assert!(page.webhooks.len() <= size);
        walked.extend(page.webhooks.iter().map(|w| w.id().clone()));
        match page.next_starting_after() {
            Some(next) => after = Some(next.clone()),
            None => return walked,
        }
    }
    panic!("the walk did not end");
}

pub async fn list_page_walks_every_selection_in_order<S: WebhookStore>(store: S) {
    let webhooks = Webhooks::new(store);
    let scope = new_scope(AccountType::Test);
    let neighbour = Scope::new(scope.organization().clone(), AccountType::Live);
    for index in 0..23 {
        let accounts: &[&str] = match index % 3 {
            0 => &[],
            1 => &["acc_a"],
            _ => &["acc_a", "acc_b"],
        };
        webhooks
            .create(&scope, create_request(&format!("w{index}"), accounts))
            .await
            .unwrap();
        webhooks
            .create(&neighbour, create_request(&format!("n{index}"), accounts))
            .await
            .unwrap();
    }
    for account in [
        None,
        Some("acc_a"),
        Some("acc_b"),
        Some("acc_z"),
        Some("bad id"),
    ] {
        let listed: Vec<WebhookId> = webhooks
            .list(&scope, account)
            .await
            .unwrap()
            .iter()
            .map(|w| w.id().clone())
            .collect();
        for size in [1, 4, 7, 23, 1000] {
            assert_eq!(
                walk(&webhooks, &scope, account, size).await,
                listed,
                "{account:?} in pages of {size}"
            );
        }
    }
    // Straight from the store: a page starts after any id, stored or not.
    let all = webhooks.store().list(&scope, None).await.unwrap();
    let middle = all[10].id().clone();
    webhooks.delete(&scope, middle.as_str()).await.unwrap();
    let page = webhooks
        .store()
        .list_page(&scope, &PageRequest::first(Selection::All, 3).after(middle))
        .await
        .unwrap();
    assert_eq!(
        page.iter().map(|w| w.id().clone()).collect::<Vec<_>>(),
        all[11..14]
            .iter()
            .map(|w| w.id().clone())
            .collect::<Vec<_>>()
    );
    let unfiltered = webhooks
        .store()
        .list_page(&scope, &PageRequest::first(Selection::Unfiltered, 100))
        .await
        .unwrap();
    assert_eq!(unfiltered.len(), 8);
    assert!(
        unfiltered
            .iter()
            .all(|w| w.account_filter().is_all() && w.scope() == &scope)
    );
    let last = all.last().unwrap().id().clone();
    let after_last = PageRequest::first(Selection::Account(account("acc_a")), 5).after(last);
    assert!(
        webhooks
            .store()
            .list_page(&scope, &after_last)
            .await
            .unwrap()
            .is_empty()
    );
    let nobody = new_scope(AccountType::Test);
    let empty = PageRequest::first(Selection::All, 5);
    assert!(
        webhooks
            .store()
            .list_page(&nobody, &empty)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn list_page_refusals_change_nothing<S: WebhookStore>(store: S) {
    let One {
        webhooks, scope, ..
    } = one(store, AccountType::Live, "a", &[]).await;
    let before = listings(webhooks.store(), &[&scope]).await;
    for limit in [0, MAX_PAGE_LIMIT + 1, usize::MAX] {
        assert_code(
            webhooks.list_page(&scope, None, None, limit).await,
            "query_invalid",
        );
    }
    for malformed in MALFORMED_IDS {
        assert_code(
            webhooks.list_page(&scope, None, Some(malformed), 10).await,
            "query_invalid",
        );
    }
    let page = webhooks
        .list_page(&scope, None, None, MAX_PAGE_LIMIT)
        .await
        .unwrap();
    assert_eq!((page.webhooks.len(), page.has_more), (1, false));
    assert_eq!(listings(webhooks.store(), &[&scope]).await, before);
}

// ---------------------------------------------------------------------------------------
// Get.

pub async fn get_refusals_change_nothing<S: WebhookStore>(store: S) {
    let One {
        webhooks, scope, ..
    } = one(store, AccountType::Live, "a", &[]).await;
    let before = listings(webhooks.store(), &[&scope]).await;
    for malformed in MALFORMED_IDS {
        // An id that cannot exist is not found (the seed lists no 400 for get).
        assert_code(webhooks.get(&scope, malformed).await, "not_found");
    }
    let unknown = WebhookId::generate();
    let error = webhooks.get(&scope, unknown.as_str()).await.unwrap_err();
    assert_eq!((error.code(), error.http_status()), ("not_found", 404));
    assert_eq!(listings(webhooks.store(), &[&scope]).await, before);
}

// ---------------------------------------------------------------------------------------
// Update.

pub async fn update_follows_the_seed<S: WebhookStore>(store: S) {
    let One {
        webhooks,
        scope,
        created,
        id,
        ..
    } = one(store, AccountType::Test, "a", &["acc_a"]).await;
    let original = Snapshot::of(&stored(&webhooks, &scope, &id).await);

    let steps: [(&[u8], bool, &[&str]); 5] = [
        // URL only: enabled and the filter are kept.
        (br#"{"url": "https://example.com/b"}"#, true, &["acc_a"]),
        (br#"{"url": "https://example.com/c", "enabled": false}"#, false, &["acc_a"]),
        // `null` keeps the filter, and absent `enabled` keeps `false`.
        (br#"{"url": "https://example.com/d", "account_ids": null}"#, false, &["acc_a"]),
        (
            br#"{"url": "https://example.com/e", "account_ids": ["acc_c", "acc_b"], "enabled": true}"#,
            true,
            &["acc_b", "acc_c"],
        ),
        // `[]` clears the filter: all accounts.
        (br#"{"url": "https://example.com/f", "account_ids": []}"#, true, &[]),
    ];
    for (step, (body, enabled, accounts)) in steps.into_iter().enumerate() {
        let request = UpdateWebhookRequest::from_json(body).unwrap();
        let expected_url = request.url.to_string();
        let response = webhooks.update(&scope, &id, request).await.unwrap();
        assert_eq!(response.url().as_str(), expected_url);
        assert_eq!(response.enabled(), enabled, "step {step}");
        assert_eq!(response.account_filter(), &filter(accounts), "step {step}");
        assert_eq!(webhooks.get(&scope, &id).await.unwrap(), response);

        let now = Snapshot::of(&stored(&webhooks, &scope, &id).await);
        assert_eq!(now.revision, original.revision + step as u64 + 1);
        // What an update never touches.
        assert_eq!(
            (&now.id, &now.scope, now.created_at, &now.secret),
            (
                &original.id,
                &original.scope,
                original.created_at,
                &original.secret
            )
        );
        assert_eq!(response.secret_last4(), created.webhook().secret_last4());
        assert_eq!(response.account_type(), AccountType::Test);
    }
}

pub async fn update_refusals_change_nothing<S: WebhookStore>(store: S) {
    let One {
        webhooks,
        scope,
        id,
        ..
    } = one(store, AccountType::Live, "a", &["acc_a"]).await;
    let before = listings(webhooks.store(), &[&scope]).await;
    let good = || UpdateWebhookRequest::new(url("b").parse().unwrap()).with_enabled(false);

    for refused in [
        "https://evil.com@127.0.0.1",
        "https://db.corp.internal/hook",
    ] {
        let request = UpdateWebhookRequest::new(refused.parse().unwrap())
            .with_account_filter(AccountFilter::all());
        assert_code(
            webhooks.update(&scope, &id, request).await,
            "url_not_allowed",
        );
    }
    for malformed in MALFORMED_IDS {
        assert_code(
            webhooks.update(&scope, malformed, good()).await,
            "id_invalid",
        );
    }
    let unknown = WebhookId::generate();
    assert_code(
        webhooks.update(&scope, unknown.as_str(), good()).await,
        "not_found",
    );
    assert_eq!(listings(webhooks.store(), &[&scope]).await, before);
    assert!(
        webhooks
            .store()
            .get(&scope, &unknown)
            .await
            .unwrap()
            .is_none(),
        "an update must not create"
    );
}

// ---------------------------------------------------------------------------------------
// Delete.

pub async fn delete_removes_only_that_webhook<S: WebhookStore>(store: S) {
    let webhooks = Webhooks::new(store);
    let scope = new_scope(AccountType::Live);
    let first = webhooks
        .create(&scope, create_request("a", &["acc_a"]))
        .await
        .unwrap();
    let second = webhooks
        .create(&scope, create_request("b", &["acc_a"]))
        .await
        .unwrap();
    let kept = Snapshot::of(&stored(&webhooks, &scope, second.webhook().id().as_str()).await);
    let id = first.webhook().id().to_string();
    webhooks.delete(&scope, &id).await.unwrap();
    assert_code(webhooks.get(&scope, &id).await, "not_found");
    assert_eq!(
        listings(webhooks.store(), &[&scope]).await,
        [vec![kept.clone()]]
    );
    let for_a = webhooks.list(&scope, Some("acc_a")).await.unwrap();
    assert_eq!(for_a.len(), 1);
    assert_eq!(for_a[0].id(), second.webhook().id());
    assert_code(webhooks.delete(&scope, &id).await, "not_found");
    assert_eq!(listings(webhooks.store(), &[&scope]).await, [vec![kept]]);
}

pub async fn delete_refusals_change_nothing<S: WebhookStore>(store: S) {
    let One {
        webhooks, scope, ..
    } = one(store, AccountType::Live, "a", &[]).await;
    let before = listings(webhooks.store(), &[&scope]).await;
    for malformed in MALFORMED_IDS {
        assert_code(webhooks.delete(&scope, malformed).await, "not_found");
    }
    let unknown = WebhookId::generate();
    assert_code(webhooks.delete(&scope, unknown.as_str()).await, "not_found");
    assert_eq!(listings(webhooks.store(), &[&scope]).await, before);
}

// ---------------------------------------------------------------------------------------
// Rotate.

pub async fn rotate_secret_invalidates_the_old_secret_at_once<S: WebhookStore>(store: S) {
    let One {
        webhooks,
        scope,
        created,
        id,
        ..
    } = one(store, AccountType::Live, "a", &["acc_a"]).await;
    // An overlapping rotation first, so there is an old secret still signing to clear.
    let overlapping = webhooks
        .rotate_secret_with_overlap(&scope, &id, TimeDelta::hours(1))
        .await
        .unwrap();
    let before = Snapshot::of(&stored(&webhooks, &scope, &id).await);
    assert_eq!(before.previous_secrets.len(), 1);

    let rotated = webhooks.rotate_secret(&scope, &id).await.unwrap();
    let new = rotated.secret().expose_secret().to_owned();
    assert!(new.starts_with("whsec_"));
    assert_ne!(new, created.secret().expose_secret());
    assert_ne!(new, overlapping.secret().expose_secret());
    assert_eq!(serde_json::to_value(&rotated).unwrap()["secret"], new);

    let kept = stored(&webhooks, &scope, &id).await;
    assert_eq!(kept.secret().expose_secret(), new);
    assert!(kept.previous_secrets().is_empty());
    assert_eq!(signing(&kept, Utc::now()), std::slice::from_ref(&new));
    let after = Snapshot::of(&kept);
    assert_eq!(after.revision, before.revision + 1);
    assert_eq!(
        (
            &after.url,
            after.enabled,
            &after.account_ids,
            after.created_at
        ),
        (
            &before.url,
            before.enabled,
            &before.account_ids,
            before.created_at
        )
    );
    let got = webhooks.get(&scope, &id).await.unwrap();
    assert_eq!(got.secret_last4(), &new[new.len() - 4..]);
    assert_eq!(rotated.webhook(), &got);
}

pub async fn rotate_with_overlap_signs_with_both_until_it_ends<S: WebhookStore>(store: S) {
    let One {
        webhooks,
        scope,
        created,
        id,
        ..
    } = one(store, AccountType::Live, "a", &[]).await;
    let old = created.secret().expose_secret().to_owned();
    let before = Utc::now().trunc_subsecs(3);
    let rotated = webhooks
        .rotate_secret_with_overlap(&scope, &id, TimeDelta::hours(1))
        .await
        .unwrap();
    let after = Utc::now();
    let new = rotated.secret().expose_secret().to_owned();
    let kept = stored(&webhooks, &scope, &id).await;
    assert_eq!(kept.secret().expose_secret(), new);
    let expires_at = kept.previous_secrets()[0].expires_at;
    assert!(before + TimeDelta::hours(1) <= expires_at);
    assert!(expires_at <= after + TimeDelta::hours(1));
    assert_eq!(signing(&kept, after), [new.clone(), old]);
    assert_eq!(signing(&kept, expires_at), [new]);
}

pub async fn rotate_with_overlap_keeps_the_newest_old_secrets<S: WebhookStore>(store: S) {
    let One {
        webhooks,
        scope,
        created,
        id,
        ..
    } = one(store, AccountType::Live, "a", &[]).await;
    let mut secrets = vec![created.secret().expose_secret().to_owned()];
    for _ in 0..MAX_PREVIOUS_SECRETS + 2 {
        // The longest overlap allowed is accepted.
        let rotated = webhooks
            .rotate_secret_with_overlap(&scope, &id, MAX_ROTATION_OVERLAP)
            .await
            .unwrap();
        secrets.push(rotated.secret().expose_secret().to_owned());
    }
    let kept = stored(&webhooks, &scope, &id).await;
    let newest_first: Vec<String> = secrets.iter().rev().cloned().collect();
    assert_eq!(
        signing(&kept, Utc::now()),
        newest_first[..=MAX_PREVIOUS_SECRETS]
    );
}

pub async fn rotation_refusals_change_nothing<S: WebhookStore>(store: S) {
    let One {
        webhooks,
        scope,
        id,
        ..
    } = one(store, AccountType::Live, "a", &[]).await;
    let before = listings(webhooks.store(), &[&scope]).await;
    for overlap in [
        TimeDelta::zero(),
        TimeDelta::seconds(-1),
        MAX_ROTATION_OVERLAP + TimeDelta::milliseconds(1),
        TimeDelta::MAX,
        TimeDelta::MIN,
    ] {
        let error = webhooks
            .rotate_secret_with_overlap(&scope, &id, overlap)
            .await
            .unwrap_err();
        assert_eq!(
            (error.code(), error.http_status()),
            ("rotation_invalid", 400)
        );
    }
    for malformed in MALFORMED_IDS {
        assert_code(webhooks.rotate_secret(&scope, malformed).await, "not_found");
        assert_code(
            webhooks
                .rotate_secret_with_overlap(&scope, malformed, TimeDelta::hours(1))
                .await,
            "not_found",
        );
    }
    let unknown = WebhookId::generate();
    assert_code(
        webhooks.rotate_secret(&scope, unknown.as_str()).await,
        "not_found",
    );
    assert_code(
        webhooks
            .rotate_secret_with_overlap(&scope, unknown.as_str(), TimeDelta::hours(1))
            .await,
        "not_found",
    );
    assert_eq!(listings(webhooks.store(), &[&scope]).await, before);
}

// ---------------------------------------------------------------------------------------
// Revisions and scoping.

pub async fn revisions_grow_by_one_per_change<S: WebhookStore>(store: S) {
    let One {
        webhooks,
        scope,
        id,
        ..
    } = one(store, AccountType::Live, "a", &[]).await;
    let revision = async || stored(&webhooks, &scope, &id).await.revision();
    assert_eq!(revision().await, 1);
    let update = UpdateWebhookRequest::new(url("b").parse().unwrap());
    webhooks.update(&scope, &id, update).await.unwrap();
    assert_eq!(revision().await, 2);
    webhooks.rotate_secret(&scope, &id).await.unwrap();
    assert_eq!(revision().await, 3);
    webhooks
        .rotate_secret_with_overlap(&scope, &id, TimeDelta::minutes(5))
        .await
        .unwrap();
    assert_eq!(revision().await, 4);
    let refused = UpdateWebhookRequest::new("https://10.0.0.1#.com".parse().unwrap());
    assert_code(
        webhooks.update(&scope, &id, refused).await,
        "url_not_allowed",
    );
    assert_eq!(revision().await, 4);
}

pub async fn another_scope_sees_nothing_and_changes_nothing<S: WebhookStore>(store: S) {
    let One {
        webhooks,
        scope: owner,
        id,
        ..
    } = one(store, AccountType::Live, "a", &["acc_a"]).await;
    let other_organization = new_scope(AccountType::Live);
    let other_mode = Scope::new(owner.organization().clone(), AccountType::Test);
    let scopes = [&owner, &other_organization, &other_mode];
    let before = listings(webhooks.store(), &scopes).await;
    for intruder in [&other_organization, &other_mode] {
        assert_code(webhooks.get(intruder, &id).await, "not_found");
        let update = UpdateWebhookRequest::new(url("stolen").parse().unwrap()).with_enabled(false);
        assert_code(webhooks.update(intruder, &id, update).await, "not_found");
        assert_code(webhooks.rotate_secret(intruder, &id).await, "not_found");
        assert_code(
            webhooks
                .rotate_secret_with_overlap(intruder, &id, TimeDelta::hours(1))
                .await,
            "not_found",
        );
        assert_code(webhooks.delete(intruder, &id).await, "not_found");
        assert!(webhooks.list(intruder, None).await.unwrap().is_empty());
        assert!(
            webhooks
                .list(intruder, Some("acc_a"))
                .await
                .unwrap()
                .is_empty()
        );
    }
    assert_eq!(listings(webhooks.store(), &scopes).await, before);
    // A webhook created in the other mode stays there.
    webhooks
        .create(&other_mode, create_request("test", &[]))
        .await
        .unwrap();
    let owner_ids: Vec<_> = webhooks
        .list(&owner, None)
        .await
        .unwrap()
        .iter()
        .map(|webhook| webhook.id().to_string())
        .collect();
    assert_eq!(owner_ids, [id]);
}

// ---------------------------------------------------------------------------------------
// What only the store decides.

fn full_webhook(scope: &Scope) -> Webhook {
    let created_at = DateTime::parse_from_rfc3339("2024-02-29T23:59:58.123Z")
        .unwrap()
        .with_timezone(&Utc);
    let mut parts = WebhookParts::new(
        WebhookId::generate(),
        scope.clone(),
        url("full?x=1&y=%20").parse().unwrap(),
        false,
        filter(&["acc_b", "acc_a", "acc_\u{21}"]),
        created_at,
        Secret::generate(),
    );
    parts.previous_secrets = vec![
        PreviousSecret {
            secret: Secret::generate(),
            expires_at: created_at + TimeDelta::hours(20),
        },
        PreviousSecret {
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse().unwrap(),
            expires_at: created_at + TimeDelta::milliseconds(1),
        },
    ];
    parts.revision = 7;
    Webhook::from_parts(parts)
}

pub async fn store_round_trips_every_field<S: WebhookStore>(store: S) {
    let scope = new_scope(AccountType::Test);
    let webhook = full_webhook(&scope);
    store.insert(&webhook).await.unwrap();
    let got = store.get(&scope, webhook.id()).await.unwrap().unwrap();
    assert_eq!(Snapshot::of(&got), Snapshot::of(&webhook));
    let listed = store.list(&scope, None).await.unwrap();
    assert_eq!(
        listed.iter().map(Snapshot::of).collect::<Vec<_>>(),
        [Snapshot::of(&webhook)]
    );
    // Through a replace as well.
    let mut parts = got.into_parts();
    parts.revision = 8;
    parts.previous_secrets.truncate(1);
    parts.enabled = true;
    let replaced = Webhook::from_parts(parts);
    store.replace(&replaced, 7).await.unwrap();
    let got = store.get(&scope, webhook.id()).await.unwrap().unwrap();
    assert_eq!(Snapshot::of(&got), Snapshot::of(&replaced));
}

pub async fn store_keeps_the_largest_webhook<S: WebhookStore>(store: S) {
    let scope = new_scope(AccountType::Live);
    let prefix = url("");
    let long_url = format!("{prefix}{}", "a".repeat(MAX_URL_LEN - prefix.len()));
    let accounts: Vec<String> = (0..MAX_ACCOUNT_IDS)
        .map(|index| format!("acc_{index:0>250}"))
        .collect();
    let filter = AccountFilter::from_ids(accounts.iter().map(|id| account(id))).unwrap();
    let webhook = Webhook::new(scope.clone(), long_url.parse().unwrap(), filter);
    store.insert(&webhook).await.unwrap();
    let got = store.get(&scope, webhook.id()).await.unwrap().unwrap();
    assert_eq!(Snapshot::of(&got), Snapshot::of(&webhook));
    for named in [&accounts[0], &accounts[MAX_ACCOUNT_IDS - 1]] {
        let listed = store.list(&scope, Some(&account(named))).await.unwrap();
        assert_eq!(listed.len(), 1);
    }
    assert!(
        store
            .list(&scope, Some(&account("acc_other")))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn store_refuses_a_duplicate_id<S: WebhookStore>(store: S) {
    let scope = new_scope(AccountType::Live);
    let other = new_scope(AccountType::Live);
    let webhook = full_webhook(&scope);
    store.insert(&webhook).await.unwrap();
    let before = listings(&store, &[&scope, &other]).await;
    let again = Webhook::from_parts(full_webhook(&scope).into_parts().with_id(&webhook));
    assert!(matches!(
        store.insert(&again).await,
        Err(StoreError::AlreadyExists)
    ));
    // Ids are unique across scopes too.
    let elsewhere = Webhook::from_parts(full_webhook(&other).into_parts().with_id(&webhook));
    assert!(matches!(
        store.insert(&elsewhere).await,
        Err(StoreError::AlreadyExists)
    ));
    assert_eq!(listings(&store, &[&scope, &other]).await, before);
}

/// Gives parts the id of another webhook.
trait WithId {
    fn with_id(self, webhook: &Webhook) -> Self;
}

impl WithId for WebhookParts {
    fn with_id(mut self, webhook: &Webhook) -> Self {
        self.id = webhook.id().clone();
        self
    }
}

fn next_revision(webhook: &Webhook, url_path: &str) -> Webhook {
    let mut parts = webhook.clone().into_parts();
    parts.revision += 1;
    parts.url = url(url_path).parse().unwrap();
    Webhook::from_parts(parts)
}

pub async fn store_replace_checks_the_revision<S: WebhookStore>(store: S) {
    let scope = new_scope(AccountType::Live);
    let first = Webhook::new(scope.clone(), url("1").parse().unwrap(), filter(&[]));
    store.insert(&first).await.unwrap();
    let second = next_revision(&first, "2");
    store.replace(&second, 1).await.unwrap();
    let stale = next_revision(&first, "stale");
    let before = listings(&store, &[&scope]).await;
    match store.replace(&stale, 1).await {
        Err(StoreError::Conflict { expected, actual }) => assert_eq!((expected, actual), (1, 2)),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(listings(&store, &[&scope]).await, before);
    let got = store.get(&scope, first.id()).await.unwrap().unwrap();
    assert_eq!(got.url().as_str(), url("2"));
    assert_eq!(got.revision(), 2);
}

pub async fn store_replace_never_inserts<S: WebhookStore>(store: S) {
    let scope = new_scope(AccountType::Live);
    let other = new_scope(AccountType::Live);
    let absent = Webhook::new(scope.clone(), url("absent").parse().unwrap(), filter(&[]));
    assert!(matches!(
        store.replace(&next_revision(&absent, "x"), 1).await,
        Err(StoreError::NotFound)
    ));
    assert!(store.get(&scope, absent.id()).await.unwrap().is_none());

    // A webhook of `other` with the id of one in `scope` does not replace it.
    let webhook = Webhook::new(scope.clone(), url("kept").parse().unwrap(), filter(&[]));
    store.insert(&webhook).await.unwrap();
    let before = listings(&store, &[&scope, &other]).await;
    let mut parts = next_revision(&webhook, "moved").into_parts();
    parts.scope = other.clone();
    assert!(matches!(
        store.replace(&Webhook::from_parts(parts), 1).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(listings(&store, &[&scope, &other]).await, before);
}

pub async fn store_get_and_delete_are_scoped<S: WebhookStore>(store: S) {
    let scope = new_scope(AccountType::Live);
    let other = Scope::new(scope.organization().clone(), AccountType::Test);
    let webhook = Webhook::new(scope.clone(), url("a").parse().unwrap(), filter(&[]));
    store.insert(&webhook).await.unwrap();
    assert!(store.get(&other, webhook.id()).await.unwrap().is_none());
    assert!(matches!(
        store.delete(&other, webhook.id()).await,
        Err(StoreError::NotFound)
    ));
    assert!(store.get(&scope, webhook.id()).await.unwrap().is_some());
    store.delete(&scope, webhook.id()).await.unwrap();
    assert!(store.get(&scope, webhook.id()).await.unwrap().is_none());
    assert!(matches!(
        store.delete(&scope, webhook.id()).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn store_get_each_reads_as_get_does_in_order<S: WebhookStore>(store: S) {
    let scope = new_scope(AccountType::Live);
    let other = Scope::new(scope.organization().clone(), AccountType::Test);
    let made: Vec<Webhook> = ["a", "b", "c"]
        .into_iter()
        .map(|name| Webhook::new(scope.clone(), url(name).parse().unwrap(), filter(&[])))
        .collect();
    for webhook in &made {
        store.insert(webhook).await.unwrap();
    }
    let missing = WebhookId::generate();
    let wanted = vec![
        (scope.clone(), made[2].id().clone()),
        (other.clone(), made[0].id().clone()),
        (scope.clone(), missing.clone()),
        (scope.clone(), made[0].id().clone()),
        (scope.clone(), made[2].id().clone()),
    ];
    let found = store.get_each(&wanted).await.unwrap();
    assert_eq!(found.len(), wanted.len());
    for ((scope, id), read) in wanted.iter().zip(found) {
        // Each as `get` reads it: the same webhook, secrets included, or none.
        let (read, got) = (read.unwrap(), store.get(scope, id).await.unwrap());
        assert_eq!(
            read.as_ref().map(Snapshot::of),
            got.as_ref().map(Snapshot::of),
            "{id}"
        );
    }
    let ids = |found: Vec<Result<Option<Webhook>, StoreError>>| -> Vec<Option<WebhookId>> {
        found
            .into_iter()
            .map(|read| read.unwrap().map(|webhook| webhook.id().clone()))
            .collect()
    };
    assert_eq!(
        ids(store.get_each(&wanted).await.unwrap()),
        [
            Some(made[2].id().clone()),
            None,
            None,
            Some(made[0].id().clone()),
            Some(made[2].id().clone())
        ]
    );
    assert!(store.get_each(&[]).await.unwrap().is_empty());
}

pub async fn store_lists_in_id_order_with_account_filter<S: WebhookStore>(store: S) {
    let scope = new_scope(AccountType::Live);
    let made: Vec<Webhook> = [&["acc_a"][..], &[], &["acc_b"], &["acc_a", "acc_b"]]
        .into_iter()
        .enumerate()
        .map(|(index, accounts)| {
            Webhook::new(
                scope.clone(),
                url(&index.to_string()).parse().unwrap(),
                filter(accounts),
            )
        })
        .collect();
    // Inserted in reverse: the store orders by id, not by insertion.
    for webhook in made.iter().rev() {
        store.insert(webhook).await.unwrap();
    }
    let ids = |webhooks: Vec<Webhook>| -> Vec<WebhookId> {
        webhooks
            .iter()
            .map(|webhook| webhook.id().clone())
            .collect()
    };
    let id = |index: usize| made[index].id().clone();
    assert_eq!(
        ids(store.list(&scope, None).await.unwrap()),
        [id(0), id(1), id(2), id(3)]
    );
    assert_eq!(
        ids(store.list(&scope, Some(&account("acc_a"))).await.unwrap()),
        [id(0), id(1), id(3)]
    );
    assert_eq!(
        ids(store.list(&scope, Some(&account("acc_b"))).await.unwrap()),
        [id(1), id(2), id(3)]
    );
    assert_eq!(
        ids(store.list(&scope, Some(&account("acc_c"))).await.unwrap()),
        [id(1)]
    );
}

/// The masked reads (what list and get answer) and the listing that goes on past unreadable
/// webhooks agree with the full reads, whatever the webhook went through (rotations with
/// overlap, filters, disabling), for every account filter.
pub async fn store_masked_and_readable_reads_agree_with_full_reads<S: WebhookStore>(store: S) {
    let service = Webhooks::new(&store);
    let scope = new_scope(AccountType::Live);
    for accounts in [&["acc_a"][..], &[], &["acc_a", "acc_b"]] {
        let created = service
            .create(&scope, create_request("a", accounts))
            .await
            .unwrap();
        let id = created.webhook().id().as_str();
        service
            .rotate_secret_with_overlap(&scope, id, TimeDelta::hours(1))
            .await
            .unwrap();
        let update = UpdateWebhookRequest::from_json(
            br#"{"url": "https://example.com/b", "enabled": false}"#,
        )
        .unwrap();
        service.update(&scope, id, update).await.unwrap();
    }
    for account in [None, Some(account("acc_a")), Some(account("acc_z"))] {
        let full = store.list(&scope, account.as_ref()).await.unwrap();
        let masked = store.list_masked(&scope, account.as_ref()).await.unwrap();
        let want: Vec<WebhookResponse> = full.iter().map(WebhookResponse::masked).collect();
        assert_eq!(masked, want);
        let readable = store.list_readable(&scope, account.as_ref()).await.unwrap();
        assert!(readable.unreadable.is_empty());
        assert_eq!(
            readable
                .webhooks
                .iter()
                .map(Webhook::id)
                .collect::<Vec<_>>(),
            full.iter().map(Webhook::id).collect::<Vec<_>>()
        );
        for webhook in &full {
            assert_eq!(
                store.get_masked(&scope, webhook.id()).await.unwrap(),
                Some(WebhookResponse::masked(webhook))
            );
        }
    }
    let other = new_scope(AccountType::Live);
    let first = store.list(&scope, None).await.unwrap().remove(0);
    assert_eq!(store.get_masked(&other, first.id()).await.unwrap(), None);
    assert!(store.list_masked(&other, None).await.unwrap().is_empty());
}
