//! The program's lists: departments and professions (roles), in display order.
//!
//! Every form shows both lists, so they are read in one query and kept for a few seconds; an
//! edit made through this process is seen at once, one made by another instance within
//! [`LISTS_TTL`].

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use super::Store;

/// How long a read of the lists is reused.
pub const LISTS_TTL: Duration = Duration::from_secs(10);

/// Departments and roles, each in display order.
#[derive(Clone, Debug, Default)]
pub struct Lists {
    pub departments: Vec<String>,
    pub roles: Vec<String>,
}

/// The last read of the lists and when it was made.
#[derive(Clone, Debug, Default)]
pub struct ListsCache(Arc<Mutex<Option<(Instant, Lists)>>>);

impl ListsCache {
    fn fresh(&self) -> Option<Lists> {
        let guard = self.0.lock().ok()?;
        guard.as_ref().filter(|(at, _)| at.elapsed() < LISTS_TTL).map(|(_, lists)| lists.clone())
    }

    fn put(&self, lists: &Lists) {
        if let Ok(mut guard) = self.0.lock() {
            *guard = Some((Instant::now(), lists.clone()));
        }
    }

    /// Forgets the cached lists (after an edit).
    pub fn clear(&self) {
        if let Ok(mut guard) = self.0.lock() {
            *guard = None;
        }
    }
}

impl Store {
    #[tracing::instrument(skip(self))]
    pub async fn lists(&self) -> sqlx::Result<Lists> {
        if let Some(lists) = self.lists_cache.fresh() {
            return Ok(lists);
        }
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT kind, name FROM (SELECT 'department' AS kind, name, position FROM departments \
             UNION ALL SELECT 'role' AS kind, name, position FROM roles) lists ORDER BY kind, position, name",
        )
        .fetch_all(self.pool())
        .await?;
        let mut lists = Lists::default();
        for (kind, name) in rows {
            match kind.as_str() {
                "department" => lists.departments.push(name),
                _ => lists.roles.push(name),
            }
        }
        self.lists_cache.put(&lists);
        Ok(lists)
    }

    pub async fn departments(&self) -> sqlx::Result<Vec<String>> {
        Ok(self.lists().await?.departments)
    }

    pub async fn roles(&self) -> sqlx::Result<Vec<String>> {
        Ok(self.lists().await?.roles)
    }
}
