//! The program's lists: departments, professions (roles) and sites, in display order.
//!
//! Every form shows both lists, so they are read in one query and kept for a few seconds; an
//! edit made through this process is seen at once, one made by another instance within
//! [`LISTS_TTL`].

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use super::{Store, coordinators::Actor, now};

/// How long a read of the lists is reused.
pub const LISTS_TTL: Duration = Duration::from_secs(10);

/// Departments, roles and sites, each in display order.
#[derive(Clone, Debug, Default)]
pub struct Lists {
    pub departments: Vec<String>,
    pub roles: Vec<String>,
    /// The hospitals or campuses of a multi-site system; empty or one for a single site.
    pub sites: Vec<String>,
}

/// The last read of something small that every page needs (the lists, the settings) and when it
/// was made.
#[derive(Clone, Debug)]
pub struct Cached<T>(Arc<Mutex<Option<(Instant, T)>>>);

impl<T> Default for Cached<T> {
    fn default() -> Self {
        Self(Arc::new(Mutex::new(None)))
    }
}

impl<T: Clone> Cached<T> {
    pub fn fresh(&self) -> Option<T> {
        let guard = self.0.lock().ok()?;
        guard.as_ref().filter(|(at, _)| at.elapsed() < LISTS_TTL).map(|(_, lists)| lists.clone())
    }

    pub fn put(&self, value: &T) {
        if let Ok(mut guard) = self.0.lock() {
            *guard = Some((Instant::now(), value.clone()));
        }
    }

    /// Forgets the cached value (after an edit).
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
             UNION ALL SELECT 'role' AS kind, name, position FROM roles \
             UNION ALL SELECT 'site' AS kind, name, position FROM sites) lists ORDER BY kind, position, name",
        )
        .fetch_all(self.pool())
        .await?;
        let mut lists = Lists::default();
        for (kind, name) in rows {
            match kind.as_str() {
                "department" => lists.departments.push(name),
                "site" => lists.sites.push(name),
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

    pub async fn sites(&self) -> sqlx::Result<Vec<String>> {
        Ok(self.lists().await?.sites)
    }
}

/// Which list an edit is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListKind {
    Departments,
    Roles,
    Sites,
}

impl ListKind {
    pub fn parse(input: &str) -> Option<Self> {
        match input {
            "departments" => Some(Self::Departments),
            "roles" => Some(Self::Roles),
            "sites" => Some(Self::Sites),
            _ => None,
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Self::Departments => "departments",
            Self::Roles => "roles",
            Self::Sites => "sites",
        }
    }

    /// One entry, as the pages and the audit log name it.
    pub fn noun(self) -> &'static str {
        match self {
            Self::Departments => "department",
            Self::Roles => "profession",
            Self::Sites => "site",
        }
    }

    /// The list's table and the `users` column that holds an entry of it.
    fn table_and_column(self) -> (&'static str, &'static str) {
        match self {
            Self::Departments => ("departments", "department"),
            Self::Roles => ("roles", "role"),
            Self::Sites => ("sites", "site"),
        }
    }
}

/// A name in use: listed, or typed by participants under "Other", with how many accounts carry it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListEntry {
    pub name: String,
    pub people: i64,
    pub listed: bool,
}

/// What an edit of a list did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListEdit {
    /// Done; the number of accounts moved to the new name.
    Done(i64),
    /// Another entry already has that name.
    Taken,
    /// The entry to change is not there (any more).
    Missing,
}

impl Store {
    /// The list's entries in display order, then the names participants typed that it lacks, each
    /// with its number of accounts.
    #[tracing::instrument(skip(self))]
    pub async fn list_entries(&self, kind: ListKind) -> sqlx::Result<Vec<ListEntry>> {
        let (table, column) = kind.table_and_column();
        let listed: Vec<(String,)> =
            sqlx::query_as(&format!("SELECT name FROM {table} ORDER BY position, name"))
                .fetch_all(self.pool())
                .await?;
        let used: Vec<(String, i64)> = sqlx::query_as(&format!(
            "SELECT {column}, COUNT(*) FROM users WHERE {column} IS NOT NULL GROUP BY {column} ORDER BY {column}"
        ))
        .fetch_all(self.pool())
        .await?;
        let mut entries: Vec<ListEntry> = listed
            .into_iter()
            .map(|(name,)| {
                let people = used.iter().find(|(n, _)| *n == name).map_or(0, |(_, c)| *c);
                ListEntry { name, people, listed: true }
            })
            .collect();
        for (name, people) in used {
            if !entries.iter().any(|e| e.name == name) {
                entries.push(ListEntry { name, people, listed: false });
            }
        }
        Ok(entries)
    }

    /// Adds `name` at the end of the list.
    #[tracing::instrument(skip(self, actor))]
    pub async fn add_list_entry(&self, kind: ListKind, name: &str, actor: &Actor) -> sqlx::Result<ListEdit> {
        let (table, _) = kind.table_and_column();
        let mut tx = self.pool().begin().await?;
        if listed_name(&mut tx, table, name).await?.is_some() {
            return Ok(ListEdit::Taken);
        }
        sqlx::query(&format!(
            "INSERT INTO {table} (name, position) SELECT $1, COALESCE(MAX(position), 0) + 1 FROM {table}"
        ))
        .bind(name)
        .execute(&mut *tx)
        .await?;
        Self::audit_in(&mut tx, actor, "list changed", &format!("added {} {name:?}", kind.noun())).await?;
        tx.commit().await?;
        self.lists_cache.clear();
        Ok(ListEdit::Done(0))
    }

    /// Renames the listed entry `from` to `to`, on the list and on every account that carries it.
    #[tracing::instrument(skip(self, actor))]
    pub async fn rename_list_entry(
        &self,
        kind: ListKind,
        from: &str,
        to: &str,
        actor: &Actor,
    ) -> sqlx::Result<ListEdit> {
        let (table, column) = kind.table_and_column();
        let mut tx = self.pool().begin().await?;
        let Some(current) = listed_name(&mut tx, table, from).await? else { return Ok(ListEdit::Missing) };
        if listed_name(&mut tx, table, to).await?.is_some_and(|taken| !taken.eq_ignore_ascii_case(&current)) {
            return Ok(ListEdit::Taken);
        }
        sqlx::query(&format!("UPDATE {table} SET name = $2 WHERE name = $1"))
            .bind(&current)
            .bind(to)
            .execute(&mut *tx)
            .await?;
        let moved = move_accounts(&mut tx, column, &current, to).await?;
        let detail = format!("renamed {} {current:?} to {to:?} ({moved} accounts)", kind.noun());
        Self::audit_in(&mut tx, actor, "list changed", &detail).await?;
        tx.commit().await?;
        self.lists_cache.clear();
        Ok(ListEdit::Done(moved))
    }

    /// Moves every account from `from` (listed, or typed under "Other") to the listed entry
    /// `into`, and takes `from` off the list.
    #[tracing::instrument(skip(self, actor))]
    pub async fn merge_list_entries(
        &self,
        kind: ListKind,
        from: &str,
        into: &str,
        actor: &Actor,
    ) -> sqlx::Result<ListEdit> {
        let (table, column) = kind.table_and_column();
        let mut tx = self.pool().begin().await?;
        let Some(into) = listed_name(&mut tx, table, into).await? else { return Ok(ListEdit::Missing) };
        sqlx::query(&format!("DELETE FROM {table} WHERE name = $1")).bind(from).execute(&mut *tx).await?;
        let moved = move_accounts(&mut tx, column, from, &into).await?;
        let detail = format!("merged {} {from:?} into {into:?} ({moved} accounts)", kind.noun());
        Self::audit_in(&mut tx, actor, "list changed", &detail).await?;
        tx.commit().await?;
        self.lists_cache.clear();
        Ok(ListEdit::Done(moved))
    }
}

/// The listed spelling of `name` (compared without case), if the list has it.
async fn listed_name(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    table: &str,
    name: &str,
) -> sqlx::Result<Option<String>> {
    let row: Option<(String,)> =
        sqlx::query_as(&format!("SELECT name FROM {table} WHERE lower(name) = lower($1)"))
            .bind(name)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(row.map(|(n,)| n))
}

/// Gives every account whose `column` is `from` the value `to`; how many changed.
async fn move_accounts(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    column: &str,
    from: &str,
    to: &str,
) -> sqlx::Result<i64> {
    let done = sqlx::query(&format!("UPDATE users SET {column} = $2, updated_at = $3 WHERE {column} = $1"))
        .bind(from)
        .bind(to)
        .bind(now())
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() as i64)
}
