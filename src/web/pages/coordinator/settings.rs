//! The coordinator's settings page: allowed email domains, the schedule, the matching weights,
//! and the departments and professions lists (add, rename, merge).

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    extract::State,
    response::{IntoResponse, Redirect, Response},
};

use crate::{
    forms::FieldErrors,
    settings::{self, ListForm, SettingsForm},
    store::lists::{ListEntry, ListKind},
    web::{
        AppState, Layout, Refused,
        error::AppResult,
        extract::Form,
        visitor::{self, Coordinator},
    },
};

/// One list as the page shows it, with the message of a refused edit of it.
pub struct ListSection {
    pub kind: &'static str,
    pub title: &'static str,
    pub noun: &'static str,
    pub entries: Vec<ListEntry>,
    pub error: Option<String>,
    /// The refused edit's fields, to fill the forms again.
    pub values: ListForm,
}

#[derive(Template, WebTemplate)]
#[template(path = "coordinator/settings.html")]
pub struct SettingsPage {
    layout: Layout,
    form: SettingsForm,
    errors: FieldErrors,
    lists: Vec<ListSection>,
    stages: [&'static str; 5],
}

pub(super) async fn settings_page(
    state: &AppState,
    me: &Coordinator,
    form: Option<SettingsForm>,
    errors: FieldErrors,
    refused: Option<(ListKind, String, ListForm)>,
) -> AppResult<SettingsPage> {
    let form = match form {
        Some(form) => form,
        None => state.settings().await?.form,
    };
    let mut lists = Vec::new();
    for (kind, title) in
        [(ListKind::Departments, "Departments"), (ListKind::Roles, "Professions"), (ListKind::Sites, "Sites")]
    {
        let (error, values) = match &refused {
            Some((k, message, values)) if *k == kind => (Some(message.clone()), values.clone()),
            _ => (None, ListForm::default()),
        };
        lists.push(ListSection {
            kind: kind.key(),
            title,
            noun: kind.noun(),
            entries: state.store.list_entries(kind).await?,
            error,
            values,
        });
    }
    Ok(SettingsPage {
        layout: me.layout("Settings").await?,
        form,
        errors,
        lists,
        stages: ["Same stage", "1 stage apart", "2 stages apart", "3 stages apart", "4 or more apart"],
    })
}

pub async fn show(State(state): State<AppState>, me: Coordinator) -> AppResult<SettingsPage> {
    settings_page(&state, &me, None, FieldErrors::default(), None).await
}

/// Saves the settings form; a refused form comes back with the input and a message per field.
pub async fn save(
    State(state): State<AppState>,
    me: Coordinator,
    Form(form): Form<SettingsForm>,
) -> AppResult<Response> {
    let current = state.settings().await?;
    match settings::save(&state.store, &current, &form, &me.actor()).await? {
        Ok(_) => {
            visitor::flash(&me.session, "Settings saved. The preview of the next round uses them now.")
                .await?;
            Ok(Redirect::to("/coordinator/settings").into_response())
        }
        Err(errors) => {
            let page = settings_page(&state, &me, Some(form), errors, None).await?;
            Ok(Refused(page).into_response())
        }
    }
}

/// Adds, renames or merges an entry; a refused edit comes back with its message.
pub async fn edit_list(
    State(state): State<AppState>,
    me: Coordinator,
    Form(form): Form<ListForm>,
) -> AppResult<Response> {
    let Some(kind) = ListKind::parse(&form.kind) else {
        return Err(crate::web::error::AppError::BadRequest("Unknown list."));
    };
    let result = settings::edit_list(&state.store, kind, &form, &me.actor()).await?;
    match result {
        Ok(message) => {
            visitor::flash(&me.session, message).await?;
            Ok(Redirect::to(&format!("/coordinator/settings#{}", kind.key())).into_response())
        }
        Err(message) => {
            let page =
                settings_page(&state, &me, None, FieldErrors::default(), Some((kind, message, form))).await?;
            Ok(Refused(page).into_response())
        }
    }
}
