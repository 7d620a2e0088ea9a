//! The calendar side of months: which month a date falls in, month arithmetic, and month names
//! for people. The `Month` type itself is the matcher's (the bottom layer); when rounds fall due
//! is the schedule's ([`super::schedule`]).

use time::Date;

use super::Month;

/// Calendar operations on [`Month`].
pub trait Calendar: Sized {
    /// The month `date` falls in.
    fn of(date: Date) -> Self;
    /// The month `n` months later (earlier for negative `n`).
    fn plus(self, n: i32) -> Self;
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

    fn long_name(self) -> String {
        format!("{} {}", first_day(self).month(), self.year())
    }
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    #[test]
    fn months_count_across_years_and_have_names() {
        let m = Month::parse("2026-11").unwrap();
        assert_eq!(m.plus(2).to_string(), "2027-01");
        assert_eq!(m.plus(-11).to_string(), "2025-12");
        assert_eq!(Month::of(date!(2026 - 12 - 01)).long_name(), "December 2026");
    }
}
