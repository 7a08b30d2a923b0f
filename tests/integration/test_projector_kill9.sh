#!/usr/bin/env bash
# kill -9 the projector mid-batch, restart it: the read model is identical to a clean run's.
#
# The first kill is provably mid-transaction: a test session holds a lock on `posts`, the
# projector's batch blocks inside its transaction (dedup rows inserted, not committed), and
# pg_stat_activity shows its backend waiting on that lock when the process is killed. The
# next kills hit while records stream in. A clean run over the same topics (another
# projection, another schema, never killed) is the reference.
source "$(dirname "$0")/lib.sh"
source "$OUTBOX_SOURCE_DIR/tests/fixtures/projector/lib_projector.sh"
proj_setup
APP=kill9_$SFX
PROJ_CONNINFO_EXTRA="application_name=$APP" proj_ini "$TEST_TMP/p.ini"
produce() { events_py produce --bootstrap "$OUTBOX_KAFKA" --prefix "$PREFIX" --events 6000 --dup-ratio 0.05 \
  --seed 21 --registry "$OUTBOX_REGISTRY_URL" --expect "$TEST_TMP/expect.json" --from "$1" --to "$2" >/dev/null; }
in_txn() { psql_read -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = '$APP' AND xact_start IS NOT NULL AND ${1:-true}"; }

produce 0 2000
proj_start "$TEST_TMP/p.ini" "$TEST_TMP/p.log" --set projector.batch-size=200
check "first slice applied" wait_sql "SELECT count(*) > 1000 FROM effects" t 60

# Kill 1: blocked inside the batch transaction on a lock the test holds.
psql -X -q "$OUTBOX_PG_READ_SUPER application_name=locker_$SFX" \
  -c "BEGIN" -c "LOCK TABLE $SCHEMA.posts IN SHARE ROW EXCLUSIVE MODE" -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
locker=$!
sleep 0.5
produce 2000 4000
waiting=""
for _ in $(seq 1 150); do
  waiting=$(in_txn "wait_event_type = 'Lock'")
  [ "$waiting" = 1 ] && break
  sleep 0.2
done
check_eq "the projector's batch transaction is open and blocked when killed" 1 "$waiting"
kill -9 "$PROJ_PID"
psql_read -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'locker_$SFX'" >/dev/null
wait "$locker" 2>/dev/null || true
applied_before=$(q "SELECT count(*) FROM effects")

proj_start "$TEST_TMP/p.ini" "$TEST_TMP/p.log" --set projector.batch-size=200
produce 4000 6300
# Kills 2 and 3: whenever a batch transaction is open while records stream in.
for k in 2 3; do
  hit=0
  for _ in $(seq 1 100); do
    if [ "$(in_txn)" = 1 ]; then hit=1; break; fi
    sleep 0.05
  done
  kill -9 "$PROJ_PID"
  say "kill $k: a batch transaction of the app was open at kill time: $hit; effects so far: $(q "SELECT count(*) FROM effects")"
  proj_start "$TEST_TMP/p.ini" "$TEST_TMP/p.log" --set projector.batch-size=200
done
distinct=$(json_get "$TEST_TMP/expect.json" '["events"]')
check "every distinct event applied after the restarts" wait_sql "SELECT count(*) FROM effects" "$distinct" 120
check "stored offsets reach Kafka's end offsets" wait_sql \
  "SELECT string_agg(topic || ' ' || partition || ' ' || next_offset, E'\n' ORDER BY topic, partition) FROM projector_offsets WHERE projection = '$PROJ'" \
  "$(end_offsets)" 60
check_eq "no effect applied twice across kills" "1" "$(q "SELECT max(applied) FROM effects")"
say "effects before the first restart: $applied_before"

# The reference: a clean run of another projection over the same topics.
REF=${SCHEMA}_ref
proj_schema "$REF"
proj_ini "$TEST_TMP/ref.ini" "${PROJ}ref" "$REF"
proj_start "$TEST_TMP/ref.ini" "$TEST_TMP/ref.log"
ref_pid=$PROJ_PID
check "the clean run applies every distinct event" bash -c "SCHEMA=$REF; $(declare -f wait_sql psql_read say); TEST_NAME=$TEST_NAME; wait_sql 'SELECT count(*) FROM effects' $distinct 120"
check_eq "read model identical to the clean run's" "$(model_digest "$REF")" "$(model_digest)"
check_eq "dedup rows identical to the clean run's" \
  "$(QSCHEMA=$REF q "SELECT md5(string_agg(event_id::text, ',' ORDER BY event_id)) FROM projector_dedup")" \
  "$(q "SELECT md5(string_agg(event_id::text, ',' ORDER BY event_id)) FROM projector_dedup")"
kill -TERM "$PROJ_PID" "$ref_pid"
wait "$PROJ_PID" "$ref_pid" 2>/dev/null || true
finish
