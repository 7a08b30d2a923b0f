#!/usr/bin/env bash
# 10,000 distinct blog events plus 10% re-published duplicates (same event id and bytes, new
# offset; many land in the same batch as their original), in both wire formats (Confluent
# framing via the registry, Avro single-object encoding): every effect is applied exactly
# once (the mapped SQL bumps effects.applied), the read model matches what the events say, the
# stored offsets are Kafka's end offsets, and the metrics count what happened.
source "$(dirname "$0")/lib.sh"
source "$OUTBOX_SOURCE_DIR/tests/fixtures/projector/lib_projector.sh"
proj_setup

events_py produce --bootstrap "$OUTBOX_KAFKA" --prefix "$PREFIX" --events 10000 --dup-ratio 0.1 \
  --seed 11 --format mixed --registry "$OUTBOX_REGISTRY_URL" --expect "$TEST_TMP/expect.json" >"$TEST_TMP/produced.json"
say "produced $(cat "$TEST_TMP/produced.json")"

proj_ini "$TEST_TMP/p.ini"
started=$(date +%s.%N)
proj_start "$TEST_TMP/p.ini" "$TEST_TMP/p.log"
check "all 10,000 distinct events applied" wait_sql "SELECT count(*) FROM effects" 10000 120
elapsed=$(echo "$(date +%s.%N) - $started" | bc)
say "applied 11,000 records in ${elapsed}s (includes startup and group join)"
# Let the last duplicates (if any were behind) be consumed too.
check "stored offsets reach Kafka's end offsets" wait_sql \
  "SELECT string_agg(topic || ' ' || partition || ' ' || next_offset, E'\n' ORDER BY topic, partition) FROM projector_offsets WHERE projection = '$PROJ'" \
  "$(end_offsets)" 60

check_eq "no effect applied twice" "10000|10000|1" "$(q "SELECT count(*), sum(applied), max(applied) FROM effects")"
check_eq "one dedup row per distinct event" 10000 "$(q "SELECT count(*) FROM projector_dedup WHERE projection = '$PROJ'")"
exp=$TEST_TMP/expect.json
check_eq "posts as the events say" "$(json_get "$exp" '["posts"]')" "$(q "SELECT count(*) FROM posts")"
check_eq "comments as the events say" "$(json_get "$exp" '["comments"]')" "$(q "SELECT count(*) FROM comments")"
for s in pending approved rejected; do
  check_eq "comments $s" "$(json_get "$exp" "[\"status\"][\"$s\"]")" "$(q "SELECT count(*) FROM comments WHERE status = '$s'")"
done
check_eq "comment versions (events applied per comment)" "$(json_get "$exp" '["versions"]')" "$(q "SELECT sum(version) FROM comments")"
check_eq "metadata reaches the statement (\$5 topic, \$6 partition, \$7 offset, \$8 commit time)" 0 \
  "$(q "SELECT count(*) FROM effects WHERE topic NOT LIKE '$PREFIX.%' OR part NOT BETWEEN 0 AND 2 OR \"offset\" < 0 OR commit_time < '2026-01-01'")"
check_eq "nothing dead-lettered" 0 "$(q "SELECT count(*) FROM projector_dead_letters")"

port=$(sed -n 's/.*http on 127.0.0.1:\([0-9]*\).*/\1/p' "$TEST_TMP/p.log" | head -1)
curl -fsS "http://127.0.0.1:$port/metrics" >"$TEST_TMP/metrics.txt"
metric() { awk -v m="$1" '$1 == m {print $2}' "$TEST_TMP/metrics.txt"; }
check_eq "metrics: records consumed" 11000 "$(metric "outbox_projector_records_total{projection=\"$PROJ\"}")"
check_eq "metrics: events applied" 10000 "$(metric "outbox_projector_events_applied_total{projection=\"$PROJ\"}")"
check_eq "metrics: duplicates skipped" 1000 "$(metric "outbox_projector_events_duplicate_total{projection=\"$PROJ\"}")"
check_eq "healthz is ok" ok "$(curl -fsS "http://127.0.0.1:$port/healthz")"
id=$(q "SELECT event_id FROM effects ORDER BY event_id LIMIT 1")
check "GET /events/{applied id} answers 200 applied" \
  bash -c "curl -sS -o '$TEST_TMP/ev.json' -w '%{http_code}' 'http://127.0.0.1:$port/events/$id?projection=$PROJ' | grep -qx 200 && grep -q '\"status\":\"applied\"' '$TEST_TMP/ev.json'"
check_eq "GET /events/{unknown id} answers 202 pending" 202 \
  "$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/events/$(cat /proc/sys/kernel/random/uuid)?projection=$PROJ")"

kill -TERM "$PROJ_PID"
wait "$PROJ_PID"; rc=$?
check_eq "SIGTERM stops the daemon cleanly" 0 "$rc"
finish
