#!/usr/bin/env bash
# Several outbox tables through one slot and one publication: rows of each are events, routed
# the same way (same topic template, keys, headers), each table with its own column names where
# they differ ([table schema.name] column-* keys), in commit order across tables. Another table
# of the publication is ignored.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_lib.sh"

agg=t$RUN_ID
topic=$TOPIC_PREFIX.$agg
schema=itest_$RUN_ID
pub=itest_pub_$RUN_ID
psql_app -c "CREATE SCHEMA $schema;
  CREATE TABLE $schema.outbox (event_id uuid PRIMARY KEY, aggregate_type text NOT NULL,
    aggregate_id text NOT NULL, kind text NOT NULL, body jsonb NOT NULL, extra jsonb);
  CREATE TABLE $schema.audit (id int PRIMARY KEY, note text);
  GRANT USAGE ON SCHEMA $schema TO outbox_relay; GRANT SELECT ON ALL TABLES IN SCHEMA $schema TO outbox_relay;
  CREATE PUBLICATION $pub FOR TABLE public.outbox, $schema.outbox, $schema.audit WITH (publish = 'insert')"
cleanup_hooks+=("psql_app -c 'DROP PUBLICATION IF EXISTS $pub; DROP SCHEMA IF EXISTS $schema CASCADE'")
relay_config "[table $schema.outbox]" "column-id = event_id" "column-event-type = kind" \
  "column-payload = body" "column-headers = extra"
sed -i "s/^slot = .*/&\npublication = $pub\ntables = public.outbox, $schema.outbox/" "$TEST_TMP/relay.ini"
relay_start

payload() { printf '{"comment_id": "%s", "post_id": "%s", "author_id": "u1", "author_name": "Grace", "text": "%s", "created_at": 1795449506000}' "$1" "$1" "$2"; }
a1=$(new_uuid) b1=$(new_uuid) a2=$(new_uuid) b2=$(new_uuid)
# public.outbox, then the other table, then both in one transaction (other table first).
psql_app -c "INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload) VALUES
  ('$a1', '$agg', 'k1', 'CommentCreated', '$(payload "$a1" first)')"
psql_app -c "INSERT INTO $schema.outbox (event_id, aggregate_type, aggregate_id, kind, body, extra) VALUES
  ('$b1', '$agg', 'k1', 'CommentCreated', '$(payload "$b1" second)', '{\"traceparent\": \"00-b1\"}')"
psql_app -c "BEGIN;
  INSERT INTO $schema.outbox (event_id, aggregate_type, aggregate_id, kind, body) VALUES
    ('$b2', '$agg', 'k1', 'CommentCreated', '$(payload "$b2" third)');
  INSERT INTO $schema.audit VALUES (1, 'not an event');
  INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload) VALUES
    ('$a2', '$agg', 'k1', 'CommentCreated', '$(payload "$a2" fourth)');
  COMMIT"

dump_topic "$topic" 4 60 "$TEST_TMP/out.jsonl" --schemas "$OUTBOX_SOURCE_DIR/schemas"
field() { "$PY" -c 'import json,sys; print(" ".join(str(eval(sys.argv[2], {}, {"r": json.loads(l)})) for l in open(sys.argv[1])))' "$TEST_TMP/out.jsonl" "$1"; }
check_eq "rows of both tables are events, in commit order, one topic" "$a1 $b1 $b2 $a2" "$(field 'r["headers"]["id"]')"
check_eq "same key for the same aggregate" "k1 k1 k1 k1" "$(field 'r["key"]')"
check_eq "the other table's event type column was used" "CommentCreated CommentCreated CommentCreated CommentCreated" "$(field 'r["headers"]["event_type"]')"
check_eq "the other table's payload column was encoded" "first second third fourth" "$(field 'r["value"]["text"]')"
check_eq "the other table's headers column was used" "00-b1" "$(field 'r["headers"].get("traceparent", "")' | tr -s ' ' | sed 's/^ *//; s/ *$//')"
check "the table that is not an outbox table is named as ignored" grep -q "relation $schema.audit is in publication $pub but is not an outbox table" "$RELAY_LOG"
check_eq "no dead letters" 0 "$(topic_count "$topic.dlq")"
relay_stop
check_eq "SIGTERM: exit 0" 0 "$RELAY_RC"
finish
