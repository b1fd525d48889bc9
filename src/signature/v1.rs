//! The `v1` scheme: HMAC-SHA256 of `"{id}.{timestamp}.{body}"` (the `hmac` crate). Its
//! tag travels in padded base64, encoded and decoded on the stack by the parent module.

use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;

/// The version and its comma, as a token starts.
pub(super) const PREFIX: [u8; 3] = *b"v1,";
/// Bytes of a tag.
pub(super) const TAG_LEN: usize = 32;
/// Characters of an encoded tag: 43 of data and one `=`.
pub(super) const ENCODED_LEN: usize = 44;

/// HMAC-SHA256 keyed once: each message runs on a copy of the keyed state, so the key
/// schedule is not repeated per delivery. The states are wiped on drop (the `zeroize`
/// features of `hmac` and `sha2`).
#[derive(Clone)]
pub(super) struct KeyedMac(Hmac<Sha256>);

impl KeyedMac {
    /// Runs the key schedule for `key`.
    pub(super) fn new(key: &[u8]) -> Self {
        // HMAC takes keys of any length (longer ones are hashed): this never fails.
        Self(Hmac::new_from_slice(key).expect("HMAC accepts keys of any length"))
    }

    /// The tag of `"{id}.{timestamp}.{body}"`, fed in parts without concatenating them.
    pub(super) fn tag(&self, id: &[u8], timestamp: &[u8], body: &[u8]) -> [u8; TAG_LEN] {
        let mut mac = self.0.clone();
        for part in [id, b".", timestamp, b".", body] {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }
}
