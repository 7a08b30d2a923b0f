#!/usr/bin/env bash
# A permanent error raised at COMMIT (a deferred constraint trigger, SQLSTATE 23514 when the
# transaction commits) is isolated like a statement failure: the batch is re-applied with
# constraints checked per statement, only the offending events are dead-lettered (with the
# constraint's reason and SQLSTATE) and every other event is applied exactly once; the
# projection does not stop. Per-event and set statements alike.
source "$(dirname "$0")/lib.sh"
source "$OUTBOX_SOURCE_DIR/tests/fixtures/projector/lib_projector.sh"
proj_setup

# In this test's schemas the 'POISON' comment is rejected at COMMIT instead of by the CHECK.
deferred_poison() {
  psql_read -c "SET search_path = $1" -f - >/dev/null <<'SQL'
ALTER TABLE comments DROP CONSTRAINT comments_no_poison;
CREATE FUNCTION comments_reject_poison() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'comment % is poison (deferred check)', NEW.comment_id
    USING ERRCODE = 'check_violation', CONSTRAINT = 'comments_no_poison_deferred';
END $$;
CREATE CONSTRAINT TRIGGER comments_no_poison_deferred AFTER INSERT OR UPDATE ON comments
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.text = 'POISON')
  EXECUTE FUNCTION comments_reject_poison();
SQL
}
deferred_poison "$SCHEMA"
SCHEMA_S=${SCHEMA}_s
proj_schema "$SCHEMA_S"
deferred_poison "$SCHEMA_S"
check_eq "the constraint is deferred: a poisoned insert passes, its COMMIT fails" "inserted
ERROR:  comment 00000000-0000-0000-0000-000000000001 is poison (deferred check)" \
  "$(psql_read -c "SET search_path = $SCHEMA" -f - 2>&1 <<'SQL' | sed 's/^psql:[^E]*//' | head -2
\set ON_ERROR_STOP 0
BEGIN;
INSERT INTO comments (comment_id, post_id, author_id, author_name, text, status, created_at, updated_at)
  VALUES ('00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-000000000002', 'a', 'a', 'POISON', 'pending', now(), now());
SELECT 'inserted';
COMMIT;
SQL
)"

events_py produce --bootstrap "$OUTBOX_KAFKA" --prefix "$PREFIX" --events 2000 --seed 51 \
  --registry "$OUTBOX_REGISTRY_URL" --poison 3 --expect "$TEST_TMP/expect.json" >/dev/null
exp=$TEST_TMP/expect.json
alive=$(( $(json_get "$exp" '["events"]') - 3 ))

proj_ini "$TEST_TMP/p.ini"
PROJ_TEMPLATE=$PROJ_FIXTURES/test_sqlset.ini.in proj_ini "$TEST_TMP/s.ini" "${PROJ}s" "$SCHEMA_S"
proj_start "$TEST_TMP/p.ini" "$TEST_TMP/p.log"
pid_p=$PROJ_PID
proj_start "$TEST_TMP/s.ini" "$TEST_TMP/s.log"
pid_s=$PROJ_PID

wait_sql_in() { local sch=$1; shift; SCHEMA=$sch wait_sql "$@"; }
for v in p s; do
  if [ $v = p ]; then sch=$SCHEMA; name=$PROJ; else sch=$SCHEMA_S; name=${PROJ}s; fi
  what=$([ $v = p ] && echo "sql.<Type>" || echo "sqlset.<Type>")
  check "$what: every event but the 3 poisoned ones applied" \
    wait_sql_in "$sch" "SELECT count(*) FROM effects" "$alive" 120
  check_eq "$what: the 3 poisoned events dead-lettered with the constraint's SQLSTATE and reason" "23514|3|3" \
    "$(QSCHEMA=$sch q "SELECT sqlstate, count(*), count(*) FILTER (WHERE reason LIKE '%poison (deferred check)%') FROM projector_dead_letters WHERE projection = '$name' GROUP BY 1")"
  check_eq "$what: the dead-lettered ids are the poisoned ones" \
    "$($PY -c 'import json,sys; print("\n".join(sorted(json.load(open(sys.argv[1]))["dead_ids"])))' "$exp")" \
    "$(QSCHEMA=$sch q "SELECT event_id FROM projector_dead_letters WHERE projection = '$name' ORDER BY 1")"
  check_eq "$what: no effect applied twice" 1 "$(QSCHEMA=$sch q "SELECT max(applied) FROM effects")"
  check_eq "$what: comments as the events say" "$(json_get "$exp" '["comments"]')|$(json_get "$exp" '["versions"]')" \
    "$(QSCHEMA=$sch q "SELECT count(*), sum(version) FROM comments")"
  check "$what: the projection kept running" bash -c "! grep -q 'stopping this projection' '$TEST_TMP/$v.log'"
  check "$what: the COMMIT failure was retried with constraints per statement" \
    grep -q "COMMIT failed permanently" "$TEST_TMP/$v.log"
done
check "sql.<Type>: stored offsets reach Kafka's end offsets" wait_sql \
  "SELECT string_agg(topic || ' ' || partition || ' ' || next_offset, E'\n' ORDER BY topic, partition) FROM projector_offsets WHERE projection = '$PROJ'" \
  "$(end_offsets)" 60
$PY "$PROJ_FIXTURES/read_topic.py" --bootstrap "$OUTBOX_KAFKA" --count 6 --idle 5 \
  "$PREFIX.comment.dlq" >"$TEST_TMP/dlq.jsonl"
check_eq "6 records on the dead-letter topic (3 per projection)" 6 "$(wc -l <"$TEST_TMP/dlq.jsonl")"

kill -TERM "$pid_p" "$pid_s"
rc_p=0; wait "$pid_p" || rc_p=$?
rc_s=0; wait "$pid_s" || rc_s=$?
check_eq "both daemons stop cleanly" "0 0" "$rc_p $rc_s"
finish
