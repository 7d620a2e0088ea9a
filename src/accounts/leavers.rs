//! Closing the accounts of people who left, from a list HR keeps: a CSV file with an `email`
//! column (other columns are ignored), read line by line as the roster is, with every bad cell
//! reported by line and column. A closed account cannot log in or sign in, its sessions end at
//! once, its unsent email is dropped and nothing more is sent to it, and it is opted out of the
//! rounds; each closure is a line of the audit log.

use std::collections::HashSet;

use crate::{
    domain::{self, Email},
    roster::{OpenQuote, RowError, lines, split_line},
    store::{Store, coordinators::Actor, identities::Deactivated},
};

/// The header names the address column may go by.
const EMAIL_HEADERS: &[&str] = &["email", "e-mail", "email address", "work email", "mail"];

/// An address to close, and the line it is on (the header is line 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leaver {
    pub line: u64,
    pub email: Email,
}

/// What a list of leavers holds: the good rows, and an error for each bad one.
#[derive(Clone, Debug, Default)]
pub struct Leavers {
    pub rows: Vec<Leaver>,
    pub errors: Vec<RowError>,
}

fn line_error(line: u64, message: impl Into<String>) -> RowError {
    RowError { line, column: 0, header: String::new(), message: message.into() }
}

/// Reads a list of leavers. An address that appears twice is closed once.
pub fn parse(text: &str) -> Leavers {
    let mut leavers = Leavers::default();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = lines(text).filter(|(_, line)| !line.trim().is_empty());
    let Some((header_line, header)) = lines.next() else {
        leavers.errors.push(line_error(1, "The file has no header line."));
        return leavers;
    };
    let headers = match split_line(header) {
        Ok(headers) => headers,
        Err(OpenQuote { cell }) => {
            let message = format!(
                "The header line cannot be read: the quote that opens column {} is not closed on the line.",
                cell + 1
            );
            leavers.errors.push(line_error(header_line, message));
            return leavers;
        }
    };
    let Some(index) = headers.iter().position(|h| EMAIL_HEADERS.iter().any(|a| h.eq_ignore_ascii_case(a)))
    else {
        leavers.errors.push(line_error(header_line, "The header line has no email column."));
        return leavers;
    };
    let mut seen = HashSet::new();
    for (line, text) in lines {
        let cells = match split_line(text) {
            Ok(cells) => cells,
            Err(OpenQuote { cell }) => {
                leavers.errors.push(RowError {
                    line,
                    column: cell + 1,
                    header: headers.get(cell).cloned().unwrap_or_default(),
                    message: "A quote opens this cell but is not closed on the same line, so the line was left out."
                        .into(),
                });
                continue;
            }
        };
        if cells.iter().all(String::is_empty) {
            continue;
        }
        let value = cells.get(index).map_or("", String::as_str);
        let parsed = domain::storable(value)
            .map_err(|why| format!("This cell {why}"))
            .and_then(|v| Email::parse(v).map_err(|e| format!("{value:?}: {e}")));
        match parsed {
            Ok(email) => {
                if seen.insert(email.clone()) {
                    leavers.rows.push(Leaver { line, email });
                }
            }
            Err(message) => leavers.errors.push(RowError {
                line,
                column: index + 1,
                header: headers[index].clone(),
                message,
            }),
        }
    }
    leavers
}

/// Closes the accounts of `rows`, logged in the audit log as `actor`'s doing, with a summary line
/// that counts the `skipped` rows that had errors.
#[tracing::instrument(skip_all, fields(rows = rows.len()))]
pub async fn deactivate(
    store: &Store,
    rows: &[Leaver],
    skipped: usize,
    actor: &Actor,
) -> sqlx::Result<Deactivated> {
    let emails: Vec<Email> = rows.iter().map(|r| r.email.clone()).collect();
    let done = store.deactivate(&emails, actor).await?;
    let detail = format!(
        "leavers: {} closed, {} already closed, {} with no account, {skipped} rows with errors left out",
        done.closed.len(),
        done.already.len(),
        done.unknown.len()
    );
    store.audit(actor, "leavers", &detail).await?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_email_column_is_found_by_name_and_bad_cells_name_their_line_and_column() {
        let text = "Employee number,Name,Work email,Last day\n\
                    1001,Ana Lima,ana.lima@hospital.test,2027-01-31\n\
                    \n\
                    1002,Ben Okafor,not an address,2027-01-31\n\
                    1003,Cy Wu,\"cy.wu@hospital.test,2027-02-01\n\
                    1004,Ana again,ANA.LIMA@hospital.test,2027-01-31\n\
                    1005,Dee Lee,dee@hospital.test\n";
        let leavers = parse(text);
        let rows: Vec<(u64, &str)> = leavers.rows.iter().map(|r| (r.line, r.email.as_str())).collect();
        assert_eq!(rows, [(2, "ana.lima@hospital.test"), (7, "dee@hospital.test")]);
        let errors: Vec<(u64, usize, &str)> =
            leavers.errors.iter().map(|e| (e.line, e.column, e.header.as_str())).collect();
        assert_eq!(errors, [(4, 3, "Work email"), (5, 3, "Work email")]);
    }

    #[test]
    fn a_file_without_an_email_column_is_refused_on_its_header_line() {
        let leavers = parse("name,department\nAna,Cardiology\n");
        assert!(leavers.rows.is_empty());
        assert_eq!(leavers.errors.len(), 1);
        assert_eq!((leavers.errors[0].line, leavers.errors[0].column), (1, 0));
        assert!(parse("").errors[0].message.contains("no header"));
        assert!(parse("email\nana@x.org\0\n").errors[0].message.contains("NUL"));
    }
}
