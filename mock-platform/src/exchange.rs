//! The record of every notification attempt and gateway call, per order, in order
//! (`GET /admin/orders/{id}/exchanges`): what the conformance suite judges from.
//!
//! Each exchange is converted once, at the edge, into an owned record. Times are wall-clock epoch
//! milliseconds; the JSON carries both RFC 3339 strings and the raw numbers (README.md documents the shape).

use serde::Serialize;
use serde_json::{Map, Value};

use crate::clock::rfc3339_ms;

/// Bodies are kept as lossy UTF-8 text, cut at this many bytes.
pub const BODY_CAP: usize = 4096;

/// One notification attempt.
#[derive(Debug, Clone, Serialize)]
pub struct NotificationExchange {
    /// The notification method (`send`, `resend`, …).
    pub method: &'static str,
    /// Which notification of the order (1-based); attempts of one notification share it.
    pub notification: u32,
    /// 1 for the first attempt.
    pub attempt: u8,
    /// The params as sent, `sign` included (after any alteration).
    pub params: Map<String, Value>,
    pub url: String,
    pub content_type: String,
    pub started_at_ms: i64,
    pub finished_at_ms: i64,
    pub latency_ms: i64,
    /// HTTP status, absent when no reply arrived.
    pub status: Option<u16>,
    /// The reply body (lossy UTF-8, capped), absent when no reply arrived.
    pub body: Option<String>,
    /// Transport failure: `timeout`, `connect: …`.
    pub error: Option<String>,
    /// `ack_200`, `ack_300` or `not_ack` (the byte-exact classification, PROTOCOL §3.4).
    pub verdict: &'static str,
    /// Why a reply that was not an ack missed (`spacing`, `whitespace`, `status`, …).
    pub near_miss: Option<String>,
    /// Whether the reply acknowledged this method (`{"code":300}` on `send` is `ack_300` but not acknowledged).
    pub acknowledged: bool,
    /// The alteration applied to this attempt (first attempts only), e.g. `tamper`.
    pub alteration: Option<String>,
    /// A §2.4 `duplicate` delivery.
    pub duplicate: bool,
}

/// One `/router/rest` call that named this order.
#[derive(Debug, Clone, Serialize)]
pub struct GatewayExchange {
    /// The TOP API (`method` param), as received.
    pub api: String,
    pub http_method: String,
    /// Every merged param, `sign` included.
    pub params: Map<String, Value>,
    pub started_at_ms: i64,
    pub finished_at_ms: i64,
    pub latency_ms: i64,
    /// How long the call was held waiting for its cause's acknowledgement (PROTOCOL §6 C4).
    pub held_ms: i64,
    /// The response body as sent.
    pub response: String,
    pub error_code: Option<i64>,
    pub sub_code: Option<String>,
    /// For send/resend/failsend: `ok`, `before_ack` or `no_cause` (C4).
    pub causality: Option<&'static str>,
    /// Whether the causing notification was acknowledged when the hold ended (C4).
    pub cause_acked: Option<bool>,
    /// A fault injected on this call: `answer` or `delay`.
    pub fault: Option<String>,
    /// For 25: `notify_key` when the sign matches the notify key instead of the app secret (C9).
    pub sign_diagnosis: Option<&'static str>,
}

/// A recorded exchange.
#[derive(Debug, Clone)]
pub enum Exchange {
    Notification(NotificationExchange),
    Gateway(GatewayExchange),
}

impl Exchange {
    fn started_at_ms(&self) -> i64 {
        match self {
            Exchange::Notification(n) => n.started_at_ms,
            Exchange::Gateway(g) => g.started_at_ms,
        }
    }

    /// The JSON object of `GET /admin/orders/{id}/exchanges`.
    pub fn to_json(&self, seq: usize, first_ms: i64) -> Value {
        let (kind, inner, finished) = match self {
            Exchange::Notification(n) => ("notification", serde_json::to_value(n), n.finished_at_ms),
            Exchange::Gateway(g) => ("gateway", serde_json::to_value(g), g.finished_at_ms),
        };
        let Ok(Value::Object(inner)) = inner else { return Value::Null };
        let mut out = Map::new();
        out.insert("kind".into(), kind.into());
        out.insert("seq".into(), seq.into());
        out.insert("at_ms".into(), (self.started_at_ms() - first_ms).into());
        out.insert("started_at".into(), rfc3339_ms(self.started_at_ms()).into());
        out.insert("finished_at".into(), rfc3339_ms(finished).into());
        if let Exchange::Gateway(g) = self {
            out.insert("method".into(), g.api.clone().into());
        }
        out.extend(inner);
        Value::Object(out)
    }
}

/// `(name, value)` pairs as a JSON object, in order.
pub fn params_json<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Map<String, Value> {
    pairs.into_iter().map(|(n, v)| (n.to_owned(), Value::String(v.to_owned()))).collect()
}

/// A body as lossy UTF-8, cut at [`BODY_CAP`] bytes.
pub fn capture_body(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(BODY_CAP)]).into_owned()
}

/// The whole `exchanges` answer for one order.
pub fn render(order_id: i64, exchanges: &[Exchange], dropped: u64) -> Value {
    // Recorded when they finish; shown in the order they started (a held callback after its notification).
    let mut sorted: Vec<&Exchange> = exchanges.iter().collect();
    sorted.sort_by_key(|e| e.started_at_ms());
    let first = sorted.first().map(|e| e.started_at_ms()).unwrap_or(0);
    serde_json::json!({
        "order_id": order_id,
        "dropped": dropped,
        "exchanges": sorted.iter().enumerate().map(|(i, e)| e.to_json(i + 1, first)).collect::<Vec<_>>(),
    })
}
