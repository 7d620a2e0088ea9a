//! Benchmark aid: solve a graph exported by `coffee-rounds plan --export-graph` with the crate's
//! exact solver and print the solver time, total weight and pair count (see benches/matching.sh).

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: solve_graph GRAPH_FILE")?;
    let text = std::fs::read_to_string(&path)?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().ok_or("empty file")?.split_whitespace().collect();
    let n: usize = header.get(2).ok_or("bad header")?.parse()?;
    let mut edges = Vec::new();
    for line in lines {
        let mut it = line.split_whitespace();
        let (Some(u), Some(v), Some(w)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        edges.push((u.parse()?, v.parse()?, w.parse()?));
    }
    let start = Instant::now();
    let (mate, total) = coffee_rounds::matching::max_cardinality_matching(n, &edges);
    let secs = start.elapsed().as_secs_f64();
    let pairs = mate.iter().flatten().count() / 2;
    println!("ours_solver_s={secs:.4} ours_solver_total={total} ours_solver_pairs={pairs}");
    Ok(())
}
