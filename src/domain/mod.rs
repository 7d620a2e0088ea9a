//! Values a person types, parsed once at the edge into types that cannot hold an invalid value.
//!
//! Each `parse` returns the message shown next to the form field when the input is refused.

pub mod calendar;
pub mod frequency;
pub mod ids;
pub mod led_to;
pub mod meeting;
pub mod schedule;

use std::fmt;

pub use crate::matching::{Level, Month};
pub use calendar::Calendar;
pub use frequency::{Frequency, RoundKind};
pub use ids::{GroupId, RoundId, UserId};
pub use led_to::LedTo;
pub use meeting::{FreeTimes, MeetFormat, Mode, Reach, Slot};

/// Refuses text the databases cannot hold. PostgreSQL's `text` refuses U+0000 (NUL) outright;
/// SQLite stores it, but its string functions and comparisons stop at it, so both backends
/// refuse it alike. Every other character is stored as given (on PostgreSQL, because
/// [`crate::store::Store::connect`] insists on a UTF8 database). The message follows the name
/// of the field or cell.
pub fn storable(text: &str) -> Result<&str, &'static str> {
    if text.contains('\0') {
        return Err("holds a NUL character (code 0), which Coffee Rounds cannot store. It usually comes \
                    from copying text out of another program: type the text again without it.");
    }
    Ok(text)
}

/// An email address: trimmed, lower-cased, one `@`, a dotted domain, no spaces.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let email = input.trim().to_lowercase();
        if email.is_empty() {
            return Err("Enter your work email address.");
        }
        if email.chars().count() > 254 {
            return Err("That email address is too long.");
        }
        let Some((local, domain)) = email.split_once('@') else {
            return Err("Enter an email address like name@hospital.org.");
        };
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '.');
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.chars().any(|c| c.is_whitespace() || c.is_control() || "<>()[],;:\\\"@".contains(c));
        if !(domain_ok && local_ok) {
            return Err("Enter an email address like name@hospital.org.");
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, d)| d)
    }

    /// Whether the domain is in `allowed` (an empty list allows any domain).
    pub fn is_allowed(&self, allowed: &[String]) -> bool {
        allowed.is_empty() || allowed.iter().any(|d| d == self.domain())
    }

    /// `j•••@hospital.org`, for logs.
    pub fn masked(&self) -> String {
        let (local, domain) = self.0.split_once('@').unwrap_or((&self.0, ""));
        let first: String = local.chars().take(1).collect();
        format!("{first}•••@{domain}")
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub const PASSWORD_MIN: usize = 12;
pub const PASSWORD_MAX: usize = 128;

/// Passwords that are long enough but among the most common, refused outright.
const COMMON_PASSWORDS: &[&str] = &[
    "123456789012",
    "1234567890123",
    "12345678901234",
    "123123123123",
    "111111111111",
    "000000000000",
    "passwordpassword",
    "password1234",
    "password12345",
    "password123456",
    "password123!",
    "qwertyuiopasdf",
    "qwertyuiop12",
    "qwertyuiop123",
    "qwerty123456",
    "1q2w3e4r5t6y",
    "1qaz2wsx3edc",
    "iloveyou1234",
    "welcome12345",
    "welcome123456",
    "letmein12345",
    "abc123abc123",
    "abcdefghijkl",
    "changeme1234",
    "administrator",
    "trustno1trustno1",
    "football1234",
    "baseball1234",
    "sunshine1234",
    "princess1234",
    "starwars1234",
    "monkey123456",
    "dragon123456",
    "superman1234",
    "hospital1234",
    "coffeerounds",
    "coffeerounds1",
];

/// A new password: 12 to 128 characters, not one of the most common ones. No other rules.
pub struct Password(String);

impl Password {
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let length = input.chars().count();
        if length < PASSWORD_MIN {
            return Err("Use at least 12 characters. A few unrelated words make a strong password.");
        }
        if length > PASSWORD_MAX {
            return Err("Use at most 128 characters.");
        }
        if COMMON_PASSWORDS.contains(&input.to_lowercase().as_str()) {
            return Err("That password is one of the most common ones. Choose another.");
        }
        Ok(Self(input.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

/// A person's name as shown to their coffee partners: 1 to 100 characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let name = input.split_whitespace().collect::<Vec<_>>().join(" ");
        if name.is_empty() {
            return Err("Enter your name as colleagues know you.");
        }
        if name.chars().count() > 100 {
            return Err("Use at most 100 characters.");
        }
        if name.chars().any(char::is_control) {
            return Err("Use letters, spaces and punctuation only.");
        }
        Ok(Self(name))
    }
}

impl PersonName {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first word, for a greeting.
    pub fn first(&self) -> &str {
        self.0.split_whitespace().next().unwrap_or(&self.0)
    }
}

impl PartialEq<&str> for PersonName {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl fmt::Display for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What a person says about themselves: the fields of the profile form, of a sign-up and of a
/// roster row, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    pub name: PersonName,
    /// A profession from the program's list, in the list's spelling.
    pub role: String,
    pub level: Level,
    /// A department from the list, or one typed under "Other".
    pub department: String,
    /// A site from the program's list; `None` when the program lists fewer than two.
    pub site: Option<String>,
    pub format: MeetFormat,
    pub times: FreeTimes,
    pub frequency: Frequency,
}

/// The default career stages of the matching specification: level, name, examples.
pub const STAGES: &[(Level, &str, &str)] = &[
    (Level(0), "Student", "medical, nursing, PA or pharmacy student"),
    (Level(1), "Trainee", "intern, resident, new graduate nurse"),
    (Level(2), "Early career", "fellow, junior attending, first years in post"),
    (Level(3), "Mid career", ""),
    (Level(4), "Senior", ""),
    (Level(5), "Leader", "chief, chair, director, executive"),
];

/// The name of a career stage, or the number for a level outside the default table.
pub fn stage_name(level: Level) -> String {
    STAGES
        .iter()
        .find(|(l, _, _)| *l == level)
        .map_or_else(|| format!("Level {}", level.0), |(_, name, _)| (*name).to_owned())
}

/// A career stage chosen from the list.
pub fn parse_level(input: &str) -> Result<Level, &'static str> {
    Level::parse(input)
        .ok()
        .filter(|level| STAGES.iter().any(|(l, _, _)| l == level))
        .ok_or("Choose your career stage.")
}

/// A profession chosen from the program's list; returns the list's spelling.
pub fn parse_role(input: &str, roles: &[String]) -> Result<String, &'static str> {
    let input = input.trim();
    roles.iter().find(|r| r.eq_ignore_ascii_case(input)).cloned().ok_or("Choose your profession.")
}

/// Value of the department list's "other" choice.
pub const OTHER_DEPARTMENT: &str = "__other";

/// A department from the program's list, or, with "other", one the person types (2 to 80
/// characters; an entry that matches a listed name takes the list's spelling).
pub fn parse_department(choice: &str, other: &str, departments: &[String]) -> Result<String, &'static str> {
    let choice = choice.trim();
    let typed = if choice == OTHER_DEPARTMENT {
        let typed = other.split_whitespace().collect::<Vec<_>>().join(" ");
        match typed.chars().count() {
            0 => return Err("Type the name of your department."),
            1 => return Err("Type the full name of your department."),
            81.. => return Err("Use at most 80 characters."),
            _ if typed.chars().any(char::is_control) => {
                return Err("Use letters, spaces and punctuation only.");
            }
            _ => typed,
        }
    } else {
        choice.to_owned()
    };
    if let Some(listed) = departments.iter().find(|d| d.to_lowercase() == typed.to_lowercase()) {
        return Ok(listed.clone());
    }
    if choice == OTHER_DEPARTMENT {
        Ok(typed)
    } else {
        Err("Choose your department, or choose Other and type it.")
    }
}

/// A site from the program's list, returned in the list's spelling. The question is asked only
/// when the program lists more than one site, and then it must be answered; otherwise no site is
/// kept (everyone is at the one site, or sites do not matter).
pub fn parse_site(input: &str, sites: &[String]) -> Result<Option<String>, &'static str> {
    if sites.len() < 2 {
        return Ok(None);
    }
    let input = input.trim();
    sites.iter().find(|s| s.eq_ignore_ascii_case(input)).cloned().map(Some).ok_or("Choose your site.")
}

/// The name of a department or profession on the program's lists: 2 to 80 characters, spaces
/// tidied, no control characters.
pub fn parse_list_entry(input: &str) -> Result<String, &'static str> {
    let name = input.split_whitespace().collect::<Vec<_>>().join(" ");
    match name.chars().count() {
        0 | 1 => Err("Write a name of at least 2 characters."),
        81.. => Err("Use at most 80 characters."),
        _ if name.chars().any(char::is_control) => Err("Use letters, spaces and punctuation only."),
        _ => Ok(name),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn emails_are_normalised() {
        assert_eq!(Email::parse("  Jo.Doe@Hospital.ORG ").unwrap().as_str(), "jo.doe@hospital.org");
        for bad in
            ["", "jo", "jo@", "@hospital.org", "jo@hospital", "jo doe@hospital.org", "jo@hos pital.org"]
        {
            assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn domain_allow_list_is_exact() {
        let email = Email::parse("a@hospital.org").unwrap();
        assert!(email.is_allowed(&[]));
        assert!(email.is_allowed(&["hospital.org".into()]));
        assert!(!email.is_allowed(&["evilhospital.org".into(), "org".into()]));
    }

    #[test]
    fn password_rules_are_length_and_commonness_only() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse(&"x".repeat(129)).is_err());
        assert!(Password::parse("Password1234").is_err());
        assert!(Password::parse("correct horse battery").is_ok());
        assert!(Password::parse("aaaaaaaaaaaa").is_ok());
    }

    #[test]
    fn other_department_is_typed_and_matched_to_the_list() {
        let list = vec!["Cardiology".to_owned()];
        assert_eq!(parse_department("Cardiology", "", &list).unwrap(), "Cardiology");
        assert_eq!(parse_department(OTHER_DEPARTMENT, " cardiology ", &list).unwrap(), "Cardiology");
        assert_eq!(parse_department(OTHER_DEPARTMENT, "Wound  care", &list).unwrap(), "Wound care");
        assert!(parse_department(OTHER_DEPARTMENT, "", &list).is_err());
        assert!(parse_department("Made up", "", &list).is_err());
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in any::<String>(), t in any::<String>()) {
            let _ = Email::parse(&s);
            let _ = Password::parse(&s);
            let _ = PersonName::parse(&s);
            let _ = parse_level(&s);
            let _ = parse_department(&s, &t, &["Cardiology".to_owned()]);
            prop_assert_eq!(storable(&s).is_ok(), !s.contains('\0'));
        }

        #[test]
        fn a_parsed_email_parses_to_itself(s in "[a-zA-Z0-9._%+-]{1,20}@[a-z0-9-]{1,10}\\.[a-z]{2,6}") {
            let email = Email::parse(&s).unwrap();
            prop_assert_eq!(Email::parse(email.as_str()).unwrap(), email);
        }
    }
}
