#!/usr/bin/env bash
# bench/projector/run.sh [EVENTS] [BATCH]: projector applied events/s (dedup + offsets, from
# Kafka) vs a raw set-based upsert of the same rows, same run. Needs the stack and a build:
#   compose/stack up; cmake -S . -B build -G Ninja && cmake --build build
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${OUTBOX_BUILD_DIR:-$root/build}
eval "$("$root/compose/stack" env)"
exec "$build/bench/projector/bench_projector" "${1:-200000}" "${2:-500}"
