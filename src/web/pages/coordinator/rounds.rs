//! Past rounds, a preview of the next one (written nowhere), and a confirmed "Run now".

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    extract::State,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::charts::Chart;
use crate::{
    coordinator::{PreviewView, RoundDetail},
    domain::{Calendar, Month, RoundId, RoundKind},
    rounds::{Outcome, Quiet, RoundKey},
    settings::SettingsForm,
    store::dashboard::RoundRow,
    web::{
        AppState, Layout, Refused,
        error::{AppError, AppResult},
        extract::{Form, Path, Query},
        visitor::{self, Coordinator},
    },
};

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
    /// The stage-gap distribution, drawn.
    gaps: Chart,
    detail: RoundDetail,
}

pub async fn round(
    State(state): State<AppState>,
    me: Coordinator,
    Path(id): Path<RoundId>,
) -> AppResult<RoundPage> {
    let detail = RoundDetail::load(&state.store, id).await?.ok_or(AppError::NotFound)?;
    let title = crate::rounds::RoundKey { month: detail.round.month, kind: detail.round.kind }.to_string();
    let title = format!("Round {title}");
    Ok(RoundPage { layout: me.layout(&title).await?, gaps: Chart::new(&detail.gaps), detail })
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
    Query(which): Query<KindQuery>,
) -> AppResult<Response> {
    let weights = if proposed.weight_department.is_empty() {
        None
    } else {
        match proposed.parse() {
            Ok(settings) => Some(settings.weights),
            Err(errors) => {
                let page = super::settings::settings_page(&state, &me, Some(proposed), errors, None).await?;
                return Ok(Refused(page).into_response());
            }
        }
    };
    let unsaved = weights.is_some();
    let round = state.next_round_of(which.kind()?).await?;
    let Outcome::DryRun(preview) = state.rounds.run_round(round, true, weights, &Quiet).await? else {
        return Err(AppError::Internal(anyhow::anyhow!("a dry run wrote a round")));
    };
    Ok(PreviewPage {
        preview: PreviewView::new(&preview),
        layout: me.layout("Preview of the next round").await?,
        unsaved,
    }
    .into_response())
}

/// Which kind of round a page is about: `main` (the default) or `mid-month`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct KindQuery {
    kind: String,
}

impl KindQuery {
    fn kind(&self) -> AppResult<RoundKind> {
        RoundKind::parse(&self.kind)
            .ok_or(AppError::BadRequest("The kind of round must be main or mid-month."))
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct MonthForm {
    month: String,
    kind: String,
}

impl MonthForm {
    fn month(&self) -> AppResult<Month> {
        Month::parse(self.month.trim()).map_err(|_| AppError::BadRequest("The month must be YYYY-MM."))
    }

    fn kind(&self) -> AppResult<RoundKind> {
        RoundKind::parse(&self.kind)
            .ok_or(AppError::BadRequest("The kind of round must be main or mid-month."))
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "coordinator/run.html")]
pub struct ConfirmRunPage {
    layout: Layout,
    round: RoundKey,
}

/// The confirmation step before a real run.
pub async fn confirm_run(
    State(state): State<AppState>,
    me: Coordinator,
    Query(form): Query<MonthForm>,
) -> AppResult<ConfirmRunPage> {
    let kind = form.kind()?;
    let round = if form.month.is_empty() {
        state.next_round_of(kind).await?
    } else {
        RoundKey { month: form.month()?, kind }
    };
    Ok(ConfirmRunPage { layout: me.layout("Run the round").await?, round })
}

/// Runs the real round confirmed, once.
pub async fn run(
    State(state): State<AppState>,
    me: Coordinator,
    Form(form): Form<MonthForm>,
) -> AppResult<Response> {
    let round = RoundKey { month: form.month()?, kind: form.kind()? };
    let message = crate::coordinator::run_round(&state.rounds, round, &me.actor()).await?.message();
    visitor::flash(&me.session, message).await?;
    Ok(Redirect::to("/coordinator/rounds").into_response())
}
