#!/usr/bin/env bash
# Exactly-once relay benchmark (not a test): what relay.exactly-once = on costs against the
# default mode, both measured in the same run on the same WAL. Needs the stack (compose/stack
# up) and a build (build/).
#
#  1. Drain rate: two slots created at the same WAL position read a backlog of ROWS outbox rows
#     committed in transactions of TXN_ROWS rows; outbox-relay drains one in the default mode
#     (to acknowledged in Kafka, then confirmed) and, after it, the other with
#     relay.exactly-once = on (to committed in Kafka transactions, then confirmed). Each time
#     runs from the relay's start (connect, and for exactly-once init_transactions and the state
#     read) until the slot confirms the end of the backlog.
#  2. Latency at a steady rate: pgbench inserts RATE events/s (one per transaction) for SECONDS
#     with the default relay running, then again with the exactly-once relay; a read_committed
#     consumer started before each phase stamps each record as it arrives: latency = arrival
#     time - commit time (outbox.commit_time header), p50/p99. Arrival in a read_committed
#     consumer is what a consumer of exactly-once data waits for (LogAppendTime would not count
#     the wait for the commit marker).
#  Prints both modes, their ratio and the load average (the box may be shared: say so).
#
#   bench/relay/exactly_once.sh [ROWS] [TXN_ROWS] [RATE] [SECONDS]   defaults: 100000 100 1000 15
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ROWS=${1:-100000}
TXN_ROWS=${2:-100}
RATE=${3:-1000}
SECONDS_STEADY=${4:-15}
BUILD=${OUTBOX_BUILD_DIR:-$REPO/build}
RELAY=$BUILD/relay/outbox-relay
eval "$("$REPO/compose/stack" env)"
. "$REPO/bench/common.sh"
PY=$BENCH_PY
[ -x "$RELAY" ] || { echo "build first: cmake -S . -B build -G Ninja && cmake --build build" >&2; exit 1; }
TMP=$(mktemp -d /tmp/bench-relay-eos.XXXXXX)
chmod 755 "$TMP"
RUN=$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')
agg=bench$RUN
MODES="def eos"
RELAY_PID=
cleanup() {
  [ -n "$RELAY_PID" ] && kill -9 "$RELAY_PID" 2>/dev/null || true
  for m in $MODES; do
    bench_psql -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'bench_${m}_$RUN'" >/dev/null || true
  done
  bench_delete_topics "bench$RUN.def.$agg" "bench$RUN.eos.$agg" "bench_eos_$RUN.outbox-relay-state"
  rm -rf "$TMP"
}
trap cleanup EXIT

for m in $MODES; do
  bench_create_topic "bench$RUN.$m.$agg"
  bench_relay_ini "$TMP/$m.ini" "bench_${m}_$RUN" "bench$RUN.$m.\${aggregate_type}" warn \
    "exactly-once=$([ "$m" = eos ] && echo on || echo off)"
  bench_psql -c "SELECT pg_create_logical_replication_slot('bench_${m}_$RUN', 'pgoutput')" >/dev/null
done

echo "writing a backlog of $ROWS rows in transactions of $TXN_ROWS..."
bench_psql -c "DO \$\$ BEGIN
  FOR t IN 0 .. ($ROWS / $TXN_ROWS) - 1 LOOP
    INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload)
    SELECT gen_random_uuid(), '$agg', 'post-' || (g % 1000), 'PostCreated',
      jsonb_build_object('post_id', gen_random_uuid()::text, 'author_id', 'author-7',
        'author_name', 'Ada Lovelace', 'title', 'Post number ' || g,
        'body', 'A short body of text.', 'created_at', '2026-11-23T15:41:33.123Z')
    FROM generate_series(t * $TXN_ROWS + 1, (t + 1) * $TXN_ROWS) g;
    COMMIT;
  END LOOP; END \$\$" >/dev/null
ROWS=$(( (ROWS / TXN_ROWS) * TXN_ROWS ))

# wait_confirmed MODE LSN: until the mode's slot confirmed LSN.
wait_confirmed() {
  while [ "$(bench_psql -c "SELECT confirmed_flush_lsn >= '$2' FROM pg_replication_slots WHERE slot_name = 'bench_${1}_$RUN'")" != t ]; do
    kill -0 "$RELAY_PID" 2>/dev/null || { cat "$TMP/$1.log" >&2; echo "the relay exited" >&2; exit 1; }
    sleep 0.05
  done
}

# drain MODE: rows/s from the relay's start to the end of the backlog confirmed.
drain() {
  local endpos t0 t1
  endpos=$(bench_psql -c "SELECT pg_current_wal_lsn()")
  t0=$(date +%s.%N)
  "$RELAY" -c "$TMP/$1.ini" 2>>"$TMP/$1.log" &
  RELAY_PID=$!
  wait_confirmed "$1" "$endpos"
  t1=$(date +%s.%N)
  echo "$ROWS / ($t1 - $t0)" | bc -l >"$TMP/$1.drain"
  kill -TERM "$RELAY_PID"; wait "$RELAY_PID" || true; RELAY_PID=
}

# The latency consumer: read_committed from the end, stamps arrivals until $TMP/stop appears.
cat >"$TMP/latency.py" <<'PY'
import datetime, os, sys, time
from confluent_kafka import Consumer, TopicPartition, OFFSET_END
bootstrap, topic, since_ms, stop = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-eos-latency",
              "enable.auto.commit": False, "isolation.level": "read_committed"})
md = c.list_topics(topic, timeout=10).topics[topic]
c.assign([TopicPartition(topic, p, OFFSET_END) for p in md.partitions])
open(stop + ".ready", "w").close()
lat = []
while not os.path.exists(stop):
    for m in c.consume(1000, 0.05):
        now = time.time() * 1000
        if m.error():
            continue
        h = dict(m.headers() or [])
        ct = h.get("outbox.commit_time")
        if ct is None:
            continue
        commit = datetime.datetime.strptime(ct.decode(), "%Y-%m-%dT%H:%M:%S.%fZ")
        commit = commit.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000
        if commit >= since_ms:
            lat.append(now - commit)
c.close()
lat.sort()
n = len(lat)
pct = lambda p: lat[min(n - 1, int(p * n))] if n else float("nan")
print(f"{n} {pct(0.50):.1f} {pct(0.99):.1f} {lat[-1] if n else float('nan'):.1f}")
PY

cat >"$TMP/insert.sql" <<SQL
INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload)
VALUES (gen_random_uuid(), '$agg', 'post-' || (random() * 1000)::int, 'PostCreated',
  jsonb_build_object('post_id', gen_random_uuid()::text, 'author_id', 'author-7',
    'author_name', 'Ada Lovelace', 'title', 'steady', 'body', 'A short body of text.',
    'created_at', '2026-11-23T15:41:33.123Z'));
SQL

# steady MODE: the relay catches up with what the other mode's phase wrote, then RATE events/s.
steady() {
  "$RELAY" -c "$TMP/$1.ini" 2>>"$TMP/$1.log" &
  RELAY_PID=$!
  wait_confirmed "$1" "$(bench_psql -c "SELECT pg_current_wal_lsn()")"
  rm -f "$TMP/stop" "$TMP/stop.ready"
  "$PY" "$TMP/latency.py" "$OUTBOX_KAFKA" "bench$RUN.$1.$agg" "$(date +%s%3N)" "$TMP/stop" \
    >"$TMP/$1.latency" &
  local lat_pid=$!
  while [ ! -e "$TMP/stop.ready" ]; do sleep 0.1; done
  sleep 1 # the consumer's first fetch positions it at the end
  pgbench -n -h 127.0.0.1 -p "$OUTBOX_PG_PORT" -U blog_app -c 4 -j 2 -R "$RATE" \
    -T "$SECONDS_STEADY" -f "$TMP/insert.sql" blog >"$TMP/$1.pgbench" 2>&1
  sleep 3
  touch "$TMP/stop"
  wait "$lat_pid"
  kill -TERM "$RELAY_PID"; wait "$RELAY_PID" || true; RELAY_PID=
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for m in $MODES; do drain "$m"; done
for m in $MODES; do steady "$m"; done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

d_def=$(cat "$TMP/def.drain"); d_eos=$(cat "$TMP/eos.drain")
read -r n_def p50_def p99_def max_def <"$TMP/def.latency"
read -r n_eos p50_eos p99_eos max_eos <"$TMP/eos.latency"
printf '\n== outbox-relay exactly-once vs default (%s rows in transactions of %s; steady %s events/s for %s s)\n' \
  "$ROWS" "$TXN_ROWS" "$RATE" "$SECONDS_STEADY"
printf 'load average before %s, after %s (%s CPUs)\n' "$load_before" "$load_after" "$(nproc)"
printf 'drain to confirmed, default:      %9.0f rows/s\n' "$d_def"
printf 'drain to confirmed, exactly-once: %9.0f rows/s\n' "$d_eos"
printf 'ratio exactly-once / default:     %9.2f\n' "$(echo "$d_eos / $d_def" | bc -l)"
printf 'commit -> read_committed consumer, default:      p50 %s ms, p99 %s ms, max %s ms (%s events)\n' \
  "$p50_def" "$p99_def" "$max_def" "$n_def"
printf 'commit -> read_committed consumer, exactly-once: p50 %s ms, p99 %s ms, max %s ms (%s events)\n' \
  "$p50_eos" "$p99_eos" "$max_eos" "$n_eos"
