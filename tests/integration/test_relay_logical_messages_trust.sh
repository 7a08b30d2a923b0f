#!/usr/bin/env bash
# Only the outbox's writers publish. Logical-message events are off by default: a
# pg_logical_emit_message() call, even transactional and with the prefix, publishes nothing. A
# role with no right on the outbox cannot call it at all (sql/outbox.sql revoked it from
# PUBLIC). With outbox.logical-messages on, the application's transactional messages publish;
# non-transactional ones are ignored and counted.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_lib.sh"

agg=m$RUN_ID
topic=$TOPIC_PREFIX.$agg
envelope() { # id, text
  printf '{"id": "%s", "aggregate_type": "%s", "aggregate_id": "a1", "event_type": "CommentCreated", "payload": {"comment_id": "%s", "post_id": "%s", "author_id": "u1", "author_name": "Mallory", "text": "%s", "created_at": 1795449506000}}' \
    "$1" "$agg" "$1" "$1" "$2"
}
marker() { # id: an ordinary outbox row, to know the relay got this far
  psql_app -c "INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload) VALUES
    ('$1', '$agg', 'a1', 'CommentCreated', '{\"comment_id\": \"$1\", \"post_id\": \"$1\",
     \"author_id\": \"u1\", \"author_name\": \"Grace\", \"text\": \"marker\", \"created_at\": 1795449506000}')"
}
ids_in_topic() { # expected count
  dump_topic "$topic" "$1" 60 "$TEST_TMP/out.jsonl"
  dump_ids "$TEST_TMP/out.jsonl"
}

# A role that can connect and nothing else.
intruder=itest_intruder_$RUN_ID
psql_app -c "CREATE ROLE $intruder LOGIN"
cleanup_hooks+=("psql_app -c 'DROP ROLE IF EXISTS $intruder'")
intruder_conn="host=127.0.0.1 port=$OUTBOX_PG_PORT user=$intruder dbname=blog"

# 1. Default configuration: logical messages are off.
relay_config
relay_start
forged=$(new_uuid) forged2=$(new_uuid) m1=$(new_uuid)
out=$(psql -X -q -tA "$intruder_conn" -c "SELECT pg_logical_emit_message(true, 'outbox', '$(envelope "$forged" forged)')" 2>&1 || true)
check "a role without rights on the outbox may not execute pg_logical_emit_message" \
  grep -q "permission denied for function pg_logical_emit_message" <<<"$out"
# Even a role that may execute it (here a superuser) publishes nothing while messages are off.
psql_app -c "SELECT pg_logical_emit_message(true, 'outbox', '$(envelope "$forged2" forged)')" >/dev/null
marker "$m1"
check_eq "messages off: only the outbox row reaches the topic" "$m1" "$(ids_in_topic 1)"
relay_stop
check_eq "SIGTERM: exit 0" 0 "$RELAY_RC"
drop_slot

# 2. Messages on: transactional messages of the application publish, others do not.
SLOT=${SLOT}_on
relay_config "[outbox]" "logical-messages = true"
relay_start
good=$(new_uuid) loose=$(new_uuid) m2=$(new_uuid)
psql -X -q -v ON_ERROR_STOP=1 "$OUTBOX_PG_APP" -c "SELECT pg_logical_emit_message(true, 'outbox', '$(envelope "$good" "via message")')" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 "$OUTBOX_PG_APP" -c "SELECT pg_logical_emit_message(false, 'outbox', '$(envelope "$loose" loose)')" >/dev/null
marker "$m2"
check_eq "messages on: the transactional message publishes, the non-transactional one does not" \
  "$m1 $good $m2" "$(ids_in_topic 3)"
check_eq "the non-transactional message is counted as ignored" 1 "$(relay_metric outbox_relay_messages_ignored_total)"
check "and logged" grep -q "non-transactional logical message with prefix 'outbox' .* ignored" "$RELAY_LOG"
relay_stop
check_eq "SIGTERM: exit 0" 0 "$RELAY_RC"
finish
