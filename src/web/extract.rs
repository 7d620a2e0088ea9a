//! The app's extractors: axum's `Form`, `Query`, `Path` and `Multipart`, with every refusal turned
//! into the app's error page and every text value checked against what the databases can store
//! ([`domain::storable`]), so no handler meets a value that would fail in SQL. `clippy.toml` denies
//! the raw extractors everywhere else.
#![allow(clippy::disallowed_types)]

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, RawForm, RawPathParams, Request},
    http::{StatusCode, request::Parts},
};
use serde::de::DeserializeOwned;

use super::error::AppError;
use crate::domain;

const FORM_UNREADABLE: &str = "The form could not be read. Reload the page and try again.";
const ADDRESS_UNREADABLE: &str =
    "The address holds a value Coffee Rounds cannot read. Go back and use the page's links and forms.";
const UPLOAD_UNREADABLE: &str = "The upload could not be read. Reload the page and try again.";

/// The refusal for a rejection of `status`: a too-large body gets its own page, a server-side
/// failure is logged, and anything else is the person's request.
fn refusal(status: StatusCode, detail: String, message: &'static str) -> AppError {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => AppError::TooLarge,
        status if status.is_server_error() => AppError::Internal(anyhow::anyhow!("{detail}")),
        _ => AppError::BadRequest(message),
    }
}

/// A form field's name as the refusal shows it.
fn shown(name: &str) -> String {
    name.chars().filter(|c| !c.is_control()).take(40).collect::<String>().replace('_', " ")
}

/// Refuses a URL-encoded form or query with a name or value the databases cannot store.
fn check_pairs(encoded: &[u8]) -> Result<(), AppError> {
    for (name, value) in form_urlencoded::parse(encoded) {
        if let Err(why) = domain::storable(&name).and(domain::storable(&value)) {
            return Err(AppError::Unstorable(format!("The “{}” field {why}", shown(&name))));
        }
    }
    Ok(())
}

/// A URL-encoded form (the body of a POST, or the query of a GET).
pub struct Form<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Form<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let RawForm(bytes) = RawForm::from_request(req, state)
            .await
            .map_err(|r| refusal(r.status(), r.body_text(), FORM_UNREADABLE))?;
        check_pairs(&bytes)?;
        serde_urlencoded::from_bytes(&bytes).map(Self).map_err(|_| AppError::BadRequest(FORM_UNREADABLE))
    }
}

/// The query string.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        check_pairs(parts.uri.query().unwrap_or_default().as_bytes())?;
        axum::extract::Query::try_from_uri(&parts.uri)
            .map(|axum::extract::Query(value)| Self(value))
            .map_err(|_| AppError::BadRequest(ADDRESS_UNREADABLE))
    }
}

/// Values from the path. One that does not parse (`/coordinator/rounds/abc`, bytes that are not
/// UTF-8) names no page, so it is a 404 like any other unknown address.
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Ok(raw) = RawPathParams::from_request_parts(parts, state).await
            && let Some(Err(why)) = raw.iter().map(|(_, value)| domain::storable(value)).find(Result::is_err)
        {
            return Err(AppError::Unstorable(format!("The address {why}")));
        }
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            // A route whose parameters do not fit its type: the program's mistake, not the visitor's.
            Err(r) if r.status().is_server_error() => {
                Err(AppError::Internal(anyhow::anyhow!("path parameters: {}", r.body_text())))
            }
            Err(_) => Err(AppError::NotFound),
        }
    }
}

/// Like axum's extractors, each derefs to its value.
macro_rules! deref_to_value {
    ($($wrapper:ident),*) => {$(
        impl<T> std::ops::Deref for $wrapper<T> {
            type Target = T;

            fn deref(&self) -> &T {
                &self.0
            }
        }
    )*};
}

deref_to_value!(Form, Query, Path);

/// A `multipart/form-data` body (file uploads).
pub struct Multipart(axum::extract::Multipart);

impl<S: Send + Sync> FromRequest<S> for Multipart {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Multipart::from_request(req, state)
            .await
            .map(Self)
            .map_err(|r| refusal(r.status(), r.body_text(), UPLOAD_UNREADABLE))
    }
}

fn unreadable_upload(err: axum::extract::multipart::MultipartError) -> AppError {
    refusal(err.status(), err.body_text(), UPLOAD_UNREADABLE)
}

impl Multipart {
    /// The next field, or `None` after the last.
    pub async fn next_field(&mut self) -> Result<Option<Field<'_>>, AppError> {
        self.0.next_field().await.map(|field| field.map(Field)).map_err(unreadable_upload)
    }
}

/// One field of a [`Multipart`] body.
pub struct Field<'a>(axum::extract::multipart::Field<'a>);

impl Field<'_> {
    pub fn name(&self) -> Option<&str> {
        self.0.name()
    }

    /// The field's bytes, unchecked: for a file, whose reader checks what it keeps (a roster's
    /// cells are checked one by one, so a bad cell costs its line, not the file).
    pub async fn bytes(self) -> Result<Bytes, AppError> {
        self.0.bytes().await.map_err(unreadable_upload)
    }

    /// A text field, refused when the databases could not store it.
    pub async fn text(self) -> Result<String, AppError> {
        let name = shown(self.0.name().unwrap_or_default());
        let text = self.0.text().await.map_err(unreadable_upload)?;
        match domain::storable(&text) {
            Ok(_) => Ok(text),
            Err(why) => Err(AppError::Unstorable(format!("The “{name}” field {why}"))),
        }
    }
}
