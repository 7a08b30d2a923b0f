#!/usr/bin/env bash
# The relay's ops port only reads: GET and HEAD of /metrics and /healthz answer; POST, PUT,
# DELETE and PATCH answer 405 with "Allow: GET, HEAD".
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_lib.sh"

relay_config
relay_start
port=$(sed -n 's|.*metrics on http://127.0.0.1:\([0-9]*\)/metrics.*|\1|p' "$RELAY_LOG" | tail -1)
check_eq "GET /metrics: 200" 200 "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/metrics")"
check_eq "HEAD /healthz: 200" 200 "$(curl -s -m 5 -I -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz")"
for m in POST PUT DELETE PATCH; do
  for path in /metrics /healthz; do
    code=$(curl -s -m 5 -X "$m" -d 'x=1' -D "$TEST_TMP/h.txt" -o "$TEST_TMP/b.txt" -w '%{http_code}' "http://127.0.0.1:$port$path")
    check_eq "$m $path: 405" 405 "$code"
    check "$m $path: Allow: GET, HEAD" grep -qi '^Allow: GET, HEAD' "$TEST_TMP/h.txt"
  done
done
check "no metrics in a refused answer" bash -c "! grep -q outbox_relay '$TEST_TMP/b.txt'"
relay_stop
check_eq "SIGTERM: exit 0" 0 "$RELAY_RC"
finish
