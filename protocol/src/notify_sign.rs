//! The notification sign (PROTOCOL §3.3): how the platform signs what it POSTs to a merchant.
//!
//! `UPPER(HEX(MD5(GBK(notify_key + name1 + value1 + name2 + value2 …))))` over every param but `sign`
//! whose value is non-empty, names in byte order, the key at the front only.

use md5::{Digest, Md5};

use crate::gbk::encode_gbk_to_slice;
use crate::{Secret, SignError, signs_equal};

/// The params that enter the sign, sorted by name in byte order: `sign` and empty values dropped.
///
/// Unknown params are kept: a merchant MUST sign every param it received (FAQ 2.14).
pub fn signed_pairs<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<(&'a str, &'a str)> {
    let params = params.into_iter();
    // Sized once: a notification has about twenty params, and growing the vector costs more than sorting it.
    let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(params.size_hint().0.max(24));
    for (name, value) in params {
        if name != "sign" && !value.is_empty() {
            pairs.push((name, value));
        }
    }
    sort_by_name(&mut pairs);
    pairs
}

/// Sorts by name in byte order, which is the ordinal order the platform uses (StringComparer.Ordinal, TreeMap).
///
/// Why not `sort_by(|a, b| a.0.cmp(b.0))`: that costs a `memcmp` call per comparison and moves 32-byte pairs,
/// a third of the whole notification sign (`benches/sign.rs`). Instead each name becomes one `u64`, its first
/// seven bytes (zero-padded) followed by its index; those integers sort in name order except among names
/// sharing their first seven bytes, which are then put in order by the full comparison.
fn sort_by_name(pairs: &mut [(&str, &str)]) {
    const MAX: usize = 32;
    if pairs.len() > MAX {
        pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
        return;
    }
    let mut keys = [0u64; MAX];
    let keys = &mut keys[..pairs.len()];
    for (index, (key, (name, _))) in keys.iter_mut().zip(pairs.iter()).enumerate() {
        let mut bytes = [0u8; 8];
        // A byte loop, not `copy_from_slice`: a variable-length copy is a `memcpy` call per name.
        for (slot, byte) in bytes[..7].iter_mut().zip(name.bytes()) {
            *slot = byte;
        }
        bytes[7] = index as u8;
        *key = u64::from_be_bytes(bytes);
    }
    keys.sort_unstable();
    let mut sorted = [("", ""); MAX];
    for (slot, key) in sorted.iter_mut().zip(keys.iter()) {
        *slot = pairs[(key & 0xFF) as usize];
    }
    pairs.copy_from_slice(&sorted[..pairs.len()]);
    let mut start = 0;
    while start < keys.len() {
        let end = start + keys[start..].iter().take_while(|k| *k >> 8 == keys[start] >> 8).count();
        if end - start > 1 {
            pairs[start..end].sort_unstable_by(|a, b| a.0.cmp(b.0));
        }
        start = end;
    }
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

/// The exact bytes that are hashed: `GBK(key + canonical)`.
pub fn notify_sign_bytes<'a>(key: &Secret, params: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<u8> {
    let pairs = signed_pairs(params);
    // GBK never takes more bytes than UTF-8: size the buffer once for the whole string, write every piece
    // into it, and cut it to length at the end.
    let key = key.expose();
    let mut bytes = vec![0u8; key.len() + pairs.iter().map(|(n, v)| n.len() + v.len()).sum::<usize>()];
    let mut written = encode_gbk_to_slice(key, &mut bytes);
    for (name, value) in pairs {
        written += encode_gbk_to_slice(name, &mut bytes[written..]);
        written += encode_gbk_to_slice(value, &mut bytes[written..]);
    }
    bytes.truncate(written);
    bytes
}

/// The notification sign: 32 upper-case hex digits.
pub fn notify_sign<'a>(key: &Secret, params: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    upper_hex(&Md5::digest(notify_sign_bytes(key, params)))
}

/// Upper-case hex of a digest. Same output as `hex::encode_upper`, which goes through a `char` iterator and
/// costs a fifth of an MD5 of a whole notification (`benches/sign.rs`).
fn upper_hex(digest: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let hex: Vec<u8> =
        digest.iter().flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0x0F)]]).collect();
    String::from_utf8(hex).expect("hex digits are ASCII")
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
    fn names_sharing_their_first_seven_bytes_sort_by_the_whole_name() {
        let names = ["sub_outer_iid", "sub_out", "sub_outer_aa", "sub_ou", "sub_oute", "a", "sub_out\0"];
        let sorted: Vec<&str> = signed_pairs(names.map(|n| (n, "v"))).into_iter().map(|(n, _)| n).collect();
        assert_eq!(sorted, ["a", "sub_ou", "sub_out", "sub_out\0", "sub_oute", "sub_outer_aa", "sub_outer_iid"]);
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
