//! `webhook-kit`: make secrets, sign and verify Standard Webhooks deliveries, check
//! webhook URLs, and (with feature `send`) send one delivery, from the command line.
//!
//! Exit status: 0 on success, 1 when a check fails or an input is refused (the error's
//! code is printed), 2 on a usage error.

use std::io::{self, Read as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use webhook_kit::{DestinationPolicy, Secret, Signer, Verifier};

/// The environment variable read for `--secret` when the option is absent.
const SECRET_ENV: &str = "WEBHOOK_SECRET";

/// Make secrets, sign and verify Standard Webhooks deliveries, check webhook URLs.
// No `Debug` here or on `Command`: the arguments hold secrets in plain `String`s.
#[derive(Parser)]
#[command(name = "webhook-kit", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print a new secret (`whsec_…`, 32 random bytes).
    Secret,
    /// Print the `webhook-id`, `webhook-timestamp` and `webhook-signature` headers for a body.
    Sign {
        /// A `whsec_…` secret; repeat during a rotation, newest first. Or set
        /// `WEBHOOK_SECRET` (several space-separated), which keeps secrets out of `ps`.
        #[arg(long = "secret", required = true, env = SECRET_ENV, value_delimiter = ' ', hide_env_values = true)]
        secrets: Vec<String>,
        /// The message id (visible ASCII, no `.`).
        #[arg(long)]
        id: String,
        /// Unix seconds of the attempt; defaults to now.
        #[arg(long)]
        timestamp: Option<i64>,
        /// The body; read from standard input when absent.
        file: Option<PathBuf>,
    },
    /// Check a captured delivery: print `ok`, or the error code and exit 1.
    Verify {
        /// A `whsec_…` secret; repeat to accept any of several. Or set `WEBHOOK_SECRET`
        /// (several space-separated), which keeps secrets out of `ps`.
        #[arg(long = "secret", required = true, env = SECRET_ENV, value_delimiter = ' ', hide_env_values = true)]
        secrets: Vec<String>,
        /// The `webhook-id` header value.
        #[arg(long)]
        id: String,
        /// The `webhook-timestamp` header value.
        #[arg(long)]
        timestamp: String,
        /// The `webhook-signature` header value.
        #[arg(long)]
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
    match run(Cli::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Code(code)) => {
            println!("{code}");
            ExitCode::FAILURE
        }
        Err(Failure::Io(error)) => {
            eprintln!("webhook-kit: {error}");
            ExitCode::FAILURE
        }
        #[cfg(feature = "send")]
        Err(Failure::Reported) => ExitCode::FAILURE,
    }
}

/// Why a command failed.
enum Failure {
    /// A refused input or a failed check, by its stable code.
    Code(&'static str),
    /// The body could not be read.
    Io(io::Error),
    /// The command printed its own result and fails without a code (`send` not delivered).
    #[cfg(feature = "send")]
    Reported,
}

fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Secret => {
            println!("{}", Secret::generate().expose_secret());
        }
        Command::Sign {
            secrets,
            id,
            timestamp,
            file,
        } => {
            let signer =
                Signer::new(&parse_secrets(&secrets)?).map_err(|e| Failure::Code(e.code()))?;
            let body = read_body(file)?;
            let headers = match timestamp {
                Some(timestamp) => signer.headers(&id, timestamp, &body),
                None => signer.headers_now(&id, &body),
            }
            .map_err(|e| Failure::Code(e.code()))?;
            for (name, value) in headers.pairs() {
                println!("{name}: {value}");
            }
        }
        Command::Verify {
            secrets,
            id,
            timestamp,
            signature,
            now,
            tolerance,
            file,
        } => {
            let mut verifier =
                Verifier::new(&parse_secrets(&secrets)?).map_err(|e| Failure::Code(e.code()))?;
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
            println!("ok");
        }
        Command::CheckUrl { url } => {
            DestinationPolicy::default()
                .parse(&url)
                .map_err(|e| Failure::Code(e.code()))?;
            println!("ok");
        }
        #[cfg(feature = "send")]
        Command::Send(args) => send::run(args)?,
    }
    Ok(())
}

fn parse_secrets(texts: &[String]) -> Result<Vec<Secret>, Failure> {
    texts
        .iter()
        .map(|text| text.parse::<Secret>().map_err(|e| Failure::Code(e.code())))
        .collect()
}

fn read_body(file: Option<PathBuf>) -> Result<Vec<u8>, Failure> {
    match file {
        Some(path) => std::fs::read(path).map_err(Failure::Io),
        None => {
            let mut body = Vec::new();
            io::stdin().read_to_end(&mut body).map_err(Failure::Io)?;
            Ok(body)
        }
    }
}

/// `webhook-kit send`: one attempt through `HttpsTransport`.
#[cfg(feature = "send")]
mod send {
    use std::path::PathBuf;
    use std::time::Duration;

    use webhook_kit::send::{HttpsTransport, Network};
    use webhook_kit::{
        AccountFilter, AccountType, Delivery, Event, EventId, Scope, Secret, Transport, Webhook,
        WebhookId, WebhookParts,
    };

    use super::{Failure, SECRET_ENV, read_body};

    /// The options of `send`.
    #[derive(clap::Args)]
    pub struct Args {
        /// The receiver's `whsec_…` secret. Or set `WEBHOOK_SECRET`, which keeps it out of `ps`.
        #[arg(long, env = SECRET_ENV, hide_env_values = true)]
        secret: String,
        /// The message id (`webhook-id`); a new one when absent.
        #[arg(long)]
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

    /// Builds the transport and the delivery, makes the attempt and prints it.
    pub fn run(args: Args) -> Result<(), Failure> {
        let mut builder = HttpsTransport::builder();
        for text in &args.allow_net {
            let network: Network = text
                .parse()
                .map_err(|e: webhook_kit::send::InvalidNetwork| Failure::Code(e.code()))?;
            builder = builder.allow_network(network);
        }
        if let Some(path) = &args.root_cert {
            let pem = std::fs::read(path).map_err(Failure::Io)?;
            builder = builder.add_root_certificates_pem(&pem);
        }
        if let Some(seconds) = args.timeout {
            let timeout = Duration::from_secs(seconds);
            builder = builder
                .timeout(timeout)
                .connect_timeout(timeout.min(webhook_kit::send::DEFAULT_CONNECT_TIMEOUT));
        }
        let transport = builder.build().map_err(|e| Failure::Code(e.code()))?;

        let secret: Secret = args
            .secret
            .parse()
            .map_err(|e: webhook_kit::SecretError| Failure::Code(e.code()))?;
        let url = args
            .url
            .parse()
            .map_err(|e: webhook_kit::UrlError| Failure::Code(e.code()))?;
        let id = match &args.id {
            Some(id) => id
                .parse()
                .map_err(|e: webhook_kit::InvalidId| Failure::Code(e.code()))?,
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
            .map_err(Failure::Io)?;
        let attempt = runtime.block_on(transport.attempt(&delivery));
        let status = attempt
            .status()
            .map_or_else(|| "-".to_owned(), |status| status.to_string());
        println!(
            "{} {status} {}ms",
            attempt.code(),
            attempt.duration().as_millis()
        );
        if let Some(error) = attempt.error() {
            eprintln!("webhook-kit: {error}");
        }
        if attempt.outcome() == webhook_kit::Outcome::Delivered {
            Ok(())
        } else {
            Err(Failure::Reported)
        }
    }

    /// A fixed organisation or account id, which always parses.
    fn name<T: std::str::FromStr<Err = webhook_kit::InvalidId>>(text: &str) -> Result<T, Failure> {
        text.parse()
            .map_err(|e: webhook_kit::InvalidId| Failure::Code(e.code()))
    }
}
