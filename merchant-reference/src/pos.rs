//! `POST /pos/consume` and `POST /pos/reverse`: redeeming codes at the gate (FAQ 2.8).
//!
//! The POS terminal only knows the code the visitor shows. We look it up locally first, so the common
//! refusals (unknown code, used up, refunded, out of validity) are answered without a gateway call;
//! then ask the platform with `beforeconsume` (验码前置确认: "may this code be used?") and redeem with
//! `consume`. The platform is the authority: its answer, not our copy, decides, and its
//! `code_left_num` overwrites our count.
//!
//! Every consume carries a `serial_num` we draw and record *before* calling, so that:
//! - a retry after a lost answer reuses it, and the platform's "duplicate serial" then means "it went
//!   through the first time" instead of redeeming twice;
//! - `reverse` (冲正) can name the consume to undo;
//! - a consume whose outcome we never learn (a crash between the call and the update, or no attempt
//!   got a readable answer) stays `'pending'` and is settled later from the platform's operation log
//!   by [`crate::reconcile`]. The clerk is told so (`outcome_unknown`, with the serial): trying again
//!   would draw a new serial and could redeem twice.
//!
//! Row states: `'pending'` → `'done'` (the platform redeemed; the code's count is the platform's) or
//! `'failed'` (the platform refused, or never saw it), and `'done'` → `'reversed'`. Every move out of
//! `'pending'` is guarded by `status = 'pending'`, so the live request and the reconciler cannot both
//! settle a row.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, Utc};
use protocol::{Gmt8Timestamp, SubCode};
use rusqlite::{OptionalExtension, params};
use serde_json::{Map, Value, json};

use crate::codes;
use crate::server::AppState;
use crate::store::StoreError;
use crate::top_client::{CALL_TIMEOUT, CallError};

const BEFORECONSUME: &str = "taobao.vmarket.eticket.beforeconsume";
const CONSUME: &str = "taobao.vmarket.eticket.consume";
const REVERSE: &str = "taobao.vmarket.eticket.reverse";
/// Attempts per gateway call while the clerk waits: enough to ride out one blip, few enough to answer
/// within a second or two.
const POS_ATTEMPTS: u32 = 3;
/// The longest a consume request can keep calling the gateway: every attempt timing out, plus the
/// backoff between them (each at most [`crate::backoff::CAP`]). [`crate::reconcile::GRACE`] is longer.
pub const LONGEST_CONSUME: Duration = Duration::from_secs(
    CALL_TIMEOUT.as_secs() * POS_ATTEMPTS as u64 + crate::backoff::CAP.as_secs() * (POS_ATTEMPTS as u64 - 1),
);

#[derive(Debug, serde::Deserialize)]
pub struct ConsumeRequest {
    pub code: String,
    pub num: u32,
    /// The terminal id; required when we are a 码商 (PROTOCOL §1.3).
    pub posid: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
pub struct ReverseRequest {
    pub serial_num: String,
}

/// Every way a POS request can fail, each with its own HTTP status and `kind`.
#[derive(Debug, thiserror::Error)]
pub enum PosError {
    #[error("num must be at least 1")]
    BadNum,
    /// The hook request was not the JSON INTERFACES §4 defines; refused in the hook's own shape.
    #[error("bad request body: {0}")]
    BadBody(String),
    #[error("posid is required: this merchant is a code merchant (码商)")]
    PosidRequired,
    #[error("unknown code")]
    UnknownCode,
    #[error("the order was refunded; its codes are void")]
    Cancelled,
    #[error("this code is void")]
    Voided,
    #[error("not enough left on this code: {left} left, {asked} asked")]
    NotEnoughLeft { left: i64, asked: u32 },
    #[error("the code is outside its validity ({0})")]
    Expired(String),
    #[error("unknown serial_num")]
    UnknownSerial,
    #[error("this consume cannot be reversed: it is {0}")]
    NotReversible(String),
    #[error("the platform refused: {0}")]
    Gateway(CallError),
    /// The consume may or may not have gone through; it is settled later (see [`crate::reconcile`]).
    #[error(
        "no answer from the platform ({error}); consume {serial} is pending and will be settled from the platform's log: do not redeem again"
    )]
    OutcomeUnknown { serial: String, error: CallError },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for PosError {
    fn from(e: rusqlite::Error) -> Self {
        PosError::Store(StoreError::Sqlite(e))
    }
}

impl IntoResponse for PosError {
    fn into_response(self) -> Response {
        let (status, kind) = match &self {
            PosError::BadNum | PosError::PosidRequired | PosError::BadBody(_) => {
                (StatusCode::BAD_REQUEST, "bad_request")
            }
            PosError::UnknownCode => (StatusCode::NOT_FOUND, "unknown_code"),
            PosError::UnknownSerial => (StatusCode::NOT_FOUND, "unknown_serial"),
            PosError::Cancelled => (StatusCode::CONFLICT, "cancelled"),
            PosError::Voided => (StatusCode::CONFLICT, "voided"),
            PosError::NotEnoughLeft { .. } => (StatusCode::CONFLICT, "not_enough_left"),
            PosError::Expired(_) => (StatusCode::CONFLICT, "expired"),
            PosError::NotReversible(_) => (StatusCode::CONFLICT, "not_reversible"),
            PosError::Gateway(_) => (StatusCode::BAD_GATEWAY, "gateway"),
            PosError::OutcomeUnknown { .. } => (StatusCode::BAD_GATEWAY, "outcome_unknown"),
            PosError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "store"),
        };
        let mut body = json!({ "error": self.to_string(), "kind": kind });
        if let PosError::OutcomeUnknown { serial, .. } = &self {
            body["serial_num"] = json!(serial);
        }
        if let Some(top) = match &self {
            PosError::Gateway(e) => e.top_error(),
            _ => None,
        } {
            body["code"] = json!(top.code);
            body["sub_code"] = json!(top.sub_code);
            body["sub_msg"] = json!(top.sub_msg);
        }
        (status, Json(body)).into_response()
    }
}

/// What we know locally about a code and its order.
#[derive(Debug, Clone)]
struct CodeRow {
    order_id: i64,
    token: String,
    status: String,
    remaining: i64,
    voided: bool,
    valid_start: Option<String>,
    valid_ends: Option<String>,
    weeks: Option<String>,
}

/// `POST /pos/consume {"code", "num", "posid"?}`.
pub async fn consume(
    State(state): State<AppState>,
    req: Result<Json<ConsumeRequest>, JsonRejection>,
) -> Result<Json<Value>, PosError> {
    let Json(req) = req.map_err(|e| PosError::BadBody(e.body_text()))?;
    if req.num == 0 {
        return Err(PosError::BadNum);
    }
    if state.config.codemerchant_id.is_some() && req.posid.as_deref().unwrap_or("").is_empty() {
        return Err(PosError::PosidRequired);
    }
    let code = req.code.clone();
    let row = state.store.run(move |conn| find_code(conn, &code)).await?.ok_or(PosError::UnknownCode)?;
    check_locally(&row, req.num)?;

    let mut common =
        vec![("order_id", row.order_id.to_string()), ("verify_code", req.code.clone()), ("token", row.token.clone())];
    if let Some(posid) = &req.posid {
        common.push(("posid", posid.clone()));
    }
    call_with_retries(&state, BEFORECONSUME, &common, None).await.map_err(|f| PosError::Gateway(f.error))?;

    let serial = codes::new_serial(&mut rand::rng());
    let (serial_db, code_db, posid_db, num, order_id) =
        (serial.clone(), req.code.clone(), req.posid.clone(), req.num, row.order_id);
    state
        .store
        .run(move |conn| {
            conn.execute(
                "INSERT INTO consumes (serial_num, order_id, code, num, posid, status, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6)",
                params![serial_db, order_id, code_db, num, posid_db, Gmt8Timestamp::from_utc(Utc::now()).format()],
            )
            .map_err(StoreError::from)
        })
        .await?;

    let mut consume_params = common.clone();
    consume_params.push(("consume_num", req.num.to_string()));
    consume_params.push(("serial_num", serial.clone()));
    let answer = call_with_retries(&state, CONSUME, &consume_params, Some(SubCode::DuplicateConsumeSerialNum)).await;
    let serial_db = serial.clone();
    let code_db = req.code.clone();
    let outcome = match &answer {
        Ok(fields) => Ok(fields.get("code_left_num").and_then(Value::as_i64)),
        Err(f) => Err((f.uncertain, f.error.to_string())),
    };
    state
        .store
        .run(move |conn| {
            let tx = conn.transaction()?;
            match &outcome {
                Ok(code_left) => {
                    let changed = tx.execute(
                        "UPDATE consumes SET status = 'done' WHERE serial_num = ?1 AND status = 'pending'",
                        [&serial_db],
                    )?;
                    if changed == 1 {
                        apply_count(&tx, &code_db, *code_left, i64::from(num))?;
                    }
                }
                // Refused: nothing was redeemed.
                Err((false, e)) => {
                    tx.execute(
                        "UPDATE consumes SET status = 'failed', last_error = ?1 WHERE serial_num = ?2 AND status = 'pending'",
                        params![e, serial_db],
                    )?;
                }
                // Unknown: stays pending for the reconciler; the error is kept for whoever looks.
                Err((true, e)) => {
                    tx.execute(
                        "UPDATE consumes SET last_error = ?1 WHERE serial_num = ?2 AND status = 'pending'",
                        params![e, serial_db],
                    )?;
                }
            }
            tx.commit().map_err(StoreError::from)
        })
        .await?;
    let fields = answer.map_err(|f| {
        if f.uncertain {
            PosError::OutcomeUnknown { serial: serial.clone(), error: f.error }
        } else {
            PosError::Gateway(f.error)
        }
    })?;
    Ok(Json(json!({
        "serial_num": serial,
        "code": req.code,
        "consumed": req.num,
        "code_left_num": fields.get("code_left_num"),
        "left_num": fields.get("left_num"),
        "item_title": fields.get("item_title"),
    })))
}

/// `POST /pos/reverse {"serial_num"}`: undo one consume (冲正).
pub async fn reverse(
    State(state): State<AppState>,
    req: Result<Json<ReverseRequest>, JsonRejection>,
) -> Result<Json<Value>, PosError> {
    let Json(req) = req.map_err(|e| PosError::BadBody(e.body_text()))?;
    let serial = req.serial_num.clone();
    let found = state
        .store
        .run(move |conn| {
            conn.query_row(
                "SELECT c.order_id, c.code, c.num, c.posid, c.status, o.token
                 FROM consumes c JOIN orders o ON o.order_id = c.order_id WHERE c.serial_num = ?1",
                [&serial],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                    ))
                },
            )
            .optional()
            .map_err(StoreError::from)
        })
        .await?;
    let (order_id, code, num, posid, status, token) = found.ok_or(PosError::UnknownSerial)?;
    if status != "done" {
        return Err(PosError::NotReversible(status));
    }
    let mut params = vec![
        ("order_id", order_id.to_string()),
        ("reverse_code", code.clone()),
        ("reverse_num", num.to_string()),
        ("consume_secial_num", req.serial_num.clone()), // sic: the platform's spelling
        ("token", token),
    ];
    if let Some(posid) = posid {
        params.push(("posid", posid));
    }
    let fields = call_with_retries(&state, REVERSE, &params, None).await.map_err(|f| PosError::Gateway(f.error))?;
    let serial = req.serial_num.clone();
    state
        .store
        .run(move |conn| {
            let tx = conn.transaction()?;
            tx.execute("UPDATE consumes SET status = 'reversed' WHERE serial_num = ?1", [&serial])?;
            tx.execute("UPDATE codes SET remaining = remaining + ?1 WHERE code = ?2", params![num, code])?;
            tx.commit().map_err(StoreError::from)
        })
        .await?;
    Ok(Json(json!({ "serial_num": req.serial_num, "reversed": num, "left_num": fields.get("left_num") })))
}

/// Sets a code's count after a redemption: the platform's `left` wins; without one, subtract what was
/// redeemed. Runs inside the transaction that marks the consume `'done'`, and only when that update
/// changed the row, so a consume is counted once however many times it is settled.
pub(crate) fn apply_count(
    tx: &rusqlite::Transaction<'_>,
    code: &str,
    left: Option<i64>,
    num: i64,
) -> Result<(), rusqlite::Error> {
    match left {
        Some(left) => tx.execute("UPDATE codes SET remaining = ?1 WHERE code = ?2", params![left, code])?,
        None => {
            tx.execute("UPDATE codes SET remaining = max(remaining - ?1, 0) WHERE code = ?2", params![num, code])?
        }
    };
    Ok(())
}

fn find_code(conn: &mut rusqlite::Connection, code: &str) -> Result<Option<CodeRow>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT c.order_id, o.token, o.status, c.remaining, c.voided, o.valid_start, o.valid_ends, o.weeks
             FROM codes c JOIN orders o ON o.order_id = c.order_id WHERE c.code = ?1",
            [code],
            |r| {
                Ok(CodeRow {
                    order_id: r.get(0)?,
                    token: r.get(1)?,
                    status: r.get(2)?,
                    remaining: r.get(3)?,
                    voided: r.get(4)?,
                    valid_start: r.get(5)?,
                    valid_ends: r.get(6)?,
                    weeks: r.get(7)?,
                })
            },
        )
        .optional()?)
}

/// The refusals we can give without asking the platform.
fn check_locally(row: &CodeRow, num: u32) -> Result<(), PosError> {
    if row.status == "cancelled" {
        return Err(PosError::Cancelled);
    }
    if row.voided {
        return Err(PosError::Voided);
    }
    if row.remaining < i64::from(num) {
        return Err(PosError::NotEnoughLeft { left: row.remaining, asked: num });
    }
    let now = Gmt8Timestamp::from_utc(Utc::now());
    // Both sides are `yyyy-MM-dd HH:mm:ss`, so text order is time order.
    let now_text = now.format();
    if let Some(start) = row.valid_start.as_deref().filter(|s| now_text.as_str() < *s) {
        return Err(PosError::Expired(format!("valid from {start}")));
    }
    if let Some(ends) = row.valid_ends.as_deref().filter(|e| now_text.as_str() > *e) {
        return Err(PosError::Expired(format!("valid until {ends}")));
    }
    if let Some(weeks) = row.weeks.as_deref().and_then(|w| serde_json::from_str::<Vec<u32>>(w).ok()) {
        let today = now.naive().weekday().number_from_monday();
        if !weeks.contains(&today) {
            return Err(PosError::Expired(format!("not usable on weekday {today}")));
        }
    }
    Ok(())
}

/// A gateway call that did not succeed.
#[derive(Debug)]
struct Failure {
    /// The last attempt's error.
    error: CallError,
    /// Whether some attempt may have reached the platform and acted ([`CallError::outcome_unknown`]).
    /// Then even a refusal on a later attempt proves nothing: a consume that took the last unit makes
    /// the order `CONSUMED`, and the retry is refused on the state (B7) before the serial is looked at.
    uncertain: bool,
}

/// Calls the gateway, retrying transient failures a few times. `repeat_means_done` names the error a
/// retry gets when an earlier attempt went through (a duplicate serial for `consume`).
async fn call_with_retries(
    state: &AppState,
    api: &str,
    params: &[(&str, String)],
    repeat_means_done: Option<SubCode>,
) -> Result<Map<String, Value>, Failure> {
    let mut attempt = 1;
    let mut uncertain = false;
    loop {
        match state.top.call(api, params).await {
            Ok(fields) => return Ok(fields),
            Err(e) if attempt > 1 && is_sub_code(&e, repeat_means_done) => return Ok(Map::new()),
            Err(e) if e.is_transient() && attempt < POS_ATTEMPTS => {
                tracing::warn!(api, attempt, error = %e, "POS call failed, retrying");
                uncertain |= e.outcome_unknown();
                // Computed before the await: the thread-local RNG handle must not live across it.
                let delay = crate::backoff::delay(attempt, &mut rand::rng());
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            Err(e) => {
                uncertain |= e.outcome_unknown();
                return Err(Failure { error: e, uncertain });
            }
        }
    }
}

fn is_sub_code(e: &CallError, sub: Option<SubCode>) -> bool {
    match (e.top_error().and_then(|t| t.sub_code.as_deref()), sub) {
        (Some(got), Some(sub)) => got == sub.sub_code(),
        _ => false,
    }
}
