//! The signed links in round emails. Opening one shows what it will do and a button; only the
//! button's POST does it, so a mail scanner that follows links changes nothing. The one-click
//! unsubscribe address also takes a mail client's RFC 8058 POST, with no session.

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};

use super::Notice;
use crate::{
    domain::{Calendar, Frequency, Month},
    rounds::{
        LinkResult,
        links::{Action, Link, Refusal},
    },
    store::now,
    web::{
        AppState, Layout,
        error::AppResult,
        extract::Path,
        visitor::{Visitor, layout_without_forms},
    },
};

#[derive(Template, WebTemplate)]
#[template(path = "pages/link.html")]
pub struct LinkPage {
    layout: Layout,
    heading: String,
    explanation: String,
    button: &'static str,
    action: String,
}

/// The page for a token that is not ours, or has expired, or is about a round that has gone.
async fn refused(visitor: &Visitor, refusal: Refusal) -> AppResult<Response> {
    match refusal {
        Refusal::Invalid => invalid(visitor).await,
        Refusal::Expired => expired(visitor).await,
    }
}

async fn expired(visitor: &Visitor) -> AppResult<Response> {
    let notice = Notice {
        layout: layout_without_forms(&visitor.session, visitor.user.as_ref(), "Link expired").await?,
        heading: "This link has expired",
        paragraphs: vec![
            "Links in our emails work for a limited time, and a skip applies only to the round right after its email. Your profile has the same choices for your current rounds."
                .into(),
        ],
        action: Some(("/profile", "Go to your profile")),
    };
    Ok((StatusCode::GONE, notice).into_response())
}

async fn invalid(visitor: &Visitor) -> AppResult<Response> {
    let notice = Notice {
        layout: layout_without_forms(&visitor.session, visitor.user.as_ref(), "Link not valid").await?,
        heading: "This link is not valid",
        paragraphs: vec![
            "It may be incomplete: try opening it again from the email, or log in to your profile.".into(),
        ],
        action: Some(("/login", "Log in")),
    };
    Ok((StatusCode::NOT_FOUND, notice).into_response())
}

/// What the page says before the button, per action; `next_round` is the round a skip skips.
fn describe(link: Link, next_round: Month) -> (String, String, &'static str) {
    let next = next_round.long_name();
    match link.action {
        Action::Met => ("Did you meet?".into(), "Tell us your group met this month.".into(), "Yes, we met"),
        Action::NotYet => {
            ("Not met yet?".into(), "Tell us you have not met yet. There is still time this month.".into(), "Not yet")
        }
        Action::Skip => (
            format!("Skip the {next} round?"),
            format!("You will not be matched in the {next} round, and you are back the month after."),
            "Skip next month",
        ),
        Action::Unsubscribe => (
            "Stop the monthly emails?".into(),
            "You stay registered but are no longer matched or emailed. You can rejoin from your profile at any time."
                .into(),
            "Stop the emails",
        ),
        Action::Resume => {
            ("Come back to Coffee Rounds?".into(), format!("You will be matched again from the {next} round."), "Put me back in")
        }
        Action::Frequency(frequency) => (
            format!("{} from now on?", frequency.label()),
            match frequency {
                Frequency::Monthly => "You will be matched in every monthly round.".to_owned(),
                Frequency::EveryOtherMonth => {
                    "You will be matched in a monthly round when you had no group in the one before.".to_owned()
                }
                Frequency::TwiceMonthly => {
                    "You will be matched in every monthly round and in the mid-month round too.".to_owned()
                }
            } + " You can change it again on your profile at any time.",
            "Yes, change it",
        ),
        Action::LedTo(answer) => (
            "Did it lead to anything?".into(),
            format!(
                "Your answer: “{answer}”. Only you see it: the other members of your group do not, and coordinators see totals only. You can change it later on your profile."
            ),
            "Record my answer",
        ),
    }
}

pub async fn show(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(token): Path<String>,
) -> AppResult<Response> {
    let link = match state.rounds.links.verify(&token, now()) {
        Ok(link) => link,
        Err(refusal) => return refused(&visitor, refusal).await,
    };
    let mut next_round = state.next_round().await?;
    if link.action == Action::Skip {
        match state.rounds.skip_month(link.group_id, next_round).await? {
            Some(month) => next_round = month,
            None => return expired(&visitor).await,
        }
    }
    let (heading, explanation, button) = describe(link, next_round);
    let action = match link.action {
        Action::Unsubscribe => format!("/u/{token}"),
        _ => format!("/r/{token}"),
    };
    let page = LinkPage { layout: visitor.layout(&heading).await?, heading, explanation, button, action };
    Ok(page.into_response())
}

/// The one-click unsubscribe address: only unsubscribe links, since it takes POSTs without a
/// CSRF token.
pub async fn unsubscribe(
    state: State<AppState>,
    visitor: Visitor,
    token: Path<String>,
) -> AppResult<Response> {
    match state.rounds.links.verify(&token, now()) {
        Ok(link) if link.action == Action::Unsubscribe => follow(state, visitor, token).await,
        Ok(_) => invalid(&visitor).await,
        Err(refusal) => refused(&visitor, refusal).await,
    }
}

pub async fn follow(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(token): Path<String>,
) -> AppResult<Response> {
    let link = match state.rounds.links.verify(&token, now()) {
        Ok(link) => link,
        Err(refusal) => return refused(&visitor, refusal).await,
    };
    let next_round = state.next_round().await?;
    let result = state.rounds.follow(link, next_round).await?;
    let (heading, paragraph) = match result {
        LinkResult::Expired => return expired(&visitor).await,
        LinkResult::Skipped(month) => (
            "See you the month after",
            format!("You will not be matched in the {} round.", month.long_name()),
        ),
        LinkResult::Gone => ("Nothing to update", "This group or account no longer exists.".to_owned()),
        LinkResult::Recorded(action) => match action {
            Action::Met => (
                "Thank you!",
                "We have recorded that you met. Remember the thank-you note with one takeaway.".into(),
            ),
            Action::NotYet => {
                ("Noted", "There is still time this month: a 20-minute video call counts.".into())
            }
            // A skip comes back as `Skipped`, above.
            Action::Skip => ("See you the month after", String::new()),
            Action::Unsubscribe => {
                ("You will not get more monthly emails", "You can rejoin from your profile.".into())
            }
            Action::Resume => ("Welcome back", "You are in the next round.".into()),
            Action::Frequency(frequency) => (
                "How often: changed",
                format!(
                    "From now on: {}. You can change it again on your profile.",
                    frequency.label().to_lowercase()
                ),
            ),
            Action::LedTo(answer) => (
                "Thank you",
                format!("We have recorded your answer: “{answer}”. You can change it on your profile."),
            ),
        },
    };
    let notice = Notice {
        layout: layout_without_forms(&visitor.session, visitor.user.as_ref(), heading).await?,
        heading,
        paragraphs: vec![paragraph],
        action: Some(("/profile", "Go to your profile")),
    };
    Ok(notice.into_response())
}
