# Helpers shared by the benchmark scripts (sourced, not run). Needs the stack's environment
# (eval "$(compose/stack env)") in the caller.

BENCH_PY=/usr/bin/python3 # Debian's python: it has confluent_kafka and avro
BENCH_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# bench_psql ARGS...: psql as the superuser of the application database, tuples only.
bench_psql() { psql -X -q -v ON_ERROR_STOP=1 -tA "$OUTBOX_PG_SUPER" "$@"; }

# bench_create_topic TOPIC: 3 partitions, broker append times (LogAppendTime), so the records'
# timestamps say when Kafka stored them.
bench_create_topic() {
  "$BENCH_PY" - "$OUTBOX_KAFKA" "$1" <<'PY'
import sys
from confluent_kafka.admin import AdminClient, NewTopic
a = AdminClient({"bootstrap.servers": sys.argv[1]})
f = a.create_topics([NewTopic(sys.argv[2], 3, 1, config={"message.timestamp.type": "LogAppendTime"})])
for t, fut in f.items():
    fut.result()
PY
}

# bench_delete_topics TOPIC...: best effort.
bench_delete_topics() {
  "$BENCH_PY" -c 'import sys; from confluent_kafka.admin import AdminClient; [f.result(30) for f in AdminClient({"bootstrap.servers": sys.argv[1]}).delete_topics(sys.argv[2:]).values()]' \
    "$OUTBOX_KAFKA" "$@" >/dev/null 2>&1 || true
}

# bench_fill_backlog AGGREGATE_TYPE ROWS: ROWS PostCreated outbox rows (~200-byte JSON
# payloads, 1000 aggregates) in one transaction.
bench_fill_backlog() {
  bench_psql -c "INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload)
    SELECT gen_random_uuid(), '$1', 'post-' || (g % 1000), 'PostCreated',
      jsonb_build_object('post_id', gen_random_uuid()::text, 'author_id', 'author-7',
        'author_name', 'Ada Lovelace', 'title', 'Post number ' || g,
        'body', 'A short body of text.', 'created_at', '2026-11-23T15:41:33.123Z')
    FROM generate_series(1, $2) g" >/dev/null
}

# bench_cpu_s PID: user + system CPU seconds the process used so far.
bench_cpu_s() { awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# bench_rss_kb PID: the process's peak resident set (VmHWM) in KiB.
bench_rss_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

# bench_relay_ini FILE SLOT TOPIC LEVEL [KEY=VALUE...]: the relay configuration the benchmarks
# run: the stack's relay role on slot SLOT (the caller creates it, at the position it wants),
# events to TOPIC (a template: pass ${aggregate_type} literally), log level LEVEL, the
# repository's schemas, metrics on a free port, and KEY=VALUE pairs as [relay] settings.
bench_relay_ini() {
  local file=$1 slot=$2 topic=$3 level=$4
  shift 4
  {
    printf '[postgres]\nconninfo = %s\nslot = %s\ncreate-publication = false\n' "$OUTBOX_PG_RELAY" "$slot"
    printf '[outbox]\ntopic = %s\n[avro]\nschema-dir = %s/schemas\n' "$topic" "$BENCH_REPO"
    if [ $# -gt 0 ]; then
      printf '[relay]\n'
      printf '%s\n' "${@/=/ = }"
    fi
    printf '[http]\nlisten = 127.0.0.1:0\n[log]\nlevel = %s\n[kafka]\nbootstrap.servers = %s\n' "$level" "$OUTBOX_KAFKA"
  } >"$file"
}
