//! The web layer's one error type. Users get a friendly HTML page with the right status; the
//! cause of an internal error goes to the log only.

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};

use crate::accounts::AccountError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    #[error("body too large")]
    TooLarge,
    /// A text value the databases cannot store; the message names where it was.
    #[error("unstorable text: {0}")]
    Unstorable(String),
    /// The address exists but does not take this method (`Allow` is added by the router).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The request took longer than the app allows.
    #[error("request timeout")]
    Timeout,
    /// Another error status, answered by a layer rather than a handler.
    #[error("{0}")]
    Status(StatusCode),
    /// Too many attempts; try again after this many seconds.
    #[error("rate limited")]
    RateLimited(u64),
    /// The page needs a logged-in person; send them to log in and back to this path.
    #[error("login required")]
    LoginRequired(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    /// The error for a status answered by a layer (see [`framework_errors_as_pages`]).
    pub fn for_status(status: StatusCode) -> Self {
        match status {
            StatusCode::NOT_FOUND => Self::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => Self::MethodNotAllowed,
            StatusCode::REQUEST_TIMEOUT => Self::Timeout,
            StatusCode::PAYLOAD_TOO_LARGE => Self::TooLarge,
            StatusCode::INTERNAL_SERVER_ERROR => {
                Self::Internal(anyhow::anyhow!("a layer answered 500 without a page"))
            }
            other => Self::Status(other),
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        Self::Internal(anyhow::Error::new(err).context("database"))
    }
}

impl From<tower_sessions::session::Error> for AppError {
    fn from(err: tower_sessions::session::Error) -> Self {
        Self::Internal(anyhow::Error::new(err).context("session"))
    }
}

impl From<AccountError> for AppError {
    fn from(err: AccountError) -> Self {
        match err {
            AccountError::Internal(err) => Self::Internal(err),
            // Handlers match the other cases themselves; reaching here is a bug worth a log line.
            other => Self::Internal(anyhow::anyhow!("unhandled account outcome: {other}")),
        }
    }
}

/// The page shown for every error.
#[derive(Template, WebTemplate)]
#[template(path = "pages/error.html")]
pub struct ErrorPage {
    pub layout: super::Layout,
    pub status: u16,
    pub heading: &'static str,
    pub message: String,
}

impl ErrorPage {
    pub fn new(status: StatusCode, heading: &'static str, message: impl Into<String>) -> Self {
        Self {
            layout: super::Layout::bare(heading),
            status: status.as_u16(),
            heading,
            message: message.into(),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, heading, message) = match &self {
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                "Page not found",
                "There is no page at this address. It may have moved, or the link may be incomplete."
                    .to_owned(),
            ),
            Self::Forbidden(why) => (StatusCode::FORBIDDEN, "Not allowed", (*why).to_owned()),
            Self::BadRequest(why) => {
                (StatusCode::BAD_REQUEST, "Something was wrong with that request", (*why).to_owned())
            }
            Self::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "That was too much to send",
                "The form or file was larger than Coffee Rounds accepts. A roster file may be up to 2 MB; split a larger one."
                    .to_owned(),
            ),
            Self::Unstorable(why) => (StatusCode::BAD_REQUEST, "Some text could not be accepted", why.clone()),
            Self::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "That action is not available here",
                "This address does not take that kind of request. Go back and use the page's links and buttons."
                    .to_owned(),
            ),
            Self::Timeout => (
                StatusCode::REQUEST_TIMEOUT,
                "That took too long",
                "The request did not finish in time and nothing was changed by it. Please try again."
                    .to_owned(),
            ),
            Self::Status(status) if status.is_server_error() => (
                *status,
                "Something went wrong on our side",
                "Please try again in a moment.".to_owned(),
            ),
            Self::Status(status) => (
                *status,
                "Something was wrong with that request",
                "Go back and try again from the page's links and buttons.".to_owned(),
            ),
            Self::RateLimited(secs) => (
                StatusCode::TOO_MANY_REQUESTS,
                "Too many attempts",
                format!(
                    "For your account's safety, please wait {} before trying again.",
                    if *secs <= 60 {
                        "a minute".to_owned()
                    } else {
                        format!("{} minutes", secs.div_ceil(60))
                    }
                ),
            ),
            Self::LoginRequired(next) => {
                let target = format!(
                    "/login?next={}",
                    form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                );
                return Redirect::to(&target).into_response();
            }
            Self::Internal(err) => {
                tracing::error!(error = format!("{err:#}"), "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong on our side",
                    "The problem has been logged. Please try again in a moment; nothing you entered was lost by trying again.".to_owned(),
                )
            }
        };
        let mut response = (status, ErrorPage::new(status, heading, message)).into_response();
        if let Self::RateLimited(secs) = self
            && let Ok(value) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// Marks an error answer as deliberately plain text (the health probe's), so
/// [`framework_errors_as_pages`] leaves it alone.
#[derive(Clone, Copy, Debug)]
pub struct PlainAnswer;

/// Gives an error answered by a layer rather than a handler the app's page: axum's 405, the body
/// limit's 413, the timeout's 408, the static files' 404 and 405, the session layer's 500. An
/// answer that is already HTML, or marked [`PlainAnswer`], passes unchanged. The status and the
/// headers (`Allow`, `Retry-After`, `Connection`) are kept; only the body and its type change.
pub async fn framework_errors_as_pages(response: Response) -> Response {
    let status = response.status();
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !(status.is_client_error() || status.is_server_error())
        || is_html
        || response.extensions().get::<PlainAnswer>().is_some()
    {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let (page, body) = AppError::for_status(status).into_response().into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    for (name, value) in &page.headers {
        parts.headers.insert(name, value.clone());
    }
    Response::from_parts(parts, body)
}
