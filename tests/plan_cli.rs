//! Black-box tests of `coffee-rounds plan` and `gen-roster`: CSV in, CSV out, exit codes.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh directory for one test's files.
fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "coffee-rounds-plan-test-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(d: &std::path::Path, name: &str, text: &str) -> PathBuf {
    let p = d.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coffee-rounds")).args(args).output().unwrap()
}

/// Runs plan on the given people (and history) CSV with `extra` arguments.
fn plan(people: &str, history: Option<&str>, extra: &[&str]) -> Output {
    let d = dir();
    let p = write(&d, "people.csv", people);
    let mut args = vec!["plan".to_string(), "--participants".into(), p.display().to_string()];
    if let Some(h) = history {
        let h = write(&d, "history.csv", h);
        args.push("--history".into());
        args.push(h.display().to_string());
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&refs)
}

fn rows(out: &Output) -> Vec<Vec<String>> {
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    text.lines().skip(1).map(|l| l.split(',').map(str::to_string).collect()).collect()
}

fn ok(out: &Output) -> Vec<Vec<String>> {
    assert!(out.status.success(), "exit {:?}, stderr: {}", out.status, String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(text.starts_with("a,b,c,score,mode\n"), "{text}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "one summary line: {stderr}");
    rows(out)
}

fn bad(out: &Output, needles: &[&str]) {
    assert_eq!(out.status.code(), Some(2), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty(), "nothing on stdout");
    let err = String::from_utf8_lossy(&out.stderr);
    for n in needles {
        assert!(err.contains(n), "{n:?} missing from: {err}");
    }
}

const HEADER: &str = "id,email,name,role,level,department\n";

fn people(rows: &[(&str, &str, u32, &str)]) -> String {
    let mut s = HEADER.to_string();
    for (id, role, level, dept) in rows {
        s.push_str(&format!("{id},{id}@x.test,Name {id},{role},{level},{dept}\n"));
    }
    s
}

#[test]
fn four_people_are_paired_by_the_score_table() {
    // Best: nurse L1 Emergency with physician L3 Surgery (40+20+30=90), and the two others
    // (pharmacist L2 Pharmacy with admin L5 Finance: 40+20+10=70). Total 160, no jitter.
    let csv = people(&[
        ("1", "Nurse", 1, "Emergency"),
        ("2", "Physician", 3, "Surgery"),
        ("3", "Pharmacist", 2, "Pharmacy"),
        ("4", "Administrator", 5, "Finance"),
    ]);
    let r = ok(&plan(&csv, None, &["--month", "2026-02", "--jitter", "0"]));
    let mut scores: Vec<i64> = r.iter().map(|x| x[3].parse().unwrap()).collect();
    scores.sort();
    assert_eq!(r.len(), 2);
    assert_eq!(scores.iter().sum::<i64>(), 90 + 90, "{r:?}");
}

#[test]
fn no_people_gives_only_the_header() {
    let out = plan(HEADER, None, &["--month", "2026-02"]);
    assert!(ok(&out).is_empty());
}

#[test]
fn one_person_sits_out() {
    let r = ok(&plan(&people(&[("7", "Nurse", 1, "ICU")]), None, &["--month", "2026-02"]));
    assert_eq!(r, vec![vec!["7", "", "", "", ""]]);
}

#[test]
fn two_people_make_a_pair() {
    let csv = people(&[("1", "Nurse", 1, "ICU"), ("2", "Nurse", 1, "ICU")]);
    let r = ok(&plan(&csv, None, &["--month", "2026-02", "--jitter", "0"]));
    assert_eq!(r, vec![vec!["1", "2", "", "0", "in person"]]);
}

#[test]
fn three_people_make_one_group_of_three() {
    let csv = people(&[
        ("1", "Nurse", 1, "ICU"),
        ("2", "Physician", 2, "Surgery"),
        ("3", "Pharmacist", 3, "Pharmacy"),
    ]);
    let r = ok(&plan(&csv, None, &["--month", "2026-02", "--jitter", "0"]));
    assert_eq!(r.len(), 1);
    assert!(!r[0][2].is_empty());
    // 1-2: 40+20+30, 1-3: 40+20+30, 2-3: 40+20+30.
    assert_eq!(r[0][3], "270");
}

#[test]
fn everyone_in_one_department_is_still_paired() {
    let csv = people(&[
        ("1", "Nurse", 1, "ICU"),
        ("2", "Physician", 2, "ICU"),
        ("3", "Nurse", 3, "icu "),
        ("4", "Physician", 4, " ICU"),
    ]);
    let r = ok(&plan(&csv, None, &["--month", "2026-02", "--jitter", "0"]));
    assert_eq!(r.len(), 2);
    let total: i64 = r.iter().map(|x| x[3].parse::<i64>().unwrap()).sum();
    // Best: 1-2 (20+30) and 3-4 (20+30), no department bonus anywhere.
    assert_eq!(total, 100);
}

#[test]
fn everyone_already_met_within_the_window_sits_out() {
    let csv = people(&[("1", "Nurse", 1, "A"), ("2", "Nurse", 2, "B"), ("3", "Nurse", 3, "C")]);
    let hist = "a,b,month\n1,2,2026-01\n1,3,2025-12\n2,3,2025-09\n";
    let r = ok(&plan(&csv, Some(hist), &["--month", "2026-02"]));
    assert_eq!(r.len(), 3);
    assert!(r.iter().all(|x| x[1].is_empty() && x[3].is_empty()), "{r:?}");
}

#[test]
fn an_old_meeting_is_allowed_with_a_penalty() {
    let csv = people(&[("1", "Nurse", 1, "A"), ("2", "Physician", 2, "B")]);
    // 2025-07 is M-7 for M = 2026-02: outside the 6-month window.
    let hist = "a,b,month\n1,2,2025-07\n";
    let r = ok(&plan(&csv, Some(hist), &["--month", "2026-02", "--jitter", "0"]));
    assert_eq!(r, vec![vec!["1", "2", "", "70", "in person"]]);
    // 2025-08 is M-6: forbidden.
    let hist = "a,b,month\n1,2,2025-08\n";
    let r = ok(&plan(&csv, Some(hist), &["--month", "2026-02"]));
    assert_eq!(r.len(), 2);
}

#[test]
fn odd_count_whose_only_triple_has_a_forbidden_pair_leaves_one_out() {
    let csv = people(&[("1", "Nurse", 1, "A"), ("2", "Physician", 2, "B"), ("3", "Pharmacist", 3, "C")]);
    let hist = "a,b,month\n1,3,2026-01\n";
    let r = ok(&plan(&csv, Some(hist), &["--month", "2026-02"]));
    let groups: Vec<_> = r.iter().filter(|x| !x[1].is_empty()).collect();
    let outs: Vec<_> = r.iter().filter(|x| x[1].is_empty()).collect();
    assert_eq!(groups.len(), 1);
    assert!(groups[0][2].is_empty(), "a pair, not a triple");
    assert_eq!(outs.len(), 1);
}

#[test]
fn forbidden_pairs_can_leave_several_people_over() {
    let csv = people(&[
        ("A", "Nurse", 1, "X"),
        ("B", "Nurse", 2, "Y"),
        ("C", "Nurse", 3, "Z"),
        ("D", "Nurse", 4, "W"),
    ]);
    // Only C-D may meet; A and B cannot join C-D either.
    let hist = "a,b,month\nA,B,2026-01\nA,C,2026-01\nA,D,2025-12\nB,C,2025-12\nB,D,2025-11\n";
    let r = ok(&plan(&csv, Some(hist), &["--month", "2026-02"]));
    assert_eq!(r[0][..3], ["C", "D", ""]);
    let outs: Vec<&str> = r[1..].iter().map(|x| x[0].as_str()).collect();
    assert_eq!(outs, ["A", "B"]);
}

#[test]
fn a_participant_who_sat_out_last_month_is_paired_first() {
    // 2-3 is the best pair (90; 1-3 is 50, 1-2 is 40): without priority 1 is the third member.
    let csv = people(&[("1", "Nurse", 1, "C"), ("2", "Nurse", 1, "B"), ("3", "Physician", 2, "C")]);
    let without = ok(&plan(&csv, None, &["--month", "2026-02", "--jitter", "0"]));
    assert_eq!(without[0][2], "1", "{without:?}");
    let hist = "a,b,month\n1,,2026-01\n";
    let with = ok(&plan(&csv, Some(hist), &["--jitter", "0"]));
    assert!(with[0][0] == "1" || with[0][1] == "1", "{with:?}");
}

#[test]
fn names_are_compared_trimmed_and_ignoring_case() {
    let csv = "id, Email ,name,ROLE,level,department,extra\n 1 ,a@x,A, nurse ,1, Emergency ,z\n2,b@x,B,NURSE, 1 ,emergency,z\n";
    let r = ok(&plan(csv, None, &["--month", "2026-02", "--jitter", "0"]));
    assert_eq!(r, vec![vec!["1", "2", "", "0", "in person"]]);
}

#[test]
fn same_input_gives_byte_identical_output() {
    let csv = people(&[
        ("1", "Nurse", 1, "A"),
        ("2", "Nurse", 2, "B"),
        ("3", "Physician", 3, "C"),
        ("4", "Physician", 4, "A"),
        ("5", "Pharmacist", 0, "B"),
    ]);
    let a = plan(&csv, None, &["--month", "2026-02", "--seed", "9"]);
    let b = plan(&csv, None, &["--month", "2026-02", "--seed", "9"]);
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn missing_column_names_file_line_and_column() {
    let out = plan("id,email,name,role,department\n1,a,b,Nurse,ICU\n", None, &["--month", "2026-02"]);
    bad(&out, &["people.csv", "line 1", "\"level\"", "missing column"]);
}

#[test]
fn duplicate_id_names_the_line() {
    let csv = people(&[("1", "Nurse", 1, "A"), ("2", "Nurse", 1, "B"), (" 1 ", "Nurse", 1, "C")]);
    bad(&plan(&csv, None, &["--month", "2026-02"]), &["people.csv", "line 4", "\"id\"", "duplicate"]);
}

#[test]
fn empty_id_names_the_line() {
    let csv = people(&[("1", "Nurse", 1, "A"), ("  ", "Nurse", 1, "B")]);
    bad(&plan(&csv, None, &["--month", "2026-02"]), &["people.csv", "line 3", "\"id\"", "empty"]);
}

#[test]
fn non_integer_level_names_the_line() {
    let csv = format!("{HEADER}1,a,b,Nurse,senior,ICU\n");
    bad(&plan(&csv, None, &["--month", "2026-02"]), &["people.csv", "line 2", "\"level\""]);
}

#[test]
fn malformed_history_month_names_the_line() {
    let csv = people(&[("1", "Nurse", 1, "A"), ("2", "Nurse", 1, "B")]);
    let hist = "a,b,month\n1,2,2026-01\n1,2,Jan 2026\n";
    bad(&plan(&csv, Some(hist), &[]), &["history.csv", "line 3", "\"month\""]);
}

#[test]
fn history_without_its_columns_is_rejected() {
    let csv = people(&[("1", "Nurse", 1, "A")]);
    bad(&plan(&csv, Some("a,month\n1,2026-01\n"), &[]), &["history.csv", "line 1", "\"b\""]);
}

#[test]
fn bad_month_option_names_the_option() {
    let csv = people(&[("1", "Nurse", 1, "A")]);
    bad(&plan(&csv, None, &["--month", "2026-13"]), &["--month"]);
}

#[test]
fn missing_people_file_is_bad_input() {
    bad(&run(&["plan", "--participants", "/nonexistent/people.csv"]), &["people.csv"]);
}

#[test]
fn help_documents_the_columns() {
    let out = run(&["plan", "--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in ["id,email,name,role,level,department", "a,b,month", "a,b,c,score"] {
        assert!(text.contains(needle), "{needle}");
    }
}

#[test]
fn gen_roster_is_deterministic_and_plannable() {
    let d = dir();
    let p = d.join("p.csv");
    let h = d.join("h.csv");
    let args = |p: &PathBuf, h: &PathBuf| {
        vec![
            "gen-roster".to_string(),
            "--n".into(),
            "301".into(),
            "--seed".into(),
            "5".into(),
            "--out".into(),
            p.display().to_string(),
            "--history".into(),
            h.display().to_string(),
            "--months".into(),
            "6".into(),
            "--month".into(),
            "2026-01".into(),
        ]
    };
    let a = args(&p, &h);
    assert!(run(&a.iter().map(String::as_str).collect::<Vec<_>>()).status.success());
    let first = std::fs::read(&p).unwrap();
    assert_eq!(String::from_utf8_lossy(&first).lines().count(), 302);
    assert!(run(&a.iter().map(String::as_str).collect::<Vec<_>>()).status.success());
    assert_eq!(std::fs::read(&p).unwrap(), first);
    let out =
        run(&["plan", "--participants", &p.display().to_string(), "--history", &h.display().to_string()]);
    let r = ok(&out);
    // 301 people: 149 pairs and one triple, nobody out; the month follows the history.
    assert_eq!(r.len(), 150);
    assert_eq!(r.iter().filter(|x| !x[2].is_empty()).count(), 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("plan 2026-01"));
}

#[test]
fn sites_formats_and_times_decide_who_meets_and_how() {
    // Two on North in person only, two on South who take video too, one video-only: the North
    // pair meets in person, the South pair and the video-only person meet by video.
    let csv = "id,email,name,role,level,department,site,format,times\n\
               1,a,A,Nurse,1,ICU,North Campus,in person,midday\n\
               2,b,B,Physician,3,Surgery, north campus ,In Person,MIDDAY; night\n\
               3,c,C,Nurse,1,ICU,South Campus,either,\n\
               4,d,D,Physician,3,Surgery,South Campus,video,early\n\
               5,e,E,Pharmacist,2,Pharmacy,,video,\n";
    let r = ok(&plan(csv, None, &["--month", "2026-02", "--jitter", "0"]));
    assert_eq!(r.len(), 2, "{r:?}");
    assert_eq!(r[0], vec!["1", "2", "", &(40 + 20 + 30 + 20).to_string(), "in person"]);
    assert_eq!(&r[1][..2], ["3", "4"]);
    assert_eq!(r[1][2], "5");
    assert_eq!(r[1][4], "video");
}

#[test]
fn an_unknown_format_or_time_names_the_line_and_column() {
    let header = "id,email,name,role,level,department,format,times\n";
    let csv = format!("{header}1,a,A,Nurse,1,ICU,either,midday\n2,b,B,Nurse,1,ICU,phone,\n");
    bad(&plan(&csv, None, &["--month", "2026-02"]), &["people.csv", "line 3", "\"format\"", "phone"]);
    let csv = format!("{header}1,a,A,Nurse,1,ICU,either,midday; lunch\n");
    bad(&plan(&csv, None, &["--month", "2026-02"]), &["people.csv", "line 2", "\"times\"", "lunch"]);
}
