#!/usr/bin/env bash
# Bad input never stops the stream and never vanishes: each class reaches the dead-letter topic
# with its reason in the headers and the original bytes as value, is counted in the metrics,
# and the good events around it arrive. UPDATE/DELETE of outbox rows are logged, not published.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_lib.sh"

agg=d$RUN_ID
topic=$TOPIC_PREFIX.$agg
# A second publication that also publishes UPDATE and DELETE, to see them reach the relay.
pub=itest_pub_$RUN_ID
psql_app -c "CREATE PUBLICATION $pub FOR TABLE outbox"
cleanup_hooks+=("psql_app -c 'DROP PUBLICATION IF EXISTS $pub'")
relay_config "[registry]" "url = $OUTBOX_REGISTRY_URL" "[outbox]" "logical-messages = true"
sed -i "s/^slot = .*/&\npublication = $pub/" "$TEST_TMP/relay.ini"
relay_start

good() { # id
  psql_app -c "INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload) VALUES
    ('$1', '$agg', 'a1', 'CommentCreated', '{\"comment_id\": \"$1\", \"post_id\": \"$1\",
     \"author_id\": \"u1\", \"author_name\": \"Grace\", \"text\": \"fine\", \"created_at\": 1795449506000}')"
}
uuid() { cat /proc/sys/kernel/random/uuid; }
g1=$(uuid); g2=$(uuid); g3=$(uuid); g4=$(uuid); g5=$(uuid); g6=$(uuid)
b_schema=$(uuid); b_type=$(uuid); b_null=$(uuid); b_json=$(uuid); b_topic=$(uuid); b_long=$(uuid)
# An aggregate type that makes a legal topic of Kafka's longest, 249 characters, whose
# "<topic>.dlq" would be illegal: its dead letter takes the fallback topic.
long_agg=$(printf "%0$((249 - ${#TOPIC_PREFIX} - 1))d" 0 | tr 0 L)

good "$g1"
# schema mismatch: text must be a string
psql_app -c "INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload) VALUES
  ('$b_schema', '$agg', 'a1', 'CommentCreated', '{\"comment_id\": \"$b_schema\", \"post_id\": \"$b_schema\",
   \"author_id\": \"u1\", \"author_name\": \"Grace\", \"text\": 42, \"created_at\": 1}')"
good "$g2"
# unknown event type
psql_app -c "INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload) VALUES
  ('$b_type', '$agg', 'a1', 'CommentDeleted', '{\"x\": 1}')"
good "$g3"
# NULL in a required field (the logical-message envelope has no aggregate_id): the topic is
# known, so the dead letter lands next to its stream
psql_app -c "SELECT pg_logical_emit_message(true, 'outbox', '{\"id\": \"$b_null\", \"aggregate_type\": \"$agg\",
  \"aggregate_id\": null, \"event_type\": \"CommentCreated\", \"payload\": {}}')" >/dev/null
good "$g4"
# invalid JSON (a logical message is free text): no topic, the fallback dead-letter topic
psql_app -c "SELECT pg_logical_emit_message(true, 'outbox', '{\"id\": \"$b_json\", oops')" >/dev/null
good "$g5"
# an aggregate type that makes no legal topic name: dead letter on the fallback topic
psql_app -c "INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload) VALUES
  ('$b_topic', 'bad type!', 'a1', 'CommentCreated', '{}')"
# an unknown event type on that longest topic: the dead letter cannot go to "<topic>.dlq"
psql_app -c "INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload) VALUES
  ('$b_long', '$long_agg', 'a1', 'CommentDeleted', '{}')"
# UPDATE and DELETE of an outbox row: reported, not published
psql_app -c "UPDATE outbox SET headers = '{\"x\": \"1\"}' WHERE id = '$g1'"
psql_app -c "DELETE FROM outbox WHERE id = '$g2'"
# a good event through the logical-message outbox, after all of it
psql_app -c "SELECT pg_logical_emit_message(true, 'outbox', '{\"id\": \"$g6\", \"aggregate_type\": \"$agg\",
  \"aggregate_id\": \"a1\", \"event_type\": \"CommentCreated\", \"payload\": {\"comment_id\": \"$g6\",
  \"post_id\": \"$g6\", \"author_id\": \"u1\", \"author_name\": \"Grace\", \"text\": \"via message\",
  \"created_at\": \"2026-11-23T16:00:00.000Z\"}}')" >/dev/null

for i in $(seq 1 100); do [ "$(topic_count "$topic")" -ge 6 ] && break; sleep 0.2; done
for i in $(seq 1 100); do [ "$(topic_count "$topic.dlq")" -ge 3 ] && break; sleep 0.2; done
"$PY" "$OUTBOX_SOURCE_DIR/tests/integration/outbox_kafka.py" dump --topics "$topic" \
  --expect 6 --timeout 60 --out "$TEST_TMP/good.jsonl"
"$PY" "$OUTBOX_SOURCE_DIR/tests/integration/outbox_kafka.py" dump --topics "$topic.dlq" \
  --expect 3 --timeout 60 --out "$TEST_TMP/dlq.jsonl"
"$PY" "$OUTBOX_SOURCE_DIR/tests/integration/outbox_kafka.py" dump --topics "outbox.dlq" \
  --timeout 60 --out "$TEST_TMP/fallback.jsonl"
check_eq "schema mismatch, unknown type and NULL aggregate_id land in $topic.dlq" 3 "$(wc -l <"$TEST_TMP/dlq.jsonl")"

ids=$("$PY" -c 'import json,sys; print(" ".join(json.loads(l)["headers"]["id"] for l in open(sys.argv[1])))' "$TEST_TMP/good.jsonl")
check_eq "the good events around the bad ones all arrive, in order" "$g1 $g2 $g3 $g4 $g5 $g6" "$ids"

dlq_field() { # event id, header
  "$PY" - "$1" "$2" "$TEST_TMP/dlq.jsonl" "$TEST_TMP/fallback.jsonl" <<'PY'
import json, sys
eid, hdr = sys.argv[1], sys.argv[2]
for path in sys.argv[3:]:
    for line in open(path):
        r = json.loads(line)
        h = r["headers"]
        if h.get("id") == eid or (eid in (r.get("raw") or "") and "id" not in h):
            print(r["raw"] if hdr == "raw" else h.get(hdr, ""))
            sys.exit(0)
print("(absent)")
PY
}
check_eq "schema mismatch -> DLQ class" schema_mismatch "$(dlq_field "$b_schema" outbox.dlq.class)"
check "schema mismatch reason names the field" grep -q "text" <<<"$(dlq_field "$b_schema" outbox.dlq.reason)"
check_eq "unknown event type -> DLQ class" unknown_event_type "$(dlq_field "$b_type" outbox.dlq.class)"
check_eq "NULL aggregate_id -> DLQ class" null_column "$(dlq_field "$b_null" outbox.dlq.class)"
check_eq "invalid JSON -> DLQ class" invalid_json "$(dlq_field "$b_json" outbox.dlq.class)"
check_eq "invalid JSON keeps the original bytes" "{\"id\": \"$b_json\", oops" "$(dlq_field "$b_json" raw)"
check_eq "invalid topic -> fallback DLQ topic, class" invalid_topic "$(dlq_field "$b_topic" outbox.dlq.class)"
check_eq "a topic of 249 characters: its dead letter on the fallback topic, class" unknown_event_type \
  "$(dlq_field "$b_long" outbox.dlq.class)"
check_eq "... with the event's own topic in outbox.dlq.topic" "$TOPIC_PREFIX.$long_agg" \
  "$(dlq_field "$b_long" outbox.dlq.topic)"
check_eq "the original payload is the dead letter's value" '{"x": 1}' "$(dlq_field "$b_type" raw)"
check_eq "the reason names the setting, not the relay's schema directory" \
  "unknown event type 'CommentDeleted': no schema CommentDeleted.avsc in avro.schema-dir" \
  "$(dlq_field "$b_type" outbox.dlq.reason)"
check_eq "dead letters counted: schema_mismatch" 1 "$(relay_metric 'outbox_relay_dead_letters_total{reason="schema_mismatch"}')"
check_eq "dead letters counted: unknown_event_type (one of them on the 249-character topic)" 2 "$(relay_metric 'outbox_relay_dead_letters_total{reason="unknown_event_type"}')"
check_eq "UPDATE and DELETE of outbox rows counted as ignored" 2 "$(relay_metric outbox_relay_rows_ignored_total)"
check "UPDATE logged as not published" grep -q "UPDATE on outbox table public.outbox .* ignored" "$RELAY_LOG"
relay_stop
check_eq "SIGTERM: exit 0" 0 "$RELAY_RC"
finish
