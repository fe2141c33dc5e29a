//! [`NotifySign`]: a notification sign as a value, its 32 upper-case hex digits held inline.
//!
//! Why not a `String`: the sign is always 32 ASCII bytes, and on this machine a 32-byte heap allocation and
//! its free cost as much as a tenth of the whole sign (`benches/sign.rs`). It reads as a `&str` wherever one is
//! wanted (`Deref`), prints as itself, and compares with strings.

use std::fmt;
use std::ops::Deref;

/// The upper-case hex of an MD5 digest: what the platform puts in a notification's `sign` param.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct NotifySign {
    digits: [u8; 32],
}

impl NotifySign {
    /// The hex of `digest`, upper case.
    pub(crate) fn from_digest(digest: &[u8; 16]) -> Self {
        const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
        let mut digits = [0u8; 32];
        for (pair, byte) in digits.chunks_exact_mut(2).zip(digest) {
            pair[0] = DIGITS[usize::from(byte >> 4)];
            pair[1] = DIGITS[usize::from(byte & 0x0F)];
        }
        Self { digits }
    }

    /// The 32 hex digits.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.digits).expect("hex digits are ASCII")
    }
}

impl Deref for NotifySign {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for NotifySign {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for NotifySign {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A sign is public (it travels in the request), so its `Debug` shows it.
impl fmt::Debug for NotifySign {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl From<NotifySign> for String {
    fn from(sign: NotifySign) -> String {
        sign.as_str().to_owned()
    }
}

impl PartialEq<str> for NotifySign {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for NotifySign {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for NotifySign {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<NotifySign> for String {
    fn eq(&self, other: &NotifySign) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<NotifySign> for &str {
    fn eq(&self, other: &NotifySign) -> bool {
        *self == other.as_str()
    }
}

impl serde::Serialize for NotifySign {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_match_the_hex_crate_for_every_byte_value() {
        for start in (0..=255u8).step_by(16) {
            let digest: [u8; 16] = std::array::from_fn(|i| start + i as u8);
            assert_eq!(NotifySign::from_digest(&digest), hex::encode_upper(digest));
        }
    }

    #[test]
    fn reads_prints_and_compares_as_its_digits() {
        let sign = NotifySign::from_digest(&[0xAB; 16]);
        let digits = "AB".repeat(16);
        assert_eq!(sign.to_string(), digits);
        assert_eq!(format!("{sign:?}"), format!("{digits:?}"));
        assert_eq!(String::from(sign), digits);
        assert!(sign.starts_with("ABAB"), "derefs to str");
        assert_ne!(sign, "ab".repeat(16), "case matters here; signs_equal is the forgiving comparison");
    }
}
