//! The bodies of the fuzz targets over this crate's parsers (`fuzz/fuzz_targets/*.rs` call them, and the
//! ordinary test `tests/it/fuzz_corpus.rs` replays every committed corpus file through them on stable).
//!
//! Each body takes arbitrary bytes, runs one parser that meets untrusted input, and asserts the properties that
//! must hold for any input: no panic, and where a parse succeeds, that what it produced is consistent (a reparse
//! gives the same result, a sign we compute verifies). Not part of the API: hidden from the docs.

use bytes::Bytes;

use crate::ack::{ACK_200, ACK_300, AckReply};
use crate::notification::Notification;
use crate::notify_sign::{notify_sign, verify_notify};
use crate::params::{Charset, Params};
use crate::secret::Secret;
use crate::time::Gmt8Timestamp;
use crate::top_sign::{SignMethod, top_sign, verify_top};
use crate::types::NotifyMethod;

/// The content types a request can claim, chosen by the input's first byte.
const CONTENT_TYPES: [Option<&str>; 6] = [
    None,
    Some("application/x-www-form-urlencoded"),
    Some("application/x-www-form-urlencoded; charset=gbk"),
    Some("multipart/form-data; boundary=XX"),
    Some("application/json"),
    Some("text/plain; charset=GB18030"),
];

/// Splits a fuzz input into a selector byte, a query string (up to the first `\n`, when UTF-8) and a body.
fn split_request(data: &[u8]) -> (u8, Option<&str>, &[u8]) {
    let Some((&selector, rest)) = data.split_first() else { return (0, None, &[]) };
    match rest.iter().position(|&b| b == b'\n') {
        Some(newline) => (selector, std::str::from_utf8(&rest[..newline]).ok(), &rest[newline + 1..]),
        None => (selector, None, rest),
    }
}

/// `Params::from_request` (query + body, any content type and charset). A UTF-8 urlencoded parse re-encodes to
/// the same pairs.
pub fn params(data: &[u8]) {
    let (selector, query, body) = split_request(data);
    let content_type = CONTENT_TYPES[usize::from(selector) % CONTENT_TYPES.len()];
    let Ok(params) = Params::from_request(query, content_type, Bytes::copy_from_slice(body)) else { return };
    if params.files().is_empty() {
        let mut again = Params::new();
        again.extend_urlencoded(params.to_urlencoded(Charset::Utf8).as_bytes(), Charset::Utf8).unwrap();
        assert_eq!(again.pairs(), params.pairs(), "a UTF-8 re-encoding must parse back to the same pairs");
    }
}

/// A notification body as a merchant receives it: params, the sign checked with a notify key, the §3.2 parse.
/// A parsed notification signed with that key verifies, and survives a round trip through its params.
pub fn notification(data: &[u8]) {
    let (selector, query, body) = split_request(data);
    let charset = if selector & 1 == 0 { "utf-8" } else { "gbk" };
    let content_type = format!("application/x-www-form-urlencoded; charset={charset}");
    let Ok(params) = Params::from_request(query, Some(&content_type), Bytes::copy_from_slice(body)) else { return };
    let key = Secret::new("fuzz-notify-key");
    let _ = verify_notify(&key, params.iter());
    let mut signed = params.clone();
    signed.set("sign", notify_sign(&key, params.iter().filter(|(name, _)| *name != "sign")).to_string());
    assert!(verify_notify(&key, signed.iter()).is_ok(), "a sign we computed must verify");
    if let Ok(notification) = Notification::from_params(&params) {
        let timestamp = Gmt8Timestamp::parse_datetime("2026-01-02 03:04:05").unwrap();
        let reparsed = Notification::from_params(&notification.to_params(timestamp));
        assert_eq!(reparsed.as_ref(), Ok(&notification), "a notification's own params must parse back to it");
    }
}

/// Judging a merchant's reply to a notification: only a 2xx with exactly `{"code":200}` (or `{"code":300}` where
/// the method allows it) acknowledges.
pub fn ack(data: &[u8]) {
    let status = match data {
        [high, low, ..] => u16::from_be_bytes([*high, *low]) % 1000,
        _ => 200,
    };
    let body = data.get(2..).unwrap_or_default();
    let reply = AckReply::classify(status, body);
    for method in NotifyMethod::ALL {
        if reply.acknowledges(method) {
            assert!((200..300).contains(&status), "only a 2xx acknowledges");
            assert!(body == ACK_200 || (body == ACK_300 && method.allows_code_300()), "only the exact bytes");
        }
    }
}

/// A TOP call's params as the gateway reads them: the sign method, the sign check, the timestamp. A sign we
/// compute over the same params verifies.
pub fn top_request(data: &[u8]) {
    let (selector, query, body) = split_request(data);
    let content_type = CONTENT_TYPES[usize::from(selector) % CONTENT_TYPES.len()];
    let Ok(params) = Params::from_request(query, content_type, Bytes::copy_from_slice(body)) else { return };
    let secret = Secret::new("fuzz-app-secret");
    let _ = verify_top(&secret, params.iter());
    if let Some(timestamp) = params.get("timestamp") {
        let _ = Gmt8Timestamp::parse_top(timestamp);
    }
    let Ok(method) = SignMethod::of_params(params.iter()) else { return };
    let mut signed = params.clone();
    signed.set("sign", top_sign(&secret, method, params.iter()));
    assert_eq!(verify_top(&secret, signed.iter()), Ok(method), "a sign we computed must verify");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_request_separates_selector_query_and_body() {
        assert_eq!(split_request(b"\x01a=1\nb=2"), (1, Some("a=1"), &b"b=2"[..]));
        assert_eq!(split_request(b"\x02b=2"), (2, None, &b"b=2"[..]));
        assert_eq!(split_request(b""), (0, None, &b""[..]));
    }

    #[test]
    fn every_body_accepts_the_empty_input() {
        params(b"");
        notification(b"");
        ack(b"");
        top_request(b"");
    }
}
