#!/usr/bin/env bash
# compose/stack down never signals a process whose PID file is stale: PID files of Kafka, the
# registry, PostgreSQL (postmaster.pid) and the services (demo/, chaos/) that name an unrelated
# live process (a `sleep`) are removed and the process survives; a PID file naming one of our
# services is still stopped. Runs `down` on a state directory of its own (the live test stack
# is not touched).
source "$(dirname "$0")/lib.sh"
ST=$TEST_TMP/state
mkdir -p "$ST/kafka" "$ST/registry" "$ST/demo" "$ST/chaos" "$ST/pg/data" "$TEST_TMP/bin"
SLEEPS=()
for f in kafka/kafka.pid registry/registry.pid demo/relay.pid chaos/projector.pid pg/data/postmaster.pid; do
  sleep 300 &
  SLEEPS+=("$!")
  echo "$!" >"$ST/$f"
done
cleanup_hooks+=('kill ${SLEEPS[@]} 2>/dev/null')
# One of ours: a service binary named outbox-* (a copy of sleep), started like compose/demo does.
cp "$(command -v sleep)" "$TEST_TMP/bin/outbox-fake"
"$TEST_TMP/bin/outbox-fake" 300 &
ours=$!
cleanup_hooks+=("kill $ours 2>/dev/null")
echo "$ours" >"$ST/demo/fake.pid"

out=$(OUTBOX_STATE_DIR=$ST bash "$OUTBOX_SOURCE_DIR/compose/stack" down 2>&1) && rc=0 || rc=$?
printf '%s\n' "$out"
check_eq "down exits 0" 0 "$rc"
alive=0
for pid in "${SLEEPS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=$((alive + 1)); done
check_eq "the unrelated processes named by stale PID files are all alive" "${#SLEEPS[@]}" "$alive"
left=$(find "$ST" -name '*.pid' | sort | tr '\n' ' ')
check_eq "the stale PID files are removed" "" "$left"
check "down says which PID files were stale" grep -q "stale PID file .*kafka.pid" <<<"$out"
for _ in $(seq 1 50); do kill -0 "$ours" 2>/dev/null || break; sleep 0.1; done
check "a PID file naming our service still stops it" bash -c "! kill -0 $ours 2>/dev/null"
finish
