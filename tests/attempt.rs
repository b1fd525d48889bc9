//! The attempt record: stable codes, who gets the blame, and a `Debug` without the body.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use chrono::Utc;
use webhook_kit::{Attempt, AttemptError, ErrorKind, Outcome};

#[test]
fn error_kinds_have_stable_codes_and_only_ours_spare_the_endpoint() {
    let kinds = [
        (ErrorKind::Dns, "dns", true),
        (ErrorKind::Connect, "connect", true),
        (ErrorKind::Tls, "tls", true),
        (ErrorKind::Timeout, "timeout", true),
        (
            ErrorKind::DestinationNotAllowed,
            "destination_not_allowed",
            true,
        ),
        (ErrorKind::Redirect, "redirect", true),
        (ErrorKind::Body, "body", true),
        (ErrorKind::Internal, "internal", false),
    ];
    for (kind, code, endpoint) in kinds {
        assert_eq!(kind.code(), code);
        assert_eq!(kind.is_endpoint_fault(), endpoint, "{code}");
        let attempt = Attempt::failed(Utc::now(), Duration::ZERO, AttemptError::new(kind, "x"));
        assert_eq!(attempt.code(), code);
        assert_eq!(attempt.is_endpoint_failure(), endpoint, "{code}");
        assert_eq!(attempt.outcome(), Outcome::Retry { after: None });
    }
}

#[test]
fn outcomes_have_stable_codes() {
    assert_eq!(Outcome::Delivered.code(), "delivered");
    assert_eq!(Outcome::Gone.code(), "gone");
    assert_eq!(
        Outcome::Retry {
            after: Some(Duration::from_secs(1))
        }
        .code(),
        "retry"
    );
    let now = Utc::now();
    assert!(!Attempt::new(now, Duration::ZERO, Outcome::Delivered).is_endpoint_failure());
    assert!(Attempt::new(now, Duration::ZERO, Outcome::Gone).is_endpoint_failure());
    let retry = Attempt::new(now, Duration::ZERO, Outcome::Retry { after: None }).with_status(500);
    assert!(retry.is_endpoint_failure());
    assert_eq!(retry.code(), "retry");
    // A 2xx whose body broke afterwards is delivered, and not the endpoint's failure.
    let body = AttemptError::new(ErrorKind::Body, "cut short");
    let delivered = Attempt::new(now, Duration::ZERO, Outcome::Delivered).with_error(body.clone());
    assert_eq!(delivered.code(), "delivered");
    assert!(!delivered.is_endpoint_failure());
    let gone = Attempt::new(now, Duration::ZERO, Outcome::Gone).with_error(body);
    assert_eq!(gone.code(), "gone");
    assert!(gone.is_endpoint_failure());
}

#[test]
fn debug_shows_the_length_of_the_response_body_not_its_bytes() {
    let attempt = Attempt::new(Utc::now(), Duration::from_millis(3), Outcome::Delivered)
        .with_status(200)
        .with_remote_addr("127.0.0.1:8443".parse().unwrap())
        .with_response_body(b"token=hunter2".to_vec());
    let debug = format!("{attempt:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(debug.contains("response_body_len: 13"), "{debug}");
    assert_eq!(attempt.response_body(), b"token=hunter2");
    assert_eq!(
        attempt.remote_addr(),
        Some("127.0.0.1:8443".parse().unwrap())
    );
    let error = AttemptError::new(ErrorKind::Tls, "bad certificate");
    assert_eq!(error.to_string(), "tls: bad certificate");
    assert_eq!(error.message(), "bad certificate");
}
