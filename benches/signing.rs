//! Signing and verifying speed against the `standardwebhooks` crate, a plain
//! `Hmac<Sha256>` keyed per call, and plain SHA-256 of the body (the limit); `v1a`
//! (Ed25519) against plain `ed25519-dalek` signing and strict verification of the same
//! message.
//!
//! `cargo bench --all-features --bench signing`; throughput is reported in bytes of body per
//! second. Figures and targets: BENCHMARKS.md.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ed25519_dalek::Signer as _;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::{Digest as _, Sha256};
use webhook_kit::{Secret, Signer, SigningKey, Verifier};

const SIZES: [usize; 4] = [64, 1024, 16 * 1024, 1024 * 1024];
const ID: &str = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W";

/// A JSON-ish ASCII body of `size` bytes (the peer crate signs UTF-8 only).
fn body(size: usize) -> Vec<u8> {
    br#"{"type":"invoice.paid","data":{"id":"inv_1","amount":4200}}"#
        .iter()
        .copied()
        .cycle()
        .take(size)
        .collect()
}

/// `Hmac<Sha256>` keyed for this call over the same bytes as the signature.
fn hmac_baseline(key: &[u8], timestamp: &[u8], body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(ID.as_bytes());
    mac.update(b".");
    mac.update(timestamp);
    mac.update(b".");
    mac.update(body);
    mac
}

fn sign(c: &mut Criterion) {
    let secret = Secret::generate();
    let signer = Signer::from_secret(&secret);
    let peer = standardwebhooks::Webhook::new(secret.expose_secret()).unwrap();
    let timestamp = 1_700_000_000;
    let timestamp_text = timestamp.to_string();
    let mut group = c.benchmark_group("sign");
    for size in SIZES {
        let body = body(size);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("webhook-kit", size), &body, |b, body| {
            b.iter(|| signer.sign(black_box(ID), black_box(timestamp), black_box(body)))
        });
        group.bench_with_input(
            BenchmarkId::new("standardwebhooks", size),
            &body,
            |b, body| b.iter(|| peer.sign(black_box(ID), black_box(timestamp), black_box(body))),
        );
        group.bench_with_input(BenchmarkId::new("hmac-baseline", size), &body, |b, body| {
            b.iter(|| {
                hmac_baseline(
                    black_box(secret.expose_key()),
                    black_box(timestamp_text.as_bytes()),
                    black_box(body),
                )
                .finalize()
                .into_bytes()
            })
        });
    }
    group.finish();
}

/// Times `verifier.verify` (with the clock) of headers `signer` made just now.
fn verify_fresh(b: &mut criterion::Bencher<'_>, signer: &Signer, verifier: &Verifier, body: &[u8]) {
    let signed = signer
        .headers(ID, chrono::Utc::now().timestamp(), body)
        .unwrap();
    let received = signed.pairs();
    b.iter(|| {
        verifier
            .verify(black_box(&received), black_box(body))
            .unwrap()
    })
}

fn verify(c: &mut Criterion) {
    let secret = Secret::generate();
    let signer = Signer::from_secret(&secret);
    let verifier = Verifier::from_secret(&secret);
    let peer = standardwebhooks::Webhook::new(secret.expose_secret()).unwrap();
    let mut group = c.benchmark_group("verify");
    for size in SIZES {
        let body = body(size);
        group.throughput(Throughput::Bytes(size as u64));
        // Fresh headers per function: both `verify`s read the clock.
        group.bench_with_input(BenchmarkId::new("webhook-kit", size), &body, |b, body| {
            verify_fresh(b, &signer, &verifier, body)
        });
        group.bench_with_input(
            BenchmarkId::new("standardwebhooks", size),
            &body,
            |b, body| {
                let signed = signer
                    .headers(ID, chrono::Utc::now().timestamp(), body)
                    .unwrap();
                let mut received = http::HeaderMap::new();
                for (name, value) in signed.pairs() {
                    received.insert(name, value.parse().unwrap());
                }
                b.iter(|| peer.verify(black_box(body), black_box(&received)).unwrap())
            },
        );
        group.bench_with_input(BenchmarkId::new("hmac-baseline", size), &body, |b, body| {
            let signed = signer
                .headers(ID, chrono::Utc::now().timestamp(), body)
                .unwrap();
            let tag = STANDARD.decode(&signed.signature()[3..]).unwrap();
            b.iter(|| {
                hmac_baseline(
                    black_box(secret.expose_key()),
                    black_box(signed.timestamp().as_bytes()),
                    black_box(body),
                )
                .verify_slice(black_box(&tag))
                .unwrap()
            })
        });
    }
    group.finish();
}

fn sha256_limit(c: &mut Criterion) {
    let mut group = c.benchmark_group("sha256-limit");
    for size in SIZES {
        let body = body(size);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("sha2", size), &body, |b, body| {
            b.iter(|| Sha256::digest(black_box(body)))
        });
    }
    group.finish();
}

/// `"{id}.{timestamp}.{body}"`, what both schemes sign.
fn message(timestamp: i64, body: &[u8]) -> Vec<u8> {
    [
        ID.as_bytes(),
        b".",
        timestamp.to_string().as_bytes(),
        b".",
        body,
    ]
    .concat()
}

fn v1a(c: &mut Criterion) {
    let key = SigningKey::generate();
    let keypair = STANDARD.decode(&key.expose_secret()[5..]).unwrap();
    let dalek =
        ed25519_dalek::SigningKey::from_keypair_bytes(&keypair.try_into().unwrap()).unwrap();
    let public = dalek.verifying_key();
    let signer = Signer::from_signing_key(&key);
    let verifier = Verifier::from_public_key(&key.public_key());
    let timestamp = 1_700_000_000;
    let mut group = c.benchmark_group("sign-v1a");
    for size in SIZES {
        let body = body(size);
        let message = message(timestamp, &body);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("webhook-kit", size), &body, |b, body| {
            b.iter(|| signer.sign(black_box(ID), black_box(timestamp), black_box(body)))
        });
        group.bench_with_input(BenchmarkId::new("ed25519-dalek", size), &message, |b, m| {
            b.iter(|| dalek.sign(black_box(m)))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("verify-v1a");
    for size in SIZES {
        let body = body(size);
        group.throughput(Throughput::Bytes(size as u64));
        // Fresh headers per function: `verify` reads the clock.
        group.bench_with_input(BenchmarkId::new("webhook-kit", size), &body, |b, body| {
            verify_fresh(b, &signer, &verifier, body)
        });
        let message = message(timestamp, &body);
        let signature = dalek.sign(&message);
        group.bench_with_input(BenchmarkId::new("ed25519-dalek", size), &message, |b, m| {
            b.iter(|| {
                public
                    .verify_strict(black_box(m), black_box(&signature))
                    .unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, sign, verify, sha256_limit, v1a);
criterion_main!(benches);
