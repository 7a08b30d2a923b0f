#!/usr/bin/env bash
# `outbox-projector check` passes on a ready environment and names every problem with its fix
# on a broken one (missing tables, a statement that does not prepare, a missing topic, an
# unreachable Kafka); bad configuration is rejected with the file and line.
source "$(dirname "$0")/lib.sh"
source "$OUTBOX_SOURCE_DIR/tests/fixtures/projector/lib_projector.sh"
proj_setup
proj_ini "$TEST_TMP/p.ini"
"$PROJECTOR" check -c "$TEST_TMP/p.ini" >"$TEST_TMP/ok.out" 2>&1
check_eq "check passes on a ready environment" 0 "$?"
check "... and says so" grep -Eqx "ready(, [0-9]+ warnings?)?" "$TEST_TMP/ok.out"
check "... having probed Kafka, the registry and the statements" \
  bash -c "grep -q 'ok       Kafka answers at' '$TEST_TMP/ok.out' && grep -q 'ok       schema registry answers at' '$TEST_TMP/ok.out' && grep -q 'sql.CommentUpdated prepares' '$TEST_TMP/ok.out'"

# Break things: a schema without the projector tables, a bad statement, a missing topic.
BROKEN=${SCHEMA}_broken
psql_read -c "CREATE SCHEMA $BROKEN" -c "GRANT USAGE ON SCHEMA $BROKEN TO outbox_projector" >/dev/null
PROJ_SCHEMAS+=("$BROKEN")
proj_ini "$TEST_TMP/bad.ini" "$PROJ" "$BROKEN"
cat >>"$TEST_TMP/bad.ini" <<INI
[projection $PROJ]
topics = $PREFIX.post, $PREFIX.nosuchtopic
sql.Bogus = INSERT INTO nowhere VALUES (\$1)
ddl = no-such-model.sql
INI
set +e
"$PROJECTOR" check -c "$TEST_TMP/bad.ini" >"$TEST_TMP/bad.out" 2>&1
rc=$?
set -e
check_eq "check fails on a broken environment (exit 3, as every daemon's check)" 3 "$rc"
check "missing projector tables are named with the fix" grep -q "projector_dedup does not exist" "$TEST_TMP/bad.out"
check "... fix: apply sql/projector.sql" grep -q "fix: apply sql/projector.sql" "$TEST_TMP/bad.out"
check "a statement that does not prepare is named with its ini line" grep -q "sql.Bogus (.*bad.ini:[0-9]*) does not prepare" "$TEST_TMP/bad.out"
check "a missing topic is named" grep -q "topic $PREFIX.nosuchtopic does not exist" "$TEST_TMP/bad.out"
check "a ddl file that is not there is named, resolved next to the config file" grep -q "ddl file $TEST_TMP/no-such-model.sql: No such file or directory" "$TEST_TMP/bad.out"
check "... with the fix" grep -q "fix: correct \`ddl\`" "$TEST_TMP/bad.out"

set +e
"$PROJECTOR" check -c "$TEST_TMP/p.ini" --set kafka.bootstrap.servers=127.0.0.1:1 --set kafka.socket.connection.setup.timeout.ms=1000 >"$TEST_TMP/nokafka.out" 2>&1
rc=$?
printf '[projection x]\ntopcs = a\n' >"$TEST_TMP/typo.ini"
"$PROJECTOR" check -c "$TEST_TMP/typo.ini" >"$TEST_TMP/typo.out" 2>&1
rc_typo=$?
set -e
check_eq "check fails when Kafka does not answer" 3 "$rc"
check "... with the fix" grep -q "fix: check kafka.bootstrap.servers" "$TEST_TMP/nokafka.out"
check_eq "a typo in a projection key is a configuration error (exit 2)" 2 "$rc_typo"
check "... naming the key, the file and line, and the known keys" grep -q "unknown key 'topcs' in \[projection x\] at .*typo.ini:2; known keys" "$TEST_TMP/typo.out"
finish
