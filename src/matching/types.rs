//! Domain types of the matcher, parsed once at the edge.

use std::fmt;

use super::meeting::{FreeTimes, MeetFormat, Mode};

/// A participant id: any non-empty string, surrounding whitespace trimmed. The web app stores
/// decimal integers; the `plan` command accepts any string.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ParticipantId(String);

impl ParticipantId {
    /// Trims surrounding whitespace; fails on an empty id.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let t = raw.trim();
        if t.is_empty() { Err(ParseError::EmptyId) } else { Ok(ParticipantId(t.to_string())) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ParticipantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A career level: a non-negative integer (0 Student … 5 Leader by default; more stages allowed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Level(pub u32);

impl Level {
    /// Trims surrounding whitespace; accepts only a non-negative decimal integer.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let t = raw.trim();
        if t.is_empty() || !t.bytes().all(|c| c.is_ascii_digit()) {
            return Err(ParseError::BadLevel(t.to_string()));
        }
        t.parse::<u32>().map(Level).map_err(|_| ParseError::BadLevel(t.to_string()))
    }
}

/// A calendar month, `YYYY-MM`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    month: u8,
}

impl Month {
    /// `month` is 1..=12.
    pub fn new(year: i32, month: u8) -> Option<Self> {
        ((1..=12).contains(&month) && (0..=9999).contains(&year)).then_some(Month { year, month })
    }

    /// Parses exactly `YYYY-MM` (four-digit year, two-digit month 01–12), whitespace trimmed.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let t = raw.trim();
        let bad = || ParseError::BadMonth(t.to_string());
        let b = t.as_bytes();
        if b.len() != 7 || b[4] != b'-' {
            return Err(bad());
        }
        if !b[..4].iter().chain(&b[5..]).all(u8::is_ascii_digit) {
            return Err(bad());
        }
        let year: i32 = t[..4].parse().map_err(|_| bad())?;
        let month: u8 = t[5..].parse().map_err(|_| bad())?;
        Month::new(year, month).ok_or_else(bad)
    }

    pub fn year(self) -> i32 {
        self.year
    }

    pub fn month(self) -> u8 {
        self.month
    }

    /// Months since year 0, for arithmetic.
    pub fn index(self) -> i64 {
        i64::from(self.year) * 12 + i64::from(self.month) - 1
    }

    fn from_index(i: i64) -> Self {
        Month { year: i.div_euclid(12) as i32, month: (i.rem_euclid(12) + 1) as u8 }
    }

    pub fn prev(self) -> Self {
        Month::from_index(self.index() - 1)
    }

    pub fn next(self) -> Self {
        Month::from_index(self.index() + 1)
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// Why a raw value was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    EmptyId,
    BadLevel(String),
    BadMonth(String),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::EmptyId => write!(f, "id is empty"),
            ParseError::BadLevel(v) => write!(f, "level {v:?} is not a non-negative integer"),
            ParseError::BadMonth(v) => write!(f, "month {v:?} is not of the form YYYY-MM"),
        }
    }
}

impl std::error::Error for ParseError {}

/// One person taking part in the round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Participant {
    pub id: ParticipantId,
    /// Profession; compared trimmed and case-insensitively.
    pub role: String,
    pub level: Level,
    /// Compared trimmed and case-insensitively.
    pub department: String,
    /// The hospital or campus, if given; compared trimmed and case-insensitively.
    pub site: Option<String>,
    /// In person, video or either (the default).
    pub format: MeetFormat,
    /// When they can usually meet; empty when not given (any time).
    pub times: FreeTimes,
}

impl Participant {
    /// A participant of a v1 roster: no site, either format, any time.
    pub fn new(id: ParticipantId, role: &str, level: Level, department: &str) -> Self {
        Participant {
            id,
            role: role.to_owned(),
            level,
            department: department.to_owned(),
            site: None,
            format: MeetFormat::Either,
            times: FreeTimes::none(),
        }
    }
}

/// A past meeting (`b` is `Some`) or a sit-out of `a` (`b` is `None`) in `month`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    pub a: ParticipantId,
    pub b: Option<ParticipantId>,
    pub month: Month,
}

/// The score table of the spec, with its defaults. A deployment may change any of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Weights {
    /// Added when departments differ (default 40).
    pub department: i64,
    /// Added when roles differ (default 20).
    pub role: i64,
    /// Added for a level gap of 0, 1, 2, 3 and ≥ 4 (default 0, 30, 30, 10, 0).
    pub level_gap: [i64; 5],
    /// Subtracted once for a pair that met before the repeat window (default 20).
    pub repeat_penalty: i64,
    /// Months before the target month in which a meeting forbids the pair (default 6).
    pub repeat_window: u32,
    /// Upper bound of the jitter term, inclusive (default 10; 0 turns jitter off).
    pub jitter: u32,
    /// Added when both gave free times and share one, subtracted when they share none
    /// (default 20; 0 when either gave none).
    pub shared_times: i64,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            department: 40,
            role: 20,
            level_gap: [0, 30, 30, 10, 0],
            repeat_penalty: 20,
            repeat_window: 6,
            jitter: 10,
            shared_times: 20,
        }
    }
}

impl Weights {
    pub fn level_term(&self, a: Level, b: Level) -> i64 {
        let gap = a.0.abs_diff(b.0).min(4) as usize;
        self.level_gap[gap]
    }
}

/// Everything the matcher needs for one round.
#[derive(Clone, Debug)]
pub struct Input {
    /// Who takes part, in a stable order (ties are broken by this order when jitter is 0).
    pub participants: Vec<Participant>,
    /// Past meetings and sit-outs; entries dated at or after `month`, or naming unknown ids, are
    /// ignored.
    pub history: Vec<HistoryEntry>,
    /// The target month.
    pub month: Month,
    pub weights: Weights,
    /// Round seed for the jitter and for tie-breaks; see [`default_seed`](super::default_seed).
    pub seed: u64,
}

/// The terms of one pair's score, as in the spec's table. `total()` is `w(a, b)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScoreTerms {
    pub department: i64,
    pub role: i64,
    pub level: i64,
    /// `-repeat_penalty` if the pair met before the window, else 0.
    pub history: i64,
    pub jitter: i64,
    /// `+shared_times` if both gave free times and share one, `-shared_times` if they share
    /// none, 0 if either gave none.
    pub times: i64,
}

impl ScoreTerms {
    pub fn total(&self) -> i64 {
        self.department + self.role + self.level + self.history + self.jitter + self.times
    }
}

/// One pair inside a group, with its score terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PairScore {
    pub a: ParticipantId,
    pub b: ParticipantId,
    pub terms: ScoreTerms,
}

/// A group of two, or of three when a left-over participant joined a pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// The pair first (in input order), then the third member if any.
    pub members: Vec<ParticipantId>,
    /// Sum of the pair scores inside the group.
    pub score: i64,
    /// Every pair inside the group: one for a pair, three for a triple.
    pub pairs: Vec<PairScore>,
    /// How the group meets: in person when every pair can, else by video.
    pub mode: Mode,
}

/// Why a participant has no group this month.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SitOutReason {
    /// Nobody else may meet them: they are alone, met everyone within the repeat window, or
    /// nobody else shares a way to meet (site and format).
    NoAllowedPartner,
    /// They could meet someone, but no maximum pairing has room for them and no pair can take
    /// them as a third member (a recent meeting, or no way to meet common to the three).
    NoGroupCanTakeThem,
}

impl SitOutReason {
    pub fn describe(self) -> &'static str {
        match self {
            SitOutReason::NoAllowedPartner => {
                "no allowed partner: alone, met everyone within the repeat window, or shares no way to meet with anyone"
            }
            SitOutReason::NoGroupCanTakeThem => {
                "left over, and no pair can take them (a recent meeting, or no way to meet common to the three)"
            }
        }
    }
}

/// A participant without a group; they have priority next month.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SitOut {
    pub id: ParticipantId,
    pub reason: SitOutReason,
}

/// Counters about a round, for the summary line and the benchmark.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlanStats {
    pub participants: usize,
    /// Participants who sat out last month.
    pub priority_participants: usize,
    /// Of those, how many are in a group now.
    pub priority_grouped: usize,
    /// Pairs of the matching (groups of three count their matched pair once).
    pub matched_pairs: usize,
    /// Edges of the final candidate graph given to the blossom solver (dummies excluded).
    pub candidate_edges: usize,
    /// How many times the candidate graph was widened (edges added, or dummies added).
    pub widenings: usize,
    /// `None` when the plan is the certified exact optimum of the full allowed-pair graph (the
    /// normal case). `Some(g)` when widening stopped at its limit: the optimum of the folded
    /// objective (cardinality, priority, then score) is at most `g` above this plan's; a gap below
    /// the priority weight means cardinality and priority are optimal and the score is within `g`.
    pub proven_gap: Option<i64>,
    /// Sum of `w` over the pairs of the matching (the objective of step 3).
    pub matching_score: i64,
    /// Sum of group scores (what the CSV's `score` column adds up to).
    pub total_score: i64,
    /// Groups whose members are not all from one department.
    pub cross_department_groups: usize,
}

/// The groups of a round, who sits out, and counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub groups: Vec<Group>,
    pub sit_outs: Vec<SitOut>,
    pub stats: PlanStats,
    /// The solver's final graph (only when [`Tuning::keep_graph`](super::Tuning) is set).
    pub solver_graph: Option<SolverGraph>,
}

/// The graph the exact solver ran on, with the lexicographic weights used for cardinality and
/// priority folded out: each edge weighs `w(a, b) + P·(priority(a) + priority(b))`. A
/// maximum-cardinality maximum-weight matching of it is the plan's matching.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SolverGraph {
    pub vertices: usize,
    pub edges: Vec<(u32, u32, i64)>,
    /// Its optimum (maximum cardinality first, then weight), as found by the solver.
    pub optimum: i64,
    pub optimum_pairs: usize,
}

/// A bad [`Input`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlanError {
    DuplicateId(ParticipantId),
    /// The caller set [`Tuning::stop`](super::Tuning) before the plan was finished.
    Cancelled,
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::DuplicateId(id) => write!(f, "participant id {id:?} appears twice"),
            PlanError::Cancelled => write!(f, "the plan was cancelled before it finished"),
        }
    }
}

impl std::error::Error for PlanError {}
