#!/usr/bin/env bash
# `rebuild` outlives a broker that stops answering for a while (a leader moving, a restart): the
# build's progress loop reads the high watermarks every second, and one failed query used to end
# the rebuild ("kafka watermarks of T [p]: Broker: Not leader for partition" after a restart,
# "Local: Timed out" when the shared broker stalled in CI). Here the broker is stopped
# and started again in the middle of the build; the rebuild goes on, swaps, and the rebuilt
# model has every effect once. Which error the queries see (if any: librdkafka 2.0 waits an
# outage out inside the query) depends on timing, so the waiting logic itself is unit-tested
# (test_projector_pure: test_rebuild_waits_out_broker_trouble); this is the end-to-end check.
# The restart must fall inside the build however fast the box is: the rebuild's DDL adds a gate
# to the shadow's `effects` (a trigger that waits on an advisory lock the test holds), so the
# build is held at its first batch until the broker is back.
source "$(dirname "$0")/lib.sh"
source "$OUTBOX_SOURCE_DIR/tests/fixtures/projector/lib_projector.sh"
proj_setup
drop_rebuild_schemas() {
  psql_read -c "SELECT format('DROP SCHEMA %I CASCADE', nspname) FROM pg_namespace WHERE nspname LIKE '${SCHEMA}\_\_%'" -c '\gexec' >/dev/null 2>&1 || true
}
cleanup_hooks+=("drop_rebuild_schemas")
GATE=$((0x$(rand_suffix | head -c 7)))
cat >"$TEST_TMP/gate.sql" <<SQL
CREATE FUNCTION effects_gate() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN PERFORM pg_advisory_xact_lock_shared($GATE); RETURN NEW; END \$\$;
CREATE TRIGGER effects_gate BEFORE INSERT OR UPDATE ON effects
  FOR EACH ROW EXECUTE FUNCTION effects_gate();
SQL
proj_ini "$TEST_TMP/p.ini"
printf '[projection %s]\nddl = %s, %s\n' "$PROJ" "$OUTBOX_SOURCE_DIR/sql/readmodel_blog.sql" \
  "$PROJ_FIXTURES/test_model.sql" >>"$TEST_TMP/p.ini"
cp "$TEST_TMP/p.ini" "$TEST_TMP/r.ini"
printf "[projection %s]\ndatabase = %s options='-c search_path=%s'\nddl = %s, %s, %s\n" "$PROJ" \
  "$OUTBOX_PG_READ_SUPER" "$SCHEMA" "$OUTBOX_SOURCE_DIR/sql/readmodel_blog.sql" \
  "$PROJ_FIXTURES/test_model.sql" "$TEST_TMP/gate.sql" >>"$TEST_TMP/r.ini"

events_py produce --bootstrap "$OUTBOX_KAFKA" --prefix "$PREFIX" --events 3000 --seed 71 \
  --dup-ratio 0.05 --registry "$OUTBOX_REGISTRY_URL" >/dev/null
proj_start "$TEST_TMP/p.ini" "$TEST_TMP/p.log"
check "the live model is built" wait_sql "SELECT topic || ' ' || partition || ' ' || next_offset FROM projector_offsets WHERE projection = '$PROJ' ORDER BY 1" "$(end_offsets)" 120

# The gate: a session holding the advisory lock until the test ends it.
psql_read -c "SELECT pg_advisory_lock($GATE)" -c "SELECT pg_sleep(600)" >/dev/null 2>&1 &
cleanup_hooks=("kill $! 2>/dev/null" "${cleanup_hooks[@]}")
holder() { psql_read -c "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = $GATE AND mode = 'ExclusiveLock' AND granted"; }
gate_open() { psql_read -c "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = $GATE AND mode = 'ExclusiveLock'" >/dev/null; }
cleanup_hooks=("gate_open" "${cleanup_hooks[@]}")
gate_closed() { test -n "$(holder)"; }
check "the gate is closed" wait_for 60 gate_closed
waiters() { psql_read -c "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = $GATE AND NOT granted"; }

"$PROJECTOR" rebuild "$PROJ" -c "$TEST_TMP/r.ini" --set http.rebuild-port=0 \
  --set projector.batch-size=50 >"$TEST_TMP/r.out" 2>&1 &
R=$!
cleanup_hooks=("kill -9 $R 2>/dev/null" "${cleanup_hooks[@]}")
gate_waited() { test "$(waiters)" -gt 0; }
check "the build reaches the gate" wait_for 120 gate_waited
check "... and the rebuild still runs" kill -0 "$R"
bash "$OUTBOX_SOURCE_DIR/compose/stack" kafka-stop
cleanup_hooks=("bash $OUTBOX_SOURCE_DIR/compose/stack kafka-start" "${cleanup_hooks[@]}")
sleep 3
bash "$OUTBOX_SOURCE_DIR/compose/stack" kafka-start
gate_open
rc=0; wait "$R" || rc=$?
grep -v '^%[0-9]|' "$TEST_TMP/r.out" | tail -5
check_eq "the rebuild outlives the broker's restart and swaps" 0 "$rc"
say "the rebuild saw the broker's trouble: $(grep -c "retrying (the build goes on" "$TEST_TMP/r.out") time(s)"
check "... and swapped" grep -q "^swapped: schema $SCHEMA" "$TEST_TMP/r.out"
check "the daemon goes on to the end in the rebuilt schema" wait_sql "SELECT topic || ' ' || partition || ' ' || next_offset FROM projector_offsets WHERE projection = '$PROJ' ORDER BY 1" "$(end_offsets)" 120
check_eq "each effect applied once in the rebuilt model" 1 "$(q "SELECT max(applied) FROM effects")"
finish
