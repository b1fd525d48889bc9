//! Every case of the conformance suite (`conformance/standard-webhooks.json`, computed
//! outside the crate by `conformance/generate.py`) through `Verifier`.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use serde_json::Value;
use webhook_kit::{PublicKey, Secret, Verifier};

const SUITE: &str = include_str!("../conformance/standard-webhooks.json");

fn hex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd hex length");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// The verifier a case describes: its secrets (read leniently, as a receiver of another
/// sender would) and public keys, with its tolerance.
fn verifier(case: &Value) -> Verifier {
    let secrets: Vec<Secret> = case["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| Secret::parse_lenient(s.as_str().unwrap()).unwrap())
        .collect();
    let keys: Vec<PublicKey> = case["public_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().parse().unwrap())
        .collect();
    let mut verifier = match (secrets.split_first(), keys.split_first()) {
        (Some((first, rest)), _) => {
            let mut v = Verifier::from_secret(first);
            for s in rest {
                v = v.with_secret(s).unwrap();
            }
            for k in &keys {
                v = v.with_public_key(k).unwrap();
            }
            v
        }
        (None, Some((first, rest))) => {
            let mut v = Verifier::from_public_key(first);
            for k in rest {
                v = v.with_public_key(k).unwrap();
            }
            v
        }
        (None, None) => panic!("a case without secrets or keys"),
    };
    verifier = verifier.with_tolerance(Duration::from_secs(case["tolerance"].as_u64().unwrap()));
    verifier
}

#[test]
fn every_conformance_case_gets_its_verdict_and_code() {
    let suite: Value = serde_json::from_str(SUITE).unwrap();
    assert_eq!(suite["format"], "standard-webhooks-conformance");
    assert_eq!(suite["version"], 1);
    let cases = suite["cases"].as_array().unwrap();
    assert!(cases.len() >= 60, "{} cases", cases.len());
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let headers: Vec<(String, String)> = case["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|pair| {
                let pair = pair.as_array().unwrap();
                (
                    pair[0].as_str().unwrap().to_owned(),
                    pair[1].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let body = hex(case["body_hex"].as_str().unwrap());
        let now = case["now"].as_i64().unwrap();
        let result = verifier(case).verify_at(&headers, &body, now);
        let expected = &case["expected"];
        let ok = match (&result, expected["valid"].as_bool().unwrap()) {
            (Ok(()), true) => true,
            (Err(error), false) => expected["error"].as_str() == Some(error.code()),
            _ => false,
        };
        if !ok {
            failures.push(format!("{name}: got {result:?}, expected {expected}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
