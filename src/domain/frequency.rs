//! How often a person takes part, and the two kinds of round that serve the choices: the monthly
//! round, and a smaller mid-month round for those who chose twice a month.

use std::fmt;

/// How often a person takes part.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Frequency {
    /// The monthly round, every month (the default).
    #[default]
    Monthly,
    /// The monthly round, when they had no group in the previous month's.
    EveryOtherMonth,
    /// The monthly round and the mid-month round.
    TwiceMonthly,
}

impl Frequency {
    pub const ALL: [Self; 3] = [Self::Monthly, Self::EveryOtherMonth, Self::TwiceMonthly];

    /// The value stored and sent by the forms and links.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Monthly => "monthly",
            Self::EveryOtherMonth => "every other month",
            Self::TwiceMonthly => "twice a month",
        }
    }

    /// Also accepts the hyphenated forms a link or roster may use; empty is the default.
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        match input.trim().to_ascii_lowercase().replace(['-', '_'], " ").as_str() {
            "" | "monthly" | "once a month" => Ok(Self::Monthly),
            "every other month" | "bimonthly" => Ok(Self::EveryOtherMonth),
            "twice a month" | "twice" => Ok(Self::TwiceMonthly),
            _ => Err("Choose how often you would like a coffee."),
        }
    }

    /// As a person reads it: "Once a month".
    pub fn label(self) -> &'static str {
        match self {
            Self::Monthly => "Once a month",
            Self::EveryOtherMonth => "Every other month",
            Self::TwiceMonthly => "Twice a month",
        }
    }

    /// Conversations a month this choice makes for one person, on average.
    pub fn per_month(self) -> f64 {
        match self {
            Self::Monthly => 1.0,
            Self::EveryOtherMonth => 0.5,
            Self::TwiceMonthly => 2.0,
        }
    }
}

impl fmt::Display for Frequency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which round of a month.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RoundKind {
    /// The monthly round, for everyone taking part.
    #[default]
    Main,
    /// The second round of the month, for those who chose twice a month.
    MidMonth,
}

impl RoundKind {
    pub const ALL: [Self; 2] = [Self::Main, Self::MidMonth];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Main => "main",
            Self::MidMonth => "mid-month",
        }
    }

    pub fn parse(input: &str) -> Option<Self> {
        match input.trim() {
            "main" | "" => Some(Self::Main),
            "mid-month" | "mid" => Some(Self::MidMonth),
            _ => None,
        }
    }

    /// "January 2027" / "Mid-January 2027", to label a round in a list.
    pub fn label(self, month: super::Month) -> String {
        use super::Calendar;
        match self {
            Self::Main => month.long_name(),
            Self::MidMonth => format!("Mid-{}", month.long_name()),
        }
    }

    /// The round inside a sentence: "January 2027" / "mid-January 2027".
    pub fn in_sentence(self, month: super::Month) -> String {
        use super::Calendar;
        match self {
            Self::Main => month.long_name(),
            Self::MidMonth => format!("mid-{}", month.long_name()),
        }
    }

    /// "the January 2027 round" / "the mid-January 2027 round", with the month's long name.
    pub fn round_name(self, month_name: &str) -> String {
        match self {
            Self::Main => format!("the {month_name} round"),
            Self::MidMonth => format!("the mid-{month_name} round"),
        }
    }
}

impl fmt::Display for RoundKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_round_trip_and_read_as_people_write_them() {
        for frequency in Frequency::ALL {
            assert_eq!(Frequency::parse(frequency.as_str()), Ok(frequency));
        }
        assert_eq!(Frequency::parse("Twice-a-month"), Ok(Frequency::TwiceMonthly));
        assert_eq!(Frequency::parse(""), Ok(Frequency::Monthly));
        assert!(Frequency::parse("weekly").is_err());
        for kind in RoundKind::ALL {
            assert_eq!(RoundKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(RoundKind::MidMonth.round_name("January 2027"), "the mid-January 2027 round");
    }
}
