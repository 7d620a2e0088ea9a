//! Matching specification v2.0: sites, in person or video, and shared free times. The rules are
//! written here again, independently of the library, and checked against exhaustive search.

use coffee_rounds::matching::{
    self, FreeTimes, HistoryEntry, Input, Level, MeetFormat, Mode, Month, Participant, ParticipantId, Plan,
    SitOutReason, Slot, Tuning, Weights,
};
use proptest::prelude::*;
use std::collections::BTreeMap;

const DEPTS: [&str; 3] = ["Emergency", "Surgery", "Pharmacy"];
const ROLES: [&str; 2] = ["Nurse", "Physician"];
/// Index 0 is "no site given"; index 3 is a blank site, which counts as none.
const SITES: [Option<&str>; 4] = [None, Some("North Campus"), Some(" north campus "), Some("  ")];
const SOUTH: Option<&str> = Some("South Campus");

fn id(i: usize) -> ParticipantId {
    ParticipantId::parse(&format!("p{i}")).unwrap()
}

fn month() -> Month {
    Month::parse("2026-03").unwrap()
}

/// One person: department, role, level, site (index into SITES, 4 = South), format, times bits.
type Person = (usize, usize, u32, usize, usize, u8);

fn person(i: usize, &(d, r, l, site, format, times): &Person) -> Participant {
    let mut p = Participant::new(id(i), ROLES[r], Level(l), DEPTS[d]);
    p.site = if site == 4 { SOUTH } else { SITES[site] }.map(str::to_owned);
    p.format = MeetFormat::ALL[format];
    p.times = FreeTimes::from_slots(
        Slot::ALL.into_iter().enumerate().filter(|(k, _)| times & (1 << k) != 0).map(|x| x.1),
    );
    p
}

fn input(people: &[Person], met: &[(usize, usize)], jitter: u32, seed: u64) -> Input {
    let history = met
        .iter()
        .filter(|&&(a, b)| a < people.len() && b < people.len() && a != b)
        .map(|&(a, b)| HistoryEntry { a: id(a), b: Some(id(b)), month: month().prev() })
        .collect();
    Input {
        participants: people.iter().enumerate().map(|(i, p)| person(i, p)).collect(),
        history,
        month: month(),
        weights: Weights { jitter, ..Weights::default() },
        seed,
    }
}

/// The site as the rule compares it: trimmed, any case, blank = none.
fn site_key(p: &Participant) -> Option<String> {
    p.site.as_deref().map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty())
}

fn can_in_person(a: &Participant, b: &Participant) -> bool {
    let sites_ok = match (site_key(a), site_key(b)) {
        (Some(x), Some(y)) => x == y,
        _ => true,
    };
    a.format != MeetFormat::Video && b.format != MeetFormat::Video && sites_ok
}

fn can_video(a: &Participant, b: &Participant) -> bool {
    a.format != MeetFormat::InPerson && b.format != MeetFormat::InPerson
}

/// The spec's mode of a group, written out pair by pair.
fn mode_of(members: &[&Participant]) -> Option<Mode> {
    let pairs: Vec<(&Participant, &Participant)> = (0..members.len())
        .flat_map(|i| (i + 1..members.len()).map(move |j| (i, j)))
        .map(|(i, j)| (members[i], members[j]))
        .collect();
    if pairs.iter().all(|(a, b)| can_in_person(a, b)) {
        Some(Mode::InPerson)
    } else if pairs.iter().all(|(a, b)| can_video(a, b)) {
        Some(Mode::Video)
    } else {
        None
    }
}

/// The spec's score without jitter, or `None` when the pair is not allowed.
fn table_score(inp: &Input, a: usize, b: usize) -> Option<i64> {
    let (pa, pb) = (&inp.participants[a], &inp.participants[b]);
    let met = inp.history.iter().any(|h| {
        let hb = h.b.as_ref().unwrap();
        (h.a == pa.id && *hb == pb.id) || (h.a == pb.id && *hb == pa.id)
    });
    if a == b || met || mode_of(&[pa, pb]).is_none() {
        return None;
    }
    let level = match pa.level.0.abs_diff(pb.level.0) {
        1 | 2 => 30,
        3 => 10,
        _ => 0,
    };
    let times = if pa.times.is_empty() || pb.times.is_empty() {
        0
    } else if pa.times.shared(pb.times).is_empty() {
        -20
    } else {
        20
    };
    Some(
        if pa.department != pb.department { 40 } else { 0 }
            + if pa.role != pb.role { 20 } else { 0 }
            + level
            + times,
    )
}

/// Best (pairs, score) over all matchings of the allowed graph.
fn brute_force(n: usize, w: &dyn Fn(usize, usize) -> Option<i64>) -> (usize, i64) {
    fn go(rest: &[usize], w: &dyn Fn(usize, usize) -> Option<i64>) -> (usize, i64) {
        let Some((&first, tail)) = rest.split_first() else {
            return (0, 0);
        };
        let mut best = go(tail, w);
        for (j, &b) in tail.iter().enumerate() {
            if let Some(s) = w(first, b) {
                let mut others = tail.to_vec();
                others.remove(j);
                let (c, t) = go(&others, w);
                best = best.max((c + 1, t + s));
            }
        }
        best
    }
    go(&(0..n).collect::<Vec<_>>(), w)
}

fn roster(max: usize) -> impl Strategy<Value = Input> {
    (
        proptest::collection::vec((0..3usize, 0..2usize, 0..6u32, 0..5usize, 0..3usize, 0..64u8), 0..=max),
        proptest::collection::vec((0..max, 0..max), 0..max),
        any::<u64>(),
    )
        .prop_map(|(people, met, seed)| input(&people, &met, 0, seed))
}

fn index_of(inp: &Input) -> BTreeMap<ParticipantId, usize> {
    inp.participants.iter().enumerate().map(|(i, p)| (p.id.clone(), i)).collect()
}

fn members<'a>(inp: &'a Input, plan: &Plan, g: usize) -> Vec<&'a Participant> {
    let ix = index_of(inp);
    plan.groups[g].members.iter().map(|m| &inp.participants[ix[m]]).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn groups_meet_in_a_common_mode_and_the_plan_is_optimal_up_to_11_people(inp in roster(11)) {
        let plan = matching::plan(&inp).unwrap();
        let ix = index_of(&inp);
        let n = inp.participants.len();
        for (g, group) in plan.groups.iter().enumerate() {
            let people = members(&inp, &plan, g);
            let mode = mode_of(&people);
            prop_assert!(mode.is_some(), "group {:?} has no common mode", group.members);
            prop_assert_eq!(Some(group.mode), mode);
            for p in &group.pairs {
                let table = table_score(&inp, ix[&p.a], ix[&p.b]);
                prop_assert_eq!(Some(p.terms.total()), table, "pair {} {}", p.a, p.b);
            }
        }
        let (pairs, total) = brute_force(n, &|a, b| table_score(&inp, a, b));
        prop_assert_eq!(plan.stats.matched_pairs, pairs, "maximum cardinality on allowed pairs");
        prop_assert_eq!(plan.stats.matching_score, total, "maximum score");
        // A sit-out fits no free pair: a pair that takes a third needs both new pairs allowed
        // and a mode common to the three.
        for s in &plan.sit_outs {
            let x = &inp.participants[ix[&s.id]];
            for (g, group) in plan.groups.iter().enumerate() {
                if group.members.len() == 2 {
                    let mut three = members(&inp, &plan, g);
                    let fits = table_score(&inp, ix[&s.id], ix[&group.members[0]]).is_some()
                        && table_score(&inp, ix[&s.id], ix[&group.members[1]]).is_some()
                        && { three.push(x); mode_of(&three).is_some() };
                    prop_assert!(!fits, "{} sits out but {:?} could take them", s.id, group.members);
                }
            }
            let alone = (0..n).all(|y| table_score(&inp, ix[&s.id], y).is_none());
            prop_assert_eq!(s.reason == SitOutReason::NoAllowedPartner, alone);
        }
    }

    #[test]
    fn a_roster_without_sites_formats_or_times_gives_the_same_groups_as_v1(
        people in proptest::collection::vec((0..3usize, 0..2usize, 0..6u32), 0..=14),
        seed in any::<u64>(),
    ) {
        let v1: Vec<Person> = people.iter().map(|&(d, r, l)| (d, r, l, 0, 2, 0)).collect();
        let plain = input(&v1, &[], 10, seed);
        // Blank sites and "either" are what an empty cell means.
        let blank: Vec<Person> = people.iter().map(|&(d, r, l)| (d, r, l, 3, 2, 0)).collect();
        let blank = input(&blank, &[], 10, seed);
        let a = matching::plan(&plain).unwrap();
        let b = matching::plan(&blank).unwrap();
        prop_assert_eq!(&a, &b);
        prop_assert!(a.groups.iter().all(|g| g.mode == Mode::InPerson));
        prop_assert!(a.groups.iter().flat_map(|g| &g.pairs).all(|p| p.terms.times == 0));
    }
}

#[test]
fn two_sites_meet_by_video_and_in_person_only_people_stay_on_their_site() {
    // North in person only (0, 1), South in person only (2, 3): only same-site pairs.
    let people: Vec<Person> =
        vec![(0, 0, 1, 1, 0, 0), (1, 1, 2, 1, 0, 0), (0, 0, 1, 4, 0, 0), (1, 1, 2, 4, 0, 0)];
    let inp = input(&people, &[], 0, 1);
    let plan = matching::plan(&inp).unwrap();
    let groups: Vec<(Vec<String>, Mode)> =
        plan.groups.iter().map(|g| (g.members.iter().map(|m| m.to_string()).collect(), g.mode)).collect();
    assert_eq!(
        groups,
        vec![
            (vec!["p0".into(), "p1".into()], Mode::InPerson),
            (vec!["p2".into(), "p3".into()], Mode::InPerson)
        ]
    );
    // Everyone accepts video: the best pairs cross the sites, by video.
    let people: Vec<Person> =
        vec![(0, 0, 1, 1, 2, 0), (0, 0, 1, 1, 2, 0), (1, 1, 2, 4, 2, 0), (1, 1, 2, 4, 2, 0)];
    let plan = matching::plan(&input(&people, &[], 0, 1)).unwrap();
    assert!(plan.groups.iter().all(|g| g.mode == Mode::Video), "{:?}", plan.groups);
    assert_eq!(plan.stats.matching_score, 2 * (40 + 20 + 30));
}

#[test]
fn shared_times_add_twenty_and_no_shared_time_takes_twenty_off() {
    let midday = 1 << 1;
    let night = 1 << 4;
    let people: Vec<Person> =
        vec![(0, 0, 1, 0, 2, midday), (1, 0, 1, 0, 2, midday | night), (2, 0, 1, 0, 2, night)];
    let inp = input(&people, &[], 0, 1);
    let terms = |a, b| matching::score_pair(&inp, &id(a), &id(b)).unwrap();
    assert_eq!(terms(0, 1).times, 20);
    assert_eq!(terms(1, 2).times, 20);
    assert_eq!(terms(0, 2).times, -20);
    assert_eq!(terms(0, 2).total(), 40 - 20);
    let any_time = input(&[(0, 0, 1, 0, 2, midday), (1, 0, 1, 0, 2, 0)], &[], 0, 1);
    assert_eq!(matching::score_pair(&any_time, &id(0), &id(1)).unwrap().times, 0);
}

#[test]
fn a_third_member_joins_only_a_pair_with_a_mode_common_to_the_three() {
    // p0 and p1 are on North and only meet in person; p2 is video only: no pair takes them.
    let people: Vec<Person> = vec![(0, 0, 1, 1, 0, 0), (1, 1, 2, 1, 0, 0), (2, 0, 3, 0, 1, 0)];
    let plan = matching::plan(&input(&people, &[], 0, 1)).unwrap();
    assert_eq!(plan.groups.len(), 1);
    assert_eq!(plan.sit_outs.len(), 1);
    assert_eq!(plan.sit_outs[0].id, id(2));
    assert_eq!(plan.sit_outs[0].reason, SitOutReason::NoAllowedPartner);
    // With "either" for p0 and p1, the three meet by video.
    let people: Vec<Person> = vec![(0, 0, 1, 1, 2, 0), (1, 1, 2, 4, 2, 0), (2, 0, 3, 0, 1, 0)];
    let plan = matching::plan(&input(&people, &[], 0, 1)).unwrap();
    assert_eq!(plan.groups.len(), 1);
    assert_eq!(plan.groups[0].members.len(), 3);
    assert_eq!(plan.groups[0].mode, Mode::Video);
}

/// A multi-site roster of `n` people, for the sparse candidate graph against the dense one.
fn multi_site(n: usize, seed: u64) -> Input {
    let mut x = seed | 1;
    let mut rnd = move |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    let people: Vec<Person> = (0..n)
        .map(|_| {
            let site = [1, 4, 0][rnd(3) as usize];
            (rnd(3) as usize, rnd(2) as usize, rnd(6) as u32, site, rnd(3) as usize, rnd(64) as u8)
        })
        .collect();
    let met: Vec<(usize, usize)> = (0..n).map(|_| (rnd(n as u64) as usize, rnd(n as u64) as usize)).collect();
    input(&people, &met, 10, seed)
}

#[test]
fn the_sparse_candidate_graph_reaches_the_dense_optimum_on_multi_site_rosters() {
    let dense = Tuning { dense_below: usize::MAX, ..Tuning::default() };
    let sparse =
        Tuning { dense_below: 0, best_partners: 3, sample: 8, random_partners: 1, ..Tuning::default() };
    for (n, seed) in [(120, 5), (251, 6)] {
        let inp = multi_site(n, seed);
        let d = matching::plan_with(&inp, &dense).unwrap();
        let s = matching::plan_with(&inp, &sparse).unwrap();
        assert_eq!(s.stats.matched_pairs, d.stats.matched_pairs, "n={n}");
        assert_eq!(s.stats.matching_score, d.stats.matching_score, "n={n}");
        assert!(
            d.groups.iter().any(|g| g.mode == Mode::Video)
                && d.groups.iter().any(|g| g.mode == Mode::InPerson)
        );
    }
}
