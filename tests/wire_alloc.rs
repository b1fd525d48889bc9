//! Memory that parsing huge request bodies costs, counted by a global allocator.
//!
//! This file runs without the test harness (`harness = false`): `main` is alone in its
//! process, so the counts include nothing from other tests or harness threads. Each check
//! bounds every byte allocated while parsing (an upper bound of the peak), whatever the
//! body's size; no check measures time.
#![allow(clippy::unwrap_used)]

use std::alloc::System;
use std::process::ExitCode;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use webhook_kit::{CreateWebhookRequest, Error, MAX_BODY_LEN, UpdateWebhookRequest};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Every byte `f` allocates, reallocations that grow included.
fn bytes_allocated<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let region = Region::new(GLOBAL);
    let value = f();
    let stats = region.change();
    let grown = usize::try_from(stats.bytes_reallocated.max(0)).unwrap();
    (value, stats.bytes_allocated + grown)
}

/// A create body: `{"url": …, "account_ids": [<ids>]}`, built without a JSON value tree.
fn body_of(ids: impl Iterator<Item = String>, capacity: usize) -> Vec<u8> {
    let mut body = Vec::with_capacity(capacity);
    body.extend_from_slice(br#"{"url": "https://example.com/hook", "account_ids": ["#);
    for (index, id) in ids.enumerate() {
        if index > 0 {
            body.push(b',');
        }
        body.push(b'"');
        body.extend_from_slice(id.as_bytes());
        body.push(b'"');
    }
    body.extend_from_slice(b"]}");
    body
}

struct Check {
    name: &'static str,
    /// The code the body must be refused with.
    code: &'static str,
    /// Most bytes the parse may allocate.
    limit: usize,
    /// The code it was refused with, if it was.
    refused: Option<&'static str>,
    allocated: usize,
}

impl Check {
    fn new(
        name: &'static str,
        code: &'static str,
        limit: usize,
        parse: impl FnOnce() -> Result<(), &'static str>,
    ) -> Self {
        let (result, allocated) = bytes_allocated(parse);
        Self {
            name,
            code,
            limit,
            refused: result.err(),
            allocated,
        }
    }

    fn passed(&self) -> bool {
        self.allocated <= self.limit && self.refused == Some(self.code)
    }
}

fn from_json<T>(parse: fn(&[u8]) -> Result<T, Error>, body: &[u8]) -> Result<(), &'static str> {
    parse(body).map(drop).map_err(|error| error.code())
}

/// Through serde nothing bounds the body; the code leads the message.
fn through_serde(body: &[u8]) -> Result<(), &'static str> {
    serde_json::from_slice::<UpdateWebhookRequest>(body)
        .map(drop)
        .map_err(|error| {
            let message = error.to_string();
            ["account_ids_invalid", "url_invalid"]
                .into_iter()
                .find(|code| message.starts_with(code))
                .unwrap_or("body_invalid")
        })
}

fn main() -> ExitCode {
    const MIB: usize = 1024 * 1024;
    // 2 M distinct ids, about 16 MiB.
    let distinct = body_of((0..2_000_000).map(|n| format!("{n:05x}")), 17 * MIB);
    assert!(distinct.len() >= 16 * MIB, "{}", distinct.len());
    // 30 MiB of copies of one id.
    let copies = body_of(
        std::iter::repeat_n("a".to_owned(), 30 * MIB / 4),
        30 * MIB + 100,
    );
    assert!(copies.len() >= 30 * MIB, "{}", copies.len());
    // Copies of one id up to the body limit: parsed, and stopped at the 1,001st element.
    let copies_under_limit = body_of(
        std::iter::repeat_n("a".to_owned(), (MAX_BODY_LEN - 100) / 4),
        MAX_BODY_LEN,
    );
    assert!(copies_under_limit.len() <= MAX_BODY_LEN);
    let create = CreateWebhookRequest::from_json;
    let update = UpdateWebhookRequest::from_json;

    let checks = [
        Check::new("from_json, 2 M distinct ids", "body_invalid", 1024, || {
            from_json(create, &distinct)
        }),
        Check::new("from_json, 30 MiB of one id", "body_invalid", 1024, || {
            from_json(update, &copies)
        }),
        Check::new(
            "from_json, one id repeated up to the body limit",
            "account_ids_invalid",
            64 * 1024,
            || from_json(create, &copies_under_limit),
        ),
        Check::new(
            "serde, 2 M distinct ids",
            "account_ids_invalid",
            256 * 1024,
            || through_serde(&distinct),
        ),
        Check::new(
            "serde, 30 MiB of one id",
            "account_ids_invalid",
            64 * 1024,
            || through_serde(&copies),
        ),
    ];

    let mut failed = 0;
    for check in &checks {
        let ok = check.passed();
        println!(
            "test {} ... {} ({} bytes allocated, at most {}; refused: {:?}, expected {})",
            check.name,
            if ok { "ok" } else { "FAILED" },
            check.allocated,
            check.limit,
            check.refused,
            check.code,
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
