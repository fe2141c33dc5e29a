//! Case files (`GET /admin/orders/{id}/case`, `mock-platform export`): one order's whole story — the order, its
//! merchant and every exchange in order — as a self-contained JSON document that staff attach to a ticket and
//! `conformance replay` re-sends. README.md "Case files" documents the `eticket-case/1` schema.
//!
//! Secrets never enter the file: the merchant is copied field by field (no app secret, no notify key), `sign` and
//! `session` params become markers, and a last pass replaces any remaining occurrence of a secret or of a sign
//! value anywhere in the document (a merchant may echo one back in its ack body).

use axum::Json;
use axum::extract::State;
use serde_json::{Map, Value, json};

use crate::Platform;
use crate::admin::orders::order_view;
use crate::admin::{AdminPath, ApiError};
use crate::clock::{format_ms, rfc3339_ms};
use crate::model::Merchant;

mod export;

pub use export::{ExportArgs, case_from_db, export, fetch_case};

/// The `schema` field of every case file; bump the number on an incompatible change.
pub const SCHEMA: &str = "eticket-case/1";
/// Replaces every `sign` param.
pub const SIGN_MARKER: &str = "<sign>";
/// Replaces a notification's `timestamp` param (the original is kept as `recorded_timestamp`).
pub const TIMESTAMP_MARKER: &str = "<timestamp>";
/// Replaces the merchant's session wherever it appears.
pub const SESSION_MARKER: &str = "<session>";
/// Replaces the app secret or the notify key should either appear anywhere (they never should).
pub const SECRET_MARKER: &str = "<secret>";

/// Per-exchange fields dropped from the case: absolute wall-clock times (the case keeps relative ones).
const ABSOLUTE_TIMES: [&str; 4] = ["started_at", "finished_at", "started_at_ms", "finished_at_ms"];

impl Platform {
    /// The case file of one order (README.md "Case files").
    pub async fn export_case(&self, order_id: i64) -> Result<Value, ApiError> {
        let exported_at = rfc3339_ms(self.clock().wall_now().timestamp_millis());
        let (case, secrets) = self
            .store()
            .order_record(order_id, |r| {
                let exchanges = crate::exchange::render(order_id, r.exchanges, r.dropped);
                let mut secrets: Vec<(String, &'static str)> = Vec::new();
                if let Some(m) = r.merchant {
                    secrets.push((m.app_secret.expose().to_owned(), SECRET_MARKER));
                    secrets.push((m.notify_key.expose().to_owned(), SECRET_MARKER));
                    secrets.push((m.session.expose().to_owned(), SESSION_MARKER));
                }
                secrets.extend(sign_values(&exchanges).into_iter().map(|sign| (sign, SIGN_MARKER)));
                let case = json!({
                    "schema": SCHEMA,
                    "exported_at": exported_at,
                    "platform_clock": format_ms(r.now_ms),
                    "order": order_view(r.order),
                    "merchant": r.merchant.map(merchant_view),
                    "exchanges_dropped": r.dropped,
                    "exchanges": exchanges["exchanges"].as_array().map_or(&[][..], |v| v).iter().map(case_exchange)
                        .collect::<Vec<_>>(),
                });
                (case, secrets)
            })
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("order_id {order_id}: no such order")))?;
        Ok(scrub(case, secrets))
    }
}

/// The merchant without any secret: only what a reader of the case needs.
fn merchant_view(m: &Merchant) -> Value {
    json!({
        "app_key": m.app_key,
        "notify_url": m.notify_url,
        "notify_charset": m.notify_charset,
        "phase": m.phase,
        "codemerchant_id": m.codemerchant_id,
        "seller_nick": m.seller_nick,
        "taobao_sid": m.taobao_sid,
    })
}

/// One exchange of the exchanges JSON as a case entry: relative times only, sign/session/timestamp masked.
fn case_exchange(exchange: &Value) -> Value {
    let Value::Object(fields) = exchange else { return Value::Null };
    let notification = fields.get("kind").and_then(Value::as_str) == Some("notification");
    let mut out = Map::new();
    for (name, value) in fields {
        if ABSOLUTE_TIMES.contains(&name.as_str()) {
            continue;
        }
        if name == "params" {
            let mut params = value.as_object().cloned().unwrap_or_default();
            if let Some(sign) = params.get_mut("sign") {
                *sign = SIGN_MARKER.into();
            }
            if let Some(session) = params.get_mut("session") {
                *session = SESSION_MARKER.into();
            }
            if notification && let Some(timestamp) = params.get_mut("timestamp") {
                out.insert("recorded_timestamp".into(), std::mem::replace(timestamp, TIMESTAMP_MARKER.into()));
            }
            out.insert(name.clone(), Value::Object(params));
            continue;
        }
        out.insert(name.clone(), value.clone());
    }
    if notification && !out.contains_key("recorded_timestamp") {
        out.insert("recorded_timestamp".into(), Value::Null);
    }
    Value::Object(out)
}

/// Every sign value that appears in the case's exchanges, before masking.
fn sign_values(exchanges: &Value) -> Vec<String> {
    exchanges["exchanges"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["params"]["sign"].as_str())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Replaces every occurrence of each needle, in every string and key of `value`, by its marker.
fn scrub(value: Value, needles: Vec<(String, &'static str)>) -> Value {
    let needles: Vec<(String, &'static str)> = needles.into_iter().filter(|(n, _)| !n.is_empty()).collect();
    replace_all(value, &needles)
}

fn replace_all(value: Value, needles: &[(String, &'static str)]) -> Value {
    let replace = |text: String| {
        needles.iter().fold(
            text,
            |t, (needle, marker)| if t.contains(needle.as_str()) { t.replace(needle.as_str(), marker) } else { t },
        )
    };
    match value {
        Value::String(s) => Value::String(replace(s)),
        Value::Array(items) => Value::Array(items.into_iter().map(|v| replace_all(v, needles)).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (replace(k), replace_all(v, needles))).collect())
        }
        other => other,
    }
}

/// `GET /admin/orders/{order_id}/case`.
#[utoipa::path(get, path = "/admin/orders/{order_id}/case", tag = "orders",
    params(("order_id" = i64, Path, description = "The order id")),
    responses(
        (status = 200, description = "The order's case file (schema eticket-case/1, mock-platform README \"Case files\")", body = Value),
        (status = 404, description = "No such order", body = crate::admin::ErrorBody),
        (status = "4XX", description = "order_id is not an order id", body = crate::admin::ErrorBody),
    ))]
pub async fn get_case(
    State(platform): State<Platform>,
    AdminPath(order_id): AdminPath<String>,
) -> Result<Json<Value>, ApiError> {
    platform.export_case(crate::admin::orders::parse_order_id(&order_id)?).await.map(Json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notification_keeps_its_params_but_masks_sign_and_timestamp() {
        let exchange = json!({
            "kind": "notification", "seq": 1, "at_ms": 0, "started_at": "x", "started_at_ms": 5, "finished_at": "y",
            "finished_at_ms": 6, "method": "send",
            "params": {"method": "send", "order_id": "1", "timestamp": "2026-01-01 00:00:00", "sign": "ABC"},
        });
        let entry = case_exchange(&exchange);
        assert_eq!(entry["params"]["sign"], SIGN_MARKER);
        assert_eq!(entry["params"]["timestamp"], TIMESTAMP_MARKER);
        assert_eq!(entry["recorded_timestamp"], "2026-01-01 00:00:00");
        assert_eq!(entry["params"]["order_id"], "1");
        assert!(entry.get("started_at_ms").is_none() && entry.get("finished_at").is_none());
        assert_eq!(entry["at_ms"], 0);
    }

    #[test]
    fn a_notification_without_sign_stays_without_sign() {
        let entry = case_exchange(&json!({"kind": "notification", "params": {"method": "send"}}));
        assert!(entry["params"].get("sign").is_none());
        assert!(entry["params"].get("timestamp").is_none());
        assert_eq!(entry["recorded_timestamp"], Value::Null);
    }

    #[test]
    fn a_gateway_call_masks_sign_and_session_and_keeps_its_timestamp() {
        let exchange = json!({"kind": "gateway", "params": {"session": "s", "sign": "X", "timestamp": "t"}});
        let entry = case_exchange(&exchange);
        assert_eq!(entry["params"], json!({"session": SESSION_MARKER, "sign": SIGN_MARKER, "timestamp": "t"}));
        assert!(entry.get("recorded_timestamp").is_none());
    }

    #[test]
    fn scrub_replaces_needles_in_strings_and_keys_and_ignores_empty_needles() {
        let value = json!({"body": "echo k3y and SIGN", "k3y": ["xk3yx", 1]});
        let scrubbed =
            scrub(value, vec![("k3y".into(), SECRET_MARKER), ("SIGN".into(), SIGN_MARKER), (String::new(), "<e>")]);
        assert_eq!(scrubbed, json!({"body": "echo <secret> and <sign>", "<secret>": ["x<secret>x", 1]}));
    }

    #[test]
    fn sign_values_lists_every_sign_param() {
        let exchanges = json!({"exchanges": [{"params": {"sign": "A"}}, {"params": {}}, {"params": {"sign": "B"}}]});
        assert_eq!(sign_values(&exchanges), ["A", "B"]);
    }
}
