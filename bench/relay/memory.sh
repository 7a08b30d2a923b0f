#!/usr/bin/env bash
# Relay memory benchmark (not a test): the relay's peak RSS when what it holds in flight is
# at its bound. For each relay.max-inflight given, a backlog of ROWS events of BODY bytes is
# written, the broker is stopped (compose/stack kafka-stop) so that nothing is acknowledged,
# the relay reads until in flight is full (relay.max-inflight, or librdkafka's
# queue.buffering.max.messages, 100,000 messages, whichever comes first) and its VmHWM and
# in-flight gauges are read after 20 s; then the broker is started again and the peak over the
# whole drain is read once the slot confirmed the backlog.
#
#   bench/relay/memory.sh [ROWS] [BODY] [MAX_INFLIGHT...]   defaults: 60000 4000 16MB 64MB 128MB
# Needs the stack (compose/stack up; it stops and starts its broker) and a build (build/).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ROWS=${1:-60000}
BODY=${2:-4000}
shift 2 || true
LIMITS=("$@")
[ ${#LIMITS[@]} -gt 0 ] || LIMITS=(16MB 64MB 128MB)
for n in "$ROWS" "$BODY"; do
  [[ $n =~ ^[0-9]+$ ]] || { echo "usage: bench/relay/memory.sh [ROWS] [BODY] [MAX_INFLIGHT...] (got '$n')" >&2; exit 2; }
done
RELAY=${OUTBOX_BUILD_DIR:-$REPO/build}/relay/outbox-relay
[ -x "$RELAY" ] || { echo "build first: cmake -S . -B build -G Ninja && cmake --build build" >&2; exit 1; }
eval "$("$REPO/compose/stack" env)"
. "$REPO/bench/common.sh"
TMP=$(mktemp -d /tmp/bench-memory.XXXXXX)
RELAY_PID='' SLOT=''
cleanup() {
  [ -n "$RELAY_PID" ] && kill -9 "$RELAY_PID" 2>/dev/null
  bash "$REPO/compose/stack" kafka-start >/dev/null 2>&1 || true
  [ -n "$SLOT" ] && bench_psql -c "SELECT pg_drop_replication_slot('$SLOT') FROM pg_replication_slots WHERE slot_name = '$SLOT'" >/dev/null 2>&1
  rm -rf "$TMP"
}
trap cleanup EXIT

gauge() { curl -fsS -m 5 "http://$1/metrics" | awk -v n="$2" '$1 == n && v == "" {v = $2} END {print v}'; }
hwm_mib() { awk '/^VmHWM/ {printf "%d", $2 / 1024}' "/proc/$1/status"; }

printf '== outbox-relay peak RSS with in flight at its bound (%s events of ~%s-byte bodies)\n' "$ROWS" "$BODY"
printf '%-14s %14s %12s %18s %18s\n' max-inflight "in flight (B)" messages "RSS, broker down" "RSS, whole drain"
for limit in "${LIMITS[@]}"; do
  run=$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')
  agg=mem$run SLOT=bench_mem_$run
  bench_create_topic "bench.$run.$agg"
  bench_psql -c "SELECT pg_create_logical_replication_slot('$SLOT', 'pgoutput')" >/dev/null
  bench_psql -c "INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload)
    SELECT gen_random_uuid(), '$agg', 'post-' || (g % 1000), 'PostCreated',
      jsonb_build_object('post_id', gen_random_uuid()::text, 'author_id', 'author-7',
        'author_name', 'Ada Lovelace', 'title', 'Post number ' || g, 'body', repeat('x', $BODY),
        'created_at', '2026-11-23T15:41:33.123Z')
    FROM generate_series(1, $ROWS) g" >/dev/null
  bench_relay_ini "$TMP/relay.ini" "$SLOT" "bench.$run.\${aggregate_type}" info "max-inflight=$limit"
  bash "$REPO/compose/stack" kafka-stop >/dev/null
  "$RELAY" -c "$TMP/relay.ini" 2>"$TMP/relay.log" &
  RELAY_PID=$!
  sleep 20
  http=$(sed -n 's|.*metrics on http://\([0-9.:]*\)/metrics.*|\1|p' "$TMP/relay.log" | tail -1)
  bytes=$(gauge "$http" outbox_relay_inflight_bytes)
  msgs=$(gauge "$http" outbox_relay_inflight_messages)
  down=$(hwm_mib "$RELAY_PID")
  bash "$REPO/compose/stack" kafka-start >/dev/null
  end=$(bench_psql -c "SELECT pg_current_wal_lsn()")
  for _ in $(seq 1 600); do
    [ "$(bench_psql -c "SELECT confirmed_flush_lsn >= '$end' FROM pg_replication_slots WHERE slot_name = '$SLOT'")" = t ] && break
    sleep 0.2
  done
  whole=$(hwm_mib "$RELAY_PID")
  kill -TERM "$RELAY_PID"
  wait "$RELAY_PID" || true
  RELAY_PID=
  bench_psql -c "SELECT pg_drop_replication_slot('$SLOT')" >/dev/null
  SLOT=
  bench_delete_topics "bench.$run.$agg"
  printf '%-14s %14s %12s %14s MiB %14s MiB\n' "$limit" "$bytes" "$msgs" "$down" "$whole"
done
