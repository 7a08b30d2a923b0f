#!/usr/bin/env bash
# Set statements (sqlset.<Type>: one statement per run of new events, $1 their jsonb array):
# over the same events (10% duplicates, 3 poisoned comments) a set-based projection, killed
# with -9 twice mid-run and restarted, ends with exactly the read model, effects, dedup rows
# and dead letters of a clean per-event run (sql.<Type>, test.ini.in). The poisoned comments
# make their set runs fail (23514); those runs are re-applied one event at a time, so only the
# poisoned event is dead-lettered (reason and SQLSTATE in headers) and the rest is applied.
#
# The first kill is provably inside a set statement: a test session locks `comments`, the
# projector's set statement waits on it (pg_stat_activity shows the backend on a Lock with the
# jsonb_array_elements statement) when the process is killed.
source "$(dirname "$0")/lib.sh"
source "$OUTBOX_SOURCE_DIR/tests/fixtures/projector/lib_projector.sh"
proj_setup
APP=sqlset_$SFX
PROJ_TEMPLATE=$PROJ_FIXTURES/test_sqlset.ini.in PROJ_CONNINFO_EXTRA="application_name=$APP" \
  proj_ini "$TEST_TMP/p.ini"
produce() { events_py produce --bootstrap "$OUTBOX_KAFKA" --prefix "$PREFIX" --events 6000 --dup-ratio 0.1 \
  --seed 41 --poison 3 --registry "$OUTBOX_REGISTRY_URL" --expect "$TEST_TMP/expect.json" --from "$1" --to "$2" >/dev/null; }
in_txn() { psql_read -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = '$APP' AND xact_start IS NOT NULL AND ${1:-true}"; }
start() { proj_start "$TEST_TMP/p.ini" "$TEST_TMP/p.log" --set projector.batch-size=300; }

check "the set statements prepare (check)" "$PROJECTOR" check -c "$TEST_TMP/p.ini" --set http.listen=127.0.0.1:0 >"$TEST_TMP/check.log" 2>&1
check "check names them sqlset.<Type>" grep -q "sqlset.CommentUpdated prepares" "$TEST_TMP/check.log"

produce 0 2500
start
check "first slice applied" wait_sql "SELECT count(*) > 1000 FROM effects" t 60

# Kill 1: blocked inside a set statement, on a lock the test holds.
psql -X -q "$OUTBOX_PG_READ_SUPER application_name=locker_$SFX" \
  -c "BEGIN" -c "LOCK TABLE $SCHEMA.comments IN SHARE ROW EXCLUSIVE MODE" -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
locker=$!
sleep 0.5
produce 2500 5000
waiting=""
for _ in $(seq 1 150); do
  waiting=$(in_txn "wait_event_type = 'Lock' AND query LIKE '%jsonb_array_elements(\$1)%'")
  [ "$waiting" = 1 ] && break
  sleep 0.2
done
check_eq "the projector is inside a set statement of an open batch when killed" 1 "$waiting"
kill -9 "$PROJ_PID"
psql_read -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'locker_$SFX'" >/dev/null
wait "$locker" 2>/dev/null || true
say "effects before the first restart: $(q "SELECT count(*) FROM effects")"

# Kill 2: whenever a batch transaction is open while records stream in.
start
produce 5000 5600
hit=0
for _ in $(seq 1 100); do
  if [ "$(in_txn)" = 1 ]; then hit=1; break; fi
  sleep 0.05
done
kill -9 "$PROJ_PID"
say "kill 2: a batch transaction was open at kill time: $hit; effects so far: $(q "SELECT count(*) FROM effects")"
start
# The rest of the stream only now, so the last process surely has set runs to apply (a fast
# projector may apply everything produced before kill 2 before the kill).
produce 5600 7000

exp=$TEST_TMP/expect.json
alive=$(( $(json_get "$exp" '["events"]') - 3 ))
check "every event but the 3 poisoned ones applied after the restarts" wait_sql "SELECT count(*) FROM effects" "$alive" 120
check "stored offsets reach Kafka's end offsets (past the dead letters)" wait_sql \
  "SELECT string_agg(topic || ' ' || partition || ' ' || next_offset, E'\n' ORDER BY topic, partition) FROM projector_offsets WHERE projection = '$PROJ'" \
  "$(end_offsets)" 60
check_eq "no effect applied twice (duplicates, kills)" 1 "$(q "SELECT max(applied) FROM effects")"
check_eq "comments as the events say" "$(json_get "$exp" '["comments"]')" "$(q "SELECT count(*) FROM comments")"
check_eq "comment versions as the events say" "$(json_get "$exp" '["versions"]')" "$(q "SELECT sum(version) FROM comments")"
check_eq "dead-letter rows: the 3 poisoned comments, SQLSTATE 23514" \
  "$($PY -c 'import json,sys; print("\n".join(sorted(json.load(open(sys.argv[1]))["dead_ids"])))' "$exp")" \
  "$(q "SELECT event_id || ' ' || sqlstate FROM projector_dead_letters WHERE projection = '$PROJ' ORDER BY 1" | sed 's/ 23514$//')"
check "the failing set runs were re-applied one event at a time" grep -q "re-applied one event at a time" "$TEST_TMP/p.log"
port=$(sed -n 's/.*http on 127.0.0.1:\([0-9]*\).*/\1/p' "$TEST_TMP/p.log" | tail -1)
sets=$(curl -fsS "http://127.0.0.1:$port/metrics" | awk -v p="$PROJ" '$1 == "outbox_projector_set_statements_total{projection=\"" p "\"}" {print $2}')
check "set statements ran (${sets:-none} in the last process)" test "${sets:-0}" -gt 0

# Dead letters on the topic: only the poisoned events, each with the set statement's reason.
$PY "$PROJ_FIXTURES/read_topic.py" --bootstrap "$OUTBOX_KAFKA" --count 1000 --idle 5 \
  "$PREFIX.post.dlq" "$PREFIX.comment.dlq" >"$TEST_TMP/dlq.jsonl"
dlq_check=$($PY - "$TEST_TMP/dlq.jsonl" "$exp" "$PROJ" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
recs = [r for r in recs if r["headers"].get("dlq.projection") == sys.argv[3]]
dead = set(json.load(open(sys.argv[2]))["dead_ids"])
problems = []
# A kill after the dead letter was acknowledged and before the batch committed sends it again.
if {r["headers"].get("id") for r in recs} != dead:
    problems.append("dead-lettered ids differ: %s" % sorted({r["headers"].get("id") for r in recs}))
for r in recs:
    h = r["headers"]
    if h.get("dlq.sqlstate") != "23514": problems.append("sqlstate %r" % h.get("dlq.sqlstate"))
    reason = h.get("dlq.reason", "")
    if "sqlset.CommentCreated" not in reason or "comments_no_poison" not in reason:
        problems.append("reason %r" % reason)
print("ok" if not problems else "; ".join(problems))
PY
)
check_eq "only the poisoned events on the dead-letter topic, reason and SQLSTATE in headers" ok "$dlq_check"

# The reference: a clean per-event run of another projection over the same topics.
REF=${SCHEMA}_ref
proj_schema "$REF"
proj_ini "$TEST_TMP/ref.ini" "${PROJ}ref" "$REF"
proj_start "$TEST_TMP/ref.ini" "$TEST_TMP/ref.log"
ref_pid=$PROJ_PID
check "the per-event run applies the same events" bash -c "SCHEMA=$REF; $(declare -f wait_sql psql_read say); TEST_NAME=$TEST_NAME; wait_sql 'SELECT count(*) FROM effects' $alive 120"
check_eq "read model identical to the per-event run's" "$(model_digest "$REF")" "$(model_digest)"
effects_digest() { QSCHEMA=$1 q "SELECT md5(string_agg(concat_ws(' ', event_id, event_type, topic, part, \"offset\", commit_time, applied), ',' ORDER BY event_id)) FROM effects"; }
check_eq "effects (metadata from the array: id, type, topic, partition, offset, commit time) identical" \
  "$(effects_digest "$REF")" "$(effects_digest "$SCHEMA")"
check_eq "dedup rows identical" \
  "$(QSCHEMA=$REF q "SELECT md5(string_agg(event_id::text, ',' ORDER BY event_id)) FROM projector_dedup")" \
  "$(q "SELECT md5(string_agg(event_id::text, ',' ORDER BY event_id)) FROM projector_dedup")"
check_eq "dead-letter rows identical" \
  "$(QSCHEMA=$REF q "SELECT string_agg(concat_ws(' ', topic, partition, \"offset\", event_id, event_type, sqlstate), E'\n' ORDER BY topic, partition, \"offset\") FROM projector_dead_letters")" \
  "$(q "SELECT string_agg(concat_ws(' ', topic, partition, \"offset\", event_id, event_type, sqlstate), E'\n' ORDER BY topic, partition, \"offset\") FROM projector_dead_letters")"
kill -TERM "$PROJ_PID" "$ref_pid"
wait "$PROJ_PID" "$ref_pid" 2>/dev/null || true
finish
