//! Maximum-weight perfect matching on a general graph: Edmonds' weighted blossom algorithm with dual
//! variables (the primal-dual method of Galil, Micali and Gabow), integer arithmetic throughout.
//!
//! The structure follows Joris van Rantwijk's well-known formulation (labels S/T, blossoms with
//! child lists and endpoint lists, least-slack edge bookkeeping), with changes that matter at
//! 100,000 vertices:
//!
//! - **Warm start.** Duals start from a greedy feasible solution (each vertex at the best weight
//!   of its edges, then lowered as far as feasibility allows, matching along tight edges on the
//!   way); then a bounded breadth-first search augments along tight alternating paths. Both keep
//!   duals feasible and matched edges tight, so the exact search starts with few free vertices.
//! - **One tree at a time.** A tree grows from one free vertex until it reaches another free
//!   vertex (augment) or cannot grow (that vertex is exposed in every maximum matching and is
//!   skipped). An augmentation resets only that tree's vertices, its recorded least-slack edges
//!   and its events; blossoms survive from one tree to the next, as between stages.
//! - **Lazy duals and an event queue.** A dual step is one addition to a clock: each vertex and
//!   blossom dual is stored with the time it was last frozen and moves with the clock while its
//!   blossom is labelled. The next step comes from a binary heap of candidate events (edge becomes
//!   tight, T-blossom dual reaches zero), each checked against current duals when it reaches the
//!   top and recomputed if stale. No step touches all vertices.
//!
//! Duals are stored doubled (`dual[v] = 2·y_v`), so the slack of edge `k = (i, j)` is
//! `dual[i] + dual[j] - 2·w_k` plus twice the duals of the blossoms that contain both ends. All
//! initial duals are even, which keeps every S-vertex at one parity and every dual step integral.
//!
//! The solver looks for a perfect matching. If none exists it stops with the largest matching it
//! could grow and the caller adds dummy vertices (see `matching::solve`). At the end,
//! [`Solution`] carries the matching and a dual certificate: every edge has slack ≥ 0, matched
//! edges have slack 0, blossom duals are ≥ 0; with a perfect matching this proves optimality.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

const NONE: usize = usize::MAX;

/// Result of [`solve`]: the matching plus the dual certificate.
#[derive(Clone, Debug)]
pub struct Solution {
    /// `mate[v]` is the vertex matched to `v`, or `None`.
    pub mate: Vec<Option<usize>>,
    /// Doubled vertex duals (`2·y_v`).
    pub vertex_dual: Vec<i64>,
    /// The blossom forest at the end: `parent[x]` is the blossom directly containing vertex or
    /// blossom `x` (blossom ids are `n..2n`), `None` at the top. Kept as parent links rather
    /// than leaf lists, which would grow with the nesting depth.
    pub parent: Vec<Option<usize>>,
    /// `blossom_dual[b - n]` is the (stored) dual `z` of blossom `b`, 0 for unused ids. An edge
    /// inside a blossom gets `2·z` added to its slack.
    pub blossom_dual: Vec<i64>,
    /// Number of augmentations performed after the greedy start.
    pub augmentations: usize,
    /// Vertices matched by the greedy warm start.
    pub greedy_matched: usize,
}

impl Solution {
    /// Whether every vertex is matched.
    pub fn is_perfect(&self) -> bool {
        self.mate.iter().all(Option::is_some)
    }
}

/// Solve maximum-weight perfect matching on `n` vertices and `edges` `(u, v, w)` (u ≠ v, no
/// duplicates). If no perfect matching exists, the returned matching is maximal in the solver's
/// sense (no augmenting path) but the caller must treat it as "not perfect".
pub fn solve(n: usize, edges: &[(u32, u32, i64)]) -> Solution {
    let mut s = Solver::new(n, edges);
    s.greedy_start();
    s.tight_augmentations(8);
    let greedy_matched = s.mate.iter().filter(|&&m| m != NONE).count();
    s.run();
    let mate =
        (0..n).map(|v| if s.mate[v] == NONE { None } else { Some(s.endpoint[s.mate[v]] as usize) }).collect();
    let alive = |b: usize| b < n || s.blossombase[b] != NONE;
    let parent = (0..2 * n)
        .map(|x| {
            let p = s.blossomparent[x];
            (alive(x) && p != NONE).then_some(p)
        })
        .collect();
    let blossom_dual = (n..2 * n).map(|b| if alive(b) { s.dual[b] } else { 0 }).collect();
    Solution {
        mate,
        vertex_dual: s.dual[..n].to_vec(),
        parent,
        blossom_dual,
        augmentations: s.augmentations,
        greedy_matched,
    }
}

struct Solver {
    n: usize,
    /// `endpoint[2k]`, `endpoint[2k+1]` are the ends of edge `k`.
    endpoint: Vec<u32>,
    weight: Vec<i64>,
    /// CSR adjacency: for vertex v, `nb[nb_start[v]..nb_start[v+1]]` are remote endpoints `p`.
    nb_start: Vec<usize>,
    nb: Vec<u32>,
    mate: Vec<usize>,
    label: Vec<u8>,
    labelend: Vec<usize>,
    inblossom: Vec<usize>,
    blossomparent: Vec<usize>,
    blossomchilds: Vec<Vec<usize>>,
    blossombase: Vec<usize>,
    blossomendps: Vec<Vec<usize>>,
    bestedge: Vec<usize>,
    blossombestedges: Vec<Option<Vec<usize>>>,
    unusedblossoms: Vec<usize>,
    dual: Vec<i64>,
    allowedge: Vec<u32>,
    queue: std::collections::VecDeque<usize>,
    /// Vertices labelled in the current tree (some may have lost their label since).
    tree_list: Vec<u32>,
    /// Unlabelled vertices whose least-slack edge the current tree set.
    touched: Vec<u32>,
    /// `allowedge[k] == epoch` marks edge `k` tight in the current tree.
    epoch: u32,
    /// Sum of all dual steps so far. Duals are lazy: `dual[x]` is exact at time `stamp[x]`, and
    /// moves by ∓(now − stamp) while its top-level blossom stays labelled S or T.
    now: i64,
    stamp: Vec<i64>,
    /// Candidate dual-step events `(time, kind, item, edge)`, validated when they reach the top.
    events: BinaryHeap<Reverse<(i64, u8, u32, u32)>>,
    bestedgeto: Vec<usize>,
    augmentations: usize,
}

impl Solver {
    fn new(n: usize, edges: &[(u32, u32, i64)]) -> Self {
        let m = edges.len();
        let mut endpoint = Vec::with_capacity(2 * m);
        let mut weight = Vec::with_capacity(m);
        let mut deg = vec![0usize; n + 1];
        for &(u, v, w) in edges {
            debug_assert!(u != v);
            endpoint.push(u);
            endpoint.push(v);
            weight.push(w);
            deg[u as usize] += 1;
            deg[v as usize] += 1;
        }
        let mut nb_start = vec![0usize; n + 1];
        for v in 0..n {
            nb_start[v + 1] = nb_start[v] + deg[v];
        }
        let mut fill = nb_start.clone();
        let mut nb = vec![0u32; 2 * m];
        for (k, &(u, v, _)) in edges.iter().enumerate() {
            nb[fill[u as usize]] = (2 * k + 1) as u32;
            fill[u as usize] += 1;
            nb[fill[v as usize]] = (2 * k) as u32;
            fill[v as usize] += 1;
        }
        Solver {
            n,
            endpoint,
            weight,
            nb_start,
            nb,
            mate: vec![NONE; n],
            label: vec![0; 2 * n],
            labelend: vec![NONE; 2 * n],
            inblossom: (0..n).collect(),
            blossomparent: vec![NONE; 2 * n],
            blossomchilds: vec![Vec::new(); 2 * n],
            blossombase: (0..n).chain(std::iter::repeat_n(NONE, n)).collect(),
            blossomendps: vec![Vec::new(); 2 * n],
            bestedge: vec![NONE; 2 * n],
            blossombestedges: vec![None; 2 * n],
            unusedblossoms: (n..2 * n).rev().collect(),
            dual: vec![0; 2 * n],
            allowedge: vec![0; m],
            queue: std::collections::VecDeque::new(),
            tree_list: Vec::new(),
            touched: Vec::new(),
            epoch: 1,
            now: 0,
            stamp: vec![0; 2 * n],
            events: BinaryHeap::new(),
            bestedgeto: vec![NONE; 2 * n],
            augmentations: 0,
        }
    }

    /// Current dual of vertex `v` (doubled).
    #[inline]
    fn y(&self, v: usize) -> i64 {
        match self.label[self.inblossom[v]] {
            1 => self.dual[v] - (self.now - self.stamp[v]),
            2 => self.dual[v] + (self.now - self.stamp[v]),
            _ => self.dual[v],
        }
    }

    /// Current dual of blossom `b` (only top-level blossoms move).
    #[inline]
    fn z(&self, b: usize) -> i64 {
        if self.blossomparent[b] != NONE {
            return self.dual[b];
        }
        match self.label[b] {
            1 => self.dual[b] + (self.now - self.stamp[b]),
            2 => self.dual[b] - (self.now - self.stamp[b]),
            _ => self.dual[b],
        }
    }

    /// Freeze the current duals of `b`'s vertices (and of `b`) before its label changes.
    fn materialize(&mut self, b: usize) {
        if b < self.n {
            self.dual[b] = self.y(b);
            self.stamp[b] = self.now;
            return;
        }
        {
            self.dual[b] = self.z(b);
            self.stamp[b] = self.now;
        }
        let mut lv = Vec::new();
        self.leaves(b, &mut lv);
        for v in lv {
            self.dual[v] = self.y(v);
            self.stamp[v] = self.now;
        }
    }

    /// A top-level blossom is about to join a new S-blossom: freeze its own dual, and the duals
    /// of its vertices if it was T (S-vertices keep moving the same way, so they need nothing).
    fn freeze_sub(&mut self, b: usize) {
        if self.label[b] == 2 {
            self.materialize(b);
        } else if b >= self.n {
            self.dual[b] = self.z(b);
            self.stamp[b] = self.now;
        }
    }

    #[inline]
    fn slack(&self, k: usize) -> i64 {
        self.y(self.endpoint[2 * k] as usize) + self.y(self.endpoint[2 * k + 1] as usize) - 2 * self.weight[k]
    }

    /// Event: S-vertex to unlabelled vertex `w` along edge `k` becomes tight.
    fn push_d2(&mut self, w: usize, k: usize) {
        let t = self.now + self.slack(k);
        self.events.push(Reverse((t, 2, w as u32, k as u32)));
    }

    /// Event: edge `k` between S-blossom `b` and another S-blossom becomes tight.
    fn push_d3(&mut self, b: usize, k: usize) {
        let t = self.now + self.slack(k) / 2;
        self.events.push(Reverse((t, 3, b as u32, k as u32)));
    }

    #[inline]
    fn nbs(&self, v: usize) -> std::ops::Range<usize> {
        self.nb_start[v]..self.nb_start[v + 1]
    }

    fn leaves(&self, b: usize, out: &mut Vec<usize>) {
        if b < self.n {
            out.push(b);
            return;
        }
        let mut stack = vec![b];
        while let Some(t) = stack.pop() {
            if t < self.n {
                out.push(t);
            } else {
                stack.extend(self.blossomchilds[t].iter().rev().copied());
            }
        }
    }

    /// Feasible even duals and a matching of tight edges: each vertex starts at its best edge
    /// weight, then (in index order) is lowered to the least value that keeps all its edges
    /// feasible and matched to a free neighbour along a now-tight edge.
    fn greedy_start(&mut self) {
        let n = self.n;
        for v in 0..n {
            let mut best = i64::MIN;
            for i in self.nbs(v) {
                best = best.max(self.weight[self.nb[i] as usize / 2]);
            }
            self.dual[v] = if best == i64::MIN { 0 } else { best + (best & 1) };
        }
        for v in 0..n {
            if self.nb_start[v] == self.nb_start[v + 1] {
                continue;
            }
            let mut need = i64::MIN;
            for i in self.nbs(v) {
                let p = self.nb[i] as usize;
                let u = self.endpoint[p] as usize;
                need = need.max(2 * self.weight[p / 2] - self.dual[u]);
            }
            if self.mate[v] == NONE {
                self.dual[v] = need;
            }
            if self.mate[v] != NONE {
                continue;
            }
            for i in self.nbs(v) {
                let p = self.nb[i] as usize;
                let u = self.endpoint[p] as usize;
                if self.mate[u] == NONE && self.slack(p / 2) == 0 {
                    self.mate[v] = p;
                    self.mate[u] = p ^ 1;
                    break;
                }
            }
        }
    }

    /// Augment along tight alternating paths found by a breadth-first search from each free
    /// vertex, visiting at most `limit` vertices per search and ignoring blossoms (a path it finds
    /// is simple, so it is a valid augmentation; paths it misses are left to the full algorithm).
    /// All edges involved are tight, so duals stay feasible and matched edges stay tight.
    fn tight_augmentations(&mut self, limit: usize) {
        let n = self.n;
        let mut seen = vec![0u32; n];
        let mut from = vec![NONE; n]; // for an even vertex: the endpoint p that reached it
        let mut round = 0u32;
        let mut frontier: Vec<usize> = Vec::new();
        for u in 0..n {
            if self.mate[u] != NONE || self.nb_start[u] == self.nb_start[u + 1] {
                continue;
            }
            round += 1;
            seen[u] = round;
            from[u] = NONE;
            frontier.clear();
            frontier.push(u);
            let mut head = 0;
            let mut found = NONE;
            'bfs: while head < frontier.len() && frontier.len() < limit {
                let a = frontier[head];
                head += 1;
                for i in self.nbs(a) {
                    let p = self.nb[i] as usize;
                    let v = self.endpoint[p] as usize;
                    if seen[v] == round || self.slack(p / 2) != 0 {
                        continue;
                    }
                    if self.mate[v] == NONE {
                        seen[v] = round;
                        from[v] = p ^ 1;
                        found = v;
                        break 'bfs;
                    }
                    let q = self.mate[v];
                    let v2 = self.endpoint[q] as usize;
                    if seen[v2] == round {
                        continue;
                    }
                    seen[v] = round;
                    seen[v2] = round;
                    // Remember how v2 was reached: through edge p into v, then v's matched edge.
                    from[v] = p ^ 1;
                    from[v2] = q ^ 1;
                    frontier.push(v2);
                }
            }
            if found == NONE {
                continue;
            }
            // Walk back: found <- a (edge), a <- mate(a) ... flipping matched and unmatched edges.
            let mut x = found;
            loop {
                let p = from[x]; // endpoint at the even vertex a that reached x
                let a = self.endpoint[p] as usize;
                let q = p ^ 1; // endpoint at x
                let next = self.mate[a];
                self.mate[x] = p;
                self.mate[a] = q;
                if a == u {
                    break;
                }
                // a's old mate becomes free for the previous step.
                x = self.endpoint[next] as usize;
            }
        }
    }

    fn assign_label(&mut self, w: usize, t: u8, p: usize) {
        let (mut w, mut t, mut p) = (w, t, p);
        loop {
            let b = self.inblossom[w];
            debug_assert!(self.label[w] == 0 && self.label[b] == 0);
            self.materialize(b);
            self.label[w] = t;
            self.label[b] = t;
            self.labelend[w] = p;
            self.labelend[b] = p;
            self.bestedge[w] = NONE;
            self.bestedge[b] = NONE;
            let mut lv = Vec::new();
            self.leaves(b, &mut lv);
            self.tree_list.extend(lv.iter().map(|&v| v as u32));
            if t == 1 {
                self.queue.extend(lv.iter().copied());
                return;
            }
            if b >= self.n {
                let t4 = self.now + self.dual[b];
                self.events.push(Reverse((t4, 4, b as u32, 0)));
            }
            let base = self.blossombase[b];
            let mb = self.mate[base];
            debug_assert!(mb != NONE);
            w = self.endpoint[mb] as usize;
            t = 1;
            p = mb ^ 1;
        }
    }

    fn scan_blossom(&mut self, v: usize, w: usize) -> usize {
        let (mut v, mut w) = (v, w);
        let mut path = Vec::new();
        let mut base = NONE;
        while v != NONE || w != NONE {
            if v != NONE {
                let mut b = self.inblossom[v];
                if self.label[b] & 4 != 0 {
                    base = self.blossombase[b];
                    break;
                }
                debug_assert!(self.label[b] == 1);
                path.push(b);
                self.label[b] = 5;
                if self.labelend[b] == NONE {
                    v = NONE;
                } else {
                    v = self.endpoint[self.labelend[b]] as usize;
                    b = self.inblossom[v];
                    debug_assert!(self.label[b] == 2);
                    v = self.endpoint[self.labelend[b]] as usize;
                }
            }
            if w != NONE {
                std::mem::swap(&mut v, &mut w);
            }
        }
        for b in path {
            self.label[b] = 1;
        }
        base
    }

    fn add_blossom(&mut self, base: usize, k: usize) {
        let mut v = self.endpoint[2 * k] as usize;
        let mut w = self.endpoint[2 * k + 1] as usize;
        let bb = self.inblossom[base];
        let mut bv = self.inblossom[v];
        let mut bw = self.inblossom[w];
        let b = self.unusedblossoms.pop().expect("blossom ids available");
        // Freeze the duals of everything that joins the new blossom (T-parts turn S).
        {
            let mut x = bv;
            while x != bb {
                self.freeze_sub(x);
                x = self.inblossom[self.endpoint[self.labelend[x]] as usize];
            }
            let mut x = bw;
            while x != bb {
                self.freeze_sub(x);
                x = self.inblossom[self.endpoint[self.labelend[x]] as usize];
            }
            self.freeze_sub(bb);
        }
        self.blossombase[b] = base;
        self.blossomparent[b] = NONE;
        self.blossomparent[bb] = b;
        let mut path = Vec::new();
        let mut endps = Vec::new();
        while bv != bb {
            self.blossomparent[bv] = b;
            path.push(bv);
            endps.push(self.labelend[bv]);
            v = self.endpoint[self.labelend[bv]] as usize;
            bv = self.inblossom[v];
        }
        path.push(bb);
        path.reverse();
        endps.reverse();
        endps.push(2 * k);
        while bw != bb {
            self.blossomparent[bw] = b;
            path.push(bw);
            endps.push(self.labelend[bw] ^ 1);
            w = self.endpoint[self.labelend[bw]] as usize;
            bw = self.inblossom[w];
        }
        self.blossomchilds[b] = path.clone();
        self.blossomendps[b] = endps;
        self.label[b] = 1;
        self.labelend[b] = self.labelend[bb];
        self.dual[b] = 0;
        self.stamp[b] = self.now;
        let mut lv = Vec::new();
        self.leaves(b, &mut lv);
        for &x in &lv {
            if self.label[self.inblossom[x]] == 2 {
                self.queue.push_back(x);
            }
            self.inblossom[x] = b;
        }
        // Least-slack edge from the new blossom to every other S-blossom.
        let mut touched: Vec<usize> = Vec::new();
        let mut sub = Vec::new();
        for &bv in &path {
            let list: Vec<usize> = match self.blossombestedges[bv].take() {
                Some(l) => l,
                None => {
                    sub.clear();
                    self.leaves(bv, &mut sub);
                    let mut l = Vec::new();
                    for &x in &sub {
                        for i in self.nbs(x) {
                            l.push(self.nb[i] as usize / 2);
                        }
                    }
                    l
                }
            };
            for kk in list {
                let mut j = self.endpoint[2 * kk + 1] as usize;
                if self.inblossom[j] == b {
                    j = self.endpoint[2 * kk] as usize;
                }
                let bj = self.inblossom[j];
                if bj != b && self.label[bj] == 1 {
                    let cur = self.bestedgeto[bj];
                    if cur == NONE {
                        touched.push(bj);
                        self.bestedgeto[bj] = kk;
                    } else if self.slack(kk) < self.slack(cur) {
                        self.bestedgeto[bj] = kk;
                    }
                }
            }
            self.bestedge[bv] = NONE;
        }
        touched.sort_unstable();
        let mut best = Vec::with_capacity(touched.len());
        let mut be = NONE;
        for bj in touched {
            let kk = self.bestedgeto[bj];
            self.bestedgeto[bj] = NONE;
            if be == NONE || self.slack(kk) < self.slack(be) {
                be = kk;
            }
            best.push(kk);
        }
        self.blossombestedges[b] = Some(best);
        self.bestedge[b] = be;
        if be != NONE {
            self.push_d3(b, be);
        }
    }

    fn expand_blossom(&mut self, b: usize) {
        self.materialize(b);
        let childs = std::mem::take(&mut self.blossomchilds[b]);
        let mut lv = Vec::new();
        for &s in &childs {
            self.stamp[s] = self.now;
            self.blossomparent[s] = NONE;
            if s < self.n {
                self.inblossom[s] = s;
            } else {
                lv.clear();
                self.leaves(s, &mut lv);
                for &v in &lv {
                    self.inblossom[v] = s;
                }
            }
        }
        if self.label[b] == 2 {
            let endps = std::mem::take(&mut self.blossomendps[b]);
            let len = childs.len() as isize;
            let at = |j: isize| -> usize { j.rem_euclid(len) as usize };
            let entrychild = self.inblossom[self.endpoint[self.labelend[b] ^ 1] as usize];
            let mut j = childs.iter().position(|&c| c == entrychild).expect("entry child") as isize;
            let (jstep, endptrick): (isize, usize) = if j & 1 != 0 {
                j -= len;
                (1, 0)
            } else {
                (-1, 1)
            };
            let mut p = self.labelend[b];
            while j != 0 {
                let e1 = self.endpoint[p ^ 1] as usize;
                self.label[e1] = 0;
                let q = endps[at(j - endptrick as isize)] ^ endptrick ^ 1;
                let e2 = self.endpoint[q] as usize;
                self.label[e2] = 0;
                self.assign_label(e1, 2, p);
                self.allowedge[endps[at(j - endptrick as isize)] / 2] = self.epoch;
                j += jstep;
                p = endps[at(j - endptrick as isize)] ^ endptrick;
                self.allowedge[p / 2] = self.epoch;
                j += jstep;
            }
            let bv = childs[at(j)];
            let e = self.endpoint[p ^ 1] as usize;
            self.label[e] = 2;
            self.label[bv] = 2;
            self.labelend[e] = p;
            self.labelend[bv] = p;
            self.bestedge[bv] = NONE;
            if bv >= self.n {
                let t4 = self.now + self.dual[bv];
                self.events.push(Reverse((t4, 4, bv as u32, 0)));
            }
            j += jstep;
            while childs[at(j)] != entrychild {
                let bv = childs[at(j)];
                if self.label[bv] == 1 {
                    j += jstep;
                    continue;
                }
                lv.clear();
                self.leaves(bv, &mut lv);
                if let Some(&v) = lv.iter().find(|&&v| self.label[v] != 0) {
                    debug_assert!(self.label[v] == 2 && self.inblossom[v] == bv);
                    self.label[v] = 0;
                    let mb = self.mate[self.blossombase[bv]];
                    self.label[self.endpoint[mb] as usize] = 0;
                    let le = self.labelend[v];
                    self.assign_label(v, 2, le);
                }
                j += jstep;
            }
        }
        // Children left unlabelled can now be reached from S-vertices: refresh their events.
        for &c in &childs {
            if self.label[c] == 0 {
                lv.clear();
                self.leaves(c, &mut lv);
                for &v in &lv {
                    self.recompute_vertex_bestedge(v);
                }
            }
        }
        self.label[b] = 0;
        self.labelend[b] = NONE;
        self.blossomendps[b] = Vec::new();
        self.blossombase[b] = NONE;
        self.blossombestedges[b] = None;
        self.bestedge[b] = NONE;
        self.dual[b] = 0;
        self.unusedblossoms.push(b);
    }

    fn augment_blossom(&mut self, b: usize, v: usize) {
        let mut t = v;
        while self.blossomparent[t] != b {
            t = self.blossomparent[t];
        }
        if t >= self.n {
            self.augment_blossom(t, v);
        }
        let len = self.blossomchilds[b].len() as isize;
        let i = self.blossomchilds[b].iter().position(|&c| c == t).expect("child") as isize;
        let mut j = i;
        let (jstep, endptrick): (isize, usize) = if i & 1 != 0 {
            j -= len;
            (1, 0)
        } else {
            (-1, 1)
        };
        let at = |j: isize| -> usize { j.rem_euclid(len) as usize };
        while j != 0 {
            j += jstep;
            let t = self.blossomchilds[b][at(j)];
            let p = self.blossomendps[b][at(j - endptrick as isize)] ^ endptrick;
            if t >= self.n {
                let e = self.endpoint[p] as usize;
                self.augment_blossom(t, e);
            }
            j += jstep;
            let t = self.blossomchilds[b][at(j)];
            if t >= self.n {
                let e = self.endpoint[p ^ 1] as usize;
                self.augment_blossom(t, e);
            }
            let e0 = self.endpoint[p] as usize;
            let e1 = self.endpoint[p ^ 1] as usize;
            self.mate[e0] = p ^ 1;
            self.mate[e1] = p;
        }
        self.blossomchilds[b].rotate_left(i as usize);
        self.blossomendps[b].rotate_left(i as usize);
        self.blossombase[b] = self.blossombase[self.blossomchilds[b][0]];
        debug_assert!(self.blossombase[b] == v);
    }

    fn augment_matching(&mut self, k: usize) {
        let v = self.endpoint[2 * k] as usize;
        let w = self.endpoint[2 * k + 1] as usize;
        for (s0, p0) in [(v, 2 * k + 1), (w, 2 * k)] {
            let (mut s, mut p) = (s0, p0);
            loop {
                let bs = self.inblossom[s];
                debug_assert!(self.label[bs] == 1);
                if bs >= self.n {
                    self.augment_blossom(bs, s);
                }
                self.mate[s] = p;
                if self.labelend[bs] == NONE {
                    break;
                }
                let t = self.endpoint[self.labelend[bs]] as usize;
                let bt = self.inblossom[t];
                debug_assert!(self.label[bt] == 2);
                s = self.endpoint[self.labelend[bt]] as usize;
                let j = self.endpoint[self.labelend[bt] ^ 1] as usize;
                if bt >= self.n {
                    self.augment_blossom(bt, j);
                }
                self.mate[j] = self.labelend[bt];
                p = self.labelend[bt] ^ 1;
            }
        }
        self.augmentations += 1;
    }

    fn reset_labels_below(&mut self, b: usize) {
        let mut stack = vec![b];
        while let Some(t) = stack.pop() {
            self.label[t] = 0;
            self.labelend[t] = NONE;
            self.bestedge[t] = NONE;
            if t >= self.n {
                self.blossombestedges[t] = None;
                stack.extend(self.blossomchilds[t].iter().copied());
            }
        }
    }

    /// After an augmentation (or when the tree is stuck): unlabel the tree. Only the tree's own
    /// vertices, the vertices it recorded a least-slack edge for, and its events are touched.
    fn dissolve(&mut self) {
        let gone = std::mem::take(&mut self.tree_list);
        for &v in &gone {
            let v = v as usize;
            let b = self.inblossom[v];
            if self.label[b] != 0 {
                self.materialize(b);
                self.reset_labels_below(b);
            }
            self.label[v] = 0;
            self.labelend[v] = NONE;
            self.bestedge[v] = NONE;
        }
        for v in std::mem::take(&mut self.touched) {
            self.bestedge[v as usize] = NONE;
        }
        self.events.clear();
        self.epoch += 1;
    }

    /// Least-slack edge from unlabelled vertex `w` to any S-vertex.
    fn recompute_vertex_bestedge(&mut self, w: usize) {
        let bw = self.inblossom[w];
        let mut be = NONE;
        let mut bs = 0i64;
        for i in self.nbs(w) {
            let p = self.nb[i] as usize;
            let bu = self.inblossom[self.endpoint[p] as usize];
            if bu != bw && self.label[bu] == 1 {
                let s = self.slack(p / 2);
                if be == NONE || s < bs {
                    be = p / 2;
                    bs = s;
                }
            }
        }
        self.bestedge[w] = be;
        if be != NONE {
            self.touched.push(w as u32);
            self.push_d2(w, be);
        }
    }

    /// Least-slack edge from S-blossom `b` to any other S-blossom.
    fn recompute_blossom_bestedge(&mut self, b: usize) {
        let mut lv = Vec::new();
        self.leaves(b, &mut lv);
        let mut be = NONE;
        let mut bs = 0i64;
        for &v in &lv {
            for i in self.nbs(v) {
                let p = self.nb[i] as usize;
                let bu = self.inblossom[self.endpoint[p] as usize];
                if bu != b && self.label[bu] == 1 {
                    let s = self.slack(p / 2);
                    if be == NONE || s < bs {
                        be = p / 2;
                        bs = s;
                    }
                }
            }
        }
        self.bestedge[b] = be;
        if be != NONE {
            self.push_d3(b, be);
        }
    }

    fn is_top(&self, b: usize) -> bool {
        self.blossomparent[b] == NONE && (b < self.n || self.blossombase[b] != NONE)
    }

    fn run(&mut self) {
        let n = self.n;
        // One alternating tree at a time: it grows from a free vertex until it reaches another
        // free vertex (augment) or can grow no more (that vertex stays exposed in every maximum
        // matching and is skipped from then on).
        let mut stuck = vec![false; n];
        let mut next_root = 0usize;
        let mut active = NONE;
        loop {
            if active == NONE {
                while next_root < n && (self.mate[next_root] != NONE || stuck[next_root]) {
                    next_root += 1;
                }
                if next_root == n {
                    break;
                }
                self.assign_label(next_root, 1, NONE);
                active = next_root;
            }
            // Grow trees from the queue of S-vertices.
            while let Some(v) = self.queue.pop_back() {
                if self.label[self.inblossom[v]] != 1 {
                    continue;
                }
                for i in self.nbs(v) {
                    let p = self.nb[i] as usize;
                    let k = p / 2;
                    let w = self.endpoint[p] as usize;
                    let bv = self.inblossom[v];
                    let bw = self.inblossom[w];
                    if bv == bw {
                        continue;
                    }
                    let mut kslack = 0;
                    if self.allowedge[k] != self.epoch {
                        kslack = self.slack(k);
                        if kslack <= 0 {
                            self.allowedge[k] = self.epoch;
                        }
                    }
                    if self.allowedge[k] == self.epoch {
                        if self.label[bw] == 0 && self.mate[self.blossombase[bw]] == NONE {
                            // Reached a free vertex outside the tree: augment.
                            self.assign_label(w, 1, NONE);
                            self.augment_matching(k);
                            self.dissolve();
                            active = NONE;
                            break;
                        } else if self.label[bw] == 0 {
                            self.assign_label(w, 2, p ^ 1);
                        } else if self.label[bw] == 1 {
                            let base = self.scan_blossom(v, w);
                            if base != NONE {
                                self.add_blossom(base, k);
                            } else {
                                self.augment_matching(k);
                                self.dissolve();
                                active = NONE;
                                break;
                            }
                        } else if self.label[w] == 0 {
                            self.label[w] = 2;
                            self.labelend[w] = p ^ 1;
                        }
                    } else if self.label[bw] == 1 {
                        let cur = self.bestedge[bv];
                        if cur == NONE || kslack < self.slack(cur) {
                            self.bestedge[bv] = k;
                            self.push_d3(bv, k);
                        }
                    } else if self.label[w] == 0 {
                        let cur = self.bestedge[w];
                        if cur == NONE || kslack < self.slack(cur) {
                            if cur == NONE {
                                self.touched.push(w as u32);
                            }
                            self.bestedge[w] = k;
                            self.push_d2(w, k);
                        }
                    }
                    if self.label[self.inblossom[v]] != 1 {
                        break;
                    }
                }
            }

            if active == NONE {
                self.queue.clear();
                continue;
            }

            // Choose the dual step: the earliest event that is still valid.
            let mut chosen = None;
            while let Some(&Reverse((t, kind, item, k))) = self.events.peek() {
                let (item, k) = (item as usize, k as usize);
                let valid = match kind {
                    2 => {
                        let bw = self.inblossom[item];
                        let (a, c) = (self.endpoint[2 * k] as usize, self.endpoint[2 * k + 1] as usize);
                        let other = if a == item { c } else { a };
                        let ok = self.label[bw] == 0
                            && self.bestedge[item] != NONE
                            && self.label[self.inblossom[other]] == 1;
                        if ok && self.slack(k) != t - self.now {
                            self.events.pop();
                            self.recompute_vertex_bestedge(item);
                            continue;
                        }
                        // An S-end that lost its label may have hidden better edges when they
                        // were scanned: recompute, even if the vertex's best edge moved since.
                        if !ok && self.label[bw] == 0 {
                            self.events.pop();
                            self.recompute_vertex_bestedge(item);
                            continue;
                        }
                        ok
                    }
                    3 => {
                        let bi = self.inblossom[self.endpoint[2 * k] as usize];
                        let bj = self.inblossom[self.endpoint[2 * k + 1] as usize];
                        let ok = bi != bj && self.label[bi] == 1 && self.label[bj] == 1;
                        if ok && self.slack(k) / 2 != t - self.now {
                            self.events.pop();
                            if self.is_top(item) && self.label[item] == 1 {
                                self.recompute_blossom_bestedge(item);
                            } else {
                                self.push_d3(item, k);
                            }
                            continue;
                        }
                        if !ok && self.is_top(item) && self.label[item] == 1 {
                            self.events.pop();
                            self.recompute_blossom_bestedge(item);
                            continue;
                        }
                        ok
                    }
                    _ => {
                        let ok = self.blossombase[item] != NONE && self.is_top(item) && self.label[item] == 2;
                        if ok && self.z(item) != t - self.now {
                            self.events.pop();
                            let t4 = self.now + self.z(item);
                            self.events.push(Reverse((t4, 4, item as u32, 0)));
                            continue;
                        }
                        ok
                    }
                };
                // A chosen event stays queued: if the scan it triggers is cut short by an
                // augmentation, it comes back and is re-validated.
                if valid {
                    chosen = Some((t, kind, item, k));
                    break;
                }
                self.events.pop();
            }
            let Some((t, deltatype, item, k)) = chosen else {
                stuck[active] = true;
                self.dissolve();
                active = NONE;
                continue;
            };
            debug_assert!(t >= self.now, "dual step must not be negative");
            debug_assert!(deltatype != 3 || self.slack(k) % 2 == 0, "S-S slack must be even");
            self.now = t;
            let (deltaedge, deltablossom) = (k, item);

            match deltatype {
                2 => {
                    self.allowedge[deltaedge] = self.epoch;
                    let (mut i, j) =
                        (self.endpoint[2 * deltaedge] as usize, self.endpoint[2 * deltaedge + 1] as usize);
                    if self.label[self.inblossom[i]] == 0 {
                        i = j;
                    }
                    debug_assert!(self.label[self.inblossom[i]] == 1);
                    self.queue.push_back(i);
                }
                3 => {
                    self.allowedge[deltaedge] = self.epoch;
                    self.queue.push_back(self.endpoint[2 * deltaedge] as usize);
                }
                _ => self.expand_blossom(deltablossom),
            }
        }
        // Freeze every dual at its final value for the certificate.
        let ys: Vec<i64> = (0..self.n).map(|v| self.y(v)).collect();
        let zs: Vec<(usize, i64)> =
            (self.n..2 * self.n).filter(|&b| self.blossombase[b] != NONE).map(|b| (b, self.z(b))).collect();
        self.dual[..self.n].copy_from_slice(&ys);
        for (b, z) in zs {
            self.dual[b] = z;
        }
    }
}
