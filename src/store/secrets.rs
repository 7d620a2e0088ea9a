//! Keys the application generates once and keeps, so restarts do not log everyone out.

use super::Store;

impl Store {
    /// Returns the stored value of `name`, storing `generate()` first if there is none.
    /// Concurrent first starts agree on one value: the first insert wins.
    #[tracing::instrument(skip(self, generate))]
    pub async fn secret_or_insert(
        &self,
        name: &str,
        generate: impl FnOnce() -> String,
    ) -> sqlx::Result<String> {
        sqlx::query("INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(generate())
            .execute(self.pool())
            .await?;
        let (value,): (String,) = sqlx::query_as("SELECT value FROM secrets WHERE name = $1")
            .bind(name)
            .fetch_one(self.pool())
            .await?;
        Ok(value)
    }
}
