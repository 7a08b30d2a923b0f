#!/usr/bin/env bash
# Two projector processes in one consumer group share the partitions; one is killed (-9) while
# records stream in: the other takes its partitions over at the stored offsets, and the final
# read model is right - every event applied once, the model identical to a clean run's.
source "$(dirname "$0")/lib.sh"
source "$OUTBOX_SOURCE_DIR/tests/fixtures/projector/lib_projector.sh"
proj_setup
proj_ini "$TEST_TMP/p.ini"
produce() { events_py produce --bootstrap "$OUTBOX_KAFKA" --prefix "$PREFIX" --events 6000 --dup-ratio 0.05 \
  --seed 41 --registry "$OUTBOX_REGISTRY_URL" --expect "$TEST_TMP/expect.json" --from "$1" --to "$2" >/dev/null; }
port_of() { sed -n 's/.*http on 127.0.0.1:\([0-9]*\).*/\1/p' "$1" | head -1; }
assigned() { # log -> partitions the process holds now (metrics)
  local port
  port=$(port_of "$1")
  [ -n "$port" ] || return 0
  { curl -fsS "http://127.0.0.1:$port/metrics" 2>/dev/null || true; } |
    awk '$1 ~ /^outbox_projector_assigned_partitions/ {print $2}'
}

produce 0 1500
proj_start "$TEST_TMP/p.ini" "$TEST_TMP/a.log" --set projector.batch-size=100
pid_a=$PROJ_PID
proj_start "$TEST_TMP/p.ini" "$TEST_TMP/b.log" --set projector.batch-size=100
pid_b=$PROJ_PID
split=""
for _ in $(seq 1 150); do
  a=$(assigned "$TEST_TMP/a.log"); b=$(assigned "$TEST_TMP/b.log")
  [ -n "$a" ] && [ -n "$b" ] && [ "$a" -gt 0 ] && [ "$b" -gt 0 ] && [ $((a + b)) -eq 6 ] && { split="$a+$b"; break; }
  sleep 0.2
done
check "the group splits the 6 partitions between both processes ($split)" test -n "$split"
produce 1500 3000
check "both apply their share" wait_sql "SELECT count(DISTINCT topic || part) = 6 AND count(*) > 2000 FROM effects" t 60

produce 3000 6300 &
producer=$!
sleep 0.3
kill -9 "$pid_a"
wait "$producer"
took=""
for _ in $(seq 1 200); do
  [ "$(assigned "$TEST_TMP/b.log")" = 6 ] && { took=yes; break; }
  sleep 0.2
done
check "the survivor holds all 6 partitions after the session timeout" test -n "$took"
distinct=$(json_get "$TEST_TMP/expect.json" '["events"]')
check "every distinct event applied" wait_sql "SELECT count(*) FROM effects" "$distinct" 120
check "stored offsets reach Kafka's end offsets" wait_sql \
  "SELECT string_agg(topic || ' ' || partition || ' ' || next_offset, E'\n' ORDER BY topic, partition) FROM projector_offsets WHERE projection = '$PROJ'" \
  "$(end_offsets)" 60
check_eq "no effect applied twice" 1 "$(q "SELECT max(applied) FROM effects")"
exp=$TEST_TMP/expect.json
for s in pending approved rejected; do
  check_eq "comments $s" "$(json_get "$exp" "[\"status\"][\"$s\"]")" "$(q "SELECT count(*) FROM comments WHERE status = '$s'")"
done
check_eq "comment versions as the events say" "$(json_get "$exp" '["versions"]')" "$(q "SELECT sum(version) FROM comments")"
check "the survivor logged the takeover" grep -q "rebalance: assigned 6 partition(s), holding 6\|holding 6" "$TEST_TMP/b.log"

REF=${SCHEMA}_ref
proj_schema "$REF"
proj_ini "$TEST_TMP/ref.ini" "${PROJ}ref" "$REF"
proj_start "$TEST_TMP/ref.ini" "$TEST_TMP/ref.log"
ref_pid=$PROJ_PID
for _ in $(seq 1 300); do [ "$(QSCHEMA=$REF q "SELECT count(*) FROM effects")" = "$distinct" ] && break; sleep 0.2; done
check_eq "read model identical to a clean single-process run's" "$(model_digest "$REF")" "$(model_digest)"
kill -TERM "$pid_b" "$ref_pid"
wait "$pid_b" "$ref_pid" 2>/dev/null || true
finish
