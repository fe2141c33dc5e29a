//! The SQLite file that holds every order, code and owed callback (schema: `schema.sql`).
//!
//! Why SQLite: a merchant's promise to the platform ("I acknowledged, so I will report codes") must
//! survive a crash, and one file with transactions is the smallest thing that keeps it.
//!
//! Settings, and why:
//! - `journal_mode=WAL`: readers never block the writer, and a commit is one append to the log.
//! - `synchronous=NORMAL`: in WAL mode a committed transaction survives a crash of the *process*
//!   (the case that matters here: kill -9, a panic, a deploy); only a power loss or OS crash can lose
//!   the last commits. `FULL` would add an fsync per commit to close that window too; a merchant who
//!   wants it changes one line in [`open_connection`].
//! - `busy_timeout`: another process (an operator's `sqlite3` shell) may hold the lock briefly.
//!
//! Why one connection behind a mutex: SQLite serialises writers anyway, the statements here take
//! microseconds, and one connection makes `--db :memory:` work too (each connection to `:memory:`
//! would be a different, empty database). Every call runs on tokio's blocking pool so a slow disk
//! never stalls the threads that answer notifications.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::Connection;

const SCHEMA: &str = include_str!("schema.sql");

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the database task stopped: {0}")]
    Task(String),
}

/// Opens (creating if needed) the database file with the settings above and the schema applied.
pub fn open_connection(path: &Path) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.execute_batch(SCHEMA)?;
    Ok(conn)
}

/// The shared handle to the database.
#[derive(Debug, Clone)]
pub struct Store {
    /// `std::sync::Mutex`, not tokio's: it is only ever locked inside a blocking-pool closure, never
    /// across an `.await`.
    conn: Arc<Mutex<Connection>>,
}

impl Store {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self { conn: Arc::new(Mutex::new(open_connection(path)?)) })
    }

    /// Runs `f` with the connection on the blocking pool.
    pub async fn run<T, E>(&self, f: impl FnOnce(&mut Connection) -> Result<T, E> + Send + 'static) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock poisons it; the connection itself is still consistent
            // (SQLite rolls back an unfinished transaction when the guard's statements are dropped).
            let mut conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&mut conn)
        })
        .await
        .map_err(|e| E::from(StoreError::Task(e.to_string())))?
    }

    /// Runs `f` with the connection on the calling thread, for a thread that owns blocking work already
    /// (`group_commit.rs`); never call it from an async task.
    pub fn with_connection<T>(&self, f: impl FnOnce(&mut Connection) -> T) -> T {
        let mut conn = self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_twice_keeps_the_schema_and_uses_wal() {
        let path = std::env::temp_dir().join(format!("merchant-store-{}.sqlite", std::process::id()));
        let _ = std::fs::remove_file(&path);
        drop(open_connection(&path).unwrap());
        let conn = open_connection(&path).unwrap();
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        let tables: i64 =
            conn.query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table'", [], |r| r.get(0)).unwrap();
        assert_eq!(tables, 5);
        drop(conn);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }

    #[tokio::test]
    async fn memory_databases_keep_their_data_across_calls() {
        let store = Store::open(Path::new(":memory:")).unwrap();
        store
            .run(|conn| conn.execute("INSERT INTO outbox (order_id, api, status, next_attempt_at, created_at) VALUES (1, 'send', 'pending', 0, 0)", []).map_err(StoreError::from))
            .await
            .unwrap();
        let rows: i64 = store
            .run(|conn| conn.query_row("SELECT count(*) FROM outbox", [], |r| r.get(0)).map_err(StoreError::from))
            .await
            .unwrap();
        assert_eq!(rows, 1, "one connection, so the second call sees the first call's database");
    }
}
