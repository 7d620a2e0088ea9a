#!/usr/bin/env bash
# Benchmark of the matching engine, end to end through `coffee-rounds plan`.
#
#   bash benches/matching.sh                 # N = 1000 5000 20000 100000, networkx at 1000 and 2000
#   SIZES="1000 20000" NX_SIZES="" bash benches/matching.sh
#
# For each N: a generated roster with 6 months of history (gen-roster --seed 7, target month
# 2026-01), then `plan` timed with /usr/bin/time (wall seconds, peak RSS). For the NX_SIZES, the
# solver's final candidate graph is exported and solved by networkx's
# max_weight_matching(maxcardinality=True) in a virtualenv (created on first run, PyPI), which
# must find the same total weight. The same graph is solved by our exact solver alone
# (examples/solve_graph.rs); the script prints networkx time / our solver time, and networkx time
# / our whole plan run (CSV parsing and candidate graph included).
# Files go to target/matching-bench/ (override with BENCH_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES:-"1000 5000 20000 100000"}
NX_SIZES=${NX_SIZES-"1000 2000"}
OUT=${BENCH_DIR:-target/matching-bench}
mkdir -p "$OUT"
cargo build --release --quiet --bin coffee-rounds --example solve_graph
BIN=target/release/coffee-rounds

if [ -n "$NX_SIZES" ] && [ ! -x "$OUT/venv/bin/python" ]; then
    python3 -m venv "$OUT/venv"
    "$OUT/venv/bin/pip" install --quiet networkx
fi

run_plan() { # n [extra args...]
    local n=$1
    shift
    "$BIN" gen-roster --n "$n" --seed 7 --out "$OUT/people-$n.csv" \
        --history "$OUT/history-$n.csv" --months 6 --month 2026-01
    /usr/bin/time -f "%e %M" -o "$OUT/time-$n.txt" "$BIN" plan \
        --participants "$OUT/people-$n.csv" --history "$OUT/history-$n.csv" "$@" \
        >"$OUT/plan-$n.csv" 2>"$OUT/summary-$n.txt"
    read -r wall kb <"$OUT/time-$n.txt"
    echo "N=$n wall_s=$wall peak_mib=$((kb / 1024)) | $(cat "$OUT/summary-$n.txt")"
}

echo "== plan, end to end"
for n in $SIZES; do
    run_plan "$n"
done

if [ -n "$NX_SIZES" ]; then
    echo "== networkx on the identical candidate graph"
    for n in $NX_SIZES; do
        run_plan "$n" --export-graph "$OUT/graph-$n.txt"
        read -r wall _ <"$OUT/time-$n.txt"
        line=$("$OUT/venv/bin/python" benches/networkx_matching.py "$OUT/graph-$n.txt")
        ours=$(target/release/examples/solve_graph "$OUT/graph-$n.txt")
        nx_s=$(echo "$line" | sed -E 's/.*networkx_s=([0-9.]+).*/\1/')
        our_s=$(echo "$ours" | sed -E 's/.*ours_solver_s=([0-9.]+).*/\1/')
        solver_ratio=$(python3 -c "print(f'{$nx_s / max($our_s, 1e-4):.0f}')")
        plan_ratio=$(python3 -c "print(f'{$nx_s / max($wall, 0.01):.0f}')")
        echo "N=$n $line"
        echo "N=$n $ours speedup_solver_vs_networkx=${solver_ratio}x speedup_whole_plan_run_vs_networkx=${plan_ratio}x"
    done
fi
