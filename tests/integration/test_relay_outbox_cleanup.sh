#!/usr/bin/env bash
# Outbox cleanup by the application: rows deleted in the same transaction that inserted them
# (the WAL keeps the insert) and rows deleted later by a cleanup job are all published, once,
# in order; the deletes publish nothing and the slot moves on.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_lib.sh"

agg=c$RUN_ID
topic=$TOPIC_PREFIX.$agg
relay_config
relay_start

payload() { # id
  printf '{"comment_id": "%s", "post_id": "%s", "author_id": "u1", "author_name": "Grace", "text": "t", "created_at": 1795449506000}' "$1" "$1"
}
ids=()
for i in 1 2 3 4 5 6; do ids+=("$(new_uuid)"); done

# Transaction 1: insert three events and delete them before COMMIT (the usual "delete in the
# same transaction" cleanup): the table stays empty, the WAL carries the inserts.
{
  echo "BEGIN;"
  for i in 0 1 2; do
    echo "INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload) VALUES
      ('${ids[$i]}', '$agg', 'a1', 'CommentCreated', '$(payload "${ids[$i]}")');"
  done
  echo "DELETE FROM outbox WHERE aggregate_type = '$agg';"
  echo "COMMIT;"
} | psql -X -q -v ON_ERROR_STOP=1 "$OUTBOX_PG_APP" >/dev/null
# Transactions 2-4: one event each, kept; then a cleanup job deletes them in one statement.
for i in 3 4 5; do
  psql_app -c "INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload) VALUES
    ('${ids[$i]}', '$agg', 'a1', 'CommentCreated', '$(payload "${ids[$i]}")')"
done
psql_app -c "DELETE FROM outbox WHERE aggregate_type = '$agg'"
end_lsn=$(psql_app -c "SELECT pg_current_wal_lsn()")

dump_topic "$topic" 6 60 "$TEST_TMP/got.jsonl" || { cat "$RELAY_LOG"; say "FAIL: the events did not arrive"; exit 1; }
got=$(dump_ids "$TEST_TMP/got.jsonl")
check_eq "all six events published once, in commit order" "${ids[*]}" "$got"
check_eq "the outbox table is empty" 0 "$(psql_app -c "SELECT count(*) FROM outbox WHERE aggregate_type = '$agg'")"
check_eq "no dead letters" 0 "$(topic_count "$topic.dlq")"
check_eq "the deletes never reach the relay (publish = 'insert')" 0 "$(relay_metric outbox_relay_rows_ignored_total)"

# The slot confirms past the cleanup's WAL.
ok=0
slot_reaches "$end_lsn" 20 && ok=1
check_eq "the slot is confirmed past the deletes" 1 "$ok"
relay_stop
check_eq "SIGTERM: exit 0" 0 "$RELAY_RC"
finish
