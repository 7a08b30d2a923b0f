#!/usr/bin/env bash
# `rebuild` waits for a broker that stops answering for a while (a leader moving, a restart)
# instead of ending: the build's progress loop reads the high watermarks every second, and one
# that timed out used to end the rebuild ("kafka watermarks of T [p]: Local: Timed out"; seen in
# CI when the shared broker stalled). The broker is paused (SIGSTOP) for 14 s, past the 10 s
# watermark timeout, while the shadow builds; the rebuild goes on, swaps, and the rebuilt model
# has every effect once.
source "$(dirname "$0")/lib.sh"
source "$OUTBOX_SOURCE_DIR/tests/fixtures/projector/lib_projector.sh"
proj_setup
drop_rebuild_schemas() {
  psql_read -c "SELECT format('DROP SCHEMA %I CASCADE', nspname) FROM pg_namespace WHERE nspname LIKE '${SCHEMA}\_\_%'" -c '\gexec' >/dev/null 2>&1 || true
}
cleanup_hooks+=("drop_rebuild_schemas")
proj_ini "$TEST_TMP/p.ini"
printf '[projection %s]\nddl = %s, %s\n' "$PROJ" "$OUTBOX_SOURCE_DIR/sql/readmodel_blog.sql" \
  "$PROJ_FIXTURES/test_model.sql" >>"$TEST_TMP/p.ini"
cp "$TEST_TMP/p.ini" "$TEST_TMP/r.ini"
printf "[projection %s]\ndatabase = %s options='-c search_path=%s'\n" "$PROJ" "$OUTBOX_PG_READ_SUPER" "$SCHEMA" >>"$TEST_TMP/r.ini"

events_py produce --bootstrap "$OUTBOX_KAFKA" --prefix "$PREFIX" --events 30000 --seed 71 \
  --dup-ratio 0.05 --registry "$OUTBOX_REGISTRY_URL" >/dev/null
proj_start "$TEST_TMP/p.ini" "$TEST_TMP/p.log"
check "the live model is built" wait_sql "SELECT topic || ' ' || partition || ' ' || next_offset FROM projector_offsets WHERE projection = '$PROJ' ORDER BY 1" "$(end_offsets)" 120

kpid=$(cat "$OUTBOX_STATE_DIR/kafka/kafka.pid")
cleanup_hooks=("kill -CONT $kpid 2>/dev/null" "${cleanup_hooks[@]}")
"$PROJECTOR" rebuild "$PROJ" -c "$TEST_TMP/r.ini" --set http.rebuild-port=0 \
  --set projector.batch-size=5 >"$TEST_TMP/r.out" 2>&1 &
R=$!
cleanup_hooks=("kill -9 $R 2>/dev/null" "${cleanup_hooks[@]}")
QSCHEMA=${SCHEMA}__rebuild check "the shadow fills" wait_sql "SELECT count(*) > 0 FROM ${SCHEMA}__rebuild.effects" t 120
kill -STOP "$kpid"
sleep 14
kill -CONT "$kpid"
rc=0; wait "$R" || rc=$?
tail -5 "$TEST_TMP/r.out"
check_eq "the rebuild outlives the broker's pause and swaps" 0 "$rc"
check "... it said it was waiting for the broker" grep -q "retrying (the build goes on" "$TEST_TMP/r.out"
check "... and swapped" grep -q "^swapped: schema $SCHEMA" "$TEST_TMP/r.out"
check "the daemon goes on to the end in the rebuilt schema" wait_sql "SELECT topic || ' ' || partition || ' ' || next_offset FROM projector_offsets WHERE projection = '$PROJ' ORDER BY 1" "$(end_offsets)" 120
check_eq "each effect applied once in the rebuilt model" 1 "$(q "SELECT max(applied) FROM effects")"
finish
