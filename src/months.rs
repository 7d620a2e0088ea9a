//! The calendar side of months: which month a date falls in, the first Monday rounds go out on,
//! and month names for people. The `Month` type itself is the matcher's.

use time::{Date, Weekday};

pub use crate::matching::Month;

/// Calendar operations on [`Month`].
pub trait Calendar: Sized {
    /// The month `date` falls in.
    fn of(date: Date) -> Self;
    /// The month `n` months later (earlier for negative `n`).
    fn plus(self, n: i32) -> Self;
    /// The first Monday of the month, the day rounds go out.
    fn first_monday(self) -> Date;
    /// The month of the next round after `today`: this month until its first Monday has passed,
    /// then the next one.
    fn next_round(today: Date) -> Self;
    /// "January 2027".
    fn long_name(self) -> String;
}

fn first_day(month: Month) -> Date {
    let m = time::Month::try_from(month.month()).unwrap_or(time::Month::January);
    Date::from_calendar_date(month.year(), m, 1).unwrap_or(Date::MIN)
}

impl Calendar for Month {
    fn of(date: Date) -> Self {
        Month::new(date.year(), date.month() as u8).unwrap_or_else(|| Month::new(2000, 1).expect("valid"))
    }

    fn plus(self, n: i32) -> Self {
        let mut month = self;
        for _ in 0..n.unsigned_abs() {
            month = if n > 0 { month.next() } else { month.prev() };
        }
        month
    }

    fn first_monday(self) -> Date {
        let first = first_day(self);
        let offset = (7 + 1 - i64::from(first.weekday().number_from_monday())) % 7;
        first + time::Duration::days(offset)
    }

    fn next_round(today: Date) -> Self {
        let this = Self::of(today);
        if today < this.first_monday() { this } else { this.plus(1) }
    }

    fn long_name(self) -> String {
        format!("{} {}", first_day(self).month(), self.year())
    }
}

/// Whether `date` is a Monday (for tests of the schedule).
pub fn is_monday(date: Date) -> bool {
    date.weekday() == Weekday::Monday
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    #[test]
    fn months_count_across_years() {
        let m = Month::parse("2026-11").unwrap();
        assert_eq!(m.plus(2).to_string(), "2027-01");
        assert_eq!(m.plus(-11).to_string(), "2025-12");
    }

    #[test]
    fn the_next_round_is_this_month_until_its_first_monday() {
        assert_eq!(Month::of(date!(2026 - 12 - 01)).first_monday(), date!(2026 - 12 - 07));
        assert_eq!(Month::of(date!(2026 - 06 - 10)).first_monday(), date!(2026 - 06 - 01));
        assert!((1..=12).all(|m| is_monday(Month::new(2027, m).unwrap().first_monday())));
        assert_eq!(Month::next_round(date!(2026 - 12 - 06)).to_string(), "2026-12");
        assert_eq!(Month::next_round(date!(2026 - 12 - 07)).to_string(), "2027-01");
        assert_eq!(Month::next_round(date!(2026 - 11 - 25)).to_string(), "2026-12");
        assert_eq!(Month::of(date!(2026 - 12 - 01)).long_name(), "December 2026");
    }
}
