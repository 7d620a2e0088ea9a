//! The monthly timetable: which day and time rounds go out in the program's time zone, and
//! the check-in day. A pure value: the round job (`rounds::schedule`) decides what to run with
//! it, the settings page edits it, the configuration gives its defaults.

use anyhow::{Context, bail};
use jiff::{Timestamp, Zoned, civil, tz::TimeZone};

use super::Month;

/// Which day of the month rounds go out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoundDay {
    FirstMonday,
    /// A fixed day, 1 to 28.
    Day(i8),
}

/// The monthly timetable.
#[derive(Clone, Debug)]
pub struct Schedule {
    pub tz: TimeZone,
    pub day: RoundDay,
    pub hour: i8,
    pub minute: i8,
    /// Day of the month the check-in goes out (after the round's day).
    pub checkin_day: i8,
}

impl Schedule {
    /// From `TIMEZONE`, `ROUND_DAY` (`first-monday` or 1–28), `ROUND_TIME` (`HH:MM`) and
    /// `CHECKIN_DAY` (8–28).
    pub fn parse(timezone: &str, day: &str, time: &str, checkin_day: &str) -> anyhow::Result<Self> {
        let tz = TimeZone::get(timezone.trim())
            .with_context(|| format!("TIMEZONE {timezone:?} is not a known time zone"))?;
        let day = match day.trim() {
            "first-monday" | "" => RoundDay::FirstMonday,
            n => match n.parse::<i8>() {
                Ok(d @ 1..=28) => RoundDay::Day(d),
                _ => bail!("ROUND_DAY must be first-monday or a day from 1 to 28"),
            },
        };
        let (hour, minute) = time
            .trim()
            .split_once(':')
            .and_then(|(h, m)| Some((h.parse::<i8>().ok()?, m.parse::<i8>().ok()?)))
            .filter(|(h, m)| (0..24).contains(h) && (0..60).contains(m))
            .context("ROUND_TIME must be HH:MM, such as 09:00")?;
        let checkin_day = match checkin_day.trim().parse::<i8>() {
            Ok(d @ 8..=28) => d,
            _ => bail!("CHECKIN_DAY must be a day from 8 to 28"),
        };
        Ok(Self { tz, day, hour, minute, checkin_day })
    }

    fn at(&self, month: Month, day: i8) -> Timestamp {
        let date = civil::date(month.year() as i16, month.month() as i8, day);
        date.at(self.hour, self.minute, 0, 0)
            .to_zoned(self.tz.clone())
            .map(|z| z.timestamp())
            .unwrap_or(Timestamp::UNIX_EPOCH)
    }

    /// When the round of `month` is due.
    pub fn round_due(&self, month: Month) -> Timestamp {
        let day = match self.day {
            RoundDay::Day(d) => d,
            RoundDay::FirstMonday => {
                let first = civil::date(month.year() as i16, month.month() as i8, 1);
                let offset = (7 + 1 - first.weekday().to_monday_one_offset()) % 7;
                1 + offset
            }
        };
        self.at(month, day)
    }

    /// When the check-in of `month`'s round is due.
    pub fn checkin_due(&self, month: Month) -> Timestamp {
        self.at(month, self.checkin_day)
    }

    /// The month `now` falls in, in the schedule's time zone.
    pub fn month_of(&self, now: Timestamp) -> Month {
        let local: Zoned = now.to_zoned(self.tz.clone());
        Month::new(i32::from(local.year()), local.month() as u8)
            .unwrap_or_else(|| Month::new(2000, 1).expect("valid"))
    }

    /// The month of the next round as of `now`: this month until its round is due, then the next.
    pub fn next_round(&self, now: Timestamp) -> Month {
        let this = self.month_of(now);
        if now < self.round_due(this) { this } else { this.next() }
    }

    /// The next moment after `now` something is due.
    pub fn next_wake(&self, now: Timestamp) -> Timestamp {
        let this = self.month_of(now);
        [self.round_due(this), self.checkin_due(this), self.round_due(this.next())]
            .into_iter()
            .filter(|t| *t > now)
            .min()
            .unwrap_or(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_are_due_on_the_first_monday_at_nine_local_time() {
        let schedule = Schedule::parse("Europe/Paris", "first-monday", "09:00", "15").unwrap();
        let december = Month::parse("2026-12").unwrap();
        assert_eq!(schedule.round_due(december).to_string(), "2026-12-07T08:00:00Z");
        let june = Month::parse("2026-06").unwrap();
        assert_eq!(schedule.round_due(june).to_string(), "2026-06-01T07:00:00Z");
        assert_eq!(schedule.checkin_due(december).to_string(), "2026-12-15T08:00:00Z");
    }

    #[test]
    fn the_next_wake_is_the_nearest_due_time_ahead() {
        let schedule = Schedule::parse("UTC", "first-monday", "09:00", "15").unwrap();
        let now: Timestamp = "2026-12-10T12:00:00Z".parse().unwrap();
        assert_eq!(schedule.next_wake(now).to_string(), "2026-12-15T09:00:00Z");
        let later: Timestamp = "2026-12-20T12:00:00Z".parse().unwrap();
        assert_eq!(schedule.next_wake(later).to_string(), "2027-01-04T09:00:00Z");
    }

    #[test]
    fn the_next_round_is_this_month_until_its_round_is_due() {
        let schedule = Schedule::parse("America/New_York", "first-monday", "09:00", "15").unwrap();
        let next = |t: &str| schedule.next_round(t.parse().unwrap()).to_string();
        // 09:00 in New York on Monday 7 December 2026 is 14:00 UTC.
        assert_eq!(next("2026-12-07T13:59:00Z"), "2026-12");
        assert_eq!(next("2026-12-07T14:00:00Z"), "2027-01");
        assert_eq!(next("2026-11-25T12:00:00Z"), "2026-12");
        let fixed = Schedule::parse("UTC", "20", "09:00", "25").unwrap();
        assert_eq!(fixed.next_round("2026-12-10T12:00:00Z".parse().unwrap()).to_string(), "2026-12");
    }

    #[test]
    fn bad_settings_are_refused_with_the_variable_named() {
        assert!(
            Schedule::parse("Mars/Olympus", "first-monday", "09:00", "15")
                .unwrap_err()
                .to_string()
                .contains("TIMEZONE")
        );
        assert!(Schedule::parse("UTC", "31", "09:00", "15").unwrap_err().to_string().contains("ROUND_DAY"));
        assert!(Schedule::parse("UTC", "1", "9", "15").unwrap_err().to_string().contains("ROUND_TIME"));
        assert!(Schedule::parse("UTC", "1", "09:00", "3").unwrap_err().to_string().contains("CHECKIN_DAY"));
    }
}
