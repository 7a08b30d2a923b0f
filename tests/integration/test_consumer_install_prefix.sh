#!/usr/bin/env bash
# The consumer library installed with `cmake --install BUILD --prefix DIR` (the README's
# "or cmake --install"), used the way a user's build uses it, without the Debian packages:
#   - outbox-consumer.pc names DIR (it named the prefix configured at build time, so
#     `cc $(pkg-config --cflags --libs outbox-consumer)` looked for the headers elsewhere);
#   - the installed example (minimal.c) compiles and links against DIR's library with
#     pkg-config, and runs with DIR's liboutbox-consumer.so.0;
#   - find_package(outbox-toolkit) with CMAKE_PREFIX_PATH=DIR builds it too;
#   - the shared library exports the public API only (outbox_consumer_* and outbox_conf_*).
source "$(dirname "$0")/lib.sh"

PREFIX=$TEST_TMP/prefix
rc=0
cmake --install "$OUTBOX_BUILD_DIR" --prefix "$PREFIX" >"$TEST_TMP/install.log" 2>&1 || rc=$?
[ "$rc" = 0 ] || tail -20 "$TEST_TMP/install.log"
check_eq "cmake --install --prefix DIR succeeds" 0 "$rc"

pcfile=$(find "$PREFIX" -name outbox-consumer.pc | head -1)
check "outbox-consumer.pc is installed under DIR" test -n "$pcfile"
PKG_CONFIG_PATH=$(dirname "${pcfile:-/nonexistent/x}")
export PKG_CONFIG_PATH
check_eq "pkg-config's prefix of outbox-consumer is DIR" "$PREFIX" \
  "$(pkg-config --variable=prefix outbox-consumer 2>&1)"

EX=$PREFIX/share/outbox-toolkit/examples/minimal.c
rc=0
# shellcheck disable=SC2046
cc -o "$TEST_TMP/minimal" "$EX" $(pkg-config --cflags --libs outbox-consumer) \
  >"$TEST_TMP/cc.log" 2>&1 || rc=$?
[ "$rc" = 0 ] || cat "$TEST_TMP/cc.log"
check_eq "minimal.c builds with cc \$(pkg-config --cflags --libs outbox-consumer)" 0 "$rc"
libdir=$(pkg-config --variable=libdir outbox-consumer || true)
linked=$(LD_LIBRARY_PATH=$libdir ldd "$TEST_TMP/minimal" 2>/dev/null |
  sed -n 's/.*liboutbox-consumer.so.0 => \([^ ]*\).*/\1/p' || true)
check_eq "it runs with DIR's liboutbox-consumer.so.0" \
  "$(readlink -f "$PREFIX")" "$(readlink -f "$(dirname "${linked:-/none/x}")/..")"
# A bad setting: the library (DIR's) answers with the key and the fix, exit 2.
rc=0
LD_LIBRARY_PATH=$libdir "$TEST_TMP/minimal" --set consumer.name=x >"$TEST_TMP/run.log" 2>&1 || rc=$?
check_eq "the example runs and rejects a missing setting (exit 2)" 2 "$rc"
check "... naming postgres.conninfo" grep -q postgres.conninfo "$TEST_TMP/run.log"

mkdir -p "$TEST_TMP/cmake-user"
cat >"$TEST_TMP/cmake-user/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.16)
project(outbox_user C)
find_package(outbox-toolkit 0.1 REQUIRED)
add_executable(minimal-cmake $EX)
target_link_libraries(minimal-cmake PRIVATE outbox-toolkit::outbox-consumer)
CM
rc=0
{ cmake -S "$TEST_TMP/cmake-user" -B "$TEST_TMP/cmake-user/build" -DCMAKE_PREFIX_PATH="$PREFIX" &&
  cmake --build "$TEST_TMP/cmake-user/build" -j2; } >"$TEST_TMP/cmake.log" 2>&1 || rc=$?
[ "$rc" = 0 ] || tail -20 "$TEST_TMP/cmake.log"
check_eq "minimal.c builds with find_package(outbox-toolkit) and CMAKE_PREFIX_PATH=DIR" 0 "$rc"

other=$(nm -D --defined-only "$PREFIX"/lib*/liboutbox-consumer.so.0 | awk '{print $3}' | sed 's/@.*//' |
  grep -v -E '^(outbox_consumer_|outbox_conf_|OUTBOX_CONSUMER_0$)' || true)
check_eq "liboutbox-consumer.so.0 exports outbox_consumer_* and outbox_conf_* only" "" "$other"
finish
