#!/usr/bin/env bash
# `outbox-projector replay NAME --from-beginning` while the daemon runs: one transaction
# resets the stored offsets, truncates the listed tables and bumps the generation; the running
# daemon notices, re-reads its offsets and rebuilds a read model identical to the first one.
# `--from-time` after the last record leaves the model empty and the offsets at the end.
source "$(dirname "$0")/lib.sh"
source "$OUTBOX_SOURCE_DIR/tests/fixtures/projector/lib_projector.sh"
proj_setup
proj_ini "$TEST_TMP/p.ini"
events_py produce --bootstrap "$OUTBOX_KAFKA" --prefix "$PREFIX" --events 4000 --dup-ratio 0.05 \
  --seed 51 --registry "$OUTBOX_REGISTRY_URL" --poison 1 --expect "$TEST_TMP/expect.json" >/dev/null
alive=$(( $(json_get "$TEST_TMP/expect.json" '["events"]') - 1 ))
offsets_sql="SELECT string_agg(topic || ' ' || partition || ' ' || next_offset, E'\n' ORDER BY topic, partition) FROM projector_offsets WHERE projection = '$PROJ'"
proj_start "$TEST_TMP/p.ini" "$TEST_TMP/p.log"
check "first build applies every event" wait_sql "SELECT count(*) FROM effects" "$alive" 120
check "... up to the end offsets" wait_sql "$offsets_sql" "$(end_offsets)" 60
first=$(model_digest)
dedup_first=$(q "SELECT count(*) FROM projector_dedup")

"$PROJECTOR" replay "$PROJ" --from-beginning -c "$TEST_TMP/p.ini" >"$TEST_TMP/replay.out" 2>&1
check_eq "replay --from-beginning succeeds" 0 "$?"
check "replay reports what it reset" grep -q "reset to the beginning" "$TEST_TMP/replay.out"
check_eq "the generation was bumped" 2 "$(q "SELECT generation FROM projector_projections WHERE projection = '$PROJ'")"
check "the running daemon rebuilds every event" wait_sql "SELECT count(*) FROM effects" "$alive" 120
check "... up to the end offsets" wait_sql "$offsets_sql" "$(end_offsets)" 60
check_eq "the rebuilt read model is identical" "$first" "$(model_digest)"
check_eq "each effect applied once since the replay" 1 "$(q "SELECT max(applied) FROM effects")"
check_eq "dedup rows rebuilt" "$dedup_first" "$(q "SELECT count(*) FROM projector_dedup")"
check_eq "the poisoned event is dead-lettered again (its duplicates too, same id)" 1 "$(q "SELECT count(DISTINCT event_id) FROM projector_dead_letters")"
check "the daemon logged that it noticed" grep -q "replay noticed\|was replayed" "$TEST_TMP/p.log"

"$PROJECTOR" replay "$PROJ" --from-time "2999-01-01T00:00:00Z" -c "$TEST_TMP/p.ini" >"$TEST_TMP/replay2.out" 2>&1
check_eq "replay --from-time succeeds" 0 "$?"
check "offsets for a time after the last record are the end offsets" wait_sql "$offsets_sql" "$(end_offsets)" 30
sleep 1.5
check_eq "... and the daemon applies nothing: the tables stay empty" "0|0" "$(q "SELECT (SELECT count(*) FROM effects), (SELECT count(*) FROM posts)")"

"$PROJECTOR" replay "$PROJ" --from-beginning -c "$TEST_TMP/p.ini" >/dev/null 2>&1
check "a second full replay rebuilds again" wait_sql "SELECT count(*) FROM effects" "$alive" 120
check_eq "... identically" "$first" "$(model_digest)"
check_eq "replay of an unknown projection fails" 1 "$("$PROJECTOR" replay nosuch --from-beginning -c "$TEST_TMP/p.ini" >/dev/null 2>&1; echo $?)"
kill -TERM "$PROJ_PID"; wait "$PROJ_PID" || true
finish
