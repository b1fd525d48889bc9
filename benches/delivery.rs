//! Benches of routing events to webhooks and signing their deliveries.
//!
//! - `deliveries_routing`: `Webhooks::deliveries` for an event that 10 webhooks get, in a
//!   scope of 1,000 and of 100,000 webhooks (every other webhook filters on another
//!   account). Target: the larger within 2× of the smaller.
//! - `fan_out_16k`: one 16 KiB event delivered to 100 webhooks by `deliveries`, against the
//!   baseline of signing the same 100 bodies directly with 100 ready-made `Signer`s.
//!   Target: `deliveries` at no less than 0.9× the baseline's rate.
//!
//! Run: `cargo bench --bench delivery`.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use webhook_kit::{
    AccountFilter, AccountId, AccountType, Event, EventId, MemoryStore, Scope, Signer, Webhook,
    WebhookStore, WebhookUrl, Webhooks,
};

mod support;
use support::ready;

const TIMESTAMP: i64 = 1_900_000_000;
const MATCHING: usize = 10;
const FAN_OUT: usize = 100;
const BIG_BODY: usize = 16 * 1024;

fn scope() -> Scope {
    Scope::new("org_bench".parse().unwrap(), AccountType::Live)
}

fn url() -> WebhookUrl {
    "https://example.com/hook".parse().unwrap()
}

/// A service whose scope holds `size` webhooks, each filtering on its own account but for
/// `MATCHING`, spread evenly, that filter on `target`.
fn filled(size: usize, target: &AccountId) -> Webhooks<MemoryStore> {
    let store = MemoryStore::new();
    let stride = size / MATCHING;
    for index in 0..size {
        let account = if index % stride == 0 {
            target.clone()
        } else {
            format!("acc_{index}").parse().unwrap()
        };
        let filter = AccountFilter::from_ids([account]).unwrap();
        ready(store.insert(&Webhook::new(scope(), url(), filter))).unwrap();
    }
    Webhooks::new(store)
}

fn deliveries_routing(c: &mut Criterion) {
    let mut group = c.benchmark_group("deliveries_routing");
    group.throughput(Throughput::Elements(MATCHING as u64));
    let target: AccountId = "acc_target".parse().unwrap();
    let body = vec![b'x'; 256];
    let event = Event::new(EventId::generate(), scope(), target.clone(), body);
    for size in [1_000, 100_000] {
        let webhooks = filled(size, &target);
        group.bench_with_input(BenchmarkId::new("deliveries", size), &size, |b, _| {
            b.iter(|| {
                let deliveries = ready(webhooks.deliveries(black_box(&event), TIMESTAMP));
                assert_eq!(
                    deliveries.as_ref().map(|found| found.len()).ok(),
                    Some(MATCHING)
                );
                deliveries
            });
        });
    }
    group.finish();
}

fn fan_out_16k(c: &mut Criterion) {
    let mut group = c.benchmark_group("fan_out_16k");
    group.throughput(Throughput::Bytes((FAN_OUT * BIG_BODY) as u64));
    let store = MemoryStore::new();
    let mut signers = Vec::with_capacity(FAN_OUT);
    for _ in 0..FAN_OUT {
        let webhook = Webhook::new(scope(), url(), AccountFilter::all());
        signers.push(Signer::from_secret(webhook.secret()));
        ready(store.insert(&webhook)).unwrap();
    }
    let webhooks = Webhooks::new(store);
    let event = Event::new(
        EventId::generate(),
        scope(),
        "acc_1".parse().unwrap(),
        vec![b'x'; BIG_BODY],
    );

    group.bench_function("signer_baseline", |b| {
        b.iter(|| {
            signers
                .iter()
                .map(|signer| {
                    signer
                        .headers(event.id().as_str(), TIMESTAMP, black_box(event.body()))
                        .unwrap()
                })
                .collect::<Vec<_>>()
        });
    });
    group.bench_function("deliveries", |b| {
        b.iter(|| {
            let deliveries = ready(webhooks.deliveries(black_box(&event), TIMESTAMP));
            assert_eq!(
                deliveries.as_ref().map(|found| found.len()).ok(),
                Some(FAN_OUT)
            );
            deliveries
        });
    });
    group.finish();
}

criterion_group!(benches, deliveries_routing, fan_out_16k);
criterion_main!(benches);
