//! Heap allocations made by signing and verifying, counted by a global allocator.
//!
//! This file runs without the test harness (`harness = false`): `main` is alone in its
//! process, so the counts include nothing from other tests or harness threads.
#![allow(clippy::unwrap_used)]

use std::alloc::System;
use std::process::ExitCode;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use webhook_kit::{Secret, Signer, SigningKey, Verifier, VerifyError};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// How many allocations (including reallocations) `f` makes.
fn allocations<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let region = Region::new(GLOBAL);
    let value = f();
    let stats = region.change();
    (value, stats.allocations + stats.reallocations)
}

struct Check {
    name: &'static str,
    expected: usize,
    actual: usize,
}

fn main() -> ExitCode {
    let (new, old) = (Secret::generate(), Secret::generate());
    let one = Signer::from_secret(&new);
    let two = Signer::new(&[&new, &old]).unwrap();
    let verifier = Verifier::new(&[&old, &new]).unwrap();
    let body = vec![b'x'; 64 * 1024];
    let headers = two.headers("msg_1", 1_700_000_000, &body).unwrap();
    let received = headers.pairs();
    let mut bad_signature = String::from(headers.signature());
    bad_signature.replace_range(
        3..4,
        if &bad_signature[3..4] == "A" {
            "B"
        } else {
            "A"
        },
    );
    let tampered = [
        ("webhook-id", headers.id()),
        ("webhook-timestamp", headers.timestamp()),
        ("webhook-signature", bad_signature.as_str()),
    ];

    let mut checks = Vec::new();
    let (signature, actual) = allocations(|| one.sign("msg_1", 1_700_000_000, &body));
    assert!(signature.is_ok());
    checks.push(Check {
        name: "sign, one secret",
        expected: 1,
        actual,
    });
    let (signature, actual) = allocations(|| two.sign("msg_1", 1_700_000_000, &body));
    assert_eq!(signature.unwrap().split(' ').count(), 2);
    checks.push(Check {
        name: "sign, two secrets",
        expected: 1,
        actual,
    });
    let (result, actual) = allocations(|| verifier.verify_at(&received, &body, 1_700_000_000));
    assert_eq!(result, Ok(()));
    checks.push(Check {
        name: "verify, match",
        expected: 0,
        actual,
    });
    let (result, actual) = allocations(|| verifier.verify_at(&tampered, &body, 1_700_000_000));
    assert_eq!(result, Ok(()), "the second signature still matches");
    checks.push(Check {
        name: "verify, one bad signature",
        expected: 0,
        actual,
    });
    let (result, actual) = allocations(|| verifier.verify_at(&tampered, b"other", 1_700_000_000));
    assert_eq!(result, Err(VerifyError::NoMatchingSignature));
    checks.push(Check {
        name: "verify, mismatch",
        expected: 0,
        actual,
    });
    let (result, actual) = allocations(|| verifier.verify(&received, &body));
    assert_eq!(result, Err(VerifyError::TimestampTooOld));
    checks.push(Check {
        name: "verify with the clock",
        expected: 0,
        actual,
    });

    let key = SigningKey::generate();
    let ed_signer = Signer::from_signing_key(&key).with_secret(&new).unwrap();
    let ed_verifier = Verifier::from_public_key(&key.public_key());
    let (ed_headers, actual) = allocations(|| ed_signer.sign("msg_1", 1_700_000_000, &body));
    let ed_headers = [
        ("webhook-id", "msg_1".to_owned()),
        ("webhook-timestamp", "1700000000".to_owned()),
        ("webhook-signature", ed_headers.unwrap()),
    ];
    checks.push(Check {
        name: "sign, a secret and an Ed25519 key",
        expected: 1,
        actual,
    });
    let (result, actual) = allocations(|| ed_verifier.verify_at(&ed_headers, &body, 1_700_000_000));
    assert_eq!(result, Ok(()));
    checks.push(Check {
        name: "verify v1a, match",
        expected: 0,
        actual,
    });

    let mut failed = 0;
    for check in &checks {
        let ok = check.actual <= check.expected;
        println!(
            "test {} ... {} ({} allocation(s), at most {})",
            check.name,
            if ok { "ok" } else { "FAILED" },
            check.actual,
            check.expected
        );
        failed += usize::from(!ok);
    }
    println!("{} passed, {} failed", checks.len() - failed, failed);
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
