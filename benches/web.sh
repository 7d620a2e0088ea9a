#!/usr/bin/env bash
# Web benchmark: a release build on loopback, loaded with wrk.
#   bash benches/web.sh            (DURATION=10s CONNECTIONS=32 by default)
# Reports requests/s and p99 for the home page, a logged-in member's profile page and the
# stylesheet (as a ratio of the static-file rate), and the profile page's p99 while a storm of
# failed logins runs (as a ratio of its idle p99). Everything stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
STORM_CONNECTIONS=${STORM_CONNECTIONS:-16}
PROBE_CONNECTIONS=${PROBE_CONNECTIONS:-8}

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
cargo build --release --quiet

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
server=""
storm=""
cleanup() {
    [ -n "$storm" ] && kill "$storm" 2>/dev/null || true
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
[ -n "${BENCH_DEBUG:-}" ] && set -x

# The per-client limit would turn every request from loopback into a 429: raise it for the run.
RUST_LOG=warn RATE_LIMIT_PER_IP=1000000000 RATE_LIMIT_PER_ACCOUNT=1000000000 \
DATABASE_URL="sqlite://$work/bench.db" MAIL_DIR="$work/mail" BIND="127.0.0.1:$port" \
    target/release/coffee-rounds serve 2>"$work/server.log" &
server=$!
for _ in $(seq 1 100); do curl -fs "$base/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

# A member, made through the forms as a browser would.
jar="$work/member.jar"
csrf() { curl -fs -c "$1" -b "$1" "$base$2" | sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' | head -n 1; }
token=$(csrf "$jar" /signup)
curl -fs -o /dev/null -c "$jar" -b "$jar" --data-urlencode "csrf_token=$token" \
    --data-urlencode email=bench@hospital.test --data-urlencode "name=Bench Member" \
    --data-urlencode "password=a long benchmark passphrase" --data-urlencode role=Nurse \
    --data-urlencode level=1 --data-urlencode department=Cardiology "$base/signup"
for _ in $(seq 1 100); do ls "$work"/mail/*.eml >/dev/null 2>&1 && break; sleep 0.1; done
confirm=$(python3 - "$work"/mail/*.eml <<'PY'
import email, re, sys
msg = email.message_from_binary_file(open(sys.argv[1], "rb"))
text = next(p for p in msg.walk() if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
print(re.search(r"token=(\S+)", text).group(1))
PY
)
token=$(csrf "$jar" "/confirm?token=$confirm")
curl -fs -o /dev/null -c "$jar" -b "$jar" --data-urlencode "csrf_token=$token" --data-urlencode "token=$confirm" "$base/confirm"
member=$(awk '$6 == "coffee_rounds_session" { print $7 }' "$jar")
curl -fs -b "coffee_rounds_session=$member" "$base/profile" | grep "Your profile" >/dev/null || { echo "login for the benchmark failed"; tail "$work/server.log"; exit 1; }

# wrk → "requests/s p99-ms"
measure() {
    local connections=$1 duration=$2; shift 2
    wrk -t1 -c"$connections" -d"$duration" --latency "$@" | awk '
        /Requests\/sec/ { rps = $2 }
        $1 == "99%" { v = $2; unit = v; gsub(/[0-9.]/, "", unit); sub(/[a-z]+$/, "", v)
                      ms = (unit == "us") ? v / 1000 : (unit == "s") ? v * 1000 : v }
        END { printf "%.0f %.2f\n", rps, ms }'
}

cookie="Cookie: coffee_rounds_session=$member"
read -r static_rps static_p99 < <(measure "$CONNECTIONS" "$DURATION" "$base/static/style.css")
read -r home_rps home_p99 < <(measure "$CONNECTIONS" "$DURATION" "$base/")
read -r profile_rps profile_p99 < <(measure "$CONNECTIONS" "$DURATION" -H "$cookie" "$base/profile")
read -r _ idle_p99 < <(measure "$PROBE_CONNECTIONS" "$DURATION" -H "$cookie" "$base/profile")

# The storm: failed logins for one account from one session, as fast as the server takes them.
storm_jar="$work/storm.jar"
storm_token=$(csrf "$storm_jar" /login)
storm_cookie=$(awk '$6 == "coffee_rounds_session" { print $7 }' "$storm_jar")
cat >"$work/storm.lua" <<LUA
wrk.method = "POST"
wrk.body = "email=bench%40hospital.test&password=not+the+right+password&csrf_token=$storm_token"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Cookie"] = "coffee_rounds_session=$storm_cookie"
LUA
storm_seconds=$(( ${DURATION%s} + 4 ))
wrk -t1 -c"$STORM_CONNECTIONS" -d"${storm_seconds}s" -s "$work/storm.lua" "$base/login" >"$work/storm.out" &
storm=$!
sleep 2
read -r _ storm_p99 < <(measure "$PROBE_CONNECTIONS" "$DURATION" -H "$cookie" "$base/profile")
wait "$storm" || true
storm=""
logins=$(awk '/Requests\/sec/ { printf "%.0f", $2 }' "$work/storm.out")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo
echo "Coffee Rounds web benchmark ($(nproc) cores, wrk -t1, $DURATION per run, SQLite)"
printf '%-34s %10s %10s\n' "" "req/s" "p99 ms"
printf '%-34s %10s %10s\n' "static file /static/style.css" "$static_rps" "$static_p99"
printf '%-34s %10s %10s\n' "home page /" "$home_rps" "$home_p99"
printf '%-34s %10s %10s\n' "profile page (logged in)" "$profile_rps" "$profile_p99"
echo "home / static:    $(ratio "$home_rps" "$static_rps")   (target >= 0.50)"
echo "profile / static: $(ratio "$profile_rps" "$static_rps")   (target >= 0.50)"
echo "profile p99 with $PROBE_CONNECTIONS connections: idle $idle_p99 ms, during a login storm ($logins failed logins/s) $storm_p99 ms"
echo "storm p99 / idle p99: $(ratio "$storm_p99" "$idle_p99")   (target < 3)"
