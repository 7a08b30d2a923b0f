#!/usr/bin/env bash
# Issue 8 item 2: a bytes/fixed value with a zero byte could not be published: Avro's JSON form
# writes it "\u0000", which jsonb refuses. A type marked "outbox.encoding": "base64" takes
# base64 instead; python3-avro decodes the exact bytes from Kafka. The code-point form still
# works where jsonb can hold it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_lib.sh"

agg=b$RUN_ID
topic=$TOPIC_PREFIX.$agg
mkdir -p "$TEST_TMP/schemas"
cat >"$TEST_TMP/schemas/Attached.avsc" <<'AVSC'
{"type": "record", "name": "Attached", "namespace": "itest.events", "fields": [
  {"name": "id", "type": "string"},
  {"name": "data", "type": {"type": "bytes", "outbox.encoding": "base64"}},
  {"name": "digest", "type": {"type": "fixed", "name": "Digest", "size": 4, "outbox.encoding": "base64"}},
  {"name": "maybe", "type": ["null", {"type": "bytes", "outbox.encoding": "base64"}], "default": null},
  {"name": "note", "type": "bytes"}]}
AVSC
relay_config "[avro]" "schema-dir = $TEST_TMP/schemas"
relay_start

e1=$(new_uuid); e2=$(new_uuid); bad=$(new_uuid)
ins() { # id, payload (jsonb text)
  psql_app -c "INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload)
    VALUES ('$1', '$agg', 'k1', 'Attached', '$2'::jsonb)"
}
jsonb_refuses_nul() { ! psql_app -c "SELECT '\"\\u0000\"'::jsonb" >/dev/null 2>&1; }
check "jsonb refuses the code-point form of a zero byte (why base64 exists)" jsonb_refuses_nul
ins "$e1" "{\"id\": \"$e1\", \"data\": \"AAEC/w==\", \"digest\": \"AAAAAA==\", \"maybe\": \"AA\", \"note\": \"\\u00ffA\"}"
ins "$bad" "{\"id\": \"$bad\", \"data\": \"not base64!\", \"digest\": \"AAAAAA==\", \"note\": \"\"}"
ins "$e2" "{\"id\": \"$e2\", \"data\": \"\", \"digest\": \"3q2+7w==\", \"note\": \"x\"}"

wait_topic_count "$topic" 2
dump_topic "$topic" 2 60 "$TEST_TMP/good.jsonl" --schemas "$TEST_TMP/schemas"
check "python3-avro decodes the exact bytes (zero bytes included)" \
  "$PY" - "$TEST_TMP/good.jsonl" "$e1" "$e2" <<'PY'
import json, sys
got = [json.loads(l)["value"] for l in open(sys.argv[1])]
# outbox_kafka.py renders bytes as latin-1 text: one character per byte
want = [{"id": sys.argv[2], "data": "\x00\x01\x02\xff", "digest": "\x00\x00\x00\x00",
         "maybe": "\x00", "note": "\xffA"},
        {"id": sys.argv[3], "data": "", "digest": "\xde\xad\xbe\xef", "maybe": None, "note": "x"}]
if got != want:
    print("want", want, "\ngot ", got, file=sys.stderr)
    sys.exit(1)
PY
wait_topic_count "$topic.dlq" 1 20
dump_topic "$topic.dlq" 1 60 "$TEST_TMP/dlq.jsonl"
hdr() { dump_header "$TEST_TMP/dlq.jsonl" "$1"; }
check_eq "text that is not base64 is a dead letter" "$bad" "$(hdr id)"
check "its reason names the field and the form" grep -q 'data: expected bytes as base64, got string "not base64!"' <<<"$(hdr outbox.dlq.reason)"
relay_stop
check_eq "SIGTERM: exit 0" 0 "$RELAY_RC"
finish
