//! Calendar months (`YYYY-MM`), the unit rounds, pauses and history are counted in.

use std::{fmt, str::FromStr};

use time::{Date, Weekday};

/// A calendar month.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    /// 1 to 12.
    month: u8,
}

impl Month {
    pub fn new(year: i32, month: u8) -> Option<Self> {
        (1..=12).contains(&month).then_some(Self { year, month })
    }

    pub fn of(date: Date) -> Self {
        Self { year: date.year(), month: date.month() as u8 }
    }

    /// The month `n` months later (earlier for negative `n`).
    pub fn plus(self, n: i32) -> Self {
        let index = self.year * 12 + i32::from(self.month) - 1 + n;
        Self { year: index.div_euclid(12), month: (index.rem_euclid(12) + 1) as u8 }
    }

    /// The first Monday of the month, the day rounds go out.
    pub fn first_monday(self) -> Date {
        let month = time::Month::try_from(self.month).unwrap_or(time::Month::January);
        let mut day = Date::from_calendar_date(self.year, month, 1).unwrap_or(Date::MIN);
        while day.weekday() != Weekday::Monday {
            day = day.next_day().unwrap_or(day);
        }
        day
    }

    /// The month of the next round after `today`: this month until its first Monday has
    /// passed, then the next one.
    pub fn next_round(today: Date) -> Self {
        let this = Self::of(today);
        if today < this.first_monday() { this } else { this.plus(1) }
    }

    /// "January 2027".
    pub fn long_name(self) -> String {
        let month = time::Month::try_from(self.month).unwrap_or(time::Month::January);
        format!("{month} {}", self.year)
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for Month {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (year, month) = s.split_once('-').ok_or("expected YYYY-MM")?;
        if year.len() != 4
            || month.len() != 2
            || !year.bytes().chain(month.bytes()).all(|b| b.is_ascii_digit())
        {
            return Err("expected YYYY-MM");
        }
        let year: i32 = year.parse().map_err(|_| "expected YYYY-MM")?;
        let month: u8 = month.parse().map_err(|_| "expected YYYY-MM")?;
        Self::new(year, month).ok_or("the month must be 01 to 12")
    }
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    #[test]
    fn months_count_across_years() {
        let m: Month = "2026-11".parse().unwrap();
        assert_eq!(m.plus(2).to_string(), "2027-01");
        assert_eq!(m.plus(-11).to_string(), "2025-12");
        assert!("2026-13".parse::<Month>().is_err());
        assert!("2026-1".parse::<Month>().is_err());
    }

    #[test]
    fn the_next_round_is_this_month_until_its_first_monday() {
        assert_eq!(Month::of(date!(2026 - 12 - 07)).first_monday(), date!(2026 - 12 - 07));
        assert_eq!(Month::next_round(date!(2026 - 12 - 06)).to_string(), "2026-12");
        assert_eq!(Month::next_round(date!(2026 - 12 - 07)).to_string(), "2027-01");
        assert_eq!(Month::next_round(date!(2026 - 11 - 25)).to_string(), "2026-12");
        assert_eq!(Month::of(date!(2026 - 12 - 01)).long_name(), "December 2026");
    }
}
