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

eos_start || { finish; exit; }
t0=$(date +%s)
eos_writer "$agg" "$SEED" &
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
eos_verify "$agg" "$topic" "after $KILLS kills"
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
eos_keep_log relay_exactly_once
finish
