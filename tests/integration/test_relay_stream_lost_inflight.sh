#!/usr/bin/env bash
# The replication stream is lost while messages are in flight (the broker is paused, so they
# stay unacknowledged): the relay waits for Kafka's acknowledgements (bounded by
# relay.shutdown-timeout), reconnects from the slot's confirmed position and goes on. It used
# to stop with exit 1 at once: the wait sent a status update to the dead stream, failed, and
# gave up (found by the chaos suite, seeds 6 and 107).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_lib.sh"

agg=l$RUN_ID
topic=$TOPIC_PREFIX.$agg
relay_config
relay_start

ins() { # how many
  local i id
  for i in $(seq 1 "$1"); do
    id=$(new_uuid)
    psql_app -c "INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload) VALUES
      ('$id', '$agg', 'a1', 'CommentCreated', '{\"comment_id\": \"$id\", \"post_id\": \"$id\",
       \"author_id\": \"u1\", \"author_name\": \"Grace\", \"text\": \"t\", \"created_at\": 1795449506000}')"
  done
}
ins 5
dump_topic "$topic" 5 60 "$TEST_TMP/first.jsonl" >/dev/null

kpid=$(cat "$OUTBOX_STATE_DIR/kafka/kafka.pid")
cleanup_hooks+=("kill -CONT $kpid 2>/dev/null")
kill -STOP "$kpid"
ins 10
inflight=0
for i in $(seq 1 100); do
  inflight=$(relay_metric outbox_relay_inflight_messages)
  [ "${inflight:-0}" -gt 0 ] && break
  sleep 0.1
done
check "messages are in flight while the broker is paused" test "${inflight:-0}" -gt 0
psql_app -c "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '$SLOT'" >/dev/null
sleep 3
check "the relay still runs 3 s after the stream was lost" kill -0 "$RELAY_PID"
kill -CONT "$kpid"
end_lsn=$(psql_app -c "SELECT pg_current_wal_lsn()")

dump_topic "$topic" 15 90 "$TEST_TMP/all.jsonl" >/dev/null || true
check_eq "all 15 events on Kafka" 15 \
  "$("$PY" -c 'import json,sys; print(len({json.loads(l)["headers"]["id"] for l in open(sys.argv[1])}))' "$TEST_TMP/all.jsonl")"
check "the relay logged the loss and reconnected" grep -q "replication stream lost: .*reconnecting" "$RELAY_LOG"
ok=0
for i in $(seq 1 150); do
  if [ "$(psql_app -c "SELECT active AND confirmed_flush_lsn >= '$end_lsn' FROM pg_replication_slots WHERE slot_name = '$SLOT'")" = t ]; then ok=1; break; fi
  sleep 0.2
done
check_eq "streaming again, the slot confirmed past the events" 1 "$ok"
alive=0
kill -0 "$RELAY_PID" 2>/dev/null && alive=1
check_eq "the relay is still running" 1 "$alive"
[ "$alive" = 1 ] || tail -20 "$RELAY_LOG"
relay_stop
check_eq "SIGTERM: exit 0" 0 "$RELAY_RC"
finish
