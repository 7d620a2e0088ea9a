//! The outbox: every email is first a row here, written in the same transaction as the change
//! that caused it, then sent by the mail worker. A message is claimed with a lease before it is
//! sent and marked sent right after the server accepts it, so nothing is dropped and only a
//! message in flight when a sender dies can go out twice.
//!
//! The relay's limits and its requests to slow down are kept here too (claims per rolling minute
//! and day, counted from `claimed_at`; the pause in `mail_relay`), so that every sender sharing
//! the database keeps to them, as does the age after which a message's bodies are cleared.

use sqlx::{Any, AnyConnection, FromRow};

use super::{Backend, BulkInsert, Store, now};
use crate::config::MailLimits;
use crate::domain::{RoundId, UserId};

/// A message to queue.
#[derive(Clone, Debug)]
pub struct NewMessage {
    pub user_id: Option<UserId>,
    /// What the message is for (`confirm`, `reset`, …), for the logs, the coordinator and the
    /// order messages leave in (`priority_of`).
    pub kind: &'static str,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
    /// One-click unsubscribe address for the `List-Unsubscribe` header (RFC 8058).
    pub list_unsubscribe: Option<String>,
}

/// A queued message as claimed by a sender.
#[derive(Clone, Debug, FromRow)]
pub struct OutboxMessage {
    pub id: i64,
    pub message_id: String,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
    pub list_unsubscribe: Option<String>,
    pub attempts: i64,
    /// The account the message was written for, if any.
    pub user_id: Option<UserId>,
    /// The round a round's email belongs to.
    pub round_id: Option<RoundId>,
}

/// Counts by delivery status, for health checks and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    pub pending: i64,
    pub sending: i64,
    pub sent: i64,
    pub failed: i64,
}

/// What the relay last said about our pace.
#[derive(Clone, Debug, Default, FromRow, PartialEq, Eq)]
pub struct RelayState {
    /// No message is claimed before this time (Unix seconds).
    pub paused_until: i64,
    /// Requests to slow down in a row, since the last message that went through.
    pub throttles: i64,
    pub throttled_at: Option<i64>,
    /// The relay's answer, as it gave it.
    pub last_reply: Option<String>,
}

/// The outbox as the coordinator's forecast needs it.
#[derive(Clone, Debug, Default)]
pub struct QueueSnapshot {
    pub now: i64,
    /// Pending messages by the time they fall due, as (due, how many), earliest first.
    pub pending: Vec<(i64, i64)>,
    /// Messages being sent right now.
    pub sending: i64,
    /// Of the pending, those tried before (a temporary failure or a request to slow down).
    pub retrying: i64,
    /// Claims the limits still count, oldest first: at most the larger limit's worth.
    pub recent_claims: Vec<i64>,
    pub relay: RelayState,
}

/// The order due messages leave in, lower first, when more are due than the relay takes at once.
/// Someone is waiting at a screen for a confirmation or a reset (and a security notice should not
/// wait behind a round); invitations come next; then the round's introductions, with the note to
/// a group whose member's address bounced; then sit-out and pause notices; the check-in; nudges.
/// `migrations/*/0006_mail_relay.sql` repeats this table for messages queued before it.
pub fn priority_of(kind: &str) -> i64 {
    match kind {
        "confirm" | "reset" | "already_registered" | "password_changed" => 0,
        "invitation" => 1,
        "intro" | "bounce_note" => 2,
        "sit_out" | "auto_paused" => 3,
        "checkin" => 4,
        "nudge" => 5,
        _ => 3,
    }
}

/// Queues `message`; `message_id` is the stable `Message-ID` header value (without `<>`).
pub async fn enqueue(conn: &mut AnyConnection, message_id: &str, message: &NewMessage) -> sqlx::Result<i64> {
    let now = now();
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO outbox (message_id, user_id, kind, recipient, subject, body_text, body_html, list_unsubscribe, \
         next_attempt_at, created_at, priority) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10) RETURNING id",
    )
    .bind(message_id)
    .bind(message.user_id)
    .bind(message.kind)
    .bind(&message.recipient)
    .bind(&message.subject)
    .bind(&message.body_text)
    .bind(&message.body_html)
    .bind(&message.list_unsubscribe)
    .bind(now)
    .bind(priority_of(message.kind))
    .fetch_one(conn)
    .await?;
    Ok(id)
}

/// Queues many messages at once, each with its `Message-ID`: a round's introductions, sit-out
/// notes, check-ins or nudges, all for `round_id` (the rounds list counts them by it), or
/// invitations from a roster (no round).
pub async fn enqueue_many(
    conn: &mut AnyConnection,
    round_id: Option<RoundId>,
    messages: &[(String, NewMessage)],
) -> sqlx::Result<()> {
    let now = now();
    let insert = BulkInsert {
        head: "INSERT INTO outbox (message_id, user_id, kind, recipient, subject, body_text, body_html, \
               list_unsubscribe, next_attempt_at, created_at, round_id, priority)",
        columns: 12,
        tail: "",
    };
    insert
        .execute(conn, messages, |query, (message_id, m)| {
            query
                .bind(message_id)
                .bind(m.user_id)
                .bind(m.kind)
                .bind(&m.recipient)
                .bind(&m.subject)
                .bind(&m.body_text)
                .bind(&m.body_html)
                .bind(&m.list_unsubscribe)
                .bind(now)
                .bind(now)
                .bind(round_id)
                .bind(priority_of(m.kind))
        })
        .await?;
    Ok(())
}

/// The columns a sender needs, in `OutboxMessage`'s order.
const CLAIMED: &str = "id, message_id, kind, recipient, subject, body_text, body_html, list_unsubscribe, attempts, \
                       user_id, round_id";

/// Any PostgreSQL advisory lock key of this program's own: claims under limits take it in turn.
const LIMITS_LOCK: i64 = 7_265_637;

/// Bound parameters per `IN (…)` list.
const IDS_PER_STATEMENT: usize = 500;

/// Marks `n` messages sent: `$1` is the time, the ids are `$first` onwards.
fn mark_sent_sql(first: usize, n: usize) -> String {
    format!(
        "UPDATE outbox SET status = 'sent', sent_at = $1, claimed_until = NULL, last_error = NULL WHERE id IN ({})",
        in_list(first, n)
    )
}

fn in_list(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

impl Store {
    /// Claims up to `limit` due messages for `lease_secs`, most important first (`priority_of`,
    /// then the order they were queued in), within the relay's `limits` and never while the relay
    /// asked us to pause. Two senders never claim the same message. Each claim adds one to
    /// `attempts`, which then names the claim (see `mark_retry`), and sets `claimed_at`, which
    /// the limits count.
    ///
    /// PostgreSQL: the subquery locks the rows it picks and skips rows another claim holds; a row
    /// claimed and committed meanwhile is re-checked against the WHERE clause and left out.
    /// SQLite: an UPDATE takes the database's write lock before it reads, so the whole statement
    /// is one atomic step across connections and processes (`busy_timeout` waits for the lock).
    /// Under limits, counting and claiming are one transaction that every sender takes in turn
    /// (SQLite's `BEGIN IMMEDIATE`; an advisory lock on PostgreSQL), so the count cannot go stale
    /// between the two.
    #[tracing::instrument(skip(self))]
    pub async fn claim_outbox(
        &self,
        limit: i64,
        lease_secs: i64,
        limits: &MailLimits,
    ) -> sqlx::Result<Vec<OutboxMessage>> {
        let now = now();
        if limits.is_unlimited() {
            return self.claim_in(self.pool(), now, limit, lease_secs).await;
        }
        let mut tx = match self.backend() {
            Backend::Sqlite => self.pool().begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => {
                let mut tx = self.pool().begin().await?;
                sqlx::query(&format!("SELECT pg_advisory_xact_lock({LIMITS_LOCK}) IS NULL"))
                    .execute(&mut *tx)
                    .await?;
                tx
            }
        };
        let (paused_until, last_minute, last_day): (i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT paused_until FROM mail_relay WHERE id = 1), \
             (SELECT COUNT(*) FROM outbox WHERE claimed_at > $1), (SELECT COUNT(*) FROM outbox WHERE claimed_at > $2)",
        )
        .bind(now - 60)
        .bind(if limits.per_day.is_some() { now - 86_400 } else { now })
        .fetch_one(&mut *tx)
        .await?;
        let mut budget = if paused_until > now { 0 } else { limit };
        if let Some(per_minute) = limits.per_minute {
            budget = budget.min(i64::from(per_minute) - last_minute);
        }
        if let Some(per_day) = limits.per_day {
            budget = budget.min(i64::from(per_day) - last_day);
        }
        let claimed =
            if budget > 0 { self.claim_in(&mut *tx, now, budget, lease_secs).await? } else { Vec::new() };
        tx.commit().await?;
        Ok(claimed)
    }

    async fn claim_in<'e>(
        &self,
        executor: impl sqlx::Executor<'e, Database = Any>,
        now: i64,
        limit: i64,
        lease_secs: i64,
    ) -> sqlx::Result<Vec<OutboxMessage>> {
        let mut claimed: Vec<OutboxMessage> = sqlx::query_as(&self.claim_sql())
            .bind(now)
            .bind(now + lease_secs)
            .bind(limit)
            .fetch_all(executor)
            .await?;
        claimed.sort_by_key(|m| (priority_of(&m.kind), m.id));
        Ok(claimed)
    }

    /// The claim: `$1` now, `$2` the end of the lease, `$3` how many at most.
    fn claim_sql(&self) -> String {
        // `outbox_claim (status, priority, id)` gives the rows in this order, so a claim reads the
        // few it takes rather than sorting every due message. SQLite, without statistics, would
        // rather range over `outbox_due` and sort, hence its `INDEXED BY`.
        let (index, lock) = match self.backend() {
            Backend::Postgres => ("", "FOR UPDATE SKIP LOCKED"),
            // SQLite has one writer at a time, so the UPDATE itself is the lock.
            Backend::Sqlite => ("INDEXED BY outbox_claim", ""),
        };
        format!(
            "UPDATE outbox SET status = 'sending', claimed_until = $2, claimed_at = $1, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM outbox {index} WHERE status = 'pending' AND next_attempt_at <= $1 \
                 AND NOT EXISTS (SELECT 1 FROM mail_relay WHERE paused_until > $1) \
                 ORDER BY priority, id LIMIT $3 {lock}) \
             RETURNING {CLAIMED}"
        )
    }

    /// `mark_sent(sent)`, then `claim_outbox(limit, lease_secs, limits)`: what a sender does
    /// each time sends finish. On SQLite without limits both statements reach the database in
    /// one call (each still commits on its own), which spares the sender a round trip to the
    /// database's thread each time. On an error, whether the marks were written is not known.
    #[tracing::instrument(skip(self, sent), fields(sent = sent.len()))]
    pub async fn mark_sent_and_claim(
        &self,
        sent: &[i64],
        limit: i64,
        lease_secs: i64,
        limits: &MailLimits,
    ) -> sqlx::Result<Vec<OutboxMessage>> {
        let one_call = self.backend() == Backend::Sqlite && limits.is_unlimited();
        if sent.is_empty() || !one_call || sent.len() > IDS_PER_STATEMENT {
            self.mark_sent(sent).await?;
            return self.claim_outbox(limit, lease_secs, limits).await;
        }
        let now = now();
        let sql = format!("{}; {}", mark_sent_sql(4, sent.len()), self.claim_sql());
        let mut query = sqlx::query_as(&sql).bind(now).bind(now + lease_secs).bind(limit);
        for id in sent {
            query = query.bind(id);
        }
        let mut claimed: Vec<OutboxMessage> = query.fetch_all(self.pool()).await?;
        claimed.sort_by_key(|m| (priority_of(&m.kind), m.id));
        Ok(claimed)
    }

    /// Puts messages whose claim lapsed (their sender died or lost the database) back in the
    /// queue, where the next claim takes them in their turn. Their `attempts` stays, so the late
    /// sender, should it come back, can no longer record a retry or a failure over a newer claim.
    #[tracing::instrument(skip(self))]
    pub async fn release_lapsed_claims(&self) -> sqlx::Result<u64> {
        let done = sqlx::query(
            "UPDATE outbox SET status = 'pending', claimed_until = NULL WHERE status = 'sending' AND claimed_until < $1",
        )
        .bind(now())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// The server accepted these messages. Unconditional: even if a claim lapsed meanwhile, the
    /// message was delivered, and saying so stops any further send.
    pub async fn mark_sent(&self, ids: &[i64]) -> sqlx::Result<()> {
        let now = now();
        for chunk in ids.chunks(IDS_PER_STATEMENT) {
            let sql = mark_sent_sql(2, chunk.len());
            let mut query = sqlx::query(&sql).bind(now);
            for id in chunk {
                query = query.bind(id);
            }
            query.execute(self.pool()).await?;
        }
        Ok(())
    }

    /// A temporary failure of the claim numbered `attempt`: try again at `retry_at`. Does nothing
    /// if the claim lapsed and another sender took the message over (or delivered it).
    pub async fn mark_retry(&self, id: i64, attempt: i64, error: &str, retry_at: i64) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE outbox SET status = 'pending', next_attempt_at = $3, claimed_until = NULL, last_error = $4 \
             WHERE id = $1 AND attempts = $2 AND status = 'sending'",
        )
        .bind(id)
        .bind(attempt)
        .bind(retry_at)
        .bind(error)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A permanent failure of the claim numbered `attempt`, kept with its reason for the
    /// coordinator. Like `mark_retry`, it never overrides a later claim.
    pub async fn mark_failed(&self, id: i64, attempt: i64, error: &str) -> sqlx::Result<()> {
        let mut conn = self.pool().acquire().await?;
        Self::mark_failed_in(&mut conn, id, attempt, error).await?;
        Ok(())
    }

    /// `mark_failed` within the caller's transaction; false when the claim was no longer current.
    pub async fn mark_failed_in(
        conn: &mut AnyConnection,
        id: i64,
        attempt: i64,
        error: &str,
    ) -> sqlx::Result<bool> {
        let done = sqlx::query(
            "UPDATE outbox SET status = 'failed', claimed_until = NULL, last_error = $3 \
             WHERE id = $1 AND attempts = $2 AND status = 'sending'",
        )
        .bind(id)
        .bind(attempt)
        .bind(error)
        .execute(conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The relay asked us to slow down (`reply`): no sender sharing this database claims anything
    /// until a pause `pause_for(n)` seconds long ends, `n` being the requests in a row so far.
    /// Sends already under way when the pause began add nothing: their refusals answer the same
    /// burst. Returns when the pause ends.
    #[tracing::instrument(skip(self, pause_for))]
    pub async fn record_throttle(&self, reply: &str, pause_for: impl Fn(i64) -> i64) -> sqlx::Result<i64> {
        // The pause after the n-th request in a row, as a CASE on the count before it, so that
        // counting and pausing are one atomic statement. The lengths are our own numbers.
        let mut lengths = String::from("CASE throttles");
        let mut n = 1;
        while n < 64 && pause_for(n) != pause_for(n + 1) {
            lengths.push_str(&format!(" WHEN {} THEN {}", n - 1, pause_for(n).max(1)));
            n += 1;
        }
        lengths.push_str(&format!(" ELSE {} END", pause_for(n).max(1)));
        let now = now();
        sqlx::query(&format!(
            "UPDATE mail_relay SET throttles = throttles + 1, throttled_at = $1, last_reply = $2, \
             paused_until = $1 + {lengths} WHERE id = 1 AND paused_until <= $1"
        ))
        .bind(now)
        .bind(reply)
        .execute(self.pool())
        .await?;
        let (paused_until,): (i64,) =
            sqlx::query_as("SELECT paused_until FROM mail_relay WHERE id = 1").fetch_one(self.pool()).await?;
        Ok(paused_until.max(now))
    }

    /// A message went through after the relay had asked us to slow down: the next request to
    /// slow down starts again from the shortest pause.
    pub async fn clear_throttles(&self) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE mail_relay SET throttles = 0 WHERE id = 1 AND throttles > 0 AND paused_until <= $1",
        )
        .bind(now())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn relay_state(&self) -> sqlx::Result<RelayState> {
        sqlx::query_as(
            "SELECT paused_until, throttles, throttled_at, last_reply FROM mail_relay WHERE id = 1",
        )
        .fetch_one(self.pool())
        .await
    }

    /// Seconds until a claim could take something, if anything is queued: the next message's due
    /// time, the end of a pause the relay asked for, and the moment each limit's window has room.
    pub async fn next_outbox_due(&self, limits: &MailLimits) -> sqlx::Result<Option<i64>> {
        let now = now();
        let row: (Option<i64>,) = sqlx::query_as(
            "SELECT MIN(CASE WHEN status = 'pending' THEN next_attempt_at ELSE claimed_until END) FROM outbox \
             WHERE status IN ('pending', 'sending')",
        )
        .fetch_one(self.pool())
        .await?;
        let Some(mut at) = row.0 else { return Ok(None) };
        at = at.max(self.relay_state().await?.paused_until);
        for (limit, window) in [(limits.per_minute, 60), (limits.per_day, 86_400)] {
            let Some(limit) = limit else { continue };
            // The claim that must leave the window before one more fits in it.
            let blocking: Option<(i64,)> = sqlx::query_as(
                "SELECT claimed_at FROM outbox WHERE claimed_at > $1 ORDER BY claimed_at DESC LIMIT 1 OFFSET $2",
            )
            .bind(now - window)
            .bind(i64::from(limit) - 1)
            .fetch_optional(self.pool())
            .await?;
            if let Some((claimed_at,)) = blocking {
                at = at.max(claimed_at + window);
            }
        }
        Ok(Some((at - now).max(0)))
    }

    /// What is queued and what the limits still count, for the coordinator's forecast.
    #[tracing::instrument(skip(self))]
    pub async fn queue_snapshot(&self, limits: &MailLimits) -> sqlx::Result<QueueSnapshot> {
        let now = now();
        let pending: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT next_attempt_at, COUNT(*) FROM outbox WHERE status = 'pending' \
             GROUP BY next_attempt_at ORDER BY next_attempt_at",
        )
        .fetch_all(self.pool())
        .await?;
        let (sending, retrying): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM outbox WHERE status = 'sending'), \
             (SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND attempts > 0)",
        )
        .fetch_one(self.pool())
        .await?;
        let (window, keep) = match (limits.per_day, limits.per_minute) {
            (Some(day), minute) => (86_400, day.max(minute.unwrap_or(0))),
            (None, Some(minute)) => (60, minute),
            (None, None) => (0, 0),
        };
        let mut recent_claims: Vec<i64> = if keep == 0 {
            Vec::new()
        } else {
            sqlx::query_as::<_, (i64,)>(
                "SELECT claimed_at FROM outbox WHERE claimed_at > $1 ORDER BY claimed_at DESC LIMIT $2",
            )
            .bind(now - window)
            .bind(i64::from(keep))
            .fetch_all(self.pool())
            .await?
            .into_iter()
            .map(|(at,)| at)
            .collect()
        };
        recent_claims.reverse();
        Ok(QueueSnapshot { now, pending, sending, retrying, recent_claims, relay: self.relay_state().await? })
    }

    /// Clears the subject, bodies, address and links of messages sent or refused before
    /// `before` (Unix seconds), keeping what the figures count: kind, status, round, account and
    /// times. Works in batches, so senders and pages are not held up. Returns how many it cleared.
    #[tracing::instrument(skip(self))]
    pub async fn purge_mail_bodies(&self, before: i64) -> sqlx::Result<u64> {
        // Each batch reads the partial index of rows not purged yet, never the ones already done.
        let index = match self.backend() {
            Backend::Sqlite => "INDEXED BY outbox_unpurged",
            Backend::Postgres => "",
        };
        let sql = format!(
            "UPDATE outbox SET subject = '', body_text = '', body_html = NULL, list_unsubscribe = NULL, \
             recipient = '', last_error = NULL, body_purged_at = $2 \
             WHERE id IN (SELECT id FROM outbox {index} WHERE body_purged_at IS NULL AND created_at < $1 \
                 AND status IN ('sent', 'failed') AND COALESCE(sent_at, created_at) < $1 LIMIT 1000)"
        );
        let mut purged = 0;
        loop {
            let done = sqlx::query(&sql).bind(before).bind(now()).execute(self.pool()).await?;
            purged += done.rows_affected();
            if done.rows_affected() < 1000 {
                return Ok(purged);
            }
        }
    }

    pub async fn outbox_counts(&self) -> sqlx::Result<OutboxCounts> {
        let rows: Vec<(String, i64)> = sqlx::query_as("SELECT status, COUNT(*) FROM outbox GROUP BY status")
            .fetch_all(self.pool())
            .await?;
        let mut counts = OutboxCounts::default();
        for (status, n) in rows {
            match status.as_str() {
                "pending" => counts.pending = n,
                "sending" => counts.sending = n,
                "sent" => counts.sent = n,
                _ => counts.failed += n,
            }
        }
        Ok(counts)
    }
}

/// How many emails of `kind` were queued for an account since `since` (Unix seconds), to cap
/// the notes a stranger can make us send to someone.
pub async fn queued_since(
    conn: &mut AnyConnection,
    user_id: UserId,
    kind: &str,
    since: i64,
) -> sqlx::Result<i64> {
    let (count,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE user_id = $1 AND kind = $2 AND created_at >= $3")
            .bind(user_id)
            .bind(kind)
            .bind(since)
            .fetch_one(conn)
            .await?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::{in_list, priority_of};

    #[test]
    fn a_person_waiting_comes_first_and_nudges_last() {
        let order = ["confirm", "invitation", "intro", "sit_out", "checkin", "nudge"];
        let priorities: Vec<i64> = order.iter().map(|kind| priority_of(kind)).collect();
        assert!(priorities.windows(2).all(|w| w[0] < w[1]), "{priorities:?}");
        assert_eq!(priority_of("reset"), priority_of("confirm"));
        assert_eq!(priority_of("bounce_note"), priority_of("intro"));
    }

    #[test]
    fn id_lists_number_their_parameters() {
        assert_eq!(in_list(2, 3), "$2, $3, $4");
    }
}
