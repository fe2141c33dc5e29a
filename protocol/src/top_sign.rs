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
    let pairs = sorted_pairs(params, empty);
    let mut out = String::with_capacity(pairs.iter().map(|(n, v)| n.len() + v.len()).sum());
    for (name, value) in pairs {
        out.push_str(name);
        out.push_str(value);
    }
    out
}

/// The params of the canonical string, sorted by name: what [`top_canonical`] concatenates.
fn sorted_pairs<'a>(
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
    empty: EmptyValues,
) -> Vec<(&'a str, &'a str)> {
    let mut pairs: Vec<(&str, &str)> = params
        .into_iter()
        .filter(|(name, value)| *name != "sign" && (empty == EmptyValues::Include || !value.is_empty()))
        .collect();
    sort_by_name(&mut pairs);
    pairs
}

fn sort_by_name(pairs: &mut [(&str, &str)]) {
    pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
}

/// Signs a canonical string with one scheme.
pub fn sign_canonical(secret: &Secret, method: SignMethod, canonical: &str) -> String {
    let mut signer = Signer::new(secret, method);
    signer.update(canonical.as_bytes());
    signer.finish().as_str().to_owned()
}

/// One scheme's hash, fed the canonical string piece by piece (the same digest as the whole string at once,
/// without building it: the gateway verifies a sign on every call).
enum Signer<'k> {
    Md5 { hasher: Md5, key: &'k [u8] },
    HmacMd5(Hmac<Md5>),
    HmacSha256(Hmac<Sha256>),
}

impl<'k> Signer<'k> {
    fn new(secret: &'k Secret, method: SignMethod) -> Self {
        let key = secret.expose().as_bytes();
        match method {
            SignMethod::Md5 => {
                let mut hasher = Md5::new();
                hasher.update(key);
                Signer::Md5 { hasher, key }
            }
            SignMethod::HmacMd5 => {
                Signer::HmacMd5(<Hmac<Md5> as KeyInit>::new_from_slice(key).expect("HMAC takes a key of any length"))
            }
            SignMethod::HmacSha256 => Signer::HmacSha256(
                <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes a key of any length"),
            ),
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        match self {
            Signer::Md5 { hasher, .. } => hasher.update(bytes),
            Signer::HmacMd5(mac) => mac.update(bytes),
            Signer::HmacSha256(mac) => mac.update(bytes),
        }
    }

    /// Feeds `k1v1k2v2…` of pairs already filtered and sorted.
    fn update_pairs(&mut self, pairs: &[(&str, &str)]) {
        for (name, value) in pairs {
            self.update(name.as_bytes());
            self.update(value.as_bytes());
        }
    }

    fn finish(self) -> HexSign {
        match self {
            Signer::Md5 { mut hasher, key } => {
                hasher.update(key);
                HexSign::upper(&hasher.finalize())
            }
            Signer::HmacMd5(mac) => HexSign::upper(&mac.finalize().into_bytes()),
            Signer::HmacSha256(mac) => HexSign::upper(&mac.finalize().into_bytes()),
        }
    }
}

/// A sign in upper-case hex, on the stack (32 or 64 digits).
struct HexSign {
    digits: [u8; 64],
    len: usize,
}

impl HexSign {
    fn upper(digest: &[u8]) -> Self {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let mut digits = [0u8; 64];
        for (pair, byte) in digits.chunks_exact_mut(2).zip(digest) {
            pair[0] = HEX[usize::from(byte >> 4)];
            pair[1] = HEX[usize::from(byte & 0x0f)];
        }
        Self { digits, len: digest.len() * 2 }
    }

    fn as_str(&self) -> &str {
        // Only ASCII hex digits were written.
        std::str::from_utf8(&self.digits[..self.len]).unwrap_or_default()
    }
}

/// The sign a client sends: empty values skipped, the way the reference merchant and Java SDK do it.
pub fn top_sign<'a>(
    secret: &Secret,
    method: SignMethod,
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> String {
    let signed = params.into_iter().filter(|(name, value)| *name != "sign" && !value.is_empty());
    with_sorted(signed, |pairs| {
        let mut signer = Signer::new(secret, method);
        signer.update_pairs(pairs);
        signer.finish().as_str().to_owned()
    })
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
    // Every param but `sign`, in arrival order: the "included" set; without empty values it is also the
    // "skipped" set, and is gathered and sorted once.
    let verifies = |pairs: &[(&str, &str)]| {
        let mut signer = Signer::new(secret, method);
        signer.update_pairs(pairs);
        signs_equal(signer.finish().as_str(), received)
    };
    let verified = with_sorted(params.clone().into_iter().filter(|(name, _)| *name != "sign"), |included| {
        if included.iter().all(|(_, value)| !value.is_empty()) {
            return verifies(included);
        }
        with_sorted(params.clone().into_iter().filter(|(name, value)| *name != "sign" && !value.is_empty()), verifies)
            || verifies(included)
    });
    if verified { Ok(method) } else { Err(SignError::Mismatch) }
}

/// Runs `f` on the pairs sorted by name as [`sorted_pairs`] sorts them, gathered on the stack when they are
/// few (a TOP call has about a dozen): the gateway verifies a sign on every call, without a heap allocation.
fn with_sorted<'a, R>(
    pairs: impl Iterator<Item = (&'a str, &'a str)>,
    f: impl FnOnce(&[(&'a str, &'a str)]) -> R,
) -> R {
    const ON_STACK: usize = 32;
    let mut stack = [("", ""); ON_STACK];
    let mut len = 0;
    let mut pairs = pairs.peekable();
    while len < ON_STACK
        && let Some(pair) = pairs.next()
    {
        stack[len] = pair;
        len += 1;
    }
    if pairs.peek().is_none() {
        let gathered = &mut stack[..len];
        sort_by_name(gathered);
        return f(gathered);
    }
    let mut heap: Vec<(&str, &str)> = stack.iter().copied().chain(pairs).collect();
    sort_by_name(&mut heap);
    f(&heap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Signing before the canonical string was streamed: the whole string hashed, then `hex::encode_upper`.
    fn sign_whole_string(secret: &Secret, method: SignMethod, canonical: &str) -> String {
        let key = secret.expose().as_bytes();
        match method {
            SignMethod::Md5 => {
                hex::encode_upper(Md5::new().chain_update(key).chain_update(canonical).chain_update(key).finalize())
            }
            SignMethod::HmacMd5 => {
                let mut mac = <Hmac<Md5> as KeyInit>::new_from_slice(key).unwrap();
                mac.update(canonical.as_bytes());
                hex::encode_upper(mac.finalize().into_bytes())
            }
            SignMethod::HmacSha256 => {
                let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
                mac.update(canonical.as_bytes());
                hex::encode_upper(mac.finalize().into_bytes())
            }
        }
    }

    /// Verifying before: each candidate canonical string built and signed whole.
    fn verify_with_whole_strings(secret: &Secret, params: &[(&str, &str)]) -> Result<SignMethod, SignError> {
        let method = SignMethod::of_params(params.iter().copied())?;
        let received = params.iter().find(|(name, _)| *name == "sign").map(|(_, v)| *v);
        let Some(received) = received.filter(|v| !v.is_empty()) else {
            return Err(SignError::Missing);
        };
        let skipped = sign_whole_string(secret, method, &top_canonical(params.iter().copied(), EmptyValues::Skip));
        if signs_equal(&skipped, received) {
            return Ok(method);
        }
        if params.iter().any(|(name, value)| *name != "sign" && value.is_empty()) {
            let included =
                sign_whole_string(secret, method, &top_canonical(params.iter().copied(), EmptyValues::Include));
            if signs_equal(&included, received) {
                return Ok(method);
            }
        }
        Err(SignError::Mismatch)
    }

    /// Params with few names (so duplicates happen), empty values, and `sign` / `sign_method` among them; up to
    /// 40, past what is sorted on the stack.
    fn loose_params() -> impl Strategy<Value = Vec<(String, String)>> {
        let name = prop::sample::select(vec!["a", "b", "app_key", "sign", "sign_method", "z"]);
        let value = prop_oneof!["", "[a-z0-9银]{1,6}", Just("md5".to_owned()), Just("hmac-sha256".to_owned())];
        prop::collection::vec((name.prop_map(str::to_owned), value), 0..40)
    }

    proptest! {
        #[test]
        fn streamed_signs_are_the_signs_of_the_whole_canonical_string(
            secret in "[ -~]{0,80}",
            pairs in loose_params(),
        ) {
            let secret = Secret::new(secret);
            let pairs: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            for method in SignMethod::ALL {
                let canonical = top_canonical(pairs.iter().copied(), EmptyValues::Skip);
                let expected = sign_whole_string(&secret, method, &canonical);
                prop_assert_eq!(&sign_canonical(&secret, method, &canonical), &expected);
                prop_assert_eq!(&top_sign(&secret, method, pairs.iter().copied()), &expected);
            }
        }

        #[test]
        fn verification_gives_the_verdict_of_whole_canonical_strings(
            pairs in loose_params(),
            sign_with in prop::sample::select(vec![None, Some(EmptyValues::Skip), Some(EmptyValues::Include)]),
        ) {
            let secret = Secret::new("s3cret");
            let mut pairs: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            // Half the cases carry a sign that verifies (with or without the empty values), or its lower case.
            let sign = sign_with.map(|empty| {
                let method = SignMethod::of_params(pairs.iter().copied()).unwrap_or_default();
                sign_whole_string(&secret, method, &top_canonical(pairs.iter().copied(), empty))
            });
            let lower = sign.as_ref().map(|s| s.to_ascii_lowercase());
            if let Some(sign) = &sign {
                pairs.insert(0, ("sign", sign));
            }
            prop_assert_eq!(verify_top(&secret, pairs.iter().copied()), verify_with_whole_strings(&secret, &pairs));
            if let Some(lower) = &lower {
                pairs[0] = ("sign", lower);
                prop_assert_eq!(verify_top(&secret, pairs.iter().copied()), verify_with_whole_strings(&secret, &pairs));
            }
        }
    }

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
