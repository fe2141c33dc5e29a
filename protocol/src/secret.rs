//! `Secret`: a key that never shows itself in logs, reports or `Debug` output.

use std::fmt;

/// A shared secret: a notify key (通知密钥) or a TOP app secret.
///
/// `Debug` and `Display` print a mask, so a secret can sit inside any struct that is logged or
/// reported without leaking. Reading the real value takes an explicit [`Secret::expose`].
#[derive(Clone, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The real value, for signing only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A mask that lets a person tell two secrets apart without learning either: the length and the
    /// first two characters (`4f…(32)`).
    pub fn masked(&self) -> String {
        let head: String = self.0.chars().take(2).collect();
        format!("{head}…({})", self.0.chars().count())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({})", self.masked())
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl serde::Serialize for Secret {
    /// Serialising never writes the secret itself: reports and admin answers show the mask.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_display_and_serde_never_show_the_value() {
        let s = Secret::new("4f64e4c29f3790388965c9a095784d67");
        for shown in [format!("{s:?}"), format!("{s}"), serde_json::to_string(&s).unwrap()] {
            assert!(!shown.contains("e4c29f37"), "{shown}");
            assert!(shown.contains("4f…(32)"), "{shown}");
        }
    }
}
