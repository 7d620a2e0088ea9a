//! Signing in with the hospital's account: the button's POST sends the browser to the identity
//! provider, the provider sends it back to the callback, and a first sign-in answers the profile
//! questions on one page before the account exists. Every way a sign-in can fail is a page of
//! its own that says what happened; none logs anyone in or makes an account.

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{Choices, Notice};
use crate::{
    accounts::{
        AccountError, ProfileInput,
        oidc::{Callback, Flow, ProviderError},
        sign_in::{Pending, Refusal, SignIn},
    },
    forms::FieldErrors,
    store::users::User,
    web::{
        AppState, Layout, Refused,
        error::{AppError, AppResult},
        extract::{Form, Query},
        visitor::{self, Visitor, local_path},
    },
};

/// Session key of the sign-ins under way (a few, for a few tabs).
const FLOWS_KEY: &str = "oidc_flows";
/// Session key of a first sign-in waiting for its profile answers.
const PENDING_KEY: &str = "oidc_pending";
/// Sign-ins kept under way at once per browser.
const MAX_FLOWS: usize = 3;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct StartForm {
    next: String,
}

fn provider(state: &AppState) -> AppResult<&crate::accounts::oidc::Provider> {
    state.accounts.provider.as_deref().ok_or(AppError::NotFound)
}

/// The button: remembers the sign-in in the session and sends the browser to the provider.
pub async fn start(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<StartForm>,
) -> AppResult<Response> {
    let provider = provider(&state)?;
    let now = crate::store::now();
    match provider.start(&form.next, now).await {
        Ok((url, flow)) => {
            let mut flows: Vec<Flow> = visitor.session.get(FLOWS_KEY).await?.unwrap_or_default();
            flows.retain(|f| f.is_fresh(now));
            flows.push(flow);
            let extra = flows.len().saturating_sub(MAX_FLOWS);
            flows.drain(..extra);
            visitor.session.insert(FLOWS_KEY, flows).await?;
            Ok(Redirect::to(&url).into_response())
        }
        Err(err) => problem_page(&state, &visitor, &err).await,
    }
}

/// The way back from the provider.
pub async fn callback(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(callback): Query<Callback>,
) -> AppResult<Response> {
    let provider = provider(&state)?;
    let now = crate::store::now();
    // The sign-in this browser started with this state, taken out so it is used once.
    let mut flows: Vec<Flow> = visitor.session.get(FLOWS_KEY).await?.unwrap_or_default();
    let found = callback.state.as_ref().and_then(|state| flows.iter().position(|f| &f.state == state));
    let flow = found.map(|i| flows.remove(i));
    if flow.is_some() {
        visitor.session.insert(FLOWS_KEY, &flows).await?;
    }
    let Some(flow) = flow.filter(|f| f.is_fresh(now)) else {
        return problem_page(&state, &visitor, &ProviderError::UnknownState).await;
    };
    let next = flow.next.clone();
    let identity = match provider.finish(flow, &callback).await {
        Ok(identity) => identity,
        Err(err) => return problem_page(&state, &visitor, &err).await,
    };
    match state.accounts.sign_in_with(&identity, &next, now).await? {
        SignIn::Account(user) => log_in(&state, &visitor, &user, &next).await,
        SignIn::NeedsProfile(pending) => {
            visitor.session.insert(PENDING_KEY, pending).await?;
            Ok(Redirect::to("/signin/profile").into_response())
        }
        SignIn::Refused(refusal) => refusal_page(&visitor, &refusal).await,
    }
}

/// Logs the person in for the provider's session lifetime, in a session with a new id.
async fn log_in(state: &AppState, visitor: &Visitor, user: &User, next: &str) -> AppResult<Response> {
    let provider = provider(state)?;
    visitor.session.remove_value(FLOWS_KEY).await?;
    visitor.session.remove_value(PENDING_KEY).await?;
    let ends_at = crate::store::now() + provider.session_lifetime().as_secs() as i64;
    visitor.log_in_until(user, Some(ends_at)).await?;
    let target = if next.is_empty() && user.is_coordinator() { "/coordinator" } else { local_path(next) };
    Ok(Redirect::to(target).into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/first_sign_in.html")]
pub struct FirstSignInPage {
    layout: Layout,
    email: String,
    errors: FieldErrors,
    values: ProfileInput,
    choices: Choices,
}

async fn first_sign_in_page(
    state: &AppState,
    visitor: &Visitor,
    pending: &Pending,
    values: ProfileInput,
    errors: FieldErrors,
) -> AppResult<FirstSignInPage> {
    Ok(FirstSignInPage {
        layout: visitor.layout("Welcome to Coffee Rounds").await?,
        email: pending.email.clone(),
        errors,
        values,
        choices: Choices::load(&state.store).await?,
    })
}

/// The first sign-in waiting in this session, if it is not too old.
async fn pending(visitor: &Visitor) -> AppResult<Option<Pending>> {
    let pending: Option<Pending> = visitor.session.get(PENDING_KEY).await?;
    Ok(pending.filter(|p| p.is_fresh(crate::store::now())))
}

/// The profile questions of a first sign-in.
pub async fn profile_form(State(state): State<AppState>, visitor: Visitor) -> AppResult<Response> {
    let Some(pending) = pending(&visitor).await? else {
        return Ok(Redirect::to(if visitor.user.is_some() { "/profile" } else { "/login" }).into_response());
    };
    let values = state.accounts.pending_profile(&pending).await?;
    Ok(first_sign_in_page(&state, &visitor, &pending, values, FieldErrors::default()).await?.into_response())
}

/// The answers: the account is made (or completed), linked and logged in.
pub async fn complete(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(input): Form<ProfileInput>,
) -> AppResult<Response> {
    let Some(pending) = pending(&visitor).await? else {
        return problem_page(&state, &visitor, &ProviderError::UnknownState).await;
    };
    match state.accounts.complete_sign_in(&pending, &input, crate::store::now()).await {
        Ok(user) => {
            let response = log_in(&state, &visitor, &user, &pending.next).await?;
            visitor::flash(&visitor.session, "Welcome! Your account is ready and you are in the next round.")
                .await?;
            Ok(response)
        }
        Err(AccountError::Invalid(errors)) => {
            Ok(Refused(first_sign_in_page(&state, &visitor, &pending, input, errors).await?).into_response())
        }
        Err(AccountError::LinkInvalid) => {
            visitor.session.remove_value(PENDING_KEY).await?;
            problem_page(&state, &visitor, &ProviderError::UnknownState).await
        }
        Err(err) => Err(err.into()),
    }
}

/// A page that says why the provider's sign-in did not go through, and what to do.
async fn problem_page(state: &AppState, visitor: &Visitor, err: &ProviderError) -> AppResult<Response> {
    let again = ("/login", "Sign in again");
    let (status, heading, paragraphs) = match err {
        ProviderError::UnknownState => (
            StatusCode::BAD_REQUEST,
            "This sign-in has expired or was already used",
            vec![
                "A sign-in works once, for ten minutes, in the browser that started it. Nobody was signed in and nothing was changed.".to_owned(),
                "Start again from the login page.".to_owned(),
            ],
        ),
        ProviderError::Denied => (
            StatusCode::FORBIDDEN,
            "You were not signed in",
            vec![
                "The sign-in was cancelled, or your hospital account may not use Coffee Rounds. Nothing was created or changed.".to_owned(),
                "If you meant to sign in, start again. If your hospital account was refused, ask your IT service desk.".to_owned(),
            ],
        ),
        ProviderError::Refused { code, .. } => (
            StatusCode::BAD_GATEWAY,
            "Your hospital's sign-in could not finish",
            vec![
                format!("It answered with an error ({code}). Nobody was signed in and nothing was changed."),
                "Try again; if it keeps happening, tell your IT service desk what this page says.".to_owned(),
            ],
        ),
        ProviderError::CodeRejected(_) => (
            StatusCode::BAD_REQUEST,
            "The sign-in took too long or was already used",
            vec!["Nobody was signed in and nothing was changed. Start again from the login page.".to_owned()],
        ),
        ProviderError::InvalidToken(_) => (
            StatusCode::BAD_GATEWAY,
            "The sign-in could not be trusted",
            vec![
                "Coffee Rounds checks every sign-in your hospital's service sends. This one did not pass, so nobody was signed in.".to_owned(),
                "Try again; if it keeps happening, tell your IT service desk.".to_owned(),
            ],
        ),
        ProviderError::Unreachable(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Your hospital's sign-in is not answering",
            vec![if state.config.password_login {
                "Try again in a few minutes, or log in with your email and password if you have one.".to_owned()
            } else {
                "Try again in a few minutes.".to_owned()
            }],
        ),
        ProviderError::NoEmail => (
            StatusCode::FORBIDDEN,
            "No email address came with your sign-in",
            vec!["Coffee Rounds needs your work email address to introduce you. Ask your IT service desk to release it to Coffee Rounds.".to_owned()],
        ),
        ProviderError::UnverifiedEmail(email) => (
            StatusCode::FORBIDDEN,
            "Your email address is not verified",
            vec![
                format!("Your hospital account gives the address {email} but does not vouch that it is yours, so Coffee Rounds cannot use it. Nobody was signed in."),
                "Ask your IT service desk to verify the address on your account.".to_owned(),
            ],
        ),
    };
    match err {
        ProviderError::Unreachable(cause)
        | ProviderError::InvalidToken(cause)
        | ProviderError::CodeRejected(cause) => {
            tracing::warn!(%cause, "a sign-in through the identity provider failed: {err}")
        }
        _ => tracing::info!("a sign-in through the identity provider did not go through: {err}"),
    }
    let notice = Notice { layout: visitor.layout(heading).await?, heading, paragraphs, action: Some(again) };
    Ok((status, notice).into_response())
}

/// A page that says why a person the provider vouched for is not signed in.
async fn refusal_page(visitor: &Visitor, refusal: &Refusal) -> AppResult<Response> {
    let (status, heading, paragraphs) = match refusal {
        Refusal::DomainNotAllowed { email, domains } => (
            StatusCode::FORBIDDEN,
            "Coffee Rounds is not open to this address",
            vec![
                format!(
                    "You signed in as {email}. Coffee Rounds takes addresses ending in {} only, so no account was made.",
                    domains.join(" or ")
                ),
                "If you have another hospital account, sign out of this one at your hospital's sign-in page first."
                    .to_owned(),
            ],
        ),
        Refusal::Deactivated(email) => (
            StatusCode::FORBIDDEN,
            "Your Coffee Rounds account is closed",
            vec![
                format!("A coordinator closed the account of {email}, as happens when someone leaves. You were not signed in."),
                "If that is a mistake, ask a Coffee Rounds coordinator to open it again.".to_owned(),
            ],
        ),
        Refusal::LinkedToSomeoneElse(email) => (
            StatusCode::CONFLICT,
            "This address belongs to another sign-in",
            vec![
                format!("The Coffee Rounds account of {email} is linked to a different hospital account. You were not signed in."),
                "Ask a Coffee Rounds coordinator for help.".to_owned(),
            ],
        ),
    };
    let why = match refusal {
        Refusal::DomainNotAllowed { .. } => "domain not allowed",
        Refusal::Deactivated(_) => "account closed",
        Refusal::LinkedToSomeoneElse(_) => "address linked to another subject",
    };
    tracing::info!(why, "a sign-in through the identity provider was refused");
    let notice = Notice {
        layout: visitor.layout(heading).await?,
        heading,
        paragraphs,
        action: Some(("/", "Home page")),
    };
    Ok((status, notice).into_response())
}
