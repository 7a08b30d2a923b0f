#!/usr/bin/env bash
# Relay benchmark (not a test). Needs the stack (compose/stack up) and a build (build/).
#
#  1. Drain rate: a backlog of ROWS outbox rows (~200-byte payloads) is read by two slots
#     created at the same WAL position: pg_recvlogical (raw pgoutput, the baseline: the
#     walsender alone, same TCP transport, output to /dev/null) and outbox-relay (decoded,
#     routed, Avro-encoded, produced with acks=all and idempotence, acknowledged by Kafka,
#     then confirmed). Prints both rates and their ratio.
#  2. Latency at a steady rate: pgbench inserts RATE events/s (one per transaction,
#     synchronous_commit on) for SECONDS; latency = broker LogAppendTime - commit time (the
#     outbox.commit_time header), p50/p99.
#  3. Peak RSS of the relay over both phases (VmHWM).
#
#   bench/relay/run.sh [ROWS] [RATE] [SECONDS]      defaults: 200000 2000 20
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ROWS=${1:-200000}
RATE=${2:-2000}
SECONDS_STEADY=${3:-20}
for n in "$ROWS" "$RATE" "$SECONDS_STEADY"; do
  [[ $n =~ ^[0-9]+$ ]] || { echo "usage: bench/relay/run.sh [ROWS] [RATE] [SECONDS] (numbers; got '$n'); exactly-once: bench/relay/exactly_once.sh" >&2; exit 2; }
done
BUILD=${OUTBOX_BUILD_DIR:-$REPO/build}
RELAY=$BUILD/relay/outbox-relay
eval "$("$REPO/compose/stack" env)"
. "$REPO/bench/common.sh"
PY=$BENCH_PY
[ -x "$RELAY" ] || { echo "build first: cmake -S . -B build -G Ninja && cmake --build build" >&2; exit 1; }
TMP=$(mktemp -d /tmp/bench-relay.XXXXXX)
chmod 755 "$TMP"
RUN=$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')
psqlx() { bench_psql "$@"; }
cleanup() {
  [ -n "${RELAY_PID:-}" ] && kill -9 "$RELAY_PID" 2>/dev/null || true
  for s in bench_raw_$RUN bench_relay_$RUN; do
    psqlx -c "SELECT pg_drop_replication_slot('$s') FROM pg_replication_slots WHERE slot_name = '$s'" >/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT

agg=bench$RUN
topic=bench.$RUN.$agg
# The topic exists up front, with broker append times for the latency phase.
bench_create_topic "$topic"

# Two slots at the same position, before the backlog.
psqlx -c "SELECT pg_create_logical_replication_slot('bench_raw_$RUN', 'pgoutput')" >/dev/null
bench_relay_ini "$TMP/relay.ini" "bench_relay_$RUN" "bench.$RUN.\${aggregate_type}" warn
psqlx -c "SELECT pg_create_logical_replication_slot('bench_relay_$RUN', 'pgoutput')" >/dev/null

echo "writing a backlog of $ROWS rows..."
bench_fill_backlog "$agg" "$ROWS"
endpos=$(psqlx -c "SELECT pg_current_wal_lsn()")
payload=$(psqlx -c "SELECT avg(length(payload::text))::int FROM outbox WHERE aggregate_type = '$agg'")

# Baseline: the walsender alone, raw pgoutput to /dev/null.
t0=$(date +%s.%N)
pg_recvlogical -d "$OUTBOX_PG_RELAY" --slot "bench_raw_$RUN" --start --endpos "$endpos" --no-loop \
  -o proto_version=1 -o publication_names=outbox_pub -f /dev/null
t1=$(date +%s.%N)
raw=$(echo "$ROWS / ($t1 - $t0)" | bc -l)

# The relay: until the slot confirms endpos, i.e. Kafka acknowledged every event. Also the CPU
# seconds each process spent meanwhile (2 cores are shared by all of them).
cpu_s() { bench_cpu_s "$1"; }
kafka_pid=$(cat "$OUTBOX_STATE_DIR/kafka/kafka.pid")
t0=$(date +%s.%N)
"$RELAY" -c "$TMP/relay.ini" 2>"$TMP/relay.log" &
RELAY_PID=$!
k0=$(cpu_s "$kafka_pid")
ws_pid=
while :; do
  [ -n "$ws_pid" ] || { ws_pid=$(psqlx -c "SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'bench_relay_$RUN' AND active"); [ -n "$ws_pid" ] && w0=$(cpu_s "$ws_pid"); }
  c=$(psqlx -c "SELECT confirmed_flush_lsn >= '$endpos' FROM pg_replication_slots WHERE slot_name = 'bench_relay_$RUN'")
  [ "$c" = t ] && break
  sleep 0.05
done
t1=$(date +%s.%N)
relay=$(echo "$ROWS / ($t1 - $t0)" | bc -l)
cpu_relay=$(cpu_s "$RELAY_PID"); cpu_kafka=$(echo "$(cpu_s "$kafka_pid") - $k0" | bc)
cpu_ws=$(echo "$(cpu_s "$ws_pid") - ${w0:-0}" | bc)
drain_s=$(echo "$t1 - $t0" | bc -l)

# Steady rate with synchronous commit: pgbench inserts, the relay keeps running.
cat >"$TMP/insert.sql" <<SQL
INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload)
VALUES (gen_random_uuid(), '$agg', 'post-' || (random() * 1000)::int, 'PostCreated',
  jsonb_build_object('post_id', gen_random_uuid()::text, 'author_id', 'author-7',
    'author_name', 'Ada Lovelace', 'title', 'steady', 'body', 'A short body of text.',
    'created_at', '2026-11-23T15:41:33.123Z'));
SQL
before=$("$PY" "$REPO/tests/integration/outbox_kafka.py" count "$topic")
pgbench -n -h 127.0.0.1 -p "$OUTBOX_PG_PORT" -U blog_app -c 4 -j 2 -R "$RATE" -T "$SECONDS_STEADY" \
  -f "$TMP/insert.sql" blog >"$TMP/pgbench.log" 2>&1
sleep 2
rss_kb=$(bench_rss_kb "$RELAY_PID")   # peak RSS over both phases
kill -TERM "$RELAY_PID"
wait "$RELAY_PID" || true
RELAY_PID=

"$PY" - "$OUTBOX_KAFKA" "$topic" "$before" <<'PY' >"$TMP/latency.txt"
import datetime, sys
from confluent_kafka import Consumer, TopicPartition
bootstrap, topic, skip = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-latency", "enable.auto.commit": False})
md = c.list_topics(topic, timeout=10).topics[topic]
c.assign([TopicPartition(topic, p, 0) for p in md.partitions])
lat = []
idle = 0
while idle < 3:
    msgs = c.consume(10000, 1.0)
    if not msgs:
        idle += 1
        continue
    idle = 0
    for m in msgs:
        if m.error():
            continue
        h = dict(m.headers() or [])
        if h.get("outbox.commit_time") is None:
            continue
        commit = datetime.datetime.strptime(h["outbox.commit_time"].decode(), "%Y-%m-%dT%H:%M:%S.%fZ")
        commit = commit.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000
        ttype, ts = m.timestamp()
        lat.append((ts - commit, ts))
c.close()
# The steady phase: the newest records (after the backlog) are those appended last.
lat.sort(key=lambda x: x[1])
steady = [l for l, _ in lat[skip:]]
steady.sort()
n = len(steady)
def pct(p):
    return steady[min(n - 1, int(p * n))] if n else float("nan")
print(f"{n} {pct(0.50):.1f} {pct(0.99):.1f} {steady[-1] if n else float('nan'):.1f}")
PY
read -r n p50 p99 pmax <"$TMP/latency.txt"
tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$TMP/pgbench.log" | head -1)

printf '\n== outbox-relay benchmark (%s rows, ~%s-byte JSON payloads)\n' "$ROWS" "$payload"
printf 'drain, pg_recvlogical raw (baseline): %10.0f rows/s\n' "$raw"
printf 'drain, outbox-relay to acked in Kafka: %9.0f rows/s\n' "$relay"
printf 'ratio relay / raw:                     %9.2f\n' "$(echo "$relay / $raw" | bc -l)"
printf 'CPU during the relay drain (%.1f s wall, 2 cores): walsender %s s, relay %s s, Kafka broker %s s\n' \
  "$drain_s" "$cpu_ws" "$cpu_relay" "$cpu_kafka"
printf 'steady %s events/s (pgbench achieved %s tps, synchronous_commit on), %s events:\n' "$RATE" "$tps" "$n"
printf '  commit -> Kafka append latency p50 %s ms, p99 %s ms, max %s ms (LogAppendTime, ms resolution)\n' "$p50" "$p99" "$pmax"
printf 'relay peak RSS: %s MiB\n' "$(echo "$rss_kb / 1024" | bc)"
