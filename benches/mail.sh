#!/usr/bin/env bash
# Mail benchmark: the outbox sender against a plain SMTP load generator, both on loopback to the
# same sink (Postfix's smtp-sink, which discards what it receives).
#   bash benches/mail.sh          (COUNT=10000 CONCURRENCY=64 RUNS=3 by default)
# Queues COUNT intro-sized messages (text + HTML) into a fresh SQLite database through the
# library, sends them with the real Sender (claims, SMTP, "sent" marks), and reports
# messages/s; then smtp-source sends COUNT messages of the same size over CONCURRENCY reused
# connections. The two alternate RUNS times (a busy machine's load drifts; alternating shares
# the drift between them), and the script prints each median and the sender's share of
# smtp-source's.
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-10000}
CONCURRENCY=${CONCURRENCY:-64}
RUNS=${RUNS:-3}
export PATH="$PATH:/usr/sbin"

if ! command -v smtp-source >/dev/null || ! command -v smtp-sink >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postfix >/dev/null
fi
cargo build --release --quiet --example mail_bench

work=$(mktemp -d)
sink=""
cleanup() {
    [ -n "$sink" ] && kill "$sink" 2>/dev/null && wait "$sink" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
user_flag=()
[ "$(id -u)" = 0 ] && user_flag=(-u root)
smtp-sink "${user_flag[@]}" -m 1000 "127.0.0.1:$port" 1024 2>"$work/sink.log" &
sink=$!
for _ in $(seq 1 50); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && break
    sleep 0.1
done

app_rates=()
raw_rates=()
for run in $(seq 1 "$RUNS"); do
    echo "== run $run of $RUNS: Coffee Rounds outbox sender, $COUNT messages, concurrency $CONCURRENCY"
    rm -f "$work"/bench.db*
    RUST_LOG=warn target/release/examples/mail_bench --count "$COUNT" --concurrency "$CONCURRENCY" \
        --smtp "smtp://127.0.0.1:$port?tls=none" --database "sqlite://$work/bench.db" | tee "$work/app.txt"
    app_rates+=("$(sed -n 's/^RATE=//p' "$work/app.txt")")
    bytes=$(sed -n 's/^MESSAGE_BYTES=//p' "$work/app.txt")

    echo "== run $run of $RUNS: smtp-source, $COUNT messages of $bytes bytes, $CONCURRENCY sessions, connections reused"
    start=$(date +%s.%N)
    smtp-source -d -s "$CONCURRENCY" -m "$COUNT" -l "$bytes" \
        -f coffee-rounds@hospital.test -t colleague@hospital.test "127.0.0.1:$port"
    end=$(date +%s.%N)
    raw_rate=$(python3 -c "print(f'{$COUNT / ($end - $start):.1f}')")
    raw_rates+=("$raw_rate")
    echo "sent $COUNT messages in $(python3 -c "print(f'{$end - $start:.2f}')") s: $raw_rate messages/s"
done

echo "== result (concurrency $CONCURRENCY, $RUNS runs each, load average $(cut -d' ' -f1-3 /proc/loadavg))"
python3 - "${app_rates[*]}" "${raw_rates[*]}" <<'EOF'
import statistics, sys
app = [float(x) for x in sys.argv[1].split()]
raw = [float(x) for x in sys.argv[2].split()]
print("outbox sender msg/s:", " / ".join(f"{x:.0f}" for x in app))
print("smtp-source   msg/s:", " / ".join(f"{x:.0f}" for x in raw))
a, r = statistics.median(app), statistics.median(raw)
print(f"medians: outbox sender {a:.0f} msg/s, smtp-source {r:.0f} msg/s: {a / r:.0%} of the raw rate "
      f"(target >= 50%: {'met' if a / r >= 0.5 else 'NOT met'})")
EOF
