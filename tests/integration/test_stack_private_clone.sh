#!/usr/bin/env bash
# The README's commands work from a clone the postgres user cannot enter: the usual place on a
# fresh Debian machine is a clone under /root (mode 0700). A copy of the tree in a 0700
# directory brings its own stack up (own state and ports), loads the SQL, answers queries and
# goes down again.
source "$(dirname "$0")/lib.sh"

clone=$(mktemp -d /tmp/outbox-private-clone.XXXXXX)
chmod 700 "$clone"
(cd "$OUTBOX_SOURCE_DIR" && git ls-files -z | xargs -0 tar -cf - ) | tar -xf - -C "$clone"
if [ "$(id -u)" -eq 0 ]; then
  check "the postgres user cannot enter the clone (as under /root)" \
    bash -c "! runuser -u postgres -- test -x '$clone'"
fi

# A stack of its own: ports away from the test stack's, no registry (Kafka and PostgreSQL are
# what touches the clone's files), the jars from the cache the test stack already uses.
export OUTBOX_STATE_DIR=$clone/.state
export OUTBOX_CACHE_DIR=${OUTBOX_CACHE_DIR:-$OUTBOX_SOURCE_DIR/.cache}
export OUTBOX_PG_PORT=$((OUTBOX_PG_PORT + 100))
export OUTBOX_KAFKA_PORT=$((${OUTBOX_KAFKA_PORT:-19092} + 100))
export OUTBOX_KAFKA_CONTROLLER_PORT=$((${OUTBOX_KAFKA_CONTROLLER_PORT:-19093} + 100))
export OUTBOX_REGISTRY=0
cleanup_hooks+=("bash $clone/compose/stack reset >/dev/null 2>&1; rm -rf $clone")

rc=0
bash "$clone/compose/stack" up >"$TEST_TMP/up.log" 2>&1 || rc=$?
cat "$TEST_TMP/up.log"
check_eq "compose/stack up succeeds from the 0700 clone" 0 "$rc"
check "no 'Permission denied' while bringing it up" bash -c "! grep -q 'Permission denied' '$TEST_TMP/up.log'"

conn="host=127.0.0.1 port=$OUTBOX_PG_PORT user=postgres dbname=blog"
check_eq "the outbox table from sql/outbox.sql exists" "outbox" \
  "$(psql -X -tA "$conn" -c "SELECT relname FROM pg_class WHERE relname = 'outbox'" 2>&1)"
check_eq "the roles from sql/roles.sql exist" "1" \
  "$(psql -X -tA "$conn" -c "SELECT count(*) FROM pg_roles WHERE rolname = 'outbox_relay'" 2>&1)"
check_eq "compose/stack psql works from the clone" "42" \
  "$(bash "$clone/compose/stack" psql blog -tAc 'SELECT 42' 2>&1)"

rc=0
bash "$clone/compose/stack" down >"$TEST_TMP/down.log" 2>&1 || rc=$?
check_eq "compose/stack down succeeds" 0 "$rc"
finish
