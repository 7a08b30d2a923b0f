#!/usr/bin/env bash
# With relay.on-too-large = stop, a message Kafka refuses for good stops the relay with a clear
# message and exit status 1, and the slot is not confirmed past the transaction that could not
# be delivered (fail closed). The refusal is real: the topic's max.message.bytes is smaller
# than the record. (The default, dead-letter, is test_relay_too_large.)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_lib.sh"

agg=f$RUN_ID
topic=$TOPIC_PREFIX.$agg
"$PY" - "$OUTBOX_KAFKA" "$topic" <<'PY'
import sys
from confluent_kafka.admin import AdminClient, NewTopic
a = AdminClient({"bootstrap.servers": sys.argv[1]})
for fut in a.create_topics([NewTopic(sys.argv[2], 1, 1, config={"max.message.bytes": "200"})]).values():
    fut.result()
PY
relay_config "[kafka]" "message.timeout.ms = 10000" "[relay]" "on-too-large = stop"
relay_start
before=$(psql_app -c "SELECT pg_current_wal_lsn()")
insert_events 1 1 1 "$agg"
after=$(psql_app -c "SELECT pg_current_wal_lsn()")
RELAY_RC=
wait_relay_exit 30
RELAY_RC=0
wait "$RELAY_PID" || RELAY_RC=$?
check_eq "the relay stops with exit status 1" 1 "$RELAY_RC"
check "it says which topic refused the message and that nothing was confirmed" \
  grep -q "delivery to topic $topic failed for good: .*stopping without confirming" "$RELAY_LOG"
confirmed=$(slot_confirmed)
check_eq "the slot is not confirmed past the undelivered transaction ($confirmed < $after)" t \
  "$(psql_app -c "SELECT '$confirmed'::pg_lsn < '$after'::pg_lsn")"
say "confirmed $confirmed; the insert lies between $before and $after"
finish
