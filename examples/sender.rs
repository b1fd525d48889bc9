//! The sending side: register webhooks, produce the signed deliveries of an event with
//! `Webhooks::deliveries`, and print each one as a `curl` command (shell-quoted, so it can
//! be pasted or piped to `sh` as is), plus a retry of it (same `webhook-id`, fresh
//! signature).
//!
//! Run:
//!
//! ```text
//! cargo run --example sender                                      # print only
//! cargo run --example sender -- http://127.0.0.1:3000/webhooks    # curl to a local receiver
//! ```
//!
//! The webhook is registered at `https://receiver.example.com/webhooks`; with an argument
//! the `curl` commands go to that address instead (a local `examples/receiver.rs` listens on
//! plain HTTP). The first line printed is the webhook's secret, for the receiver:
//!
//! ```text
//! cargo run -q --example sender -- http://127.0.0.1:3000/webhooks > deliveries.sh
//! WEBHOOK_SECRET=$(sed -n 's/^# WEBHOOK_SECRET=//p' deliveries.sh) \
//!     cargo run --example receiver --features axum &
//! sh deliveries.sh     # 204 for the delivery, then `duplicate` for its retry
//! ```
//!
//! Deliveries are signed at the current time, and receivers refuse them after 5 minutes.

use std::error::Error as StdError;
use std::fmt::Write as _;

use webhook_kit::{
    AccountFilter, AccountType, CreateWebhookRequest, Delivery, Event, EventId, MemoryStore, Scope,
    UnsendableUrl, Webhooks,
};

/// `text` as one single-quoted shell word: every byte literal, `'` written as `'\''`.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// A `printf` format that writes exactly `bytes`: every byte as a 3-digit octal escape.
fn printf_octal(bytes: &[u8]) -> String {
    let mut format = String::with_capacity(bytes.len() * 4 + 2);
    format.push('\'');
    for byte in bytes {
        let _ = write!(format, "\\{byte:03o}");
    }
    format.push('\'');
    format
}

/// The `curl` command that sends `delivery` to `send_to` (its own URL when `None`).
///
/// The body is given with `--data-binary`, which sends it byte for byte. A body that is not
/// UTF-8, holds a NUL, or starts with `@` (which curl would read as a file name) is piped in
/// from `printf` instead.
fn curl_command(delivery: &Delivery, send_to: Option<&str>) -> Result<String, UnsendableUrl> {
    // The URL as the destination policy saw it, not as curl would parse the original text.
    let url = match send_to {
        Some(url) => url.to_owned(),
        None => delivery.request_url()?,
    };
    let mut command = String::from("curl -sS -w ' %{http_code}\\n' -X POST ");
    command.push_str(&shell_quote(&url));
    for (name, value) in delivery.header_pairs() {
        command.push_str(" -H ");
        command.push_str(&shell_quote(&format!("{name}: {value}")));
    }
    match std::str::from_utf8(delivery.body()) {
        Ok(body) if !body.contains('\0') && !body.starts_with('@') => {
            command.push_str(" --data-binary ");
            command.push_str(&shell_quote(body));
            Ok(command)
        }
        _ => Ok(format!(
            "printf {} | {command} --data-binary @-",
            printf_octal(delivery.body())
        )),
    }
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn StdError>> {
    let send_to = std::env::args().nth(1);
    let webhooks = Webhooks::new(MemoryStore::new());
    let scope = Scope::new("org_acme".parse()?, AccountType::Test);

    // One webhook for every account, one for `acc_2` only: an event of `acc_1` goes to the first.
    let every = CreateWebhookRequest::new("https://receiver.example.com/webhooks".parse()?);
    let every = webhooks.create(&scope, every).await?;
    let only_acc_2 = CreateWebhookRequest::new("https://other.example.com/hook".parse()?)
        .with_account_filter(AccountFilter::from_ids(["acc_2".parse()?])?);
    webhooks.create(&scope, only_acc_2).await?;
    println!("# WEBHOOK_SECRET={}", every.secret().expose_secret());

    let body = serde_json::json!({
        "type": "order.paid",
        "data": { "order": "ord_1", "amount": 1200, "note": "it's $5 off `today`" },
    });
    let event = Event::new(
        EventId::generate(),
        scope,
        "acc_1".parse()?,
        serde_json::to_vec(&body)?,
    );

    for delivery in webhooks.deliveries(&event, unix_now()).await? {
        println!(
            "# delivery of {} to webhook {}",
            event.id(),
            delivery.webhook_id()
        );
        println!("{}", curl_command(&delivery, send_to.as_deref())?);
        // A retry, say 30 seconds later: same `webhook-id` (the receiver answers
        // `duplicate`), a fresh timestamp and signature.
        let retry = delivery.resigned(unix_now() + 30)?;
        println!("# retry 30 s later (same webhook-id)");
        println!("{}", curl_command(&retry, send_to.as_deref())?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::process::Command;

    use super::*;

    /// What a real `sh` makes of `script`: stdout bytes.
    fn sh(script: &str) -> Vec<u8> {
        let output = Command::new("sh").arg("-c").arg(script).output().unwrap();
        assert!(output.status.success(), "{script}");
        output.stdout
    }

    const TRICKY: &[&str] = &[
        "",
        "plain",
        "it's",
        "''",
        "$(echo pwned)",
        "`echo pwned`",
        "$HOME ${HOME} \\ \\n",
        "a\nb\tc",
        "!event; rm -rf / &",
        "\"double\" 'single'",
        "é ✓",
    ];

    #[test]
    fn shell_quote_gives_back_every_byte() {
        for text in TRICKY {
            let script = format!("printf %s {}", shell_quote(text));
            assert_eq!(sh(&script), text.as_bytes(), "{text:?}");
        }
    }

    #[test]
    fn printf_octal_gives_back_every_byte() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(sh(&format!("printf {}", printf_octal(&bytes))), bytes);
    }

    async fn delivery(body: &[u8]) -> Delivery {
        let webhooks = Webhooks::new(MemoryStore::new());
        let scope = Scope::new("org_1".parse().unwrap(), AccountType::Live);
        let request =
            CreateWebhookRequest::new("https://example.com/a?b=c&d=~e#f".parse().unwrap());
        webhooks.create(&scope, request).await.unwrap();
        let event = Event::new(EventId::generate(), scope, "acc_1".parse().unwrap(), body);
        webhooks
            .deliveries(&event, 1_700_000_000)
            .await
            .unwrap()
            .into_vec()
            .pop()
            .unwrap()
    }

    /// Runs `command` with `curl` replaced by a shell function that prints each argument
    /// NUL-terminated, a marker, then its standard input; the arguments and the input.
    fn curl_run(command: &str) -> (Vec<Vec<u8>>, Vec<u8>) {
        let fake =
            r#"curl() { for a in "$@"; do printf '%s\0' "$a"; done; printf 'STDIN\0'; cat; }"#;
        let output = sh(&format!("{fake}\n{command}"));
        let mut arguments = Vec::new();
        let mut rest = &output[..];
        loop {
            let end = rest.iter().position(|&b| b == 0).unwrap();
            let (argument, tail) = (&rest[..end], &rest[end + 1..]);
            if argument == b"STDIN" {
                return (arguments, tail.to_vec());
            }
            arguments.push(argument.to_vec());
            rest = tail;
        }
    }

    #[tokio::test]
    async fn curl_commands_pass_url_headers_and_body_unchanged() {
        for body in [
            &br#"{"note":"it's $5 off `today`"}"#[..],
            b"@/etc/passwd",
            b"bytes \x00\xff\n",
        ] {
            let delivery = delivery(body).await;
            let (arguments, stdin) = curl_run(&curl_command(&delivery, None).unwrap());
            let text = |a: &Vec<u8>| String::from_utf8(a.clone()).unwrap();
            let at = |flag: &str| arguments.iter().position(|a| text(a) == flag).unwrap();
            assert_eq!(
                text(&arguments[at("POST") + 1]),
                "https://example.com/a?b=c&d=~e"
            );
            let headers: Vec<String> = arguments
                .windows(2)
                .filter(|pair| pair[0] == b"-H")
                .map(|pair| text(&pair[1]))
                .collect();
            let expected: Vec<String> = delivery
                .header_pairs()
                .iter()
                .map(|(name, value)| format!("{name}: {value}"))
                .collect();
            assert_eq!(headers, expected);
            let data = &arguments[at("--data-binary") + 1];
            if data == b"@-" {
                // Piped: the body is what follows the arguments, on standard input.
                assert_eq!(stdin, body, "{body:?}");
            } else {
                assert_eq!(data, body);
                assert!(stdin.is_empty());
            }
        }
        let delivery = delivery(b"{}").await;
        let (arguments, _) =
            curl_run(&curl_command(&delivery, Some("http://127.0.0.1:3000/x")).unwrap());
        assert!(arguments.contains(&b"http://127.0.0.1:3000/x".to_vec()));
    }
}
