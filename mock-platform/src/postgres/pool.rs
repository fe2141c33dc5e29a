//! The connection pool: `deadpool-postgres` over `tokio-postgres`, recycled without a round trip.

use deadpool_postgres::{Manager, ManagerConfig, Pool, QueueMode, RecyclingMethod};
use tokio_postgres::NoTls;

use super::PgError;

/// A pool of at most `size` connections to `config` (connections are made on demand).
pub(super) fn build(config: tokio_postgres::Config, size: usize) -> Result<Pool, PgError> {
    // Fast recycling: a connection is reused unless closed; a broken one fails its statement and is dropped.
    let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
    // Last in, first out: the few connections in use stay hot (their server processes and statement caches), and the
    // rest idle, instead of every request going round all of them.
    Pool::builder(manager)
        .max_size(size.max(1))
        .queue_mode(QueueMode::Lifo)
        .build()
        .map_err(|e| PgError::Pool(e.to_string()))
}
