//! Ed25519 keys for Standard Webhooks `v1a` signatures, in Svix's text forms: `whsk_` +
//! base64 of the 64-byte keypair (32-byte seed, then the 32-byte public key) for signing,
//! `whpk_` + base64 of the 32-byte public key for verifying.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::TryRng;
use rand::rngs::SysRng;
use zeroize::Zeroizing;

/// What every signing key's text starts with.
pub const SIGNING_KEY_PREFIX: &str = "whsk_";
/// What every public key's text starts with.
pub const PUBLIC_KEY_PREFIX: &str = "whpk_";

/// Bytes of an Ed25519 keypair: the seed, then the public key.
const KEYPAIR_LEN: usize = ed25519_dalek::KEYPAIR_LENGTH;
/// Bytes of an Ed25519 public key.
const PUBLIC_LEN: usize = ed25519_dalek::PUBLIC_KEY_LENGTH;

/// Why a `whsk_` or `whpk_` key's text was refused. The message never repeats the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Ed25519KeyError {
    /// Nothing was given.
    #[error("key is empty")]
    Empty,
    /// The text contains white space (often a copy-and-paste slip).
    #[error("key contains white space")]
    Whitespace,
    /// The text does not start with the key type's prefix (`whsk_` or `whpk_`).
    #[error("key must start with `whsk_` (signing) or `whpk_` (public)")]
    MissingPrefix,
    /// What follows the prefix is not canonical padded base64.
    #[error("key is not valid base64 after its prefix")]
    InvalidBase64,
    /// The key does not decode to 64 bytes (`whsk_`) or 32 bytes (`whpk_`).
    #[error("key has the wrong length")]
    WrongLength,
    /// The public key is not a point of the curve, or one of small order (a weak key that
    /// strict verification refuses).
    #[error("public key is not a valid Ed25519 key")]
    InvalidPublicKey,
    /// The keypair's public half is not the public key of its seed.
    #[error("keypair's public key does not match its seed")]
    Mismatch,
}

impl Ed25519KeyError {
    /// The stable machine code, `key_invalid`.
    pub fn code(&self) -> &'static str {
        "key_invalid"
    }
}

/// An Ed25519 signing key for `v1a` signatures: `whsk_` followed by the base64 of the
/// 64-byte keypair, as Svix serialises it.
///
/// The key and its text are wiped from memory on drop. `Debug` prints `[REDACTED]`; there
/// is no `Display`, `Serialize` or `PartialEq`. Read it only through
/// [`SigningKey::expose_secret`]; hand receivers [`SigningKey::public_key`].
///
/// ```
/// use webhook_kit::SigningKey;
///
/// let key = SigningKey::generate();
/// assert!(key.expose_secret().starts_with("whsk_"));
/// assert!(key.public_key().as_str().starts_with("whpk_"));
/// assert_eq!(format!("{key:?}"), "SigningKey([REDACTED])");
/// ```
#[derive(Clone)]
pub struct SigningKey {
    text: Zeroizing<String>,
    key: ed25519_dalek::SigningKey,
}

impl SigningKey {
    /// A new signing key from a seed of the operating system's CSPRNG.
    ///
    /// # Panics
    ///
    /// When the operating system's random number generator fails, as `rand` does.
    pub fn generate() -> Self {
        let mut seed = Zeroizing::new([0u8; ed25519_dalek::SECRET_KEY_LENGTH]);
        SysRng
            .try_fill_bytes(&mut *seed)
            .expect("the operating system's random number generator failed");
        Self::from_dalek(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    fn from_dalek(key: ed25519_dalek::SigningKey) -> Self {
        let keypair = Zeroizing::new(key.to_keypair_bytes());
        let mut text = Zeroizing::new(String::with_capacity(
            SIGNING_KEY_PREFIX.len() + KEYPAIR_LEN.div_ceil(3) * 4,
        ));
        text.push_str(SIGNING_KEY_PREFIX);
        STANDARD.encode_string(keypair.as_slice(), &mut text);
        Self { text, key }
    }

    /// The full signing key, `whsk_…`.
    ///
    /// # Security
    ///
    /// Whoever holds this text can sign deliveries: keep it in your secret manager and out
    /// of logs. Receivers need only [`SigningKey::public_key`].
    pub fn expose_secret(&self) -> &str {
        &self.text
    }

    /// The public key receivers verify with.
    pub fn public_key(&self) -> PublicKey {
        PublicKey::from_dalek(self.key.verifying_key())
    }

    pub(crate) fn dalek(&self) -> &ed25519_dalek::SigningKey {
        &self.key
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey([REDACTED])")
    }
}

impl FromStr for SigningKey {
    type Err = Ed25519KeyError;

    /// Parses `whsk_` + canonical padded base64 of a 64-byte keypair whose public half
    /// matches its seed.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bytes = decode::<KEYPAIR_LEN>(text, SIGNING_KEY_PREFIX)?;
        let key = ed25519_dalek::SigningKey::from_keypair_bytes(&bytes)
            .map_err(|_| Ed25519KeyError::Mismatch)?;
        Ok(Self {
            text: Zeroizing::new(text.to_owned()),
            key,
        })
    }
}

/// An Ed25519 public key for verifying `v1a` signatures: `whpk_` followed by the base64
/// of the 32-byte key. Public: it is shown, compared and printed freely.
///
/// ```
/// use webhook_kit::PublicKey;
///
/// let key: PublicKey = "whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4=".parse()?;
/// assert_eq!(key.to_string(), "whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4=");
/// # Ok::<(), webhook_kit::Ed25519KeyError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    text: String,
    key: ed25519_dalek::VerifyingKey,
}

impl PublicKey {
    fn from_dalek(key: ed25519_dalek::VerifyingKey) -> Self {
        let mut text = String::with_capacity(PUBLIC_KEY_PREFIX.len() + PUBLIC_LEN.div_ceil(3) * 4);
        text.push_str(PUBLIC_KEY_PREFIX);
        STANDARD.encode_string(key.as_bytes(), &mut text);
        Self { text, key }
    }

    /// The key's text, `whpk_…`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub(crate) fn dalek(&self) -> &ed25519_dalek::VerifyingKey {
        &self.key
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PublicKey").field(&self.text).finish()
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for PublicKey {
    type Err = Ed25519KeyError;

    /// Parses `whpk_` + canonical padded base64 of a 32-byte Ed25519 public key that is a
    /// point of the curve and not of small order.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bytes = decode::<PUBLIC_LEN>(text, PUBLIC_KEY_PREFIX)?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map_err(|_| Ed25519KeyError::InvalidPublicKey)?;
        if key.is_weak() {
            return Err(Ed25519KeyError::InvalidPublicKey);
        }
        Ok(Self {
            text: text.to_owned(),
            key,
        })
    }
}

/// The `N` bytes after `prefix` in `text`, which must be canonical padded base64.
fn decode<const N: usize>(text: &str, prefix: &str) -> Result<Zeroizing<[u8; N]>, Ed25519KeyError> {
    if text.is_empty() {
        return Err(Ed25519KeyError::Empty);
    }
    if text.chars().any(char::is_whitespace) {
        return Err(Ed25519KeyError::Whitespace);
    }
    let encoded = text
        .strip_prefix(prefix)
        .ok_or(Ed25519KeyError::MissingPrefix)?;
    if encoded.len() != N.div_ceil(3) * 4 {
        return Err(Ed25519KeyError::WrongLength);
    }
    let mut bytes = Zeroizing::new([0u8; N]);
    match STANDARD.decode_slice(encoded, &mut *bytes) {
        Ok(len) if len == N => Ok(bytes),
        Ok(_) => Err(Ed25519KeyError::WrongLength),
        Err(_) => Err(Ed25519KeyError::InvalidBase64),
    }
}
