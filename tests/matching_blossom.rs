//! The blossom solver against exhaustive search, and its dual certificate on larger graphs.

use coffee_rounds::matching::blossom::{Solution, solve};
use proptest::prelude::*;

/// Best total weight of a perfect matching by exhaustive search over subsets, `None` if none.
fn brute_force_perfect(n: usize, edges: &[(u32, u32, i64)]) -> Option<i64> {
    let mut w = vec![vec![None; n]; n];
    for &(u, v, x) in edges {
        w[u as usize][v as usize] = Some(x);
        w[v as usize][u as usize] = Some(x);
    }
    let full = (1usize << n) - 1;
    let mut best: Vec<Option<i64>> = vec![None; 1 << n];
    best[0] = Some(0);
    for mask in 1..=full {
        if mask.count_ones() % 2 == 1 {
            continue;
        }
        let i = mask.trailing_zeros() as usize;
        let rest = mask & !(1 << i);
        let mut b: Option<i64> = None;
        for j in 0..n {
            if rest & (1 << j) != 0
                && let (Some(x), Some(r)) = (w[i][j], best[rest & !(1 << j)])
            {
                b = Some(b.map_or(x + r, |bb: i64| bb.max(x + r)));
            }
        }
        best[mask] = b;
    }
    best[full]
}

/// Checks complementary slackness independently of the solver's internals: every edge has
/// slack ≥ 0, matched edges have slack 0, blossom duals ≥ 0 and positive ones are full.
pub fn certificate_holds(n: usize, edges: &[(u32, u32, i64)], s: &Solution) -> Result<(), String> {
    // Blossoms containing each vertex, innermost first, from the parent links.
    let chain = |v: usize| {
        let mut out = Vec::new();
        let mut x = v;
        while let Some(p) = s.parent[x] {
            out.push(p);
            x = p;
        }
        out
    };
    let chains: Vec<Vec<usize>> = (0..n).map(chain).collect();
    let mut members: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for (v, c) in chains.iter().enumerate() {
        for &b in c {
            members.entry(b).or_default().push(v);
        }
    }
    for (&b, verts) in &members {
        let z = s.blossom_dual[b - n];
        if z < 0 {
            return Err(format!("blossom {b} has negative dual"));
        }
        if z > 0 {
            let inside = verts.iter().filter(|&&v| s.mate[v].is_some_and(|u| chains[u].contains(&b))).count();
            if inside != verts.len() - 1 {
                return Err(format!("blossom {b} with positive dual is not full"));
            }
        }
    }
    for &(u, v, w) in edges {
        let (u, v) = (u as usize, v as usize);
        let mut slack = s.vertex_dual[u] + s.vertex_dual[v] - 2 * w;
        for &b in &chains[u] {
            if chains[v].contains(&b) {
                slack += 2 * s.blossom_dual[b - n];
            }
        }
        if slack < 0 {
            return Err(format!("edge {u}-{v} has negative slack {slack}"));
        }
        if s.mate[u] == Some(v) && slack != 0 {
            return Err(format!("matched edge {u}-{v} is not tight ({slack})"));
        }
    }
    if !s.is_perfect() {
        return Err("matching is not perfect".into());
    }
    Ok(())
}

fn total(edges: &[(u32, u32, i64)], s: &Solution) -> i64 {
    edges.iter().filter(|&&(u, v, _)| s.mate[u as usize] == Some(v as usize)).map(|e| e.2).sum()
}

fn graph(max_n: usize) -> impl Strategy<Value = (usize, Vec<(u32, u32, i64)>)> {
    (1..=max_n / 2)
        .prop_map(|h| 2 * h)
        .prop_flat_map(|n| {
            let pairs: Vec<(u32, u32)> =
                (0..n as u32).flat_map(|u| (u + 1..n as u32).map(move |v| (u, v))).collect();
            let m = pairs.len();
            (Just(n), Just(pairs), proptest::collection::vec(proptest::option::weighted(0.6, -20i64..120), m))
        })
        .prop_map(|(n, pairs, ws)| {
            let edges = pairs.into_iter().zip(ws).filter_map(|((u, v), w)| w.map(|w| (u, v, w))).collect();
            (n, edges)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn blossom_matches_exhaustive_search_up_to_12_vertices((n, edges) in graph(12)) {
        let s = solve(n, &edges);
        match brute_force_perfect(n, &edges) {
            Some(best) => {
                prop_assert!(s.is_perfect(), "perfect matching exists but solver found none");
                prop_assert_eq!(total(&edges, &s), best);
                prop_assert_eq!(certificate_holds(n, &edges, &s), Ok(()));
            }
            None => prop_assert!(!s.is_perfect()),
        }
    }
}

/// Sparse random graph on `n` vertices (even) with a perfect matching guaranteed by a hidden
/// ring of edges, weights drawn from a narrow range so that ties and blossoms are common.
fn sparse_graph(n: usize, deg: usize, seed: u64, wmax: i64) -> Vec<(u32, u32, i64)> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut set = std::collections::BTreeMap::new();
    for v in (0..n as u32).step_by(2) {
        set.insert((v, v + 1), (next() % wmax as u64) as i64);
    }
    for u in 0..n as u32 {
        for _ in 0..deg {
            let v = (next() % n as u64) as u32;
            if v != u {
                set.insert((u.min(v), u.max(v)), (next() % wmax as u64) as i64 - 5);
            }
        }
    }
    set.into_iter().map(|((u, v), w)| (u, v, w)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]
    #[test]
    fn blossom_certificate_holds_on_hundreds_to_thousands_of_vertices(
        half in 50usize..800, deg in 1usize..6, seed in any::<u64>(), wmax in 2i64..60
    ) {
        let n = 2 * half;
        let edges = sparse_graph(n, deg, seed, wmax);
        let s = solve(n, &edges);
        prop_assert_eq!(certificate_holds(n, &edges, &s), Ok(()));
    }
}

/// networkx's named blossom cases (`algorithms/tests/test_matching.py`, from van Rantwijk's test
/// suite), 1-based as there: edges and the expected maximum-weight matching. Each is a perfect
/// matching, so our perfect-matching solver must find exactly it, with a valid certificate.
type NamedCase = (&'static str, &'static [(u32, u32, i64)], &'static [(u32, u32)]);

const NAMED: &[NamedCase] = &[
    ("s-blossom", &[(1, 2, 8), (1, 3, 9), (2, 3, 10), (3, 4, 7)], &[(1, 2), (3, 4)]),
    (
        "s-blossom, augment through it",
        &[(1, 2, 8), (1, 3, 9), (2, 3, 10), (3, 4, 7), (1, 6, 5), (4, 5, 6)],
        &[(1, 6), (2, 3), (4, 5)],
    ),
    (
        "t-blossom",
        &[(1, 2, 9), (1, 3, 8), (2, 3, 10), (1, 4, 5), (4, 5, 4), (1, 6, 3)],
        &[(1, 6), (2, 3), (4, 5)],
    ),
    (
        "t-blossom, other weights",
        &[(1, 2, 9), (1, 3, 8), (2, 3, 10), (1, 4, 5), (4, 5, 3), (1, 6, 4)],
        &[(1, 6), (2, 3), (4, 5)],
    ),
    (
        "t-blossom, augment through its base",
        &[(1, 2, 9), (1, 3, 8), (2, 3, 10), (1, 4, 5), (4, 5, 3), (3, 6, 4)],
        &[(1, 2), (3, 6), (4, 5)],
    ),
    (
        "nested s-blossom",
        &[(1, 2, 9), (1, 3, 9), (2, 3, 10), (2, 4, 8), (3, 5, 8), (4, 5, 10), (5, 6, 6)],
        &[(1, 3), (2, 4), (5, 6)],
    ),
    (
        "nested s-blossom, relabel as s",
        &[
            (1, 2, 10),
            (1, 7, 10),
            (2, 3, 12),
            (3, 4, 20),
            (3, 5, 20),
            (4, 5, 25),
            (5, 6, 10),
            (6, 7, 10),
            (7, 8, 8),
        ],
        &[(1, 2), (3, 4), (5, 6), (7, 8)],
    ),
    (
        "nested s-blossom, expand recursively",
        &[
            (1, 2, 8),
            (1, 3, 8),
            (2, 3, 10),
            (2, 4, 12),
            (3, 5, 12),
            (4, 5, 14),
            (4, 6, 12),
            (5, 7, 12),
            (6, 7, 14),
            (7, 8, 12),
        ],
        &[(1, 2), (3, 5), (4, 6), (7, 8)],
    ),
    (
        "s-blossom, relabel as t, expand",
        &[(1, 2, 23), (1, 5, 22), (1, 6, 15), (2, 3, 25), (3, 4, 22), (4, 5, 25), (4, 8, 14), (5, 7, 13)],
        &[(1, 6), (2, 3), (4, 8), (5, 7)],
    ),
    (
        "nested s-blossom, relabel as t, expand",
        &[
            (1, 2, 19),
            (1, 3, 20),
            (1, 8, 8),
            (2, 3, 25),
            (2, 4, 18),
            (3, 5, 18),
            (4, 5, 13),
            (4, 7, 7),
            (5, 6, 7),
        ],
        &[(1, 8), (2, 3), (4, 7), (5, 6)],
    ),
    (
        "t-blossom expanded, nasty case",
        &[
            (1, 2, 45),
            (1, 5, 45),
            (2, 3, 50),
            (3, 4, 45),
            (4, 5, 50),
            (1, 6, 30),
            (3, 9, 35),
            (4, 8, 35),
            (5, 7, 26),
            (9, 10, 5),
        ],
        &[(1, 6), (2, 3), (4, 8), (5, 7), (9, 10)],
    ),
    (
        "t-blossom expanded, second nasty case",
        &[
            (1, 2, 45),
            (1, 5, 45),
            (2, 3, 50),
            (3, 4, 45),
            (4, 5, 50),
            (1, 6, 30),
            (3, 9, 35),
            (4, 8, 26),
            (5, 7, 40),
            (9, 10, 5),
        ],
        &[(1, 6), (2, 3), (4, 8), (5, 7), (9, 10)],
    ),
    (
        "t-blossom expanded, least-slack edge updated",
        &[
            (1, 2, 45),
            (1, 5, 45),
            (2, 3, 50),
            (3, 4, 45),
            (4, 5, 50),
            (1, 6, 30),
            (3, 9, 35),
            (4, 8, 28),
            (5, 7, 26),
            (9, 10, 5),
        ],
        &[(1, 6), (2, 3), (4, 8), (5, 7), (9, 10)],
    ),
    (
        "nested t-blossom expanded, nasty case",
        &[
            (1, 2, 45),
            (1, 7, 45),
            (2, 3, 50),
            (3, 4, 45),
            (4, 5, 95),
            (4, 6, 94),
            (5, 6, 94),
            (6, 7, 50),
            (1, 8, 30),
            (3, 11, 35),
            (5, 9, 36),
            (7, 10, 26),
            (11, 12, 5),
        ],
        &[(1, 8), (2, 3), (4, 6), (5, 9), (7, 10), (11, 12)],
    ),
    (
        "nested s-blossom relabelled, expand",
        &[
            (1, 2, 40),
            (1, 3, 40),
            (2, 3, 60),
            (2, 4, 55),
            (3, 5, 55),
            (4, 5, 50),
            (1, 8, 15),
            (5, 7, 30),
            (7, 6, 10),
            (8, 10, 10),
            (4, 9, 30),
        ],
        &[(1, 2), (3, 5), (4, 9), (6, 7), (8, 10)],
    ),
];

#[test]
fn networkx_named_blossom_cases_give_their_matching_with_a_certificate() {
    for &(name, raw, expected) in NAMED {
        let edges: Vec<(u32, u32, i64)> = raw.iter().map(|&(u, v, w)| (u - 1, v - 1, w)).collect();
        let n = edges.iter().map(|e| e.0.max(e.1) as usize + 1).max().unwrap_or(0);
        let s = solve(n, &edges);
        for &(u, v) in expected {
            assert_eq!(s.mate[u as usize - 1], Some(v as usize - 1), "{name}: {u} should meet {v}");
        }
        assert_eq!(certificate_holds(n, &edges, &s), Ok(()), "{name}");
        // The same through the maximum-cardinality entry point.
        let (mate, _) = coffee_rounds::matching::max_cardinality_matching(n, &edges);
        for &(u, v) in expected {
            assert_eq!(mate[u as usize - 1], Some(v as usize - 1), "{name} (max cardinality)");
        }
    }
}

#[test]
fn networkx_cardinality_cases_prefer_more_pairs_over_weight() {
    // test13 and test16 of networkx: the heavier single edge loses to two lighter ones.
    let (mate, total) =
        coffee_rounds::matching::max_cardinality_matching(4, &[(0, 1, 5), (1, 2, 11), (2, 3, 5)]);
    assert_eq!((mate[0], mate[2], total), (Some(1), Some(3), 10));
    let edges = [(0, 1, 2), (0, 2, -2), (1, 2, 1), (1, 3, -1), (2, 3, -6)];
    let (mate, total) = coffee_rounds::matching::max_cardinality_matching(4, &edges);
    assert_eq!((mate[0], mate[1], total), (Some(2), Some(3), -3));
}

/// Dense graphs on up to 12 vertices whose weights take one or two values: the most degenerate
/// case for the dual steps (every edge ties).
fn degenerate_graph(max_n: usize) -> impl Strategy<Value = (usize, Vec<(u32, u32, i64)>)> {
    (1..=max_n / 2, 1i64..3, 0i64..40).prop_flat_map(|(h, distinct, base)| {
        let n = 2 * h;
        let pairs: Vec<(u32, u32)> =
            (0..n as u32).flat_map(|u| (u + 1..n as u32).map(move |v| (u, v))).collect();
        let m = pairs.len();
        (Just(n), proptest::collection::vec(proptest::option::weighted(0.7, 0..distinct), m)).prop_map(
            move |(n, ws)| {
                let edges = pairs
                    .iter()
                    .zip(ws)
                    .filter_map(|(&(u, v), w)| w.map(|w| (u, v, base + 10 * w)))
                    .collect();
                (n, edges)
            },
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn blossom_is_exact_on_graphs_with_one_or_two_weights((n, edges) in degenerate_graph(12)) {
        let s = solve(n, &edges);
        match brute_force_perfect(n, &edges) {
            Some(best) => {
                prop_assert_eq!(total(&edges, &s), best);
                prop_assert_eq!(certificate_holds(n, &edges, &s), Ok(()));
            }
            None => prop_assert!(!s.is_perfect()),
        }
    }

    #[test]
    fn resuming_after_adding_edges_reaches_the_optimum_of_the_larger_graph(
        half in 20usize..300, deg in 1usize..5, seed in any::<u64>(), wmax in 2i64..40, keep in 2u64..5
    ) {
        let n = 2 * half;
        let full = sparse_graph(n, deg, seed, wmax);
        // A subgraph that keeps the hidden perfect matching and some of the other edges.
        let sub: Vec<(u32, u32, i64)> =
            full.iter().copied().filter(|&(u, v, w)| (u % 2 == 0 && v == u + 1) || (u64::from(u) * 7 + u64::from(v) + w.unsigned_abs()) % keep == 0).collect();
        let first = solve(n, &sub);
        prop_assert_eq!(certificate_holds(n, &sub, &first), Ok(()));
        let resumed = coffee_rounds::matching::blossom::solve_with(n, &full, Some(&first), None).unwrap();
        let cold = solve(n, &full);
        prop_assert_eq!(certificate_holds(n, &full, &resumed), Ok(()));
        prop_assert_eq!(total(&full, &resumed), total(&full, &cold));
    }

    #[test]
    fn blossom_certificate_holds_on_large_equal_weight_graphs(half in 50usize..600, deg in 1usize..6, seed in any::<u64>()) {
        let n = 2 * half;
        let edges: Vec<(u32, u32, i64)> = sparse_graph(n, deg, seed, 2).into_iter().map(|(u, v, _)| (u, v, 100)).collect();
        let s = solve(n, &edges);
        prop_assert_eq!(certificate_holds(n, &edges, &s), Ok(()));
    }
}

#[test]
fn a_set_stop_flag_stops_the_solver() {
    let stop = std::sync::atomic::AtomicBool::new(true);
    let edges = sparse_graph(20_000, 4, 9, 3);
    assert!(coffee_rounds::matching::blossom::solve_with(20_000, &edges, None, Some(&stop)).is_none());
}
