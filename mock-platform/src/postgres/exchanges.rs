//! Exchanges as rows, with the per-order caps of the in-memory store (`Data::record`): an order keeps its latest
//! 1000 gateway calls and its first 10000 exchanges in all; what is dropped is counted.

use serde::de::DeserializeOwned;
use tokio_postgres::types::Json;

use super::{PgError, PgStore};

/// An order keeps its latest this many gateway calls (store.rs `MAX_GATEWAY_CALLS`).
const MAX_GATEWAY_CALLS: i32 = 1000;
/// An order keeps at most this many exchanges; later notification attempts are dropped (store.rs `MAX_EXCHANGES`).
const MAX_EXCHANGES: i32 = 10_000;

/// Which cap an exchange falls under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExchangeKind {
    /// A gateway call: the oldest is dropped for a new one past the cap.
    Gateway,
    /// A notification attempt: a new one is dropped past the cap.
    Attempt,
}

impl ExchangeKind {
    fn code(self) -> i8 {
        match self {
            ExchangeKind::Gateway => b'g' as i8,
            ExchangeKind::Attempt => b'a' as i8,
        }
    }

    fn from_code(code: i8) -> Self {
        if code == b'g' as i8 { ExchangeKind::Gateway } else { ExchangeKind::Attempt }
    }
}

/// Records one exchange of `order_id` inside `tx`. Returns whether an exchange was dropped. The `exchange_counts`
/// row's lock serialises two recorders of one order.
pub(super) async fn record(
    tx: &deadpool_postgres::Transaction<'_>,
    order_id: i64,
    kind: ExchangeKind,
    doc: &serde_json::Value,
) -> Result<bool, PgError> {
    match kind {
        ExchangeKind::Gateway => {
            let insert = tx
                .prepare_cached(
                    "WITH c AS (INSERT INTO exchange_counts (order_id, gateway, total) VALUES ($1, 1, 1) \
                       ON CONFLICT (order_id) DO UPDATE \
                       SET gateway = exchange_counts.gateway + 1, total = exchange_counts.total + 1 \
                       RETURNING gateway) \
                     INSERT INTO exchanges (order_id, kind, doc) SELECT $1, 'g', $2 FROM c \
                     RETURNING (SELECT gateway FROM c)",
                )
                .await?;
            let calls: i32 = tx.query_one(&insert, &[&order_id, doc]).await?.get(0);
            if calls <= MAX_GATEWAY_CALLS {
                return Ok(false);
            }
            let trim = tx
                .prepare_cached(
                    "WITH old AS (DELETE FROM exchanges WHERE seq = \
                       (SELECT min(seq) FROM exchanges WHERE order_id = $1 AND kind = 'g')) \
                     UPDATE exchange_counts SET gateway = gateway - 1, total = total - 1, dropped = dropped + 1 \
                     WHERE order_id = $1",
                )
                .await?;
            tx.execute(&trim, &[&order_id]).await?;
            Ok(true)
        }
        ExchangeKind::Attempt => {
            let count = tx
                .prepare_cached(
                    "INSERT INTO exchange_counts (order_id, total) VALUES ($1, 1) \
                     ON CONFLICT (order_id) DO UPDATE SET total = exchange_counts.total + 1 RETURNING total",
                )
                .await?;
            let total: i32 = tx.query_one(&count, &[&order_id]).await?.get(0);
            if total > MAX_EXCHANGES {
                let drop = tx
                    .prepare_cached(
                        "UPDATE exchange_counts SET total = total - 1, dropped = dropped + 1 WHERE order_id = $1",
                    )
                    .await?;
                tx.execute(&drop, &[&order_id]).await?;
                return Ok(true);
            }
            let insert = tx.prepare_cached("INSERT INTO exchanges (order_id, kind, doc) VALUES ($1, $2, $3)").await?;
            tx.execute(&insert, &[&order_id, &kind.code(), doc]).await?;
            Ok(false)
        }
    }
}

impl PgStore {
    /// Records an exchange in a transaction of its own (one not made inside an order's change, e.g. a gateway call
    /// naming an order that does not exist). Returns whether an exchange was dropped.
    ///
    /// # Errors
    /// The database's.
    pub async fn record_exchange(
        &self,
        order_id: i64,
        kind: ExchangeKind,
        doc: &serde_json::Value,
    ) -> Result<bool, PgError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let dropped = record(&tx, order_id, kind, doc).await?;
        tx.commit().await?;
        Ok(dropped)
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
            .query_opt("SELECT dropped FROM exchange_counts WHERE order_id = $1", &[&order_id])
            .await?
            .map(|r| r.get(0));
        Ok((list, dropped.unwrap_or(0).max(0) as u64))
    }
}
