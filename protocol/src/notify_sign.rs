//! The notification sign (PROTOCOL §3.3): how the platform signs what it POSTs to a merchant.
//!
//! `UPPER(HEX(MD5(GBK(notify_key + name1 + value1 + name2 + value2 …))))` over every param but `sign`
//! whose value is non-empty, names in byte order, the key at the front only.

use md5::{Digest, Md5};

use crate::gbk::{SLACK, encode_gbk_to_slice};
use crate::{Secret, SignError, signs_equal};

/// The params that enter the sign, sorted by name in byte order: `sign` and empty values dropped.
///
/// Unknown params are kept: a merchant MUST sign every param it received (FAQ 2.14).
pub fn signed_pairs<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<(&'a str, &'a str)> {
    with_signed_pairs(params, <[_]>::to_vec)
}

/// Most params a notification is expected to carry: up to this many are sorted on the stack, without allocating.
const MAX_ON_STACK: usize = 32;

/// Calls `f` with the params that enter the sign in signing order ([`signed_pairs`]), allocating nothing for up
/// to [`MAX_ON_STACK`] of them: the notification sign runs on every notification the mock sends and checks.
fn with_signed_pairs<'a, R>(
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
    f: impl FnOnce(&[(&'a str, &'a str)]) -> R,
) -> R {
    let mut pairs = [("", ""); MAX_ON_STACK];
    let mut len = 0;
    let mut params = params.into_iter().filter(|(name, value)| *name != "sign" && !value.is_empty());
    for (slot, pair) in pairs.iter_mut().zip(params.by_ref()) {
        *slot = pair;
        len += 1;
    }
    if len == MAX_ON_STACK
        && let Some(next) = params.next()
    {
        // More than fit: the general path.
        let mut all: Vec<(&str, &str)> = pairs.iter().copied().chain(std::iter::once(next)).chain(params).collect();
        all.sort_by(|a, b| a.0.cmp(b.0));
        return f(&all);
    }
    let mut sorted = [("", ""); MAX_ON_STACK];
    sort_by_name(&pairs[..len], &mut sorted[..len]);
    f(&sorted[..len])
}

/// Writes `pairs` into `sorted` (as long) by name in byte order, which is the ordinal order the platform uses
/// (StringComparer.Ordinal, TreeMap); equal names keep their order. At most [`MAX_ON_STACK`] pairs.
///
/// Why not `sort_by(|a, b| a.0.cmp(b.0))`: that costs a `memcmp` call per comparison and a mispredicted branch
/// for about every other one, a third of the whole notification sign (`benches/sign.rs`). Instead each name
/// becomes one `u32`, its first 27 bits followed by its index; each pair's place is the count of smaller
/// integers, counted without branches. Those integers are in name order except among names sharing their first
/// 27 bits, which are then put in order by the full comparison.
fn sort_by_name<'a>(pairs: &[(&'a str, &'a str)], sorted: &mut [(&'a str, &'a str)]) {
    // Unused slots hold the largest key, so every count runs over the whole fixed-size array: no loop exit to
    // mispredict, and the compiler compares four keys per instruction.
    let mut keys = [u32::MAX; MAX_ON_STACK];
    for (index, (key, (name, _))) in keys.iter_mut().zip(pairs).enumerate() {
        *key = (name_prefix(name.as_bytes()) & !INDEX_MASK) | index as u32;
    }
    let mut sorted_keys = [0u32; MAX_ON_STACK];
    for (&key, pair) in keys.iter().zip(pairs) {
        let place = keys.iter().map(|&other| u32::from(other < key)).sum::<u32>() as usize;
        sorted[place] = *pair;
        sorted_keys[place] = key;
    }
    let mut start = 0;
    while start < sorted.len() {
        let prefix = sorted_keys[start] & !INDEX_MASK;
        let end = start + sorted_keys[start..sorted.len()].iter().take_while(|&&k| k & !INDEX_MASK == prefix).count();
        if end - start > 1 {
            // Stable: equal names stay in their received order, as the index in the key placed them.
            sorted[start..end].sort_by(|a, b| a.0.cmp(b.0));
        }
        start = end;
    }
}

/// The low bits of a sort key that hold the pair's index (below [`MAX_ON_STACK`]); the rest are the name's first
/// 27 bits.
const INDEX_MASK: u32 = MAX_ON_STACK as u32 - 1;

/// The first four bytes of `name`, zero-padded, big-endian: comparing prefixes compares names.
///
/// Overlapping fixed-size loads combined in registers: a byte loop's exit branch is mispredicted per name, and
/// bytes stored one by one into a buffer then read back as one word stall the load.
fn name_prefix(name: &[u8]) -> u32 {
    let n = name.len();
    if n >= 4 {
        u32::from_be_bytes(word(name, 0))
    } else if n >= 2 {
        // Byte i belongs at bit 24 - 8i; the last two bytes overlap the first two where n < 4.
        (u32::from(u16::from_be_bytes(word(name, 0))) << 16)
            | (u32::from(u16::from_be_bytes(word(name, n - 2))) << (32 - 8 * n))
    } else if n == 1 {
        u32::from(name[0]) << 24
    } else {
        0
    }
}

/// The `N` bytes of `bytes` at `at`, as an array (to read as an integer).
fn word<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut word = [0u8; N];
    word.copy_from_slice(&bytes[at..at + N]);
    word
}

/// `name1value1name2value2…` without the key: the part of the canonical string that is safe to print.
pub fn notify_canonical<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (name, value) in signed_pairs(params) {
        out.push_str(name);
        out.push_str(value);
    }
    out
}

/// Feeds `GBK(key + canonical)` to `sink` in pieces: the one walk behind both [`notify_sign_bytes`] and
/// [`notify_sign`], so the bytes shown are the bytes hashed.
///
/// Why a stack buffer: MD5 fed directly costs a call and a copy per name and value, and a heap buffer costs an
/// allocation per sign. A typical notification (about 600 bytes) reaches `sink` in one piece.
fn write_sign_bytes<'a>(
    key: &Secret,
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
    mut sink: impl FnMut(&[u8]),
) {
    let mut buffer = SignBuffer { bytes: [0u8; CAPACITY + SLACK], len: 0 };
    buffer.push(key.expose(), &mut sink);
    with_signed_pairs(params, |pairs| {
        for &(name, value) in pairs {
            buffer.push(name, &mut sink);
            buffer.push(value, &mut sink);
        }
    });
    sink(&buffer.bytes[..buffer.len]);
}

/// How many GBK bytes [`SignBuffer`] holds before handing them on.
const CAPACITY: usize = 1024;

/// GBK bytes waiting to be handed to the sink, with [`SLACK`] spare bytes for the encoder's word stores.
struct SignBuffer {
    bytes: [u8; CAPACITY + SLACK],
    len: usize,
}

impl SignBuffer {
    /// Appends the GBK bytes of `text`, handing the buffer to `sink` first if they might not fit.
    ///
    /// Inlined: it runs for the key and every name and value, and the call would cost more than most of them.
    #[inline(always)]
    fn push(&mut self, text: &str, sink: &mut impl FnMut(&[u8])) {
        if self.len + text.len() <= CAPACITY {
            self.len += encode_gbk_to_slice(text, &mut self.bytes[self.len..]);
        } else {
            self.push_overflowing(text, sink);
        }
    }

    /// [`SignBuffer::push`] when the buffer is too full for `text`, or `text` longer than the whole buffer.
    #[cold]
    #[inline(never)]
    fn push_overflowing(&mut self, text: &str, sink: &mut impl FnMut(&[u8])) {
        sink(&self.bytes[..self.len]);
        self.len = 0;
        let mut text = text;
        while text.len() > CAPACITY {
            // Encode it a buffer-full at a time, cut at a character boundary.
            let mut cut = CAPACITY;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            let written = encode_gbk_to_slice(&text[..cut], &mut self.bytes);
            sink(&self.bytes[..written]);
            text = &text[cut..];
        }
        self.len = encode_gbk_to_slice(text, &mut self.bytes);
    }
}

/// The exact bytes that are hashed: `GBK(key + canonical)`.
pub fn notify_sign_bytes<'a>(key: &Secret, params: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<u8> {
    let mut bytes = Vec::new();
    write_sign_bytes(key, params, |piece| bytes.extend_from_slice(piece));
    bytes
}

/// The notification sign: 32 upper-case hex digits.
pub fn notify_sign<'a>(key: &Secret, params: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut hasher = Md5::new();
    write_sign_bytes(key, params, |piece| hasher.update(piece));
    upper_hex(&hasher.finalize())
}

/// Upper-case hex of a digest. Same output as `hex::encode_upper`, which goes through a `char` iterator and
/// costs a fifth of an MD5 of a whole notification (`benches/sign.rs`).
fn upper_hex(digest: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut hex = String::with_capacity(digest.len() * 2);
    for byte in digest {
        hex.push(char::from(DIGITS[usize::from(byte >> 4)]));
        hex.push(char::from(DIGITS[usize::from(byte & 0x0F)]));
    }
    hex
}

/// Checks the `sign` param of a received notification against `key`, in constant time.
pub fn verify_notify<'a>(
    key: &Secret,
    params: impl IntoIterator<Item = (&'a str, &'a str)> + Clone,
) -> Result<(), SignError> {
    let received = params.clone().into_iter().find(|(name, _)| *name == "sign").map(|(_, v)| v);
    let Some(received) = received.filter(|v| !v.is_empty()) else {
        return Err(SignError::Missing);
    };
    if signs_equal(&notify_sign(key, params), received) { Ok(()) } else { Err(SignError::Mismatch) }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn prefix_first_sorting_is_byte_order(
            names in proptest::collection::vec("(sign|[ab\\x00]{0,10}|[a-z_\\x7F-\\u{A0}]{0,12})", 0..80),
        ) {
            let pairs: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
            let mut expected: Vec<(&str, &str)> = pairs.iter().copied().filter(|(n, _)| *n != "sign").collect();
            expected.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            let sorted: Vec<&str> = signed_pairs(pairs).into_iter().map(|(n, _)| n).collect();
            proptest::prop_assert_eq!(sorted, expected.into_iter().map(|(n, _)| n).collect::<Vec<_>>());
        }
    }

    #[test]
    fn names_sharing_their_first_bytes_sort_by_the_whole_name() {
        let names =
            ["sub_outer_iid", "sub_out", "sub_outer_aa", "sub_ou", "sub_oute", "a", "sub_out\0", "sub\x1F", "s"];
        let sorted: Vec<&str> = signed_pairs(names.map(|n| (n, "v"))).into_iter().map(|(n, _)| n).collect();
        let expected =
            ["a", "s", "sub\x1F", "sub_ou", "sub_out", "sub_out\0", "sub_oute", "sub_outer_aa", "sub_outer_iid"];
        assert_eq!(sorted, expected);
    }

    #[test]
    fn upper_hex_matches_the_hex_crate() {
        let digest: Vec<u8> = (0..=255).collect();
        assert_eq!(upper_hex(&digest), hex::encode_upper(&digest));
    }

    #[test]
    fn faq_example_signs_with_key_prefix_and_gbk() {
        let key = Secret::new("k");
        let params = [("b", "银"), ("a", "1"), ("sign", "X"), ("c", "")];
        let mut expected = b"ka1b".to_vec();
        expected.extend_from_slice(&[0xD2, 0xF8]);
        assert_eq!(notify_sign_bytes(&key, params), expected);
        assert_eq!(notify_canonical(params), "a1b银");
    }

    #[test]
    fn verify_accepts_lower_case_and_rejects_missing_sign() {
        let key = Secret::new("k");
        let sign = notify_sign(&key, [("a", "1")]);
        assert_eq!(verify_notify(&key, [("a", "1"), ("sign", sign.to_lowercase().as_str())]), Ok(()));
        assert_eq!(verify_notify(&key, [("a", "1")]), Err(SignError::Missing));
        assert_eq!(verify_notify(&key, [("a", "2"), ("sign", sign.as_str())]), Err(SignError::Mismatch));
    }
}
