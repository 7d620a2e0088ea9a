//! The coordinator dashboard: program figures, past rounds and the next one, the roster import,
//! settings, the audit log and who else holds the role. Every route is listed once in
//! [`COORDINATOR_ROUTES`] and answers only coordinators (the [`Coordinator`] extractor).

mod charts;
mod home;
mod import;
mod people;
mod rounds;
mod settings;

pub use crate::web::visitor::Coordinator;

use axum::{
    Router,
    routing::{MethodRouter, get, post},
};

use crate::web::AppState;

/// Every coordinator route, as (method, path). The router is built from this list, and the tests
/// walk it to check that each route refuses everyone but coordinators.
pub const COORDINATOR_ROUTES: &[(&str, &str)] = &[
    ("GET", "/coordinator"),
    ("GET", "/coordinator/rounds"),
    ("GET", "/coordinator/rounds/{id}"),
    ("GET", "/coordinator/preview"),
    ("GET", "/coordinator/run"),
    ("POST", "/coordinator/run"),
    ("GET", "/coordinator/audit"),
    ("GET", "/coordinator/export/participants.csv"),
    ("GET", "/coordinator/export/results.csv"),
    ("GET", "/coordinator/export/outcomes.csv"),
    ("GET", "/coordinator/coordinators"),
    ("POST", "/coordinator/coordinators"),
    ("POST", "/coordinator/coordinators/remove"),
    ("GET", "/coordinator/outcomes"),
    ("GET", "/coordinator/settings"),
    ("POST", "/coordinator/settings"),
    ("POST", "/coordinator/lists"),
    ("GET", "/coordinator/import"),
    ("POST", "/coordinator/import"),
    ("GET", "/coordinator/undeliverable"),
    ("POST", "/coordinator/undeliverable"),
];

fn handler(method: &str, path: &str) -> MethodRouter<AppState> {
    match (method, path) {
        ("GET", "/coordinator") => get(home::home),
        ("GET", "/coordinator/rounds") => get(rounds::rounds),
        ("GET", "/coordinator/rounds/{id}") => get(rounds::round),
        ("GET", "/coordinator/preview") => get(rounds::preview),
        ("GET", "/coordinator/run") => get(rounds::confirm_run),
        ("POST", "/coordinator/run") => post(rounds::run),
        ("GET", "/coordinator/audit") => get(people::audit),
        ("GET", "/coordinator/export/participants.csv") => get(home::export_participants),
        ("GET", "/coordinator/export/results.csv") => get(home::export_results),
        ("GET", "/coordinator/export/outcomes.csv") => get(home::export_outcomes),
        ("GET", "/coordinator/coordinators") => get(people::coordinators),
        ("POST", "/coordinator/coordinators") => post(people::grant),
        ("POST", "/coordinator/coordinators/remove") => post(people::remove),
        ("GET", "/coordinator/outcomes") => get(home::outcomes),
        ("GET", "/coordinator/settings") => get(settings::show),
        ("POST", "/coordinator/settings") => post(settings::save),
        ("POST", "/coordinator/lists") => post(settings::edit_list),
        ("GET", "/coordinator/import") => get(import::show),
        ("POST", "/coordinator/import") => post(import::upload),
        ("GET", "/coordinator/undeliverable") => get(people::undeliverable),
        ("POST", "/coordinator/undeliverable") => post(people::address_works),
        _ => unreachable!("COORDINATOR_ROUTES lists {method} {path} without a handler"),
    }
}

/// The coordinator pages, to merge into the app's router.
pub fn routes() -> Router<AppState> {
    COORDINATOR_ROUTES
        .iter()
        .fold(Router::new(), |router, (method, path)| router.route(path, handler(method, path)))
}

/// "2026-11-25 16:58 UTC" for a Unix time.
pub fn when(at: &i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(*at)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC")).ok()
        })
        .unwrap_or_default()
}

/// "72%" for `part` of `whole`, or "–" when there is nothing to divide.
pub fn percent(part: &i64, whole: &i64) -> String {
    if *whole <= 0 { "–".to_owned() } else { format!("{}%", (part * 100 + whole / 2) / whole) }
}
