#!/usr/bin/env bash
# The README's main job, run as a test: compose/demo end to end on the real stack, asserting the
# read models it prints: moderation outcomes (orange -> rejected with its reason), comments
# written while moderation was down moderated after its restart, and the comment counts built
# from history by a projection registered afterwards.
source "$(dirname "$0")/lib.sh"
export OUTBOX_DEMO_HTTP_BASE=${OUTBOX_TEST_DEMO_HTTP_BASE:-19287}
out=$TEST_TMP/demo.out

# The demo's replication slot (compose/demo.d/relay.ini) must not outlive the test: left behind it
# holds every later test's WAL, and the next run (the sanitizer pass of the same compose/test, or
# a rerun on a kept .state-test) replays all of it before the demo's own events, past the demo's
# waits. Dropped before (a slot a killed run left) and after, once the relay let go of it.
DEMO_SLOT=demo_relay
drop_demo_slot() {
  local i
  for i in $(seq 1 50); do
    [ "$(psql_app -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$DEMO_SLOT' AND active")" = 0 ] && break
    sleep 0.2
  done
  psql_app -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '$DEMO_SLOT' AND NOT active" >/dev/null
}
stop_demo() {
  local f
  for f in "$OUTBOX_STATE_DIR"/demo/*.pid; do
    [ -f "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null
    rm -f "$f"
  done
  drop_demo_slot
}
drop_demo_slot
cleanup_hooks+=("stop_demo")
rc=0
bash "$OUTBOX_SOURCE_DIR/compose/demo" >"$out" 2>&1 || rc=$?
cat "$out"
check_eq "the demo exits 0" 0 "$rc"
has() { grep -qF -- "$1" "$out"; }
check "Ada's post shows Babbage's comment approved" has "[approved] Charles Babbage: Splendid work, Ada."
check "the comment mentioning oranges is rejected with the reason" \
  has "[rejected] Fruit Fan: Better than oranges, I say!  (mentions oranges)"
check "comments written while moderation was down show as pending" has "[pending]  Alan Turing: Can machines think?"
check "after the restart Turing's comment is approved" has "[approved] Alan Turing: Can machines think?"
check "after the restart ORANGE (upper case) is rejected" \
  has "[rejected] Orange County: ORANGE is the new black.  (mentions oranges)"
check "the read model added later counts Ada's post from history" \
  grep -qE "Notes on the Analytical Engine +comments 2, approved 1, rejected 1" "$out"
check "and Grace's" grep -qE "A bug in the relay +comments 3, approved 2, rejected 1" "$out"
check "it ends by saying how to stop" has "Stop everything: compose/stack down"
finish
