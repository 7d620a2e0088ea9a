//! Where and when a person can meet (matching specification v2.0): how they would like to meet
//! (in person, by video, or either) and the slots of the day or week they can usually take 20
//! minutes. The types and the rule for who can meet whom belong to the matcher; this module adds
//! their words on the page.

pub use crate::matching::meeting::{FreeTimes, MeetFormat, Mode, Reach, Slot, group_mode, shared_times};

impl MeetFormat {
    /// As a person reads it: "In person", "Video", "Either".
    pub fn label(self) -> &'static str {
        match self {
            Self::InPerson => "In person",
            Self::Video => "Video",
            Self::Either => "Either",
        }
    }
}

impl Slot {
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
