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
    let mut pairs: Vec<(&str, &str)> =
        params.into_iter().filter(|(name, value)| *name != "sign" && !value.is_empty()).collect();
    // `str` orders by bytes, which is the ordinal order the platform uses (StringComparer.Ordinal, TreeMap).
    pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
    pairs
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
    let mut bytes =
        Vec::with_capacity(key.expose().len() + pairs.iter().map(|(n, v)| n.len() + v.len()).sum::<usize>());
    encode_gbk_into(key.expose(), &mut bytes);
    for (name, value) in pairs {
        encode_gbk_into(name, &mut bytes);
        encode_gbk_into(value, &mut bytes);
    }
    bytes
}

/// The notification sign: 32 upper-case hex digits.
pub fn notify_sign<'a>(key: &Secret, params: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    hex::encode_upper(Md5::digest(notify_sign_bytes(key, params)))
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
