//! The merchant's POS hook (INTERFACES §4) as the suite calls it: `POST {pos_url}/consume` and
//! `POST {pos_url}/reverse`, each answer read into one of the three outcomes and written into the timeline
//! next to the gateway calls it caused. With `--pos manual` a person at a real terminal answers instead
//! (`manual.rs`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::config::PosConfig;
use crate::event::{EntryKind, TimelineEntry};
use crate::plan::Probe;
use crate::plan::probe::now_text;

use super::manual::{Ask, Clerk};

/// The hook, with its own HTTP client (one deadline per request).
#[derive(Debug, Clone)]
pub struct PosHook {
    pub config: PosConfig,
    http: reqwest::Client,
    /// `--pos manual`: the person at the terminal.
    clerk: Option<Arc<Clerk>>,
}

/// How the hook answered one request (what the clerk would be told).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookAnswer {
    /// 2xx with a `serial_num`.
    Redeemed { serial: String },
    /// Non-2xx with `"kind": "outcome_unknown"`.
    OutcomeUnknown { serial: Option<String> },
    /// Any other non-2xx.
    Refused { status: u16, kind: Option<String>, error: Option<String> },
    /// No answer within the deadline, or a 2xx that is not the §4 JSON.
    Broken(String),
}

impl HookAnswer {
    /// One phrase for verdicts: `200 {serial_num: s1}`, `refused (409 not_enough_left)`, …
    pub fn describe(&self) -> String {
        match self {
            HookAnswer::Redeemed { serial } => format!("2xx with serial_num {serial}"),
            HookAnswer::OutcomeUnknown { serial } => {
                format!("outcome_unknown (serial_num {})", serial.as_deref().unwrap_or("absent"))
            }
            HookAnswer::Refused { status: 0, kind, .. } => format!("refused ({})", kind.as_deref().unwrap_or("")),
            HookAnswer::Refused { status, kind, error } => format!(
                "refused: HTTP {status}{}{}",
                kind.as_ref().map(|k| format!(" kind {k}")).unwrap_or_default(),
                error.as_ref().map(|e| format!(" ({e})")).unwrap_or_default()
            ),
            HookAnswer::Broken(why) => format!("no usable answer: {why}"),
        }
    }

    pub fn is_2xx(&self) -> bool {
        matches!(self, HookAnswer::Redeemed { .. })
    }
}

/// Reads one hook answer (INTERFACES §4); `None` status means no answer came.
pub fn classify(status: u16, body: &[u8], reverse: bool) -> HookAnswer {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let text = |name: &str| json.as_ref().and_then(|v| v.get(name)).and_then(Value::as_str).map(str::to_owned);
    if (200..300).contains(&status) {
        return match (json.is_some(), text("serial_num")) {
            (_, Some(serial)) => HookAnswer::Redeemed { serial },
            // A reverse's 2xx need not repeat the serial.
            (true, None) if reverse => HookAnswer::Redeemed { serial: String::new() },
            (true, None) => HookAnswer::Broken(format!("HTTP {status} without serial_num")),
            (false, _) => HookAnswer::Broken(format!("HTTP {status} whose body is not JSON")),
        };
    }
    let kind = text("kind");
    if kind.as_deref() == Some("outcome_unknown") {
        return HookAnswer::OutcomeUnknown { serial: text("serial_num") };
    }
    HookAnswer::Refused { status, kind, error: text("error") }
}

impl PosHook {
    pub fn new(config: PosConfig) -> Self {
        let http =
            reqwest::Client::builder().timeout(config.deadline).build().expect("a client without TLS always builds");
        let clerk = config.manual.then(|| Arc::new(Clerk::terminal()));
        Self { config, http, clerk }
    }

    /// A manual hook whose clerk is `clerk` (tests; a run uses the terminal).
    pub fn manual(config: PosConfig, clerk: Clerk) -> Self {
        let http = reqwest::Client::new();
        Self { config: PosConfig { manual: true, ..config }, http, clerk: Some(Arc::new(clerk)) }
    }

    /// Asks the merchant to redeem `num` units of `code`, as a clerk scanning it would.
    pub async fn consume(&self, p: &Probe, order_id: i64, code: &str, num: u32) -> HookAnswer {
        let mut body = json!({ "code": code, "num": num });
        if let Some(posid) = &self.config.posid {
            body["posid"] = json!(posid);
        }
        self.post(p, order_id, "consume", body).await
    }

    /// Asks the merchant to reverse (冲正) the consume with `serial`.
    pub async fn reverse(&self, p: &Probe, order_id: i64, serial: &str) -> HookAnswer {
        self.post(p, order_id, "reverse", json!({ "serial_num": serial })).await
    }

    async fn post(&self, p: &Probe, order_id: i64, what: &str, body: Value) -> HookAnswer {
        if let Some(clerk) = &self.clerk {
            return self.ask(p, clerk, order_id, what, body).await;
        }
        let url = format!("{}/{what}", self.config.url);
        let mut entry = TimelineEntry::new(EntryKind::Pos, format!("POS hook: POST {url}"));
        entry.order_id = Some(order_id);
        entry.at = Some(now_text());
        entry.params = body
            .as_object()
            .map(|o| {
                o.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned))).collect()
            })
            .unwrap_or_default();
        let started = Instant::now();
        let result = self.http.post(&url).json(&body).send().await;
        let answer = match result {
            Ok(response) => {
                let status = response.status().as_u16();
                match response.bytes().await {
                    Ok(bytes) => {
                        entry.reply = Some(format!("HTTP {status} {}", String::from_utf8_lossy(&bytes)));
                        classify(status, &bytes, what == "reverse")
                    }
                    Err(e) => HookAnswer::Broken(format!("HTTP {status}, body unreadable: {e}")),
                }
            }
            Err(e) if e.is_timeout() => {
                HookAnswer::Broken(format!("no answer within the POS deadline ({} s)", self.deadline().as_secs_f64()))
            }
            Err(e) => HookAnswer::Broken(format!("no answer: {e}")),
        };
        entry.verdict = Some(answer.describe());
        entry.duration_ms = Some(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
        p.record(entry);
        answer
    }

    /// `--pos manual`: the clerk redeems or reverses on a real terminal and says what it showed; the serial of a
    /// redemption is the one the merchant sent with its latest consume of the code.
    async fn ask(&self, p: &Probe, clerk: &Clerk, order_id: i64, what: &str, body: Value) -> HookAnswer {
        let mut entry = TimelineEntry::new(EntryKind::Pos, format!("POS manual: {what}"));
        entry.order_id = Some(order_id);
        entry.at = Some(now_text());
        let text = |name: &str| body.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
        let (code, serial) = (text("code"), text("serial_num"));
        let num = body.get("num").and_then(Value::as_u64).and_then(|n| u32::try_from(n).ok()).unwrap_or(1);
        let ask = if what == "consume" { Ask::Redeem { code: &code, num } } else { Ask::Reverse { serial: &serial } };
        let started = Instant::now();
        let seen = async || {
            if what != "consume" {
                return serial.clone();
            }
            let exchanges = p.exchanges(order_id).await.unwrap_or_default();
            let consumes = super::calls_of(&exchanges, &[super::CONSUME]);
            let mine = consumes.iter().rev().find(|c| c.param("verify_code") == Some(code.as_str()));
            mine.and_then(|c| c.param("serial_num")).unwrap_or_default().to_owned()
        };
        let answer = clerk.ask(order_id, ask, self.deadline(), seen).await;
        entry.params = body
            .as_object()
            .map(|o| {
                o.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned))).collect()
            })
            .unwrap_or_default();
        entry.verdict = Some(answer.describe());
        entry.duration_ms = Some(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
        p.record(entry);
        answer
    }

    pub fn deadline(&self) -> Duration {
        self.config.deadline
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_read_as_the_three_outcomes_of_interfaces_4() {
        assert_eq!(classify(200, br#"{"serial_num":"s1"}"#, false), HookAnswer::Redeemed { serial: "s1".into() });
        assert_eq!(
            classify(502, br#"{"kind":"outcome_unknown","serial_num":"s1"}"#, false),
            HookAnswer::OutcomeUnknown { serial: Some("s1".into()) }
        );
        assert_eq!(
            classify(409, br#"{"kind":"not_enough_left","error":"2 left"}"#, false),
            HookAnswer::Refused { status: 409, kind: Some("not_enough_left".into()), error: Some("2 left".into()) }
        );
        assert_eq!(classify(500, b"oops", false), HookAnswer::Refused { status: 500, kind: None, error: None });
        assert!(matches!(classify(200, b"ok", false), HookAnswer::Broken(_)));
        assert!(matches!(classify(200, b"{}", false), HookAnswer::Broken(_)));
        assert!(classify(200, b"{}", true).is_2xx(), "a reverse's 2xx need not repeat the serial");
    }
}
