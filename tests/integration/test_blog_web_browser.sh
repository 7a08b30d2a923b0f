#!/usr/bin/env bash
# The demo's web page in a real browser: compose/demo starts the blog web app (C,
# projector/examples/blog-web); headless Chromium (tests/integration/blog_web_browser.py) posts,
# comments (one mentions oranges), sees both pending at once and then rejected with the reason /
# approved, pushed by the projector's Server-Sent Events, without a reload; then with the
# moderation service stopped a comment stays pending and resolves after its restart.
# The screenshot stays in <build>/test-output/blog_web_browser.png.
source "$(dirname "$0")/lib.sh"
export OUTBOX_DEMO_HTTP_BASE=${OUTBOX_TEST_DEMO_HTTP_BASE:-19287}
DEMO=$OUTBOX_STATE_DIR/demo
cleanup_hooks+=("for f in $DEMO/*.pid; do [ -f \$f ] && kill -TERM \$(cat \$f); rm -f \$f; done")
for b in /usr/bin/chromium /usr/bin/chromedriver; do
  [ -x "$b" ] || { echo "missing $b: run compose/install (chromium chromium-driver python3-selenium)"; exit 1; }
done
out=$TEST_TMP/demo.out
rc=0
t0=$(date +%s)
bash "$OUTBOX_SOURCE_DIR/compose/demo" >"$out" 2>&1 || rc=$?
check_eq "the demo exits 0" 0 "$rc" || { cat "$out"; finish; }
url=$(sed -n 's|.*open \(http://[0-9.:]*/\) .*|\1|p' "$out" | head -1)
check "the demo prints the web app's URL ($url)" test -n "$url"
say "demo ready after $(( $(date +%s) - t0 )) s"

# The README's curl flow: 202 Accepted + Location, then the status resource until applied.
hdr=$(curl -sS -D - -o "$TEST_TMP/accepted.json" -X POST "${url}posts" -H 'Content-Type: application/json' \
  -d '{"author":"Curl","title":"By curl","body":"202 then poll"}')
check "POST /posts answers 202 Accepted" grep -q "^HTTP/1.1 202" <<<"$hdr"
loc=$(sed -n 's/^Location: \(.*\)\r$/\1/p' <<<"$hdr")
check "... with Location: the event's status resource ($loc)" grep -qE '^/events/[0-9a-f-]{36}\?projection=query$' <<<"$loc"
post=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["post_id"])' "$TEST_TMP/accepted.json")
code=000
for _ in $(seq 100); do
  code=$(curl -sS -o "$TEST_TMP/status.json" -w '%{http_code}' "${url%/}$loc")
  [ "$code" = 200 ] && break
  sleep 0.2
done
check_eq "the status resource (through the web app's proxy) turns 200 applied" 200 "$code"
check "... with the post's link" grep -q "\"link\":\"/posts/$post\"" "$TEST_TMP/status.json"
check_eq "GET /posts/{id} reads it from the read model" "By curl" \
  "$(curl -sS "${url}posts/$post" | $PY -c 'import json,sys; print(json.load(sys.stdin)["title"])')"

eval "$(bash "$OUTBOX_SOURCE_DIR/compose/stack" env)"
cat >"$TEST_TMP/moderation.sh" <<SH
cd "$OUTBOX_SOURCE_DIR"
pidfile=$DEMO/moderation.pid
case "\$1" in
stop)
  kill -TERM "\$(cat "\$pidfile")"
  for _ in \$(seq 100); do kill -0 "\$(cat "\$pidfile")" 2>/dev/null || break; sleep 0.1; done
  rm -f "\$pidfile" ;;
start)
  OUTBOX_MODERATION_POSTGRES_CONNINFO="host=127.0.0.1 port=$OUTBOX_PG_PORT user=outbox_moderation dbname=blog" \\
  OUTBOX_MODERATION_KAFKA_BOOTSTRAP_SERVERS="$OUTBOX_KAFKA" OUTBOX_MODERATION_REGISTRY_URL="$OUTBOX_REGISTRY_URL" \\
    nohup "$OUTBOX_BUILD_DIR/consumers/outbox-moderation" -c compose/demo.d/moderation.ini \\
    --set "http.listen=127.0.0.1:$((OUTBOX_DEMO_HTTP_BASE + 2))" >>"$DEMO/moderation.log" 2>&1 </dev/null &
  echo \$! >"\$pidfile" ;;
esac
SH
shots=$OUTBOX_BUILD_DIR/test-output
mkdir -p "$shots"
t1=$(date +%s)
rc=0
$PY "$OUTBOX_SOURCE_DIR/tests/integration/blog_web_browser.py" "$url" "$TEST_TMP/moderation.sh" \
  "$shots/blog_web_browser.png" >"$TEST_TMP/browser.out" 2>&1 || rc=$?
sed 's/^/   /' "$TEST_TMP/browser.out"
check_eq "headless Chromium saw every step ($(grep -c '^ok:' "$TEST_TMP/browser.out") ok)" 0 "$rc"
check "the screenshot was saved" test -s "$shots/blog_web_browser.png"
say "browser part: $(( $(date +%s) - t1 )) s"
finish
