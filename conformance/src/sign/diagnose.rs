//! Which common mistake produced a sign that does not verify (FAQ 2.13, 2.14, 2.25, 2.29).
//!
//! The signing tool prints the diagnosis; the conformance report reuses it (C9 "signed with the notify key").
//! The search is brute force over a handful of dimensions (which secret, where it goes, which bytes, empty values
//! or not): a few dozen hashes, and every combination that reproduces the received sign is named by the mistakes
//! that differ from the right algorithm, fewest first.

use std::fmt;

use protocol::top_sign::{EmptyValues, sign_canonical, top_canonical};
use protocol::{Secret, SignMethod, signs_equal};

use super::hash::{Construction, Encoding, sign_with};

/// One way a sign is computed wrongly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mistake {
    /// Notification: hashed UTF-8 bytes instead of GBK.
    Utf8InsteadOfGbk,
    /// TOP call: hashed GBK bytes instead of UTF-8.
    GbkInsteadOfUtf8,
    /// Notification: `MD5(key + str + key)` with GBK bytes; the key belongs in front only.
    KeyAtBothEnds,
    /// Notification: `MD5(str + key)`.
    KeyAsSuffix,
    /// Notification: HMAC-MD5 keyed with the key instead of MD5 over key + params.
    HmacInsteadOfMd5,
    /// Notification: HMAC-SHA256 keyed with the key.
    HmacSha256InsteadOfMd5,
    /// Params with an empty value were signed as `name + ""`.
    EmptyValuesIncluded,
    /// Notification: computed a TOP call sign (this scheme, UTF-8) instead of the notification sign.
    TopAlgorithm(SignMethod),
    /// TOP call: computed the notification sign (key in front, GBK) instead of the TOP sign.
    NotificationAlgorithm,
    /// TOP call `md5`: the secret in front only, UTF-8.
    SecretInFrontOnly,
    /// TOP call: computed with a scheme other than the one its `sign_method` declares.
    OtherSignMethod { used: SignMethod, declared: SignMethod },
    /// Notification: checked with the TOP app secret instead of the notify key.
    AppSecretAsNotifyKey,
    /// TOP call: signed with the notify key instead of the app secret.
    NotifyKeyAsAppSecret,
}

impl fmt::Display for Mistake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mistake::Utf8InsteadOfGbk => f.write_str(
                "hashing UTF-8 bytes instead of GBK (notification signs are over GBK, PROTOCOL §3.3 step 5)",
            ),
            Mistake::GbkInsteadOfUtf8 => {
                f.write_str("hashing GBK bytes instead of UTF-8 (TOP call signs are over UTF-8, PROTOCOL §4.4)")
            }
            Mistake::KeyAtBothEnds => f.write_str(
                "putting the key at both ends; the notification sign has the key in front only (FAQ 2.14, 2.25)",
            ),
            Mistake::KeyAsSuffix => {
                f.write_str("putting the key as a suffix; it goes in front of the params (FAQ 2.25)")
            }
            Mistake::HmacInsteadOfMd5 => {
                f.write_str("HMAC-MD5 keyed with the key instead of MD5 over key + params (PROTOCOL §3.3 step 6)")
            }
            Mistake::HmacSha256InsteadOfMd5 => {
                f.write_str("HMAC-SHA256 keyed with the key instead of MD5 over key + params (PROTOCOL §3.3 step 6)")
            }
            Mistake::EmptyValuesIncluded => f.write_str(
                "including params with empty values; they are left out of the sign (FAQ 2.14, PROTOCOL §3.3 step 2)",
            ),
            Mistake::TopAlgorithm(method) => write!(
                f,
                "computing a TOP call sign (sign_method {method}, UTF-8) instead of the notification sign \
                 (MD5 of GBK(key + params), PROTOCOL §3.3)"
            ),
            Mistake::NotificationAlgorithm => f.write_str(
                "computing the notification sign (key in front only, GBK) instead of the TOP call sign (PROTOCOL §4.4)",
            ),
            Mistake::SecretInFrontOnly => {
                f.write_str("putting the app secret in front only; sign_method md5 wraps it around the params (§4.4)")
            }
            Mistake::OtherSignMethod { used, declared } => {
                write!(f, "signing with sign_method {used} while the request declares sign_method {declared}")
            }
            Mistake::AppSecretAsNotifyKey => f.write_str(
                "using the TOP app secret instead of the notify key (通知密钥): notifications are signed with the \
                 notify key (FAQ 2.29)",
            ),
            Mistake::NotifyKeyAsAppSecret => f.write_str(
                "using the notify key (通知密钥) instead of the TOP app secret: TOP calls are signed with the app \
                 secret (FAQ 2.29)",
            ),
        }
    }
}

/// The mistakes that, together, reproduce a received sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    pub mistakes: Vec<Mistake>,
}

impl Diagnosis {
    pub fn contains(&self, mistake: Mistake) -> bool {
        self.mistakes.contains(&mistake)
    }
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the received sign is reproduced by ")?;
        for (i, mistake) in self.mistakes.iter().enumerate() {
            if i > 0 {
                f.write_str("; together with ")?;
            }
            write!(f, "{mistake}")?;
        }
        Ok(())
    }
}

/// One way to compute a sign, and the mistakes it amounts to.
struct Candidate<'a> {
    secret: &'a Secret,
    construction: Construction,
    encoding: Encoding,
    empty: EmptyValues,
    mistakes: Vec<Mistake>,
}

/// The first candidate (fewest mistakes) that reproduces `received`.
///
/// A candidate whose sign is one of the `accepted` (right) signs is no mistake: with ASCII-only text, for
/// example, GBK and UTF-8 bytes coincide.
fn first_match(
    mut candidates: Vec<Candidate<'_>>,
    params: &[(&str, &str)],
    received: &str,
    accepted: &[String],
) -> Option<Diagnosis> {
    if accepted.iter().any(|right| signs_equal(right, received)) {
        return None;
    }
    candidates.retain(|c| !c.mistakes.is_empty());
    candidates.sort_by_key(|c| c.mistakes.len());
    let skipped = top_canonical(params.iter().copied(), EmptyValues::Skip);
    let included = top_canonical(params.iter().copied(), EmptyValues::Include);
    candidates.into_iter().find_map(|c| {
        let canonical = if c.empty == EmptyValues::Skip { &skipped } else { &included };
        let sign = sign_with(c.secret, c.construction, c.encoding, canonical);
        signs_equal(&sign, received).then_some(Diagnosis { mistakes: c.mistakes })
    })
}

/// Whether some param other than `sign` has an empty value (otherwise including empties changes nothing).
fn has_empty_values(params: &[(&str, &str)]) -> bool {
    params.iter().any(|(name, value)| *name != "sign" && value.is_empty())
}

/// The secrets to try: the right one, and the other one when given and different, with the mistake it means.
fn secrets<'a>(right: &'a Secret, other: Option<&'a Secret>, mistake: Mistake) -> Vec<(&'a Secret, Option<Mistake>)> {
    let mut secrets = vec![(right, None)];
    if let Some(other) = other.filter(|o| *o != right) {
        secrets.push((other, Some(mistake)));
    }
    secrets
}

fn empties(params: &[(&str, &str)]) -> Vec<(EmptyValues, Option<Mistake>)> {
    let mut empties = vec![(EmptyValues::Skip, None)];
    if has_empty_values(params) {
        empties.push((EmptyValues::Include, Some(Mistake::EmptyValuesIncluded)));
    }
    empties
}

/// Expands (secret, empty values) choices around a list of (construction, encoding, mistakes).
fn expand<'a>(
    algorithms: &[(Construction, Encoding, Vec<Mistake>)],
    secrets: &[(&'a Secret, Option<Mistake>)],
    empties: &[(EmptyValues, Option<Mistake>)],
) -> Vec<Candidate<'a>> {
    let mut candidates = Vec::new();
    for (construction, encoding, algorithm_mistakes) in algorithms {
        for (secret, secret_mistake) in secrets {
            for (empty, empty_mistake) in empties {
                let mut mistakes = algorithm_mistakes.clone();
                mistakes.extend(secret_mistake);
                mistakes.extend(empty_mistake);
                candidates.push(Candidate {
                    secret,
                    construction: *construction,
                    encoding: *encoding,
                    empty: *empty,
                    mistakes,
                });
            }
        }
    }
    candidates
}

/// Why a notification's `received` sign is not the §3.3 sign of `params` with `key`, if a common mistake explains
/// it. `other_secret` is the merchant's TOP app secret, when known.
pub fn diagnose_notify(
    key: &Secret,
    other_secret: Option<&Secret>,
    params: &[(&str, &str)],
    received: &str,
) -> Option<Diagnosis> {
    use Construction::*;
    use Encoding::*;
    let algorithms = [
        (KeyPrefix, Gbk, vec![]),
        (KeyPrefix, Utf8, vec![Mistake::Utf8InsteadOfGbk]),
        (KeyBothEnds, Gbk, vec![Mistake::KeyAtBothEnds]),
        (KeyBothEnds, Utf8, vec![Mistake::TopAlgorithm(SignMethod::Md5)]),
        (KeySuffix, Gbk, vec![Mistake::KeyAsSuffix]),
        (KeySuffix, Utf8, vec![Mistake::KeyAsSuffix, Mistake::Utf8InsteadOfGbk]),
        (HmacMd5, Gbk, vec![Mistake::HmacInsteadOfMd5]),
        (HmacMd5, Utf8, vec![Mistake::TopAlgorithm(SignMethod::HmacMd5)]),
        (HmacSha256, Gbk, vec![Mistake::HmacSha256InsteadOfMd5]),
        (HmacSha256, Utf8, vec![Mistake::TopAlgorithm(SignMethod::HmacSha256)]),
    ];
    let secrets = secrets(key, other_secret, Mistake::AppSecretAsNotifyKey);
    let accepted = [protocol::notify_sign(key, params.iter().copied()).into()];
    first_match(expand(&algorithms, &secrets, &empties(params)), params, received, &accepted)
}

/// Why a TOP call's `received` sign is not the §4.4 sign of `params` under its `declared` sign_method with
/// `secret`, if a common mistake explains it. `other_secret` is the merchant's notify key, when known.
///
/// Empty values included with the right scheme and secret is accepted by the gateway (G2), so it only shows up
/// here next to another mistake.
pub fn diagnose_top(
    secret: &Secret,
    other_secret: Option<&Secret>,
    declared: SignMethod,
    params: &[(&str, &str)],
    received: &str,
) -> Option<Diagnosis> {
    use Encoding::*;
    let mut algorithms = Vec::new();
    for used in SignMethod::ALL {
        let base = if used == declared { vec![] } else { vec![Mistake::OtherSignMethod { used, declared }] };
        algorithms.push((Construction::of(used), Utf8, base.clone()));
        let mut gbk = base;
        gbk.push(Mistake::GbkInsteadOfUtf8);
        algorithms.push((Construction::of(used), Gbk, gbk));
    }
    algorithms.push((Construction::KeyPrefix, Gbk, vec![Mistake::NotificationAlgorithm]));
    algorithms.push((Construction::KeyPrefix, Utf8, vec![Mistake::SecretInFrontOnly]));
    let secrets = secrets(secret, other_secret, Mistake::NotifyKeyAsAppSecret);
    let mut candidates = expand(&algorithms, &secrets, &empties(params));
    // The declared scheme with the right secret and empty values included is accepted (G2): not a mistake.
    candidates.retain(|c| c.mistakes != [Mistake::EmptyValuesIncluded]);
    let accepted = [EmptyValues::Skip, EmptyValues::Include]
        .map(|empty| sign_canonical(secret, declared, &top_canonical(params.iter().copied(), empty)));
    first_match(candidates, params, received, &accepted)
}

/// Whether a sign uses lower-case hex digits: accepted (the comparison ignores case) but worth a note, since the
/// platform sends upper case (PROTOCOL §3.3 step 7).
pub fn has_lower_case_hex(sign: &str) -> bool {
    sign.bytes().any(|b| b.is_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "219f9cb7eceb40fcd4aa016a61993423";
    const APP_SECRET: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90";

    /// Vector B's params, plus an empty one so the empty-values mistake is observable.
    fn vector_b() -> Vec<(&'static str, &'static str)> {
        vec![
            ("method", "send"),
            ("timestamp", "2016-04-12 04:04:37"),
            ("order_id", "1525658026040792"),
            ("item_title", "银子岩门票"),
            ("sku_properties", "门票种类:成人票;门票类型:电子票"),
            ("token", "d3077e5d86c75a2142f87161a4b4c3ea"),
            ("outer_iid", ""),
        ]
    }

    fn canonical(params: &[(&str, &str)], empty: EmptyValues) -> String {
        top_canonical(params.iter().copied(), empty)
    }

    /// Signs vector B wrongly one way and checks the notification diagnosis names exactly `expected`.
    fn check_notify(
        secret: &str,
        construction: Construction,
        encoding: Encoding,
        empty: EmptyValues,
        expected: &[Mistake],
    ) {
        let params = vector_b();
        let sign = sign_with(&Secret::new(secret), construction, encoding, &canonical(&params, empty));
        let found = diagnose_notify(&Secret::new(KEY), Some(&Secret::new(APP_SECRET)), &params, &sign);
        assert_eq!(found.map(|d| d.mistakes), Some(expected.to_vec()));
    }

    #[test]
    fn names_each_notification_mistake() {
        use Construction::*;
        use EmptyValues::*;
        use Encoding::*;
        check_notify(KEY, KeyPrefix, Utf8, Skip, &[Mistake::Utf8InsteadOfGbk]);
        check_notify(KEY, KeyBothEnds, Gbk, Skip, &[Mistake::KeyAtBothEnds]);
        check_notify(KEY, KeySuffix, Gbk, Skip, &[Mistake::KeyAsSuffix]);
        check_notify(KEY, KeyPrefix, Gbk, Include, &[Mistake::EmptyValuesIncluded]);
        check_notify(KEY, HmacMd5, Gbk, Skip, &[Mistake::HmacInsteadOfMd5]);
        check_notify(APP_SECRET, KeyPrefix, Gbk, Skip, &[Mistake::AppSecretAsNotifyKey]);
        check_notify(
            APP_SECRET,
            KeyBothEnds,
            Utf8,
            Skip,
            &[Mistake::TopAlgorithm(SignMethod::Md5), Mistake::AppSecretAsNotifyKey],
        );
    }

    #[test]
    fn a_right_sign_or_an_unrelated_one_has_no_diagnosis() {
        let params = vector_b();
        let key = Secret::new(KEY);
        let right = protocol::notify_sign(&key, params.iter().copied());
        assert_eq!(diagnose_notify(&key, None, &params, &right), None);
        assert_eq!(diagnose_notify(&key, None, &params, "00000000000000000000000000000000"), None);
    }

    #[test]
    fn the_app_secret_is_only_suspected_when_given() {
        let params = vector_b();
        let sign = protocol::notify_sign(&Secret::new(APP_SECRET), params.iter().copied());
        assert_eq!(diagnose_notify(&Secret::new(KEY), None, &params, &sign), None);
    }

    fn top_params(method: &'static str) -> Vec<(&'static str, &'static str)> {
        vec![
            ("method", "taobao.vmarket.eticket.failsend"),
            ("app_key", "12345678"),
            ("session", "sk"),
            ("timestamp", "2016-04-12 04:10:00"),
            ("v", "2.0"),
            ("sign_method", method),
            ("order_id", "1525658026040792"),
            ("verify_codes", "123456789012:1"),
            ("token", "d3077e5d86c75a2142f87161a4b4c3ea"),
            ("error_msg", "手机号码无效"),
            ("partner_id", ""),
        ]
    }

    fn check_top(
        secret: &str,
        construction: Construction,
        encoding: Encoding,
        empty: EmptyValues,
        expected: &[Mistake],
    ) {
        let params = top_params("hmac");
        let sign = sign_with(&Secret::new(secret), construction, encoding, &canonical(&params, empty));
        let found =
            diagnose_top(&Secret::new(APP_SECRET), Some(&Secret::new(KEY)), SignMethod::HmacMd5, &params, &sign);
        assert_eq!(found.map(|d| d.mistakes), Some(expected.to_vec()));
    }

    #[test]
    fn names_each_top_mistake() {
        use Construction::*;
        use EmptyValues::*;
        use Encoding::*;
        check_top(KEY, HmacMd5, Utf8, Skip, &[Mistake::NotifyKeyAsAppSecret]);
        check_top(APP_SECRET, KeyPrefix, Gbk, Skip, &[Mistake::NotificationAlgorithm]);
        check_top(KEY, KeyPrefix, Gbk, Skip, &[Mistake::NotificationAlgorithm, Mistake::NotifyKeyAsAppSecret]);
        check_top(
            APP_SECRET,
            KeyBothEnds,
            Utf8,
            Skip,
            &[Mistake::OtherSignMethod { used: SignMethod::Md5, declared: SignMethod::HmacMd5 }],
        );
        check_top(
            APP_SECRET,
            KeyBothEnds,
            Utf8,
            Include,
            &[
                Mistake::OtherSignMethod { used: SignMethod::Md5, declared: SignMethod::HmacMd5 },
                Mistake::EmptyValuesIncluded,
            ],
        );
        check_top(APP_SECRET, HmacMd5, Gbk, Skip, &[Mistake::GbkInsteadOfUtf8]);
        check_top(KEY, HmacMd5, Utf8, Include, &[Mistake::NotifyKeyAsAppSecret, Mistake::EmptyValuesIncluded]);
    }

    #[test]
    fn empty_values_included_alone_is_accepted_not_diagnosed() {
        let params = top_params("hmac");
        let secret = Secret::new(APP_SECRET);
        let sign = sign_with(&secret, Construction::HmacMd5, Encoding::Utf8, &canonical(&params, EmptyValues::Include));
        assert_eq!(diagnose_top(&secret, None, SignMethod::HmacMd5, &params, &sign), None);
    }

    #[test]
    fn diagnosis_text_names_the_mistakes() {
        let diagnosis = Diagnosis { mistakes: vec![Mistake::Utf8InsteadOfGbk, Mistake::AppSecretAsNotifyKey] };
        let text = diagnosis.to_string();
        assert!(text.contains("UTF-8") && text.contains("app secret") && text.contains("FAQ 2.29"), "{text}");
    }

    #[test]
    fn lower_case_hex_is_noticed() {
        assert!(has_lower_case_hex("6c1346d63291fc26939d8cc5757be65d"));
        assert!(!has_lower_case_hex("6C1346D63291FC26939D8CC5757BE65D"));
    }
}
