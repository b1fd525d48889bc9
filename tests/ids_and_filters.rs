//! Ids, account ids, account types and account filters.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;

use webhook_kit::{
    AccountFilter, AccountId, AccountType, IdKind, MAX_ACCOUNT_IDS, OrganizationId, WebhookId,
};

#[test]
fn generated_webhook_ids_are_unique_url_safe_and_time_ordered() {
    let ids: Vec<WebhookId> = (0..10_000).map(|_| WebhookId::generate()).collect();
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
    for id in &ids {
        let text = id.as_str();
        assert!(text.starts_with("wh_") && text.len() == 29, "{text}");
        assert!(!text.contains('.'));
        assert!(
            text.bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
        );
    }
}

#[test]
fn ids_made_on_other_threads_are_unique_too() {
    let handles: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(|| {
                (0..2_000)
                    .map(|_| WebhookId::generate())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let all: Vec<WebhookId> = handles
        .into_iter()
        .flat_map(|handle| handle.join().unwrap())
        .collect();
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), 8_000);
}

#[test]
fn malformed_webhook_ids_are_id_invalid() {
    let valid = WebhookId::generate().as_str().to_owned();
    let long = format!("{valid}0");
    let with_dot = format!("{}.", &valid[..28]);
    let with_slash = format!("{}/", &valid[..28]);
    let with_space = format!("{} ", &valid[..28]);
    let with_control = format!("{}\u{7}", &valid[..28]);
    let with_newline = format!("{}\n", &valid[..28]);
    let non_ascii = format!("{}é", &valid[..27]);
    let uppercase = valid.to_uppercase();
    let wrong_prefix = format!("wx_{}", &valid[3..]);
    let out_of_range = format!("wh_8{}", &valid[4..]);
    let huge = "a".repeat(100_000);
    for input in [
        "",
        " ",
        "wh_",
        &long,
        &with_dot,
        &with_slash,
        &with_space,
        &with_control,
        &with_newline,
        &non_ascii,
        &uppercase,
        &wrong_prefix,
        &out_of_range,
        &huge,
        "../../etc/passwd",
    ] {
        let error = input.parse::<WebhookId>().unwrap_err();
        assert_eq!(error.code(), "id_invalid", "{input:?}");
        assert_eq!(error.kind(), IdKind::Webhook);
    }
}

#[test]
fn webhook_ids_go_through_the_parser_in_serde() {
    let id = WebhookId::generate();
    let json = serde_json::to_string(&id).unwrap();
    assert_eq!(serde_json::from_str::<WebhookId>(&json).unwrap(), id);
    assert!(serde_json::from_str::<WebhookId>(r#""wh_.""#).is_err());
}

#[test]
fn account_ids_are_1_to_255_visible_ascii_characters() {
    for valid in ["a", "acc_123", "ACC-1:x/y", &"x".repeat(255), "~!@#$%^&*()"] {
        assert!(valid.parse::<AccountId>().is_ok(), "{valid:?}");
    }
    for invalid in [
        "",
        " ",
        "a b",
        "a\tb",
        "a\nb",
        "\u{0}",
        "é",
        "\u{7f}",
        &"x".repeat(256),
    ] {
        let error = invalid.parse::<AccountId>().unwrap_err();
        assert_eq!(error.code(), "account_ids_invalid", "{invalid:?}");
    }
    assert!(serde_json::from_str::<AccountId>(r#""a b""#).is_err());
    assert_eq!(
        serde_json::from_str::<AccountId>(r#""acc""#)
            .unwrap()
            .as_str(),
        "acc"
    );
}

#[test]
fn organization_ids_follow_the_same_rule_with_id_invalid() {
    assert!("org_1".parse::<OrganizationId>().is_ok());
    assert_eq!(
        "org 1".parse::<OrganizationId>().unwrap_err().code(),
        "id_invalid"
    );
}

#[test]
fn account_types_are_live_or_test_in_lowercase() {
    assert_eq!(
        serde_json::to_string(&AccountType::Live).unwrap(),
        r#""live""#
    );
    assert_eq!(
        serde_json::from_str::<AccountType>(r#""test""#).unwrap(),
        AccountType::Test
    );
    for refused in [r#""Live""#, r#""TEST""#, r#""prod""#, r#""""#, "null", "1"] {
        assert!(
            serde_json::from_str::<AccountType>(refused).is_err(),
            "{refused}"
        );
    }
    assert_eq!("live".parse::<AccountType>(), Ok(AccountType::Live));
    assert!("Live".parse::<AccountType>().is_err());
    assert_eq!(AccountType::Test.to_string(), "test");
}

fn account(text: &str) -> AccountId {
    text.parse().unwrap()
}

#[test]
fn an_empty_filter_matches_every_account() {
    let all = AccountFilter::all();
    assert!(all.is_all());
    assert!(all.matches(&account("anyone")));
    assert_eq!(AccountFilter::from_ids([]).unwrap(), all);
    assert_eq!(AccountFilter::default(), all);
}

#[test]
fn a_filter_matches_exactly_its_accounts_deduplicated_and_sorted() {
    let filter =
        AccountFilter::from_ids([account("b"), account("a"), account("b"), account("c")]).unwrap();
    assert!(!filter.is_all());
    let ids: Vec<&str> = filter.account_ids().iter().map(AccountId::as_str).collect();
    assert_eq!(ids, ["a", "b", "c"]);
    assert!(filter.matches(&account("a")));
    assert!(!filter.matches(&account("d")));
    assert!(!filter.matches(&account("A")));
}

#[test]
fn a_filter_holds_at_most_1000_accounts() {
    let ids = |count: usize| (0..count).map(|index| account(&format!("acc_{index}")));
    assert_eq!(
        AccountFilter::from_ids(ids(MAX_ACCOUNT_IDS))
            .unwrap()
            .account_ids()
            .len(),
        1000
    );
    let error = AccountFilter::from_ids(ids(MAX_ACCOUNT_IDS + 1)).unwrap_err();
    assert_eq!(error.code(), "account_ids_invalid");
    // Duplicates do not count twice.
    let repeated = ids(MAX_ACCOUNT_IDS).chain(ids(10));
    assert!(AccountFilter::from_ids(repeated).is_ok());
}

#[test]
fn a_filter_stops_reading_at_the_first_id_past_the_limit() {
    let mut read = 0;
    let many = (0..100_000).map(|index| {
        read += 1;
        account(&format!("acc_{index}"))
    });
    let error = AccountFilter::from_ids(many).unwrap_err();
    assert_eq!(error.code(), "account_ids_invalid");
    assert_eq!(read, MAX_ACCOUNT_IDS + 1);
}

#[test]
fn event_ids_are_visible_ascii_without_dots() {
    use webhook_kit::EventId;

    for valid in ["msg_1", "evt-2024-01-01", &"x".repeat(255)] {
        assert!(valid.parse::<EventId>().is_ok(), "{valid:?}");
    }
    for invalid in ["", "a.b", "a b", "é", "\n", &"x".repeat(256)] {
        let error = invalid.parse::<EventId>().unwrap_err();
        assert_eq!(error.code(), "id_invalid", "{invalid:?}");
        assert_eq!(error.kind(), IdKind::Event);
    }
    let generated = EventId::generate();
    assert!(generated.as_str().starts_with("msg_"));
    assert!(generated.as_str().parse::<EventId>().is_ok());
    assert!(EventId::generate() > generated);
}
