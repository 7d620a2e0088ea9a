//! Accounts: identity, password hash, profile and participation status.

use sqlx::{Any, AnyConnection, FromRow, Transaction};

use super::{BulkInsert, Store, now, values::Flag};
use crate::domain::{Email, FreeTimes, Frequency, Level, MeetFormat, Month, PersonName, Profile, UserId};

/// One account as stored.
#[derive(Clone, Debug, FromRow)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    pub name: PersonName,
    pub password_hash: String,
    pub role: String,
    pub level: Level,
    pub department: String,
    pub site: Option<String>,
    pub meet_format: MeetFormat,
    pub free_times: FreeTimes,
    pub frequency: Frequency,
    pub confirmed_at: Option<i64>,
    pub opted_out_at: Option<i64>,
    /// Last month the person skips; matched again from the month after.
    pub paused_through: Option<Month>,
    /// Set when the person was paused for never answering; cleared when they come back.
    pub auto_paused_at: Option<i64>,
    #[sqlx(try_from = "Flag")]
    pub nudges_enabled: bool,
    pub created_at: i64,
    /// Holds the coordinator role (see `store::coordinators`).
    #[sqlx(try_from = "Flag")]
    pub is_coordinator: bool,
    /// Set when the receiving server refused the address for good; not matched until cleared.
    pub email_bounced_at: Option<i64>,
}

impl User {
    /// Whether this confirmed account holds the coordinator role.
    pub fn is_coordinator(&self) -> bool {
        self.is_coordinator && self.confirmed_at.is_some()
    }

    /// What the person said about themselves.
    pub fn profile(&self) -> Profile {
        Profile {
            name: self.name.clone(),
            role: self.role.clone(),
            level: self.level,
            department: self.department.clone(),
            site: self.site.clone(),
            format: self.meet_format,
            times: self.free_times,
            frequency: self.frequency,
        }
    }
}

/// A person whose address just bounced, as their group's note names them.
#[derive(Clone, Debug, FromRow)]
pub struct BouncedPerson {
    pub id: UserId,
    pub name: PersonName,
    pub email: Email,
    pub role: String,
    pub department: String,
}

/// An undeliverable address, as the coordinator's list shows it.
#[derive(Clone, Debug, FromRow)]
pub struct BouncedAddress {
    pub id: UserId,
    pub name: PersonName,
    pub email: Email,
    pub department: String,
    pub bounced_at: i64,
    /// The receiving server's answer.
    pub reason: String,
}

const COLUMNS: &str = "id, email, name, password_hash, role, level, department, site, meet_format, free_times, frequency, confirmed_at, \
                       opted_out_at, paused_through, auto_paused_at, nudges_enabled, created_at, is_coordinator, \
                       email_bounced_at";

impl Store {
    #[tracing::instrument(skip(self))]
    pub async fn user_by_id(&self, id: UserId) -> sqlx::Result<Option<User>> {
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await
    }

    #[tracing::instrument(skip(self, email))]
    pub async fn user_by_email(&self, email: &Email) -> sqlx::Result<Option<User>> {
        Self::user_by_email_in(&mut *self.pool().acquire().await?, email).await
    }

    /// The account of `email`, read within a transaction.
    pub async fn user_by_email_in(conn: &mut AnyConnection, email: &Email) -> sqlx::Result<Option<User>> {
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE email = $1"))
            .bind(email)
            .fetch_optional(conn)
            .await
    }

    /// The account `id`, read within a transaction.
    pub async fn user_by_id_in(conn: &mut AnyConnection, id: UserId) -> sqlx::Result<Option<User>> {
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(conn)
            .await
    }

    /// Creates an unconfirmed account; `None` when the email is already registered.
    #[tracing::instrument(skip_all)]
    pub async fn insert_user(
        tx: &mut Transaction<'_, Any>,
        email: &Email,
        password_hash: &str,
        profile: &Profile,
    ) -> sqlx::Result<Option<UserId>> {
        let now = now();
        let id: Option<(UserId,)> = sqlx::query_as(
            "INSERT INTO users (email, name, password_hash, role, level, department, site, meet_format, free_times, \
             frequency, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) \
             ON CONFLICT (email) DO NOTHING RETURNING id",
        )
        .bind(email)
        .bind(&profile.name)
        .bind(password_hash)
        .bind(&profile.role)
        .bind(profile.level)
        .bind(&profile.department)
        .bind(&profile.site)
        .bind(profile.format)
        .bind(profile.times)
        .bind(profile.frequency)
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
        people: &[(&Email, &Profile)],
        password_hash: &str,
    ) -> sqlx::Result<Vec<(Email, UserId)>> {
        let now = now();
        let insert = BulkInsert {
            head: "INSERT INTO users (email, name, password_hash, role, level, department, site, meet_format, \
                   free_times, frequency, created_at, updated_at)",
            columns: 12,
            tail: "ON CONFLICT (email) DO NOTHING RETURNING email, id",
        };
        insert
            .fetch(tx, people, |query, (email, profile)| {
                query
                    .bind(*email)
                    .bind(&profile.name)
                    .bind(password_hash)
                    .bind(&profile.role)
                    .bind(profile.level)
                    .bind(&profile.department)
                    .bind(&profile.site)
                    .bind(profile.format)
                    .bind(profile.times)
                    .bind(profile.frequency)
                    .bind(now)
                    .bind(now)
            })
            .await
    }

    /// Gives an account that is still unconfirmed a new password hash and profile.
    pub async fn replace_unconfirmed(
        tx: &mut Transaction<'_, Any>,
        user_id: UserId,
        password_hash: &str,
        profile: &Profile,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE users SET password_hash = $2, name = $3, role = $4, level = $5, department = $6, \
             site = $7, meet_format = $8, free_times = $9, frequency = $10, updated_at = $11 \
             WHERE id = $1 AND confirmed_at IS NULL",
        )
        .bind(user_id)
        .bind(password_hash)
        .bind(&profile.name)
        .bind(&profile.role)
        .bind(profile.level)
        .bind(&profile.department)
        .bind(&profile.site)
        .bind(profile.format)
        .bind(profile.times)
        .bind(profile.frequency)
        .bind(now())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Marks the account confirmed (first confirmation wins; later ones change nothing).
    pub async fn confirm_user(conn: &mut AnyConnection, user_id: UserId) -> sqlx::Result<()> {
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
    pub async fn update_profile(&self, user_id: UserId, profile: &Profile) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE users SET name = $2, role = $3, level = $4, department = $5, site = $6, meet_format = $7, \
             free_times = $8, frequency = $9, updated_at = $10 WHERE id = $1",
        )
        .bind(user_id)
        .bind(&profile.name)
        .bind(&profile.role)
        .bind(profile.level)
        .bind(&profile.department)
        .bind(&profile.site)
        .bind(profile.format)
        .bind(profile.times)
        .bind(profile.frequency)
        .bind(now())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Replaces the password hash and ends every session of the account except `keep_session`.
    pub async fn set_password(
        conn: &mut AnyConnection,
        user_id: UserId,
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

    /// Pauses matching through `month`, or resumes it with `None`.
    #[tracing::instrument(skip(self))]
    pub async fn set_paused_through(&self, user_id: UserId, month: Option<Month>) -> sqlx::Result<()> {
        sqlx::query("UPDATE users SET paused_through = $2, updated_at = $3 WHERE id = $1")
            .bind(user_id)
            .bind(month)
            .bind(now())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// How often the person takes part from now on.
    #[tracing::instrument(skip(self))]
    pub async fn set_frequency(&self, user_id: UserId, frequency: Frequency) -> sqlx::Result<()> {
        sqlx::query("UPDATE users SET frequency = $2, updated_at = $3 WHERE id = $1")
            .bind(user_id)
            .bind(frequency)
            .bind(now())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Opts out of matching (`true`) or rejoins (`false`); rejoining also ends a pause.
    #[tracing::instrument(skip(self))]
    pub async fn set_opted_out(&self, user_id: UserId, opted_out: bool) -> sqlx::Result<()> {
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
        user_id: UserId,
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
    pub async fn clear_bounce(conn: &mut AnyConnection, user_id: UserId) -> sqlx::Result<Option<Email>> {
        let row: Option<(Email,)> = sqlx::query_as(
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
    pub async fn delete_user(&self, user_id: UserId) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM users WHERE id = $1").bind(user_id).execute(self.pool()).await?;
        Ok(())
    }
}
