#!/usr/bin/env bash
# relay.exactly-once = on under kill -9 at random moments (seeded): writers commit events
# (several aggregates, a sequence per aggregate, transactions of 1 to ~60 rows and a few of
# ~1,500) while the relay is killed and restarted 8 times; then a read_committed consumer (the
# Python client, independent of our C code) must see every outbox row exactly once: zero
# duplicates, zero gaps, order per aggregate. Without the skip on start (Kafka's LSN ignored,
# the slot's older confirmed position resent) the same run shows duplicates.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_lib.sh"

SEED=${OUTBOX_TEST_SEED:-$(date +%s)}
KILLS=${OUTBOX_TEST_KILLS:-8}
RANDOM=$SEED
say "seed $SEED (OUTBOX_TEST_SEED=$SEED repeats the kill times), $KILLS kills"

agg=x$RUN_ID
topic=$TOPIC_PREFIX.$agg
state_topic=$TOPIC_PREFIX.state
relay_config "[relay]" "exactly-once = on" "state-topic = $state_topic" "txn-max-time = 50ms"

# eos_start: start the relay and wait until it streams. The first transactional producer of a
# fresh broker waits for __transaction_state to be created (50 partitions: slow on a loaded
# box), hence the long wait.
eos_start() {
  "$RELAY_BIN" -c "$TEST_TMP/relay.ini" >>"$RELAY_LOG" 2>&1 &
  RELAY_PID=$!
  cleanup_hooks+=("kill -9 $RELAY_PID 2>/dev/null")
  local i
  for i in $(seq 1 600); do
    [ "$(psql_app -c "SELECT active FROM pg_replication_slots WHERE slot_name = '$SLOT'")" = t ] && return 0
    kill -0 "$RELAY_PID" 2>/dev/null || { tail -20 "$RELAY_LOG"; say "relay exited at start"; return 1; }
    sleep 0.2
  done
  tail -20 "$RELAY_LOG"
  say "relay did not start streaming within 120 s"
  return 1
}

# The writer: insert_events batches until $TEST_TMP/stop exists; mostly small transactions,
# every fifth batch one large one.
writer() {
  local n=0
  while [ ! -e "$TEST_TMP/stop" ]; do
    n=$((n + 1))
    if [ $((n % 5)) -eq 0 ]; then
      insert_events 1500 40 1500 "$agg" "$((SEED + n))"
    else
      insert_events 400 40 60 "$agg" "$((SEED + n))"
    fi
    sleep 0.1
  done
}

eos_start || { finish; exit; }
t0=$(date +%s)
writer &
WRITER_PID=$!
cleanup_hooks+=("touch $TEST_TMP/stop; wait $WRITER_PID 2>/dev/null")

for k in $(seq 1 "$KILLS"); do
  ms=$((500 + RANDOM % 3500))
  sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
  kill -9 "$RELAY_PID"
  wait "$RELAY_PID" 2>/dev/null || true
  say "kill $k after ${ms} ms: $(psql_app -c "SELECT count(*) FROM outbox WHERE aggregate_type = '$agg'") rows written, slot at $(slot_confirmed)"
  eos_start || break
done
touch "$TEST_TMP/stop"
wait "$WRITER_PID"
rows=$(psql_app -c "SELECT count(*) FROM outbox WHERE aggregate_type = '$agg'")
end_lsn=$(psql_app -c "SELECT pg_current_wal_lsn()")
say "writers stopped: $rows rows"

# Caught up: the slot confirms the end of the writes only after Kafka committed them.
for i in $(seq 1 600); do
  [ "$(psql_app -c "SELECT confirmed_flush_lsn >= '$end_lsn' FROM pg_replication_slots WHERE slot_name = '$SLOT'")" = t ] && break
  sleep 0.2
done
check_eq "the relay caught up after $KILLS kills (slot confirmed past the last write)" t \
  "$(psql_app -c "SELECT confirmed_flush_lsn >= '$end_lsn' FROM pg_replication_slots WHERE slot_name = '$SLOT'")"

"$PY" "$OUTBOX_SOURCE_DIR/tests/integration/outbox_kafka.py" dump --topics "$topic" \
  --expect "$rows" --timeout 120 --out "$TEST_TMP/dump.jsonl"
out=$("$PY" "$OUTBOX_SOURCE_DIR/tests/integration/verify_relay.py" --dump "$TEST_TMP/dump.jsonl" \
  --aggregate-type "$agg") && ok=yes || ok=no
say "$out"
check_eq "read_committed: every row exactly once (no duplicate, no gap), in order per aggregate" \
  yes "$ok"
committed=$(relay_metric 'outbox_relay_kafka_transactions_total{result="committed"}')
check "the last relay committed Kafka transactions (metric: ${committed:-none})" \
  test "${committed:-0}" -gt 0
skips=$(grep -c "transactions already in Kafka" "$RELAY_LOG" || true)
say "restarts that skipped transactions Kafka already had: $skips of $KILLS"

relay_stop
check_eq "SIGTERM: exit 0" 0 "$RELAY_RC"
"$RELAY_BIN" check -c "$TEST_TMP/relay.ini" >"$TEST_TMP/check.txt" 2>&1 || true
check "outbox-relay check reports the state topic compacted" \
  grep -q "exactly-once state topic $state_topic is compacted" "$TEST_TMP/check.txt"
check "the state topic is compacted" "$PY" - "$OUTBOX_KAFKA" "$state_topic" <<'PY'
import sys
from confluent_kafka.admin import AdminClient, ConfigResource
a = AdminClient({"bootstrap.servers": sys.argv[1]})
res = ConfigResource(ConfigResource.Type.TOPIC, sys.argv[2])
cfg = a.describe_configs([res])[res].result()
sys.exit(0 if "compact" in cfg["cleanup.policy"].value else 1)
PY
say "took $(($(date +%s) - t0)) s after the stack was up"
if [ "$_failures" -gt 0 ]; then
  mkdir -p "$OUTBOX_BUILD_DIR/test-output"
  cp "$RELAY_LOG" "$OUTBOX_BUILD_DIR/test-output/relay_exactly_once.log"
  say "relay log kept in $OUTBOX_BUILD_DIR/test-output/relay_exactly_once.log"
fi
finish
