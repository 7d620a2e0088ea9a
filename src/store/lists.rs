//! The program's lists: departments and professions (roles), in display order.

use super::Store;

impl Store {
    #[tracing::instrument(skip(self))]
    pub async fn departments(&self) -> sqlx::Result<Vec<String>> {
        names(self, "SELECT name FROM departments ORDER BY position, name").await
    }

    #[tracing::instrument(skip(self))]
    pub async fn roles(&self) -> sqlx::Result<Vec<String>> {
        names(self, "SELECT name FROM roles ORDER BY position, name").await
    }
}

async fn names(store: &Store, sql: &str) -> sqlx::Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(sql).fetch_all(store.pool()).await?;
    Ok(rows.into_iter().map(|(name,)| name).collect())
}
