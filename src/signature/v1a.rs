//! The `v1a` scheme: Ed25519 (the `ed25519-dalek` crate) over `"{id}.{timestamp}.{body}"`.
//! Its 64-byte signature travels in padded base64, encoded and decoded on the stack by the
//! parent module.

use ed25519_dalek::ed25519::signature::{MultipartSigner as _, MultipartVerifier as _};
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};

/// The version and its comma, as a token starts.
pub(super) const PREFIX: [u8; 4] = *b"v1a,";
/// Bytes of a signature.
pub(super) const SIGNATURE_LEN: usize = ed25519_dalek::SIGNATURE_LENGTH;
/// Characters of an encoded signature: 86 of data and `==`.
pub(super) const ENCODED_LEN: usize = 88;

/// The signature of `"{id}.{timestamp}.{body}"`, fed in parts without concatenating them.
pub(super) fn sign(
    key: &SigningKey,
    id: &[u8],
    timestamp: &[u8],
    body: &[u8],
) -> [u8; SIGNATURE_LEN] {
    key.multipart_sign(&[id, b".", timestamp, b".", body])
        .to_bytes()
}

/// Whether `signature` is `key`'s signature of `"{id}.{timestamp}.{body}"`, checked
/// strictly: a canonical `s`, and neither `R` nor the key of small order (the key was
/// checked when parsed), as `VerifyingKey::verify_strict` does, but over the message's
/// parts without concatenating them.
pub(super) fn verify(
    key: &VerifyingKey,
    id: &[u8],
    timestamp: &[u8],
    body: &[u8],
    signature: &[u8; SIGNATURE_LEN],
) -> bool {
    let signature = Signature::from_bytes(signature);
    // `R` decoded as a point: refused when it is not one, or is of small order.
    let r_is_strong = VerifyingKey::from_bytes(signature.r_bytes()).is_ok_and(|r| !r.is_weak());
    r_is_strong
        && key
            .multipart_verify(&[id, b".", timestamp, b".", body], &signature)
            .is_ok()
}
