//! Single-use tokens for emailed links (account confirmation, password reset).
//!
//! Only a SHA-256 of each token is stored, so a copy of the database cannot be used to confirm
//! an account or reset a password.

use sqlx::{AnyConnection, AnyPool};

use super::{BulkInsert, now};
use crate::domain::UserId;

/// What an emailed token allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Confirm,
    Reset,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::Confirm => "confirm",
            Self::Reset => "reset",
        }
    }
}

/// Stores the hash of a new token for `user_id`, valid for `ttl_secs`.
pub async fn insert(
    conn: &mut AnyConnection,
    token_hash: &str,
    user_id: UserId,
    purpose: Purpose,
    ttl_secs: i64,
) -> sqlx::Result<()> {
    let now = now();
    sqlx::query(
        "INSERT INTO email_tokens (token_hash, user_id, purpose, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(purpose.as_str())
    .bind(now + ttl_secs)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Stores the hashes of new tokens, one per (hash, account), each valid for `ttl_secs`.
pub async fn insert_many(
    conn: &mut AnyConnection,
    tokens: &[(String, UserId)],
    purpose: Purpose,
    ttl_secs: i64,
) -> sqlx::Result<()> {
    let now = now();
    let insert = BulkInsert {
        head: "INSERT INTO email_tokens (token_hash, user_id, purpose, expires_at, created_at)",
        columns: 5,
        tail: "",
    };
    insert
        .execute(conn, tokens, |query, (hash, user_id)| {
            query.bind(hash).bind(*user_id).bind(purpose.as_str()).bind(now + ttl_secs).bind(now)
        })
        .await?;
    Ok(())
}

/// Uses up a token: returns its account when it exists, has this purpose, is unexpired and
/// unused, and marks it used in the same statement so it works exactly once.
pub async fn consume(
    conn: &mut AnyConnection,
    token_hash: &str,
    purpose: Purpose,
) -> sqlx::Result<Option<UserId>> {
    let now = now();
    let row: Option<(UserId,)> = sqlx::query_as(
        "UPDATE email_tokens SET used_at = $3 \
         WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3 RETURNING user_id",
    )
    .bind(token_hash)
    .bind(purpose.as_str())
    .bind(now)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(id,)| id))
}

/// Whether a token would be accepted now, without using it (to show the right page on GET).
pub async fn is_valid(pool: &AnyPool, token_hash: &str, purpose: Purpose) -> sqlx::Result<bool> {
    Ok(owner(pool, token_hash, purpose).await?.is_some())
}

/// The account a token would be accepted for now, without using it.
pub async fn owner(pool: &AnyPool, token_hash: &str, purpose: Purpose) -> sqlx::Result<Option<UserId>> {
    let row: Option<(UserId,)> = sqlx::query_as(
        "SELECT user_id FROM email_tokens WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3",
    )
    .bind(token_hash)
    .bind(purpose.as_str())
    .bind(now())
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(id,)| id))
}

/// Ends every outstanding token of one purpose for an account (e.g. after a password reset).
pub async fn revoke_all(conn: &mut AnyConnection, user_id: UserId, purpose: Purpose) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE email_tokens SET used_at = $3 WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL",
    )
    .bind(user_id)
    .bind(purpose.as_str())
    .bind(now())
    .execute(conn)
    .await?;
    Ok(())
}
