//! Exchanges as rows, with the per-order caps of the in-memory store (`Data::record`): an order keeps its latest
//! 1000 gateway calls and its first 10000 exchanges in all; what is dropped is counted. Recording one is a single
//! statement (so it pipelines with the rest of a change), kept consistent by the `exchange_counts` row's lock.

use deadpool_postgres::GenericClient;
use serde::de::DeserializeOwned;
use tokio_postgres::types::Json;

use super::pipeline::Batch;
use super::{PgError, PgStore};

/// Which cap an exchange falls under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExchangeKind {
    /// A gateway call: past 1000, the order's oldest gateway call is dropped for the new one.
    Gateway,
    /// A notification attempt: once the order keeps 10000 exchanges, a new attempt is dropped.
    Attempt,
}

impl ExchangeKind {
    fn from_code(code: i8) -> Self {
        if code == b'g' as i8 { ExchangeKind::Gateway } else { ExchangeKind::Attempt }
    }
}

/// A gateway call: counted, inserted, and the order's oldest gateway call deleted once more than 1000 were seen
/// (the `DELETE`'s subquery sees the rows before this statement, so never the new one). Caps as store.rs'
/// `MAX_GATEWAY_CALLS`.
const RECORD_GATEWAY: &str = "\
WITH c AS (INSERT INTO exchange_counts (order_id, gateway_seen) VALUES ($1, 1) \
  ON CONFLICT (order_id) DO UPDATE SET gateway_seen = exchange_counts.gateway_seen + 1 RETURNING gateway_seen), \
 i AS (INSERT INTO exchanges (order_id, kind, doc) SELECT $1, 'g', $2 FROM c) \
DELETE FROM exchanges WHERE (SELECT gateway_seen FROM c) > 1000 \
  AND seq = (SELECT min(seq) FROM exchanges WHERE order_id = $1 AND kind = 'g')";

/// An attempt: admitted while the order keeps fewer than 10000 exchanges (store.rs' `MAX_EXCHANGES`), else counted
/// as dropped.
const RECORD_ATTEMPT: &str = "\
WITH c AS (INSERT INTO exchange_counts (order_id, attempts_kept) VALUES ($1, 1) \
  ON CONFLICT (order_id) DO UPDATE SET \
    attempts_kept = exchange_counts.attempts_kept \
      + (least(exchange_counts.gateway_seen, 1000) + exchange_counts.attempts_kept < 10000)::int, \
    attempts_dropped = exchange_counts.attempts_dropped \
      + (least(exchange_counts.gateway_seen, 1000) + exchange_counts.attempts_kept >= 10000)::int, \
    last_admitted = least(exchange_counts.gateway_seen, 1000) + exchange_counts.attempts_kept < 10000 \
  RETURNING last_admitted) \
INSERT INTO exchanges (order_id, kind, doc) SELECT $1, 'a', $2 FROM c WHERE c.last_admitted";

/// Appends the statement recording one exchange of `order_id`.
pub(super) async fn record<C: GenericClient>(
    batch: &mut Batch,
    client: &C,
    order_id: i64,
    kind: ExchangeKind,
    doc: serde_json::Value,
) -> Result<(), PgError> {
    let sql = match kind {
        ExchangeKind::Gateway => RECORD_GATEWAY,
        ExchangeKind::Attempt => RECORD_ATTEMPT,
    };
    batch.push(client, sql, vec![Box::new(order_id), Box::new(doc)]).await
}

/// [`RECORD_GATEWAY`] only when order `$1` is merchant `$3`'s (INTERFACES §1 "Recorded exchanges"); answers the
/// order's gateway calls seen so far, none when it recorded nothing.
const RECORD_OWN_GATEWAY: &str = "\
WITH ok AS (SELECT 1 FROM orders WHERE id = $1 AND app_key = $3), \
 c AS (INSERT INTO exchange_counts (order_id, gateway_seen) SELECT $1, 1 FROM ok \
  ON CONFLICT (order_id) DO UPDATE SET gateway_seen = exchange_counts.gateway_seen + 1 RETURNING gateway_seen), \
 i AS (INSERT INTO exchanges (order_id, kind, doc) SELECT $1, 'g', $2 FROM c), \
 d AS (DELETE FROM exchanges WHERE (SELECT gateway_seen FROM c) > 1000 \
  AND seq = (SELECT min(seq) FROM exchanges WHERE order_id = $1 AND kind = 'g')) \
SELECT gateway_seen::int8 FROM c";

impl PgStore {
    /// Records a gateway call on order `order_id` if it is merchant `app_key`'s, in one statement: `None` when it
    /// is not (nothing written), else whether an older gateway call was dropped for it.
    ///
    /// # Errors
    /// The database's.
    pub async fn record_own_gateway_call(
        &self,
        app_key: &str,
        order_id: i64,
        doc: serde_json::Value,
    ) -> Result<Option<bool>, PgError> {
        let client = self.client().await?;
        let statement = client.prepare_cached(RECORD_OWN_GATEWAY).await?;
        let row = client.query_opt(&statement, &[&order_id, &doc, &app_key]).await?;
        Ok(row.map(|r| r.get::<_, i64>(0) > 1000))
    }

    /// Records an exchange in a statement of its own (one not made inside an order's change, e.g. a gateway call
    /// naming an order that does not exist).
    ///
    /// # Errors
    /// The database's.
    pub async fn record_exchange(
        &self,
        order_id: i64,
        kind: ExchangeKind,
        doc: serde_json::Value,
    ) -> Result<(), PgError> {
        let client = self.client().await?;
        let mut batch = Batch::default();
        record(&mut batch, &client, order_id, kind, doc).await?;
        batch.run(&client).await
    }

    /// An order's exchanges in the order they were recorded, and how many were dropped.
    ///
    /// # Errors
    /// The database's, or a document that does not deserialize.
    pub async fn exchanges<E: DeserializeOwned>(
        &self,
        order_id: i64,
    ) -> Result<(Vec<(ExchangeKind, E)>, u64), PgError> {
        let client = self.client().await?;
        let rows =
            client.query("SELECT kind, doc FROM exchanges WHERE order_id = $1 ORDER BY seq", &[&order_id]).await?;
        let list = rows.into_iter().map(|r| (ExchangeKind::from_code(r.get(0)), r.get::<_, Json<E>>(1).0)).collect();
        let dropped: Option<i64> = client
            .query_opt(
                "SELECT greatest(gateway_seen - 1000, 0) + attempts_dropped FROM exchange_counts WHERE order_id = $1",
                &[&order_id],
            )
            .await?
            .map(|r| r.get(0));
        Ok((list, dropped.unwrap_or(0).max(0) as u64))
    }
}
