//! What a person the identity provider vouched for ([`Identity`]) does to accounts: signs in to
//! the account linked to them; links an account that has their verified address; or, for a new
//! person (or an address whose account was never confirmed), waits for the profile questions
//! and then creates (or completes) the account. The allowed email domains apply to each sign-in;
//! a closed (leaver's) account never signs in; the coordinator claim, when configured, grants
//! the role and takes back a role it granted.

use serde::{Deserialize, Serialize};

use super::{AccountError, Accounts, ProfileInput, Result, oidc::Identity};
use crate::{
    domain::{Email, UserId},
    forms::FieldErrors,
    store::{
        Store,
        coordinators::Actor,
        identities::ClaimedRole,
        tokens::{self, Purpose},
        users::User,
    },
};

/// The password hash of an account made through the provider: not a PHC string, so no password
/// matches it (checked against the dummy hash, so it costs a full check like any other).
pub const PROVIDER_HASH: &str = "!provider";

/// How long the profile questions of a first sign-in wait for their answers.
pub const PENDING_TTL_SECS: i64 = 1800;

/// What a verified identity leads to.
#[derive(Debug)]
pub enum SignIn {
    /// Signed in to this account.
    Account(User),
    /// The profile questions come next; the session keeps this meanwhile.
    NeedsProfile(Pending),
    /// Not signed in, for this reason.
    Refused(Refusal),
}

/// Why a verified person is not signed in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The address's domain is not among the allowed ones.
    DomainNotAllowed { email: Email, domains: Vec<String> },
    /// A coordinator closed the account (a leaver's).
    Deactivated(Email),
    /// The address's account is linked to another of the provider's people.
    LinkedToSomeoneElse(Email),
}

/// A first sign-in waiting for the profile questions. Kept in the session (server-side), so the
/// browser cannot change it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Pending {
    pub issuer: String,
    pub subject: String,
    pub email: String,
    pub name: String,
    pub coordinator: Option<bool>,
    /// The unconfirmed account of this address, which the answers complete.
    pub existing: Option<UserId>,
    /// Where to go afterwards (checked to be a local path before it is followed).
    pub next: String,
    pub at: i64,
}

impl Pending {
    pub fn is_fresh(&self, now: i64) -> bool {
        now - self.at <= PENDING_TTL_SECS && self.at <= now + 60
    }
}

/// How the audit log names the provider's claim when it grants or takes back the role.
fn claim_actor(accounts: &Accounts) -> Actor {
    let claim = accounts.config.oidc.as_ref().and_then(|o| o.coordinator_claim.as_ref());
    let label = claim.map_or_else(
        || "identity provider".to_owned(),
        |(claim, value)| format!("identity provider ({claim} claim {value})"),
    );
    Actor { user_id: None, label }
}

impl Accounts {
    /// Where a person the provider vouched for goes. Reads and, for a linked account, writes
    /// (the sign-in time and the claimed role); a new account waits for [`Self::complete_sign_in`].
    #[tracing::instrument(skip_all, fields(email = identity.email.masked()))]
    pub async fn sign_in_with(&self, identity: &Identity, next: &str, now: i64) -> Result<SignIn> {
        let allowed = self.settings.load(&self.store).await?.allowed_email_domains;
        if !identity.email.is_allowed(&allowed) {
            return Ok(SignIn::Refused(Refusal::DomainNotAllowed {
                email: identity.email.clone(),
                domains: allowed,
            }));
        }
        let linked = self.store.user_for_identity(&identity.issuer, &identity.subject).await?;
        let user = match linked {
            Some(id) => self.store.user_by_id(id).await?,
            None => self.store.user_by_email(&identity.email).await?,
        };
        let pending = |existing: Option<&User>| Pending {
            issuer: identity.issuer.clone(),
            subject: identity.subject.clone(),
            email: identity.email.to_string(),
            name: identity.name.clone().unwrap_or_default(),
            coordinator: identity.coordinator,
            existing: existing.map(|u| u.id),
            next: next.to_owned(),
            at: now,
        };
        let Some(user) = user else { return Ok(SignIn::NeedsProfile(pending(None))) };
        if self.store.is_deactivated(user.id).await? {
            return Ok(SignIn::Refused(Refusal::Deactivated(user.email)));
        }
        if linked.is_none() && user.confirmed_at.is_none() {
            // Whoever signed up with this address never proved it: the person the provider
            // vouches for answers the questions again, and that sign-up's password goes.
            return Ok(SignIn::NeedsProfile(pending(Some(&user))));
        }
        let mut tx = self.store.pool().begin().await?;
        if !Store::link_identity(&mut tx, user.id, &identity.issuer, &identity.subject).await? {
            return Ok(SignIn::Refused(Refusal::LinkedToSomeoneElse(user.email)));
        }
        if let Some(claimed) = identity.coordinator {
            self.apply_claim(&mut tx, user.id, claimed).await?;
        }
        tx.commit().await?;
        if linked.is_none() {
            tracing::info!(user_id = %user.id, "an account was linked to the identity provider");
        }
        let user = self.store.user_by_id(user.id).await?.ok_or(AccountError::LinkInvalid)?;
        Ok(SignIn::Account(user))
    }

    async fn apply_claim(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        user_id: UserId,
        claimed: bool,
    ) -> Result<()> {
        match Store::set_coordinator_by_claim(tx, user_id, claimed, &claim_actor(self)).await? {
            ClaimedRole::Granted => {
                tracing::info!(%user_id, "coordinator role granted by the provider's claim")
            }
            ClaimedRole::Removed => tracing::info!(%user_id, "coordinator role removed: the claim is gone"),
            ClaimedRole::Unchanged => {}
        }
        Ok(())
    }

    /// The profile form's first values for a pending sign-in: the account's, when it completes
    /// one, else the provider's name.
    // Fields the profile gains later start empty here until this fills them in.
    #[allow(clippy::needless_update)]
    pub async fn pending_profile(&self, pending: &Pending) -> Result<ProfileInput> {
        if let Some(id) = pending.existing
            && let Some(user) = self.store.user_by_id(id).await?
        {
            return Ok(ProfileInput::of(&user.profile(), &self.store.departments().await?));
        }
        Ok(ProfileInput { name: pending.name.clone(), ..ProfileInput::default() })
    }

    /// Creates the account of a first sign-in from the profile answers (or completes the
    /// unconfirmed account of the address), confirmed and linked to the provider. A pending
    /// sign-in that is too old, or whose address has since been taken or closed, is
    /// `LinkInvalid`: the person signs in again.
    #[tracing::instrument(skip_all)]
    pub async fn complete_sign_in(&self, pending: &Pending, input: &ProfileInput, now: i64) -> Result<User> {
        if !pending.is_fresh(now) {
            return Err(AccountError::LinkInvalid);
        }
        let email = Email::parse(&pending.email).map_err(|_| AccountError::LinkInvalid)?;
        let allowed = self.settings.load(&self.store).await?.allowed_email_domains;
        if !email.is_allowed(&allowed) {
            return Err(AccountError::LinkInvalid);
        }
        let mut errors = FieldErrors::default();
        let profile = self.parse_profile(&mut errors, input).await?;
        let (Some(profile), true) = (profile, errors.is_empty()) else {
            return Err(AccountError::Invalid(errors));
        };
        let mut tx = self.store.pool().begin().await?;
        let user_id = match pending.existing {
            Some(id) => {
                let user = Store::user_by_id_in(&mut tx, id).await?.ok_or(AccountError::LinkInvalid)?;
                if user.email != email || Store::is_deactivated_in(&mut tx, id).await? {
                    return Err(AccountError::LinkInvalid);
                }
                // Both only touch an account that is still unconfirmed.
                Store::replace_unconfirmed(&mut tx, id, PROVIDER_HASH, &profile).await?;
                tokens::revoke_all(&mut tx, id, Purpose::Confirm).await?;
                id
            }
            None => Store::insert_user(&mut tx, &email, PROVIDER_HASH, &profile)
                .await?
                .ok_or(AccountError::LinkInvalid)?,
        };
        Store::confirm_user(&mut tx, user_id).await?;
        if !Store::link_identity(&mut tx, user_id, &pending.issuer, &pending.subject).await? {
            return Err(AccountError::LinkInvalid);
        }
        if let Some(claimed) = pending.coordinator {
            self.apply_claim(&mut tx, user_id, claimed).await?;
        }
        tx.commit().await?;
        tracing::info!(%user_id, "an account was created through the identity provider");
        self.store.user_by_id(user_id).await?.ok_or(AccountError::LinkInvalid)
    }
}
