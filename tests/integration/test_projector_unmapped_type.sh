#!/usr/bin/env bash
# An event type the projection does not map (here because of a misspelt sql.<Type> key) is
# skipped and counted, and the daemon goes on with the other types; the skip is never silent:
# the first skipped event of each type is logged once, naming the type, the key that would map
# it and the keys the projection has.
source "$(dirname "$0")/lib.sh"
source "$OUTBOX_SOURCE_DIR/tests/fixtures/projector/lib_projector.sh"
proj_setup

events_py produce --bootstrap "$OUTBOX_KAFKA" --prefix "$PREFIX" --events 120 --seed 17 \
  --registry "$OUTBOX_REGISTRY_URL" --expect "$TEST_TMP/expect.json" >/dev/null
events=$(json_get "$TEST_TMP/expect.json" '["events"]')
posts=$(json_get "$TEST_TMP/expect.json" '["posts"]')
comments=$(json_get "$TEST_TMP/expect.json" '["comments"]')

proj_ini "$TEST_TMP/p0.ini"
sed 's/^sql\.PostCreated =/sql.PostCreatd =/' "$TEST_TMP/p0.ini" >"$TEST_TMP/p.ini"
check "the config maps PostCreatd, not PostCreated" grep -q '^sql.PostCreatd =' "$TEST_TMP/p.ini"
proj_start "$TEST_TMP/p.ini" "$TEST_TMP/p.log"

check "every event of a mapped type is applied ($((events - posts)))" \
  wait_sql "SELECT count(*) FROM effects" "$((events - posts))" 120
check_eq "... the comments as the events say" "$comments" "$(q "SELECT count(*) FROM comments")"
check_eq "no post: PostCreated is not mapped" 0 "$(q "SELECT count(*) FROM posts")"
port=$(sed -n 's/.*http on 127.0.0.1:\([0-9]*\).*/\1/p' "$TEST_TMP/p.log" | head -1)
unmapped() {
  curl -fsS "http://127.0.0.1:$port/metrics" |
    awk -v m="outbox_projector_events_unmapped_total{projection=\"$PROJ\"}" '$1 == m {print $2}'
}
unmapped_is() { [ "$(unmapped)" = "$1" ]; }
check "metrics count every PostCreated as unmapped ($posts)" wait_for 30 unmapped_is "$posts"
check_eq "the skip is logged once for the type" 1 \
  "$(grep -c 'WARN .*events of type PostCreated .* have no sql.PostCreated or sqlset.PostCreated' "$TEST_TMP/p.log")"
check "... naming the topic, the projection's keys and the fix" \
  grep -q "PostCreated (first at $PREFIX.post \[[0-9]\] @[0-9]*) have no sql.PostCreated or sqlset.PostCreated in \[projection $PROJ\]: skipped .*outbox_projector_events_unmapped_total.*; add the key .*(mapped: sql.PostCreatd, sql.CommentCreated, sql.CommentModerated, sql.CommentUpdated)" "$TEST_TMP/p.log"
check_eq "no other type is reported" 1 "$(grep -c 'have no sql\.' "$TEST_TMP/p.log")"

kill -TERM "$PROJ_PID"
rc=0; wait "$PROJ_PID" || rc=$?
check_eq "the daemon stops cleanly" 0 "$rc"
finish
