//! The HTTP side: the axum router, the layers every request passes through, and one module per
//! page family. Handlers extract, call one function of the library, and render.

pub mod error;
pub mod extract;
pub mod pages;
pub mod security;
pub mod visitor;

use std::{path::PathBuf, sync::Arc};

use axum::{
    Extension, Router,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    middleware,
    response::IntoResponse,
    routing::{get, post},
};
use tower_http::{
    limit::RequestBodyLimitLayer, services::ServeDir, set_header::SetResponseHeaderLayer,
    timeout::TimeoutLayer, trace::TraceLayer,
};
use tower_sessions::{Expiry, SessionManagerLayer, cookie::SameSite};

use crate::{
    accounts::Accounts,
    config::Config,
    store::{Store, sessions::DbSessionStore},
};
use error::AppError;
use security::Limiters;

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub accounts: Accounts,
    pub rounds: crate::rounds::Rounds,
    pub config: Arc<Config>,
    pub limiters: Limiters,
    /// Signs the session cookie and the CSRF cookie of visitors who are not logged in.
    pub cookie_key: tower_cookies::Key,
}

impl AppState {
    /// The settings in force (the environment's, with those saved from the dashboard over them).
    pub async fn settings(&self) -> sqlx::Result<crate::settings::Settings> {
        self.rounds.settings().await
    }

    /// The month of the next monthly round: by the schedule in force, or the month after when a
    /// coordinator already ran that one early.
    pub async fn next_round(&self) -> sqlx::Result<crate::domain::Month> {
        Ok(self.next_round_of(crate::domain::RoundKind::Main).await?.month)
    }

    /// The next `kind` round, likewise.
    pub async fn next_round_of(
        &self,
        kind: crate::domain::RoundKind,
    ) -> sqlx::Result<crate::rounds::RoundKey> {
        let month = self.settings().await?.schedule.next_of(jiff::Timestamp::now(), kind);
        let ran = self.store.round_by(month, kind).await?.is_some();
        Ok(crate::rounds::RoundKey { month: if ran { month.next() } else { month }, kind })
    }
}

/// What the page layout needs: the title, who is logged in, the CSRF token and a one-time message.
#[derive(Clone, Debug, Default)]
pub struct Layout {
    pub title: String,
    pub user_name: Option<String>,
    pub csrf: String,
    pub flash: Option<String>,
    /// Whether the visitor is a coordinator (the navigation links to the dashboard).
    pub coordinator: bool,
    /// A page of figures that uses a wide screen (cards side by side from about 1,000 px).
    pub wide: bool,
}

/// A form sent back: the same page with the input and a message per field, answered 422 so that
/// a browser keeps the entry in history and a test or a client sees the refusal.
pub struct Refused<P>(pub P);

impl<P: IntoResponse> IntoResponse for Refused<P> {
    fn into_response(self) -> axum::response::Response {
        (StatusCode::UNPROCESSABLE_ENTITY, self.0).into_response()
    }
}

impl Layout {
    /// A layout for pages rendered without a visitor (error pages).
    pub fn bare(title: &str) -> Self {
        Self { title: title.to_owned(), ..Self::default() }
    }
}

/// Where the stylesheet lives: `STATIC_DIR`, else `static/` here, else the source tree's.
fn static_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("STATIC_DIR") {
        return dir.into();
    }
    let here = PathBuf::from("static");
    if here.join("style.css").exists() {
        here
    } else {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/static"))
    }
}

/// The whole application as one router.
pub fn router(state: AppState) -> Router {
    use pages::{auth, home, links, oidc, profile};

    let https = state.config.is_https();
    let request_timeout = state.config.request_timeout;
    let sessions = SessionManagerLayer::new(DbSessionStore::new(state.store.clone()))
        .with_name("coffee_rounds_session")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(https)
        .with_expiry(Expiry::OnInactivity(time::Duration::days(14)))
        .with_signed(state.cookie_key.clone());

    // Forms that guess passwords or send email are limited per client address.
    let limited = Router::new()
        .route("/signup", get(auth::signup_form).post(auth::signup))
        .route("/login", get(auth::login_form).post(auth::login))
        .route("/login/coordinator", get(auth::coordinator_login_form).post(auth::coordinator_login))
        .route("/login/oidc", post(oidc::start))
        .route("/confirm/resend", get(auth::resend_form).post(auth::resend))
        .route("/password/forgot", get(auth::forgot_form).post(auth::forgot))
        .route("/password/reset", get(auth::reset_form).post(auth::reset))
        .route_layer(middleware::from_fn_with_state(state.clone(), security::limit_per_client));

    let static_files = tower::ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=3600"),
        ))
        .service(ServeDir::new(static_dir()));

    let mut app = Router::new()
        .merge(limited)
        .route("/", get(home::home))
        .route("/check-email", get(auth::check_email))
        .route("/confirm", get(auth::confirm_page).post(auth::confirm))
        .route("/logout", post(auth::logout))
        .route(crate::accounts::oidc::CALLBACK_PATH, get(oidc::callback))
        .route("/signin/profile", get(oidc::profile_form).post(oidc::complete))
        .route("/password/change", get(profile::password_form).post(profile::change_password))
        .route("/profile", get(profile::show).post(profile::update))
        .route("/profile/pause", post(profile::pause))
        .route("/profile/pause/cancel", post(profile::cancel_pause))
        .route("/profile/opt-out", post(profile::opt_out))
        .route("/profile/rejoin", post(profile::rejoin))
        .route("/profile/resume", post(profile::resume))
        .route("/profile/address-works", post(profile::address_works))
        .route("/profile/nudges", post(profile::nudges))
        .route("/rounds/{group}/outcome", post(profile::led_to))
        .route("/rounds/{group}/{answer}", post(profile::respond))
        .route("/r/{token}", get(links::show).post(links::follow))
        .route("/u/{token}", get(links::show).post(links::unsubscribe))
        .route("/account/delete", get(profile::delete_form).post(profile::delete))
        .route("/healthz", get(healthz))
        .merge(pages::coordinator::routes())
        // After every route: it applies to the routes already added.
        .method_not_allowed_fallback(method_not_allowed)
        .nest_service("/static", static_files)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), security::require_csrf))
        .layer(sessions)
        .layer(RequestBodyLimitLayer::new(security::MAX_UPLOAD_BYTES + 64 * 1024))
        .layer(axum::extract::DefaultBodyLimit::max(security::MAX_UPLOAD_BYTES + 64 * 1024))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, request_timeout))
        .layer(middleware::map_response(error::framework_errors_as_pages))
        .layer(TraceLayer::new_for_http())
        // The body limit answers before reading the body: the connection cannot carry another
        // request after it.
        .layer(middleware::map_response(|response: axum::response::Response| async move {
            if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
                security::unread_body(response)
            } else {
                response
            }
        }))
        // Pages are personal or carry the session's CSRF token: the browser must not keep them,
        // or Back after logging out shows the last private page. The stylesheet sets its own.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));
    for (name, value) in security::headers(https) {
        app = app.layer(SetResponseHeaderLayer::overriding(name, value));
    }
    app.with_state(state)
}

async fn not_found() -> AppError {
    AppError::NotFound
}

async fn method_not_allowed() -> AppError {
    AppError::MethodNotAllowed
}

/// 200 when the database answers, 503 otherwise; plain text, for probes.
async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    if state.store.ping().await {
        (StatusCode::OK, "ok").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Extension(error::PlainAnswer), "database unreachable")
            .into_response()
    }
}
