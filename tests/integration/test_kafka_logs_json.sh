#!/usr/bin/env bash
# With log.format = json every line a daemon writes is one JSON object, librdkafka's own lines
# included (a broker that cannot be reached is reported by librdkafka, not by our code): a log
# pipeline that parses JSON lines must not meet "%3|1795...|FAIL|rdkafka#consumer-1| ..." lines.
# The projector (its consumer and dead-letter producer) and the relay (its producer) are run
# against a Kafka address nothing listens on.
source "$(dirname "$0")/lib.sh"
source "$OUTBOX_SOURCE_DIR/tests/fixtures/projector/lib_projector.sh"
source "$(dirname "$0")/relay_lib.sh"
proj_setup

# json_lines FILE: "ok" when every line is a JSON object with ts, level, component and msg;
# else the first offending line.
json_lines() {
  "$PY" - "$1" <<'PY'
import json, sys
for line in open(sys.argv[1], errors="replace"):
    try:
        o = json.loads(line)
        assert isinstance(o, dict) and {"ts", "level", "component", "msg"} <= o.keys()
    except Exception:
        print("not a JSON log line: %r" % line[:200]); sys.exit(0)
print("ok")
PY
}

proj_ini "$TEST_TMP/p.ini"
proj_start "$TEST_TMP/p.ini" "$TEST_TMP/p.log" --set log.format=json \
  --set kafka.bootstrap.servers=127.0.0.1:1
for _ in $(seq 1 50); do grep -q '127.0.0.1:1' "$TEST_TMP/p.log" && break; sleep 0.2; done
sleep 1
kill -TERM "$PROJ_PID"
wait "$PROJ_PID" || true
check "the projector wrote lines" test -s "$TEST_TMP/p.log"
check_eq "projector: every line is a JSON log line" ok "$(json_lines "$TEST_TMP/p.log")"
check "projector: librdkafka's connection failure is among them, as component kafka" \
  grep -q '"component":"kafka".*127\.0\.0\.1:1' "$TEST_TMP/p.log"

relay_config "[log]" "format = json"
sed -i 's/^bootstrap.servers = .*/bootstrap.servers = 127.0.0.1:1/' "$TEST_TMP/relay.ini"
relay_start
for _ in $(seq 1 50); do grep -q '127.0.0.1:1' "$RELAY_LOG" && break; sleep 0.2; done
sleep 1
relay_stop
check_eq "relay: every line is a JSON log line" ok "$(json_lines "$RELAY_LOG")"
check "relay: librdkafka's connection failure is among them, as component kafka" \
  grep -q '"component":"kafka".*127\.0\.0\.1:1' "$RELAY_LOG"
finish
