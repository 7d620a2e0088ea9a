//! Where and when a person can meet (matching specification v2.0): how they would like to meet
//! (in person, by video, or either) and the slots of the day or week they can usually take 20
//! minutes. Parsed once, from a form, a roster or a stored row.

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

    /// As a person reads it: "In person", "Video", "Either".
    pub fn label(self) -> &'static str {
        match self {
            Self::InPerson => "In person",
            Self::Video => "Video",
            Self::Either => "Either",
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

    fn bit(self) -> u8 {
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

    /// The slot with its hours in plain words, for the forms.
    pub fn label(self) -> &'static str {
        match self {
            Self::Early => "Early, before 09:00",
            Self::Midday => "Midday, 11:00 to 14:00",
            Self::Afternoon => "Afternoon, 14:00 to 17:00",
            Self::Evening => "Evening, after 17:00",
            Self::Night => "During night shifts",
            Self::Weekend => "At the weekend",
        }
    }

    /// The slot inside a sentence: "You all said midday works".
    pub fn phrase(self) -> &'static str {
        match self {
            Self::Early => "early, before 09:00",
            Self::Midday => "midday (11:00 to 14:00)",
            Self::Afternoon => "the afternoon (14:00 to 17:00)",
            Self::Evening => "the evening, after 17:00",
            Self::Night => "during a night shift",
            Self::Weekend => "the weekend",
        }
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
    /// only when both are given (trimmed, any case).
    pub fn in_person_with(&self, other: &Reach<'_>) -> bool {
        let same_site = match (self.site, other.site) {
            (Some(a), Some(b)) => a.trim().eq_ignore_ascii_case(b.trim()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_as_the_specification_spells_them() {
        assert_eq!(MeetFormat::parse(" In Person "), Ok(MeetFormat::InPerson));
        assert_eq!(MeetFormat::parse("in-person"), Ok(MeetFormat::InPerson));
        assert_eq!(MeetFormat::parse("VIDEO"), Ok(MeetFormat::Video));
        assert_eq!(MeetFormat::parse(""), Ok(MeetFormat::Either));
        assert!(MeetFormat::parse("phone").is_err());
        for format in MeetFormat::ALL {
            assert_eq!(MeetFormat::parse(format.as_str()), Ok(format));
        }
    }

    #[test]
    fn free_times_are_a_set_of_slots() {
        let times = FreeTimes::parse_list(" Midday; early;midday ;").unwrap();
        assert_eq!(times.slots().collect::<Vec<_>>(), vec![Slot::Early, Slot::Midday]);
        assert_eq!(times.to_list(), "early; midday");
        assert_eq!(FreeTimes::from_bits(times.bits()), Ok(times));
        assert!(FreeTimes::parse_list("lunch").unwrap_err().contains("lunch"));
        assert!(FreeTimes::parse_list("").unwrap().is_empty());
        assert!(FreeTimes::from_bits(64).is_err());
        let night = FreeTimes::from_slots([Slot::Night, Slot::Midday]);
        assert_eq!(times.shared(night).slots().collect::<Vec<_>>(), vec![Slot::Midday]);
    }

    #[test]
    fn a_group_meets_in_person_when_every_pair_can_else_by_video() {
        let north = |format| Reach { site: Some("North Campus"), format };
        let south = |format| Reach { site: Some(" north campus "), format };
        let anywhere = |format| Reach { site: None, format };
        assert_eq!(
            group_mode(&[north(MeetFormat::Either), south(MeetFormat::InPerson)]),
            Some(Mode::InPerson)
        );
        let other_site = Reach { site: Some("South Campus"), format: MeetFormat::Either };
        assert_eq!(group_mode(&[north(MeetFormat::Either), other_site]), Some(Mode::Video));
        assert_eq!(group_mode(&[north(MeetFormat::InPerson), other_site]), None);
        assert_eq!(group_mode(&[anywhere(MeetFormat::Video), north(MeetFormat::InPerson)]), None);
        assert_eq!(
            group_mode(&[anywhere(MeetFormat::Either), north(MeetFormat::Either), other_site]),
            Some(Mode::Video),
            "a trio meets in person only if all three pairs can"
        );
    }

    #[test]
    fn shared_times_need_everyone_to_have_given_some() {
        let midday = FreeTimes::from_slots([Slot::Midday, Slot::Early]);
        let late = FreeTimes::from_slots([Slot::Midday, Slot::Evening]);
        assert_eq!(shared_times(&[midday, late]).to_list(), "midday");
        assert!(shared_times(&[midday, FreeTimes::none()]).is_empty());
        assert!(shared_times(&[FreeTimes::from_slots([Slot::Night]), late]).is_empty());
    }
}
