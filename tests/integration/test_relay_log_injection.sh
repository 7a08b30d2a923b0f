#!/usr/bin/env bash
# Text taken from an event (an event type with a newline, a carriage return and ANSI escape
# sequences) cannot forge a log line or reach a terminal as escapes in the text log format: the
# relay logs it escaped, on its own line, and the dead letter still carries the original bytes.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_lib.sh"

agg=l$RUN_ID
topic=$TOPIC_PREFIX.$agg
relay_config "[log]" "format = text"
relay_start

eid=$(new_uuid)
# Unknown event type -> a dead letter, logged with the event type in the message.
psql_app -c "INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload) VALUES
  ('$eid', '$agg', E'a\\r1', E'Bogus\\n2026-01-01T00:00:00.000Z ERROR [relay] forged: slot dropped\\x1b[2J\\x1b[31m', '{}')"
wait_topic_count "$topic.dlq" 1
relay_stop
check_eq "SIGTERM: exit 0" 0 "$RELAY_RC"
check_eq "the event is dead-lettered (unknown type)" 1 "$(topic_count "$topic.dlq")"
check "the event's line is in the log" grep -q "dead letter to .*$eid" "$RELAY_LOG"
check_eq "no forged line starts in the log" 0 "$(grep -c '^2026-01-01T00:00:00.000Z ERROR \[relay\] forged' "$RELAY_LOG" || true)"
check_eq "no ESC byte in the log" 0 "$(grep -c $'\x1b' "$RELAY_LOG" || true)"
check_eq "no carriage return in the log" 0 "$(grep -c $'\r' "$RELAY_LOG" || true)"
check "the event type is logged escaped on the event's own line" \
  grep -qF 'Bogus\n2026-01-01T00:00:00.000Z ERROR [relay] forged: slot dropped\x1b[2J\x1b[31m' "$RELAY_LOG"
check_eq "every log line starts with a timestamp" 0 \
  "$(grep -cvE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z (ERROR|WARN|INFO|DEBUG) \[' "$RELAY_LOG" || true)"
finish
