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
    /// The sites; the form asks for one only when there are two or more.
    pub sites: Vec<String>,
    pub stages: &'static [(crate::domain::Level, &'static str, &'static str)],
    pub formats: [crate::domain::MeetFormat; 3],
    pub frequencies: [crate::domain::Frequency; 3],
    pub slots: [crate::domain::Slot; 6],
}

impl Choices {
    pub async fn load(store: &crate::store::Store) -> sqlx::Result<Self> {
        let lists = store.lists().await?;
        Ok(Self {
            roles: lists.roles,
            departments: lists.departments,
            sites: lists.sites,
            stages: crate::domain::STAGES,
            formats: crate::domain::MeetFormat::ALL,
            frequencies: crate::domain::Frequency::ALL,
            slots: crate::domain::Slot::ALL,
        })
    }

    /// Whether the form asks for a site.
    pub fn asks_site(&self) -> bool {
        self.sites.len() > 1
    }
}
