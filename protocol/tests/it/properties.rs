//! Property tests of the signing rules: order invariance, what never counts (empty values, `sign`), tamper
//! detection, sign/verify round trips, and GBK text surviving encode/decode and urlencoded bodies.

use std::collections::BTreeMap;

use proptest::prelude::*;
use protocol::gbk::{decode_gbk, encode_gbk};
use protocol::params::Charset;
use protocol::{Params, Secret, SignMethod, notify_sign, top_sign, verify_notify, verify_top};

/// One character GBK maps identically in Java, Python and `encoding_rs`: ASCII, or a CJK unified ideograph
/// from U+4E00..=U+9FA5 (none of the 102 disputed code points of PROTOCOL §3.3 and no private-use area).
fn safe_char() -> impl Strategy<Value = char> {
    prop_oneof![
        prop::char::range('a', 'z'),
        prop::char::range('0', '9'),
        prop::sample::select(vec![' ', ':', ';', ',', '.', '$', '-', '=', '&', '+', '%', '[', ']', '"', '/', '?']),
        prop::char::range('\u{4E00}', '\u{9FA5}'),
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop::collection::vec(safe_char(), 1..16).prop_map(String::from_iter)
}

fn name() -> impl Strategy<Value = String> {
    "[a-z][a-z_]{0,11}".prop_filter("`sign` never takes part", |n| n != "sign")
}

/// A param set with unique names and non-empty values.
fn params() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::btree_map(name(), value(), 1..12).prop_map(|m| m.into_iter().collect())
}

fn secret() -> impl Strategy<Value = Secret> {
    "[0-9a-zA-Z]{1,40}".prop_map(Secret::new)
}

fn borrowed(pairs: &[(String, String)]) -> Vec<(&str, &str)> {
    pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect()
}

/// Every sign this crate computes, by scheme name: the notification sign and the three TOP schemes.
fn all_signs(secret: &Secret, pairs: &[(&str, &str)]) -> Vec<(&'static str, String)> {
    let mut signs = vec![("notify", notify_sign(secret, pairs.iter().copied()).into())];
    for method in SignMethod::ALL {
        signs.push((method.as_str(), top_sign(secret, method, pairs.iter().copied())));
    }
    signs
}

/// Replaces the `index`-th character (modulo the length) with a different safe character.
fn change_one_char(text: &str, index: usize, replacement: char) -> String {
    let chars: Vec<char> = text.chars().collect();
    let at = index % chars.len();
    let new = if chars[at] == replacement { if replacement == 'a' { 'b' } else { 'a' } } else { replacement };
    chars.iter().enumerate().map(|(i, c)| if i == at { new } else { *c }).collect()
}

proptest! {
    #[test]
    fn param_order_never_changes_any_sign(
        secret in secret(),
        (original, shuffled) in params().prop_flat_map(|p| (Just(p.clone()), Just(p).prop_shuffle())),
    ) {
        prop_assert_eq!(all_signs(&secret, &borrowed(&original)), all_signs(&secret, &borrowed(&shuffled)));
    }

    #[test]
    fn empty_values_and_the_sign_param_never_count(
        secret in secret(),
        pairs in params(),
        empties in prop::collection::btree_set(name(), 1..4),
        bogus_sign in "[0-9A-F]{32}",
    ) {
        let before = all_signs(&secret, &borrowed(&pairs));
        let names: BTreeMap<&str, ()> = pairs.iter().map(|(n, _)| (n.as_str(), ())).collect();
        let mut padded = borrowed(&pairs);
        for empty in empties.iter().filter(|n| !names.contains_key(n.as_str())) {
            padded.push((empty.as_str(), ""));
        }
        padded.push(("sign", bogus_sign.as_str()));
        prop_assert_eq!(before, all_signs(&secret, &padded));
    }

    #[test]
    fn changing_one_character_of_any_value_changes_every_sign(
        secret in secret(),
        pairs in params(),
        which in any::<prop::sample::Index>(),
        at in any::<usize>(),
        replacement in safe_char(),
    ) {
        let before = all_signs(&secret, &borrowed(&pairs));
        let mut tampered = pairs.clone();
        let i = which.index(tampered.len());
        tampered[i].1 = change_one_char(&tampered[i].1, at, replacement);
        for ((scheme, old), (_, new)) in before.iter().zip(all_signs(&secret, &borrowed(&tampered))) {
            prop_assert_ne!(old, &new, "{} sign survived a changed value", scheme);
        }
    }

    #[test]
    fn changing_one_character_of_the_key_changes_every_sign(
        secret in secret(),
        pairs in params(),
        at in any::<usize>(),
        replacement in prop::char::range('a', 'z'),
    ) {
        let other = Secret::new(change_one_char(secret.expose(), at, replacement));
        let pairs = borrowed(&pairs);
        for ((scheme, old), (_, new)) in all_signs(&secret, &pairs).iter().zip(all_signs(&other, &pairs)) {
            prop_assert_ne!(old, &new, "{} sign survived a changed key", scheme);
        }
    }

    #[test]
    fn a_notification_sign_verifies(key in secret(), pairs in params()) {
        let mut pairs = borrowed(&pairs);
        let sign = notify_sign(&key, pairs.iter().copied());
        pairs.push(("sign", sign.as_str()));
        prop_assert_eq!(verify_notify(&key, pairs.iter().copied()), Ok(()));
    }

    #[test]
    fn a_top_sign_verifies_under_every_scheme(
        secret in secret(),
        pairs in params(),
        method in prop::sample::select(SignMethod::ALL.to_vec()),
    ) {
        let mut pairs = borrowed(&pairs);
        pairs.retain(|(name, _)| *name != "sign_method");
        pairs.push(("sign_method", method.as_str()));
        let sign = top_sign(&secret, method, pairs.iter().copied());
        pairs.push(("sign", sign.as_str()));
        prop_assert_eq!(verify_top(&secret, pairs.iter().copied()), Ok(method));
    }

    #[test]
    fn gbk_encodable_text_round_trips_through_encode_and_decode(text in prop::collection::vec(safe_char(), 0..64)) {
        let text = String::from_iter(text);
        prop_assert_eq!(decode_gbk(&encode_gbk(&text)), Some(text));
    }

    #[test]
    fn gbk_encodable_params_round_trip_through_urlencoded_bodies(
        pairs in prop::collection::btree_map(value(), prop::collection::vec(safe_char(), 0..16), 1..8),
    ) {
        let params = Params::from_pairs(pairs.into_iter().map(|(n, v)| (n, String::from_iter(v))));
        for charset in [Charset::Gbk, Charset::Utf8] {
            let body = params.to_urlencoded(charset);
            prop_assert!(body.is_ascii(), "an urlencoded body is ASCII");
            let mut back = Params::new();
            prop_assert!(back.extend_urlencoded(body.as_bytes(), charset).is_ok());
            prop_assert_eq!(&back, &params);
        }
    }
}

proptest! {
    /// However the bytes are assembled (one buffer, pieces written in place), they are exactly
    /// `GBK(key + canonical)` and the sign is their MD5, for any text: emoji and unmappable code points included.
    #[test]
    fn the_notification_sign_is_md5_of_gbk_of_key_and_canonical_string(
        key in any::<String>(),
        pairs in prop::collection::vec((any::<String>(), any::<String>()), 0..8),
    ) {
        use md5::{Digest, Md5};
        let key = Secret::new(key);
        let pairs = borrowed(&pairs);
        let bytes = protocol::notify_sign::notify_sign_bytes(&key, pairs.iter().copied());
        let canonical = protocol::notify_canonical(pairs.iter().copied());
        prop_assert_eq!(&bytes, &encode_gbk(&format!("{}{canonical}", key.expose())));
        prop_assert_eq!(notify_sign(&key, pairs.iter().copied()), hex::encode_upper(Md5::digest(bytes)));
    }
}
