//! `HttpsTransport` against real HTTPS receivers on loopback (tests/support/https.rs): a
//! self-signed certificate made in the test and trusted as an extra root, receivers that
//! verify the signature with the crate. Loopback is not public, so the transports here allow
//! 127.0.0.0/8 explicitly, and the guard's tests show the same receivers refused without it.
//! Deliveries go to `hooks.example.test`, which an injected resolver maps to 127.0.0.1 (the
//! seed's URL rule needs a letter top-level domain).
#![allow(clippy::unwrap_used)]

#[path = "support/https.rs"]
mod https;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use chrono::Utc;
use https::{Cert, Receiver, Reply, signed};
use webhook_kit::send::{
    HttpsTransport, MAX_RESPONSE_BODY, Resolve, Resolving, StaticResolver, TransportBuilder,
    USER_AGENT,
};
use webhook_kit::{Attempt, Delivery, ErrorKind, Outcome, Secret, Transport, Verifier};

const HOST: &str = "hooks.example.test";
const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const BODY: &[u8] = br#"{"type":"invoice.paid","amount":42}"#;

fn cert() -> Cert {
    Cert::new(&[HOST, "127.0.0.1"])
}

/// A builder that resolves `HOST` to loopback and trusts `cert`, without the allow-list.
fn builder(cert: &Cert) -> TransportBuilder {
    HttpsTransport::builder()
        .resolver(StaticResolver::new().with(HOST, [LOOPBACK]))
        .add_root_certificates_pem(cert.pem.as_bytes())
}

/// The same with loopback allowed.
fn transport(cert: &Cert) -> HttpsTransport {
    builder(cert)
        .allow_network("127.0.0.0/8".parse().unwrap())
        .build()
        .unwrap()
}

fn url(receiver: &Receiver) -> String {
    format!("https://{HOST}:{}/hooks/in?tenant=7", receiver.port())
}

fn delivery(receiver: &Receiver) -> Delivery {
    signed(&url(receiver), &Secret::generate(), BODY)
}

/// A receiver answering `reply`, and one attempt to it through `transport(cert)`.
async fn attempt_with(reply: Reply) -> (Attempt, Receiver) {
    let cert = cert();
    let receiver = Receiver::start(&cert, reply).await;
    let attempt = transport(&cert).attempt(&delivery(&receiver)).await;
    (attempt, receiver)
}

fn kind(attempt: &Attempt) -> Option<ErrorKind> {
    attempt.error().map(|error| error.kind())
}

#[tokio::test]
async fn a_2xx_is_delivered_verified_with_exactly_the_deliverys_headers_and_body() {
    let cert = cert();
    let secret = Secret::generate();
    let receiver = Receiver::start(&cert, Reply::Verify(Verifier::from_secret(&secret), 202)).await;
    let delivery = signed(&url(&receiver), &secret, BODY);

    let attempt = transport(&cert).attempt(&delivery).await;

    assert_eq!(attempt.outcome(), Outcome::Delivered, "{attempt:?}");
    assert_eq!(attempt.code(), "delivered");
    assert_eq!(attempt.status(), Some(202));
    assert_eq!(attempt.error(), None);
    assert_eq!(attempt.remote_addr(), Some(receiver.addr));
    assert_eq!(attempt.response_body(), b"thanks");
    assert!(!attempt.is_endpoint_failure());
    assert!(attempt.duration() > Duration::ZERO);
    assert!(attempt.started_at() <= Utc::now());

    let seen = receiver.seen();
    assert_eq!(seen.len(), 1);
    let request = &seen[0];
    assert!(request.verified, "the receiver verifies the signature");
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/hooks/in");
    assert_eq!(request.body, BODY);
    let mut names: Vec<&str> = request
        .headers
        .iter()
        .map(|(name, _)| name.as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "accept",
            "content-length",
            "content-type",
            "host",
            "user-agent",
            "webhook-id",
            "webhook-signature",
            "webhook-timestamp",
        ]
    );
    let header = |name: &str| {
        request
            .headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, value)| value.as_str())
            .unwrap()
    };
    assert_eq!(header("user-agent"), USER_AGENT);
    assert_eq!(
        header("user-agent"),
        format!("webhook-kit/{}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(header("content-type"), "application/json");
    assert_eq!(header("webhook-id"), delivery.headers().id());
    assert_eq!(header("webhook-timestamp"), delivery.headers().timestamp());
    assert_eq!(header("webhook-signature"), delivery.headers().signature());
    assert_eq!(header("content-length"), BODY.len().to_string());
}

#[tokio::test]
async fn the_connection_is_kept_alive_between_attempts() {
    let cert = cert();
    let receiver = Receiver::start(&cert, Reply::status(204)).await;
    let transport = transport(&cert);
    for _ in 0..3 {
        let attempt = transport.attempt(&delivery(&receiver)).await;
        assert_eq!(attempt.outcome(), Outcome::Delivered, "{attempt:?}");
    }
    let clone = transport.clone();
    let attempt = clone.attempt(&delivery(&receiver)).await;
    assert_eq!(attempt.outcome(), Outcome::Delivered);
    assert_eq!(receiver.seen().len(), 4);
    assert_eq!(
        receiver.connections(),
        1,
        "one pooled connection for every attempt"
    );
}

#[tokio::test]
async fn a_500_is_retried_on_the_schedule_and_blames_the_endpoint() {
    let reply = Reply::Status(500, Vec::new(), Bytes::from_static(b"boom"));
    let (attempt, receiver) = attempt_with(reply).await;
    assert_eq!(attempt.outcome(), Outcome::Retry { after: None });
    assert_eq!(attempt.status(), Some(500));
    assert_eq!(attempt.response_body(), b"boom");
    assert_eq!(attempt.error(), None);
    assert_eq!(attempt.code(), "retry");
    assert!(attempt.is_endpoint_failure());
    assert_eq!(receiver.seen().len(), 1);
}

#[tokio::test]
async fn a_429_with_retry_after_in_seconds_waits_that_long() {
    let reply = Reply::Status(429, vec![("retry-after", "7".to_owned())], Bytes::new());
    let (attempt, _receiver) = attempt_with(reply).await;
    assert_eq!(attempt.status(), Some(429));
    assert_eq!(
        attempt.outcome(),
        Outcome::Retry {
            after: Some(Duration::from_secs(7))
        }
    );
}

#[tokio::test]
async fn a_429_with_retry_after_as_an_http_date_waits_until_then() {
    let at = SystemTime::now() + Duration::from_secs(120);
    let reply = Reply::Status(
        429,
        vec![("retry-after", httpdate::fmt_http_date(at))],
        Bytes::new(),
    );
    let (attempt, _receiver) = attempt_with(reply).await;
    let Outcome::Retry { after: Some(after) } = attempt.outcome() else {
        panic!("expected a wait: {attempt:?}");
    };
    // The date has a one-second resolution and some time passed since it was written.
    assert!(
        (Duration::from_secs(100)..=Duration::from_secs(120)).contains(&after),
        "{after:?}"
    );
}

#[tokio::test]
async fn a_503_with_a_long_retry_after_is_capped() {
    let cert = cert();
    let reply = Reply::Status(503, vec![("retry-after", "86400".to_owned())], Bytes::new());
    let receiver = Receiver::start(&cert, reply).await;
    let transport = builder(&cert)
        .allow_network("127.0.0.1".parse().unwrap())
        .max_retry_after(Duration::from_secs(600))
        .build()
        .unwrap();
    let attempt = transport.attempt(&delivery(&receiver)).await;
    assert_eq!(
        attempt.outcome(),
        Outcome::Retry {
            after: Some(Duration::from_secs(600))
        }
    );
}

#[tokio::test]
async fn retry_after_is_ignored_on_a_500() {
    let reply = Reply::Status(500, vec![("retry-after", "7".to_owned())], Bytes::new());
    let (attempt, _receiver) = attempt_with(reply).await;
    assert_eq!(attempt.outcome(), Outcome::Retry { after: None });
}

#[tokio::test]
async fn a_410_means_gone() {
    let (attempt, _receiver) = attempt_with(Reply::status(410)).await;
    assert_eq!(attempt.outcome(), Outcome::Gone);
    assert_eq!(attempt.code(), "gone");
    assert_eq!(attempt.status(), Some(410));
}

#[tokio::test]
async fn redirects_are_failures_and_never_followed() {
    let cert = cert();
    let target = Receiver::start(&cert, Reply::status(200)).await;
    let transport = transport(&cert);
    for status in [301, 302, 303, 307, 308] {
        let location = format!("https://{HOST}:{}/elsewhere", target.port());
        let reply = Reply::Status(status, vec![("location", location)], Bytes::new());
        let receiver = Receiver::start(&cert, reply).await;
        let attempt = transport.attempt(&delivery(&receiver)).await;
        assert_eq!(
            attempt.outcome(),
            Outcome::Retry { after: None },
            "{status}"
        );
        assert_eq!(attempt.status(), Some(status));
        assert_eq!(kind(&attempt), Some(ErrorKind::Redirect), "{status}");
        assert_eq!(attempt.code(), "redirect");
        assert_eq!(receiver.seen().len(), 1);
    }
    assert_eq!(target.connections(), 0, "the redirect target saw nothing");
}

#[tokio::test]
async fn a_receiver_that_never_answers_times_out() {
    let cert = cert();
    let receiver = Receiver::start(&cert, Reply::Never).await;
    let transport = builder(&cert)
        .allow_network("127.0.0.0/8".parse().unwrap())
        .timeout(Duration::from_millis(500))
        .connect_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let attempt = transport.attempt(&delivery(&receiver)).await;
    assert_eq!(kind(&attempt), Some(ErrorKind::Timeout), "{attempt:?}");
    assert_eq!(attempt.outcome(), Outcome::Retry { after: None });
    assert_eq!(attempt.status(), None);
    assert!(attempt.duration() >= Duration::from_millis(500));
    assert!(attempt.duration() < Duration::from_secs(10));
    assert_eq!(receiver.seen().len(), 1, "the request reached it");
}

#[tokio::test]
async fn of_a_10_mib_body_only_the_prefix_is_read_and_kept() {
    let big = Bytes::from(vec![b'x'; 10 * 1024 * 1024]);
    let (attempt, _receiver) = attempt_with(Reply::Status(200, Vec::new(), big)).await;
    assert_eq!(attempt.outcome(), Outcome::Delivered, "{attempt:?}");
    assert_eq!(attempt.error(), None);
    assert_eq!(attempt.response_body().len(), MAX_RESPONSE_BODY);
    assert!(attempt.response_body().iter().all(|b| *b == b'x'));
}

#[tokio::test]
async fn a_body_cut_short_after_a_2xx_is_still_delivered_with_a_body_error() {
    // The chunked answer breaks after 3 bytes.
    let (attempt, _receiver) = attempt_with(Reply::Broken(200)).await;
    assert_eq!(attempt.outcome(), Outcome::Delivered, "{attempt:?}");
    assert_eq!(attempt.code(), "delivered");
    assert_eq!(kind(&attempt), Some(ErrorKind::Body));
    assert_eq!(
        attempt.response_body(),
        b"abc",
        "what came before the break is kept"
    );
    assert!(!attempt.is_endpoint_failure());
}

#[tokio::test]
async fn a_body_cut_short_after_a_500_is_a_retry_with_a_body_error() {
    let (attempt, _receiver) = attempt_with(Reply::Broken(500)).await;
    assert_eq!(attempt.outcome(), Outcome::Retry { after: None });
    assert_eq!(attempt.code(), "body");
    assert_eq!(attempt.status(), Some(500));
    assert!(attempt.is_endpoint_failure());
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_failure() {
    let cert = cert();
    let port = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    };
    let delivery = signed(
        &format!("https://{HOST}:{port}/hooks"),
        &Secret::generate(),
        BODY,
    );
    let attempt = transport(&cert).attempt(&delivery).await;
    assert_eq!(kind(&attempt), Some(ErrorKind::Connect), "{attempt:?}");
    assert_eq!(attempt.outcome(), Outcome::Retry { after: None });
    assert!(attempt.is_endpoint_failure());
}

/// An attempt to `receiver` through `transport` fails in the TLS handshake: no request
/// reaches the receiver.
async fn assert_tls_failure(transport: &HttpsTransport, receiver: &Receiver) {
    let attempt = transport.attempt(&delivery(receiver)).await;
    assert_eq!(kind(&attempt), Some(ErrorKind::Tls), "{attempt:?}");
    assert!(attempt.is_endpoint_failure());
    assert_eq!(receiver.seen().len(), 0);
}

#[tokio::test]
async fn a_certificate_for_another_name_is_a_tls_failure() {
    let trusted = cert();
    let other = Cert::new(&["other.example.test"]);
    let receiver = Receiver::start(&other, Reply::status(200)).await;
    // Both certificates are trusted roots: only the name is wrong.
    let transport = builder(&trusted)
        .add_root_certificates_pem(other.pem.as_bytes())
        .allow_network("127.0.0.0/8".parse().unwrap())
        .build()
        .unwrap();
    assert_tls_failure(&transport, &receiver).await;
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_tls_failure() {
    let cert = cert();
    let receiver = Receiver::start(&cert, Reply::status(200)).await;
    let transport = HttpsTransport::builder()
        .resolver(StaticResolver::new().with(HOST, [LOOPBACK]))
        .allow_network("127.0.0.0/8".parse().unwrap())
        .build()
        .unwrap();
    assert_tls_failure(&transport, &receiver).await;
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused_by_default_and_delivered_when_allowed() {
    let cert = cert();
    let receiver = Receiver::start(&cert, Reply::status(204)).await;
    let delivery = delivery(&receiver);

    let refused = builder(&cert).build().unwrap().attempt(&delivery).await;
    assert_eq!(
        kind(&refused),
        Some(ErrorKind::DestinationNotAllowed),
        "{refused:?}"
    );
    assert_eq!(refused.code(), "destination_not_allowed");
    let message = refused.error().unwrap().message();
    assert!(
        message.contains("127.0.0.1"),
        "names the address: {message}"
    );
    assert!(message.contains(HOST), "{message}");
    assert!(
        !message.contains("tenant"),
        "no query in messages: {message}"
    );
    assert_eq!(refused.status(), None);
    assert_eq!(receiver.connections(), 0, "refused before a byte was sent");

    let delivered = transport(&cert).attempt(&delivery).await;
    assert_eq!(delivered.outcome(), Outcome::Delivered, "{delivered:?}");
    assert_eq!(receiver.seen().len(), 1);
}

/// A resolver that counts its look-ups and answers a different address each time: first
/// 127.0.0.1, then 127.0.0.2 (as a rebinding name server would).
struct Rebinding(Arc<AtomicUsize>);

impl Resolve for Rebinding {
    fn resolve(&self, _host: &str) -> Resolving {
        let call = self.0.fetch_add(1, Ordering::SeqCst);
        let address: IpAddr = if call == 0 {
            LOOPBACK
        } else {
            "127.0.0.2".parse().unwrap()
        };
        Box::pin(async move { Ok(vec![address]) })
    }
}

#[tokio::test]
async fn the_checked_addresses_are_the_ones_connected_to_after_one_look_up() {
    let cert = cert();
    let receiver = Receiver::start(&cert, Reply::status(204)).await;
    let lookups = Arc::new(AtomicUsize::new(0));
    // Only 127.0.0.1 is allowed: a second look-up would answer 127.0.0.2 and be refused.
    let transport = HttpsTransport::builder()
        .resolver(Rebinding(Arc::clone(&lookups)))
        .add_root_certificates_pem(cert.pem.as_bytes())
        .allow_network("127.0.0.1".parse().unwrap())
        .build()
        .unwrap();
    for _ in 0..3 {
        let attempt = transport.attempt(&delivery(&receiver)).await;
        assert_eq!(attempt.outcome(), Outcome::Delivered, "{attempt:?}");
        assert_eq!(attempt.remote_addr(), Some(receiver.addr));
    }
    assert_eq!(
        lookups.load(Ordering::SeqCst),
        1,
        "one look-up, then the pooled connection"
    );
}

#[tokio::test]
async fn one_private_address_among_public_ones_refuses_the_name() {
    let cert = cert();
    let receiver = Receiver::start(&cert, Reply::status(204)).await;
    let public: IpAddr = "93.184.215.14".parse().unwrap();
    let transport = HttpsTransport::builder()
        .resolver(StaticResolver::new().with(HOST, [public, LOOPBACK]))
        .add_root_certificates_pem(cert.pem.as_bytes())
        .build()
        .unwrap();
    let attempt = transport.attempt(&delivery(&receiver)).await;
    assert_eq!(kind(&attempt), Some(ErrorKind::DestinationNotAllowed));
    assert!(attempt.error().unwrap().message().contains("127.0.0.1"));
    assert_eq!(receiver.connections(), 0);
}

#[tokio::test]
async fn an_ipv4_mapped_answer_is_judged_as_the_ipv4_inside() {
    let cert = cert();
    let receiver = Receiver::start(&cert, Reply::status(204)).await;
    let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
    let transport = HttpsTransport::builder()
        .resolver(StaticResolver::new().with(HOST, [mapped]))
        .add_root_certificates_pem(cert.pem.as_bytes())
        .build()
        .unwrap();
    let attempt = transport.attempt(&delivery(&receiver)).await;
    assert_eq!(kind(&attempt), Some(ErrorKind::DestinationNotAllowed));
    assert!(
        attempt
            .error()
            .unwrap()
            .message()
            .contains("::ffff:127.0.0.1")
    );
}

#[tokio::test]
async fn an_ip_literal_host_is_checked_too() {
    let cert = cert();
    let receiver = Receiver::start(&cert, Reply::status(204)).await;
    // `#.com` satisfies the seed's regex; the fragment is never sent.
    let url = format!("https://127.0.0.1:{}#.com", receiver.port());
    let delivery = signed(&url, &Secret::generate(), BODY);

    // No resolver entry is needed: an IP literal never reaches the resolver.
    let refused = HttpsTransport::builder()
        .add_root_certificates_pem(cert.pem.as_bytes())
        .build()
        .unwrap()
        .attempt(&delivery)
        .await;
    assert_eq!(
        kind(&refused),
        Some(ErrorKind::DestinationNotAllowed),
        "{refused:?}"
    );
    assert!(refused.error().unwrap().message().contains("127.0.0.1"));
    assert_eq!(receiver.connections(), 0);

    let delivered = transport(&cert).attempt(&delivery).await;
    assert_eq!(delivered.outcome(), Outcome::Delivered, "{delivered:?}");
    assert_eq!(receiver.seen()[0].path, "/");
}

#[tokio::test]
async fn a_name_that_does_not_resolve_is_a_dns_failure() {
    let cert = cert();
    let delivery = signed(
        "https://unknown.example.test/hook",
        &Secret::generate(),
        BODY,
    );
    let attempt = transport(&cert).attempt(&delivery).await;
    assert_eq!(kind(&attempt), Some(ErrorKind::Dns), "{attempt:?}");
    assert!(
        attempt
            .error()
            .unwrap()
            .message()
            .contains("unknown.example.test")
    );
}

#[tokio::test]
async fn with_a_proxy_the_destination_is_still_checked_before_anything_is_sent() {
    let cert = cert();
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_url = format!("http://127.0.0.1:{}", proxy.local_addr().unwrap().port());
    let receiver = Receiver::start(&cert, Reply::status(204)).await;
    let transport = builder(&cert).proxy(proxy_url).build().unwrap();
    let attempt = transport.attempt(&delivery(&receiver)).await;
    assert_eq!(
        kind(&attempt),
        Some(ErrorKind::DestinationNotAllowed),
        "{attempt:?}"
    );
    // Nothing reached the proxy: an accept would be ready at once.
    let accepted = tokio::time::timeout(Duration::from_millis(100), proxy.accept()).await;
    assert!(accepted.is_err(), "the proxy was not contacted");
}

/// A minimal egress proxy on 127.0.0.2: reads one `CONNECT host:port` request, sends the
/// tunnel to 127.0.0.1:port whatever the host, and reports the request line. Its URL names
/// it `proxy.example.test`.
async fn connect_proxy() -> (String, tokio::sync::oneshot::Receiver<String>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let url = format!("http://proxy.example.test:{port}");
    let (report, reported) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (mut client, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") && head.len() < 4096 {
            let mut byte = [0; 1];
            client.read_exact(&mut byte).await.unwrap();
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).unwrap();
        let line = head.lines().next().unwrap().to_owned();
        let port = line
            .split_whitespace()
            .nth(1)
            .unwrap()
            .rsplit(':')
            .next()
            .unwrap();
        let mut upstream =
            tokio::net::TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap()))
                .await
                .unwrap();
        client.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
        report.send(line).unwrap();
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
    });
    (url, reported)
}

#[tokio::test]
async fn an_explicit_proxy_carries_the_delivery_through_a_connect_tunnel() {
    let cert = cert();
    let secret = Secret::generate();
    let receiver = Receiver::start(&cert, Reply::Verify(Verifier::from_secret(&secret), 204)).await;
    let (proxy, connect_line) = connect_proxy().await;
    // The proxy's name resolves to 127.0.0.2, which is not allowed: its own address is
    // configuration, not checked. The destination (127.0.0.1, allowed) is checked before
    // the tunnel is asked for.
    let resolver = StaticResolver::new()
        .with(HOST, [LOOPBACK])
        .with("proxy.example.test", ["127.0.0.2".parse().unwrap()]);
    let transport = HttpsTransport::builder()
        .resolver(resolver)
        .add_root_certificates_pem(cert.pem.as_bytes())
        .allow_network("127.0.0.1".parse().unwrap())
        .proxy(proxy)
        .build()
        .unwrap();
    let attempt = transport
        .attempt(&signed(&url(&receiver), &secret, BODY))
        .await;
    assert_eq!(attempt.outcome(), Outcome::Delivered, "{attempt:?}");
    assert_eq!(
        connect_line.await.unwrap(),
        format!("CONNECT {HOST}:{} HTTP/1.1", receiver.port())
    );
    assert!(receiver.seen()[0].verified);
}

#[tokio::test]
async fn no_proxy_is_taken_from_the_environment() {
    // Proxy variables pointing at a dead port would break the attempt if they were read.
    // They are set on a child process running `env_proxy_child`: setting them in this
    // process would need `unsafe` (forbidden) and race with the other tests.
    let cert = cert();
    let receiver = Receiver::start(&cert, Reply::status(204)).await;
    let mut child = std::process::Command::new(std::env::current_exe().unwrap());
    child
        .args(["--exact", "env_proxy_child", "--ignored", "--nocapture"])
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("https_proxy", "http://127.0.0.1:9")
        .env("ALL_PROXY", "http://127.0.0.1:9")
        .env("WK_PORT", receiver.port().to_string())
        .env("WK_CERT", &cert.pem);
    // Off the runtime's thread, which serves the receiver meanwhile.
    let status = tokio::task::spawn_blocking(move || child.status().unwrap())
        .await
        .unwrap();
    assert!(status.success());
    assert_eq!(receiver.seen().len(), 1, "delivered directly");
}

/// Run by `no_proxy_is_taken_from_the_environment` in a child process with proxy variables
/// set; not on its own.
#[tokio::test]
#[ignore = "run by no_proxy_is_taken_from_the_environment"]
async fn env_proxy_child() {
    let port = std::env::var("WK_PORT").unwrap();
    let pem = std::env::var("WK_CERT").unwrap();
    let transport = HttpsTransport::builder()
        .resolver(StaticResolver::new().with(HOST, [LOOPBACK]))
        .add_root_certificates_pem(pem.as_bytes())
        .allow_network("127.0.0.0/8".parse().unwrap())
        .build()
        .unwrap();
    let delivery = signed(
        &format!("https://{HOST}:{port}/"),
        &Secret::generate(),
        BODY,
    );
    let attempt = transport.attempt(&delivery).await;
    assert_eq!(attempt.outcome(), Outcome::Delivered, "{attempt:?}");
}

#[test]
fn impossible_settings_are_refused() {
    let code = |builder: TransportBuilder| builder.build().unwrap_err().code();
    assert_eq!(
        code(HttpsTransport::builder().timeout(Duration::from_secs(61))),
        "timeout_invalid"
    );
    assert_eq!(
        code(HttpsTransport::builder().timeout(Duration::ZERO)),
        "timeout_invalid"
    );
    assert_eq!(
        code(
            HttpsTransport::builder()
                .timeout(Duration::from_secs(2))
                .connect_timeout(Duration::from_secs(3))
        ),
        "timeout_invalid"
    );
    assert_eq!(
        code(HttpsTransport::builder().add_root_certificates_pem(b"not a pem")),
        "certificate_invalid"
    );
    assert_eq!(
        code(HttpsTransport::builder().proxy("not a url")),
        "proxy_invalid"
    );
    assert!(
        HttpsTransport::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .is_ok()
    );
}
