//! Settling POS consumes whose outcome we never learned: `consumes` rows left `'pending'`.
//!
//! [`crate::pos`] writes a consume down as `'pending'` *before* calling `eticket.consume`, and settles
//! it from the answer. Two things leave it pending: the process dies between the call and the update,
//! or no attempt got a readable answer (timeout, reset, 5xx). Either way the platform may or may not
//! have redeemed the code, and our count may be stale. This module finds out and settles the row.
//!
//! **How we find out: the operation log, not a second consume.** `eticket.oplogs.get` (PROTOCOL §5.9,
//! type 1 = consumes, filtered by `code`) lists every redemption the platform made, each with its
//! `consume_serial_num`. Our serial is there, or the consume never happened. Re-sending the consume
//! with the same serial looks simpler but answers the wrong question:
//! - it *redeems* when the first call never arrived: a visit the clerk was told had failed (or never
//!   heard about) would be charged minutes later;
//! - when the first call did go through and used the last unit, the order is `CONSUMED` and the
//!   platform answers the state check (§5.0 B7, `invalid-order-status`) before it looks at the serial
//!   (§5.3), so "duplicate serial, it went through" never comes back. The same holds after a refund.
//!
//! A read cannot redeem anything, so this module never consumes: running it twice, or beside a live
//! POS request, can at worst read twice. The count comes from `eticket.codes.get` (§5.8, the code's
//! usable `num`): the platform's word, not our arithmetic.
//!
//! **When: at startup, then every [`INTERVAL`], for rows older than [`GRACE`].** A periodic task
//! rather than an admin route: a lost answer with no crash must be settled too, and nobody is there to
//! press a button; the startup pass is the same loop's first turn. The grace period is what makes
//! "not in the log" mean "never happened": a live request gives up after [`crate::pos::LONGEST_CONSUME`]
//! (its attempts, timeouts and backoff), so a row older than that has no call of ours still on its way.
//! A row stays pending (and is tried again next pass) whenever the platform cannot be asked.
//!
//! Every settlement is one transaction guarded by `status = 'pending'`: whoever settles a row first
//! (this task or the live request) wins, and the code's count is changed only by that settlement.

use std::time::Duration;

use chrono::Utc;
use protocol::Gmt8Timestamp;
use rusqlite::params;
use serde_json::{Map, Value};

use crate::server::AppState;
use crate::store::StoreError;
use crate::top_client::CallError;

/// How old a pending consume must be before the log's silence counts as "it never happened".
pub const GRACE: Duration = Duration::from_secs(120);
/// Time between passes. Pending rows are rare (a crash or an outage), so this only bounds how long a
/// stale count can last.
pub const INTERVAL: Duration = Duration::from_secs(60);

const OPLOGS: &str = "taobao.vmarket.eticket.oplogs.get";
const CODES_GET: &str = "taobao.vmarket.eticket.codes.get";
/// The largest page `oplogs.get` allows (§5.9).
const PAGE_SIZE: usize = 40;
/// Pages read per code before giving up for this pass: 2000 redemptions of one code is not a ticket.
const MAX_PAGES: usize = 50;

// A live request must be over before its row can be judged by the log.
const _: () = assert!(GRACE.as_secs() > crate::pos::LONGEST_CONSUME.as_secs());

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Settled {
    /// Found in the platform's log: now `'done'`, count from the platform.
    pub done: usize,
    /// Not in the log: now `'failed'`; nothing was redeemed, so the count is untouched.
    pub failed: usize,
    /// The platform could not be asked; still `'pending'`, tried again next pass.
    pub unresolved: usize,
}

/// The running reconciler; dropping it stops the task (the rows stay pending for the next start).
#[derive(Debug)]
pub struct ReconcilerHandle(tokio::task::JoinHandle<()>);

impl Drop for ReconcilerHandle {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts the periodic task; its first pass runs at once (the startup pass).
pub fn spawn(state: AppState) -> ReconcilerHandle {
    ReconcilerHandle(tokio::spawn(async move {
        loop {
            match reconcile_pending(&state, GRACE).await {
                Ok(settled) if settled != Settled::default() => tracing::info!(?settled, "pending consumes"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "reconcile: reading pending consumes failed"),
            }
            tokio::time::sleep(INTERVAL).await;
        }
    }))
}

/// A pending consume, as we recorded it before the call.
#[derive(Debug, Clone)]
struct Pending {
    serial: String,
    order_id: i64,
    code: String,
    num: i64,
}

/// What the platform says about one serial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Redeemed; the code's usable count now, if `codes.get` lists the code.
    Done { left: Option<i64> },
    /// Not in the log: the consume never happened.
    NeverHappened,
}

/// Settles every `'pending'` consume created more than `grace` ago. Idempotent: a settled row is
/// never read again, and the platform is only read, never written.
pub async fn reconcile_pending(state: &AppState, grace: Duration) -> Result<Settled, StoreError> {
    let cutoff = Utc::now() - chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX);
    // Both sides are `yyyy-MM-dd HH:mm:ss` GMT+8, so text order is time order.
    let cutoff = Gmt8Timestamp::from_utc(cutoff).format();
    let rows = state
        .store
        .run(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT serial_num, order_id, code, num FROM consumes
                 WHERE status = 'pending' AND created_at <= ?1 ORDER BY created_at",
            )?;
            let rows = stmt.query_map([&cutoff], |r| {
                Ok(Pending { serial: r.get(0)?, order_id: r.get(1)?, code: r.get(2)?, num: r.get(3)? })
            })?;
            rows.collect::<Result<Vec<_>, _>>().map_err(StoreError::from)
        })
        .await?;
    let mut settled = Settled::default();
    for row in rows {
        match verdict(state, &row).await {
            Ok(verdict) => {
                let serial = row.serial.clone();
                if settle(state, row, verdict).await? {
                    match verdict {
                        Verdict::Done { .. } => settled.done += 1,
                        Verdict::NeverHappened => settled.failed += 1,
                    }
                    tracing::info!(serial, ?verdict, "reconciled a pending consume");
                }
            }
            Err(e) => {
                tracing::warn!(serial = row.serial, error = %e, "reconcile: platform not reachable, row stays pending");
                settled.unresolved += 1;
            }
        }
    }
    Ok(settled)
}

/// Asks the platform's operation log about the row's serial, then (if found) the code's count.
async fn verdict(state: &AppState, row: &Pending) -> Result<Verdict, CallError> {
    if !in_oplogs(state, row).await? {
        return Ok(Verdict::NeverHappened);
    }
    let fields = state.top.call(CODES_GET, &[("order_id", row.order_id.to_string())]).await?;
    let left = list(&fields, "eticket_codes", "eticket_code")
        .iter()
        .find(|c| c.get("code").and_then(Value::as_str) == Some(row.code.as_str()))
        .and_then(|c| number(c.get("num")));
    Ok(Verdict::Done { left })
}

/// Whether `oplogs.get` lists a consume (op_type 1) of this order with our serial. Pages through the
/// code's log; running out of pages without a verdict is an error, never "not there".
async fn in_oplogs(state: &AppState, row: &Pending) -> Result<bool, CallError> {
    let order_id = row.order_id;
    for page in 1..=MAX_PAGES {
        let params = [
            ("type", "1".to_owned()),
            ("code", row.code.clone()),
            ("page_no", page.to_string()),
            ("page_size", PAGE_SIZE.to_string()),
        ];
        let fields = state.top.call(OPLOGS, &params).await?;
        let items = list(&fields, "eticket_op_logs", "eticket_op_log");
        let found = items.iter().any(|op| {
            op.get("consume_serial_num").and_then(Value::as_str) == Some(row.serial.as_str())
                && number(op.get("op_type")) == Some(1)
                && number(op.get("order_id")).is_none_or(|id| id == order_id)
        });
        if found {
            return Ok(true);
        }
        let total = number(fields.get("total_results")).and_then(|t| usize::try_from(t).ok()).unwrap_or(0);
        if items.len() < PAGE_SIZE || page * PAGE_SIZE >= total {
            return Ok(false);
        }
    }
    Err(CallError::Unreadable(format!("more than {MAX_PAGES} pages of operation log for one code")))
}

/// Writes the verdict if the row is still pending; returns whether it was.
async fn settle(state: &AppState, row: Pending, verdict: Verdict) -> Result<bool, StoreError> {
    state
        .store
        .run(move |conn| {
            let tx = conn.transaction()?;
            let changed = match verdict {
                Verdict::Done { left } => {
                    let changed = tx.execute(
                        "UPDATE consumes SET status = 'done', last_error = NULL
                         WHERE serial_num = ?1 AND status = 'pending'",
                        [&row.serial],
                    )?;
                    if changed == 1 {
                        crate::pos::apply_count(&tx, &row.code, left, row.num)?;
                    }
                    changed
                }
                Verdict::NeverHappened => tx.execute(
                    "UPDATE consumes SET status = 'failed', last_error = ?1 WHERE serial_num = ?2 AND status = 'pending'",
                    params!["not in the platform's operation log (reconciled)", row.serial],
                )?,
            };
            tx.commit()?;
            Ok(changed == 1)
        })
        .await
}

/// The items of a list field: `{"name": {"item": [...]}}`, or the bare array `simplify=true` gives.
fn list<'a>(fields: &'a Map<String, Value>, name: &str, item: &str) -> &'a [Value] {
    match fields.get(name) {
        Some(Value::Array(items)) => items,
        Some(Value::Object(wrapper)) => wrapper.get(item).and_then(Value::as_array).map_or(&[], Vec::as_slice),
        _ => &[],
    }
}

/// A Number field, sent as a JSON number (or, by a lenient gateway, a decimal string).
fn number(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn lists_are_read_wrapped_bare_or_missing() {
        let wrapped = json!({"eticket_op_logs": {"eticket_op_log": [{"num": 1}]}});
        let bare = json!({"eticket_op_logs": [{"num": 1}, {"num": 2}]});
        let empty = json!({"total_results": 0});
        let len = |v: &Value| list(v.as_object().unwrap(), "eticket_op_logs", "eticket_op_log").len();
        assert_eq!((len(&wrapped), len(&bare), len(&empty)), (1, 2, 0));
    }

    #[test]
    fn numbers_are_read_from_json_numbers_or_decimal_strings() {
        assert_eq!(number(Some(&json!(3))), Some(3));
        assert_eq!(number(Some(&json!("3"))), Some(3));
        assert_eq!(number(Some(&json!("x"))), None);
        assert_eq!(number(None), None);
    }
}
