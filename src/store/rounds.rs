//! Monthly rounds: who takes part, who met whom before, and the round's groups, members'
//! answers, sit-outs and the questions each person was sent.

use sqlx::{Any, AnyConnection, FromRow, Transaction};

use super::{Backend, BulkInsert, Store, now, values::Flag};
use crate::domain::{
    Email, FreeTimes, Frequency, GroupId, Level, MeetFormat, Mode, Month, PersonName, Reach, RoundId,
    RoundKind, UserId,
};

/// A person taking part in a round, as the round job needs them.
#[derive(Clone, Debug, FromRow)]
pub struct Participant {
    pub id: UserId,
    pub email: Email,
    pub name: PersonName,
    pub role: String,
    pub level: Level,
    pub department: String,
    pub site: Option<String>,
    pub meet_format: MeetFormat,
    pub free_times: FreeTimes,
    pub frequency: Frequency,
}

impl Participant {
    /// Where and how the person can meet.
    pub fn reach(&self) -> Reach<'_> {
        Reach { site: self.site.as_deref(), format: self.meet_format }
    }
}

/// One row of meeting history: a pair that met in `month`, or (with `b` empty) a sit-out.
#[derive(Clone, Debug, FromRow)]
pub struct PastMeeting {
    pub a: UserId,
    pub b: Option<UserId>,
    pub month: Month,
}

/// A round's row.
#[derive(Clone, Debug, FromRow)]
pub struct RoundRow {
    pub id: RoundId,
    pub month: Month,
    pub kind: RoundKind,
    /// Why the round did not take place, when it did not.
    pub skipped_reason: Option<String>,
    pub participants: i64,
    pub group_count: i64,
    pub sit_out_count: i64,
    pub created_at: i64,
    pub checkin_sent_at: Option<i64>,
}

/// A round to store.
#[derive(Clone, Debug)]
pub struct NewRound<'a> {
    pub month: Month,
    pub kind: RoundKind,
    pub seed: i64,
    pub participants: i64,
    pub groups: i64,
    pub sit_outs: i64,
    pub total_score: i64,
    pub weights: &'a str,
    /// Set for a round that did not take place.
    pub skipped_reason: Option<&'a str>,
}

/// A group to store.
#[derive(Clone, Debug)]
pub struct NewGroup {
    pub score: i64,
    pub reason: String,
    pub mode: Mode,
    pub members: Vec<UserId>,
}

/// What a member answered about their group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Response {
    Met,
    NotYet,
    Skip,
}

impl Response {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Met => "met",
            Self::NotYet => "not_yet",
            Self::Skip => "skip",
        }
    }
}

/// One of a person's groups, for "My rounds".
#[derive(Clone, Debug)]
pub struct MyGroup {
    pub group_id: GroupId,
    pub month: Month,
    pub kind: RoundKind,
    pub status: String,
    pub partners: Vec<Partner>,
}

/// Someone a person was grouped with.
#[derive(Clone, Debug, FromRow)]
pub struct Partner {
    pub group_id: GroupId,
    pub user_id: UserId,
    pub name: PersonName,
    pub email: Email,
    pub role: String,
    pub level: Level,
    pub department: String,
}

/// A member of a group to email (check-in, nudge).
#[derive(Clone, Debug, FromRow)]
pub struct GroupMember {
    pub round_id: RoundId,
    pub group_id: GroupId,
    pub user_id: UserId,
    pub name: PersonName,
    pub email: Email,
}

const ACTIVE: &str = "confirmed_at IS NOT NULL AND opted_out_at IS NULL AND auto_paused_at IS NULL \
                      AND email_bounced_at IS NULL AND (paused_through IS NULL OR paused_through < $1)";

impl Store {
    /// Everyone matched in the `kind` round of `month`: confirmed, opted in, not paused for it,
    /// not auto-paused, and by their frequency: for the monthly round, everyone but those who
    /// chose every other month and had a group in the previous monthly round; for the mid-month
    /// round, those who chose twice a month.
    #[tracing::instrument(skip(self))]
    pub async fn round_participants(&self, month: Month, kind: RoundKind) -> sqlx::Result<Vec<Participant>> {
        let by_frequency = match kind {
            RoundKind::Main => {
                "(frequency <> 'every other month' OR NOT EXISTS (SELECT 1 FROM group_members m \
                 JOIN round_groups g ON g.id = m.group_id JOIN rounds r ON r.id = g.round_id \
                 WHERE m.user_id = users.id AND r.month = $2 AND r.kind = 'main'))"
            }
            RoundKind::MidMonth => "frequency = 'twice a month'",
        };
        let sql = format!(
            "SELECT id, email, name, role, level, department, site, meet_format, free_times, frequency FROM users \
             WHERE {ACTIVE} AND {by_frequency} ORDER BY id"
        );
        let query = sqlx::query_as(&sql).bind(month);
        let query = if kind == RoundKind::Main { query.bind(month.prev()) } else { query };
        query.fetch_all(self.pool()).await
    }

    /// Every pair that met, and every sit-out, in rounds (of either kind) before `month`, and,
    /// with `main_of_month`, in that month's monthly round too.
    #[tracing::instrument(skip(self))]
    pub async fn meeting_history(&self, month: Month, main_of_month: bool) -> sqlx::Result<Vec<PastMeeting>> {
        let rounds = "(r.month < $1 OR (r.month = $1 AND r.kind = 'main' AND $2 = 1))";
        let mut rows: Vec<PastMeeting> = sqlx::query_as(&format!(
            "SELECT a.user_id AS a, b.user_id AS b, r.month AS month FROM group_members a \
             JOIN group_members b ON b.group_id = a.group_id AND a.user_id < b.user_id \
             JOIN round_groups g ON g.id = a.group_id JOIN rounds r ON r.id = g.round_id \
             WHERE {rounds}"
        ))
        .bind(month)
        .bind(i64::from(main_of_month))
        .fetch_all(self.pool())
        .await?;
        let sat_out: Vec<(UserId, Month)> = sqlx::query_as(&format!(
            "SELECT s.user_id, r.month FROM round_sit_outs s JOIN rounds r ON r.id = s.round_id WHERE {rounds}"
        ))
        .bind(month)
        .bind(i64::from(main_of_month))
        .fetch_all(self.pool())
        .await?;
        rows.extend(sat_out.into_iter().map(|(a, month)| PastMeeting { a, b: None, month }));
        Ok(rows)
    }

    /// The `kind` round of `month`, if it ran (or was recorded as skipped).
    pub async fn round_by(&self, month: Month, kind: RoundKind) -> sqlx::Result<Option<RoundRow>> {
        sqlx::query_as(
            "SELECT id, month, kind, skipped_reason, participants, group_count, sit_out_count, created_at, \
             checkin_sent_at FROM rounds WHERE month = $1 AND kind = $2",
        )
        .bind(month)
        .bind(kind)
        .fetch_optional(self.pool())
        .await
    }

    /// The questions sent to anyone since `month` (exclusive), as (person, question number).
    pub async fn questions_sent_after(&self, month: Month) -> sqlx::Result<Vec<(UserId, i64)>> {
        sqlx::query_as("SELECT user_id, question FROM questions_sent WHERE month > $1")
            .bind(month)
            .fetch_all(self.pool())
            .await
    }

    /// Starts writing the `round` of its month and kind; `None` if it exists already. On
    /// PostgreSQL the transaction first takes an advisory lock, so concurrent runs queue instead
    /// of racing; the unique (month, kind) decides in any case.
    pub async fn insert_round(
        &self,
        tx: &mut Transaction<'_, Any>,
        round: &NewRound<'_>,
    ) -> sqlx::Result<Option<RoundId>> {
        if self.backend() == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(7265636) IS NULL").execute(&mut **tx).await?;
        }
        let id: Option<(RoundId,)> = sqlx::query_as(
            "INSERT INTO rounds (month, kind, seed, participants, group_count, sit_out_count, total_score, weights, \
             created_at, skipped_reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (month, kind) DO NOTHING RETURNING id",
        )
        .bind(round.month)
        .bind(round.kind)
        .bind(round.seed)
        .bind(round.participants)
        .bind(round.groups)
        .bind(round.sit_outs)
        .bind(round.total_score)
        .bind(round.weights)
        .bind(now())
        .bind(round.skipped_reason)
        .fetch_optional(&mut **tx)
        .await?;
        Ok(id.map(|(id,)| id))
    }

    /// Stores the groups and their members; returns the group ids in the order given.
    pub async fn insert_groups(
        conn: &mut AnyConnection,
        round_id: RoundId,
        groups: &[NewGroup],
    ) -> sqlx::Result<Vec<GroupId>> {
        let numbered: Vec<(i64, &NewGroup)> = groups.iter().enumerate().map(|(i, g)| (i as i64, g)).collect();
        let insert = BulkInsert {
            head: "INSERT INTO round_groups (round_id, position, score, reason, mode)",
            columns: 5,
            tail: "RETURNING id, position",
        };
        let returned: Vec<(GroupId, i64)> = insert
            .fetch(conn, &numbered, |query, (position, group)| {
                query.bind(round_id).bind(*position).bind(group.score).bind(&group.reason).bind(group.mode)
            })
            .await?;
        let mut ids = vec![GroupId(0); groups.len()];
        for (id, position) in returned {
            ids[position as usize] = id;
        }
        let members: Vec<(GroupId, UserId)> = groups
            .iter()
            .zip(&ids)
            .flat_map(|(group, id)| group.members.iter().map(move |user| (*id, *user)))
            .collect();
        let insert =
            BulkInsert { head: "INSERT INTO group_members (group_id, user_id)", columns: 2, tail: "" };
        insert.execute(conn, &members, |query, (group, user)| query.bind(*group).bind(*user)).await?;
        Ok(ids)
    }

    pub async fn insert_sit_outs(
        conn: &mut AnyConnection,
        round_id: RoundId,
        sit_outs: &[(UserId, String)],
    ) -> sqlx::Result<()> {
        let insert = BulkInsert {
            head: "INSERT INTO round_sit_outs (round_id, user_id, reason)",
            columns: 3,
            tail: "",
        };
        insert
            .execute(conn, sit_outs, |query, (user, reason)| query.bind(round_id).bind(*user).bind(reason))
            .await?;
        Ok(())
    }

    pub async fn insert_questions_sent(
        conn: &mut AnyConnection,
        month: Month,
        sent: &[(UserId, i64)],
    ) -> sqlx::Result<()> {
        let insert = BulkInsert {
            head: "INSERT INTO questions_sent (user_id, question, month)",
            columns: 3,
            tail: "ON CONFLICT DO NOTHING",
        };
        insert
            .execute(conn, sent, |query, (user, question)| query.bind(*user).bind(*question).bind(month))
            .await?;
        Ok(())
    }

    /// Records a member's answer and updates the group's status: any "met" makes it met; otherwise
    /// "not yet" makes it not met and "skip" skipped. Returns false if `user_id` is not in the group.
    #[tracing::instrument(skip(self))]
    pub async fn record_response(
        &self,
        group_id: GroupId,
        user_id: UserId,
        response: Response,
    ) -> sqlx::Result<bool> {
        let now = now();
        let mut tx = self.pool().begin().await?;
        let updated = sqlx::query(
            "UPDATE group_members SET response = $3, responded_at = $4 WHERE group_id = $1 AND user_id = $2",
        )
        .bind(group_id)
        .bind(user_id)
        .bind(response.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Ok(false);
        }
        let status = match response {
            Response::Met => sqlx::query(
                "UPDATE round_groups SET status = 'met', met_at = COALESCE(met_at, $2) WHERE id = $1",
            )
            .bind(group_id)
            .bind(now),
            Response::NotYet => {
                sqlx::query("UPDATE round_groups SET status = 'not_met' WHERE id = $1 AND status <> 'met'")
                    .bind(group_id)
            }
            Response::Skip => {
                sqlx::query("UPDATE round_groups SET status = 'skipped' WHERE id = $1 AND status = 'open'")
                    .bind(group_id)
            }
        };
        status.execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A person's groups, newest first, with their partners.
    #[tracing::instrument(skip(self))]
    pub async fn my_groups(&self, user_id: UserId) -> sqlx::Result<Vec<MyGroup>> {
        let groups: Vec<(GroupId, Month, RoundKind, String)> = sqlx::query_as(
            "SELECT g.id, r.month, r.kind, g.status FROM group_members m JOIN round_groups g ON g.id = m.group_id \
             JOIN rounds r ON r.id = g.round_id WHERE m.user_id = $1 ORDER BY r.month DESC, r.kind DESC",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?;
        let partners: Vec<Partner> = sqlx::query_as(
            "SELECT o.group_id, u.id AS user_id, u.name, u.email, u.role, u.level, u.department FROM group_members m \
             JOIN group_members o ON o.group_id = m.group_id AND o.user_id <> m.user_id \
             JOIN users u ON u.id = o.user_id WHERE m.user_id = $1 ORDER BY u.name",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?;
        Ok(groups
            .into_iter()
            .map(|(group_id, month, kind, status)| MyGroup {
                group_id,
                month,
                kind,
                status,
                partners: partners.iter().filter(|p| p.group_id == group_id).cloned().collect(),
            })
            .collect())
    }

    /// The months a person sat out, newest first, with the reason.
    pub async fn my_sit_outs(&self, user_id: UserId) -> sqlx::Result<Vec<(Month, String)>> {
        sqlx::query_as(
            "SELECT r.month, s.reason FROM round_sit_outs s JOIN rounds r ON r.id = s.round_id \
             WHERE s.user_id = $1 ORDER BY r.month DESC",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await
    }

    /// Members of the round's groups that no one has reported as met, who have not answered
    /// (and whose address has not bounced, and whose account is not closed).
    pub async fn checkin_recipients(&self, round_id: RoundId) -> sqlx::Result<Vec<GroupMember>> {
        sqlx::query_as(
            "SELECT g.round_id, m.group_id, u.id AS user_id, u.name, u.email FROM round_groups g \
             JOIN group_members m ON m.group_id = g.id JOIN users u ON u.id = m.user_id \
             WHERE g.round_id = $1 AND g.status <> 'met' AND m.response IS NULL AND u.email_bounced_at IS NULL \
               AND u.deactivated_at IS NULL \
             ORDER BY m.group_id, u.id",
        )
        .bind(round_id)
        .fetch_all(self.pool())
        .await
    }

    /// Marks the round's check-in as sent; false if it already was (another instance did it).
    pub async fn mark_checkin_sent(conn: &mut AnyConnection, round_id: RoundId) -> sqlx::Result<bool> {
        let done =
            sqlx::query("UPDATE rounds SET checkin_sent_at = $2 WHERE id = $1 AND checkin_sent_at IS NULL")
                .bind(round_id)
                .bind(now())
                .execute(conn)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Active participants who left their groups of the last three rounds they were in before
    /// `month` (of either kind) unanswered themselves, in groups nobody reported as met.
    pub async fn silent_participants(&self, month: Month) -> sqlx::Result<Vec<(UserId, PersonName, Email)>> {
        sqlx::query_as(
            "SELECT u.id, u.name, u.email FROM users u WHERE u.auto_paused_at IS NULL AND u.opted_out_at IS NULL \
             AND (SELECT COUNT(*) FROM group_members m JOIN round_groups g ON g.id = m.group_id \
                  WHERE m.user_id = u.id AND m.response IS NULL AND g.status <> 'met' \
                  AND g.round_id IN (SELECT r.id FROM group_members m2 JOIN round_groups g2 ON g2.id = m2.group_id \
                       JOIN rounds r ON r.id = g2.round_id WHERE m2.user_id = u.id AND r.month < $1 \
                       ORDER BY r.month DESC, r.id DESC LIMIT 3)) = 3 \
             ORDER BY u.id",
        )
        .bind(month)
        .fetch_all(self.pool())
        .await
    }

    /// Pauses (or un-pauses) a person for never answering; false when nothing changed, so that
    /// two concurrent runs tell the person only once.
    pub async fn set_auto_paused(
        conn: &mut AnyConnection,
        user_id: UserId,
        paused: bool,
    ) -> sqlx::Result<bool> {
        let sql = if paused {
            "UPDATE users SET auto_paused_at = $2, updated_at = $2 WHERE id = $1 AND auto_paused_at IS NULL"
        } else {
            "UPDATE users SET auto_paused_at = NULL, updated_at = $2 WHERE id = $1 AND auto_paused_at IS NOT NULL"
        };
        let done = sqlx::query(sql).bind(user_id).bind(now()).execute(conn).await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn set_nudges(&self, user_id: UserId, enabled: bool) -> sqlx::Result<()> {
        sqlx::query("UPDATE users SET nudges_enabled = $2 WHERE id = $1")
            .bind(user_id)
            .bind(Flag(enabled))
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Whether the person wants the follow-up nudges.
    pub async fn nudges_enabled(&self, user_id: UserId) -> sqlx::Result<bool> {
        let row: Option<(Flag,)> = sqlx::query_as("SELECT nudges_enabled FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.is_some_and(|(enabled,)| enabled.into()))
    }

    /// Members (who want nudges, at an address that has not bounced) of groups that met before
    /// `met_before` and were not nudged yet.
    pub async fn nudge_recipients(&self, met_before: i64) -> sqlx::Result<Vec<GroupMember>> {
        sqlx::query_as(
            "SELECT g.round_id, m.group_id, u.id AS user_id, u.name, u.email FROM round_groups g \
             JOIN group_members m ON m.group_id = g.id JOIN users u ON u.id = m.user_id \
             WHERE g.status = 'met' AND g.met_at < $1 AND g.nudge_sent_at IS NULL AND u.nudges_enabled = 1 \
               AND u.email_bounced_at IS NULL \
             ORDER BY m.group_id, u.id",
        )
        .bind(met_before)
        .fetch_all(self.pool())
        .await
    }

    /// Marks a group's nudge sent; false if it already was.
    pub async fn mark_nudged(conn: &mut AnyConnection, group_id: GroupId) -> sqlx::Result<bool> {
        let done =
            sqlx::query("UPDATE round_groups SET nudge_sent_at = $2 WHERE id = $1 AND nudge_sent_at IS NULL")
                .bind(group_id)
                .bind(now())
                .execute(conn)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The other members of a group, as partners (for check-in and nudge emails).
    pub async fn group_partners(&self, group_id: GroupId) -> sqlx::Result<Vec<Partner>> {
        sqlx::query_as(
            "SELECT m.group_id, u.id AS user_id, u.name, u.email, u.role, u.level, u.department \
             FROM group_members m JOIN users u ON u.id = m.user_id WHERE m.group_id = $1 ORDER BY u.level, u.name",
        )
        .bind(group_id)
        .fetch_all(self.pool())
        .await
    }

    /// The month of round `round_id` and the other members of `user_id`'s group in it whose
    /// address has not bounced, as (id, name, email): who to tell that `user_id`'s address bounced.
    pub async fn group_mates_in_round(
        conn: &mut AnyConnection,
        round_id: RoundId,
        user_id: UserId,
    ) -> sqlx::Result<(Month, Vec<(UserId, PersonName, Email)>)> {
        let (month,): (Month,) = sqlx::query_as("SELECT month FROM rounds WHERE id = $1")
            .bind(round_id)
            .fetch_one(&mut *conn)
            .await?;
        let mates = sqlx::query_as(
            "SELECT u.id, u.name, u.email FROM group_members m JOIN round_groups g ON g.id = m.group_id \
             JOIN group_members o ON o.group_id = m.group_id AND o.user_id <> m.user_id JOIN users u ON u.id = o.user_id \
             WHERE g.round_id = $1 AND m.user_id = $2 AND u.email_bounced_at IS NULL ORDER BY u.id",
        )
        .bind(round_id)
        .bind(user_id)
        .fetch_all(&mut *conn)
        .await?;
        Ok((month, mates))
    }

    /// The month of a group's round.
    pub async fn group_month(&self, group_id: GroupId) -> sqlx::Result<Option<Month>> {
        let row: Option<(Month,)> = sqlx::query_as(
            "SELECT r.month FROM round_groups g JOIN rounds r ON r.id = g.round_id WHERE g.id = $1",
        )
        .bind(group_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|(m,)| m))
    }
}
