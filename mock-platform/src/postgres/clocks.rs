//! The platform's and each merchant's clock offsets, in the `clocks` table, read on the database's clock; a clock
//! advance shifts that clock's timers in the same transaction.

use super::{PgError, PgStore};

/// A clock reading: now in epoch ms on that clock, and its total offset from the database's wall clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    /// Now on this clock (epoch ms): the database's `clock_timestamp()` plus `offset_ms`.
    pub now_ms: i64,
    /// The platform's offset plus the merchant's (ms).
    pub offset_ms: i64,
}

impl PgStore {
    /// The platform's clock (`None`) or a merchant's (its offset added to the platform's; an unknown merchant has
    /// none of its own).
    ///
    /// # Errors
    /// The database's.
    pub async fn clock(&self, app_key: Option<&str>) -> Result<Clock, PgError> {
        let client = self.client().await?;
        let statement = client.prepare_cached("SELECT clock_now_ms($1), clock_offset_ms($1)").await?;
        let row = client.query_one(&statement, &[&app_key.unwrap_or("")]).await?;
        Ok(Clock { now_ms: row.get(0), offset_ms: row.get(1) })
    }

    /// Moves the platform's clock (`None`: every merchant's too) or one merchant's forward by `ms`: the offset grows,
    /// and that clock's due times and auto-close timers move `ms` closer, in one transaction; then `NOTIFY wake`.
    /// Returns the clock after the move. The caller runs [`PgStore::run_closes`] next, as today's
    /// `POST /admin/clock` fires auto-closes before it answers.
    ///
    /// # Errors
    /// The database's.
    pub async fn advance_clock(&self, app_key: Option<&str>, ms: i64) -> Result<Clock, PgError> {
        let key = app_key.unwrap_or("");
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // Exclusive: every transaction that may write a timer holds it shared from its first statement.
        tx.execute("SELECT pg_advisory_xact_lock(1129270091, 0)", &[]).await?;
        tx.execute(
            "INSERT INTO clocks (app_key, offset_ms) VALUES ($1, $2) \
             ON CONFLICT (app_key) DO UPDATE SET offset_ms = clocks.offset_ms + EXCLUDED.offset_ms",
            &[&key, &ms],
        )
        .await?;
        if app_key.is_some() {
            tx.execute(
                "UPDATE deliveries SET due_at = due_at - $2::float8 * interval '1 millisecond' WHERE app_key = $1",
                &[&key, &(ms as f64)],
            )
            .await?;
            tx.execute(
                "UPDATE orders SET close_at = close_at - $2::float8 * interval '1 millisecond' \
                 WHERE app_key = $1 AND close_at IS NOT NULL",
                &[&key, &(ms as f64)],
            )
            .await?;
        } else {
            tx.execute(
                "UPDATE deliveries SET due_at = due_at - $1::float8 * interval '1 millisecond'",
                &[&(ms as f64)],
            )
            .await?;
            tx.execute(
                "UPDATE orders SET close_at = close_at - $1::float8 * interval '1 millisecond' WHERE close_at IS NOT NULL",
                &[&(ms as f64)],
            )
            .await?;
        }
        tx.execute("SELECT pg_notify('wake', '')", &[]).await?;
        let row = tx.query_one("SELECT clock_now_ms($1), clock_offset_ms($1)", &[&key]).await?;
        tx.commit().await?;
        Ok(Clock { now_ms: row.get(0), offset_ms: row.get(1) })
    }

    /// The platform-wide offset and a merchant's own (`Some`), or the largest merchant offset (`None`: a
    /// platform-wide advance moves every merchant's clock, so the one furthest ahead bounds it).
    ///
    /// # Errors
    /// The database's.
    pub async fn offsets(&self, app_key: Option<&str>) -> Result<(i64, i64), PgError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT coalesce((SELECT offset_ms FROM clocks WHERE app_key = ''), 0), \
                   CASE WHEN $1::text IS NULL \
                        THEN coalesce((SELECT max(offset_ms) FROM clocks WHERE app_key <> ''), 0) \
                        ELSE coalesce((SELECT offset_ms FROM clocks WHERE app_key = $1), 0) END",
            )
            .await?;
        let row = client.query_one(&statement, &[&app_key]).await?;
        Ok((row.get(0), row.get(1)))
    }
}
