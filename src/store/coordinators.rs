//! Coordinators: who holds the role, and the audit log of what coordinators did.

use sqlx::{Any, FromRow, Transaction};

use super::{Store, now, values::Flag};
use crate::domain::{Email, PersonName, UserId};

/// Who did something: an account, or the command line (no account).
#[derive(Clone, Debug)]
pub struct Actor {
    pub user_id: Option<UserId>,
    /// How the log names the actor: the account's email, or `command line`.
    pub label: String,
}

impl Actor {
    pub fn command_line() -> Self {
        Self { user_id: None, label: "command line".to_owned() }
    }

    pub fn account(user_id: UserId, email: &Email) -> Self {
        Self { user_id: Some(user_id), label: email.to_string() }
    }
}

/// What asking to grant or remove the role did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleChange {
    Granted,
    Removed,
    /// Nothing to do: the account already had (or already lacked) the role.
    Unchanged,
    UnknownAccount,
    Unconfirmed,
}

/// A coordinator as listed.
#[derive(Clone, Debug, FromRow)]
pub struct CoordinatorRow {
    pub email: Email,
    pub name: PersonName,
}

/// One line of the audit log.
#[derive(Clone, Debug, FromRow)]
pub struct AuditEntry {
    pub actor: String,
    pub action: String,
    pub detail: String,
    pub at: i64,
}

impl Store {
    /// Grants (`grant`) or removes the role of the account `email`, and logs it, in one transaction.
    #[tracing::instrument(skip(self, email))]
    pub async fn set_coordinator(&self, email: &str, grant: bool, actor: &Actor) -> sqlx::Result<RoleChange> {
        let mut tx = self.pool().begin().await?;
        let row: Option<(UserId, Option<i64>, Flag)> = sqlx::query_as(
            "SELECT id, confirmed_at, is_coordinator FROM users WHERE lower(email) = lower($1)",
        )
        .bind(email.trim())
        .fetch_optional(&mut *tx)
        .await?;
        let Some((id, confirmed_at, current)) = row else { return Ok(RoleChange::UnknownAccount) };
        if grant && confirmed_at.is_none() {
            return Ok(RoleChange::Unconfirmed);
        }
        if bool::from(current) == grant {
            return Ok(RoleChange::Unchanged);
        }
        // From here on the role is the dashboard's or the command line's, whatever the provider's
        // claim says at later sign-ins (see `store::identities`).
        sqlx::query(
            "UPDATE users SET is_coordinator = $2, coordinator_from_claim = 0, updated_at = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(Flag(grant))
        .bind(now())
        .execute(&mut *tx)
        .await?;
        let action = if grant { "role granted" } else { "role removed" };
        Self::audit_in(&mut tx, actor, action, email.trim()).await?;
        tx.commit().await?;
        Ok(if grant { RoleChange::Granted } else { RoleChange::Removed })
    }

    #[tracing::instrument(skip(self))]
    pub async fn coordinators(&self) -> sqlx::Result<Vec<CoordinatorRow>> {
        sqlx::query_as("SELECT email, name FROM users WHERE is_coordinator = 1 ORDER BY email")
            .fetch_all(self.pool())
            .await
    }

    /// Writes one line of the audit log.
    #[tracing::instrument(skip(self, detail))]
    pub async fn audit(&self, actor: &Actor, action: &str, detail: &str) -> sqlx::Result<()> {
        let mut tx = self.pool().begin().await?;
        Self::audit_in(&mut tx, actor, action, detail).await?;
        tx.commit().await
    }

    /// Writes one line of the audit log within the transaction of the change it records.
    pub async fn audit_in(
        tx: &mut Transaction<'_, Any>,
        actor: &Actor,
        action: &str,
        detail: &str,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO coordinator_audit (actor_id, actor, action, detail, at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(actor.user_id)
        .bind(&actor.label)
        .bind(action)
        .bind(detail)
        .bind(now())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The latest `limit` lines of the audit log, newest first.
    #[tracing::instrument(skip(self))]
    pub async fn audit_log(&self, limit: i64) -> sqlx::Result<Vec<AuditEntry>> {
        sqlx::query_as(
            "SELECT actor, action, detail, at FROM coordinator_audit ORDER BY at DESC, id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await
    }
}
