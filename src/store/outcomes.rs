//! Outcomes over time: each round's meet rate, and for the people the program has placed in a
//! group, how many people they met and how many departments those people work in. Every figure is
//! an aggregate computed by the database; nobody is named.

use sqlx::FromRow;

use super::{Store, dashboard::Count};
use crate::domain::{Month, RoundId};

/// A round's meet rate.
#[derive(Clone, Debug, FromRow, PartialEq, Eq)]
pub struct RoundOutcome {
    pub id: RoundId,
    pub month: Month,
    pub groups: i64,
    pub met: i64,
    /// Groups in which at least one person answered (met or not yet).
    pub answered: i64,
    /// Of the groups, those that met by video, and of those, the ones that met.
    pub video_groups: i64,
    pub video_met: i64,
}

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
            "SELECT r.id, r.month, COUNT(g.id) AS groups, \
               COALESCE(SUM(CASE WHEN g.status = 'met' THEN 1 ELSE 0 END), 0) AS met, \
               COALESCE(SUM(CASE WHEN g.status IN ('met', 'not_met') THEN 1 ELSE 0 END), 0) AS answered, \
               COALESCE(SUM(CASE WHEN g.mode = 'video' THEN 1 ELSE 0 END), 0) AS video_groups, \
               COALESCE(SUM(CASE WHEN g.mode = 'video' AND g.status = 'met' THEN 1 ELSE 0 END), 0) AS video_met \
             FROM rounds r LEFT JOIN round_groups g ON g.round_id = r.id \
             GROUP BY r.id, r.month ORDER BY r.month",
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
