//! Acknowledgements (PROTOCOL §3.4): the exact bytes a merchant answers a notification with.
//!
//! The platform compares bytes, not JSON: `{"code":200}` is an acknowledgement, `{"code": 200}` is not.
//! When a reply misses, [`NearMiss`] names the usual mistake so a report can say what to fix.

use std::fmt;

use crate::NotifyMethod;

/// `{"code":200}`: received, codes unchanged (FAQ 2.26).
pub const ACK_200: &[u8] = br#"{"code":200}"#;
/// `{"code":300}`: received, codes regenerated; only for resend and modified (FAQ 2.26, 2.27).
pub const ACK_300: &[u8] = br#"{"code":300}"#;
/// `{"code":501}`: the rejection the reference merchant uses (harness N7). Any non-ack rejects.
pub const REJECT_501: &[u8] = br#"{"code":501}"#;

/// How the platform reads a merchant's reply.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", content = "near_miss", rename_all = "snake_case")]
pub enum AckReply {
    /// 2xx and exactly `{"code":200}`.
    Code200,
    /// 2xx and exactly `{"code":300}`.
    Code300,
    /// Anything else.
    NotAck(NearMiss),
}

/// The recognisable ways a reply misses the exact bytes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NearMiss {
    /// The body was right but the HTTP status was not 2xx.
    Status(u16),
    EmptyBody,
    /// The right JSON followed or preceded by whitespace or a newline.
    Whitespace,
    /// A UTF-8 byte order mark before the JSON.
    Bom,
    /// `{"code": 200}` or other spacing inside the JSON.
    Spacing,
    /// `{"code":"200"}`: the code as a string.
    StringCode,
    /// An HTML page (an error page, or a framework's default view).
    Html,
    /// Valid JSON with another code, e.g. `{"code":501}`: a deliberate rejection.
    OtherCode(i64),
    /// Anything else.
    Other,
}

impl AckReply {
    /// Classifies a reply by its status and its body after transfer decoding.
    pub fn classify(status: u16, body: &[u8]) -> Self {
        let code = match body {
            ACK_200 => Some(AckReply::Code200),
            ACK_300 => Some(AckReply::Code300),
            _ => None,
        };
        match code {
            Some(reply) if (200..300).contains(&status) => reply,
            Some(_) => AckReply::NotAck(NearMiss::Status(status)),
            None => AckReply::NotAck(near_miss(body)),
        }
    }

    /// Whether this reply acknowledges a notification of `method`.
    pub fn acknowledges(&self, method: NotifyMethod) -> bool {
        match self {
            AckReply::Code200 => true,
            AckReply::Code300 => method.allows_code_300(),
            AckReply::NotAck(_) => false,
        }
    }
}

fn near_miss(body: &[u8]) -> NearMiss {
    if body.is_empty() {
        return NearMiss::EmptyBody;
    }
    if let Some(rest) = body.strip_prefix(b"\xEF\xBB\xBF") {
        return if rest.trim_ascii() == ACK_200 || rest.trim_ascii() == ACK_300 {
            NearMiss::Bom
        } else {
            NearMiss::Other
        };
    }
    let trimmed = body.trim_ascii();
    if trimmed == ACK_200 || trimmed == ACK_300 {
        return NearMiss::Whitespace;
    }
    if trimmed.first() == Some(&b'<') {
        return NearMiss::Html;
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else { return NearMiss::Other };
    match value.get("code") {
        Some(serde_json::Value::Number(n)) => match n.as_i64() {
            Some(200 | 300) if value.as_object().is_some_and(|o| o.len() == 1) => NearMiss::Spacing,
            Some(other) => NearMiss::OtherCode(other),
            None => NearMiss::Other,
        },
        Some(serde_json::Value::String(s)) if s == "200" || s == "300" => NearMiss::StringCode,
        _ => NearMiss::Other,
    }
}

impl fmt::Display for NearMiss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NearMiss::Status(s) => write!(f, "HTTP status {s}; an acknowledgement needs a 2xx status"),
            NearMiss::EmptyBody => f.write_str("empty body"),
            NearMiss::Whitespace => f.write_str(
                "whitespace or a newline around the JSON; answer the exact bytes (FAQ 2.26: 不要有其他字符)",
            ),
            NearMiss::Bom => f.write_str("a UTF-8 byte order mark before the JSON"),
            NearMiss::Spacing => f.write_str("spaces inside the JSON; the platform compares bytes, not JSON"),
            NearMiss::StringCode => f.write_str(r#"the code is a string ("200"); it must be the number 200"#),
            NearMiss::Html => f.write_str("an HTML page instead of the JSON acknowledgement"),
            NearMiss::OtherCode(c) => write!(f, "code {c}: the merchant rejected the notification"),
            NearMiss::Other => f.write_str("not an acknowledgement"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_exact_bytes_and_names_near_misses() {
        let cases: [(u16, &[u8], AckReply); 11] = [
            (200, br#"{"code":200}"#, AckReply::Code200),
            (201, br#"{"code":300}"#, AckReply::Code300),
            (500, br#"{"code":200}"#, AckReply::NotAck(NearMiss::Status(500))),
            (200, b"", AckReply::NotAck(NearMiss::EmptyBody)),
            (200, b"{\"code\":200}\n", AckReply::NotAck(NearMiss::Whitespace)),
            (200, b"\xEF\xBB\xBF{\"code\":200}", AckReply::NotAck(NearMiss::Bom)),
            (200, br#"{"code": 200}"#, AckReply::NotAck(NearMiss::Spacing)),
            (200, br#"{"code":"200"}"#, AckReply::NotAck(NearMiss::StringCode)),
            (200, b"<html>ok</html>", AckReply::NotAck(NearMiss::Html)),
            (200, br#"{"code":501}"#, AckReply::NotAck(NearMiss::OtherCode(501))),
            (200, b"OK", AckReply::NotAck(NearMiss::Other)),
        ];
        for (status, body, expected) in cases {
            assert_eq!(AckReply::classify(status, body), expected, "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn code_300_acknowledges_only_resend_and_modified() {
        assert!(AckReply::Code300.acknowledges(NotifyMethod::Resend));
        assert!(!AckReply::Code300.acknowledges(NotifyMethod::Send));
        assert!(!AckReply::Code300.acknowledges(NotifyMethod::Cancel));
        assert!(AckReply::Code200.acknowledges(NotifyMethod::OrderModify));
    }
}
