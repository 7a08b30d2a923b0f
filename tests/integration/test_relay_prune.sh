#!/usr/bin/env bash
# outbox.prune = on: the relay deletes the outbox rows whose events Kafka acknowledged and it
# confirmed, and no other. Its own deletes come back through the slot (this publication
# publishes deletes too) and are ignored, never published. With the broker paused (events
# unacknowledged) the rows stay. Without DELETE, `check` fails with the GRANT to run, and the
# relay logs and counts the refusal and keeps publishing.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_lib.sh"

agg=p$RUN_ID
topic=$TOPIC_PREFIX.$agg
schema=prune_$RUN_ID
pub=prune_pub_$RUN_ID
tbl=$schema.outbox
psql_app -c "CREATE SCHEMA $schema;
  CREATE TABLE $tbl (LIKE public.outbox INCLUDING ALL);
  GRANT USAGE ON SCHEMA $schema TO outbox_relay; GRANT SELECT, DELETE ON $tbl TO outbox_relay;
  CREATE PUBLICATION $pub FOR TABLE $tbl" # publish: insert, update, delete, truncate
cleanup_hooks+=("psql_app -c 'DROP PUBLICATION IF EXISTS $pub; DROP SCHEMA IF EXISTS $schema CASCADE'")
relay_config
sed -i "s/^slot = .*/&\npublication = $pub\ntable = $tbl/; s/^topic = .*/&\nprune = on\nprune-batch = 50\nprune-interval = 200ms/" "$TEST_TMP/relay.ini"

touch "$TEST_TMP/ids"
ins() { # N: N events in transactions of 10 (the last smaller); their ids to $TEST_TMP/ids
  "$PY" - "$1" "$agg" "$tbl" <<'PY' | psql -X -q -tA -v ON_ERROR_STOP=1 "$OUTBOX_PG_SUPER" | grep -E '^[0-9a-f-]{36}$' >>"$TEST_TMP/ids"
import sys
n, agg, tbl = int(sys.argv[1]), sys.argv[2], sys.argv[3]
done = 0
while done < n:
    k = min(10, n - done)
    print("BEGIN;")
    print(f"""WITH v AS (SELECT gen_random_uuid() AS u, g FROM generate_series(1, {k}) g)
INSERT INTO {tbl} (id, aggregate_type, aggregate_id, event_type, payload)
SELECT u, '{agg}', 'a' || (g % 7), 'CommentCreated', jsonb_build_object('comment_id', u::text,
  'post_id', u::text, 'author_id', 'u1', 'author_name', 'Grace', 'text', 't', 'created_at', 1795449506000)
FROM v ORDER BY g RETURNING id;""")
    print("COMMIT;")
    done += k
PY
}
rows() { psql_app -c "SELECT count(*) FROM $tbl"; }
wait_rows() { # expected count, seconds
  local i
  for i in $(seq 1 $(($2 * 5))); do [ "$(rows)" = "$1" ] && return 0; sleep 0.2; done
  return 1
}
dump() { # expected records in the topic
  dump_topic "$topic" "$1" 90 "$TEST_TMP/got.jsonl" >/dev/null ||
    { tail -30 "$RELAY_LOG"; say "FAIL: $1 events did not arrive"; exit 1; }
  "$PY" -c 'import json,sys; [print(json.loads(l)["headers"]["id"]) for l in open(sys.argv[1])]' "$TEST_TMP/got.jsonl" | sort >"$TEST_TMP/got_ids"
}
same_ids() { sort "$TEST_TMP/ids" | diff -q - "$TEST_TMP/got_ids" >/dev/null; }

"$RELAY_BIN" check -c "$TEST_TMP/relay.ini" >"$TEST_TMP/check1.txt" 2>&1 || true
check "check: the role may delete from the table" grep -q "ok       outbox.prune on: role outbox_relay may delete confirmed rows from $tbl" "$TEST_TMP/check1.txt"
relay_start

# 1. Published and consumed: every row deleted, every event on Kafka once.
ins 300
dump 300
check_eq "300 events published" 300 "$(wc -l <"$TEST_TMP/got_ids")"
check "every inserted event is on Kafka" same_ids
check "all 300 rows deleted once confirmed" wait_rows 0 60
check_eq "outbox_relay_pruned_rows_total" 300 "$(relay_metric outbox_relay_pruned_rows_total)"
for i in $(seq 1 50); do [ "$(relay_metric outbox_relay_rows_ignored_total)" = 300 ] && break; sleep 0.2; done
check_eq "the prune's own deletes reached the relay and were ignored" 300 "$(relay_metric outbox_relay_rows_ignored_total)"
check_eq "nothing published twice (deletes are not events)" 300 "$(topic_count "$topic")"

# 2. Broker paused: the events are not acknowledged, so nothing is confirmed or deleted.
kpid=$(cat "$OUTBOX_STATE_DIR/kafka/kafka.pid")
cleanup_hooks+=("kill -CONT $kpid 2>/dev/null")
kill -STOP "$kpid"
ins 40
sleep 4 # 4 status intervals, 20 prune intervals
check_eq "broker paused: the 40 unacknowledged rows stay" 40 "$(rows)"
check_eq "broker paused: nothing more pruned" 300 "$(relay_metric outbox_relay_pruned_rows_total)"
check "broker paused: the events are in flight" test "$(relay_metric outbox_relay_inflight_messages)" -gt 0
kill -CONT "$kpid"
dump 340
check "after the pause every event is on Kafka" same_ids
check "after the pause the 40 rows are deleted" wait_rows 0 60
check_eq "outbox_relay_pruned_rows_total after the pause" 340 "$(relay_metric outbox_relay_pruned_rows_total)"

# 3. The role loses DELETE: check names the GRANT; the relay logs, counts, and keeps publishing.
psql_app -c "REVOKE DELETE ON $tbl FROM outbox_relay"
rc=0
"$RELAY_BIN" check -c "$TEST_TMP/relay.ini" >"$TEST_TMP/check2.txt" 2>&1 || rc=$?
check "check fails without DELETE" test "$rc" -ne 0
check "check says what is missing" grep -q "outbox.prune is on but role outbox_relay lacks DELETE on $tbl" "$TEST_TMP/check2.txt"
check "check prints the exact GRANT" grep -q "fix: GRANT DELETE ON $tbl TO outbox_relay;" "$TEST_TMP/check2.txt"
ins 20
dump 360
check "without DELETE every event is still published" same_ids
refused=0
for i in $(seq 1 100); do
  refused=$(relay_metric 'outbox_relay_prune_errors_total{reason="privilege"}')
  [ "${refused:-0}" -gt 0 ] && break
  sleep 0.2
done
check "the refusal is counted (prune_errors_total{reason=privilege})" test "${refused:-0}" -gt 0
check "the refusal is logged with the GRANT" grep -q "GRANT DELETE ON $tbl TO outbox_relay" "$RELAY_LOG"
check_eq "without DELETE the 20 rows stay" 20 "$(rows)"
ins 5
dump 365
check "the relay keeps publishing after the refusal" same_ids
check "the relay still runs" kill -0 "$RELAY_PID"
relay_stop
check_eq "SIGTERM: exit 0" 0 "$RELAY_RC"
finish
