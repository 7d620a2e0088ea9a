#!/usr/bin/env bash
# The coordinator dashboard at scale: seeds PARTICIPANTS accounts with MONTHS monthly rounds into a
# fresh database per backend, serves it from a release build on loopback, logs a coordinator in
# through the forms, and measures each page's latency with wrk and each CSV export with curl.
#   bash benches/dashboard.sh
#   (PARTICIPANTS=100000 MONTHS=24 BACKENDS="sqlite postgres" DURATION=10s CONNECTIONS=4
#    EXPORT_RUNS=3 by default; PG_URL is the server to make a throwaway database on)
# Everything it makes (temporary files, the PostgreSQL database, the server) goes when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
PARTICIPANTS=${PARTICIPANTS:-100000}
MONTHS=${MONTHS:-24}
BACKENDS=${BACKENDS:-sqlite postgres}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-4}
EXPORT_RUNS=${EXPORT_RUNS:-3}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}

# Pages measured with wrk, one a line; {round} is the latest round's id.
PAGES=(
    /coordinator
    /coordinator/rounds
    /coordinator/outcomes
    "/coordinator/rounds/{round}"
)
# Downloads timed with curl, one a line.
EXPORTS=(
    /coordinator/export/participants.csv
    /coordinator/export/results.csv
)

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
cargo build --release --quiet --bin coffee-rounds --example dashboard_seed

work=$(mktemp -d)
password="a long benchmark passphrase"
db="coffee_dashboard_bench_$$"
pg_db_url="${PG_URL%/*}/$db"
server=""
stop_server() {
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
    server=""
}
cleanup() {
    stop_server
    psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
[ -n "${BENCH_DEBUG:-}" ] && set -x

# wrk → "p50-ms p99-ms requests"
measure() {
    wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --timeout 60s --latency "$@" | awk '
        function ms(v,   unit) { unit = v; gsub(/[0-9.]/, "", unit); sub(/[a-z]+$/, "", v)
                                 return (unit == "us") ? v / 1000 : (unit == "s") ? v * 1000 : (unit == "m") ? v * 60000 : v }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        /requests in/ { n = $1 }
        /Non-2xx/ { bad = $NF }
        END { if (bad) { print "wrk: " bad " responses were not 2xx" > "/dev/stderr"; exit 1 }
              printf "%.1f %.1f %d\n", p50, p99, n }'
}

run_backend() {
    local backend=$1 url label
    case $backend in
        sqlite) url="sqlite://$work/dashboard.db"; label=SQLite ;;
        postgres)
            psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
            psql "$PG_URL" -qc "CREATE DATABASE $db" >/dev/null
            url="$pg_db_url"; label=PostgreSQL ;;
        *) echo "unknown backend $backend (sqlite or postgres)"; exit 1 ;;
    esac
    echo "== $label: seeding $PARTICIPANTS participants and $MONTHS months of rounds"
    local started=$SECONDS
    target/release/examples/dashboard_seed "$url" "$PARTICIPANTS" "$MONTHS" "$password" | tee "$work/seed.out"
    local seeded=$((SECONDS - started))

    local port base
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    base="http://127.0.0.1:$port"
    # The per-client limits would turn loopback requests into 429s; the schedule would run rounds.
    RUST_LOG=warn RATE_LIMIT_PER_IP=1000000000 RATE_LIMIT_PER_ACCOUNT=1000000000 ROUND_SCHEDULE=off \
    DATABASE_URL="$url" MAIL_DIR="$work/mail" BIND="127.0.0.1:$port" \
        target/release/coffee-rounds serve 2>"$work/server-$backend.log" &
    server=$!
    for _ in $(seq 1 300); do curl -fs "$base/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

    # The seeded coordinator logs in through the form, as a browser would.
    local jar="$work/coordinator-$backend.jar" token session
    token=$(curl -fs -c "$jar" -b "$jar" "$base/login" | sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' | head -n 1)
    curl -fs -o /dev/null -c "$jar" -b "$jar" --data-urlencode "csrf_token=$token" \
        --data-urlencode email=coordinator@hospital.test --data-urlencode "password=$password" "$base/login"
    session=$(awk '$6 == "coffee_rounds_session" { print $7 }' "$jar")
    local cookie="Cookie: coffee_rounds_session=$session"
    curl -fs -H "$cookie" "$base/coordinator" | grep "Coordinator dashboard" >/dev/null \
        || { echo "the coordinator could not log in"; tail "$work/server-$backend.log"; exit 1; }
    local round
    round=$(awk '/^latest round id:/ { print $4 }' "$work/seed.out")

    local out="$work/table-$backend"
    {
        echo
        echo "$label, $PARTICIPANTS participants x $MONTHS months (seeded in ${seeded} s); wrk -t1 -c$CONNECTIONS -d$DURATION"
        printf '%-44s %9s %9s %9s %9s %9s\n' page "first ms" "p50 ms" "p99 ms" requests KB
    } >"$out"
    local page path code first kb
    for page in "${PAGES[@]}"; do
        path=${page//\{round\}/$round}
        # The first request shows a cold page, and whether the page answers at all (the server
        # gives up on a request after 30 s).
        read -r code first kb < <(curl -s -o /dev/null -w '%{http_code} %{time_total} %{size_download}\n' \
            -H "$cookie" "$base$path")
        first=$(awk -v s="$first" 'BEGIN { printf "%.1f", s * 1000 }')
        kb=$(awk -v b="$kb" 'BEGIN { printf "%.0f", b / 1000 }')
        if [ "$code" != 200 ]; then
            printf '%-44s %9s   HTTP %s, not measured\n' "$path" "$first" "$code" >>"$out"
            continue
        fi
        read -r p50 p99 n < <(measure -H "$cookie" "$base$path")
        if [ "$n" = 0 ]; then p50=-; p99=-; fi
        printf '%-44s %9s %9s %9s %9s %9s\n' "$path" "$first" "$p50" "$p99" "$n" "$kb" >>"$out"
    done
    printf '%-44s %26s %9s %9s\n' export "seconds per run" rows MB >>"$out"
    local times rows bytes code seconds size
    for path in "${EXPORTS[@]}"; do
        times=""
        rows=-
        bytes=-
        for _ in $(seq 1 "$EXPORT_RUNS"); do
            read -r code seconds size < <(curl -s -o "$work/export.csv" -w '%{http_code} %{time_total} %{size_download}\n' \
                -H "$cookie" "$base$path")
            if [ "$code" != 200 ]; then
                times+="${times:+ / }HTTP $code after $(printf '%.1f' "$seconds") s"
                break
            fi
            times+="${times:+ / }$(printf '%.2f' "$seconds")"
            rows=$(python3 -c 'import csv, sys; print(sum(1 for _ in csv.reader(open(sys.argv[1], newline=""))) - 1)' "$work/export.csv")
            bytes=$(awk -v b="$size" 'BEGIN { printf "%.1f", b / 1e6 }')
        done
        printf '%-44s %26s %9s %9s\n' "$path" "$times" "$rows" "$bytes" >>"$out"
    done
    stop_server
    if [ "$backend" = postgres ]; then
        psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
    else
        rm -f "$work"/dashboard.db*
    fi
    cat "$out"
}

for backend in $BACKENDS; do
    run_backend "$backend"
done
echo
echo "Coffee Rounds dashboard benchmark ($(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg))"
for backend in $BACKENDS; do cat "$work/table-$backend"; done
