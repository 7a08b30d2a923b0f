#!/usr/bin/env bash
# The first events for a topic that does not exist yet arrive while the broker is down for
# longer than librdkafka's topic.metadata.propagation.max.ms (3 s here instead of 30 s, so the
# outage can be short). librdkafka then fails those messages with "Unknown topic or partition"
# once the broker answers again; the brokers create topics on first use (the stack's default),
# so the relay must keep them unconfirmed, produce them again once the topic exists, and go on:
# every event delivered once, in order per aggregate, the slot confirmed past them, the relay
# never stopped. Events of an existing topic written in between must not overtake anything.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_lib.sh"

old=o$RUN_ID
new=n$RUN_ID
relay_config "topic.metadata.propagation.max.ms = 3000"
relay_start
cleanup_hooks+=("kafka_delete_prefixed_topics $TOPIC_PREFIX")
insert_events 50 5 10 "$old" 1
wait_topic_count "$TOPIC_PREFIX.$old" 50
check_eq "before the outage: 50 records on the existing topic" 50 "$(topic_count "$TOPIC_PREFIX.$old")"

bash "$OUTBOX_SOURCE_DIR/compose/stack" kafka-stop
cleanup_hooks+=("bash $OUTBOX_SOURCE_DIR/compose/stack kafka-start")
# The new aggregate type's first events, with events of the old one before, between and after.
insert_events 20 5 5 "$old" 2
insert_events 30 5 5 "$new" 3
insert_events 20 5 5 "$old" 4
insert_events 30 5 5 "$new" 5
# Well past topic.metadata.propagation.max.ms.
sleep 8
check "the relay is still running while the broker is down" kill -0 "$RELAY_PID"

bash "$OUTBOX_SOURCE_DIR/compose/stack" kafka-start
insert_events 20 5 5 "$new" 6
for agg in "$old" "$new"; do
  expected=$(psql_app -c "SELECT count(*) FROM outbox WHERE aggregate_type = '$agg'")
  wait_topic_count "$TOPIC_PREFIX.$agg" "$expected" 60 "$RELAY_PID"
  check "the relay is still running after the broker is back ($agg)" kill -0 "$RELAY_PID"
  dump_topic "$TOPIC_PREFIX.$agg" "$expected" 30 "$TEST_TMP/dump.$agg.jsonl" || true
  check "topic of $agg: all $expected events, each once, in order per aggregate" \
    verify_dump "$TEST_TMP/dump.$agg.jsonl" "$agg"
done
last=$(psql_app -c "SELECT pg_current_wal_lsn()")
ok=no
slot_reaches "$last" 20 "$RELAY_PID" && ok=yes
check_eq "the slot is confirmed past every event" yes "$ok"
if kill -0 "$RELAY_PID" 2>/dev/null; then
  retries=$(relay_metric outbox_relay_delivery_retries_total)
  check "the retried deliveries are counted (outbox_relay_delivery_retries_total = ${retries:-none})" \
    test "${retries:-0}" -gt 0
fi
grep -q "failed for good" "$RELAY_LOG" && { say "relay log:"; tail -5 "$RELAY_LOG"; }
relay_stop
check_eq "SIGTERM: exit 0" 0 "$RELAY_RC"
finish
