//! A roster CSV a coordinator uploads to invite people: parsed in one place into rows ready to
//! invite, and errors that name the line and column of every bad cell. Each line is one person,
//! so a cell must end on its line: a quote left open there is that line's error, and the next
//! line is read as the next person.

use std::collections::HashSet;

use crate::{
    domain::{self, Email, FreeTimes, Frequency, Level, MeetFormat, PersonName, Profile, STAGES},
    store::lists::Lists,
};

/// The columns a roster needs, with the other header names each may go by.
const COLUMNS: &[(&str, &[&str])] = &[
    ("email", &["email", "e-mail", "email address"]),
    ("name", &["name", "full name"]),
    ("profession", &["profession", "role"]),
    ("career_stage", &["career_stage", "career stage", "stage"]),
    ("department", &["department", "dept"]),
];

/// The columns a roster may have (matching specification v2.0); a missing one, or an empty cell,
/// means no site, either format, any time.
const OPTIONAL_COLUMNS: &[(&str, &[&str])] = &[
    ("site", &["site", "campus", "hospital"]),
    ("format", &["format", "meeting format", "meet"]),
    ("times", &["times", "free times", "free_times"]),
];

/// A person to invite.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RosterRow {
    /// Line of the file the row starts on (the header is line 1).
    pub line: u64,
    pub email: Email,
    pub profile: Profile,
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

/// A site cell: empty for none; otherwise a site on the program's list. With fewer than two
/// sites listed, the program does not tell sites apart and keeps none.
fn parse_site(input: &str, sites: &[String]) -> Result<Option<String>, String> {
    let input = input.trim();
    if input.is_empty() {
        return Ok(None);
    }
    match sites.iter().find(|s| s.eq_ignore_ascii_case(input)) {
        Some(_) if sites.len() < 2 => Ok(None),
        Some(site) => Ok(Some(site.clone())),
        None if sites.is_empty() => {
            Err(format!("Site {input:?}: the program lists no sites yet; add them in Settings first."))
        }
        None => Err(format!("Site {input:?} is not on the list: {}.", sites.join(", "))),
    }
}

/// A career stage by number (0–5) or by name ("Trainee").
fn parse_stage(input: &str) -> Result<Level, String> {
    let input = input.trim();
    if let Ok(level) = domain::parse_level(input) {
        return Ok(level);
    }
    STAGES.iter().find(|(_, name, _)| name.eq_ignore_ascii_case(input)).map(|(l, _, _)| *l).ok_or_else(|| {
        let names: Vec<&str> = STAGES.iter().map(|(_, n, _)| *n).collect();
        format!("Career stage {input:?} is not one of: {}.", names.join(", "))
    })
}

/// The lines of `text` with their 1-based numbers. `\n`, `\r\n` and a lone `\r` (old Mac
/// spreadsheets) each end a line, as they each end a record for the csv crate.
pub(crate) fn lines(text: &str) -> impl Iterator<Item = (u64, &str)> {
    let mut rest = text;
    let mut number = 0;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        number += 1;
        let (line, next) = match rest.find(['\r', '\n']) {
            Some(end) if rest[end..].starts_with("\r\n") => (&rest[..end], &rest[end + 2..]),
            Some(end) => (&rest[..end], &rest[end + 1..]),
            None => (rest, ""),
        };
        rest = next;
        Some((number, line))
    })
}

/// A quote that opens a cell and is still open at the end of its line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct OpenQuote {
    /// 0-based index of the cell it opens.
    pub(crate) cell: usize,
}

/// One line split into trimmed cells, read as RFC 4180 and the csv crate read it (a quote opens a
/// quoted cell only as the cell's first character, `""` inside it is one quote, text after the
/// closing quote joins the cell), except that a quoted cell must close on its own line: a roster
/// has one person per line, and a cell running on into the next lines would swallow those people.
pub(crate) fn split_line(line: &str) -> Result<Vec<String>, OpenQuote> {
    enum State {
        Start,
        Plain,
        Quoted,
        /// A quote seen inside a quoted cell: it either closes the cell or doubles into one quote.
        QuoteInQuoted,
    }
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut state = State::Start;
    for c in line.chars() {
        state = match (state, c) {
            (State::Start | State::Plain | State::QuoteInQuoted, ',') => {
                cells.push(cell.trim().to_owned());
                cell.clear();
                State::Start
            }
            (State::Start, '"') => State::Quoted,
            (State::Quoted, '"') => State::QuoteInQuoted,
            (State::QuoteInQuoted, '"') | (State::Quoted, _) => {
                cell.push(c);
                State::Quoted
            }
            (State::Start | State::Plain | State::QuoteInQuoted, _) => {
                cell.push(c);
                State::Plain
            }
        };
    }
    if let State::Quoted = state {
        return Err(OpenQuote { cell: cells.len() });
    }
    cells.push(cell.trim().to_owned());
    Ok(cells)
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
///
/// Each line is one person. A quote that opens a cell and is not closed on the same line is
/// reported at that line and cell, and the line is left out; the next line is read as the next
/// person, so one stray quote costs one row, never the rest of the file.
pub fn parse(text: &str, lists: &Lists, allowed_domains: &[String]) -> Roster {
    let Lists { departments, roles, sites } = lists;
    let mut roster = Roster::default();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // Blank lines are skipped, before the header as after it.
    let mut lines = lines(text).filter(|(_, line)| !line.trim().is_empty());
    let Some((header_line, header)) = lines.next() else {
        roster.errors.push(RowError {
            line: 1,
            column: 0,
            header: String::new(),
            message: "The file has no header line.".to_owned(),
        });
        roster.bad_lines = 1;
        return roster;
    };
    let headers = match split_line(header) {
        Ok(headers) => headers,
        Err(OpenQuote { cell }) => {
            roster.errors.push(RowError {
                line: header_line,
                column: 0,
                header: String::new(),
                message: format!(
                    "The header line cannot be read: the quote that opens column {} is not closed on the line.",
                    cell + 1
                ),
            });
            roster.bad_lines = 1;
            return roster;
        }
    };
    let position =
        |aliases: &[&str]| headers.iter().position(|h| aliases.iter().any(|a| h.eq_ignore_ascii_case(a)));
    let optional: Vec<Option<usize>> =
        OPTIONAL_COLUMNS.iter().map(|(_, aliases)| position(aliases)).collect();
    let mut index = Vec::new();
    for (column, aliases) in COLUMNS {
        match position(aliases) {
            Some(i) => index.push(i),
            None => roster.errors.push(RowError {
                line: header_line,
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
    let header_of = |i: usize| headers.get(i).map_or("beyond the header", String::as_str);
    let mut seen: HashSet<String> = HashSet::new();
    for (line, text) in lines {
        let record = match split_line(text) {
            Ok(record) => record,
            Err(OpenQuote { cell }) => {
                roster.errors.push(RowError {
                    line,
                    column: cell + 1,
                    header: header_of(cell).to_owned(),
                    message: "A quote opens this cell but is not closed on the same line, so the line \
                              was left out. Close the quote or remove it; the lines after it were read \
                              as their own rows."
                        .to_owned(),
                });
                roster.bad_lines += 1;
                continue;
            }
        };
        if record.iter().all(String::is_empty) {
            continue;
        }
        let cell = |i: usize| {
            (record.get(i).map_or("", String::as_str), Cell { line, column: i + 1, header: header_of(i) })
        };
        let at = |n: usize| cell(index[n]);
        // An optional column the file lacks reads as an empty cell.
        let maybe = |n: usize| optional[n].map(cell);
        // A cell the database cannot hold is refused for that reason alone, before its parser
        // gives a vaguer message about it.
        let mut errors = Vec::new();
        for (v, place) in (0..COLUMNS.len()).map(at).chain((0..OPTIONAL_COLUMNS.len()).filter_map(maybe)) {
            place.check(&mut errors, domain::storable(v).map_err(|why| format!("This cell {why}")));
        }
        if !errors.is_empty() {
            roster.bad_lines += 1;
            roster.errors.extend(errors);
            continue;
        }
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
        let name = place.check(&mut errors, PersonName::parse(v).map_err(str::to_owned));
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
        let site = match maybe(0) {
            Some((v, place)) => place.check(&mut errors, parse_site(v, sites)),
            None => Some(None),
        };
        let format = match maybe(1) {
            Some((v, place)) => {
                place.check(&mut errors, MeetFormat::parse(v).map_err(|m| format!("Format: {m}")))
            }
            None => Some(MeetFormat::Either),
        };
        let times = match maybe(2) {
            Some((v, place)) => {
                place.check(&mut errors, FreeTimes::parse_list(v).map_err(|m| format!("Times: {m}")))
            }
            None => Some(FreeTimes::none()),
        };
        match (email, name, role, level, department, site, format, times) {
            (
                Some(email),
                Some(name),
                Some(role),
                Some(level),
                Some(department),
                Some(site),
                Some(format),
                Some(times),
            ) if errors.is_empty() => {
                roster.rows.push(RosterRow {
                    line,
                    email,
                    profile: Profile {
                        name,
                        role,
                        level,
                        department,
                        site,
                        format,
                        times,
                        frequency: Frequency::Monthly,
                    },
                });
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

    fn lists() -> Lists {
        Lists {
            departments: vec!["Cardiology".into(), "Pharmacy".into()],
            roles: vec!["Physician".into(), "Nurse".into()],
            sites: vec!["North Campus".into(), "South Campus".into()],
        }
    }

    #[test]
    fn good_rows_parse_and_bad_cells_name_their_line_and_column() {
        let lists = lists();
        let text = "Email,Name,Profession,Career stage,Department\n\
                    ana@hospital.org,Ana Diaz,nurse,Trainee,cardiology\n\
                    not-an-email,Ben Okafor,Physician,2,Pharmacy\n\
                    \n\
                    cy@hospital.org,Cy Wu,Plumber,9,Cardiology\n\
                    ana@hospital.org,Ana Again,Nurse,1,Cardiology\n\
                    dee@other.org,Dee Lee,Nurse,1,Sleep medicine\n";
        let roster = parse(text, &lists, &["hospital.org".to_owned()]);
        assert_eq!(roster.rows.len(), 1);
        let ana = &roster.rows[0];
        assert_eq!(
            (ana.line, ana.profile.role.as_str(), ana.profile.level, ana.profile.department.as_str()),
            (2, "Nurse", Level(1), "Cardiology")
        );
        let places: Vec<(u64, usize)> = roster.errors.iter().map(|e| (e.line, e.column)).collect();
        assert_eq!(places, vec![(3, 1), (5, 3), (5, 4), (6, 1), (7, 1)]);
        assert_eq!(roster.bad_lines, 4);
        assert_eq!(roster.errors[1].header, "Profession");
    }

    #[test]
    fn an_unclosed_quote_costs_its_own_line_only() {
        let lists = lists();
        let allowed = ["hospital.org".to_owned()];
        // Mid-line: before, the rest of the file became one cell and one bad line.
        let text = "email,name,profession,career_stage,department\n\
                    ana@hospital.org,\"Ana Diaz,Nurse,1,Cardiology\n\
                    ben@hospital.org,Ben Okafor,Physician,2,Pharmacy\n\
                    cy@hospital.org,Cy Wu,Nurse,1,Cardiology\n";
        let roster = parse(text, &lists, &allowed);
        let places: Vec<(u64, usize, &str)> =
            roster.errors.iter().map(|e| (e.line, e.column, e.header.as_str())).collect();
        assert_eq!(places, [(2, 2, "name")]);
        assert!(roster.errors[0].message.contains("not closed on the same line"));
        let lines: Vec<u64> = roster.rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, [3, 4]);
        assert_eq!(roster.bad_lines, 1);

        // In the last column, followed by a short row: before, Ben became part of Ana's
        // department and was never invited.
        let text = "email,name,profession,career_stage,department\r\n\
                    ana@hospital.org,Ana Diaz,Nurse,1,\"Cardiology\r\n\
                    ben@hospital.org,Ben Okafor\r\n\
                    cy@hospital.org,Cy Wu,Nurse,1,\"Pharmacy\"\r\n";
        let roster = parse(text, &lists, &allowed);
        let places: Vec<(u64, usize, &str)> =
            roster.errors.iter().map(|e| (e.line, e.column, e.header.as_str())).collect();
        assert_eq!(
            places,
            [(2, 5, "department"), (3, 3, "profession"), (3, 4, "career_stage"), (3, 5, "department")]
        );
        assert_eq!(roster.rows.len(), 1);
        assert_eq!((roster.rows[0].line, roster.rows[0].profile.department.as_str()), (4, "Pharmacy"));

        // On the last line, with no line break after it, and in a column beyond the header.
        let text = "email,name,profession,career_stage,department\n\
                    ana@hospital.org,Ana,Nurse,1,Cardiology,\"note\n\
                    ben@hospital.org,Ben,Nurse,1,\"Pharmacy";
        let roster = parse(text, &lists, &allowed);
        let places: Vec<(u64, usize, &str)> =
            roster.errors.iter().map(|e| (e.line, e.column, e.header.as_str())).collect();
        assert_eq!(places, [(2, 6, "beyond the header"), (3, 5, "department")]);
        assert!(roster.rows.is_empty());
    }

    #[test]
    fn quoted_cells_that_close_on_their_line_read_as_before() {
        assert_eq!(
            split_line(r#""Diaz, Ana" ,"Say ""hi""",x"y,"a"b , "#).unwrap(),
            ["Diaz, Ana", r#"Say "hi""#, r#"x"y"#, "ab", ""]
        );
        assert_eq!(split_line(r#"a,"b"#), Err(OpenQuote { cell: 1 }));
        assert_eq!(split_line(r#""a"",b"#), Err(OpenQuote { cell: 0 }));
    }

    #[test]
    fn old_mac_line_breaks_and_blank_lines_keep_line_numbers() {
        let lists = lists();
        let text = "\u{feff}email,name,profession,career_stage,department\r\r\
                    bad,Ana,Nurse,1,Cardiology\rcy@hospital.org,Cy,Nurse,1,Cardiology\r\n";
        let roster = parse(text, &lists, &[]);
        assert_eq!(roster.errors.iter().map(|e| (e.line, e.column)).collect::<Vec<_>>(), [(3, 1)]);
        assert_eq!(roster.rows[0].line, 4);
    }

    #[test]
    fn a_cell_the_database_cannot_hold_is_refused_as_such() {
        let lists = lists();
        let text =
            "email,name,profession,career_stage,department\nana@hospital.org,Ana\0Diaz,Nurse,1,Cardiology\n";
        let roster = parse(text, &lists, &[]);
        assert_eq!(roster.errors.len(), 1);
        assert_eq!((roster.errors[0].line, roster.errors[0].column), (2, 2));
        assert!(roster.errors[0].message.contains("NUL"), "{}", roster.errors[0].message);
    }

    proptest::proptest! {
        /// Where a line's quotes close, its cells are the csv crate's, as before.
        #[test]
        fn closed_lines_split_as_the_csv_crate_reads_them(line in "[ab ,\"é\t]{1,24}") {
            if let Ok(cells) = split_line(&line) {
                let mut reader = csv::ReaderBuilder::new()
                    .has_headers(false)
                    .flexible(true)
                    .trim(csv::Trim::All)
                    .from_reader(line.as_bytes());
                let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
                proptest::prop_assert_eq!(records.len(), 1);
                let theirs: Vec<&str> = records[0].iter().collect();
                proptest::prop_assert_eq!(cells, theirs);
            }
        }
    }

    #[test]
    fn a_missing_column_is_reported_on_the_header_line() {
        let lists = lists();
        let roster = parse("email,name,department\nana@hospital.org,Ana,Cardiology\n", &lists, &[]);
        assert!(roster.rows.is_empty());
        assert_eq!(roster.errors.len(), 2);
        assert!(roster.errors.iter().all(|e| e.line == 1));
    }

    #[test]
    fn an_unlisted_department_is_kept_as_typed() {
        let lists = lists();
        let roster = parse(
            "email,name,role,stage,department\nana@x.org,Ana Diaz,Nurse,Senior,Sleep  medicine\n",
            &lists,
            &[],
        );
        assert_eq!(roster.rows[0].profile.department, "Sleep medicine");
        assert_eq!(roster.rows[0].profile.level, Level(4));
    }

    #[test]
    fn site_format_and_times_columns_are_read_and_checked_by_line_and_column() {
        let lists = lists();
        let text = "email,name,role,stage,department,Site,Format,Times\n\
                    ana@x.org,Ana Diaz,Nurse,1,Cardiology,north campus,In person,midday; early\n\
                    ben@x.org,Ben Ode,Nurse,2,Cardiology,,,\n\
                    cy@x.org,Cy Wu,Nurse,2,Cardiology,West Campus,phone,lunch\n";
        let roster = parse(text, &lists, &[]);
        assert_eq!(roster.rows.len(), 2);
        let ana = &roster.rows[0].profile;
        assert_eq!(
            (ana.site.as_deref(), ana.format, ana.times.to_list().as_str()),
            (Some("North Campus"), MeetFormat::InPerson, "early; midday")
        );
        let ben = &roster.rows[1].profile;
        assert_eq!((ben.site.as_deref(), ben.format, ben.times.is_empty()), (None, MeetFormat::Either, true));
        let places: Vec<(u64, usize, &str)> =
            roster.errors.iter().map(|e| (e.line, e.column, e.header.as_str())).collect();
        assert_eq!(places, vec![(4, 6, "Site"), (4, 7, "Format"), (4, 8, "Times")]);
        assert!(roster.errors[0].message.contains("North Campus, South Campus"));
        assert!(roster.errors[2].message.contains("\"lunch\""));
    }
}
