#!/usr/bin/env bash
# `outbox-moderation check` on a ready environment says so (exit 0) after reaching PostgreSQL
# (its tables, privileges and statement), Kafka (its topics) and the registry; on a broken one it
# names each problem with its fix and exits 3: a database that does not exist, a schema without
# the service's tables, a role without INSERT on the outbox, a topic that does not exist, a
# broker that does not answer. A bad configuration is exit 2, as for every command.
source "$(dirname "$0")/lib.sh"
MODERATION=$OUTBOX_BUILD_DIR/consumers/outbox-moderation
[ -x "$MODERATION" ] || { echo "missing $MODERATION: build first (OUTBOX_BUILD_DIR=$OUTBOX_BUILD_DIR)" >&2; exit 1; }
BEV=$OUTBOX_SOURCE_DIR/tests/fixtures/projector/blog_events.py

SFX=$(rand_suffix)
SCHEMA=mc_$SFX
EMPTY=mc_empty_$SFX
PREFIX=mctest.$SFX
sqlb() { PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 -tA "$OUTBOX_PG_SUPER" "$@"; }
teardown() {
  sqlb -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" -c "DROP SCHEMA IF EXISTS $EMPTY CASCADE" >/dev/null 2>&1 || true
  kafka_delete_prefixed_topics "$PREFIX"
}
cleanup_hooks+=("teardown")

# The service's tables in a schema of its own in `blog`, with its own outbox table; a second
# schema the role may use that has none of them.
sqlb -c "CREATE SCHEMA $SCHEMA" -c "SET search_path = $SCHEMA" \
  -c "CREATE TABLE outbox (id uuid PRIMARY KEY, aggregate_type text NOT NULL, aggregate_id text NOT NULL,
        event_type text NOT NULL, payload jsonb NOT NULL, headers jsonb, created_at timestamptz NOT NULL DEFAULT now())" \
  -f "$OUTBOX_SOURCE_DIR/sql/projector.sql" -f "$OUTBOX_SOURCE_DIR/sql/moderation.sql" >/dev/null
sqlb -c "CREATE SCHEMA $EMPTY" -c "GRANT USAGE ON SCHEMA $EMPTY TO outbox_moderation" >/dev/null
$PY "$BEV" create-topics --bootstrap "$OUTBOX_KAFKA" --prefix "$PREFIX"

conninfo() { echo "host=127.0.0.1 port=$OUTBOX_PG_PORT dbname=${2:-blog} user=outbox_moderation options='-c search_path=$1'"; }
cat >"$TEST_TMP/m.ini" <<EOF
[postgres]
conninfo = $(conninfo "$SCHEMA")

[consumer]
name = mc_$SFX
topics = $PREFIX.comment

[kafka]
bootstrap.servers = $OUTBOX_KAFKA

[avro]
schema-dir = $OUTBOX_SOURCE_DIR/schemas

[moderation]
outbox-table = $SCHEMA.outbox

[registry]
url = ${OUTBOX_REGISTRY_URL:-}
EOF
run_check() { # NAME ARGS... : output in $TEST_TMP/NAME.txt, exit status in $rc
  local name=$1; shift
  rc=0
  "$MODERATION" check -c "$TEST_TMP/m.ini" "$@" >"$TEST_TMP/$name.txt" 2>&1 || rc=$?
  say "check $name: exit $rc"
}
has() { grep -q -- "$1" "$TEST_TMP/$2.txt" || { say "not in $2.txt: $1"; cat "$TEST_TMP/$2.txt"; return 1; }; }
fix_after() { grep -A1 -- "$1" "$TEST_TMP/$3.txt" | grep -q -- "fix: $2" || { say "no fix '$2' after '$1' in $3.txt"; cat "$TEST_TMP/$3.txt"; return 1; }; }

check "--help lists check" bash -c "'$MODERATION' --help | grep -q '^  check  '"

run_check ready
check_eq "ready environment: exit 0" 0 "$rc"
check "it says ready" grep -qx "ready" "$TEST_TMP/ready.txt"
check "it reached PostgreSQL as the service's role" has "ok       connected to PostgreSQL 1[0-9]\.[0-9][0-9]* as outbox_moderation, database blog" ready
check "... the inbox table and its privileges" has "ok       table projector_dedup: role outbox_moderation may SELECT, INSERT, UPDATE, DELETE" ready
check "... INSERT on the outbox table" has "ok       table $SCHEMA.outbox: role outbox_moderation may INSERT" ready
check "... the decision statement" has "ok       the decision statement prepares" ready
check "it reached Kafka and the consumed topic" has "ok       topic $PREFIX.comment exists" ready
check "the dead-letter topic: created on first use by this broker" has "dead-letter topic $PREFIX.comment.dlq does not exist yet: the brokers create it" ready
if [ -n "${OUTBOX_REGISTRY_URL:-}" ]; then
  check "it reached the registry" has "ok       schema registry answers at" ready
fi

run_check nodb --set "postgres.conninfo=$(conninfo "$SCHEMA" "no_such_db_$SFX")"
check_eq "a database that does not exist: exit 3" 3 "$rc"
check "... is named" has "PROBLEM  cannot connect to PostgreSQL: .*no_such_db_$SFX" nodb
check "... with its fix" fix_after "PROBLEM  cannot connect to PostgreSQL" "check postgres.conninfo" nodb
check "... and the summary counts it" grep -qx "1 problem found" "$TEST_TMP/nodb.txt"

run_check empty --set "postgres.conninfo=$(conninfo "$EMPTY")"
check_eq "a schema without the service's tables: exit 3" 3 "$rc"
check "the missing inbox table is named" has "PROBLEM  table projector_dedup does not exist in database blog" empty
check "... with the fix" fix_after "PROBLEM  table projector_dedup does not exist" "apply sql/projector.sql" empty
check "the missing decisions table is named" fix_after "PROBLEM  table moderation_decisions does not exist" "apply sql/moderation.sql" empty

run_check notopic --set "consumer.topics=$PREFIX.nosuchtopic"
check_eq "a topic that does not exist: exit 3" 3 "$rc"
check "... is named" has "PROBLEM  topic $PREFIX.nosuchtopic does not exist" notopic
check "... with the command that creates it" fix_after "PROBLEM  topic $PREFIX.nosuchtopic does not exist" "create it (kafka-topics.sh --bootstrap-server $OUTBOX_KAFKA --create --topic $PREFIX.nosuchtopic" notopic

run_check nokafka --set kafka.bootstrap.servers=127.0.0.1:1 --set kafka.socket.connection.setup.timeout.ms=1000
check_eq "a broker that does not answer: exit 3" 3 "$rc"
check "... is named" has "PROBLEM  Kafka at 127.0.0.1:1 does not answer" nokafka
check "... with its fix" fix_after "PROBLEM  Kafka at 127.0.0.1:1 does not answer" "check kafka.bootstrap.servers" nokafka
check "PostgreSQL is still checked" has "ok       the decision statement prepares" nokafka

sqlb -c "REVOKE INSERT ON $SCHEMA.outbox FROM outbox_moderation" >/dev/null
run_check noinsert
check_eq "a role without INSERT on the outbox: exit 3" 3 "$rc"
check "... is named with the GRANT" fix_after "PROBLEM  role outbox_moderation lacks INSERT on table $SCHEMA.outbox" "GRANT INSERT ON $SCHEMA.outbox TO outbox_moderation" noinsert

run_check badconf --set "moderation.outbox-table=no such table"
check_eq "a bad configuration: exit 2" 2 "$rc"
check "... naming the key" has "moderation.outbox-table" badconf
finish
