//! Outcomes over time: each round's meet rate, and for the people the program has placed in a
//! group, how many people they met and how many departments those people work in; and what met
//! conversations led to, as each member answers "Did it lead to anything?" (one answer per person
//! per group, in `outcome_answers`). Every figure for coordinators is an aggregate computed by the
//! database; nobody is named. A person reads back only their own answers.

use sqlx::FromRow;

use super::{Store, dashboard::Count, now, values::Flag};
use crate::domain::{GroupId, LedTo, Month, RoundId, RoundKind, UserId};

/// A round's meet rate.
#[derive(Clone, Debug, FromRow, PartialEq, Eq)]
pub struct RoundOutcome {
    pub id: RoundId,
    pub month: Month,
    pub kind: RoundKind,
    pub groups: i64,
    pub met: i64,
    /// Groups in which at least one person answered (met or not yet).
    pub answered: i64,
    /// Of the groups, those that met by video, and of those, the ones that met.
    pub video_groups: i64,
    pub video_met: i64,
}

/// A round's answers about its met groups.
#[derive(Clone, Debug, FromRow, PartialEq, Eq)]
pub struct RoundLedTo {
    pub id: RoundId,
    pub month: Month,
    pub kind: RoundKind,
    /// Groups reported as met.
    pub met_groups: i64,
    /// Answers about those groups (one per person who answered).
    pub answers: i64,
    /// Answers saying it led to something concrete (anything but "Not yet").
    pub concrete: i64,
}

/// How many answers of one kind came from groups of one mix.
#[derive(Clone, Debug, FromRow, PartialEq, Eq)]
pub struct LedToCount {
    /// Whether the group's members work in more than one department.
    #[sqlx(try_from = "Flag")]
    pub cross_department: bool,
    /// The group's career-stage gap, in buckets: 0, 1 (one or two stages) or 3 (three or more).
    pub gap: i64,
    pub led_to: LedTo,
    pub n: i64,
}

/// Per met group of the rounds from `$1` to `$2`: how many departments and the stage gap among
/// its remaining members (as `dashboard::GROUP_MIX` counts them for one round).
const MET_GROUP_MIX: &str = "SELECT g.id, COUNT(DISTINCT lower(u.department)) AS departments, \
       MAX(u.level) - MIN(u.level) AS gap \
     FROM rounds r JOIN round_groups g ON g.round_id = r.id JOIN group_members m ON m.group_id = g.id \
     JOIN users u ON u.id = m.user_id \
     WHERE r.month >= $1 AND r.month <= $2 AND g.status = 'met' GROUP BY g.id";

/// The people each person reported meeting, once per pair however often they met.
const MET_PAIRS: &str = "SELECT DISTINCT a.user_id AS me, b.user_id AS other \
     FROM round_groups g \
     JOIN group_members a ON a.group_id = g.id \
     JOIN group_members b ON b.group_id = g.id AND b.user_id <> a.user_id \
     WHERE g.status = 'met'";

impl Store {
    /// Every round's groups, met groups and answered groups, oldest first.
    #[tracing::instrument(skip(self))]
    pub async fn round_outcomes(&self) -> sqlx::Result<Vec<RoundOutcome>> {
        sqlx::query_as(
            "SELECT r.id, r.month, r.kind, COUNT(g.id) AS groups, \
               COALESCE(SUM(CASE WHEN g.status = 'met' THEN 1 ELSE 0 END), 0) AS met, \
               COALESCE(SUM(CASE WHEN g.status IN ('met', 'not_met') THEN 1 ELSE 0 END), 0) AS answered, \
               COALESCE(SUM(CASE WHEN g.mode = 'video' THEN 1 ELSE 0 END), 0) AS video_groups, \
               COALESCE(SUM(CASE WHEN g.mode = 'video' AND g.status = 'met' THEN 1 ELSE 0 END), 0) AS video_met \
             FROM rounds r LEFT JOIN round_groups g ON g.round_id = r.id WHERE r.skipped_reason IS NULL \
             GROUP BY r.id, r.month, r.kind ORDER BY r.month, r.kind DESC",
        )
        .fetch_all(self.pool())
        .await
    }

    /// How many people have been placed in at least one group (whether or not they met).
    #[tracing::instrument(skip(self))]
    pub async fn people_ever_grouped(&self) -> sqlx::Result<i64> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(DISTINCT user_id) FROM group_members")
            .fetch_one(self.pool())
            .await?;
        Ok(n)
    }

    /// For the people who met someone: how many met exactly `key` people. People who met nobody
    /// are not counted here (the caller has [`Store::people_ever_grouped`]).
    #[tracing::instrument(skip(self))]
    pub async fn people_met_distribution(&self) -> sqlx::Result<Vec<Count<i64>>> {
        sqlx::query_as(&format!(
            "SELECT people AS key, COUNT(*) AS n FROM \
               (SELECT me, COUNT(*) AS people FROM ({MET_PAIRS}) pairs GROUP BY me) per_person \
             GROUP BY people ORDER BY people"
        ))
        .fetch_all(self.pool())
        .await
    }

    /// For the people who met someone: how many met people from exactly `key` departments.
    #[tracing::instrument(skip(self))]
    pub async fn departments_reached_distribution(&self) -> sqlx::Result<Vec<Count<i64>>> {
        sqlx::query_as(&format!(
            "SELECT departments AS key, COUNT(*) AS n FROM \
               (SELECT pairs.me, COUNT(DISTINCT u.department) AS departments \
                FROM ({MET_PAIRS}) pairs JOIN users u ON u.id = pairs.other GROUP BY pairs.me) per_person \
             GROUP BY departments ORDER BY departments"
        ))
        .fetch_all(self.pool())
        .await
    }
}

impl Store {
    /// Records (or replaces) `user_id`'s answer about `group_id`: only a member's, and only about a
    /// group reported as met. Returns false, changing nothing, otherwise.
    #[tracing::instrument(skip(self))]
    pub async fn record_led_to(
        &self,
        group_id: GroupId,
        user_id: UserId,
        led_to: LedTo,
    ) -> sqlx::Result<bool> {
        let done = sqlx::query(
            "INSERT INTO outcome_answers (group_id, user_id, led_to, answered_at) \
             SELECT m.group_id, m.user_id, $3, $4 FROM group_members m JOIN round_groups g ON g.id = m.group_id \
             WHERE m.group_id = $1 AND m.user_id = $2 AND g.status = 'met' \
             ON CONFLICT (group_id, user_id) DO UPDATE SET led_to = excluded.led_to, answered_at = excluded.answered_at",
        )
        .bind(group_id)
        .bind(user_id)
        .bind(led_to)
        .bind(now())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A person's own answers, by group.
    #[tracing::instrument(skip(self))]
    pub async fn my_led_to(&self, user_id: UserId) -> sqlx::Result<Vec<(GroupId, LedTo)>> {
        sqlx::query_as("SELECT group_id, led_to FROM outcome_answers WHERE user_id = $1")
            .bind(user_id)
            .fetch_all(self.pool())
            .await
    }

    /// Every round's met groups and the answers about them, oldest first.
    #[tracing::instrument(skip(self))]
    pub async fn led_to_by_round(&self) -> sqlx::Result<Vec<RoundLedTo>> {
        sqlx::query_as(
            "SELECT r.id, r.month, r.kind, COUNT(DISTINCT g.id) AS met_groups, COUNT(a.user_id) AS answers, \
               COALESCE(SUM(CASE WHEN a.led_to <> 'not_yet' THEN 1 ELSE 0 END), 0) AS concrete \
             FROM rounds r LEFT JOIN round_groups g ON g.round_id = r.id AND g.status = 'met' \
             LEFT JOIN outcome_answers a ON a.group_id = g.id WHERE r.skipped_reason IS NULL \
             GROUP BY r.id, r.month, r.kind ORDER BY r.month, r.kind DESC",
        )
        .fetch_all(self.pool())
        .await
    }

    /// The answers about met groups of the rounds from `since` to `until`, counted by the group's
    /// department mix, its stage-gap bucket and the answer.
    #[tracing::instrument(skip(self))]
    pub async fn led_to_counts(&self, since: Month, until: Month) -> sqlx::Result<Vec<LedToCount>> {
        sqlx::query_as(&format!(
            "SELECT CASE WHEN mix.departments > 1 THEN 1 ELSE 0 END AS cross_department, \
               CASE WHEN mix.gap >= 3 THEN 3 WHEN mix.gap >= 1 THEN 1 ELSE 0 END AS gap, \
               a.led_to, COUNT(*) AS n \
             FROM outcome_answers a JOIN ({MET_GROUP_MIX}) mix ON mix.id = a.group_id \
             GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
        ))
        .bind(since)
        .bind(until)
        .fetch_all(self.pool())
        .await
    }

    /// For everyone placed in a group in the rounds from `since` to `until`: how many people had
    /// exactly `key` conversations (groups reported as met) in those rounds.
    #[tracing::instrument(skip(self))]
    pub async fn conversations_per_person(
        &self,
        since: Month,
        until: Month,
    ) -> sqlx::Result<Vec<Count<i64>>> {
        sqlx::query_as(
            "SELECT conversations AS key, COUNT(*) AS n FROM \
               (SELECT m.user_id, SUM(CASE WHEN g.status = 'met' THEN 1 ELSE 0 END) AS conversations \
                FROM rounds r JOIN round_groups g ON g.round_id = r.id JOIN group_members m ON m.group_id = g.id \
                WHERE r.month >= $1 AND r.month <= $2 GROUP BY m.user_id) per_person \
             GROUP BY conversations ORDER BY conversations",
        )
        .bind(since)
        .bind(until)
        .fetch_all(self.pool())
        .await
    }
}
