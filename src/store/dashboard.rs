//! The coordinator dashboard's figures. Every count is an aggregate computed by the database
//! (`GROUP BY`); no query here loads one row per person.

use sqlx::FromRow;

use super::{Backend, Store};

/// Which accounts the dashboard counts: empty strings and a negative level mean "any".
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub department: String,
    pub role: String,
    pub level: Option<i64>,
}

/// The filter's `WHERE` clause; it binds `$1` department, `$2` role, `$3` level.
const FILTER: &str = "($1 = '' OR department = $1) AND ($2 = '' OR role = $2) AND ($3 < 0 OR level = $3)";

/// How many accounts are in each participation status.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatusTotals {
    pub active: i64,
    pub paused: i64,
    pub opted_out: i64,
    pub awaiting_confirmation: i64,
    pub auto_paused: i64,
}

impl StatusTotals {
    pub fn total(&self) -> i64 {
        self.active + self.paused + self.opted_out + self.awaiting_confirmation + self.auto_paused
    }
}

/// A label and how many accounts carry it.
#[derive(Clone, Debug, FromRow, PartialEq, Eq)]
pub struct Count<K> {
    pub key: K,
    pub n: i64,
}

/// A past round as the rounds list shows it.
#[derive(Clone, Debug, FromRow)]
pub struct RoundRow {
    pub id: i64,
    pub month: String,
    pub created_at: i64,
    pub participants: i64,
    pub group_count: i64,
    pub sit_out_count: i64,
    pub met_groups: i64,
    pub emails_sent: i64,
    pub emails_failed: i64,
}

impl Store {
    fn bind_filter<'q>(
        query: sqlx::query::QueryAs<'q, sqlx::Any, (String, i64), sqlx::any::AnyArguments<'q>>,
        filter: &'q Filter,
    ) -> sqlx::query::QueryAs<'q, sqlx::Any, (String, i64), sqlx::any::AnyArguments<'q>> {
        query.bind(filter.department.as_str()).bind(filter.role.as_str()).bind(filter.level.unwrap_or(-1))
    }

    /// Accounts per participation status; `next_round` (`YYYY-MM`) decides who is still paused.
    #[tracing::instrument(skip(self))]
    pub async fn status_totals(&self, filter: &Filter, next_round: &str) -> sqlx::Result<StatusTotals> {
        let sql = format!(
            "SELECT CASE WHEN confirmed_at IS NULL THEN 'awaiting' \
                         WHEN opted_out_at IS NOT NULL THEN 'opted_out' \
                         WHEN auto_paused_at IS NOT NULL THEN 'auto_paused' \
                         WHEN paused_through IS NOT NULL AND paused_through >= $4 THEN 'paused' \
                         ELSE 'active' END AS status, COUNT(*) \
             FROM users WHERE {FILTER} GROUP BY 1"
        );
        let rows =
            Self::bind_filter(sqlx::query_as(&sql), filter).bind(next_round).fetch_all(self.pool()).await?;
        let mut totals = StatusTotals::default();
        for (status, n) in rows {
            match status.as_str() {
                "awaiting" => totals.awaiting_confirmation = n,
                "opted_out" => totals.opted_out = n,
                "auto_paused" => totals.auto_paused = n,
                "paused" => totals.paused = n,
                _ => totals.active = n,
            }
        }
        Ok(totals)
    }

    /// Accounts per department, largest first.
    #[tracing::instrument(skip(self))]
    pub async fn count_by_department(&self, filter: &Filter) -> sqlx::Result<Vec<Count<String>>> {
        self.count_by("department", filter).await
    }

    /// Accounts per profession, largest first.
    #[tracing::instrument(skip(self))]
    pub async fn count_by_role(&self, filter: &Filter) -> sqlx::Result<Vec<Count<String>>> {
        self.count_by("role", filter).await
    }

    async fn count_by(&self, column: &'static str, filter: &Filter) -> sqlx::Result<Vec<Count<String>>> {
        let sql = format!(
            "SELECT {column}, COUNT(*) FROM users WHERE {FILTER} GROUP BY {column} ORDER BY COUNT(*) DESC, {column}"
        );
        let rows = Self::bind_filter(sqlx::query_as(&sql), filter).fetch_all(self.pool()).await?;
        Ok(rows.into_iter().map(|(key, n)| Count { key, n }).collect())
    }

    /// Accounts per career stage, by stage.
    #[tracing::instrument(skip(self))]
    pub async fn count_by_level(&self, filter: &Filter) -> sqlx::Result<Vec<Count<i64>>> {
        let sql = format!("SELECT level, COUNT(*) FROM users WHERE {FILTER} GROUP BY level ORDER BY level");
        let rows: Vec<(i64, i64)> = sqlx::query_as(&sql)
            .bind(filter.department.as_str())
            .bind(filter.role.as_str())
            .bind(filter.level.unwrap_or(-1))
            .fetch_all(self.pool())
            .await?;
        Ok(rows.into_iter().map(|(key, n)| Count { key, n }).collect())
    }

    /// Signups per month (`YYYY-MM`, UTC) since `since` (Unix seconds); months without any are absent.
    #[tracing::instrument(skip(self))]
    pub async fn signups_by_month(&self, filter: &Filter, since: i64) -> sqlx::Result<Vec<Count<String>>> {
        let month = match self.backend() {
            Backend::Sqlite => "strftime('%Y-%m', created_at, 'unixepoch')",
            Backend::Postgres => "to_char(to_timestamp(created_at) AT TIME ZONE 'UTC', 'YYYY-MM')",
        };
        let sql = format!(
            "SELECT {month} AS month, COUNT(*) FROM users WHERE {FILTER} AND created_at >= $4 GROUP BY 1 ORDER BY 1"
        );
        let rows = Self::bind_filter(sqlx::query_as(&sql), filter).bind(since).fetch_all(self.pool()).await?;
        Ok(rows.into_iter().map(|(key, n)| Count { key, n }).collect())
    }

    /// Every round, newest first, with its met groups and the email sent and failed for it
    /// (the outbox rows of its members, of the round's kinds, between this round and the next).
    #[tracing::instrument(skip(self))]
    pub async fn round_rows(&self) -> sqlx::Result<Vec<RoundRow>> {
        sqlx::query_as(
            "SELECT r.id, r.month, r.created_at, r.participants, r.group_count, r.sit_out_count, \
                    (SELECT COUNT(*) FROM round_groups g WHERE g.round_id = r.id AND g.status = 'met') AS met_groups, \
                    (SELECT COUNT(*) FROM outbox o WHERE o.status = 'sent' AND o.created_at >= r.created_at AND o.created_at < COALESCE((SELECT MIN(n.created_at) FROM rounds n WHERE n.created_at > r.created_at), 9223372036854775807) \
                       AND o.kind IN ('intro', 'sit_out', 'checkin', 'nudge') \
                       AND o.user_id IN (SELECT m.user_id FROM group_members m JOIN round_groups g ON g.id = m.group_id WHERE g.round_id = r.id \
                                         UNION SELECT s.user_id FROM round_sit_outs s WHERE s.round_id = r.id)) AS emails_sent, \
                    (SELECT COUNT(*) FROM outbox o WHERE o.status = 'failed' AND o.created_at >= r.created_at AND o.created_at < COALESCE((SELECT MIN(n.created_at) FROM rounds n WHERE n.created_at > r.created_at), 9223372036854775807) \
                       AND o.kind IN ('intro', 'sit_out', 'checkin', 'nudge') \
                       AND o.user_id IN (SELECT m.user_id FROM group_members m JOIN round_groups g ON g.id = m.group_id WHERE g.round_id = r.id \
                                         UNION SELECT s.user_id FROM round_sit_outs s WHERE s.round_id = r.id)) AS emails_failed \
             FROM rounds r ORDER BY r.month DESC",
        )
        .fetch_all(self.pool())
        .await
    }
}
