//! What a conversation led to, as its participant reports it in the ten-week follow-up ("Did it
//! lead to anything?"). One answer per person per group; it feeds the outcome figures and the
//! person's own network page, and nothing else (never the matcher).

use std::fmt;

/// One answer to "Did it lead to anything?".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LedTo {
    NotYet,
    Advice,
    Introduction,
    Project,
    Opportunity,
}

impl LedTo {
    /// In the order the question offers them.
    pub const ALL: [Self; 5] =
        [Self::NotYet, Self::Advice, Self::Introduction, Self::Project, Self::Opportunity];

    /// The stored value, also the form's and the link's.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotYet => "not_yet",
            Self::Advice => "advice",
            Self::Introduction => "introduction",
            Self::Project => "project",
            Self::Opportunity => "opportunity",
        }
    }

    /// A stored or submitted value.
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let input = input.trim();
        Self::ALL.into_iter().find(|a| a.as_str() == input).ok_or("Choose one of the answers.")
    }

    /// As a person reads it.
    pub fn label(self) -> &'static str {
        match self {
            Self::NotYet => "Not yet",
            Self::Advice => "Advice I used",
            Self::Introduction => "An introduction to someone",
            Self::Project => "A project or collaboration",
            Self::Opportunity => "An opportunity (a role, a talk, a letter)",
        }
    }

    /// Whether the answer is something concrete, the playbook's measure: every answer but
    /// "Not yet" (advice the person used counts).
    pub fn is_concrete(self) -> bool {
        self != Self::NotYet
    }
}

impl fmt::Display for LedTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_answer_parses_from_its_stored_value_and_only_not_yet_is_not_concrete() {
        for answer in LedTo::ALL {
            assert_eq!(LedTo::parse(answer.as_str()), Ok(answer));
            assert_eq!(answer.is_concrete(), answer != LedTo::NotYet);
        }
        assert!(LedTo::parse("Advice I used").is_err());
        assert!(LedTo::parse("").is_err());
    }
}
