# Helpers for relay integration tests (source after lib.sh).
RELAY_BIN=$OUTBOX_BUILD_DIR/relay/outbox-relay
[ -x "$RELAY_BIN" ] || { echo "outbox-relay not built at $RELAY_BIN" >&2; exit 1; }
RUN_ID=$(rand_suffix)
SLOT=itest_${RUN_ID}
TOPIC_PREFIX=itest.${RUN_ID}
RELAY_LOG=$TEST_TMP/relay.log
RELAY_PID=

# relay_config [extra ini lines...]: writes $TEST_TMP/relay.ini for this test's slot and topics.
relay_config() {
  cat >"$TEST_TMP/relay.ini" <<INI
[postgres]
conninfo = $OUTBOX_PG_RELAY
slot = $SLOT
create-publication = false

[outbox]
topic = ${TOPIC_PREFIX}.\${aggregate_type}

[avro]
schema-dir = $OUTBOX_SOURCE_DIR/schemas

[relay]
status-interval = 1s
shutdown-timeout = 20s

[http]
listen = 127.0.0.1:0

[kafka]
bootstrap.servers = $OUTBOX_KAFKA
INI
  local line
  for line in "$@"; do printf '%s\n' "$line" >>"$TEST_TMP/relay.ini"; done
}

relay_start() {
  "$RELAY_BIN" -c "$TEST_TMP/relay.ini" "$@" >>"$RELAY_LOG" 2>&1 &
  RELAY_PID=$!
  cleanup_hooks+=("kill -9 $RELAY_PID 2>/dev/null")
  # Streaming once the slot is active.
  local i
  for i in $(seq 1 100); do
    if [ "$(psql_app -c "SELECT active FROM pg_replication_slots WHERE slot_name = '$SLOT'")" = t ]; then
      return 0
    fi
    kill -0 "$RELAY_PID" 2>/dev/null || { cat "$RELAY_LOG"; say "relay exited at start"; return 1; }
    sleep 0.2
  done
  cat "$RELAY_LOG"
  say "relay did not start streaming"
  return 1
}

# relay_stop: SIGTERM and wait; the exit status is left in RELAY_RC.
relay_stop() {
  kill -TERM "$RELAY_PID" 2>/dev/null || true
  RELAY_RC=0
  wait "$RELAY_PID" || RELAY_RC=$?
}

# commit_record_start BEFORE TABLE CONDITION: where the commit record of the transaction that
# wrote TABLE's row matching CONDITION starts, searched in the WAL from BEFORE on (needs
# pg_walinspect). A slot confirmed past it skips that transaction after a restart.
commit_record_start() {
  psql_app -c "CREATE EXTENSION IF NOT EXISTS pg_walinspect" >/dev/null
  psql_app -c "SELECT min(start_lsn) FROM pg_get_wal_records_info('$1', pg_current_wal_flush_lsn())
    WHERE resource_manager = 'Transaction' AND record_type = 'COMMIT'
    AND xid = (SELECT xmin FROM $2 WHERE $3)"
}

slot_confirmed() { psql_app -c "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '$SLOT'"; }
drop_slot() { psql_app -c "SELECT pg_drop_replication_slot('$SLOT') FROM pg_replication_slots WHERE slot_name = '$SLOT' AND NOT active" >/dev/null; }
cleanup_hooks+=("drop_slot")

# insert_events N AGGREGATES MAXTXN AGGTYPE: N PostCreated events over AGGREGATES aggregates in
# transactions of 1..MAXTXN rows; every row's headers carry test_seq, its order among all rows
# of that aggregate type (across calls).
insert_events() {
  "$PY" - "$@" <<'PY' | psql -X -q -v ON_ERROR_STOP=1 "$OUTBOX_PG_APP" >/dev/null
import random, sys
n, aggs, maxtxn, aggtype = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
seed = int(sys.argv[5]) if len(sys.argv) > 5 else 7
rnd = random.Random(seed)
done = 0
while done < n:
    k = min(rnd.randint(1, maxtxn), n - done)
    print("BEGIN;")
    print(f"""INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload, headers)
SELECT gen_random_uuid(), '{aggtype}', 'post-' || ((({done} + g) * 7919) % {aggs}), 'PostCreated',
  jsonb_build_object('post_id', gen_random_uuid()::text, 'author_id', 'author-' || (g % 13),
    'author_name', 'Ada Lovelace', 'title', 'Post number ' || ({done} + g),
    'body', repeat('lorem ipsum ', 8), 'tags', jsonb_build_array('c', 'outbox'),
    'metadata', jsonb_build_object('lang', 'en'), 'publish_date', '2026-11-23',
    'created_at', '2026-11-23T15:41:33.123Z'),
  jsonb_build_object('test_seq', (base.n + g)::text)
FROM generate_series(1, {k}) g,
     (SELECT count(*) AS n FROM outbox WHERE aggregate_type = '{aggtype}') base ORDER BY g;""")
    print("COMMIT;")
    done += k
PY
}

# The relay's metrics port, from its log line "metrics on http://127.0.0.1:PORT/metrics".
relay_metric() { # name (first sample)
  local port
  port=$(sed -n 's|.*metrics on http://127.0.0.1:\([0-9]*\)/metrics.*|\1|p' "$RELAY_LOG" | tail -1)
  curl -fsS -m 5 "http://127.0.0.1:$port/metrics" | awk -v n="$1" '$1 == n && !seen {print $2; seen = 1}'
}

# Records currently in a topic (sum of end offsets over partitions).
topic_count() { "$PY" "$OUTBOX_SOURCE_DIR/tests/integration/outbox_kafka.py" count "$1" 2>/dev/null || echo 0; }

# wait_topic_count TOPIC N [SECONDS [PID]]: poll until TOPIC holds N records (SECONDS*5 polls 0.2 s
# apart, default 30 s; give up early once process PID exits); on timeout say how many there were.
# Returns 0 either way: the check after it judges.
wait_topic_count() {
  local topic=$1 n=$2 secs=${3:-30} pid=${4:-} i
  for i in $(seq 1 $((secs * 5))); do
    [ "$(topic_count "$topic")" -ge "$n" ] && return 0
    [ -z "$pid" ] || kill -0 "$pid" 2>/dev/null || { say "process $pid exited while waiting for $n records on $topic ($(topic_count "$topic") there)"; return 0; }
    sleep 0.2
  done
  say "waited ${secs} s for $n records on $topic: $(topic_count "$topic") there"
}

# wait_relay_exit SECONDS: poll (0.2 s apart) until the relay ($RELAY_PID) exits, at most SECONDS.
wait_relay_exit() {
  local i
  for i in $(seq 1 $(($1 * 5))); do
    kill -0 "$RELAY_PID" 2>/dev/null || return 0
    sleep 0.2
  done
}

# slot_reaches LSN SECONDS [PID]: 0 once the slot is confirmed at or past LSN (polled 0.2 s apart,
# at most SECONDS; give up early once process PID exits), 1 if not.
slot_reaches() {
  local i
  for i in $(seq 1 $(($2 * 5))); do
    [ "$(psql_app -c "SELECT confirmed_flush_lsn >= '$1' FROM pg_replication_slots WHERE slot_name = '$SLOT'")" = t ] && return 0
    [ -z "${3:-}" ] || kill -0 "$3" 2>/dev/null || return 1
    sleep 0.2
  done
  return 1
}

# dump_topic TOPIC N TIMEOUT OUT [outbox_kafka.py dump options...]: read TOPIC (read_committed)
# into the JSON lines file OUT until N records or TIMEOUT seconds.
dump_topic() {
  "$PY" "$OUTBOX_SOURCE_DIR/tests/integration/outbox_kafka.py" dump --topics "$1" --expect "$2" \
    --timeout "$3" --out "$4" "${@:5}"
}

# dump_ids FILE: the id header of every record of a dump, in order, space-separated.
dump_ids() { "$PY" -c 'import json,sys; print(" ".join(json.loads(l)["headers"]["id"] for l in open(sys.argv[1])))' "$1"; }

# verify_dump FILE AGGTYPE [verify_relay.py options...]: every outbox row of AGGTYPE in the dump
# FILE, in order per aggregate (prints verify_relay.py's summary; exit 1 on failure).
verify_dump() {
  "$PY" "$OUTBOX_SOURCE_DIR/tests/integration/verify_relay.py" --dump "$1" --aggregate-type "$2" "${@:3}"
}

new_uuid() { cat /proc/sys/kernel/random/uuid; }

# dump_header FILE NAME: header NAME of the first record of an outbox_kafka.py dump.
dump_header() { "$PY" -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["headers"].get(sys.argv[2], ""))' "$1" "$2"; }

# ---- relay.exactly-once tests

# eos_start: start the relay and wait until it streams. The first transactional producer of a
# fresh broker waits for __transaction_state to be created (50 partitions: slow on a loaded
# box), hence the long wait.
eos_start() {
  "$RELAY_BIN" -c "$TEST_TMP/relay.ini" >>"$RELAY_LOG" 2>&1 &
  RELAY_PID=$!
  cleanup_hooks+=("kill -9 $RELAY_PID 2>/dev/null")
  local i
  for i in $(seq 1 600); do
    [ "$(psql_app -c "SELECT active FROM pg_replication_slots WHERE slot_name = '$SLOT'")" = t ] && return 0
    kill -0 "$RELAY_PID" 2>/dev/null || { tail -20 "$RELAY_LOG"; say "relay exited at start"; return 1; }
    sleep 0.2
  done
  tail -20 "$RELAY_LOG"
  say "relay did not start streaming within 120 s"
  return 1
}

# eos_writer AGGTYPE SEED: insert_events batches until $TEST_TMP/stop exists; mostly small
# transactions (1-60 rows), every fifth batch one large one (1,500 rows).
eos_writer() {
  local agg=$1 SEED=$2
  local n=0
  while [ ! -e "$TEST_TMP/stop" ]; do
    n=$((n + 1))
    if [ $((n % 5)) -eq 0 ]; then
      insert_events 1500 40 1500 "$agg" "$((SEED + n))"
    else
      insert_events 400 40 60 "$agg" "$((SEED + n))"
    fi
    sleep 0.1
  done
}

# eos_verify AGGTYPE TOPIC WHAT: once the writers stopped, wait until the slot confirms the last
# write (only after Kafka committed it), then read TOPIC with read_committed (outbox_kafka.py)
# and check every outbox row of AGGTYPE is there exactly once, in order per aggregate.
eos_verify() {
  local agg=$1 topic=$2 rows end_lsn out ok
  rows=$(psql_app -c "SELECT count(*) FROM outbox WHERE aggregate_type = '$agg'")
  end_lsn=$(psql_app -c "SELECT pg_current_wal_lsn()")
  say "writers stopped: $rows rows"
  slot_reaches "$end_lsn" 120 || true
  check_eq "the relay caught up $3 (slot confirmed past the last write)" t \
    "$(psql_app -c "SELECT confirmed_flush_lsn >= '$end_lsn' FROM pg_replication_slots WHERE slot_name = '$SLOT'")"
  dump_topic "$topic" "$rows" 120 "$TEST_TMP/dump.jsonl"
  out=$(verify_dump "$TEST_TMP/dump.jsonl" "$agg") && ok=yes || ok=no
  say "$out"
  check_eq "read_committed $3: every row exactly once (no duplicate, no gap), in order per aggregate" \
    yes "$ok"
}

# eos_keep_log NAME: on failure, keep the relay's log in the build's test-output directory.
eos_keep_log() {
  [ "$_failures" -gt 0 ] || return 0
  mkdir -p "$OUTBOX_BUILD_DIR/test-output"
  cp "$RELAY_LOG" "$OUTBOX_BUILD_DIR/test-output/$1.log"
  say "relay log kept in $OUTBOX_BUILD_DIR/test-output/$1.log"
}
