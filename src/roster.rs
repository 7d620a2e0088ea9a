//! A roster CSV a coordinator uploads to invite people: parsed in one place into rows ready to
//! invite, and errors that name the line and column of every bad cell.

use std::collections::HashSet;

use crate::domain::{self, Email, PersonName, STAGES};

/// The columns a roster needs, with the other header names each may go by.
const COLUMNS: &[(&str, &[&str])] = &[
    ("email", &["email", "e-mail", "email address"]),
    ("name", &["name", "full name"]),
    ("profession", &["profession", "role"]),
    ("career_stage", &["career_stage", "career stage", "stage"]),
    ("department", &["department", "dept"]),
];

/// A person to invite.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RosterRow {
    /// Line of the file the row starts on (the header is line 1).
    pub line: u64,
    pub email: Email,
    pub name: String,
    pub role: String,
    pub level: i64,
    pub department: String,
}

/// A refused cell (or line, when `column` is 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    pub line: u64,
    /// 1-based column number; 0 when the error is about the whole line.
    pub column: usize,
    /// The column's header, as the file spells it.
    pub header: String,
    pub message: String,
}

/// What a roster file holds: the good rows, and an error for each bad one.
#[derive(Clone, Debug, Default)]
pub struct Roster {
    pub rows: Vec<RosterRow>,
    pub errors: Vec<RowError>,
    /// Lines with at least one error.
    pub bad_lines: usize,
}

/// A career stage by number (0–5) or by name ("Trainee").
fn parse_stage(input: &str) -> Result<i64, String> {
    let input = input.trim();
    if let Ok(level) = domain::parse_level(input) {
        return Ok(level);
    }
    STAGES.iter().find(|(_, name, _)| name.eq_ignore_ascii_case(input)).map(|(l, _, _)| *l).ok_or_else(|| {
        let names: Vec<&str> = STAGES.iter().map(|(_, n, _)| *n).collect();
        format!("Career stage {input:?} is not one of: {}.", names.join(", "))
    })
}

/// Turns the byte offsets where records start into line numbers, reading the text once: offsets
/// only grow, so each call counts the line breaks since the last.
struct Lines<'a> {
    text: &'a [u8],
    offset: usize,
    line: u64,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        Self { text: text.as_bytes(), offset: 0, line: 1 }
    }

    /// The 1-based line of the record that starts at byte `offset`. The csv reader counts a
    /// skipped blank line as the start of the next record, so line breaks there are passed over.
    fn at(&mut self, offset: u64) -> u64 {
        let mut end = usize::try_from(offset).unwrap_or(usize::MAX).min(self.text.len()).max(self.offset);
        while end < self.text.len() && matches!(self.text[end], b'\r' | b'\n') {
            end += 1;
        }
        self.line += self.text[self.offset..end].iter().filter(|b| **b == b'\n').count() as u64;
        self.offset = end;
        self.line
    }
}

/// Where a cell is, for its error.
struct Cell<'a> {
    line: u64,
    column: usize,
    header: &'a str,
}

impl Cell<'_> {
    /// The cell's parsed value, or `None` with its error added to `errors`.
    fn check<T>(&self, errors: &mut Vec<RowError>, parsed: Result<T, String>) -> Option<T> {
        parsed
            .map_err(|message| {
                errors.push(RowError {
                    line: self.line,
                    column: self.column,
                    header: self.header.to_owned(),
                    message,
                })
            })
            .ok()
    }
}

/// Parses `text` against the program's lists and allowed domains.
pub fn parse(text: &str, departments: &[String], roles: &[String], allowed_domains: &[String]) -> Roster {
    let mut roster = Roster::default();
    let mut reader =
        csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|h| h.trim_start_matches('\u{feff}').to_owned()).collect(),
        Err(err) => {
            roster.errors.push(RowError {
                line: 1,
                column: 0,
                header: String::new(),
                message: format!("The header line cannot be read: {err}."),
            });
            roster.bad_lines = 1;
            return roster;
        }
    };
    let mut index = Vec::new();
    for (column, aliases) in COLUMNS {
        match headers.iter().position(|h| aliases.iter().any(|a| h.eq_ignore_ascii_case(a))) {
            Some(i) => index.push(i),
            None => roster.errors.push(RowError {
                line: 1,
                column: 0,
                header: String::new(),
                message: format!("The header line has no {column} column (expected: email, name, profession, career_stage, department)."),
            }),
        }
    }
    if !roster.errors.is_empty() {
        roster.bad_lines = 1;
        return roster;
    }
    let mut seen: HashSet<String> = HashSet::new();
    let mut lines = Lines::new(text);
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(err) => {
                let line = err.position().map_or(0, |p| lines.at(p.byte()));
                roster.errors.push(RowError {
                    line,
                    column: 0,
                    header: String::new(),
                    message: format!("The line cannot be read: {err}."),
                });
                roster.bad_lines += 1;
                continue;
            }
        };
        let line = record.position().map_or(0, |p| lines.at(p.byte()));
        if record.iter().all(str::is_empty) {
            continue;
        }
        let mut errors = Vec::new();
        let at = |n: usize| {
            let i = index[n];
            (record.get(i).unwrap_or(""), Cell { line, column: i + 1, header: &headers[i] })
        };
        let (v, place) = at(0);
        let email = place.check(
            &mut errors,
            (|| {
                let email = Email::parse(v).map_err(str::to_owned)?;
                if !email.is_allowed(allowed_domains) {
                    return Err(format!("{v} is not at an allowed domain ({}).", allowed_domains.join(", ")));
                }
                if !seen.insert(email.as_str().to_owned()) {
                    return Err(format!("{v} appears on an earlier line."));
                }
                Ok(email)
            })(),
        );
        let (v, place) = at(1);
        let name =
            place.check(&mut errors, PersonName::parse(v).map(PersonName::into_inner).map_err(str::to_owned));
        let (v, place) = at(2);
        let role = place.check(
            &mut errors,
            domain::parse_role(v, roles)
                .map_err(|_| format!("Profession {v:?} is not on the list: {}.", roles.join(", "))),
        );
        let (v, place) = at(3);
        let level = place.check(&mut errors, parse_stage(v));
        let (v, place) = at(4);
        // Typed as under "Other": a listed name takes the list's spelling, any other is kept.
        let department = place.check(
            &mut errors,
            domain::parse_department(domain::OTHER_DEPARTMENT, v, departments)
                .map_err(|m| format!("Department: {m}")),
        );
        match (email, name, role, level, department) {
            (Some(email), Some(name), Some(role), Some(level), Some(department)) if errors.is_empty() => {
                roster.rows.push(RosterRow { line, email, name, role, level, department });
            }
            _ => {
                roster.bad_lines += 1;
                roster.errors.extend(errors);
            }
        }
    }
    roster
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lists() -> (Vec<String>, Vec<String>) {
        (vec!["Cardiology".into(), "Pharmacy".into()], vec!["Physician".into(), "Nurse".into()])
    }

    #[test]
    fn good_rows_parse_and_bad_cells_name_their_line_and_column() {
        let (departments, roles) = lists();
        let text = "Email,Name,Profession,Career stage,Department\n\
                    ana@hospital.org,Ana Diaz,nurse,Trainee,cardiology\n\
                    not-an-email,Ben Okafor,Physician,2,Pharmacy\n\
                    \n\
                    cy@hospital.org,Cy Wu,Plumber,9,Cardiology\n\
                    ana@hospital.org,Ana Again,Nurse,1,Cardiology\n\
                    dee@other.org,Dee Lee,Nurse,1,Sleep medicine\n";
        let roster = parse(text, &departments, &roles, &["hospital.org".to_owned()]);
        assert_eq!(roster.rows.len(), 1);
        let ana = &roster.rows[0];
        assert_eq!(
            (ana.line, ana.role.as_str(), ana.level, ana.department.as_str()),
            (2, "Nurse", 1, "Cardiology")
        );
        let places: Vec<(u64, usize)> = roster.errors.iter().map(|e| (e.line, e.column)).collect();
        assert_eq!(places, vec![(3, 1), (5, 3), (5, 4), (6, 1), (7, 1)]);
        assert_eq!(roster.bad_lines, 4);
        assert_eq!(roster.errors[1].header, "Profession");
    }

    #[test]
    fn a_missing_column_is_reported_on_the_header_line() {
        let (departments, roles) = lists();
        let roster =
            parse("email,name,department\nana@hospital.org,Ana,Cardiology\n", &departments, &roles, &[]);
        assert!(roster.rows.is_empty());
        assert_eq!(roster.errors.len(), 2);
        assert!(roster.errors.iter().all(|e| e.line == 1));
    }

    #[test]
    fn an_unlisted_department_is_kept_as_typed() {
        let (departments, roles) = lists();
        let roster = parse(
            "email,name,role,stage,department\nana@x.org,Ana Diaz,Nurse,Senior,Sleep  medicine\n",
            &departments,
            &roles,
            &[],
        );
        assert_eq!(roster.rows[0].department, "Sleep medicine");
        assert_eq!(roster.rows[0].level, 4);
    }
}
