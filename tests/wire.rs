//! Request parsing and response bodies.
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use webhook_kit::{
    AccountFilter, AccountFilterUpdate, AccountId, AccountType, CreateWebhookRequest,
    OrganizationId, Scope, UpdateWebhookRequest, Webhook, WebhookResponse, WebhookSecretResponse,
};

const URL: &str = "https://example.com/hook";

fn code_of_create(body: &str) -> &'static str {
    CreateWebhookRequest::from_json(body.as_bytes())
        .unwrap_err()
        .code()
}

fn code_of_update(body: &str) -> &'static str {
    UpdateWebhookRequest::from_json(body.as_bytes())
        .unwrap_err()
        .code()
}

fn message_of_create(body: &str) -> String {
    CreateWebhookRequest::from_json(body.as_bytes())
        .unwrap_err()
        .to_string()
}

#[test]
fn create_takes_a_url_and_optional_account_ids() {
    let plain = CreateWebhookRequest::from_json(br#"{"url": "https://example.com/hook"}"#).unwrap();
    assert_eq!(plain.url.as_str(), URL);
    assert!(plain.account_filter.is_all());

    for all in [
        r#"{"url": "https://example.com/hook", "account_ids": null}"#,
        r#"{"url": "https://example.com/hook", "account_ids": []}"#,
    ] {
        let request = CreateWebhookRequest::from_json(all.as_bytes()).unwrap();
        assert!(request.account_filter.is_all(), "{all}");
    }

    let filtered = CreateWebhookRequest::from_json(
        br#" {"account_ids": ["b", "a", "b"], "url": "https://example.com/hook"} "#,
    )
    .unwrap();
    let ids: Vec<&str> = filtered
        .account_filter
        .account_ids()
        .iter()
        .map(AccountId::as_str)
        .collect();
    assert_eq!(ids, ["a", "b"]);
}

#[test]
fn create_refuses_malformed_bodies_naming_the_field() {
    let cases = [
        ("", "EOF"),
        ("{", "EOF"),
        ("null", "JSON object"),
        (r#"["https://example.com/hook"]"#, "JSON object"),
        (r#""https://example.com/hook""#, "JSON object"),
        ("{}", "missing field `url`"),
        (r#"{"url": null}"#, "field `url`"),
        (r#"{"url": 42}"#, "field `url`"),
        (
            r#"{"url": "https://example.com/hook", "enabled": true}"#,
            "unknown field `enabled`",
        ),
        (
            r#"{"url": "https://example.com/hook", "secret": "x"}"#,
            "unknown field `secret`",
        ),
        (
            r#"{"url": "https://example.com/hook", "url": "https://example.com/other"}"#,
            "duplicate field `url`",
        ),
        (
            r#"{"url": "https://example.com/hook", "account_ids": [], "account_ids": null}"#,
            "duplicate field `account_ids`",
        ),
        (
            r#"{"url": "https://example.com/hook", "account_ids": "acc"}"#,
            "field `account_ids`",
        ),
        (
            r#"{"url": "https://example.com/hook", "account_ids": [1]}"#,
            "field `account_ids`",
        ),
        (
            r#"{"url": "https://example.com/hook", "account_ids": [null]}"#,
            "field `account_ids`",
        ),
        (
            r#"{"url": "https://example.com/hook"} {}"#,
            "trailing characters",
        ),
        (
            r#"{"url": "https://example.com/hook"}x"#,
            "trailing characters",
        ),
    ];
    for (body, named) in cases {
        assert_eq!(code_of_create(body), "body_invalid", "{body}");
        let message = message_of_create(body);
        assert!(message.contains(named), "{body}: {message}");
    }
}

#[test]
fn create_gives_field_codes_for_bad_values() {
    assert_eq!(
        code_of_create(r#"{"url": "http://example.com/hook"}"#),
        "url_invalid"
    );
    assert_eq!(
        code_of_create(r#"{"url": "https://example.com/hook", "account_ids": ["a b"]}"#),
        "account_ids_invalid"
    );
    let too_many: Vec<String> = (0..1001).map(|index| format!("acc_{index}")).collect();
    let body = json!({"url": URL, "account_ids": too_many}).to_string();
    assert_eq!(code_of_create(&body), "account_ids_invalid");
}

#[test]
fn update_has_three_states_for_account_ids() {
    let keep = UpdateWebhookRequest::from_json(br#"{"url": "https://example.com/hook"}"#).unwrap();
    assert_eq!(keep.account_filter, AccountFilterUpdate::Keep);
    assert_eq!(keep.enabled, None);

    let keep_null = UpdateWebhookRequest::from_json(
        br#"{"url": "https://example.com/hook", "account_ids": null}"#,
    )
    .unwrap();
    assert_eq!(keep_null.account_filter, AccountFilterUpdate::Keep);

    let clear = UpdateWebhookRequest::from_json(
        br#"{"url": "https://example.com/hook", "account_ids": []}"#,
    )
    .unwrap();
    assert_eq!(
        clear.account_filter,
        AccountFilterUpdate::Set(AccountFilter::all())
    );

    let replace = UpdateWebhookRequest::from_json(
        br#"{"url": "https://example.com/hook", "enabled": false, "account_ids": ["x"]}"#,
    )
    .unwrap();
    assert_eq!(replace.enabled, Some(false));
    let expected = AccountFilter::from_ids(["x".parse().unwrap()]).unwrap();
    assert_eq!(replace.account_filter, AccountFilterUpdate::Set(expected));
}

#[test]
fn update_refuses_malformed_bodies() {
    for body in [
        r#"{"enabled": true}"#,
        r#"{"url": "https://example.com/hook", "enabled": null}"#,
        r#"{"url": "https://example.com/hook", "enabled": "true"}"#,
        r#"{"url": "https://example.com/hook", "enabled": 1}"#,
        r#"{"url": "https://example.com/hook", "enabled": true, "enabled": false}"#,
        r#"{"url": "https://example.com/hook", "id": "wh_x"}"#,
        r#"["https://example.com/hook", true]"#,
    ] {
        assert_eq!(code_of_update(body), "body_invalid", "{body}");
    }
    assert_eq!(
        code_of_update(r#"{"url": "ftp://example.com"}"#),
        "url_invalid"
    );
}

#[test]
fn requests_deserialize_through_serde_with_the_same_rules() {
    let request: CreateWebhookRequest =
        serde_json::from_value(json!({"url": URL, "account_ids": ["a"]})).unwrap();
    assert!(!request.account_filter.is_all());
    let refused = serde_json::from_value::<CreateWebhookRequest>(json!([URL])).unwrap_err();
    assert!(refused.to_string().contains("JSON object"), "{refused}");
    let refused =
        serde_json::from_value::<UpdateWebhookRequest>(json!({"url": "http://x.com"})).unwrap_err();
    assert!(refused.to_string().starts_with("url_invalid"), "{refused}");
}

fn webhook(filter: AccountFilter) -> Webhook {
    let scope = Scope::new(
        "org_1".parse::<OrganizationId>().unwrap(),
        AccountType::Test,
    );
    Webhook::new(scope, URL.parse().unwrap(), filter)
}

#[test]
fn responses_have_exactly_the_seeds_fields() {
    let hook = webhook(AccountFilter::all());
    let masked = serde_json::to_value(WebhookResponse::masked(&hook)).unwrap();
    let object = masked.as_object().unwrap();
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "account_type",
            "created_at",
            "enabled",
            "id",
            "secret",
            "url"
        ]
    );
    assert_eq!(masked["id"], hook.id().as_str());
    assert_eq!(masked["url"], URL);
    assert_eq!(masked["enabled"], true);
    assert_eq!(masked["account_type"], "test");
    let created_at = masked["created_at"].as_str().unwrap();
    assert!(created_at.ends_with('Z'), "{created_at}");
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(created_at).unwrap(),
        hook.created_at()
    );

    let filtered =
        webhook(AccountFilter::from_ids(["b".parse().unwrap(), "a".parse().unwrap()]).unwrap());
    let body = serde_json::to_value(WebhookResponse::masked(&filtered)).unwrap();
    assert_eq!(body["account_ids"], json!(["a", "b"]));
}

#[test]
fn only_the_full_response_carries_the_whole_secret() {
    let hook = webhook(AccountFilter::all());
    let full_secret = hook.secret().expose_secret();

    let masked = WebhookResponse::masked(&hook);
    let masked_json = serde_json::to_value(&masked).unwrap();
    assert_eq!(
        masked_json["secret"],
        Value::from(&full_secret[full_secret.len() - 4..])
    );
    assert_eq!(masked.secret_last4(), &full_secret[full_secret.len() - 4..]);
    assert!(!format!("{masked:?}").contains(full_secret));

    let full = WebhookSecretResponse::with_full_secret(&hook);
    let full_json = serde_json::to_value(&full).unwrap();
    assert_eq!(full_json["secret"], full_secret);
    assert_eq!(full_json["id"], masked_json["id"]);
    assert!(!format!("{full:?}").contains(&full_secret[6..]));
}
