//! Protections every request passes through: security headers, CSRF tokens on every
//! state-changing request, and rate limits on the forms that guess passwords or send email.
//!
//! A logged-in person's CSRF token lives in their session. A visitor who is not logged in gets
//! theirs in a signed cookie of its own (the double-submit pattern), so that merely showing the
//! login or sign-up form stores nothing on the server.

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
use tower_cookies::{Cookie, Cookies, Key, cookie::SameSite};
use tower_sessions::Session;

use super::{AppState, error::AppError};
use crate::{config::RateLimits, store::sessions::USER_ID_KEY};

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

fn new_csrf_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The session's CSRF token, created on first use.
pub async fn csrf_token(session: &Session) -> Result<String, AppError> {
    if let Some(token) = session.get::<String>(CSRF_KEY).await? {
        return Ok(token);
    }
    let token = new_csrf_token();
    session.insert(CSRF_KEY, &token).await?;
    Ok(token)
}

/// Replaces the CSRF token (at login and logout, with the session id).
pub async fn rotate_csrf(session: &Session) -> Result<(), AppError> {
    session.remove_value(CSRF_KEY).await?;
    csrf_token(session).await.map(|_| ())
}

/// The CSRF cookie of visitors who are not logged in: signed with the application's key, so
/// only a value this application issued is accepted.
#[derive(Clone)]
pub struct CsrfCookie {
    cookies: Cookies,
    key: Key,
    https: bool,
}

impl CsrfCookie {
    /// The cookie jar of `parts` (put there by the session layer).
    pub fn from_parts(parts: &axum::http::request::Parts, key: &Key, https: bool) -> Result<Self, AppError> {
        let cookies = parts
            .extensions
            .get::<Cookies>()
            .cloned()
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("the cookie layer is missing")))?;
        Ok(Self { cookies, key: key.clone(), https })
    }

    /// Under https the `__Host-` prefix keeps a sibling subdomain from planting the cookie.
    fn name(&self) -> &'static str {
        if self.https { "__Host-coffee_rounds_csrf" } else { "coffee_rounds_csrf" }
    }

    fn read(&self) -> Option<String> {
        self.cookies.signed(&self.key).get(self.name()).map(|c| c.value().to_owned())
    }

    /// The visitor's token, set in a new cookie on first use.
    pub fn token(&self) -> String {
        if let Some(token) = self.read() {
            return token;
        }
        let token = new_csrf_token();
        let cookie = Cookie::build((self.name(), token.clone()))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.https)
            .build();
        self.cookies.signed(&self.key).add(cookie);
        token
    }

    /// Removes the cookie (at login the session's own token takes over).
    pub fn clear(&self) {
        if self.read().is_some() {
            self.cookies.remove(Cookie::build((self.name(), "")).path("/").build());
        }
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Refuses any state-changing request whose token does not match the session's (or, for a
/// visitor who is not logged in, the CSRF cookie's), before a handler runs, so no route can
/// forget the check.
pub async fn require_csrf(
    State(state): State<AppState>,
    session: Session,
    request: Request,
    next: Next,
) -> Response {
    // The one-click unsubscribe address takes mail clients' RFC 8058 POSTs, which carry no
    // session; its signed token is what authorises it.
    if is_safe(request.method()) || request.uri().path().starts_with("/u/") {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let expected = match expected_tokens(&state, &session, &parts).await {
        Ok(expected) if expected.is_empty() => return csrf_refusal(),
        Ok(expected) => expected,
        Err(err) => return unread_body(err.into_response()),
    };
    let header_token = parts.headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let boundary = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.trim_start().to_ascii_lowercase().starts_with("multipart/"))
        .map(|v| multer::parse_boundary(v).ok());
    let limit = match &boundary {
        Some(_) if UPLOAD_PATHS.contains(&parts.uri.path()) => MAX_UPLOAD_BYTES,
        Some(_) => {
            return unread_body(AppError::BadRequest("This form does not take files.").into_response());
        }
        None => MAX_FORM_BYTES,
    };
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(_) => return unread_body(AppError::TooLarge.into_response()),
    };
    let given = match (header_token, boundary) {
        (Some(token), _) => Some(token),
        (None, Some(Some(boundary))) => multipart_token(bytes.clone(), boundary).await,
        (None, Some(None)) => None,
        (None, None) => {
            form_urlencoded::parse(&bytes).find(|(k, _)| k == CSRF_FIELD).map(|(_, v)| v.into_owned())
        }
    };
    let matches = |given: &str| expected.iter().any(|e| bool::from(given.as_bytes().ct_eq(e.as_bytes())));
    match given {
        Some(given) if matches(&given) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
        _ => csrf_refusal(),
    }
}

/// The tokens a request may carry: the session's, and for a visitor who is not logged in, the
/// CSRF cookie's.
async fn expected_tokens(
    state: &AppState,
    session: &Session,
    parts: &axum::http::request::Parts,
) -> Result<Vec<String>, AppError> {
    let mut expected: Vec<String> = session.get::<String>(CSRF_KEY).await?.into_iter().collect();
    if session.get::<i64>(USER_ID_KEY).await?.is_none() {
        let cookie = CsrfCookie::from_parts(parts, &state.cookie_key, state.config.is_https())?;
        expected.extend(cookie.read());
    }
    Ok(expected)
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
    unread_body(
        AppError::Forbidden(
            "This form has expired or did not come from Coffee Rounds. Go back, reload the page and try again.",
        )
        .into_response(),
    )
}

/// Marks an answer given before the request's body was read (in full) as the connection's last:
/// the server will not read the rest, so a keep-alive client must not send its next request on
/// this connection.
pub fn unread_body(mut response: Response) -> Response {
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Keyed rate limiters for the sensitive forms.
#[derive(Clone)]
pub struct Limiters {
    per_ip: Arc<DefaultKeyedRateLimiter<String>>,
    per_account: Arc<DefaultKeyedRateLimiter<String>>,
    trusted_proxies: usize,
}

fn quota(per_minute: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN))
}

impl Limiters {
    pub fn new(limits: &RateLimits, trusted_proxies: usize) -> Self {
        Self {
            per_ip: Arc::new(RateLimiter::keyed(quota(limits.per_ip_per_minute))),
            per_account: Arc::new(RateLimiter::keyed(quota(limits.per_account_per_minute))),
            trusted_proxies,
        }
    }

    /// The client's address: the connection's peer or, behind `trusted_proxies` proxies, the
    /// `X-Forwarded-For` entry that many places from the right. Entries further left were
    /// written by the client and prove nothing.
    pub fn client(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> String {
        forwarded_client(headers, self.trusted_proxies)
            .or_else(|| peer.map(|p| p.ip()))
            .map_or_else(|| "unknown".into(), |ip| ip.to_string())
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

/// The address our `hops`-th proxy saw, from all `X-Forwarded-For` headers read as one list
/// (proxies append on the right). With fewer entries than hops, the left-most one.
fn forwarded_client(headers: &HeaderMap, hops: usize) -> Option<std::net::IpAddr> {
    if hops == 0 {
        return None;
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    let entry = entries.get(entries.len().saturating_sub(hops))?;
    entry.parse().ok()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        headers
    }

    #[test]
    fn the_client_is_the_entry_our_own_proxy_added() {
        let headers = forwarded(&["203.0.113.9, 198.51.100.7", "192.0.2.1"]);
        assert_eq!(forwarded_client(&headers, 1), Some("192.0.2.1".parse().unwrap()));
        assert_eq!(forwarded_client(&headers, 2), Some("198.51.100.7".parse().unwrap()));
        assert_eq!(forwarded_client(&headers, 5), Some("203.0.113.9".parse().unwrap()));
        assert_eq!(forwarded_client(&headers, 0), None);
        assert_eq!(forwarded_client(&forwarded(&["not an address"]), 1), None);
        assert_eq!(forwarded_client(&HeaderMap::new(), 1), None);
    }
}
