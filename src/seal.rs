//! Sealing secrets at rest: XChaCha20-Poly1305 under keys the host service holds.
//!
//! A SQL store given a [`Keyring`] never writes a webhook secret in plaintext: each one is
//! sealed with the keyring's current key, a fresh random 24-byte nonce, and the webhook id
//! (plus the column it lives in) as associated data, so a sealed value copied onto another
//! row or column does not open. The key id is stored beside the ciphertext; older keys kept
//! in the keyring still open what they sealed, so keys can be rotated without a migration.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand::TryRng;
use rand::rngs::SysRng;
use zeroize::Zeroizing;

/// Length of an encryption key, in bytes.
pub const ENCRYPTION_KEY_LEN: usize = 32;
/// Length of the random nonce stored in front of every ciphertext, in bytes.
pub const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// A 32-byte XChaCha20-Poly1305 key and the id stored beside what it seals.
///
/// The key bytes are wiped on drop and `Debug` shows only the id.
///
/// ```
/// use webhook_kit::EncryptionKey;
///
/// let key = EncryptionKey::new(7, [0x42; 32]);
/// assert_eq!(key.id(), 7);
/// assert_eq!(format!("{key:?}"), "EncryptionKey { id: 7, key: [REDACTED] }");
/// ```
#[derive(Clone)]
pub struct EncryptionKey {
    id: u32,
    key: Zeroizing<[u8; ENCRYPTION_KEY_LEN]>,
}

impl EncryptionKey {
    /// The key `key` under the id `id`. Ids only need to be distinct within one keyring.
    pub fn new(id: u32, key: [u8; ENCRYPTION_KEY_LEN]) -> Self {
        Self {
            id,
            key: Zeroizing::new(key),
        }
    }

    /// A key from the standard base64 of its 32 bytes, as kept in a secret manager or an
    /// environment variable.
    ///
    /// # Errors
    ///
    /// [`KeyError`] when the text is not base64 of exactly 32 bytes; the error never
    /// repeats the text.
    pub fn from_base64(id: u32, text: &str) -> Result<Self, KeyError> {
        let decoded = Zeroizing::new(STANDARD.decode(text.trim()).map_err(|_| KeyError)?);
        let mut key = Zeroizing::new([0u8; ENCRYPTION_KEY_LEN]);
        if decoded.len() != ENCRYPTION_KEY_LEN {
            return Err(KeyError);
        }
        key.copy_from_slice(&decoded);
        Ok(Self { id, key })
    }

    /// A new key under `id` from the operating system's CSPRNG.
    ///
    /// # Panics
    ///
    /// When the operating system's random number generator fails, as `rand` does.
    pub fn generate(id: u32) -> Self {
        let mut key = Zeroizing::new([0u8; ENCRYPTION_KEY_LEN]);
        SysRng
            .try_fill_bytes(&mut *key)
            .expect("the operating system's random number generator failed");
        Self { id, key }
    }

    /// The id stored beside every value this key seals.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The standard base64 of the key bytes, to store the key in a secret manager.
    ///
    /// # Security
    ///
    /// This is the key itself: whoever holds it opens every secret sealed with it.
    pub fn expose_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(*self.key))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&Key::from(*self.key))
    }
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptionKey")
            .field("id", &self.id)
            .field("key", &format_args!("[REDACTED]"))
            .finish()
    }
}

/// An encryption key was not the base64 of 32 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("encryption key must be the base64 of 32 bytes")]
pub struct KeyError;

/// The keys a SQL store seals and opens secrets with: one current key that seals every new
/// write, and retired keys that only open what they sealed before a rotation.
///
/// ```
/// use webhook_kit::{EncryptionKey, Keyring};
///
/// // Rotation: key 2 seals from now on; rows sealed with key 1 still open.
/// let keyring = Keyring::new(EncryptionKey::new(2, [2; 32]))
///     .with_retired(EncryptionKey::new(1, [1; 32]));
/// assert_eq!(keyring.current_key_id(), 2);
/// ```
#[derive(Clone)]
pub struct Keyring {
    current: EncryptionKey,
    retired: Vec<EncryptionKey>,
    accept_plaintext: bool,
}

impl Keyring {
    /// A keyring that seals with `current`.
    pub fn new(current: EncryptionKey) -> Self {
        Self {
            current,
            retired: Vec::new(),
            accept_plaintext: false,
        }
    }

    /// Also reads rows whose secrets were stored in plaintext (by a store without a
    /// keyring); they are sealed on their next write. Only for the switch to encryption:
    /// by default such rows are refused with [`SealError::Plaintext`], so that whoever can
    /// write the table cannot plant a secret of their choosing.
    #[must_use]
    pub fn accepting_plaintext(mut self) -> Self {
        self.accept_plaintext = true;
        self
    }

    pub(crate) fn accepts_plaintext(&self) -> bool {
        self.accept_plaintext
    }

    /// Adds a key that only opens values sealed before. A retired key with the id of the
    /// current key is ignored: the current key always wins.
    #[must_use]
    pub fn with_retired(mut self, key: EncryptionKey) -> Self {
        if key.id != self.current.id {
            self.retired.retain(|old| old.id != key.id);
            self.retired.push(key);
        }
        self
    }

    /// The id of the key that seals new values.
    pub fn current_key_id(&self) -> u32 {
        self.current.id
    }

    fn key(&self, id: u32) -> Option<&EncryptionKey> {
        std::iter::once(&self.current)
            .chain(&self.retired)
            .find(|key| key.id == id)
    }

    /// Seals `plaintext` under the current key with `aad` as associated data: returns the
    /// key id and `nonce || ciphertext || tag`.
    pub(crate) fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<(u32, Vec<u8>), SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        SysRng
            .try_fill_bytes(&mut nonce)
            .map_err(|_| SealError::Random)?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(plaintext);
        let tag = self
            .current
            .cipher()
            .encrypt_inout_detached(&XNonce::from(nonce), aad, (&mut sealed[NONCE_LEN..]).into())
            .map_err(|_| SealError::TooLong)?;
        sealed.extend_from_slice(&tag);
        Ok((self.current.id, sealed))
    }

    /// Opens what [`Keyring::seal`] returned.
    pub(crate) fn open(
        &self,
        key_id: u32,
        sealed: &[u8],
        aad: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let key = self.key(key_id).ok_or(SealError::UnknownKey { key_id })?;
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(SealError::Malformed);
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
        let mut nonce_bytes = [0u8; NONCE_LEN];
        nonce_bytes.copy_from_slice(nonce);
        let mut tag_bytes = [0u8; TAG_LEN];
        tag_bytes.copy_from_slice(tag);
        let mut plaintext = Zeroizing::new(ciphertext.to_vec());
        key.cipher()
            .decrypt_inout_detached(
                &XNonce::from(nonce_bytes),
                aad,
                plaintext.as_mut_slice().into(),
                &tag_bytes.into(),
            )
            .map_err(|_| SealError::Unauthentic { key_id })?;
        Ok(plaintext)
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current)
            .field("retired", &self.retired)
            .field("accept_plaintext", &self.accept_plaintext)
            .finish()
    }
}

/// A stored secret could not be sealed or opened. Carries key ids, never key or secret bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// The row was sealed with a key id the keyring does not hold.
    #[error("stored secret is sealed with key {key_id}, which the keyring does not hold")]
    UnknownKey {
        /// The key id stored beside the ciphertext.
        key_id: u32,
    },
    /// The ciphertext does not open under its key: a wrong key with the same id, or a value
    /// that was altered or copied from another row.
    #[error("stored secret does not open under key {key_id}: wrong key or altered value")]
    Unauthentic {
        /// The key id stored beside the ciphertext.
        key_id: u32,
    },
    /// The stored value is too short or otherwise not what this crate writes.
    #[error("stored secret is malformed")]
    Malformed,
    /// The row holds a sealed secret but the store was given no keyring.
    #[error("stored secret is sealed but the store has no keyring")]
    NoKeyring,
    /// The row holds a plaintext secret but the store was given a keyring: refused, so that
    /// whoever can write the table cannot plant a secret of their choosing.
    #[error("stored secret is in plaintext but the store requires sealed secrets")]
    Plaintext,
    /// The operating system's random number generator failed while making a nonce.
    #[error("random number generator failed")]
    Random,
    /// The value is too long to be sealed.
    #[error("value too long to seal")]
    TooLong,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn seal_then_open_round_trips_and_binds_the_associated_data() {
        let keyring = Keyring::new(EncryptionKey::generate(1));
        let (key_id, sealed) = keyring.seal(b"whsec_abc", b"wh_1").unwrap();
        assert_eq!(key_id, 1);
        assert_eq!(sealed.len(), NONCE_LEN + 9 + TAG_LEN);
        assert_eq!(&**keyring.open(1, &sealed, b"wh_1").unwrap(), b"whsec_abc");
        assert_eq!(
            keyring.open(1, &sealed, b"wh_2"),
            Err(SealError::Unauthentic { key_id: 1 })
        );
    }

    #[test]
    fn nonces_are_fresh_for_every_seal() {
        let keyring = Keyring::new(EncryptionKey::generate(1));
        let (_, first) = keyring.seal(b"same", b"ad").unwrap();
        let (_, second) = keyring.seal(b"same", b"ad").unwrap();
        assert_ne!(first[..NONCE_LEN], second[..NONCE_LEN]);
        assert_ne!(first, second);
    }

    #[test]
    fn wrong_key_unknown_key_and_truncated_values_fail_cleanly() {
        let right = Keyring::new(EncryptionKey::new(1, [1; 32]));
        let wrong = Keyring::new(EncryptionKey::new(1, [9; 32]));
        let (_, sealed) = right.seal(b"secret", b"ad").unwrap();
        assert_eq!(
            wrong.open(1, &sealed, b"ad"),
            Err(SealError::Unauthentic { key_id: 1 })
        );
        assert_eq!(
            right.open(5, &sealed, b"ad"),
            Err(SealError::UnknownKey { key_id: 5 })
        );
        for len in 0..NONCE_LEN + TAG_LEN {
            assert_eq!(
                right.open(1, &sealed[..len.min(sealed.len())], b"ad"),
                Err(SealError::Malformed)
            );
        }
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(right.open(1, &flipped, b"ad").is_err());
    }

    #[test]
    fn retired_keys_open_and_the_current_key_seals() {
        let old = Keyring::new(EncryptionKey::new(1, [1; 32]));
        let (_, sealed_by_old) = old.seal(b"secret", b"ad").unwrap();
        let rotated = Keyring::new(EncryptionKey::new(2, [2; 32]))
            .with_retired(EncryptionKey::new(1, [1; 32]));
        assert_eq!(
            &**rotated.open(1, &sealed_by_old, b"ad").unwrap(),
            b"secret"
        );
        let (key_id, sealed_by_new) = rotated.seal(b"secret", b"ad").unwrap();
        assert_eq!(key_id, 2);
        assert_eq!(
            old.open(2, &sealed_by_new, b"ad"),
            Err(SealError::UnknownKey { key_id: 2 })
        );
    }

    #[test]
    fn keys_are_redacted_and_parse_from_base64() {
        let key = EncryptionKey::new(3, [0xAB; 32]);
        let keyring = Keyring::new(key.clone()).with_retired(EncryptionKey::new(4, [0xCD; 32]));
        for shown in [format!("{key:?}"), format!("{keyring:?}")] {
            assert!(shown.contains("[REDACTED]"), "{shown}");
            assert!(!shown.to_lowercase().contains("ab, ab") && !shown.contains("171"));
            assert!(!shown.contains(&*key.expose_base64()));
        }
        let parsed = EncryptionKey::from_base64(3, &key.expose_base64()).unwrap();
        let (_, sealed) = Keyring::new(parsed).seal(b"x", b"").unwrap();
        assert!(Keyring::new(key).open(3, &sealed, b"").is_ok());
        assert_eq!(
            EncryptionKey::from_base64(1, "c2hvcnQ=").unwrap_err(),
            KeyError
        );
        assert_eq!(EncryptionKey::from_base64(1, "!!").unwrap_err(), KeyError);
    }
}
