#!/usr/bin/env bash
# A full monthly round (load, match, write groups and outbox) for N participants with six months
# of history, on SQLite and on PostgreSQL.   bash benches/round.sh [N]   (default 20000)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20000}
cargo build --release --quiet --example round_bench
work=$(mktemp -d)
db="coffee_round_bench_$$"
cleanup() {
    psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
echo "== SQLite"
target/release/examples/round_bench "$n" "sqlite://$work/round.db"
echo "== PostgreSQL"
psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE $db" >/dev/null
target/release/examples/round_bench "$n" "postgres://postgres@127.0.0.1:5432/$db"
