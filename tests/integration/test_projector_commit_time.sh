#!/usr/bin/env bash
# An outbox.commit_time header that is not RFC 3339 (epoch milliseconds, as some other
# producers write it) never dead-letters an event: a mapping that does not use $8 applies it
# as usual, and one that does gets $8 NULL (as for an absent header); RFC 3339 headers still
# reach $8 exactly. Both projections read the same topics.
source "$(dirname "$0")/lib.sh"
source "$OUTBOX_SOURCE_DIR/tests/fixtures/projector/lib_projector.sh"
proj_setup
SCHEMA_B=${SCHEMA}_b
proj_schema "$SCHEMA_B"

events_py produce --bootstrap "$OUTBOX_KAFKA" --prefix "$PREFIX" --events 300 --seed 41 \
  --registry "$OUTBOX_REGISTRY_URL" --commit-time millis --expect "$TEST_TMP/millis.json" >/dev/null
events_py produce --bootstrap "$OUTBOX_KAFKA" --prefix "$PREFIX" --events 300 --seed 42 \
  --registry "$OUTBOX_REGISTRY_URL" --commit-time rfc3339 --expect "$TEST_TMP/rfc.json" >/dev/null
total=$(( $(json_get "$TEST_TMP/millis.json" '["events"]') + $(json_get "$TEST_TMP/rfc.json" '["events"]') ))

# A: the test template, whose statements store $8 in effects.commit_time.
proj_ini "$TEST_TMP/a.ini"
# B: the same statements without $8.
proj_ini "$TEST_TMP/b0.ini" "${PROJ}b" "$SCHEMA_B"
sed -e 's/, commit_time)/)/' -e 's/, \$8)/)/' "$TEST_TMP/b0.ini" >"$TEST_TMP/b.ini"
check "mapping B does not use \$8" bash -c "! grep -q '\\\$8' '$TEST_TMP/b.ini'"
proj_start "$TEST_TMP/a.ini" "$TEST_TMP/a.log"
pid_a=$PROJ_PID
proj_start "$TEST_TMP/b.ini" "$TEST_TMP/b.log"
pid_b=$PROJ_PID

check "A (uses \$8) applies all $total events" wait_sql "SELECT count(*) FROM effects" "$total" 120
wait_sql_b() { SCHEMA=$SCHEMA_B wait_sql "$@"; }
check "B (no \$8) applies all $total events" wait_sql_b "SELECT count(*) FROM effects" "$total" 120
check_eq "B: nothing dead-lettered" 0 "$(QSCHEMA=$SCHEMA_B q "SELECT count(*) FROM projector_dead_letters")"
check_eq "A: nothing dead-lettered" 0 "$(q "SELECT count(*) FROM projector_dead_letters")"
check_eq "B: comments as the events say" \
  "$(( $(json_get "$TEST_TMP/millis.json" '["comments"]') + $(json_get "$TEST_TMP/rfc.json" '["comments"]') ))" \
  "$(QSCHEMA=$SCHEMA_B q "SELECT count(*) FROM comments")"
check_eq "A: \$8 is NULL for the epoch-millis headers, set for the RFC 3339 ones" \
  "$(json_get "$TEST_TMP/millis.json" '["events"]')|$(json_get "$TEST_TMP/rfc.json" '["events"]')" \
  "$(q "SELECT count(*) FILTER (WHERE commit_time IS NULL), count(commit_time) FROM effects")"
# blog_events.py: commit time = 2026-01-01 UTC + seq * 1001 us; seq 1 is 00:00:00.001001.
check_eq "A: RFC 3339 headers reach \$8 to the microsecond" "1" \
  "$(q "SELECT count(*) FROM effects WHERE commit_time = '2026-01-01 00:00:00.001001+00'")"
check_eq "A: RFC 3339 commit times in range" 0 \
  "$(q "SELECT count(*) FROM effects WHERE commit_time < '2026-01-01' OR commit_time > '2026-01-02'")"
check_eq "A: one warning for the dropped headers" 1 "$(grep -c 'outbox.commit_time .* is not an RFC 3339' "$TEST_TMP/a.log")"
port=$(sed -n 's/.*http on 127.0.0.1:\([0-9]*\).*/\1/p' "$TEST_TMP/a.log" | head -1)
check_eq "A: metrics count the dropped headers" "$(json_get "$TEST_TMP/millis.json" '["events"]')" \
  "$(curl -fsS "http://127.0.0.1:$port/metrics" | awk -v m="outbox_projector_commit_time_ignored_total{projection=\"$PROJ\"}" '$1 == m {print $2}')"

check "no librdkafka warning about a [kafka] key of the other client kind" \
  bash -c "! grep -h CONFWARN '$TEST_TMP/a.log' '$TEST_TMP/b.log'"
kill -TERM "$pid_a" "$pid_b"
rc_a=0; wait "$pid_a" || rc_a=$?
rc_b=0; wait "$pid_b" || rc_b=$?
check_eq "both daemons stop cleanly" "0 0" "$rc_a $rc_b"
finish
