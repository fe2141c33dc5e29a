//! Statements sent together: a change's writes do not depend on one another's results, so they go to the server in
//! one round trip (tokio-postgres sends the requests of futures polled together back to back) and a gateway call
//! costs three round trips instead of six. Statements are prepared (cached) before the batch is sent, so nothing
//! in it waits on a `Parse`.

use deadpool_postgres::GenericClient;
use futures_util::future::try_join_all;
use tokio_postgres::Statement;
use tokio_postgres::types::ToSql;

use super::PgError;

/// A statement's parameter, owned by the batch.
pub(super) type Param = Box<dyn ToSql + Sync + Send>;

/// Writes to run in order, in one round trip.
#[derive(Default)]
pub(super) struct Batch {
    items: Vec<(Statement, Vec<Param>)>,
}

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Batch({} statements)", self.items.len())
    }
}

impl Batch {
    /// Appends `sql` (prepared through the connection's cache) with its parameters.
    pub(super) async fn push<C: GenericClient>(
        &mut self,
        client: &C,
        sql: &str,
        params: Vec<Param>,
    ) -> Result<(), PgError> {
        let statement = client.prepare_cached(sql).await?;
        self.items.push((statement, params));
        Ok(())
    }

    /// Sends every statement, then reads every answer; the first error wins (the transaction is then aborted, so
    /// nothing after it took effect either).
    pub(super) async fn run<C: GenericClient>(&self, client: &C) -> Result<(), PgError> {
        let params: Vec<Vec<&(dyn ToSql + Sync)>> =
            self.items.iter().map(|(_, p)| p.iter().map(|b| b.as_ref() as &(dyn ToSql + Sync)).collect()).collect();
        try_join_all(self.items.iter().zip(&params).map(|((statement, _), params)| client.execute(statement, params)))
            .await?;
        Ok(())
    }
}
