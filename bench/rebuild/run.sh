#!/usr/bin/env bash
# bench/rebuild/run.sh [EVENTS (1000000)] [BATCH (5000)] [WORKERS (2)]: events/s of
# `outbox-projector rebuild` (the real command: shadow schema, runners, progress, swap) over
# EVENTS PostCreated events in a 3-partition topic with a set-based mapping
# (sqlset.PostCreated), and the time that rate gives for 10M (the goal: 120 s).
# Baseline, same run, same topic: the rebuild with ONE worker (projector.rebuild-workers = 1),
# into its own schema; then WORKERS workers; the ratio is WORKERS' rate / one worker's.
# (bench/projector/ceiling.sh measures what the SQL alone allows on the box.)
# Needs the stack and a build:  compose/stack up; cmake -S . -B build -G Ninja && cmake --build build
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${OUTBOX_BUILD_DIR:-$root/build}
eval "$("$root/compose/stack" env)"
. "$root/bench/common.sh"
events=${1:-1000000}
batch=${2:-5000}
workers=${3:-2}
for n in "$events" "$batch" "$workers"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "usage: bench/rebuild/run.sh [EVENTS] [BATCH] [WORKERS] (positive numbers; got '$n')" >&2; exit 2; }
done
tag=$$_$(date +%s)
schema=bench_rebuild_$tag
topic=bench.rebuild.$tag
tmp=$(mktemp -d)
psql_s() { PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 -tA "$OUTBOX_PG_READ_SUPER" "$@"; }
cleanup() {
  psql_s -c "SELECT format('DROP SCHEMA %I CASCADE', nspname) FROM pg_namespace WHERE nspname LIKE '$schema%'" -c '\gexec' >/dev/null 2>&1 || true
  bench_delete_topics "$topic"
  rm -rf "$tmp"
}
trap cleanup EXIT

"$build/bench/projector/bench_projector" produce "$topic" "$events"
cat >"$tmp/model.sql" <<'SQL'
CREATE TABLE posts (post_id uuid PRIMARY KEY, author_id text NOT NULL, author_name text NOT NULL,
  title text NOT NULL, body text NOT NULL, tags text[] NOT NULL, created_at timestamptz NOT NULL,
  event_id uuid NOT NULL);
SQL
# rebuild_once SUFFIX WORKERS: a fresh schema and projection, the whole rebuild, its rate.
rebuild_once() {
  psql_s -c "CREATE SCHEMA $schema$1" -c "SET search_path = $schema$1" -f "$root/sql/projector.sql" -f "$tmp/model.sql" >/dev/null
  cat >"$tmp/bench$1.ini" <<INI
[avro]
schema-dir = $root/schemas
[projector]
batch-size = $batch
batch-linger = 200ms
dedup-retention = 0
rebuild-workers = $2
[http]
listen = off
[log]
level = warn
[kafka]
bootstrap.servers = $OUTBOX_KAFKA
fetch.max.bytes = 52428800
[projection benchrb$1]
topics = $topic
database = $OUTBOX_PG_READ_SUPER options='-c search_path=$schema$1'
ddl = $tmp/model.sql
sqlset.PostCreated = INSERT INTO posts (post_id, author_id, author_name, title, body, tags, created_at, event_id)
    SELECT (e->'event'->>'post_id')::uuid, e->'event'->>'author_id', e->'event'->>'author_name',
      e->'event'->>'title', e->'event'->>'body', ARRAY(SELECT jsonb_array_elements_text(e->'event'->'tags')),
      (e->'event'->>'created_at')::timestamptz, (e->>'id')::uuid
    FROM jsonb_array_elements(\$1) AS e
    ON CONFLICT (post_id) DO UPDATE SET title = EXCLUDED.title, body = EXCLUDED.body, event_id = EXCLUDED.event_id
INI
  t0=$(date +%s.%N)
  "$build/projector/outbox-projector" rebuild "benchrb$1" -c "$tmp/bench$1.ini" | tail -3
  t1=$(date +%s.%N)
  rows=$(psql_s -c "SELECT count(*) FROM $schema$1.posts")
  awk -v n="$events" -v rows="$rows" -v t0="$t0" -v t1="$t1" -v b="$batch" -v w="$2" 'BEGIN {
    s = t1 - t0; r = n / s;
    printf "rebuild: %d events (%d rows in the swapped model) in %.1f s, batches of %d, %d worker(s): %.0f events/s; 10M at this rate: %.0f s (goal: 120 s)\n", n, rows, s, b, w, r, 10000000 / r;
    printf "RESULT events=%d workers=%d seconds=%.1f events_per_s=%.0f projected_10m_s=%.0f\n", n, w, s, r, 10000000 / r }'
}
rebuild_once _1 1 | tee "$tmp/one"
rebuild_once _n "$workers" | tee "$tmp/many"
one=$(sed -n 's/^RESULT .*events_per_s=\([0-9]*\).*/\1/p' "$tmp/one")
many=$(sed -n 's/^RESULT .*events_per_s=\([0-9]*\).*/\1/p' "$tmp/many")
awk -v a="$one" -v b="$many" -v w="$workers" 'BEGIN { printf "RATIO %d workers / 1 worker: %.2f (%d vs %d events/s)\n", w, b / a, b, a }'
