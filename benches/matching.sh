#!/usr/bin/env bash
# Benchmark of the matching engine: one command prints the whole matrix.
#
#   bash benches/matching.sh
#   SIZES="2000 20000" KINDS="skewed" JITTERS="0" bash benches/matching.sh
#
# For each roster kind (realistic; skewed: one department holds 60 %; pilot: 3 departments),
# jitter (default 10, and 0) and N: `gen-roster --seed 7` with 6 months of history (target month
# 2026-01), then `plan` timed with /usr/bin/time (wall seconds, peak RSS) under a timeout
# (PLAN_TIMEOUT, default 120 s). The solver's final graph is exported (--export-graph) and solved
# by LEMON's MaxWeightedMatching (benches/lemon_matching.cpp, compiled here against Debian's
# liblemon-dev, installed with apt-get if missing; a benchmark tool, never a product dependency)
# and by our solver alone (examples/solve_graph.rs), both as maximum-cardinality maximum-weight
# matchings; ratio = our solver time / LEMON's time. Files go to target/matching-bench/.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES:-"2000 20000 100000"}
KINDS=${KINDS:-"realistic skewed pilot"}
JITTERS=${JITTERS:-"10 0"}
PLAN_TIMEOUT=${PLAN_TIMEOUT:-120}
OUT=${BENCH_DIR:-target/matching-bench}
mkdir -p "$OUT"
cargo build --release --quiet --bin coffee-rounds --example solve_graph
BIN=target/release/coffee-rounds

LEMON=""
if [ ! -f /usr/include/lemon/matching.h ]; then
    if ! { apt-get install -y liblemon-dev >/dev/null 2>&1 || sudo -n apt-get install -y liblemon-dev >/dev/null 2>&1; }; then
        echo "note: apt-get could not install liblemon-dev; LEMON columns left empty" >&2
    fi
fi
if [ -f /usr/include/lemon/matching.h ] && g++ -O2 -o "$OUT/lemon_matching" benches/lemon_matching.cpp; then
    LEMON="$OUT/lemon_matching"
fi

printf "%-9s %6s %7s | %9s %8s %9s %6s %-26s | %9s %9s %6s\n" \
    kind jitter N plan_s peak_MiB edges widen result solver_s lemon_s ratio
for kind in $KINDS; do
    case $kind in
    realistic) gen=() ;;
    skewed) gen=(--skewed) ;;
    pilot) gen=(--departments 3) ;;
    *) echo "unknown kind $kind" >&2; exit 2 ;;
    esac
    for jitter in $JITTERS; do
        for n in $SIZES; do
            tag="$kind-$n"
            [ -f "$OUT/people-$tag.csv" ] || "$BIN" gen-roster --n "$n" --seed 7 "${gen[@]}" \
                --out "$OUT/people-$tag.csv" --history "$OUT/history-$tag.csv" --months 6 --month 2026-01
            tag="$kind-$n-j$jitter"
            rm -f "$OUT/graph-$tag.txt"
            status=0
            /usr/bin/time -f "%e %M" -o "$OUT/time-$tag.txt" timeout "$PLAN_TIMEOUT" "$BIN" plan \
                --participants "$OUT/people-$kind-$n.csv" --history "$OUT/history-$kind-$n.csv" \
                --jitter "$jitter" --export-graph "$OUT/graph-$tag.txt" \
                >"$OUT/plan-$tag.csv" 2>"$OUT/summary-$tag.txt" || status=$?
            read -r wall kb < <(tail -1 "$OUT/time-$tag.txt")
            if [ "$status" -ne 0 ]; then
                printf "%-9s %6s %7s | %9s %8s %9s %6s %-26s |\n" "$kind" "$jitter" "$n" ">$PLAN_TIMEOUT" \
                    "$((kb / 1024))" - - "did not finish"
                continue
            fi
            summary=$(tail -1 "$OUT/summary-$tag.txt")
            edges=$(echo "$summary" | sed -E 's/.*candidate graph ([0-9]+) edges.*/\1/')
            widen=$(echo "$summary" | sed -E 's/.*\(([0-9]+) widenings\).*/\1/')
            if echo "$summary" | grep -q "exact optimum"; then
                result="exact"
            else
                result="gap<=$(echo "$summary" | sed -E 's/.*proven gap at most ([0-9]+).*/\1/')"
            fi
            ours=$(target/release/examples/solve_graph "$OUT/graph-$tag.txt" | sed -E 's/.*ours_solver_s=([0-9.]+).*/\1/')
            lemon_s="-"
            ratio="-"
            if [ -n "$LEMON" ]; then
                lemon_s=$("$LEMON" "$OUT/graph-$tag.txt" | sed -E 's/.*lemon_solver_s=([0-9.]+).*/\1/')
                ratio=$(python3 -c "print(f'{$ours / max($lemon_s, 1e-4):.1f}')")
            fi
            printf "%-9s %6s %7s | %9s %8s %9s %6s %-26s | %9s %9s %6s\n" "$kind" "$jitter" "$n" "$wall" \
                "$((kb / 1024))" "$edges" "$widen" "$result" "$ours" "$lemon_s" "$ratio"
        done
    done
done
