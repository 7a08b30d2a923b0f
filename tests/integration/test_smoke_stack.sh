#!/usr/bin/env bash
# The rig is real: PostgreSQL streams an outbox insert through a logical slot with pgoutput,
# Kafka round-trips a record, the registry stores a schema and returns it by id.
source "$(dirname "$0")/lib.sh"
sfx=$(rand_suffix)

# --- PostgreSQL: an outbox row comes back through a pgoutput slot (pg_recvlogical).
slot=smoke_$sfx
pg_recvlogical -d "$OUTBOX_PG_RELAY" --slot "$slot" --create-slot -P pgoutput
cleanup_hooks+=("pg_recvlogical -d \"$OUTBOX_PG_RELAY\" --slot $slot --drop-slot")
event_id=$(cat /proc/sys/kernel/random/uuid)
psql_app -c "INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload)
             VALUES ('$event_id', 'smoke', 'agg-1', 'SmokeTested', '{\"n\": 1}')"
endpos=$(psql_app -c "SELECT pg_current_wal_lsn()")
timeout 60 pg_recvlogical -d "$OUTBOX_PG_RELAY" --slot "$slot" --start --endpos "$endpos" \
  -o proto_version=1 -o publication_names=outbox_pub -f "$TEST_TMP/wal.bin" --no-loop
check "pgoutput stream carries the inserted outbox row's id" grep -aq "$event_id" "$TEST_TMP/wal.bin"
check "pgoutput stream carries the outbox relation" grep -aq "aggregate_type" "$TEST_TMP/wal.bin"
# pgoutput Insert message: 'I' then relid; the row is sent as text columns.
check "the payload arrives as jsonb text" grep -aq '{"n": 1}' "$TEST_TMP/wal.bin"

# --- Kafka: a record round-trips through the broker (kcat).
topic=smoke.$sfx
value="hello-$sfx"
printf 'k1:%s\n' "$value" | kcat -q -b "$OUTBOX_KAFKA" -P -t "$topic" -K: -X topic.request.required.acks=all
got=$(kcat -q -b "$OUTBOX_KAFKA" -C -t "$topic" -o beginning -c 1 -e -f '%k=%s' -m 30)
check_eq "kcat reads back the record it produced" "k1=$value" "$got"

# --- Registry: register a schema through the Confluent-compatible API, fetch it by id.
subject="smoke-$sfx-value"
schema=$($PY -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))))' "$OUTBOX_SOURCE_DIR/schemas/PostCreated.avsc")
body=$($PY -c 'import json,sys; print(json.dumps({"schema": sys.stdin.read()}))' <<<"$schema")
resp=$(curl -fsS -m 10 -X POST -H 'Content-Type: application/vnd.schemaregistry.v1+json' \
  --data "$body" "$OUTBOX_REGISTRY_URL/subjects/$subject/versions")
id=$($PY -c 'import json,sys; print(json.load(sys.stdin)["id"])' <<<"$resp")
check "registering a schema returns a numeric id ($id)" test "$id" -ge 0
fetched=$(curl -fsS -m 10 "$OUTBOX_REGISTRY_URL/schemas/ids/$id")
same=$($PY - "$schema" "$fetched" <<'PY'
import json, sys
want = json.loads(sys.argv[1]); got = json.loads(json.loads(sys.argv[2])["schema"])
print("same" if want == got else "differs: %r" % got)
PY
)
check_eq "fetching the id returns the schema" same "$same"

finish
