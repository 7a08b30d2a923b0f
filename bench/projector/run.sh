#!/usr/bin/env bash
# bench/projector/run.sh [EVENTS] [BATCH]: projector applied events/s (dedup + offsets, from
# Kafka), per event (sql.<Type>) and set-based (sqlset.<Type>), vs a raw set-based upsert of the
# same rows, same run; prints the three rates and both ratios. Needs the stack and a build:
#   compose/stack up; cmake -S . -B build -G Ninja && cmake --build build
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${OUTBOX_BUILD_DIR:-$root/build}
eval "$("$root/compose/stack" env)"
exec "$build/bench/projector/bench_projector" "${1:-200000}" "${2:-500}"
