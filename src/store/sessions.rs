//! Login sessions, kept in the database so they survive restarts and span instances.
//!
//! tower-sessions manages the cookie and the session's life; this is its storage. The account id
//! is copied out of the session data into its own column so that a password change can end the
//! account's other sessions with one statement.
//!
//! A session is inserted only when tower-sessions creates it (a new id); every later save is an
//! UPDATE of a live row. A save that finds no row does nothing: a request still in flight when
//! its session was ended (logout, a password change or reset elsewhere) must not bring that
//! session back.
//!
//! A session started through the identity provider also carries the time it must end by
//! ([`ENDS_AT_KEY`]): its row expires then, however active it was, and is never extended.
//!
//! Visitors who are not logged in rarely have a session at all (their CSRF token lives in a
//! cookie of its own); when one is stored, for a one-time message, it lasts an hour at most.

use async_trait::async_trait;
use tower_sessions::{
    session::{Id, Record},
    session_store::{self, SessionStore},
};

use super::{Store, now};

/// Session data key holding the logged-in account's id.
pub const USER_ID_KEY: &str = "user_id";

/// Session data key holding the latest time (Unix seconds) the session may last, whatever the
/// activity: a session started through the identity provider ends then, and its owner signs in
/// again (see `accounts::oidc`).
pub const ENDS_AT_KEY: &str = "ends_at";

/// The [`SessionStore`] over the application database.
#[derive(Clone, Debug)]
pub struct DbSessionStore {
    store: Store,
}

impl DbSessionStore {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Removes expired sessions; run now and then by the server.
    pub async fn delete_expired(&self) -> sqlx::Result<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(now())
            .execute(self.store.pool())
            .await?;
        Ok(done.rows_affected())
    }
}

/// The longest a session without a logged-in account is kept.
pub const ANONYMOUS_TTL_SECS: i64 = 3600;

/// The two writes a session gets.
#[derive(Clone, Copy)]
enum Write {
    /// A new session: inserted unless the id is taken.
    Insert,
    /// A later save: only a row that still exists and has not expired is updated.
    Update,
}

impl DbSessionStore {
    /// Runs `write`; returns the rows written.
    async fn write(&self, write: Write, id: &Id, row: &Row) -> session_store::Result<u64> {
        let sql = match write {
            Write::Insert => {
                "INSERT INTO sessions (id, user_id, data, expires_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (id) DO NOTHING"
            }
            Write::Update => {
                "UPDATE sessions SET user_id = $2, data = $3, expires_at = $4 WHERE id = $1 AND expires_at > $5"
            }
        };
        let mut query =
            sqlx::query(sql).bind(id.to_string()).bind(row.user_id).bind(&row.data).bind(row.expires_at);
        if let Write::Update = write {
            query = query.bind(now());
        }
        let done = query.execute(self.store.pool()).await.map_err(backend)?;
        Ok(done.rows_affected())
    }
}

fn backend(err: sqlx::Error) -> session_store::Error {
    session_store::Error::Backend(err.to_string())
}

/// A record as it is stored.
struct Row {
    user_id: Option<i64>,
    data: String,
    expires_at: i64,
}

fn encode(record: &Record) -> session_store::Result<Row> {
    let data =
        serde_json::to_string(&record.data).map_err(|e| session_store::Error::Encode(e.to_string()))?;
    let user_id = record.data.get(USER_ID_KEY).and_then(serde_json::Value::as_i64);
    let mut expires_at = record.expiry_date.unix_timestamp();
    if user_id.is_none() {
        expires_at = expires_at.min(now() + ANONYMOUS_TTL_SECS);
    }
    if let Some(ends_at) = record.data.get(ENDS_AT_KEY).and_then(serde_json::Value::as_i64) {
        expires_at = expires_at.min(ends_at);
    }
    Ok(Row { user_id, data, expires_at })
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let row = encode(record)?;
        // Ids are 128 random bits; the loop only guards against the impossible collision.
        loop {
            let inserted = self.write(Write::Insert, &record.id, &row).await?;
            if inserted == 1 {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    /// Updates a live session; never re-creates one that was deleted or has expired.
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let row = encode(record)?;
        let updated = self.write(Write::Update, &record.id, &row).await?;
        if updated == 0 {
            tracing::debug!("a session ended while a request on it was in flight; not saved");
        }
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let row: Option<(String, i64)> =
            sqlx::query_as("SELECT data, expires_at FROM sessions WHERE id = $1 AND expires_at > $2")
                .bind(id.to_string())
                .bind(now())
                .fetch_optional(self.store.pool())
                .await
                .map_err(backend)?;
        let Some((data, expires_at)) = row else { return Ok(None) };
        let data = serde_json::from_str(&data).map_err(|e| session_store::Error::Decode(e.to_string()))?;
        let expiry_date = time::OffsetDateTime::from_unix_timestamp(expires_at)
            .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        Ok(Some(Record { id: *id, data, expiry_date }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(id.to_string())
            .execute(self.store.pool())
            .await
            .map_err(backend)?;
        Ok(())
    }
}
