//! A page of 100 webhooks among 100,000 against a page of 100 among 1,000, on every store,
//! timed in alternation in the same run: the paged listing's cost should follow the page,
//! not the number of webhooks (the goal: within 2×). Each store has one scope of each
//! size; a tenth of the webhooks filter on the listed account. The page read starts after
//! the middle webhook (`starting_after`), for all webhooks and for one account.
//!
//! PostgreSQL: `DATABASE_URL`, or a throwaway server started from the local binaries.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

#[path = "support/paired.rs"]
mod paired;
#[path = "../tests/support/postgres.rs"]
mod pg;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use paired::paired;
use tokio::runtime::Runtime;
use webhook_kit::{
    AccountFilter, AccountId, AccountType, MemoryStore, PageRequest, PostgresStore, Scope,
    Selection, SqliteStore, Webhook, WebhookId, WebhookStore,
};

const SMALL: usize = 1_000;
const LARGE: usize = 100_000;
const PAGE: usize = 100;

fn listed() -> AccountId {
    "acc_listed".parse().unwrap()
}

fn new_scope() -> Scope {
    Scope::new(
        format!("org_{}", WebhookId::generate()).parse().unwrap(),
        AccountType::Live,
    )
}

fn webhook(scope: &Scope, index: usize) -> Webhook {
    let filter = if index.is_multiple_of(10) {
        AccountFilter::from_ids([listed()]).unwrap()
    } else {
        AccountFilter::all()
    };
    Webhook::new(
        scope.clone(),
        "https://example.com/hooks".parse().unwrap(),
        filter,
    )
}

/// The two page requests of a scope of `size` webhooks: all, and for the listed account,
/// each starting after the middle webhook.
struct Pages {
    scope: Scope,
    all: PageRequest,
    account: PageRequest,
}

impl Pages {
    fn new(scope: Scope, ids: &[WebhookId]) -> Self {
        let middle = ids[ids.len() / 2].clone();
        Self {
            scope,
            all: PageRequest::first(Selection::All, PAGE).after(middle.clone()),
            account: PageRequest::first(Selection::Account(listed()), PAGE).after(middle),
        }
    }
}

/// A scope of `size` webhooks in `store`, inserted through the store (the memory store).
async fn fill_through<S: WebhookStore>(store: &S, size: usize) -> Pages {
    let scope = new_scope();
    let mut ids = Vec::with_capacity(size);
    for index in 0..size {
        let webhook = webhook(&scope, index);
        ids.push(webhook.id().clone());
        store.insert(&webhook).await.unwrap();
    }
    Pages::new(scope, &ids)
}

/// The two template webhooks (unfiltered, filtered) of a new scope, stored; and ids for
/// `size` copies of them, in order, to insert in bulk with SQL.
async fn templates<S: WebhookStore>(
    store: &S,
    size: usize,
) -> (Scope, [Webhook; 2], Vec<WebhookId>) {
    let scope = new_scope();
    let plain = webhook(&scope, 1);
    let filtered = webhook(&scope, 0);
    store.insert(&plain).await.unwrap();
    store.insert(&filtered).await.unwrap();
    let ids = (2..size).map(|_| WebhookId::generate()).collect();
    (scope, [plain, filtered], ids)
}

/// Copies of the template rows under new ids, a tenth of them of the filtered one: one
/// statement per template, with the ids as a JSON array (SQLite) or an array (PostgreSQL).
const COPIED: &str = "organization, account_type, url, enabled, account_ids, created_at_ns, \
    secret_key_id, secret, previous_key_id, previous_secrets, revision";

/// Which template each new id copies: the filtered one for a tenth of them.
fn copies<'a>(
    templates: &'a [Webhook; 2],
    ids: &'a [WebhookId],
) -> [(&'a Webhook, Vec<&'a str>); 2] {
    let [plain, filtered] = templates;
    let (mut tenth, mut rest) = (Vec::new(), Vec::new());
    for (index, id) in ids.iter().enumerate() {
        if index.is_multiple_of(10) {
            tenth.push(id.as_str());
        } else {
            rest.push(id.as_str());
        }
    }
    [(filtered, tenth), (plain, rest)]
}

/// The pages of a scope holding the two templates and `ids`.
fn pages_of(scope: Scope, templates: &[Webhook; 2], mut ids: Vec<WebhookId>) -> Pages {
    ids.extend(templates.iter().map(|template| template.id().clone()));
    ids.sort();
    Pages::new(scope, &ids)
}

async fn fill_sqlite(store: &SqliteStore, size: usize) -> Pages {
    let (scope, templates, ids) = templates(store, size).await;
    for (template, copies) in copies(&templates, &ids) {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO webhook_kit_webhooks (id, {COPIED}) \
             SELECT j.value, {COPIED} FROM json_each(?1) j, webhook_kit_webhooks t WHERE t.id = ?2"
        )))
        .bind(serde_json::to_string(&copies).unwrap())
        .bind(template.id().as_str())
        .execute(store.pool())
        .await
        .unwrap();
    }
    sqlx::query("ANALYZE").execute(store.pool()).await.unwrap();
    pages_of(scope, &templates, ids)
}

async fn fill_postgres(store: &PostgresStore, size: usize) -> Pages {
    let (scope, templates, ids) = templates(store, size).await;
    for (template, copies) in copies(&templates, &ids) {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO webhook_kit_webhooks (id, {COPIED}) \
             SELECT copy, {COPIED} FROM unnest($1::text[]) AS copy, webhook_kit_webhooks t \
             WHERE t.id = $2"
        )))
        .bind(copies)
        .bind(template.id().as_str())
        .execute(store.pool())
        .await
        .unwrap();
    }
    sqlx::query("ANALYZE").execute(store.pool()).await.unwrap();
    pages_of(scope, &templates, ids)
}

async fn read<S: WebhookStore>(store: &S, scope: &Scope, request: &PageRequest) {
    let page = store.list_page(scope, black_box(request)).await.unwrap();
    assert_eq!(page.len(), PAGE);
    black_box(page);
}

fn compare<S: WebhookStore>(
    c: &mut Criterion,
    runtime: &Runtime,
    label: &str,
    store: &S,
    small: &Pages,
    large: &Pages,
) {
    for (kind, pick) in [
        (
            "all",
            (|pages: &Pages| &pages.all) as fn(&Pages) -> &PageRequest,
        ),
        ("account", |pages: &Pages| &pages.account),
    ] {
        let mut group = c.benchmark_group(format!("page_of_100/{label}/{kind}"));
        paired(
            &mut group,
            &format!("page_of_100/{label}/{kind}"),
            runtime,
            ("among_100000", async || {
                read(store, &large.scope, pick(large)).await;
            }),
            ("among_1000", async || {
                read(store, &small.scope, pick(small)).await
            }),
        );
        group.finish();
    }
}

fn pages(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();

    let memory = MemoryStore::new();
    let (small, large) = runtime.block_on(async {
        (
            fill_through(&memory, SMALL).await,
            fill_through(&memory, LARGE).await,
        )
    });
    compare(c, &runtime, "memory", &memory, &small, &large);

    let dir = tempfile::tempdir().unwrap();
    let sqlite = runtime.block_on(async {
        let store = SqliteStore::open(dir.path().join("pages.db"))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        store
    });
    let (small, large) = runtime.block_on(async {
        (
            fill_sqlite(&sqlite, SMALL).await,
            fill_sqlite(&sqlite, LARGE).await,
        )
    });
    compare(c, &runtime, "sqlite", &sqlite, &small, &large);

    let postgres = runtime.block_on(async {
        let store = PostgresStore::connect(&pg::fresh_database().await)
            .await
            .unwrap();
        store.migrate().await.unwrap();
        store
    });
    let (small, large) = runtime.block_on(async {
        (
            fill_postgres(&postgres, SMALL).await,
            fill_postgres(&postgres, LARGE).await,
        )
    });
    compare(c, &runtime, "postgres", &postgres, &small, &large);
}

criterion_group!(benches, pages);
criterion_main!(benches);
