//! The `webhook-kit` binary with Ed25519 (`v1a`) keys, run end to end.
#![cfg(feature = "cli")]
#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

use webhook_kit::{PublicKey, Secret, Signer, SigningKey, Verifier};

const BIN: &str = env!("CARGO_BIN_EXE_webhook-kit");

/// Runs the binary with `args`, the body given as a file, no secret in the environment.
fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("WEBHOOK_SECRET")
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn body_file(body: &[u8]) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), body).unwrap();
    file
}

#[test]
fn secret_ed25519_prints_a_matching_key_pair() {
    let output = run(&["secret", "--ed25519"]);
    assert!(output.status.success());
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    let key: SigningKey = lines[0].parse().unwrap();
    let public: PublicKey = lines[1].parse().unwrap();
    assert_eq!(key.public_key(), public);
    assert_ne!(stdout(&run(&["secret", "--ed25519"])), text);
}

#[test]
fn sign_with_a_key_verifies_with_its_public_key() {
    let (key, secret) = (SigningKey::generate(), Secret::generate());
    let body = body_file(b"{\"type\":\"ping\"}");
    let path = body.path().to_str().unwrap();
    let output = run(&[
        "sign",
        "--key",
        key.expose_secret(),
        "--id",
        "msg_1",
        "--timestamp",
        "1700000000",
        path,
    ]);
    assert!(output.status.success(), "{output:?}");
    let text = stdout(&output);
    let signature = text
        .lines()
        .find_map(|line| line.strip_prefix("webhook-signature: "))
        .unwrap()
        .to_owned();
    assert!(signature.starts_with("v1a,") && !signature.contains(' '));
    let headers = [
        ("webhook-id", "msg_1"),
        ("webhook-timestamp", "1700000000"),
        ("webhook-signature", signature.as_str()),
    ];
    let verifier = Verifier::from_public_key(&key.public_key());
    assert_eq!(
        verifier.verify_at(&headers, b"{\"type\":\"ping\"}", 1_700_000_000),
        Ok(())
    );

    // With a secret too: one header, the v1 token first.
    let both = run(&[
        "sign",
        "--secret",
        secret.expose_secret(),
        "--key",
        key.expose_secret(),
        "--id",
        "msg_1",
        "--timestamp",
        "1700000000",
        path,
    ]);
    let expected = Signer::from_secret(&secret)
        .with_signing_key(&key)
        .unwrap()
        .sign("msg_1", 1_700_000_000, b"{\"type\":\"ping\"}")
        .unwrap();
    assert!(stdout(&both).contains(&format!("webhook-signature: {expected}\n")));

    // The command line's verify agrees, and refuses a changed body.
    let public = key.public_key().to_string();
    let verify = |file: &str| {
        run(&[
            "verify",
            "--public-key",
            &public,
            "--id",
            "msg_1",
            "--timestamp",
            "1700000000",
            "--signature",
            &signature,
            "--now",
            "1700000000",
            file,
        ])
    };
    let ok = verify(path);
    assert_eq!(
        (ok.status.code(), stdout(&ok)),
        (Some(0), "ok\n".to_owned())
    );
    let other = body_file(b"{\"type\":\"pong\"}");
    let refused = verify(other.path().to_str().unwrap());
    assert_eq!(
        (refused.status.code(), stdout(&refused)),
        (Some(1), "signature_mismatch\n".to_owned())
    );
}

#[test]
fn bad_keys_are_refused_with_their_code() {
    let body = body_file(b"{}");
    let path = body.path().to_str().unwrap();
    let secret = Secret::generate();
    for args in [
        vec![
            "sign",
            "--key",
            secret.expose_secret(),
            "--id",
            "msg_1",
            path,
        ],
        vec![
            "verify",
            "--public-key",
            "whpk_AAAA",
            "--id",
            "msg_1",
            "--timestamp",
            "1",
            "--signature",
            "v1a,x",
            path,
        ],
    ] {
        let output = run(&args);
        assert_eq!(
            (output.status.code(), stdout(&output)),
            (Some(1), "key_invalid\n".to_owned()),
            "{args:?}"
        );
        assert!(!String::from_utf8_lossy(&output.stderr).contains(&secret.expose_secret()[6..]));
    }
    // Neither a secret nor a key is a usage error.
    let output = run(&["sign", "--id", "msg_1", path]);
    assert_eq!(output.status.code(), Some(2));
}
