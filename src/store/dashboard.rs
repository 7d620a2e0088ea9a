//! The coordinator dashboard's figures. Every count is an aggregate computed by the database
//! (`GROUP BY`); no query here loads one row per person.

use sqlx::FromRow;

use super::{Backend, Store};
use crate::domain::{
    Email, FreeTimes, Frequency, GroupId, Level, MeetFormat, Month, PersonName, RoundId, RoundKind, Slot,
};

/// The seven sums of `count_by_free_time`: one per slot, then the accounts that gave none.
struct SlotCounts([i64; 7]);

impl<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> for SlotCounts {
    fn from_row(row: &'r sqlx::any::AnyRow) -> sqlx::Result<Self> {
        use sqlx::Row;
        let mut sums = [0; 7];
        for (i, sum) in sums.iter_mut().enumerate() {
            *sum = row.try_get(i)?;
        }
        Ok(Self(sums))
    }
}

/// Which accounts the dashboard counts: empty strings and `None` mean "any".
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub department: String,
    pub role: String,
    pub level: Option<Level>,
    pub site: String,
    pub format: Option<MeetFormat>,
    /// Accounts that gave this slot among their free times.
    pub time: Option<Slot>,
}

impl Filter {
    fn level(&self) -> Option<Level> {
        self.level
    }

    /// The `WHERE` condition for the selected accounts: one term, and one parameter, per filter
    /// that is set, numbered from `$first` in the order `Store::bind_filter` binds them. (A
    /// catch-all `($1 = '' OR department = $1)` made PostgreSQL's cached generic plans expect a
    /// few hundred rows of 100,000 and sort them all, on disk, five times per page.)
    fn condition(&self, first: usize) -> String {
        let mut terms = Vec::new();
        if !self.department.is_empty() {
            terms.push("department = $");
        }
        if !self.role.is_empty() {
            terms.push("role = $");
        }
        if self.level().is_some() {
            terms.push("level = $");
        }
        if !self.site.is_empty() {
            terms.push("site = $");
        }
        if self.format.is_some() {
            terms.push("meet_format = $");
        }
        if self.time.is_some() {
            terms.push("free_times & $");
        }
        if terms.is_empty() {
            return "1 = 1".to_owned();
        }
        let terms: Vec<String> = terms
            .iter()
            .enumerate()
            .map(|(i, term)| {
                let bit_test = if term.starts_with("free_times") { " <> 0" } else { "" };
                format!("{term}{}{bit_test}", first + i)
            })
            .collect();
        terms.join(" AND ")
    }
}

/// An account's participation status, as `accounts::participation` decides it; binds `$1`, the
/// next round's month (`YYYY-MM`), to tell a pause in force from one that is over.
const STATUS: &str = "CASE WHEN confirmed_at IS NULL THEN 'awaiting' \
     WHEN opted_out_at IS NOT NULL THEN 'opted_out' \
     WHEN email_bounced_at IS NOT NULL THEN 'bounced' \
     WHEN auto_paused_at IS NOT NULL THEN 'auto_paused' \
     WHEN paused_through IS NOT NULL AND paused_through >= $1 THEN 'paused' \
     ELSE 'active' END";

/// The accounts that are not simply active: the only ones whose status needs working out. The
/// partial index `users_not_active` holds exactly these; keep this word for word as its `WHERE`.
const NOT_ACTIVE: &str = "(confirmed_at IS NULL OR opted_out_at IS NOT NULL OR auto_paused_at IS NOT NULL \
     OR paused_through IS NOT NULL OR email_bounced_at IS NOT NULL)";

/// How many accounts are in each participation status.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatusTotals {
    pub active: i64,
    pub paused: i64,
    pub opted_out: i64,
    pub awaiting_confirmation: i64,
    pub auto_paused: i64,
    /// Not matched because the receiving server refused their address for good.
    pub bounced: i64,
}

impl StatusTotals {
    pub fn total(&self) -> i64 {
        self.active
            + self.paused
            + self.opted_out
            + self.awaiting_confirmation
            + self.auto_paused
            + self.bounced
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
    pub id: RoundId,
    pub month: Month,
    pub kind: RoundKind,
    /// Why the round did not take place, when it did not.
    pub skipped_reason: Option<String>,
    pub created_at: i64,
    pub participants: i64,
    pub group_count: i64,
    pub sit_out_count: i64,
    pub met_groups: i64,
    pub emails_sent: i64,
    pub emails_failed: i64,
}

/// A round with its met groups and the email sent and failed for it. Round email carries its
/// round (`outbox.round_id`), so each count is one range of an index: `round_groups (round_id,
/// status)` and `outbox (round_id, status)`.
const ROUND_ROWS: &str = "SELECT r.id, r.month, r.kind, r.skipped_reason, r.created_at, r.participants, \
       r.group_count, r.sit_out_count, \
       (SELECT COUNT(*) FROM round_groups g WHERE g.round_id = r.id AND g.status = 'met') AS met_groups, \
       (SELECT COUNT(*) FROM outbox o WHERE o.round_id = r.id AND o.status = 'sent') AS emails_sent, \
       (SELECT COUNT(*) FROM outbox o WHERE o.round_id = r.id AND o.status = 'failed') AS emails_failed \
     FROM rounds r";

impl Store {
    /// Binds the parameters of `filter.condition(…)`.
    fn bind_filter<'q, O>(
        mut query: sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>>,
        filter: &'q Filter,
    ) -> sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>> {
        if !filter.department.is_empty() {
            query = query.bind(filter.department.as_str());
        }
        if !filter.role.is_empty() {
            query = query.bind(filter.role.as_str());
        }
        if let Some(level) = filter.level() {
            query = query.bind(level);
        }
        if !filter.site.is_empty() {
            query = query.bind(filter.site.as_str());
        }
        if let Some(format) = filter.format {
            query = query.bind(format);
        }
        if let Some(slot) = filter.time {
            query = query.bind(FreeTimes::from_slots([slot]));
        }
        query
    }

    /// Accounts per participation status; `next_round` (`YYYY-MM`) decides who is still paused.
    /// The statuses are counted among the accounts that are not simply active (a fifth of them,
    /// read from a partial index) beside the count of all; the active are the difference.
    #[tracing::instrument(skip(self))]
    pub async fn status_totals(&self, filter: &Filter, next_round: Month) -> sqlx::Result<StatusTotals> {
        let condition = filter.condition(2);
        let sql = format!(
            "SELECT {STATUS} AS status, COUNT(*) FROM users WHERE {condition} AND {NOT_ACTIVE} GROUP BY 1 \
             UNION ALL SELECT 'all', COUNT(*) FROM users WHERE {condition}"
        );
        let rows: Vec<(String, i64)> =
            Self::bind_filter(sqlx::query_as(&sql).bind(next_round), filter).fetch_all(self.pool()).await?;
        let mut totals = StatusTotals::default();
        let mut all = 0;
        for (status, n) in rows {
            match status.as_str() {
                "all" => all = n,
                "awaiting" => totals.awaiting_confirmation = n,
                "opted_out" => totals.opted_out = n,
                "auto_paused" => totals.auto_paused = n,
                "bounced" => totals.bounced = n,
                "paused" => totals.paused = n,
                // A pause that is over: active, and counted as such below.
                _ => {}
            }
        }
        totals.active = all
            - totals.awaiting_confirmation
            - totals.opted_out
            - totals.auto_paused
            - totals.paused
            - totals.bounced;
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

    /// Accounts per site, largest first; those without a site under the empty name.
    #[tracing::instrument(skip(self))]
    pub async fn count_by_site(&self, filter: &Filter) -> sqlx::Result<Vec<Count<String>>> {
        self.count_by("COALESCE(site, '')", filter).await
    }

    /// Accounts per meeting format, largest first.
    #[tracing::instrument(skip(self))]
    pub async fn count_by_format(&self, filter: &Filter) -> sqlx::Result<Vec<Count<MeetFormat>>> {
        self.count_by("meet_format", filter).await
    }

    /// Accounts per frequency, largest first.
    #[tracing::instrument(skip(self))]
    pub async fn count_by_frequency(&self, filter: &Filter) -> sqlx::Result<Vec<Count<Frequency>>> {
        self.count_by("frequency", filter).await
    }

    /// The people who take part (confirmed, opted in, not paused for good by a bounce or
    /// silence) per frequency: what the rounds have to match in a typical month.
    #[tracing::instrument(skip(self))]
    pub async fn taking_part_by_frequency(&self) -> sqlx::Result<Vec<Count<Frequency>>> {
        let rows: Vec<(Frequency, i64)> = sqlx::query_as(
            "SELECT frequency, COUNT(*) FROM users WHERE confirmed_at IS NOT NULL AND opted_out_at IS NULL \
             AND auto_paused_at IS NULL AND email_bounced_at IS NULL GROUP BY frequency",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|(key, n)| Count { key, n }).collect())
    }

    /// The month of the latest round, and the groups its rounds (of both kinds) made.
    #[tracing::instrument(skip(self))]
    pub async fn latest_month_groups(&self) -> sqlx::Result<Option<(Month, i64)>> {
        sqlx::query_as(
            "SELECT r.month, COUNT(g.id) FROM rounds r LEFT JOIN round_groups g ON g.round_id = r.id \
             WHERE r.month = (SELECT MAX(month) FROM rounds) GROUP BY r.month",
        )
        .fetch_optional(self.pool())
        .await
    }

    /// Accounts that gave each slot among their free times (one account may count under
    /// several), then those that gave none (`None`).
    #[tracing::instrument(skip(self))]
    pub async fn count_by_free_time(&self, filter: &Filter) -> sqlx::Result<Vec<Count<Option<Slot>>>> {
        let sums: Vec<String> = Slot::ALL
            .iter()
            .map(|slot| {
                let bit = FreeTimes::from_slots([*slot]).bits();
                format!("COALESCE(SUM(CASE WHEN (free_times & {bit}) <> 0 THEN 1 ELSE 0 END), 0)")
            })
            .collect();
        let sql = format!(
            "SELECT {}, COALESCE(SUM(CASE WHEN free_times = 0 THEN 1 ELSE 0 END), 0) FROM users WHERE {}",
            sums.join(", "),
            filter.condition(1)
        );
        let row =
            Self::bind_filter(sqlx::query_as::<_, SlotCounts>(&sql), filter).fetch_one(self.pool()).await?;
        let keys = Slot::ALL.into_iter().map(Some).chain([None]);
        Ok(keys.zip(row.0).map(|(key, n)| Count { key, n }).collect())
    }

    /// Accounts per value of `column` (decoded as `T`), largest first.
    async fn count_by<T>(&self, column: &'static str, filter: &Filter) -> sqlx::Result<Vec<Count<T>>>
    where
        T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any> + Send + Unpin,
    {
        let sql = format!(
            "SELECT {column}, COUNT(*) FROM users WHERE {} GROUP BY {column} ORDER BY COUNT(*) DESC, {column}",
            filter.condition(1)
        );
        let rows: Vec<(T, i64)> =
            Self::bind_filter(sqlx::query_as(&sql), filter).fetch_all(self.pool()).await?;
        Ok(rows.into_iter().map(|(key, n)| Count { key, n }).collect())
    }

    /// Accounts per career stage, by stage.
    #[tracing::instrument(skip(self))]
    pub async fn count_by_level(&self, filter: &Filter) -> sqlx::Result<Vec<Count<Level>>> {
        let sql = format!(
            "SELECT level, COUNT(*) FROM users WHERE {} GROUP BY level ORDER BY level",
            filter.condition(1)
        );
        let rows: Vec<(Level, i64)> =
            Self::bind_filter(sqlx::query_as(&sql), filter).fetch_all(self.pool()).await?;
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
            "SELECT {month} AS month, COUNT(*) FROM users WHERE created_at >= $1 AND {} GROUP BY 1 ORDER BY 1",
            filter.condition(2)
        );
        let rows: Vec<(String, i64)> =
            Self::bind_filter(sqlx::query_as(&sql).bind(since), filter).fetch_all(self.pool()).await?;
        Ok(rows.into_iter().map(|(key, n)| Count { key, n }).collect())
    }

    /// Every round, newest first, with its met groups and the email sent and failed for it
    /// (its introductions, sit-out notes, check-ins and nudges).
    #[tracing::instrument(skip(self))]
    pub async fn round_rows(&self) -> sqlx::Result<Vec<RoundRow>> {
        sqlx::query_as(&format!("{ROUND_ROWS} ORDER BY r.month DESC, r.kind DESC"))
            .fetch_all(self.pool())
            .await
    }
}

/// One member of a group of a past round, as the round page lists them.
#[derive(Clone, Debug, FromRow)]
pub struct GroupMemberRow {
    pub group_id: GroupId,
    pub position: i64,
    pub status: String,
    pub name: PersonName,
    pub role: String,
    pub level: Level,
    pub department: String,
}

/// How mixed a round's groups were: counts of groups, computed by the database.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoundMix {
    pub groups: i64,
    pub cross_department: i64,
    pub cross_role: i64,
    /// Groups whose members' career stages are 0, 1, 2, 3 and 4 or more apart.
    pub stage_gaps: [i64; 5],
}

/// Per group: how many departments, roles and the stage gap among its remaining members.
const GROUP_MIX: &str = "SELECT g.id, COUNT(DISTINCT lower(u.department)) AS departments, \
       COUNT(DISTINCT lower(u.role)) AS roles, MAX(u.level) - MIN(u.level) AS gap \
     FROM round_groups g JOIN group_members m ON m.group_id = g.id JOIN users u ON u.id = m.user_id \
     WHERE g.round_id = $1 GROUP BY g.id";

impl Store {
    #[tracing::instrument(skip(self))]
    pub async fn round_row(&self, round_id: RoundId) -> sqlx::Result<Option<RoundRow>> {
        sqlx::query_as(&format!("{ROUND_ROWS} WHERE r.id = $1"))
            .bind(round_id)
            .fetch_optional(self.pool())
            .await
    }

    /// Every member of every group of the round, by group.
    #[tracing::instrument(skip(self))]
    pub async fn round_group_members(&self, round_id: RoundId) -> sqlx::Result<Vec<GroupMemberRow>> {
        sqlx::query_as(
            "SELECT g.id AS group_id, g.position, g.status, u.name, u.role, u.level, u.department \
             FROM round_groups g JOIN group_members m ON m.group_id = g.id JOIN users u ON u.id = m.user_id \
             WHERE g.round_id = $1 ORDER BY g.position, u.name",
        )
        .bind(round_id)
        .fetch_all(self.pool())
        .await
    }

    /// Cross-department and cross-role groups and the spread of stage gaps in the round.
    #[tracing::instrument(skip(self))]
    pub async fn round_mix(&self, round_id: RoundId) -> sqlx::Result<RoundMix> {
        let (groups, cross_department, cross_role): (i64, Option<i64>, Option<i64>) =
            sqlx::query_as(&format!(
                "SELECT COUNT(*), CAST(SUM(CASE WHEN departments > 1 THEN 1 ELSE 0 END) AS BIGINT), \
                    CAST(SUM(CASE WHEN roles > 1 THEN 1 ELSE 0 END) AS BIGINT) FROM ({GROUP_MIX}) mix"
            ))
            .bind(round_id)
            .fetch_one(self.pool())
            .await?;
        let gaps: Vec<(i64, i64)> = sqlx::query_as(&format!(
            "SELECT CASE WHEN gap >= 4 THEN 4 ELSE gap END AS bucket, COUNT(*) FROM ({GROUP_MIX}) mix GROUP BY 1 ORDER BY 1"
        ))
        .bind(round_id)
        .fetch_all(self.pool())
        .await?;
        let mut stage_gaps = [0; 5];
        for (bucket, n) in gaps {
            if let Some(slot) = usize::try_from(bucket).ok().and_then(|b| stage_gaps.get_mut(b)) {
                *slot = n;
            }
        }
        Ok(RoundMix {
            groups,
            cross_department: cross_department.unwrap_or(0),
            cross_role: cross_role.unwrap_or(0),
            stage_gaps,
        })
    }
}

/// One account in the participants export.
#[derive(Clone, Debug, FromRow)]
pub struct ParticipantExport {
    pub name: PersonName,
    pub email: Email,
    pub department: String,
    pub role: String,
    pub level: Level,
    pub site: Option<String>,
    pub meet_format: MeetFormat,
    pub free_times: FreeTimes,
    pub status: String,
    pub created_at: i64,
}

/// One member of one group in the round results export.
#[derive(Clone, Debug, FromRow)]
pub struct ResultExport {
    pub month: Month,
    pub kind: RoundKind,
    pub position: i64,
    pub status: String,
    pub name: PersonName,
    pub email: Email,
    pub department: String,
    pub role: String,
    pub level: Level,
    pub response: Option<String>,
}

impl Store {
    /// Every account with its status, for the CSV export.
    #[tracing::instrument(skip(self))]
    pub async fn export_participants(&self, next_round: Month) -> sqlx::Result<Vec<ParticipantExport>> {
        sqlx::query_as(&format!(
            "SELECT name, email, department, role, level, site, meet_format, free_times, {STATUS} AS status, created_at \
             FROM users ORDER BY name, email"
        ))
        .bind(next_round)
        .fetch_all(self.pool())
        .await
    }

    /// Every member of every group of every round, for the CSV export.
    ///
    /// The `CROSS JOIN`s fix SQLite's join order (PostgreSQL plans them as inner joins): rounds
    /// by month, each round's groups by position, their members, so rows come out in the order
    /// wanted and only each group's few members are sorted by name. Left to itself SQLite sorted
    /// all 1.4 million rows of 24 rounds of 100,000 people and ran past the request timeout.
    #[tracing::instrument(skip(self))]
    pub async fn export_results(&self) -> sqlx::Result<Vec<ResultExport>> {
        sqlx::query_as(
            "SELECT r.month, r.kind, g.position, g.status, u.name, u.email, u.department, u.role, u.level, m.response \
             FROM rounds r CROSS JOIN round_groups g CROSS JOIN group_members m CROSS JOIN users u \
             WHERE g.round_id = r.id AND m.group_id = g.id AND u.id = m.user_id \
             ORDER BY r.month, r.kind, g.position, u.name",
        )
        .fetch_all(self.pool())
        .await
    }
}
