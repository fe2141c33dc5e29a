//! The TOP API sign (PROTOCOL §4.4): how a merchant signs its calls to `/router/rest`.
//!
//! All three schemes hash UTF-8 bytes of `k1v1k2v2…` over the sorted non-file params except `sign`:
//! `md5` wraps the secret around that string, `hmac` and `hmac-sha256` key an HMAC with it.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};
use sha2::Sha256;

use crate::{Secret, SignError, signs_equal};

/// A `sign_method` the gateway accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
pub enum SignMethod {
    /// `md5`: `MD5(secret + body + secret)`. The default when `sign_method` is absent.
    #[default]
    #[serde(rename = "md5")]
    Md5,
    /// `hmac`: HMAC-MD5 keyed with the secret.
    #[serde(rename = "hmac")]
    HmacMd5,
    /// `hmac-sha256`: HMAC-SHA256 keyed with the secret; 64 hex digits.
    #[serde(rename = "hmac-sha256")]
    HmacSha256,
}

impl SignMethod {
    pub const ALL: [SignMethod; 3] = [SignMethod::Md5, SignMethod::HmacMd5, SignMethod::HmacSha256];

    pub fn as_str(self) -> &'static str {
        match self {
            SignMethod::Md5 => "md5",
            SignMethod::HmacMd5 => "hmac",
            SignMethod::HmacSha256 => "hmac-sha256",
        }
    }

    /// Parses a `sign_method` value exactly as the gateway does (case-sensitive).
    pub fn parse(value: &str) -> Result<Self, SignError> {
        match value {
            "md5" => Ok(SignMethod::Md5),
            "hmac" => Ok(SignMethod::HmacMd5),
            "hmac-sha256" => Ok(SignMethod::HmacSha256),
            other => Err(SignError::UnknownMethod(other.chars().take(32).collect())),
        }
    }

    /// The scheme a param set asks for: its `sign_method`, or md5 when absent (PROTOCOL §4.2).
    pub fn of_params<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, SignError> {
        match params.into_iter().find(|(name, _)| *name == "sign_method") {
            Some((_, value)) => Self::parse(value),
            None => Ok(SignMethod::Md5),
        }
    }
}

impl fmt::Display for SignMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether empty-valued params take part in the TOP sign. SDKs differ (Java/.NET skip them, Python and
/// Node sign `name + ""`), so the gateway accepts either (PROTOCOL §4.4, harness G2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmptyValues {
    Skip,
    Include,
}

/// `k1v1k2v2…` over the sorted params except `sign`.
pub fn top_canonical<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>, empty: EmptyValues) -> String {
    let mut pairs: Vec<(&str, &str)> = params
        .into_iter()
        .filter(|(name, value)| *name != "sign" && (empty == EmptyValues::Include || !value.is_empty()))
        .collect();
    pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut out = String::with_capacity(pairs.iter().map(|(n, v)| n.len() + v.len()).sum());
    for (name, value) in pairs {
        out.push_str(name);
        out.push_str(value);
    }
    out
}

/// Signs a canonical string with one scheme.
pub fn sign_canonical(secret: &Secret, method: SignMethod, canonical: &str) -> String {
    let key = secret.expose().as_bytes();
    match method {
        SignMethod::Md5 => {
            let mut hasher = Md5::new();
            hasher.update(key);
            hasher.update(canonical.as_bytes());
            hasher.update(key);
            hex::encode_upper(hasher.finalize())
        }
        SignMethod::HmacMd5 => {
            let mut mac = <Hmac<Md5> as KeyInit>::new_from_slice(key).expect("HMAC takes a key of any length");
            mac.update(canonical.as_bytes());
            hex::encode_upper(mac.finalize().into_bytes())
        }
        SignMethod::HmacSha256 => {
            let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes a key of any length");
            mac.update(canonical.as_bytes());
            hex::encode_upper(mac.finalize().into_bytes())
        }
    }
}

/// The sign a client sends: empty values skipped, the way the reference merchant and Java SDK do it.
pub fn top_sign<'a>(
    secret: &Secret,
    method: SignMethod,
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> String {
    sign_canonical(secret, method, &top_canonical(params, EmptyValues::Skip))
}

/// Verifies the `sign` of a merged TOP param set: the scheme comes from `sign_method` (md5 when absent),
/// and a sign computed with or without empty-valued params is accepted. Constant-time comparison.
pub fn verify_top<'a>(
    secret: &Secret,
    params: impl IntoIterator<Item = (&'a str, &'a str)> + Clone,
) -> Result<SignMethod, SignError> {
    let method = SignMethod::of_params(params.clone())?;
    let received = params.clone().into_iter().find(|(name, _)| *name == "sign").map(|(_, v)| v);
    let Some(received) = received.filter(|v| !v.is_empty()) else {
        return Err(SignError::Missing);
    };
    let skipped = sign_canonical(secret, method, &top_canonical(params.clone(), EmptyValues::Skip));
    if signs_equal(&skipped, received) {
        return Ok(method);
    }
    let has_empty = params.clone().into_iter().any(|(name, value)| name != "sign" && value.is_empty());
    if has_empty {
        let included = sign_canonical(secret, method, &top_canonical(params, EmptyValues::Include));
        if signs_equal(&included, received) {
            return Ok(method);
        }
    }
    Err(SignError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFICIAL: [(&str, &str); 9] = [
        ("method", "taobao.item.seller.get"),
        ("app_key", "12345678"),
        ("session", "test"),
        ("timestamp", "2016-01-01 12:00:00"),
        ("format", "json"),
        ("v", "2.0"),
        ("sign_method", "md5"),
        ("fields", "num_iid,title,nick,price,num"),
        ("num_iid", "11223344"),
    ];

    #[test]
    fn official_md5_example_matches_the_documented_sign() {
        assert_eq!(top_sign(&Secret::new("helloworld"), SignMethod::Md5, OFFICIAL), "66987CB115214E59E6EC978214934FB8");
    }

    #[test]
    fn verify_accepts_signs_made_with_or_without_empty_values() {
        let secret = Secret::new("helloworld");
        let mut params: Vec<(&str, &str)> = OFFICIAL.to_vec();
        params.push(("partner_id", ""));
        for sign in ["66987CB115214E59E6EC978214934FB8", "C37B5070487A1E27A1EB2B7347D72520"] {
            let mut with_sign = params.clone();
            with_sign.push(("sign", sign));
            assert_eq!(verify_top(&secret, with_sign.iter().copied()), Ok(SignMethod::Md5));
        }
    }

    #[test]
    fn unknown_sign_method_is_an_error() {
        assert_eq!(SignMethod::parse("sha1"), Err(SignError::UnknownMethod("sha1".into())));
    }
}
