//! The coordinator dashboard: program figures, past rounds, the audit log, and who else holds
//! the role. Every route is listed once in [`COORDINATOR_ROUTES`] and answers only coordinators.

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Router,
    extract::{FromRequestParts, State},
    http::{StatusCode, header, request::Parts},
    response::{IntoResponse, Redirect, Response},
    routing::{MethodRouter, get, post},
};
use serde::Deserialize;
use tower_sessions::Session;

use super::Choices;
use crate::{
    coordinator::{Dashboard, Export, Outcomes, PreviewView, RoundDetail},
    mail::queue::QueueReport,
    months::{Calendar, Month},
    rounds::{Outcome, Quiet},
    settings::SettingsForm,
    store::{
        coordinators::{Actor, AuditEntry, CoordinatorRow},
        dashboard::{Filter, RoundRow},
        users::{BouncedAddress, User},
    },
    web::{
        AppState, Layout,
        error::{AppError, AppResult},
        extract::{Form, Path, Query},
        visitor::{self, Visitor},
    },
};

/// Every coordinator route, as (method, path). The router is built from this list, and the tests
/// walk it to check that each route refuses everyone but coordinators.
pub const COORDINATOR_ROUTES: &[(&str, &str)] = &[
    ("GET", "/coordinator"),
    ("GET", "/coordinator/rounds"),
    ("GET", "/coordinator/rounds/{id}"),
    ("GET", "/coordinator/preview"),
    ("GET", "/coordinator/run"),
    ("POST", "/coordinator/run"),
    ("GET", "/coordinator/audit"),
    ("GET", "/coordinator/export/participants.csv"),
    ("GET", "/coordinator/export/results.csv"),
    ("GET", "/coordinator/coordinators"),
    ("POST", "/coordinator/coordinators"),
    ("POST", "/coordinator/coordinators/remove"),
    ("GET", "/coordinator/outcomes"),
    ("GET", "/coordinator/settings"),
    ("POST", "/coordinator/settings"),
    ("POST", "/coordinator/lists"),
    ("GET", "/coordinator/import"),
    ("POST", "/coordinator/import"),
    ("GET", "/coordinator/undeliverable"),
    ("POST", "/coordinator/undeliverable"),
];

fn handler(method: &str, path: &str) -> MethodRouter<AppState> {
    match (method, path) {
        ("GET", "/coordinator") => get(home),
        ("GET", "/coordinator/rounds") => get(rounds),
        ("GET", "/coordinator/rounds/{id}") => get(round),
        ("GET", "/coordinator/preview") => get(preview),
        ("GET", "/coordinator/run") => get(confirm_run),
        ("POST", "/coordinator/run") => post(run),
        ("GET", "/coordinator/audit") => get(audit),
        ("GET", "/coordinator/export/participants.csv") => get(export_participants),
        ("GET", "/coordinator/export/results.csv") => get(export_results),
        ("GET", "/coordinator/coordinators") => get(coordinators),
        ("POST", "/coordinator/coordinators") => post(grant),
        ("POST", "/coordinator/coordinators/remove") => post(remove),
        ("GET", "/coordinator/outcomes") => get(outcomes),
        ("GET", "/coordinator/settings") => get(super::settings::show),
        ("POST", "/coordinator/settings") => post(super::settings::save),
        ("POST", "/coordinator/lists") => post(super::settings::edit_list),
        ("GET", "/coordinator/import") => get(super::import::show),
        ("POST", "/coordinator/import") => post(super::import::upload),
        ("GET", "/coordinator/undeliverable") => get(undeliverable),
        ("POST", "/coordinator/undeliverable") => post(address_works),
        _ => unreachable!("COORDINATOR_ROUTES lists {method} {path} without a handler"),
    }
}

/// The coordinator pages, to merge into the app's router.
pub fn routes() -> Router<AppState> {
    COORDINATOR_ROUTES
        .iter()
        .fold(Router::new(), |router, (method, path)| router.route(path, handler(method, path)))
}

/// A logged-in coordinator. Anonymous visitors are sent to log in; other accounts get a 403 page.
pub struct Coordinator {
    pub session: Session,
    pub user: User,
}

impl FromRequestParts<AppState> for Coordinator {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Visitor { session, user, .. } = Visitor::from_request_parts(parts, state).await?;
        let Some(user) = user else {
            let next = parts.uri.path_and_query().map_or("/coordinator", |p| p.as_str()).to_owned();
            return Err(AppError::LoginRequired(next));
        };
        if !user.is_coordinator() {
            return Err(AppError::Forbidden("This page is for Coffee Rounds coordinators only."));
        }
        Ok(Self { session, user })
    }
}

impl Coordinator {
    pub async fn layout(&self, title: &str) -> AppResult<Layout> {
        visitor::layout(&self.session, Some(&self.user), title).await
    }

    pub fn actor(&self) -> Actor {
        Actor::account(self.user.id, &self.user.email)
    }
}

fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

/// The dashboard's filters as they arrive in the query string.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct FilterQuery {
    department: String,
    role: String,
    stage: String,
}

impl FilterQuery {
    fn parse(&self) -> Filter {
        Filter {
            department: self.department.trim().to_owned(),
            role: self.role.trim().to_owned(),
            level: self.stage.trim().parse().ok().filter(|l: &i64| *l >= 0),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "coordinator/home.html")]
pub struct HomePage {
    layout: Layout,
    dashboard: Dashboard,
    mail: QueueReport,
    filter: Filter,
    choices: Choices,
}

pub async fn home(
    State(state): State<AppState>,
    me: Coordinator,
    Query(query): Query<FilterQuery>,
) -> AppResult<HomePage> {
    let filter = query.parse();
    Ok(HomePage {
        dashboard: Dashboard::load(&state.store, &filter, today(), state.next_round().await?).await?,
        mail: QueueReport::load(&state.store, &state.config.mail_limits).await?,
        choices: Choices::load(&state.store).await?,
        layout: me.layout("Coordinator dashboard").await?,
        filter,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "coordinator/rounds.html")]
pub struct RoundsPage {
    layout: Layout,
    rounds: Vec<RoundRow>,
}

pub async fn rounds(State(state): State<AppState>, me: Coordinator) -> AppResult<RoundsPage> {
    Ok(RoundsPage { rounds: state.store.round_rows().await?, layout: me.layout("Rounds").await? })
}

#[derive(Template, WebTemplate)]
#[template(path = "coordinator/round.html")]
pub struct RoundPage {
    layout: Layout,
    detail: RoundDetail,
}

pub async fn round(
    State(state): State<AppState>,
    me: Coordinator,
    Path(id): Path<i64>,
) -> AppResult<RoundPage> {
    let detail = RoundDetail::load(&state.store, id).await?.ok_or(AppError::NotFound)?;
    let title = format!("Round {}", detail.round.month);
    Ok(RoundPage { layout: me.layout(&title).await?, detail })
}

#[derive(Template, WebTemplate)]
#[template(path = "coordinator/preview.html")]
pub struct PreviewPage {
    layout: Layout,
    preview: PreviewView,
    /// Whether the weights come from the settings form and are not saved yet.
    unsaved: bool,
}

/// The groups the matcher would make for the next round; nothing is written. With the settings
/// form's fields in the query ("Preview with these weights"), it uses those weights instead.
pub async fn preview(
    State(state): State<AppState>,
    me: Coordinator,
    Query(proposed): Query<SettingsForm>,
) -> AppResult<Response> {
    let weights = if proposed.weight_department.is_empty() {
        None
    } else {
        match proposed.parse() {
            Ok(settings) => Some(settings.weights),
            Err(errors) => {
                let page = super::settings::settings_page(&state, &me, Some(proposed), errors, None).await?;
                return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
            }
        }
    };
    let unsaved = weights.is_some();
    let month = state.next_round().await?;
    let Outcome::DryRun(preview) = state.rounds.run_with(month, true, weights, &Quiet).await? else {
        return Err(AppError::Internal(anyhow::anyhow!("a dry run wrote a round")));
    };
    Ok(PreviewPage {
        preview: PreviewView::new(&preview),
        layout: me.layout("Preview of the next round").await?,
        unsaved,
    }
    .into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct MonthForm {
    month: String,
}

impl MonthForm {
    fn month(&self) -> AppResult<Month> {
        Month::parse(self.month.trim()).map_err(|_| AppError::BadRequest("The month must be YYYY-MM."))
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "coordinator/run.html")]
pub struct ConfirmRunPage {
    layout: Layout,
    month: Month,
}

/// The confirmation step before a real run.
pub async fn confirm_run(
    State(state): State<AppState>,
    me: Coordinator,
    Query(form): Query<MonthForm>,
) -> AppResult<ConfirmRunPage> {
    let month = if form.month.is_empty() { state.next_round().await? } else { form.month()? };
    Ok(ConfirmRunPage { layout: me.layout("Run the round").await?, month })
}

/// Runs the real round of the confirmed month, once.
pub async fn run(
    State(state): State<AppState>,
    me: Coordinator,
    Form(form): Form<MonthForm>,
) -> AppResult<Response> {
    let month = form.month()?;
    let message = match crate::coordinator::run_round(&state.rounds, month, &me.actor()).await? {
        Ok(done) | Err(done) => done,
    };
    visitor::flash(&me.session, message).await?;
    Ok(Redirect::to("/coordinator/rounds").into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "coordinator/audit.html")]
pub struct AuditPage {
    layout: Layout,
    entries: Vec<AuditEntry>,
}

pub async fn audit(State(state): State<AppState>, me: Coordinator) -> AppResult<AuditPage> {
    Ok(AuditPage { entries: state.store.audit_log(500).await?, layout: me.layout("Audit log").await? })
}

#[derive(Template, WebTemplate)]
#[template(path = "coordinator/coordinators.html")]
pub struct CoordinatorsPage {
    layout: Layout,
    /// The coordinator looking (whose own row has no Remove button).
    layout_email: String,
    coordinators: Vec<CoordinatorRow>,
}

pub async fn coordinators(State(state): State<AppState>, me: Coordinator) -> AppResult<CoordinatorsPage> {
    Ok(CoordinatorsPage {
        coordinators: state.store.coordinators().await?,
        layout: me.layout("Coordinators").await?,
        layout_email: me.user.email.clone(),
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct GrantForm {
    email: String,
}

/// Grants the role to another confirmed account.
pub async fn grant(
    State(state): State<AppState>,
    me: Coordinator,
    Form(form): Form<GrantForm>,
) -> AppResult<Response> {
    let message = match crate::coordinator::change_role(&state.store, &form.email, true, &me.actor()).await? {
        Ok(done) | Err(done) => done,
    };
    visitor::flash(&me.session, message).await?;
    Ok(Redirect::to("/coordinator/coordinators").into_response())
}

/// Removes the role from another coordinator. Nobody removes their own role here, so the
/// dashboard can never lose its last coordinator by a slip; the command line can.
pub async fn remove(
    State(state): State<AppState>,
    me: Coordinator,
    Form(form): Form<GrantForm>,
) -> AppResult<Response> {
    let message = if form.email.trim().eq_ignore_ascii_case(&me.user.email) {
        "You cannot remove your own coordinator role here; another coordinator can.".to_owned()
    } else {
        match crate::coordinator::change_role(&state.store, &form.email, false, &me.actor()).await? {
            Ok(done) | Err(done) => done,
        }
    };
    visitor::flash(&me.session, message).await?;
    Ok(Redirect::to("/coordinator/coordinators").into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "coordinator/undeliverable.html")]
pub struct UndeliverablePage {
    layout: Layout,
    addresses: Vec<BouncedAddress>,
}

/// Addresses the receiving server refused for good; their owners are not matched meanwhile.
pub async fn undeliverable(State(state): State<AppState>, me: Coordinator) -> AppResult<UndeliverablePage> {
    Ok(UndeliverablePage {
        addresses: state.store.bounced_addresses().await?,
        layout: me.layout("Undeliverable addresses").await?,
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AccountForm {
    user_id: String,
}

/// A coordinator knows the address works again (the mailbox was restored, say): matched again.
pub async fn address_works(
    State(state): State<AppState>,
    me: Coordinator,
    Form(form): Form<AccountForm>,
) -> AppResult<Response> {
    let user_id =
        form.user_id.trim().parse().map_err(|_| AppError::BadRequest("Choose an address from the list."))?;
    let message = match crate::mail::bounce::clear(&state.store, user_id, Some(&me.actor())).await? {
        Some(email) => format!("{email} is marked as working: they are matched again from the next round."),
        None => "That address is no longer on the list.".to_owned(),
    };
    visitor::flash(&me.session, message).await?;
    Ok(Redirect::to("/coordinator/undeliverable").into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "coordinator/outcomes.html")]
pub struct OutcomesPage {
    layout: Layout,
    outcomes: Outcomes,
}

pub async fn outcomes(State(state): State<AppState>, me: Coordinator) -> AppResult<OutcomesPage> {
    Ok(OutcomesPage { outcomes: Outcomes::load(&state.store).await?, layout: me.layout("Outcomes").await? })
}

pub async fn export_participants(State(state): State<AppState>, me: Coordinator) -> AppResult<Response> {
    download(&state, &me, Export::Participants).await
}

pub async fn export_results(State(state): State<AppState>, me: Coordinator) -> AppResult<Response> {
    download(&state, &me, Export::Results).await
}

async fn download(state: &AppState, me: &Coordinator, export: Export) -> AppResult<Response> {
    let csv =
        crate::coordinator::export_csv(&state.store, export, &me.actor(), state.next_round().await?).await?;
    let disposition = format!("attachment; filename=\"{}\"", export.file_name());
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        csv,
    )
        .into_response())
}

/// "2026-11-25 16:58 UTC" for a Unix time.
pub fn when(at: &i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(*at)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC")).ok()
        })
        .unwrap_or_default()
}

/// "72%" for `part` of `whole`, or "–" when there is nothing to divide.
pub fn percent(part: &i64, whole: &i64) -> String {
    if *whole <= 0 { "–".to_owned() } else { format!("{}%", (part * 100 + whole / 2) / whole) }
}
