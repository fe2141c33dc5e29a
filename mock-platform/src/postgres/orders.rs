//! Orders as `json` documents: creation, a change in one transaction with the row locked (`SELECT … FOR UPDATE`),
//! reads, and the effects a change applies in its own transaction ([`Tx`]).

use deadpool_postgres::GenericClient;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_postgres::types::Json;

use super::exchanges::{self, ExchangeKind};
use super::pipeline::{Batch, Param};
use super::{JsonBytes, PgError, PgStore};

/// One consume of an order as the cross-order query (`oplogs.get`) reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsumeRow {
    /// When, on the merchant's clock (epoch ms): the query's range and order.
    pub at_ms: i64,
    /// The consume as the model serializes it.
    pub doc: serde_json::Value,
}

/// What a change sees besides its document (its clock's now, whether its auto-close timer is due) and what it wants
/// done in the same transaction. Nothing of it reaches the database unless the transaction commits.
#[derive(Debug)]
pub struct Tx {
    /// Now on the order's merchant's clock (epoch ms), read on the database's clock with the row locked.
    pub now_ms: i64,
    /// Whether the order's auto-close timer is due (`close_at <= clock_timestamp()`): whoever holds the row and
    /// clears it fires it, so it fires once.
    pub close_due: bool,
    /// The order's merchant's document, where the locking query joined it (`with_order`, `lease_due`).
    pub merchant: Option<serde_json::Value>,
    pub(super) effects: Effects,
}

#[derive(Debug, Default)]
pub(super) struct Effects {
    /// A head was queued on an empty queue: index its due time (merchant-clock ms) if no head is indexed.
    enqueue: Option<i64>,
    /// The head after a settle or a lease that attempts nothing: `Some(None)` = queue empty.
    pub(super) next_due: Option<Option<i64>>,
    /// The auto-close timer (merchant-clock ms), set or cleared.
    pub(super) close_at: Option<Option<i64>>,
    pub(super) state: Option<String>,
    exchanges: Vec<(ExchangeKind, serde_json::Value)>,
    consumes: Option<Vec<ConsumeRow>>,
    /// Fault and image rows, written in the order asked (a notification fault may wait, then be used, in one change).
    rows: Vec<RowEffect>,
}

/// A fault or image row a change writes in its transaction (the store seam's `Effect`s that are not the order's).
#[derive(Debug)]
enum RowEffect {
    GatewayFault { id: i64, method: String, app_key: Option<String>, times: i32, action: serde_json::Value },
    FaultWaiting(i64),
    FaultUsed(i64),
    QrImage(String, Vec<u8>),
}

impl Tx {
    pub(super) fn new(now_ms: i64, close_due: bool) -> Self {
        Self { now_ms, close_due, merchant: None, effects: Effects::default() }
    }

    /// The order's delivery queue got a head at `due_ms` (merchant clock) while it was empty: index it (a head
    /// already indexed stays as it is) and wake the dispatchers.
    pub fn enqueue(&mut self, due_ms: i64) {
        self.effects.enqueue = Some(due_ms);
    }

    /// After a settle (or a lease that attempts nothing): the queue's head is next due at this time, or the queue is
    /// empty (`None`). Not called: the queue is taken as empty and its row removed.
    pub fn next_due(&mut self, due_ms: Option<i64>) {
        self.effects.next_due = Some(due_ms);
    }

    /// Sets (`Some`, merchant-clock ms) or clears (`None`) the auto-close timer.
    pub fn close_at(&mut self, at_ms: Option<i64>) {
        self.effects.close_at = Some(at_ms);
    }

    /// The order's state column (the `orders(app_key, state)` index), when it changed.
    pub fn state(&mut self, state: impl Into<String>) {
        self.effects.state = Some(state.into());
    }

    /// Records an exchange of this order (caps as `Data::record`).
    pub fn record(&mut self, kind: ExchangeKind, doc: serde_json::Value) {
        self.effects.exchanges.push((kind, doc));
    }

    /// Replaces the order's rows in the cross-order consumes query.
    pub fn consumes(&mut self, rows: Vec<ConsumeRow>) {
        self.effects.consumes = Some(rows);
    }

    /// Arms a gateway fault for this order under `id` (reserved with [`PgStore::reserve_fault_ids`]).
    pub fn arm_gateway_fault(
        &mut self,
        id: i64,
        method: impl Into<String>,
        app_key: Option<String>,
        times: i32,
        action: serde_json::Value,
    ) {
        self.effects.rows.push(RowEffect::GatewayFault { id, method: method.into(), app_key, times, action });
    }

    /// Notification fault `id`'s alteration now waits on this order: index it.
    pub fn notification_fault_waiting(&mut self, id: i64) {
        self.effects.rows.push(RowEffect::FaultWaiting(id));
    }

    /// Notification fault `id`'s alteration was taken by a notification: no longer indexed.
    pub fn notification_fault_used(&mut self, id: i64) {
        self.effects.rows.push(RowEffect::FaultUsed(id));
    }

    /// Keeps (or replaces) an image uploaded with qrcode.upload, in this change's transaction.
    pub fn put_qr_image(&mut self, name: impl Into<String>, bytes: Vec<u8>) {
        self.effects.rows.push(RowEffect::QrImage(name.into(), bytes));
    }
}

/// Appends everything a change on a locked order writes: its document with its state and auto-close columns
/// ([`write_back`]), then the effects it asked for ([`apply`]).
pub(super) async fn write_change<C: GenericClient, D: Serialize>(
    batch: &mut Batch,
    client: &C,
    order_id: i64,
    app_key: &str,
    doc: &D,
    mut effects: Effects,
) -> Result<(), PgError> {
    let close_at = effects.close_at.take();
    write_back(batch, client, order_id, doc, effects.state.take(), close_at).await?;
    apply(batch, client, order_id, app_key, effects).await
}

/// Appends the statements applying what a closure asked for, after its order's document was written.
async fn apply<C: GenericClient>(
    batch: &mut Batch,
    client: &C,
    order_id: i64,
    app_key: &str,
    effects: Effects,
) -> Result<(), PgError> {
    if let Some(due_ms) = effects.enqueue {
        // A head already indexed stays; only a new one wakes the dispatchers.
        let sql = "WITH i AS (INSERT INTO deliveries (order_id, app_key, due_at) VALUES ($1, $2, clock_wall($2, $3)) \
                   ON CONFLICT (order_id) DO NOTHING RETURNING 1) SELECT pg_notify('wake', '') FROM i";
        batch.push(client, sql, vec![Box::new(order_id), Box::new(app_key.to_owned()), Box::new(due_ms)]).await?;
    }
    match effects.next_due {
        None => {}
        Some(Some(due_ms)) => {
            let sql = "WITH u AS (INSERT INTO deliveries (order_id, app_key, due_at) VALUES ($1, $2, clock_wall($2, $3)) \
                       ON CONFLICT (order_id) DO UPDATE SET due_at = EXCLUDED.due_at, lease_token = NULL, \
                       lease_holder = NULL, lease_expires = NULL RETURNING 1) SELECT pg_notify('wake', '') FROM u";
            batch.push(client, sql, vec![Box::new(order_id), Box::new(app_key.to_owned()), Box::new(due_ms)]).await?;
        }
        Some(None) => {
            batch.push(client, "DELETE FROM deliveries WHERE order_id = $1", vec![Box::new(order_id)]).await?;
        }
    }
    for (kind, doc) in effects.exchanges {
        exchanges::record(batch, client, order_id, kind, doc).await?;
    }
    for row in effects.rows {
        let (sql, params): (&str, Vec<Param>) = match row {
            RowEffect::GatewayFault { id, method, app_key, times, action } => (
                "INSERT INTO gateway_faults (id, method, app_key, order_id, times_left, action) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                vec![
                    Box::new(id),
                    Box::new(method),
                    Box::new(app_key),
                    Box::new(order_id),
                    Box::new(times),
                    Box::new(JsonBytes::of(&action)?),
                ],
            ),
            RowEffect::FaultWaiting(id) => (
                "INSERT INTO notification_faults (id, order_id) VALUES ($1, $2) \
                 ON CONFLICT (id) DO UPDATE SET order_id = EXCLUDED.order_id",
                vec![Box::new(id), Box::new(order_id)],
            ),
            RowEffect::FaultUsed(id) => ("DELETE FROM notification_faults WHERE id = $1", vec![Box::new(id)]),
            RowEffect::QrImage(name, bytes) => (
                "INSERT INTO qr_images (name, bytes) VALUES ($1, $2) \
                 ON CONFLICT (name) DO UPDATE SET bytes = EXCLUDED.bytes",
                vec![Box::new(name), Box::new(bytes)],
            ),
        };
        batch.push(client, sql, params).await?;
    }
    if let Some(rows) = effects.consumes {
        batch.push(client, "DELETE FROM consumes WHERE order_id = $1", vec![Box::new(order_id)]).await?;
        for row in rows {
            let sql = "INSERT INTO consumes (order_id, app_key, at_ms, doc) VALUES ($1, $2, $3, $4)";
            let params: Vec<Param> =
                vec![Box::new(order_id), Box::new(app_key.to_owned()), Box::new(row.at_ms), Box::new(row.doc)];
            batch.push(client, sql, params).await?;
        }
    }
    Ok(())
}

/// Appends the statement writing an order's document back with its state and auto-close columns (`close_at`:
/// `None` = unchanged).
async fn write_back<C: GenericClient, D: Serialize>(
    batch: &mut Batch,
    client: &C,
    order_id: i64,
    doc: &D,
    state: Option<String>,
    close_at: Option<Option<i64>>,
) -> Result<(), PgError> {
    let sql = "UPDATE orders SET doc = $2, state = coalesce($3, state), \
               close_at = CASE WHEN NOT $4 THEN close_at WHEN $5::int8 IS NULL THEN NULL \
                               ELSE clock_wall(app_key, $5) END \
               WHERE id = $1";
    let (set_close, close_ms) = match close_at {
        None => (false, None),
        Some(at) => (true, at),
    };
    let params: Vec<Param> = vec![
        Box::new(order_id),
        Box::new(JsonBytes::of(doc)?),
        Box::new(state),
        Box::new(set_close),
        Box::new(close_ms),
    ];
    batch.push(client, sql, params).await
}

/// A pooled connection inside a transaction this module opened by hand (to pipeline `BEGIN` and `COMMIT` with the
/// statements around them). Dropped before [`Open::done`] — an error, or the caller's future cancelled — the
/// connection leaves the pool and closes, so the server rolls the transaction back and no later user of the pool
/// inherits it.
pub(super) struct Open(pub(super) Option<deadpool_postgres::Object>);

impl Open {
    pub(super) fn client(&self) -> &deadpool_postgres::Object {
        self.0.as_ref().expect("present until done")
    }

    /// The transaction has ended: the connection may go back to the pool.
    pub(super) fn done(mut self) {
        drop(self.0.take());
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            drop(deadpool_postgres::Object::take(client));
        }
    }
}

impl PgStore {
    /// Creates an order of merchant `app_key`: `f` gets its id (from the `order_ids` sequence) and a [`Tx`] (the
    /// merchant's clock) and returns the document; its effects (the first notification queued, the auto-close
    /// timer, the state) are applied in the same transaction. Returns the id and the document.
    ///
    /// # Errors
    /// The database's (an unknown merchant is a foreign key violation), or a document that does not serialize.
    pub async fn new_order<D>(&self, app_key: &str, f: impl FnOnce(i64, &mut Tx) -> D) -> Result<(i64, D), PgError>
    where
        D: Serialize,
    {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let next = tx.prepare_cached("SELECT nextval('order_ids'), clock_now_ms($1) WHERE hold_clocks()").await?;
        let row = tx.query_one(&next, &[&app_key]).await?;
        let id: i64 = row.get(0);
        let mut order_tx = Tx::new(row.get(1), false);
        let doc = f(id, &mut order_tx);
        let mut effects = order_tx.effects;
        let state = effects.state.take().unwrap_or_default();
        let close_ms = effects.close_at.take().flatten();
        let mut batch = Batch::default();
        let insert = "INSERT INTO orders (id, app_key, state, doc, close_at) \
                      VALUES ($1, $2, $3, $4, CASE WHEN $5::int8 IS NULL THEN NULL ELSE clock_wall($2, $5) END)";
        let params: Vec<Param> = vec![
            Box::new(id),
            Box::new(app_key.to_owned()),
            Box::new(state),
            Box::new(JsonBytes::of(&doc)?),
            Box::new(close_ms),
        ];
        batch.push(&tx, insert, params).await?;
        apply(&mut batch, &tx, id, app_key, effects).await?;
        batch.run(&tx).await?;
        tx.commit().await?;
        Ok((id, doc))
    }

    /// Runs `f` on order `id` with its row locked, then writes the document back and applies `f`'s effects, all in
    /// one transaction: two changes of one order never interleave. `None` when there is no such order.
    ///
    /// Three round trips: `BEGIN` with the locking `SELECT`, then the writes with `COMMIT`.
    ///
    /// # Errors
    /// The database's, or a document that does not (de)serialize.
    pub async fn with_order<D, R>(&self, id: i64, f: impl FnOnce(&mut D, &mut Tx) -> R) -> Result<Option<R>, PgError>
    where
        D: Serialize + DeserializeOwned,
    {
        let open = Open(Some(self.client().await?));
        let client = open.client();
        let begin = client.prepare_cached("BEGIN").await?;
        let commit = client.prepare_cached("COMMIT").await?;
        let select = client
            .prepare_cached(
                "SELECT o.doc, o.app_key, clock_now_ms(o.app_key), o.close_at <= clock_timestamp(), m.doc \
                 FROM orders o LEFT JOIN merchants m ON m.app_key = o.app_key \
                 WHERE o.id = $1 AND hold_clocks() FOR UPDATE OF o",
            )
            .await?;
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&id];
        let (_, row) = tokio::try_join!(client.execute(&begin, &[]), client.query_opt(&select, &params))?;
        let Some(row) = row else {
            client.execute(&commit, &[]).await?;
            open.done();
            return Ok(None);
        };
        let mut doc: D = row.get::<_, Json<D>>(0).0;
        let app_key: String = row.get(1);
        let mut order_tx = Tx::new(row.get(2), row.get::<_, Option<bool>>(3).unwrap_or(false));
        order_tx.merchant = row.get(4);
        let out = f(&mut doc, &mut order_tx);
        let mut batch = Batch::default();
        write_change(&mut batch, client, id, &app_key, &doc, order_tx.effects).await?;
        batch.push(client, "COMMIT", Vec::new()).await?;
        batch.run(client).await?;
        open.done();
        Ok(Some(out))
    }

    /// Order `id`'s document.
    ///
    /// # Errors
    /// The database's, or a document that does not deserialize.
    pub async fn order<D: DeserializeOwned>(&self, id: i64) -> Result<Option<D>, PgError> {
        let client = self.client().await?;
        let statement = client.prepare_cached("SELECT doc FROM orders WHERE id = $1").await?;
        Ok(client.query_opt(&statement, &[&id]).await?.map(|r| r.get::<_, Json<D>>(0).0))
    }

    /// Orders by id, of one merchant and/or in one state when given.
    ///
    /// # Errors
    /// The database's, or a document that does not deserialize.
    pub async fn orders<D: DeserializeOwned>(
        &self,
        app_key: Option<&str>,
        state: Option<&str>,
    ) -> Result<Vec<(i64, D)>, PgError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, doc FROM orders WHERE ($1::text IS NULL OR app_key = $1) \
                 AND ($2::text IS NULL OR state = $2) ORDER BY id",
                &[&app_key, &state],
            )
            .await?;
        Ok(rows.into_iter().map(|r| (r.get(0), r.get::<_, Json<D>>(1).0)).collect())
    }

    /// A merchant's consumes with `from_ms <= at_ms < to_ms`, by time then order (the one cross-order read).
    ///
    /// # Errors
    /// The database's.
    pub async fn consumes(&self, app_key: &str, from_ms: i64, to_ms: i64) -> Result<Vec<(i64, ConsumeRow)>, PgError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT order_id, at_ms, doc FROM consumes WHERE app_key = $1 AND at_ms >= $2 AND at_ms < $3 \
                 ORDER BY at_ms, order_id",
                &[&app_key, &from_ms, &to_ms],
            )
            .await?;
        Ok(rows.into_iter().map(|r| (r.get(0), ConsumeRow { at_ms: r.get(1), doc: r.get(2) })).collect())
    }

    /// Whether merchant `app_key` exists, and the merchant of order `id` (`None`: no such order), in one query.
    ///
    /// # Errors
    /// The database's.
    pub async fn merchant_and_order_owner(&self, app_key: &str, id: i64) -> Result<(bool, Option<String>), PgError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM merchants WHERE app_key = $1), (SELECT app_key FROM orders WHERE id = $2)",
            )
            .await?;
        let row = client.query_one(&statement, &[&app_key, &id]).await?;
        Ok((row.get(0), row.get(1)))
    }

    /// The merchant of order `id`, `None` when there is no such order.
    ///
    /// # Errors
    /// The database's.
    pub async fn order_app_key(&self, id: i64) -> Result<Option<String>, PgError> {
        let client = self.client().await?;
        let statement = client.prepare_cached("SELECT app_key FROM orders WHERE id = $1").await?;
        Ok(client.query_opt(&statement, &[&id]).await?.map(|r| r.get(0)))
    }
}
