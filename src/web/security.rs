//! Protections every request passes through: security headers, CSRF tokens on every
//! state-changing request, and rate limits on the forms that guess passwords or send email.

use std::{net::SocketAddr, num::NonZeroU32, sync::Arc, time::Duration};

use axum::{
    body::Body,
    extract::{ConnectInfo, Request, State},
    http::{HeaderMap, HeaderName, HeaderValue, Method, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use rand::Rng;
use subtle::ConstantTimeEq;
use tower_sessions::Session;

use super::{AppState, error::AppError};
use crate::config::RateLimits;

/// Session key of the CSRF token.
const CSRF_KEY: &str = "csrf";
/// Form field (or `X-CSRF-Token` header) that carries it.
pub const CSRF_FIELD: &str = "csrf_token";
/// Largest form body the CSRF check reads.
const MAX_FORM_BYTES: usize = 64 * 1024;
/// Largest file upload (a roster CSV of some 25,000 people); the app's body limit matches it.
pub const MAX_UPLOAD_BYTES: usize = 2 * 1024 * 1024;
/// The only addresses that take `multipart/form-data` (file uploads).
const UPLOAD_PATHS: &[&str] = &["/coordinator/import"];

/// The headers every response carries.
pub fn headers(https: bool) -> Vec<(HeaderName, HeaderValue)> {
    let mut headers = vec![
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
                 frame-ancestors 'none'; base-uri 'none'",
            ),
        ),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::REFERRER_POLICY, HeaderValue::from_static("same-origin")),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
        ),
        (HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin")),
    ];
    if https {
        headers.push((header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000")));
    }
    headers
}

/// The session's CSRF token, created on first use.
pub async fn csrf_token(session: &Session) -> Result<String, AppError> {
    if let Some(token) = session.get::<String>(CSRF_KEY).await? {
        return Ok(token);
    }
    let bytes: [u8; 32] = rand::rng().random();
    let token = URL_SAFE_NO_PAD.encode(bytes);
    session.insert(CSRF_KEY, &token).await?;
    Ok(token)
}

/// Replaces the CSRF token (at login and logout, with the session id).
pub async fn rotate_csrf(session: &Session) -> Result<(), AppError> {
    session.remove_value(CSRF_KEY).await?;
    csrf_token(session).await.map(|_| ())
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Refuses any state-changing request whose token does not match the session's, before a
/// handler runs, so no route can forget the check.
pub async fn require_csrf(session: Session, request: Request, next: Next) -> Response {
    // The one-click unsubscribe address takes mail clients' RFC 8058 POSTs, which carry no
    // session; its signed token is what authorises it.
    if is_safe(request.method()) || request.uri().path().starts_with("/u/") {
        return next.run(request).await;
    }
    let expected = match session.get::<String>(CSRF_KEY).await {
        Ok(Some(token)) => token,
        Ok(None) => return csrf_refusal(),
        Err(err) => return AppError::from(err).into_response(),
    };
    let (parts, body) = request.into_parts();
    let header_token = parts.headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let boundary = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.trim_start().to_ascii_lowercase().starts_with("multipart/"))
        .map(|v| multer::parse_boundary(v).ok());
    let limit = match &boundary {
        Some(_) if UPLOAD_PATHS.contains(&parts.uri.path()) => MAX_UPLOAD_BYTES,
        Some(_) => return AppError::BadRequest("This form does not take files.").into_response(),
        None => MAX_FORM_BYTES,
    };
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(_) => return AppError::TooLarge.into_response(),
    };
    let given = match (header_token, boundary) {
        (Some(token), _) => Some(token),
        (None, Some(Some(boundary))) => multipart_token(bytes.clone(), boundary).await,
        (None, Some(None)) => None,
        (None, None) => {
            form_urlencoded::parse(&bytes).find(|(k, _)| k == CSRF_FIELD).map(|(_, v)| v.into_owned())
        }
    };
    match given {
        Some(given) if bool::from(given.as_bytes().ct_eq(expected.as_bytes())) => {
            next.run(Request::from_parts(parts, Body::from(bytes))).await
        }
        _ => csrf_refusal(),
    }
}

/// The CSRF field of a `multipart/form-data` body.
async fn multipart_token(bytes: axum::body::Bytes, boundary: String) -> Option<String> {
    let stream = futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(bytes) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    while let Ok(Some(field)) = multipart.next_field().await {
        if field.name() == Some(CSRF_FIELD) {
            return field.text().await.ok();
        }
    }
    None
}

fn csrf_refusal() -> Response {
    AppError::Forbidden(
        "This form has expired or did not come from Coffee Rounds. Go back, reload the page and try again.",
    )
    .into_response()
}

/// Keyed rate limiters for the sensitive forms.
#[derive(Clone)]
pub struct Limiters {
    per_ip: Arc<DefaultKeyedRateLimiter<String>>,
    per_account: Arc<DefaultKeyedRateLimiter<String>>,
    trust_proxy: bool,
}

fn quota(per_minute: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN))
}

impl Limiters {
    pub fn new(limits: &RateLimits, trust_proxy: bool) -> Self {
        Self {
            per_ip: Arc::new(RateLimiter::keyed(quota(limits.per_ip_per_minute))),
            per_account: Arc::new(RateLimiter::keyed(quota(limits.per_account_per_minute))),
            trust_proxy,
        }
    }

    /// The client's address: the connection's peer, or the proxy's `X-Forwarded-For` when trusted.
    pub fn client(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> String {
        let forwarded = self
            .trust_proxy
            .then(|| {
                headers.get("x-forwarded-for")?.to_str().ok()?.split(',').next().map(|s| s.trim().to_owned())
            })
            .flatten();
        forwarded.or_else(|| peer.map(|p| p.ip().to_string())).unwrap_or_else(|| "unknown".into())
    }

    /// Counts one attempt on an account (by normalised email).
    pub fn check_account(&self, email: &str) -> Result<(), AppError> {
        let key = email.trim().to_lowercase();
        check(&self.per_account, key)
    }

    /// Drops every counter; called now and then so the maps do not grow without bound.
    pub fn prune(&self) {
        self.per_ip.retain_recent();
        self.per_account.retain_recent();
    }
}

fn check(limiter: &DefaultKeyedRateLimiter<String>, key: String) -> Result<(), AppError> {
    limiter.check_key(&key).map_err(|not_until| {
        let wait =
            not_until.wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()));
        AppError::RateLimited(wait.max(Duration::from_secs(1)).as_secs())
    })
}

/// Limits POSTs to the routes it wraps per client address.
pub async fn limit_per_client(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if is_safe(request.method()) {
        return next.run(request).await;
    }
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    let client = state.limiters.client(peer, request.headers());
    match check(&state.limiters.per_ip, client) {
        Ok(()) => next.run(request).await,
        Err(err) => err.into_response(),
    }
}
