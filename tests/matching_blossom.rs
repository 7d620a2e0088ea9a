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
