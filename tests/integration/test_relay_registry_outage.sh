#!/usr/bin/env bash
# The registry is down when a new (topic, event type) needs registering: the relay waits and
# retries with backoff, each request bounded by registry.timeout, while it keeps sending status
# updates to the walsender; when the registry is back the events flow, nothing lost.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_lib.sh"

agg=r$RUN_ID
topic=$TOPIC_PREFIX.$agg
relay_config "[registry]" "url = $OUTBOX_REGISTRY_URL" "timeout = 1s" "[relay]" "registry-retry-max = 2s"
relay_start
bash "$OUTBOX_SOURCE_DIR/compose/stack" registry-stop
cleanup_hooks+=("bash $OUTBOX_SOURCE_DIR/compose/stack registry-start")
insert_events 50 5 10 "$agg"
reply0=$(psql_app -c "SELECT extract(epoch FROM reply_time) FROM pg_stat_replication WHERE application_name = 'outbox-relay' AND pid = (SELECT active_pid FROM pg_replication_slots WHERE slot_name = '$SLOT')")
sleep 6
reply1=$(psql_app -c "SELECT extract(epoch FROM reply_time) FROM pg_stat_replication WHERE pid = (SELECT active_pid FROM pg_replication_slots WHERE slot_name = '$SLOT')")
check "status updates keep flowing while the registry is down ($reply0 -> $reply1)" \
  test "$(echo "$reply1 > $reply0 + 3" | bc)" = 1
check "the relay is still running" kill -0 "$RELAY_PID"
check_eq "nothing was published without a schema id" 0 "$(topic_count "$topic")"
check "the wait is logged with its cause" grep -q "registry unavailable" "$RELAY_LOG"
bash "$OUTBOX_SOURCE_DIR/compose/stack" registry-start
wait_topic_count "$topic" 50
dump_topic "$topic" 50 60 "$TEST_TMP/dump.jsonl"
check "after the registry is back all 50 events arrive in order, decodable" \
  verify_dump "$TEST_TMP/dump.jsonl" "$agg" --check-values
check "retries are counted" test "$(relay_metric outbox_relay_registry_retries_total)" -ge 1
relay_stop
check_eq "SIGTERM: exit 0" 0 "$RELAY_RC"
finish
