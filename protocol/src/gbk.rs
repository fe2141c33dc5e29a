//! GBK encoding the way the platform's Java side does it: one `?` per unmappable code point.

use std::sync::OnceLock;

use encoding_rs::{EncoderResult, GBK};

/// Appends the GBK bytes of `text` to `out`; each code point GBK cannot encode becomes one `?` (0x3F).
///
/// The bytes are `encoding_rs`'s GBK encoder's, looked up per code point in [`bmp_table`] (GBK is stateless, so
/// encoding character by character gives the same bytes as encoding the whole string). Why a table: the
/// encoder searches its decode tables for each hanzi, and the notification sign encodes Chinese values on
/// every notification the mock sends and every one the suite checks (`benches/sign.rs`).
///
/// Why not `GBK.encode()`: it writes HTML numeric references (`&#128512;`) for unmappable characters,
/// which breaks vector `modified-emoji-becomes-question-mark` (PROTOCOL §3.3 "Which GBK").
pub fn encode_gbk_into(text: &str, out: &mut Vec<u8>) {
    // GBK never needs more bytes than UTF-8 for a code point (2 for 2- and 3-byte UTF-8, `?` for 4): write
    // into a slice of that size plus the encoder's slack and cut it to length, instead of a capacity check per byte.
    let start = out.len();
    out.resize(start + text.len() + SLACK, 0);
    let written = encode_gbk_to_slice(text, &mut out[start..]);
    out.truncate(start + written);
}

/// How many bytes past `text.len()` [`encode_gbk_to_slice`] may scribble on: one `u64` store, so that every
/// piece is copied in fixed-size words rather than by a `memcpy` call.
pub(crate) const SLACK: usize = 8;

/// Writes the GBK bytes of `text` at the start of `dst` (at least `text.len() + SLACK` long) and returns how many.
/// Bytes of `dst` past the returned count are left unspecified.
///
/// The hot loop of the notification sign, called for the key and every name and value: ASCII (most params)
/// is copied and checked in a few overlapping word loads, with no call; every other code point is one
/// table lookup and one two-byte store.
#[inline(always)]
pub(crate) fn encode_gbk_to_slice(text: &str, dst: &mut [u8]) -> usize {
    let bytes = text.as_bytes();
    if copy_words(bytes, dst) & HIGH_BITS == 0 {
        return bytes.len();
    }
    encode_non_ascii(bytes, dst)
}

/// [`encode_gbk_to_slice`] for text that is not all ASCII: out of line, so the ASCII path stays small enough
/// to inline into its callers.
#[inline(never)]
fn encode_non_ascii(bytes: &[u8], dst: &mut [u8]) -> usize {
    let table = bmp_table();
    let mut written = 0;
    let mut read = 0;
    while read < bytes.len() {
        // Runs of three-byte sequences (hanzi, CJK punctuation) first: the bulk of Chinese values.
        while let Some(&[lead, second, third]) = bytes.get(read..read + 3).and_then(|s| <&[u8; 3]>::try_from(s).ok())
            && lead & 0xF0 == 0xE0
        {
            let code_point =
                (usize::from(lead & 0x0F) << 12) | (usize::from(second & 0x3F) << 6) | usize::from(third & 0x3F);
            let entry = table[code_point];
            // Always store two bytes; a one-byte entry's second byte is zero and is overwritten or cut off.
            dst[written..written + 2].copy_from_slice(&entry.to_le_bytes());
            written += 1 + usize::from(entry > 0xFF);
            read += 3;
        }
        let Some(&lead) = bytes.get(read) else { break };
        if lead < 0x80 {
            dst[written] = lead;
            written += 1;
            read += 1;
            continue;
        }
        // `bytes` is valid UTF-8 (it comes from a `&str`), so the lead byte gives the sequence length and the
        // code point.
        let entry = if lead >= 0xF0 {
            // Astral: beyond GBK.
            read += 4;
            u16::from(b'?')
        } else if lead >= 0xE0 {
            let code_point = (usize::from(lead & 0x0F) << 12)
                | (usize::from(bytes[read + 1] & 0x3F) << 6)
                | usize::from(bytes[read + 2] & 0x3F);
            read += 3;
            table[code_point]
        } else {
            let code_point = (usize::from(lead & 0x1F) << 6) | usize::from(bytes[read + 1] & 0x3F);
            read += 2;
            table[code_point]
        };
        dst[written..written + 2].copy_from_slice(&entry.to_le_bytes());
        written += 1 + usize::from(entry > 0xFF);
    }
    written
}

/// The high bit of each byte of a `u64`: set in a word that holds a non-ASCII byte.
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Copies `src` to the start of `dst` (at least `src.len() + SLACK` long) and returns the OR of every byte
/// copied (spread over a `u64`), so the caller learns whether it was ASCII from the same loads.
///
/// Why overlapping fixed-size loads: a variable-length `copy_from_slice` is a `memmove` call, and for the
/// short names and values of a notification the call costs more than the copy.
#[inline(always)]
fn copy_words(src: &[u8], dst: &mut [u8]) -> u64 {
    let n = src.len();
    if n >= 8 {
        let mut seen = 0;
        let mut at = 0;
        while at + 8 <= n {
            seen |= copy_u64(src, dst, at);
            at += 8;
        }
        if at < n {
            seen |= copy_u64(src, dst, n - 8);
        }
        seen
    } else if n >= 4 {
        let (first, last) = (word::<4>(src, 0), word::<4>(src, n - 4));
        dst[..4].copy_from_slice(&first);
        dst[n - 4..n].copy_from_slice(&last);
        u64::from(u32::from_ne_bytes(first) | u32::from_ne_bytes(last))
    } else if n >= 2 {
        let (first, last) = (word::<2>(src, 0), word::<2>(src, n - 2));
        dst[..2].copy_from_slice(&first);
        dst[n - 2..n].copy_from_slice(&last);
        u64::from(u16::from_ne_bytes(first) | u16::from_ne_bytes(last))
    } else if n == 1 {
        dst[0] = src[0];
        u64::from(src[0])
    } else {
        0
    }
}

/// Copies the eight bytes of `src` at `at` to the same place in `dst` and returns them as a `u64`.
#[inline(always)]
fn copy_u64(src: &[u8], dst: &mut [u8], at: usize) -> u64 {
    let word = word::<8>(src, at);
    dst[at..at + 8].copy_from_slice(&word);
    u64::from_ne_bytes(word)
}

/// The `N` bytes of `bytes` at `at`, as an array: read straight into a register, never through memory.
#[inline(always)]
fn word<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut word = [0u8; N];
    word.copy_from_slice(&bytes[at..at + N]);
    word
}

/// The GBK encoding of every BMP code point, as `encoding_rs` encodes it, as the bytes to store little-endian:
/// one byte (`0x01..=0xFF`, `?` for unmappable) or two bytes, lead byte low (so the entry is above `0xFF`: the
/// trail byte is never zero). ASCII entries are unused.
///
/// Built once per process from the encoder itself (65,536 one-character encodes), so it cannot disagree with it.
fn bmp_table() -> &'static [u16] {
    static TABLE: OnceLock<Box<[u16]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = vec![u16::from(b'?'); 0x1_0000];
        let mut utf8 = [0u8; 4];
        let mut encoded = [0u8; 8];
        for (code_point, entry) in table.iter_mut().enumerate().skip(0x80) {
            let Some(c) = u32::try_from(code_point).ok().and_then(char::from_u32) else { continue };
            let (result, _, written) =
                GBK.new_encoder().encode_from_utf8_without_replacement(c.encode_utf8(&mut utf8), &mut encoded, true);
            *entry = match (result, written) {
                (EncoderResult::InputEmpty, 1) => u16::from(encoded[0]),
                (EncoderResult::InputEmpty, 2) => u16::from_le_bytes([encoded[0], encoded[1]]),
                _ => u16::from(b'?'),
            };
        }
        table.into_boxed_slice()
    })
}

/// The GBK bytes of `text`, `?` for unmappable code points.
pub fn encode_gbk(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    encode_gbk_into(text, &mut out);
    out
}

/// Decodes GBK bytes strictly: malformed input is an error, never a replacement character.
pub fn decode_gbk(bytes: &[u8]) -> Option<String> {
    GBK.decode_without_bom_handling_and_without_replacement(bytes).map(|s| s.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `encoding_rs` on the whole string, `?` for each unmappable code point: what the table must reproduce.
    fn encode_with_encoding_rs(text: &str) -> Vec<u8> {
        let mut out = vec![0u8; text.len() * 2 + 2];
        let mut written_total = 0;
        let mut encoder = GBK.new_encoder();
        let mut rest = text;
        loop {
            let (result, read, written) =
                encoder.encode_from_utf8_without_replacement(rest, &mut out[written_total..], true);
            written_total += written;
            rest = &rest[read..];
            match result {
                EncoderResult::InputEmpty => break,
                EncoderResult::Unmappable(_) => {
                    out[written_total] = b'?';
                    written_total += 1;
                }
                EncoderResult::OutputFull => unreachable!("the buffer holds two bytes per input byte"),
            }
        }
        out.truncate(written_total);
        out
    }

    #[test]
    fn the_table_encodes_every_bmp_code_point_as_encoding_rs_does() {
        let mismatches: Vec<u32> = (0..=0xFFFFu32)
            .filter_map(char::from_u32)
            .filter(|c| encode_gbk(&c.to_string()) != encode_with_encoding_rs(&c.to_string()))
            .map(u32::from)
            .collect();
        assert!(mismatches.is_empty(), "{} code points differ, first {:X?}", mismatches.len(), mismatches.first());
    }

    proptest::proptest! {
        #[test]
        fn any_text_encodes_as_encoding_rs_does(text in proptest::prelude::any::<String>()) {
            proptest::prop_assert_eq!(encode_gbk(&text), encode_with_encoding_rs(&text));
        }
    }

    #[test]
    fn astral_code_points_become_one_question_mark() {
        assert_eq!(encode_gbk("a\u{1F600}b"), b"a?b");
    }

    #[test]
    fn chinese_text_encodes_to_two_bytes_per_character() {
        assert_eq!(encode_gbk("银子"), vec![0xD2, 0xF8, 0xD7, 0xD3]);
    }

    #[test]
    fn gbk_round_trips_and_rejects_malformed_bytes() {
        assert_eq!(decode_gbk(&encode_gbk("门票种类:成人票")).as_deref(), Some("门票种类:成人票"));
        assert_eq!(decode_gbk(&[0xD2]), None);
    }
}
