//! Where and how people can meet (matching specification v2.0): a person's meeting format and
//! free times, a group's mode, and the rule for who can meet whom. The forms, the roster and the
//! `plan` command parse into these types (see `domain::meeting` for their words on the page).

use std::fmt;

/// How a person would like to meet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MeetFormat {
    InPerson,
    Video,
    /// The default: in person or by video.
    #[default]
    Either,
}
impl MeetFormat {
    pub const ALL: [Self; 3] = [Self::InPerson, Self::Video, Self::Either];

    /// `in person`, `video` or `either`, trimmed, any case (also `in-person`); empty is `either`.
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        match input.trim().to_ascii_lowercase().replace(['-', '_'], " ").as_str() {
            "" | "either" => Ok(Self::Either),
            "in person" => Ok(Self::InPerson),
            "video" => Ok(Self::Video),
            _ => Err("Choose in person, video or either."),
        }
    }

    /// The value stored and sent by the forms, as the specification spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InPerson => "in person",
            Self::Video => "video",
            Self::Either => "either",
        }
    }

    pub fn accepts_in_person(self) -> bool {
        self != Self::Video
    }

    pub fn accepts_video(self) -> bool {
        self != Self::InPerson
    }
}

impl fmt::Display for MeetFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A time a person can usually take 20 minutes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Slot {
    Early,
    Midday,
    Afternoon,
    Evening,
    Night,
    Weekend,
}
impl Slot {
    pub const ALL: [Self; 6] =
        [Self::Early, Self::Midday, Self::Afternoon, Self::Evening, Self::Night, Self::Weekend];

    pub(crate) fn bit(self) -> u8 {
        1 << (self as u8)
    }

    /// As the specification and the forms spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Early => "early",
            Self::Midday => "midday",
            Self::Afternoon => "afternoon",
            Self::Evening => "evening",
            Self::Night => "night",
            Self::Weekend => "weekend",
        }
    }

    pub fn parse(input: &str) -> Option<Self> {
        let input = input.trim();
        Self::ALL.into_iter().find(|s| s.as_str().eq_ignore_ascii_case(input))
    }
}

/// The slots a person gave; empty when they gave none (any time).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FreeTimes(u8);

impl FreeTimes {
    pub fn none() -> Self {
        Self(0)
    }

    pub fn from_slots(slots: impl IntoIterator<Item = Slot>) -> Self {
        Self(slots.into_iter().fold(0, |bits, slot| bits | slot.bit()))
    }

    /// `early; midday`: slots separated by `;`, trimmed, any case, order and repeats irrelevant.
    pub fn parse_list(input: &str) -> Result<Self, String> {
        let mut slots = Vec::new();
        for part in input.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            match Slot::parse(part) {
                Some(slot) => slots.push(slot),
                None => {
                    let names: Vec<&str> = Slot::ALL.iter().map(|s| s.as_str()).collect();
                    return Err(format!("{part:?} is not one of: {}.", names.join(", ")));
                }
            }
        }
        Ok(Self::from_slots(slots))
    }

    /// From the bits stored in the database; unknown bits are a decoding error.
    pub fn from_bits(bits: i64) -> Result<Self, String> {
        u8::try_from(bits)
            .ok()
            .filter(|b| b >> Slot::ALL.len() == 0)
            .map(Self)
            .ok_or_else(|| format!("{bits} is not a set of free times"))
    }

    pub fn bits(self) -> i64 {
        i64::from(self.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn contains(self, slot: Slot) -> bool {
        self.0 & slot.bit() != 0
    }

    pub fn slots(self) -> impl Iterator<Item = Slot> {
        Slot::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    /// The slots both sets have.
    pub fn shared(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }

    /// `early; midday`, as a roster or an export writes it.
    pub fn to_list(self) -> String {
        self.slots().map(Slot::as_str).collect::<Vec<_>>().join("; ")
    }
}

/// How a group meets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    InPerson,
    Video,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InPerson => "in person",
            Self::Video => "video",
        }
    }

    pub fn parse(input: &str) -> Option<Self> {
        match input.trim() {
            "in person" => Some(Self::InPerson),
            "video" => Some(Self::Video),
            _ => None,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where and how one person can meet: their site (if given) and format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reach<'a> {
    pub site: Option<&'a str>,
    pub format: MeetFormat,
}

impl Reach<'_> {
    /// Whether the two can meet in person: both accept it and their sites are equal, compared
    /// only when both are given and not blank (trimmed, any case).
    pub fn in_person_with(&self, other: &Reach<'_>) -> bool {
        let given = |site: Option<&str>| site.map(str::trim).filter(|s| !s.is_empty()).map(str::to_lowercase);
        let same_site = match (given(self.site), given(other.site)) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        self.format.accepts_in_person() && other.format.accepts_in_person() && same_site
    }

    pub fn video_with(&self, other: &Reach<'_>) -> bool {
        self.format.accepts_video() && other.format.accepts_video()
    }
}

/// How a group meets: in person when every pair can, else by video when every pair can; `None`
/// when there is no mode common to all.
pub fn group_mode(members: &[Reach<'_>]) -> Option<Mode> {
    let pairs = || members.iter().enumerate().flat_map(|(i, a)| members[i + 1..].iter().map(move |b| (a, b)));
    if pairs().all(|(a, b)| a.in_person_with(b)) {
        Some(Mode::InPerson)
    } else if pairs().all(|(a, b)| a.video_with(b)) {
        Some(Mode::Video)
    } else {
        None
    }
}

/// The slots every member gave (empty when anyone gave none: any time suits them).
pub fn shared_times(times: &[FreeTimes]) -> FreeTimes {
    let given: Vec<FreeTimes> = times.iter().copied().filter(|t| !t.is_empty()).collect();
    if given.len() < times.len() || given.is_empty() {
        return FreeTimes::none();
    }
    given.iter().fold(given[0], |shared, t| shared.shared(*t))
}
