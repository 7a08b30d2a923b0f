#!/usr/bin/env bash
# `outbox-relay check` and who can publish: with logical-message events on, it fails while
# PUBLIC (or a role outside outbox.message-roles, or without INSERT on the outbox) may execute
# pg_logical_emit_message, and passes once sql/outbox.sql revoked it; with several outbox tables
# it checks each; it warns about published tables the relay does not read.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_lib.sh"

relay_config
run_check() { # name, --set args...: output in $TEST_TMP/<name>.txt, exit status in $rc
  local name=$1; shift
  rc=0
  "$RELAY_BIN" check -c "$TEST_TMP/relay.ini" "$@" >"$TEST_TMP/$name.txt" 2>&1 || rc=$?
  cat "$TEST_TMP/$name.txt"
}

# sql/outbox.sql (run by the stack) revoked EXECUTE from PUBLIC and granted it to blog_app.
run_check revoked --set outbox.logical-messages=true
check_eq "messages on, EXECUTE revoked from PUBLIC: ready" 0 "$rc"
check "it says who may execute it" grep -q "ok  *only superusers and roles that may insert into an outbox table may execute pg_logical_emit_message" "$TEST_TMP/revoked.txt"
run_check off
check "messages off by default, and said so" grep -q "ok  *logical-message events off" "$TEST_TMP/off.txt"

# PUBLIC may execute it again (PostgreSQL's default): anyone who can connect could publish.
restore_grants() { psql_app -f "$OUTBOX_SOURCE_DIR/sql/outbox.sql" >/dev/null 2>&1; }
cleanup_hooks+=("restore_grants")
psql_app -c "GRANT EXECUTE ON FUNCTION pg_logical_emit_message(boolean, text, text) TO PUBLIC"
run_check public --set outbox.logical-messages=true
check_eq "messages on, PUBLIC may execute: exit 3" 3 "$rc"
check "PUBLIC is named with the fix" grep -A1 -q "PROBLEM  outbox.logical-messages is on and PUBLIC may execute pg_logical_emit_message" "$TEST_TMP/public.txt"
check "the fix names sql/outbox.sql" grep -q "fix: run sql/outbox.sql as a superuser" "$TEST_TMP/public.txt"
run_check public_off
check_eq "messages off: PUBLIC's EXECUTE is no problem" 0 "$rc"
restore_grants

# A role without INSERT on the outbox, granted EXECUTE: a problem unless listed as trusted.
role=itest_emitter_$RUN_ID
psql_app -c "CREATE ROLE $role"
cleanup_hooks+=("psql_app -c 'DROP OWNED BY $role; DROP ROLE IF EXISTS $role'")
psql_app -c "GRANT EXECUTE ON FUNCTION pg_logical_emit_message(boolean, text, text) TO $role"
run_check role --set outbox.logical-messages=true
check_eq "a role outside the outbox may execute it: exit 3" 3 "$rc"
check "that role is named" grep -q "PROBLEM  outbox.logical-messages is on and $role may execute" "$TEST_TMP/role.txt"
run_check listed --set outbox.logical-messages=true --set "outbox.message-roles=blog_app, $role"
check_eq "listed in outbox.message-roles: ready" 0 "$rc"
run_check unlisted --set outbox.logical-messages=true --set outbox.message-roles=blog_app
check "a role outside outbox.message-roles is named" grep -q "PROBLEM  outbox.logical-messages is on and $role may execute" "$TEST_TMP/unlisted.txt"

# Several outbox tables, one publication; a published table the relay does not read.
schema=itest_$RUN_ID
pub=itest_pub_$RUN_ID
psql_app -c "CREATE SCHEMA $schema; CREATE TABLE $schema.outbox (LIKE public.outbox INCLUDING ALL);
  CREATE TABLE $schema.audit (id int PRIMARY KEY);
  CREATE PUBLICATION $pub FOR TABLE public.outbox, $schema.outbox, $schema.audit WITH (publish = 'insert')"
cleanup_hooks+=("psql_app -c 'DROP PUBLICATION IF EXISTS $pub; DROP SCHEMA IF EXISTS $schema CASCADE'")
run_check two --set postgres.publication=$pub --set "postgres.tables=public.outbox, $schema.outbox"
check_eq "two outbox tables, one extra published table: ready (a warning is no problem)" 0 "$rc"
check "the first table is covered" grep -q "ok  *publication $pub covers public.outbox" "$TEST_TMP/two.txt"
check "the second table is covered" grep -q "ok  *publication $pub covers $schema.outbox" "$TEST_TMP/two.txt"
check "the unread published table is a warning with its fix" \
  grep -A1 -q "WARNING  publication $pub also publishes $schema.audit, which the relay does not read" "$TEST_TMP/two.txt"
check "the summary counts it" grep -qx "ready, 1 warning" "$TEST_TMP/two.txt"
run_check one --set postgres.publication=$pub
check "with only public.outbox configured, the other outbox table is a warning too" \
  grep -q "WARNING  publication $pub also publishes $schema.outbox" "$TEST_TMP/one.txt"
run_check missing --set postgres.publication=$pub --set "postgres.tables=public.outbox, $schema.nope"
check_eq "a configured table that does not exist: exit 3" 3 "$rc"
check "it is named" grep -q "PROBLEM  outbox table $schema.nope does not exist" "$TEST_TMP/missing.txt"
check "and not covered by the publication" grep -q "PROBLEM  publication $pub does not cover $schema.nope" "$TEST_TMP/missing.txt"

# Configuration mistakes with several tables: exit 2, each named.
run_check both --set postgres.table=public.outbox --set "postgres.tables=public.outbox, $schema.outbox"
check_eq "postgres.table and postgres.tables both set: exit 2" 2 "$rc"
check "it says to keep postgres.tables" grep -q "keep postgres.tables" "$TEST_TMP/both.txt"
run_check unqualified --set "postgres.tables=public.outbox, outbox2"
check_eq "an unqualified table in postgres.tables: exit 2" 2 "$rc"
check "it is named" grep -q "'outbox2' is not schema.table" "$TEST_TMP/unqualified.txt"
finish
