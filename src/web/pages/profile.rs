//! The profile: details, participation (pause, opt out, rejoin), password and deletion.

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    extract::State,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{Choices, Notice};
use crate::{
    accounts::{self, AccountError, Participation, ProfileInput},
    domain::stage_name,
    domain::{Calendar, GroupId, LedTo, Month},
    forms::FieldErrors,
    rounds::network::{Network, PaceChart, network, pace_chart},
    store::rounds::{MyGroup, Response as Answer},
    web::{
        AppState, Layout, Refused,
        error::AppResult,
        extract::{Form, Path},
        visitor::{self, LoggedIn},
    },
};

#[derive(Template, WebTemplate)]
#[template(path = "pages/profile.html")]
pub struct ProfilePage {
    layout: Layout,
    email: String,
    participation: Participation,
    groups: Vec<GroupView>,
    network: Network,
    pace: Option<PaceChart>,
    /// The answers "Did it lead to anything?" offers, in order.
    led_to_choices: [LedTo; 5],
    nudges: bool,
    /// Questions the profile asks that this person has not answered yet ("your site").
    missing: Vec<&'static str>,
    errors: FieldErrors,
    values: ProfileInput,
    choices: Choices,
    /// Whether the account has a password (one made through the identity provider has none).
    has_password: bool,
}

async fn profile_page(
    state: &AppState,
    me: &LoggedIn,
    values: Option<ProfileInput>,
    errors: FieldErrors,
) -> AppResult<ProfilePage> {
    let choices = Choices::load(&state.store).await?;
    let values = values.unwrap_or_else(|| ProfileInput::of(&me.user.profile(), &choices.departments));
    let my_groups = state.store.my_groups(me.user.id).await?;
    let answers = state.store.my_led_to(me.user.id).await?;
    let network = network(&my_groups, &answers);
    let pace = pace_chart(&network, Month::of(time::OffsetDateTime::now_utc().date()));
    let mut groups: Vec<GroupView> = my_groups
        .into_iter()
        .map(|group| {
            let led_to = answers.iter().find(|(id, _)| *id == group.group_id).map(|(_, answer)| *answer);
            GroupView { led_to, ..GroupView::from(group) }
        })
        .collect();
    for (month, _) in state.store.my_sit_outs(me.user.id).await? {
        groups.push(GroupView {
            group_id: GroupId(0),
            month_name: month.long_name(),
            month,
            answerable: false,
            led_to: None,
            status: "sat_out".into(),
            status_text: "No match this month: you had priority the month after",
            partners: Vec::new(),
        });
    }
    groups.sort_by_key(|g| std::cmp::Reverse(g.month));
    Ok(ProfilePage {
        layout: me.layout("Your profile").await?,
        email: me.user.email.to_string(),
        participation: accounts::participation(&me.user, state.next_round().await?),
        groups,
        network,
        pace,
        led_to_choices: LedTo::ALL,
        nudges: me.user.nudges_enabled,
        missing: unanswered(&me.user, &choices),
        errors,
        values,
        choices,
        has_password: accounts::has_password(&me.user),
    })
}

/// One of the person's rounds, ready to show.
pub struct GroupView {
    /// `GroupId(0)` for a month the person sat out.
    group_id: GroupId,
    month: Month,
    month_name: String,
    /// Whether the We met / Not yet control applies (a group not reported as met); a met group
    /// asks "Did it lead to anything?" instead.
    answerable: bool,
    /// The person's own answer about what the conversation led to.
    led_to: Option<LedTo>,
    status: String,
    status_text: &'static str,
    partners: Vec<PartnerView>,
}

impl GroupView {
    /// The stored value of the person's answer, or "" before they answer.
    fn led_to_value(&self) -> &'static str {
        self.led_to.map_or("", LedTo::as_str)
    }
}

pub struct PartnerView {
    name: String,
    role: String,
    stage: String,
    department: String,
}

impl From<MyGroup> for GroupView {
    fn from(group: MyGroup) -> Self {
        let status_text = match group.status.as_str() {
            "met" => "You met",
            "not_met" => "Not met yet",
            "skipped" => "Skipped",
            _ => "Waiting to hear how it went",
        };
        Self {
            group_id: group.group_id,
            answerable: group.status != "met",
            led_to: None,
            month_name: group.kind.label(group.month),
            month: group.month,
            status: group.status,
            status_text,
            partners: group
                .partners
                .into_iter()
                .map(|p| PartnerView {
                    name: p.name.to_string(),
                    role: p.role,
                    stage: stage_name(p.level),
                    department: p.department,
                })
                .collect(),
        }
    }
}

/// The profile questions an account made before they were asked leaves unanswered.
fn unanswered(user: &crate::store::users::User, choices: &Choices) -> Vec<&'static str> {
    let mut missing = Vec::new();
    if choices.asks_site() && user.site.is_none() {
        missing.push("your site");
    }
    if user.free_times.is_empty() {
        missing.push("the times you can usually take 20 minutes");
    }
    missing
}

pub async fn show(State(state): State<AppState>, me: LoggedIn) -> AppResult<ProfilePage> {
    profile_page(&state, &me, None, FieldErrors::default()).await
}

pub async fn update(
    State(state): State<AppState>,
    me: LoggedIn,
    Form(input): Form<ProfileInput>,
) -> AppResult<Response> {
    match state.accounts.update_profile(me.user.id, &input).await {
        Ok(()) => back_to_profile(&me, "Your details are saved.").await,
        Err(AccountError::Invalid(errors)) => {
            Ok(Refused(profile_page(&state, &me, Some(input), errors).await?).into_response())
        }
        Err(err) => Err(err.into()),
    }
}

async fn back_to_profile(me: &LoggedIn, message: impl Into<String>) -> AppResult<Response> {
    visitor::flash(&me.session, message).await?;
    Ok(Redirect::to("/profile#participation").into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PauseForm {
    months: String,
}

pub async fn pause(
    State(state): State<AppState>,
    me: LoggedIn,
    Form(form): Form<PauseForm>,
) -> AppResult<Response> {
    match state.accounts.pause(me.user.id, &form.months, state.next_round().await?).await {
        Ok(through) => {
            let back = through.plus(1).long_name();
            back_to_profile(
                &me,
                format!("Paused through {}. You will be matched again from {back}.", through.long_name()),
            )
            .await
        }
        Err(AccountError::Invalid(errors)) => {
            let message = errors.get("months").unwrap_or("Choose how long to pause.").to_owned();
            back_to_profile(&me, message).await
        }
        Err(err) => Err(err.into()),
    }
}

pub async fn cancel_pause(State(state): State<AppState>, me: LoggedIn) -> AppResult<Response> {
    state.accounts.cancel_pause(me.user.id).await?;
    back_to_profile(&me, "Welcome back: your pause has ended.").await
}

pub async fn opt_out(State(state): State<AppState>, me: LoggedIn) -> AppResult<Response> {
    state.accounts.set_opted_out(me.user.id, true).await?;
    back_to_profile(&me, "You have opted out. You will not be matched until you rejoin.").await
}

pub async fn rejoin(State(state): State<AppState>, me: LoggedIn) -> AppResult<Response> {
    state.accounts.set_opted_out(me.user.id, false).await?;
    back_to_profile(&me, "Welcome back: you are in the next round.").await
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/password.html")]
pub struct PasswordPage {
    layout: Layout,
    errors: FieldErrors,
}

pub async fn password_form(me: LoggedIn) -> AppResult<PasswordPage> {
    Ok(PasswordPage { layout: me.layout("Change your password").await?, errors: FieldErrors::default() })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PasswordForm {
    current_password: String,
    new_password: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    me: LoggedIn,
    Form(form): Form<PasswordForm>,
) -> AppResult<Response> {
    let this_session = me.session.id().map(|id| id.to_string());
    let changed = state
        .accounts
        .change_password(&me.user, &form.current_password, &form.new_password, this_session.as_deref())
        .await;
    match changed {
        Ok(()) => {
            back_to_profile(&me, "Your password has been changed. Your other sessions were logged out.").await
        }
        Err(AccountError::Invalid(errors)) => {
            let page = PasswordPage { layout: me.layout("Change your password").await?, errors };
            Ok(Refused(page).into_response())
        }
        Err(err) => Err(err.into()),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/delete.html")]
pub struct DeletePage {
    layout: Layout,
    errors: FieldErrors,
    /// Without a password (an account made through the identity provider), the email address
    /// is typed to confirm.
    has_password: bool,
    /// What to type instead of a password.
    confirm_hint: String,
}

impl DeletePage {
    async fn new(me: &LoggedIn, errors: FieldErrors) -> AppResult<Self> {
        Ok(Self {
            layout: me.layout("Delete your account").await?,
            errors,
            has_password: accounts::has_password(&me.user),
            confirm_hint: format!(
                "You sign in with your hospital account, so there is no password here: type {} instead.",
                me.user.email
            ),
        })
    }
}

pub async fn delete_form(me: LoggedIn) -> AppResult<DeletePage> {
    DeletePage::new(&me, FieldErrors::default()).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DeleteForm {
    password: String,
}

pub async fn delete(
    State(state): State<AppState>,
    me: LoggedIn,
    Form(form): Form<DeleteForm>,
) -> AppResult<Response> {
    match state.accounts.delete(&me.user, &form.password).await {
        Ok(()) => {
            visitor::log_out(&me.session).await?;
            let notice = Notice {
                layout: Layout::bare("Account deleted"),
                heading: "Your account has been deleted",
                paragraphs: vec![
                    "Your profile, your sessions and any email not yet sent have been removed. Thank you for taking part in Coffee Rounds.".into(),
                ],
                action: Some(("/", "Back to the home page")),
            };
            Ok(notice.into_response())
        }
        Err(AccountError::Invalid(errors)) => {
            Ok(Refused(DeletePage::new(&me, errors).await?).into_response())
        }
        Err(err) => Err(err.into()),
    }
}

pub async fn resume(State(state): State<AppState>, me: LoggedIn) -> AppResult<Response> {
    state.accounts.resume(me.user.id).await?;
    back_to_profile(&me, "Welcome back: you are in the next round.").await
}

/// The person says their address, refused by the mail server before, works again.
pub async fn address_works(State(state): State<AppState>, me: LoggedIn) -> AppResult<Response> {
    crate::mail::bounce::clear(&state.store, me.user.id, None).await?;
    back_to_profile(&me, "Thanks: you are back in the rounds from the next one.").await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NudgesForm {
    enabled: String,
}

pub async fn nudges(
    State(state): State<AppState>,
    me: LoggedIn,
    Form(form): Form<NudgesForm>,
) -> AppResult<Response> {
    let enabled = form.enabled == "1";
    state.store.set_nudges(me.user.id, enabled).await?;
    let message = if enabled { "Follow-up reminders are on." } else { "Follow-up reminders are off." };
    back_to_profile(&me, message).await
}

/// "We met" or "Not yet" from the profile, for one of the person's own groups.
pub async fn respond(
    State(state): State<AppState>,
    me: LoggedIn,
    Path((group_id, answer)): Path<(GroupId, String)>,
) -> AppResult<Response> {
    let (response, message) = match answer.as_str() {
        "met" => (Answer::Met, "Thanks: recorded that you met."),
        "not-yet" => (Answer::NotYet, "Noted: not yet. There is still time this month."),
        _ => return Err(crate::web::error::AppError::NotFound),
    };
    if !state.store.record_response(group_id, me.user.id, response).await? {
        return Err(crate::web::error::AppError::NotFound);
    }
    back_to_profile(&me, message).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LedToForm {
    led_to: String,
}

/// "Did it lead to anything?" from the profile, for one of the person's own groups that met.
pub async fn led_to(
    State(state): State<AppState>,
    me: LoggedIn,
    Path(group_id): Path<GroupId>,
    Form(form): Form<LedToForm>,
) -> AppResult<Response> {
    let answer = LedTo::parse(&form.led_to).map_err(crate::web::error::AppError::BadRequest)?;
    if !state.store.record_led_to(group_id, me.user.id, answer).await? {
        return Err(crate::web::error::AppError::NotFound);
    }
    visitor::flash(&me.session, format!("Thanks: your answer is recorded as “{answer}”. Only you see it."))
        .await?;
    Ok(Redirect::to(&format!("/profile#round-{group_id}")).into_response())
}
