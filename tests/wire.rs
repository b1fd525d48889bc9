//! Request parsing and response bodies.
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use webhook_kit::{
    AccountFilter, AccountFilterUpdate, AccountId, AccountType, CreateWebhookRequest,
    MAX_ACCOUNT_IDS, MAX_BODY_LEN, MAX_ECHOED_CHARS, MAX_NAME_LEN, MAX_URL_LEN, OrganizationId,
    Scope, UpdateWebhookRequest, Webhook, WebhookResponse, WebhookSecretResponse,
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

/// A create body with `ids` as its account ids, compact.
fn body_with_ids<'a>(url: &str, ids: impl IntoIterator<Item = &'a str>) -> String {
    let ids: Vec<&str> = ids.into_iter().collect();
    json!({"url": url, "account_ids": ids}).to_string()
}

#[test]
fn a_body_over_the_limit_is_refused_before_parsing() {
    // Valid JSON, but one byte too long.
    let mut body = format!(r#"{{"url": "{URL}"}}"#).into_bytes();
    body.resize(MAX_BODY_LEN + 1, b' ');
    for error in [
        CreateWebhookRequest::from_json(&body).unwrap_err(),
        UpdateWebhookRequest::from_json(&body).unwrap_err(),
    ] {
        assert_eq!(error.code(), "body_invalid");
        assert_eq!(
            error.to_string(),
            format!("invalid request body: body is longer than {MAX_BODY_LEN} bytes")
        );
    }
    body.truncate(MAX_BODY_LEN);
    assert!(CreateWebhookRequest::from_json(&body).is_ok());
    assert!(UpdateWebhookRequest::from_json(&body).is_ok());
}

#[test]
fn the_body_limit_holds_the_longest_url_and_the_most_and_longest_ids() {
    let url = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN - 20));
    let ids: Vec<String> = (0..MAX_ACCOUNT_IDS)
        .map(|index| format!("{index:04}{}", "\"".repeat(MAX_NAME_LEN - 4)))
        .collect();
    // Pretty-printed, and every id made of characters JSON must escape.
    let body = serde_json::to_string_pretty(&json!({"url": url, "account_ids": ids})).unwrap();
    assert!(body.len() <= MAX_BODY_LEN, "{}", body.len());
    let request = CreateWebhookRequest::from_json(body.as_bytes()).unwrap();
    assert_eq!(request.url.as_str(), url);
    assert_eq!(request.account_filter.account_ids().len(), MAX_ACCOUNT_IDS);
}

#[test]
fn account_ids_count_every_element_duplicates_included() {
    let thousand_copies = body_with_ids(URL, std::iter::repeat_n("acc_1", MAX_ACCOUNT_IDS));
    let request = CreateWebhookRequest::from_json(thousand_copies.as_bytes()).unwrap();
    assert_eq!(request.account_filter.account_ids().len(), 1);

    let one_more = body_with_ids(URL, std::iter::repeat_n("acc_1", MAX_ACCOUNT_IDS + 1));
    let error = CreateWebhookRequest::from_json(one_more.as_bytes()).unwrap_err();
    assert_eq!(error.code(), "account_ids_invalid");
    assert!(error.to_string().contains("duplicates included"), "{error}");
    let update = UpdateWebhookRequest::from_json(one_more.as_bytes()).unwrap_err();
    assert_eq!(update.code(), "account_ids_invalid");

    // Through serde, where no body limit applies, the same rule with the code in front.
    let copies: Vec<&str> = std::iter::repeat_n("acc_1", 100_000).collect();
    let refused =
        serde_json::from_value::<CreateWebhookRequest>(json!({"url": URL, "account_ids": copies}))
            .unwrap_err();
    assert!(
        refused.to_string().starts_with("account_ids_invalid"),
        "{refused}"
    );
}

#[test]
fn the_first_refused_element_decides_the_code() {
    let bad_then_many = body_with_ids(
        URL,
        std::iter::once("a b").chain(std::iter::repeat_n("acc_1", 2000)),
    );
    assert_eq!(code_of_create(&bad_then_many), "account_ids_invalid");
    let mut not_a_string = json!({"url": URL, "account_ids": ["acc_1"]});
    not_a_string["account_ids"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "acc_2"}));
    assert_eq!(code_of_create(&not_a_string.to_string()), "body_invalid");
}

/// Whether `message` is short and holds nothing a terminal or a log would interpret.
fn assert_safe_to_log(message: &str) {
    assert!(message.chars().count() <= 300, "{} chars", message.len());
    assert!(
        !message.chars().any(|c| c.is_control() || c == '\u{202e}'),
        "{message:?}"
    );
}

#[test]
fn errors_never_echo_raw_or_long_input() {
    let hostile_key = "x\u{1b}[31m\nINJECTED\u{202e}\\";
    let body = json!({"url": URL, hostile_key: 1}).to_string();
    let error = CreateWebhookRequest::from_json(body.as_bytes()).unwrap_err();
    assert_eq!(error.code(), "body_invalid");
    let message = error.to_string();
    assert_safe_to_log(&message);
    assert!(
        message.contains(r"unknown field `x\u{1b}[31m\nINJECTED\u{202e}\\`"),
        "{message}"
    );
    let json_body: Value = serde_json::to_value(error.to_body()).unwrap();
    assert_safe_to_log(json_body["message"].as_str().unwrap());

    let long = format!("{}\u{1b}", "k".repeat(1_000_000));
    let long_value = "v\u{1b}\n".repeat(300_000);
    let bodies = [
        json!({"url": URL, &long: 1}),
        json!({"url": URL, "enabled": long_value}),
        json!({"url": URL, "account_ids": long_value}),
        json!({"url": URL, "account_ids": [long_value]}),
        json!({"url": long_value}),
    ];
    for body in &bodies {
        let text = body.to_string();
        for error in [
            CreateWebhookRequest::from_json(text.as_bytes()).unwrap_err(),
            UpdateWebhookRequest::from_json(text.as_bytes()).unwrap_err(),
        ] {
            assert_safe_to_log(&error.to_string());
            assert_safe_to_log(&error.to_body().message);
            assert!(!error.to_string().contains("kkkk".repeat(20).as_str()));
        }
        // Through serde, with no body limit in the way.
        let refused = serde_json::from_str::<UpdateWebhookRequest>(&text).unwrap_err();
        assert_safe_to_log(&refused.to_string());
    }
    // Under the body limit, the 1 MiB key is parsed, and its quote cut short.
    let key = "k".repeat(MAX_BODY_LEN - 100);
    let error =
        CreateWebhookRequest::from_json(json!({"url": URL, &key: 1}).to_string().as_bytes())
            .unwrap_err();
    let message = error.to_string();
    assert_safe_to_log(&message);
    assert!(
        message.contains(&format!(
            "unknown field `{}…`",
            "k".repeat(MAX_ECHOED_CHARS)
        )),
        "{message}"
    );
}
