#!/usr/bin/env bash
# A publication whose name contains a double quote (and a space) streams: the name is quoted for
# START_REPLICATION's publication_names as the walsender parses it (a doubled quote).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_lib.sh"

agg=q$RUN_ID
topic=$TOPIC_PREFIX.$agg
pub="it\"q pub_$RUN_ID"
psql_app -c "CREATE PUBLICATION \"it\"\"q pub_$RUN_ID\" FOR TABLE outbox WITH (publish = 'insert')"
cleanup_hooks+=("psql_app -c 'DROP PUBLICATION IF EXISTS \"it\"\"q pub_$RUN_ID\"'")
check_eq "the publication exists under that name" 1 "$(psql_app -c "SELECT count(*) FROM pg_publication WHERE pubname = 'it\"q pub_$RUN_ID'")"
relay_config
sed -i "s/^slot = .*/&\npublication = $pub/" "$TEST_TMP/relay.ini"
relay_start
eid=$(new_uuid)
psql_app -c "INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload) VALUES
  ('$eid', '$agg', 'a1', 'CommentCreated', '{\"comment_id\": \"$eid\", \"post_id\": \"$eid\",
   \"author_id\": \"u1\", \"author_name\": \"Grace\", \"text\": \"quoted\", \"created_at\": 1795449506000}')"
dump_topic "$topic" 1 60 "$TEST_TMP/out.jsonl"
check_eq "the event streamed through the quoted publication" "$eid" "$(dump_header "$TEST_TMP/out.jsonl" id)"
relay_stop
check_eq "SIGTERM: exit 0" 0 "$RELAY_RC"
check "no replication error in the log" bash -c "! grep -q 'syntax error\|invalid' '$RELAY_LOG'"
finish
