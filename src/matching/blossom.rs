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
//! - **All trees at once** (Galil, Micali and Gabow). Every free vertex roots an alternating
//!   tree, all on one dual clock; S-vertices are scanned breadth first, so the trees grow evenly
//!   and meet early. An augmentation dissolves only the two trees it joins; blossoms survive.
//! - **Lazy duals and an event queue.** A dual step is one addition to a clock. Each top-level
//!   vertex or blossom carries an offset that moves with the clock while it is labelled
//!   (`y(v) = dual[v] + offset`), so a label change costs one update, not one per vertex. The
//!   next step comes from a queue of candidate events (edge becomes tight, T-blossom dual
//!   reaches zero), each checked against current duals when it reaches the front and recomputed
//!   if stale; since the clock never goes back, the queue is a radix heap (`EventQueue`).
//!   Edges between two S-blossoms go on the queue as they are scanned, with no per-blossom record
//!   to merge. No step touches all vertices.
//! - **Blossoms by class.** The vertices of a top-level blossom share a class; a new blossom takes
//!   over its largest child's class and offset, so making a blossom costs the size of its smaller
//!   children, not of the whole (a deeply nested blossom, common when many weights are equal,
//!   otherwise costs its full size at every level).
//! - **Records that outlive labels.** A dissolved tree frees hundreds or thousands of vertices
//!   on degenerate graphs, and each needs its least-slack edge to the remaining S-vertices.
//!   Rather than scanning all their edges again, every non-S vertex keeps, while unlabelled and
//!   while T, its least-slack edge to an S-vertex and its least-slack edge to another tree, each
//!   valid while its S-end stays S (the idea LEMON realises with per-node heaps keyed by tree);
//!   a freed vertex is recomputed only when both led into dissolved trees.
//!
//! Duals are stored doubled (`dual[v] = 2·y_v`), so the slack of edge `k = (i, j)` is
//! `dual[i] + dual[j] - 2·w_k` plus twice the duals of the blossoms that contain both ends. All
//! initial duals are even, which keeps every S-vertex at one parity and every dual step integral.
//!
//! The solver looks for a perfect matching. If none exists it stops with the largest matching it
//! could grow and the caller adds dummy vertices (see `matching::solve`). At the end,
//! [`Solution`] carries the matching and a dual certificate: every edge has slack ≥ 0, matched
//! edges have slack 0, blossom duals are ≥ 0; with a perfect matching this proves optimality.

use std::sync::atomic::{AtomicBool, Ordering};

const NONE: usize = usize::MAX;
/// Bits of `Solver::known`.
const KNOWN_BEST: u8 = 1;
const KNOWN_SECOND: u8 = 2;

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
    solve_with(n, edges, None, None).expect("no stop flag, so never cancelled")
}

/// [`solve`], optionally resuming from `warm`, the solution of an earlier solve on a subgraph
/// (same vertex numbers, maybe fewer vertices, fewer edges), and stopping early (returning
/// `None`) once `stop` is set.
///
/// Resuming keeps the earlier duals and matching as far as they stay valid: blossom duals are
/// folded into their vertices (each edge's slack can only grow), matched edges that lost
/// tightness are unmatched, and each new edge with negative slack raises one end's dual (which
/// unmatches it). Duals stay feasible and the matching tight, so only the freed vertices search.
pub fn solve_with(
    n: usize,
    edges: &[(u32, u32, i64)],
    warm: Option<&Solution>,
    stop: Option<&AtomicBool>,
) -> Option<Solution> {
    let stopped = || stop.is_some_and(|f| f.load(Ordering::Relaxed));
    if stopped() {
        return None;
    }
    let mut s = Solver::new(n, edges);
    match warm {
        Some(w) => s.warm_start(w),
        None => s.greedy_start(),
    }
    s.tight_augmentations(8);
    let greedy_matched = s.mate.iter().filter(|&&m| m != NONE).count();
    if !s.run(stop) {
        return None;
    }
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
    Some(Solution {
        mate,
        vertex_dual: s.dual[..n].to_vec(),
        parent,
        blossom_dual,
        augmentations: s.augmentations,
        greedy_matched,
    })
}

/// A vertex's or top-level blossom's place in the alternating trees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Label {
    /// Not in any tree (matched, and not reached yet).
    Free,
    /// Even: a root, or reached through its matched edge; its dual goes down with the clock.
    S,
    /// Odd: reached from an S-vertex by a tight unmatched edge; its dual goes up.
    T,
    /// An S-blossom already passed by the current `scan_blossom` walk (reset before it returns).
    Breadcrumb,
}

/// What makes the dual step stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    /// An edge from an S-vertex to an unlabelled vertex becomes tight (the tree can grow).
    GrowEdge,
    /// An edge between two S-blossoms becomes tight (a new blossom, or an augmenting path
    /// between two trees).
    SsEdge,
    /// A T-blossom's dual reaches zero (it must be expanded).
    ExpandBlossom,
}

/// The event queue: a radix heap (Ahuja, Mehlhorn, Orlin and Tarjan), which fits because the dual
/// clock never goes back: no event is ever pushed earlier than the last one taken off, so
/// events live in 65 buckets by the highest bit in which their time differs from that one's. A
/// push is O(1), and each event moves down at most 64 buckets in all; the events stay in cache
/// far better than in a binary heap of a million. Events due at one time come in any order.
struct EventQueue {
    /// The last key taken off (or refilled to); every key in the queue is at least this.
    last: u64,
    /// `buckets[0]` holds keys equal to `last`; `buckets[i]`, keys whose highest bit differing
    /// from `last` is bit `i - 1`. Each entry: the time, then `kind << 62 | item << 32 | edge`.
    buckets: [Vec<(u64, u64)>; 65],
}

impl Default for EventQueue {
    fn default() -> Self {
        EventQueue { last: 0, buckets: std::array::from_fn(|_| Vec::new()) }
    }
}

impl EventQueue {
    fn bucket(&self, key: u64) -> usize {
        (64 - (key ^ self.last).leading_zeros()) as usize
    }

    fn push(&mut self, t: i64, kind: Event, item: usize, k: usize) {
        debug_assert!(t >= 0 && t as u64 >= self.last, "an event earlier than one already taken");
        debug_assert!(item < 1 << 30 && k < 1 << 32);
        let key = t as u64;
        let i = self.bucket(key);
        self.buckets[i].push((key, (kind as u64) << 62 | (item as u64) << 32 | k as u64));
    }

    /// The earliest event `(time, kind, item, edge)`, left in the queue.
    fn peek(&mut self) -> Option<(i64, Event, usize, usize)> {
        if self.buckets[0].is_empty() {
            let i = self.buckets.iter().position(|b| !b.is_empty())?;
            let mut moving = std::mem::take(&mut self.buckets[i]);
            self.last = moving.iter().map(|e| e.0).min()?;
            for &(key, payload) in &moving {
                let j = self.bucket(key);
                self.buckets[j].push((key, payload));
            }
            // Keep the emptied bucket's allocation for the next time it fills.
            moving.clear();
            if self.buckets[i].is_empty() {
                self.buckets[i] = moving;
            }
        }
        let &(key, payload) = self.buckets[0].last()?;
        let kind = match payload >> 62 {
            0 => Event::GrowEdge,
            1 => Event::SsEdge,
            _ => Event::ExpandBlossom,
        };
        Some((key as i64, kind, (payload >> 32 & 0x3FFF_FFFF) as usize, (payload & 0xFFFF_FFFF) as usize))
    }

    fn pop(&mut self) {
        self.buckets[0].pop();
    }
}

struct Solver {
    n: usize,
    /// `endpoint[2k]`, `endpoint[2k+1]` are the ends of edge `k`.
    endpoint: Vec<u32>,
    /// `weight[k]`: the weight of edge `k`.
    weight: Vec<i64>,
    /// CSR adjacency: for vertex v, `nb[nb_start[v]..nb_start[v+1]]` are remote endpoints `p`.
    nb_start: Vec<usize>,
    nb: Vec<u32>,
    /// `mate[v]`: the remote endpoint `p` of `v`'s matched edge (`endpoint[p]` is its mate), or
    /// `NONE`. Matched edges always have slack 0.
    mate: Vec<usize>,
    /// `label[x]` for a top-level blossom or vertex `x`: its place in the current alternating
    /// tree(s). A vertex inside a T-blossom may carry `T` alone, recording that an S-vertex
    /// reached it (used when the blossom expands).
    label: Vec<Label>,
    /// `labelend[x]`: for a labelled `x`, the endpoint `p` through which it was reached
    /// (`endpoint[p]` is the vertex on the other side); `NONE` for a root.
    labelend: Vec<usize>,
    /// `cls[v]`: the class of vertex `v`, named by a representative vertex; all vertices of one
    /// top-level blossom share a class, and `cls_top[c]` is that blossom (`v` itself if none),
    /// see [`Self::top`]. A new blossom takes over the class of its largest child, so only the
    /// smaller children's vertices are relabelled, and an expansion relabels only those again.
    cls: Vec<u32>,
    cls_top: Vec<u32>,
    /// `rep[x]`: the class representative of vertex or blossom `x` while it is top-level (a
    /// vertex is its own; a blossom has its largest child's).
    rep: Vec<u32>,
    /// `size[x]`: the number of vertices in vertex or blossom `x`.
    size: Vec<u32>,
    /// `offset[x]` for a top-level vertex or blossom `x`: added to the stored dual of each of its
    /// vertices (`y(v) = dual[v] + offset`), exact at `off_stamp[x]` and moving with the clock
    /// while `x` is labelled, so that a label change costs one update, not one per vertex.
    offset: Vec<i64>,
    off_stamp: Vec<i64>,
    /// `blossomparent[x]`: the blossom directly containing `x`, `NONE` at the top.
    blossomparent: Vec<usize>,
    /// `blossomchilds[b]`: the sub-blossoms of `b` around its odd cycle, base child first.
    blossomchilds: Vec<Vec<usize>>,
    /// `blossombase[b]`: the base vertex of blossom `b`; `NONE` for an unused blossom id.
    blossombase: Vec<usize>,
    /// `blossomendps[b][i]`: the endpoint joining child `i` to child `i + 1` of blossom `b`.
    blossomendps: Vec<Vec<usize>>,
    /// `best[w]`, `second[w]`: the records of non-S vertex `w`, kept while it is T as well
    /// (see [`Self::offer`]): its least-slack edge to an S-vertex, and its least-slack edge to an
    /// S-vertex of another tree than `best[w]`'s (`NONE`: none offered). A record is *intact*
    /// while its S-end has stayed S since it was recorded (`best_gen`, `second_gen`: the S-end's
    /// `sgen` then); the slack order of intact records never changes, as all S-duals move
    /// together. While `known[w]` has `KNOWN_BEST`, every edge offered to `w` whose S-end is still
    /// S is at least as slack as an intact `best[w]`; with `KNOWN_SECOND`, every such edge from
    /// another tree than `best[w]`'s is at least as slack as an intact `second[w]`. An unlabelled
    /// vertex always has `KNOWN_BEST` and an event for an intact `best`. Edges between two
    /// S-blossoms are not offered: each goes on the event queue when one end is scanned as S,
    /// and is offered to the other end if that end's tree dissolves first (`next_event`).
    best: Vec<usize>,
    best_gen: Vec<u32>,
    second: Vec<usize>,
    second_gen: Vec<u32>,
    known: Vec<u8>,
    /// `sgen[v]`: a number new each time vertex `v` becomes S (from `gen_clock`).
    sgen: Vec<u32>,
    gen_clock: u32,
    /// Blossom ids (`n..2n`) free for a new blossom.
    unusedblossoms: Vec<usize>,
    /// `dual[x]`: doubled vertex dual (`x < n`) less its top-level offset (see [`Self::y`]), or
    /// blossom dual (`x ≥ n`) exact at `stamp[x]`. Every edge has slack ≥ 0; blossom duals are
    /// ≥ 0.
    dual: Vec<i64>,
    allowedge: Vec<u32>,
    /// S-vertices waiting to be scanned.
    queue: std::collections::VecDeque<usize>,
    /// `scanned[v]`: S-vertex `v` has had all its edges scanned since it was last queued (so
    /// each of its edges to another S-blossom has an event on the queue).
    scanned: Vec<bool>,
    /// `root[v]`: the free vertex whose alternating tree labelled vertex `v` last (`NONE` if
    /// never, or since that tree dissolved). Meaningful only while `v`'s blossom is labelled.
    root: Vec<usize>,
    /// `tree[r]`: vertices labelled by the tree of root `r` (some may have left it since).
    tree: Vec<Vec<u32>>,
    /// `mark[v] == epoch`: vertex `v` was freed by the current dissolution.
    mark: Vec<u32>,
    /// `allowedge[k] == epoch` marks edge `k` tight since the last dissolution.
    epoch: u32,
    /// Sum of all dual steps so far. Duals are lazy: a blossom's `dual[b]` is exact at time
    /// `stamp[b]` and moves by ±(now − stamp) while it is a top-level S or T blossom; vertex duals
    /// move through their top-level `offset` the same way.
    now: i64,
    stamp: Vec<i64>,
    /// Candidate dual-step events `(time, kind, item, edge)`, validated when they reach the top
    /// (items: the unlabelled vertex for `GrowEdge`, none for `SsEdge`, the T-blossom for
    /// `ExpandBlossom`).
    events: EventQueue,
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
            label: vec![Label::Free; 2 * n],
            labelend: vec![NONE; 2 * n],
            cls: (0..n as u32).collect(),
            cls_top: (0..n as u32).collect(),
            rep: (0..n as u32).chain(std::iter::repeat_n(0, n)).collect(),
            size: std::iter::repeat_n(1, n).chain(std::iter::repeat_n(0, n)).collect(),
            offset: vec![0; 2 * n],
            off_stamp: vec![0; 2 * n],
            blossomparent: vec![NONE; 2 * n],
            blossomchilds: vec![Vec::new(); 2 * n],
            blossombase: (0..n).chain(std::iter::repeat_n(NONE, n)).collect(),
            blossomendps: vec![Vec::new(); 2 * n],
            best: vec![NONE; n],
            best_gen: vec![0; n],
            second: vec![NONE; n],
            second_gen: vec![0; n],
            known: vec![KNOWN_BEST | KNOWN_SECOND; n],
            sgen: vec![0; n],
            gen_clock: 0,
            unusedblossoms: (n..2 * n).rev().collect(),
            dual: vec![0; 2 * n],
            allowedge: vec![0; m],
            queue: std::collections::VecDeque::new(),
            scanned: vec![false; n],
            root: vec![NONE; n],
            tree: vec![Vec::new(); n],
            mark: vec![0; n],
            epoch: 1,
            now: 0,
            stamp: vec![0; 2 * n],
            events: EventQueue::default(),
            augmentations: 0,
        }
    }

    /// The top-level blossom containing vertex `v` (`v` itself if none).
    #[inline]
    fn top(&self, v: usize) -> usize {
        self.cls_top[self.cls[v] as usize] as usize
    }

    /// Current offset of top-level vertex or blossom `x` (see `offset`).
    #[inline]
    fn off(&self, x: usize) -> i64 {
        match self.label[x] {
            Label::S => self.offset[x] - (self.now - self.off_stamp[x]),
            Label::T => self.offset[x] + (self.now - self.off_stamp[x]),
            _ => self.offset[x],
        }
    }

    /// Current dual of vertex `v` (doubled).
    #[inline]
    fn y(&self, v: usize) -> i64 {
        self.dual[v] + self.off(self.top(v))
    }

    /// Current dual of blossom `b` (only top-level blossoms move).
    #[inline]
    fn z(&self, b: usize) -> i64 {
        if self.blossomparent[b] != NONE {
            return self.dual[b];
        }
        match self.label[b] {
            Label::S => self.dual[b] + (self.now - self.stamp[b]),
            Label::T => self.dual[b] - (self.now - self.stamp[b]),
            _ => self.dual[b],
        }
    }

    /// Freeze the current offset of top-level `b` (and `b`'s own dual) before its label changes.
    fn materialize(&mut self, b: usize) {
        self.offset[b] = self.off(b);
        self.off_stamp[b] = self.now;
        if b >= self.n {
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
        self.events.push(t, Event::GrowEdge, w, k);
    }

    /// Event: edge `k` between two S-blossoms becomes tight.
    fn push_d3(&mut self, k: usize) {
        let t = self.now + self.slack(k) / 2;
        self.events.push(t, Event::SsEdge, 0, k);
    }

    /// Queue S-vertex `v` for a scan of all its edges.
    fn enqueue(&mut self, v: usize) {
        self.scanned[v] = false;
        self.queue.push_back(v);
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

    fn assign_label(&mut self, w: usize, t: Label, p: usize) {
        let (mut w, mut t, mut p) = (w, t, p);
        // A root starts its own tree; anyone else joins the tree of the vertex that reached it.
        let r = if p == NONE { w } else { self.root[self.endpoint[p] as usize] };
        loop {
            let b = self.top(w);
            debug_assert!(self.label[w] == Label::Free && self.label[b] == Label::Free);
            self.materialize(b);
            self.label[w] = t;
            self.label[b] = t;
            self.labelend[w] = p;
            self.labelend[b] = p;
            let mut lv = Vec::new();
            self.leaves(b, &mut lv);
            for &v in &lv {
                self.root[v] = r;
            }
            self.tree[r].extend(lv.iter().map(|&v| v as u32));
            if t == Label::S {
                self.gen_clock = self.gen_clock.wrapping_add(1);
                for &v in &lv {
                    self.sgen[v] = self.gen_clock;
                    self.enqueue(v);
                }
                return;
            }
            if b >= self.n {
                let t4 = self.now + self.dual[b];
                self.events.push(t4, Event::ExpandBlossom, b, 0);
            }
            let base = self.blossombase[b];
            let mb = self.mate[base];
            debug_assert!(mb != NONE);
            w = self.endpoint[mb] as usize;
            t = Label::S;
            p = mb ^ 1;
        }
    }

    fn scan_blossom(&mut self, v: usize, w: usize) -> usize {
        let (mut v, mut w) = (v, w);
        let mut path = Vec::new();
        let mut base = NONE;
        while v != NONE || w != NONE {
            if v != NONE {
                let mut b = self.top(v);
                if self.label[b] == Label::Breadcrumb {
                    base = self.blossombase[b];
                    break;
                }
                debug_assert!(self.label[b] == Label::S);
                path.push(b);
                self.label[b] = Label::Breadcrumb;
                if self.labelend[b] == NONE {
                    v = NONE;
                } else {
                    v = self.endpoint[self.labelend[b]] as usize;
                    b = self.top(v);
                    debug_assert!(self.label[b] == Label::T);
                    v = self.endpoint[self.labelend[b]] as usize;
                }
            }
            if w != NONE {
                std::mem::swap(&mut v, &mut w);
            }
        }
        for b in path {
            self.label[b] = Label::S;
        }
        base
    }

    fn add_blossom(&mut self, base: usize, k: usize) {
        let mut v = self.endpoint[2 * k] as usize;
        let mut w = self.endpoint[2 * k + 1] as usize;
        let bb = self.top(base);
        let mut bv = self.top(v);
        let mut bw = self.top(w);
        let b = self.unusedblossoms.pop().expect("blossom ids available");
        // Freeze the duals of everything that joins the new blossom (T-parts turn S).
        {
            let mut x = bv;
            while x != bb {
                self.materialize(x);
                x = self.top(self.endpoint[self.labelend[x]] as usize);
            }
            let mut x = bw;
            while x != bb {
                self.materialize(x);
                x = self.top(self.endpoint[self.labelend[x]] as usize);
            }
            self.materialize(bb);
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
            bv = self.top(v);
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
            bw = self.top(w);
        }
        self.blossomchilds[b] = path.clone();
        self.blossomendps[b] = endps;
        self.labelend[b] = self.labelend[bb];
        self.dual[b] = 0;
        self.stamp[b] = self.now;
        // The largest child lends its class and offset; the others' vertices join them.
        let heavy = *path.iter().max_by_key(|&&c| self.size[c]).expect("a blossom has children");
        let class = self.rep[heavy];
        self.rep[b] = class;
        self.size[b] = path.iter().map(|&c| self.size[c]).sum();
        self.offset[b] = self.offset[heavy];
        self.off_stamp[b] = self.now;
        let mut lv = Vec::new();
        self.gen_clock = self.gen_clock.wrapping_add(1);
        for &c in &path {
            // T-parts turn S: their vertices must be scanned.
            let was_t = self.label[c] == Label::T;
            if c == heavy && !was_t {
                continue;
            }
            lv.clear();
            self.leaves(c, &mut lv);
            if was_t {
                for &x in &lv {
                    self.sgen[x] = self.gen_clock;
                    self.enqueue(x);
                }
            }
            if c != heavy {
                let delta = self.offset[c] - self.offset[b];
                for &x in &lv {
                    self.dual[x] += delta;
                    self.cls[x] = class;
                }
            }
        }
        self.cls_top[class as usize] = b as u32;
        self.label[b] = Label::S;
    }

    fn expand_blossom(&mut self, b: usize) {
        self.materialize(b);
        let childs = std::mem::take(&mut self.blossomchilds[b]);
        let mut lv = Vec::new();
        // Every child starts at `b`'s offset (its vertices' duals stay put); the child that lent
        // its class takes it back, the others' vertices return to their own.
        for &s in &childs {
            self.stamp[s] = self.now;
            self.blossomparent[s] = NONE;
            self.offset[s] = self.offset[b];
            self.off_stamp[s] = self.now;
            let class = self.rep[s];
            if class != self.rep[b] {
                lv.clear();
                self.leaves(s, &mut lv);
                for &v in &lv {
                    self.cls[v] = class;
                }
            }
            self.cls_top[class as usize] = s as u32;
        }
        if self.label[b] == Label::T {
            let endps = std::mem::take(&mut self.blossomendps[b]);
            let len = childs.len() as isize;
            let at = |j: isize| -> usize { j.rem_euclid(len) as usize };
            let entrychild = self.top(self.endpoint[self.labelend[b] ^ 1] as usize);
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
                self.label[e1] = Label::Free;
                let q = endps[at(j - endptrick as isize)] ^ endptrick ^ 1;
                let e2 = self.endpoint[q] as usize;
                self.label[e2] = Label::Free;
                self.assign_label(e1, Label::T, p);
                self.allowedge[endps[at(j - endptrick as isize)] / 2] = self.epoch;
                j += jstep;
                p = endps[at(j - endptrick as isize)] ^ endptrick;
                self.allowedge[p / 2] = self.epoch;
                j += jstep;
            }
            let bv = childs[at(j)];
            let e = self.endpoint[p ^ 1] as usize;
            self.label[e] = Label::T;
            self.label[bv] = Label::T;
            self.labelend[e] = p;
            self.labelend[bv] = p;
            if bv >= self.n {
                let t4 = self.now + self.dual[bv];
                self.events.push(t4, Event::ExpandBlossom, bv, 0);
            }
            j += jstep;
            while childs[at(j)] != entrychild {
                let bv = childs[at(j)];
                if self.label[bv] == Label::S {
                    j += jstep;
                    continue;
                }
                lv.clear();
                self.leaves(bv, &mut lv);
                // A vertex reached from an S-vertex of a tree that has dissolved since keeps a
                // stale mark: forget it (the refresh below records its edges again).
                for &v in &lv {
                    if self.label[v] != Label::Free
                        && self.label[self.top(self.endpoint[self.labelend[v]] as usize)] != Label::S
                    {
                        self.label[v] = Label::Free;
                        self.labelend[v] = NONE;
                    }
                }
                if let Some(&v) = lv.iter().find(|&&v| self.label[v] != Label::Free) {
                    debug_assert!(self.label[v] == Label::T && self.top(v) == bv);
                    self.label[v] = Label::Free;
                    let mb = self.mate[self.blossombase[bv]];
                    self.label[self.endpoint[mb] as usize] = Label::Free;
                    let le = self.labelend[v];
                    self.assign_label(v, Label::T, le);
                }
                j += jstep;
            }
        }
        // Children left unlabelled can now be reached from S-vertices: refresh their events.
        for &c in &childs {
            if self.label[c] == Label::Free {
                lv.clear();
                self.leaves(c, &mut lv);
                for &v in &lv {
                    self.recompute(v);
                }
            }
        }
        self.label[b] = Label::Free;
        self.labelend[b] = NONE;
        self.blossomendps[b] = Vec::new();
        self.blossombase[b] = NONE;
        self.dual[b] = 0;
        self.unusedblossoms.push(b);
    }

    /// Swap matched and unmatched edges on the even path through blossom `b` from vertex `v` to
    /// its base, so that `v` becomes the base: every blossom between `v` and `b` in turn, the
    /// innermost first (one walk up from `v`, not one per level).
    fn augment_blossom(&mut self, b: usize, v: usize) {
        let mut chain = vec![v];
        while let Some(&x) = chain.last()
            && self.blossomparent[x] != b
        {
            chain.push(self.blossomparent[x]);
        }
        for i in 1..chain.len() {
            self.augment_cycle(chain[i], chain[i - 1], v);
        }
        self.augment_cycle(b, chain[chain.len() - 1], v);
    }

    /// One level of [`Self::augment_blossom`]: in blossom `b`, whose child `t` holds `v` (and
    /// has already been augmented), go round the cycle from `t` to the base child.
    fn augment_cycle(&mut self, b: usize, t: usize, v: usize) {
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
                let bs = self.top(s);
                debug_assert!(self.label[bs] == Label::S);
                if bs >= self.n {
                    self.augment_blossom(bs, s);
                }
                self.mate[s] = p;
                if self.labelend[bs] == NONE {
                    break;
                }
                let t = self.endpoint[self.labelend[bs]] as usize;
                let bt = self.top(t);
                debug_assert!(self.label[bt] == Label::T);
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
            self.label[t] = Label::Free;
            self.labelend[t] = NONE;
            if t >= self.n {
                stack.extend(self.blossomchilds[t].iter().copied());
            }
        }
    }

    /// After an augmentation: unlabel the trees of roots `r1` and `r2` (every other tree keeps
    /// growing). Their vertices are matched now and unlabelled, and each needs an event for its
    /// least-slack edge to the remaining S-vertices ([`Self::release`]). Neighbours whose records
    /// led into the dissolved trees find out when they next use them.
    fn dissolve(&mut self, r1: usize, r2: usize) {
        self.epoch += 1;
        // (vertex, was a scanned S-vertex)
        let mut freed: Vec<(usize, bool)> = Vec::new();
        for r in [r1, r2] {
            let list = std::mem::take(&mut self.tree[r]);
            for &v in &list {
                let v = v as usize;
                if self.root[v] != r || self.mark[v] == self.epoch {
                    continue;
                }
                self.mark[v] = self.epoch;
                freed.push((v, self.label[self.top(v)] == Label::S && self.scanned[v]));
            }
            for v in list {
                let v = v as usize;
                if self.root[v] != r {
                    continue;
                }
                let b = self.top(v);
                if self.label[b] != Label::Free {
                    self.materialize(b);
                    self.reset_labels_below(b);
                }
                self.label[v] = Label::Free;
                self.labelend[v] = NONE;
                self.root[v] = NONE;
            }
        }
        for (v, scanned_s) in freed {
            self.release(v, scanned_s);
        }
    }

    /// Vertex `w` has just become unlabelled: give it an event for its least-slack edge to an
    /// S-vertex. A scanned S-vertex needs none: each of its edges to an S-vertex went on the
    /// queue when it was scanned (and becomes an offer when it comes up), so its records start
    /// afresh. Others use their records if they still tell, and are recomputed otherwise.
    fn release(&mut self, w: usize, scanned_s: bool) {
        if scanned_s {
            self.best[w] = NONE;
            self.second[w] = NONE;
            self.known[w] = KNOWN_BEST | KNOWN_SECOND;
            return;
        }
        match self.settle(w) {
            None => self.recompute(w),
            Some(_) => {
                if self.best[w] != NONE {
                    self.push_d2(w, self.best[w]);
                }
            }
        }
    }

    /// The S-end of edge `k` seen from its other end `w`.
    #[inline]
    fn far(&self, w: usize, k: usize) -> usize {
        let a = self.endpoint[2 * k] as usize;
        if a == w { self.endpoint[2 * k + 1] as usize } else { a }
    }

    /// Whether record `k` of `w`, made when its S-end had `sgen` value `g`, is intact.
    #[inline]
    fn intact(&self, w: usize, k: usize, g: u32) -> bool {
        let s = self.far(w, k);
        self.label[self.top(s)] == Label::S && self.sgen[s] == g
    }

    /// Bring `w`'s records up to date: a `best` that is no longer intact gives way to `second`
    /// when that is known (the edges hidden behind `best` came from `best`'s tree, which is gone);
    /// a `second` that is no longer intact is forgotten. Returns whether `best` changed, or `None`
    /// if the records no longer tell (then `w` must be recomputed before it is unlabelled).
    fn settle(&mut self, w: usize) -> Option<bool> {
        if self.known[w] & KNOWN_BEST == 0 {
            return None;
        }
        let drop_second = |s: &mut Self| {
            s.second[w] = NONE;
            s.known[w] &= !KNOWN_SECOND;
        };
        let b = self.best[w];
        if b == NONE || self.intact(w, b, self.best_gen[w]) {
            let c = self.second[w];
            if c != NONE && !self.intact(w, c, self.second_gen[w]) {
                drop_second(self);
            }
            return Some(false);
        }
        if self.known[w] & KNOWN_SECOND != 0 {
            let c = self.second[w];
            if c == NONE {
                self.best[w] = NONE;
                return Some(true);
            }
            if self.intact(w, c, self.second_gen[w]) {
                self.best[w] = c;
                self.best_gen[w] = self.second_gen[w];
                drop_second(self);
                return Some(true);
            }
        }
        self.best[w] = NONE;
        self.second[w] = NONE;
        self.known[w] = 0;
        None
    }

    /// Edge `k` (slack `kslack`) from a scanned S-vertex to non-S vertex `w` (unlabelled, or in
    /// a T-blossom): update `w`'s records (see `best`), and the event of an unlabelled `w`.
    fn offer(&mut self, w: usize, k: usize, kslack: i64) {
        let unlabelled = self.label[self.top(w)] == Label::Free;
        let Some(promoted) = self.settle(w) else {
            if unlabelled {
                self.recompute(w);
            }
            return;
        };
        let old = self.best[w];
        self.consider(w, k, kslack);
        if unlabelled && (promoted || self.best[w] != old) {
            self.push_d2(w, self.best[w]);
        }
    }

    /// Edge `k` (slack `kslack`) from an S-vertex to `w`, against `w`'s known records, which
    /// are intact or `NONE` (see [`Self::settle`]).
    fn consider(&mut self, w: usize, k: usize, kslack: i64) {
        let old = self.best[w];
        let s = self.far(w, k);
        let g = self.sgen[s];
        if old == NONE {
            self.best[w] = k;
            self.best_gen[w] = g;
            self.second[w] = NONE;
            self.known[w] |= KNOWN_SECOND;
            return;
        }
        let old_slack = self.slack(old);
        if self.root[s] == self.root[self.far(w, old)] {
            if kslack < old_slack {
                self.best[w] = k;
                self.best_gen[w] = g;
            }
        } else if kslack < old_slack {
            // Everything offered so far is at least as slack as the old best.
            self.second[w] = old;
            self.second_gen[w] = self.best_gen[w];
            self.known[w] |= KNOWN_SECOND;
            self.best[w] = k;
            self.best_gen[w] = g;
        } else if self.known[w] & KNOWN_SECOND != 0 {
            let c = self.second[w];
            if c == NONE || kslack < self.slack(c) {
                self.second[w] = k;
                self.second_gen[w] = g;
            }
        }
    }

    /// Records of unlabelled vertex `w` from all its edges, and the event of the best.
    fn recompute(&mut self, w: usize) {
        self.best[w] = NONE;
        self.second[w] = NONE;
        self.known[w] = KNOWN_BEST | KNOWN_SECOND;
        let bw = self.top(w);
        for i in self.nbs(w) {
            let p = self.nb[i] as usize;
            let bu = self.top(self.endpoint[p] as usize);
            if bu != bw && self.label[bu] == Label::S {
                self.consider(w, p / 2, self.slack(p / 2));
            }
        }
        if self.best[w] != NONE && self.label[bw] == Label::Free {
            self.push_d2(w, self.best[w]);
        }
    }

    fn is_top(&self, b: usize) -> bool {
        self.blossomparent[b] == NONE && (b < self.n || self.blossombase[b] != NONE)
    }

    /// Every free vertex roots an alternating tree at once and all trees share one dual clock
    /// (Galil, Micali and Gabow): trees grow along tight edges ([`Self::grow`]); when none can, the
    /// clock jumps to the earliest event ([`Self::next_event`], [`Self::apply`]). An augmentation
    /// dissolves only the two trees it joins. Returns `false` if `stop` was set.
    fn run(&mut self, stop: Option<&AtomicBool>) -> bool {
        for v in 0..self.n {
            if self.mate[v] == NONE && self.nb_start[v] != self.nb_start[v + 1] {
                self.assign_label(v, Label::S, NONE);
            }
        }
        let mut steps = 0u32;
        loop {
            steps = steps.wrapping_add(1);
            if steps.is_multiple_of(1024) && stop.is_some_and(|f| f.load(Ordering::Relaxed)) {
                return false;
            }
            if let Some(k) = self.grow() {
                let r1 = self.root[self.endpoint[2 * k] as usize];
                let r2 = self.root[self.endpoint[2 * k + 1] as usize];
                self.augment_matching(k);
                self.dissolve(r1, r2);
                continue;
            }
            match self.next_event() {
                Some((t, kind, item, k)) => self.apply(t, kind, item, k),
                None => break,
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
        true
    }

    /// Scan queued S-vertices along tight edges: label, make blossoms, and record least-slack
    /// edges of the others. Returns the edge of an augmenting path between two trees, if found
    /// (the queue keeps the vertices not scanned yet).
    fn grow(&mut self) -> Option<usize> {
        while let Some(v) = self.queue.pop_front() {
            let mut bv = self.top(v);
            if self.label[bv] != Label::S {
                continue;
            }
            // The clock stands still while trees grow, so v's dual does too.
            let yv = self.y(v);
            for i in self.nbs(v) {
                let p = self.nb[i] as usize;
                let k = p / 2;
                let w = self.endpoint[p] as usize;
                let bw = self.top(w);
                if bv == bw {
                    continue;
                }
                let kslack = yv + self.y(w) - 2 * self.weight[k];
                if kslack <= 0 {
                    self.allowedge[k] = self.epoch;
                }
                // An edge to a T-vertex of v's own tree needs no offer: it is gone when that
                // tree dissolves, and a vertex leaving the tree otherwise is recomputed.
                let own_t = self.label[bw] == Label::T && self.root[w] == self.root[v];
                if self.allowedge[k] == self.epoch {
                    if self.label[bw] == Label::Free && self.mate[self.blossombase[bw]] == NONE {
                        // A free vertex outside every tree (only one without a tree of its
                        // own): it becomes a root and the edge joins the two trees.
                        self.assign_label(w, Label::S, NONE);
                        return Some(k);
                    } else if self.label[bw] == Label::Free {
                        self.assign_label(w, Label::T, p ^ 1);
                    } else if self.label[bw] == Label::S {
                        let base = self.scan_blossom(v, w);
                        if base == NONE {
                            return Some(k);
                        }
                        self.add_blossom(base, k);
                        bv = self.top(v);
                    } else {
                        // A vertex in a T-blossom: remember who reached it (for the blossom's
                        // expansion), and offer the edge for when the tree dissolves.
                        if self.label[w] == Label::Free {
                            self.label[w] = Label::T;
                            self.labelend[w] = p ^ 1;
                        }
                        if !own_t {
                            self.offer(w, k, kslack);
                        }
                    }
                } else if self.label[bw] == Label::S {
                    self.push_d3(k);
                } else if !own_t {
                    self.offer(w, k, kslack);
                }
            }
            self.scanned[v] = true;
        }
        None
    }

    /// The earliest event that is still valid, left on the heap (if the scan it triggers is cut
    /// short by an augmentation, it comes back and is validated again). Stale candidates are
    /// dropped or recomputed on the way. `None`: no tree can grow any more.
    fn next_event(&mut self) -> Option<(i64, Event, usize, usize)> {
        while let Some((t, kind, item, k)) = self.events.peek() {
            let valid = match kind {
                Event::GrowEdge => {
                    // A record replaced since: the newer one has its own event. A vertex
                    // labelled since gets a new event when it is unlabelled.
                    if self.best[item] != k || self.label[self.top(item)] != Label::Free {
                        self.events.pop();
                        continue;
                    }
                    match self.settle(item) {
                        None => {
                            self.events.pop();
                            self.recompute(item);
                            continue;
                        }
                        Some(true) => {
                            self.events.pop();
                            if self.best[item] != NONE {
                                self.push_d2(item, self.best[item]);
                            }
                            continue;
                        }
                        Some(false) => {}
                    }
                    // Intact, but due at another time than this event says (the vertex was
                    // labelled in between): queue it again at the time it is due.
                    if self.slack(k) != t - self.now {
                        self.events.pop();
                        self.push_d2(item, k);
                        continue;
                    }
                    true
                }
                Event::SsEdge => {
                    let bi = self.top(self.endpoint[2 * k] as usize);
                    let bj = self.top(self.endpoint[2 * k + 1] as usize);
                    let ok = bi != bj && self.label[bi] == Label::S && self.label[bj] == Label::S;
                    // One end's tree dissolved since: offer the edge to that end (its tree
                    // may grow along it, now or once it is unlabelled again).
                    if !ok && bi != bj && (self.label[bi] == Label::S) != (self.label[bj] == Label::S) {
                        self.events.pop();
                        let w = if self.label[bi] == Label::S {
                            self.endpoint[2 * k + 1]
                        } else {
                            self.endpoint[2 * k]
                        };
                        self.offer(w as usize, k, self.slack(k));
                        continue;
                    }
                    if ok && self.slack(k) / 2 != t - self.now {
                        self.events.pop();
                        self.push_d3(k);
                        continue;
                    }
                    ok
                }
                Event::ExpandBlossom => {
                    let ok =
                        self.blossombase[item] != NONE && self.is_top(item) && self.label[item] == Label::T;
                    if ok && self.z(item) != t - self.now {
                        self.events.pop();
                        let t4 = self.now + self.z(item);
                        self.events.push(t4, Event::ExpandBlossom, item, 0);
                        continue;
                    }
                    ok
                }
            };
            if valid {
                return Some((t, kind, item, k));
            }
            self.events.pop();
        }
        None
    }

    /// Move the dual clock to `t` and act on the event: queue the S-end of a newly tight edge,
    /// or expand a T-blossom whose dual reached zero.
    fn apply(&mut self, t: i64, kind: Event, item: usize, k: usize) {
        debug_assert!(t >= self.now, "dual step must not be negative");
        debug_assert!(kind != Event::SsEdge || self.slack(k) % 2 == 0, "S-S slack must be even");
        self.now = t;
        match kind {
            Event::GrowEdge => {
                self.allowedge[k] = self.epoch;
                let (mut i, j) = (self.endpoint[2 * k] as usize, self.endpoint[2 * k + 1] as usize);
                if self.label[self.top(i)] == Label::Free {
                    i = j;
                }
                debug_assert!(self.label[self.top(i)] == Label::S);
                self.enqueue(i);
            }
            Event::SsEdge => {
                self.allowedge[k] = self.epoch;
                self.enqueue(self.endpoint[2 * k] as usize);
            }
            Event::ExpandBlossom => self.expand_blossom(item),
        }
    }

    /// Start from an earlier solution (see [`solve_with`]).
    fn warm_start(&mut self, warm: &Solution) {
        let n = self.n;
        let old = warm.mate.len().min(n);
        // Fold each blossom's dual into its vertices: edges inside keep their slack, edges
        // leaving a blossom gain its dual.
        for v in 0..old {
            let mut y = warm.vertex_dual[v];
            let mut x = v;
            while let Some(p) = warm.parent[x] {
                y += warm.blossom_dual[p - warm.mate.len()];
                x = p;
            }
            self.dual[v] = y;
        }
        for v in old..n {
            let mut need = i64::MIN;
            for i in self.nbs(v) {
                let p = self.nb[i] as usize;
                need = need.max(2 * self.weight[p / 2] - self.dual[self.endpoint[p] as usize]);
            }
            self.dual[v] = if need == i64::MIN { 0 } else { need };
        }
        // Keep matched edges that are still tight.
        for v in 0..old {
            let Some(u) = warm.mate[v] else { continue };
            if u <= v || u >= n {
                continue;
            }
            for i in self.nbs(v) {
                let p = self.nb[i] as usize;
                if self.endpoint[p] as usize == u && self.slack(p / 2) == 0 {
                    self.mate[v] = p;
                    self.mate[u] = p ^ 1;
                    break;
                }
            }
        }
        // Raise one end of every edge with negative slack (a free end if there is one).
        for k in 0..self.weight.len() {
            let s = self.slack(k);
            if s >= 0 {
                continue;
            }
            let (a, b) = (self.endpoint[2 * k] as usize, self.endpoint[2 * k + 1] as usize);
            let v = if self.mate[a] == NONE || self.mate[b] != NONE { a } else { b };
            self.dual[v] -= s;
            if self.mate[v] != NONE {
                let u = self.endpoint[self.mate[v]] as usize;
                self.mate[u] = NONE;
                self.mate[v] = NONE;
            }
        }
        // Every root must start at one parity, so that S-S slacks stay even.
        for v in 0..n {
            if self.mate[v] == NONE && self.dual[v] & 1 != 0 {
                self.dual[v] += 1;
            }
        }
    }
}
