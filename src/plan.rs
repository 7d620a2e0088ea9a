//! The offline `plan` command and the synthetic roster generator: CSV at the edge of the matcher.
//! Raw CSV strings become [`matching`](crate::matching) domain types here, and only here; every
//! bad value is reported with its file, physical line (the header is line 1) and column.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use crate::matching::{
    self, FreeTimes, HistoryEntry, Input, Level, MeetFormat, Month, Participant, ParticipantId, Tuning,
    Weights,
};

const PLAN_HELP: &str = "\
INPUT
  people.csv   header row required; columns id,email,name,role,level,department in any order,
               extra columns ignored. id: any non-empty string, unique (surrounding whitespace
               trimmed). level: non-negative integer (0 Student, 1 Trainee, 2 Early career,
               3 Mid career, 4 Senior, 5 Leader). role and department are compared trimmed and
               case-insensitively. Everyone in the file takes part.
               Optional columns: site (hospital or campus, compared trimmed and
               case-insensitively), format (in person, video or either; empty = either) and
               times (early, midday, afternoon, evening, night, weekend, separated by ';';
               empty = any time). Two people are grouped only if they can meet: in person
               (both accept it, same site when both gave one) or by video (both accept it).
  history.csv  header row required; columns a,b,month (YYYY-MM). A row is a past meeting of a
               and b; a row with an empty b records that a sat out that month (a previous plan
               output's sit-out rows, with the month added, are valid history). Ids not in
               people.csv are ignored, and so are rows dated at or after the target month.

OUTPUT (stdout)
  CSV with header a,b,c,score,mode: one row per group; c is empty for a pair; score is the
  group's total (w(a,b) for a pair, w(a,b)+w(a,c)+w(b,c) for a triple); mode is how the group
  meets (in person, or video when not every pair can meet in person). Participants who sit out
  follow as rows with only a filled. One summary line goes to stderr.

SCORE w(a,b) (pairs met in the 6 months before the target month are never grouped)
  +40 departments differ, +20 roles differ, level gap 0/1/2/3/>=4: +0/+30/+30/+10/+0,
  -20 if they met before that window, +20 if both gave times and share one (-20 if they share
  none), plus a seeded jitter in [0, --jitter].

EXIT STATUS
  0 on success; 2 on bad input (file, line and column named; nothing on stdout).";

/// Arguments of `coffee-rounds plan`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = PLAN_HELP, after_help = "See --help for the CSV columns.")]
pub struct PlanArgs {
    /// People CSV (columns id,email,name,role,level,department).
    #[arg(long, value_name = "people.csv")]
    pub participants: PathBuf,
    /// History CSV (columns a,b,month; empty b = a sat out that month).
    #[arg(long, value_name = "history.csv")]
    pub history: Option<PathBuf>,
    /// Target month [default: the month after the latest month in the history, else the
    /// current month].
    #[arg(long, value_name = "YYYY-MM", value_parser = parse_month_arg)]
    pub month: Option<Month>,
    /// Round seed for the jitter and tie-breaks [default: year*100+month of the target month].
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Upper bound of the jitter term (0 makes scores follow the table exactly).
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub jitter: u32,
    /// Benchmark aid: write the solver's final graph ("u v w" lines) to this file.
    #[arg(long, value_name = "FILE", hide = true)]
    pub export_graph: Option<PathBuf>,
}

fn parse_month_arg(raw: &str) -> Result<Month, String> {
    Month::parse(raw).map_err(|e| e.to_string())
}

/// Arguments of `coffee-rounds gen-roster`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Writes people.csv (columns id,email,name,role,level,department) to stdout or --out. Department
sizes are skewed (a few large departments, a long tail of small ones), about 40% are nurses, and
levels are weighted toward trainee, early and mid career. With --history, also writes
--months months of past rounds before --month (random pairings of ~97% of the roster, the
others paused; the odd one out appears as a sit-out row). --skewed gives the first department 60%
of the roster; --departments K keeps only the K largest departments (a pilot). Same arguments,
same files.")]
pub struct GenRosterArgs {
    /// Number of people.
    #[arg(long, value_name = "N")]
    pub n: usize,
    /// Generator seed.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Write people.csv here instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Also write a history of past rounds to this file.
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
    /// Months of history to generate (the months just before --month).
    #[arg(long, value_name = "N", default_value_t = 6)]
    pub months: u32,
    /// The target month the history leads up to.
    #[arg(long, value_name = "YYYY-MM", default_value = "2026-01", value_parser = parse_month_arg)]
    pub month: Month,
    /// One department holds 60% of the roster (as when, say, Nursing is one department).
    #[arg(long)]
    pub skewed: bool,
    /// Use only the K largest departments (a pilot with K departments).
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(1..=28))]
    pub departments: Option<u32>,
}

/// A bad input: message already names file, line and column.
struct InputError(String);

fn at(file: &Path, line: u64, column: &str, msg: impl std::fmt::Display) -> InputError {
    InputError(format!("{}: line {line}, column \"{column}\": {msg}", file.display()))
}

struct Table {
    rows: Vec<(u64, csv::StringRecord)>,
    cols: Vec<usize>,
    headers: csv::StringRecord,
}

impl Table {
    /// The index of an optional column, found by name (trimmed, any case).
    fn optional(&self, name: &str) -> Option<usize> {
        self.headers.iter().position(|h| h.trim().trim_start_matches('\u{feff}').eq_ignore_ascii_case(name))
    }
}

/// Reads a CSV file with a header, finding `wanted` columns by name (trimmed, any case).
fn read_table(file: &Path, wanted: &[&str]) -> Result<Table, InputError> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(file)
        .map_err(|e| InputError(format!("{}: cannot read: {e}", file.display())))?;
    let headers = rdr.headers().map_err(|e| InputError(format!("{}: line 1: {e}", file.display())))?.clone();
    let mut cols = Vec::new();
    for w in wanted {
        match headers.iter().position(|h| h.trim().trim_start_matches('\u{feff}').eq_ignore_ascii_case(w)) {
            Some(i) => cols.push(i),
            None => return Err(at(file, 1, w, "missing column")),
        }
    }
    let mut rows = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            InputError(format!("{}: line {line}: {e}", file.display()))
        })?;
        let line = rec.position().map_or(0, |p| p.line());
        rows.push((line, rec));
    }
    Ok(Table { rows, cols, headers })
}

fn field(rec: &csv::StringRecord, col: usize) -> &str {
    rec.get(col).unwrap_or("")
}

/// An optional column's value, empty when the file has no such column.
fn optional(rec: &csv::StringRecord, col: Option<usize>) -> &str {
    col.map_or("", |c| field(rec, c))
}

fn read_people(file: &Path) -> Result<Vec<Participant>, InputError> {
    let names = ["id", "email", "name", "role", "level", "department"];
    let t = read_table(file, &names)?;
    let (site_col, format_col, times_col) = (t.optional("site"), t.optional("format"), t.optional("times"));
    let mut seen: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    let mut people = Vec::with_capacity(t.rows.len());
    for (line, rec) in &t.rows {
        let id = ParticipantId::parse(field(rec, t.cols[0])).map_err(|e| at(file, *line, "id", e))?;
        if let Some(first) = seen.insert(id.as_str().to_string(), *line) {
            return Err(at(
                file,
                *line,
                "id",
                format!("duplicate id {:?} (first on line {first})", id.as_str()),
            ));
        }
        let level = Level::parse(field(rec, t.cols[4])).map_err(|e| at(file, *line, "level", e))?;
        let site = optional(rec, site_col).trim();
        let format = MeetFormat::parse(optional(rec, format_col)).map_err(|_| {
            at(
                file,
                *line,
                "format",
                format!("{:?} is not one of: in person, video, either", optional(rec, format_col).trim()),
            )
        })?;
        let times =
            FreeTimes::parse_list(optional(rec, times_col)).map_err(|e| at(file, *line, "times", e))?;
        people.push(Participant {
            id,
            role: field(rec, t.cols[3]).trim().to_string(),
            level,
            department: field(rec, t.cols[5]).trim().to_string(),
            site: (!site.is_empty()).then(|| site.to_string()),
            format,
            times,
        });
    }
    Ok(people)
}

fn read_history(file: &Path) -> Result<Vec<HistoryEntry>, InputError> {
    let t = read_table(file, &["a", "b", "month"])?;
    let mut out = Vec::with_capacity(t.rows.len());
    for (line, rec) in &t.rows {
        let a = ParticipantId::parse(field(rec, t.cols[0])).map_err(|e| at(file, *line, "a", e))?;
        let b_raw = field(rec, t.cols[1]);
        let b = if b_raw.trim().is_empty() {
            None
        } else {
            Some(ParticipantId::parse(b_raw).map_err(|e| at(file, *line, "b", e))?)
        };
        let month = Month::parse(field(rec, t.cols[2])).map_err(|e| at(file, *line, "month", e))?;
        out.push(HistoryEntry { a, b, month });
    }
    Ok(out)
}

/// The current UTC month (the only clock read in the program, and only at the CLI edge).
fn current_month() -> Month {
    let secs =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    Month::new(y as i32, m as u8).unwrap_or_else(|| Month::new(2026, 1).expect("valid month"))
}

pub fn run_plan(args: PlanArgs) -> ExitCode {
    let started = Instant::now();
    let loaded = read_people(&args.participants).and_then(|people| {
        let history = match &args.history {
            Some(h) => read_history(h)?,
            None => Vec::new(),
        };
        Ok((people, history))
    });
    let (participants, history) = match loaded {
        Ok(x) => x,
        Err(InputError(msg)) => {
            eprintln!("error: {msg}");
            return ExitCode::from(2);
        }
    };
    let month = args
        .month
        .unwrap_or_else(|| history.iter().map(|h| h.month).max().map_or_else(current_month, Month::next));
    let input = Input {
        participants,
        history,
        month,
        weights: Weights { jitter: args.jitter, ..Weights::default() },
        seed: args.seed.unwrap_or_else(|| matching::default_seed(month)),
    };
    let tuning = Tuning { keep_graph: args.export_graph.is_some(), ..Tuning::default() };
    let solve_started = Instant::now();
    let plan = match matching::plan_with(&input, &tuning) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {}: {e}", args.participants.display());
            return ExitCode::from(2);
        }
    };
    let solve_ms = solve_started.elapsed().as_secs_f64() * 1e3;

    let mut w = csv::Writer::from_writer(Vec::new());
    let mut rows = vec![["a", "b", "c", "score", "mode"].map(String::from)];
    for g in &plan.groups {
        let m = |i: usize| g.members.get(i).map_or(String::new(), |x| x.to_string());
        rows.push([m(0), m(1), m(2), g.score.to_string(), g.mode.to_string()]);
    }
    for s in &plan.sit_outs {
        rows.push([s.id.to_string(), String::new(), String::new(), String::new(), String::new()]);
    }
    for r in &rows {
        if let Err(e) = w.write_record(r) {
            eprintln!("error: writing output: {e}");
            return ExitCode::FAILURE;
        }
    }
    let bytes = match w.into_inner() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: writing output: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let (Some(path), Some(g)) = (&args.export_graph, &plan.solver_graph) {
        let mut text = String::with_capacity(g.edges.len() * 16);
        let _ = writeln!(
            text,
            "# vertices {} edges {} optimum {} pairs {}",
            g.vertices,
            g.edges.len(),
            g.optimum,
            g.optimum_pairs
        );
        for (u, v, x) in &g.edges {
            let _ = writeln!(text, "{u} {v} {x}");
        }
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("error: {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    if let Err(e) = std::io::stdout().lock().write_all(&bytes) {
        eprintln!("error: writing output: {e}");
        return ExitCode::FAILURE;
    }
    let st = &plan.stats;
    let triples = plan.groups.iter().filter(|g| g.members.len() == 3).count();
    let groups = plan.groups.len();
    let cross = if groups == 0 { 0.0 } else { 100.0 * st.cross_department_groups as f64 / groups as f64 };
    eprintln!(
        "plan {month}: {} participants, {groups} groups ({} pairs, {triples} triples), {} sit out, \
         total score {}, cross-department {cross:.1}%, priority {}/{} grouped, \
         candidate graph {} edges ({} widenings), {}, matching {solve_ms:.0} ms, elapsed {:.0} ms",
        st.participants,
        groups - triples,
        plan.sit_outs.len(),
        st.total_score,
        st.priority_grouped,
        st.priority_participants,
        st.candidate_edges,
        st.widenings,
        match st.proven_gap {
            None => "exact optimum".to_string(),
            Some(g) => format!("widening limit reached: proven gap at most {g}"),
        },
        started.elapsed().as_secs_f64() * 1e3,
    );
    ExitCode::SUCCESS
}

/// Seeded SplitMix64 stream for the generator.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut r = (self.next() >> 11) as f64 / (1u64 << 53) as f64 * total;
        for (i, w) in weights.iter().enumerate() {
            if r < *w {
                return i;
            }
            r -= w;
        }
        weights.len() - 1
    }
}

const DEPARTMENTS: &[&str] = &[
    "Internal Medicine",
    "Emergency",
    "Surgery",
    "Intensive Care",
    "Pediatrics",
    "Obstetrics & Gynecology",
    "Oncology",
    "Cardiology",
    "Radiology",
    "Pharmacy",
    "Orthopedics",
    "Neurology",
    "Anesthesiology",
    "Psychiatry",
    "Laboratory Medicine",
    "Rehabilitation",
    "Nephrology",
    "Geriatrics",
    "Infection Control",
    "Finance",
    "Human Resources",
    "Information Technology",
    "Quality & Safety",
    "Research Office",
    "Dermatology",
    "Palliative Care",
    "Ophthalmology",
    "Nutrition",
];

const ROLES: &[(&str, f64)] = &[
    ("Nurse", 0.40),
    ("Physician", 0.18),
    ("Allied health", 0.12),
    ("Administrator", 0.09),
    ("Advanced practice provider", 0.06),
    ("Pharmacist", 0.05),
    ("Researcher", 0.05),
    ("Quality & informatics", 0.05),
];

const LEVELS: &[f64] = &[0.06, 0.24, 0.26, 0.22, 0.15, 0.07];

pub fn run_gen_roster(args: GenRosterArgs) -> ExitCode {
    let mut g = Gen(args.seed);
    // Zipf-like department sizes: the first departments are several times the last.
    let k = args.departments.map_or(DEPARTMENTS.len(), |k| k as usize).min(DEPARTMENTS.len());
    let mut dept_w: Vec<f64> = (0..k).map(|i| 1.0 / (i as f64 + 1.0).powf(0.9)).collect();
    if args.skewed && k > 1 {
        // The first department gets 60 % of the weight, the others keep their proportions.
        let rest: f64 = dept_w[1..].iter().sum();
        dept_w[0] = rest * 1.5;
    }
    let role_w: Vec<f64> = ROLES.iter().map(|r| r.1).collect();
    let mut people = String::from("id,email,name,role,level,department\n");
    let ids: Vec<u64> = (0..args.n as u64).map(|i| 1000 + i).collect();
    for &id in &ids {
        let d = DEPARTMENTS[g.pick(&dept_w)];
        let r = ROLES[g.pick(&role_w)].0;
        let l = g.pick(LEVELS);
        let _ = writeln!(people, "{id},p{id}@hospital.example,Person {id},{r},{l},\"{d}\"");
    }
    let write = |path: Option<&PathBuf>, text: &str| -> Result<(), String> {
        match path {
            Some(p) => std::fs::write(p, text).map_err(|e| format!("{}: {e}", p.display())),
            None => std::io::stdout().lock().write_all(text.as_bytes()).map_err(|e| e.to_string()),
        }
    };
    if let Err(e) = write(args.out.as_ref(), &people) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    if let Some(hpath) = &args.history {
        let mut hist = String::from("a,b,month\n");
        let mut month = args.month;
        for _ in 0..args.months {
            month = month.prev();
        }
        for _ in 0..args.months {
            let mut order: Vec<usize> = (0..ids.len()).collect();
            for i in (1..order.len()).rev() {
                let j = g.below(i + 1);
                order.swap(i, j);
            }
            // About 3% are paused this month: no row for them.
            let active: Vec<usize> = order.into_iter().filter(|_| g.below(100) >= 3).collect();
            for pair in active.chunks(2) {
                match pair {
                    [a, b] => {
                        let _ = writeln!(hist, "{},{},{month}", ids[*a], ids[*b]);
                    }
                    [a] => {
                        let _ = writeln!(hist, "{},,{month}", ids[*a]);
                    }
                    _ => {}
                }
            }
            month = month.next();
        }
        if let Err(e) = write(Some(hpath), &hist) {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
