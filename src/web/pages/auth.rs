//! Sign up, confirm, log in and out, and reset a forgotten password.

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
    accounts::{AccountError, ConfirmInput, LoginRefusal, ProfileInput, SignupInput},
    forms::FieldErrors,
    web::{
        AppState, Layout, Refused,
        error::{AppError, AppResult},
        extract::{Form, Query},
        visitor::{self, Visitor, local_path},
    },
};

#[derive(Template, WebTemplate)]
#[template(path = "pages/signup.html")]
pub struct SignupPage {
    layout: Layout,
    errors: FieldErrors,
    email: String,
    /// The profile part of the form, as the shared profile fields show it.
    values: ProfileInput,
    choices: Choices,
    domains_hint: String,
    /// The identity provider's button, when sign-in through it is on.
    provider: Option<String>,
}

async fn signup_page(
    state: &AppState,
    visitor: &Visitor,
    values: SignupInput,
    errors: FieldErrors,
) -> AppResult<SignupPage> {
    let domains = state.settings().await?.allowed_email_domains;
    let domains_hint = if domains.is_empty() {
        String::new()
    } else {
        format!("Your address ending in {}.", domains.join(" or "))
    };
    Ok(SignupPage {
        layout: visitor.layout("Sign up").await?,
        errors,
        email: values.email,
        values: values.profile,
        choices: Choices::load(&state.store).await?,
        domains_hint,
        provider: state.accounts.provider.as_ref().map(|p| p.button_label().to_owned()),
    })
}

pub async fn signup_form(State(state): State<AppState>, visitor: Visitor) -> AppResult<Response> {
    if visitor.user.is_some() {
        return Ok(Redirect::to("/profile").into_response());
    }
    if !state.config.password_login {
        let page = login_page(&state, &visitor, LoginKind::Join, String::new(), String::new(), None).await?;
        return Ok(page.into_response());
    }
    Ok(signup_page(&state, &visitor, SignupInput::default(), FieldErrors::default()).await?.into_response())
}

pub async fn signup(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(input): Form<SignupInput>,
) -> AppResult<Response> {
    if !state.config.password_login {
        let problem = "Accounts are made by signing in with your hospital account.".to_owned();
        let page = login_page(&state, &visitor, LoginKind::Join, String::new(), String::new(), Some(problem));
        return Ok((StatusCode::FORBIDDEN, page.await?).into_response());
    }
    // Counted per address, like resets: a sign-up may email the address's owner.
    state.limiters.check_account(&input.email)?;
    match state.accounts.sign_up(&input).await {
        Ok(()) => Ok(Redirect::to("/check-email?for=signup").into_response()),
        Err(AccountError::Invalid(errors)) => {
            Ok(Refused(signup_page(&state, &visitor, input, errors).await?).into_response())
        }
        Err(err) => Err(err.into()),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/check_email.html")]
pub struct CheckEmail {
    layout: Layout,
    message: &'static str,
}

#[derive(Deserialize)]
pub struct CheckEmailQuery {
    #[serde(default, rename = "for")]
    reason: String,
}

/// The page after a form that sends email. It says the same whether or not an account exists.
pub async fn check_email(visitor: Visitor, Query(query): Query<CheckEmailQuery>) -> AppResult<CheckEmail> {
    let message = match query.reason.as_str() {
        "signup" => {
            "We have sent an email to the address you gave. Open the link in it to activate your account."
        }
        "reset" => {
            "If an account exists for that address, we have sent it a link to choose a new password. The link expires in one hour."
        }
        _ => {
            "If that address has an account waiting for confirmation, we have sent it a new confirmation link."
        }
    };
    Ok(CheckEmail { layout: visitor.layout("Check your email").await?, message })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TokenQuery {
    token: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/confirm.html")]
pub struct ConfirmPage {
    layout: Layout,
    token: String,
    errors: FieldErrors,
}

async fn expired_link(
    visitor: &Visitor,
    what: &'static str,
    retry: (&'static str, &'static str),
) -> AppResult<Response> {
    let notice = Notice {
        layout: visitor.layout("Link expired").await?,
        heading: "This link has expired or was already used",
        paragraphs: vec![format!("Links in our emails work once and expire after a while. {what}")],
        action: Some(retry),
    };
    Ok((StatusCode::GONE, notice).into_response())
}

/// The link in the confirmation email shows a button; only the button's POST confirms, so a
/// mail scanner following the link changes nothing.
pub async fn confirm_page(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(q): Query<TokenQuery>,
) -> AppResult<Response> {
    if !state.accounts.confirmation_is_valid(&q.token).await? {
        return expired_link(
            &visitor,
            "If your account is not active yet, ask for a new link.",
            ("/confirm/resend", "Send a new link"),
        )
        .await;
    }
    let page = ConfirmPage {
        layout: visitor.layout("Activate your account").await?,
        token: q.token,
        errors: FieldErrors::default(),
    };
    Ok(page.into_response())
}

pub async fn confirm(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<ConfirmInput>,
) -> AppResult<Response> {
    match state.accounts.confirm(&form).await {
        Ok(user) => {
            visitor.log_in(&user).await?;
            visitor::flash(
                &visitor.session,
                "Welcome! Your account is active and you are in the next round.",
            )
            .await?;
            Ok(Redirect::to("/profile").into_response())
        }
        Err(AccountError::Invalid(errors)) => {
            let page = ConfirmPage {
                layout: visitor.layout("Activate your account").await?,
                token: form.token,
                errors,
            };
            Ok(Refused(page).into_response())
        }
        Err(AccountError::LinkInvalid) => {
            expired_link(
                &visitor,
                "If your account is not active yet, ask for a new link.",
                ("/confirm/resend", "Send a new link"),
            )
            .await
        }
        Err(err) => Err(err.into()),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/email_only.html")]
pub struct EmailOnlyPage {
    layout: Layout,
    heading: &'static str,
    intro: &'static str,
    action: &'static str,
    button: &'static str,
    email: String,
    errors: FieldErrors,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct EmailForm {
    email: String,
}

/// One of the two "enter your email" pages.
#[derive(Clone, Copy)]
enum EmailOnly {
    Resend,
    Forgot,
}

impl EmailOnly {
    async fn page(self, visitor: &Visitor, email: String, errors: FieldErrors) -> AppResult<EmailOnlyPage> {
        let (heading, intro, action, button) = match self {
            Self::Resend => (
                "Send the confirmation again",
                "Enter the address you signed up with and we will send a new confirmation link.",
                "/confirm/resend",
                "Send a new link",
            ),
            Self::Forgot => (
                "Forgot your password?",
                "Enter the address you signed up with and we will send a link to choose a new password.",
                "/password/forgot",
                "Send the link",
            ),
        };
        Ok(EmailOnlyPage {
            layout: visitor.layout(heading).await?,
            heading,
            intro,
            action,
            button,
            email,
            errors,
        })
    }

    async fn submit(self, state: &AppState, visitor: &Visitor, email: String) -> AppResult<Response> {
        state.limiters.check_account(&email)?;
        let done = match self {
            Self::Resend => state.accounts.resend_confirmation(&email).await,
            Self::Forgot => state.accounts.request_reset(&email).await,
        };
        match done {
            Ok(()) => {
                let reason = match self {
                    Self::Resend => "resend",
                    Self::Forgot => "reset",
                };
                Ok(Redirect::to(&format!("/check-email?for={reason}")).into_response())
            }
            Err(AccountError::Invalid(errors)) => {
                Ok(Refused(self.page(visitor, email, errors).await?).into_response())
            }
            Err(err) => Err(err.into()),
        }
    }
}

pub async fn resend_form(visitor: Visitor) -> AppResult<EmailOnlyPage> {
    EmailOnly::Resend.page(&visitor, String::new(), FieldErrors::default()).await
}

pub async fn resend(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<EmailForm>,
) -> AppResult<Response> {
    EmailOnly::Resend.submit(&state, &visitor, form.email).await
}

pub async fn forgot_form(visitor: Visitor) -> AppResult<EmailOnlyPage> {
    EmailOnly::Forgot.page(&visitor, String::new(), FieldErrors::default()).await
}

pub async fn forgot(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<EmailForm>,
) -> AppResult<Response> {
    EmailOnly::Forgot.submit(&state, &visitor, form.email).await
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/login.html")]
pub struct LoginPage {
    layout: Layout,
    heading: &'static str,
    intro: &'static str,
    email: String,
    next: String,
    problem: Option<String>,
    errors: FieldErrors,
    /// The identity provider's button, when sign-in through it is on.
    provider: Option<String>,
    /// Where the email-and-password form posts, when it shows.
    password_action: Option<&'static str>,
    /// Whether the sign-up and resend links show under the password form.
    signup_links: bool,
}

/// The three faces of the login page.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum LoginKind {
    /// `/login`: the provider's button when there is one, and the password form unless
    /// `PASSWORD_LOGIN=off`.
    Everyone,
    /// `/login/coordinator`: the password form for coordinators, whatever `PASSWORD_LOGIN` says
    /// (the break-glass login for when the provider is down).
    Coordinators,
    /// `/signup` with `PASSWORD_LOGIN=off`: accounts are made by signing in through the provider.
    Join,
}

pub async fn login_page(
    state: &AppState,
    visitor: &Visitor,
    kind: LoginKind,
    email: String,
    next: String,
    problem: Option<String>,
) -> AppResult<LoginPage> {
    let provider = state.accounts.provider.as_ref().map(|p| p.button_label().to_owned());
    let (heading, intro, provider, password_action) = match kind {
        LoginKind::Everyone => {
            let password = state.config.password_login.then_some("/login");
            let intro = if password.is_none() {
                "Coffee Rounds signs you in with your hospital account. New here? The same button creates your account."
            } else {
                ""
            };
            ("Log in", intro, provider, password)
        }
        LoginKind::Coordinators => (
            "Coordinator login",
            "For coordinators, with the email and password of their account, when signing in with the hospital account is not possible. Everyone else signs in from the login page.",
            None,
            Some("/login/coordinator"),
        ),
        LoginKind::Join => (
            "Join Coffee Rounds",
            "Sign in with your hospital account; three questions about your work come next, and you are in the next round.",
            provider,
            None,
        ),
    };
    Ok(LoginPage {
        layout: visitor.layout(heading).await?,
        heading,
        intro,
        email,
        next,
        problem,
        errors: FieldErrors::default(),
        provider,
        signup_links: password_action == Some("/login"),
        password_action,
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginForm {
    email: String,
    password: String,
    next: String,
}

pub async fn login_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(query): Query<LoginForm>,
) -> AppResult<Response> {
    empty_login_form(&state, &visitor, query, LoginKind::Everyone).await
}

/// The break-glass login page.
pub async fn coordinator_login_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(query): Query<LoginForm>,
) -> AppResult<Response> {
    empty_login_form(&state, &visitor, query, LoginKind::Coordinators).await
}

/// A login page of `kind` before anything was typed; someone logged in goes on to `next`.
async fn empty_login_form(
    state: &AppState,
    visitor: &Visitor,
    query: LoginForm,
    kind: LoginKind,
) -> AppResult<Response> {
    if visitor.user.is_some() {
        return Ok(Redirect::to(local_path(&query.next)).into_response());
    }
    Ok(login_page(state, visitor, kind, String::new(), query.next, None).await?.into_response())
}

pub async fn login(state: State<AppState>, visitor: Visitor, form: Form<LoginForm>) -> AppResult<Response> {
    let kind = if state.config.password_login { LoginKind::Everyone } else { LoginKind::Coordinators };
    password_login(state, visitor, form, kind).await
}

pub async fn coordinator_login(
    state: State<AppState>,
    visitor: Visitor,
    form: Form<LoginForm>,
) -> AppResult<Response> {
    password_login(state, visitor, form, LoginKind::Coordinators).await
}

async fn password_login(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<LoginForm>,
    kind: LoginKind,
) -> AppResult<Response> {
    state.limiters.check_account(&form.email)?;
    let problem = match state.accounts.log_in(&form.email, &form.password).await? {
        Ok(user) => {
            visitor.log_in(&user).await?;
            // Coordinators come to run the program: without a page to return to, they land on
            // the dashboard.
            let target = if form.next.is_empty() && user.is_coordinator() {
                "/coordinator"
            } else {
                local_path(&form.next)
            };
            return Ok(Redirect::to(target).into_response());
        }
        Err(LoginRefusal::WrongCredentials) => {
            "The email or password is not right. Check both and try again.".to_owned()
        }
        Err(LoginRefusal::Unconfirmed) => {
            "Your account is not active yet. We have sent a new confirmation link to your email.".to_owned()
        }
    };
    let page = login_page(&state, &visitor, kind, form.email, form.next, Some(problem)).await?;
    Ok((StatusCode::UNAUTHORIZED, page).into_response())
}

pub async fn logout(visitor: Visitor) -> AppResult<Redirect> {
    visitor::log_out(&visitor.session).await?;
    Ok(Redirect::to("/"))
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/reset.html")]
pub struct ResetPage {
    layout: Layout,
    token: String,
    errors: FieldErrors,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ResetForm {
    token: String,
    password: String,
}

fn reset_expired() -> (&'static str, &'static str) {
    ("/password/forgot", "Ask for a new link")
}

pub async fn reset_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(q): Query<TokenQuery>,
) -> AppResult<Response> {
    if !state.accounts.reset_is_valid(&q.token).await? {
        return expired_link(&visitor, "Ask for a new one to reset your password.", reset_expired()).await;
    }
    let page = ResetPage {
        layout: visitor.layout("Choose a new password").await?,
        token: q.token,
        errors: FieldErrors::default(),
    };
    Ok(page.into_response())
}

pub async fn reset(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<ResetForm>,
) -> AppResult<Response> {
    match state.accounts.reset_password(&form.token, &form.password).await {
        Ok(()) => {
            // Every session of the account has ended; start this one afresh too.
            visitor::log_out(&visitor.session).await?;
            visitor::flash(&visitor.session, "Your password has been changed. Log in with the new one.")
                .await?;
            Ok(Redirect::to("/login").into_response())
        }
        Err(AccountError::Invalid(errors)) => {
            let page = ResetPage {
                layout: visitor.layout("Choose a new password").await?,
                token: form.token,
                errors,
            };
            Ok(Refused(page).into_response())
        }
        Err(AccountError::LinkInvalid) => {
            expired_link(&visitor, "Ask for a new one to reset your password.", reset_expired()).await
        }
        Err(err) => Err(AppError::from(err)),
    }
}
