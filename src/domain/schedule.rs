//! The monthly timetable: which day and time the monthly round and the mid-month round go out in
//! the program's time zone, and their check-ins. A pure value: the round job (`rounds::schedule`) decides what to run with
//! it, the settings page edits it, the configuration gives its defaults.

use anyhow::{Context, bail};
use jiff::{Timestamp, Zoned, civil, tz::TimeZone};

use super::{Month, RoundKind};

/// Which day of the month a round goes out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoundDay {
    FirstMonday,
    ThirdMonday,
    /// A fixed day, 1 to 28.
    Day(i8),
}

impl RoundDay {
    /// `first-monday`, `third-monday` or the day's number.
    pub fn as_setting(self) -> String {
        match self {
            Self::FirstMonday => "first-monday".to_owned(),
            Self::ThirdMonday => "third-monday".to_owned(),
            Self::Day(d) => d.to_string(),
        }
    }

    /// The day of `month` it names.
    fn day_in(self, month: Month) -> i8 {
        let monday = |nth: i8| {
            let first = civil::date(month.year() as i16, month.month() as i8, 1);
            let offset = (7 + 1 - first.weekday().to_monday_one_offset()) % 7;
            1 + offset + 7 * (nth - 1)
        };
        match self {
            Self::Day(d) => d,
            Self::FirstMonday => monday(1),
            Self::ThirdMonday => monday(3),
        }
    }
}

/// The mid-month round's check-in goes out this many days after it.
pub const MID_CHECKIN_AFTER_DAYS: i64 = 7;

/// The monthly timetable.
#[derive(Clone, Debug)]
pub struct Schedule {
    pub tz: TimeZone,
    pub day: RoundDay,
    pub hour: i8,
    pub minute: i8,
    /// Day of the month the check-in goes out (after the round's day).
    pub checkin_day: i8,
    /// Day of the month the mid-month round goes out, at the same time of day.
    pub mid_day: RoundDay,
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
        Ok(Self { tz, day, hour, minute, checkin_day, mid_day: RoundDay::ThirdMonday })
    }

    /// With the mid-month round on `day` (`MID_ROUND_DAY`: `third-monday` or 8 to 21), which
    /// must fall at least a week after the monthly round in every month.
    pub fn with_mid_day(mut self, day: &str) -> anyhow::Result<Self> {
        self.mid_day = match day.trim() {
            "third-monday" | "" => RoundDay::ThirdMonday,
            n => match n.parse::<i8>() {
                Ok(d @ 8..=21) => RoundDay::Day(d),
                _ => bail!("MID_ROUND_DAY must be third-monday or a day from 8 to 21"),
            },
        };
        let year = Month::new(2027, 1).expect("a valid month");
        let too_close = (0..12)
            .map(|n| (0..n).fold(year, |m, _| m.next()))
            .any(|month| self.mid_day.day_in(month) - self.day.day_in(month) < 7);
        if too_close {
            bail!("MID_ROUND_DAY must fall at least a week after ROUND_DAY");
        }
        Ok(self)
    }

    fn at(&self, month: Month, day: i8) -> Timestamp {
        let date = civil::date(month.year() as i16, month.month() as i8, day);
        date.at(self.hour, self.minute, 0, 0)
            .to_zoned(self.tz.clone())
            .map(|z| z.timestamp())
            .unwrap_or(Timestamp::UNIX_EPOCH)
    }

    /// When the monthly round of `month` is due.
    pub fn round_due(&self, month: Month) -> Timestamp {
        self.at(month, self.day.day_in(month))
    }

    /// When the `kind` round of `month` is due.
    pub fn due(&self, month: Month, kind: RoundKind) -> Timestamp {
        match kind {
            RoundKind::Main => self.round_due(month),
            RoundKind::MidMonth => self.at(month, self.mid_day.day_in(month)),
        }
    }

    /// When the check-in of `month`'s monthly round is due.
    pub fn checkin_due(&self, month: Month) -> Timestamp {
        self.at(month, self.checkin_day)
    }

    /// When the check-in of the `kind` round of `month` is due.
    pub fn checkin_due_of(&self, month: Month, kind: RoundKind) -> Timestamp {
        match kind {
            RoundKind::Main => self.checkin_due(month),
            RoundKind::MidMonth => {
                let due = self.due(month, kind);
                due.checked_add(jiff::SignedDuration::from_hours(24 * MID_CHECKIN_AFTER_DAYS)).unwrap_or(due)
            }
        }
    }

    /// The month `now` falls in, in the schedule's time zone.
    pub fn month_of(&self, now: Timestamp) -> Month {
        let local: Zoned = now.to_zoned(self.tz.clone());
        Month::new(i32::from(local.year()), local.month() as u8)
            .unwrap_or_else(|| Month::new(2000, 1).expect("valid"))
    }

    /// The month of the next monthly round as of `now`: this month until its round is due, then
    /// the next.
    pub fn next_round(&self, now: Timestamp) -> Month {
        self.next_of(now, RoundKind::Main)
    }

    /// The month of the next `kind` round as of `now`.
    pub fn next_of(&self, now: Timestamp, kind: RoundKind) -> Month {
        let this = self.month_of(now);
        if now < self.due(this, kind) { this } else { this.next() }
    }

    /// The next moment after `now` something is due.
    pub fn next_wake(&self, now: Timestamp) -> Timestamp {
        let this = self.month_of(now);
        RoundKind::ALL
            .into_iter()
            .flat_map(|kind| {
                [self.due(this, kind), self.checkin_due_of(this, kind), self.due(this.next(), kind)]
            })
            .filter(|t| *t > now)
            .min()
            .unwrap_or(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mid_month_round_is_due_on_the_third_monday_and_its_check_in_a_week_later() {
        let schedule = Schedule::parse("UTC", "first-monday", "09:00", "15").unwrap();
        let december = Month::parse("2026-12").unwrap();
        assert_eq!(schedule.due(december, RoundKind::MidMonth).to_string(), "2026-12-21T09:00:00Z");
        assert_eq!(
            schedule.checkin_due_of(december, RoundKind::MidMonth).to_string(),
            "2026-12-28T09:00:00Z"
        );
        let fixed = schedule.clone().with_mid_day("18").unwrap();
        assert_eq!(fixed.due(december, RoundKind::MidMonth).to_string(), "2026-12-18T09:00:00Z");
        assert!(schedule.clone().with_mid_day("25").unwrap_err().to_string().contains("MID_ROUND_DAY"));
        let late = Schedule::parse("UTC", "20", "09:00", "25").unwrap();
        assert!(late.with_mid_day("third-monday").unwrap_err().to_string().contains("a week after"));
        let now: Timestamp = "2026-12-10T12:00:00Z".parse().unwrap();
        assert_eq!(schedule.next_wake(now).to_string(), "2026-12-15T09:00:00Z");
        let after_checkin: Timestamp = "2026-12-16T12:00:00Z".parse().unwrap();
        assert_eq!(schedule.next_wake(after_checkin).to_string(), "2026-12-21T09:00:00Z");
        assert_eq!(schedule.next_of(after_checkin, RoundKind::MidMonth), december);
    }

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
        assert_eq!(schedule.next_wake(later).to_string(), "2026-12-21T09:00:00Z", "the mid-month round");
        let last: Timestamp = "2026-12-28T12:00:00Z".parse().unwrap();
        assert_eq!(schedule.next_wake(last).to_string(), "2027-01-04T09:00:00Z");
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
