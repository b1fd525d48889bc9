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
