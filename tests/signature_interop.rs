//! Interoperability: the Standard Webhooks known-answer vectors, round trips with the
//! `standardwebhooks` crate in both directions, and property tests.
#![allow(clippy::unwrap_used)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;
use webhook_kit::{Secret, Signer, Verifier, VerifyError};

/// A known answer: the signature header for one delivery.
struct Vector {
    name: &'static str,
    secret: &'static str,
    id: &'static str,
    timestamp: i64,
    body: &'static [u8],
    signature: &'static str,
}

const VECTORS: &[Vector] = &[
    // From the Standard Webhooks reference libraries' "sign function works" tests.
    Vector {
        name: "standard-webhooks javascript sign",
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
        timestamp: 1_614_265_330,
        body: br#"{"test": 2432232314}"#,
        signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    },
    Vector {
        name: "standard-webhooks rust test_sign",
        secret: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
        id: "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
        timestamp: 1_649_367_553,
        body: br#"{"email":"test@example.com","username":"test_user"}"#,
        signature: "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
    },
    // Computed independently with Python's standard `hmac` and `base64` modules.
    Vector {
        name: "python empty body, timestamp 0, 32-byte key",
        secret: "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        id: "msg_empty",
        timestamp: 0,
        body: b"",
        signature: "v1,rj/XH3Tm6G/SToL6tT4Lkb4ZUYp8+qMAMWu3q7fMFes=",
    },
    Vector {
        name: "python non-UTF-8 body",
        secret: "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        id: "msg_binary",
        timestamp: 1_700_000_000,
        body: b"\xff\x00\xfe\x80\x2e",
        signature: "v1,LWUfwomVihBaOBno8KcCWcea2MnRUVdydJ6QqJ7LVpo=",
    },
    Vector {
        name: "python 64-byte key, timestamp i64::MAX",
        secret: "whsec_//79/Pv6+fj39vX08/Lx8O/u7ezr6uno5+bl5OPi4eDf3t3c29rZ2NfW1dTT0tHQz87NzMvKycjHxsXEw8LBwA==",
        id: "evt_2KWPBgLlAfxdpx2AI54pPJ85f4W",
        timestamp: i64::MAX,
        body: br#"{"type":"contact.created"}"#,
        signature: "v1,Gq/wocnvmad2CUqzWsBmFbJUAc6THhbr4ReocKbguug=",
    },
];

fn headers(id: &str, timestamp: &str, signature: &str) -> [(&'static str, String); 3] {
    [
        ("webhook-id", id.to_owned()),
        ("webhook-timestamp", timestamp.to_owned()),
        ("webhook-signature", signature.to_owned()),
    ]
}

#[test]
fn known_answer_vectors_sign() {
    for v in VECTORS {
        let secret: Secret = v
            .secret
            .parse()
            .unwrap_or_else(|e| panic!("{}: {e}", v.name));
        let signature = Signer::from_secret(&secret)
            .sign(v.id, v.timestamp, v.body)
            .unwrap_or_else(|e| panic!("{}: {e}", v.name));
        assert_eq!(signature, v.signature, "vector `{}`", v.name);
    }
}

#[test]
fn known_answer_vectors_verify() {
    for v in VECTORS {
        let secret: Secret = v.secret.parse().unwrap();
        let verifier = Verifier::from_secret(&secret);
        let received = headers(v.id, &v.timestamp.to_string(), v.signature);
        assert_eq!(
            verifier.verify_at(&received, v.body, v.timestamp),
            Ok(()),
            "vector `{}`",
            v.name
        );
        let mut tampered = v.body.to_vec();
        tampered.push(b' ');
        assert_eq!(
            verifier.verify_at(&received, &tampered, v.timestamp),
            Err(VerifyError::NoMatchingSignature),
            "vector `{}` with a byte appended",
            v.name
        );
    }
}

fn header_map(id: &str, timestamp: i64, signature: &str) -> http::HeaderMap {
    let mut map = http::HeaderMap::new();
    map.insert("webhook-id", id.parse().unwrap());
    map.insert("webhook-timestamp", timestamp.to_string().parse().unwrap());
    map.insert("webhook-signature", signature.parse().unwrap());
    map
}

fn secret_text(key: &[u8]) -> String {
    format!("whsec_{}", STANDARD.encode(key))
}

prop_compose! {
    fn key()(key in proptest::collection::vec(any::<u8>(), 24..=64)) -> Vec<u8> { key }
}

prop_compose! {
    /// Message ids as the scheme allows them: visible ASCII without `.`.
    fn message_id()(id in "[!-\\-/-~]{1,64}") -> String { id }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn we_verify_what_standardwebhooks_signs(key in key(), id in message_id(), body in ".{0,300}") {
        let text = secret_text(&key);
        let peer = standardwebhooks::Webhook::new(&text).unwrap();
        let timestamp = chrono::Utc::now().timestamp();
        let signature = peer.sign(&id, timestamp, body.as_bytes()).unwrap();
        let verifier = Verifier::from_secret(&text.parse().unwrap());
        prop_assert_eq!(
            verifier.verify(&headers(&id, &timestamp.to_string(), &signature), body.as_bytes()),
            Ok(())
        );
    }

    #[test]
    fn standardwebhooks_verifies_what_we_sign(key in key(), id in message_id(), body in ".{0,300}") {
        let text = secret_text(&key);
        let signer = Signer::from_secret(&text.parse().unwrap());
        let timestamp = chrono::Utc::now().timestamp();
        let signature = signer.sign(&id, timestamp, body.as_bytes()).unwrap();
        let peer = standardwebhooks::Webhook::new(&text).unwrap();
        prop_assert!(peer.verify(body.as_bytes(), &header_map(&id, timestamp, &signature)).is_ok());
        // And with the signature of another secret first, as during a rotation.
        let other = Secret::generate();
        let both = Signer::new(&[&other, &text.parse().unwrap()]).unwrap();
        let signature = both.sign(&id, timestamp, body.as_bytes()).unwrap();
        prop_assert!(peer.verify(body.as_bytes(), &header_map(&id, timestamp, &signature)).is_ok());
    }

    #[test]
    fn signatures_match_standardwebhooks_byte_for_byte(
        key in key(), id in message_id(), timestamp in 0i64.., body in ".{0,300}"
    ) {
        let text = secret_text(&key);
        let ours = Signer::from_secret(&text.parse().unwrap()).sign(&id, timestamp, body.as_bytes()).unwrap();
        let theirs = standardwebhooks::Webhook::new(&text).unwrap().sign(&id, timestamp, body.as_bytes()).unwrap();
        prop_assert_eq!(ours, theirs);
    }

    #[test]
    fn sign_then_verify_holds(
        key in key(),
        id in message_id(),
        timestamp in 0i64..=i64::MAX,
        body in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let secret: Secret = secret_text(&key).parse().unwrap();
        let headers = Signer::from_secret(&secret).headers(&id, timestamp, &body).unwrap();
        prop_assert_eq!(Verifier::from_secret(&secret).verify_at(&headers, &body, timestamp), Ok(()));
    }

    #[test]
    fn any_flipped_bit_fails(
        key in key(),
        id in message_id(),
        timestamp in 1_000_000_000i64..2_000_000_000,
        body in proptest::collection::vec(any::<u8>(), 1..256),
        which in 0usize..5,
        bit in any::<prop::sample::Index>(),
    ) {
        let secret: Secret = secret_text(&key).parse().unwrap();
        let signed = Signer::from_secret(&secret).headers(&id, timestamp, &body).unwrap();
        let mut id_bytes = id.clone().into_bytes();
        let mut ts_bytes = signed.timestamp().as_bytes().to_vec();
        let mut sig_bytes = signed.signature().as_bytes().to_vec();
        let mut body = body;
        let mut key = key;
        // Flip one bit of one part; the tolerance is wide enough that a changed timestamp
        // is judged by the signature, not the clock.
        let part: &mut Vec<u8> = match which {
            0 => &mut body,
            1 => &mut id_bytes,
            2 => &mut ts_bytes,
            3 => &mut sig_bytes,
            _ => &mut key,
        };
        let index = bit.index(part.len() * 8);
        part[index / 8] ^= 1 << (index % 8);
        let verifier_secret: Secret = secret_text(&key).parse().unwrap();
        let verifier = Verifier::from_secret(&verifier_secret)
            .with_tolerance(std::time::Duration::from_secs(u64::MAX));
        let received = [
            ("webhook-id", id_bytes),
            ("webhook-timestamp", ts_bytes),
            ("webhook-signature", sig_bytes),
        ];
        prop_assert!(verifier.verify_at(&received, &body, timestamp).is_err());
    }

    #[test]
    fn shuffled_and_unknown_tokens_change_nothing(
        keys in proptest::collection::vec(key(), 1..4),
        id in message_id(),
        body in proptest::collection::vec(any::<u8>(), 0..128),
        unknown in proptest::collection::vec("(v1a|v2|v0|x),[A-Za-z0-9+/=]{0,44}", 0..6),
        wrong_v1 in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 32), 0..3),
        seed in any::<u64>(),
        verify_with in any::<prop::sample::Index>(),
    ) {
        let secrets: Vec<Secret> = keys.iter().map(|k| secret_text(k).parse().unwrap()).collect();
        let timestamp = 1_700_000_000;
        let signature = Signer::new(&secrets).unwrap().sign(&id, timestamp, &body).unwrap();
        let mut tokens: Vec<String> = signature.split(' ').map(str::to_owned).collect();
        tokens.extend(unknown);
        tokens.extend(wrong_v1.iter().map(|tag| format!("v1,{}", STANDARD.encode(tag))));
        // A deterministic shuffle from the seed.
        let mut state = seed | 1;
        for i in (1..tokens.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            tokens.swap(i, usize::try_from(state % (i as u64 + 1)).unwrap());
        }
        let received = headers(&id, &timestamp.to_string(), &tokens.join(" "));
        let one = &secrets[verify_with.index(secrets.len())];
        prop_assert_eq!(Verifier::from_secret(one).verify_at(&received, &body, timestamp), Ok(()));
        prop_assert_eq!(Verifier::new(&secrets).unwrap().verify_at(&received, &body, timestamp), Ok(()));
        let stranger = Secret::generate();
        prop_assert_eq!(
            Verifier::from_secret(&stranger).verify_at(&received, &body, timestamp),
            Err(VerifyError::NoMatchingSignature)
        );
    }
}
