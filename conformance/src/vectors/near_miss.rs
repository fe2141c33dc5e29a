//! Near misses: the signs the common mistakes produce for a vector (FAQ 2.13, 2.14, 2.25, 2.29), labelled, so a
//! merchant's test can assert its code makes none of them and name the mistake when it does.
//!
//! The labels are part of the line format (`eticket-sign-vector/1`): add new ones freely, never rename one.

use protocol::top_sign::{EmptyValues, top_canonical};
use protocol::{Secret, SignMethod};

use crate::sign::hash::{Construction, Encoding, sign_with};

/// One common mistake, as the vectors label it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NearMiss {
    /// Notification: MD5 over UTF-8 bytes instead of GBK.
    Utf8InsteadOfGbk,
    /// Notification: `MD5(key + str + key)`, the TOP md5 construction.
    KeyAtBothEnds,
    /// Notification: params with an empty value signed as `name + ""`.
    EmptyValuesSigned,
    /// Notification: signed with the app secret instead of the notify key.
    AppSecretInsteadOfNotifyKey,
    /// TOP call: signed with the notify key instead of the app secret.
    NotifyKeyInsteadOfAppSecret,
    /// TOP call: the declared scheme over GBK bytes instead of UTF-8.
    GbkInsteadOfUtf8,
    /// TOP call: the notification scheme (key in front only, GBK).
    NotificationScheme,
    /// TOP call with `sign_method` md5: the secret in front only.
    SecretInFrontOnly,
    /// TOP call: signed with another scheme than the one `sign_method` declares.
    SignedAs(SignMethod),
}

impl NearMiss {
    /// The label in the `mistake` field of a line.
    pub fn label(self) -> &'static str {
        match self {
            NearMiss::Utf8InsteadOfGbk => "utf8_instead_of_gbk",
            NearMiss::KeyAtBothEnds => "key_at_both_ends",
            NearMiss::EmptyValuesSigned => "empty_values_signed",
            NearMiss::AppSecretInsteadOfNotifyKey => "app_secret_instead_of_notify_key",
            NearMiss::NotifyKeyInsteadOfAppSecret => "notify_key_instead_of_app_secret",
            NearMiss::GbkInsteadOfUtf8 => "gbk_instead_of_utf8",
            NearMiss::NotificationScheme => "notification_scheme",
            NearMiss::SecretInFrontOnly => "secret_in_front_only",
            NearMiss::SignedAs(SignMethod::Md5) => "signed_as_md5",
            NearMiss::SignedAs(SignMethod::HmacMd5) => "signed_as_hmac",
            NearMiss::SignedAs(SignMethod::HmacSha256) => "signed_as_hmac_sha256",
        }
    }

    /// Whether the mistake is signing with the other credential (the line then carries it as `other_secret`).
    pub fn uses_other_secret(self) -> bool {
        matches!(self, NearMiss::AppSecretInsteadOfNotifyKey | NearMiss::NotifyKeyInsteadOfAppSecret)
    }
}

/// A near miss with the sign it produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Computed {
    pub near_miss: NearMiss,
    pub sign: String,
}

/// The near misses of a notification signed with `key`, the merchant's app secret being `app_secret`: each whose
/// sign differs from the right one and from every earlier near miss (with ASCII-only text, UTF-8 is GBK).
pub fn notify_near_misses(key: &Secret, app_secret: &Secret, params: &[(&str, &str)], right: &str) -> Vec<Computed> {
    let skipped = protocol::notify_canonical(params.iter().copied());
    let included = top_canonical(params.iter().copied(), EmptyValues::Include);
    let candidates = [
        (NearMiss::Utf8InsteadOfGbk, sign_with(key, Construction::KeyPrefix, Encoding::Utf8, &skipped)),
        (NearMiss::KeyAtBothEnds, sign_with(key, Construction::KeyBothEnds, Encoding::Gbk, &skipped)),
        (NearMiss::EmptyValuesSigned, sign_with(key, Construction::KeyPrefix, Encoding::Gbk, &included)),
        (
            NearMiss::AppSecretInsteadOfNotifyKey,
            sign_with(app_secret, Construction::KeyPrefix, Encoding::Gbk, &skipped),
        ),
    ];
    distinct(candidates, &[right])
}

/// The near misses of a TOP call declaring `declared`, signed with `secret`, the merchant's notify key being
/// `notify_key`. `accepted` holds every sign the gateway accepts (empty values skipped or included, §4.4 G2).
pub fn top_near_misses(
    secret: &Secret,
    notify_key: &Secret,
    declared: SignMethod,
    params: &[(&str, &str)],
    accepted: &[&str],
) -> Vec<Computed> {
    let canonical = top_canonical(params.iter().copied(), EmptyValues::Skip);
    let scheme = Construction::of(declared);
    let mut candidates: Vec<(NearMiss, String)> = SignMethod::ALL
        .into_iter()
        .filter(|used| *used != declared)
        .map(|used| (NearMiss::SignedAs(used), sign_with(secret, Construction::of(used), Encoding::Utf8, &canonical)))
        .collect();
    candidates.push((NearMiss::GbkInsteadOfUtf8, sign_with(secret, scheme, Encoding::Gbk, &canonical)));
    candidates
        .push((NearMiss::NotificationScheme, sign_with(secret, Construction::KeyPrefix, Encoding::Gbk, &canonical)));
    if declared == SignMethod::Md5 {
        candidates.push((
            NearMiss::SecretInFrontOnly,
            sign_with(secret, Construction::KeyPrefix, Encoding::Utf8, &canonical),
        ));
    }
    candidates.push((NearMiss::NotifyKeyInsteadOfAppSecret, sign_with(notify_key, scheme, Encoding::Utf8, &canonical)));
    distinct(candidates, accepted)
}

/// Keeps the candidates whose sign is neither accepted nor that of an earlier candidate.
fn distinct(candidates: impl IntoIterator<Item = (NearMiss, String)>, accepted: &[&str]) -> Vec<Computed> {
    let mut kept: Vec<Computed> = Vec::new();
    for (near_miss, sign) in candidates {
        if !accepted.contains(&sign.as_str()) && kept.iter().all(|k| k.sign != sign) {
            kept.push(Computed { near_miss, sign });
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::diagnose::{Mistake, diagnose_notify, diagnose_top};

    /// The signing tool's name for the same mistake (`conformance sign verify` prints its explanation):
    /// the near misses are held to it below.
    fn mistake(near_miss: NearMiss, declared: SignMethod) -> Mistake {
        match near_miss {
            NearMiss::Utf8InsteadOfGbk => Mistake::Utf8InsteadOfGbk,
            NearMiss::KeyAtBothEnds => Mistake::KeyAtBothEnds,
            NearMiss::EmptyValuesSigned => Mistake::EmptyValuesIncluded,
            NearMiss::AppSecretInsteadOfNotifyKey => Mistake::AppSecretAsNotifyKey,
            NearMiss::NotifyKeyInsteadOfAppSecret => Mistake::NotifyKeyAsAppSecret,
            NearMiss::GbkInsteadOfUtf8 => Mistake::GbkInsteadOfUtf8,
            NearMiss::NotificationScheme => Mistake::NotificationAlgorithm,
            NearMiss::SecretInFrontOnly => Mistake::SecretInFrontOnly,
            NearMiss::SignedAs(used) => Mistake::OtherSignMethod { used, declared },
        }
    }

    const KEY: &str = "219f9cb7eceb40fcd4aa016a61993423";
    const APP_SECRET: &str = "f0e1d2c3b4a5968778695a4b3c2d1e0f";

    #[test]
    fn each_notification_near_miss_is_the_mistake_the_signing_tool_diagnoses() {
        let params =
            [("method", "send"), ("item_title", "银子岩门票😀"), ("outer_iid", ""), ("order_id", "1525658026040792")];
        let (key, app_secret) = (Secret::new(KEY), Secret::new(APP_SECRET));
        let right = protocol::notify_sign(&key, params).to_string();
        let near_misses = notify_near_misses(&key, &app_secret, &params, &right);
        assert_eq!(near_misses.len(), 4, "{near_misses:?}");
        for computed in near_misses {
            let diagnosis = diagnose_notify(&key, Some(&app_secret), &params, &computed.sign).expect("diagnosed");
            assert_eq!(diagnosis.mistakes, [mistake(computed.near_miss, SignMethod::Md5)]);
        }
    }

    #[test]
    fn each_top_near_miss_is_the_mistake_the_signing_tool_diagnoses() {
        let (secret, notify_key) = (Secret::new(APP_SECRET), Secret::new(KEY));
        for declared in SignMethod::ALL {
            let params = [("method", "taobao.vmarket.eticket.failsend"), ("error_msg", "手机号码无效"), ("v", "2.0")];
            let right = protocol::top_sign(&secret, declared, params);
            let near_misses = top_near_misses(&secret, &notify_key, declared, &params, &[&right]);
            assert!(near_misses.len() >= 5, "{near_misses:?}");
            for computed in near_misses {
                let diagnosis =
                    diagnose_top(&secret, Some(&notify_key), declared, &params, &computed.sign).expect("diagnosed");
                assert_eq!(diagnosis.mistakes, [mistake(computed.near_miss, declared)], "{declared}");
            }
        }
    }

    #[test]
    fn a_near_miss_that_gives_the_right_sign_is_left_out() {
        // ASCII only and no empty value: UTF-8 is GBK, and including empty values changes nothing.
        let params = [("method", "send"), ("order_id", "1")];
        let (key, app_secret) = (Secret::new(KEY), Secret::new(APP_SECRET));
        let right = protocol::notify_sign(&key, params).to_string();
        let labels: Vec<_> =
            notify_near_misses(&key, &app_secret, &params, &right).iter().map(|c| c.near_miss.label()).collect();
        assert_eq!(labels, ["key_at_both_ends", "app_secret_instead_of_notify_key"]);
    }
}
