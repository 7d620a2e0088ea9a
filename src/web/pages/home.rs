//! The home page: what Coffee Rounds is, and an invitation to sign up.

use askama::Template;
use askama_web::WebTemplate;

use crate::web::{
    Layout,
    error::AppResult,
    visitor::{Visitor, layout_without_forms},
};

#[derive(Template, WebTemplate)]
#[template(path = "pages/home.html")]
pub struct Home {
    layout: Layout,
}

pub async fn home(visitor: Visitor) -> AppResult<Home> {
    let layout =
        layout_without_forms(&visitor.session, visitor.user.as_ref(), "Random coffee for hospital staff")
            .await?;
    Ok(Home { layout })
}
