//! Merchants as `json` documents keyed by app key, with their session as an indexed column.

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_postgres::types::Json;

use super::{PgError, PgStore};

impl PgStore {
    /// Creates or replaces a merchant, and gives it a clock of its own (offset 0) when it has none.
    ///
    /// # Errors
    /// The database's (a session another merchant holds is a unique violation).
    pub async fn put_merchant<M: Serialize>(&self, app_key: &str, session: &str, doc: &M) -> Result<(), PgError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO merchants (app_key, session, doc) VALUES ($1, $2, $3) \
             ON CONFLICT (app_key) DO UPDATE SET session = EXCLUDED.session, doc = EXCLUDED.doc",
            &[&app_key, &session, &super::JsonBytes::of(doc)?],
        )
        .await?;
        tx.execute("INSERT INTO clocks (app_key) VALUES ($1) ON CONFLICT DO NOTHING", &[&app_key]).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A merchant by app key.
    ///
    /// # Errors
    /// The database's, or a document that does not deserialize.
    pub async fn merchant<M: DeserializeOwned>(&self, app_key: &str) -> Result<Option<M>, PgError> {
        let client = self.client().await?;
        let statement = client.prepare_cached("SELECT doc FROM merchants WHERE app_key = $1").await?;
        let row = client.query_opt(&statement, &[&app_key]).await?;
        Ok(row.map(|r| r.get::<_, Json<M>>(0).0))
    }

    /// Now on merchant `app_key`'s clock (the platform's when there is no such merchant) and the merchant, in one
    /// query (a gateway call's first read).
    ///
    /// # Errors
    /// The database's, or a document that does not deserialize.
    pub async fn clock_and_merchant<M: DeserializeOwned>(&self, app_key: &str) -> Result<(i64, Option<M>), PgError> {
        let client = self.client().await?;
        let statement =
            client.prepare_cached("SELECT clock_now_ms($1), (SELECT doc FROM merchants WHERE app_key = $1)").await?;
        let row = client.query_one(&statement, &[&app_key]).await?;
        Ok((row.get(0), row.get::<_, Option<Json<M>>>(1).map(|d| d.0)))
    }

    /// A merchant by session key.
    ///
    /// # Errors
    /// The database's, or a document that does not deserialize.
    pub async fn merchant_by_session<M: DeserializeOwned>(&self, session: &str) -> Result<Option<M>, PgError> {
        let client = self.client().await?;
        let statement = client.prepare_cached("SELECT doc FROM merchants WHERE session = $1").await?;
        let row = client.query_opt(&statement, &[&session]).await?;
        Ok(row.map(|r| r.get::<_, Json<M>>(0).0))
    }

    /// Every merchant, by app key.
    ///
    /// # Errors
    /// The database's, or a document that does not deserialize.
    pub async fn merchants<M: DeserializeOwned>(&self) -> Result<Vec<M>, PgError> {
        let client = self.client().await?;
        let rows = client.query("SELECT doc FROM merchants ORDER BY app_key", &[]).await?;
        Ok(rows.into_iter().map(|r| r.get::<_, Json<M>>(0).0).collect())
    }

    /// Runs `f` on a merchant's document with its row locked (quota counters), `f` given the merchant's clock now,
    /// and writes the document back. `None` when there is no such merchant.
    ///
    /// Two round trips, as `with_order`: `BEGIN` with the locking `SELECT`, the `UPDATE` with `COMMIT` (every gateway
    /// call of a merchant changes its row, so the lock is held for as short as can be).
    ///
    /// # Errors
    /// The database's, or a document that does not (de)serialize.
    pub async fn with_merchant<M, R>(
        &self,
        app_key: &str,
        f: impl FnOnce(&mut M, i64) -> R,
    ) -> Result<Option<R>, PgError>
    where
        M: Serialize + DeserializeOwned,
    {
        let open = super::orders::Open(Some(self.client().await?));
        let client = open.client();
        let begin = client.prepare_cached("BEGIN").await?;
        let commit = client.prepare_cached("COMMIT").await?;
        let select = client
            .prepare_cached("SELECT doc, clock_now_ms(app_key) FROM merchants WHERE app_key = $1 FOR UPDATE")
            .await?;
        let update = client.prepare_cached("UPDATE merchants SET doc = $2 WHERE app_key = $1").await?;
        let key: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&app_key];
        let (_, row) = tokio::try_join!(client.execute(&begin, &[]), client.query_opt(&select, &key))?;
        let Some(row) = row else {
            client.execute(&commit, &[]).await?;
            open.done();
            return Ok(None);
        };
        let mut doc: M = row.get::<_, Json<M>>(0).0;
        let out = f(&mut doc, row.get(1));
        let written = super::JsonBytes::of(&doc)?;
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&app_key, &written];
        tokio::try_join!(client.execute(&update, &params), client.execute(&commit, &[]))?;
        open.done();
        Ok(Some(out))
    }

    /// Registers a new merchant: `Ok(false)` when its app key or its session is already taken (nothing written),
    /// and gives it a clock of its own.
    ///
    /// # Errors
    /// The database's.
    pub async fn insert_merchant<M: Serialize>(&self, app_key: &str, session: &str, doc: &M) -> Result<bool, PgError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let inserted = tx
            .execute(
                "INSERT INTO merchants (app_key, session, doc) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[&app_key, &session, &super::JsonBytes::of(doc)?],
            )
            .await?;
        if inserted == 1 {
            tx.execute("INSERT INTO clocks (app_key) VALUES ($1) ON CONFLICT DO NOTHING", &[&app_key]).await?;
        }
        tx.commit().await?;
        Ok(inserted == 1)
    }

    /// Whether a merchant has this app key.
    ///
    /// # Errors
    /// The database's.
    pub async fn has_merchant(&self, app_key: &str) -> Result<bool, PgError> {
        let client = self.client().await?;
        let statement = client.prepare_cached("SELECT EXISTS (SELECT 1 FROM merchants WHERE app_key = $1)").await?;
        Ok(client.query_one(&statement, &[&app_key]).await?.get(0))
    }
}
