//! What each notification does to our books, as one SQLite transaction (PROTOCOL §3.6).
//!
//! The handler has already checked the sign and the timestamp; this module decides, per method, which
//! rows to write. Everything a notification implies (the order, its codes, the callback we now owe)
//! is written together with the notification itself, or nothing is: that is what makes it safe to
//! acknowledge right after the commit.
//!
//! The answers are always `{"code":200}` once a notification is genuine: this merchant never
//! regenerates codes, so it never answers `{"code":300}`. A merchant that prints codes on paper, or
//! one whose codes leaked, would issue new ones on `resend`/`modified` and answer 300 (FAQ 2.26).
//! A genuine notification for an order we do not know, or for one already cancelled, is acknowledged
//! and changes nothing: refusing it would only make the platform retry it for an hour.

use chrono::{DateTime, Utc};
use protocol::{Gmt8Timestamp, Notification, NotifyMethod, Params};
use rand::Rng;
use rusqlite::{Connection, OptionalExtension, params};

use crate::codes::{self, ConsumeType};
use crate::store::StoreError;

/// The most units one order may carry. Above it the merchant cannot issue (our business rule: no
/// venue sells a thousand tickets in one trade) and tells the platform so with `failsend`.
pub const MAX_UNITS: u32 = 1000;

/// Why a genuine-looking notification was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// Signed correctly but not usable (a missing `num`, a token that contradicts the order): reject
    /// with `{"code":501}`, nothing written.
    #[error("invalid notification: {0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for ApplyError {
    fn from(e: rusqlite::Error) -> Self {
        ApplyError::Store(StoreError::Sqlite(e))
    }
}

/// What applying a notification did, in words recorded beside it in `notifications.outcome`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub outcome: &'static str,
}

/// The order columns the notification logic needs.
#[derive(Debug, Clone)]
struct OrderRow {
    token: String,
    status: String,
}

/// Applies one verified notification in a single transaction.
pub fn apply(
    conn: &mut Connection,
    n: &Notification,
    params: &Params,
    now: DateTime<Utc>,
    rng: &mut impl Rng,
) -> Result<Applied, ApplyError> {
    let tx = conn.transaction()?;
    let applied = apply_in(&tx, n, params, now, rng)?;
    tx.commit()?;
    Ok(applied)
}

/// Applies one verified notification inside a transaction or savepoint the caller commits: all of its rows
/// or, when it fails and the caller rolls back, none (`group_commit.rs` puts several in one transaction).
pub fn apply_in(
    tx: &Connection,
    n: &Notification,
    params: &Params,
    now: DateTime<Utc>,
    rng: &mut impl Rng,
) -> Result<Applied, ApplyError> {
    let order_id = n.order_id.get();
    let order = find_order(tx, order_id)?;
    if let (Some(order), Some(token)) = (&order, &n.token) {
        // The token is fixed per order (PROTOCOL §1.2): a different one means the data is not what we
        // think it is, and guessing would be worse than letting the platform retry.
        if order.token != token.as_str() {
            return Err(ApplyError::Invalid("token differs from the order's token".into()));
        }
    }
    let outcome = match (n.method, order) {
        (NotifyMethod::Send, None) => issue(tx, n, now, rng)?,
        (NotifyMethod::Send, Some(order)) => repeat_send(tx, order_id, &order, now)?,
        (_, None) => "unknown order: acknowledged, nothing to do",
        (_, Some(order)) if order.status == "cancelled" => "order cancelled: acknowledged, nothing to do",
        (NotifyMethod::Resend | NotifyMethod::Modified, Some(order)) => resend(tx, n, &order, now)?,
        (NotifyMethod::Cancel, Some(_)) => cancel(tx, order_id)?,
        (NotifyMethod::OrderModify, Some(_)) => order_modify(tx, n)?,
    };
    record_notification(tx, n, params, now, outcome)?;
    Ok(Applied { outcome })
}

fn find_order(tx: &Connection, order_id: i64) -> rusqlite::Result<Option<OrderRow>> {
    // Cached statements: every notification runs these, and parsing the SQL again each time cost as much as
    // a row written (`notify_load`).
    tx.prepare_cached("SELECT token, status FROM orders WHERE order_id = ?1")?
        .query_row([order_id], |r| Ok(OrderRow { token: r.get(0)?, status: r.get(1)? }))
        .optional()
}

/// A first `send`: create the order, draw its codes, owe the platform `eticket.send` (or `failsend`).
fn issue(
    tx: &Connection,
    n: &Notification,
    now: DateTime<Utc>,
    rng: &mut impl Rng,
) -> Result<&'static str, ApplyError> {
    let num = n.num.filter(|num| *num > 0).ok_or_else(|| ApplyError::Invalid("send without a positive num".into()))?;
    let token = n.token.as_ref().ok_or_else(|| ApplyError::Invalid("send without token".into()))?;
    let consume_type = ConsumeType::from_param(n.consume_type.as_deref());
    let issuable = num <= MAX_UNITS;
    tx.prepare_cached(
        "INSERT INTO orders (order_id, token, num, consume_type, mobile, item_title, valid_start, valid_ends, weeks,
                             status, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        n.order_id.get(),
        token.as_str(),
        num,
        consume_type.as_number(),
        n.mobile,
        n.item_title,
        n.valid_start,
        n.valid_ends,
        n.weeks,
        if issuable { "issued" } else { "unissuable" },
        Gmt8Timestamp::from_utc(now).format(),
    ])?;
    if !issuable {
        enqueue(tx, n.order_id.get(), "failsend", now)?;
        return Ok("new order, too many units: failsend owed");
    }
    insert_codes(tx, n.order_id.get(), &codes::plan(num, consume_type), rng)?;
    enqueue(tx, n.order_id.get(), "send", now)?;
    Ok("new order: codes issued, eticket.send owed")
}

/// Inserts one code per count, drawing again on the (rare) collision with any existing code.
pub fn insert_codes(tx: &Connection, order_id: i64, counts: &[u32], rng: &mut impl Rng) -> rusqlite::Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO codes (code, order_id, position, issued, remaining) VALUES (?1, ?2, ?3, ?4, ?4)",
    )?;
    for (position, count) in counts.iter().enumerate() {
        let mut tries = 0;
        loop {
            match insert.execute(params![codes::new_code(rng), order_id, position, count]) {
                Ok(_) => break,
                Err(e) if is_unique_violation(&e) && tries < 16 => tries += 1,
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation)
}

/// The same `send` again (a platform retry whose first answer got lost, or a duplicate, C5): the codes
/// exist already and are never drawn again. The callback is owed again only if it never succeeded.
fn repeat_send(
    tx: &Connection,
    order_id: i64,
    order: &OrderRow,
    now: DateTime<Utc>,
) -> Result<&'static str, ApplyError> {
    if order.status == "cancelled" {
        return Ok("repeated send of a cancelled order: acknowledged, nothing to do");
    }
    let api = if order.status == "unissuable" { "failsend" } else { "send" };
    let done: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM outbox WHERE order_id = ?1 AND api = ?2 AND status IN ('done', 'pending'))",
        params![order_id, api],
        |r| r.get(0),
    )?;
    if done {
        return Ok("repeated send: acknowledged, callback already done or queued");
    }
    enqueue(tx, order_id, api, now)?;
    Ok("repeated send after a failed callback: callback owed again")
}

/// `resend` / `modified`: owe one more `eticket.resend` with the usable codes (read when the call is
/// made, so it includes any redemption that happens in between). `modified` also records the new mobile.
fn resend(tx: &Connection, n: &Notification, order: &OrderRow, now: DateTime<Utc>) -> Result<&'static str, ApplyError> {
    let order_id = n.order_id.get();
    if let (NotifyMethod::Modified, Some(mobile)) = (n.method, &n.mobile) {
        tx.execute("UPDATE orders SET mobile = ?1 WHERE order_id = ?2", params![mobile, order_id])?;
    }
    if order.status != "issued" {
        return Ok("resend for an order without codes: acknowledged, nothing to do");
    }
    let usable: i64 = tx.query_row(
        "SELECT count(*) FROM codes WHERE order_id = ?1 AND voided = 0 AND remaining > 0",
        [order_id],
        |r| r.get(0),
    )?;
    if usable == 0 {
        return Ok("resend with every code used up: acknowledged, nothing to resend");
    }
    // One row per acknowledged notification, never merged into a row already owed: the platform pairs
    // each acknowledgement with a callback of its own (C6), and a row already owed may be in flight
    // with the codes it read before this notification. The worker makes them one at a time, in order.
    enqueue(tx, order_id, "resend", now)?;
    Ok("codes unchanged: eticket.resend owed")
}

/// `cancel`: the refund voids every remaining unit (FAQ 2.23); no callback, and none still owed.
fn cancel(tx: &Connection, order_id: i64) -> Result<&'static str, ApplyError> {
    tx.execute("UPDATE orders SET status = 'cancelled' WHERE order_id = ?1", [order_id])?;
    tx.execute("UPDATE codes SET voided = 1 WHERE order_id = ?1", [order_id])?;
    tx.execute(
        "UPDATE outbox SET status = 'dropped', last_error = 'order cancelled' WHERE order_id = ?1 AND status = 'pending'",
        [order_id],
    )?;
    Ok("order cancelled: codes voided, pending callbacks dropped")
}

/// `order_modify`: sub_method 1 moves the validity window; 2 (rights claim upheld) is recorded only.
fn order_modify(tx: &Connection, n: &Notification) -> Result<&'static str, ApplyError> {
    let order_id = n.order_id.get();
    match n.sub_method.as_deref() {
        Some("1") => {
            let (start, ends) = validity_from_data(n.data.as_deref())?;
            tx.execute(
                "UPDATE orders SET valid_start = ?1, valid_ends = ?2 WHERE order_id = ?3",
                params![start, ends, order_id],
            )?;
            Ok("validity changed")
        }
        Some("2") => {
            tx.execute("UPDATE orders SET rights_claimed = 1 WHERE order_id = ?1", [order_id])?;
            Ok("rights claim upheld: recorded")
        }
        _ => Ok("order_modify with an unknown sub_method: recorded"),
    }
}

/// Reads `{"valid_start":"…","valid_ends":"…"}` and checks both are platform datetimes.
fn validity_from_data(data: Option<&str>) -> Result<(String, String), ApplyError> {
    #[derive(serde::Deserialize)]
    struct Validity {
        valid_start: String,
        valid_ends: String,
    }
    let invalid = |why: &str| ApplyError::Invalid(format!("order_modify data: {why}"));
    let validity: Validity =
        serde_json::from_str(data.ok_or_else(|| invalid("missing"))?).map_err(|e| invalid(&e.to_string()))?;
    for value in [&validity.valid_start, &validity.valid_ends] {
        Gmt8Timestamp::parse_datetime(value).map_err(|e| invalid(&e.to_string()))?;
    }
    Ok((validity.valid_start, validity.valid_ends))
}

/// Owes the platform a callback: the outbox row, due now.
pub fn enqueue(tx: &Connection, order_id: i64, api: &str, now: DateTime<Utc>) -> rusqlite::Result<()> {
    let now_ms = now.timestamp_millis();
    tx.prepare_cached(
        "INSERT INTO outbox (order_id, api, status, next_attempt_at, created_at) VALUES (?1, ?2, 'pending', ?3, ?3)",
    )?
    .execute(params![order_id, api, now_ms])?;
    Ok(())
}

fn record_notification(
    tx: &Connection,
    n: &Notification,
    params: &Params,
    now: DateTime<Utc>,
    outcome: &str,
) -> rusqlite::Result<()> {
    let params_json = serde_json::to_string(params.pairs()).unwrap_or_default();
    tx.prepare_cached(
        "INSERT INTO notifications (received_at, method, order_id, params, outcome) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        Gmt8Timestamp::from_utc(now).format(),
        n.method.as_str(),
        n.order_id.get(),
        params_json,
        outcome
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_modify_data_must_hold_two_platform_datetimes() {
        let ok = r#"{"valid_start":"2016-04-12 00:00:00","valid_ends":"2016-05-12 23:59:59"}"#;
        assert_eq!(
            validity_from_data(Some(ok)).unwrap(),
            ("2016-04-12 00:00:00".to_owned(), "2016-05-12 23:59:59".to_owned())
        );
        for bad in [None, Some("{}"), Some("not json"), Some(r#"{"valid_start":"x","valid_ends":"y"}"#)] {
            assert!(matches!(validity_from_data(bad), Err(ApplyError::Invalid(_))), "{bad:?}");
        }
    }
}
