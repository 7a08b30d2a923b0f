#!/usr/bin/env bash
# relay.on-too-large = stop: an event above kafka.message.max.bytes stops the relay (exit 1)
# without confirming its transaction, but only after what was queued before it went to Kafka
# (a fatal exit flushes what is in flight, within relay.shutdown-timeout): here 20 good events
# of the same transaction, handed to the producer microseconds before the refusal.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_lib.sh"

agg=s$RUN_ID
topic=$TOPIC_PREFIX.$agg
post=7d5bd6a4-1c2e-4f5a-9b1e-2a3c4d5e6f70 # the post all comments are on
relay_config "[kafka]" "message.max.bytes = 20000" "linger.ms = 50" "[relay]" "on-too-large = stop"
relay_start
before=$(psql_app -c "SELECT pg_current_wal_lsn()")
big=$(new_uuid)
psql_app -c "BEGIN;
  INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload)
  SELECT gen_random_uuid(), '$agg', 'a' || g, 'CommentCreated', jsonb_build_object('comment_id',
    gen_random_uuid()::text, 'post_id', '$post', 'author_id', 'u1', 'author_name', 'Grace', 'text', 'fine',
    'created_at', 1795449506000) FROM generate_series(1, 20) g;
  INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload) VALUES
    ('$big', '$agg', 'a1', 'CommentCreated', jsonb_build_object('comment_id', '$big', 'post_id', '$post',
     'author_id', 'u1', 'author_name', 'Grace', 'text', repeat('x', 50000),
     'created_at', 1795449506000));
  COMMIT;" >/dev/null
after=$(psql_app -c "SELECT pg_current_wal_lsn()")
wait_relay_exit 60
RELAY_RC=0
wait "$RELAY_PID" || RELAY_RC=$?
check_eq "the relay stops with exit status 1" 1 "$RELAY_RC"
check "it names the event, the limit and the setting" \
  grep -q "event $big .* too large .*kafka.message.max.bytes.* relay.on-too-large = stop" "$RELAY_LOG"
check_eq "the 20 events queued before it are on Kafka" 20 "$(topic_count "$topic")"
check_eq "no dead letter" 0 "$(topic_count "$topic.dlq")"
confirmed=$(slot_confirmed)
check_eq "the slot is not confirmed past its transaction ($confirmed < $after)" t \
  "$(psql_app -c "SELECT '$confirmed'::pg_lsn < '$after'::pg_lsn")"
say "confirmed $confirmed; the transaction lies between $before and $after"
finish
