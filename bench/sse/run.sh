#!/usr/bin/env bash
# SSE benchmark (not a test): the projector's GET /events/stream with many clients.
# Needs the stack (compose/stack up) and a build (build/).
#
#  1. Projector throughput without clients: BACKLOG events are produced while the projector is
#     stopped, then it drains them; rate = events / (last - first batch time, applied_at).
#  2. The same with CLIENTS stream clients connected during the drain (they connect while the
#     consumer joins its group); also how many of them kept up (a client more than
#     http.sse-backlog events behind is disconnected by design).
#  3. Delivery latency under a steady load: CLIENTS fresh clients, RATE events/s produced for
#     SECONDS; per event and client, receive time - the batch's transaction time (taken before
#     its COMMIT, so an upper bound of COMMIT -> client), p50/p90/p99/max. It starts once the
#     drain's streams are closed on the server and its stream has published every drained event
#     (outbox_projector_sse_clients, _sse_events_total): else the new clients are refused (503,
#     or at http.max-connections) and get the drain's tail as a burst, measured as latency.
#  After each phase: how the projector's streams ended (outbox_projector_sse_streams_ended_total
#  by reason, _sse_refused_total) and the load average. The projector's log and the clients'
#  reports are kept in OUTBOX_BENCH_SSE_OUT (default: a new /tmp/bench-sse-out.XXXXXX).
#
#   nice bench/sse/run.sh [CLIENTS] [RATE] [SECONDS] [BACKLOG]   defaults: 1000 50 60 20000
# OUTBOX_BENCH_SSE_PORT: the projector's HTTP port (default 9199).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CLIENTS=${1:-1000}
RATE=${2:-50}
SECS=${3:-60}
BACKLOG=${4:-20000}
BUILD=${OUTBOX_BUILD_DIR:-$REPO/build}
PROJECTOR=$BUILD/projector/outbox-projector
CLIENT=$BUILD/bench/sse/bench_sse_clients
PORT=${OUTBOX_BENCH_SSE_PORT:-9199}
PY=/usr/bin/python3
FIX=$REPO/tests/fixtures/projector
eval "$("$REPO/compose/stack" env)"
[ -x "$PROJECTOR" ] && [ -x "$CLIENT" ] || { echo "build first: cmake --build build" >&2; exit 1; }
ulimit -n 20000 2>/dev/null || true
TMP=$(mktemp -d /tmp/bench-sse.XXXXXX)
OUT=${OUTBOX_BENCH_SSE_OUT:-$(mktemp -d /tmp/bench-sse-out.XXXXXX)}
mkdir -p "$OUT"
RUN=$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')
SCHEMA=bsse_$RUN PREFIX=bsse.$RUN PROJ=bsse$RUN
psql_read() { PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 -tA "$OUTBOX_PG_READ_SUPER" "$@"; }
q() { psql_read -c "SET search_path = $SCHEMA" -c "$1"; }
cleanup() {
  [ -n "${PROJ_PID:-}" ] && kill -9 "$PROJ_PID" 2>/dev/null || true
  [ -n "${CL_PID:-}" ] && kill -9 "$CL_PID" 2>/dev/null || true
  psql_read -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
  cp "$TMP"/p.log "$TMP"/*.out "$TMP"/*.err "$OUT"/ 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

psql_read -c "CREATE SCHEMA $SCHEMA" -c "SET search_path = $SCHEMA" -f "$REPO/sql/projector.sql" \
  -f "$REPO/sql/readmodel_blog.sql" -f "$FIX/test_model.sql" \
  -c "GRANT USAGE ON SCHEMA $SCHEMA TO outbox_projector" >/dev/null
$PY "$FIX/blog_events.py" create-topics --bootstrap "$OUTBOX_KAFKA" --prefix "$PREFIX"
sed -e "s|@NAME@|$PROJ|g" -e "s|@PREFIX@|$PREFIX|g" \
    -e "s|@DATABASE@|$OUTBOX_PG_READ options='-c search_path=$SCHEMA'|g" -e "s|@KAFKA@|$OUTBOX_KAFKA|g" \
    -e "s|@REGISTRY@|${OUTBOX_REGISTRY_URL:-}|g" -e "s|@SCHEMAS@|$REPO/schemas|g" \
    "$FIX/test.ini.in" | sed 's/^level = info/level = warn/' >"$TMP/p.ini"

start_projector() { "$PROJECTOR" -c "$TMP/p.ini" --set "http.listen=127.0.0.1:$PORT" >>"$TMP/p.log" 2>&1 & PROJ_PID=$!; }
stop_projector() { kill -TERM "$PROJ_PID"; wait "$PROJ_PID" || true; PROJ_PID=; }
produce() { # SEED EVENTS [FROM TO]
  $PY "$FIX/blog_events.py" produce --bootstrap "$OUTBOX_KAFKA" --prefix "$PREFIX" --seed "$1" \
    --events "$2" --format single ${3:+--from "$3" --to "$4"} >/dev/null
}
applied() { q "SELECT count(*) FROM projector_dedup WHERE projection = '$PROJ'"; }
# wait_applied COUNT: until COUNT rows; DONE_AT = the database clock then (polled every 50 ms)
wait_applied() {
  local r
  for _ in $(seq 1 12000); do
    r=$(q "SELECT count(*) >= $1, extract(epoch FROM clock_timestamp()) FROM projector_dedup WHERE projection = '$PROJ'")
    [ "${r%%|*}" = t ] && { DONE_AT=${r#*|}; return 0; }
    sleep 0.05
  done
  echo "timed out: $(applied) of $1 applied" >&2; exit 1
}
# events/s of the rows after the first $1: from the first of their batches to DONE_AT
rate_since() {
  q "SELECT round(count(*) / ($DONE_AT - extract(epoch FROM min(applied_at))))
     FROM (SELECT applied_at FROM projector_dedup WHERE projection = '$PROJ' ORDER BY applied_at OFFSET $1) x"
}

# metric NAME: the projection's value on /metrics (0 when absent)
metric() {
  curl -fsS -m 30 "http://127.0.0.1:$PORT/metrics" |
    awk -v n="$1{projection=\"$PROJ\"${2:-}}" '$1 == n && !seen {print $2; seen = 1} END {if (!seen) print 0}'
}
ends() {
  local r out=""
  for r in client_gone slow timeout stopped; do
    out+="$r $(metric outbox_projector_sse_streams_ended_total ",reason=\"$r\"") "
  done
  echo "streams ended: ${out}refused(503) $(metric outbox_projector_sse_refused_total); load $(cut -d' ' -f1-3 /proc/loadavg)"
}
# streams_settled: no stream open on the server and every event this projector process applied
# published to its stream (both counters are the process's own)
streams_settled() {
  local i
  for i in $(seq 1 600); do
    [ "$(metric outbox_projector_sse_clients)" = 0 ] &&
      [ "$(metric outbox_projector_sse_events_total)" -ge "$(metric outbox_projector_events_applied_total)" ] &&
      return 0
    sleep 0.5
  done
  echo "streams did not settle: $(metric outbox_projector_sse_clients) open, $(metric outbox_projector_sse_events_total) of $(metric outbox_projector_events_applied_total) published" >&2
  return 1
}

echo "0. warm-up: 500 events"
produce 9 500
start_projector
wait_applied 500

echo "1. drain of $BACKLOG events, no stream clients"
stop_projector
base=$(applied)
produce 1 "$BACKLOG"
start_projector
wait_applied $((base + BACKLOG))
rate_a=$(rate_since "$base")
stop_projector

echo "2. drain of $BACKLOG events with $CLIENTS stream clients"
base=$(applied)
produce 2 "$BACKLOG"
start_projector
for _ in $(seq 50); do curl -fsS -o /dev/null "http://127.0.0.1:$PORT/healthz" 2>/dev/null && break; curl -sS -o /dev/null "http://127.0.0.1:$PORT/metrics" 2>/dev/null && break; sleep 0.1; done
"$CLIENT" 127.0.0.1 "$PORT" "/events/stream?projection=$PROJ" "$CLIENTS" 600 >"$TMP/drain.out" 2>"$TMP/drain.err" &
CL_PID=$!
wait_applied $((base + BACKLOG))
rate_b=$(rate_since "$base")
sleep 2
kill -TERM "$CL_PID" 2>/dev/null; wait "$CL_PID" 2>/dev/null || true; CL_PID=
t_settle=$(date +%s)
streams_settled
ends_b=$(ends)
echo "   settled in $(($(date +%s) - t_settle)) s; $ends_b"

echo "3. steady load: $RATE events/s for $SECS s, $CLIENTS clients"
total=$((RATE * SECS))
"$CLIENT" 127.0.0.1 "$PORT" "/events/stream?projection=$PROJ" "$CLIENTS" $((SECS + 15)) >"$TMP/steady.out" 2>"$TMP/steady.err" &
CL_PID=$!
sleep 3
base=$(applied)
t0=$(date +%s.%N)
for ((s = 0; s < SECS; s++)); do
  produce 3 "$total" $((s * RATE)) $(((s + 1) * RATE)) &
  next=$(echo "$t0 + $s + 1" | bc)
  sleep "$(echo "x = $next - $(date +%s.%N); if (x < 0) 0 else x" | bc)"
done
wait_applied $((base + total))
rate_c=$(rate_since "$base")
wait "$CL_PID" || true; CL_PID=
ends_c=$(ends)
stop_projector

echo
echo "== SSE benchmark ($(nproc) cores, shared with other work: load average $(cut -d' ' -f1-3 /proc/loadavg))"
echo "projector drain, no clients:           $rate_a events/s"
echo "projector drain, $CLIENTS clients:        $rate_b events/s  (ratio $(echo "scale=2; $rate_b / $rate_a" | bc))"
echo "   clients during the drain: $(cat "$TMP/drain.out")"
sed 's/^/   drain: /' "$TMP/drain.err"
echo "   projector after the drain: $ends_b"
echo "steady $RATE events/s x $SECS s (applied at $rate_c events/s):"
echo "   $(cat "$TMP/steady.out")"
sed 's/^/   steady: /' "$TMP/steady.err"
echo "   projector after the steady phase (cumulative): $ends_c"
echo "   (latency: client receive time - the batch's transaction time, an upper bound of COMMIT -> client)"
echo "   (logs and client reports: $OUT)"
