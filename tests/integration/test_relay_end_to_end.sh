#!/usr/bin/env bash
# 10,000 events over 100 aggregates in transactions of 1 to 500 rows: exactly those event ids
# on Kafka, order per aggregate kept, every value decoded by an independent client (python3-avro,
# schema from the registry by id) equal to its JSON payload. Then the same with the embedded
# single-object encoding. Then an idle outbox: the slot still advances.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_lib.sh"

agg=p$RUN_ID
relay_config "[registry]" "url = $OUTBOX_REGISTRY_URL"
relay_start
insert_events 10000 100 500 "$agg"
dump_topic "$TOPIC_PREFIX.$agg" 10000 180 "$TEST_TMP/dump.jsonl"
check "exactly the 10,000 events, in order per aggregate, values equal to their payload" \
  verify_dump "$TEST_TMP/dump.jsonl" "$agg" --check-values
check_eq "every record uses Confluent framing" "10000" \
  "$(grep -c '"framing": "confluent"' "$TEST_TMP/dump.jsonl")"

# The slot confirms what was delivered: after the stream settles, confirmed_flush_lsn reaches
# the WAL position of the last commit.
last=$(psql_app -c "SELECT pg_current_wal_lsn()")
ok=no
slot_reaches "$last" 10 && ok=yes
check_eq "confirmed_flush_lsn reaches the last commit once everything is acked" yes "$ok"

# Idle outbox, other tables written: the slot must still advance (keepalive WAL end).
psql_app -c "CREATE TABLE IF NOT EXISTS itest_other (n int)"
before=$(slot_confirmed)
for i in $(seq 1 20); do psql_app -c "INSERT INTO itest_other VALUES ($i)"; done
target=$(psql_app -c "SELECT pg_current_wal_lsn()")
ok=no
slot_reaches "$target" 20 && ok=yes
check_eq "other tables written, outbox idle: confirmed_flush_lsn advances past $before to $target" yes "$ok"

relay_stop
check_eq "SIGTERM: the relay exits 0" 0 "$RELAY_RC"
check "SIGTERM: a final status was sent" grep -q "final status sent" "$RELAY_LOG"

# The same rows again through the embedded single-object encoding (no registry).
drop_slot
agg2=s$RUN_ID
TOPIC_PREFIX=$TOPIC_PREFIX.so
relay_config
relay_start
insert_events 2000 20 100 "$agg2"
dump_topic "$TOPIC_PREFIX.$agg2" 2000 120 "$TEST_TMP/dump2.jsonl" --schemas "$OUTBOX_SOURCE_DIR/schemas"
check "single-object encoding: all events, in order, values equal" \
  verify_dump "$TEST_TMP/dump2.jsonl" "$agg2" --check-values
check_eq "every record uses single-object framing" "2000" \
  "$(grep -c '"framing": "single-object"' "$TEST_TMP/dump2.jsonl")"
relay_stop
check_eq "SIGTERM: exit 0" 0 "$RELAY_RC"
finish
