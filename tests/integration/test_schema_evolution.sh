#!/usr/bin/env bash
# Schemas as a contract, on the real stack (issue 11):
# 1. CommentCreated evolves v1 -> v2 (language, revision int, visibility enum added with
#    defaults) -> v3 (author_name removed, revision widened to long, enum symbol MEMBERS added
#    with an enum default) while events of every version sit in one topic; a projection with
#    the v3 reader schema rebuilds the same read model as one fed only v3 events of the same
#    comments. Without the reader schema the old events keep their writer's shape (NULLs).
# 2. Incompatible changes are refused by `outbox-relay schemas` and `check`, against the
#    registry's subjects (BACKWARD: a field added without default; FORWARD: a field without
#    default removed) and against a schema-history directory.
# 3. The relay registers under registry.compatibility; the registry's 409 stops it with that
#    message and nothing is published.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_lib.sh"
PROJECTOR=$OUTBOX_BUILD_DIR/projector/outbox-projector
EVO=$OUTBOX_SOURCE_DIR/tests/fixtures/evolution
N=90

psql_read() { PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 -tA "$OUTBOX_PG_READ_SUPER" "$@"; }
agg=evo$RUN_ID
mixed=$TOPIC_PREFIX.$agg
newest=$TOPIC_PREFIX.evonew$RUN_ID
subject=$mixed-blog.events.CommentCreated
# The subjects go too: `check` in later tests compares schemas/ with every subject there.
delete_subjects() {
  local s
  for s in "$subject" "$newest-blog.events.CommentCreated"; do
    curl -fsS -m 10 -X DELETE "$OUTBOX_REGISTRY_URL/subjects/$s" >/dev/null 2>&1 || true
    curl -fsS -m 10 -X DELETE "$OUTBOX_REGISTRY_URL/subjects/$s?permanent=true" >/dev/null 2>&1 || true
  done
}
cleanup_hooks+=("delete_subjects")
registry_put() { curl -fsS -m 10 -X PUT -H 'Content-Type: application/vnd.schemaregistry.v1+json' -d "$2" "$OUTBOX_REGISTRY_URL$1" >/dev/null; }

# ---- 1. every version in the topic, read as the newest --------------------------------------
"$PY" "$EVO/produce.py" --bootstrap "$OUTBOX_KAFKA" --registry "$OUTBOX_REGISTRY_URL" \
  --mixed "$mixed" --newest "$newest" --events $N --expect "$TEST_TMP/expect.json"
delete_topics() {
  "$PY" - "$OUTBOX_KAFKA" "$mixed" "$newest" <<'PY'
import sys
from confluent_kafka.admin import AdminClient
for f in AdminClient({"bootstrap.servers": sys.argv[1]}).delete_topics(sys.argv[2:]).values():
    try: f.result(30)
    except Exception: pass
PY
}
cleanup_hooks+=("delete_topics")

for s in evo_a_$RUN_ID evo_b_$RUN_ID evo_c_$RUN_ID; do
  psql_read -c "CREATE SCHEMA $s" -c "SET search_path = $s" -f "$OUTBOX_SOURCE_DIR/sql/projector.sql" \
    -c "CREATE TABLE comments (comment_id uuid PRIMARY KEY, post_id uuid, author_id text,
          text text, language text, revision bigint, visibility text, created_at timestamptz)" \
    -c "GRANT USAGE ON SCHEMA $s TO outbox_projector" \
    -c "GRANT ALL ON ALL TABLES IN SCHEMA $s TO outbox_projector" >/dev/null
  cleanup_hooks+=("psql_read -c 'DROP SCHEMA IF EXISTS $s CASCADE' >/dev/null 2>&1")
done
projection() { # name schema topic [reader dir]
  cat <<INI
[projection $1]
topics = $3
database = $OUTBOX_PG_READ options='-c search_path=$2'
group = evo.$1
${4:+reader-schemas = $4}
sql.CommentCreated = INSERT INTO comments SELECT (\$1->>'comment_id')::uuid, (\$1->>'post_id')::uuid,
    \$1->>'author_id', \$1->>'text', \$1->>'language', (\$1->>'revision')::bigint,
    \$1->>'visibility', (\$1->>'created_at')::timestamptz ON CONFLICT (comment_id) DO NOTHING
INI
}
{
  printf '[avro]\nschema-dir = %s\n[registry]\nurl = %s\n[kafka]\nbootstrap.servers = %s\n' \
    "$OUTBOX_SOURCE_DIR/schemas" "$OUTBOX_REGISTRY_URL" "$OUTBOX_KAFKA"
  projection evoa$RUN_ID evo_a_$RUN_ID "$mixed" "$EVO/v3"
  projection evob$RUN_ID evo_b_$RUN_ID "$newest" "$EVO/v3"
  projection evoc$RUN_ID evo_c_$RUN_ID "$mixed"
} >"$TEST_TMP/projector.ini"
"$PROJECTOR" -c "$TEST_TMP/projector.ini" --set http.listen=off >"$TEST_TMP/projector.log" 2>&1 &
ppid=$!
cleanup_hooks+=("kill -9 $ppid 2>/dev/null")
count() { psql_read -c "SELECT count(*) FROM $1.comments"; }
for i in $(seq 1 300); do
  [ "$(count evo_a_$RUN_ID)$(count evo_b_$RUN_ID)$(count evo_c_$RUN_ID)" = "$N$N$N" ] && break
  sleep 0.2
done
kill -TERM $ppid; wait $ppid || true
check_eq "the reader-schema projection applied every event of every version" "$N" "$(count evo_a_$RUN_ID)"
check_eq "the new-events projection applied them all" "$N" "$(count evo_b_$RUN_ID)"
digest() { psql_read -c "SELECT md5(string_agg(c::text, E'\n' ORDER BY comment_id)) FROM $1.comments c"; }
check_eq "v1+v2+v3 events read as v3 build the same read model as v3 events only" \
  "$(digest evo_b_$RUN_ID)" "$(digest evo_a_$RUN_ID)"
check_eq "... which is what a v3 reader must see (defaults, widened revision)" "$N" \
  "$(psql_read -c "SELECT count(*) FROM evo_a_$RUN_ID.comments c JOIN json_populate_recordset(NULL::evo_a_$RUN_ID.comments,
       '$(cat "$TEST_TMP/expect.json")') e USING (comment_id)
       WHERE (c.language, c.revision, c.visibility) IS NOT DISTINCT FROM (e.language, e.revision, e.visibility)")"
check_eq "without the reader schema the v1 events keep their shape (no language)" "$((N / 3))" \
  "$(psql_read -c "SELECT count(*) FROM evo_c_$RUN_ID.comments WHERE language IS NULL")"
check "no event was dead-lettered" test "$(psql_read -c "SELECT count(*) FROM evo_a_$RUN_ID.projector_dead_letters")" = 0

# ---- 2. incompatible changes refused before deploy ------------------------------------------
relay_config
schemas_cmd() { "$RELAY_BIN" schemas -c "$TEST_TMP/relay.ini" --set registry.url="$OUTBOX_REGISTRY_URL" "$@"; }
rc=0; schemas_cmd --set avro.schema-dir="$EVO/v3" >"$TEST_TMP/ok.out" 2>&1 || rc=$?
check_eq "schemas: v3 is compatible with the subject (exit 0)" 0 "$rc"
check "... and says so for the subject" grep -q "CommentCreated.avsc is compatible with subject $subject version 3 (BACKWARD)" "$TEST_TMP/ok.out"
rc=0; schemas_cmd --set avro.schema-dir="$EVO/refused_backward" >"$TEST_TMP/bw.out" 2>&1 || rc=$?
check_eq "schemas: a field added without default is refused under BACKWARD (exit 3)" 3 "$rc"
check "... naming the subject, the rule and the field" grep -q \
  "CommentCreated.avsc is incompatible with subject $subject version 3: BACKWARD: the new schema cannot read data written with this version: CommentCreated.mood: reader field (string) has no default" \
  "$TEST_TMP/bw.out"
registry_put "/config/$subject" '{"compatibility": "FORWARD"}'
rc=0; schemas_cmd --set avro.schema-dir="$EVO/refused_forward" >"$TEST_TMP/fw.out" 2>&1 || rc=$?
check_eq "schemas: a field without default removed is refused under FORWARD (exit 3)" 3 "$rc"
check "... naming the field" grep -q "FORWARD: readers of this version cannot read data written with the new schema: CommentCreated.author_id" "$TEST_TMP/fw.out"
registry_put "/config/$subject" '{"compatibility": "BACKWARD"}'
rc=0; "$RELAY_BIN" check -c "$TEST_TMP/relay.ini" --set registry.url="$OUTBOX_REGISTRY_URL" \
  --set avro.schema-dir="$EVO/refused_backward" >"$TEST_TMP/check.out" 2>&1 || rc=$?
check_eq "check finds the incompatible schema (exit 3)" 3 "$rc"
check "... with the same reason" grep -q "PROBLEM  CommentCreated.avsc is incompatible with subject $subject version 3: BACKWARD" "$TEST_TMP/check.out"

mkdir -p "$TEST_TMP/history/CommentCreated"
cp "$OUTBOX_SOURCE_DIR/schemas/CommentCreated.avsc" "$TEST_TMP/history/CommentCreated/1.avsc"
cp "$EVO/v2/CommentCreated.avsc" "$TEST_TMP/history/CommentCreated/2.avsc"
hist() { "$RELAY_BIN" schemas -c "$TEST_TMP/relay.ini" --set avro.schema-history="$TEST_TMP/history" "$@"; }
rc=0; hist --set avro.schema-dir="$EVO/v3" >"$TEST_TMP/h1.out" 2>&1 || rc=$?
check_eq "without a registry: v3 is compatible with the history (exit 0)" 0 "$rc"
rc=0; hist --set avro.schema-dir="$EVO/refused_backward" >"$TEST_TMP/h2.out" 2>&1 || rc=$?
check_eq "without a registry: the BACKWARD break is refused (exit 3)" 3 "$rc"
check "... naming the history file and the field" grep -q "incompatible with history $TEST_TMP/history/CommentCreated/2.avsc: BACKWARD: .*CommentCreated.mood" "$TEST_TMP/h2.out"

# ---- 3. the relay: the registry's 409 stops it before publishing ----------------------------
before=$(topic_count "$mixed")
relay_config
relay_start --set avro.schema-dir="$EVO/refused_backward" --set registry.url="$OUTBOX_REGISTRY_URL"
psql -X -q -v ON_ERROR_STOP=1 "$OUTBOX_PG_APP" -c "INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload)
  VALUES (gen_random_uuid(), '$agg', 'c1', 'CommentCreated', jsonb_build_object('comment_id', gen_random_uuid(),
  'post_id', gen_random_uuid(), 'author_id', 'a', 'author_name', 'A', 'text', 't', 'created_at', 0, 'mood', 'happy'))"
wait_relay_exit 30
RELAY_RC=0; kill -0 "$RELAY_PID" 2>/dev/null && relay_stop || wait "$RELAY_PID" || RELAY_RC=$?
check_eq "the relay stops with exit status 1 on the registry's refusal" 1 "$RELAY_RC"
check "... with the registry's message, the subject and the level" grep -q \
  "the registry refuses blog.events.CommentCreated under subject $subject (compatibility BACKWARD): .*409" "$RELAY_LOG"
check_eq "nothing was published to the topic" "$before" "$(topic_count "$mixed")"
finish
