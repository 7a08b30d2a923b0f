#!/usr/bin/env bash
# GET /events/stream (Server-Sent Events) on the real stack:
#   - an applied event arrives as `event: applied` with its type, aggregate and the link of
#     link.PostCreated; a dead-lettered one as `event: failed` with the reason; GET /events/{id}
#     has the same link;
#   - a client that reconnects with Last-Event-ID gets exactly what it missed, then live events;
#   - ?aggregate_id= keeps only that aggregate's events;
#   - a client that reads nothing is disconnected once it is http.sse-backlog events behind,
#     while a reading client gets every event and the projector applies them all in time;
#   - /metrics counts how the streams ended (client_gone, slow), and only the slow client is a
#     WARN in the log (a client going away is normal).
source "$(dirname "$0")/lib.sh"
source "$OUTBOX_SOURCE_DIR/tests/fixtures/projector/lib_projector.sh"
proj_setup
CEV=$OUTBOX_SOURCE_DIR/tests/fixtures/consumers/comment_events.py
SSE=$OUTBOX_SOURCE_DIR/tests/fixtures/projector/sse_client.py
one() { # TOPIC TYPE ID [VALUE-JSON]
  $PY "$CEV" one --bootstrap "$OUTBOX_KAFKA" --topic "$1" --type "$2" --id "$3" ${4:+--value "$4"} >/dev/null
}
newid() { cat /proc/sys/kernel/random/uuid; }
# events FILE: the events (not comments) received so far, one JSON per line.
events() { grep '"event"' "$1" || true; }
# wait_for FILE PATTERN SECONDS
wait_for() {
  local i
  for ((i = 0; i < $3 * 5; i++)); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.2; done
  return 1
}

proj_ini "$TEST_TMP/p.ini"
printf '[projection %s]\nlink.PostCreated = /posts/{aggregate_id}\n' "$PROJ" >>"$TEST_TMP/p.ini"
proj_start "$TEST_TMP/p.ini" "$TEST_TMP/p.log" --set http.sse-backlog=1024
for _ in $(seq 100); do grep -q "http on 127.0.0.1:" "$TEST_TMP/p.log" && break; sleep 0.1; done
port=$(sed -n 's/.*http on 127.0.0.1:\([0-9]*\).*/\1/p' "$TEST_TMP/p.log" | head -1)
check "the projector serves HTTP" test -n "$port"
PATHQ="/events/stream?projection=$PROJ"

# ---------------------------------------------------------------- applied and failed arrive
$PY "$SSE" listen 127.0.0.1 "$port" "$PATHQ" "$TEST_TMP/a.jsonl" --seconds 300 &
client=$!
check "the stream answers and says connected" wait_for "$TEST_TMP/a.jsonl" '"comment": "connected"' 20
post_id=$(newid)
one "$PREFIX.post" PostCreated "$post_id"
check "an applied event arrives" wait_for "$TEST_TMP/a.jsonl" "$post_id" 60
line=$(grep -- "$post_id" "$TEST_TMP/a.jsonl")
agg=$($PY -c 'import json,sys; print(json.loads(sys.argv[1])["data"]["aggregate_id"])' "$line")
check_eq "... as event: applied with type, aggregate, status and link" \
  "applied PostCreated post applied /posts/$agg" \
  "$($PY -c 'import json,sys; e=json.loads(sys.argv[1]); d=e["data"]; print(e["event"], d["type"], d["aggregate_type"], d["status"], d["link"])' "$line")"
check "... its id is a resume cursor <micros>-a-<uuid>" \
  grep -qE "\"id\": \"[0-9]+-a-$post_id\"" <<<"$line"
body=$(curl -sS "http://127.0.0.1:$port/events/$post_id?projection=$PROJ")
check "GET /events/{id} has the same link ($body)" grep -q "\"link\":\"/posts/$agg\"" <<<"$body"

dead_id=$(newid)
one "$PREFIX.comment" CommentCreated "$dead_id" '{"text": "POISON"}'
check "a dead-lettered event arrives" wait_for "$TEST_TMP/a.jsonl" "$dead_id" 60
line=$(grep -- "$dead_id" "$TEST_TMP/a.jsonl")
check "... as event: failed with the reason ($line)" \
  $PY -c 'import json,sys; e=json.loads(sys.argv[1]); d=e["data"]; assert e["event"]=="failed" and d["status"]=="failed" and "comments_no_poison" in d["reason"] and d["type"]=="CommentCreated"' "$line"

# ---------------------------------------------------------------- resume with Last-Event-ID
kill -TERM "$client"; wait "$client" || true
last=$($PY -c 'import json,sys; print([json.loads(l) for l in open(sys.argv[1]) if "\"event\"" in l][-1]["id"])' "$TEST_TMP/a.jsonl")
missed=()
for _ in 1 2 3; do m=$(newid); missed+=("$m"); one "$PREFIX.post" PostCreated "$m"; done
check "the missed events were applied" wait_sql "SELECT count(*) FROM projector_dedup WHERE event_id IN ('${missed[0]}','${missed[1]}','${missed[2]}')" 3 60
$PY "$SSE" listen 127.0.0.1 "$port" "$PATHQ" "$TEST_TMP/b.jsonl" --last-event-id "$last" --seconds 300 &
client=$!
check "the resumed stream replays the last missed event" wait_for "$TEST_TMP/b.jsonl" "${missed[2]}" 20
live=$(newid)
one "$PREFIX.post" PostCreated "$live"
check "... then streams live events" wait_for "$TEST_TMP/b.jsonl" "$live" 60
got=$($PY -c 'import json,sys; print(" ".join(json.loads(l)["data"]["id"] for l in open(sys.argv[1]) if "\"event\"" in l))' "$TEST_TMP/b.jsonl")
check_eq "... exactly the missed events in order, then the live one, nothing twice" \
  "${missed[*]} $live" "$got"
kill -TERM "$client"; wait "$client" || true
code=$(curl -sS -o /dev/null -w '%{http_code}' -H 'Last-Event-ID: nonsense' "http://127.0.0.1:$port$PATHQ")
check_eq "a Last-Event-ID that is not a cursor is 400" 400 "$code"

# ---------------------------------------------------------------- filter by aggregate
target=$(newid) target_event=$(newid)
$PY "$SSE" listen 127.0.0.1 "$port" "$PATHQ&aggregate_id=$target" "$TEST_TMP/f.jsonl" --seconds 300 &
client=$!
wait_for "$TEST_TMP/f.jsonl" '"comment": "connected"' 20 || true
other=$(newid)
one "$PREFIX.post" PostCreated "$other"
$PY "$CEV" one --bootstrap "$OUTBOX_KAFKA" --topic "$PREFIX.post" --type PostCreated \
  --id "$target_event" --aggregate-id "$target" --value "{\"post_id\": \"$target\"}" >/dev/null
check "the filtered stream gets its aggregate's event" wait_for "$TEST_TMP/f.jsonl" "$target_event" 60
check_eq "... and no other" 1 "$(events "$TEST_TMP/f.jsonl" | wc -l)"
kill -TERM "$client"; wait "$client" || true

# ---------------------------------------------------------------- a slow client is dropped
$PY "$SSE" slow 127.0.0.1 "$port" "$PATHQ" "$TEST_TMP/slow.json" &
slow=$!
$PY "$SSE" listen 127.0.0.1 "$port" "$PATHQ" "$TEST_TMP/fast.jsonl" --seconds 600 &
fast=$!
wait_for "$TEST_TMP/fast.jsonl" '"comment": "connected"' 20 || true
sleep 0.5
N=6000
t0=$(date +%s.%N)
events_py produce --bootstrap "$OUTBOX_KAFKA" --prefix "$PREFIX" --events $N --seed 7 \
  --format single --expect "$TEST_TMP/expect.json" >/dev/null
check "the projector applies $N events while a client reads nothing" \
  wait_sql "SELECT count(*) >= $N + 6 FROM projector_dedup WHERE projection = '$PROJ'" t 180
secs=$(echo "$(date +%s.%N) - $t0" | bc)
say "produced and applied $N events in ${secs}s with a stalled SSE client connected"
for _ in $(seq 150); do [ "$(events "$TEST_TMP/fast.jsonl" | wc -l)" -ge $N ] && break; sleep 0.2; done
check_eq "the reading client got every one of them" $N "$(events "$TEST_TMP/fast.jsonl" | wc -l)"
kill -USR1 "$slow"; wait "$slow" || true
say "slow client: $(cat "$TEST_TMP/slow.json")"
check "the slow client's stream was closed (EOF) before it got every event" \
  $PY -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["eof"] and r["events"] < int(sys.argv[2]), r' "$TEST_TMP/slow.json" "$N"
check "the projector logged why" grep -q "SSE client fell more than 1024 events behind" "$TEST_TMP/p.log"
kill -TERM "$fast"; wait "$fast" || true

# ---------------------------------------------------------------- how the streams ended
# metric NAME{LABELS}: its value on /metrics (the whole body read: no broken pipe for curl)
metric() { curl -fsS -m 10 "http://127.0.0.1:$port/metrics" | awk -v n="$1" '$1 == n && !seen {print $2; seen = 1}'; }
L="projection=\"$PROJ\""
for _ in $(seq 100); do [ "$(metric "outbox_projector_sse_clients{$L}")" = 0 ] && break; sleep 0.1; done
check_eq "no stream is open once every client left" 0 "$(metric "outbox_projector_sse_clients{$L}")"
# Counted as what the slow client saw (checked above: dropped; when a loaded box's socket buffers
# hold all its events it is not, and those checks fail, not these too)
dropped=$($PY -c 'import json,sys; print(1 if json.load(open(sys.argv[1]))["eof"] else 0)' "$TEST_TMP/slow.json")
check_eq "the clients that hung up count as client_gone" $((5 - dropped)) \
  "$(metric "outbox_projector_sse_streams_ended_total{$L,reason=\"client_gone\"}")"
check_eq "the dropped one as slow" "$dropped" "$(metric "outbox_projector_sse_streams_ended_total{$L,reason=\"slow\"}")"
check_eq "none as timeout" 0 "$(metric "outbox_projector_sse_streams_ended_total{$L,reason=\"timeout\"}")"
check_eq "the drop is the one WARN about a stream" "$dropped" "$(grep -c "WARN \[http\]" "$TEST_TMP/p.log" || true)"

kill -TERM "$PROJ_PID"; wait "$PROJ_PID" || true
finish
