//! One module per page family.

pub mod auth;
pub mod coordinator;
pub mod home;
pub mod links;
pub mod oidc;
pub mod profile;

use askama::Template;
use askama_web::WebTemplate;

use super::Layout;

/// A page with a heading, a few paragraphs and at most one link onwards.
#[derive(Template, WebTemplate)]
#[template(path = "pages/notice.html")]
pub struct Notice {
    pub layout: Layout,
    pub heading: &'static str,
    pub paragraphs: Vec<String>,
    pub action: Option<(&'static str, &'static str)>,
}

/// The lists a profile form chooses from.
pub struct Choices {
    pub roles: Vec<String>,
    pub departments: Vec<String>,
    pub stages: &'static [(crate::domain::Level, &'static str, &'static str)],
}

impl Choices {
    pub async fn load(store: &crate::store::Store) -> sqlx::Result<Self> {
        Ok(Self {
            roles: store.roles().await?,
            departments: store.departments().await?,
            stages: crate::domain::STAGES,
        })
    }
}
