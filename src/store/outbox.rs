//! The outbox: every email is first a row here, written in the same transaction as the change
//! that caused it, then sent by the mail worker. A message is claimed with a lease before it is
//! sent and marked sent right after the server accepts it, so nothing is dropped and only a
//! message in flight when a sender dies can go out twice.

use sqlx::{AnyConnection, FromRow};

use super::{Backend, Store, now};

/// A message to queue.
#[derive(Clone, Debug)]
pub struct NewMessage {
    pub user_id: Option<i64>,
    /// What the message is for (`confirm`, `reset`, …), for the logs and the coordinator.
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
}

/// Counts by delivery status, for health checks and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    pub pending: i64,
    pub sending: i64,
    pub sent: i64,
    pub failed: i64,
}

/// Queues `message`; `message_id` is the stable `Message-ID` header value (without `<>`).
pub async fn enqueue(conn: &mut AnyConnection, message_id: &str, message: &NewMessage) -> sqlx::Result<i64> {
    let now = now();
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO outbox (message_id, user_id, kind, recipient, subject, body_text, body_html, list_unsubscribe, \
         next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
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
    .fetch_one(conn)
    .await?;
    Ok(id)
}

/// Queues many messages at once, each with its `Message-ID`: a round's introductions, sit-out
/// notes, check-ins or nudges, all for `round_id` (the rounds list counts them by it), or
/// invitations from a roster (no round).
pub async fn enqueue_many(
    conn: &mut AnyConnection,
    round_id: Option<i64>,
    messages: &[(String, NewMessage)],
) -> sqlx::Result<()> {
    let now = now();
    // Fifty rows of eleven parameters: see `rounds::PARAMS_PER_STATEMENT` on why statements stay small.
    for chunk in messages.chunks(50) {
        let sql = format!(
            "INSERT INTO outbox (message_id, user_id, kind, recipient, subject, body_text, body_html, list_unsubscribe, \
             next_attempt_at, created_at, round_id) VALUES {}",
            super::values_list(chunk.len(), 11)
        );
        let mut query = sqlx::query(&sql);
        for (message_id, m) in chunk {
            query = query
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
                .bind(round_id);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

const CLAIMABLE: &str =
    "(status = 'pending' AND next_attempt_at <= $1) OR (status = 'sending' AND claimed_until < $1)";

impl Store {
    /// Claims up to `limit` due messages for `lease_secs`: pending ones whose time has come, and
    /// ones whose previous sender's lease ran out. Two senders never claim the same message.
    /// Each claim adds one to `attempts`, which then names the claim (see `mark_retry`).
    ///
    /// PostgreSQL: the subquery locks the rows it picks and skips rows another claim holds; a row
    /// claimed and committed meanwhile is re-checked against the WHERE clause and left out.
    /// SQLite: an UPDATE takes the database's write lock before it reads, so the whole statement
    /// is one atomic step across connections and processes (`busy_timeout` waits for the lock).
    #[tracing::instrument(skip(self))]
    pub async fn claim_outbox(&self, limit: i64, lease_secs: i64) -> sqlx::Result<Vec<OutboxMessage>> {
        let lock = match self.backend() {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            // SQLite has one writer at a time, so the UPDATE itself is the lock.
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE outbox SET status = 'sending', claimed_until = $2, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM outbox WHERE {CLAIMABLE} ORDER BY id LIMIT $3 {lock}) \
             RETURNING id, message_id, kind, recipient, subject, body_text, body_html, list_unsubscribe, attempts"
        );
        let now = now();
        let mut claimed: Vec<OutboxMessage> =
            sqlx::query_as(&sql).bind(now).bind(now + lease_secs).bind(limit).fetch_all(self.pool()).await?;
        claimed.sort_by_key(|m| m.id);
        Ok(claimed)
    }

    /// The server accepted the message. Unconditional: even if the claim lapsed meanwhile, the
    /// message was delivered, and saying so stops any further send.
    pub async fn mark_sent(&self, id: i64) -> sqlx::Result<()> {
        sqlx::query("UPDATE outbox SET status = 'sent', sent_at = $2, claimed_until = NULL, last_error = NULL WHERE id = $1")
            .bind(id)
            .bind(now())
            .execute(self.pool())
            .await?;
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
        sqlx::query(
            "UPDATE outbox SET status = 'failed', claimed_until = NULL, last_error = $3 \
             WHERE id = $1 AND attempts = $2 AND status = 'sending'",
        )
        .bind(id)
        .bind(attempt)
        .bind(error)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Seconds until the next queued message falls due, if any is queued.
    pub async fn next_outbox_due(&self) -> sqlx::Result<Option<i64>> {
        let row: (Option<i64>,) = sqlx::query_as(
            "SELECT MIN(CASE WHEN status = 'pending' THEN next_attempt_at ELSE claimed_until END) FROM outbox \
             WHERE status IN ('pending', 'sending')",
        )
        .fetch_one(self.pool())
        .await?;
        Ok(row.0.map(|at| (at - now()).max(0)))
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
    user_id: i64,
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
