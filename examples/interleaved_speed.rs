//! The `benches/signing.rs` comparisons measured so that load from other processes cancels
//! out: every function runs in short alternating batches, and each keeps its fastest batch.
//! Criterion measures one function after another, so on a shared machine a change of load
//! between two functions shows up in their ratio; here it cannot.
//!
//! `cargo run --release --all-features --example interleaved_speed` prints a Markdown table:
//! time per call and the ratios the targets in BENCHMARKS.md are stated in. `hmac sign` and
//! `hmac verify` run the same `hmac` crate as `Signer` and `Verifier`, but keyed on every
//! call: the difference is what keying once per secret saves.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::Signer as _;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::{Digest as _, Sha256};
use webhook_kit::{Secret, Signer, SigningKey, Verifier};

const SIZES: [usize; 4] = [64, 1024, 16 * 1024, 1024 * 1024];
const ID: &str = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W";
const ROUNDS: usize = 40;

/// Fastest time per call, in nanoseconds, of each function over `ROUNDS` alternating
/// batches of about 2 MiB of body each.
fn fastest(size: usize, functions: &mut [&mut dyn FnMut()]) -> Vec<f64> {
    let calls = (2 * 1024 * 1024 / size).clamp(2, 20_000);
    let mut best = vec![f64::MAX; functions.len()];
    for _ in 0..ROUNDS {
        for (function, best) in functions.iter_mut().zip(&mut best) {
            let start = Instant::now();
            for _ in 0..calls {
                function();
            }
            *best = best.min(start.elapsed().as_nanos() as f64 / calls as f64);
        }
    }
    best
}

/// A JSON-ish ASCII body of `size` bytes.
fn body(size: usize) -> Vec<u8> {
    b"{\"type\":\"invoice.paid\",\"data\":{\"id\":\"inv_1\"}}"
        .iter()
        .copied()
        .cycle()
        .take(size)
        .collect()
}

fn main() {
    let secret = Secret::generate();
    let key = secret.expose_key();
    let signer = Signer::from_secret(&secret);
    let verifier = Verifier::from_secret(&secret);
    let peer = standardwebhooks::Webhook::new(secret.expose_secret()).unwrap();
    println!(
        "| bytes | sign | peer sign | hmac sign | verify | peer verify | hmac verify | sha2 | sign ÷ peer | sha2 ÷ sign | hmac ÷ sign | verify ÷ peer | sha2 ÷ verify |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for size in SIZES {
        let body = body(size);
        let signed = signer
            .headers(ID, chrono::Utc::now().timestamp(), &body)
            .unwrap();
        let received = signed.pairs();
        let mut peer_headers = http::HeaderMap::new();
        for (name, value) in received {
            peer_headers.insert(name, value.parse().unwrap());
        }
        let timestamp: i64 = signed.timestamp().parse().unwrap();
        let tag = STANDARD.decode(&signed.signature()[3..]).unwrap();
        let keyed = || {
            let mut mac = Hmac::<Sha256>::new_from_slice(black_box(key)).unwrap();
            for part in [
                ID.as_bytes(),
                b".",
                signed.timestamp().as_bytes(),
                b".",
                &body,
            ] {
                mac.update(black_box(part));
            }
            mac
        };
        let t = fastest(
            size,
            &mut [
                &mut || {
                    drop(black_box(signer.sign(
                        black_box(ID),
                        timestamp,
                        black_box(&body),
                    )))
                },
                &mut || {
                    drop(black_box(peer.sign(
                        black_box(ID),
                        timestamp,
                        black_box(&body),
                    )))
                },
                &mut || {
                    black_box(keyed().finalize().into_bytes());
                },
                &mut || {
                    verifier
                        .verify(black_box(&received), black_box(&body))
                        .unwrap()
                },
                &mut || {
                    peer.verify(black_box(&body), black_box(&peer_headers))
                        .unwrap()
                },
                &mut || keyed().verify_slice(black_box(&tag)).unwrap(),
                &mut || {
                    black_box(Sha256::digest(black_box(&body)));
                },
            ],
        );
        let [
            sign,
            peer_sign,
            hmac_sign,
            verify,
            peer_verify,
            hmac_verify,
            sha,
        ] = t[..]
        else {
            unreachable!()
        };
        println!(
            "| {size} | {sign:.0} ns | {peer_sign:.0} ns | {hmac_sign:.0} ns | {verify:.0} ns | {peer_verify:.0} ns | {hmac_verify:.0} ns | {sha:.0} ns | {:.2} | {:.3} | {:.2} | {:.2} | {:.3} |",
            peer_sign / sign,
            sha / sign,
            hmac_sign / sign,
            peer_verify / verify,
            sha / verify,
        );
    }
    v1a();
}

/// The same for `v1a` (Ed25519): `Signer`/`Verifier` against plain `ed25519-dalek`
/// signing and strict verification of the concatenated message.
fn v1a() {
    let key = SigningKey::generate();
    let keypair = STANDARD.decode(&key.expose_secret()[5..]).unwrap();
    let dalek =
        ed25519_dalek::SigningKey::from_keypair_bytes(&keypair.try_into().unwrap()).unwrap();
    let public = dalek.verifying_key();
    let signer = Signer::from_signing_key(&key);
    let verifier = Verifier::from_public_key(&key.public_key());
    println!();
    println!(
        "| bytes | v1a sign | dalek sign | v1a verify | dalek verify_strict | sign ÷ dalek | verify ÷ dalek |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for size in SIZES {
        let body = body(size);
        let signed = signer
            .headers(ID, chrono::Utc::now().timestamp(), &body)
            .unwrap();
        let received = signed.pairs();
        let timestamp: i64 = signed.timestamp().parse().unwrap();
        let message = [
            ID.as_bytes(),
            b".",
            signed.timestamp().as_bytes(),
            b".",
            &body,
        ]
        .concat();
        let signature = dalek.sign(&message);
        let t = fastest(
            size.max(64 * 1024),
            &mut [
                &mut || {
                    drop(black_box(signer.sign(
                        black_box(ID),
                        timestamp,
                        black_box(&body),
                    )))
                },
                &mut || {
                    black_box(dalek.sign(black_box(&message)));
                },
                &mut || {
                    verifier
                        .verify(black_box(&received), black_box(&body))
                        .unwrap()
                },
                &mut || {
                    public
                        .verify_strict(black_box(&message), black_box(&signature))
                        .unwrap()
                },
            ],
        );
        let [sign, dalek_sign, verify, dalek_verify] = t[..] else {
            unreachable!()
        };
        println!(
            "| {size} | {sign:.0} ns | {dalek_sign:.0} ns | {verify:.0} ns | {dalek_verify:.0} ns | {:.3} | {:.3} |",
            sign / dalek_sign,
            verify / dalek_verify,
        );
    }
}
