//! Secrets: generation, parsing, redaction and masking.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use webhook_kit::{Secret, SecretError, mask};

#[test]
fn generated_secrets_are_distinct_and_well_formed() {
    let secrets: Vec<Secret> = (0..10_000).map(|_| Secret::generate()).collect();
    let texts: HashSet<&str> = secrets.iter().map(Secret::expose_secret).collect();
    assert_eq!(texts.len(), 10_000);
    for secret in &secrets {
        let text = secret.expose_secret();
        let encoded = text.strip_prefix("whsec_").unwrap();
        assert_eq!(STANDARD.decode(encoded).unwrap(), secret.expose_key());
        assert_eq!(secret.expose_key().len(), 32);
        assert_eq!(
            text.parse::<Secret>().unwrap().expose_key(),
            secret.expose_key()
        );
    }
}

#[test]
fn debug_never_shows_the_secret() {
    let secret = Secret::generate();
    let shown = format!("{secret:?} {secret:#?}");
    assert!(shown.contains("[REDACTED]"));
    let text = secret.expose_secret();
    assert!(!shown.contains(&text[6..]));
    assert!(!shown.contains(&secret.masked()));
}

#[test]
fn the_masked_form_is_the_last_4_characters() {
    let secret: Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse().unwrap();
    assert_eq!(secret.masked(), "LaSw");
    assert_eq!(mask(""), "");
    assert_eq!(mask("abc"), "abc");
    assert_eq!(mask("abcd"), "abcd");
    assert_eq!(mask("abcde"), "bcde");
    assert_eq!(mask("ééééé"), "éééé");
    assert_eq!(mask("a😀b😀c"), "😀b😀c");
}

#[test]
fn secrets_of_24_to_64_bytes_are_accepted() {
    for len in [24, 32, 48, 64] {
        let text = format!("whsec_{}", STANDARD.encode(vec![7u8; len]));
        assert_eq!(text.parse::<Secret>().unwrap().expose_key(), vec![7u8; len]);
    }
    // The Standard Webhooks specification's example secret (24 bytes, Svix's size).
    assert!(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
            .parse::<Secret>()
            .is_ok()
    );
}

#[test]
fn malformed_secrets_are_refused_with_a_reason() {
    let cases: &[(String, SecretError)] = &[
        (String::new(), SecretError::Empty),
        (" whsec_abc".to_owned(), SecretError::Whitespace),
        (
            format!("whsec_{} ", STANDARD.encode([1u8; 32])),
            SecretError::Whitespace,
        ),
        ("whsec_ab\ncd".to_owned(), SecretError::Whitespace),
        (STANDARD.encode([1u8; 32]), SecretError::MissingPrefix),
        (
            format!("WHSEC_{}", STANDARD.encode([1u8; 32])),
            SecretError::MissingPrefix,
        ),
        (
            format!("whsek_{}", STANDARD.encode([1u8; 32])),
            SecretError::MissingPrefix,
        ),
        ("whsec_!!!!".to_owned(), SecretError::InvalidBase64),
        ("whsec_".to_owned(), SecretError::TooShort),
        (
            format!("whsec_{}", STANDARD.encode([1u8; 23])),
            SecretError::TooShort,
        ),
        (
            format!("whsec_{}", STANDARD.encode([1u8; 65])),
            SecretError::TooLong,
        ),
        (
            format!("whsec_{}", "A".repeat(100_000)),
            SecretError::TooLong,
        ),
        (
            format!("whsec_{}", STANDARD.encode([1u8; 32]).trim_end_matches('=')),
            SecretError::InvalidBase64,
        ),
    ];
    for (input, expected) in cases {
        let error = input.parse::<Secret>().unwrap_err();
        assert_eq!(&error, expected, "{input:?}");
        assert_eq!(error.code(), "secret_invalid");
        if input.len() > 10 {
            assert!(!error.to_string().contains(&input[6..]), "{input:?}");
        }
    }
}

/// Issue 13, point 3: the lenient constructor takes every form other senders hand out,
/// and its secrets verify what a plain HMAC of the key signed.
#[test]
fn lenient_secrets_take_every_senders_form() {
    use base64::engine::general_purpose::STANDARD_NO_PAD;
    use hmac::{Hmac, KeyInit as _, Mac as _};

    for len in [1, 16, 24, 32, 64, 100, webhook_kit::MAX_LENIENT_KEY_LEN] {
        let key: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
        mac.update(b"msg_1.1700000000.{}");
        let token = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
        let received = [
            ("webhook-id", "msg_1"),
            ("webhook-timestamp", "1700000000"),
            ("webhook-signature", token.as_str()),
        ];
        for text in [
            format!("whsec_{}", STANDARD.encode(&key)),
            format!("whsec_{}", STANDARD_NO_PAD.encode(&key)),
            STANDARD.encode(&key),
            STANDARD_NO_PAD.encode(&key),
        ] {
            let secret = Secret::parse_lenient(&text).unwrap();
            assert_eq!(secret.expose_key(), key.as_slice(), "{text}");
            assert_eq!(
                secret.expose_secret(),
                format!("whsec_{}", STANDARD.encode(&key))
            );
            let verifier = webhook_kit::Verifier::from_secret(&secret);
            assert_eq!(
                verifier.verify_at(&received, b"{}", 1_700_000_000),
                Ok(()),
                "{text}"
            );
        }
    }
    // The strict parser still refuses what only the lenient one takes.
    assert!(
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
            .parse::<Secret>()
            .is_err()
    );
    assert!("whsec_AAECAwQFBgcICQoLDA0ODw".parse::<Secret>().is_err());
    assert!(Secret::parse_lenient("whsec_AAECAwQFBgcICQoLDA0ODw").is_ok());
}

#[test]
fn lenient_secrets_still_refuse_what_is_not_a_key() {
    use webhook_kit::MAX_LENIENT_KEY_LEN;

    let too_long = "A".repeat(MAX_LENIENT_KEY_LEN.div_ceil(3) * 4 + 4);
    for (text, expected) in [
        ("", SecretError::Empty),
        ("whsec_", SecretError::Empty),
        ("whsec_ abc", SecretError::Whitespace),
        ("abc\n", SecretError::Whitespace),
        ("whsec_abc-_", SecretError::InvalidBase64),
        ("whsec_a", SecretError::InvalidBase64),
        ("whsec_YWJj=", SecretError::InvalidBase64),
        (too_long.as_str(), SecretError::TooLong),
    ] {
        let error = Secret::parse_lenient(text).unwrap_err();
        assert_eq!(error, expected, "{text:?}");
        assert_eq!(error.code(), "secret_invalid");
    }
}
