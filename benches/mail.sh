#!/usr/bin/env bash
# Mail benchmark: the outbox sender against a plain SMTP load generator, both on loopback to the
# same sink (Postfix's smtp-sink, which discards what it receives).
#   bash benches/mail.sh          (COUNT=10000 CONCURRENCY=64 by default)
# Queues COUNT intro-sized messages (text + HTML) into a fresh SQLite database through the
# library, sends them with the real Sender (claims, SMTP, marking each sent), and reports
# messages/s; then smtp-source sends COUNT messages of the same size over CONCURRENCY reused
# connections, and the script prints the sender's rate as a share of smtp-source's.
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-10000}
CONCURRENCY=${CONCURRENCY:-64}
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

echo "== Coffee Rounds outbox sender: $COUNT messages, concurrency $CONCURRENCY"
RUST_LOG=warn target/release/examples/mail_bench --count "$COUNT" --concurrency "$CONCURRENCY" \
    --smtp "smtp://127.0.0.1:$port?tls=none" --database "sqlite://$work/bench.db" | tee "$work/app.txt"
app_rate=$(sed -n 's/^RATE=//p' "$work/app.txt")
bytes=$(sed -n 's/^MESSAGE_BYTES=//p' "$work/app.txt")

echo "== smtp-source: $COUNT messages of $bytes bytes, $CONCURRENCY sessions, connections reused"
start=$(date +%s.%N)
smtp-source -d -s "$CONCURRENCY" -m "$COUNT" -l "$bytes" \
    -f coffee-rounds@hospital.test -t colleague@hospital.test "127.0.0.1:$port"
end=$(date +%s.%N)
raw_rate=$(python3 -c "print(f'{$COUNT / ($end - $start):.1f}')")
echo "sent $COUNT messages in $(python3 -c "print(f'{$end - $start:.2f}')") s: $raw_rate messages/s"

echo "== result"
python3 - "$app_rate" "$raw_rate" <<'EOF'
import sys
app, raw = float(sys.argv[1]), float(sys.argv[2])
ratio = app / raw
print(f"outbox sender {app:.0f} msg/s, smtp-source {raw:.0f} msg/s: {ratio:.0%} of the raw rate "
      f"(target >= 50%: {'met' if ratio >= 0.5 else 'NOT met'})")
EOF
