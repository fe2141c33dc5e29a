//! GBK encoding the way the platform's Java side does it: one `?` per unmappable code point.

use encoding_rs::{EncoderResult, GBK};

/// Appends the GBK bytes of `text` to `out`; each code point GBK cannot encode becomes one `?` (0x3F).
///
/// Why not `GBK.encode()`: it writes HTML numeric references (`&#128512;`) for unmappable characters,
/// which breaks vector `modified-emoji-becomes-question-mark` (PROTOCOL §3.3 "Which GBK").
pub fn encode_gbk_into(text: &str, out: &mut Vec<u8>) {
    if text.is_ascii() {
        out.extend_from_slice(text.as_bytes());
        return;
    }
    let mut encoder = GBK.new_encoder();
    let mut rest = text;
    // GBK needs at most two bytes per code point.
    out.reserve(rest.len() * 2);
    loop {
        let start = out.len();
        let capacity = rest.len() * 2 + 2;
        out.resize(start + capacity, 0);
        let (result, read, written) = encoder.encode_from_utf8_without_replacement(rest, &mut out[start..], true);
        out.truncate(start + written);
        rest = &rest[read..];
        match result {
            EncoderResult::InputEmpty => return,
            EncoderResult::Unmappable(_) => out.push(b'?'),
            // Cannot happen with the capacity above, but staying correct costs one more turn.
            EncoderResult::OutputFull => {}
        }
    }
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
