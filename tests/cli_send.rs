//! `webhook-kit send`, run end to end against a real HTTPS receiver on loopback.
#![allow(clippy::unwrap_used)]

#[path = "support/https.rs"]
mod https;

use std::process::{Command, Output, Stdio};

use https::{Cert, Receiver, Reply};
use webhook_kit::{Secret, Verifier};

const BIN: &str = env!("CARGO_BIN_EXE_webhook-kit");

/// Runs the binary with `args` off the runtime's thread (which serves the receiver), the
/// body from a file.
async fn send(args: Vec<String>) -> Output {
    send_with_env(args, None).await
}

/// The same with `WEBHOOK_SECRET` set to `secret`, or removed when `None`.
async fn send_with_env(args: Vec<String>, secret: Option<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        let mut command = Command::new(BIN);
        command.arg("send").args(args).stdin(Stdio::null());
        match secret {
            Some(secret) => command.env("WEBHOOK_SECRET", secret),
            None => command.env_remove("WEBHOOK_SECRET"),
        };
        command.output().unwrap()
    })
    .await
    .unwrap()
}

struct Setup {
    cert: Cert,
    pem: tempfile::NamedTempFile,
    body: tempfile::NamedTempFile,
    secret: Secret,
}

fn setup() -> Setup {
    let cert = Cert::new(&["127.0.0.1"]);
    let pem = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(pem.path(), &cert.pem).unwrap();
    let body = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(body.path(), br#"{"type":"ping"}"#).unwrap();
    Setup {
        cert,
        pem,
        body,
        secret: Secret::generate(),
    }
}

impl Setup {
    /// The arguments for `receiver`, without `--allow-net`.
    fn args(&self, receiver: &Receiver, extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = vec![
            "--secret".into(),
            self.secret.expose_secret().into(),
            "--id".into(),
            "msg_cli_1".into(),
            "--root-cert".into(),
            self.pem.path().display().to_string(),
        ];
        args.extend(extra.iter().map(|arg| (*arg).to_owned()));
        // An IP-literal host: `#.com` satisfies the seed's regex and is never sent.
        args.push(format!("https://127.0.0.1:{}#.com", receiver.port()));
        args.push(self.body.path().display().to_string());
        args
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[tokio::test]
async fn delivers_a_signed_body_and_exits_0() {
    let setup = setup();
    let verifier = Verifier::from_secret(&setup.secret);
    let receiver = Receiver::start(&setup.cert, Reply::Verify(verifier, 202)).await;
    let output = send(setup.args(&receiver, &["--allow-net", "127.0.0.1/32"])).await;
    let out = stdout(&output);
    assert!(
        output.status.success(),
        "{out} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let fields: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(fields[..2], ["delivered", "202"], "{out}");
    assert!(fields[2].ends_with("ms"), "{out}");
    let seen = receiver.seen();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].verified);
    assert_eq!(seen[0].body, br#"{"type":"ping"}"#);
    assert!(
        seen[0]
            .headers
            .contains(&("webhook-id".into(), "msg_cli_1".into()))
    );
}

#[tokio::test]
async fn loopback_is_refused_without_allow_net_and_exits_1() {
    let setup = setup();
    let receiver = Receiver::start(&setup.cert, Reply::status(204)).await;
    let output = send(setup.args(&receiver, &[])).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).starts_with("destination_not_allowed - "),
        "{}",
        stdout(&output)
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("127.0.0.1"));
    assert_eq!(receiver.connections(), 0);
}

#[tokio::test]
async fn a_failed_delivery_prints_the_status_and_exits_1() {
    let setup = setup();
    let receiver = Receiver::start(&setup.cert, Reply::status(500)).await;
    let output = send(setup.args(&receiver, &["--allow-net", "127.0.0.0/8"])).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).starts_with("retry 500 "),
        "{}",
        stdout(&output)
    );
}

#[tokio::test]
async fn bad_settings_print_their_code() {
    let setup = setup();
    let receiver = Receiver::start(&setup.cert, Reply::status(204)).await;
    for (extra, code) in [
        (&["--allow-net", "10.0.0.0/33"][..], "network_invalid"),
        (&["--timeout", "61"][..], "timeout_invalid"),
        (&["--timeout", "0"][..], "timeout_invalid"),
    ] {
        let output = send(setup.args(&receiver, extra)).await;
        assert_eq!(output.status.code(), Some(1), "{code}");
        assert_eq!(stdout(&output).trim(), code);
    }
    let mut args = setup.args(&receiver, &[]);
    let url = args.len() - 2;
    args[url] = "http://example.com/hook".into();
    let output = send(args).await;
    assert_eq!(stdout(&output).trim(), "url_invalid");
    assert_eq!(receiver.connections(), 0);
}

#[tokio::test]
async fn the_secret_can_come_from_the_environment_and_is_required() {
    let setup = setup();
    let verifier = Verifier::from_secret(&setup.secret);
    let receiver = Receiver::start(&setup.cert, Reply::Verify(verifier, 204)).await;
    let mut args = setup.args(&receiver, &["--allow-net", "127.0.0.1"]);
    args.drain(..2); // no --secret
    let secret = setup.secret.expose_secret().to_owned();
    let output = send_with_env(args.clone(), Some(secret)).await;
    assert!(output.status.success(), "{}", stdout(&output));
    assert!(receiver.seen()[0].verified);

    let output = send_with_env(args, None).await;
    assert_eq!(
        output.status.code(),
        Some(2),
        "a usage error without a secret"
    );
    assert_eq!(receiver.seen().len(), 1);
}
