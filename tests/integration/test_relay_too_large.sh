#!/usr/bin/env bash
# One oversized event never stops the stream (relay.on-too-large = dead-letter, the default):
# an event the broker refuses (above the topic's max.message.bytes), one the producer refuses
# (above kafka.message.max.bytes) and one with 100,000 headers each become a small dead letter
# (no payload: the event's id and headers, its size, its commit LSN, reason "too large"); the
# good events around them arrive in order, the slot moves past them, the metric counts them.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_lib.sh"

agg=o$RUN_ID
topic=$TOPIC_PREFIX.$agg
post=7d5bd6a4-1c2e-4f5a-9b1e-2a3c4d5e6f70 # the post all comments are on
# The topic takes records up to 20,000 bytes. kafka.batch.size stays below that, so the broker
# judges each oversized record alone (it applies the limit to a whole batch; see the README).
"$PY" - "$OUTBOX_KAFKA" "$topic" <<'PY'
import sys
from confluent_kafka.admin import AdminClient, NewTopic
a = AdminClient({"bootstrap.servers": sys.argv[1]})
for fut in a.create_topics([NewTopic(sys.argv[2], 1, 1, config={"max.message.bytes": "20000"})]).values():
    fut.result()
PY
relay_config "[kafka]" "batch.size = 16000"
relay_start

event() { # id, text (SQL expression), headers (SQL jsonb expression)
  psql_app -c "INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload, headers) VALUES
    ('$1', '$agg', 'a1', 'CommentCreated', jsonb_build_object('comment_id', '$1', 'post_id', '$post',
     'author_id', 'u1', 'author_name', 'Grace', 'text', $2, 'created_at', 1795449506000),
     $3)"
}
g1=$(new_uuid); g2=$(new_uuid); g3=$(new_uuid); g4=$(new_uuid)
b_broker=$(new_uuid); b_producer=$(new_uuid); b_headers=$(new_uuid)

short="'fine'"
# 51,200 random hex digits: lz4 cannot shrink them below the topic's limit (the broker checks
# the compressed batch).
random_text="(SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 1600))"
event "$g1" "$short" "'{\"trace\": \"t1\"}'"
event "$b_broker" "$random_text" "'{\"trace\": \"t-broker\"}'"  # the broker refuses it
event "$g2" "$short" NULL
event "$b_producer" "repeat('x', 1200000)" NULL              # above message.max.bytes (1 MB)
event "$g3" "$short" NULL
event "$b_headers" "$short" "(SELECT jsonb_object_agg('h' || g, 'v') FROM generate_series(1, 100000) g)"
event "$g4" "$short" NULL
after=$(psql_app -c "SELECT pg_current_wal_lsn()")

# The good records and the dead letters (give up if the relay exits).
wait_topic_count "$topic" 4 60 "$RELAY_PID"
wait_topic_count "$topic.dlq" 3 60 "$RELAY_PID"
if ! kill -0 "$RELAY_PID" 2>/dev/null; then
  check "the relay is still running" false
  tail -5 "$RELAY_LOG"
  finish
  exit 1
fi
check "the relay is still running" true
dump_topic "$topic" 4 60 "$TEST_TMP/good.jsonl"
dump_topic "$topic.dlq" 3 60 "$TEST_TMP/dlq.jsonl"
ids=$(dump_ids "$TEST_TMP/good.jsonl")
check_eq "the good events around the oversized ones all arrive, in order" "$g1 $g2 $g3 $g4" "$ids"
check_eq "three dead letters" 3 "$(wc -l <"$TEST_TMP/dlq.jsonl")"

dlq() { # event id -> "class|has value|size|lsn present|trace|headers omitted|reason"
  "$PY" - "$1" "$TEST_TMP/dlq.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[2]):
    r = json.loads(line)
    h = r["headers"]
    if h.get("id") == sys.argv[1]:
        print("|".join([h.get("outbox.dlq.class", ""), "value" if r.get("raw") else "no value",
                        h.get("outbox.dlq.size", ""),
                        "lsn" if h.get("outbox.commit_lsn") else "no lsn", h.get("trace", ""),
                        h.get("outbox.dlq.headers_omitted", ""), h.get("outbox.dlq.reason", "")]))
        sys.exit(0)
print("(absent)")
PY
}
IFS='|' read -r cls val size lsn trace omitted reason <<<"$(dlq "$b_broker")"
check_eq "refused by the broker: class too_large" too_large "$cls"
check_eq "refused by the broker: no payload" "no value" "$val"
check "refused by the broker: its size (over 50,000 bytes)" test "${size:-0}" -gt 50000
check_eq "refused by the broker: its commit LSN" lsn "$lsn"
check_eq "refused by the broker: its own headers" t-broker "$trace"
check "refused by the broker: the reason says too large" grep -q "^too large" <<<"$reason"
IFS='|' read -r cls val size lsn trace omitted reason <<<"$(dlq "$b_producer")"
check_eq "refused by the producer: class too_large" too_large "$cls"
check_eq "refused by the producer: no payload" "no value" "$val"
check "refused by the producer: its size (over 1,200,000 bytes)" test "${size:-0}" -gt 1200000
IFS='|' read -r cls val size lsn trace omitted reason <<<"$(dlq "$b_headers")"
check_eq "100,000 headers: class too_large" too_large "$cls"
check_eq "100,000 headers: the headers left out are counted" 99936 "$omitted"
check_eq "dead letters counted: too_large" 3 \
  "$(relay_metric 'outbox_relay_dead_letters_total{reason="too_large"}')"
slot_reaches "$after" 20 || true
check_eq "the slot moved past them ($(slot_confirmed) >= $after)" t \
  "$(psql_app -c "SELECT '$(slot_confirmed)'::pg_lsn >= '$after'::pg_lsn")"
relay_stop
check_eq "SIGTERM: exit 0" 0 "$RELAY_RC"
finish
