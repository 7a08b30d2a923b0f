#!/usr/bin/env bash
# Issue 8 item 1: PostgreSQL's jsonb prints a large double (1e19, -9.3e18, 1e308) as a run of
# digits, which jansson refuses ("too big integer"). Such events are valid: a double/float field
# takes them exactly (decoded by python3-avro, compared bit for bit), and a long they do not
# fit is a schema mismatch whose reason names the field and the range, never "invalid JSON".
# The same payloads as logical messages (pg_logical_emit_message, the envelope built from the
# rows' jsonb text) have the same outcome: same values, same dead letter.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_lib.sh"

agg=n$RUN_ID
topic=$TOPIC_PREFIX.$agg
mkdir -p "$TEST_TMP/schemas"
cat >"$TEST_TMP/schemas/Measured.avsc" <<'AVSC'
{"type": "record", "name": "Measured", "namespace": "itest.events", "fields": [
  {"name": "id", "type": "string"},
  {"name": "value", "type": "double"},
  {"name": "approx", "type": "float"},
  {"name": "either", "type": ["null", "long", "double"]},
  {"name": "count", "type": "long"}]}
AVSC
relay_config "[avro]" "schema-dir = $TEST_TMP/schemas" "[outbox]" "logical-messages = true"
relay_start

e1=$(new_uuid); e2=$(new_uuid); e3=$(new_uuid); bad=$(new_uuid); e4=$(new_uuid)
ins() { # id, payload (jsonb text)
  psql_app -c "INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload)
    VALUES ('$1', '$agg', 'm1', 'Measured', '$2'::jsonb)"
}
ins "$e1" "{\"id\": \"$e1\", \"value\": 1e19, \"approx\": 1e19, \"either\": 1e19, \"count\": 1}"
ins "$e2" "{\"id\": \"$e2\", \"value\": -9.3e18, \"approx\": 9.3e18, \"either\": 7, \"count\": 9223372036854775807}"
ins "$e3" "{\"id\": \"$e3\", \"value\": 1e308, \"approx\": 0.5, \"either\": null, \"count\": -9223372036854775808}"
ins "$bad" "{\"id\": \"$bad\", \"value\": 1, \"approx\": 1, \"either\": null, \"count\": 1e19}"
ins "$e4" "{\"id\": \"$e4\", \"value\": 2.5, \"approx\": 2.5, \"either\": 1.5, \"count\": 2}"

# msg ID ROW: a logical message carrying ROW's payload as jsonb prints it (1e19 as digits)
msg() {
  psql_app -c "SELECT pg_logical_emit_message(true, 'outbox', json_build_object('id', '$1',
    'aggregate_type', '$agg', 'aggregate_id', 'm1', 'event_type', 'Measured',
    'payload', (SELECT payload FROM outbox WHERE id = '$2'))::text)" >/dev/null
}
m1=$(new_uuid); m2=$(new_uuid); m3=$(new_uuid); mbad=$(new_uuid); m4=$(new_uuid)
msg "$m1" "$e1"; msg "$m2" "$e2"; msg "$m3" "$e3"; msg "$mbad" "$bad"; msg "$m4" "$e4"

check_eq "jsonb really prints 1e19 as digits" 10000000000000000000 \
  "$(psql_app -c "SELECT payload->>'value' FROM outbox WHERE id = '$e1'")"
check "jsonb prints 1e308 as 309 digits" test "$(psql_app -c "SELECT length(payload->>'value') FROM outbox WHERE id = '$e3'")" = 309

wait_topic_count "$topic" 8
dump_topic "$topic" 8 60 "$TEST_TMP/good.jsonl" --schemas "$TEST_TMP/schemas"
check_eq "the four valid events are published, in order, as rows then as messages" \
  "$e1 $e2 $e3 $e4 $m1 $m2 $m3 $m4" \
  "$(dump_ids "$TEST_TMP/good.jsonl")"
check_eq "... each message with its row's payload" "$e1 $e2 $e3 $e4 $e1 $e2 $e3 $e4" \
  "$("$PY" -c 'import json,sys; print(" ".join(json.loads(l)["value"]["id"] for l in open(sys.argv[1])))' "$TEST_TMP/good.jsonl")"
check "values decode exactly as python3-avro reads them (double bit for bit, float rounded)" \
  "$PY" - "$TEST_TMP/good.jsonl" <<'PY'
import json, struct, sys
f32 = lambda x: struct.unpack("<f", struct.pack("<f", x))[0]
want = [(1e19, f32(1e19), 1e19, 1), (-9.3e18, f32(9.3e18), 7, 9223372036854775807),
        (1e308, 0.5, None, -9223372036854775808), (2.5, 2.5, 1.5, 2)]
got = [json.loads(l)["value"] for l in open(sys.argv[1])]
ok = True
for w, g in zip(want + want, got):
    have = (g["value"], g["approx"], g["either"], g["count"])
    same = all((a is None and b is None) or (a == b and type(a) is type(b)) for a, b in zip(w, have))
    if not same:
        print("want", w, "got", have, file=sys.stderr)
        ok = False
sys.exit(0 if ok and len(got) == 8 else 1)
PY

wait_topic_count "$topic.dlq" 2 20
dump_topic "$topic.dlq" 2 60 "$TEST_TMP/dlq.jsonl"
# dlq N HEADER: the header of the N-th dead letter
dlq() { "$PY" -c 'import json,sys; print(json.loads(open(sys.argv[1]).readlines()[int(sys.argv[2])])["headers"].get(sys.argv[3], ""))' "$TEST_TMP/dlq.jsonl" "$1" "$2"; }
check_eq "the long out of range is the one dead letter, as a row and as a message" "$bad $mbad" \
  "$(dlq 0 id) $(dlq 1 id)"
check_eq "its class is schema_mismatch both ways, not invalid_json" "schema_mismatch schema_mismatch" \
  "$(dlq 0 outbox.dlq.class) $(dlq 1 outbox.dlq.class)"
for n in 0 1; do
  check "its reason names the field and the range ($n)" grep -q \
    "count: value 10000000000000000000 out of range for long \[-9223372036854775808, 9223372036854775807\]" \
    <<<"$(dlq $n outbox.dlq.reason)"
done
invalid=$(relay_metric 'outbox_relay_dead_letters_total{reason="invalid_json"}')
check "no invalid_json dead letter (counter: [${invalid}])" test "${invalid:-0}" = 0
relay_stop
check_eq "SIGTERM: exit 0" 0 "$RELAY_RC"
finish
