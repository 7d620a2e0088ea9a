//! Accounts: identity, password hash, profile and participation status.

use sqlx::{Any, AnyConnection, FromRow, Transaction};

use super::{Store, now};

/// One account as stored.
#[derive(Clone, Debug, FromRow)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub role: String,
    pub level: i64,
    pub department: String,
    pub confirmed_at: Option<i64>,
    pub opted_out_at: Option<i64>,
    /// Last month (`YYYY-MM`) the person skips; matched again from the month after.
    pub paused_through: Option<String>,
    /// Set when the person was paused for never answering; cleared when they come back.
    pub auto_paused_at: Option<i64>,
    pub nudges_enabled: i64,
    pub created_at: i64,
    /// 1 for a coordinator (see `store::coordinators`).
    pub is_coordinator: i64,
    /// Set when the receiving server refused the address for good; not matched until cleared.
    pub email_bounced_at: Option<i64>,
}

impl User {
    /// Whether this confirmed account holds the coordinator role.
    pub fn is_coordinator(&self) -> bool {
        self.is_coordinator == 1 && self.confirmed_at.is_some()
    }
}

/// A person whose address just bounced, as their group's note names them.
#[derive(Clone, Debug, FromRow)]
pub struct BouncedPerson {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub role: String,
    pub department: String,
}

/// An undeliverable address, as the coordinator's list shows it.
#[derive(Clone, Debug, FromRow)]
pub struct BouncedAddress {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub department: String,
    pub bounced_at: i64,
    /// The receiving server's answer.
    pub reason: String,
}

/// The fields a person fills in on the profile form.
#[derive(Clone, Debug)]
pub struct Profile {
    pub name: String,
    pub role: String,
    pub level: i64,
    pub department: String,
}

const COLUMNS: &str = "id, email, name, password_hash, role, level, department, confirmed_at, \
                       opted_out_at, paused_through, auto_paused_at, nudges_enabled, created_at, is_coordinator, \
                       email_bounced_at";

impl Store {
    #[tracing::instrument(skip(self))]
    pub async fn user_by_id(&self, id: i64) -> sqlx::Result<Option<User>> {
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await
    }

    #[tracing::instrument(skip(self, email))]
    pub async fn user_by_email(&self, email: &str) -> sqlx::Result<Option<User>> {
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE email = $1"))
            .bind(email)
            .fetch_optional(self.pool())
            .await
    }

    /// Creates an unconfirmed account; `None` when the email is already registered.
    #[tracing::instrument(skip_all)]
    pub async fn insert_user(
        tx: &mut Transaction<'_, Any>,
        email: &str,
        password_hash: &str,
        profile: &Profile,
    ) -> sqlx::Result<Option<i64>> {
        let now = now();
        let id: Option<(i64,)> = sqlx::query_as(
            "INSERT INTO users (email, name, password_hash, role, level, department, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (email) DO NOTHING RETURNING id",
        )
        .bind(email)
        .bind(&profile.name)
        .bind(password_hash)
        .bind(&profile.role)
        .bind(profile.level)
        .bind(&profile.department)
        .bind(now)
        .fetch_optional(&mut **tx)
        .await?;
        Ok(id.map(|(id,)| id))
    }

    /// Creates unconfirmed accounts with `password_hash` for each (email, profile) whose email
    /// has no account yet; returns (email, id) of those created. Others are left untouched.
    #[tracing::instrument(skip_all, fields(people = people.len()))]
    pub async fn insert_users_if_new(
        tx: &mut Transaction<'_, Any>,
        people: &[(&str, &Profile)],
        password_hash: &str,
    ) -> sqlx::Result<Vec<(String, i64)>> {
        let now = now();
        let mut created = Vec::new();
        // Fifty rows of eight parameters: see `store::PARAMS_PER_STATEMENT`.
        for chunk in people.chunks(50) {
            let sql = format!(
                "INSERT INTO users (email, name, password_hash, role, level, department, created_at, updated_at) \
                 VALUES {} ON CONFLICT (email) DO NOTHING RETURNING email, id",
                super::values_list(chunk.len(), 8)
            );
            let mut query = sqlx::query_as::<_, (String, i64)>(&sql);
            for (email, profile) in chunk {
                query = query
                    .bind(*email)
                    .bind(&profile.name)
                    .bind(password_hash)
                    .bind(&profile.role)
                    .bind(profile.level)
                    .bind(&profile.department)
                    .bind(now)
                    .bind(now);
            }
            created.extend(query.fetch_all(&mut **tx).await?);
        }
        Ok(created)
    }

    /// Gives an account that is still unconfirmed a new password hash and profile.
    pub async fn replace_unconfirmed(
        tx: &mut Transaction<'_, Any>,
        user_id: i64,
        password_hash: &str,
        profile: &Profile,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE users SET password_hash = $2, name = $3, role = $4, level = $5, department = $6, \
             updated_at = $7 WHERE id = $1 AND confirmed_at IS NULL",
        )
        .bind(user_id)
        .bind(password_hash)
        .bind(&profile.name)
        .bind(&profile.role)
        .bind(profile.level)
        .bind(&profile.department)
        .bind(now())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Marks the account confirmed (first confirmation wins; later ones change nothing).
    pub async fn confirm_user(conn: &mut AnyConnection, user_id: i64) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE users SET confirmed_at = $2, updated_at = $2 WHERE id = $1 AND confirmed_at IS NULL",
        )
        .bind(user_id)
        .bind(now())
        .execute(conn)
        .await?;
        Ok(())
    }

    #[tracing::instrument(skip(self, profile))]
    pub async fn update_profile(&self, user_id: i64, profile: &Profile) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE users SET name = $2, role = $3, level = $4, department = $5, updated_at = $6 WHERE id = $1",
        )
        .bind(user_id)
        .bind(&profile.name)
        .bind(&profile.role)
        .bind(profile.level)
        .bind(&profile.department)
        .bind(now())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Replaces the password hash and ends every session of the account except `keep_session`.
    pub async fn set_password(
        conn: &mut AnyConnection,
        user_id: i64,
        password_hash: &str,
        keep_session: Option<&str>,
    ) -> sqlx::Result<()> {
        sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
            .bind(user_id)
            .bind(password_hash)
            .bind(now())
            .execute(&mut *conn)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
            .bind(user_id)
            .bind(keep_session.unwrap_or(""))
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// Pauses matching through `month` (`YYYY-MM`), or resumes it with `None`.
    #[tracing::instrument(skip(self))]
    pub async fn set_paused_through(&self, user_id: i64, month: Option<&str>) -> sqlx::Result<()> {
        sqlx::query("UPDATE users SET paused_through = $2, updated_at = $3 WHERE id = $1")
            .bind(user_id)
            .bind(month)
            .bind(now())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Opts out of matching (`true`) or rejoins (`false`); rejoining also ends a pause.
    #[tracing::instrument(skip(self))]
    pub async fn set_opted_out(&self, user_id: i64, opted_out: bool) -> sqlx::Result<()> {
        let sql = if opted_out {
            "UPDATE users SET opted_out_at = $2, updated_at = $2 WHERE id = $1"
        } else {
            "UPDATE users SET opted_out_at = NULL, paused_through = NULL, auto_paused_at = NULL, updated_at = $2 WHERE id = $1"
        };
        sqlx::query(sql).bind(user_id).bind(now()).execute(self.pool()).await?;
        Ok(())
    }

    /// Records that the server refused `address` for good, for the account `user_id` if that is
    /// still its address and it was not marked already. Returns the person as the note to their
    /// group describes them, when this marked them.
    pub async fn mark_bounced(
        conn: &mut AnyConnection,
        user_id: i64,
        address: &str,
        reason: &str,
    ) -> sqlx::Result<Option<BouncedPerson>> {
        sqlx::query_as(
            "UPDATE users SET email_bounced_at = $3, email_bounce_reason = $4, updated_at = $3 \
             WHERE id = $1 AND lower(email) = lower($2) AND email_bounced_at IS NULL \
             RETURNING id, name, email, role, department",
        )
        .bind(user_id)
        .bind(address)
        .bind(now())
        .bind(reason)
        .fetch_optional(conn)
        .await
    }

    /// Every account whose address bounced, most recent first.
    #[tracing::instrument(skip(self))]
    pub async fn bounced_addresses(&self) -> sqlx::Result<Vec<BouncedAddress>> {
        sqlx::query_as(
            "SELECT id, name, email, department, email_bounced_at AS bounced_at, \
             COALESCE(email_bounce_reason, '') AS reason FROM users WHERE email_bounced_at IS NOT NULL \
             ORDER BY email_bounced_at DESC, id",
        )
        .fetch_all(self.pool())
        .await
    }

    pub async fn bounced_count(&self) -> sqlx::Result<i64> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users WHERE email_bounced_at IS NOT NULL")
            .fetch_one(self.pool())
            .await?;
        Ok(n)
    }

    /// Marks the account's address as working again; returns the address, or `None` if it was
    /// not marked as bounced.
    pub async fn clear_bounce(conn: &mut AnyConnection, user_id: i64) -> sqlx::Result<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as(
            "UPDATE users SET email_bounced_at = NULL, email_bounce_reason = NULL, updated_at = $2 \
             WHERE id = $1 AND email_bounced_at IS NOT NULL RETURNING email",
        )
        .bind(user_id)
        .bind(now())
        .fetch_optional(conn)
        .await?;
        Ok(row.map(|(email,)| email))
    }

    /// Deletes the account; tokens, sessions and queued mail go with it (foreign keys cascade).
    #[tracing::instrument(skip(self))]
    pub async fn delete_user(&self, user_id: i64) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM users WHERE id = $1").bind(user_id).execute(self.pool()).await?;
        Ok(())
    }
}
