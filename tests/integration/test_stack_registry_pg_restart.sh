#!/usr/bin/env bash
# The registry survives a PostgreSQL restart (it keeps its schemas there): after a fast and
# after an immediate restart it answers every read and registration at once, without being
# restarted itself (its connection pool validates a connection before lending it;
# compose/stack sets that). Before, it answered 500 to the first requests after a restart, one per
# pooled connection (20), until each dead connection had failed once.
source "$(dirname "$0")/lib.sh"
STACK=$OUTBOX_SOURCE_DIR/compose/stack
[ -n "${OUTBOX_REGISTRY_URL:-}" ] || { say "no registry in this stack"; exit 1; }
SUBJECT=stacktest.$(rand_suffix)-value
register() { # schema text (a string enum symbol keeps it unique per call)
  curl -sS -m 60 -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/vnd.schemaregistry.v1+json' \
    --data "{\"schema\": \"{\\\"type\\\": \\\"enum\\\", \\\"name\\\": \\\"E\\\", \\\"symbols\\\": [\\\"$1\\\"]}\"}" \
    "$OUTBOX_REGISTRY_URL/subjects/$SUBJECT/versions?normalize=false" || true
}
read_subjects() { curl -sS -m 60 -o /dev/null -w '%{http_code}' "$OUTBOX_REGISTRY_URL/subjects" || true; }
# Once PostgreSQL answers again, every request must succeed: no 500 while the pool finds out
# its connections died (before, the first requests after a restart, one per pooled connection,
# failed: 20 of them).
serves() { # symbol
  local i r w bad=0
  for ((i = 0; i < 15; i++)); do
    r=$(read_subjects)
    w=$(register "$1_$i")
    [ "$r" = 200 ] && [ "$w" = 200 ] || { bad=$((bad + 1)); say "request pair $i: read $r, register $w"; }
  done
  [ "$bad" -eq 0 ]
}
check_eq "the registry answers before" "200 200" "$(read_subjects) $(register A)"
for mode in fast immediate; do
  bash "$STACK" pg-stop "$mode"
  bash "$STACK" pg-start
  check "after a $mode PostgreSQL restart it answers every read and registration" serves "B_$mode"
done
check_eq "the schemas registered before and after are all there" 31 \
  "$(curl -fsS -m 10 "$OUTBOX_REGISTRY_URL/subjects/$SUBJECT/versions" | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"
finish
