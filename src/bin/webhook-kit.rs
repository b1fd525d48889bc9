//! `webhook-kit`: make secrets, sign and verify Standard Webhooks deliveries, and check
//! webhook URLs from the command line.
//!
//! Exit status: 0 on success, 1 when a check fails or an input is refused (the error's
//! code is printed), 2 on a usage error.

use std::io::{self, Read as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use webhook_kit::{DestinationPolicy, PublicKey, Secret, Signer, SigningKey, Verifier};

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
        #[arg(long = "secret", required_unless_present = "keys", env = SECRET_ENV, value_delimiter = ' ', hide_env_values = true)]
        secrets: Vec<String>,
        /// A `whsk_…` Ed25519 signing key (a `v1a` signature, after the `v1` ones); repeatable.
        #[arg(long = "key")]
        keys: Vec<String>,
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
        #[arg(long = "secret", required_unless_present = "public_keys", env = SECRET_ENV, value_delimiter = ' ', hide_env_values = true)]
        secrets: Vec<String>,
        /// A `whpk_…` Ed25519 public key, accepting `v1a` signatures; repeatable.
        #[arg(long = "public-key")]
        public_keys: Vec<String>,
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
    }
}

/// Why a command failed.
enum Failure {
    /// A refused input or a failed check, by its stable code.
    Code(&'static str),
    /// The body could not be read.
    Io(io::Error),
}

fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Secret { ed25519: false } => {
            println!("{}", Secret::generate().expose_secret());
        }
        Command::Secret { ed25519: true } => {
            let key = SigningKey::generate();
            println!("{}\n{}", key.expose_secret(), key.public_key());
        }
        Command::Sign {
            secrets,
            keys,
            id,
            timestamp,
            file,
        } => {
            let signer = signer(&parse_secrets(&secrets)?, &parse_keys::<SigningKey>(&keys)?)?;
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
            public_keys,
            id,
            timestamp,
            signature,
            now,
            tolerance,
            file,
        } => {
            let mut verifier = verifier(
                &parse_secrets(&secrets)?,
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
            println!("ok");
        }
        Command::CheckUrl { url } => {
            DestinationPolicy::default()
                .parse(&url)
                .map_err(|e| Failure::Code(e.code()))?;
            println!("ok");
        }
    }
    Ok(())
}

fn parse_secrets(texts: &[String]) -> Result<Vec<Secret>, Failure> {
    texts
        .iter()
        .map(|text| text.parse::<Secret>().map_err(|e| Failure::Code(e.code())))
        .collect()
}

fn parse_keys<K: std::str::FromStr<Err = webhook_kit::Ed25519KeyError>>(
    texts: &[String],
) -> Result<Vec<K>, Failure> {
    texts
        .iter()
        .map(|text| text.parse::<K>().map_err(|e| Failure::Code(e.code())))
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
        Some(path) => std::fs::read(path).map_err(Failure::Io),
        None => {
            let mut body = Vec::new();
            io::stdin().read_to_end(&mut body).map_err(Failure::Io)?;
            Ok(body)
        }
    }
}
