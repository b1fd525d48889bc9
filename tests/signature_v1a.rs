//! `v1a` (Ed25519) signatures: Svix's known answer, the `whsk_`/`whpk_` keys, signers and
//! verifiers holding them beside HMAC secrets, strict verification.
#![allow(clippy::unwrap_used)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use curve25519_dalek::Scalar;
use ed25519_dalek::ed25519::signature::MultipartVerifier as _;
use sha2::{Digest as _, Sha512};
use webhook_kit::{
    Ed25519KeyError, MAX_SECRETS, PublicKey, Secret, SecretsError, Signer, SigningKey, Verifier,
    VerifyError,
};

/// Svix's server test `test_asymmetric_key_signing` (server/svix-server/src/worker.rs) and
/// the public key its endpoint tests expect for that keypair.
const SVIX_SIGNING_KEY: &str =
    "whsk_6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbfVKIDij2HKpMKkioLlX0dRqSKJp4AJ6p9lMicMFs6Kvg==";
const SVIX_PUBLIC_KEY: &str = "whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4=";
const SVIX_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const SVIX_TIMESTAMP: i64 = 1_614_265_330;
const SVIX_BODY: &[u8] = br#"{"test": 2432232314}"#;
const SVIX_SIGNATURE: &str =
    "v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg==";

fn received(signature: &str) -> [(&'static str, String); 3] {
    [
        ("webhook-id", SVIX_ID.to_owned()),
        ("webhook-timestamp", SVIX_TIMESTAMP.to_string()),
        ("webhook-signature", signature.to_owned()),
    ]
}

#[test]
fn svix_known_answer_signs_and_verifies() {
    let key: SigningKey = SVIX_SIGNING_KEY.parse().unwrap();
    assert_eq!(key.public_key().as_str(), SVIX_PUBLIC_KEY);
    let signature = Signer::from_signing_key(&key)
        .sign(SVIX_ID, SVIX_TIMESTAMP, SVIX_BODY)
        .unwrap();
    assert_eq!(signature, SVIX_SIGNATURE);

    let public: PublicKey = SVIX_PUBLIC_KEY.parse().unwrap();
    let verifier = Verifier::from_public_key(&public);
    assert_eq!(
        verifier.verify_at(&received(SVIX_SIGNATURE), SVIX_BODY, SVIX_TIMESTAMP),
        Ok(())
    );
    assert_eq!(
        verifier.verify_at(
            &received(SVIX_SIGNATURE),
            b"{\"test\": 2432232315}",
            SVIX_TIMESTAMP
        ),
        Err(VerifyError::NoMatchingSignature)
    );
}

#[test]
fn generated_keys_round_trip_and_are_redacted() {
    let key = SigningKey::generate();
    let again: SigningKey = key.expose_secret().parse().unwrap();
    assert_eq!(again.public_key(), key.public_key());
    assert_ne!(SigningKey::generate().public_key(), key.public_key());
    assert_eq!(key.expose_secret().len(), 5 + 88);
    assert_eq!(key.public_key().as_str().len(), 5 + 44);
    assert_eq!(format!("{key:?}"), "SigningKey([REDACTED])");
    let signer = Signer::from_signing_key(&key);
    let debug = format!("{signer:?}");
    assert!(!debug.contains(&key.expose_secret()[5..20]), "{debug}");
    let public: PublicKey = key.public_key().to_string().parse().unwrap();
    assert_eq!(public, key.public_key());
}

#[test]
fn malformed_keys_are_refused_with_typed_errors() {
    let keypair = STANDARD.decode(&SVIX_SIGNING_KEY[5..]).unwrap();
    let public = &keypair[32..];
    let mut other_public = keypair.clone();
    other_public[63] ^= 1;
    let cases: Vec<(String, Ed25519KeyError)> = vec![
        (String::new(), Ed25519KeyError::Empty),
        (format!("{SVIX_SIGNING_KEY} "), Ed25519KeyError::Whitespace),
        (
            format!("whsec_{}", &SVIX_SIGNING_KEY[5..]),
            Ed25519KeyError::MissingPrefix,
        ),
        (
            SVIX_SIGNING_KEY[5..].to_owned(),
            Ed25519KeyError::MissingPrefix,
        ),
        (SVIX_PUBLIC_KEY.to_owned(), Ed25519KeyError::MissingPrefix),
        (
            format!("whsk_{}", STANDARD.encode(public)),
            Ed25519KeyError::WrongLength,
        ),
        (
            format!("whsk_{}", SVIX_SIGNING_KEY[5..].trim_end_matches('=')),
            Ed25519KeyError::WrongLength,
        ),
        (
            format!("whsk_{}", "-".repeat(88)),
            Ed25519KeyError::InvalidBase64,
        ),
        // Non-zero padding bits: not canonical base64.
        (
            format!("{}h==", &SVIX_SIGNING_KEY[..SVIX_SIGNING_KEY.len() - 3]),
            Ed25519KeyError::InvalidBase64,
        ),
        (
            format!("whsk_{}", STANDARD.encode(&other_public)),
            Ed25519KeyError::Mismatch,
        ),
    ];
    for (text, expected) in cases {
        let error = text.parse::<SigningKey>().unwrap_err();
        assert_eq!(error, expected, "{text:?}");
        assert_eq!(error.code(), "key_invalid");
        assert!(!error.to_string().contains(&SVIX_SIGNING_KEY[5..15]));
    }

    // The identity point and other small-order points are weak keys; some y have no point.
    let identity = {
        let mut bytes = [0u8; 32];
        bytes[0] = 1;
        bytes
    };
    let not_a_point = {
        let mut bytes = [0u8; 32];
        bytes[0] = 2;
        bytes
    };
    let public_cases: Vec<(String, Ed25519KeyError)> = vec![
        (String::new(), Ed25519KeyError::Empty),
        (
            format!("whsk_{}", STANDARD.encode(public)),
            Ed25519KeyError::MissingPrefix,
        ),
        (
            format!("whpk_{}", STANDARD.encode(&keypair)),
            Ed25519KeyError::WrongLength,
        ),
        (
            format!("whpk_{}", STANDARD.encode(identity)),
            Ed25519KeyError::InvalidPublicKey,
        ),
        (
            format!("whpk_{}", STANDARD.encode([0u8; 32])),
            Ed25519KeyError::InvalidPublicKey,
        ),
        (
            format!("whpk_{}", STANDARD.encode(not_a_point)),
            Ed25519KeyError::InvalidPublicKey,
        ),
    ];
    for (text, expected) in public_cases {
        assert_eq!(text.parse::<PublicKey>().unwrap_err(), expected, "{text:?}");
    }
}

#[test]
fn keys_sign_beside_secrets_in_one_header() {
    let (secret, key) = (Secret::generate(), SigningKey::generate());
    let signer = Signer::new(&[&secret])
        .unwrap()
        .with_signing_key(&key)
        .unwrap();
    let headers = signer.headers("msg_1", SVIX_TIMESTAMP, b"{}").unwrap();
    let tokens: Vec<&str> = headers.signature().split(' ').collect();
    assert_eq!(tokens.len(), 2);
    assert!(tokens[0].starts_with("v1,") && tokens[1].starts_with("v1a,"));

    // Either verifier accepts the header; each checks only its own version.
    let by_secret = Verifier::from_secret(&secret);
    let by_key = Verifier::from_public_key(&key.public_key());
    let by_both = Verifier::from_public_key(&SigningKey::generate().public_key())
        .with_secret(&secret)
        .unwrap();
    for verifier in [&by_secret, &by_key, &by_both] {
        assert_eq!(verifier.verify_at(&headers, b"{}", SVIX_TIMESTAMP), Ok(()));
        assert_eq!(
            verifier.verify_at(&headers, b"{ }", SVIX_TIMESTAMP),
            Err(VerifyError::NoMatchingSignature)
        );
    }

    // A v1 token alone does not satisfy a verifier holding only a public key, and the
    // other way round.
    let v1_only = received(tokens[0]);
    let v1a_only = received(tokens[1]);
    let at = |v: &Verifier, h: &[(&str, String); 3]| v.verify_at(h, b"{}", SVIX_TIMESTAMP);
    let v1_only = [
        ("webhook-id", "msg_1".to_owned()),
        v1_only[1].clone(),
        v1_only[2].clone(),
    ];
    let v1a_only = [
        ("webhook-id", "msg_1".to_owned()),
        v1a_only[1].clone(),
        v1a_only[2].clone(),
    ];
    assert_eq!(at(&by_key, &v1_only), Err(VerifyError::NoMatchingSignature));
    assert_eq!(
        at(&by_secret, &v1a_only),
        Err(VerifyError::NoMatchingSignature)
    );
    assert_eq!(at(&by_key, &v1a_only), Ok(()));

    // Signing with a key alone, then adding a secret.
    let signer = Signer::from_signing_key(&key).with_secret(&secret).unwrap();
    let signature = signer.sign("msg_1", SVIX_TIMESTAMP, b"{}").unwrap();
    assert!(signature.starts_with("v1,") && signature.contains(" v1a,"));
}

#[test]
fn secrets_and_keys_together_are_bounded() {
    let secrets: Vec<Secret> = (0..MAX_SECRETS).map(|_| Secret::generate()).collect();
    let key = SigningKey::generate();
    assert_eq!(
        Signer::new(&secrets)
            .unwrap()
            .with_signing_key(&key)
            .unwrap_err(),
        SecretsError::TooMany
    );
    assert_eq!(
        Verifier::new(&secrets)
            .unwrap()
            .with_public_key(&key.public_key())
            .unwrap_err(),
        SecretsError::TooMany
    );
    let mut signer = Signer::from_signing_key(&key);
    for secret in &secrets[1..] {
        signer = signer.with_secret(secret).unwrap();
    }
    assert_eq!(
        signer.clone().with_secret(&secrets[0]).unwrap_err(),
        SecretsError::TooMany
    );
    assert_eq!(
        signer.sign("msg_1", 0, b"").unwrap().split(' ').count(),
        MAX_SECRETS
    );
}

#[test]
fn v1a_tokens_follow_the_same_header_rules() {
    let key: SigningKey = SVIX_SIGNING_KEY.parse().unwrap();
    let verifier = Verifier::from_public_key(&key.public_key());
    let check =
        |signature: &str| verifier.verify_at(&received(signature), SVIX_BODY, SVIX_TIMESTAMP);
    // Unknown versions and bad v1a tokens beside the valid one change nothing.
    assert_eq!(
        check(&format!("v2,abc v1a, v1a,AAAA {SVIX_SIGNATURE} v1,xyz")),
        Ok(())
    );
    // Truncated, unpadded, empty or flipped v1a tokens never verify.
    let encoded = &SVIX_SIGNATURE[4..];
    for bad in [
        "v1a,".to_owned(),
        format!("v1a,{}", &encoded[..87]),
        format!("v1a,{}", encoded.trim_end_matches('=')),
        format!("v1a,{}A", encoded),
        format!("v1a,B{}", &encoded[1..]),
        format!("V1A,{encoded}"),
    ] {
        assert_eq!(check(&bad), Err(VerifyError::NoMatchingSignature), "{bad}");
    }
    // Tolerance and timestamp rules are the same as for v1.
    assert_eq!(
        verifier.verify_at(&received(SVIX_SIGNATURE), SVIX_BODY, SVIX_TIMESTAMP + 301),
        Err(VerifyError::TimestampTooOld)
    );
    assert_eq!(
        verifier.verify_at(&received(SVIX_SIGNATURE), SVIX_BODY, SVIX_TIMESTAMP - 301),
        Err(VerifyError::TimestampTooNew)
    );
    let many = vec![SVIX_SIGNATURE; 17].join(" ");
    assert_eq!(check(&many), Err(VerifyError::TooManySignatures));
}

/// A signature with a small-order `R` (the identity) that plain Ed25519 verification
/// accepts: `s = k·a` makes `[s]B = [k]A = R + [k]A`. Strict verification refuses it.
#[test]
fn small_order_r_is_refused_as_strict_verification_does() {
    let key: SigningKey = SVIX_SIGNING_KEY.parse().unwrap();
    let keypair = STANDARD.decode(&SVIX_SIGNING_KEY[5..]).unwrap();
    let dalek =
        ed25519_dalek::SigningKey::from_keypair_bytes(&keypair.try_into().unwrap()).unwrap();
    let public = dalek.verifying_key();
    let mut r = [0u8; 32];
    r[0] = 1; // the identity point
    let message = [
        SVIX_ID.as_bytes(),
        b".",
        SVIX_TIMESTAMP.to_string().as_bytes(),
        b".",
        SVIX_BODY,
    ]
    .concat();
    let k = Scalar::from_bytes_mod_order_wide(
        &Sha512::new()
            .chain_update(r)
            .chain_update(public.as_bytes())
            .chain_update(&message)
            .finalize()
            .into(),
    );
    let s = k * dalek.to_scalar();
    let mut forged = [0u8; 64];
    forged[..32].copy_from_slice(&r);
    forged[32..].copy_from_slice(s.as_bytes());
    let forged = ed25519_dalek::Signature::from_bytes(&forged);

    // The forgery passes non-strict verification and fails strict verification…
    assert!(public.multipart_verify(&[&message], &forged).is_ok());
    assert!(public.verify_strict(&message, &forged).is_err());
    // …and ours.
    let token = format!("v1a,{}", STANDARD.encode(forged.to_bytes()));
    let verifier = Verifier::from_public_key(&key.public_key());
    assert_eq!(
        verifier.verify_at(&received(&token), SVIX_BODY, SVIX_TIMESTAMP),
        Err(VerifyError::NoMatchingSignature)
    );
}
