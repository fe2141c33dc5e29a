//! The write-behind of the SQLite backend (`--db PATH`; INTERFACES.md §1: everything survives a restart).
//!
//! Design: a write-behind of the in-memory store, not a second source of truth. The platform keeps
//! working on the plain structs of [`Data`] under its one lock; every order or merchant handed out
//! mutably is marked dirty ([`super::data::Tracked`]), every exchange recorded is queued as a row, and
//! before the lock is released (`sqlite.rs`: every operation ends with it) [`Data::flush`] writes the dirty rows in one
//! transaction. So a change is on disk before anyone else can observe it (the lock is held while
//! writing), nothing has to remember to save, and a mutation site added later is covered as long as it
//! goes through `get_mut`/`insert`. WAL with `synchronous=NORMAL`: a commit is an append to the WAL
//! without fsync, so a killed process (SIGKILL) loses nothing committed; only a power loss may lose the
//! last transactions.
//!
//! Rows are JSON documents keyed by id (one schema for the whole order, delivery queue included, so the
//! store cannot drift from the structs): `merchants(app_key, data)`, `orders(id, app_key, state, data)`,
//! `exchanges(seq, order_id, data)` appended in record order, `exchanges_dropped(order_id, n)`,
//! `qr_images(name, bytes)`, and `meta(key, value)` for the id counters, the gateway faults and the
//! order clocks' offsets (`offset_ms`: the platform-wide one; `merchant_offsets_ms`: a JSON object of each
//! merchant's own).
//!
//! On open, everything is loaded and the derived indexes are rebuilt: sessions, the auto-close timers
//! (T4) of unissued orders, the due times of queue heads, the notification faults waiting. An attempt
//! that was open when the process died left no exchange: it is made again at once with the same number.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, params};

use super::Data;
use super::merchant_row::MerchantRow;
use crate::exchange::Exchange;
use crate::faults::GatewayFault;
use crate::model::Order;

/// Why the store could not be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("corrupt row in {table}: {error}")]
    Corrupt { table: &'static str, error: serde_json::Error },
}

/// The open database and the rows not yet written.
pub struct Store {
    conn: Connection,
    exchanges: Vec<(i64, String)>,
    dropped: HashMap<i64, u64>,
    /// Orders whose oldest gateway calls were dropped in memory: their rows past the latest
    /// [`super::MAX_GATEWAY_CALLS`] are deleted at the next flush.
    trims: HashSet<i64>,
    qr_images: Vec<(String, Vec<u8>)>,
    /// The meta values last written, to skip unchanged ones.
    meta: Meta,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("pending_exchanges", &self.exchanges.len()).finish_non_exhaustive()
    }
}

/// The scalar state kept in `meta`; compared as a whole to skip a write.
#[derive(Debug, Clone, Default, PartialEq)]
struct Meta {
    next_order_id: i64,
    next_fault_id: u64,
    /// The [`crate::clock::Offsets`] version written: the offsets are written when it moves.
    clock_version: u64,
    faults: String,
}

const SCHEMA: &str = "
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = NORMAL;
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS merchants (app_key TEXT PRIMARY KEY, data TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS orders (
        id INTEGER PRIMARY KEY, app_key TEXT NOT NULL, state TEXT NOT NULL, data TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS exchanges (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, order_id INTEGER NOT NULL, data TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS exchanges_by_order ON exchanges (order_id, seq);
    CREATE TABLE IF NOT EXISTS exchanges_dropped (order_id INTEGER PRIMARY KEY, n INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS qr_images (name TEXT PRIMARY KEY, bytes BLOB NOT NULL);
";

fn corrupt(table: &'static str) -> impl Fn(serde_json::Error) -> StoreError {
    move |error| StoreError::Corrupt { table, error }
}

impl Store {
    pub(crate) fn pending_exchange(&mut self, order_id: i64, exchange: &Exchange) {
        match serde_json::to_string(exchange) {
            Ok(json) => self.exchanges.push((order_id, json)),
            Err(e) => tracing::error!(order_id, "exchange not persisted: {e}"),
        }
    }

    pub(crate) fn pending_trim(&mut self, order_id: i64) {
        self.trims.insert(order_id);
    }

    pub(crate) fn pending_dropped(&mut self, order_id: i64, dropped: u64) {
        self.dropped.insert(order_id, dropped);
    }

    pub(crate) fn pending_qr_image(&mut self, name: &str, bytes: &[u8]) {
        self.qr_images.push((name.to_owned(), bytes.to_vec()));
    }
}

impl Store {
    /// A trivial query on the connection, reading the schema (`GET /healthz`).
    pub fn ping(&self) -> Result<(), StoreError> {
        self.conn.query_row("SELECT count(*) FROM meta", [], |_| Ok(()))?;
        Ok(())
    }
}

/// Opens (or creates) the database at `path` and loads everything into a fresh [`Data`].
/// Returns the data, tracking its changes, with the clock offsets restored.
pub fn open(path: &Path, first_order_id: i64, auto_close_ms: i64) -> Result<Data, StoreError> {
    let conn = Connection::open(path)?;
    conn.execute_batch(SCHEMA)?;
    let mut data = Data::new(first_order_id);
    let get_meta = |key: &str| -> Result<Option<String>, rusqlite::Error> {
        conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional()
    };
    let mut meta = Meta {
        next_order_id: get_meta("next_order_id")?.and_then(|v| v.parse().ok()).unwrap_or(first_order_id),
        next_fault_id: get_meta("next_fault_id")?.and_then(|v| v.parse().ok()).unwrap_or(1),
        clock_version: 0,
        faults: get_meta("gateway_faults")?.unwrap_or_else(|| "[]".into()),
    };
    // The offsets first: the timers below are indexed in wall ms, which depends on them.
    let platform_offset_ms = get_meta("offset_ms")?.and_then(|v| v.parse().ok()).unwrap_or(0);
    let merchant_offsets = match get_meta("merchant_offsets_ms")? {
        Some(json) => serde_json::from_str::<HashMap<String, i64>>(&json).map_err(corrupt("meta"))?,
        None => HashMap::new(),
    };
    data.offsets.restore(platform_offset_ms, merchant_offsets.into_iter().map(|(k, ms)| (Arc::from(k), ms)));
    meta.clock_version = data.offsets.version();
    data.next_order_id = meta.next_order_id;
    data.next_fault_id = meta.next_fault_id;
    data.gateway_faults = serde_json::from_str::<Vec<GatewayFault>>(&meta.faults).map_err(corrupt("meta"))?;
    meta.faults = serde_json::to_string(&data.gateway_faults).map_err(corrupt("meta"))?;

    {
        let mut stmt = conn.prepare("SELECT data FROM merchants")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        for row in rows {
            let merchant = serde_json::from_str::<MerchantRow>(&row?).map_err(corrupt("merchants"))?.into_merchant();
            let key: Arc<str> = Arc::from(merchant.app_key.as_str());
            data.sessions.insert(merchant.session.expose().to_owned(), key.clone());
            data.merchants.insert_clean(key, merchant);
        }
    }
    {
        let mut stmt = conn.prepare("SELECT data FROM orders ORDER BY id")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        for row in rows {
            let mut order: Order = serde_json::from_str(&row?).map_err(corrupt("orders"))?;
            let id = order.id.get();
            // One `Arc` per merchant, as when the orders were created.
            if let Some(key) = data.merchant_key(&order.app_key) {
                order.app_key = key;
            }
            let offset_ms = data.offsets.total_ms(&order.app_key);
            if let Some(at) = order.close_due_ms(auto_close_ms) {
                data.closes.insert((at.saturating_sub(offset_ms), id));
            }
            if let Some((fault_id, _)) = &order.delivery.pending_alteration {
                data.notification_faults.insert(*fault_id, id);
            }
            if let Some(due) = order.reopen_abandoned_head() {
                data.due.insert((due.saturating_sub(offset_ms), id));
            }
            data.next_order_id = data.next_order_id.max(id.saturating_add(1));
            let last_op = order.consumes.iter().map(|c| c.op_seq.max(c.reverse_seq.unwrap_or(0))).max();
            data.next_op_seq = data.next_op_seq.max(last_op.unwrap_or(0));
            data.orders.insert_clean(id, order);
        }
    }
    {
        let mut stmt = conn.prepare("SELECT order_id, data FROM exchanges ORDER BY seq")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
        for row in rows {
            let (order_id, json) = row?;
            let exchange: Exchange = serde_json::from_str(&json).map_err(corrupt("exchanges"))?;
            data.exchanges.entry(order_id).or_default().push(exchange);
        }
        let mut stmt = conn.prepare("SELECT order_id, n FROM exchanges_dropped")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))? {
            let (order_id, n) = row?;
            data.exchanges_dropped.insert(order_id, u64::try_from(n).unwrap_or(0));
        }
        let mut stmt = conn.prepare("SELECT name, bytes FROM qr_images")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?)))? {
            let (name, bytes) = row?;
            data.qr_images.insert(name, bytes.into());
        }
    }
    meta.next_order_id = data.next_order_id;
    data.orders.track();
    data.merchants.track();
    data.store = Some(Store {
        conn,
        exchanges: Vec::new(),
        dropped: HashMap::new(),
        trims: HashSet::new(),
        qr_images: Vec::new(),
        meta,
    });
    Ok(data)
}

impl Data {
    /// Writes what changed since the last flush in one transaction (a no-op without a store).
    /// A failed write is logged and retried at the next flush.
    pub fn flush(&mut self) {
        let Some(store) = self.store.as_mut() else { return };
        let faults_changed = !self.gateway_faults.is_empty() || store.meta.faults != "[]";
        let clock_version = self.offsets.version();
        let meta_changed = store.meta.next_order_id != self.next_order_id
            || store.meta.next_fault_id != self.next_fault_id
            || store.meta.clock_version != clock_version
            || faults_changed;
        if !meta_changed
            && !self.orders.has_dirty()
            && !self.merchants.has_dirty()
            && store.exchanges.is_empty()
            && store.dropped.is_empty()
            && store.trims.is_empty()
            && store.qr_images.is_empty()
        {
            return;
        }
        let orders = self.orders.take_dirty();
        let merchants = self.merchants.take_dirty();
        let meta = Meta {
            next_order_id: self.next_order_id,
            next_fault_id: self.next_fault_id,
            clock_version,
            faults: if faults_changed {
                serde_json::to_string(&self.gateway_faults).unwrap_or_else(|_| store.meta.faults.clone())
            } else {
                store.meta.faults.clone()
            },
        };
        let write = |store: &mut Store| -> Result<(), StoreError> {
            let tx = store.conn.transaction()?;
            {
                let mut put = tx.prepare_cached("INSERT OR REPLACE INTO merchants (app_key, data) VALUES (?1, ?2)")?;
                for key in &merchants {
                    if let Some(m) = self.merchants.get(key) {
                        let json = serde_json::to_string(&MerchantRow::of(m)).map_err(corrupt("merchants"))?;
                        put.execute(params![&**key, json])?;
                    }
                }
                let mut put = tx.prepare_cached(
                    "INSERT OR REPLACE INTO orders (id, app_key, state, data) VALUES (?1, ?2, ?3, ?4)",
                )?;
                for id in &orders {
                    if let Some(o) = self.orders.get(id) {
                        let json = serde_json::to_string(o).map_err(corrupt("orders"))?;
                        put.execute(params![id, &*o.app_key, o.state.as_str(), json])?;
                    }
                }
                let mut put = tx.prepare_cached("INSERT INTO exchanges (order_id, data) VALUES (?1, ?2)")?;
                for (order_id, json) in &store.exchanges {
                    put.execute(params![order_id, json])?;
                }
                let mut trim = tx.prepare_cached(
                    "DELETE FROM exchanges WHERE seq IN (SELECT seq FROM exchanges WHERE order_id = ?1 \
                     AND json_extract(data, '$.kind') = 'gateway' ORDER BY seq DESC LIMIT -1 OFFSET ?2)",
                )?;
                for order_id in &store.trims {
                    trim.execute(params![order_id, super::MAX_GATEWAY_CALLS as i64])?;
                }
                let mut put =
                    tx.prepare_cached("INSERT OR REPLACE INTO exchanges_dropped (order_id, n) VALUES (?1, ?2)")?;
                for (order_id, n) in &store.dropped {
                    put.execute(params![order_id, i64::try_from(*n).unwrap_or(i64::MAX)])?;
                }
                let mut put = tx.prepare_cached("INSERT OR REPLACE INTO qr_images (name, bytes) VALUES (?1, ?2)")?;
                for (name, bytes) in &store.qr_images {
                    put.execute(params![name, bytes])?;
                }
                if meta != store.meta {
                    let mut put = tx.prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")?;
                    put.execute(params!["next_order_id", meta.next_order_id.to_string()])?;
                    put.execute(params!["next_fault_id", meta.next_fault_id.to_string()])?;
                    if meta.clock_version != store.meta.clock_version {
                        let offsets = self.offsets.snapshot();
                        let merchants: HashMap<&str, i64> =
                            offsets.merchants.iter().map(|(k, ms)| (&**k, *ms)).collect();
                        let merchants = serde_json::to_string(&merchants).map_err(corrupt("meta"))?;
                        put.execute(params!["offset_ms", offsets.platform_ms.to_string()])?;
                        put.execute(params!["merchant_offsets_ms", merchants])?;
                    }
                    put.execute(params!["gateway_faults", meta.faults])?;
                }
            }
            tx.commit()?;
            Ok(())
        };
        match write(store) {
            Ok(()) => {
                store.exchanges.clear();
                store.dropped.clear();
                store.trims.clear();
                store.qr_images.clear();
                store.meta = meta;
            }
            Err(e) => {
                tracing::error!("writing the store failed, retried at the next change: {e}");
                self.orders.mark(orders);
                self.merchants.mark(merchants);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::tests::call;
    use crate::store::MAX_GATEWAY_CALLS;

    #[test]
    fn gateway_calls_dropped_in_memory_are_deleted_from_the_store_too() {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let path = std::env::temp_dir().join(format!("mock-platform-trim-{}-{nanos}.db", std::process::id()));
        {
            let mut data = open(&path, 1, 0).unwrap();
            for i in 0..MAX_GATEWAY_CALLS + 5 {
                data.record(1, call(&format!("call {i}"), 0, i as u64));
                if i % 400 == 0 {
                    data.flush();
                }
            }
            data.flush();
        }
        let data = open(&path, 1, 0).unwrap();
        let kept = &data.exchanges[&1];
        assert_eq!(kept.len(), MAX_GATEWAY_CALLS);
        assert!(matches!(&kept[0], Exchange::Gateway(g) if g.api == "call 5"));
        assert_eq!(data.exchanges_dropped[&1], 5);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
