//! The `webhook-kit` binary, run end to end.
#![cfg(feature = "cli")]
#![allow(clippy::unwrap_used)]

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use webhook_kit::{Secret, Signer, Verifier};

const BIN: &str = env!("CARGO_BIN_EXE_webhook-kit");

/// Runs the binary with `args`, `stdin` as standard input.
fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command given a file never reads standard input and may exit before it is written.
    if let Err(error) = child.stdin.take().unwrap().write_all(stdin) {
        assert_eq!(error.kind(), std::io::ErrorKind::BrokenPipe, "{error}");
    }
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// `verify` with its four required options.
fn verify_args<'a>(
    secret: &'a Secret,
    id: &'a str,
    timestamp: &'a str,
    signature: &'a str,
) -> Vec<&'a str> {
    vec![
        "verify",
        "--secret",
        secret.expose_secret(),
        "--id",
        id,
        "--timestamp",
        timestamp,
        "--signature",
        signature,
    ]
}

/// The exit code and what was printed.
fn outcome(output: &Output) -> (Option<i32>, String) {
    (output.status.code(), stdout(output))
}

#[test]
fn secret_prints_a_new_parseable_secret() {
    let first = run(&["secret"], b"");
    let second = run(&["secret"], b"");
    assert!(first.status.success());
    let text = stdout(&first);
    let secret: Secret = text.trim_end().parse().unwrap();
    assert_eq!(secret.expose_key().len(), 32);
    assert_ne!(text, stdout(&second));
}

#[test]
fn sign_prints_three_headers_that_verify() {
    let (new, old) = (Secret::generate(), Secret::generate());
    let output = run(
        &[
            "sign",
            "--secret",
            new.expose_secret(),
            "--secret",
            old.expose_secret(),
            "--id",
            "msg_1",
            "--timestamp",
            "1700000000",
        ],
        b"{\"type\":\"ping\"}",
    );
    assert!(output.status.success(), "{output:?}");
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[0], "webhook-id: msg_1");
    assert_eq!(lines[1], "webhook-timestamp: 1700000000");
    let expected = Signer::new(&[&new, &old])
        .unwrap()
        .sign("msg_1", 1_700_000_000, b"{\"type\":\"ping\"}")
        .unwrap();
    assert_eq!(lines[2], format!("webhook-signature: {expected}"));
}

#[test]
fn sign_reads_the_body_from_a_file_and_defaults_the_timestamp_to_now() {
    let secret = Secret::generate();
    let dir = std::env::temp_dir().join(format!("webhook-kit-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("body.bin");
    std::fs::write(&file, b"\xff\x00binary").unwrap();
    let output = run(
        &[
            "sign",
            "--secret",
            secret.expose_secret(),
            "--id",
            "msg_2",
            file.to_str().unwrap(),
        ],
        b"ignored",
    );
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(output.status.success(), "{output:?}");
    let text = stdout(&output);
    let received: Vec<(String, String)> = text
        .lines()
        .map(|line| {
            let (name, value) = line.split_once(": ").unwrap();
            (name.to_owned(), value.to_owned())
        })
        .collect();
    assert_eq!(
        Verifier::from_secret(&secret).verify(&received, b"\xff\x00binary"),
        Ok(())
    );
}

#[test]
fn sign_refuses_bad_input_with_its_code() {
    let secret = Secret::generate();
    let bad_id = run(
        &["sign", "--secret", secret.expose_secret(), "--id", "a.b"],
        b"",
    );
    assert_eq!(bad_id.status.code(), Some(1));
    assert_eq!(stdout(&bad_id), "message_id_invalid\n");
    let bad_secret = run(&["sign", "--secret", "nope", "--id", "msg_1"], b"");
    assert_eq!(bad_secret.status.code(), Some(1));
    assert_eq!(stdout(&bad_secret), "secret_invalid\n");
    let no_secret = run(&["sign", "--id", "msg_1"], b"");
    assert_eq!(no_secret.status.code(), Some(2), "usage error");
}

#[test]
fn verify_prints_ok_or_the_error_code() {
    let secret = Secret::generate();
    let body = b"{\"a\":1}";
    let signed = Signer::from_secret(&secret)
        .headers("msg_1", 1_700_000_000, body)
        .unwrap();
    let verify = |signature: &str, now: &str, extra: &[&str], body: &[u8]| {
        let mut args = verify_args(&secret, "msg_1", "1700000000", signature);
        args.extend(["--now", now]);
        args.extend_from_slice(extra);
        run(&args, body)
    };
    // (--now, more options, body, exit code, printed)
    type Case<'a> = (&'a str, &'a [&'a str], &'a [u8], i32, &'a str);
    let cases: [Case; 5] = [
        ("1700000100", &[], body, 0, "ok\n"),
        ("1700000100", &[], b"{\"a\":2}", 1, "signature_mismatch\n"),
        ("1700000301", &[], body, 1, "timestamp_too_old\n"),
        ("1700000301", &["--tolerance", "600"], body, 0, "ok\n"),
        ("-5", &[], body, 1, "timestamp_too_new\n"),
    ];
    for (now, extra, body, code, printed) in cases {
        let output = verify(signed.signature(), now, extra, body);
        assert_eq!(
            outcome(&output),
            (Some(code), printed.to_owned()),
            "--now {now} {extra:?}"
        );
    }
    let unknown_only = verify("v2,abc", "1700000000", &[], body);
    assert_eq!(stdout(&unknown_only), "signature_mismatch\n");
}

#[test]
fn verify_takes_other_senders_secrets_as_given_and_sign_stays_strict() {
    // 16 bytes, unpadded base64, no `whsec_` prefix: how some senders hand secrets out.
    let raw = "AAECAwQFBgcICQoLDA0ODw";
    let lenient = Secret::parse_lenient(raw).unwrap();
    let body = b"{}";
    let signed = Signer::from_secret(&lenient)
        .headers("msg_1", 1_700_000_000, body)
        .unwrap();
    let verify = |secret: &str| {
        let args = [
            "verify",
            "--secret",
            secret,
            "--id",
            "msg_1",
            "--timestamp",
            "1700000000",
            "--signature",
            signed.signature(),
            "--now",
            "1700000000",
        ];
        outcome(&run(&args, body))
    };
    for given in [
        raw,
        "AAECAwQFBgcICQoLDA0ODw==",
        "whsec_AAECAwQFBgcICQoLDA0ODw",
    ] {
        assert_eq!(verify(given), (Some(0), "ok\n".to_owned()), "{given}");
    }
    assert_eq!(
        verify("not base64!"),
        (Some(1), "secret_invalid\n".to_owned())
    );
    let sign = run(&["sign", "--secret", raw, "--id", "msg_1"], body);
    assert_eq!(outcome(&sign), (Some(1), "secret_invalid\n".to_owned()));
}

#[test]
fn verify_reports_a_bad_timestamp_header_and_uses_the_clock_by_default() {
    let secret = Secret::generate();
    let mut args = verify_args(&secret, "msg_1", "+1700000000", "v1,x");
    args.extend(["--now", "1700000000"]);
    let bad = run(&args, b"");
    assert_eq!(outcome(&bad), (Some(1), "timestamp_invalid\n".to_owned()));
    let signed = Signer::from_secret(&secret)
        .headers_now("msg_1", b"")
        .unwrap();
    let fresh = run(
        &verify_args(&secret, signed.id(), signed.timestamp(), signed.signature()),
        b"",
    );
    assert_eq!(outcome(&fresh), (Some(0), "ok\n".to_owned()));
}

#[test]
fn check_url_applies_the_rule_and_the_default_policy() {
    let ok = run(&["check-url", "https://hooks.example.com/in"], b"");
    assert_eq!(outcome(&ok), (Some(0), "ok\n".to_owned()));
    let invalid = run(&["check-url", "http://hooks.example.com/in"], b"");
    assert_eq!(outcome(&invalid), (Some(1), "url_invalid\n".to_owned()));
    let refused = run(&["check-url", "https://evil.com@127.0.0.1"], b"");
    assert_eq!(outcome(&refused), (Some(1), "url_not_allowed\n".to_owned()));
    for empty_label in [
        "https://127.0.0.1..#.com",
        "https://169.254.169.254..:8080#.com",
        "https://metadata.google.internal%2e%2e#.com",
    ] {
        let refused = run(&["check-url", empty_label], b"");
        assert_eq!(
            outcome(&refused),
            (Some(1), "url_not_allowed\n".to_owned()),
            "{empty_label}"
        );
    }
}

#[test]
fn secrets_can_come_from_the_environment_and_never_show_in_help() {
    let (new, old) = (Secret::generate(), Secret::generate());
    let both = format!("{} {}", new.expose_secret(), old.expose_secret());
    let with_env = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .env("WEBHOOK_SECRET", &both)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };

    let signed = with_env(&[
        "sign",
        "--id",
        "msg_env",
        "--timestamp",
        "1700000000",
        "/dev/null",
    ]);
    assert!(signed.status.success(), "{signed:?}");
    let text = stdout(&signed);
    let signature = text
        .lines()
        .find_map(|line| line.strip_prefix("webhook-signature: "))
        .unwrap();
    assert_eq!(signature.split(' ').count(), 2, "{text}");
    let expected = Signer::new(&[&new, &old])
        .unwrap()
        .sign("msg_env", 1_700_000_000, b"")
        .unwrap();
    assert_eq!(signature, expected);

    let verified = with_env(&[
        "verify",
        "--id",
        "msg_env",
        "--timestamp",
        "1700000000",
        "--signature",
        signature,
        "--now",
        "1700000000",
        "/dev/null",
    ]);
    assert_eq!(outcome(&verified), (Some(0), "ok\n".to_owned()));

    for help in [&["sign", "--help"][..], &["verify", "--help"][..]] {
        let shown = with_env(help);
        let all = format!(
            "{}{}",
            stdout(&shown),
            String::from_utf8_lossy(&shown.stderr)
        );
        assert!(all.contains("WEBHOOK_SECRET"), "{all}");
        assert!(!all.contains(&new.expose_secret()[6..]), "{all}");
        assert!(!all.contains(&old.expose_secret()[6..]), "{all}");
    }
}

#[test]
fn header_values_may_start_with_a_hyphen() {
    let secret = Secret::generate();
    let mut args = verify_args(&secret, "msg_1", "-9223372036854775808", "v1,x");
    args.extend(["--now", "1700000000", "/dev/null"]);
    assert_eq!(
        outcome(&run(&args, b"")),
        (Some(1), "timestamp_invalid\n".to_owned())
    );

    let signed = run(
        &[
            "sign",
            "--secret",
            secret.expose_secret(),
            "--id",
            "-msg",
            "--timestamp",
            "1700000000",
            "/dev/null",
        ],
        b"",
    );
    assert_eq!(signed.status.code(), Some(0), "{signed:?}");
    let text = stdout(&signed);
    assert!(text.starts_with("webhook-id: -msg\n"), "{text}");
    let signature = text
        .lines()
        .find_map(|line| line.strip_prefix("webhook-signature: "))
        .unwrap();
    let mut args = verify_args(&secret, "-msg", "1700000000", signature);
    args.extend(["--now", "1700000000", "/dev/null"]);
    assert_eq!(outcome(&run(&args, b"")), (Some(0), "ok\n".to_owned()));

    let mut args = verify_args(&secret, "-msg", "1700000000", "-v1,abc");
    args.extend(["--now", "1700000000", "/dev/null"]);
    assert_eq!(
        outcome(&run(&args, b"")),
        (Some(1), "signature_mismatch\n".to_owned())
    );

    let negative = run(
        &[
            "sign",
            "--secret",
            secret.expose_secret(),
            "--id",
            "msg_1",
            "--timestamp",
            "-1",
            "/dev/null",
        ],
        b"",
    );
    assert_eq!(
        outcome(&negative),
        (Some(1), "timestamp_invalid\n".to_owned())
    );
}

/// Runs the binary with its standard output a pipe whose reading end is already closed.
fn run_into_closed_pipe(args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn a_closed_output_pipe_is_exit_3_never_a_panic() {
    let secret = Secret::generate();
    let signed = Signer::from_secret(&secret)
        .headers("msg_1", 1_700_000_000, b"")
        .unwrap();
    let sign = [
        "sign",
        "--secret",
        secret.expose_secret(),
        "--id",
        "msg_1",
        "/dev/null",
    ];
    let mut verify = verify_args(&secret, "msg_1", "1700000000", signed.signature());
    verify.extend(["--now", "1700000000", "/dev/null"]);
    let commands: [(&[&str], i32); 5] = [
        (&["secret"], 3),
        (&sign, 3),
        (&verify, 3),
        (&["check-url", "https://example.com/in"], 3),
        // A failed check keeps its status; only its printed code is lost.
        (&["check-url", "http://example.com/in"], 1),
    ];
    for (args, code) in commands {
        let output = run_into_closed_pipe(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn an_unreadable_body_is_exit_3_with_a_message() {
    let secret = Secret::generate();
    let output = run(
        &[
            "sign",
            "--secret",
            secret.expose_secret(),
            "--id",
            "msg_1",
            "/nonexistent/body.json",
        ],
        b"",
    );
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(stdout(&output), "");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("webhook-kit: cannot read the body: "),
        "{stderr}"
    );
}

#[test]
fn without_a_secret_in_arguments_or_environment_it_is_a_usage_error() {
    for args in [
        &["sign", "--id", "msg_1", "/dev/null"][..],
        &[
            "verify",
            "--id",
            "msg_1",
            "--timestamp",
            "1",
            "--signature",
            "v1,x",
            "/dev/null",
        ],
    ] {
        for env in [None, Some(""), Some("  ")] {
            let mut command = Command::new(BIN);
            command.args(args).env_remove("WEBHOOK_SECRET");
            if let Some(value) = env {
                command.env("WEBHOOK_SECRET", value);
            }
            let output = command.stdin(Stdio::null()).output().unwrap();
            assert_eq!(output.status.code(), Some(2), "{args:?} {env:?}");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(stderr.contains("WEBHOOK_SECRET"), "{stderr}");
        }
    }
    let bad = Command::new(BIN)
        .args(["sign", "--id", "msg_1", "/dev/null"])
        .env("WEBHOOK_SECRET", "whsec_nope")
        .output()
        .unwrap();
    assert_eq!(outcome(&bad), (Some(1), "secret_invalid\n".to_owned()));
}
