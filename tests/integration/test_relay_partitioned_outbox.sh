#!/usr/bin/env bash
# The partitioned-outbox recipe (sql/outbox_partitioned.sql): the relay publishes rows of every
# partition as rows of the root table, and outbox_partitions_maintain drops old partitions
# without losing an event, even one the relay had not read yet when its partition went.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_lib.sh"

schema=parted_$RUN_ID
pub=itest_pub_$RUN_ID
agg=p$RUN_ID
topic=$TOPIC_PREFIX.$agg
psql_app -c "CREATE SCHEMA $schema; GRANT USAGE ON SCHEMA $schema TO blog_app, outbox_relay"
cleanup_hooks+=("PGOPTIONS='-c client_min_messages=warning' psql_app -c 'DROP PUBLICATION IF EXISTS $pub; DROP SCHEMA IF EXISTS $schema CASCADE' >/dev/null")
PGOPTIONS="-c search_path=$schema -c client_min_messages=warning" \
  psql -X -q -v ON_ERROR_STOP=1 -v outbox_publication="$pub" "$OUTBOX_PG_SUPER" \
  -f "$OUTBOX_SOURCE_DIR/sql/outbox_partitioned.sql" >"$TEST_TMP/recipe.out"
check "the recipe created today's partition" \
  grep -q "created outbox_p$(date -u +%Y%m%d)" "$TEST_TMP/recipe.out"
check_eq "running the recipe again is harmless" 0 "$(PGOPTIONS="-c search_path=$schema -c client_min_messages=warning" \
  psql -X -q -v ON_ERROR_STOP=1 -v outbox_publication="$pub" "$OUTBOX_PG_SUPER" \
  -f "$OUTBOX_SOURCE_DIR/sql/outbox_partitioned.sql" >/dev/null 2>&1; echo $?)"

relay_config
sed -i "s/^slot = .*/&\npublication = $pub\ntable = $schema.outbox/" "$TEST_TMP/relay.ini"
relay_start
relay_stop # the slot stays behind: what follows is written while no relay reads it

old=$(date -u -d '10 days ago' +%Y%m%d)
psql_app -c "CREATE TABLE $schema.outbox_p$old PARTITION OF $schema.outbox
  FOR VALUES FROM ('$(date -u -d '10 days ago' +%F) 00:00+00') TO ('$(date -u -d '9 days ago' +%F) 00:00+00')"
ids=()
ins() { # created_at expression
  local id
  id=$(new_uuid)
  ids+=("$id")
  psql -X -q -v ON_ERROR_STOP=1 "$OUTBOX_PG_APP" -c "INSERT INTO $schema.outbox
    (id, aggregate_type, aggregate_id, event_type, payload, created_at) VALUES ('$id', '$agg', 'a1',
    'CommentCreated', '{\"comment_id\": \"$id\", \"post_id\": \"$id\", \"author_id\": \"u1\",
    \"author_name\": \"Grace\", \"text\": \"t\", \"created_at\": 1795449506000}', $1)"
}
ins "now() - interval '10 days'"
ins "now() - interval '10 days'"
ins "now()"
ins "now() + interval '1 year'" # no partition: the DEFAULT one
ins "now()"
check_eq "rows sit in three partitions" "3" \
  "$(psql_app -c "SELECT count(DISTINCT tableoid) FROM $schema.outbox WHERE aggregate_type = '$agg'")"

psql_app -c "SELECT * FROM $schema.outbox_partitions_maintain('$schema.outbox', 3, 7)" >"$TEST_TMP/maint.out"
check "maintenance drops the partition older than keep_days" grep -qx "dropped outbox_p$old" "$TEST_TMP/maint.out"
check_eq "the dropped partition is gone" "" "$(psql_app -c "SELECT to_regclass('$schema.outbox_p$old')")"
check "maintenance created the days ahead" grep -q "$(date -u -d '3 days' +%Y%m%d)" \
  <<<"$(psql_app -c "SELECT string_agg(c.relname, ' ') FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                     WHERE i.inhparent = '$schema.outbox'::regclass")"

relay_start
dump_topic "$topic" 5 60 "$TEST_TMP/got.jsonl" || { cat "$RELAY_LOG"; say "FAIL: the events did not arrive"; exit 1; }
got=$(dump_ids "$TEST_TMP/got.jsonl")
check_eq "every event published once, in commit order, the dropped partition's too" "${ids[*]}" "$got"
check_eq "no dead letters" 0 "$(topic_count "$topic.dlq")"
relay_stop
check_eq "SIGTERM: exit 0" 0 "$RELAY_RC"
finish
