//! Property tests of `matching::plan`: the spec's rules, checked against exhaustive search on
//! small rosters and against the dense graph on larger ones.

use coffee_rounds::matching::{
    self, HistoryEntry, Input, Level, Month, Participant, ParticipantId, Plan, SitOutReason, Tuning, Weights,
};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

const DEPTS: [&str; 4] = ["Emergency", "Surgery", "Pharmacy", "Finance"];
const ROLES: [&str; 3] = ["Nurse", "Physician", "Administrator"];

fn id(i: usize) -> ParticipantId {
    ParticipantId::parse(&format!("{}", 100 + i)).unwrap()
}

fn month() -> Month {
    Month::parse("2026-03").unwrap()
}

/// A roster of `people` (dept, role, level) with `met` (pair, months before the target) and
/// `sat_out` (participant, months before).
fn input(
    people: &[(usize, usize, u32)],
    met: &[((usize, usize), i64)],
    sat_out: &[(usize, i64)],
    jitter: u32,
    seed: u64,
) -> Input {
    let back = |k: i64| {
        let mut m = month();
        for _ in 0..k {
            m = m.prev();
        }
        m
    };
    let mut history = Vec::new();
    for &((a, b), k) in met {
        if a < people.len() && b < people.len() && a != b {
            history.push(HistoryEntry { a: id(a), b: Some(id(b)), month: back(k) });
        }
    }
    for &(a, k) in sat_out {
        if a < people.len() {
            history.push(HistoryEntry { a: id(a), b: None, month: back(k) });
        }
    }
    Input {
        participants: people
            .iter()
            .enumerate()
            .map(|(i, &(d, r, l))| Participant::new(id(i), ROLES[r], Level(l), DEPTS[d]))
            .collect(),
        history,
        month: month(),
        weights: Weights { jitter, ..Weights::default() },
        seed,
    }
}

/// The score table of the spec, written independently of the library (jitter excluded).
fn table_score(inp: &Input, a: usize, b: usize) -> Option<i64> {
    let pa = &inp.participants[a];
    let pb = &inp.participants[b];
    let norm = |s: &str| s.trim().to_lowercase();
    let target = inp.month.index();
    let mut last: Option<i64> = None;
    for h in &inp.history {
        if let Some(hb) = &h.b {
            let same = (h.a == pa.id && *hb == pb.id) || (h.a == pb.id && *hb == pa.id);
            if same && h.month.index() < target {
                last = last.max(Some(h.month.index()));
            }
        }
    }
    if last.is_some_and(|m| m >= target - 6) {
        return None;
    }
    let gap = pa.level.0.abs_diff(pb.level.0);
    let level = match gap {
        1 | 2 => 30,
        3 => 10,
        _ => 0,
    };
    Some(
        if norm(&pa.department) != norm(&pb.department) { 40 } else { 0 }
            + if norm(&pa.role) != norm(&pb.role) { 20 } else { 0 }
            + level
            - if last.is_some() { 20 } else { 0 },
    )
}

fn priority(inp: &Input) -> BTreeSet<usize> {
    let prev = inp.month.prev();
    (0..inp.participants.len())
        .filter(|&i| {
            inp.history.iter().any(|h| h.b.is_none() && h.month == prev && h.a == inp.participants[i].id)
        })
        .collect()
}

/// Best (pairs, priority paired, score) over all matchings of the allowed graph, with the
/// library's jitter added to each pair (jitter is checked separately).
fn brute_force(inp: &Input, w: &dyn Fn(usize, usize) -> Option<i64>) -> (usize, usize, i64) {
    let n = inp.participants.len();
    let prio = priority(inp);
    fn go(
        rest: &[usize],
        w: &dyn Fn(usize, usize) -> Option<i64>,
        prio: &BTreeSet<usize>,
    ) -> (usize, usize, i64) {
        let Some((&first, tail)) = rest.split_first() else {
            return (0, 0, 0);
        };
        let mut best = go(tail, w, prio);
        for (j, &b) in tail.iter().enumerate() {
            if let Some(s) = w(first, b) {
                let mut others: Vec<usize> = tail.to_vec();
                others.remove(j);
                let (c, p, t) = go(&others, w, prio);
                let here = (c + 1, p + prio.contains(&first) as usize + prio.contains(&b) as usize, t + s);
                best = best.max(here);
            }
        }
        best
    }
    let all: Vec<usize> = (0..n).collect();
    go(&all, w, &prio)
}

fn index_of(inp: &Input) -> BTreeMap<ParticipantId, usize> {
    inp.participants.iter().enumerate().map(|(i, p)| (p.id.clone(), i)).collect()
}

/// The matching inside a plan: each group's first two members.
fn matching_of(inp: &Input, plan: &Plan) -> Vec<(usize, usize)> {
    let ix = index_of(inp);
    plan.groups.iter().map(|g| (ix[&g.members[0]], ix[&g.members[1]])).collect()
}

fn roster(max: usize) -> impl Strategy<Value = Input> {
    (
        proptest::collection::vec((0..4usize, 0..3usize, 0..6u32), 0..=max),
        proptest::collection::vec(((0..max, 0..max), 1..10i64), 0..(max * 2)),
        proptest::collection::vec((0..max, 1..3i64), 0..3),
        0..12u32,
        any::<u64>(),
    )
        .prop_map(|(people, met, sat, jitter, seed)| input(&people, &met, &sat, jitter, seed))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn plan_is_exactly_optimal_and_follows_the_rules_up_to_12_people(inp in roster(12)) {
        let plan = matching::plan(&inp).unwrap();
        let ix = index_of(&inp);
        let n = inp.participants.len();

        // Everyone appears exactly once: in one group or as a sit-out.
        let mut seen = vec![0; n];
        for g in &plan.groups {
            prop_assert!(g.members.len() == 2 || g.members.len() == 3);
            for m in &g.members { seen[ix[m]] += 1; }
        }
        for s in &plan.sit_outs { seen[ix[&s.id]] += 1; }
        prop_assert!(seen.iter().all(|&c| c == 1), "{:?}", seen);

        // No forbidden pair inside a group; every pair's terms follow the table.
        for g in &plan.groups {
            for p in &g.pairs {
                let (a, b) = (ix[&p.a], ix[&p.b]);
                let table = table_score(&inp, a, b);
                prop_assert!(table.is_some(), "forbidden pair {a}-{b} grouped");
                prop_assert!(p.terms.jitter >= 0 && p.terms.jitter <= i64::from(inp.weights.jitter));
                prop_assert_eq!(p.terms.total() - p.terms.jitter, table.unwrap());
            }
            prop_assert_eq!(g.score, g.pairs.iter().map(|p| p.terms.total()).sum::<i64>());
        }

        // Steps 1-3: lexicographic optimum, against exhaustive search.
        let mut wm = vec![vec![None; n]; n];
        for (a, row) in wm.iter_mut().enumerate() {
            for (b, cell) in row.iter_mut().enumerate() {
                *cell = matching::score_pair(&inp, &inp.participants[a].id, &inp.participants[b].id)
                    .map(|t| t.total());
            }
        }
        let w = |a: usize, b: usize| wm[a][b];
        let (pairs, prio, total) = brute_force(&inp, &w);
        let m = matching_of(&inp, &plan);
        let pset = priority(&inp);
        let got_prio = m.iter().map(|&(a, b)| pset.contains(&a) as usize + pset.contains(&b) as usize).sum::<usize>();
        prop_assert_eq!(m.len(), pairs, "maximum cardinality");
        prop_assert_eq!(got_prio, prio, "priority participants paired");
        prop_assert_eq!(plan.stats.matching_score, total, "total score");

        // Step 4/5: a sit-out could not have joined any pair.
        for s in &plan.sit_outs {
            let x = ix[&s.id];
            for &(a, b) in &m {
                let free = !plan.groups.iter().any(|g| g.members.len() == 3 && (ix[&g.members[0]] == a));
                prop_assert!(!(free && table_score(&inp, x, a).is_some() && table_score(&inp, x, b).is_some()),
                    "{x} sits out but pair {a}-{b} could take them");
            }
            let alone = (0..n).all(|y| y == x || table_score(&inp, x, y).is_none());
            prop_assert_eq!(s.reason == SitOutReason::NoAllowedPartner, alone);
        }
    }

    #[test]
    fn same_seed_same_plan_and_other_seeds_change_only_the_jitter(inp in roster(10), other in any::<u64>()) {
        let again = matching::plan(&inp).unwrap();
        prop_assert_eq!(&matching::plan(&inp).unwrap(), &again);
        let mut inp2 = inp.clone();
        inp2.seed = other;
        let n = inp.participants.len();
        for a in 0..n {
            for b in 0..n {
                let (ia, ib) = (&inp.participants[a].id, &inp.participants[b].id);
                let t1 = matching::score_pair(&inp, ia, ib);
                let t2 = matching::score_pair(&inp2, ia, ib);
                prop_assert_eq!(t1.is_some(), t2.is_some());
                if let (Some(t1), Some(t2)) = (t1, t2) {
                    prop_assert_eq!((t1.department, t1.role, t1.level, t1.history),
                                    (t2.department, t2.role, t2.level, t2.history));
                    // Symmetric.
                    prop_assert_eq!(matching::score_pair(&inp, ib, ia), Some(t1));
                }
            }
        }
    }
}

#[test]
fn different_seeds_give_different_jitter() {
    let people: Vec<(usize, usize, u32)> = (0..20).map(|i| (i % 4, i % 3, (i % 6) as u32)).collect();
    let a = input(&people, &[], &[], 10, 1);
    let b = input(&people, &[], &[], 10, 2);
    let differs = (1..20).any(|j| {
        matching::score_pair(&a, &id(0), &id(j)).map(|t| t.jitter)
            != matching::score_pair(&b, &id(0), &id(j)).map(|t| t.jitter)
    });
    assert!(differs);
}

/// Random hospital-like roster of `n` people with some history, for sparse-vs-dense checks.
fn big_roster(n: usize, seed: u64) -> Input {
    let mut x = seed | 1;
    let mut rnd = move |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    let people: Vec<(usize, usize, u32)> =
        (0..n).map(|_| (rnd(4) as usize, rnd(3) as usize, rnd(6) as u32)).collect();
    let met: Vec<((usize, usize), i64)> =
        (0..n * 3).map(|_| ((rnd(n as u64) as usize, rnd(n as u64) as usize), 1 + rnd(9) as i64)).collect();
    let sat: Vec<(usize, i64)> = (0..n / 20).map(|_| (rnd(n as u64) as usize, 1)).collect();
    input(&people, &met, &sat, 10, seed)
}

#[test]
fn sparse_candidate_graph_reaches_the_dense_optimum() {
    let dense = Tuning { dense_below: usize::MAX, ..Tuning::default() };
    let sparse = Tuning {
        dense_below: 0,
        per_kind: 1,
        best_partners: 2,
        sample: 6,
        random_partners: 1,
        widen_limit: usize::MAX,
        ..Tuning::default()
    };
    for (n, seed) in [(101, 1), (240, 2), (333, 3)] {
        let inp = big_roster(n, seed);
        let d = matching::plan_with(&inp, &dense).unwrap();
        let s = matching::plan_with(&inp, &sparse).unwrap();
        assert_eq!(s.stats.matched_pairs, d.stats.matched_pairs, "n={n}");
        assert_eq!(s.stats.priority_grouped, d.stats.priority_grouped, "n={n}");
        assert_eq!(s.stats.matching_score, d.stats.matching_score, "n={n}");
        assert_eq!(s.stats.proven_gap, None, "n={n}");
        assert!(s.stats.candidate_edges < d.stats.candidate_edges);
    }
}

#[test]
fn duplicate_ids_are_rejected() {
    let mut inp = input(&[(0, 0, 1), (1, 1, 2)], &[], &[], 10, 1);
    inp.participants[1].id = id(0);
    assert!(matching::plan(&inp).is_err());
}

#[test]
fn month_parses_formats_and_steps() {
    let m = Month::parse(" 2026-01 ").unwrap();
    assert_eq!(m.to_string(), "2026-01");
    assert_eq!(m.prev().to_string(), "2025-12");
    assert_eq!(m.next().next().to_string(), "2026-03");
    for bad in ["2026-13", "2026-00", "26-01", "2026/01", "2026-1", "abcd-ef", ""] {
        assert!(Month::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(Level::parse(" 3 ").unwrap(), Level(3));
    assert!(Level::parse("-1").is_err());
    assert!(Level::parse("2.5").is_err());
    assert!(ParticipantId::parse("  ").is_err());
}
