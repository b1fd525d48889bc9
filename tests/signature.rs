//! Signing and verifying: each check of the issue, with its typed error and stable code.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use webhook_kit::{
    HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, MAX_HEADER_LEN, MAX_SECRETS, MAX_SIGNATURES,
    Secret, SecretsError, SignError, SignedHeaders, Signer, Verifier, VerifyError, WebhookHeader,
};

const T: i64 = 1_700_000_000;
const BODY: &[u8] = br#"{"type":"invoice.paid"}"#;

fn setup() -> (Secret, SignedHeaders) {
    let secret = Secret::generate();
    let headers = Signer::from_secret(&secret)
        .headers("msg_1", T, BODY)
        .unwrap();
    (secret, headers)
}

/// The three headers as owned pairs, with one value replaced.
fn with(headers: &SignedHeaders, name: &str, value: &str) -> Vec<(String, String)> {
    headers
        .pairs()
        .iter()
        .map(|&(n, v)| (n.to_owned(), if n == name { value } else { v }.to_owned()))
        .collect()
}

fn without(headers: &SignedHeaders, name: &str) -> Vec<(String, String)> {
    headers
        .pairs()
        .iter()
        .filter(|(n, _)| *n != name)
        .map(|&(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}

#[test]
fn signed_headers_carry_id_timestamp_and_one_v1_signature() {
    let (_, headers) = setup();
    assert_eq!(headers.id(), "msg_1");
    assert_eq!(headers.timestamp(), "1700000000");
    let signature = headers.signature();
    assert!(signature.starts_with("v1,"), "{signature}");
    assert_eq!(signature.len(), 3 + 44);
    assert_eq!(
        headers.pairs().map(|(n, _)| n),
        ["webhook-id", "webhook-timestamp", "webhook-signature"]
    );
    assert_eq!(
        [HEADER_ID, HEADER_TIMESTAMP, HEADER_SIGNATURE],
        headers.pairs().map(|(n, _)| n)
    );
}

#[test]
fn several_secrets_sign_newest_first() {
    let (new, old) = (Secret::generate(), Secret::generate());
    let both = Signer::new(&[&new, &old])
        .unwrap()
        .sign("msg_1", T, BODY)
        .unwrap();
    let only_new = Signer::from_secret(&new).sign("msg_1", T, BODY).unwrap();
    let only_old = Signer::from_secret(&old).sign("msg_1", T, BODY).unwrap();
    assert_eq!(both, format!("{only_new} {only_old}"));
}

#[test]
fn signer_and_verifier_need_one_to_eight_secrets() {
    let none: [&Secret; 0] = [];
    assert_eq!(Signer::new(&none).unwrap_err(), SecretsError::Empty);
    assert_eq!(Verifier::new(&none).unwrap_err(), SecretsError::Empty);
    let many: Vec<Secret> = (0..=MAX_SECRETS).map(|_| Secret::generate()).collect();
    assert_eq!(Signer::new(&many).unwrap_err(), SecretsError::TooMany);
    assert_eq!(Verifier::new(&many).unwrap_err(), SecretsError::TooMany);
    assert!(Signer::new(&many[..MAX_SECRETS]).is_ok());
    assert_eq!(SecretsError::Empty.code(), "secrets_empty");
    assert_eq!(SecretsError::TooMany.code(), "secrets_too_many");
}

#[test]
fn signing_refuses_bad_ids_and_negative_timestamps() {
    let signer = Signer::from_secret(&Secret::generate());
    let long = "a".repeat(MAX_HEADER_LEN + 1);
    for id in ["", "a.b", "a b", "é", "a\n", long.as_str()] {
        assert_eq!(
            signer.sign(id, T, BODY),
            Err(SignError::InvalidMessageId),
            "{id:?}"
        );
    }
    assert!(signer.sign(&"a".repeat(MAX_HEADER_LEN), T, BODY).is_ok());
    assert_eq!(
        signer.sign("msg_1", -1, BODY),
        Err(SignError::InvalidTimestamp)
    );
    assert_eq!(
        signer.sign("msg_1", i64::MIN, BODY),
        Err(SignError::InvalidTimestamp)
    );
    assert!(signer.sign("msg_1", i64::MAX, BODY).is_ok());
    assert!(signer.sign("msg_1", 0, BODY).is_ok());
    assert_eq!(SignError::InvalidMessageId.code(), "message_id_invalid");
    assert_eq!(SignError::InvalidTimestamp.code(), "timestamp_invalid");
}

#[test]
fn empty_and_non_utf8_bodies_sign_and_verify() {
    let secret = Secret::generate();
    let signer = Signer::from_secret(&secret);
    let verifier = Verifier::from_secret(&secret);
    for body in [&b""[..], b"\xff\xfe\x00\x80", b"."] {
        let headers = signer.headers("msg_1", T, body).unwrap();
        assert_eq!(verifier.verify_at(&headers, body, T), Ok(()), "{body:?}");
    }
    let empty = signer.headers("msg_1", T, b"").unwrap();
    assert_eq!(
        verifier.verify_at(&empty, b"\0", T),
        Err(VerifyError::NoMatchingSignature)
    );
}

#[test]
fn header_names_match_case_insensitively() {
    let (secret, headers) = setup();
    let received = [
        ("WEBHOOK-ID", headers.id()),
        ("Webhook-Timestamp", headers.timestamp()),
        ("webhook-SIGNATURE", headers.signature()),
        ("content-type", "application/json"),
    ];
    assert_eq!(
        Verifier::from_secret(&secret).verify_at(&received, BODY, T),
        Ok(())
    );
}

#[test]
fn each_missing_header_is_named() {
    let (secret, headers) = setup();
    let verifier = Verifier::from_secret(&secret);
    for header in [
        WebhookHeader::Id,
        WebhookHeader::Timestamp,
        WebhookHeader::Signature,
    ] {
        let received = without(&headers, header.name());
        let error = verifier.verify_at(&received, BODY, T).unwrap_err();
        assert_eq!(error, VerifyError::MissingHeader(header));
        assert_eq!(error.code(), "header_missing");
        assert!(error.to_string().contains(header.name()), "{error}");
    }
}

#[test]
fn repeated_headers_are_malformed() {
    let (secret, headers) = setup();
    let verifier = Verifier::from_secret(&secret);
    for (name, header) in [
        (HEADER_ID, WebhookHeader::Id),
        (HEADER_TIMESTAMP, WebhookHeader::Timestamp),
        (HEADER_SIGNATURE, WebhookHeader::Signature),
    ] {
        let mut received = with(&headers, "", ""); // all three, unchanged
        let value = received.iter().find(|(n, _)| n == name).unwrap().1.clone();
        received.push((name.to_uppercase(), value));
        assert_eq!(
            verifier.verify_at(&received, BODY, T),
            Err(VerifyError::MalformedHeader(header))
        );
    }
    assert_eq!(
        VerifyError::MalformedHeader(WebhookHeader::Id).code(),
        "header_malformed"
    );
}

#[test]
fn malformed_ids_and_signature_lists_are_refused() {
    let (secret, headers) = setup();
    let verifier = Verifier::from_secret(&secret);
    for id in ["", "msg.1", "msg 1", "msg\t1", "ms\u{e9}"] {
        assert_eq!(
            verifier.verify_at(&with(&headers, HEADER_ID, id), BODY, T),
            Err(VerifyError::MalformedHeader(WebhookHeader::Id)),
            "{id:?}"
        );
    }
    let valid = headers.signature().to_owned();
    for signature in [
        String::new(),
        "   ".to_owned(),
        format!("{valid}\t"),
        format!("{valid} \u{e9}"),
    ] {
        assert_eq!(
            verifier.verify_at(&with(&headers, HEADER_SIGNATURE, &signature), BODY, T),
            Err(VerifyError::MalformedHeader(WebhookHeader::Signature)),
            "{signature:?}"
        );
    }
}

#[test]
fn oversized_headers_are_refused_before_parsing() {
    let (secret, headers) = setup();
    let verifier = Verifier::from_secret(&secret);
    let huge = "1".repeat(MAX_HEADER_LEN + 1);
    for (name, header) in [
        (HEADER_ID, WebhookHeader::Id),
        (HEADER_TIMESTAMP, WebhookHeader::Timestamp),
        (HEADER_SIGNATURE, WebhookHeader::Signature),
    ] {
        let error = verifier
            .verify_at(&with(&headers, name, &huge), BODY, T)
            .unwrap_err();
        assert_eq!(error, VerifyError::HeaderTooLarge(header));
        assert_eq!(error.code(), "header_too_large");
    }
    // Exactly at the limit the signature list is read (and only its valid token counts).
    let valid = headers.signature();
    let padded = format!("{valid}{}", " ".repeat(MAX_HEADER_LEN - valid.len()));
    assert_eq!(
        verifier.verify_at(&with(&headers, HEADER_SIGNATURE, &padded), BODY, T),
        Ok(())
    );
}

#[test]
fn too_many_signature_tokens_are_refused() {
    let (secret, headers) = setup();
    let verifier = Verifier::from_secret(&secret);
    let at_limit = vec![headers.signature(); MAX_SIGNATURES].join(" ");
    assert_eq!(
        verifier.verify_at(&with(&headers, HEADER_SIGNATURE, &at_limit), BODY, T),
        Ok(())
    );
    let over = format!("{at_limit} v2,x");
    let error = verifier
        .verify_at(&with(&headers, HEADER_SIGNATURE, &over), BODY, T)
        .unwrap_err();
    assert_eq!(error, VerifyError::TooManySignatures);
    assert_eq!(error.code(), "too_many_signatures");
}

#[test]
fn timestamps_must_be_canonical_decimals() {
    let (secret, headers) = setup();
    let verifier = Verifier::from_secret(&secret).with_tolerance(Duration::from_secs(u64::MAX));
    for timestamp in [
        "",
        "+1700000000",
        "-1700000000",
        "01700000000",
        "1700000000.0",
        " 1700000000",
        "1700000000 ",
        "0x6553f100",
        "1e9",
        "9223372036854775808",
        "18446744073709551616",
        "\u{661}\u{667}",
    ] {
        let error = verifier
            .verify_at(&with(&headers, HEADER_TIMESTAMP, timestamp), BODY, T)
            .unwrap_err();
        assert_eq!(error, VerifyError::InvalidTimestamp, "{timestamp:?}");
        assert_eq!(error.code(), "timestamp_invalid");
    }
    // Canonical but different: the signature no longer matches.
    for timestamp in ["0", "1700000001", "9223372036854775807"] {
        assert_eq!(
            verifier.verify_at(&with(&headers, HEADER_TIMESTAMP, timestamp), BODY, T),
            Err(VerifyError::NoMatchingSignature),
            "{timestamp:?}"
        );
    }
}

#[test]
fn tolerance_is_five_minutes_both_ways_and_configurable() {
    let (secret, headers) = setup();
    let verifier = Verifier::from_secret(&secret);
    assert_eq!(verifier.tolerance(), Duration::from_secs(300));
    assert_eq!(verifier.verify_at(&headers, BODY, T + 300), Ok(()));
    assert_eq!(verifier.verify_at(&headers, BODY, T - 300), Ok(()));
    let old = verifier.verify_at(&headers, BODY, T + 301).unwrap_err();
    assert_eq!(
        (old, old.code()),
        (VerifyError::TimestampTooOld, "timestamp_too_old")
    );
    let new = verifier.verify_at(&headers, BODY, T - 301).unwrap_err();
    assert_eq!(
        (new, new.code()),
        (VerifyError::TimestampTooNew, "timestamp_too_new")
    );

    let strict = verifier.clone().with_tolerance(Duration::from_secs(10));
    assert_eq!(strict.verify_at(&headers, BODY, T + 10), Ok(()));
    assert_eq!(
        strict.verify_at(&headers, BODY, T + 11),
        Err(VerifyError::TimestampTooOld)
    );
    let lax = verifier.with_tolerance(Duration::from_secs(3600));
    assert_eq!(lax.verify_at(&headers, BODY, T - 3600), Ok(()));
}

#[test]
fn extreme_clocks_and_timestamps_never_panic() {
    let secret = Secret::generate();
    let signer = Signer::from_secret(&secret);
    let verifier = Verifier::from_secret(&secret);
    let at_max = signer.headers("msg_1", i64::MAX, BODY).unwrap();
    let at_zero = signer.headers("msg_1", 0, BODY).unwrap();
    assert_eq!(verifier.verify_at(&at_max, BODY, i64::MAX), Ok(()));
    assert_eq!(
        verifier.verify_at(&at_max, BODY, i64::MIN),
        Err(VerifyError::TimestampTooNew)
    );
    assert_eq!(
        verifier.verify_at(&at_zero, BODY, i64::MAX),
        Err(VerifyError::TimestampTooOld)
    );
    assert_eq!(
        verifier.verify_at(&at_zero, BODY, i64::MIN),
        Err(VerifyError::TimestampTooNew)
    );
    let forever = verifier.with_tolerance(Duration::MAX);
    assert_eq!(forever.verify_at(&at_max, BODY, i64::MIN), Ok(()));
    assert_eq!(forever.verify_at(&at_zero, BODY, i64::MAX), Ok(()));
}

#[test]
fn unknown_versions_are_skipped_and_bad_v1_never_verifies() {
    let (secret, headers) = setup();
    let verifier = Verifier::from_secret(&secret);
    let valid = headers.signature();
    let tag = &valid[3..];
    for list in [
        format!("v1a,{tag} {valid}"),
        format!("v2,{tag} {valid} v0,"),
        format!("nonsense {valid}"),
        format!("  {valid}  "),
    ] {
        assert_eq!(
            verifier.verify_at(&with(&headers, HEADER_SIGNATURE, &list), BODY, T),
            Ok(()),
            "{list}"
        );
    }
    for list in [
        format!("v1a,{tag}"),
        format!("v2,{tag}"),
        format!("V1,{tag}"),
        format!("v1,{}", &tag[..43]),
        format!("v1,{}", &tag[..20]),
        format!("v1,{tag}="),
        format!("v1,{}", tag.trim_end_matches('=')),
        format!("v1, {tag}"),
        "v1,".to_owned(),
        "v1".to_owned(),
    ] {
        assert_eq!(
            verifier.verify_at(&with(&headers, HEADER_SIGNATURE, &list), BODY, T),
            Err(VerifyError::NoMatchingSignature),
            "{list}"
        );
    }
    assert_eq!(
        VerifyError::NoMatchingSignature.code(),
        "signature_mismatch"
    );
}

#[test]
fn non_canonical_base64_of_the_right_tag_is_not_accepted() {
    let (secret, headers) = setup();
    let valid = headers.signature();
    // The 44th character's last two bits are padding; setting them gives the same bytes
    // under a lenient decoder, which must not be used.
    let mut chars: Vec<char> = valid.chars().collect();
    let last = chars.len() - 2;
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let index = alphabet.find(chars[last]).unwrap();
    chars[last] = alphabet.as_bytes()[index ^ 1] as char;
    let altered: String = chars.into_iter().collect();
    assert_ne!(altered, valid);
    assert_eq!(
        Verifier::from_secret(&secret).verify_at(
            &with(&headers, HEADER_SIGNATURE, &altered),
            BODY,
            T
        ),
        Err(VerifyError::NoMatchingSignature)
    );
}

#[test]
fn any_of_several_secrets_verifies() {
    let (new, old, stranger) = (Secret::generate(), Secret::generate(), Secret::generate());
    let from_old = Signer::from_secret(&old).headers("msg_1", T, BODY).unwrap();
    let from_both = Signer::new(&[&new, &old])
        .unwrap()
        .headers("msg_1", T, BODY)
        .unwrap();
    let verifier = Verifier::new(&[&new, &old]).unwrap();
    assert_eq!(verifier.verify_at(&from_old, BODY, T), Ok(()));
    assert_eq!(verifier.verify_at(&from_both, BODY, T), Ok(()));
    assert_eq!(
        Verifier::from_secret(&new).verify_at(&from_both, BODY, T),
        Ok(())
    );
    assert_eq!(
        Verifier::from_secret(&old).verify_at(&from_both, BODY, T),
        Ok(())
    );
    assert_eq!(
        Verifier::from_secret(&stranger).verify_at(&from_both, BODY, T),
        Err(VerifyError::NoMatchingSignature)
    );
}

#[test]
fn verify_reads_the_system_clock() {
    let secret = Secret::generate();
    let signer = Signer::from_secret(&secret);
    let verifier = Verifier::from_secret(&secret);
    let fresh = signer.headers_now("msg_1", BODY).unwrap();
    assert_eq!(verifier.verify(&fresh, BODY), Ok(()));
    let stale = signer.headers("msg_1", T, BODY).unwrap();
    assert_eq!(
        verifier.verify(&stale, BODY),
        Err(VerifyError::TimestampTooOld)
    );
}

#[test]
fn mismatch_errors_carry_no_detail_and_nothing_shows_keys() {
    let (secret, headers) = setup();
    let error = Verifier::from_secret(&Secret::generate())
        .verify_at(&headers, BODY, T)
        .unwrap_err();
    assert_eq!(error.to_string(), "no matching signature");
    assert_eq!(format!("{error:?}"), "NoMatchingSignature");
    let signer = format!("{:?}", Signer::from_secret(&secret));
    let verifier = format!("{:?}", Verifier::from_secret(&secret));
    for text in [&signer, &verifier] {
        assert!(text.contains("REDACTED"), "{text}");
        assert!(!text.contains(&secret.expose_secret()[6..]), "{text}");
    }
}
