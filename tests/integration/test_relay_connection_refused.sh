#!/usr/bin/env bash
# A running relay whose replication connection is refused for a while (here: every walsender
# slot is taken, SQLSTATE 53300 "exceeds max_wal_senders", as when other replication clients
# fill them) keeps retrying with backoff, says why on every attempt and on /metrics, and
# streams again once PostgreSQL admits it: every event delivered once, in order. Before, a
# refusal confirmed by a second attempt stopped the relay (exit 1), and a unit's restart limit
# could then leave it down. At start, a refusal still stops the relay at once (a configuration
# error shows at once).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_lib.sh"

agg=r$RUN_ID
topic=$TOPIC_PREFIX.$agg
relay_config
relay_start
insert_events 200 10 20 "$agg" 1
wait_topic_count "$topic" 200
check_eq "before: 200 records delivered" 200 "$(topic_count "$topic")"

# Take every free walsender slot (idle replication sessions of our own), then the relay's too:
# stop the relay, end its walsender, take that slot, let the relay go on.
HOLD="$OUTBOX_PG_SUPER replication=database application_name=refused_holder"
holders() { psql_app -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'refused_holder'"; }
# Each holder is a psql running pg_sleep on a replication connection (a logical walsender runs
# SQL too); release ends them on the server, and kills what is left of them here, so no holder
# outlives the test (an earlier version, blocked reading a FIFO its own copy of the write end
# kept open, did).
HOLDERS=()
hold() {
  psql -X -q "$HOLD" -c "SELECT pg_sleep(600)" >/dev/null 2>&1 &
  HOLDERS+=($!)
}
release() {
  psql_app -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'refused_holder'" >/dev/null
  if [ ${#HOLDERS[@]} -gt 0 ]; then
    kill "${HOLDERS[@]}" 2>/dev/null || true
    wait "${HOLDERS[@]}" 2>/dev/null || true
  fi
  HOLDERS=()
}
cleanup_hooks+=("release")
free=$(psql_app -c "SELECT current_setting('max_wal_senders')::int - count(*) FROM pg_stat_activity WHERE backend_type = 'walsender'")
for ((k = 0; k < free; k++)); do hold; done
for i in $(seq 1 100); do [ "$(holders)" -ge "$free" ] && break; sleep 0.1; done
kill -STOP "$RELAY_PID"
psql_app -c "SELECT pg_terminate_backend(active_pid, 5000) FROM pg_replication_slots WHERE slot_name = '$SLOT'" >/dev/null
hold
for i in $(seq 1 100); do [ "$(holders)" -ge $((free + 1)) ] && break; sleep 0.1; done
kill -CONT "$RELAY_PID"
say "$((free + 1)) walsender slots held: the relay's reconnect is refused"
insert_events 300 10 20 "$agg" 2
sleep 8
check "the relay keeps running while PostgreSQL refuses it" kill -0 "$RELAY_PID"
check_eq "... and is not streaming" f "$(psql_app -c "SELECT active FROM pg_replication_slots WHERE slot_name = '$SLOT'")"
check "... saying why, with the fix, on each attempt" test "$(grep -c 'replication connection refused: .*pg_hba.conf.*retrying in' "$RELAY_LOG")" -ge 2
check_eq "... and /metrics says it is not streaming" 0 "$(relay_metric outbox_relay_streaming)"

release
wait_topic_count "$topic" 500 60
dump_topic "$topic" 500 120 "$TEST_TMP/dump.jsonl"
check "once admitted it streams again: all 500 events, in order per aggregate" \
  verify_dump "$TEST_TMP/dump.jsonl" "$agg" --allow-duplicates
check_eq "... the slot is active again" t "$(psql_app -c "SELECT active FROM pg_replication_slots WHERE slot_name = '$SLOT'")"
relay_stop
check_eq "the relay stops cleanly (exit 0)" 0 "$RELAY_RC"

# At start, a refusal is a configuration error until proven otherwise: exit 1 at once.
free=$(psql_app -c "SELECT current_setting('max_wal_senders')::int - count(*) FROM pg_stat_activity WHERE backend_type = 'walsender'")
for ((k = 0; k < free; k++)); do hold; done
for i in $(seq 1 100); do [ "$(holders)" -ge "$free" ] && break; sleep 0.1; done
"$RELAY_BIN" -c "$TEST_TMP/relay.ini" >"$TEST_TMP/start.log" 2>&1 &
pid=$!
rc=0
for i in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; rc=running; else wait "$pid" || rc=$?; fi
release
check_eq "a relay refused at start stops (exit 1)" 1 "$rc"
check "... naming the fix" grep -q "pg_hba.conf" "$TEST_TMP/start.log"
check_eq "no holder is left" 0 "$(ps -eo args | grep -c "[a]pplication_name=refused_holder")"
finish
