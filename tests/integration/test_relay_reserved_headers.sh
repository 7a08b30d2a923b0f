#!/usr/bin/env bash
# The headers column may add Kafka headers but never replace the relay's own: a row whose
# headers name id, event_type, aggregate_type, aggregate_id or outbox.* is published with the
# relay's values only (one header of each name), the drops are counted and logged, and other
# entries (traceparent) still pass.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_lib.sh"

agg=h$RUN_ID
topic=$TOPIC_PREFIX.$agg
relay_config
relay_start

eid=$(new_uuid)
psql_app -c "INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload, headers) VALUES
  ('$eid', '$agg', 'a1', 'CommentCreated', '{\"comment_id\": \"$eid\", \"post_id\": \"$eid\",
   \"author_id\": \"u1\", \"author_name\": \"Grace\", \"text\": \"hi\", \"created_at\": 1795449506000}',
  '{\"id\": \"00000000-0000-4000-8000-000000000001\", \"event_type\": \"Forged\",
    \"aggregate_id\": \"other\", \"outbox.commit_lsn\": \"0/0\", \"traceparent\": \"00-abc-01\"}')"

dump_topic "$topic" 1 60 "$TEST_TMP/out.jsonl"
hdr() { # name: every value of that header, in order, space-separated
  "$PY" -c 'import json,sys; r=json.loads(open(sys.argv[1]).readline())
print(" ".join(v for k, v in r["header_list"] if k == sys.argv[2]))' "$TEST_TMP/out.jsonl" "$1"
}
check_eq "the event is published" 1 "$(wc -l <"$TEST_TMP/out.jsonl")"
check_eq "one id header, the row's id (the downstream dedup id)" "$eid" "$(hdr id)"
check_eq "one event_type header, the row's" CommentCreated "$(hdr event_type)"
check_eq "one aggregate_id header, the row's" a1 "$(hdr aggregate_id)"
check "one outbox.commit_lsn header, the real one" test "$(hdr outbox.commit_lsn)" != "0/0"
check_eq "other entries of the headers column pass" 00-abc-01 "$(hdr traceparent)"
check_eq "the projector's view (last header wins) sees the row's id" "$eid" "$(dump_header "$TEST_TMP/out.jsonl" id)"
check_eq "dropped reserved headers are counted" 4 "$(relay_metric outbox_relay_reserved_headers_dropped_total)"
check "the drop is logged with the event id" grep -q "event $eid: 4 headers-column entries named a reserved header" "$RELAY_LOG"
relay_stop
check_eq "SIGTERM: exit 0" 0 "$RELAY_RC"
finish
