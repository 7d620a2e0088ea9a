//! Inviting people from a roster CSV: upload (or paste), a report of every bad cell by line and
//! column, and invitations only when the file is clean or the coordinator chooses to import the
//! valid rows.

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    extract::State,
    response::{IntoResponse, Response},
};

use crate::{
    accounts::{INVITATION_TTL, Invited},
    roster::{self, RowError},
    web::{
        AppState, Layout, Refused,
        error::{AppError, AppResult},
        extract::Multipart,
        visitor::Coordinator,
    },
};

/// What the import page shows.
pub enum Stage {
    /// The empty form, or the form again with a message.
    Start { message: Option<String> },
    /// Errors found and nothing imported; the text is kept for "import the valid rows".
    Report { errors: Vec<RowError>, valid: usize, bad_lines: usize, text: String },
    /// Invitations sent.
    Done { invited: Invited, errors: Vec<RowError>, bad_lines: usize },
}

#[derive(Template, WebTemplate)]
#[template(path = "coordinator/import.html")]
pub struct ImportPage {
    layout: Layout,
    stage: Stage,
    days: u64,
}

async fn page(me: &Coordinator, stage: Stage) -> AppResult<ImportPage> {
    Ok(ImportPage {
        layout: me.layout("Invite from a roster").await?,
        stage,
        days: INVITATION_TTL.as_secs() / 86_400,
    })
}

pub async fn show(me: Coordinator) -> AppResult<ImportPage> {
    page(&me, Stage::Start { message: None }).await
}

/// The form's fields: the file, the pasted (or kept) text, and whether to import the valid rows.
#[derive(Default)]
struct Upload {
    file: Vec<u8>,
    text: Vec<u8>,
    import_valid: bool,
}

/// The pasted roster is read like the file (as bytes, checked cell by cell by the roster's
/// parser); only the form's own fields go through the text check.
async fn read_upload(mut multipart: Multipart) -> AppResult<Upload> {
    let mut upload = Upload::default();
    while let Some(field) = multipart.next_field().await? {
        match field.name() {
            Some("roster") => upload.file = field.bytes().await?.to_vec(),
            Some("roster_text") => upload.text = field.bytes().await?.to_vec(),
            Some("mode") => upload.import_valid = field.text().await? == "valid",
            _ => {}
        }
    }
    Ok(upload)
}

/// Checks the roster; invites when it is clean or when the coordinator chose the valid rows.
pub async fn upload(
    State(state): State<AppState>,
    me: Coordinator,
    multipart: Multipart,
) -> AppResult<Response> {
    let upload = read_upload(multipart).await?;
    let bytes = if upload.file.is_empty() { upload.text } else { upload.file };
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(_) => {
            let message =
                "The file is not UTF-8 text. In your spreadsheet, save it as “CSV UTF-8” and try again.";
            let page = page(&me, Stage::Start { message: Some(message.to_owned()) }).await?;
            return Ok(Refused(page).into_response());
        }
    };
    if text.trim().is_empty() {
        let message = "Choose a CSV file, or paste the rows, before checking.";
        let page = page(&me, Stage::Start { message: Some(message.to_owned()) }).await?;
        return Ok(Refused(page).into_response());
    }
    let lists = state.store.lists().await?;
    let allowed = state.settings().await?.allowed_email_domains;
    let parsed = roster::parse(&text, &lists, &allowed);
    if !parsed.errors.is_empty() && (!upload.import_valid || parsed.rows.is_empty()) {
        let stage = Stage::Report {
            valid: parsed.rows.len(),
            bad_lines: parsed.bad_lines,
            errors: parsed.errors,
            text,
        };
        return Ok(Refused(page(&me, stage).await?).into_response());
    }
    let invited =
        state.accounts.invite(&parsed.rows, parsed.bad_lines, &me.actor()).await.map_err(AppError::from)?;
    Ok(page(&me, Stage::Done { invited, errors: parsed.errors, bad_lines: parsed.bad_lines })
        .await?
        .into_response())
}
