//! The notification sign (PROTOCOL §3.3): how the platform signs what it POSTs to a merchant.
//!
//! `UPPER(HEX(MD5(GBK(notify_key + name1 + value1 + name2 + value2 …))))` over every param but `sign`
//! whose value is non-empty, names in byte order, the key at the front only.

use md5::{Digest, Md5};

use crate::gbk::encode_gbk_into;
use crate::{Secret, SignError, signs_equal};

/// The params that enter the sign, sorted by name in byte order: `sign` and empty values dropped.
///
/// Unknown params are kept: a merchant MUST sign every param it received (FAQ 2.14).
pub fn signed_pairs<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<(&'a str, &'a str)> {
    sorted_signed(params).into_iter().map(|(_, name, value)| (name, value)).collect()
}

/// [`signed_pairs`] with each name's [`name_prefix`] alongside.
///
/// `str` orders by bytes, which is the ordinal order the platform uses (StringComparer.Ordinal, TreeMap).
/// Comparing a precomputed 8-byte prefix first settles almost every pair of param names in one integer
/// comparison instead of a `memcmp` call (`benches/sign.rs`).
fn sorted_signed<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<(u64, &'a str, &'a str)> {
    let mut pairs: Vec<(u64, &str, &str)> = params
        .into_iter()
        .filter(|(name, value)| *name != "sign" && !value.is_empty())
        .map(|(name, value)| (name_prefix(name), name, value))
        .collect();
    pairs.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
    pairs
}

/// The first 8 bytes of a name, zero-padded, big-endian: ordering these agrees with byte order, and ties
/// (equal prefixes, including a shorter name followed by NULs) fall back to the full comparison.
fn name_prefix(name: &str) -> u64 {
    let bytes = name.as_bytes();
    if let Some(head) = bytes.first_chunk::<8>() {
        return u64::from_be_bytes(*head);
    }
    let mut prefix = [0u8; 8];
    prefix[..bytes.len()].copy_from_slice(bytes);
    u64::from_be_bytes(prefix)
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
    let pairs = sorted_signed(params);
    // GBK never takes more bytes than UTF-8, so this is the final size at most: no reallocation.
    let mut bytes =
        Vec::with_capacity(key.expose().len() + pairs.iter().map(|(_, n, v)| n.len() + v.len()).sum::<usize>());
    encode_gbk_into(key.expose(), &mut bytes);
    for (_, name, value) in pairs {
        encode_gbk_into(name, &mut bytes);
        encode_gbk_into(value, &mut bytes);
    }
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
            names in proptest::collection::vec("(sign|[a-z_\\x00\\x7F-\\u{A0}]{0,12})", 0..24),
        ) {
            let pairs: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
            let mut expected: Vec<(&str, &str)> = pairs.iter().copied().filter(|(n, _)| *n != "sign").collect();
            expected.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            let sorted: Vec<&str> = signed_pairs(pairs).into_iter().map(|(n, _)| n).collect();
            proptest::prop_assert_eq!(sorted, expected.into_iter().map(|(n, _)| n).collect::<Vec<_>>());
        }
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
