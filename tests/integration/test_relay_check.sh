#!/usr/bin/env bash
# `outbox-relay check` on a ready environment says so (exit 0); on a broken one it names every
# problem with its fix (exit 3); a bad configuration is exit 2 with the key named.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_lib.sh"

relay_config "[registry]" "url = $OUTBOX_REGISTRY_URL"
rc=0
"$RELAY_BIN" check -c "$TEST_TMP/relay.ini" >"$TEST_TMP/ok.txt" 2>&1 || rc=$?
cat "$TEST_TMP/ok.txt"
check_eq "ready environment: exit 0" 0 "$rc"
check "it says ready" grep -qx "ready" "$TEST_TMP/ok.txt"
check "it checked wal_level" grep -q "ok  *wal_level = logical" "$TEST_TMP/ok.txt"
check "it checked the registry" grep -q "schema registry answers" "$TEST_TMP/ok.txt"

# Broken: a publication that does not exist (and may not be created), a table that does not
# exist, Kafka on a closed port.
rc=0
"$RELAY_BIN" check -c "$TEST_TMP/relay.ini" --set postgres.publication=no_such_pub \
  --set postgres.table=public.no_such_table --set kafka.bootstrap.servers=127.0.0.1:1 \
  --set kafka.socket.connection.setup.timeout.ms=2000 >"$TEST_TMP/bad.txt" 2>&1 || rc=$?
cat "$TEST_TMP/bad.txt"
check_eq "broken environment: exit 3" 3 "$rc"
check "the missing publication is named with its fix" \
  grep -A1 -q "PROBLEM  publication no_such_pub does not exist" "$TEST_TMP/bad.txt"
check "the missing table is named" grep -q "PROBLEM  outbox table public.no_such_table does not exist" "$TEST_TMP/bad.txt"
check "Kafka unreachable is named with its fix" grep -A1 -q "PROBLEM  Kafka at 127.0.0.1:1 does not answer" "$TEST_TMP/bad.txt"
check "the problems are counted" grep -q "3 problems found" "$TEST_TMP/bad.txt"

# A status interval the walsender would not wait for.
"$RELAY_BIN" check -c "$TEST_TMP/relay.ini" --set relay.status-interval=40s >"$TEST_TMP/interval.txt" 2>&1 || true
check "a status interval beyond half of wal_sender_timeout is a problem" \
  grep -q "PROBLEM  relay.status-interval (40000 ms) is not well inside wal_sender_timeout" "$TEST_TMP/interval.txt"

# A role without REPLICATION.
rc=0
"$RELAY_BIN" check -c "$TEST_TMP/relay.ini" --set "postgres.conninfo=$OUTBOX_PG_APP" >"$TEST_TMP/role.txt" 2>&1 || rc=$?
check "a role without REPLICATION is named with its fix" grep -q "PROBLEM  role blog_app lacks the REPLICATION attribute" "$TEST_TMP/role.txt"

# Bad configuration: exit 2, naming the key.
rc=0
"$RELAY_BIN" check -c "$TEST_TMP/relay.ini" --set relay.status-interval=soon >"$TEST_TMP/conf.txt" 2>&1 || rc=$?
cat "$TEST_TMP/conf.txt"
check_eq "bad value: exit 2" 2 "$rc"
check "bad value names key and expected form" grep -q "relay.status-interval.*expected a duration" "$TEST_TMP/conf.txt"
rc=0
env -u OUTBOX_RELAY_KAFKA_BOOTSTRAP_SERVERS "$RELAY_BIN" check --set "postgres.conninfo=$OUTBOX_PG_RELAY" --set "avro.schema-dir=$OUTBOX_SOURCE_DIR/schemas" >"$TEST_TMP/nokafka.txt" 2>&1 || rc=$?
check_eq "no bootstrap servers: exit 2" 2 "$rc"
check "it says how to set them" grep -q "OUTBOX_RELAY_KAFKA_BOOTSTRAP_SERVERS" "$TEST_TMP/nokafka.txt"
finish
