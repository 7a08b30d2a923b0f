#!/usr/bin/env bash
# A conninfo with several hosts (host=a,b: a standby list, target_session_attrs) whose first
# host takes a connection and never answers: libpq gives up on it after connect_timeout and
# tries the next, so the daemons' connections must too (they drive libpq step by step to
# classify a failure). Checked with `outbox-projector wait` (a plain connection) and the relay
# (its replication connection).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_lib.sh"

# A listener that accepts and never answers (the first host).
"$PY" - "$TEST_TMP/port" <<'PY' &
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(64)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
held = []
end = time.time() + 120
s.settimeout(1)
while time.time() < end:
    try: held.append(s.accept()[0])
    except socket.timeout: pass
PY
silent_pid=$!
cleanup_hooks+=("kill $silent_pid 2>/dev/null")
for _ in $(seq 1 50); do [ -s "$TEST_TMP/port" ] && break; sleep 0.1; done
silent=$(cat "$TEST_TMP/port")
PGH=$(psql_app -c "SHOW port")

multi="host=127.0.0.1,127.0.0.1 port=$silent,$PGH connect_timeout=2 sslmode=disable"
rc=0
"$OUTBOX_BUILD_DIR/projector/outbox-projector" --set "postgres.conninfo=$multi user=postgres dbname=blog_read" \
  wait nosuch 00000000-0000-4000-8000-000000000001 --timeout 1s >"$TEST_TMP/wait.out" 2>&1 || rc=$?
check_eq "wait reached the second host: the event is pending, timed out (2), not a connection error (3)" 2 "$rc"

relay_config
sed -i "s|^conninfo = .*|conninfo = $multi user=outbox_relay dbname=blog|" "$TEST_TMP/relay.ini"
relay_start
check "the relay streams through the second host" \
  test "$(psql_app -c "SELECT active FROM pg_replication_slots WHERE slot_name = '$SLOT'")" = t
relay_stop
check_eq "relay: SIGTERM, exit 0" 0 "$RELAY_RC"
finish
