//! Signed, single-purpose links in round emails. They work without logging in: the signature
//! (HMAC-SHA-256 with a key kept in the database) proves the link was made for this person and
//! this action, and changes nothing until the person confirms on the page it opens.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;

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
}

impl Action {
    fn code(self) -> &'static str {
        match self {
            Self::Met => "met",
            Self::NotYet => "notyet",
            Self::Skip => "skip",
            Self::Unsubscribe => "unsub",
            Self::Resume => "resume",
        }
    }

    fn from_code(code: &str) -> Option<Self> {
        [Self::Met, Self::NotYet, Self::Skip, Self::Unsubscribe, Self::Resume]
            .into_iter()
            .find(|a| a.code() == code)
    }
}

/// A verified link: the action, the group it is about (0 when none) and the person.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    pub action: Action,
    pub group_id: i64,
    pub user_id: i64,
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

    /// The token for `link`, for use in a URL path.
    pub fn token(&self, link: Link) -> String {
        let payload = format!("{}.{}.{}", link.action.code(), link.group_id, link.user_id);
        let signature = URL_SAFE_NO_PAD.encode(self.mac(&payload).finalize().into_bytes());
        format!("{payload}.{signature}")
    }

    /// The link a token stands for, if its signature is right.
    pub fn verify(&self, token: &str) -> Option<Link> {
        let (payload, signature) = token.trim().rsplit_once('.')?;
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        self.mac(payload).verify_slice(&signature).ok()?;
        let mut parts = payload.split('.');
        let action = Action::from_code(parts.next()?)?;
        let group_id = parts.next()?.parse().ok()?;
        let user_id = parts.next()?.parse().ok()?;
        parts.next().is_none().then_some(Link { action, group_id, user_id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_verifies_only_as_signed() {
        let signer = LinkSigner::new(b"a key for the test");
        let link = Link { action: Action::Met, group_id: 12, user_id: 34 };
        let token = signer.token(link);
        assert_eq!(signer.verify(&token), Some(link));
        assert_eq!(LinkSigner::new(b"another key").verify(&token), None);
        let forged = token.replacen("met.12.34", "met.12.35", 1);
        assert_eq!(signer.verify(&forged), None);
        let other_action = token.replacen("met.", "unsub.", 1);
        assert_eq!(signer.verify(&other_action), None);
        assert_eq!(signer.verify("garbage"), None);
    }
}
