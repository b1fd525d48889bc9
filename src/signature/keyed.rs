//! HMAC-SHA256 (RFC 2104) with the key schedule done once: the states after hashing the
//! key's inner and outer pad are kept, and each message is fed in parts straight to the
//! SHA-256 compression function, whole blocks from the caller's slices without copying.

use sha2::block_api::compress256;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroize as _;

use super::tag64::TAG_LEN;

const BLOCK: usize = 64;
const IPAD: u8 = 0x36;
const OPAD: u8 = 0x5c;
/// SHA-256's initial state (FIPS 180-4, 5.3.3).
const H0: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// HMAC-SHA256 keyed once; wiped on drop.
#[derive(Clone)]
pub(super) struct KeyedMac {
    inner: [u32; 8],
    outer: [u32; 8],
}

impl KeyedMac {
    /// Runs the key schedule for `key` (hashed first when longer than a block).
    pub(super) fn new(key: &[u8]) -> Self {
        let mut padded = [0u8; BLOCK];
        if key.len() > BLOCK {
            padded[..32].copy_from_slice(&Sha256::digest(key));
        } else {
            padded[..key.len()].copy_from_slice(key);
        }
        let pad_state = |pad: u8| {
            let mut block = padded;
            block.iter_mut().for_each(|b| *b ^= pad);
            let mut state = H0;
            compress256(&mut state, core::slice::from_ref(&block));
            block.zeroize();
            state
        };
        let (inner, outer) = (pad_state(IPAD), pad_state(OPAD));
        padded.zeroize();
        Self { inner, outer }
    }

    /// The MAC of the concatenation of `parts`, without concatenating them.
    #[cfg(test)]
    pub(super) fn tag(&self, parts: &[&[u8]]) -> [u8; TAG_LEN] {
        let mut inner = Inner::new(self.inner);
        parts.iter().for_each(|part| inner.absorb(part));
        self.outer(&inner.finish())
    }

    /// The MAC of `"{id}.{timestamp}.{body}"`. When id and timestamp fit in one block they
    /// are laid into it directly; the body's whole blocks are compressed in place.
    pub(super) fn tag_message(&self, id: &[u8], timestamp: &[u8], body: &[u8]) -> [u8; TAG_LEN] {
        let prefix = id.len() + timestamp.len() + 2;
        if prefix + body.len() < 2 * BLOCK - 8 {
            return self.tag_short(id, timestamp, body);
        }
        let mut inner = Inner::new(self.inner);
        if prefix <= BLOCK {
            inner.block[..id.len()].copy_from_slice(id);
            inner.block[id.len()] = b'.';
            inner.block[id.len() + 1..prefix - 1].copy_from_slice(timestamp);
            inner.block[prefix - 1] = b'.';
            inner.filled = prefix;
            inner.length += prefix as u64;
        } else {
            for part in [id, b".", timestamp, b"."] {
                inner.absorb(part);
            }
        }
        inner.absorb(body);
        self.outer(&inner.finish())
    }

    /// [`KeyedMac::tag_message`] for a message that fits, padded, in two blocks: laid out
    /// once and compressed in a single call.
    fn tag_short(&self, id: &[u8], timestamp: &[u8], body: &[u8]) -> [u8; TAG_LEN] {
        let mut blocks = [[0u8; BLOCK]; 2];
        let bytes = blocks.as_flattened_mut();
        let mut at = 0;
        for part in [id, b".", timestamp, b".", body] {
            bytes[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        bytes[at] = 0x80;
        let used = if at + 9 <= BLOCK { 1 } else { 2 };
        let length = ((BLOCK + at) as u64) * 8;
        bytes[used * BLOCK - 8..used * BLOCK].copy_from_slice(&length.to_be_bytes());
        let mut state = self.inner;
        compress256(&mut state, &blocks[..used]);
        self.outer(&digest(&state))
    }

    fn outer(&self, inner: &[u8; 32]) -> [u8; TAG_LEN] {
        let mut block = [0u8; BLOCK];
        block[..TAG_LEN].copy_from_slice(inner);
        finish(self.outer, &mut block, TAG_LEN, (BLOCK + TAG_LEN) as u64)
    }
}

/// The inner hash in progress.
struct Inner {
    state: [u32; 8],
    block: [u8; BLOCK],
    filled: usize,
    /// Bytes hashed, counting the key block; a message never reaches 2^61 bytes.
    length: u64,
}

impl Inner {
    fn new(state: [u32; 8]) -> Self {
        Self {
            state,
            block: [0u8; BLOCK],
            filled: 0,
            length: BLOCK as u64,
        }
    }

    fn absorb(&mut self, mut part: &[u8]) {
        self.length = self.length.wrapping_add(part.len() as u64);
        if self.filled > 0 {
            let take = (BLOCK - self.filled).min(part.len());
            self.block[self.filled..self.filled + take].copy_from_slice(&part[..take]);
            self.filled += take;
            part = &part[take..];
            if self.filled < BLOCK {
                return;
            }
            compress256(&mut self.state, core::slice::from_ref(&self.block));
        }
        let (blocks, rest) = part.as_chunks::<BLOCK>();
        if !blocks.is_empty() {
            compress256(&mut self.state, blocks);
        }
        self.block[..rest.len()].copy_from_slice(rest);
        self.filled = rest.len();
    }

    fn finish(mut self) -> [u8; 32] {
        finish(self.state, &mut self.block, self.filled, self.length)
    }
}

/// Pads the last `filled` bytes in `block` for a message of `length` bytes, compresses,
/// and returns the digest.
fn finish(mut state: [u32; 8], block: &mut [u8; BLOCK], filled: usize, length: u64) -> [u8; 32] {
    block[filled] = 0x80;
    block[filled + 1..].fill(0);
    if filled + 1 > BLOCK - 8 {
        compress256(&mut state, core::slice::from_ref(block));
        block.fill(0);
    }
    block[BLOCK - 8..].copy_from_slice(&length.wrapping_mul(8).to_be_bytes());
    compress256(&mut state, core::slice::from_ref(block));
    digest(&state)
}

/// The big-endian bytes of a final state.
fn digest(state: &[u32; 8]) -> [u8; 32] {
    let mut digest = [0u8; 32];
    for (bytes, word) in digest.chunks_exact_mut(4).zip(state) {
        bytes.copy_from_slice(&word.to_be_bytes());
    }
    digest
}

impl Drop for KeyedMac {
    fn drop(&mut self) {
        self.inner.zeroize();
        self.outer.zeroize();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use hmac::{Hmac, KeyInit as _, Mac as _};
    use proptest::prelude::*;

    use super::*;

    fn reference(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
        parts.iter().for_each(|part| mac.update(part));
        mac.finalize().into_bytes().into()
    }

    #[test]
    fn rfc_4231_test_case_2() {
        // Key "Jefe", data "what do ya want for nothing?".
        let tag = KeyedMac::new(b"Jefe").tag(&[b"what do ya want ", b"for nothing?"]);
        let expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, expected);
    }

    #[test]
    fn every_padding_boundary_matches_the_hmac_crate() {
        let key = [7u8; 32];
        let mac = KeyedMac::new(&key);
        let data: Vec<u8> = (0..=255u8).cycle().take(300).collect();
        for len in 0..data.len() {
            let (a, b) = data[..len].split_at(len / 3);
            assert_eq!(mac.tag(&[a, b]), reference(&key, &[a, b]), "length {len}");
        }
    }

    #[test]
    fn messages_with_long_and_short_prefixes_match_the_hmac_crate() {
        let key = [9u8; 24];
        let mac = KeyedMac::new(&key);
        for id_len in [1, 31, 51, 52, 53, 63, 64, 65, 200] {
            let id = vec![b'i'; id_len];
            for body_len in [0, 1, 40, 41, 42, 54, 55, 56, 64, 65, 119, 120, 200] {
                let body = &vec![b'b'; body_len][..];
                assert_eq!(
                    mac.tag_message(&id, b"1700000000", body),
                    reference(&key, &[&id, b".", b"1700000000", b".", body]),
                    "id length {id_len}, body length {body_len}"
                );
            }
        }
    }

    proptest! {
        #[test]
        fn matches_the_hmac_crate(
            key in proptest::collection::vec(any::<u8>(), 0..200),
            parts in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..150), 0..6),
        ) {
            let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
            prop_assert_eq!(KeyedMac::new(&key).tag(&parts), reference(&key, &parts));
        }
    }
}
