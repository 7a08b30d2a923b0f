#!/usr/bin/env bash
# Errors: a permanent SQL error (a CHECK violation, SQLSTATE 23514) and undecodable records go
# to <topic>.dlq with the reason in headers, are recorded in projector_dead_letters (GET
# /events/{id} answers 422 with the reason), and every later event is still applied. Then a
# PostgreSQL restart mid-run (a private cluster, so the shared stack is left alone): the
# projector rolls back, backs off, reconnects and retries; nothing is lost or applied twice.
source "$(dirname "$0")/lib.sh"
source "$OUTBOX_SOURCE_DIR/tests/fixtures/projector/lib_projector.sh"
proj_setup

# ---------------------------------------------------------------- dead letters
events_py produce --bootstrap "$OUTBOX_KAFKA" --prefix "$PREFIX" --events 3000 --dup-ratio 0 \
  --seed 31 --registry "$OUTBOX_REGISTRY_URL" --poison 3 --garbage 2 --expect "$TEST_TMP/expect.json" >/dev/null
proj_ini "$TEST_TMP/p.ini"
proj_start "$TEST_TMP/p.ini" "$TEST_TMP/p.log"
exp=$TEST_TMP/expect.json
alive=$(( $(json_get "$exp" '["events"]') - 3 ))
check "every event but the 3 poisoned ones applied" wait_sql "SELECT count(*) FROM effects" "$alive" 120
check "stored offsets reach Kafka's end offsets (past the dead letters)" wait_sql \
  "SELECT string_agg(topic || ' ' || partition || ' ' || next_offset, E'\n' ORDER BY topic, partition) FROM projector_offsets WHERE projection = '$PROJ'" \
  "$(end_offsets)" 60
check_eq "comments as the events say" "$(json_get "$exp" '["comments"]')" "$(q "SELECT count(*) FROM comments")"
check_eq "comment versions as the events say" "$(json_get "$exp" '["versions"]')" "$(q "SELECT sum(version) FROM comments")"
check_eq "no effect applied twice" 1 "$(q "SELECT max(applied) FROM effects")"
check_eq "dead-letter rows: 3 SQL errors (23514), 2 undecodable" "23514|3
none|2" "$(q "SELECT coalesce(sqlstate, 'none'), count(*) FROM projector_dead_letters WHERE projection = '$PROJ' GROUP BY 1 ORDER BY 1")"

$PY "$PROJ_FIXTURES/read_topic.py" --bootstrap "$OUTBOX_KAFKA" --count 5 --idle 5 \
  "$PREFIX.post.dlq" "$PREFIX.comment.dlq" >"$TEST_TMP/dlq.jsonl"
check_eq "5 records on the dead-letter topics" 5 "$(wc -l <"$TEST_TMP/dlq.jsonl")"
dlq_check=$($PY - "$TEST_TMP/dlq.jsonl" "$exp" "$PROJ" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
dead = set(json.load(open(sys.argv[2]))["dead_ids"])
problems = []
sql = [r for r in recs if r["headers"].get("dlq.sqlstate") == "23514"]
dec = [r for r in recs if "dlq.sqlstate" not in r["headers"]]
if {r["headers"].get("id") for r in sql} != dead:
    problems.append("poisoned ids differ: %s" % [r["headers"].get("id") for r in sql])
for r in sql:
    h = r["headers"]
    if "comments_no_poison" not in h.get("dlq.reason", ""): problems.append("reason: %r" % h.get("dlq.reason"))
    if h.get("dlq.original.topic") + ".dlq" != r["topic"]: problems.append("original topic")
    if not h.get("dlq.original.offset", "").isdigit(): problems.append("original offset")
    if h.get("event_type") != "CommentCreated" or h.get("dlq.projection") != sys.argv[3]: problems.append("headers %r" % h)
    if not r["value_hex"]: problems.append("value missing")
for r in dec:
    if "framing" not in r["headers"].get("dlq.reason", ""): problems.append("decode reason: %r" % r["headers"])
    if r["value_hex"] != b"\x07not avro at all".hex(): problems.append("garbage value not kept")
print("ok" if not problems and len(sql) == 3 and len(dec) == 2 else "; ".join(problems) or "counts %d %d" % (len(sql), len(dec)))
PY
)
check_eq "dead letters carry reason, sqlstate, origin, original headers and bytes" ok "$dlq_check"

port=$(sed -n 's/.*http on 127.0.0.1:\([0-9]*\).*/\1/p' "$TEST_TMP/p.log" | head -1)
dead_id=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["dead_ids"][0])' "$exp")
code=$(curl -sS -o "$TEST_TMP/ev.json" -w '%{http_code}' "http://127.0.0.1:$port/events/$dead_id?projection=$PROJ")
check_eq "GET /events/{poisoned id} answers 422" 422 "$code"
check "... with the reason and SQLSTATE" grep -q '"sqlstate":"23514".*comments_no_poison\|comments_no_poison.*"sqlstate":"23514"' "$TEST_TMP/ev.json"
rfc3339='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$'
at=$(json_get "$TEST_TMP/ev.json" '["failed_at"]')
check "... failed_at an RFC 3339 UTC time ($at)" grep -Eq "$rfc3339" <<<"$at"
applied_id=$(q "SELECT event_id FROM projector_dedup WHERE projection = '$PROJ' LIMIT 1")
curl -fsS "http://127.0.0.1:$port/events/$applied_id?projection=$PROJ" >"$TEST_TMP/ev2.json"
at=$(json_get "$TEST_TMP/ev2.json" '["applied_at"]')
check "GET /events/{applied id}: applied_at an RFC 3339 UTC time ($at)" grep -Eq "$rfc3339" <<<"$at"
curl -fsS "http://127.0.0.1:$port/metrics" >"$TEST_TMP/metrics.txt"
check_eq "metrics: dead letters by reason" "2 3" \
  "$(awk -v p="$PROJ" '$1 ~ "^outbox_projector_dead_letters_total" && $1 ~ p {print $2}' "$TEST_TMP/metrics.txt" | sort | tr '\n' ' ' | sed 's/ $//')"
kill -TERM "$PROJ_PID"; wait "$PROJ_PID" || true

# ---------------------------------------------------------------- PostgreSQL restarted mid-run
PGB=/usr/lib/postgresql/15/bin
as_pg() { if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi; }
pgdir=$(mktemp -d /tmp/projector-pg.XXXXXX)
chmod 755 "$pgdir"
[ "$(id -u)" -eq 0 ] && chown postgres: "$pgdir"
pgport=$((56000 + RANDOM % 2000))
as_pg "$PGB/initdb" -D "$pgdir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
pg_opts="-p $pgport -k $pgdir -c listen_addresses=127.0.0.1 -c fsync=off"
as_pg "$PGB/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" -o "$pg_opts" -w start >/dev/null
cleanup_hooks+=("as_pg $PGB/pg_ctl -D $pgdir/data -m immediate stop >/dev/null 2>&1; rm -rf $pgdir")
PRIV="host=127.0.0.1 port=$pgport user=postgres dbname=postgres"
PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 "$PRIV" -f "$OUTBOX_SOURCE_DIR/sql/roles.sql" -f "$OUTBOX_SOURCE_DIR/sql/projector.sql" \
  -f "$OUTBOX_SOURCE_DIR/sql/readmodel_blog.sql" -f "$PROJ_FIXTURES/test_model.sql" >/dev/null
qp() { psql -X -q -tA "$PRIV" -c "$1" 2>/dev/null; }

PREFIX2=$PREFIX.r
events_py create-topics --bootstrap "$OUTBOX_KAFKA" --prefix "$PREFIX2"
prod2() { events_py produce --bootstrap "$OUTBOX_KAFKA" --prefix "$PREFIX2" --events 4000 --dup-ratio 0.05 \
  --seed 32 --format single --expect "$TEST_TMP/expect2.json" --from "$1" --to "$2" >/dev/null; }
sed -e "s|^topics = .*|topics = $PREFIX2.post, $PREFIX2.comment|" -e "s|^database = .*|database = $PRIV|" \
  "$TEST_TMP/p.ini" >"$TEST_TMP/r.ini"
prod2 0 1500
proj_start "$TEST_TMP/r.ini" "$TEST_TMP/r.log" --set projector.batch-size=100
for _ in $(seq 1 300); do [ "$(qp "SELECT count(*) > 500 FROM effects")" = t ] && break; sleep 0.2; done
prod2 1500 4200 &
producer=$!
as_pg "$PGB/pg_ctl" -D "$pgdir/data" -m fast -w stop >/dev/null
during=$(qp "SELECT 1" || echo down)
sleep 3
as_pg "$PGB/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" -o "$pg_opts" -w start >/dev/null
wait "$producer"
check_eq "PostgreSQL was down for 3 s mid-run" down "$during"
total2=$(json_get "$TEST_TMP/expect2.json" '["events"]')
got=""
for _ in $(seq 1 600); do got=$(qp "SELECT count(*) FROM effects"); [ "$got" = "$total2" ] && break; sleep 0.2; done
check_eq "after the restart every event is applied" "$total2" "$got"
check_eq "... none twice" 1 "$(qp "SELECT max(applied) FROM effects")"
check_eq "... comments as the events say" "$(json_get "$TEST_TMP/expect2.json" '["versions"]')" "$(qp "SELECT sum(version) FROM comments")"
check "the projector logged the rollback and retried" grep -q "rolled back\|retrying" "$TEST_TMP/r.log"
port=$(sed -n 's/.*http on 127.0.0.1:\([0-9]*\).*/\1/p' "$TEST_TMP/r.log" | head -1)
retries=$(curl -fsS "http://127.0.0.1:$port/metrics" | awk '$1 ~ /^outbox_projector_batch_retries_total.*transient/ {print $2}')
check "metrics count the transient retries ($retries)" test "${retries:-0}" -ge 1
check_eq "healthz is ok again" ok "$(curl -sS "http://127.0.0.1:$port/healthz")"
kill -TERM "$PROJ_PID"; wait "$PROJ_PID" || true
finish
