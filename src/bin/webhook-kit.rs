//! `webhook-kit`: make secrets, sign and verify Standard Webhooks deliveries, check
//! webhook URLs, and (with feature `send`) send one delivery, from the command line.
//!
//! Exit status: 0 on success; 1 when a check fails or an input is refused (the error's
//! code is printed); 2 on a usage error; 3 when the body cannot be read or the output
//! cannot be written (a closed pipe, say: never a panic).
//!
//! Secrets given with `--secret` or `WEBHOOK_SECRET` are held only in memory wiped on drop
//! (`zeroize`). Out of reach: the process's own copy of its arguments and environment, and
//! the argument parser's raw copy of `--secret` values (hence `WEBHOOK_SECRET`, which the
//! parser never sees).

use std::ffi::OsString;
use std::io::{self, Read as _, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr as _;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{CommandFactory as _, Parser, Subcommand};
use webhook_kit::{
    DestinationPolicy, PublicKey, Secret, SecretError, Signer, SigningKey, Verifier,
};
use zeroize::Zeroizing;

/// The environment variable read for `--secret` when the option is absent.
const SECRET_ENV: &str = "WEBHOOK_SECRET";

/// Exit status of a failed check or a refused input.
const EXIT_REFUSED: u8 = 1;
/// Exit status when the body cannot be read or the output cannot be written.
const EXIT_IO: u8 = 3;

/// A secret's text as given, wiped on drop.
type SecretText = Zeroizing<String>;

/// Make secrets, sign and verify Standard Webhooks deliveries, check webhook URLs.
// No `Debug` here or on `Command`: the arguments hold secrets in plain `String`s.
#[derive(Parser)]
#[command(
    name = "webhook-kit",
    version,
    after_help = "Exit status: 0 ok; 1 a check failed or an input was refused (its code is \
                  printed); 2 usage error; 3 the body could not be read or the output written."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print a new secret (`whsec_…`, 32 random bytes).
    Secret {
        /// Print a new Ed25519 signing key (`whsk_…`, for `sign --key`) and, on the next
        /// line, its public key (`whpk_…`, for `verify --public-key`) instead.
        #[arg(long)]
        ed25519: bool,
    },
    /// Print the `webhook-id`, `webhook-timestamp` and `webhook-signature` headers for a body.
    Sign {
        /// A `whsec_…` secret; repeat during a rotation, newest first. Or set
        /// `WEBHOOK_SECRET` (several space-separated), which keeps secrets out of `ps`.
        #[arg(long = "secret", value_parser = secret_text, value_delimiter = ' ')]
        secrets: Vec<SecretText>,
        /// A `whsk_…` Ed25519 signing key (a `v1a` signature, after the `v1` ones); repeatable.
        #[arg(long = "key", value_parser = secret_text)]
        keys: Vec<SecretText>,
        /// The message id (visible ASCII, no `.`; may start with `-`).
        #[arg(long, allow_hyphen_values = true)]
        id: String,
        /// Unix seconds of the attempt; defaults to now.
        #[arg(long, allow_hyphen_values = true)]
        timestamp: Option<i64>,
        /// The body; read from standard input when absent.
        file: Option<PathBuf>,
    },
    /// Check a captured delivery: print `ok`, or the error code and exit 1.
    Verify {
        /// A `whsec_…` secret; repeat to accept any of several. Or set `WEBHOOK_SECRET`
        /// (several space-separated), which keeps secrets out of `ps`.
        #[arg(long = "secret", value_parser = secret_text, value_delimiter = ' ')]
        secrets: Vec<SecretText>,
        /// A `whpk_…` Ed25519 public key, accepting `v1a` signatures; repeatable.
        #[arg(long = "public-key")]
        public_keys: Vec<String>,
        /// The `webhook-id` header value, whatever it holds (it may start with `-`).
        #[arg(long, allow_hyphen_values = true)]
        id: String,
        /// The `webhook-timestamp` header value, whatever it holds (it may start with `-`).
        #[arg(long, allow_hyphen_values = true)]
        timestamp: String,
        /// The `webhook-signature` header value, whatever it holds (it may start with `-`).
        #[arg(long, allow_hyphen_values = true)]
        signature: String,
        /// Unix seconds to check the timestamp against; defaults to now.
        #[arg(long, allow_negative_numbers = true)]
        now: Option<i64>,
        /// Accepted clock difference, in seconds, either way (default 300).
        #[arg(long)]
        tolerance: Option<u64>,
        /// The body; read from standard input when absent.
        file: Option<PathBuf>,
    },
    /// Apply the URL rule and the default destination policy: print `ok`, or the error
    /// code and exit 1.
    CheckUrl {
        /// The URL to check.
        url: String,
    },
    /// Sign a body and make one delivery attempt to URL over HTTPS, through the same
    /// transport and destination guard as the library: print the outcome code, the status
    /// (`-` without a response) and the duration; exit 0 when delivered, 1 otherwise.
    #[cfg(feature = "send")]
    Send(send::Args),
}

fn main() -> ExitCode {
    let command = Cli::parse().command;
    let mut out = io::stdout().lock();
    let result = run(command, &mut out).and_then(|()| out.flush().map_err(Failure::Output));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Code(code)) => {
            // The status says it already; a closed pipe only loses the printed code.
            let _ = writeln!(out, "{code}").and_then(|()| out.flush());
            ExitCode::from(EXIT_REFUSED)
        }
        Err(Failure::Input(error)) => {
            report(format_args!("cannot read the body: {error}"));
            ExitCode::from(EXIT_IO)
        }
        Err(Failure::Output(error)) => {
            if error.kind() != io::ErrorKind::BrokenPipe {
                report(format_args!("cannot write the output: {error}"));
            }
            ExitCode::from(EXIT_IO)
        }
        #[cfg(feature = "send")]
        Err(Failure::NotDelivered) => ExitCode::from(EXIT_REFUSED),
    }
}

/// Writes a message to standard error, which may be closed too.
fn report(message: std::fmt::Arguments<'_>) {
    let _ = writeln!(io::stderr(), "webhook-kit: {message}");
}

/// Why a command failed.
enum Failure {
    /// A refused input or a failed check, by its stable code.
    Code(&'static str),
    /// The body could not be read.
    Input(io::Error),
    /// The output could not be written.
    Output(io::Error),
    /// `send` printed its attempt, which did not deliver.
    #[cfg(feature = "send")]
    NotDelivered,
}

fn run(command: Command, out: &mut impl Write) -> Result<(), Failure> {
    let mut print =
        |line: std::fmt::Arguments<'_>| writeln!(out, "{line}").map_err(Failure::Output);
    match command {
        Command::Secret { ed25519: false } => {
            print(format_args!("{}", Secret::generate().expose_secret()))?;
        }
        Command::Secret { ed25519: true } => {
            let key = SigningKey::generate();
            print(format_args!(
                "{}\n{}",
                key.expose_secret(),
                key.public_key()
            ))?;
        }
        Command::Sign {
            secrets,
            keys,
            id,
            timestamp,
            file,
        } => {
            let signer = signer(
                &parse_secrets(secrets, "sign", !keys.is_empty(), Secret::from_str)?,
                &parse_keys::<SigningKey>(&keys)?,
            )?;
            let body = read_body(file)?;
            let headers = match timestamp {
                Some(timestamp) => signer.headers(&id, timestamp, &body),
                None => signer.headers_now(&id, &body),
            }
            .map_err(|e| Failure::Code(e.code()))?;
            for (name, value) in headers.pairs() {
                print(format_args!("{name}: {value}"))?;
            }
        }
        Command::Verify {
            secrets,
            public_keys,
            id,
            timestamp,
            signature,
            now,
            tolerance,
            file,
        } => {
            let mut verifier = verifier(
                &parse_secrets(
                    secrets,
                    "verify",
                    !public_keys.is_empty(),
                    // Checking another sender's delivery: take its secret as other
                    // Standard Webhooks libraries do (prefix and padding optional).
                    Secret::parse_lenient,
                )?,
                &parse_keys::<PublicKey>(&public_keys)?,
            )?;
            if let Some(seconds) = tolerance {
                verifier = verifier.with_tolerance(Duration::from_secs(seconds));
            }
            let body = read_body(file)?;
            let headers = [
                (webhook_kit::HEADER_ID, id),
                (webhook_kit::HEADER_TIMESTAMP, timestamp),
                (webhook_kit::HEADER_SIGNATURE, signature),
            ];
            match now {
                Some(now) => verifier.verify_at(&headers, &body, now),
                None => verifier.verify(&headers, &body),
            }
            .map_err(|e| Failure::Code(e.code()))?;
            print(format_args!("ok"))?;
        }
        Command::CheckUrl { url } => {
            DestinationPolicy::default()
                .parse(&url)
                .map_err(|e| Failure::Code(e.code()))?;
            print(format_args!("ok"))?;
        }
        #[cfg(feature = "send")]
        Command::Send(args) => send::run(args, out)?,
    }
    Ok(())
}

/// Takes a `--secret` value into wiped memory.
fn secret_text(text: &str) -> Result<SecretText, std::convert::Infallible> {
    Ok(Zeroizing::new(text.to_owned()))
}

/// The secrets of `--secret`, or else of `WEBHOOK_SECRET`, each read by `parse`; a usage
/// error of `subcommand` (exit 2) when neither gives one and no Ed25519 key was given
/// either (`keys_given`).
fn parse_secrets(
    given: Vec<SecretText>,
    subcommand: &str,
    keys_given: bool,
    parse: fn(&str) -> Result<Secret, SecretError>,
) -> Result<Vec<Secret>, Failure> {
    let texts = if given.is_empty() {
        secrets_from_env(std::env::var_os(SECRET_ENV))?
    } else {
        given
    };
    if texts.is_empty() && !keys_given {
        let mut cli = Cli::command();
        cli.build();
        cli.find_subcommand_mut(subcommand)
            .unwrap_or(&mut Cli::command())
            .error(
                ErrorKind::MissingRequiredArgument,
                format!("a secret is needed: --secret <SECRET> or {SECRET_ENV}"),
            )
            .exit();
    }
    texts
        .iter()
        .map(|text| parse(text).map_err(|e| Failure::Code(e.code())))
        .collect()
}

/// The space-separated secrets of the environment variable's value, each in wiped memory,
/// as is the value itself once read.
fn secrets_from_env(value: Option<OsString>) -> Result<Vec<SecretText>, Failure> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let bytes = Zeroizing::new(value.into_encoded_bytes());
    let text = std::str::from_utf8(&bytes).map_err(|_| Failure::Code("secret_invalid"))?;
    Ok(text
        .split(' ')
        .filter(|part| !part.is_empty())
        .map(|part| Zeroizing::new(part.to_owned()))
        .collect())
}

/// The Ed25519 keys (signing or public) of `--key` or `--public-key`.
fn parse_keys<K: std::str::FromStr<Err = webhook_kit::Ed25519KeyError>>(
    texts: &[impl AsRef<str>],
) -> Result<Vec<K>, Failure> {
    texts
        .iter()
        .map(|text| {
            text.as_ref()
                .parse::<K>()
                .map_err(|e| Failure::Code(e.code()))
        })
        .collect()
}

/// A signer for the secrets (newest first), then the Ed25519 keys.
fn signer(secrets: &[Secret], keys: &[SigningKey]) -> Result<Signer, Failure> {
    let code = |e: webhook_kit::SecretsError| Failure::Code(e.code());
    let (mut signer, keys) = match (secrets.is_empty(), keys.split_first()) {
        (true, Some((first, rest))) => (Signer::from_signing_key(first), rest),
        _ => (Signer::new(secrets).map_err(code)?, keys),
    };
    for key in keys {
        signer = signer.with_signing_key(key).map_err(code)?;
    }
    Ok(signer)
}

/// A verifier for the secrets and the Ed25519 public keys.
fn verifier(secrets: &[Secret], keys: &[PublicKey]) -> Result<Verifier, Failure> {
    let code = |e: webhook_kit::SecretsError| Failure::Code(e.code());
    let (mut verifier, keys) = match (secrets.is_empty(), keys.split_first()) {
        (true, Some((first, rest))) => (Verifier::from_public_key(first), rest),
        _ => (Verifier::new(secrets).map_err(code)?, keys),
    };
    for key in keys {
        verifier = verifier.with_public_key(key).map_err(code)?;
    }
    Ok(verifier)
}

fn read_body(file: Option<PathBuf>) -> Result<Vec<u8>, Failure> {
    match file {
        Some(path) => std::fs::read(path).map_err(Failure::Input),
        None => {
            let mut body = Vec::new();
            io::stdin().read_to_end(&mut body).map_err(Failure::Input)?;
            Ok(body)
        }
    }
}

/// `webhook-kit send`: one attempt through `HttpsTransport`.
#[cfg(feature = "send")]
mod send {
    use std::io::Write;
    use std::path::PathBuf;
    use std::time::Duration;

    use webhook_kit::send::{DEFAULT_CONNECT_TIMEOUT, HttpsTransport, InvalidNetwork, Network};
    use webhook_kit::{
        AccountFilter, AccountType, Delivery, Event, EventId, InvalidId, Outcome, Scope, Transport,
        UrlError, Webhook, WebhookId, WebhookParts,
    };

    use super::{Failure, SecretText, parse_secrets, read_body, report, secret_text};

    /// The options of `send`.
    #[derive(clap::Args)]
    pub struct Args {
        /// The receiver's `whsec_…` secret. Or set `WEBHOOK_SECRET`, which keeps it out of
        /// `ps`. When several are given, the first signs.
        #[arg(long = "secret", value_parser = secret_text, value_delimiter = ' ')]
        secrets: Vec<SecretText>,
        /// The message id (`webhook-id`); a new one when absent.
        #[arg(long, allow_hyphen_values = true)]
        id: Option<String>,
        /// A network (CIDR, or one address) to allow besides public addresses, such as
        /// 127.0.0.1/32 for a receiver on this machine; repeat for several.
        #[arg(long = "allow-net", value_name = "CIDR")]
        allow_net: Vec<String>,
        /// A PEM file of certificates to trust besides the system's (a private CA, a
        /// self-signed receiver).
        #[arg(long = "root-cert", value_name = "PEM")]
        root_cert: Option<PathBuf>,
        /// The total timeout in seconds, at most 60 (default 15).
        #[arg(long, value_name = "SECS")]
        timeout: Option<u64>,
        /// Where to send: an `https` URL as a webhook would be registered with.
        url: String,
        /// The body; read from standard input when absent.
        file: Option<PathBuf>,
    }

    /// Builds the transport and the delivery, makes the attempt and prints it to `out`.
    pub fn run(args: Args, out: &mut impl Write) -> Result<(), Failure> {
        let mut builder = HttpsTransport::builder();
        for text in &args.allow_net {
            let network: Network = text
                .parse()
                .map_err(|e: InvalidNetwork| Failure::Code(e.code()))?;
            builder = builder.allow_network(network);
        }
        if let Some(path) = &args.root_cert {
            // An unreadable file is as useless as an unparsable one.
            let pem = std::fs::read(path).map_err(|_| Failure::Code("certificate_invalid"))?;
            builder = builder.add_root_certificates_pem(&pem);
        }
        if let Some(seconds) = args.timeout {
            let timeout = Duration::from_secs(seconds);
            builder = builder
                .timeout(timeout)
                .connect_timeout(timeout.min(DEFAULT_CONNECT_TIMEOUT));
        }
        let transport = builder.build().map_err(|e| Failure::Code(e.code()))?;

        let secret = parse_secrets(args.secrets, "send", false, std::str::FromStr::from_str)?
            .into_iter()
            .next()
            .ok_or(Failure::Code("secret_invalid"))?;
        let url = args
            .url
            .parse()
            .map_err(|e: UrlError| Failure::Code(e.code()))?;
        let id = match &args.id {
            Some(id) => id.parse().map_err(|e: InvalidId| Failure::Code(e.code()))?,
            None => EventId::generate(),
        };
        let body = read_body(args.file)?;
        let scope = Scope::new(name("org_cli")?, AccountType::Live);
        let webhook = Webhook::from_parts(WebhookParts::new(
            WebhookId::generate(),
            scope.clone(),
            url,
            true,
            AccountFilter::all(),
            chrono::Utc::now(),
            secret,
        ));
        let event = Event::new(id, scope, name("acc_cli")?, body);
        let delivery = Delivery::new(webhook, &event, chrono::Utc::now().timestamp())
            .map_err(|e| Failure::Code(e.code()))?;

        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|_| Failure::Code("internal_error"))?;
        let attempt = runtime.block_on(transport.attempt(&delivery));
        let status = attempt
            .status()
            .map_or_else(|| "-".to_owned(), |status| status.to_string());
        let millis = attempt.duration().as_millis();
        writeln!(out, "{} {status} {millis}ms", attempt.code()).map_err(Failure::Output)?;
        if let Some(error) = attempt.error() {
            report(format_args!("{error}"));
        }
        if attempt.outcome() == Outcome::Delivered {
            Ok(())
        } else {
            Err(Failure::NotDelivered)
        }
    }

    /// A fixed organisation or account id, which always parses.
    fn name<T: std::str::FromStr<Err = InvalidId>>(text: &str) -> Result<T, Failure> {
        text.parse().map_err(|e: InvalidId| Failure::Code(e.code()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the type system can show of the wiping: every holder of a secret's text wipes
    /// its memory on drop.
    #[test]
    fn secret_texts_are_held_in_wiped_memory() {
        fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        wiped_on_drop::<SecretText>();
        wiped_on_drop::<Zeroizing<Vec<u8>>>();

        let Ok(texts) = secrets_from_env(Some(OsString::from(" whsec_a  whsec_b "))) else {
            panic!("valid UTF-8 is split");
        };
        let texts: Vec<&str> = texts.iter().map(|text| text.as_str()).collect();
        assert_eq!(texts, ["whsec_a", "whsec_b"]);
        assert!(matches!(secrets_from_env(None), Ok(texts) if texts.is_empty()));
    }

    #[cfg(unix)]
    #[test]
    fn a_secret_that_is_not_utf8_is_refused_with_its_code() {
        use std::os::unix::ffi::OsStringExt as _;

        let value = OsString::from_vec(b"whsec_\xff".to_vec());
        assert!(matches!(
            secrets_from_env(Some(value)),
            Err(Failure::Code("secret_invalid"))
        ));
    }
}
