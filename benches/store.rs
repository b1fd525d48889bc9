//! Benches of the memory store and the service over it.
//!
//! - `list_one_account`: listing the 10 webhooks of one account in a scope of 1,000 and of
//!   100,000 webhooks; with the per-account index both cost about the same.
//! - `create_get`: a create then a get of the new webhook, on 1 thread (the baseline) and on
//!   2 threads sharing one service.
//!
//! Run: `cargo bench --bench store`.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use webhook_kit::{
    AccountFilter, AccountId, AccountType, CreateWebhookRequest, MemoryStore, Scope, Webhook,
    WebhookStore, WebhookUrl, Webhooks,
};

mod support;
use support::ready;

fn scope() -> Scope {
    Scope::new("org_bench".parse().unwrap(), AccountType::Live)
}

fn account(index: usize) -> AccountId {
    format!("acc_{index}").parse().unwrap()
}

const MATCHING: usize = 10;

/// A store whose scope holds `size` webhooks, each on its own account but for `MATCHING`
/// spread evenly that are on the target account.
fn filled(size: usize, target: &AccountId) -> MemoryStore {
    let store = MemoryStore::new();
    let url: WebhookUrl = "https://example.com/hook".parse().unwrap();
    let stride = size / MATCHING;
    for index in 0..size {
        let accounts = if index % stride == 0 {
            target.clone()
        } else {
            account(index)
        };
        let filter = AccountFilter::from_ids([accounts]).unwrap();
        ready(store.insert(&Webhook::new(scope(), url.clone(), filter))).unwrap();
    }
    store
}

fn list_one_account(c: &mut Criterion) {
    let mut group = c.benchmark_group("list_one_account");
    group.throughput(Throughput::Elements(MATCHING as u64));
    let target: AccountId = "acc_target".parse().unwrap();
    let scope = scope();
    for size in [1_000, 100_000] {
        let webhooks = Webhooks::new(filled(size, &target));
        group.bench_with_input(BenchmarkId::new("store", size), &size, |b, _| {
            b.iter(|| {
                let found = ready(
                    webhooks
                        .store()
                        .list(black_box(&scope), Some(black_box(&target))),
                );
                assert_eq!(found.as_ref().map(Vec::len).ok(), Some(MATCHING));
                found
            });
        });
        group.bench_with_input(BenchmarkId::new("service", size), &size, |b, _| {
            b.iter(|| ready(webhooks.list(black_box(&scope), Some(black_box("acc_target")))));
        });
    }
    group.finish();
}

/// Runs `iterations` create + get pairs split over `threads` threads on one fresh service.
fn create_get(threads: u64, iterations: u64) -> Duration {
    let webhooks = Arc::new(Webhooks::new(MemoryStore::new()));
    let barrier = Arc::new(Barrier::new(threads as usize + 1));
    let workers: Vec<_> = (0..threads)
        .map(|thread| {
            let (webhooks, barrier) = (Arc::clone(&webhooks), Arc::clone(&barrier));
            let share = iterations / threads + u64::from(thread < iterations % threads);
            std::thread::spawn(move || {
                let scope = scope();
                let url: WebhookUrl = "https://example.com/hook".parse().unwrap();
                barrier.wait();
                for _ in 0..share {
                    let request = CreateWebhookRequest::new(url.clone());
                    let created = ready(webhooks.create(&scope, request)).unwrap();
                    let id = created.webhook().id().as_str();
                    black_box(ready(webhooks.get(&scope, id)).unwrap());
                }
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    for worker in workers {
        worker.join().unwrap();
    }
    start.elapsed()
}

fn concurrent_create_get(c: &mut Criterion) {
    let mut group = c.benchmark_group("create_get");
    group.throughput(Throughput::Elements(1));
    for threads in [1, 2] {
        group.bench_with_input(
            BenchmarkId::new("threads", threads),
            &threads,
            |b, &threads| {
                b.iter_custom(|iterations| create_get(threads, iterations));
            },
        );
    }
    group.finish();
}

criterion_group!(benches, list_one_account, concurrent_create_get);
criterion_main!(benches);
