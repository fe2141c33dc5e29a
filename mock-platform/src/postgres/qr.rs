//! Images uploaded with `qrcode.upload`, as `bytea` rows by name.

use super::{PgError, PgStore};

impl PgStore {
    /// Keeps (or replaces) an image.
    ///
    /// # Errors
    /// The database's.
    pub async fn put_qr_image(&self, name: &str, bytes: &[u8]) -> Result<(), PgError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO qr_images (name, bytes) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET bytes = EXCLUDED.bytes",
                &[&name, &bytes],
            )
            .await?;
        Ok(())
    }

    /// An image by name.
    ///
    /// # Errors
    /// The database's.
    pub async fn qr_image(&self, name: &str) -> Result<Option<Vec<u8>>, PgError> {
        let client = self.client().await?;
        Ok(client.query_opt("SELECT bytes FROM qr_images WHERE name = $1", &[&name]).await?.map(|r| r.get(0)))
    }

    /// Which of `names` are kept images.
    ///
    /// # Errors
    /// The database's.
    pub async fn qr_names(&self, names: &[String]) -> Result<Vec<String>, PgError> {
        let client = self.client().await?;
        let rows = client.query("SELECT name FROM qr_images WHERE name = ANY($1)", &[&names]).await?;
        Ok(rows.into_iter().map(|r| r.get(0)).collect())
    }
}
