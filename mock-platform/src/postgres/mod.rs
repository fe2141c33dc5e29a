//! The PostgreSQL backend's storage layer (issue 13, docs/shared-sandbox.md steps 3–5): documents as `json` rows,
//! an order's change in one transaction with its row locked, the delivery queue as leased rows, clocks and timers on
//! the database's clock, and `LISTEN/NOTIFY` wake-ups.
//!
//! It knows nothing of the model's rules: orders and merchants are any `Serialize + DeserializeOwned` documents, and
//! the model's logic comes in as closures that run while the row is locked and never await (the store seam wraps
//! them). What a closure wants done in the same transaction (a due time indexed, an exchange recorded, the auto-close
//! timer set) it says through a [`Tx`].

mod clocks;
mod deliveries;
mod exchanges;
mod faults;
mod listen;
mod merchants;
mod migrations;
mod orders;
mod pipeline;
mod pool;
mod qr;

use std::sync::Arc;
use std::time::Duration;

pub use clocks::Clock;
pub use deliveries::{Lease, Settled};
pub use exchanges::ExchangeKind;
pub use faults::GatewayFaultRow;
pub use listen::Wakeups;
pub use migrations::SCHEMA_VERSION;
pub use orders::{ConsumeRow, Tx};

/// How a replica connects: its id (written as `lease_holder`), how long a lease lasts, the first order id, the pool.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// This replica's id (`hostname:pid:<hex>`), the holder named in its leases.
    pub replica_id: String,
    /// How long a lease lasts on the database's clock: `notify_deadline + 10 s` (INTERFACES §1.2).
    pub lease: Duration,
    /// The first order id the `order_ids` sequence hands out, set while the sequence is unused.
    pub first_order_id: i64,
    /// Connections in the pool (the `LISTEN` connection is apart).
    pub pool_size: usize,
}

impl PgOptions {
    /// A replica's options with the plan's defaults: order ids from 1, 16 connections.
    pub fn new(replica_id: impl Into<String>, lease: Duration) -> Self {
        Self { replica_id: replica_id.into(), lease, first_order_id: 1, pool_size: 16 }
    }
}

/// What can go wrong talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// The URL does not parse as a PostgreSQL connection string.
    #[error("invalid PostgreSQL URL: {0}")]
    Url(String),
    /// No connection could be had from the pool (the database is down, or the pool could not be built).
    #[error("no database connection: {0}")]
    Pool(String),
    /// A statement failed.
    #[error("database error: {0}")]
    Db(#[from] tokio_postgres::Error),
    /// The database was migrated by a newer binary: this one does not know its schema.
    #[error(
        "the database's schema is version {database}, newer than this binary's {binary}: run a newer mock-platform"
    )]
    NewerDatabase {
        /// The highest version in `schema_migrations`.
        database: i32,
        /// The highest version this binary carries.
        binary: i32,
    },
    /// A document did not serialize.
    #[error("document serialization: {0}")]
    Json(#[from] serde_json::Error),
    /// The readiness probe did not answer in time.
    #[error("the database did not answer within {0:?}")]
    Timeout(Duration),
}

impl From<deadpool_postgres::PoolError> for PgError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        match error {
            deadpool_postgres::PoolError::Backend(e) => PgError::Db(e),
            other => PgError::Pool(other.to_string()),
        }
    }
}

/// One replica's handle on the shared database: a pool, its options, and its wake-up listener. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pool: deadpool_postgres::Pool,
    options: PgOptions,
    wakeups: Wakeups,
}

impl PgStore {
    /// Connects, applies the migrations this binary carries (refusing a database newer than it), and starts the
    /// wake-up listener.
    ///
    /// # Errors
    /// A bad URL, an unreachable database, a failing migration, or [`PgError::NewerDatabase`].
    pub async fn connect(url: &str, options: PgOptions) -> Result<Self, PgError> {
        let config: tokio_postgres::Config =
            url.parse().map_err(|e: tokio_postgres::Error| PgError::Url(e.to_string()))?;
        let pool = pool::build(config.clone(), options.pool_size)?;
        {
            let mut client = pool.get().await?;
            migrations::apply(&mut client, options.first_order_id).await?;
        }
        let wakeups = Wakeups::start(config);
        Ok(Self { inner: Arc::new(Inner { pool, options, wakeups }) })
    }

    /// This replica's id.
    pub fn replica_id(&self) -> &str {
        &self.inner.options.replica_id
    }

    /// The wake-ups of this replica's listener (`wake`: something may be due; `settled`: an order's attempt ended).
    pub fn wakeups(&self) -> &Wakeups {
        &self.inner.wakeups
    }

    /// Whether the database answers `SELECT 1` within one second (`/healthz`).
    ///
    /// # Errors
    /// [`PgError::Timeout`], or the connection's or statement's error.
    pub async fn ready(&self) -> Result<(), PgError> {
        let limit = Duration::from_secs(1);
        let probe = async {
            let client = self.inner.pool.get().await?;
            client.query_one("SELECT 1", &[]).await?;
            Ok::<(), PgError>(())
        };
        tokio::time::timeout(limit, probe).await.map_err(|_| PgError::Timeout(limit))?
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, PgError> {
        Ok(self.inner.pool.get().await?)
    }
}

/// A document serialized once, written as `json`/`jsonb` (tokio-postgres' `Json` wants `Debug` of the model's types,
/// and a borrowed document could not sit in a pipelined batch).
pub(super) struct JsonBytes(Vec<u8>);

impl JsonBytes {
    fn of<T: serde::Serialize + ?Sized>(doc: &T) -> Result<Self, PgError> {
        Ok(Self(serde_json::to_vec(doc)?))
    }
}

impl std::fmt::Debug for JsonBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JsonBytes({} bytes)", self.0.len())
    }
}

impl tokio_postgres::types::ToSql for JsonBytes {
    fn to_sql(
        &self,
        ty: &tokio_postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        if *ty == tokio_postgres::types::Type::JSONB {
            out.extend_from_slice(&[1]); // jsonb's binary format version
        }
        out.extend_from_slice(&self.0);
        Ok(tokio_postgres::types::IsNull::No)
    }

    tokio_postgres::types::accepts!(JSON, JSONB);
    tokio_postgres::types::to_sql_checked!();
}
