//! The dashboard home (opt-in figures and the email queue), outcomes over time, and the CSV
//! exports.

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    extract::State,
    http::header,
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use super::charts::{DashboardView, OutcomesView};
use crate::{
    coordinator::{Dashboard, Export, Outcomes},
    domain::{Calendar, MeetFormat, Slot},
    mail::queue::QueueReport,
    store::dashboard::Filter,
    web::{AppState, Layout, error::AppResult, extract::Query, pages::Choices, visitor::Coordinator},
};

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
    site: String,
    format: String,
    time: String,
}

impl FilterQuery {
    /// The filters; a value that does not parse filters nothing.
    fn parse(&self) -> Filter {
        Filter {
            department: self.department.trim().to_owned(),
            role: self.role.trim().to_owned(),
            level: crate::domain::Level::parse(&self.stage).ok(),
            site: self.site.trim().to_owned(),
            format: Some(self.format.trim())
                .filter(|f| !f.is_empty())
                .and_then(|f| MeetFormat::parse(f).ok()),
            time: Slot::parse(&self.time),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "coordinator/home.html")]
pub struct HomePage {
    layout: Layout,
    dashboard: DashboardView,
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
        dashboard: DashboardView::new(
            Dashboard::load(&state.store, &filter, today(), state.next_round().await?).await?,
        ),
        mail: QueueReport::load(&state.store, &state.config.mail_limits).await?,
        choices: Choices::load(&state.store).await?,
        layout: me.layout("Coordinator dashboard").await?,
        filter,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "coordinator/outcomes.html")]
pub struct OutcomesPage {
    layout: Layout,
    outcomes: OutcomesView,
}

pub async fn outcomes(State(state): State<AppState>, me: Coordinator) -> AppResult<OutcomesPage> {
    let this_month = crate::domain::Month::of(today());
    let outcomes = OutcomesView::new(Outcomes::load(&state.store, this_month).await?);
    Ok(OutcomesPage { outcomes, layout: me.layout("Outcomes").await? })
}

pub async fn export_participants(State(state): State<AppState>, me: Coordinator) -> AppResult<Response> {
    download(&state, &me, Export::Participants).await
}

pub async fn export_results(State(state): State<AppState>, me: Coordinator) -> AppResult<Response> {
    download(&state, &me, Export::Results).await
}

pub async fn export_outcomes(State(state): State<AppState>, me: Coordinator) -> AppResult<Response> {
    download(&state, &me, Export::Outcomes).await
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
