//! The delivery queue as rows: leasing due heads with `FOR UPDATE … SKIP LOCKED` (each attempt made by exactly one
//! replica), settling an attempt only where its lease still holds, auto-close timers fired once, and how long a
//! dispatcher may sleep. Every time compared is the database's `clock_timestamp()`.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_postgres::types::Json;

use super::orders::{self, Tx};
use super::pipeline::{Batch, Param};
use super::{PgError, PgStore};

/// A lease on one order's queue head: the holder may attempt it and settle it until it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The order whose head is leased.
    pub order_id: i64,
    /// The lease token (a uuid): a settle writes only where the row still carries it.
    pub token: String,
}

/// What became of a settle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled<R> {
    /// The lease held: the closure's outcome was written.
    Done(R),
    /// The lease had expired or been taken by another replica: nothing was written, not even the exchange.
    Lost,
}

/// A lease token: a random (version 4) uuid, in its text form.
fn new_token() -> String {
    let mut bytes: [u8; 16] = rand::random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// How many orders `run_closes` fires per transaction.
const CLOSE_BATCH: i64 = 100;

impl PgStore {
    /// Leases up to `max` due heads that no live lease holds, oldest due first, skipping rows another transaction
    /// holds. For each, `f` gets the order's document, a [`Tx`] (its merchant's clock) and whether the row carried an
    /// expired lease (its holder died mid-attempt), and returns what to attempt; the document is written back. `None`
    /// attempts nothing: the head is rescheduled or removed per [`Tx::next_due`] (removed when not called).
    ///
    /// # Errors
    /// The database's, or a document that does not (de)serialize.
    pub async fn lease_due<D, T>(
        &self,
        max: i64,
        mut f: impl FnMut(&mut D, &mut Tx, bool) -> Option<T>,
    ) -> Result<Vec<(Lease, T)>, PgError>
    where
        D: Serialize + DeserializeOwned,
    {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT hold_clocks()", &[]).await?;
        let select = tx
            .prepare_cached(
                "SELECT d.order_id, o.app_key, d.lease_expires IS NOT NULL, o.doc, clock_now_ms(o.app_key), m.doc \
                 FROM deliveries d JOIN orders o ON o.id = d.order_id \
                   LEFT JOIN merchants m ON m.app_key = o.app_key \
                 WHERE d.due_at <= clock_timestamp() \
                   AND (d.lease_expires IS NULL OR d.lease_expires <= clock_timestamp()) \
                 ORDER BY d.due_at LIMIT $1 FOR UPDATE OF d, o SKIP LOCKED",
            )
            .await?;
        let lease_ms = self.inner.options.lease.as_secs_f64() * 1000.0;
        let mut leased = Vec::new();
        // Every row's writes and lease go in one pipelined batch (the token is made here, so nothing waits on a
        // RETURNING): a round of 32 leases costs four round trips, not two per lease.
        let mut batch = Batch::default();
        for row in tx.query(&select, &[&max]).await? {
            let order_id: i64 = row.get(0);
            let app_key: String = row.get(1);
            let mut doc: D = row.get::<_, Json<D>>(3).0;
            let mut order_tx = Tx::new(row.get(4), false);
            order_tx.merchant = row.get(5);
            let attempt = f(&mut doc, &mut order_tx, row.get(2));
            let mut effects = order_tx.effects;
            if attempt.is_some() {
                // The head stays where it is, leased below.
                effects.next_due = None;
            } else {
                effects.next_due.get_or_insert(None);
            }
            orders::write_change(&mut batch, &tx, order_id, &app_key, &doc, effects).await?;
            if let Some(attempt) = attempt {
                let token = new_token();
                let sql = "UPDATE deliveries SET lease_token = $2::text::uuid, lease_holder = $3, \
                               lease_expires = clock_timestamp() + $4::float8 * interval '1 millisecond' \
                               WHERE order_id = $1";
                let params: Vec<Param> = vec![
                    Box::new(order_id),
                    Box::new(token.clone()),
                    Box::new(self.inner.options.replica_id.clone()),
                    Box::new(lease_ms),
                ];
                batch.push(&tx, sql, params).await?;
                leased.push((Lease { order_id, token }, attempt));
            }
        }
        batch.run(&tx).await?;
        tx.commit().await?;
        Ok(leased)
    }

    /// Writes an attempt's outcome, only if `lease` still holds (its token on the row, unexpired on the database's
    /// clock): `f` gets the document and a [`Tx`] (record the exchange, say the head's [`Tx::next_due`]); then
    /// `NOTIFY settled, '<order id>'`. A lost lease writes nothing and returns [`Settled::Lost`].
    ///
    /// # Errors
    /// The database's, or a document that does not (de)serialize.
    pub async fn settle<D, R>(&self, lease: &Lease, f: impl FnOnce(&mut D, &mut Tx) -> R) -> Result<Settled<R>, PgError>
    where
        D: Serialize + DeserializeOwned,
    {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // Orders before deliveries (the lock order); the lease is checked again on the locked row's latest version.
        let select = tx
            .prepare_cached(
                "SELECT o.doc, o.app_key, clock_now_ms(o.app_key), o.close_at <= clock_timestamp() \
                 FROM orders o JOIN deliveries d ON d.order_id = o.id \
                 WHERE o.id = $1 AND d.lease_token = $2::text::uuid AND d.lease_expires > clock_timestamp() \
                   AND hold_clocks() \
                 FOR UPDATE OF o, d",
            )
            .await?;
        let Some(row) = tx.query_opt(&select, &[&lease.order_id, &lease.token]).await? else {
            tx.rollback().await?;
            return Ok(Settled::Lost);
        };
        let mut doc: D = row.get::<_, Json<D>>(0).0;
        let app_key: String = row.get(1);
        let mut order_tx = Tx::new(row.get(2), row.get::<_, Option<bool>>(3).unwrap_or(false));
        let out = f(&mut doc, &mut order_tx);
        let mut effects = order_tx.effects;
        effects.next_due.get_or_insert(None);
        let mut batch = Batch::default();
        orders::write_change(&mut batch, &tx, lease.order_id, &app_key, &doc, effects).await?;
        batch.push(&tx, "SELECT pg_notify('settled', $1)", vec![Box::new(lease.order_id.to_string())]).await?;
        batch.run(&tx).await?;
        tx.commit().await?;
        Ok(Settled::Done(out))
    }

    /// Fires every due auto-close timer once: orders whose `close_at` has passed, skipping rows another transaction
    /// holds; `f` runs with [`Tx::close_due`] set and the timer is cleared unless `f` sets another. Batches of 100
    /// until none is left. Returns how many fired here.
    ///
    /// # Errors
    /// The database's, or a document that does not (de)serialize.
    pub async fn run_closes<D>(&self, f: impl FnMut(i64, &mut D, &mut Tx)) -> Result<usize, PgError>
    where
        D: Serialize + DeserializeOwned,
    {
        self.closes(f, true).await
    }

    /// [`PgStore::run_closes`], waiting for due rows another transaction holds instead of skipping them: when it
    /// returns, every timer due when it started has fired, here or elsewhere (`POST /admin/clock` answers after the
    /// auto-closes it made due, whichever replica fires them). A row fired meanwhile by its holder no longer matches
    /// once its lock is released (`close_at` cleared), so it is not fired twice.
    ///
    /// # Errors
    /// The database's, or a document that does not (de)serialize.
    pub async fn run_closes_waiting<D>(&self, f: impl FnMut(i64, &mut D, &mut Tx)) -> Result<usize, PgError>
    where
        D: Serialize + DeserializeOwned,
    {
        self.closes(f, false).await
    }

    async fn closes<D>(&self, mut f: impl FnMut(i64, &mut D, &mut Tx), skip_locked: bool) -> Result<usize, PgError>
    where
        D: Serialize + DeserializeOwned,
    {
        let mut fired = 0;
        loop {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            tx.execute("SELECT hold_clocks()", &[]).await?;
            let select = tx
                .prepare_cached(if skip_locked {
                    "SELECT id, app_key, doc, clock_now_ms(app_key) FROM orders \
                     WHERE close_at <= clock_timestamp() ORDER BY close_at LIMIT $1 FOR UPDATE SKIP LOCKED"
                } else {
                    "SELECT id, app_key, doc, clock_now_ms(app_key) FROM orders \
                     WHERE close_at <= clock_timestamp() ORDER BY close_at LIMIT $1 FOR UPDATE"
                })
                .await?;
            let rows = tx.query(&select, &[&CLOSE_BATCH]).await?;
            let fired_here = rows.len();
            let mut batch = Batch::default();
            for row in rows {
                let id: i64 = row.get(0);
                let app_key: String = row.get(1);
                let mut doc: D = row.get::<_, Json<D>>(2).0;
                let mut order_tx = Tx::new(row.get(3), true);
                f(id, &mut doc, &mut order_tx);
                let mut effects = order_tx.effects;
                // The timer has fired: cleared unless the closure set another.
                effects.close_at.get_or_insert(None);
                orders::write_change(&mut batch, &tx, id, &app_key, &doc, effects).await?;
            }
            batch.run(&tx).await?;
            tx.commit().await?;
            fired += fired_here;
            if (fired_here as i64) < CLOSE_BATCH {
                return Ok(fired);
            }
        }
    }

    /// How long until the next thing a dispatcher must do: a free head due, a lease expiring, an auto-close timer;
    /// zero when one is already due, `None` when there is nothing at all. Measured on the database's clock.
    ///
    /// # Errors
    /// The database's.
    pub async fn next_wake(&self) -> Result<Option<Duration>, PgError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT extract(epoch FROM least( \
                   (SELECT min(due_at) FROM deliveries WHERE lease_expires IS NULL), \
                   (SELECT min(lease_expires) FROM deliveries WHERE lease_expires IS NOT NULL), \
                   (SELECT min(close_at) FROM orders WHERE close_at IS NOT NULL)) - clock_timestamp())::float8",
            )
            .await?;
        let seconds: Option<f64> = client.query_one(&statement, &[]).await?.get(0);
        Ok(seconds.map(|s| Duration::from_secs_f64(s.max(0.0))))
    }

    /// Whether order `id` has an attempt out on some replica (an unexpired lease): the C4 hold across replicas.
    ///
    /// # Errors
    /// The database's.
    pub async fn attempt_open(&self, order_id: i64) -> Result<bool, PgError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM deliveries WHERE order_id = $1 AND lease_expires > clock_timestamp())",
            )
            .await?;
        Ok(client.query_one(&statement, &[&order_id]).await?.get(0))
    }

    /// Attempts out on any replica: unexpired leases.
    ///
    /// # Errors
    /// The database's.
    pub async fn leases_open(&self) -> Result<i64, PgError> {
        let client = self.client().await?;
        let row =
            client.query_one("SELECT count(*) FROM deliveries WHERE lease_expires > clock_timestamp()", &[]).await?;
        Ok(row.get(0))
    }

    /// Notifications queued on orders, not yet acknowledged or given up: the length of the `delivery.queue` array
    /// of every order document with a head indexed (an order whose queue is empty has no `deliveries` row).
    ///
    /// # Errors
    /// The database's.
    pub async fn queued_notifications(&self) -> Result<i64, PgError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT coalesce(sum(json_array_length(o.doc -> 'delivery' -> 'queue')), 0)::int8 \
                 FROM deliveries d JOIN orders o ON o.id = d.order_id",
                &[],
            )
            .await?;
        Ok(row.get(0))
    }
}
