//! What a hard bounce does. When the receiving server refuses a person's address for good, the
//! message is kept as failed with the server's answer, the person is not matched again until the
//! address works (their profile and the coordinator's list of undeliverable addresses say so),
//! and if it was a round's introduction, the rest of their group is told to reach them another
//! way. All of it happens in one transaction, and only for the claim that saw the refusal.

use anyhow::Context;

use super::messages::{BounceNote, Email};
use crate::{
    domain::{self, Calendar, UserId},
    store::{Store, coordinators::Actor, outbox::OutboxMessage},
};

/// Who the audit log names for what the mail sender does on its own.
pub const MAIL_SENDER: &str = "mail sender";

/// What recording a bounce did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Whether the person was marked (false: no account, the address changed since, or already
    /// marked).
    pub paused: bool,
    /// Notes queued to the rest of the group.
    pub notes: usize,
}

/// Records the refusal `reason` of `row`'s address, sent under the claim numbered `row.attempts`.
#[tracing::instrument(skip(store, row), fields(id = row.id, kind = row.kind))]
pub async fn record(store: &Store, row: &OutboxMessage, reason: &str) -> anyhow::Result<Recorded> {
    let mut tx = store.pool().begin().await?;
    if !Store::mark_failed_in(&mut tx, row.id, row.attempts, reason).await? {
        // A newer claim owns the message: it decides.
        tx.commit().await?;
        return Ok(Recorded::default());
    }
    let Some(user_id) = row.user_id else {
        tx.commit().await?;
        return Ok(Recorded::default());
    };
    let Some(person) = Store::mark_bounced(&mut tx, user_id, &row.recipient, reason).await? else {
        tx.commit().await?;
        return Ok(Recorded::default());
    };
    let mut notes = 0;
    if let (Some(round_id), "intro") = (row.round_id, row.kind.as_str()) {
        let (month, mates) = Store::group_mates_in_round(&mut tx, round_id, person.id).await?;
        let month_name = month.long_name();
        let mut messages = Vec::with_capacity(mates.len());
        for (mate_id, mate_name, mate_email) in mates {
            let note = BounceNote {
                name: mate_name.first().to_owned(),
                month_name: month_name.clone(),
                bounced_name: person.name.to_string(),
                bounced_role: person.role.clone(),
                bounced_department: person.department.clone(),
            };
            messages.push((super::new_message_id(), note.to_message(Some(mate_id), &mate_email)?));
        }
        crate::store::outbox::enqueue_many(&mut tx, Some(round_id), &messages).await?;
        notes = messages.len();
    }
    let actor = Actor { user_id: None, label: MAIL_SENDER.to_owned() };
    let detail = format!("{} ({}) paused: {reason}", person.email, person.name);
    Store::audit_in(&mut tx, &actor, "address bounced", &detail).await?;
    tx.commit().await.context("recording a bounce")?;
    Ok(Recorded { paused: true, notes })
}

/// The address of account `user_id` works again (its owner or a coordinator says so): it is
/// matched from the next round. A coordinator's word is in the audit log. Returns the address,
/// or `None` if it was not marked as bounced.
#[tracing::instrument(skip(store, actor))]
pub async fn clear(
    store: &Store,
    user_id: UserId,
    actor: Option<&Actor>,
) -> sqlx::Result<Option<domain::Email>> {
    let mut tx = store.pool().begin().await?;
    let cleared = Store::clear_bounce(&mut tx, user_id).await?;
    if let (Some(email), Some(actor)) = (&cleared, actor) {
        Store::audit_in(&mut tx, actor, "address marked working", email.as_str()).await?;
    }
    tx.commit().await?;
    Ok(cleared)
}
