//! Base64 (standard alphabet, padded, canonical) of 32-byte HMAC tags, both ways, on the
//! stack. Tags are public once sent, so table lookups indexed by them leak nothing.

/// Bytes of a tag.
pub(super) const TAG_LEN: usize = 32;
/// Characters of an encoded tag: 43 of data and one `=`.
pub(super) const ENCODED_LEN: usize = 44;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/// Marks a byte outside the alphabet; valid entries are below 64.
const INVALID: u8 = 0xff;

const DECODE: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut index = 0;
    while index < ALPHABET.len() {
        table[ALPHABET[index] as usize] = index as u8;
        index += 1;
    }
    table
};

/// The two characters of every 12-bit value, so encoding looks up pairs.
const PAIRS: [[u8; 2]; 4096] = {
    let mut pairs = [[0u8; 2]; 4096];
    let mut n = 0;
    while n < 4096 {
        pairs[n] = [ALPHABET[n >> 6], ALPHABET[n & 63]];
        n += 1;
    }
    pairs
};

fn pair(n: u32, shift: u32) -> [u8; 2] {
    PAIRS[((n >> shift) & 0xfff) as usize]
}

/// Writes the padded base64 of `tag` into `out`.
pub(super) fn encode(tag: &[u8; TAG_LEN], out: &mut [u8; ENCODED_LEN]) {
    // 32 = 10 × 3 + 2: ten groups of four characters, then three characters and one `=`.
    let (groups, last) = tag.as_chunks::<3>();
    let (quads, _) = out.as_chunks_mut::<4>();
    for (src, dst) in groups.iter().zip(quads.iter_mut()) {
        let n = u32::from(src[0]) << 16 | u32::from(src[1]) << 8 | u32::from(src[2]);
        let ([a, b], [c, d]) = (pair(n, 12), pair(n, 0));
        *dst = [a, b, c, d];
    }
    if let [a, b] = *last {
        let n = u32::from(a) << 16 | u32::from(b) << 8;
        let ([a, b], [c, _]) = (pair(n, 12), pair(n, 0));
        out[40..].copy_from_slice(&[a, b, c, b'=']);
    }
}

/// The tag whose canonical padded base64 is `text`; `None` for any other text (wrong
/// length, a character outside the alphabet, missing padding, non-zero padding bits).
pub(super) fn decode(text: &[u8]) -> Option<[u8; TAG_LEN]> {
    let text: &[u8; ENCODED_LEN] = text.try_into().ok()?;
    let mut out = [0u8; TAG_LEN];
    let mut invalid = 0u8;
    let mut value = |c: u8| {
        let v = DECODE[usize::from(c)];
        invalid |= v;
        u32::from(v)
    };
    for (src, dst) in text[..40].chunks_exact(4).zip(out.chunks_exact_mut(3)) {
        let n = value(src[0]) << 18 | value(src[1]) << 12 | value(src[2]) << 6 | value(src[3]);
        dst.copy_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
    }
    let last = value(text[42]);
    let n = value(text[40]) << 18 | value(text[41]) << 12 | last << 6;
    out[30] = (n >> 16) as u8;
    out[31] = (n >> 8) as u8;
    // Valid values are below 64, so any INVALID sets the top bits.
    let canonical = invalid & 0xc0 == 0 && last & 0b11 == 0 && text[43] == b'=';
    canonical.then_some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use proptest::prelude::*;

    use super::*;

    fn encoded(tag: &[u8; TAG_LEN]) -> [u8; ENCODED_LEN] {
        let mut out = [0u8; ENCODED_LEN];
        encode(tag, &mut out);
        out
    }

    #[test]
    fn edge_tags_round_trip() {
        for tag in [[0u8; TAG_LEN], [0xff; TAG_LEN]] {
            let text = encoded(&tag);
            assert_eq!(text.as_slice(), STANDARD.encode(tag).as_bytes());
            assert_eq!(decode(&text), Some(tag));
        }
    }

    #[test]
    fn non_canonical_or_foreign_text_is_refused() {
        let text = encoded(&[0u8; TAG_LEN]); // "AAAA…AAA="
        let mut padding_bits = text;
        padding_bits[42] = b'B';
        assert_eq!(decode(&padding_bits), None);
        let mut unpadded = text;
        unpadded[43] = b'A';
        assert_eq!(decode(&unpadded), None);
        for bad in [b'-', b'_', b'=', b' ', 0x80, 0] {
            let mut foreign = text;
            foreign[7] = bad;
            assert_eq!(decode(&foreign), None, "{bad:#x}");
        }
        assert_eq!(decode(&text[..43]), None);
        assert_eq!(decode(b""), None);
    }

    proptest! {
        #[test]
        fn encoding_matches_the_base64_crate(tag in any::<[u8; TAG_LEN]>()) {
            let text = encoded(&tag);
            let theirs = STANDARD.encode(tag);
            prop_assert_eq!(text.as_slice(), theirs.as_bytes());
            prop_assert_eq!(decode(&text), Some(tag));
        }

        #[test]
        fn decoding_agrees_with_the_base64_crate(
            text in "[A-Za-z0-9+/]{42}[A-Za-z0-9+/=-][=A]?",
            bytes in proptest::collection::vec(any::<u8>(), 40..48),
        ) {
            for input in [text.as_bytes(), &bytes] {
                let theirs = STANDARD.decode(input).ok().and_then(|v| <[u8; TAG_LEN]>::try_from(v).ok());
                prop_assert_eq!(decode(input), theirs);
            }
        }
    }
}
