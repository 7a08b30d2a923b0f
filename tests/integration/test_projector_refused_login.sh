#!/usr/bin/env bash
# The read database refuses the projector's connection.
# At start (it never connected): a role that does not exist, a database that does not exist -
# retrying cannot help until someone fixes the conninfo, so the projection stops at once and the
# daemon exits non-zero, naming what libpq said and the fix (pg_hba.conf, LOGIN, CONNECT).
# Later (it had connected): its role loses LOGIN and its sessions are terminated - a pg_hba.conf
# reload or a passing refusal must not kill a running daemon, so it keeps retrying and, once the
# role may LOGIN again, applies the events written meanwhile.
source "$(dirname "$0")/lib.sh"
source "$OUTBOX_SOURCE_DIR/tests/fixtures/projector/lib_projector.sh"
proj_setup

# wait_exit PID SECONDS: true once PID has exited (its status in EXIT_RC), false after SECONDS.
wait_exit() {
  local pid=$1 secs=$2 i
  for ((i = 0; i < secs * 5; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid"
      EXIT_RC=$?
      return 0
    fi
    sleep 0.2
  done
  return 1
}

# refused_at_start WHAT EXTRA-CONNINFO EXPECTED-TEXT: the daemon exits non-zero within 60 s.
refused_at_start() {
  local what=$1 log=$TEST_TMP/$1.log
  PROJ_CONNINFO_EXTRA=$2 proj_ini "$TEST_TMP/$what.ini"
  proj_start "$TEST_TMP/$what.ini" "$log"
  EXIT_RC=""
  check "$what: the daemon exits within 60 s" wait_exit "$PROJ_PID" 60
  kill -9 "$PROJ_PID" 2>/dev/null || true
  say "$what: $(grep -m1 'refuses' "$log" || true)"
  check "$what: with a non-zero status (got ${EXIT_RC:-none})" test -n "$EXIT_RC" -a "${EXIT_RC:-0}" != 0
  check "$what: the log names the problem ($3)" grep -q "$3" "$log"
  check "$what: ... and the fix" grep -q "refuses this connection: check pg_hba.conf.*LOGIN.*CONNECT" "$log"
  check "$what: ... and says the projection stopped" grep -q "stopped on a fatal error" "$log"
  check_eq "$what: no retry was logged" 0 "$(grep -c 'retrying in' "$log" || true)"
}
refused_at_start no_role "user=nosuchrole_$SFX" "nosuchrole_$SFX"
refused_at_start no_database "dbname=nosuchdb_$SFX" "nosuchdb_$SFX"

# A role of its own (a member of outbox_projector, so it has its grants), to take LOGIN from.
ROLE=pt_login_$SFX
psql_read -c "CREATE ROLE $ROLE LOGIN IN ROLE outbox_projector" >/dev/null
cleanup_hooks+=("psql_read -c \"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '$ROLE'\" -c 'DROP ROLE IF EXISTS $ROLE' >/dev/null")
sessions() { psql_read -c "SELECT count(*) FROM pg_stat_activity WHERE usename = '$ROLE'"; }

produce() { # FROM TO: events FROM..TO of one stream (seed 7)
  events_py produce --bootstrap "$OUTBOX_KAFKA" --prefix "$PREFIX" --events 40 --seed 7 \
    --format confluent --registry "$OUTBOX_REGISTRY_URL" --from "$1" --to "$2" >/dev/null
}
produce 0 20
LOG=$TEST_TMP/later.log
PROJ_CONNINFO_EXTRA="user=$ROLE" proj_ini "$TEST_TMP/later.ini"
proj_start "$TEST_TMP/later.ini" "$LOG"
check "the first 20 events are applied" wait_sql "SELECT count(*) FROM effects" 20 120

psql_read -c "ALTER ROLE $ROLE NOLOGIN" \
  -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = '$ROLE'" >/dev/null
produce 20 40
check "refused later, it retries, saying why" wait_for 60 \
  grep -q "$ROLE.*refuses this connection.*retrying in" "$LOG"
sleep 3
check "... and keeps running" kill -0 "$PROJ_PID"
check_eq "... without applying anything meanwhile" 20 "$(q "SELECT count(*) FROM effects")"
check_eq "... and without a session" 0 "$(sessions)"

psql_read -c "ALTER ROLE $ROLE LOGIN" >/dev/null
check "LOGIN again: it recovers and applies the events written meanwhile" \
  wait_sql "SELECT count(*) FROM effects" 40 120
check_eq "no effect applied twice" "40|1" "$(q "SELECT sum(applied), max(applied) FROM effects")"
check_eq "nothing dead-lettered" 0 "$(q "SELECT count(*) FROM projector_dead_letters")"

kill -TERM "$PROJ_PID"
rc=0
wait "$PROJ_PID" || rc=$?
check_eq "SIGTERM stops the daemon cleanly" 0 "$rc"
finish
