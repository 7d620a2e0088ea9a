//! Accounts as the identity provider knows them, and accounts closed for leavers.
//!
//! An account is linked to the provider by the provider's (issuer, subject), never by the email
//! address, which can change hands. Deactivation closes an account in one transaction: it can no
//! longer log in or sign in, its sessions and unsent email are gone, its emailed links stop
//! working, and it is opted out of the rounds and the follow-up reminders.

use sqlx::{AnyConnection, Transaction};

use super::{Store, coordinators::Actor, now, values::Flag};
use crate::domain::{Email, UserId};

/// What closing a list of addresses did, address by address.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Deactivated {
    /// Accounts closed now.
    pub closed: Vec<Email>,
    /// Accounts that were closed before; left as they were.
    pub already: Vec<Email>,
    /// Addresses with no account.
    pub unknown: Vec<Email>,
}

/// What the provider's coordinator claim changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimedRole {
    Granted,
    Removed,
    Unchanged,
}

impl Store {
    /// The account linked to the provider's `subject` at `issuer`.
    #[tracing::instrument(skip(self))]
    pub async fn user_for_identity(&self, issuer: &str, subject: &str) -> sqlx::Result<Option<UserId>> {
        let row: Option<(UserId,)> =
            sqlx::query_as("SELECT user_id FROM oidc_identities WHERE issuer = $1 AND subject = $2")
                .bind(issuer)
                .bind(subject)
                .fetch_optional(self.pool())
                .await?;
        Ok(row.map(|(id,)| id))
    }

    /// Links the account to the provider's `subject` (or notes the sign-in when it is linked).
    /// `false` when the account is already linked to another subject of this provider, or the
    /// subject to another account: nothing is changed then.
    pub async fn link_identity(
        conn: &mut AnyConnection,
        user_id: UserId,
        issuer: &str,
        subject: &str,
    ) -> sqlx::Result<bool> {
        let now = now();
        let touched = sqlx::query(
            "UPDATE oidc_identities SET last_sign_in_at = $4 WHERE issuer = $1 AND subject = $2 AND user_id = $3",
        )
        .bind(issuer)
        .bind(subject)
        .bind(user_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        if touched.rows_affected() == 1 {
            return Ok(true);
        }
        let inserted = sqlx::query(
            "INSERT INTO oidc_identities (issuer, subject, user_id, created_at, last_sign_in_at) \
             VALUES ($1, $2, $3, $4, $4) ON CONFLICT DO NOTHING",
        )
        .bind(issuer)
        .bind(subject)
        .bind(user_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    /// Whether the account signs in through an identity provider.
    pub async fn has_identity(&self, user_id: UserId) -> sqlx::Result<bool> {
        let row: Option<(i64,)> = sqlx::query_as("SELECT 1 FROM oidc_identities WHERE user_id = $1 LIMIT 1")
            .bind(user_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.is_some())
    }

    /// Whether the account was closed as a leaver's.
    pub async fn is_deactivated(&self, user_id: UserId) -> sqlx::Result<bool> {
        Self::is_deactivated_in(&mut *self.pool().acquire().await?, user_id).await
    }

    pub async fn is_deactivated_in(conn: &mut AnyConnection, user_id: UserId) -> sqlx::Result<bool> {
        let row: Option<(Option<i64>,)> = sqlx::query_as("SELECT deactivated_at FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(conn)
            .await?;
        Ok(matches!(row, Some((Some(_),))))
    }

    /// Brings the role in line with the provider's claim: granted when `claimed`, taken back when
    /// not but only if the claim gave it. Logged as the provider's doing.
    pub async fn set_coordinator_by_claim(
        tx: &mut Transaction<'_, sqlx::Any>,
        user_id: UserId,
        claimed: bool,
        actor: &Actor,
    ) -> sqlx::Result<ClaimedRole> {
        let row: Option<(Email, Flag, Flag)> =
            sqlx::query_as("SELECT email, is_coordinator, coordinator_from_claim FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&mut **tx)
                .await?;
        let Some((email, is_coordinator, from_claim)) = row else { return Ok(ClaimedRole::Unchanged) };
        let (is_coordinator, from_claim) = (bool::from(is_coordinator), bool::from(from_claim));
        let change = match (claimed, is_coordinator, from_claim) {
            (true, false, _) => ClaimedRole::Granted,
            (false, true, true) => ClaimedRole::Removed,
            _ => return Ok(ClaimedRole::Unchanged),
        };
        let grant = change == ClaimedRole::Granted;
        sqlx::query(
            "UPDATE users SET is_coordinator = $2, coordinator_from_claim = $2, updated_at = $3 WHERE id = $1",
        )
        .bind(user_id)
        .bind(Flag(grant))
        .bind(now())
        .execute(&mut **tx)
        .await?;
        let action = if grant { "role granted" } else { "role removed" };
        Self::audit_in(tx, actor, action, email.as_str()).await?;
        Ok(change)
    }

    /// Closes the accounts of `emails` in one transaction, each logged as `actor`'s doing.
    #[tracing::instrument(skip_all, fields(addresses = emails.len()))]
    pub async fn deactivate(&self, emails: &[Email], actor: &Actor) -> sqlx::Result<Deactivated> {
        let mut done = Deactivated::default();
        let mut tx = self.pool().begin().await?;
        let now = now();
        for email in emails {
            let row: Option<(UserId, Option<i64>)> =
                sqlx::query_as("SELECT id, deactivated_at FROM users WHERE email = $1")
                    .bind(email)
                    .fetch_optional(&mut *tx)
                    .await?;
            let id = match row {
                None => {
                    done.unknown.push(email.clone());
                    continue;
                }
                Some((_, Some(_))) => {
                    done.already.push(email.clone());
                    continue;
                }
                Some((id, None)) => id,
            };
            sqlx::query(
                "UPDATE users SET deactivated_at = $2, opted_out_at = COALESCE(opted_out_at, $2), \
                 nudges_enabled = 0, is_coordinator = 0, coordinator_from_claim = 0, updated_at = $2 \
                 WHERE id = $1",
            )
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
            // Mail already handed to a sender may still go; nothing queued after this does.
            sqlx::query("DELETE FROM outbox WHERE user_id = $1 AND status = 'pending'")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE email_tokens SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL")
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            Self::audit_in(&mut tx, actor, "account deactivated", email.as_str()).await?;
            done.closed.push(email.clone());
        }
        tx.commit().await?;
        Ok(done)
    }

    /// Opens a closed account again (it stays opted out until its owner rejoins); `false` when
    /// the address has no closed account.
    #[tracing::instrument(skip(self, email))]
    pub async fn reactivate(&self, email: &Email, actor: &Actor) -> sqlx::Result<bool> {
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE users SET deactivated_at = NULL, updated_at = $2 WHERE email = $1 AND deactivated_at IS NOT NULL",
        )
        .bind(email)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        Self::audit_in(&mut tx, actor, "account reactivated", email.as_str()).await?;
        tx.commit().await?;
        Ok(true)
    }
}
