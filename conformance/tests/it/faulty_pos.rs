//! The faulty merchant's POS hook (INTERFACES §4): correct by default — local refusals first, a serial drawn
//! before the call, retries with the same serial, `outcome_unknown` when still unsure — with one redemption
//! defect switched on (PROTOCOL §6.1 C11–C14).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use protocol::{Gmt8Timestamp, SignMethod, SubCode, TopError, TopReply, TopRequest};
use serde_json::{Value, json};

use crate::faulty_merchant::{Defect, Merchant};

const CONSUME: &str = "taobao.vmarket.eticket.consume";
const REVERSE: &str = "taobao.vmarket.eticket.reverse";

/// What the hook remembers: units left per code, and every consume by serial.
#[derive(Debug, Default)]
pub struct PosState {
    left: std::sync::Mutex<HashMap<String, u32>>,
    consumes: std::sync::Mutex<HashMap<String, Consumed>>,
    serials: AtomicU64,
}

#[derive(Debug, Clone)]
struct Consumed {
    order_id: i64,
    code: String,
    num: u32,
    reversed: bool,
}

/// Why a gateway call did not succeed.
enum CallError {
    /// No readable answer: the call may or may not have been applied.
    Lost,
    Top(TopError),
}

type Answer = (StatusCode, Json<Value>);

fn refused(status: StatusCode, kind: &str, error: impl Into<String>) -> Answer {
    (status, Json(json!({ "kind": kind, "error": error.into() })))
}

impl Merchant {
    fn serial(&self) -> String {
        format!("fm_{}_{}", std::process::id(), self.pos.serials.fetch_add(1, Ordering::Relaxed))
    }

    async fn call(&self, api: &str, params: &[(&str, String)]) -> Result<(), CallError> {
        let now = Gmt8Timestamp::from_utc(Utc::now());
        let mut request = TopRequest::new(api, &self.creds.app_key, &self.creds.session, now, SignMethod::Md5);
        for (name, value) in params {
            request = request.param(name, value.clone());
        }
        let body = request.signed(&self.creds.app_secret).to_urlencoded(protocol::params::Charset::Utf8);
        let send = self.http.post(&self.creds.gateway).header("Content-Type", "application/x-www-form-urlencoded");
        let Ok(reply) = send.body(body).send().await else { return Err(CallError::Lost) };
        let Ok(bytes) = reply.bytes().await else { return Err(CallError::Lost) };
        match TopReply::parse_json(api, &bytes) {
            Ok(TopReply::Success(_)) => Ok(()),
            Ok(TopReply::Error(e)) if e.is_transient() => Err(CallError::Lost),
            Ok(TopReply::Error(e)) => Err(CallError::Top(e)),
            Err(_) => Err(CallError::Lost),
        }
    }
}

/// `POST /pos/consume {"code", "num", "posid"?}`.
pub async fn consume(State(m): State<Arc<Merchant>>, Json(req): Json<Value>) -> Answer {
    let (Some(code), Some(num)) = (req["code"].as_str(), req["num"].as_u64().and_then(|n| u32::try_from(n).ok()))
    else {
        return refused(StatusCode::BAD_REQUEST, "bad_request", "code and num are required");
    };
    let found = {
        let orders = m.orders.lock().unwrap();
        orders.iter().find_map(|(id, o)| {
            o.codes.iter().find(|(c, _)| c == code).map(|(_, n)| (*id, o.token.clone(), o.cancelled, *n))
        })
    };
    let Some((order_id, token, cancelled, issued)) = found else {
        return refused(StatusCode::NOT_FOUND, "unknown_code", "unknown code");
    };
    let left = *m.pos.left.lock().unwrap().entry(code.to_owned()).or_insert(issued);
    if m.defect == Defect::PosFromLocalRecords {
        // The defect: the merchant's own count decides; the platform is never asked.
        if cancelled || left < num {
            return refused(StatusCode::CONFLICT, "not_enough_left", "refused locally");
        }
        m.pos.left.lock().unwrap().insert(code.to_owned(), left - num);
        return (StatusCode::OK, Json(json!({ "serial_num": m.serial() })));
    }
    if cancelled {
        return refused(StatusCode::CONFLICT, "cancelled", "the order was refunded");
    }
    if left < num {
        return refused(StatusCode::CONFLICT, "not_enough_left", format!("{left} left, {num} asked"));
    }
    let sent_num = if m.defect == Defect::PosWrongConsumeNum { 1 } else { num };
    let mut serial = m.serial();
    let params = |serial: &str| {
        let mut params = vec![
            ("order_id", order_id.to_string()),
            ("verify_code", code.to_owned()),
            ("consume_num", sent_num.to_string()),
            ("token", token.clone()),
        ];
        if m.defect != Defect::PosNoSerialBlindRetry {
            params.push(("serial_num", serial.to_owned()));
        }
        if let Some(posid) = req["posid"].as_str() {
            params.push(("posid", posid.to_owned()));
        }
        params
    };
    let attempts = if m.defect == Defect::PosHammersTerminal { 8 } else { 3 };
    let mut outcome = Err(CallError::Lost);
    for attempt in 1..=attempts {
        outcome = m.call(CONSUME, &params(&serial)).await;
        match &outcome {
            Ok(()) => break,
            Err(CallError::Top(e))
                if attempt > 1 && e.sub_code.as_deref() == Some(SubCode::DuplicateConsumeSerialNum.sub_code()) =>
            {
                outcome = Ok(());
                break;
            }
            Err(CallError::Lost) if m.defect == Defect::PosRefusedAfterLostAnswer => break,
            Err(CallError::Lost) => {
                if m.defect == Defect::PosNewSerialOnRetry {
                    serial = m.serial();
                }
            }
            Err(CallError::Top(_)) if m.defect == Defect::PosHammersTerminal => {}
            Err(CallError::Top(_)) => break,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    match outcome {
        Ok(()) => {
            m.pos.left.lock().unwrap().insert(code.to_owned(), left.saturating_sub(num));
            let consumed = Consumed { order_id, code: code.to_owned(), num, reversed: false };
            m.pos.consumes.lock().unwrap().insert(serial.clone(), consumed);
            (StatusCode::OK, Json(json!({ "serial_num": serial })))
        }
        Err(_) if m.defect == Defect::Pos2xxOnRefusal => (StatusCode::OK, Json(json!({ "serial_num": serial }))),
        Err(CallError::Top(e)) => refused(StatusCode::BAD_GATEWAY, "refused", e.to_string()),
        Err(CallError::Lost) if m.defect == Defect::PosRefusedAfterLostAnswer => {
            refused(StatusCode::BAD_GATEWAY, "refused", "the platform did not answer")
        }
        Err(CallError::Lost) => (
            StatusCode::BAD_GATEWAY,
            Json(json!({ "kind": "outcome_unknown", "serial_num": serial, "error": "no answer from the platform" })),
        ),
    }
}

/// `POST /pos/reverse {"serial_num"}`.
pub async fn reverse(State(m): State<Arc<Merchant>>, Json(req): Json<Value>) -> Answer {
    let serial = req["serial_num"].as_str().unwrap_or_default().to_owned();
    let Some(consumed) = m.pos.consumes.lock().unwrap().get(&serial).cloned() else {
        return refused(StatusCode::NOT_FOUND, "unknown_serial", "unknown serial_num");
    };
    if consumed.reversed {
        return refused(StatusCode::CONFLICT, "not_reversible", "already reversed");
    }
    let token = m.orders.lock().unwrap().get(&consumed.order_id).map(|o| o.token.clone()).unwrap_or_default();
    let reverse_num = if m.defect == Defect::PosReverseWrongCount { 1 } else { consumed.num };
    let params = [
        ("order_id", consumed.order_id.to_string()),
        ("reverse_code", consumed.code.clone()),
        ("reverse_num", reverse_num.to_string()),
        ("consume_secial_num", serial.clone()),
        ("token", token),
    ];
    match m.call(REVERSE, &params).await {
        Ok(()) => {
            if let Some(c) = m.pos.consumes.lock().unwrap().get_mut(&serial) {
                c.reversed = true;
            }
            *m.pos.left.lock().unwrap().entry(consumed.code.clone()).or_insert(0) += consumed.num;
            (StatusCode::OK, Json(json!({ "serial_num": serial })))
        }
        Err(CallError::Top(e)) => refused(StatusCode::BAD_GATEWAY, "refused", e.to_string()),
        Err(CallError::Lost) => {
            (StatusCode::BAD_GATEWAY, Json(json!({ "kind": "outcome_unknown", "serial_num": serial })))
        }
    }
}
