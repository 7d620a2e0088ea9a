//! The coordinator's settings page: allowed email domains, the schedule, the matching weights,
//! and the departments and professions lists (add, rename, merge).

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::coordinator::Coordinator;
use crate::{
    accounts::FieldErrors,
    settings::{self, SettingsForm},
    store::lists::{ListEdit, ListEntry, ListKind},
    web::{AppState, Layout, error::AppResult, extract::Form, visitor},
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
    for (kind, title) in [(ListKind::Departments, "Departments"), (ListKind::Roles, "Professions")] {
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
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

/// An edit of the departments or professions list.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListForm {
    pub kind: String,
    /// `add`, `rename` or `merge`.
    pub action: String,
    /// The new name (add, rename).
    pub name: String,
    /// The entry renamed or merged away.
    pub from: String,
    /// The entry merged into.
    pub into: String,
}

/// A list entry's name: 2 to 80 characters, spaces tidied, no control characters.
fn entry_name(input: &str) -> Result<String, &'static str> {
    let name = input.split_whitespace().collect::<Vec<_>>().join(" ");
    match name.chars().count() {
        0 | 1 => Err("Write a name of at least 2 characters."),
        81.. => Err("Use at most 80 characters."),
        _ if name.chars().any(char::is_control) => Err("Use letters, spaces and punctuation only."),
        _ => Ok(name),
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
    let noun = kind.noun();
    let store = &state.store;
    let actor = me.actor();
    let result: Result<String, String> = match form.action.as_str() {
        "add" => match entry_name(&form.name) {
            Err(message) => Err(message.to_owned()),
            Ok(name) => match store.add_list_entry(kind, &name, &actor).await? {
                ListEdit::Done(_) => Ok(format!("Added the {noun} {name}.")),
                ListEdit::Taken => Err(format!("The list already has {name}.")),
                ListEdit::Missing => Err(format!("That {noun} is no longer on the list.")),
            },
        },
        "rename" => match entry_name(&form.name) {
            Err(message) => Err(message.to_owned()),
            Ok(name) => match store.rename_list_entry(kind, &form.from, &name, &actor).await? {
                ListEdit::Done(moved) => {
                    Ok(format!("Renamed {} to {name}; {moved} profiles now show the new name.", form.from))
                }
                ListEdit::Taken => {
                    Err(format!("The list already has {name}. To join the two, merge them instead."))
                }
                ListEdit::Missing => Err(format!("Choose the {noun} to rename from the list.")),
            },
        },
        "merge" if form.from.trim().is_empty() || form.into.trim().is_empty() => {
            Err(format!("Choose both the {noun} to merge and the one to keep."))
        }
        "merge" if form.from.trim().eq_ignore_ascii_case(form.into.trim()) => {
            Err(format!("Choose two different entries: a {noun} cannot be merged into itself."))
        }
        "merge" => match store.merge_list_entries(kind, form.from.trim(), form.into.trim(), &actor).await? {
            ListEdit::Done(moved) => {
                Ok(format!("Merged {} into {}; {moved} profiles moved.", form.from.trim(), form.into.trim()))
            }
            _ => Err(format!("Choose the {noun} to keep from the list.")),
        },
        _ => Err("Choose what to do.".to_owned()),
    };
    match result {
        Ok(message) => {
            visitor::flash(&me.session, message).await?;
            Ok(Redirect::to(&format!("/coordinator/settings#{}", kind.key())).into_response())
        }
        Err(message) => {
            let page =
                settings_page(&state, &me, None, FieldErrors::default(), Some((kind, message, form))).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_are_tidied_and_bounded() {
        assert_eq!(entry_name("  Emergency   medicine ").unwrap(), "Emergency medicine");
        assert!(entry_name("E").is_err());
        assert!(entry_name(&"x".repeat(81)).is_err());
        assert!(entry_name("Tab\u{7}bed").is_err());
    }
}
