//! Listing a scope's webhooks from a sealing SQLite store: what the API's list answers
//! (`list_masked`, the secret's last 4 characters read from their own column) against the
//! full listing that opens every sealed secret (`list`, what the API's list used before).
//! Both in the same run, on the same file.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tokio::runtime::Runtime;
use webhook_kit::{
    AccountFilter, AccountType, EncryptionKey, Keyring, Scope, SqliteStore, Webhook, WebhookStore,
};

/// How many webhooks the listed scope holds.
const WEBHOOKS: usize = 100;

fn masked_list(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let scope = Scope::new("org_bench".parse().unwrap(), AccountType::Live);
    let store = runtime.block_on(async {
        let store = SqliteStore::open(dir.path().join("bench.db"))
            .await
            .unwrap()
            .with_keyring(Keyring::new(EncryptionKey::generate(1)));
        store.migrate().await.unwrap();
        for _ in 0..WEBHOOKS {
            let url = "https://example.com/hooks".parse().unwrap();
            let webhook = Webhook::new(scope.clone(), url, AccountFilter::all());
            store.insert(&webhook).await.unwrap();
        }
        store
    });
    let mut group = c.benchmark_group("sqlite_sealed_list_100");
    group.bench_function("list_masked", |b| {
        b.to_async(&runtime).iter(|| async {
            let listed = store.list_masked(black_box(&scope), None).await.unwrap();
            assert_eq!(listed.len(), WEBHOOKS);
        });
    });
    group.bench_function("list_opening_secrets", |b| {
        b.to_async(&runtime).iter(|| async {
            let listed = store.list(black_box(&scope), None).await.unwrap();
            assert_eq!(listed.len(), WEBHOOKS);
        });
    });
    group.finish();
}

criterion_group!(benches, masked_list);
criterion_main!(benches);
