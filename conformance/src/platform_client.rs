//! `PlatformClient`: the suite's only handle on the platform, its admin API over HTTP (INTERFACES.md §1.1).
//!
//! The same client drives an in-process platform (`--gateway-listen`) and a running one (`--platform-url`), so
//! the suite never reaches into the mock's memory: everything it judges is what the admin API reports.

use std::time::Duration;

use protocol::Secret;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Why an admin call failed.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error("admin call {path} failed: {source}")]
    Http {
        path: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("admin call {path} answered {status}: {body}")]
    Status { path: String, status: u16, body: String },
    #[error("admin call {path} answered unreadable JSON: {reason}")]
    Decode { path: String, reason: String },
}

/// The admin API of one platform.
#[derive(Debug, Clone)]
pub struct PlatformClient {
    http: reqwest::Client,
    /// `http://host:port`, without a trailing slash.
    base: String,
    admin_token: Option<String>,
}

/// A merchant to register: the credentials the merchant under test was configured with.
#[derive(Debug, Clone)]
pub struct MerchantSpec {
    pub app_key: String,
    pub app_secret: Secret,
    pub notify_key: Secret,
    pub notify_url: String,
    pub session: String,
    pub codemerchant_id: Option<i64>,
    /// A 码商's terminals to bind (`--posid`).
    pub posids: Vec<String>,
    pub seller_nick: String,
}

/// The merchant as the platform stored it (secrets masked); the suite needs the seller identity it signs
/// notifications with.
#[derive(Debug, Clone, Deserialize)]
pub struct Merchant {
    pub app_key: String,
    #[serde(default)]
    pub taobao_sid: Option<Value>,
    #[serde(default)]
    pub seller_nick: Option<String>,
}

/// How the first attempt of a notification is altered (PROTOCOL §2.4); later attempts go out unaltered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Alteration {
    /// C1 variant: extra unknown params, signed like the others (FAQ 2.14).
    ExtraParams(Vec<(String, String)>),
    /// One C2 kind: a notification the merchant must not acknowledge.
    Bad(BadNotification),
    /// The legacy option (PROTOCOL §3.1, N1): the body percent-encoded in GBK with `charset=gbk`, validly signed.
    GbkBody,
}

/// The C2 kinds (PROTOCOL §6): each leaves a notification that must not be acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BadNotification {
    /// One value changed after signing.
    Tamper,
    /// Signed with a key that is not the merchant's notify key.
    WrongKey,
    /// No `sign` param.
    DropSign,
    /// Signed over the UTF-8 bytes instead of GBK (differs on the Chinese values).
    Utf8Sign,
    /// `timestamp` 11 minutes in the past, validly signed.
    StaleTimestamp,
    /// `timestamp` 11 minutes in the future, validly signed.
    FutureTimestamp,
    /// No `timestamp`, validly signed.
    DropTimestamp,
    /// `timestamp` not in `yyyy-MM-dd HH:mm:ss`, validly signed.
    MalformedTimestamp,
}

impl BadNotification {
    pub fn as_str(self) -> &'static str {
        match self {
            BadNotification::Tamper => "tamper",
            BadNotification::WrongKey => "wrong_key",
            BadNotification::DropSign => "drop_sign",
            BadNotification::Utf8Sign => "utf8_sign",
            BadNotification::StaleTimestamp => "stale_timestamp",
            BadNotification::FutureTimestamp => "future_timestamp",
            BadNotification::DropTimestamp => "missing_timestamp",
            BadNotification::MalformedTimestamp => "malformed_timestamp",
        }
    }
}

/// A gateway answer the platform gives instead of the real one, `times` calls in a row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GatewayFault {
    pub method: String,
    pub times: u32,
    pub answer: FaultAnswer,
}

/// The error the fault answers with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FaultAnswer {
    pub code: i64,
    pub msg: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_msg: Option<String>,
}

/// An order to buy (`POST /admin/orders`).
#[derive(Debug, Clone)]
pub struct OrderSpec {
    pub num: u32,
    pub mobile: String,
    pub item_title: String,
    pub consume_type: u8,
    pub sku_properties: Option<String>,
    pub sms_template: Option<String>,
    pub outer_iid: Option<String>,
    /// Alters the first attempt of the `send` notification.
    pub alteration: Option<Alteration>,
    /// Armed with the order (`gateway_faults` of `POST /admin/orders`), so the merchant's first callback meets it.
    pub gateway_fault: Option<GatewayFault>,
    /// More fields of `POST /admin/orders` (`valid_ends`, `eticket_enabled`, …), added as given.
    pub extra: Vec<(String, Value)>,
}

/// `order_id` and `token` of a new order.
#[derive(Debug, Clone, Deserialize)]
pub struct Bought {
    pub order_id: i64,
    pub token: String,
    /// The ids of the gateway faults armed with the order (`spec.gateway_fault`).
    #[serde(default)]
    pub gateway_fault_ids: Vec<Value>,
}

/// One code of an order as the platform holds it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct CodeView {
    pub code: String,
    pub num: u32,
    pub left: u32,
}

/// `GET /admin/orders/{id}`.
#[derive(Debug, Clone, Deserialize)]
pub struct OrderView {
    pub order_id: i64,
    pub state: String,
    pub token: String,
    pub num: u32,
    pub left_num: u32,
    #[serde(default)]
    pub codes: Vec<CodeView>,
}

impl OrderView {
    /// The usable codes as sorted `code:count` pairs (count = units left), for C5/C6 comparisons.
    pub fn usable_set(&self) -> Vec<(String, u32)> {
        let mut v: Vec<(String, u32)> =
            self.codes.iter().filter(|c| c.left > 0).map(|c| (c.code.clone(), c.left)).collect();
        v.sort();
        v
    }
}

/// One recorded exchange of an order (`GET /admin/orders/{id}/exchanges`, mock-platform README). The
/// platform records an exchange when it finishes and lists them in the order they started.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Exchange {
    Notification(NotificationAttempt),
    Gateway(GatewayCall),
}

/// One delivery attempt of a notification and the merchant's reply.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct NotificationAttempt {
    /// `send`, `resend`, …
    pub method: String,
    /// Which notification of the order (1-based); attempts of one notification share it.
    #[serde(default)]
    pub notification: u32,
    /// 1 for the first attempt.
    #[serde(default)]
    pub attempt: u32,
    #[serde(default, rename = "started_at")]
    pub at: Option<String>,
    /// The params as sent, `sign` included (after any alteration).
    #[serde(default, deserialize_with = "pairs")]
    pub params: Vec<(String, String)>,
    /// The alteration applied to this attempt, if any (`tamper`, `extra_params`, …).
    #[serde(default)]
    pub alteration: Option<String>,
    /// A §2.4 `duplicate` delivery.
    #[serde(default)]
    pub duplicate: bool,
    /// HTTP status of the reply; absent when no reply came (timeout, refused connection).
    #[serde(default)]
    pub status: Option<u16>,
    /// The reply body, lossily decoded.
    #[serde(default, rename = "body")]
    pub reply: Option<String>,
    /// `ack_200`, `ack_300` or `not_ack`.
    #[serde(default)]
    pub verdict: Option<String>,
    /// Whether the reply acknowledged this method.
    #[serde(default)]
    pub acknowledged: bool,
    /// Transport failure: `timeout`, `connect: …`.
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default, rename = "latency_ms")]
    pub duration_ms: Option<u64>,
}

impl NotificationAttempt {
    /// Whether the platform counted this reply as an acknowledgement of its method.
    pub fn acked(&self) -> bool {
        self.acknowledged
    }

    /// The reply as the protocol classifies it, when one came.
    pub fn classify(&self) -> Option<protocol::AckReply> {
        let status = self.status?;
        Some(protocol::AckReply::classify(status, self.reply.as_deref().unwrap_or("").as_bytes()))
    }

    /// Whether the attempt has an outcome (the platform records attempts when they finish).
    pub fn finished(&self) -> bool {
        self.verdict.is_some() || self.error.is_some() || self.status.is_some()
    }
}

/// One TOP call the merchant made and what the gateway answered.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct GatewayCall {
    /// The `method` param: `taobao.vmarket.eticket.send`, …
    pub method: String,
    #[serde(default, rename = "started_at")]
    pub at: Option<String>,
    #[serde(default, deserialize_with = "pairs")]
    pub params: Vec<(String, String)>,
    /// The response body as sent.
    #[serde(default)]
    pub response: String,
    /// `None` on success.
    #[serde(default)]
    pub error_code: Option<i64>,
    #[serde(default)]
    pub sub_code: Option<String>,
    /// A fault injected on this call: `answer` or `delay`.
    #[serde(default)]
    pub fault: Option<String>,
    /// The C4 hold: how long the call was held waiting for the causing notification's ack.
    #[serde(default)]
    pub held_ms: Option<u64>,
    /// C4: `ok`, `before_ack` or `no_cause`.
    #[serde(default)]
    pub causality: Option<String>,
    /// For 25: `notify_key` when the sign matches the notify key instead of the app secret (C9).
    #[serde(default)]
    pub sign_diagnosis: Option<String>,
    #[serde(default, rename = "latency_ms")]
    pub duration_ms: Option<u64>,
    /// A `lost_answer` fault (`close` or `transient`): the call was applied as recorded, but the merchant got
    /// no answer or a transient error instead.
    #[serde(default)]
    pub answer_lost: Option<String>,
}

impl GatewayCall {
    pub fn succeeded(&self) -> bool {
        self.error_code.is_none()
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn sub_code(&self) -> Option<&str> {
        self.sub_code.as_deref()
    }

    /// What the merchant was told: the applied answer, or `no HTTP response` / the transient error of a
    /// `lost_answer` fault.
    pub fn seen_by_merchant(&self) -> String {
        match self.answer_lost.as_deref() {
            Some("close") => "no HTTP response (connection closed; the call was applied)".into(),
            Some(_) => "15 isp.top-remote-connection-timeout (the call was applied)".into(),
            None => self.error_text().unwrap_or_else(|| "ok".into()),
        }
    }

    /// Whether the answer was an injected fault rather than the gateway's own judgement.
    pub fn injected(&self) -> bool {
        self.fault.as_deref() == Some("answer")
    }

    /// `code msg (sub_code)` of an error answer, read from the response body.
    pub fn error_text(&self) -> Option<String> {
        let code = self.error_code?;
        let msg = serde_json::from_str::<Value>(&self.response)
            .ok()
            .and_then(|v| v.get("error_response")?.get("msg")?.as_str().map(str::to_owned))
            .unwrap_or_default();
        Some(match &self.sub_code {
            Some(sub) => format!("{code} {msg} ({sub})"),
            None => format!("{code} {msg}"),
        })
    }
}

/// Params as the platform records them: a JSON object in order (or `[name, value]` pairs).
fn pairs<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<(String, String)>, D::Error> {
    let value = Value::deserialize(d)?;
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Ok(match value {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), text(v))).collect(),
        Value::Array(items) => items
            .iter()
            .filter_map(|i| Some((i.get(0)?.as_str()?.to_owned(), i.get(1).map(text).unwrap_or_default())))
            .collect(),
        _ => Vec::new(),
    })
}

#[derive(Debug, Deserialize)]
struct ExchangesBody {
    exchanges: Vec<Exchange>,
}

#[derive(Debug, Deserialize)]
struct FaultCreated {
    #[serde(alias = "fault_id")]
    id: Value,
}

impl PlatformClient {
    /// A client for the platform at `base` (`http://host:port`).
    pub fn new(base: &str, admin_token: Option<String>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("a client without TLS always builds");
        Self { http, base: base.trim_end_matches('/').to_owned(), admin_token }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<T, PlatformError> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.admin_token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|source| PlatformError::Http { path: path.into(), source })?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|source| PlatformError::Http { path: path.into(), source })?;
        if !(200..300).contains(&status) {
            let body = String::from_utf8_lossy(&bytes).chars().take(500).collect();
            return Err(PlatformError::Status { path: path.into(), status, body });
        }
        let bytes: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
        serde_json::from_slice(bytes).map_err(|e| PlatformError::Decode { path: path.into(), reason: e.to_string() })
    }

    /// `POST /admin/merchants`, phase live so any mobile is accepted.
    pub async fn create_merchant(&self, spec: &MerchantSpec) -> Result<Merchant, PlatformError> {
        let mut body = json!({
            "app_key": spec.app_key,
            "app_secret": spec.app_secret.expose(),
            "notify_key": spec.notify_key.expose(),
            "notify_url": spec.notify_url,
            "session": spec.session,
            "phase": "live",
            "seller_nick": spec.seller_nick,
        });
        if let Some(id) = spec.codemerchant_id {
            body["codemerchant_id"] = json!(id);
        }
        if !spec.posids.is_empty() {
            body["posids"] = json!(spec.posids);
        }
        self.call(reqwest::Method::POST, "/admin/merchants", Some(body)).await
    }

    /// `POST /admin/orders`: the `send` notification goes out at once.
    pub async fn buy(&self, app_key: &str, spec: &OrderSpec) -> Result<Bought, PlatformError> {
        let mut body = json!({
            "app_key": app_key,
            "num": spec.num,
            "mobile": spec.mobile,
            "item_title": spec.item_title,
            "consume_type": spec.consume_type,
        });
        for (name, value) in [
            ("sku_properties", &spec.sku_properties),
            ("sms_template", &spec.sms_template),
            ("outer_iid", &spec.outer_iid),
        ] {
            if let Some(v) = value {
                body[name] = json!(v);
            }
        }
        if let Some(alteration) = &spec.alteration {
            body["alteration"] = alteration_json(alteration);
        }
        if let Some(fault) = &spec.gateway_fault {
            body["gateway_faults"] = json!([fault]);
        }
        for (name, value) in &spec.extra {
            body[name.as_str()] = value.clone();
        }
        let bought: Bought = self.call(reqwest::Method::POST, "/admin/orders", Some(body)).await?;
        if spec.gateway_fault.is_some() && bought.gateway_fault_ids.is_empty() {
            // A platform that ignores the field would let the first callback through unfaulted: no verdict on it.
            return Err(PlatformError::Decode {
                path: "/admin/orders".into(),
                reason: format!(
                    "order {} was bought but no gateway fault was armed with it (no `gateway_fault_ids`): \
                     the platform predates `gateway_faults` on POST /admin/orders",
                    bought.order_id
                ),
            });
        }
        Ok(bought)
    }

    pub async fn order(&self, order_id: i64) -> Result<OrderView, PlatformError> {
        self.call(reqwest::Method::GET, &format!("/admin/orders/{order_id}"), None).await
    }

    pub async fn exchanges(&self, order_id: i64) -> Result<Vec<Exchange>, PlatformError> {
        let body: ExchangesBody =
            self.call(reqwest::Method::GET, &format!("/admin/orders/{order_id}/exchanges"), None).await?;
        Ok(body.exchanges)
    }

    /// `resend` notification (buyer asked for the SMS again).
    pub async fn resend(&self, order_id: i64) -> Result<(), PlatformError> {
        self.action(order_id, "resend", json!({})).await
    }

    /// `modified` notification to `mobile`.
    pub async fn modify_mobile(&self, order_id: i64, mobile: &str) -> Result<(), PlatformError> {
        self.action(order_id, "modify-mobile", json!({ "mobile": mobile })).await
    }

    /// Refund: the `cancel` notification.
    pub async fn refund(&self, order_id: i64) -> Result<(), PlatformError> {
        self.action(order_id, "refund", json!({})).await
    }

    /// `order_modify` sub_method 1.
    pub async fn extend(&self, order_id: i64, valid_ends: &str) -> Result<(), PlatformError> {
        self.action(order_id, "extend", json!({ "valid_ends": valid_ends })).await
    }

    /// `order_modify` sub_method 2.
    pub async fn rights_protection(&self, order_id: i64) -> Result<(), PlatformError> {
        self.action(order_id, "rights-protection", json!({})).await
    }

    async fn action(&self, order_id: i64, action: &str, body: Value) -> Result<(), PlatformError> {
        let _: Value =
            self.call(reqwest::Method::POST, &format!("/admin/orders/{order_id}/{action}"), Some(body)).await?;
        Ok(())
    }

    /// Delivers the order's last acknowledged notification once more (§2.4 `duplicate`).
    pub async fn duplicate(&self, order_id: i64) -> Result<(), PlatformError> {
        let body = json!({ "target": "notification", "order_id": order_id, "fault": "duplicate" });
        let _: FaultCreated = self.call(reqwest::Method::POST, "/admin/faults", Some(body)).await?;
        Ok(())
    }

    /// Any admin call answering JSON: `POST` with `body`, or `GET` without one. Used by scenarios, whose steps
    /// map one to one onto admin calls.
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, PlatformError> {
        self.call(method, path, body).await
    }

    /// Removes a fault that was not (fully) used.
    pub async fn delete_fault(&self, id: &str) -> Result<(), PlatformError> {
        let path = format!("/admin/faults/{id}");
        let mut request = self.http.delete(format!("{}{path}", self.base));
        if let Some(token) = &self.admin_token {
            request = request.bearer_auth(token);
        }
        request.send().await.map_err(|source| PlatformError::Http { path, source })?;
        Ok(())
    }

    /// Arms a `lost_answer` fault (`close` or `transient`) on the order's next `times` calls of `method`
    /// (INTERFACES §1.1, PROTOCOL §6.1 C13); answers the fault id.
    pub async fn lost_answer(
        &self,
        order_id: i64,
        method: &str,
        form: &str,
        times: u32,
    ) -> Result<String, PlatformError> {
        let body = json!({
            "target": "gateway", "order_id": order_id, "method": method, "times": times, "lost_answer": form,
        });
        let created: FaultCreated = self.call(reqwest::Method::POST, "/admin/faults", Some(body)).await?;
        Ok(match created.id {
            Value::String(s) => s,
            other => other.to_string(),
        })
    }

    /// Arms a gateway fault for one existing order (the platform refuses one for an unknown order); answers the
    /// fault id.
    pub async fn gateway_fault(&self, order_id: i64, fault: &GatewayFault) -> Result<String, PlatformError> {
        let mut body = json!(fault);
        body["target"] = json!("gateway");
        body["order_id"] = json!(order_id);
        let created: FaultCreated = self.call(reqwest::Method::POST, "/admin/faults", Some(body)).await?;
        Ok(match created.id {
            Value::String(s) => s,
            other => other.to_string(),
        })
    }
}

fn alteration_json(alteration: &Alteration) -> Value {
    match alteration {
        Alteration::ExtraParams(extra) => {
            let params: serde_json::Map<String, Value> =
                extra.iter().map(|(n, v)| (n.clone(), Value::String(v.clone()))).collect();
            json!({ "kind": "extra_params", "params": params })
        }
        Alteration::Bad(kind) => json!({ "kind": kind.as_str() }),
        Alteration::GbkBody => json!({ "kind": "gbk_body" }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exchanges_parse_both_kinds_and_tolerate_missing_fields() {
        let body = r#"{"exchanges":[
            {"kind":"notification","method":"send","attempt":1,"status":200,"body":"{\"code\":200}","verdict":"ack_200","acknowledged":true,"params":{"method":"send"}},
            {"kind":"gateway","method":"taobao.vmarket.eticket.send","params":{"token":"t"},"held_ms":0,"causality":"ok"},
            {"kind":"gateway","method":"taobao.vmarket.eticket.send","error_code":15,"sub_code":"isp.x","response":"{\"error_response\":{\"code\":15,\"msg\":\"Remote service error\"}}"}
        ]}"#;
        let parsed: ExchangesBody = serde_json::from_str(body).unwrap();
        let [Exchange::Notification(n), Exchange::Gateway(ok), Exchange::Gateway(err)] = &parsed.exchanges[..] else {
            panic!("{parsed:?}")
        };
        assert!(n.acked());
        assert_eq!(n.classify(), Some(protocol::AckReply::Code200));
        assert!(ok.succeeded() && ok.param("token") == Some("t"));
        assert_eq!(err.sub_code(), Some("isp.x"));
        assert_eq!(err.error_text().as_deref(), Some("15 Remote service error (isp.x)"));
        assert_eq!(n.params, [("method".to_owned(), "send".to_owned())]);
    }

    #[test]
    fn usable_set_skips_spent_codes_and_sorts() {
        let order = OrderView {
            order_id: 1,
            state: "ISSUED".into(),
            token: "t".into(),
            num: 3,
            left_num: 2,
            codes: vec![
                CodeView { code: "b".into(), num: 1, left: 1 },
                CodeView { code: "c".into(), num: 1, left: 0 },
                CodeView { code: "a".into(), num: 1, left: 1 },
            ],
        };
        assert_eq!(order.usable_set(), [("a".to_owned(), 1), ("b".to_owned(), 1)]);
    }
}
