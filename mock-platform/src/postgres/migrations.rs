//! Versioned migrations (`mock-platform/migrations/NNNN_name.sql`), applied at start in one transaction under an
//! advisory lock, so replicas starting at once migrate once; a database newer than the binary is refused.

use super::PgError;

/// The migrations this binary carries, in order.
const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("../../migrations/0001_init.sql")),
    (2, include_str!("../../migrations/0002_exchanges_json.sql")),
    (3, include_str!("../../migrations/0003_op_seqs.sql")),
    (4, include_str!("../../migrations/0004_documents_json.sql")),
];

/// The schema version this binary writes.
pub const SCHEMA_VERSION: i32 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// The advisory lock key of migrations ("ETKM"): a single-bigint key, a key space apart from the clocks' pair.
const MIGRATION_LOCK: i64 = 0x4554_4b4d;

/// Applies every migration above the database's version, then points the order id sequence at `first_order_id`
/// while it is unused.
pub(super) async fn apply(client: &mut deadpool_postgres::Object, first_order_id: i64) -> Result<(), PgError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations \
         (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .await?;
    let current: i32 = tx.query_one("SELECT coalesce(max(version), 0) FROM schema_migrations", &[]).await?.get(0);
    if current > SCHEMA_VERSION {
        return Err(PgError::NewerDatabase { database: current, binary: SCHEMA_VERSION });
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tx.batch_execute(sql).await?;
        tx.execute("INSERT INTO schema_migrations (version) VALUES ($1)", &[version]).await?;
    }
    // Under the same lock: a second replica finds the sequence called or already set.
    tx.execute(
        "SELECT setval('order_ids', $1, false) FROM order_ids WHERE NOT is_called AND last_value < $1",
        &[&first_order_id],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
