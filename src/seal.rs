//! Sealing secrets at rest: XChaCha20-Poly1305 under keys the host service holds.
//!
//! A SQL store given a [`Keyring`] never writes a webhook secret in plaintext: each one is
//! sealed with the keyring's current key and a fresh random 24-byte nonce, and bound (as
//! associated data) to the webhook id, the column it lives in, the organisation and the
//! account type, so a sealed value copied onto another row or column, or a row moved to
//! another scope, does not open. The key id is stored beside the ciphertext; older keys
//! kept in the keyring still open what they sealed, so keys can be rotated without a
//! migration.
//!
//! The sealed format is `version || nonce || ciphertext || tag`, version
//! [`SEALED_FORMAT_VERSION`]. Values written before the version byte existed (`nonce ||
//! ciphertext || tag`, bound to the webhook id and column only) still open; every write
//! seals in the current format.
//!
//! Sealing does not stop whoever can write the table from putting back an older sealed
//! value of the *same* webhook and column (a roll-back to a secret it had before): the
//! value still opens. Nor does it hide which rows share a key id, or the length of a value.

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
/// Length of the random nonce stored in every sealed value, in bytes.
pub const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// The first byte of every value sealed by this release: the sealed format's version.
pub const SEALED_FORMAT_VERSION: u8 = 2;

/// What a key check value holds: a fixed text, sealed under the key it checks.
const KEY_CHECK_PLAINTEXT: &[u8] = b"webhook-kit key check";

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

    /// `version || nonce || ciphertext || tag` of `plaintext` under this key.
    fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        SysRng
            .try_fill_bytes(&mut nonce)
            .map_err(|_| SealError::Random)?;
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + plaintext.len() + TAG_LEN);
        sealed.push(SEALED_FORMAT_VERSION);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(plaintext);
        let tag = self
            .cipher()
            .encrypt_inout_detached(
                &XNonce::from(nonce),
                aad,
                (&mut sealed[1 + NONCE_LEN..]).into(),
            )
            .map_err(|_| SealError::TooLong)?;
        sealed.extend_from_slice(&tag);
        Ok(sealed)
    }

    /// Opens `nonce || ciphertext || tag` (without a version byte); `None` when the value
    /// does not authenticate under `aad`.
    fn open_raw(&self, sealed: &[u8], aad: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let (nonce, rest) = sealed.split_at_checked(NONCE_LEN)?;
        let tag_at = rest.len().checked_sub(TAG_LEN)?;
        let (ciphertext, tag) = rest.split_at(tag_at);
        let mut nonce_bytes = [0u8; NONCE_LEN];
        nonce_bytes.copy_from_slice(nonce);
        let mut tag_bytes = [0u8; TAG_LEN];
        tag_bytes.copy_from_slice(tag);
        let mut plaintext = Zeroizing::new(ciphertext.to_vec());
        self.cipher()
            .decrypt_inout_detached(
                &XNonce::from(nonce_bytes),
                aad,
                plaintext.as_mut_slice().into(),
                &tag_bytes.into(),
            )
            .ok()?;
        Some(plaintext)
    }
}

/// What a sealed value is bound to: it opens only with the same four values.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Binding<'a> {
    /// The webhook id.
    pub(crate) webhook_id: &'a str,
    /// The column the value lives in.
    pub(crate) column: &'a str,
    /// The organisation of the webhook.
    pub(crate) organization: &'a str,
    /// Its account type, `live` or `test`.
    pub(crate) account_type: &'a str,
}

impl Binding<'_> {
    /// The associated data of the current format: a label with the format version, then
    /// each value with its length, so no two bindings share their bytes.
    fn associated_data(&self) -> Vec<u8> {
        let fields = [
            self.webhook_id,
            self.column,
            self.organization,
            self.account_type,
        ];
        let mut data = Vec::with_capacity(32 + fields.iter().map(|f| 8 + f.len()).sum::<usize>());
        data.extend_from_slice(b"webhook-kit sealed secret");
        data.push(SEALED_FORMAT_VERSION);
        for field in fields {
            data.extend_from_slice(&(field.len() as u64).to_be_bytes());
            data.extend_from_slice(field.as_bytes());
        }
        data
    }

    /// The associated data of values sealed before the format had a version: the webhook id
    /// and the column.
    fn legacy_associated_data(&self) -> Vec<u8> {
        let mut data = Vec::with_capacity(self.webhook_id.len() + 1 + self.column.len());
        data.extend_from_slice(self.webhook_id.as_bytes());
        data.push(0);
        data.extend_from_slice(self.column.as_bytes());
        data
    }
}

/// A value opened by [`Keyring::open`].
pub(crate) struct Opened {
    /// The plaintext, wiped on drop.
    pub(crate) plaintext: Zeroizing<Vec<u8>>,
    /// Whether it was sealed in the format before [`SEALED_FORMAT_VERSION`], bound to the
    /// webhook id and column only: the next write seals it again.
    pub(crate) legacy: bool,
}

fn key_check_associated_data(key_id: u32) -> Vec<u8> {
    let mut data = b"webhook-kit key check".to_vec();
    data.push(SEALED_FORMAT_VERSION);
    data.extend_from_slice(&key_id.to_be_bytes());
    data
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
///     .with_retired(EncryptionKey::new(1, [1; 32]))?;
/// assert_eq!(keyring.current_key_id(), 2);
///
/// // One id names one key.
/// assert!(keyring.with_retired(EncryptionKey::new(1, [3; 32])).is_err());
/// # Ok::<(), webhook_kit::DuplicateKeyId>(())
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

    /// Adds a key that only opens values sealed before.
    ///
    /// # Errors
    ///
    /// [`DuplicateKeyId`] when the keyring already holds a key under the same id (the
    /// current key or another retired one): one id must name one key, or rows sealed under
    /// it would open with one and not the other.
    pub fn with_retired(mut self, key: EncryptionKey) -> Result<Self, DuplicateKeyId> {
        if self.key(key.id).is_some() {
            return Err(DuplicateKeyId { key_id: key.id });
        }
        self.retired.push(key);
        Ok(self)
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

    /// Seals `plaintext` under the current key, bound to `binding`: returns the key id and
    /// `version || nonce || ciphertext || tag`.
    pub(crate) fn seal(
        &self,
        plaintext: &[u8],
        binding: &Binding<'_>,
    ) -> Result<(u32, Vec<u8>), SealError> {
        let sealed = self.current.seal(plaintext, &binding.associated_data())?;
        Ok((self.current.id, sealed))
    }

    /// Opens what [`Keyring::seal`] returned, or a value of the format before it.
    pub(crate) fn open(
        &self,
        key_id: u32,
        sealed: &[u8],
        binding: &Binding<'_>,
    ) -> Result<Opened, SealError> {
        let key = self.key(key_id).ok_or(SealError::UnknownKey { key_id })?;
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(SealError::Malformed);
        }
        // A value of the current format starts with its version; one of the old format
        // starts with a random nonce, which may happen to be the same byte: only the
        // authentication tag tells them apart, so both are tried.
        if let Some((&SEALED_FORMAT_VERSION, rest)) = sealed.split_first()
            && let Some(plaintext) = key.open_raw(rest, &binding.associated_data())
        {
            return Ok(Opened {
                plaintext,
                legacy: false,
            });
        }
        match key.open_raw(sealed, &binding.legacy_associated_data()) {
            Some(plaintext) => Ok(Opened {
                plaintext,
                legacy: true,
            }),
            None => Err(SealError::Unauthentic { key_id }),
        }
    }

    /// The ids of every key in the ring, the current one first.
    pub(crate) fn key_ids(&self) -> impl Iterator<Item = u32> + '_ {
        std::iter::once(&self.current)
            .chain(&self.retired)
            .map(EncryptionKey::id)
    }

    /// The key check value of the key `key_id` (`None` when the ring has no such key): a
    /// fixed text sealed under it, stored the first time the key is seen so that a
    /// different key under the same id is refused.
    pub(crate) fn key_check(&self, key_id: u32) -> Option<Result<Vec<u8>, SealError>> {
        let key = self.key(key_id)?;
        Some(key.seal(KEY_CHECK_PLAINTEXT, &key_check_associated_data(key_id)))
    }

    /// Checks the key check value stored for `key_id` against the key of that id; `Ok`
    /// when the keyring holds no such key.
    ///
    /// # Errors
    ///
    /// [`SealError::KeyMismatch`] when the key does not open it.
    pub(crate) fn verify_key_check(&self, key_id: u32, stored: &[u8]) -> Result<(), SealError> {
        let Some(key) = self.key(key_id) else {
            return Ok(());
        };
        let opened = stored
            .split_first()
            .filter(|(version, _)| **version == SEALED_FORMAT_VERSION)
            .and_then(|(_, rest)| key.open_raw(rest, &key_check_associated_data(key_id)));
        match opened {
            Some(plaintext) if plaintext.as_slice() == KEY_CHECK_PLAINTEXT => Ok(()),
            _ => Err(SealError::KeyMismatch { key_id }),
        }
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

/// [`Keyring::with_retired`] was given a key under an id the keyring already holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the keyring already holds a key under id {key_id}")]
pub struct DuplicateKeyId {
    /// The id given twice.
    pub key_id: u32,
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
    /// The key under this id does not open the key check value stored when the id was first
    /// used: the keyring holds a different key under the same id. Found by the store's
    /// start-up check, before any read or write.
    #[error("key {key_id} is not the key first used under its id: wrong key for this database")]
    KeyMismatch {
        /// The key id whose key is wrong.
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

    fn binding<'a>(webhook_id: &'a str, organization: &'a str) -> Binding<'a> {
        Binding {
            webhook_id,
            column: "secret",
            organization,
            account_type: "live",
        }
    }

    const AD: Binding<'static> = Binding {
        webhook_id: "wh_1",
        column: "secret",
        organization: "org_1",
        account_type: "live",
    };

    /// A value in the format before the version byte, as earlier releases sealed it.
    fn legacy_seal(key: &EncryptionKey, plaintext: &[u8], binding: &Binding<'_>) -> Vec<u8> {
        let sealed = key
            .seal(plaintext, &binding.legacy_associated_data())
            .unwrap();
        sealed[1..].to_vec()
    }

    #[test]
    fn seal_then_open_round_trips_and_binds_id_column_organization_and_account_type() {
        let keyring = Keyring::new(EncryptionKey::generate(1));
        let (key_id, sealed) = keyring.seal(b"whsec_abc", &AD).unwrap();
        assert_eq!(key_id, 1);
        assert_eq!(sealed[0], SEALED_FORMAT_VERSION);
        assert_eq!(sealed.len(), 1 + NONCE_LEN + 9 + TAG_LEN);
        let opened = keyring.open(1, &sealed, &AD).unwrap();
        assert_eq!(&**opened.plaintext, b"whsec_abc");
        assert!(!opened.legacy);
        let moved = [
            binding("wh_2", "org_1"),
            binding("wh_1", "org_2"),
            Binding {
                account_type: "test",
                ..AD
            },
            Binding {
                column: "previous_secrets",
                ..AD
            },
            // Lengths are part of the binding: no shift of bytes between fields matches.
            binding("wh_1o", "rg_1"),
        ];
        for other in moved {
            assert_eq!(
                keyring.open(1, &sealed, &other).err(),
                Some(SealError::Unauthentic { key_id: 1 }),
                "{other:?}"
            );
        }
    }

    #[test]
    fn values_of_the_format_before_the_version_byte_still_open_whatever_their_first_byte() {
        let key = EncryptionKey::generate(1);
        let keyring = Keyring::new(key.clone());
        let mut saw_version_byte_first = false;
        for _ in 0..2000 {
            let legacy = legacy_seal(&key, b"whsec_old", &AD);
            saw_version_byte_first |= legacy[0] == SEALED_FORMAT_VERSION;
            let opened = keyring.open(1, &legacy, &AD).unwrap();
            assert_eq!(&**opened.plaintext, b"whsec_old");
            assert!(opened.legacy);
            if saw_version_byte_first {
                break;
            }
        }
        assert!(
            saw_version_byte_first,
            "a nonce starting with the version byte"
        );
        // The old format binds the id and column only: that is why it is sealed again.
        let legacy = legacy_seal(&key, b"whsec_old", &AD);
        assert!(keyring.open(1, &legacy, &binding("wh_1", "org_2")).is_ok());
        assert!(keyring.open(1, &legacy, &binding("wh_2", "org_1")).is_err());
    }

    #[test]
    fn nonces_are_fresh_for_every_seal() {
        let keyring = Keyring::new(EncryptionKey::generate(1));
        let (_, first) = keyring.seal(b"same", &AD).unwrap();
        let (_, second) = keyring.seal(b"same", &AD).unwrap();
        assert_ne!(first[1..1 + NONCE_LEN], second[1..1 + NONCE_LEN]);
        assert_ne!(first, second);
    }

    #[test]
    fn wrong_key_unknown_key_and_truncated_values_fail_cleanly() {
        let right = Keyring::new(EncryptionKey::new(1, [1; 32]));
        let wrong = Keyring::new(EncryptionKey::new(1, [9; 32]));
        let (_, sealed) = right.seal(b"secret", &AD).unwrap();
        assert_eq!(
            wrong.open(1, &sealed, &AD).err(),
            Some(SealError::Unauthentic { key_id: 1 })
        );
        assert_eq!(
            right.open(5, &sealed, &AD).err(),
            Some(SealError::UnknownKey { key_id: 5 })
        );
        for len in 0..NONCE_LEN + TAG_LEN {
            assert_eq!(
                right.open(1, &sealed[..len], &AD).err(),
                Some(SealError::Malformed)
            );
        }
        for len in NONCE_LEN + TAG_LEN..sealed.len() {
            assert!(right.open(1, &sealed[..len], &AD).is_err());
        }
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(right.open(1, &flipped, &AD).is_err());
    }

    #[test]
    fn retired_keys_open_and_the_current_key_seals() {
        let old = Keyring::new(EncryptionKey::new(1, [1; 32]));
        let (_, sealed_by_old) = old.seal(b"secret", &AD).unwrap();
        let rotated = Keyring::new(EncryptionKey::new(2, [2; 32]))
            .with_retired(EncryptionKey::new(1, [1; 32]))
            .unwrap();
        assert_eq!(
            &**rotated.open(1, &sealed_by_old, &AD).unwrap().plaintext,
            b"secret"
        );
        let (key_id, sealed_by_new) = rotated.seal(b"secret", &AD).unwrap();
        assert_eq!(key_id, 2);
        assert_eq!(
            old.open(2, &sealed_by_new, &AD).err(),
            Some(SealError::UnknownKey { key_id: 2 })
        );
    }

    #[test]
    fn a_retired_key_reusing_an_id_of_the_ring_is_refused() {
        let keyring = Keyring::new(EncryptionKey::new(2, [2; 32]))
            .with_retired(EncryptionKey::new(1, [1; 32]))
            .unwrap();
        for id in [1, 2] {
            assert_eq!(
                keyring
                    .clone()
                    .with_retired(EncryptionKey::new(id, [9; 32]))
                    .unwrap_err(),
                DuplicateKeyId { key_id: id }
            );
        }
        assert_eq!(
            DuplicateKeyId { key_id: 1 }.to_string(),
            "the keyring already holds a key under id 1"
        );
    }

    #[test]
    fn the_key_check_value_opens_with_its_key_only() {
        let keyring = Keyring::new(EncryptionKey::new(1, [1; 32]));
        let check = keyring.key_check(1).unwrap().unwrap();
        assert!(keyring.key_check(2).is_none());
        assert_eq!(keyring.verify_key_check(1, &check), Ok(()));
        let wrong = Keyring::new(EncryptionKey::new(1, [9; 32]));
        assert_eq!(
            wrong.verify_key_check(1, &check),
            Err(SealError::KeyMismatch { key_id: 1 })
        );
        // Not transferable to another id, and no key of that id: nothing to check.
        let other_id = Keyring::new(EncryptionKey::new(3, [1; 32]));
        assert_eq!(
            other_id
                .clone()
                .with_retired(EncryptionKey::new(1, [3; 32]))
                .unwrap()
                .verify_key_check(1, &check),
            Err(SealError::KeyMismatch { key_id: 1 })
        );
        assert_eq!(other_id.verify_key_check(1, &check), Ok(()));
        assert_eq!(
            keyring.verify_key_check(1, b""),
            Err(SealError::KeyMismatch { key_id: 1 })
        );
    }

    #[test]
    fn keys_are_redacted_and_parse_from_base64() {
        let key = EncryptionKey::new(3, [0xAB; 32]);
        let keyring = Keyring::new(key.clone())
            .with_retired(EncryptionKey::new(4, [0xCD; 32]))
            .unwrap();
        for shown in [format!("{key:?}"), format!("{keyring:?}")] {
            assert!(shown.contains("[REDACTED]"), "{shown}");
            assert!(!shown.to_lowercase().contains("ab, ab") && !shown.contains("171"));
            assert!(!shown.contains(&*key.expose_base64()));
        }
        let parsed = EncryptionKey::from_base64(3, &key.expose_base64()).unwrap();
        let (_, sealed) = Keyring::new(parsed).seal(b"x", &AD).unwrap();
        assert!(Keyring::new(key).open(3, &sealed, &AD).is_ok());
        assert_eq!(
            EncryptionKey::from_base64(1, "c2hvcnQ=").unwrap_err(),
            KeyError
        );
        assert_eq!(EncryptionKey::from_base64(1, "!!").unwrap_err(), KeyError);
    }
}
