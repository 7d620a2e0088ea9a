//! Signed, single-purpose links in round emails. They work without logging in: the signature
//! (HMAC-SHA-256 with a key kept in the database) proves the link was made for this person and
//! this action, and changes nothing until the person confirms on the page it opens.
//!
//! Each link carries the day it was made and expires after its action's lifetime (see
//! [`Action::lifetime`]); unsubscribe links never do, as RFC 8058 senders keep them working.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::{Frequency, GroupId, LedTo, UserId};

/// What a link does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// "We met" for a group.
    Met,
    /// "Not yet" for a group.
    NotYet,
    /// Skip next month's round (the group's month is recorded as skipped if still open).
    Skip,
    /// Stop the monthly emails (opt out, keep the account).
    Unsubscribe,
    /// Come back after an automatic pause.
    Resume,
    /// The follow-up's "Did it lead to anything?" answer about a group that met.
    LedTo(LedTo),
    /// How often the person takes part, from an introduction's footer.
    Frequency(Frequency),
}

impl Action {
    fn code(self) -> &'static str {
        match self {
            Self::Met => "met",
            Self::NotYet => "notyet",
            Self::Skip => "skip",
            Self::Unsubscribe => "unsub",
            Self::Resume => "resume",
            Self::LedTo(LedTo::NotYet) => "led-notyet",
            Self::LedTo(LedTo::Advice) => "led-advice",
            Self::LedTo(LedTo::Introduction) => "led-intro",
            Self::LedTo(LedTo::Project) => "led-project",
            Self::LedTo(LedTo::Opportunity) => "led-opportunity",
            Self::Frequency(Frequency::Monthly) => "often-monthly",
            Self::Frequency(Frequency::EveryOtherMonth) => "often-every-other",
            Self::Frequency(Frequency::TwiceMonthly) => "often-twice",
        }
    }

    fn from_code(code: &str) -> Option<Self> {
        [Self::Met, Self::NotYet, Self::Skip, Self::Unsubscribe, Self::Resume]
            .into_iter()
            .chain(LedTo::ALL.map(Self::LedTo))
            .chain(Frequency::ALL.map(Self::Frequency))
            .find(|a| a.code() == code)
    }
}

/// Seconds in a day; links carry the day they were made.
const DAY: i64 = 86_400;

impl Action {
    /// How long a link stays usable after its email was made; `None`: for good.
    ///
    /// An answer about a meeting is welcome until the ten-week follow-up has long passed; a
    /// skip concerns one round, the month after its email's (the round job also checks that
    /// this round has not run yet); a way back from an automatic pause is offered again by the
    /// profile page at any time. What a conversation led to may take months to show (a role, a
    /// letter), so the follow-up's answers work for half a year after it, and the profile asks
    /// the same question for good. A change of frequency from an introduction works while that
    /// introduction is the latest (a round or two).
    pub fn lifetime_days(self) -> Option<i64> {
        match self {
            Self::Met | Self::NotYet => Some(120),
            Self::Frequency(_) => Some(62),
            Self::LedTo(_) => Some(180),
            Self::Skip => Some(62),
            Self::Resume => Some(90),
            Self::Unsubscribe => None,
        }
    }
}

/// Why a token is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Not a token we made (or damaged on the way).
    Invalid,
    /// Ours, but older than its action's lifetime.
    Expired,
}

/// A verified link: the action, the group it is about (0 when none) and the person.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    pub action: Action,
    /// `GroupId(0)` for the links about no group (unsubscribe, resume).
    pub group_id: GroupId,
    pub user_id: UserId,
}

/// Makes and checks signed links.
#[derive(Clone)]
pub struct LinkSigner {
    key: Vec<u8>,
}

impl LinkSigner {
    pub fn new(key: &[u8]) -> Self {
        Self { key: key.to_vec() }
    }

    fn mac(&self, payload: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes a key of any length");
        mac.update(payload.as_bytes());
        mac
    }

    /// The token for `link`, made at `now` (Unix seconds), for use in a URL path.
    pub fn token(&self, link: Link, now: i64) -> String {
        let payload =
            format!("{}.{}.{}.{}", link.action.code(), link.group_id, link.user_id, now.div_euclid(DAY));
        let signature = URL_SAFE_NO_PAD.encode(self.mac(&payload).finalize().into_bytes());
        format!("{payload}.{signature}")
    }

    /// The link a token stands for, if its signature is right and it has not expired at `now`.
    /// Tokens made before links carried their day are accepted for unsubscribing only.
    pub fn verify(&self, token: &str, now: i64) -> Result<Link, Refusal> {
        let (payload, signature) = token.trim().rsplit_once('.').ok_or(Refusal::Invalid)?;
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| Refusal::Invalid)?;
        self.mac(payload).verify_slice(&signature).map_err(|_| Refusal::Invalid)?;
        let parts: Vec<&str> = payload.split('.').collect();
        let (code, group, user, day) = match parts[..] {
            [code, group, user] => (code, group, user, None),
            [code, group, user, day] => (code, group, user, Some(day)),
            _ => return Err(Refusal::Invalid),
        };
        let action = Action::from_code(code).ok_or(Refusal::Invalid)?;
        let group_id = GroupId(group.parse().map_err(|_| Refusal::Invalid)?);
        let user_id = UserId(user.parse().map_err(|_| Refusal::Invalid)?);
        let made = day.map(|d| d.parse::<i64>().map_err(|_| Refusal::Invalid)).transpose()?;
        match (action.lifetime_days(), made) {
            (None, _) => {}
            (Some(_), None) => return Err(Refusal::Expired),
            (Some(days), Some(made)) if now.div_euclid(DAY) > made + days => return Err(Refusal::Expired),
            (Some(_), Some(_)) => {}
        }
        Ok(Link { action, group_id, user_id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn a_link_verifies_only_as_signed() {
        let signer = LinkSigner::new(b"a key for the test");
        let link = Link { action: Action::Met, group_id: GroupId(12), user_id: UserId(34) };
        let token = signer.token(link, NOW);
        assert_eq!(signer.verify(&token, NOW), Ok(link));
        assert_eq!(LinkSigner::new(b"another key").verify(&token, NOW), Err(Refusal::Invalid));
        let forged = token.replacen("met.12.34", "met.12.35", 1);
        assert_eq!(signer.verify(&forged, NOW), Err(Refusal::Invalid));
        let other_action = token.replacen("met.", "unsub.", 1);
        assert_eq!(signer.verify(&other_action, NOW), Err(Refusal::Invalid));
        assert_eq!(signer.verify("garbage", NOW), Err(Refusal::Invalid));
    }

    #[test]
    fn each_follow_up_answer_is_a_link_of_its_own() {
        let signer = LinkSigner::new(b"a key for the test");
        for answer in LedTo::ALL {
            let link = Link { action: Action::LedTo(answer), group_id: GroupId(12), user_id: UserId(34) };
            assert_eq!(signer.verify(&signer.token(link, NOW), NOW), Ok(link), "{answer:?}");
        }
        let advice = signer.token(
            Link { action: Action::LedTo(LedTo::Advice), group_id: GroupId(12), user_id: UserId(34) },
            NOW,
        );
        let upgraded = advice.replacen("led-advice.", "led-opportunity.", 1);
        assert_eq!(signer.verify(&upgraded, NOW), Err(Refusal::Invalid), "the answer is signed too");
        let other_group = advice.replacen(".12.34.", ".13.34.", 1);
        assert_eq!(signer.verify(&other_group, NOW), Err(Refusal::Invalid), "so is the group");
    }

    #[test]
    fn links_expire_after_their_lifetime_except_unsubscribe() {
        let signer = LinkSigner::new(b"a key for the test");
        let led_to = LedTo::ALL.map(Action::LedTo);
        for action in [Action::Met, Action::NotYet, Action::Skip, Action::Resume].into_iter().chain(led_to) {
            let link = Link { action, group_id: GroupId(1), user_id: UserId(2) };
            let token = signer.token(link, NOW);
            let days = action.lifetime_days().unwrap();
            assert_eq!(signer.verify(&token, NOW + days * DAY), Ok(link), "{action:?} on its last day");
            assert_eq!(signer.verify(&token, NOW + (days + 1) * DAY), Err(Refusal::Expired), "{action:?}");
        }
        let unsubscribe = Link { action: Action::Unsubscribe, group_id: GroupId(0), user_id: UserId(2) };
        let token = signer.token(unsubscribe, NOW);
        assert_eq!(signer.verify(&token, NOW + 3650 * DAY), Ok(unsubscribe));
    }

    #[test]
    fn links_made_before_they_carried_a_day_only_unsubscribe() {
        let signer = LinkSigner::new(b"a key for the test");
        let old = |payload: &str| {
            let signature = URL_SAFE_NO_PAD.encode(signer.mac(payload).finalize().into_bytes());
            format!("{payload}.{signature}")
        };
        assert_eq!(
            signer.verify(&old("unsub.0.7"), NOW),
            Ok(Link { action: Action::Unsubscribe, group_id: GroupId(0), user_id: UserId(7) })
        );
        assert_eq!(signer.verify(&old("skip.3.7"), NOW), Err(Refusal::Expired));
        assert_eq!(signer.verify(&old("met.3.7"), NOW), Err(Refusal::Expired));
    }
}
