//! The notification sign (PROTOCOL §3.3): how the platform signs what it POSTs to a merchant.
//!
//! `UPPER(HEX(MD5(GBK(notify_key + name1 + value1 + name2 + value2 …))))` over every param but `sign`
//! whose value is non-empty, names in byte order, the key at the front only.
//!
//! It runs on every notification the mock sends and every one the suite and the reference merchant check, so
//! it is built to cost little beyond MD5 itself (`benches/sign.rs`): `order` picks and orders the params
//! without allocating, `known_names` knows the §3.2 names ahead, `writer` encodes into a stack buffer, and
//! [`NotifySign`] holds the result inline.

mod known_names;
mod order;
mod sign_value;
mod writer;

use md5::{Digest, Md5};

pub use sign_value::NotifySign;

use crate::{Secret, SignError, signs_equal};
use order::for_each_signed_pair;
use writer::write_sign_bytes;

/// The params that enter the sign, sorted by name in byte order: `sign` and empty values dropped.
///
/// Unknown params are kept: a merchant MUST sign every param it received (FAQ 2.14).
pub fn signed_pairs<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<(&'a str, &'a str)> {
    let mut pairs = Vec::new();
    for_each_signed_pair(params, &mut |name, value| pairs.push((name, value)));
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
    let mut bytes = Vec::new();
    write_sign_bytes(key, params, |piece| bytes.extend_from_slice(piece));
    bytes
}

/// The notification sign: 32 upper-case hex digits.
pub fn notify_sign<'a>(key: &Secret, params: impl IntoIterator<Item = (&'a str, &'a str)>) -> NotifySign {
    let mut hasher = Md5::new();
    write_sign_bytes(key, params, |piece| hasher.update(piece));
    NotifySign::from_digest(&hasher.finalize().into())
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
