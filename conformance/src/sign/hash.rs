//! Every way of turning a canonical string and a secret into a sign, right or wrong: the building blocks of the
//! notification sign (§3.3), the TOP signs (§4.4), and the mistakes merchants make with them.

use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};
use protocol::gbk::encode_gbk;
use protocol::{Secret, SignMethod};
use sha2::Sha256;

/// Where the secret goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Construction {
    /// `MD5(secret + str)`: the notification sign.
    KeyPrefix,
    /// `MD5(secret + str + secret)`: TOP `md5`.
    KeyBothEnds,
    /// `MD5(str + secret)`.
    KeySuffix,
    /// `HMAC-MD5(secret, str)`: TOP `hmac`.
    HmacMd5,
    /// `HMAC-SHA256(secret, str)`: TOP `hmac-sha256`.
    HmacSha256,
}

impl Construction {
    /// The construction a TOP `sign_method` names.
    pub fn of(method: SignMethod) -> Self {
        match method {
            SignMethod::Md5 => Construction::KeyBothEnds,
            SignMethod::HmacMd5 => Construction::HmacMd5,
            SignMethod::HmacSha256 => Construction::HmacSha256,
        }
    }
}

/// Which bytes the text becomes before hashing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// The notification sign's encoding; unmappable code points become `?`.
    Gbk,
    /// The TOP signs' encoding.
    Utf8,
}

impl Encoding {
    fn bytes(self, text: &str) -> Vec<u8> {
        match self {
            Encoding::Gbk => encode_gbk(text),
            Encoding::Utf8 => text.as_bytes().to_vec(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Encoding::Gbk => "GBK",
            Encoding::Utf8 => "UTF-8",
        }
    }
}

/// The upper-case hex sign of `canonical` (the `k1v1k2v2…` string) under one construction and encoding.
pub fn sign_with(secret: &Secret, construction: Construction, encoding: Encoding, canonical: &str) -> String {
    let key = encoding.bytes(secret.expose());
    let text = encoding.bytes(canonical);
    let md5 = |pieces: &[&[u8]]| {
        let mut hasher = Md5::new();
        for piece in pieces {
            hasher.update(piece);
        }
        hex::encode_upper(hasher.finalize())
    };
    match construction {
        Construction::KeyPrefix => md5(&[key.as_slice(), text.as_slice()]),
        Construction::KeyBothEnds => md5(&[key.as_slice(), text.as_slice(), key.as_slice()]),
        Construction::KeySuffix => md5(&[text.as_slice(), key.as_slice()]),
        Construction::HmacMd5 => {
            let mut mac = <Hmac<Md5> as KeyInit>::new_from_slice(&key).expect("HMAC takes a key of any length");
            mac.update(&text);
            hex::encode_upper(mac.finalize().into_bytes())
        }
        Construction::HmacSha256 => {
            let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).expect("HMAC takes a key of any length");
            mac.update(&text);
            hex::encode_upper(mac.finalize().into_bytes())
        }
    }
}

/// What was hashed, for people: the canonical string with the secret shown as `[label 4f…(32)]`, never in clear.
pub fn describe(
    secret: &Secret,
    label: &str,
    construction: Construction,
    encoding: Encoding,
    canonical: &str,
) -> String {
    let shown = format!("[{label} {}]", secret.masked());
    let enc = encoding.name();
    match construction {
        Construction::KeyPrefix => format!("{shown}{canonical}  ({enc} bytes, MD5)"),
        Construction::KeyBothEnds => format!("{shown}{canonical}{shown}  ({enc} bytes, MD5)"),
        Construction::KeySuffix => format!("{canonical}{shown}  ({enc} bytes, MD5)"),
        Construction::HmacMd5 => format!("{canonical}  ({enc} bytes, HMAC-MD5 keyed with {shown})"),
        Construction::HmacSha256 => format!("{canonical}  ({enc} bytes, HMAC-SHA256 keyed with {shown})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_real_constructions_match_the_protocol_crate() {
        let secret = Secret::new("helloworld");
        let params = [("a", "银"), ("b", "1")];
        let canonical = protocol::notify_canonical(params);
        assert_eq!(
            sign_with(&secret, Construction::KeyPrefix, Encoding::Gbk, &canonical),
            protocol::notify_sign(&secret, params)
        );
        for method in SignMethod::ALL {
            assert_eq!(
                sign_with(&secret, Construction::of(method), Encoding::Utf8, &canonical),
                protocol::top_sign(&secret, method, params)
            );
        }
    }

    #[test]
    fn descriptions_mask_the_secret() {
        let secret = Secret::new("helloworld");
        for construction in [Construction::KeyPrefix, Construction::KeyBothEnds, Construction::HmacSha256] {
            let text = describe(&secret, "app secret", construction, Encoding::Utf8, "a1");
            assert!(!text.contains("helloworld") && text.contains("he…(10)"), "{text}");
        }
    }
}
