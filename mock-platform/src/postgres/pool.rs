//! The connection pool: `deadpool-postgres` over `tokio-postgres`, recycled without a round trip.

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

use super::PgError;

/// A pool of at most `size` connections to `config` (connections are made on demand).
pub(super) fn build(config: tokio_postgres::Config, size: usize) -> Result<Pool, PgError> {
    // Fast recycling: a connection is reused unless closed; a broken one fails its statement and is dropped.
    let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
    Pool::builder(manager).max_size(size.max(1)).build().map_err(|e| PgError::Pool(e.to_string()))
}
