//! The pure rules of sending, without I/O: which addresses are public, `Retry-After`,
//! status classes, allow-lists.
#![allow(clippy::unwrap_used)]

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use webhook_kit::send::{
    AllowList, Network, StatusClass, classify_status, embedded_ipv4, is_public, parse_retry_after,
};

/// Every range the guard refuses, at its edges, and public neighbours just outside.
const ADDRESSES: &[(&str, bool)] = &[
    // IPv4, not public
    ("0.0.0.0", false),
    ("0.255.255.255", false),
    ("10.0.0.0", false),
    ("10.255.255.255", false),
    ("100.64.0.0", false),
    ("100.127.255.255", false),
    ("127.0.0.1", false),
    ("127.255.255.254", false),
    ("169.254.0.1", false),
    ("169.254.169.254", false),
    ("172.16.0.0", false),
    ("172.31.255.255", false),
    ("192.0.0.8", false),
    ("192.0.2.1", false),
    ("192.88.99.1", false),
    ("192.168.0.1", false),
    ("192.168.255.255", false),
    ("198.18.0.1", false),
    ("198.19.255.255", false),
    ("198.51.100.7", false),
    ("203.0.113.9", false),
    ("224.0.0.1", false),
    ("239.255.255.250", false),
    ("240.0.0.1", false),
    ("255.255.255.255", false),
    // IPv4, public (neighbours of the ranges above)
    ("1.1.1.1", true),
    ("8.8.8.8", true),
    ("9.255.255.255", true),
    ("11.0.0.0", true),
    ("100.63.255.255", true),
    ("100.128.0.0", true),
    ("126.255.255.255", true),
    ("128.0.0.0", true),
    ("169.253.255.255", true),
    ("169.255.0.0", true),
    ("172.15.255.255", true),
    ("172.32.0.0", true),
    ("192.0.1.1", true),
    ("192.0.3.1", true),
    ("192.88.98.1", true),
    ("192.167.255.255", true),
    ("192.169.0.0", true),
    ("198.17.255.255", true),
    ("198.20.0.0", true),
    ("198.51.101.1", true),
    ("203.0.114.1", true),
    ("223.255.255.255", true),
    ("93.184.215.14", true),
    // IPv6, not public
    ("::", false),
    ("::1", false),
    ("::127.0.0.1", false),
    ("fc00::1", false),
    ("fd12:3456:789a::1", false),
    ("fe80::1", false),
    ("febf:ffff::1", false),
    ("fec0::1", false),
    ("ff02::1", false),
    ("ff0e::1", false),
    ("2001:db8::1", false),
    ("2001:db8:ffff::1", false),
    ("100::1", false),
    ("100::ffff:ffff:ffff:ffff", false),
    ("2001::1", false),
    ("64:ff9b:1::1", false),
    // IPv6 embedding IPv4: judged as the IPv4 inside
    ("::ffff:127.0.0.1", false),
    ("::ffff:10.1.2.3", false),
    ("::ffff:169.254.169.254", false),
    ("::ffff:0:192.168.1.1", false),
    ("64:ff9b::7f00:1", false),
    ("64:ff9b::a9fe:a9fe", false),
    ("2002:7f00:1::1", false),
    ("2002:a00:1::", false),
    ("2002:c0a8:101::1", false),
    ("::ffff:8.8.8.8", true),
    ("64:ff9b::808:808", true),
    ("2002:808:808::1", true),
    // IPv6, public
    ("2606:4700:4700::1111", true),
    ("2001:4860:4860::8888", true),
    ("2a00:1450:4001:81b::200e", true),
    ("2001:db9::1", true),
    ("101::1", true),
    ("fbff:ffff::1", true),
    ("fe00::1", true),
    ("100:0:0:1::1", true),
];

#[test]
fn the_range_table() {
    assert!(ADDRESSES.len() >= 40);
    for &(text, public) in ADDRESSES {
        let ip: IpAddr = text.parse().unwrap();
        assert_eq!(is_public(ip), public, "{text}");
        // With nothing allowed, allowed is public.
        assert_eq!(AllowList::new().allows(ip), public, "{text}");
    }
}

#[test]
fn the_ipv4_inside_ipv6() {
    let cases = [
        ("::ffff:1.2.3.4", Some("1.2.3.4")),
        ("::ffff:0:1.2.3.4", Some("1.2.3.4")),
        ("64:ff9b::102:304", Some("1.2.3.4")),
        ("2002:102:304::", Some("1.2.3.4")),
        ("2002:102:304:ffff::1", Some("1.2.3.4")),
        ("2001:db8::1", None),
        ("::1", None),
        ("64:ff9b:1::102:304", None),
    ];
    for (v6, v4) in cases {
        let v6 = v6.parse().unwrap();
        assert_eq!(embedded_ipv4(v6), v4.map(|v4| v4.parse().unwrap()), "{v6}");
    }
}

#[test]
fn an_allow_list_lets_its_networks_through_and_nothing_else() {
    let allow: AllowList = ["10.1.0.0/16", "fd00:1::/32", "127.0.0.1"]
        .iter()
        .map(|text| text.parse::<Network>().unwrap())
        .collect();
    let cases = [
        ("10.1.0.1", true),
        ("10.1.255.255", true),
        ("10.2.0.1", false),
        ("::ffff:10.1.2.3", true),
        ("2002:a01:203::1", true),
        ("fd00:1:2::3", true),
        ("fd00:2::1", false),
        ("127.0.0.1", true),
        ("127.0.0.2", false),
        ("169.254.169.254", false),
        ("8.8.8.8", true),
    ];
    for (text, allowed) in cases {
        assert_eq!(allow.allows(text.parse().unwrap()), allowed, "{text}");
    }
}

#[test]
fn networks_parse_from_cidr_or_an_address() {
    assert_eq!(
        "10.1.2.3/8".parse::<Network>().unwrap().to_string(),
        "10.0.0.0/8"
    );
    assert_eq!("::1".parse::<Network>().unwrap().to_string(), "::1/128");
    assert_eq!(
        "127.0.0.1".parse::<Network>().unwrap().to_string(),
        "127.0.0.1/32"
    );
    for bad in [
        "",
        "10.0.0.0/33",
        "::/129",
        "localhost",
        "10.0.0/8",
        "10.0.0.0/-1",
    ] {
        let error = bad.parse::<Network>().unwrap_err();
        assert_eq!(error.code(), "network_invalid", "{bad}");
    }
    assert!(Network::new("10.0.0.0".parse().unwrap(), 33).is_err());
    assert!(
        Network::new("10.9.9.9".parse().unwrap(), 8)
            .unwrap()
            .contains("10.0.0.1".parse().unwrap())
    );
}

/// 1994-11-06T08:49:37Z, the date of RFC 9110's examples.
fn then() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777)
}

#[test]
fn retry_after_in_seconds_and_as_a_date() {
    let cap = Duration::from_secs(3600);
    let secs = Duration::from_secs;
    let cases: &[(&str, Option<Duration>)] = &[
        ("0", Some(secs(0))),
        ("120", Some(secs(120))),
        (" 120 ", Some(secs(120))),
        ("3600", Some(secs(3600))),
        ("3601", Some(cap)),
        ("18446744073709551615", Some(cap)),
        ("99999999999999999999999999", Some(cap)),
        // IMF-fixdate, RFC 850 and asctime: one minute later
        ("Sun, 06 Nov 1994 08:50:37 GMT", Some(secs(60))),
        ("Sunday, 06-Nov-94 08:50:37 GMT", Some(secs(60))),
        ("Sun Nov  6 08:50:37 1994", Some(secs(60))),
        // In the past: no wait
        ("Sun, 06 Nov 1994 08:00:00 GMT", Some(secs(0))),
        // A day later: capped
        ("Mon, 07 Nov 1994 08:49:37 GMT", Some(cap)),
        ("", None),
        ("  ", None),
        ("-1", None),
        ("1.5", None),
        ("+5", None),
        ("soon", None),
        ("Sun, 06 Nov 1994 08:50:37 +0100", None),
        ("١٢", None),
    ];
    for &(value, expected) in cases {
        assert_eq!(parse_retry_after(value, then(), cap), expected, "{value:?}");
    }
}

#[test]
fn status_classes() {
    let cases = [
        (200, StatusClass::Success),
        (201, StatusClass::Success),
        (204, StatusClass::Success),
        (299, StatusClass::Success),
        (410, StatusClass::Gone),
        (300, StatusClass::Redirect),
        (301, StatusClass::Redirect),
        (302, StatusClass::Redirect),
        (304, StatusClass::Redirect),
        (307, StatusClass::Redirect),
        (308, StatusClass::Redirect),
        (429, StatusClass::Throttled),
        (503, StatusClass::Throttled),
        (100, StatusClass::Failure),
        (400, StatusClass::Failure),
        (401, StatusClass::Failure),
        (404, StatusClass::Failure),
        (408, StatusClass::Failure),
        (500, StatusClass::Failure),
        (502, StatusClass::Failure),
        (504, StatusClass::Failure),
        (599, StatusClass::Failure),
    ];
    for (status, class) in cases {
        assert_eq!(classify_status(status), class, "{status}");
    }
}
