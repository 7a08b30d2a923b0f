#!/usr/bin/env bash
# Two relay properties on their own outbox table:
#  - a bytea payload (already Avro-encoded by the application) is published unchanged;
#  - in-flight memory is bounded: with relay.max-inflight at its minimum (64 kB) a 20,000-row
#    backlog still drains completely and in order, and the in-flight gauge never exceeds the
#    bound by more than one message.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_lib.sh"

table=itest_bytea_$RUN_ID
pub=itest_bytea_pub_$RUN_ID
psql_app -c "CREATE TABLE public.$table (id uuid PRIMARY KEY, aggregate_type text NOT NULL,
  aggregate_id text NOT NULL, event_type text NOT NULL, payload bytea NOT NULL, headers jsonb)"
psql_app -c "GRANT SELECT ON public.$table TO outbox_relay; CREATE PUBLICATION $pub FOR TABLE public.$table WITH (publish = 'insert')"
cleanup_hooks+=("psql_app -c 'DROP PUBLICATION IF EXISTS $pub; DROP TABLE IF EXISTS public.$table'")
relay_config "[relay]" "max-inflight = 64kB"
sed -i "s/^slot = .*/&\npublication = $pub\ntable = public.$table/" "$TEST_TMP/relay.ini"
relay_start

agg=y$RUN_ID
topic=$TOPIC_PREFIX.$agg
# Three opaque payloads, one with every byte value.
psql_app -c "INSERT INTO public.$table VALUES
  (gen_random_uuid(), '$agg', 'a1', 'Opaque', '\\x00c301deadbeef', '{\"test_seq\": \"1\"}'),
  (gen_random_uuid(), '$agg', 'a1', 'Opaque', (SELECT string_agg(set_byte('\\x00'::bytea, 0, g), ''::bytea ORDER BY g) FROM generate_series(0, 255) g), '{\"test_seq\": \"2\"}'),
  (gen_random_uuid(), '$agg', 'a1', 'Opaque', '', '{\"test_seq\": \"3\"}')"
wait_topic_count "$topic" 3 20
got=$(kcat -b "$OUTBOX_KAFKA" -C -t "$topic" -o beginning -c 3 -e -q -f '%S:' 2>/dev/null)
check_eq "bytea payloads are published byte for byte (sizes 7, 256, 0)" "7:256:0:" "$got"
first=$(kcat -b "$OUTBOX_KAFKA" -C -t "$topic" -o beginning -c 1 -e -q -f '%s' 2>/dev/null | od -An -tx1 | tr -d ' \n')
check_eq "the first payload is exactly the bytes written" "00c301deadbeef" "$first"
all=$(kcat -b "$OUTBOX_KAFKA" -C -t "$topic" -o 1 -c 1 -e -q -f '%s' 2>/dev/null | od -An -tx1 | tr -d ' \n')
check_eq "all 256 byte values survive" "$(seq 0 255 | xargs printf '%02x')" "$all"

# Backpressure: a backlog much larger than the in-flight bound.
agg2=z$RUN_ID
topic2=$TOPIC_PREFIX.$agg2
psql_app -c "INSERT INTO public.$table SELECT gen_random_uuid(), '$agg2', 'k' || (g % 50), 'Opaque',
  convert_to(repeat('x', 200) || g, 'UTF8'), jsonb_build_object('test_seq', g::text)
  FROM generate_series(1, 20000) g"
max=0
for i in $(seq 1 600); do
  v=$(relay_metric outbox_relay_inflight_bytes)
  [ -n "$v" ] && [ "$v" -gt "$max" ] && max=$v
  [ "$(topic_count "$topic2")" -ge 20000 ] && break
  sleep 0.05
done
say "largest in-flight bytes sampled: $max"
check "in-flight bytes stayed within 64 kB plus one message ($max)" test "$max" -le $((65536 + 1024))
check_eq "the whole backlog drained" 20000 "$(topic_count "$topic2")"
kcat -b "$OUTBOX_KAFKA" -C -t "$topic2" -o beginning -e -q -f '%k %h\n' 2>/dev/null >"$TEST_TMP/keys.txt"
out_of_order=$("$PY" - "$TEST_TMP/keys.txt" <<'PY'
import re, sys, collections
last = collections.defaultdict(int); bad = 0
for line in open(sys.argv[1]):
    key, hdrs = line.split(" ", 1)
    seq = int(re.search(r"test_seq=(\d+)", hdrs).group(1))
    bad += seq < last[key]; last[key] = seq
print(bad)
PY
)
check_eq "order per aggregate kept under backpressure" 0 "$out_of_order"
relay_stop
check_eq "SIGTERM: exit 0" 0 "$RELAY_RC"
finish
