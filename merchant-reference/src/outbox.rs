//! The outbox worker: turns owed callbacks (rows of `outbox`) into TOP calls until each one is settled.
//!
//! Why an outbox rather than calling the gateway from the notification handler: the handler must answer
//! at once (FAQ 2.26) and must not call back before it has answered (C4); and a callback that fails,
//! or a merchant that crashes, must not lose the promise made by the acknowledgement. So the handler
//! only *writes down* the callback, in the same transaction as the order; this worker does the calls,
//! retries what is transient, and survives restarts because its queue is the database.
//!
//! Rules the worker keeps:
//! - one callback at a time per order, oldest first (a `resend` never overtakes the `send`);
//! - one call per row, and one row per acknowledged notification: a second `resend` that arrives
//!   while the first one's call is in flight waits behind it and gets its own call (C6);
//! - never an order whose notification is still being answered ([`crate::exchanges`]);
//! - transient failures are retried with [`crate::backoff`] until the platform would have closed the
//!   order anyway (2 h, FAQ 2.9); terminal ones are recorded and not retried (C8);
//! - `code-alreay-send` (sic) on `send` means an earlier attempt got through: success (G7). That is
//!   also what makes a crash in the middle of a call harmless: the restarted worker calls again, with
//!   the same codes read from the database.

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use rusqlite::{OptionalExtension, params};
use tokio::task::JoinSet;

use crate::backoff;
use crate::server::AppState;
use crate::store::StoreError;
use crate::top_client::CallError;

/// After this long a transient failure is final: the platform closes an order 2 h after payment
/// when it has no codes (FAQ 2.9), so calling later cannot help.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(2 * 3600);
/// Callbacks in flight at once (different orders).
const MAX_IN_FLIGHT: usize = 16;
/// How long the worker sleeps with nothing due; a safety net, since every new row rings the bell.
const IDLE_POLL: Duration = Duration::from_secs(30);

/// The `error_code` we give `failsend` (PROTOCOL §5.6: values unknown, any integer accepted).
const FAILSEND_TOO_MANY_UNITS: i64 = 1;

/// A running worker; dropping it stops the worker and every call it has in flight (their rows stay
/// pending and are retried by the next worker).
#[derive(Debug)]
pub struct WorkerHandle(tokio::task::JoinHandle<()>);

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts the worker on the current runtime.
pub fn spawn(state: AppState) -> WorkerHandle {
    WorkerHandle(tokio::spawn(run(state)))
}

/// A pending row at the head of its order's queue.
#[derive(Debug, Clone)]
struct Due {
    id: i64,
    order_id: i64,
    api: String,
    attempts: u32,
    created_at: i64,
    next_attempt_at: i64,
}

/// Orders with a call in flight, by the task that makes the call.
///
/// Only the worker loop touches it, and an order leaves it when the loop *joins* the task, never from
/// inside the task. That is what makes each callback happen once: [`dispatch`] works from a snapshot
/// of the outbox read at the start of the pass, and a task that finished (and marked its row done)
/// while that snapshot was being read must still count as busy, or its row, still `pending` in the
/// snapshot, would be called a second time. A task is joined only after its result is committed, and
/// the next pass reads a new snapshot after the join, so that snapshot already shows the row settled.
type Busy = HashMap<tokio::task::Id, i64>;

/// The worker loop: dispatch what is due, then sleep until the next due time, a ring, or a finished call.
async fn run(state: AppState) {
    let mut busy = Busy::new();
    // Dropping the JoinSet (when this future is dropped) aborts every call in flight.
    let mut tasks = JoinSet::new();
    loop {
        let next_due = match dispatch(&state, &mut busy, &mut tasks).await {
            Ok(next_due) => next_due,
            Err(e) => {
                tracing::warn!(error = %e, "outbox: reading due callbacks failed");
                Some(Utc::now().timestamp_millis() + 1000)
            }
        };
        let wait = next_due
            .map(|at| Duration::from_millis(u64::try_from(at - Utc::now().timestamp_millis()).unwrap_or(0)))
            .unwrap_or(IDLE_POLL)
            .min(IDLE_POLL);
        tokio::select! {
            () = state.exchanges.rung() => {}
            () = tokio::time::sleep(wait) => {}
            Some(joined) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                reap(&mut busy, joined);
                while let Some(joined) = tasks.try_join_next_with_id() {
                    reap(&mut busy, joined);
                }
            }
        }
    }
}

/// Frees the order of a finished (or, if it panicked, failed) call.
fn reap(busy: &mut Busy, joined: Result<(tokio::task::Id, ()), tokio::task::JoinError>) {
    let id = match joined {
        Ok((id, ())) => id,
        Err(e) => {
            // The row stays pending and is called again: a repeat the platform recognises.
            tracing::warn!(error = %e, "outbox: a callback task failed");
            e.id()
        }
    };
    busy.remove(&id);
}

/// Starts a call for every due head row that is free; returns the earliest due time among the rest.
async fn dispatch(state: &AppState, busy: &mut Busy, tasks: &mut JoinSet<()>) -> Result<Option<i64>, StoreError> {
    let heads = state.store.run(load_heads).await?;
    let now = Utc::now().timestamp_millis();
    let mut next_due = None;
    for due in heads {
        // Busy and open orders are skipped without a due time: finishing the call, or closing the
        // exchange, wakes the loop.
        if busy.values().any(|&o| o == due.order_id) || state.exchanges.is_open(due.order_id) {
            continue;
        }
        if due.next_attempt_at > now {
            next_due = Some(next_due.map_or(due.next_attempt_at, |n: i64| n.min(due.next_attempt_at)));
            continue;
        }
        if busy.len() >= MAX_IN_FLIGHT {
            break;
        }
        let (state, order_id) = (state.clone(), due.order_id);
        let task = tasks.spawn(async move { attempt(&state, due).await });
        busy.insert(task.id(), order_id);
    }
    Ok(next_due)
}

/// The oldest pending row of each order, soonest due first, at most 256: read through the `outbox_due` index
/// in due order, so its cost does not grow with the backlog.
const HEADS: &str = "SELECT id, order_id, api, attempts, created_at, next_attempt_at FROM outbox o
     WHERE status = 'pending'
       AND id = (SELECT min(id) FROM outbox p WHERE p.order_id = o.order_id AND p.status = 'pending')
     ORDER BY next_attempt_at LIMIT 256";

/// The rows of [`HEADS`].
fn load_heads(conn: &mut rusqlite::Connection) -> Result<Vec<Due>, StoreError> {
    let mut stmt = conn.prepare_cached(HEADS)?;
    let rows = stmt.query_map([], |r| {
        Ok(Due {
            id: r.get(0)?,
            order_id: r.get(1)?,
            api: r.get(2)?,
            attempts: r.get(3)?,
            created_at: r.get(4)?,
            next_attempt_at: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The TOP call one row stands for.
#[derive(Debug)]
struct Call {
    api: &'static str,
    params: Vec<(&'static str, String)>,
}

/// How one attempt ended.
#[derive(Debug)]
enum Settled {
    Done(&'static str),
    /// Nothing to call (e.g. every code used up since the resend was queued).
    Skipped(&'static str),
    Failed(CallError),
}

/// Makes one attempt at one row and records the result.
async fn attempt(state: &AppState, due: Due) {
    let (id, order_id, api) = (due.id, due.order_id, due.api.clone());
    let settled = match state.store.run(move |conn| build_call(conn, order_id, &api)).await {
        Ok(None) => Settled::Skipped("nothing to call"),
        Ok(Some(call)) => match state.top.call(call.api, &call.params).await {
            Ok(_) => Settled::Done("ok"),
            Err(e) if call.api == SEND && e.top_error().is_some_and(|t| t.is_already_sent()) => {
                Settled::Done("code-alreay-send: an earlier attempt got through")
            }
            Err(e) => Settled::Failed(e),
        },
        Err(e) => {
            tracing::warn!(order_id, error = %e, "outbox: loading a callback failed");
            Settled::Failed(CallError::Transport(format!("local store: {e}")))
        }
    };
    log(&due, &settled);
    let now = Utc::now();
    let (status, attempts, next, note) = match settled {
        Settled::Done(note) => ("done", due.attempts + 1, now.timestamp_millis(), note.to_owned()),
        Settled::Skipped(note) => ("done", due.attempts, now.timestamp_millis(), note.to_owned()),
        Settled::Failed(e) if e.is_transient() => {
            let age = now.timestamp_millis() - due.created_at;
            if age > GIVE_UP_AFTER.as_millis() as i64 {
                ("failed", due.attempts + 1, now.timestamp_millis(), format!("gave up: {e}"))
            } else {
                // Code 7 keeps this backoff, not its "N more seconds": N can count to midnight, bans end sooner.
                let delay = backoff::delay(due.attempts + 1, &mut rand::rng());
                ("pending", due.attempts + 1, now.timestamp_millis() + delay.as_millis() as i64, e.to_string())
            }
        }
        Settled::Failed(e) => ("failed", due.attempts + 1, now.timestamp_millis(), e.to_string()),
    };
    let recorded = state
        .store
        .run(move |conn| {
            // `status = 'pending'` guards against resurrecting a row a `cancel` dropped meanwhile.
            conn.execute(
                "UPDATE outbox SET status = ?1, attempts = ?2, next_attempt_at = ?3, last_error = ?4
                 WHERE id = ?5 AND status = 'pending'",
                params![status, attempts, next, note, id],
            )
            .map_err(StoreError::from)
        })
        .await;
    if let Err(e) = recorded {
        tracing::warn!(order_id = due.order_id, error = %e, "outbox: recording a callback result failed");
    }
}

const SEND: &str = "taobao.vmarket.eticket.send";
const RESEND: &str = "taobao.vmarket.eticket.resend";
const FAILSEND: &str = "taobao.vmarket.eticket.failsend";

/// Reads what the call needs from the database, at call time.
///
/// `send` reports every code with the count it was issued with: the same set on every attempt, before
/// and after a crash. `resend` reports the codes still usable with what is left on each, read now, so
/// a redemption made since the notification is reflected (the platform checks the counts add up to
/// `left_num`, PROTOCOL §5.2).
fn build_call(conn: &mut rusqlite::Connection, order_id: i64, api: &str) -> Result<Option<Call>, StoreError> {
    let order: Option<(String, String)> = conn
        .query_row("SELECT token, status FROM orders WHERE order_id = ?1", [order_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    // A cancel that committed after this row was picked up wins: no callback for a cancelled order (C7).
    let Some((token, _)) = order.filter(|(_, status)| status != "cancelled") else { return Ok(None) };
    let order = order_id.to_string();
    let codes = |filter: &str, count: &str| -> Result<String, StoreError> {
        let sql = format!("SELECT code, {count} FROM codes WHERE order_id = ?1 {filter} ORDER BY position");
        let mut stmt = conn.prepare(&sql)?;
        let pairs = stmt
            .query_map([order_id], |r| Ok(format!("{}:{}", r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(pairs.join(","))
    };
    let call = match api {
        "send" => {
            let verify_codes = codes("", "issued")?;
            Call { api: SEND, params: vec![("order_id", order), ("token", token), ("verify_codes", verify_codes)] }
        }
        "resend" => {
            let verify_codes = codes("AND voided = 0 AND remaining > 0", "remaining")?;
            if verify_codes.is_empty() {
                return Ok(None);
            }
            Call { api: RESEND, params: vec![("order_id", order), ("token", token), ("verify_codes", verify_codes)] }
        }
        "failsend" => Call {
            api: FAILSEND,
            params: vec![
                ("order_id", order),
                ("token", token),
                ("error_code", FAILSEND_TOO_MANY_UNITS.to_string()),
                ("error_msg", format!("订单份数超过商家单笔上限 {}", crate::orders::MAX_UNITS)),
            ],
        },
        _ => return Ok(None),
    };
    Ok(Some(call))
}

fn log(due: &Due, settled: &Settled) {
    match settled {
        Settled::Done(note) => tracing::info!(order_id = due.order_id, api = %due.api, note, "callback succeeded"),
        Settled::Skipped(note) => tracing::info!(order_id = due.order_id, api = %due.api, note, "callback skipped"),
        Settled::Failed(e) => tracing::warn!(
            order_id = due.order_id,
            api = %due.api,
            attempt = due.attempts + 1,
            transient = e.is_transient(),
            error = %e,
            "callback failed"
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::store::Store;

    #[test]
    fn the_due_rows_are_read_in_due_order_through_an_index_without_sorting_the_backlog() {
        let store = Store::open(Path::new(":memory:")).unwrap();
        store.with_connection(|conn| {
            let plan: Vec<String> = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {HEADS}"))
                .unwrap()
                .query_map([], |r| r.get::<_, String>(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert!(plan.iter().any(|step| step.contains("outbox_due")), "{plan:?}");
            assert!(!plan.iter().any(|step| step.contains("TEMP B-TREE")), "{plan:?}");
            // Order 2's second row waits behind its first; order 3's row is done; the rest come soonest first.
            for (order_id, status, due) in [(1, "pending", 30), (2, "pending", 20), (2, "pending", 5), (3, "done", 1)] {
                conn.execute(
                    "INSERT INTO outbox (order_id, api, status, next_attempt_at, created_at) VALUES (?1, 'send', ?2, ?3, 0)",
                    params![order_id, status, due],
                )
                .unwrap();
            }
            let heads = load_heads(conn).unwrap();
            let order: Vec<(i64, i64)> = heads.iter().map(|d| (d.order_id, d.next_attempt_at)).collect();
            assert_eq!(order, [(2, 20), (1, 30)]);
        });
    }
}
