//! Gateway faults as rows (one use taken atomically: first match by id, `times_left − 1`, deleted at 0) and the
//! index of notification faults (the alteration itself lives in the order's document).

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_postgres::types::Json;

use super::{PgError, PgStore};

/// A gateway fault as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayFaultRow<A> {
    /// Its id (shared sequence with notification faults).
    pub id: i64,
    /// The API it applies to.
    pub method: String,
    /// Only this merchant's calls, when set.
    pub app_key: Option<String>,
    /// Only calls naming this order, when set.
    pub order_id: Option<i64>,
    /// Uses left.
    pub times_left: i32,
    /// What it does, as the model serializes it.
    pub action: A,
}

impl PgStore {
    /// Adds a gateway fault; returns its id.
    ///
    /// # Errors
    /// The database's.
    pub async fn add_gateway_fault<A: Serialize>(
        &self,
        method: &str,
        app_key: Option<&str>,
        order_id: Option<i64>,
        times: i32,
        action: &A,
    ) -> Result<i64, PgError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "INSERT INTO gateway_faults (id, method, app_key, order_id, times_left, action) \
                 VALUES (nextval('fault_ids'), $1, $2, $3, $4, $5) RETURNING id",
                &[&method, &app_key, &order_id, &times, &super::JsonBytes::of(action)?],
            )
            .await?;
        Ok(row.get(0))
    }

    /// Takes one use of the first fault (by id) matching a call, removing it when used up (`faults::take`).
    ///
    /// # Errors
    /// The database's, or an action that does not deserialize.
    pub async fn take_gateway_fault<A: DeserializeOwned>(
        &self,
        method: &str,
        app_key: &str,
        order_id: Option<i64>,
    ) -> Result<Option<A>, PgError> {
        let client = self.client().await?;
        // Most calls meet no fault: one unlocked look first, and the locking take only when there may be one.
        let any = client
            .prepare_cached(
                "SELECT id FROM gateway_faults WHERE times_left > 0 AND method = $1 \
                   AND (app_key IS NULL OR app_key = $2) AND (order_id IS NULL OR order_id = $3) LIMIT 1",
            )
            .await?;
        if client.query_opt(&any, &[&method, &app_key, &order_id]).await?.is_none() {
            return Ok(None);
        }
        let take = client
            .prepare_cached(
                "WITH f AS (SELECT id FROM gateway_faults WHERE times_left > 0 AND method = $1 \
                   AND (app_key IS NULL OR app_key = $2) AND (order_id IS NULL OR order_id = $3) \
                   ORDER BY id LIMIT 1 FOR UPDATE) \
                 UPDATE gateway_faults g SET times_left = g.times_left - 1 FROM f WHERE g.id = f.id \
                 RETURNING g.id, g.times_left, g.action",
            )
            .await?;
        let exists = client
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM gateway_faults WHERE times_left > 0 AND method = $1 \
                   AND (app_key IS NULL OR app_key = $2) AND (order_id IS NULL OR order_id = $3))",
            )
            .await?;
        loop {
            if let Some(row) = client.query_opt(&take, &[&method, &app_key, &order_id]).await? {
                let (id, left): (i64, i32) = (row.get(0), row.get(1));
                if left == 0 {
                    client.execute("DELETE FROM gateway_faults WHERE id = $1 AND times_left = 0", &[&id]).await?;
                }
                return Ok(Some(row.get::<_, Json<A>>(2).0));
            }
            // `LIMIT 1 … FOR UPDATE` finds nothing when the row it waited for was used up meanwhile: look again
            // while a matching fault with uses left remains.
            if !client.query_one(&exists, &[&method, &app_key, &order_id]).await?.get::<_, bool>(0) {
                return Ok(None);
            }
        }
    }

    /// Every gateway fault with uses left, by id.
    ///
    /// # Errors
    /// The database's, or an action that does not deserialize.
    pub async fn gateway_faults<A: DeserializeOwned>(&self) -> Result<Vec<GatewayFaultRow<A>>, PgError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, method, app_key, order_id, times_left, action FROM gateway_faults \
                 WHERE times_left > 0 ORDER BY id",
                &[],
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| GatewayFaultRow {
                id: r.get(0),
                method: r.get(1),
                app_key: r.get(2),
                order_id: r.get(3),
                times_left: r.get(4),
                action: r.get::<_, Json<A>>(5).0,
            })
            .collect())
    }

    /// Deletes a gateway fault; whether it existed.
    ///
    /// # Errors
    /// The database's.
    pub async fn delete_gateway_fault(&self, id: i64) -> Result<bool, PgError> {
        let client = self.client().await?;
        Ok(client.execute("DELETE FROM gateway_faults WHERE id = $1", &[&id]).await? > 0)
    }

    /// Reserves `n` fault ids (the sequence gateway and notification faults share) for a change to take: its closure
    /// never awaits, so the ids it may hand out are read before it runs.
    ///
    /// # Errors
    /// The database's.
    pub async fn reserve_fault_ids(&self, n: i64) -> Result<Vec<i64>, PgError> {
        let client = self.client().await?;
        let statement =
            client.prepare_cached("SELECT nextval('fault_ids') FROM generate_series(1::int8, $1::int8)").await?;
        Ok(client.query(&statement, &[&n]).await?.into_iter().map(|r| r.get(0)).collect())
    }

    /// Indexes a notification fault of order `order_id` (its alteration goes in the order's document); returns its
    /// id.
    ///
    /// # Errors
    /// The database's.
    pub async fn add_notification_fault(&self, order_id: i64) -> Result<i64, PgError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "INSERT INTO notification_faults (id, order_id) VALUES (nextval('fault_ids'), $1) RETURNING id",
                &[&order_id],
            )
            .await?;
        Ok(row.get(0))
    }

    /// Every notification fault as `(id, order_id)`, by id.
    ///
    /// # Errors
    /// The database's.
    pub async fn notification_faults(&self) -> Result<Vec<(i64, i64)>, PgError> {
        let client = self.client().await?;
        let rows = client.query("SELECT id, order_id FROM notification_faults ORDER BY id", &[]).await?;
        Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Removes a notification fault from the index; the order it was on, if it existed.
    ///
    /// # Errors
    /// The database's.
    pub async fn delete_notification_fault(&self, id: i64) -> Result<Option<i64>, PgError> {
        let client = self.client().await?;
        let row = client.query_opt("DELETE FROM notification_faults WHERE id = $1 RETURNING order_id", &[&id]).await?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Reserves `n` operation sequence numbers (the stamps of consumes and reverses), in increasing order.
    ///
    /// # Errors
    /// The database's.
    pub async fn reserve_op_seqs(&self, n: i64) -> Result<Vec<i64>, PgError> {
        let client = self.client().await?;
        let statement = client.prepare_cached("SELECT nextval('op_seqs') FROM generate_series(1, $1::int8)").await?;
        let mut ids: Vec<i64> = client.query(&statement, &[&n]).await?.into_iter().map(|r| r.get(0)).collect();
        ids.sort_unstable();
        Ok(ids)
    }
}
