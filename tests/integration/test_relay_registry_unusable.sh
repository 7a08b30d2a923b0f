#!/usr/bin/env bash
# A registry the relay cannot use for a reason of its own settings (here a base URL that is not
# the API's, so the real registry answers HTTP 404; a certificate that does not verify, which
# test_tls_end_to_end covers, and refused credentials, HTTP 401, take the same path) stops the
# relay with exit 1 and an error naming the registry's answer and the setting to fix. The valid
# events are not filed as `registry_rejected` dead letters (only the registry's 422, "not a
# valid schema", is a property of the event) and nothing is confirmed past them: the slot still
# holds them, and once registry.url is fixed they are published, once each.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_lib.sh"

agg=u$RUN_ID
topic=$TOPIC_PREFIX.$agg
wrong_url=${OUTBOX_REGISTRY_URL%/apis/ccompat/v7}/no/such/api
relay_config "[registry]" "url = $wrong_url" "timeout = 1m"
relay_start
insert_events 3 1 3 "$agg"
wait_relay_exit 60
relay_stop
check_eq "the relay stops with exit 1" 1 "$RELAY_RC"
check "... naming the setting to fix (registry.url, the API's base)" \
  grep -q "registry cannot be used (NOT_FOUND: check registry.url: the registry URL must be the base of a Confluent-compatible API" \
  "$RELAY_LOG"
check "... and the registry's answer (the URL, HTTP 404)" \
  grep -q "registry cannot be used (NOT_FOUND.*/no/such/api.*HTTP 404" "$RELAY_LOG"
check "... and no dead letter is logged" bash -c '! grep -q "dead letter" "$1"' _ "$RELAY_LOG"
check_eq "no dead letter on $topic.dlq" 0 "$(topic_count "$topic.dlq")"
check_eq "nothing published on $topic" 0 "$(topic_count "$topic")"
# With the relay stopped, the slot shows what it would send next: the 3 inserts (pgoutput 'I'
# messages) are still ahead of its confirmed_flush_lsn.
pending=$(psql_app -c "SELECT count(*) FROM pg_logical_slot_peek_binary_changes('$SLOT', NULL,
  NULL, 'proto_version', '1', 'publication_names', 'outbox_pub')
  WHERE substr(data, 1, 1) = 'I'::bytea")
check_eq "the slot is not confirmed past the events (3 inserts still to send)" 3 "$pending"

relay_config "[registry]" "url = $OUTBOX_REGISTRY_URL" "timeout = 1m"
relay_start
dump_topic "$topic" 3 60 "$TEST_TMP/dump.jsonl"
check "with registry.url fixed, the 3 events arrive in order, decodable" \
  verify_dump "$TEST_TMP/dump.jsonl" "$agg" --check-values
relay_stop
check_eq "SIGTERM: exit 0" 0 "$RELAY_RC"
check_eq "published once each" 3 "$(topic_count "$topic")"
check_eq "still no dead letter" 0 "$(topic_count "$topic.dlq")"
finish
