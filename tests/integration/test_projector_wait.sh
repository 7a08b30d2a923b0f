#!/usr/bin/env bash
# `outbox-projector wait PROJECTION EVENT_ID --timeout T` and projector_event_status():
#   exit 0 for an applied event (already applied, and applied while it waits: woken by the
#   NOTIFY, well before its timeout), 1 with the reason for a dead-lettered one (already, and
#   while it waits), 2 after the timeout for an unknown id, 3 for a bad id; the SQL function
#   answers 'applied' / 'failed: <reason>' / 'pending' for the same events.
source "$(dirname "$0")/lib.sh"
source "$OUTBOX_SOURCE_DIR/tests/fixtures/projector/lib_projector.sh"
proj_setup
CEV=$OUTBOX_SOURCE_DIR/tests/fixtures/consumers/comment_events.py
one() { # TOPIC TYPE ID [VALUE-JSON]
  $PY "$CEV" one --bootstrap "$OUTBOX_KAFKA" --topic "$1" --type "$2" --id "$3" ${4:+--value "$4"} >/dev/null
}
newid() { cat /proc/sys/kernel/random/uuid; }
# run_wait ID TIMEOUT [args...]: sets W_RC, W_OUT, W_SECS
run_wait() {
  local id=$1 t=$2 t0; shift 2
  t0=$(date +%s.%N)
  set +e
  W_OUT=$("$PROJECTOR" wait "$PROJ" "$id" --timeout "$t" "$@" 2>&1)
  W_RC=$?
  set -e
  W_SECS=$(echo "$(date +%s.%N) - $t0" | bc)
}

events_py produce --bootstrap "$OUTBOX_KAFKA" --prefix "$PREFIX" --events 300 --seed 41 \
  --format single --poison 1 --expect "$TEST_TMP/expect.json" >/dev/null
proj_ini "$TEST_TMP/p.ini"
proj_start "$TEST_TMP/p.ini" "$TEST_TMP/p.log"
alive=$(( $(json_get "$TEST_TMP/expect.json" '["events"]') - 1 ))
check "the projection applied the first events" wait_sql "SELECT count(*) FROM effects" "$alive" 90

# ---------------------------------------------------------------- applied
applied_id=$(q "SELECT event_id FROM effects ORDER BY event_id LIMIT 1")
run_wait "$applied_id" 5s -c "$TEST_TMP/p.ini"
check_eq "wait: an applied event exits 0" 0 "$W_RC"
check "... and says applied ($W_OUT)" grep -q "^applied at " <<<"$W_OUT"
check "... at once (${W_SECS}s)" test "$(echo "$W_SECS < 2" | bc)" = 1

# Applied while it waits: the wait starts first, the event is produced 2 s later.
late_id=$(newid)
t0=$(date +%s.%N)
( run_wait "$late_id" 30s -c "$TEST_TMP/p.ini"; echo "$W_RC|$W_SECS|$W_OUT" >"$TEST_TMP/late.out" ) &
waiter=$!
sleep 2
one "$PREFIX.post" PostCreated "$late_id"
produced=$(date +%s.%N)
wait "$waiter"
IFS='|' read -r l_rc l_secs l_out <"$TEST_TMP/late.out"
after=$(echo "$t0 + $l_secs - $produced" | bc)
check_eq "wait: an event applied while waiting exits 0" 0 "$l_rc"
check "... woken by the NOTIFY: returned ${after}s after the produce, ${l_secs}s of a 30s timeout" \
  test "$(echo "$l_secs < 10 && $l_secs >= 1.9" | bc)" = 1
say "wait returned ${after}s after the event was produced (batch-linger 50ms)"

# The same through postgres.conninfo only (no config file: the default channel projector.NAME).
run_wait "$late_id" 5s --set "postgres.conninfo=$(proj_conninfo)"
check_eq "wait without a config file (--set postgres.conninfo=...) exits 0" 0 "$W_RC"

# ---------------------------------------------------------------- failed
dead_id=$(json_get "$TEST_TMP/expect.json" '["dead_ids"][0]')
run_wait "$dead_id" 5s -c "$TEST_TMP/p.ini"
check_eq "wait: a dead-lettered event exits 1" 1 "$W_RC"
check "... and prints the reason ($W_OUT)" grep -q "^failed: .*comments_no_poison.*SQLSTATE 23514" <<<"$W_OUT"

late_dead=$(newid)
( run_wait "$late_dead" 30s -c "$TEST_TMP/p.ini"; echo "$W_RC|$W_SECS|$W_OUT" >"$TEST_TMP/dead.out" ) &
waiter=$!
sleep 2
one "$PREFIX.comment" CommentCreated "$late_dead" '{"text": "POISON"}'
wait "$waiter"
IFS='|' read -r d_rc d_secs d_out <"$TEST_TMP/dead.out"
check_eq "wait: an event dead-lettered while waiting exits 1" 1 "$d_rc"
check "... woken by the NOTIFY of the failure (${d_secs}s of 30s): $d_out" \
  test "$(echo "$d_secs < 10" | bc)" = 1

# ---------------------------------------------------------------- timed out, errors
unknown=$(newid)
run_wait "$unknown" 1500ms -c "$TEST_TMP/p.ini"
check_eq "wait: an unknown id exits 2" 2 "$W_RC"
check "... after the timeout (${W_SECS}s for 1500ms): $W_OUT" test "$(echo "$W_SECS >= 1.5 && $W_SECS < 4" | bc)" = 1
run_wait not-a-uuid 1s -c "$TEST_TMP/p.ini"
check_eq "wait: a malformed id exits 3" 3 "$W_RC"
run_wait "$unknown" 1s
check_eq "wait: no database configured exits 3" 3 "$W_RC"

# ---------------------------------------------------------------- the SQL function
status() { q "SELECT projector_event_status('$PROJ', '$1')"; }
check_eq "projector_event_status: applied" applied "$(status "$applied_id")"
check_eq "projector_event_status: applied (while waiting)" applied "$(status "$late_id")"
st=$(status "$dead_id")
check "projector_event_status: failed with the reason ($st)" grep -q "^failed: .*comments_no_poison" <<<"$st"
check_eq "projector_event_status: unknown id is pending" pending "$(status "$unknown")"
check_eq "projector_event_status: another projection's event is pending" pending \
  "$(q "SELECT projector_event_status('other', '$applied_id')")"
check_eq "projector_event_status works for the projector's role" applied \
  "$(psql -X -q -tA "$(proj_conninfo)" -c "SELECT projector_event_status('$PROJ', '$applied_id')")"

kill -TERM "$PROJ_PID"; wait "$PROJ_PID" || true
finish
