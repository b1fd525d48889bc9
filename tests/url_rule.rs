//! The URL rule: the seed's regular expression, with a JavaScript engine's results, and the
//! destination policy applied after it.
#![allow(clippy::unwrap_used)]

use webhook_kit::{DestinationPolicy, MAX_URL_LEN, Refusal, UrlError, WebhookUrl};

/// Each input with whether the seed's pattern accepts it. The expectations are what
/// JavaScript's `RegExp.prototype.test` answers for the seed's pattern (Node.js 20).
const SEED_PATTERN_TABLE: &[(&str, bool)] = &[
    ("https://example.com", true),
    ("https://example.com/", true),
    ("https://example.com/webhooks", true),
    ("https://example.com/webhooks?x=1&y=2", true),
    ("https://example.com:8443/hook", true),
    ("https://sub.example.co.uk/path", true),
    ("https://a.co", false),
    ("https://ab.co", true),
    ("https://a.b.co", true),
    ("https://x.y", false),
    ("https://example.museum", true),
    ("https://example.abcdefg", false),
    ("https://example.abcdefg/path", false),
    ("https://example.COM", false),
    ("HTTPS://example.com", false),
    ("https://EXAMPLE.com", true),
    ("http://example.com", false),
    ("ftp://example.com", false),
    ("https//example.com", false),
    ("https://example", false),
    ("https://.com", false),
    ("https://example.com /x", false),
    (" https://example.com", false),
    ("https://example.com ", false),
    ("https://example.com\n", false),
    ("https://exa\tmple.com", false),
    ("https://example.com/\u{0}", false),
    ("https://exämple.com", false),
    ("https://example.com/päth", false),
    ("https://xn--exmple-cua.com", true),
    ("https://user:pass@example.com", true),
    ("https://evil.com@127.0.0.1", true),
    ("https://169.254.169.254#.com", true),
    ("https://2130706433#.com", true),
    ("https://0177.0.0.1#.com", true),
    ("https://127.0.0.1", false),
    ("https://[::1]/x.com", false),
    ("https://example.com#frag", true),
    ("https://example.com/#/route", true),
    ("https://example.com/a%20b", true),
    ("https://example.com/~user/", true),
    ("https://example.com/a+b", true),
    ("https://example.com/a,b", false),
    ("https://example.com/a;b", false),
    ("https://example.com/a'b", false),
    ("https://example.com/(x)", false),
    ("https://example.com/[x]", false),
    ("https://example.com/a|b", false),
    ("https://example.com/a\\b", false),
    ("https://example.com/a!b", false),
    ("https://example.com/a*b", false),
    ("https://example.com/a$b", false),
    ("https://example-with-dash.com", true),
    ("https://under_score.com", true),
    ("https://example.c0m", false),
    ("https://example.co1", false),
    ("https://example.com1", false),
    ("https://example.com.", true),
    ("https://example.com..", true),
    ("https://localhost.localdomain", false),
    ("https://e.x", false),
    ("https://ex.com:99999", true),
    ("https://example.com?q", true),
    ("https://example.com.evil", true),
    ("https://example.com-", true),
    ("https://example.com_x", false),
    ("https://example.co/é", false),
];

#[test]
fn the_seed_pattern_gives_javascripts_results() {
    assert!(SEED_PATTERN_TABLE.len() >= 40);
    for &(input, accepted) in SEED_PATTERN_TABLE {
        let result = input.parse::<WebhookUrl>();
        assert_eq!(result.is_ok(), accepted, "{input:?}: {result:?}");
        if let Err(error) = result {
            assert_eq!(error, UrlError::NoMatch, "{input:?}");
            assert_eq!(error.code(), "url_invalid");
        }
    }
}

#[test]
fn the_host_part_takes_at_most_256_characters() {
    let host = |len: usize| format!("https://{}.com", "b".repeat(len));
    assert!(host(256).parse::<WebhookUrl>().is_ok());
    assert_eq!(host(257).parse::<WebhookUrl>(), Err(UrlError::NoMatch));
}

#[test]
fn length_is_checked_before_the_pattern() {
    let at_limit = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN - 20));
    assert_eq!(at_limit.len(), MAX_URL_LEN);
    assert!(at_limit.parse::<WebhookUrl>().is_ok());

    let over = format!("{at_limit}a");
    assert_eq!(over.parse::<WebhookUrl>(), Err(UrlError::TooLong));
    assert_eq!(UrlError::TooLong.code(), "url_invalid");
    // Even input the pattern would refuse is refused for its length first.
    let over_and_bad = "\u{0}".repeat(MAX_URL_LEN + 1);
    assert_eq!(over_and_bad.parse::<WebhookUrl>(), Err(UrlError::TooLong));
}

#[test]
fn urls_round_trip_through_serde_with_the_same_rule() {
    let url: WebhookUrl = serde_json::from_str(r#""https://example.com/hook""#).unwrap();
    assert_eq!(url.as_str(), "https://example.com/hook");
    assert_eq!(
        serde_json::to_string(&url).unwrap(),
        r#""https://example.com/hook""#
    );
    assert!(serde_json::from_str::<WebhookUrl>(r#""http://example.com/hook""#).is_err());
}

fn strict(input: &str) -> Result<WebhookUrl, UrlError> {
    DestinationPolicy::default().parse(input)
}

#[test]
fn the_default_policy_refuses_credentials() {
    for input in [
        "https://user:pass@example.com",
        "https://user@example.com/hook",
        "https://:pass@example.com/hook",
    ] {
        assert_eq!(
            strict(input),
            Err(UrlError::NotAllowed(Refusal::Credentials)),
            "{input}"
        );
    }
}

#[test]
fn the_default_policy_refuses_ip_hosts_in_any_spelling() {
    for input in [
        "https://evil.com@127.0.0.1",
        "https://169.254.169.254#.com",
        "https://2130706433#.com",
        "https://0177.0.0.1#.com",
        "https://0x7f.0.0.1#.com",
        "https://127.1#.com",
        "https://10.0.0.1#.com",
        "https://8.8.8.8#.com",
        "https://%31%32%37.0.0.1#.com",
        "https://1.2.3.4:443#.com",
    ] {
        let refused = strict(input);
        assert!(
            matches!(
                refused,
                Err(UrlError::NotAllowed(
                    Refusal::IpAddress | Refusal::Credentials
                ))
            ),
            "{input}: {refused:?}"
        );
        let without_credentials = DestinationPolicy::default().allow_credentials(true);
        assert_eq!(
            without_credentials.parse(input),
            Err(UrlError::NotAllowed(Refusal::IpAddress)),
            "{input}"
        );
        assert_eq!(refused.unwrap_err().code(), "url_not_allowed");
    }
}

#[test]
fn the_default_policy_refuses_internal_names() {
    for input in [
        "https://localhost#.com",
        "https://api.localhost#.com",
        "https://printer.local",
        "https://metadata.google.internal",
        "https://db.internal#.com",
        "https://intranet#.com",
        "https://router.lan",
        "https://nas.home.arpa",
        "https://LOCALHOST.localhost#.com",
        "https://printer.local./x.com",
    ] {
        assert_eq!(
            strict(input),
            Err(UrlError::NotAllowed(Refusal::InternalHost)),
            "{input}"
        );
    }
}

#[test]
fn the_default_policy_accepts_public_names() {
    for input in [
        "https://example.com/hooks",
        "https://hooks.example.co.uk:8443/a?b=c",
        "https://local-shop.com",
        "https://notlocalhost.com",
        "https://internal.example.com",
        "https://xn--exmple-cua.com",
    ] {
        assert!(strict(input).is_ok(), "{input}: {:?}", strict(input));
    }
}

#[test]
fn the_pattern_runs_before_the_policy() {
    assert_eq!(strict("http://example.com"), Err(UrlError::NoMatch));
    assert_eq!(
        DestinationPolicy::permissive().parse("http://127.0.0.1"),
        Err(UrlError::NoMatch)
    );
}

#[test]
fn an_unparsable_url_is_invalid_under_every_policy() {
    for policy in [DestinationPolicy::strict(), DestinationPolicy::permissive()] {
        let refused = policy.parse("https://ex.com:99999");
        assert_eq!(refused, Err(UrlError::Unparsable));
        assert_eq!(refused.unwrap_err().code(), "url_invalid");
    }
}

#[test]
fn each_rule_can_be_relaxed_alone() {
    let ip = "https://2130706433#.com";
    let internal = "https://api.localhost#.com";
    let credentials = "https://user:pass@example.com";

    let ips = DestinationPolicy::default().allow_ip_hosts(true);
    assert!(ips.parse(ip).is_ok());
    assert!(ips.parse(internal).is_err() && ips.parse(credentials).is_err());

    let names = DestinationPolicy::default().allow_internal_hosts(true);
    assert!(names.parse(internal).is_ok());
    assert!(names.parse(ip).is_err() && names.parse(credentials).is_err());

    let users = DestinationPolicy::default().allow_credentials(true);
    assert!(users.parse(credentials).is_ok());
    assert!(users.parse(ip).is_err() && users.parse(internal).is_err());

    let permissive = DestinationPolicy::permissive();
    for input in [ip, internal, credentials, "https://evil.com@127.0.0.1"] {
        assert!(permissive.parse(input).is_ok(), "{input}");
    }
}

/// Hosts the issue found answered `ok`: an IP address or internal name followed by empty
/// labels, which a parser takes for a domain and a resolver may not.
const EMPTY_LABEL_HOSTS: &[&str] = &[
    "127.0.0.1",
    "169.254.169.254",
    "2130706433",
    "0x7f.1",
    "localhost",
    "metadata.google.internal",
];

/// Each spelling of two dots after the host, as the URL pattern lets it through.
const TWO_DOTS: &[&str] = &["..", "%2e%2e", ".%2E", "%E3%80%82%E3%80%82", ".%EF%BC%8E"];

#[test]
fn the_default_policy_refuses_hosts_with_empty_labels() {
    for host in EMPTY_LABEL_HOSTS {
        for dots in TWO_DOTS {
            for rest in ["#.com", ":8080#.com", "#x.com/hook"] {
                let input = format!("https://{host}{dots}{rest}");
                let refused = strict(&input);
                assert_eq!(
                    refused,
                    Err(UrlError::NotAllowed(Refusal::EmptyLabel)),
                    "{input}"
                );
                assert_eq!(refused.unwrap_err().code(), "url_not_allowed");
            }
        }
    }
    for input in [
        "https://169.254.169.254..:8080#.com",
        "https://example.com..",
        "https://example..com",
        "https://..example.com",
        "https://.example.com",
        "https://a...example.com",
        "https://example.com...",
    ] {
        assert_eq!(
            strict(input),
            Err(UrlError::NotAllowed(Refusal::EmptyLabel)),
            "{input}"
        );
    }
}

#[test]
fn ideographic_full_stops_are_refused_by_the_pattern_itself() {
    for host in EMPTY_LABEL_HOSTS {
        let input = format!("https://{host}\u{3002}\u{3002}#.com");
        assert_eq!(strict(&input), Err(UrlError::NoMatch), "{input}");
    }
}

#[test]
fn a_single_trailing_dot_is_not_an_empty_label() {
    assert!(strict("https://example.com./hook").is_ok());
    assert!(strict("https://example.com%2e/hook").is_ok());
    assert_eq!(
        strict("https://127.0.0.1.#.com"),
        Err(UrlError::NotAllowed(Refusal::IpAddress))
    );
    assert_eq!(
        strict("https://localhost.#.com"),
        Err(UrlError::NotAllowed(Refusal::InternalHost))
    );
}

#[test]
fn empty_labels_are_allowed_only_where_ip_hosts_and_internal_names_both_are() {
    let input = "https://127.0.0.1..#.com";
    for policy in [
        DestinationPolicy::default().allow_ip_hosts(true),
        DestinationPolicy::default().allow_internal_hosts(true),
        DestinationPolicy::default().allow_credentials(true),
    ] {
        assert_eq!(
            policy.parse(input),
            Err(UrlError::NotAllowed(Refusal::EmptyLabel)),
            "{policy:?}"
        );
    }
    let both = DestinationPolicy::default()
        .allow_ip_hosts(true)
        .allow_internal_hosts(true);
    assert!(both.parse(input).is_ok());
    assert!(DestinationPolicy::permissive().parse(input).is_ok());
}
