# Shared helpers for shell integration tests. Source it; it loads the stack's env.
set -euo pipefail
OUTBOX_SOURCE_DIR=${OUTBOX_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
OUTBOX_BUILD_DIR=${OUTBOX_BUILD_DIR:-$OUTBOX_SOURCE_DIR/build}
eval "$("$OUTBOX_SOURCE_DIR/compose/stack" env)"
PY=/usr/bin/python3

TEST_NAME=$(basename "$0" .sh)
TEST_TMP=$(mktemp -d "/tmp/$TEST_NAME.XXXXXX")
chmod 755 "$TEST_TMP"
_checks=0
_failures=0

cleanup_hooks=()
on_exit() { local h; for h in "${cleanup_hooks[@]}"; do eval "$h" || true; done; rm -rf "$TEST_TMP"; }
trap on_exit EXIT

say() { printf '[%s] %s\n' "$TEST_NAME" "$*"; }
check() { # description, command...
  local what=$1; shift
  _checks=$((_checks + 1))
  if "$@"; then say "ok: $what"; else say "FAIL: $what"; _failures=$((_failures + 1)); fi
}
check_eq() { # description, expected, actual
  _checks=$((_checks + 1))
  if [ "$2" = "$3" ]; then say "ok: $1"; else say "FAIL: $1: expected [$2], got [$3]"; _failures=$((_failures + 1)); fi
}
finish() {
  say "$((_checks - _failures)) passed, $_failures failed"
  [ "$_failures" -eq 0 ]
}
psql_app() { psql -X -q -v ON_ERROR_STOP=1 -tA "$OUTBOX_PG_SUPER" "$@"; }
rand_suffix() { head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
# Delete the topics named PREFIX.* (a test's own, at teardown); errors are ignored.
kafka_delete_prefixed_topics() { # PREFIX
  $PY - "$OUTBOX_KAFKA" "$1" <<'PY' || true
import sys
from confluent_kafka.admin import AdminClient
a = AdminClient({"bootstrap.servers": sys.argv[1]})
ts = [t for t in a.list_topics(timeout=10).topics if t.startswith(sys.argv[2] + ".")]
for f in (a.delete_topics(ts).values() if ts else []):
    try: f.result(30)
    except Exception: pass
PY
}
