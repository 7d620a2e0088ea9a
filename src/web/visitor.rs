//! Who is asking: the session, the logged-in account if there is one, and whether it is a
//! coordinator. Each is an extractor a handler names in its arguments.

use axum::{extract::FromRequestParts, http::request::Parts};
use tower_sessions::Session;

use super::{
    AppState, Layout,
    error::AppError,
    security::{self, CsrfCookie},
};
use crate::{
    domain::UserId,
    store::{
        coordinators::Actor,
        sessions::{ENDS_AT_KEY, USER_ID_KEY},
        users::User,
    },
};

const FLASH_KEY: &str = "flash";

/// Any visitor, logged in or not.
pub struct Visitor {
    pub session: Session,
    pub user: Option<User>,
    /// Where the CSRF token of a visitor who is not logged in is kept.
    csrf: CsrfCookie,
}

/// A logged-in visitor; anyone else is sent to log in and brought back.
pub struct LoggedIn {
    pub session: Session,
    pub user: User,
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|(_, why)| AppError::Internal(anyhow::anyhow!("session layer missing: {why}")))?;
        let user = match session.get::<UserId>(USER_ID_KEY).await? {
            Some(id) => state.store.user_by_id(id).await?,
            None => None,
        };
        let csrf = CsrfCookie::from_parts(parts, &state.cookie_key, state.config.is_https())?;
        Ok(Self { session, user, csrf })
    }
}

impl FromRequestParts<AppState> for LoggedIn {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Visitor { session, user, .. } = Visitor::from_request_parts(parts, state).await?;
        match user {
            Some(user) => Ok(Self { session, user }),
            None => {
                let next = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
                Err(AppError::LoginRequired(next))
            }
        }
    }
}

/// The layout of a page: takes the one-time message and includes a CSRF token for its forms.
pub async fn layout(session: &Session, user: Option<&User>, title: &str) -> Result<Layout, AppError> {
    Ok(Layout {
        title: title.to_owned(),
        user_name: user.map(|u| u.name.to_string()),
        csrf: security::csrf_token(session).await?,
        flash: take_flash(session).await?,
        coordinator: user.is_some_and(User::is_coordinator),
        wide: false,
    })
}

/// Removes and returns the one-time message. Looks first: removing marks the session changed,
/// and a changed session is written back on every page view.
async fn take_flash(session: &Session) -> Result<Option<String>, AppError> {
    if session.get_value(FLASH_KEY).await?.is_none() {
        return Ok(None);
    }
    Ok(session.remove::<String>(FLASH_KEY).await?)
}

/// The layout of a page without forms, which does not start a session for anonymous visitors.
pub async fn layout_without_forms(
    session: &Session,
    user: Option<&User>,
    title: &str,
) -> Result<Layout, AppError> {
    if user.is_some() {
        return layout(session, user, title).await;
    }
    Ok(Layout { title: title.to_owned(), ..Layout::default() })
}

impl Visitor {
    /// The layout of a page with forms; for a visitor who is not logged in, the CSRF token comes
    /// from (and, the first time, goes into) the CSRF cookie, so no session is stored.
    pub async fn layout(&self, title: &str) -> Result<Layout, AppError> {
        if self.user.is_some() {
            return layout(&self.session, self.user.as_ref(), title).await;
        }
        Ok(Layout {
            title: title.to_owned(),
            csrf: self.csrf.token(),
            flash: take_flash(&self.session).await?,
            ..Layout::default()
        })
    }

    /// Starts a logged-in session with a new id and a new CSRF token (no session fixation).
    pub async fn log_in(&self, user: &User) -> Result<(), AppError> {
        self.log_in_until(user, None).await
    }

    /// Starts a logged-in session, as [`Self::log_in`], that ends at `ends_at` (Unix seconds)
    /// however active it is (a sign-in through the identity provider); `None`: after 14 days
    /// without a visit, as any.
    pub async fn log_in_until(&self, user: &User, ends_at: Option<i64>) -> Result<(), AppError> {
        self.csrf.clear();
        self.session.cycle_id().await?;
        self.session.insert(USER_ID_KEY, user.id).await?;
        match ends_at {
            Some(ends_at) => self.session.insert(ENDS_AT_KEY, ends_at).await?,
            None => {
                self.session.remove_value(ENDS_AT_KEY).await?;
            }
        }
        security::rotate_csrf(&self.session).await
    }
}

impl LoggedIn {
    /// The layout of a dashboard page: wide on a desk, one column on a phone.
    pub async fn layout(&self, title: &str) -> Result<Layout, AppError> {
        Ok(Layout { wide: true, ..layout(&self.session, Some(&self.user), title).await? })
    }
}

/// Shows `message` once, on the next page.
pub async fn flash(session: &Session, message: impl Into<String>) -> Result<(), AppError> {
    session.insert(FLASH_KEY, message.into()).await?;
    Ok(())
}

/// Ends the session everywhere: the stored record is deleted and the cookie cleared.
pub async fn log_out(session: &Session) -> Result<(), AppError> {
    session.flush().await?;
    Ok(())
}

/// `next` if it is a path on this site, else the profile: never a redirect elsewhere.
pub fn local_path(next: &str) -> &str {
    let is_local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control() || c == '\\');
    if is_local { next } else { "/profile" }
}

/// A logged-in coordinator. Anonymous visitors are sent to log in; other accounts get a 403 page.
pub struct Coordinator {
    pub session: Session,
    pub user: User,
}

impl FromRequestParts<AppState> for Coordinator {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Visitor { session, user, .. } = Visitor::from_request_parts(parts, state).await?;
        let Some(user) = user else {
            let next = parts.uri.path_and_query().map_or("/coordinator", |p| p.as_str()).to_owned();
            return Err(AppError::LoginRequired(next));
        };
        if !user.is_coordinator() {
            return Err(AppError::Forbidden("This page is for Coffee Rounds coordinators only."));
        }
        Ok(Self { session, user })
    }
}

impl Coordinator {
    /// The layout of a dashboard page: wide on a desk, one column on a phone.
    pub async fn layout(&self, title: &str) -> Result<Layout, AppError> {
        Ok(Layout { wide: true, ..layout(&self.session, Some(&self.user), title).await? })
    }

    pub fn actor(&self) -> Actor {
        Actor::account(self.user.id, &self.user.email)
    }
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(local_path("/profile?x=1"), "/profile?x=1");
        for outside in
            ["https://evil.example", "//evil.example", "/\\evil.example", "evil", "", "/\tx", "/a\\b"]
        {
            assert_eq!(local_path(outside), "/profile", "{outside:?}");
        }
    }
}
