#!/usr/bin/env bash
# A read-model migration under a running projector that takes away a column its statements use
# (SQLSTATE 42703; 42P01 for a table) fails every event the same way: the projection stops,
# naming the statement, and dead-letters nothing; once the model is right again, a restart
# applies every event from the stored offsets, each once.
source "$(dirname "$0")/lib.sh"
source "$OUTBOX_SOURCE_DIR/tests/fixtures/projector/lib_projector.sh"
proj_setup

events_py produce --bootstrap "$OUTBOX_KAFKA" --prefix "$PREFIX" --events 400 --seed 23 \
  --registry "$OUTBOX_REGISTRY_URL" --expect "$TEST_TMP/expect.json" --to 200 >/dev/null
proj_ini "$TEST_TMP/p.ini"
proj_start "$TEST_TMP/p.ini" "$TEST_TMP/p.log"
check "the first 200 records applied" wait_sql "SELECT count(*) FROM effects" 200 120

# The migration: comments.text renamed while the daemon runs.
q "ALTER TABLE comments RENAME COLUMN text TO body" >/dev/null
events_py produce --bootstrap "$OUTBOX_KAFKA" --prefix "$PREFIX" --events 400 --seed 23 \
  --registry "$OUTBOX_REGISTRY_URL" --from 200 >/dev/null
rc=0
for _ in $(seq 1 300); do kill -0 "$PROJ_PID" 2>/dev/null || break; sleep 0.2; done
if kill -0 "$PROJ_PID" 2>/dev/null; then rc=running; else wait "$PROJ_PID" || rc=$?; fi
check_eq "the projection stops (its only one: the daemon exits 1)" 1 "$rc"
check "... naming the SQLSTATE and the column" \
  grep -q 'stopping this projection: .*column "text".*does not exist.* SQLSTATE 42703' "$TEST_TMP/p.log"
check_eq "nothing dead-lettered" 0 "$(q "SELECT count(*) FROM projector_dead_letters")"
check_eq "no dead letter logged" 0 "$(grep -c 'dead-lettering it' "$TEST_TMP/p.log")"

q "ALTER TABLE comments RENAME COLUMN body TO text" >/dev/null
proj_start "$TEST_TMP/p.ini" "$TEST_TMP/p2.log"
check "after the model is right again, every record applied" \
  wait_sql "SELECT count(*) FROM effects" "$(json_get "$TEST_TMP/expect.json" '["events"]')" 120
check_eq "no effect applied twice" 1 "$(q "SELECT max(applied) FROM effects")"
check_eq "comments as the events say" "$(json_get "$TEST_TMP/expect.json" '["comments"]')" \
  "$(q "SELECT count(*) FROM comments")"
kill -TERM "$PROJ_PID"
rc=0; wait "$PROJ_PID" || rc=$?
check_eq "the daemon stops cleanly" 0 "$rc"
finish
