//! The matching engine: who meets whom this month. It owns the pair score, the objective of
//! `shared/spec/matching.md` (maximum cardinality, then priority, then total score, then
//! left-over participants as third members) and the exact optimisation behind it; it is a pure
//! function of its [`Input`] (no I/O, no clock, randomness only from the seed).
//!
//! How it works. Steps 1–3 of the objective are one maximum-weight perfect matching, solved
//! exactly by the blossom algorithm in [`blossom`], on a graph whose edge weights fold the three
//! levels into one integer: `B + P·(priority(a) + priority(b)) + w(a, b)`, with
//! `P > (n/2)·(max w − min w)` and `B > (n/2)·(2P + max w − min w)`, so one more pair beats any
//! priority gain and one more priority participant beats any score gain. Dummy vertices (edges of
//! weight 0 to everyone and to each other) make the matching perfect when the count is odd or
//! forbidden pairs leave more people over; a real participant matched to a dummy is left over.
//!
//! Scale. Up to [`Tuning::dense_below`] participants the graph has every allowed pair. Above, it
//! is a sparse candidate graph: each participant's best [`Tuning::best_partners`] partners among a
//! seeded sample of every kind of partner, plus [`Tuning::random_partners`] partners drawn from
//! everyone, with the best of each kind held in reserve. The solver's dual variables then certify
//! the result on the full graph: every allowed pair outside the candidate graph must have
//! non-negative slack. Reserve pairs that fail join first; then the check visits only the pairs
//! whose duals are low enough to possibly fail (duals sorted per cell, bounded by the largest
//! possible score between two cells). Any pair that fails is added and the solver runs again, so
//! the result is the exact optimum of the full allowed-pair graph (or, past a widening limit, a
//! plan with its proven gap).
//!
//! Choices where the spec is silent:
//! - Groups are listed in input order of their first member; a pair lists its members in input
//!   order, a triple then adds the left-over participant. Sit-outs follow in input order.
//! - The jitter of a pair is a SplitMix64 hash of the seed and the FNV-1a hashes of both trimmed
//!   ids (sorted), reduced modulo `jitter + 1`: symmetric and the same on every machine.
//! - The default seed ([`default_seed`]) is `year·100 + month` of the target month.
//! - Left-over participants are placed in input order; each takes the pair with the highest
//!   attachment score, ties broken by a seeded hash of the three ids.
//! - A group is "cross-department" when its members are not all from one department.
//! - Several history rows for the same pair count once; the most recent month decides between
//!   "forbidden" and "penalty". A sit-out row whose participant had a group in the same month
//!   still gives priority (history is taken as written).

pub mod blossom;
pub mod meeting;
mod types;

pub use meeting::{FreeTimes, MeetFormat, Mode, Reach, Slot};
pub use types::*;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Knobs of the candidate graph; the result is the exact optimum whatever their values (unless
/// the widening limit is reached, see [`PlanStats::proven_gap`]), they only change the running time.
#[derive(Clone, Debug)]
pub struct Tuning {
    /// Up to this many participants, use every allowed pair (no sparse graph).
    pub dense_below: usize,
    /// Best partners of each kind (department, role and level gap alike) kept per participant:
    /// held in reserve, and added where the solver's duals show they are needed (straight into
    /// the graph when one department holds over a quarter of everyone).
    pub per_kind: usize,
    /// Best partners over all kinds kept per participant, on top of `per_kind`.
    pub best_partners: usize,
    /// Partners drawn per kind before keeping the best ones (a kind this small is taken whole).
    pub sample: usize,
    /// Extra draws from the kinds that gave a participant's best draw (kept if among the best).
    pub top_sample: usize,
    /// Uniformly random partners added per participant (keeps a perfect matching likely).
    pub random_partners: usize,
    /// Widening stops once it has added this many pairs per participant in all; the plan then
    /// reports the proven gap instead of widening toward the dense graph.
    pub widen_limit: usize,
    /// Keep the solver's final graph in [`Plan::solver_graph`] (for benchmarks).
    pub keep_graph: bool,
    /// Set it to stop a plan that is no longer wanted: `plan_with` then returns
    /// [`PlanError::Cancelled`] soon after (the solver checks it every few thousand steps).
    pub stop: Option<Arc<AtomicBool>>,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            dense_below: 300,
            per_kind: 1,
            best_partners: 10,
            sample: 12,
            top_sample: 64,
            random_partners: 2,
            widen_limit: 8,
            keep_graph: false,
            stop: None,
        }
    }
}

/// The default round seed for a month: `year·100 + month` (e.g. 202603 for 2026-03).
pub fn default_seed(month: Month) -> u64 {
    (month.year() as u64) * 100 + u64::from(month.month())
}

/// The score terms of one pair under `input` (its weights, seed, month and history), or `None`
/// if the pair is forbidden, either id is unknown, or the ids are equal. Builds the round's
/// indexes on each call: meant for previews and tests, not for loops.
pub fn score_pair(input: &Input, a: &ParticipantId, b: &ParticipantId) -> Option<ScoreTerms> {
    let ctx = Ctx::new(input).ok()?;
    let find = |id: &ParticipantId| input.participants.iter().position(|p| &p.id == id);
    ctx.terms(find(a)?, find(b)?)
}

/// A maximum-cardinality, maximum-weight matching of any graph on `n` vertices (the problem
/// networkx's `max_weight_matching(maxcardinality=True)` solves), by the same exact solver as
/// [`plan`]: cardinality folded into the weights, dummy vertices when no perfect matching exists.
/// Returns each vertex's mate and the total weight.
pub fn max_cardinality_matching(n: usize, edges: &[(u32, u32, i64)]) -> (Vec<Option<usize>>, i64) {
    let lo = edges.iter().map(|e| e.2).min().unwrap_or(0);
    let hi = edges.iter().map(|e| e.2).max().unwrap_or(0);
    let half = (n as i64 / 2).max(1);
    let b_bonus = 2 * ((hi - lo).max(1) * half + 1);
    let mut dummies = n % 2;
    loop {
        let mut all: Vec<(u32, u32, i64)> = edges.iter().map(|&(u, v, w)| (u, v, b_bonus + w)).collect();
        for d in 0..dummies {
            let dv = (n + d) as u32;
            all.extend((0..n as u32).map(|v| (v, dv, 0)));
            all.extend((d + 1..dummies).map(|e| (dv, (n + e) as u32, 0)));
        }
        let sol = blossom::solve(n + dummies, &all);
        if !sol.is_perfect() {
            dummies += sol.mate.iter().filter(|m| m.is_none()).count();
            continue;
        }
        let mate: Vec<Option<usize>> = sol.mate[..n].iter().map(|m| m.filter(|&u| u < n)).collect();
        let total =
            edges.iter().filter(|&&(u, v, _)| mate[u as usize] == Some(v as usize)).map(|e| e.2).sum();
        return (mate, total);
    }
}

/// Plan a round with the default [`Tuning`].
pub fn plan(input: &Input) -> Result<Plan, PlanError> {
    plan_with(input, &Tuning::default())
}

#[inline]
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for &b in s.as_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

/// Everything needed to score any pair quickly, built once per round.
struct Ctx<'a> {
    input: &'a Input,
    n: usize,
    dept: Vec<u32>,
    role: Vec<u32>,
    level: Vec<u32>,
    idhash: Vec<u64>,
    /// Interned site, [`NO_SITE`] when not given.
    site: Vec<u32>,
    format: Vec<MeetFormat>,
    times: Vec<FreeTimes>,
    /// Largest size of the shared-times term: 0 when nobody gave times, so a v1 roster gets
    /// exactly the weights (and so the groups) it got before the term existed.
    times_bound: i64,
    priority: Vec<bool>,
    /// Per participant, sorted by partner: (partner, latest month index before the target).
    met: Vec<Vec<(u32, i64)>>,
    window_start: i64,
}

/// The interned site of a participant who gave none.
const NO_SITE: u32 = u32::MAX;

fn intern(map: &mut BTreeMap<String, u32>, raw: &str) -> u32 {
    let key = raw.trim().to_lowercase();
    let next = map.len() as u32;
    *map.entry(key).or_insert(next)
}

impl<'a> Ctx<'a> {
    fn new(input: &'a Input) -> Result<Self, PlanError> {
        let n = input.participants.len();
        let mut index: BTreeMap<&str, u32> = BTreeMap::new();
        for (i, p) in input.participants.iter().enumerate() {
            if index.insert(p.id.as_str(), i as u32).is_some() {
                return Err(PlanError::DuplicateId(p.id.clone()));
            }
        }
        let mut depts = BTreeMap::new();
        let mut roles = BTreeMap::new();
        let dept = input.participants.iter().map(|p| intern(&mut depts, &p.department)).collect();
        let role = input.participants.iter().map(|p| intern(&mut roles, &p.role)).collect();
        let mut sites = BTreeMap::new();
        let site = input
            .participants
            .iter()
            .map(|p| match p.site.as_deref().map(str::trim) {
                Some(s) if !s.is_empty() => intern(&mut sites, s),
                _ => NO_SITE,
            })
            .collect();
        let target = input.month.index();
        let mut priority = vec![false; n];
        let mut met: Vec<Vec<(u32, i64)>> = vec![Vec::new(); n];
        for h in &input.history {
            let m = h.month.index();
            if m >= target {
                continue;
            }
            let Some(&a) = index.get(h.a.as_str()) else {
                continue;
            };
            match &h.b {
                None => {
                    if m == target - 1 {
                        priority[a as usize] = true;
                    }
                }
                Some(b) => {
                    let Some(&b) = index.get(b.as_str()) else {
                        continue;
                    };
                    if a != b {
                        met[a as usize].push((b, m));
                        met[b as usize].push((a, m));
                    }
                }
            }
        }
        for list in &mut met {
            list.sort_unstable_by(|x, y| x.0.cmp(&y.0).then(y.1.cmp(&x.1)));
            list.dedup_by_key(|x| x.0);
        }
        Ok(Ctx {
            input,
            n,
            dept,
            role,
            level: input.participants.iter().map(|p| p.level.0).collect(),
            idhash: input.participants.iter().map(|p| fnv1a(p.id.as_str())).collect(),
            site,
            format: input.participants.iter().map(|p| p.format).collect(),
            times: input.participants.iter().map(|p| p.times).collect(),
            times_bound: if input.participants.iter().any(|p| !p.times.is_empty()) {
                input.weights.shared_times.abs()
            } else {
                0
            },
            priority,
            met,
            window_start: target - i64::from(input.weights.repeat_window),
        })
    }

    fn last_met(&self, a: usize, b: usize) -> Option<i64> {
        let list = &self.met[a];
        list.binary_search_by_key(&(b as u32), |x| x.0).ok().map(|i| list[i].1)
    }

    fn in_person(&self, a: usize, b: usize) -> bool {
        let (sa, sb) = (self.site[a], self.site[b]);
        self.format[a].accepts_in_person()
            && self.format[b].accepts_in_person()
            && (sa == NO_SITE || sb == NO_SITE || sa == sb)
    }

    fn video(&self, a: usize, b: usize) -> bool {
        self.format[a].accepts_video() && self.format[b].accepts_video()
    }

    /// How `a` and `b` can meet: in person if they can, else by video, else `None`.
    fn pair_mode(&self, a: usize, b: usize) -> Option<Mode> {
        if self.in_person(a, b) {
            Some(Mode::InPerson)
        } else if self.video(a, b) {
            Some(Mode::Video)
        } else {
            None
        }
    }

    /// The mode of a group (the spec's rule, as [`meeting::group_mode`] states it).
    fn group_mode(&self, members: &[usize]) -> Option<Mode> {
        let reach: Vec<Reach<'_>> = members
            .iter()
            .map(|&v| {
                let p = &self.input.participants[v];
                Reach { site: p.site.as_deref(), format: p.format }
            })
            .collect();
        meeting::group_mode(&reach)
    }

    /// Whether the pair may not be placed together: the same person, a meeting within the
    /// repeat window, or no way to meet (spec "Who can meet whom").
    fn forbidden(&self, a: usize, b: usize) -> bool {
        a == b
            || self.last_met(a, b).is_some_and(|m| m >= self.window_start)
            || self.pair_mode(a, b).is_none()
    }

    /// The shared-times term: both gave times and share one (+), share none (−), else 0.
    fn times_term(&self, a: usize, b: usize) -> i64 {
        let (ta, tb) = (self.times[a], self.times[b]);
        if ta.is_empty() || tb.is_empty() {
            0
        } else if ta.shared(tb).is_empty() {
            -self.input.weights.shared_times
        } else {
            self.input.weights.shared_times
        }
    }

    fn jitter(&self, a: usize, b: usize) -> i64 {
        let j = self.input.weights.jitter;
        if j == 0 {
            return 0;
        }
        let (lo, hi) = if self.idhash[a] <= self.idhash[b] {
            (self.idhash[a], self.idhash[b])
        } else {
            (self.idhash[b], self.idhash[a])
        };
        let h = splitmix(self.input.seed ^ splitmix(lo ^ splitmix(hi)));
        (h % (u64::from(j) + 1)) as i64
    }

    /// Score terms of an allowed pair, `None` if the pair is forbidden.
    fn terms(&self, a: usize, b: usize) -> Option<ScoreTerms> {
        if self.forbidden(a, b) {
            return None;
        }
        let w = &self.input.weights;
        Some(ScoreTerms {
            department: if self.dept[a] != self.dept[b] { w.department } else { 0 },
            role: if self.role[a] != self.role[b] { w.role } else { 0 },
            level: w.level_term(Level(self.level[a]), Level(self.level[b])),
            history: if self.last_met(a, b).is_some() { -w.repeat_penalty } else { 0 },
            jitter: self.jitter(a, b),
            times: self.times_term(a, b),
        })
    }

    fn score(&self, a: usize, b: usize) -> Option<i64> {
        self.terms(a, b).map(|t| t.total())
    }

    /// Largest and smallest possible score of any pair (bounds for the lexicographic weights).
    fn score_range(&self) -> (i64, i64) {
        let w = &self.input.weights;
        let lmax = *w.level_gap.iter().max().unwrap_or(&0);
        let lmin = *w.level_gap.iter().min().unwrap_or(&0);
        let times = self.times_bound;
        let hi = w.department.max(0) + w.role.max(0) + lmax + i64::from(w.jitter) + times;
        let lo = w.department.min(0) + w.role.min(0) + lmin - w.repeat_penalty.max(0) - times;
        (hi, lo.min(hi))
    }

    /// Upper bound of the score between anyone in `a`'s cell and anyone in `b`'s cell (same
    /// level, department and role): the level bound with the department and role terms exact.
    fn kind_bound(&self, a: usize, b: usize) -> i64 {
        let w = &self.input.weights;
        let dept = if self.dept[a] != self.dept[b] { w.department } else { 0 };
        let role = if self.role[a] != self.role[b] { w.role } else { 0 };
        self.level_pair_bound(self.level[a], self.level[b])
            - (w.department.max(0) - dept)
            - (w.role.max(0) - role)
    }

    /// Upper bound of the score between anyone at level `la` and anyone at level `lb`.
    fn level_pair_bound(&self, la: u32, lb: u32) -> i64 {
        let w = &self.input.weights;
        w.department.max(0)
            + w.role.max(0)
            + w.level_term(Level(la), Level(lb))
            + i64::from(w.jitter)
            + (-w.repeat_penalty).max(0)
            + self.times_bound
    }
}

/// Deterministic pseudo-random stream (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        splitmix(self.0)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The sparse candidate graph, in two parts: the `core` pairs the solver starts from, and the
/// `reserve` pairs it takes only where the core's duals show they are needed (allowed pairs
/// `(a, b)` with `a < b`, sorted, the two lists disjoint).
///
/// Pairs of participants whose cells (level, department, role) are the same two cells differ in
/// score only by jitter and history, so "kinds" of partner are what the optimum chooses between:
/// same or other department, same or other role, each career-level gap, and (when sites are given)
/// the same site at each level gap. Each participant gets its
/// best [`Tuning::best_partners`] over all draws and [`Tuning::random_partners`] uniformly random
/// ones (the core), and its best [`Tuning::per_kind`] partners of every kind (from
/// [`Tuning::sample`] draws of that kind, or all of them when the kind is small; the reserve). A
/// dominant department then has its inside pairs at hand from the start, instead of only its
/// scarce outsiders, while a roster whose best partners are enough keeps a small graph.
fn candidate_pairs(ctx: &Ctx, tuning: &Tuning) -> Result<CandidateGraph, PlanError> {
    let n = ctx.n;
    let mut pairs: Vec<(u32, u32)> = Vec::new();
    let mut reserve: Vec<(u32, u32)> = Vec::new();
    if n <= tuning.dense_below {
        for a in 0..n {
            if a.is_multiple_of(256) {
                check_stop(tuning)?;
            }
            for b in a + 1..n {
                if !ctx.forbidden(a, b) {
                    pairs.push((a as u32, b as u32));
                }
            }
        }
        return Ok(CandidateGraph { core: pairs, reserve });
    }
    // When one department holds over a quarter of everyone, its members must mostly meet each
    // other, while their best partners are its scarce outsiders: the best of every kind then
    // goes into the core (measured at 100,000 skewed with jitter: the first solve took 67 s on
    // the small core, 3.7 s on the core with every kind).
    let mut per_dept: BTreeMap<u32, usize> = BTreeMap::new();
    for &d in &ctx.dept {
        *per_dept.entry(d).or_default() += 1;
    }
    let lopsided = per_dept.values().any(|&c| 4 * c > n);
    // Two orders of everyone: by (level, department, role) and by (level, role, department), so
    // every pool below is a few contiguous ranges.
    let ldr = |v: u32| (ctx.level[v as usize], ctx.dept[v as usize], ctx.role[v as usize]);
    let lrd = |v: u32| (ctx.level[v as usize], ctx.role[v as usize], ctx.dept[v as usize]);
    let mut by_ldr: Vec<u32> = (0..n as u32).collect();
    by_ldr.sort_by_key(|&v| (ldr(v), v));
    let mut by_lrd: Vec<u32> = (0..n as u32).collect();
    by_lrd.sort_by_key(|&v| (lrd(v), v));
    let mut levels: Vec<u32> = ctx.level.clone();
    levels.sort_unstable();
    levels.dedup();
    let range =
        |order: &[u32], key: &dyn Fn(u32) -> (u32, u32, u32), lo: (u32, u32, u32), hi: (u32, u32, u32)| {
            (order.partition_point(|&v| key(v) < lo), order.partition_point(|&v| key(v) <= hi))
        };
    let gap_class = |la: u32, lb: u32| la.abs_diff(lb).min(4);
    // A pool: ranges of one order, and which attribute must differ from the participant's.
    // A third order by (site, level) gives each participant's same-site partners of every
    // level gap (those who meet only in person can meet no one else).
    let site_key = |v: u32| (ctx.site[v as usize], ctx.level[v as usize], 0);
    let has_sites = ctx.site.iter().any(|&x| x != NO_SITE);
    let mut by_sl: Vec<u32> = if has_sites { (0..n as u32).collect() } else { Vec::new() };
    by_sl.sort_by_key(|&v| (site_key(v), v));
    struct Pool {
        /// `(order, start, end)`: order 0 is by (level, department, role), 1 by (level, role,
        /// department), 2 by (site, level).
        ranges: Vec<(u8, usize, usize)>,
        /// `Some(true)`: the partner's department must differ; `Some(false)`: must be the same.
        other_dept: Option<bool>,
        other_role: Option<bool>,
        size: usize,
    }
    let mut site_pools: Vec<Pool> = Vec::new();
    let orders: [&[u32]; 3] = [&by_ldr, &by_lrd, &by_sl];
    let mut rng = Rng(ctx.input.seed ^ 0xC0FF_EE00_D15C_0A11);
    let mut pools: Vec<Pool> = Vec::new();
    let mut kind_best: Vec<(i64, u32)> = Vec::new();
    let mut all: Vec<(i64, u32)> = Vec::new();
    let mut cell_start = 0;
    while cell_start < n {
        check_stop(tuning)?;
        let first = by_ldr[cell_start];
        let key = ldr(first);
        let cell_end = cell_start + by_ldr[cell_start..].partition_point(|&v| ldr(v) == key);
        let (la, d, r) = key;
        pools.clear();
        for class in 0..=4 {
            let lbs: Vec<u32> = levels.iter().copied().filter(|&lb| gap_class(la, lb) == class).collect();
            if lbs.is_empty() {
                continue;
            }
            for (other_dept, other_role) in [(false, false), (false, true), (true, false), (true, true)] {
                let mut ranges = Vec::new();
                for &lb in &lbs {
                    let rg = match (other_dept, other_role) {
                        (false, false) => (0, range(&by_ldr, &ldr, (lb, d, r), (lb, d, r))),
                        (false, true) => (0, range(&by_ldr, &ldr, (lb, d, 0), (lb, d, u32::MAX))),
                        (true, false) => (1, range(&by_lrd, &lrd, (lb, r, 0), (lb, r, u32::MAX))),
                        (true, true) => (0, range(&by_ldr, &ldr, (lb, 0, 0), (lb, u32::MAX, u32::MAX))),
                    };
                    if rg.1.1 > rg.1.0 {
                        ranges.push((rg.0, rg.1.0, rg.1.1));
                    }
                }
                let size = ranges.iter().map(|x| x.2 - x.1).sum();
                if size > 0 {
                    pools.push(Pool {
                        ranges,
                        other_dept: Some(other_dept),
                        other_role: Some(other_role),
                        size,
                    });
                }
            }
        }
        for &a in &by_ldr[cell_start..cell_end] {
            let a = a as usize;
            all.clear();
            site_pools.clear();
            if has_sites && ctx.site[a] != NO_SITE {
                let sa = ctx.site[a];
                for class in 0..=4 {
                    let mut ranges = Vec::new();
                    for &lb in levels.iter().filter(|&&lb| gap_class(la, lb) == class) {
                        let (s0, e0) = range(&by_sl, &site_key, (sa, lb, 0), (sa, lb, 0));
                        if e0 > s0 {
                            ranges.push((2, s0, e0));
                        }
                    }
                    let size = ranges.iter().map(|x| x.2 - x.1).sum();
                    if size > 0 {
                        site_pools.push(Pool { ranges, other_dept: None, other_role: None, size });
                    }
                }
            }
            // The kinds that gave the best draw get `top_sample` more draws: where the best
            // partners are, the graph needs many of them (with jitter, several of the best).
            let mut top: Vec<(i64, usize)> = Vec::new();
            for (pi, pool) in pools.iter().chain(&site_pools).enumerate() {
                kind_best.clear();
                let fits = |b: usize| {
                    b != a
                        && pool.other_dept.is_none_or(|o| (ctx.dept[b] != ctx.dept[a]) == o)
                        && pool.other_role.is_none_or(|o| (ctx.role[b] != ctx.role[a]) == o)
                };
                let consider = |b: usize, kind_best: &mut Vec<(i64, u32)>| {
                    if fits(b)
                        && let Some(s) = ctx.score(a, b)
                    {
                        kind_best.push((s, b as u32));
                    }
                };
                if pool.size <= tuning.sample {
                    for &(o, s0, e0) in &pool.ranges {
                        for &b in &orders[o as usize][s0..e0] {
                            consider(b as usize, &mut kind_best);
                        }
                    }
                } else {
                    let mut drawn = 0;
                    for _ in 0..4 * tuning.sample {
                        if drawn == tuning.sample {
                            break;
                        }
                        let mut x = rng.below(pool.size);
                        for &(o, s0, e0) in &pool.ranges {
                            if x < e0 - s0 {
                                let b = orders[o as usize][s0 + x] as usize;
                                if fits(b) {
                                    drawn += 1;
                                    consider(b, &mut kind_best);
                                }
                                break;
                            }
                            x -= e0 - s0;
                        }
                    }
                }
                // Best first; among equals the first drawn (a random one).
                kind_best.sort_by_key(|x| std::cmp::Reverse(x.0));
                if let Some(&(best, _)) = kind_best.first() {
                    top.push((best, pi));
                }
                let list = if lopsided { &mut pairs } else { &mut reserve };
                for &(_, b) in kind_best.iter().take(tuning.per_kind) {
                    list.push(((a as u32).min(b), (a as u32).max(b)));
                }
                all.extend(kind_best.iter().copied());
            }
            let peak = top.iter().map(|x| x.0).max().unwrap_or(i64::MIN);
            top.retain(|x| x.0 == peak);
            let chosen: Vec<&Pool> =
                top.iter().filter_map(|&(_, pi)| pools.iter().chain(&site_pools).nth(pi)).collect();
            let size: usize = chosen.iter().map(|p| p.size).sum();
            if size > tuning.sample {
                for _ in 0..tuning.top_sample {
                    let mut x = rng.below(size);
                    'pick: for pool in &chosen {
                        for &(o, s0, e0) in &pool.ranges {
                            if x < e0 - s0 {
                                let b = orders[o as usize][s0 + x] as usize;
                                let fits = b != a
                                    && pool.other_dept.is_none_or(|o| (ctx.dept[b] != ctx.dept[a]) == o)
                                    && pool.other_role.is_none_or(|o| (ctx.role[b] != ctx.role[a]) == o);
                                if fits && let Some(sc) = ctx.score(a, b) {
                                    all.push((sc, b as u32));
                                }
                                break 'pick;
                            }
                            x -= e0 - s0;
                        }
                    }
                }
            }
            // Among equal scores, a random order per participant: by id, everyone's best
            // partners would be the same few, and the core graph a poor one (100,000 realistic
            // without jitter: the first solve took 6.7 s on it, 0.1 s after this).
            let salt = splitmix(ctx.input.seed ^ (a as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            all.sort_by_key(|x| (std::cmp::Reverse(x.0), splitmix(salt ^ u64::from(x.1)), x.1));
            all.dedup_by_key(|x| x.1);
            for &(_, b) in all.iter().take(tuning.best_partners) {
                pairs.push(((a as u32).min(b), (a as u32).max(b)));
            }
            for _ in 0..tuning.random_partners {
                let b = rng.below(n);
                if !ctx.forbidden(a, b) {
                    pairs.push(((a as u32).min(b as u32), (a as u32).max(b as u32)));
                }
            }
        }
        cell_start = cell_end;
    }
    pairs.sort_unstable();
    pairs.dedup();
    reserve.sort_unstable();
    reserve.dedup();
    reserve.retain(|x| pairs.binary_search(x).is_err());
    Ok(CandidateGraph { core: pairs, reserve })
}

/// See [`candidate_pairs`].
struct CandidateGraph {
    core: Vec<(u32, u32)>,
    reserve: Vec<(u32, u32)>,
}

fn check_stop(tuning: &Tuning) -> Result<(), PlanError> {
    match &tuning.stop {
        Some(flag) if flag.load(Ordering::Relaxed) => Err(PlanError::Cancelled),
        _ => Ok(()),
    }
}

/// What the certificate check found: allowed pairs outside the graph whose slack under the given
/// duals is negative, each with its deficit `2·w − (r_a + r_b)`, and whether the list is complete
/// (the check stops after visiting `budget` candidate pairs).
struct Violations {
    pairs: Vec<(u32, u32, i64)>,
    complete: bool,
}

/// Participants grouped by cell (level, department, role): pairs between two cells share one
/// score bound ([`Ctx::kind_bound`]). Each cell lists `(reduced dual, participant)` ascending.
fn cells_by_dual(ctx: &Ctx, reduced: &[i64]) -> Vec<Vec<(i64, u32)>> {
    let mut order: Vec<u32> = (0..ctx.n as u32).collect();
    let key = |v: u32| (ctx.level[v as usize], ctx.dept[v as usize], ctx.role[v as usize]);
    order.sort_by_key(|&v| (key(v), reduced[v as usize], v));
    let mut cells: Vec<Vec<(i64, u32)>> = Vec::new();
    for (i, &v) in order.iter().enumerate() {
        if i == 0 || key(order[i - 1]) != key(v) {
            cells.push(Vec::new());
        }
        if let Some(c) = cells.last_mut() {
            c.push((reduced[v as usize], v));
        }
    }
    cells
}

/// Allowed pairs outside `pairs` whose slack under `reduced` may be negative (blossom duals, which
/// only add slack, are left out, so a flagged pair may in fact be fine: adding it is harmless).
/// Only pairs whose duals sum below twice their cells' score bound are visited.
fn dense_violations(ctx: &Ctx, reduced: &[i64], pairs: &[(u32, u32)], budget: usize) -> Violations {
    let n = ctx.n;
    let mut start = vec![0usize; n + 1];
    for &(a, b) in pairs {
        start[a as usize + 1] += 1;
        start[b as usize + 1] += 1;
    }
    for v in 0..n {
        start[v + 1] += start[v];
    }
    let mut fill = start.clone();
    let mut adj = vec![0u32; start[n]];
    for &(a, b) in pairs {
        adj[fill[a as usize]] = b;
        fill[a as usize] += 1;
        adj[fill[b as usize]] = a;
        fill[b as usize] += 1;
    }
    for v in 0..n {
        adj[start[v]..start[v + 1]].sort_unstable();
    }
    let cells = cells_by_dual(ctx, reduced);
    let mut out = Vec::new();
    let mut visits = 0usize;
    for (i, cell_a) in cells.iter().enumerate() {
        for (j, cell_b) in cells.iter().enumerate().skip(i) {
            let bound = 2 * ctx.kind_bound(cell_a[0].1 as usize, cell_b[0].1 as usize);
            if cell_a[0].0 + cell_b[0].0 >= bound {
                continue;
            }
            for (ia, &(ya, a)) in cell_a.iter().enumerate() {
                if ya + cell_b[0].0 >= bound {
                    break;
                }
                let from = if i == j { ia + 1 } else { 0 };
                for &(yb, b) in &cell_b[from..] {
                    if ya + yb >= bound {
                        break;
                    }
                    visits += 1;
                    if visits > budget {
                        return Violations { pairs: out, complete: false };
                    }
                    let (x, y) = (a.min(b), a.max(b));
                    if adj[start[x as usize]..start[x as usize + 1]].binary_search(&y).is_ok() {
                        continue;
                    }
                    if let Some(s) = ctx.score(x as usize, y as usize)
                        && ya + yb < 2 * s
                    {
                        out.push((x, y, 2 * s - ya - yb));
                    }
                }
            }
        }
    }
    Violations { pairs: out, complete: true }
}

/// An upper bound on how much the full allowed-pair graph's optimum can exceed the matching
/// whose (tight, feasible on the candidate graph) reduced duals are `reduced`: raise duals until
/// every allowed pair is feasible; the optimum is at most the raised dual objective. With the
/// complete list of violations the raise is per pair; otherwise per cell pair, from each cell's
/// least dual (looser, still a bound).
fn proven_gap_of(ctx: &Ctx, reduced: &[i64], found: &Violations) -> i64 {
    let mut extra = vec![0i64; ctx.n];
    if found.complete {
        let mut list = found.pairs.clone();
        list.sort_by_key(|x| std::cmp::Reverse(x.2));
        for (a, b, d) in list {
            let (a, b) = (a as usize, b as usize);
            if extra[a] + extra[b] >= d {
                continue;
            }
            let v = if extra[a] >= extra[b] { a } else { b };
            extra[v] = d - extra[if v == a { b } else { a }];
        }
    } else {
        let cells = cells_by_dual(ctx, reduced);
        for cell_a in &cells {
            for cell_b in &cells {
                let bound = 2 * ctx.kind_bound(cell_a[0].1 as usize, cell_b[0].1 as usize);
                for &(ya, a) in cell_a {
                    let need = bound - ya - cell_b[0].0;
                    if need <= 0 {
                        break;
                    }
                    extra[a as usize] = extra[a as usize].max(need);
                }
            }
        }
    }
    // Duals are doubled: the objective moves by half the raise.
    (extra.iter().sum::<i64>() + 1) / 2
}

/// A second certificate, tried before the solver's own duals: every matched pair splits its
/// weight evenly (equal reduced duals `w(a, b)` on both ends, no blossoms), and a participant matched to the single
/// dummy gets the least dual that keeps its real edges feasible. It is tight on the matching by
/// construction; if it is also feasible on every allowed pair (checked by the caller) and on the
/// dummy's edges (checked here), the matching is optimal on the full graph. Returns the reduced
/// duals (`2y − B − 2P·priority`), or `None` when it does not apply.
fn balanced_dual(
    ctx: &Ctx,
    mate: &[Option<usize>],
    n: usize,
    b_bonus: i64,
    p_bonus: i64,
) -> Option<Vec<i64>> {
    let prio = |v: usize| if ctx.priority[v] { p_bonus } else { 0 };
    let weight = |a: usize, b: usize| ctx.score(a, b).map(|s| b_bonus + prio(a) + prio(b) + s);
    let mut dual = vec![0i64; n];
    let mut left = None;
    for v in 0..n {
        match mate[v] {
            // Each end keeps its own priority bonus, so the reduced duals are equal.
            Some(u) if u < n => dual[v] = b_bonus + 2 * prio(v) + ctx.score(v, u)?,
            _ => {
                if left.is_some() || mate.len() != n + 1 {
                    return None;
                }
                left = Some(v);
            }
        }
    }
    if let Some(x) = left {
        let mut t = i64::MIN;
        for (c, &dc) in dual.iter().enumerate() {
            if let Some(w) = weight(x, c) {
                t = t.max(2 * w - dc);
            }
        }
        if t == i64::MIN {
            t = 0;
        }
        dual[x] = t;
        // The dummy's dual is -t: every real vertex needs dual ≥ t for its dummy edge.
        if (0..n).any(|c| c != x && dual[c] < t) {
            return None;
        }
    }
    Some((0..n).map(|v| dual[v] - b_bonus - 2 * prio(v)).collect())
}

/// Reduced slack (doubled, so 4 score points) above which a pair leaves the graph at the first
/// widening by the cell check, on top of twice the largest shortfall found (see `plan_with`).
const PRUNE_SLACK: i64 = 8;

/// Plan a round: the exact optimum of steps 1–3, then left-over participants and sit-outs.
pub fn plan_with(input: &Input, tuning: &Tuning) -> Result<Plan, PlanError> {
    let ctx = Ctx::new(input)?;
    let n = ctx.n;
    let (hi, lo) = ctx.score_range();
    let span = (hi - lo).max(1);
    let half = (n as i64 / 2).max(1);
    let p_bonus = span * half + 1;
    let b_bonus = 2 * ((2 * p_bonus + span) * half + 1);
    let prio = |v: usize| if ctx.priority[v] { p_bonus } else { 0 };

    check_stop(tuning)?;
    let CandidateGraph { core: mut pairs, mut reserve } = candidate_pairs(&ctx, tuning)?;
    let mut dummies = n % 2;
    let mut widenings = 0;
    let mut added = 0usize;
    let mut proven_gap = None;
    let mut pruned = false;
    let stop = tuning.stop.as_deref();
    let sol = loop {
        let mut edges: Vec<(u32, u32, i64)> = Vec::with_capacity(pairs.len() + dummies * n);
        for &(a, b) in &pairs {
            let (a, b) = (a as usize, b as usize);
            if let Some(s) = ctx.score(a, b) {
                edges.push((a as u32, b as u32, b_bonus + prio(a) + prio(b) + s));
            }
        }
        for d in 0..dummies {
            let dv = (n + d) as u32;
            for v in 0..n as u32 {
                edges.push((v, dv, 0));
            }
            for e in d + 1..dummies {
                edges.push((dv, (n + e) as u32, 0));
            }
        }
        // After a widening the solver starts afresh from its greedy duals: resuming from the
        // previous duals (`blossom::solve_with` can) measured slower here, 2.5 s against 0.6 s
        // on a 20,000 roster, as the raised duals of the new pairs free thousands of vertices.
        let sol = blossom::solve_with(n + dummies, &edges, None, stop).ok_or(PlanError::Cancelled)?;
        if !sol.is_perfect() {
            dummies += sol.mate.iter().filter(|m| m.is_none()).count();
            widenings += 1;
            continue;
        }
        if n > tuning.dense_below {
            check_stop(tuning)?;
            if let Some(reduced) = balanced_dual(&ctx, &sol.mate, n, b_bonus, p_bonus)
                && let found = dense_violations(&ctx, &reduced, &[], 16 * n)
                && found.complete
                && found.pairs.is_empty()
            {
                break sol;
            }
            let reduced: Vec<i64> = (0..n).map(|v| sol.vertex_dual[v] - b_bonus - 2 * prio(v)).collect();
            // Reserve pairs that these duals cannot price join the graph (all of them: the
            // reserve is a few pairs per participant); those they can price wait.
            let fails = |&(a, b): &(u32, u32)| {
                let (a, b) = (a as usize, b as usize);
                ctx.score(a, b).is_some_and(|s| reduced[a] + reduced[b] < 2 * s)
            };
            let short: Vec<(u32, u32)> = reserve.iter().copied().filter(fails).collect();
            if !short.is_empty() {
                reserve.retain(|x| !fails(x));
                pairs.extend(short);
                pairs.sort_unstable();
                widenings += 1;
                continue;
            }
            let budget = tuning.widen_limit.saturating_mul(n).saturating_sub(added);
            let mut found =
                dense_violations(&ctx, &reduced, &pairs, budget.saturating_mul(4).saturating_add(64 * n));
            if found.complete && found.pairs.is_empty() {
                break sol;
            }
            if !found.complete || budget == 0 {
                proven_gap = Some(proven_gap_of(&ctx, &reduced, &found));
                break sol;
            }
            // Add the worst pairs first when there are more than the limit allows.
            found.pairs.sort_by_key(|x| (std::cmp::Reverse(x.2), x.0, x.1));
            found.pairs.truncate(budget);
            added += found.pairs.len();
            // At the first such widening, the pairs these duals price well above their weight
            // leave the graph: the next optimum is near this one (the failing pairs fall short
            // by a point or two), and a pair left out that it needs is found again by the same
            // check. Measured on 100,000 skewed with jitter: the second solve on 1.0 M edges
            // instead of 3.0 M took 2.6 s instead of 4.7 s.
            if !pruned {
                pruned = true;
                let worst = found.pairs.first().map_or(0, |x| x.2);
                let keep = PRUNE_SLACK + 2 * worst;
                pairs.retain(|&(a, b)| {
                    let (a, b) = (a as usize, b as usize);
                    ctx.score(a, b).is_some_and(|s| reduced[a] + reduced[b] - 2 * s <= keep)
                });
            }
            pairs.extend(found.pairs.iter().map(|x| (x.0, x.1)));
            pairs.sort_unstable();
            pairs.dedup();
            widenings += 1;
            continue;
        }
        break sol;
    };

    // The matching on real participants, in input order.
    let mut matched: Vec<(usize, usize)> = Vec::new();
    let mut leftover: Vec<usize> = Vec::new();
    for v in 0..n {
        match sol.mate[v] {
            Some(u) if u < n => {
                if v < u {
                    matched.push((v, u));
                }
            }
            _ => leftover.push(v),
        }
    }
    let matching_score: i64 = matched.iter().map(|&(a, b)| ctx.score(a, b).unwrap_or(0)).sum();
    let solver_graph = tuning.keep_graph.then(|| SolverGraph {
        vertices: n,
        edges: pairs
            .iter()
            .filter_map(|&(a, b)| {
                let (a, b) = (a as usize, b as usize);
                ctx.score(a, b).map(|s| (a as u32, b as u32, prio(a) + prio(b) + s))
            })
            .collect(),
        optimum: matched.iter().map(|&(a, b)| prio(a) + prio(b) + ctx.score(a, b).unwrap_or(0)).sum(),
        optimum_pairs: matched.len(),
    });

    // Step 4: each left-over participant joins the pair with the best attachment score.
    let mut third: Vec<Option<usize>> = vec![None; matched.len()];
    let mut sit_outs = Vec::new();
    for &x in &leftover {
        let mut best: Option<(i64, u64, usize)> = None;
        for (pi, &(a, b)) in matched.iter().enumerate() {
            if third[pi].is_some() {
                continue;
            }
            if let (Some(sa), Some(sb)) = (ctx.score(x, a), ctx.score(x, b))
                && ctx.group_mode(&[a, b, x]).is_some()
            {
                let tie =
                    splitmix(input.seed ^ splitmix(ctx.idhash[x] ^ splitmix(ctx.idhash[a] ^ ctx.idhash[b])));
                let key = (sa + sb, tie, pi);
                if best.is_none_or(|bk| (key.0, key.1) > (bk.0, bk.1)) {
                    best = Some(key);
                }
            }
        }
        match best {
            Some((_, _, pi)) => third[pi] = Some(x),
            None => {
                let alone = (0..n).all(|y| ctx.forbidden(x, y));
                sit_outs.push(SitOut {
                    id: input.participants[x].id.clone(),
                    reason: if alone {
                        SitOutReason::NoAllowedPartner
                    } else {
                        SitOutReason::NoGroupCanTakeThem
                    },
                });
            }
        }
    }

    let id = |v: usize| input.participants[v].id.clone();
    let pair_score =
        |a: usize, b: usize| PairScore { a: id(a), b: id(b), terms: ctx.terms(a, b).unwrap_or_default() };
    let mut groups = Vec::with_capacity(matched.len());
    let mut stats = PlanStats {
        participants: n,
        priority_participants: ctx.priority.iter().filter(|&&p| p).count(),
        matched_pairs: matched.len(),
        candidate_edges: pairs.len(),
        widenings,
        proven_gap,
        matching_score,
        ..PlanStats::default()
    };
    for (pi, &(a, b)) in matched.iter().enumerate() {
        let mut members = vec![a, b];
        let mut ps = vec![pair_score(a, b)];
        if let Some(c) = third[pi] {
            members.push(c);
            ps.push(pair_score(a, c));
            ps.push(pair_score(b, c));
        }
        let score = ps.iter().map(|p| p.terms.total()).sum();
        stats.total_score += score;
        stats.priority_grouped += members.iter().filter(|&&v| ctx.priority[v]).count();
        if members.iter().any(|&v| ctx.dept[v] != ctx.dept[a]) {
            stats.cross_department_groups += 1;
        }
        let mode = ctx.group_mode(&members).unwrap_or(Mode::InPerson);
        groups.push(Group { members: members.into_iter().map(id).collect(), score, pairs: ps, mode });
    }
    Ok(Plan { groups, sit_outs, stats, solver_graph })
}
