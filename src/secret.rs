//! Webhook signing secrets in the Standard Webhooks form, `whsec_` + base64.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use rand::TryRng;
use rand::rngs::SysRng;
use zeroize::Zeroizing;

/// What every secret's text starts with.
pub const SECRET_PREFIX: &str = "whsec_";
/// Key length of a generated secret, in bytes.
pub const GENERATED_KEY_LEN: usize = 32;
/// Shortest key a secret may decode to, in bytes (Svix's secrets have 24).
pub const MIN_KEY_LEN: usize = 24;
/// Longest key a secret may decode to, in bytes.
pub const MAX_KEY_LEN: usize = 64;
/// Longest key [`Secret::parse_lenient`] takes, in bytes: far above any sender's, and a
/// bound on the memory a configured secret can cost.
pub const MAX_LENIENT_KEY_LEN: usize = 1024;

/// Standard base64 with or without padding, and with any trailing bits, as other
/// libraries decode secrets.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Why a secret's text was refused. The message never repeats the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// Nothing was given.
    #[error("secret is empty")]
    Empty,
    /// The text contains white space (often a copy-and-paste slip).
    #[error("secret contains white space")]
    Whitespace,
    /// The text does not start with `whsec_`.
    #[error("secret must start with `whsec_`")]
    MissingPrefix,
    /// What follows the prefix is not canonical padded base64.
    #[error("secret is not valid base64 after `whsec_`")]
    InvalidBase64,
    /// The key is shorter than [`MIN_KEY_LEN`] bytes.
    #[error("secret key is shorter than 24 bytes")]
    TooShort,
    /// The key is longer than [`MAX_KEY_LEN`] bytes.
    #[error("secret key is longer than 64 bytes")]
    TooLong,
}

impl SecretError {
    /// The stable machine code, `secret_invalid`.
    pub fn code(&self) -> &'static str {
        "secret_invalid"
    }
}

/// A webhook's signing secret: `whsec_` followed by the base64 of its key.
///
/// Both the text and the key are wiped from memory on drop. `Debug` prints `[REDACTED]`;
/// there is no `Display`, `Serialize` or `PartialEq`. Read it only through
/// [`Secret::expose_secret`] or [`Secret::expose_key`].
///
/// ```
/// use webhook_kit::Secret;
///
/// let secret = Secret::generate();
/// assert!(secret.expose_secret().starts_with("whsec_"));
/// assert_eq!(format!("{secret:?}"), "Secret([REDACTED])");
/// assert_eq!(secret.masked().chars().count(), 4);
/// ```
#[derive(Clone)]
pub struct Secret {
    text: Zeroizing<String>,
    key: Zeroizing<Vec<u8>>,
}

impl Secret {
    /// A new secret of [`GENERATED_KEY_LEN`] bytes from the operating system's CSPRNG.
    ///
    /// # Panics
    ///
    /// When the operating system's random number generator fails, as `rand` does.
    pub fn generate() -> Self {
        let mut key = Zeroizing::new(vec![0u8; GENERATED_KEY_LEN]);
        SysRng
            .try_fill_bytes(&mut key)
            .expect("the operating system's random number generator failed");
        Self::from_key(key)
    }

    fn from_key(key: Zeroizing<Vec<u8>>) -> Self {
        let mut text = Zeroizing::new(String::with_capacity(
            SECRET_PREFIX.len() + key.len().div_ceil(3) * 4,
        ));
        text.push_str(SECRET_PREFIX);
        STANDARD.encode_string(&*key, &mut text);
        Self { text, key }
    }

    /// A secret as other Standard Webhooks and Svix senders hand it out, **for verifying
    /// their deliveries** ([`crate::Verifier`]): with or without the `whsec_` prefix, in
    /// standard base64 with or without padding, of any key length from 1 to
    /// [`MAX_LENIENT_KEY_LEN`] bytes, as the other libraries take it. The secrets this
    /// crate issues and stores are [`Secret::generate`]d and read back with the strict
    /// parser ([`str::parse`]), which refuses what only this accepts; do not store a secret
    /// parsed here as a webhook's secret. [`Secret::expose_secret`] gives it back as
    /// `whsec_` + padded base64 whatever form it came in.
    ///
    /// ```
    /// use webhook_kit::Secret;
    ///
    /// // Svix's own example secret, without its prefix and padding, and a 16-byte key.
    /// let bare = Secret::parse_lenient("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
    /// assert_eq!(bare.expose_secret(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    /// assert_eq!(Secret::parse_lenient("whsec_AAECAwQFBgcICQoLDA0ODw")?.expose_key().len(), 16);
    /// assert!("whsec_AAECAwQFBgcICQoLDA0ODw".parse::<Secret>().is_err()); // strict
    /// # Ok::<(), webhook_kit::SecretError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] for no key, [`SecretError::Whitespace`],
    /// [`SecretError::InvalidBase64`] for anything but standard base64, and
    /// [`SecretError::TooLong`] beyond [`MAX_LENIENT_KEY_LEN`] bytes.
    pub fn parse_lenient(text: &str) -> Result<Self, SecretError> {
        if text.chars().any(char::is_whitespace) {
            return Err(SecretError::Whitespace);
        }
        let encoded = text.strip_prefix(SECRET_PREFIX).unwrap_or(text);
        if encoded.is_empty() {
            return Err(SecretError::Empty);
        }
        // Check the length first so no oversized buffer is ever decoded.
        if encoded.len() > MAX_LENIENT_KEY_LEN.div_ceil(3) * 4 {
            return Err(SecretError::TooLong);
        }
        let key = Zeroizing::new(
            LENIENT
                .decode(encoded)
                .map_err(|_| SecretError::InvalidBase64)?,
        );
        match key.len() {
            0 => Err(SecretError::Empty),
            len if len > MAX_LENIENT_KEY_LEN => Err(SecretError::TooLong),
            _ => Ok(Self::from_key(key)),
        }
    }

    /// The full secret, `whsec_…`.
    ///
    /// # Security
    ///
    /// This is the secret itself: hand it only to the webhook's owner, once, and never log it.
    pub fn expose_secret(&self) -> &str {
        &self.text
    }

    /// The HMAC key: the base64-decoded part after `whsec_`.
    ///
    /// # Security
    ///
    /// Whoever holds these bytes can sign deliveries; keep them out of logs and errors.
    pub fn expose_key(&self) -> &[u8] {
        &self.key
    }

    /// The last 4 characters of the secret, as list and get responses show it.
    pub fn masked(&self) -> String {
        mask(&self.text)
    }
}

/// The last 4 characters of `text` (all of it when shorter): the masked form of a secret.
/// Counts characters, not bytes, so it never splits one.
///
/// ```
/// assert_eq!(webhook_kit::mask("whsec_abcdefgh"), "efgh");
/// assert_eq!(webhook_kit::mask("é"), "é");
/// ```
pub fn mask(text: &str) -> String {
    let start = text
        .char_indices()
        .rev()
        .nth(3)
        .map_or(0, |(index, _)| index);
    text[start..].to_owned()
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

impl FromStr for Secret {
    type Err = SecretError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.is_empty() {
            return Err(SecretError::Empty);
        }
        if text.chars().any(char::is_whitespace) {
            return Err(SecretError::Whitespace);
        }
        let encoded = text
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SecretError::MissingPrefix)?;
        // Check the length first so no oversized buffer is ever decoded.
        if encoded.len() > MAX_KEY_LEN.div_ceil(3) * 4 {
            return Err(SecretError::TooLong);
        }
        let key = Zeroizing::new(
            STANDARD
                .decode(encoded)
                .map_err(|_| SecretError::InvalidBase64)?,
        );
        match key.len() {
            len if len < MIN_KEY_LEN => Err(SecretError::TooShort),
            len if len > MAX_KEY_LEN => Err(SecretError::TooLong),
            _ => Ok(Self {
                text: Zeroizing::new(text.to_owned()),
                key,
            }),
        }
    }
}
