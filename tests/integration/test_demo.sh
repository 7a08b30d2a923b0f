#!/usr/bin/env bash
# The README's main job, run as a test: compose/demo end to end on the real stack, asserting the
# read models it prints: moderation outcomes (orange -> rejected with its reason), comments
# written while moderation was down moderated after its restart, and the comment counts built
# from history by a projection registered afterwards.
source "$(dirname "$0")/lib.sh"
export OUTBOX_DEMO_HTTP_BASE=${OUTBOX_TEST_DEMO_HTTP_BASE:-19287}
out=$TEST_TMP/demo.out
rc=0
bash "$OUTBOX_SOURCE_DIR/compose/demo" >"$out" 2>&1 || rc=$?
cat "$out"
cleanup_hooks+=("for f in $OUTBOX_STATE_DIR/demo/*.pid; do [ -f \$f ] && kill -TERM \$(cat \$f); rm -f \$f; done")
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
