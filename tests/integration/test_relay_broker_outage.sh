#!/usr/bin/env bash
# The broker is stopped for 20 s while rows are written: nothing is lost, and the slot's
# confirmed_flush_lsn never passes the commit record of the first transaction written while the
# broker was down (PostgreSQL skips, after a restart, every transaction whose commit record starts
# before confirmed_flush_lsn). Positions before that commit record are fair to confirm: the relay,
# idle, confirms the walsender's keepalive position, which moves past WAL that carries no outbox
# event (another transaction, a checkpoint's running-xacts record, the first outage
# transaction's own rows before its commit); a barrier taken as "the WAL position after the
# broker stopped" made such a confirmation look like a loss (seen in CI).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_lib.sh"

agg=b$RUN_ID
topic=$TOPIC_PREFIX.$agg
relay_config
relay_start
insert_events 1000 20 50 "$agg" 1
wait_topic_count "$topic" 1000
check_eq "before the outage: 1000 records delivered" 1000 "$(topic_count "$topic")"

bash "$OUTBOX_SOURCE_DIR/compose/stack" kafka-stop
cleanup_hooks+=("bash $OUTBOX_SOURCE_DIR/compose/stack kafka-start")
sleep 1
# Everything before this point was delivered; nothing after it can be until the broker is back.
psql_app -c "CREATE EXTENSION IF NOT EXISTS pg_walinspect" >/dev/null
before=$(psql_app -c "SELECT pg_current_wal_insert_lsn()")
insert_events 1 20 1 "$agg" 0
# The first outage transaction: the one that wrote the row after the last delivered one.
barrier=$(commit_record_start "$before" outbox "aggregate_type = '$agg' AND headers->>'test_seq' = '1001'")
say "broker stopped; WAL at $before; the first undelivered commit record starts at $barrier"
check "the first undelivered transaction's commit record found in the WAL" test -n "$barrier"
[ -n "$barrier" ] || barrier=$before
start=$(date +%s)
violations=0
i=0
while [ $(( $(date +%s) - start )) -lt 20 ]; do
  i=$((i + 1))
  insert_events 100 20 25 "$agg" "$i"
  c=$(slot_confirmed)
  if [ "$(psql_app -c "SELECT '$c'::pg_lsn > '$barrier'::pg_lsn")" = t ]; then
    violations=$((violations + 1))
    say "confirmed_flush_lsn $c passed $barrier while the broker was down"
  fi
  sleep 0.5
done
check_eq "while the broker was down confirmed_flush_lsn never passed the first undelivered commit ($i samples)" 0 "$violations"
check "the relay is still running while the broker is down" kill -0 "$RELAY_PID"

bash "$OUTBOX_SOURCE_DIR/compose/stack" kafka-start
expected=$(psql_app -c "SELECT count(*) FROM outbox WHERE aggregate_type = '$agg'")
wait_topic_count "$topic" "$expected" 120
dump_topic "$topic" "$expected" 120 "$TEST_TMP/dump.jsonl"
check "after the broker is back all $expected events arrive, in order per aggregate" \
  verify_dump "$TEST_TMP/dump.jsonl" "$agg" --allow-duplicates
last=$(psql_app -c "SELECT pg_current_wal_lsn()")
ok=no
slot_reaches "$last" 20 && ok=yes
check_eq "after delivery the slot catches up" yes "$ok"
relay_stop
check_eq "SIGTERM: exit 0" 0 "$RELAY_RC"
finish
