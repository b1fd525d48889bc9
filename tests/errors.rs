//! Error codes and statuses are API: they are pinned here.
#![allow(clippy::unwrap_used)]

use webhook_kit::{
    AccountFilter, AccountId, Error, ErrorBody, Refusal, StoreError, UrlError, WebhookId,
};

fn io_error() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::ConnectionRefused,
        "secret-internal-detail at 10.0.0.7",
    )
}

#[test]
fn every_code_and_status_is_stable() {
    let too_many = AccountFilter::from_ids(
        (0..1001).map(|index| format!("acc_{index}").parse::<AccountId>().unwrap()),
    )
    .unwrap_err();
    let cases: Vec<(Error, &str, u16)> = vec![
        (UrlError::NoMatch.into(), "url_invalid", 400),
        (UrlError::TooLong.into(), "url_invalid", 400),
        (UrlError::Unparsable.into(), "url_invalid", 400),
        (
            UrlError::NotAllowed(Refusal::IpAddress).into(),
            "url_not_allowed",
            400,
        ),
        (
            "x".parse::<WebhookId>().unwrap_err().into(),
            "id_invalid",
            400,
        ),
        (
            "a b".parse::<AccountId>().unwrap_err().into(),
            "account_ids_invalid",
            400,
        ),
        (too_many.into(), "account_ids_invalid", 400),
        (
            Error::BodyInvalid("missing field `url`".into()),
            "body_invalid",
            400,
        ),
        (
            Error::RotationInvalid("overlap too long"),
            "rotation_invalid",
            400,
        ),
        (Error::NotFound, "not_found", 404),
        (Error::Conflict, "conflict", 409),
        (StoreError::NotFound.into(), "not_found", 404),
        (
            StoreError::Conflict {
                expected: 1,
                actual: 2,
            }
            .into(),
            "conflict",
            409,
        ),
        (
            StoreError::backend(io_error()).into(),
            "internal_error",
            500,
        ),
        (
            StoreError::retryable(io_error()).into(),
            "internal_error",
            500,
        ),
        (StoreError::AlreadyExists.into(), "internal_error", 500),
    ];
    for (error, code, status) in cases {
        assert_eq!(error.code(), code, "{error:?}");
        assert_eq!(error.http_status(), status, "{error:?}");
        let body = error.to_body();
        assert_eq!(body.code, code);
        assert_eq!(body.message, error.to_string());
    }
}

#[test]
fn store_failures_hide_their_internals_but_keep_the_source() {
    let error = Error::from(StoreError::retryable(io_error()));
    assert_eq!(error.to_string(), "storage failure");
    assert!(error.is_retryable());
    let body = serde_json::to_string(&error.to_body()).unwrap();
    assert!(!body.contains("secret-internal-detail"), "{body}");
    assert!(!body.contains("10.0.0.7"), "{body}");
    let source = std::error::Error::source(&error).unwrap();
    let backend = std::error::Error::source(source).unwrap();
    assert!(backend.to_string().contains("secret-internal-detail"));

    assert!(!Error::from(StoreError::backend(io_error())).is_retryable());
    assert!(Error::Conflict.is_retryable());
    assert!(!Error::NotFound.is_retryable());
}

#[test]
fn the_error_body_is_code_and_message() {
    let body = Error::NotFound.to_body();
    let json = serde_json::to_value(&body).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"code": "not_found", "message": "webhook not found"})
    );
    assert_eq!(serde_json::from_value::<ErrorBody>(json).unwrap(), body);
}

#[test]
fn an_unreadable_webhook_has_its_own_code_and_hides_its_reason() {
    let id = WebhookId::generate();
    let unreadable = || webhook_kit::UnreadableWebhook::new(id.clone(), io_error());
    let error = Error::from(StoreError::Unreadable(unreadable()));
    assert_eq!(error.code(), "webhook_unreadable");
    assert_eq!(error.http_status(), 500);
    assert!(!error.is_retryable());
    assert_eq!(error.to_string(), "the stored webhook cannot be read");
    let body = serde_json::to_string(&error.to_body()).unwrap();
    assert!(!body.contains("secret-internal-detail"), "{body}");
    let Error::Unreadable(inner) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(inner.webhook_id(), &id);
    assert!(
        inner
            .reason()
            .to_string()
            .contains("secret-internal-detail")
    );
    let delivery = webhook_kit::DeliveryError::from(StoreError::Unreadable(unreadable()));
    assert_eq!(delivery.code(), "webhook_unreadable");
    assert!(!delivery.is_retryable());
}
