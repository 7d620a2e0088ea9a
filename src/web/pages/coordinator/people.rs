//! Who holds the coordinator role, the audit log, and addresses the mail server refused for good.

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    extract::State,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use crate::{
    store::{
        coordinators::{AuditEntry, CoordinatorRow},
        users::BouncedAddress,
    },
    web::{
        AppState, Layout,
        error::{AppError, AppResult},
        extract::Form,
        visitor::{self, Coordinator},
    },
};

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
        layout_email: me.user.email.to_string(),
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
    let message =
        crate::coordinator::change_role(&state.store, &form.email, true, &me.actor()).await?.message();
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
    let message = if form.email.trim().eq_ignore_ascii_case(me.user.email.as_str()) {
        "You cannot remove your own coordinator role here; another coordinator can.".to_owned()
    } else {
        crate::coordinator::change_role(&state.store, &form.email, false, &me.actor()).await?.message()
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
