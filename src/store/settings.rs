//! Program settings saved from the dashboard, as raw `name → value` text. What the values mean,
//! and their defaults, belong to `crate::settings`; this module only keeps them.

use std::collections::BTreeMap;

use super::{Store, coordinators::Actor, now};

/// Every saved setting, by name.
pub type Stored = BTreeMap<String, String>;

impl Store {
    /// The saved settings; a read is reused for a few seconds, like the lists.
    #[tracing::instrument(skip(self))]
    pub async fn stored_settings(&self) -> sqlx::Result<Stored> {
        if let Some(stored) = self.settings_cache.fresh() {
            return Ok(stored);
        }
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT name, value FROM settings").fetch_all(self.pool()).await?;
        let stored: Stored = rows.into_iter().collect();
        self.settings_cache.put(&stored);
        Ok(stored)
    }

    /// Saves `values` and logs `detail` as a settings change by `actor`, in one transaction.
    #[tracing::instrument(skip(self, values, detail))]
    pub async fn save_settings(&self, values: &Stored, actor: &Actor, detail: &str) -> sqlx::Result<()> {
        let mut tx = self.pool().begin().await?;
        for (name, value) in values {
            sqlx::query(
                "INSERT INTO settings (name, value, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .bind(name)
            .bind(value)
            .bind(now())
            .execute(&mut *tx)
            .await?;
        }
        Self::audit_in(&mut tx, actor, "settings changed", detail).await?;
        tx.commit().await?;
        self.settings_cache.clear();
        Ok(())
    }
}
