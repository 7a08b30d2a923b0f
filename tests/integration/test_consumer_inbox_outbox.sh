#!/usr/bin/env bash
# Inbox + outbox exactly once: outbox-moderation (an outbox_consumer) receives CommentCreated
# events (both wire formats), 10% of them re-published (same id and bytes, new offset), mixed
# with CommentUpdated/CommentModerated events it must skip, and is killed with -9 while its
# batch transaction is open (blocked on a lock the test holds), then restarted. Afterwards:
# exactly one moderation_decisions row and exactly one CommentModerated outbox row per comment
# (handled = 1 everywhere), text mentioning oranges -> REJECTED with the reason, others
# APPROVED, payloads valid for schemas/CommentModerated.avsc, offsets stored at Kafka's end,
# and a permanent SQL error -> <topic>.dlq with the reason (and `outbox-projector wait` says so).
source "$(dirname "$0")/lib.sh"
MODERATION=$OUTBOX_BUILD_DIR/consumers/outbox-moderation
PROJECTOR=$OUTBOX_BUILD_DIR/projector/outbox-projector
[ -x "$MODERATION" ] || { echo "missing $MODERATION: build first (OUTBOX_BUILD_DIR=$OUTBOX_BUILD_DIR)" >&2; exit 1; }
CEV=$OUTBOX_SOURCE_DIR/tests/fixtures/consumers/comment_events.py
BEV=$OUTBOX_SOURCE_DIR/tests/fixtures/projector/blog_events.py

SFX=$(rand_suffix)
SCHEMA=mt_$SFX
PREFIX=ctest.$SFX
TOPIC=$PREFIX.comment
NAME=moderation_$SFX
APP=moder_$SFX
N=1500
sqlb() { PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 -tA "$OUTBOX_PG_SUPER" "$@"; }
q() { sqlb -c "SET search_path = $SCHEMA" -c "$1"; }
wait_q() { # SQL EXPECTED SECONDS
  local got="" i
  for ((i = 0; i < $3 * 5; i++)); do
    got=$(q "$1" 2>/dev/null || true)
    [ "$got" = "$2" ] && return 0
    sleep 0.2
  done
  say "timed out: [$1] = [$got], wanted [$2]"
  return 1
}
teardown() {
  local pid
  [ "$_failures" -eq 0 ] || { say "service log (tail):"; tail -n 30 "$TEST_TMP/m.log" || true; }
  for pid in ${MOD_PIDS[@]+"${MOD_PIDS[@]}"}; do kill -9 "$pid" 2>/dev/null || true; done
  [ "${KEEP_SCHEMA:-0}" = 1 ] && return 0
  sqlb -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
  kafka_delete_prefixed_topics "$PREFIX"
}
cleanup_hooks+=("teardown")

# The service's tables in a schema of its own in `blog`, with its own outbox table (the stack's
# relay, if one runs, publishes public.outbox only: nothing here reaches the demo's topics).
sqlb -c "CREATE SCHEMA $SCHEMA" -c "SET search_path = $SCHEMA" \
  -c "CREATE TABLE outbox (id uuid PRIMARY KEY, aggregate_type text NOT NULL, aggregate_id text NOT NULL,
        event_type text NOT NULL, payload jsonb NOT NULL, headers jsonb, created_at timestamptz NOT NULL DEFAULT now())" \
  -f "$OUTBOX_SOURCE_DIR/sql/projector.sql" -f "$OUTBOX_SOURCE_DIR/sql/moderation.sql" -f "$OUTBOX_SOURCE_DIR/sql/moderation.sql" >/dev/null
# A permanent error on demand: one poisoned post id violates a CHECK (SQLSTATE 23514).
POISON_POST=00000000-0000-4000-8000-00000000dead
q "ALTER TABLE moderation_decisions ADD CONSTRAINT no_poison CHECK (post_id <> '$POISON_POST')" >/dev/null
$PY "$BEV" create-topics --bootstrap "$OUTBOX_KAFKA" --prefix "$PREFIX"

cat >"$TEST_TMP/m.ini" <<EOF
[postgres]
conninfo = host=127.0.0.1 port=$OUTBOX_PG_PORT dbname=blog user=outbox_moderation application_name=$APP options='-c search_path=$SCHEMA'

[consumer]
name = $NAME
topics = $TOPIC
notify = moderation.$SFX
batch-size = 50
batch-linger = 20ms
retry-backoff-min = 50ms
retry-backoff-max = 1s

[registry]
url = ${OUTBOX_REGISTRY_URL:-}

[moderation]
outbox-table = $SCHEMA.outbox

[avro]
schema-dir = $OUTBOX_SOURCE_DIR/schemas

[http]
listen = 127.0.0.1:0

[kafka]
bootstrap.servers = $OUTBOX_KAFKA
session.timeout.ms = 6000
heartbeat.interval.ms = 1000
EOF
MOD_PIDS=()
mod_start() { "$MODERATION" -c "$TEST_TMP/m.ini" "$@" >>"$TEST_TMP/m.log" 2>&1 & MOD_PID=$!; MOD_PIDS+=("$MOD_PID"); }
produce() {
  $PY "$CEV" comments --bootstrap "$OUTBOX_KAFKA" --topic "$TOPIC" --count $N --orange-every 7 \
    --dup-ratio 0.1 --others 0.1 --seed 51 --format mixed --registry "$OUTBOX_REGISTRY_URL" \
    --expect "$TEST_TMP/expect.json" --from "$1" --to "$2" >/dev/null
}
in_txn() { q "SELECT count(*) FROM pg_stat_activity WHERE application_name = '$APP' AND xact_start IS NOT NULL AND ${1:-true}"; }

check "--help lists the moderation keys" bash -c "'$MODERATION' --help | grep -q moderation.outbox-table"
produce 0 600
mod_start
check "first decisions recorded" wait_q "SELECT count(*) > 200 FROM moderation_decisions" t 60

# kill -9 inside the batch transaction: the test holds a lock that blocks the decision insert.
psql -X -q "$OUTBOX_PG_SUPER application_name=locker_$SFX" -c "BEGIN" \
  -c "LOCK TABLE $SCHEMA.moderation_decisions IN SHARE ROW EXCLUSIVE MODE" -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
locker=$!
sleep 0.5
produce 600 1100
waiting=""
for _ in $(seq 1 150); do
  waiting=$(in_txn "wait_event_type = 'Lock'")
  [ "$waiting" = 1 ] && break
  sleep 0.2
done
check_eq "the service's batch transaction is open (dedup rows inserted) and blocked when killed" 1 "$waiting"
kill -9 "$MOD_PID" || true
wait "$MOD_PID" 2>/dev/null || true
sqlb -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'locker_$SFX'" >/dev/null
wait "$locker" 2>/dev/null || true
before=$(q "SELECT count(*) FROM moderation_decisions")
say "killed -9 mid-transaction with $before decisions committed"

mod_start
produce 1100 100000
# One poisoned comment (a permanent SQL error in the handler's statement).
poison_event=$(cat /proc/sys/kernel/random/uuid)
poison_comment=$(cat /proc/sys/kernel/random/uuid)
$PY "$CEV" one --bootstrap "$OUTBOX_KAFKA" --topic "$TOPIC" --type CommentCreated --id "$poison_event" \
  --aggregate-id "$poison_comment" --value "{\"post_id\": \"$POISON_POST\"}" >/dev/null

check "one decision per comment after the restart" wait_q "SELECT count(*) FROM moderation_decisions" "$N" 120
exp=$TEST_TMP/expect.json
expect() { $PY -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$exp" "$1"; }
records=$(expect records)
others=$(expect others)
end_offsets() {
  $PY - "$OUTBOX_KAFKA" "$TOPIC" <<'PY'
import sys
from confluent_kafka import Consumer, TopicPartition
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "offsets-probe"})
md = c.list_topics(sys.argv[2], timeout=10)
out = []
for p in sorted(md.topics[sys.argv[2]].partitions):
    lo, hi = c.get_watermark_offsets(TopicPartition(sys.argv[2], p), timeout=10)
    if hi > 0:
        out.append("%s %d %d" % (sys.argv[2], p, hi))
print("\n".join(out))
c.close()
PY
}
check "stored offsets reach Kafka's end offsets" wait_q \
  "SELECT string_agg(topic || ' ' || partition || ' ' || next_offset, E'\n' ORDER BY partition) FROM projector_offsets WHERE projection = '$NAME'" \
  "$(end_offsets)" 60

check_eq "exactly one decision per comment, none handled twice" "$N|$N|1" \
  "$(q "SELECT count(*), count(DISTINCT comment_id), max(handled) FROM moderation_decisions")"
check_eq "exactly one CommentModerated outbox row per comment" "$N|$N|$N" \
  "$(q "SELECT count(*), count(DISTINCT aggregate_id), count(*) FILTER (WHERE event_type = 'CommentModerated' AND aggregate_type = 'comment') FROM outbox")"
check_eq "each outbox row is its decision's event (id, key, causation)" "$N" \
  "$(q "SELECT count(*) FROM outbox o JOIN moderation_decisions d ON o.id = d.moderated_event_id AND o.aggregate_id = d.comment_id::text AND o.headers->>'causation_id' = d.source_event_id::text")"
check_eq "one dedup row per distinct event (comments + skipped others + the poisoned one's none)" \
  "$((N + others))" "$(q "SELECT count(*) FROM projector_dedup WHERE projection = '$NAME'")"

# Decisions as the texts say.
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); print("\n".join(sorted(d["rejected"])))' "$exp" >"$TEST_TMP/want_rejected"
q "SELECT comment_id FROM moderation_decisions WHERE decision = 'REJECTED' ORDER BY 1" >"$TEST_TMP/got_rejected"
check "comments mentioning oranges (any case) are REJECTED, the others APPROVED ($(wc -l <"$TEST_TMP/want_rejected") rejected)" \
  cmp -s "$TEST_TMP/want_rejected" "$TEST_TMP/got_rejected"
check_eq "rejections carry the reason, approvals none" "APPROVED||$((N - $(wc -l <"$TEST_TMP/want_rejected")))
REJECTED|mentions oranges|$(wc -l <"$TEST_TMP/want_rejected")" \
  "$(q "SELECT decision, coalesce(reason, ''), count(*) FROM moderation_decisions GROUP BY 1, 2 ORDER BY 1")"
check_eq "outbox payloads say the same" 0 \
  "$(q "SELECT count(*) FROM outbox o JOIN moderation_decisions d ON o.id = d.moderated_event_id WHERE o.payload->>'decision' IS DISTINCT FROM d.decision OR o.payload->>'reason' IS DISTINCT FROM d.reason OR o.payload->>'comment_id' <> d.comment_id::text OR o.payload->>'post_id' <> d.post_id::text OR o.payload->>'moderator' <> 'auto-moderator'")"

# Every payload encodes with the CommentModerated schema (what the relay will do).
q "SELECT payload FROM outbox" >"$TEST_TMP/payloads.jsonl"
valid=$($PY - "$OUTBOX_SOURCE_DIR/schemas/CommentModerated.avsc" "$TEST_TMP/payloads.jsonl" <<'PY'
import datetime, io, json, re, sys
import avro.io, avro.schema
schema = avro.schema.parse(open(sys.argv[1]).read())
bad = 0
for line in open(sys.argv[2]):
    v = json.loads(line)
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", v["moderated_at"]):
        bad += 1
        continue
    v["moderated_at"] = datetime.datetime.fromisoformat(v["moderated_at"].replace("Z", "+00:00"))
    try:
        avro.io.DatumWriter(schema).write(v, avro.io.BinaryEncoder(io.BytesIO()))
    except Exception:
        bad += 1
print(bad)
PY
)
check_eq "every CommentModerated payload is valid for the schema (RFC 3339 moderated_at)" 0 "$valid"

# The poisoned comment: dead-lettered with the reason, nothing written for it, later events on.
check "the poisoned CommentCreated is dead-lettered" wait_q \
  "SELECT sqlstate || ' ' || (reason LIKE '%no_poison%') FROM projector_dead_letters WHERE projection = '$NAME' AND event_id = '$poison_event'" "23514 true" 30
check_eq "... with no decision and no outbox row" "0|0" \
  "$(q "SELECT (SELECT count(*) FROM moderation_decisions WHERE comment_id = '$poison_comment'), (SELECT count(*) FROM outbox WHERE aggregate_id = '$poison_comment')")"
$PY "$OUTBOX_SOURCE_DIR/tests/fixtures/projector/read_topic.py" --bootstrap "$OUTBOX_KAFKA" --count 1 --idle 5 \
  "$TOPIC.dlq" >"$TEST_TMP/dlq.jsonl"
check "... to $TOPIC.dlq with the SQLSTATE and the reason in headers" \
  $PY -c 'import json,sys; h=json.loads(open(sys.argv[1]).readline())["headers"]; sys.exit(not (h.get("dlq.sqlstate") == "23514" and "no_poison" in h.get("dlq.reason", "") and h.get("id") == sys.argv[2]))' \
  "$TEST_TMP/dlq.jsonl" "$poison_event"
set +e
wait_out=$("$PROJECTOR" wait "$NAME" "$poison_event" --timeout 2s --channel "moderation.$SFX" \
  --set "postgres.conninfo=host=127.0.0.1 port=$OUTBOX_PG_PORT dbname=blog user=outbox_moderation options='-c search_path=$SCHEMA'")
wait_rc=$?
set -e
check_eq "outbox-projector wait on the consumer's name: the poisoned event failed (exit 1)" 1 "$wait_rc"
check "... with the reason ($wait_out)" grep -q "no_poison" <<<"$wait_out"

port=$(sed -n 's/.*http on 127.0.0.1:\([0-9]*\).*/\1/p' "$TEST_TMP/m.log" | tail -1)
curl -fsS "http://127.0.0.1:$port/metrics" >"$TEST_TMP/metrics.txt"
check "metrics count skipped event types (unmapped)" \
  awk -v n="outbox_projector_events_unmapped_total{projection=\"$NAME\"}" '$1 == n && $2 > 0 {f=1} END {exit !f}' "$TEST_TMP/metrics.txt"
check_eq "healthz is ok" ok "$(curl -fsS "http://127.0.0.1:$port/healthz")"
kill -TERM "$MOD_PID"
set +e; wait "$MOD_PID"; rc=$?; set -e
check_eq "SIGTERM stops the service cleanly" 0 "$rc"
check "it logged its tally" grep -q "approved [0-9]*, rejected [0-9]*" "$TEST_TMP/m.log"
say "records produced: $records (with duplicates and $others skipped events)"
finish
