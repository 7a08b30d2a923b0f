#!/usr/bin/env bash
# relay.exactly-once = on with a standby relay of the same configuration (same transactional
# id): the active relay is paused (SIGSTOP) past relay.lease-ttl while writers commit events; the
# standby takes the lease and, initializing its transactions, aborts the paused relay's open
# Kafka transaction and fences it. Woken up, the old relay publishes nothing visible: as soon as
# it uses its producer (finishing the commit it was paused in, or when it takes the lease back
# after the new active relay is killed) it stops with exit 1 naming the fencing, and a restart
# (its supervisor's job) streams again.
# A read_committed consumer then sees every outbox row exactly once, in order per aggregate.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_lib.sh"

agg=f$RUN_ID
topic=$TOPIC_PREFIX.$agg
relay_config "[relay]" "exactly-once = on" "state-topic = $TOPIC_PREFIX.state" \
  "txn-max-time = 50ms" "lease-ttl = 2s"
t0=$(date +%s)
eos_start || { finish; exit; }
A=$RELAY_PID
"$RELAY_BIN" -c "$TEST_TMP/relay.ini" >"$TEST_TMP/b.log" 2>&1 &
B=$!
cleanup_hooks+=("kill -9 $B 2>/dev/null")
wait_log() { # FILE REGEX SECONDS
  local i
  for i in $(seq 1 $(($3 * 5))); do grep -Eq "$2" "$1" && return 0; sleep 0.2; done
  return 1
}
check "the second relay waits as standby" wait_log "$TEST_TMP/b.log" "standby: another relay holds" 60

eos_writer "$agg" 11 &
WRITER_PID=$!
cleanup_hooks+=("touch $TEST_TMP/stop; wait $WRITER_PID 2>/dev/null")
sleep 5
kill -STOP "$A"
say "active relay paused with $(psql_app -c "SELECT count(*) FROM outbox WHERE aggregate_type = '$agg'") rows written"
check "the standby takes the lease over from the paused relay" \
  wait_log "$TEST_TMP/b.log" "took over the lease" 60
check "the standby streams (its transactions initialized, the old producer fenced)" \
  wait_log "$TEST_TMP/b.log" "exactly-once: transactional id" 60
sleep 3
kill -CONT "$A"
check "the woken relay finds its lease lost or its producer fenced" \
  wait_log "$RELAY_LOG" "another relay may be streaming|fenced" 30
sleep 2
kill -9 "$B"
wait "$B" 2>/dev/null || true
# The old relay stopped on waking, or takes the lease back now: its producer was fenced.
rc=0
for i in $(seq 1 300); do kill -0 "$A" 2>/dev/null || break; sleep 0.2; done
if kill -0 "$A" 2>/dev/null; then rc=running; else wait "$A" || rc=$?; fi
check_eq "the fenced relay exits 1 when it needs its producer again" 1 "$rc"
check "its log names the fencing" grep -qi "fenced" "$RELAY_LOG"
grep -Ei "fenced|lease|aborted" "$RELAY_LOG" | while read -r line; do say "old relay: ${line:0:300}"; done
eos_start || { finish; exit; } # its supervisor restarts it: a new producer, a new epoch
sleep 2
touch "$TEST_TMP/stop"
wait "$WRITER_PID"
eos_verify "$agg" "$topic" "after a takeover and a fenced relay"
relay_stop
check_eq "SIGTERM: exit 0" 0 "$RELAY_RC"
say "took $(($(date +%s) - t0)) s after the stack was up"
eos_keep_log relay_exactly_once_standby
finish
