#!/usr/bin/env bash
# The Debian packages end to end, as a user gets them:
#   - compose/package builds them from this tree (lintian clean, overrides explained);
#   - apt installs them on this machine; no installed file names the build machine's paths;
#   - the systemd units pass `systemd-analyze verify` (systemd is not PID 1 here, so the
#     daemons run as plain processes, started the way the units start them);
#   - the INSTALLED relay and projector, with the installed defaults (schemas from
#     /usr/share/outbox-toolkit), carry outbox inserts into a read model and stop cleanly on
#     SIGTERM;
#   - the installed example consumer (minimal.c) compiles against the installed library with
#     pkg-config (shared and static) and CMake's find_package, and the shared build runs:
#     its inbox row, effect and follow-up outbox row land in one transaction.
# The packages are purged afterwards unless they were installed before the test.
source "$(dirname "$0")/lib.sh"
source "$OUTBOX_SOURCE_DIR/tests/integration/relay_lib.sh"
source "$OUTBOX_SOURCE_DIR/tests/fixtures/projector/lib_projector.sh"

sudo=
[ "$(id -u)" = 0 ] || sudo=sudo
PKG_NAMES=(outbox-toolkit liboutbox-consumer0 liboutbox-consumer-dev)

# One package test per machine at a time: it installs and removes system packages.
exec 9>/tmp/outbox-toolkit-package-test.lock
flock -w 1800 9 || { say "another package test holds the lock"; exit 1; }

# ---------------------------------------------------------------- build and install
PKG_BUILD=$OUTBOX_BUILD_DIR/package
rc=0
OUTBOX_PACKAGE_BUILD_DIR=$PKG_BUILD bash "$OUTBOX_SOURCE_DIR/compose/package" \
  >"$TEST_TMP/package.log" 2>&1 || rc=$?
[ "$rc" = 0 ] || tail -40 "$TEST_TMP/package.log"
check_eq "compose/package builds the packages and lintian passes" 0 "$rc"
debs=()
for p in "${PKG_NAMES[@]}"; do debs+=("$(ls "$PKG_BUILD/${p}_"*.deb)"); done

installed_before=$(dpkg-query -W -f='${Status}' outbox-toolkit 2>/dev/null | grep -c "install ok installed" || true)
if [ "$installed_before" = 0 ]; then
  cleanup_hooks+=("$sudo apt-get purge -y -qq ${PKG_NAMES[*]} >/dev/null 2>&1")
fi
rc=0
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
  -o DPkg::Lock::Timeout=300 "${debs[@]}" >"$TEST_TMP/apt.log" 2>&1 || rc=$?
[ "$rc" = 0 ] || cat "$TEST_TMP/apt.log"
check_eq "apt installs ./outbox-toolkit_*.deb and the library packages" 0 "$rc"
check "the daemons are installed in /usr/bin" test -x /usr/bin/outbox-relay -a -x /usr/bin/outbox-projector -a -x /usr/bin/outbox-moderation

leaks=$(dpkg -L "${PKG_NAMES[@]}" | while read -r f; do
  [ -f "$f" ] && grep -l -a -F -e "$OUTBOX_SOURCE_DIR" -e "$OUTBOX_BUILD_DIR" "$f"; done || true)
check_eq "no installed file names the source or build directory" "" "$leaks"
check "the relay's default schema directory is the installed one" \
  grep -q '| `avro.schema-dir` | string | `/usr/share/outbox-toolkit/schemas`' \
  <(/usr/bin/outbox-relay --help-config-markdown)
check "no internal header is installed" test "$(ls /usr/include/outbox)" = "$(printf 'config.h\noutbox_consumer.h')"

# ---------------------------------------------------------------- the units
for unit in outbox-relay outbox-projector; do
  cp "/usr/lib/systemd/system/$unit@.service" "$TEST_TMP/$unit@pkgtest.service"
  out=$(systemd-analyze verify "$TEST_TMP/$unit@pkgtest.service" 2>&1) || out="exit $?: $out"
  check_eq "systemd-analyze verify $unit@NAME.service: no complaint" "" "$out"
  level=$(systemd-analyze security --offline=yes "$TEST_TMP/$unit@pkgtest.service" 2>&1 |
    sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
  check "$unit@NAME.service is hardened (systemd-analyze security exposure $level <= 2.0)" \
    awk -v l="${level:-99}" 'BEGIN { exit !(l <= 2.0) }'
  check "$unit@NAME.service runs -c on the credential copy of /etc/outbox/NAME.ini" \
    grep -qx "ExecStart=/usr/bin/$unit -c %d/config.ini" "$TEST_TMP/$unit@pkgtest.service"
done

# ---------------------------------------------------------------- installed relay + projector
proj_setup
RELAY_BIN=/usr/bin/outbox-relay
PROJECTOR=/usr/bin/outbox-projector
# The connection string comes from a file next to the config (as a unit's credential would).
printf '%s password=not-needed-on-loopback\n' "$OUTBOX_PG_RELAY" >"$TEST_TMP/relay.conninfo"
cat >"$TEST_TMP/relay.ini" <<INI
[postgres]
conninfo-file = relay.conninfo
slot = $SLOT
create-publication = false

[outbox]
topic = $PREFIX.\${aggregate_type}

[relay]
status-interval = 1s

[http]
listen = 127.0.0.1:0

[kafka]
bootstrap.servers = $OUTBOX_KAFKA
INI
/usr/bin/outbox-relay print-config -c "$TEST_TMP/relay.ini" >"$TEST_TMP/print-config.txt" 2>&1 || true
check "print-config shows the value read from postgres.conninfo-file as ***" \
  grep -qx "postgres.conninfo = \*\*\*  # $TEST_TMP/relay.conninfo (postgres.conninfo-file at $TEST_TMP/relay.ini:2)" "$TEST_TMP/print-config.txt"
check "print-config does not show the secret" test "$(grep -c not-needed-on-loopback "$TEST_TMP/print-config.txt")" = 0
relay_start
OUTBOX_REGISTRY_URL='' proj_ini "$TEST_TMP/projector.ini"
sed -i '/^schema-dir = /d' "$TEST_TMP/projector.ini"
check "the projector config names no schema directory (the installed default applies)" \
  test "$(grep -c '^schema-dir' "$TEST_TMP/projector.ini")" = 0
proj_start "$TEST_TMP/projector.ini" "$TEST_TMP/projector.log"

insert_events 20 5 4 post
check "20 outbox inserts reach the read model through the installed relay and projector" \
  wait_sql "SELECT count(*) FROM posts" 20 120

# ---------------------------------------------------------------- the example consumer
CS=pkg_$RUN_ID
sqlb() { PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 -tA "$OUTBOX_PG_SUPER" "$@"; }
cleanup_hooks+=("sqlb -c 'DROP SCHEMA IF EXISTS $CS CASCADE' >/dev/null")
sqlb -c "CREATE SCHEMA $CS" -c "SET search_path = $CS" \
  -c "CREATE TABLE outbox (id uuid PRIMARY KEY, aggregate_type text NOT NULL, aggregate_id text NOT NULL,
        event_type text NOT NULL, payload jsonb NOT NULL, headers jsonb, created_at timestamptz NOT NULL DEFAULT now())" \
  -c "CREATE TABLE comment_counts (post_id uuid PRIMARY KEY, comments integer NOT NULL)" \
  -f /usr/share/outbox-toolkit/sql/projector.sql >/dev/null

EX=/usr/share/outbox-toolkit/examples/minimal.c
rc=0
# shellcheck disable=SC2046
cc -o "$TEST_TMP/minimal" "$EX" $(pkg-config --cflags --libs outbox-consumer) \
  >"$TEST_TMP/cc.log" 2>&1 || rc=$?
[ "$rc" = 0 ] || cat "$TEST_TMP/cc.log"
check_eq "minimal.c compiles against the installed library (pkg-config outbox-consumer)" 0 "$rc"
libdir=$(pkg-config --variable=libdir outbox-consumer)
linked=$(ldd "$TEST_TMP/minimal" | sed -n 's/.*liboutbox-consumer.so.0 => \([^ ]*\).*/\1/p')
check_eq "it runs with the installed liboutbox-consumer.so.0" \
  "$(readlink -f "$libdir/liboutbox-consumer.so.0")" "$(readlink -f "${linked:-none}")"

# Static: the archive, then the shared libraries of its public and private requirements.
deps=$(pkg-config --print-requires --print-requires-private outbox-consumer | awk '{print $1}' | tr '\n' ' ')
rc=0
# shellcheck disable=SC2046,SC2086
cc -o "$TEST_TMP/minimal-static" "$EX" $(pkg-config --cflags outbox-consumer) \
  "$libdir/liboutbox-consumer.a" $(pkg-config --libs $deps) -lm -lpthread \
  >"$TEST_TMP/cc-static.log" 2>&1 || rc=$?
[ "$rc" = 0 ] || cat "$TEST_TMP/cc-static.log"
check_eq "minimal.c links liboutbox-consumer.a (requirements from pkg-config)" 0 "$rc"
check "the static build needs no liboutbox-consumer.so" \
  test "$(ldd "$TEST_TMP/minimal-static" 2>/dev/null | grep -c liboutbox-consumer)" = 0

mkdir -p "$TEST_TMP/cmake-user"
cat >"$TEST_TMP/cmake-user/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.16)
project(outbox_user C)
find_package(outbox-toolkit 0.1 REQUIRED)
add_executable(minimal-cmake /usr/share/outbox-toolkit/examples/minimal.c)
target_link_libraries(minimal-cmake PRIVATE outbox-toolkit::outbox-consumer)
add_executable(minimal-cmake-static /usr/share/outbox-toolkit/examples/minimal.c)
target_link_libraries(minimal-cmake-static PRIVATE outbox-toolkit::outbox-consumer-static)
CM
rc=0
{ cmake -S "$TEST_TMP/cmake-user" -B "$TEST_TMP/cmake-user/build" &&
  cmake --build "$TEST_TMP/cmake-user/build" -j2; } >"$TEST_TMP/cmake.log" 2>&1 || rc=$?
[ "$rc" = 0 ] || cat "$TEST_TMP/cmake.log"
check_eq "minimal.c builds with find_package(outbox-toolkit), shared and static" 0 "$rc"

EXAMPLE_POSTGRES_CONNINFO="$OUTBOX_PG_SUPER options='-c search_path=$CS'" \
  "$TEST_TMP/minimal" --set consumer.name=pkg-$RUN_ID --set "consumer.topics=$PREFIX.comment" \
  --set consumer.batch-linger=20ms --set "kafka.bootstrap.servers=$OUTBOX_KAFKA" \
  >"$TEST_TMP/minimal.log" 2>&1 &
MIN_PID=$!
cleanup_hooks+=("kill -9 $MIN_PID 2>/dev/null")
post=$(cat /proc/sys/kernel/random/uuid)
psql -X -q -v ON_ERROR_STOP=1 "$OUTBOX_PG_APP" -c "INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload)
  SELECT gen_random_uuid(), 'comment', '$post', 'CommentCreated', jsonb_build_object('comment_id', gen_random_uuid()::text,
    'post_id', '$post', 'author_id', 'a1', 'author_name', 'Ada', 'text', 'hello', 'created_at', '2026-11-28T09:00:00Z')
  FROM generate_series(1, 2)" >/dev/null
got=""
for _ in $(seq 1 300); do
  got=$(sqlb -c "SELECT (SELECT comments FROM $CS.comment_counts WHERE post_id = '$post') || ' ' ||
                        (SELECT count(*) FROM $CS.outbox WHERE event_type = 'PostFirstComment' AND aggregate_id = '$post')" 2>/dev/null || true)
  [ "$got" = "2 1" ] && break
  sleep 0.2
done
[ "$got" = "2 1" ] || cat "$TEST_TMP/minimal.log"
check_eq "the example consumer on the installed .so: 2 comments counted, 1 follow-up outbox row" "2 1" "$got"

# ---------------------------------------------------------------- clean stops (systemd's SIGTERM)
kill -TERM "$MIN_PID"
rc=0
wait "$MIN_PID" || rc=$?
check_eq "the example consumer stops cleanly on SIGTERM" 0 "$rc"
kill -TERM "$PROJ_PID"
rc=0
wait "$PROJ_PID" || rc=$?
check_eq "the installed projector stops cleanly on SIGTERM" 0 "$rc"
relay_stop
check_eq "the installed relay stops cleanly on SIGTERM" 0 "$RELAY_RC"
finish
