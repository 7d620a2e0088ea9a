//! Accounts and participation: sign up, confirm, log in, reset and change the password, edit the
//! profile, pause, opt out, rejoin and delete. The web handlers call these functions and only
//! render what they return.
//!
//! No answer here reveals whether an email has an account: sign-up, reset and resend do the same
//! work and give the same result either way, and the email itself tells the owner what happened.

pub mod leavers;
pub mod oidc;
pub mod password;
pub mod sign_in;

use std::sync::Arc;

use anyhow::Context;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::Rng;
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use crate::{
    config::Config,
    domain::UserId,
    domain::{self, Email, FreeTimes, Frequency, MeetFormat, Password, PersonName, Profile, Slot},
    domain::{Calendar, Month},
    forms::FieldErrors,
    mail::{
        self,
        messages::{AlreadyRegistered, Confirm, Email as _, Invitation, PasswordChanged, Reset},
    },
    store::{
        Store, outbox,
        tokens::{self, Purpose},
        users::User,
    },
};

pub use password::Hasher;

/// What can go wrong in an account operation.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The input was refused; the form shows these messages.
    #[error("invalid input")]
    Invalid(FieldErrors),
    /// A link was used up, expired or never existed.
    #[error("the link is no longer valid")]
    LinkInvalid,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for AccountError {
    fn from(err: sqlx::Error) -> Self {
        Self::Internal(err.into())
    }
}

impl From<askama::Error> for AccountError {
    fn from(err: askama::Error) -> Self {
        Self::Internal(anyhow::Error::new(err).context("rendering an email"))
    }
}

pub type Result<T> = std::result::Result<T, AccountError>;

/// The raw sign-up form: the account's fields and the profile's.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct SignupInput {
    pub email: String,
    pub password: String,
    #[serde(flatten)]
    pub profile: ProfileInput,
}

/// The confirmation form: the emailed token and the password, entered again.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct ConfirmInput {
    pub token: String,
    pub password: String,
    /// Filled in only when the password is not the one the address signed up with.
    pub password_again: String,
}

/// The raw profile form (also the profile part of sign-up). Each free time is a checkbox of its
/// own (`time_midday=on`), so the form needs no JavaScript and no repeated names.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct ProfileInput {
    pub name: String,
    pub role: String,
    pub level: String,
    pub department: String,
    pub department_other: String,
    pub site: String,
    pub format: String,
    pub frequency: String,
    pub time_early: String,
    pub time_midday: String,
    pub time_afternoon: String,
    pub time_evening: String,
    pub time_night: String,
    pub time_weekend: String,
}

impl ProfileInput {
    /// The slots ticked.
    pub fn times(&self) -> FreeTimes {
        let ticked = [
            (Slot::Early, &self.time_early),
            (Slot::Midday, &self.time_midday),
            (Slot::Afternoon, &self.time_afternoon),
            (Slot::Evening, &self.time_evening),
            (Slot::Night, &self.time_night),
            (Slot::Weekend, &self.time_weekend),
        ];
        FreeTimes::from_slots(ticked.into_iter().filter(|(_, v)| !v.trim().is_empty()).map(|(slot, _)| slot))
    }

    /// Whether the form shows `slot` ticked.
    pub fn has_time(&self, slot: &Slot) -> bool {
        self.times().contains(*slot)
    }

    /// The form filled in from a stored profile.
    pub fn of(profile: &Profile, departments: &[String]) -> Self {
        let listed = departments.iter().any(|d| d.eq_ignore_ascii_case(&profile.department));
        let tick = |slot: Slot| if profile.times.contains(slot) { "on".to_owned() } else { String::new() };
        Self {
            name: profile.name.to_string(),
            role: profile.role.clone(),
            level: profile.level.to_string(),
            department: if listed { profile.department.clone() } else { domain::OTHER_DEPARTMENT.to_owned() },
            department_other: if listed { String::new() } else { profile.department.clone() },
            site: profile.site.clone().unwrap_or_default(),
            format: profile.format.as_str().to_owned(),
            frequency: profile.frequency.as_str().to_owned(),
            time_early: tick(Slot::Early),
            time_midday: tick(Slot::Midday),
            time_afternoon: tick(Slot::Afternoon),
            time_evening: tick(Slot::Evening),
            time_night: tick(Slot::Night),
            time_weekend: tick(Slot::Weekend),
        }
    }
}

/// Where a person stands for the coming rounds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Participation {
    AwaitingConfirmation,
    /// Matched in the round of this month.
    Active {
        next_round: Month,
    },
    /// Skips rounds through `through`; matched again from `back_in`.
    Paused {
        through: Month,
        back_in: Month,
    },
    /// Paused automatically after three rounds without an answer.
    AutoPaused,
    /// Not matched: the receiving server refused the address for good (see `mail::bounce`).
    AddressBounced,
    OptedOut,
}

/// At most one "you already have an account" note per account in this many seconds.
pub const ALREADY_REGISTERED_INTERVAL_SECS: i64 = 3600;

/// How long an invitation link from a roster import stays valid.
pub const INVITATION_TTL: std::time::Duration = std::time::Duration::from_secs(14 * 86_400);

/// The password hash of an invited account until its owner chooses a password: not a PHC string,
/// so no password matches it.
pub const INVITED_HASH: &str = "!invited";

/// What an import did.
#[derive(Clone, Debug, Default)]
pub struct Invited {
    pub count: usize,
    /// (line, email) of the rows whose address already had an account, left untouched.
    pub existing: Vec<(u64, Email)>,
}

/// Why a login was refused. The two cases a stranger could tell apart are one.
#[derive(Debug)]
pub enum LoginRefusal {
    /// Unknown email or wrong password: the same answer for both.
    WrongCredentials,
    /// Right password, but the email was never confirmed; a new link has been sent.
    Unconfirmed,
}

/// A fresh random token for an emailed link, and the hash that is stored.
fn new_token() -> (String, String) {
    let bytes: [u8; 32] = rand::rng().random();
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_token(&token);
    (token, hash)
}

/// The stored form of an emailed token.
pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.trim().as_bytes());
    URL_SAFE_NO_PAD.encode(digest)
}

/// The account service. Cheap to clone.
#[derive(Clone)]
pub struct Accounts {
    pub store: Store,
    /// The settings in force, for the allowed email domains.
    pub settings: crate::settings::SettingsSource,
    pub hasher: Hasher,
    pub config: Arc<Config>,
    /// Wakes the mail sender after a message is queued.
    pub mail_wake: Arc<Notify>,
    /// The identity provider people sign in through, when one is configured.
    pub provider: Option<Arc<oidc::Provider>>,
}

/// Whether the account has a password that can log in (not an invited account's or a
/// provider-made account's placeholder).
pub fn has_password(user: &User) -> bool {
    password::is_password_hash(&user.password_hash)
}

impl Accounts {
    fn link(&self, path: &str, token: &str) -> String {
        format!("{}{path}?token={token}", self.config.base_url)
    }

    /// Parses the profile fields shared by sign-up and the profile form.
    async fn parse_profile(&self, errors: &mut FieldErrors, input: &ProfileInput) -> Result<Option<Profile>> {
        let crate::store::lists::Lists { departments, roles, sites } = self.store.lists().await?;
        let name = errors.take("name", PersonName::parse(&input.name));
        let role = errors.take("role", domain::parse_role(&input.role, &roles));
        let level = errors.take("level", domain::parse_level(&input.level));
        let department = errors.take(
            "department",
            domain::parse_department(&input.department, &input.department_other, &departments),
        );
        let site = errors.take("site", domain::parse_site(&input.site, &sites));
        let format = errors.take("format", MeetFormat::parse(&input.format));
        let frequency = errors.take("frequency", Frequency::parse(&input.frequency));
        Ok(match (name, role, level, department, site, format, frequency) {
            (
                Some(name),
                Some(role),
                Some(level),
                Some(department),
                Some(site),
                Some(format),
                Some(frequency),
            ) => {
                Some(Profile { name, role, level, department, site, format, times: input.times(), frequency })
            }
            _ => None,
        })
    }

    /// Signs a person up. On success an email is queued either way: a confirmation link for a
    /// new address, a "you already have an account" note for a registered one.
    #[tracing::instrument(skip_all)]
    pub async fn sign_up(&self, input: &SignupInput) -> Result<()> {
        let mut errors = FieldErrors::default();
        let email = errors.take("email", Email::parse(&input.email));
        let allowed = self.settings.load(&self.store).await?.allowed_email_domains;
        if let Some(email) = &email
            && !email.is_allowed(&allowed)
        {
            let domains = allowed.join(" or ");
            errors.add("email", format!("Use your institutional email address (ending in {domains})."));
        }
        let password = errors.take("password", Password::parse(&input.password));
        let profile = self.parse_profile(&mut errors, &input.profile).await?;
        let (Some(email), Some(password), Some(profile), true) =
            (email, password, profile, errors.is_empty())
        else {
            return Err(AccountError::Invalid(errors));
        };
        // Hash even when the address is taken, so both paths cost the same.
        let hash = self.hasher.hash(password.expose()).await?;
        let mut tx = self.store.pool().begin().await?;
        match Store::insert_user(&mut tx, &email, &hash, &profile).await? {
            Some(user_id) => self.queue_confirmation(&mut tx, user_id, &profile.name, &email).await?,
            None => {
                let existing = Store::user_by_email_in(&mut tx, &email)
                    .await?
                    .context("an address that is taken has an account")?;
                match existing {
                    User { id, confirmed_at: None, .. } => {
                        // Not confirmed yet (an invitation, or an earlier sign-up): this sign-up's
                        // password and profile replace the old ones and earlier links stop
                        // working, so the person can log in with the password they just chose.
                        Store::replace_unconfirmed(&mut tx, id, &hash, &profile).await?;
                        tokens::revoke_all(&mut tx, id, Purpose::Confirm).await?;
                        self.queue_confirmation(&mut tx, id, &profile.name, &email).await?
                    }
                    User { id, name, .. } => {
                        // One note an hour at most: sign-ups with someone else's address must
                        // not fill their inbox. The answer on the page is the same either way.
                        // A closed (leaver's) account gets no email at all.
                        let since = crate::store::now() - ALREADY_REGISTERED_INTERVAL_SECS;
                        if !Store::is_deactivated_in(&mut tx, id).await?
                            && outbox::queued_since(&mut tx, id, AlreadyRegistered::KIND, since).await? == 0
                        {
                            let message = AlreadyRegistered {
                                name: name.to_string(),
                                login_link: format!("{}/login", self.config.base_url),
                                reset_link: format!("{}/password/forgot", self.config.base_url),
                            }
                            .to_message(Some(id), &email)?;
                            mail::queue(&mut tx, &message).await?;
                        }
                    }
                }
            }
        }
        tx.commit().await?;
        self.mail_wake.notify_one();
        tracing::info!(email = email.masked(), "sign-up handled");
        Ok(())
    }

    async fn queue_confirmation(
        &self,
        conn: &mut sqlx::AnyConnection,
        user_id: UserId,
        name: &PersonName,
        email: &Email,
    ) -> Result<()> {
        let (token, hash) = new_token();
        let ttl = self.config.confirm_ttl.as_secs();
        tokens::insert(conn, &hash, user_id, Purpose::Confirm, ttl as i64).await?;
        let message =
            Confirm { name: name.to_string(), link: self.link("/confirm", &token), hours: ttl / 3600 }
                .to_message(Some(user_id), email)?;
        mail::queue(conn, &message).await?;
        Ok(())
    }

    /// Whether a confirmation link can still be used (for the landing page).
    pub async fn confirmation_is_valid(&self, token: &str) -> Result<bool> {
        Ok(tokens::is_valid(self.store.pool(), &hash_token(token), Purpose::Confirm).await?)
    }

    /// Activates the account of a confirmation link; returns it for logging in.
    ///
    /// Reaching the link proves control of the mailbox, and the password is entered again at
    /// this moment: whoever else signed up with the address before it was confirmed never gets
    /// their password activated. The password entered must be the one the address signed up
    /// with (its latest sign-up), or, typed twice, becomes the account's password.
    #[tracing::instrument(skip_all)]
    pub async fn confirm(&self, input: &ConfirmInput) -> Result<User> {
        let token_hash = hash_token(&input.token);
        let user_id = tokens::owner(self.store.pool(), &token_hash, Purpose::Confirm)
            .await?
            .ok_or(AccountError::LinkInvalid)?;
        let user = self.store.user_by_id(user_id).await?.ok_or(AccountError::LinkInvalid)?;
        let password_hash = if self.hasher.verify(&input.password, Some(&user.password_hash)).await? {
            user.password_hash
        } else {
            let mut errors = FieldErrors::default();
            let password = errors.take("password", Password::parse(&input.password));
            if password.is_some() {
                if input.password_again.is_empty() {
                    errors.add(
                        "password_again",
                        "That is not the password chosen when this address signed up. To make it your password, type it again here.",
                    );
                } else if input.password_again != input.password {
                    errors.add(
                        "password_again",
                        "The two passwords are not the same. Type the same password twice.",
                    );
                }
            }
            let (Some(password), true) = (password, errors.is_empty()) else {
                return Err(AccountError::Invalid(errors));
            };
            self.hasher.hash(password.expose()).await?
        };
        let mut tx = self.store.pool().begin().await?;
        let consumed = tokens::consume(&mut tx, &token_hash, Purpose::Confirm).await?;
        if consumed != Some(user_id) {
            return Err(AccountError::LinkInvalid);
        }
        // Written even when unchanged: a sign-up since the check must not slip its password in.
        Store::set_password(&mut tx, user_id, &password_hash, None).await?;
        tokens::revoke_all(&mut tx, user_id, Purpose::Confirm).await?;
        Store::confirm_user(&mut tx, user_id).await?;
        tx.commit().await?;
        self.store.user_by_id(user_id).await?.ok_or(AccountError::LinkInvalid)
    }

    /// Sends a new confirmation link if the address has an unconfirmed account; answers the
    /// same either way.
    #[tracing::instrument(skip_all)]
    pub async fn resend_confirmation(&self, email: &str) -> Result<()> {
        let email =
            Email::parse(email).map_err(|e| AccountError::Invalid(FieldErrors::single("email", e)))?;
        self.resend_to(&email).await
    }

    async fn resend_to(&self, email: &Email) -> Result<()> {
        if let Some(user) = self.store.user_by_email(email).await?
            && user.confirmed_at.is_none()
            && !self.store.is_deactivated(user.id).await?
        {
            let mut tx = self.store.pool().begin().await?;
            self.queue_confirmation(&mut tx, user.id, &user.name, &user.email).await?;
            tx.commit().await?;
            self.mail_wake.notify_one();
        }
        Ok(())
    }

    /// Checks a login. Unknown emails are checked against a dummy hash so they take as long.
    /// A closed (leaver's) account, and with `PASSWORD_LOGIN=off` any account that is not a
    /// coordinator's, is refused as a wrong password is: the answer never tells them apart.
    #[tracing::instrument(skip_all)]
    pub async fn log_in(
        &self,
        email: &str,
        password: &str,
    ) -> Result<std::result::Result<User, LoginRefusal>> {
        let user = match Email::parse(email) {
            Ok(email) => self.store.user_by_email(&email).await?,
            Err(_) => None,
        };
        let ok = self.hasher.verify(password, user.as_ref().map(|u| u.password_hash.as_str())).await?;
        let allowed = match &user {
            Some(user) if ok => {
                !self.store.is_deactivated(user.id).await?
                    && (self.config.password_login || user.is_coordinator())
            }
            _ => false,
        };
        Ok(match user {
            Some(user) if allowed && user.confirmed_at.is_some() => Ok(user),
            Some(user) if allowed => {
                self.resend_to(&user.email).await?;
                Err(LoginRefusal::Unconfirmed)
            }
            _ => Err(LoginRefusal::WrongCredentials),
        })
    }

    /// Emails a reset link if the address has an account; answers the same either way.
    #[tracing::instrument(skip_all)]
    pub async fn request_reset(&self, email: &str) -> Result<()> {
        let email =
            Email::parse(email).map_err(|e| AccountError::Invalid(FieldErrors::single("email", e)))?;
        let mut tx = self.store.pool().begin().await?;
        if let Some(user) = self.store.user_by_email(&email).await?
            && !self.store.is_deactivated(user.id).await?
            // With password login off, a password is only any use to a coordinator.
            && (self.config.password_login || user.is_coordinator())
        {
            let (token, hash) = new_token();
            let ttl = self.config.reset_ttl.as_secs();
            tokens::insert(&mut tx, &hash, user.id, Purpose::Reset, ttl as i64).await?;
            let message = Reset {
                name: user.name.to_string(),
                link: self.link("/password/reset", &token),
                minutes: ttl / 60,
            }
            .to_message(Some(user.id), &user.email)?;
            mail::queue(&mut tx, &message).await?;
        }
        tx.commit().await?;
        self.mail_wake.notify_one();
        Ok(())
    }

    /// Creates an unconfirmed account and emails an invitation for each roster row whose address
    /// has no account yet; accounts that exist are left exactly as they are. The invitation link
    /// is a password link that also confirms the address. Logged in the audit log as `actor`'s
    /// import, with `skipped` rows that had errors.
    #[tracing::instrument(skip_all, fields(rows = rows.len()))]
    pub async fn invite(
        &self,
        rows: &[crate::roster::RosterRow],
        skipped: usize,
        actor: &crate::store::coordinators::Actor,
    ) -> Result<Invited> {
        let ttl = INVITATION_TTL.as_secs();
        let people: Vec<(&Email, &Profile)> = rows.iter().map(|r| (&r.email, &r.profile)).collect();
        let mut tx = self.store.pool().begin().await?;
        let created: std::collections::HashMap<Email, UserId> =
            Store::insert_users_if_new(&mut tx, &people, INVITED_HASH).await?.into_iter().collect();
        let mut invited = Invited::default();
        let mut tokens = Vec::with_capacity(created.len());
        let mut messages = Vec::with_capacity(created.len());
        for row in rows {
            let Some(&user_id) = created.get(&row.email) else {
                invited.existing.push((row.line, row.email.clone()));
                continue;
            };
            let (token, hash) = new_token();
            tokens.push((hash, user_id));
            let message = Invitation {
                name: row.profile.name.to_string(),
                link: self.link("/password/reset", &token),
                days: ttl / 86_400,
                role: row.profile.role.clone(),
                stage: domain::stage_name(row.profile.level),
                department: row.profile.department.clone(),
            }
            .to_message(Some(user_id), &row.email)?;
            messages.push((mail::new_message_id(), message));
        }
        invited.count = messages.len();
        tokens::insert_many(&mut tx, &tokens, Purpose::Reset, ttl as i64).await?;
        crate::store::outbox::enqueue_many(&mut tx, None, &messages).await?;
        let detail = format!(
            "roster: {} invited, {} already had accounts, {skipped} rows with errors left out",
            invited.count,
            invited.existing.len()
        );
        Store::audit_in(&mut tx, actor, "import", &detail).await?;
        tx.commit().await?;
        self.mail_wake.notify_one();
        Ok(invited)
    }

    /// Whether a reset link can still be used (for the landing page).
    pub async fn reset_is_valid(&self, token: &str) -> Result<bool> {
        Ok(tokens::is_valid(self.store.pool(), &hash_token(token), Purpose::Reset).await?)
    }

    /// Sets a new password from a reset link and ends every session of the account. Reaching the
    /// email also proves the address, so an unconfirmed account becomes confirmed.
    #[tracing::instrument(skip_all)]
    pub async fn reset_password(&self, token: &str, new_password: &str) -> Result<()> {
        let password = Password::parse(new_password)
            .map_err(|e| AccountError::Invalid(FieldErrors::single("password", e)))?;
        if !self.reset_is_valid(token).await? {
            return Err(AccountError::LinkInvalid);
        }
        let hash = self.hasher.hash(password.expose()).await?;
        let mut tx = self.store.pool().begin().await?;
        let user_id = tokens::consume(&mut tx, &hash_token(token), Purpose::Reset)
            .await?
            .ok_or(AccountError::LinkInvalid)?;
        Store::set_password(&mut tx, user_id, &hash, None).await?;
        tokens::revoke_all(&mut tx, user_id, Purpose::Reset).await?;
        Store::confirm_user(&mut tx, user_id).await?;
        self.queue_password_changed(&mut tx, user_id).await?;
        tx.commit().await?;
        self.mail_wake.notify_one();
        Ok(())
    }

    async fn queue_password_changed(&self, conn: &mut sqlx::AnyConnection, user_id: UserId) -> Result<()> {
        let user =
            Store::user_by_id_in(conn, user_id).await?.context("the account whose password changed")?;
        let message = PasswordChanged {
            name: user.name.to_string(),
            reset_link: format!("{}/password/forgot", self.config.base_url),
        }
        .to_message(Some(user_id), &user.email)?;
        mail::queue(conn, &message).await?;
        Ok(())
    }

    /// Changes the password of a logged-in person and ends their other sessions.
    #[tracing::instrument(skip_all, fields(user_id = %user.id))]
    pub async fn change_password(
        &self,
        user: &User,
        current: &str,
        new_password: &str,
        this_session: Option<&str>,
    ) -> Result<()> {
        let mut errors = FieldErrors::default();
        let password = errors.take("new_password", Password::parse(new_password));
        if !self.hasher.verify(current, Some(&user.password_hash)).await? {
            errors.add("current_password", "That is not your current password.");
        }
        let (Some(password), true) = (password, errors.is_empty()) else {
            return Err(AccountError::Invalid(errors));
        };
        let hash = self.hasher.hash(password.expose()).await?;
        let mut tx = self.store.pool().begin().await?;
        Store::set_password(&mut tx, user.id, &hash, this_session).await?;
        self.queue_password_changed(&mut tx, user.id).await?;
        tx.commit().await?;
        self.mail_wake.notify_one();
        Ok(())
    }

    /// Saves the profile form.
    #[tracing::instrument(skip_all, fields(%user_id))]
    pub async fn update_profile(&self, user_id: UserId, input: &ProfileInput) -> Result<()> {
        let mut errors = FieldErrors::default();
        let profile = self.parse_profile(&mut errors, input).await?;
        match profile {
            Some(profile) if errors.is_empty() => Ok(self.store.update_profile(user_id, &profile).await?),
            _ => Err(AccountError::Invalid(errors)),
        }
    }

    /// Pauses for the next `months` rounds (1 to 3).
    pub async fn pause(&self, user_id: UserId, months: &str, next_round: Month) -> Result<Month> {
        let months: u32 = match months.trim().parse() {
            Ok(n @ 1..=3) => n,
            _ => {
                return Err(AccountError::Invalid(FieldErrors::single("months", "Choose 1, 2 or 3 months.")));
            }
        };
        let through = next_round.plus(months as i32 - 1);
        self.store.set_paused_through(user_id, Some(through)).await?;
        Ok(through)
    }

    pub async fn cancel_pause(&self, user_id: UserId) -> Result<()> {
        Ok(self.store.set_paused_through(user_id, None).await?)
    }

    pub async fn set_opted_out(&self, user_id: UserId, opted_out: bool) -> Result<()> {
        Ok(self.store.set_opted_out(user_id, opted_out).await?)
    }

    /// Comes back after an automatic pause.
    pub async fn resume(&self, user_id: UserId) -> Result<()> {
        let mut conn = self.store.pool().acquire().await?;
        Store::set_auto_paused(&mut conn, user_id, false).await?;
        Ok(())
    }

    /// Deletes the account and everything stored about the person, after checking the password,
    /// or, for an account without one (made through the identity provider), the email address
    /// typed in its place.
    #[tracing::instrument(skip_all, fields(user_id = %user.id))]
    pub async fn delete(&self, user: &User, password: &str) -> Result<()> {
        if !has_password(user) {
            if Email::parse(password).ok().as_ref() != Some(&user.email) {
                return Err(AccountError::Invalid(FieldErrors::single(
                    "password",
                    "That is not your email address. Type it exactly as shown.",
                )));
            }
        } else if !self.hasher.verify(password, Some(&user.password_hash)).await? {
            return Err(AccountError::Invalid(FieldErrors::single("password", "That is not your password.")));
        }
        self.store.delete_user(user.id).await.context("deleting an account")?;
        tracing::info!("account deleted");
        Ok(())
    }
}

/// Where `user` stands for the rounds from `next_round` on.
pub fn participation(user: &User, next_round: Month) -> Participation {
    if user.confirmed_at.is_none() {
        return Participation::AwaitingConfirmation;
    }
    if user.opted_out_at.is_some() {
        return Participation::OptedOut;
    }
    if user.email_bounced_at.is_some() {
        return Participation::AddressBounced;
    }
    if user.auto_paused_at.is_some() {
        return Participation::AutoPaused;
    }
    match user.paused_through {
        Some(through) if through >= next_round => Participation::Paused { through, back_in: through.plus(1) },
        _ => Participation::Active { next_round },
    }
}
