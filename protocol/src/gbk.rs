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
    // into a slice of that size and cut it to length, instead of a capacity check per byte.
    let start = out.len();
    out.resize(start + text.len(), 0);
    let written = encode_gbk_to_slice(text, &mut out[start..]);
    out.truncate(start + written);
}

/// Writes the GBK bytes of `text` at the start of `dst` (at least `text.len()` long) and returns how many.
///
/// The hot loop of the notification sign: ASCII goes eight bytes at a time, every other code point is one
/// table lookup.
pub(crate) fn encode_gbk_to_slice(text: &str, dst: &mut [u8]) -> usize {
    let bytes = text.as_bytes();
    // Most params (names, numbers, times, tokens) are short ASCII strings: copy and check in one pass, with
    // no call (`is_ascii` then `copy_from_slice` cost ~40 ns per param, `benches/sign.rs`). Non-ASCII text is
    // rewritten below.
    let mut high_bits = 0u8;
    for (out, byte) in dst[..bytes.len()].iter_mut().zip(bytes) {
        *out = *byte;
        high_bits |= *byte;
    }
    if high_bits < 0x80 {
        return bytes.len();
    }
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    let table = bmp_table();
    let mut written = 0;
    let mut read = 0;
    while read < bytes.len() {
        let lead = bytes[read];
        if lead < 0x80 {
            // Inside an ASCII run, eight bytes at a time while they last.
            if let Some(chunk) = bytes.get(read..read + 8).and_then(|c| <&[u8; 8]>::try_from(c).ok())
                && u64::from_ne_bytes(*chunk) & HIGH_BITS == 0
            {
                dst[written..written + 8].copy_from_slice(chunk);
                written += 8;
                read += 8;
                continue;
            }
            dst[written] = lead;
            written += 1;
            read += 1;
            continue;
        }
        // `bytes` is valid UTF-8 (it comes from a `&str`), so the lead byte gives the sequence length and the
        // code point.
        let (code_point, len) = match lead {
            0xC0..=0xDF => ((u32::from(lead & 0x1F) << 6) | u32::from(bytes[read + 1] & 0x3F), 2),
            0xE0..=0xEF => (
                (u32::from(lead & 0x0F) << 12)
                    | (u32::from(bytes[read + 1] & 0x3F) << 6)
                    | u32::from(bytes[read + 2] & 0x3F),
                3,
            ),
            // Astral: beyond GBK.
            _ => (u32::MAX, 4),
        };
        read += len;
        let entry = table.get(code_point as usize).copied().unwrap_or(UNMAPPABLE);
        if entry > 0xFF {
            dst[written..written + 2].copy_from_slice(&entry.to_be_bytes());
            written += 2;
        } else {
            dst[written] = if entry == UNMAPPABLE { b'?' } else { entry as u8 };
            written += 1;
        }
    }
    written
}

/// A [`bmp_table`] entry for a code point GBK cannot encode.
const UNMAPPABLE: u16 = 0;

/// The GBK encoding of every BMP code point, as `encoding_rs` encodes it: [`UNMAPPABLE`], one byte (`0x01..=0xFF`),
/// or two bytes big-endian (lead byte `0x81..=0xFE`, so never confused with one byte). ASCII entries are unused.
///
/// Built once per process from the encoder itself (65,536 one-character encodes), so it cannot disagree with it.
fn bmp_table() -> &'static [u16] {
    static TABLE: OnceLock<Box<[u16]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = vec![UNMAPPABLE; 0x1_0000];
        let mut utf8 = [0u8; 4];
        let mut encoded = [0u8; 8];
        for (code_point, entry) in table.iter_mut().enumerate().skip(0x80) {
            let Some(c) = u32::try_from(code_point).ok().and_then(char::from_u32) else { continue };
            let (result, _, written) =
                GBK.new_encoder().encode_from_utf8_without_replacement(c.encode_utf8(&mut utf8), &mut encoded, true);
            *entry = match (result, written) {
                (EncoderResult::InputEmpty, 1) => u16::from(encoded[0]),
                (EncoderResult::InputEmpty, 2) => u16::from_be_bytes([encoded[0], encoded[1]]),
                _ => UNMAPPABLE,
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
