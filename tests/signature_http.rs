//! The `http` feature: verifying from an `http::HeaderMap`, writing signed headers into a
//! `HeaderMap` or an `http::Request`.
#![cfg(feature = "http")]
#![allow(clippy::unwrap_used)]

use http::{HeaderMap, HeaderValue, Request};
use webhook_kit::{Secret, Signer, Verifier, VerifyError, WebhookHeader};

const T: i64 = 1_700_000_000;

#[test]
fn signed_headers_go_into_a_request_and_verify_from_its_header_map() {
    let secret = Secret::generate();
    let signed = Signer::from_secret(&secret)
        .headers("msg_1", T, b"{}")
        .unwrap();
    let mut request = Request::post("https://example.com/hook")
        .header("webhook-signature", "v1,stale")
        .body(b"{}".to_vec())
        .unwrap();
    signed.apply_to(&mut request);
    let headers = request.headers();
    assert_eq!(headers.get("Webhook-Id").unwrap(), "msg_1");
    assert_eq!(headers.get("webhook-timestamp").unwrap(), "1700000000");
    assert_eq!(
        headers.get_all("webhook-signature").iter().count(),
        1,
        "replaced, not appended"
    );
    assert_eq!(
        headers.get("webhook-signature").unwrap(),
        signed.signature()
    );
    let verifier = Verifier::from_secret(&secret);
    assert_eq!(
        verifier.verify_at(request.headers(), request.body(), T),
        Ok(())
    );
    assert_eq!(
        verifier.verify_at(request.headers(), b"{ }", T),
        Err(VerifyError::NoMatchingSignature)
    );
}

#[test]
fn header_map_lookups_report_missing_and_repeated_headers() {
    let secret = Secret::generate();
    let signed = Signer::from_secret(&secret)
        .headers("msg_1", T, b"")
        .unwrap();
    let mut headers = HeaderMap::new();
    signed.insert_into(&mut headers);
    let verifier = Verifier::from_secret(&secret);
    assert_eq!(verifier.verify_at(&headers, b"", T), Ok(()));

    let mut missing = headers.clone();
    missing.remove("webhook-timestamp");
    assert_eq!(
        verifier.verify_at(&missing, b"", T),
        Err(VerifyError::MissingHeader(WebhookHeader::Timestamp))
    );

    let mut repeated = headers.clone();
    repeated.append("webhook-id", HeaderValue::from_static("msg_2"));
    assert_eq!(
        verifier.verify_at(&repeated, b"", T),
        Err(VerifyError::MalformedHeader(WebhookHeader::Id))
    );

    let mut opaque = headers;
    opaque.insert("webhook-id", HeaderValue::from_bytes(b"msg\xff").unwrap());
    assert_eq!(
        verifier.verify_at(&opaque, b"", T),
        Err(VerifyError::MalformedHeader(WebhookHeader::Id))
    );
}

#[test]
fn standardwebhooks_verifies_a_header_map_we_filled() {
    let secret = Secret::generate();
    let now = chrono::Utc::now().timestamp();
    let signed = Signer::new(&[&Secret::generate(), &secret])
        .unwrap()
        .headers("msg_1", now, b"{\"a\":1}")
        .unwrap();
    let mut headers = HeaderMap::new();
    signed.insert_into(&mut headers);
    let peer = standardwebhooks::Webhook::new(secret.expose_secret()).unwrap();
    assert!(peer.verify(b"{\"a\":1}", &headers).is_ok());
}
