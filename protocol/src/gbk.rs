//! GBK encoding the way the platform's Java side does it: one `?` per unmappable code point.

use std::sync::OnceLock;

use encoding_rs::{EncoderResult, GBK};

/// Appends the GBK bytes of `text` to `out`; each code point GBK cannot encode becomes one `?` (0x3F).
///
/// The bytes are `encoding_rs`'s GBK encoder's, looked up per code point in `bmp_table` (GBK is stateless, so
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
/// is copied and checked eight bytes at a time, with no call. At the first word holding another byte the rest
/// goes to [`encode_non_ascii`]; what was copied before it is already its own GBK.
#[inline(always)]
pub(crate) fn encode_gbk_to_slice(text: &str, dst: &mut [u8]) -> usize {
    let bytes = text.as_bytes();
    let n = bytes.len();
    if n < 8 {
        if copy_short(bytes, dst) & HIGH_BITS == 0 {
            return n;
        }
        return encode_non_ascii(bytes, dst);
    }
    let mut seen = 0;
    let mut at = 0;
    while at + 8 <= n {
        seen |= copy_u64(bytes, dst, at);
        at += 8;
    }
    if at < n {
        seen |= copy_u64(bytes, dst, n - 8);
    }
    if seen & HIGH_BITS == 0 {
        return n;
    }
    encode_non_ascii(bytes, dst)
}

/// [`encode_gbk_to_slice`] for text that is not all ASCII: out of line, so the ASCII path stays small enough
/// to inline into its callers.
///
/// Chinese text goes two characters per step (one `u64` load, two lookups, two stores) and runs of ASCII inside
/// it up to eight bytes per step. One character at a time cost about 28 instructions each, mostly bounds checks
/// and branches; this is about 20 (`benches/sign.rs`; a 111-hanzi text encodes in about 320 ns, was 396).
#[inline(never)]
fn encode_non_ascii(bytes: &[u8], dst: &mut [u8]) -> usize {
    let table = bmp_table();
    let room = dst.len();
    // What is left to read and where to write next, as slices: each step then checks one length for each,
    // where indexes cost two checks per access (`benches/sign.rs`).
    let mut rest = bytes;
    let mut out = dst;
    loop {
        // Two three-byte sequences (hanzi, CJK punctuation): the bulk of Chinese values. `bytes` is valid UTF-8
        // (it comes from a `&str`), so two lead bytes of the form 1110xxxx at 0 and 3 mean two such sequences.
        while let Some(&chunk) = rest.first_chunk::<8>()
            && let word = u64::from_le_bytes(chunk)
            && word & 0xF000_00F0 == 0xE000_00E0
        {
            let first = table[three_byte_code_point(word)];
            let second = table[three_byte_code_point(word >> 24)];
            let first_len = gbk_len(first);
            let slot = out.first_chunk_mut::<4>().expect("room for the GBK bytes (see SLACK)");
            // Two two-byte stores, the second where the first one's bytes end: a shift by a variable amount
            // costs three micro-ops here.
            slot[..2].copy_from_slice(&first.to_le_bytes());
            slot[first_len..first_len + 2].copy_from_slice(&second.to_le_bytes());
            out = &mut std::mem::take(&mut out)[first_len + gbk_len(second)..];
            rest = &rest[6..];
        }
        let Some(&lead) = rest.first() else { break };
        let (read, entry) = if lead < 0x80 {
            // ASCII inside Chinese text ("2016/04/12", "$code."): up to eight bytes per step where they fit.
            let ascii = match rest.first_chunk::<8>() {
                Some(&chunk) => {
                    let word = u64::from_le_bytes(chunk);
                    out[..8].copy_from_slice(&chunk);
                    // The bytes before the first one with its high bit set (at least one: `lead`).
                    ((word & HIGH_BITS).trailing_zeros() / 8) as usize
                }
                None => {
                    out[0] = lead;
                    1
                }
            };
            out = &mut std::mem::take(&mut out)[ascii..];
            rest = &rest[ascii..];
            continue;
        } else if lead >= 0xF0 {
            // Astral: beyond GBK.
            (4, u16::from(b'?'))
        } else if lead >= 0xE0 {
            let word = u64::from(lead) | (u64::from(rest[1]) << 8) | (u64::from(rest[2]) << 16);
            (3, table[three_byte_code_point(word)])
        } else {
            (2, table[(usize::from(lead & 0x1F) << 6) | usize::from(rest[1] & 0x3F)])
        };
        // Always store two bytes; a one-byte entry's second byte is zero and is overwritten or cut off.
        out[..2].copy_from_slice(&entry.to_le_bytes());
        out = &mut std::mem::take(&mut out)[gbk_len(entry)..];
        rest = &rest[read..];
    }
    room - out.len()
}

/// The code point of the three-byte UTF-8 sequence in the low three bytes of `word` (little-endian): below
/// 0x10000 by construction, so indexing the table needs no bounds check.
#[inline(always)]
fn three_byte_code_point(word: u64) -> usize {
    (((word & 0x0F) << 12) | (((word >> 8) & 0x3F) << 6) | ((word >> 16) & 0x3F)) as usize
}

/// How many bytes a [`bmp_table`] entry stands for: two-byte entries are above 0xFF.
#[inline(always)]
fn gbk_len(entry: u16) -> usize {
    1 + usize::from(entry > 0xFF)
}

/// The high bit of each byte of a `u64`: set in a word that holds a non-ASCII byte.
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Copies `src` (shorter than eight bytes) to the start of `dst` and returns the OR of every byte copied (spread
/// over a `u64`), so the caller learns whether it was ASCII from the same loads.
///
/// Why overlapping fixed-size loads: a variable-length `copy_from_slice` is a `memmove` call, and for the
/// short names and values of a notification the call costs more than the copy.
#[inline(always)]
fn copy_short(src: &[u8], dst: &mut [u8]) -> u64 {
    let n = src.len();
    if n >= 4 {
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
pub(crate) fn word<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut word = [0u8; N];
    word.copy_from_slice(&bytes[at..at + N]);
    word
}

/// The GBK encoding of every BMP code point, as `encoding_rs` encodes it, as the bytes to store little-endian:
/// one byte (`0x01..=0xFF`, `?` for unmappable) or two bytes, lead byte low (so the entry is above `0xFF`: the
/// trail byte is never zero). ASCII entries are unused.
///
/// Built once per process from the encoder itself (65,536 one-character encodes), so it cannot disagree with it.
fn bmp_table() -> &'static [u16; 0x1_0000] {
    static TABLE: OnceLock<Box<[u16; 0x1_0000]>> = OnceLock::new();
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
        table.into_boxed_slice().try_into().expect("65,536 entries")
    })
}

/// Whether GBK encoders disagree on `c` (PROTOCOL §3.3 "Which GBK"): the private-use area and the 102 code points
/// listed there, on which Java's `GBK`, Python's `gbk` and `encoding_rs` give different bytes.
///
/// The platform never puts one in a notification value: a merchant's sign would then depend on which GBK table its
/// language ships, not on whether its code is right.
pub fn encoders_disagree(c: char) -> bool {
    let c = u32::from(c);
    // Below the first listed code point (ASCII and Latin: most text the platform checks) there is nothing to look up;
    // above it, the sorted ranges are searched, not scanned.
    c >= DISAGREEING[0].0
        && ((0xE000..=0xF8FF).contains(&c)
            || DISAGREEING
                .binary_search_by(|(lo, hi)| {
                    if *hi < c {
                        std::cmp::Ordering::Less
                    } else if *lo > c {
                        std::cmp::Ordering::Greater
                    } else {
                        std::cmp::Ordering::Equal
                    }
                })
                .is_ok())
}

/// The 102 BMP code points outside the private-use area on which GBK encoders disagree, as inclusive ranges.
#[rustfmt::skip]
const DISAGREEING: &[(u32, u32)] = &[
    (0x01F9, 0x01F9), (0x1E3F, 0x1E3F), (0x20AC, 0x20AC), (0x2295, 0x2295), (0x2641, 0x2641), (0x2E81, 0x2E81),
    (0x2E84, 0x2E84), (0x2E88, 0x2E88), (0x2E8B, 0x2E8C), (0x2E97, 0x2E97), (0x2EA7, 0x2EA7), (0x2EAA, 0x2EAA),
    (0x2EAE, 0x2EAE), (0x2EB3, 0x2EB3), (0x2EB6, 0x2EB7), (0x2EBB, 0x2EBB), (0x2ECA, 0x2ECA), (0x2FF0, 0x2FFB),
    (0x303E, 0x303E), (0x3447, 0x3447), (0x3473, 0x3473), (0x359E, 0x359E), (0x360E, 0x360E), (0x361A, 0x361A),
    (0x3918, 0x3918), (0x396E, 0x396E), (0x39CF, 0x39D0), (0x39DF, 0x39DF), (0x3A73, 0x3A73), (0x3B4E, 0x3B4E),
    (0x3C6E, 0x3C6E), (0x3CE0, 0x3CE0), (0x4056, 0x4056), (0x415F, 0x415F), (0x4337, 0x4337), (0x43AC, 0x43AC),
    (0x43B1, 0x43B1), (0x43DD, 0x43DD), (0x44D6, 0x44D6), (0x464C, 0x464C), (0x4661, 0x4661), (0x4723, 0x4723),
    (0x4729, 0x4729), (0x477C, 0x477C), (0x478D, 0x478D), (0x4947, 0x4947), (0x497A, 0x497A), (0x497D, 0x497D),
    (0x4982, 0x4983), (0x4985, 0x4986), (0x499B, 0x499B), (0x499F, 0x499F), (0x49B6, 0x49B7), (0x4C77, 0x4C77),
    (0x4C9F, 0x4CA3), (0x4D13, 0x4D19), (0x4DAE, 0x4DAE), (0x9FB4, 0x9FBB), (0xFE10, 0xFE19),
];

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
    fn encoders_disagree_on_the_private_use_area_and_the_102_listed_code_points() {
        let listed = (0..=0xFFFFu32)
            .filter_map(char::from_u32)
            .filter(|c| encoders_disagree(*c) && !(0xE000..=0xF8FF).contains(&u32::from(*c)))
            .count();
        assert_eq!(listed, 102);
        assert!(encoders_disagree('\u{E000}') && encoders_disagree('€') && encoders_disagree('\u{FE19}'));
        assert!(!encoders_disagree('银') && !encoders_disagree('\u{3000}') && !encoders_disagree('?'));
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
