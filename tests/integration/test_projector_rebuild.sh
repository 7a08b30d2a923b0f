#!/usr/bin/env bash
# `outbox-projector rebuild NAME` while the daemon serves and updates the live model under load:
# a reader polling the model never sees the event count or the comments' version sum (both only
# grow) go backwards or vanish; kill -9 during the build and during the swap leaves the old
# model live and the rebuild resumable or cancellable; after the swap the daemon goes on in the
# rebuilt schema, which equals a clean build; --drop-old removes the replaced model. Then a whole
# second rebuild while writers keep producing through the build and the swap, its progress
# scraped from its /metrics: the reader still never sees the model go backwards, and after the
# swap the model equals a clean build, every event applied once.
source "$(dirname "$0")/lib.sh"
source "$OUTBOX_SOURCE_DIR/tests/fixtures/projector/lib_projector.sh"
proj_setup
cleanup_hooks+=("drop_rebuild_schemas")
drop_rebuild_schemas() {
  psql_read -c "SELECT format('DROP SCHEMA %I CASCADE', nspname) FROM pg_namespace WHERE nspname LIKE '${SCHEMA}\_\_%'" -c '\gexec' >/dev/null 2>&1 || true
}
proj_ini "$TEST_TMP/p.ini"
DDL="ddl = $OUTBOX_SOURCE_DIR/sql/readmodel_blog.sql, $PROJ_FIXTURES/test_model.sql"
printf '[projection %s]\n%s\n' "$PROJ" "$DDL" >>"$TEST_TMP/p.ini"
# The rebuild creates schemas: it runs as the schema owner (a superuser here); the daemon keeps
# the projector role, which the copied USAGE grant and the ddl's grants let in.
cp "$TEST_TMP/p.ini" "$TEST_TMP/r.ini"
printf "[projection %s]\ndatabase = %s options='-c search_path=%s'\n" "$PROJ" "$OUTBOX_PG_READ_SUPER" "$SCHEMA" >>"$TEST_TMP/r.ini"
# An array, not a function: `cmd &` must start the projector itself, so that $! is its pid.
REBUILD=("$PROJECTOR" rebuild "$PROJ" -c "$TEST_TMP/r.ini" --set http.rebuild-port=0)
exists() { psql_read -c "SELECT count(*) FROM pg_namespace WHERE nspname = '$1'"; }

TOTAL=16000 # 0-3000 first, 3000-6000 during steps 1-4, then the writer of step 5
events_py produce --bootstrap "$OUTBOX_KAFKA" --prefix "$PREFIX" --events "$TOTAL" --seed 71 \
  --dup-ratio 0.05 --registry "$OUTBOX_REGISTRY_URL" --to 3000 >/dev/null
proj_start "$TEST_TMP/p.ini" "$TEST_TMP/p.log"
check "the live model is built" wait_sql "SELECT count(*) > 2000 FROM effects" t 120
sleep 2

# The reader: count and version sum of the live schema, addressed by name, every ~50 ms.
reader() {
  while [ ! -e "$TEST_TMP/stop_reader" ]; do
    psql_read -c "SELECT (SELECT count(*) FROM $SCHEMA.effects) || ' ' || (SELECT coalesce(sum(version), 0) FROM $SCHEMA.comments)" 2>&1 || echo "ERROR"
    sleep 0.05
  done >"$TEST_TMP/reads"
}
reader &
READER=$!
cleanup_hooks=("kill $READER 2>/dev/null" "${cleanup_hooks[@]}")
# Load: the rest of the stream, produced while the rebuilds run.
events_py produce --bootstrap "$OUTBOX_KAFKA" --prefix "$PREFIX" --events "$TOTAL" --seed 71 \
  --dup-ratio 0.05 --registry "$OUTBOX_REGISTRY_URL" --from 3000 --to 6000 >/dev/null &
LOAD=$!

# 1. kill -9 during the build, then cancel.
"${REBUILD[@]}" >"$TEST_TMP/r1.out" 2>&1 &
R=$!
QSCHEMA=${SCHEMA}__rebuild check "the shadow fills" wait_sql "SELECT count(*) > 0 FROM ${SCHEMA}__rebuild.effects" t 120
kill -9 "$R" 2>/dev/null || true; wait "$R" 2>/dev/null || true
check_eq "after kill -9 during the build the shadow is kept" 1 "$(exists "${SCHEMA}__rebuild")"
check_eq "... and the live schema still serves" t "$(q "SELECT count(*) > 2000 FROM $SCHEMA.effects")"
rc=0; "${REBUILD[@]}" --cancel >"$TEST_TMP/cancel.out" 2>&1 || rc=$?
check_eq "rebuild --cancel succeeds" 0 "$rc"
[ "$rc" = 0 ] || cat "$TEST_TMP/cancel.out"
check_eq "... and drops the shadow" 0 "$(exists "${SCHEMA}__rebuild")"

# 2. kill -9 during the build, then resume.
"${REBUILD[@]}" >"$TEST_TMP/r2.out" 2>&1 &
R=$!
check "the shadow fills again" wait_sql "SELECT count(*) > 0 FROM ${SCHEMA}__rebuild.effects" t 120
kill -9 "$R" 2>/dev/null || true; wait "$R" 2>/dev/null || true

# 3. kill -9 during the swap: a session holding the live row FOR SHARE (as a live batch does)
#    keeps the swap transaction waiting; the rebuild dies inside it.
psql_read -c "BEGIN" -c "SELECT generation FROM $SCHEMA.projector_projections WHERE projection = '$PROJ' FOR SHARE" -c "SELECT pg_sleep(600)" >/dev/null 2>&1 &
HOLD=$!
# Before the schemas are dropped (a DROP would wait on the blocker's lock for its 600 s).
unblock() { psql_read -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(600)%' AND pid <> pg_backend_pid()" >/dev/null 2>&1 || true; }
cleanup_hooks=("kill $HOLD 2>/dev/null" unblock "${cleanup_hooks[@]}")
check "the blocker holds the row" wait_sql "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(600)%' AND state = 'active' AND pid <> pg_backend_pid()" 1 30
"${REBUILD[@]}" >"$TEST_TMP/r3.out" 2>&1 &
R=$!
check "the resumed rebuild says so" wait_for 60 grep -q "resuming the rebuild" "$TEST_TMP/r3.out"
check "the swap waits on the live row" wait_sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'outbox-projector-rebuild' AND wait_event_type = 'Lock'" 1 180
kill -9 "$R" 2>/dev/null || true; wait "$R" 2>/dev/null || true
kill "$HOLD" 2>/dev/null; wait "$HOLD" 2>/dev/null || true
psql_read -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(600)%' AND pid <> pg_backend_pid()" >/dev/null
check_eq "after kill -9 during the swap the live schema is the old one" 1 "$(exists "$SCHEMA")"
check_eq "... the shadow is kept" 1 "$(exists "${SCHEMA}__rebuild")"
check_eq "... and no old model was made" 0 "$(psql_read -c "SELECT count(*) FROM pg_namespace WHERE nspname LIKE '${SCHEMA}\_\_old%'")"

# 4. resume to the end: the swap.
wait "$LOAD"
rc=0; "${REBUILD[@]}" >"$TEST_TMP/r4.out" 2>&1 || rc=$?
tail -5 "$TEST_TMP/r4.out"
check_eq "the resumed rebuild swaps" 0 "$rc"
check "... and says so" grep -q "^swapped: schema $SCHEMA" "$TEST_TMP/r4.out"
check "... with plain progress lines (stdout is no tty)" grep -q "events .* ev/s .*lag .*ETA" "$TEST_TMP/r4.out"
check "the daemon noticed the new generation" wait_for 30 grep -q "replay noticed\|was replayed" "$TEST_TMP/p.log"
check "the daemon goes on to the end in the new schema" wait_sql "SELECT topic || ' ' || partition || ' ' || next_offset FROM projector_offsets WHERE projection = '$PROJ' ORDER BY 1" "$(end_offsets)" 120
check_eq "each effect applied once in the rebuilt model" 1 "$(q "SELECT max(applied) FROM effects")"

# 5. A whole rebuild from the beginning while a writer keeps producing (100 records/s, ~100 s of
#    stream), before, during and after the swap; the rebuild's /metrics scraped all along
#    Its ddl adds a trigger that sleeps 2 ms per effect row, so the build outlasts several of
#    the rebuild's 1 s progress ticks however fast the box and its workers are (with batches of
#    20 alone, two workers built the ~6,400 events between two scrapes on CI's box, and /metrics
#    never showed "done" move); smaller batches than the daemon's, as before.
cat >"$TEST_TMP/slow.sql" <<'SQL'
CREATE FUNCTION rebuild_test_slow() RETURNS trigger LANGUAGE plpgsql
  AS $$ BEGIN PERFORM pg_sleep(0.002); RETURN NEW; END $$;
CREATE TRIGGER rebuild_test_slow BEFORE INSERT ON effects FOR EACH ROW EXECUTE FUNCTION rebuild_test_slow();
SQL
cp "$TEST_TMP/r.ini" "$TEST_TMP/r5.ini"
printf '[projection %s]\n%s, %s\n' "$PROJ" "$DDL" "$TEST_TMP/slow.sql" >>"$TEST_TMP/r5.ini"
records() { end_offsets | awk '{s += $3} END {print s + 0}'; }
events_py produce --bootstrap "$OUTBOX_KAFKA" --prefix "$PREFIX" --events "$TOTAL" --seed 71 \
  --dup-ratio 0.05 --registry "$OUTBOX_REGISTRY_URL" --from 6000 --rate 100 \
  --stop-file "$TEST_TMP/stop_writer" >/dev/null &
WRITER=$!
cleanup_hooks=("kill $WRITER 2>/dev/null" "${cleanup_hooks[@]}")
before=$(records)
more_than() { test "$(records)" -gt "$1"; }
check "the writer is producing" wait_for 120 more_than "$before"
"$PROJECTOR" rebuild "$PROJ" -c "$TEST_TMP/r5.ini" --set http.rebuild-port=0 --set projector.batch-size=20 >"$TEST_TMP/r5.out" 2>&1 &
R=$!
check "the rebuild serves its progress" wait_for 60 grep -q "^metrics on http://" "$TEST_TMP/r5.out"
MURL=$(sed -n 's|^metrics on \(http://[^ ]*\)$|\1|p' "$TEST_TMP/r5.out" | head -1)
n=0
while kill -0 "$R" 2>/dev/null; do # one snapshot of every series each 0.3 s
  curl -fsS -m 5 "$MURL" >"$TEST_TMP/m.$n" 2>/dev/null && n=$((n + 1))
  sleep 0.3
done
rc=0; wait "$R" || rc=$?
at_swap=$(records)
check_eq "the rebuild under live writes swaps" 0 "$rc"
check "... and says so" grep -q "^swapped: schema $SCHEMA" "$TEST_TMP/r5.out"
check "the writer was still producing at the swap" kill -0 "$WRITER"
# name -> value per snapshot, in order (summed over the rebuild's workers: worker="N" labels);
# worker N's value of a series: series_of_worker NAME N
series() { local k; for ((k = 0; k < n; k++)); do awk -v m="$1{projection=\"$PROJ\"" 'index($1, m) == 1 && substr($1, length(m) + 1, 1) ~ /[,}]/ {s += $2; f = 1} END {if (f) print s}' "$TEST_TMP/m.$k"; done; }
series_of_worker() { local k; for ((k = 0; k < n; k++)); do awk -v m="$1{projection=\"$PROJ\",worker=\"$2\"}" '$1 == m {print $2}' "$TEST_TMP/m.$k"; done; }
grows() { "$PY" -c 'import sys; v = [float(x) for x in sys.stdin.read().split()]; sys.exit(not (len(v) >= 2 and v[-1] > v[0] and all(b >= a for a, b in zip(v, v[1:]))))'; }
say "$n snapshots; done: $(series outbox_projector_rebuild_events_done | tr '\n' ' ')"
say "total: $(series outbox_projector_rebuild_events_total | tr '\n' ' ')"
say "rate: $(series outbox_projector_rebuild_rate_events_per_second | tr '\n' ' ')"
say "ETA: $(series outbox_projector_rebuild_eta_seconds | tr '\n' ' ')"
check "/metrics: events done moves up" grows < <(series outbox_projector_rebuild_events_done)
check "/metrics: events applied to the shadow move up" grows < <(series outbox_projector_events_applied_total)
check "/metrics: the total grows with the writer" grows < <(series outbox_projector_rebuild_events_total)
check "/metrics: a rate, and an ETA once it is known" "$PY" -c 'import sys; r = [float(x) for x in sys.argv[1].split()]; e = [float(x) for x in sys.argv[2].split()]; sys.exit(not (max(r) > 0 and any(x >= 0 for x in e)))' "$(series outbox_projector_rebuild_rate_events_per_second)" "$(series outbox_projector_rebuild_eta_seconds)"
check "/metrics: lag = total - done" "$PY" -c 'import sys; d, t, l = ([int(x) for x in a.split()] for a in sys.argv[1:]); sys.exit(not all(z == max(y - x, 0) for x, y, z in zip(d, t, l)))' "$(series outbox_projector_rebuild_events_done)" "$(series outbox_projector_rebuild_events_total)" "$(series outbox_projector_rebuild_lag_events)"
check "/metrics: phase building" grep -q "^1$" < <(series outbox_projector_rebuild_phase)
# projector.rebuild-workers (default 2): both workers of the group took partitions and applied
for w in 1 2; do
  check "/metrics: worker $w was assigned partitions" grep -qv "^0$" < <(series_of_worker outbox_projector_assigned_partitions "$w")
  check "/metrics: worker $w applied events to the shadow" grows < <(series_of_worker outbox_projector_events_applied_total "$w")
done
sleep 3 # arrivals after the swap too
touch "$TEST_TMP/stop_writer"; wait "$WRITER" || true
at_end=$(records)
say "records in the topics: $before before step 5, $at_swap at the swap, $at_end at the end"
check "records were produced after the swap" test "$at_end" -gt "$at_swap"
check "the daemon reaches the end in the twice-rebuilt schema" wait_sql "SELECT topic || ' ' || partition || ' ' || next_offset FROM projector_offsets WHERE projection = '$PROJ' ORDER BY 1" "$(end_offsets)" 180
check_eq "each effect applied once after the swap under load" 1 "$(q "SELECT max(applied) FROM effects")"
touch "$TEST_TMP/stop_reader"; wait "$READER" || true

# A clean build of the same topics into its own schema, by a second projection.
CLEAN=pt_${SFX}_c
proj_schema "$CLEAN"
proj_ini "$TEST_TMP/c.ini" "${PROJ}c" "$CLEAN"
proj_start "$TEST_TMP/c.ini" "$TEST_TMP/c.log"
QSCHEMA=$CLEAN check "the clean build reaches the end" wait_sql "SELECT count(*) FROM $CLEAN.effects" "$(q "SELECT count(*) FROM effects")" 120
sleep 1
check_eq "the swapped model equals a clean build" "$(model_digest "$CLEAN")" "$(model_digest "$SCHEMA")"
check_eq "... effects too" "$(QSCHEMA=$CLEAN q "SELECT md5(string_agg(event_id::text, ',' ORDER BY event_id)) FROM effects")" "$(q "SELECT md5(string_agg(event_id::text, ',' ORDER BY event_id)) FROM effects")"

# The reader's view: never empty, never an error, never backwards.
check "the reader read many times" test "$(wc -l <"$TEST_TMP/reads")" -gt 20
check_eq "the reader never failed (the schema was always there)" 0 "$(grep -c ERROR "$TEST_TMP/reads")"
check_eq "count and version sum never went backwards, never 0" "ok" "$(awk 'BEGIN{r="ok"} {if ($1 == 0 || $1 < c || $2 < v) r="backwards at line " NR ": " $0; c=$1; v=$2} END{print r}' "$TEST_TMP/reads")"

# The old models are kept until --drop-old.
olds() { psql_read -c "SELECT count(*) FROM pg_namespace WHERE nspname LIKE '${SCHEMA}\_\_old\_%'"; }
check_eq "the two old models are kept" 2 "$(olds)"
rc=0; "${REBUILD[@]}" --drop-old >"$TEST_TMP/drop.out" 2>&1 || rc=$?
check_eq "rebuild --drop-old succeeds" 0 "$rc"
check_eq "... and drops them" 0 "$(olds)"
check_eq "rebuild of an unknown projection fails" 1 "$("$PROJECTOR" rebuild nosuch -c "$TEST_TMP/r.ini" >/dev/null 2>&1; echo $?)"
kill -TERM "$PROJ_PID"; wait "$PROJ_PID" || true
finish
