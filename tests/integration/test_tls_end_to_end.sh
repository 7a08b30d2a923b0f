#!/usr/bin/env bash
# The relay and a projector end to end with PostgreSQL, Kafka and the registry all on TLS,
# with a throwaway CA made here (tls_lib.sh): a private stack (compose/stack with OUTBOX_TLS_*,
# its own state and ports, torn down however the test ends) where PostgreSQL admits the
# daemons' roles only over TLS with a client certificate, Kafka is reached on its SSL listener
# (client certificate required) and the registry answers https only. Events written to the
# outbox reach the read model through Kafka SSL with schemas registered over https; a poison
# event reaches the projector's dead-letter topic over SSL. Then TLS is shown to be in force:
# plaintext is refused by each server, `check` with a CA that did not sign the servers'
# certificates reports each of the three, and the relay with that CA for the registry stops
# with an error naming the CA file; a relay whose PostgreSQL CA does not verify the server
# names sslmode and sslrootcert: at start it stops, once streaming it retries until the CA
# verifies again. The registry's client certificate is checked against an
# `openssl s_server` that requires one (Apicurio cannot be made to).
# Ports: OUTBOX_TEST_TLS_PORT (default 19300) and the next 6.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/tls_lib.sh"

base=${OUTBOX_TEST_TLS_PORT:-19300}
T=$TEST_TMP/tls
STACK_ENV=(OUTBOX_STATE_DIR="$TEST_TMP/stack" OUTBOX_PG_PORT="$base"
  OUTBOX_KAFKA_PORT=$((base + 1)) OUTBOX_KAFKA_CONTROLLER_PORT=$((base + 2))
  OUTBOX_KAFKA_SSL_PORT=$((base + 3)) OUTBOX_REGISTRY_PORT=$((base + 4))
  OUTBOX_REGISTRY_MGMT_PORT=$((base + 5)) OUTBOX_KAFKA_EXTRA_LISTENERS=
  OUTBOX_TLS_CA="$T/ca.pem" OUTBOX_TLS_CERT="$T/server.pem" OUTBOX_TLS_KEY="$T/server-key.pem")
SSERVER_PORT=$((base + 6))
tstack() { env "${STACK_ENV[@]}" "$OUTBOX_SOURCE_DIR/compose/stack" "$@"; }

RELAY_PID= PROJ_PID= SSERVER_PID=
tls_cleanup() {
  local p
  for p in $RELAY_PID $PROJ_PID $SSERVER_PID; do kill -9 "$p" 2>/dev/null || true; done
  tstack reset >"$TEST_TMP/stack-down.log" 2>&1 || cat "$TEST_TMP/stack-down.log"
}
cleanup_hooks=(tls_cleanup "${cleanup_hooks[@]}")

t0=$(date +%s)
tls_make "$T"
# A second `up` waits again for what is still starting (on a box at load 60 the registry
# needed more than the stack's own bound, answering 500 while its storage was not ready).
tstack up >"$TEST_TMP/stack-up.log" 2>&1 || tstack up >>"$TEST_TMP/stack-up.log" 2>&1 ||
  { cat "$TEST_TMP/stack-up.log"; say "TLS stack did not start"; exit 1; }
eval "$(tstack env)"
say "TLS stack up in $(($(date +%s) - t0)) s"

# What every client of the test uses: the CA, and the client certificate the CA signed.
pg_tls="sslmode=verify-full sslrootcert=$T/ca.pem sslcert=$T/client.pem sslkey=$T/client-key.pem"
OUTBOX_PG_RELAY="$OUTBOX_PG_RELAY $pg_tls"
OUTBOX_PG_APP="$OUTBOX_PG_APP $pg_tls"
OUTBOX_PG_READ="$OUTBOX_PG_READ $pg_tls"
OUTBOX_KAFKA=$OUTBOX_KAFKA_SSL
kafka_tls=("security.protocol = SSL" "ssl.ca.location = $T/ca.pem"
  "ssl.certificate.location = $T/client.pem" "ssl.key.location = $T/client-key.pem")
kcat_tls=(-X security.protocol=SSL -X "ssl.ca.location=$T/ca.pem"
  -X "ssl.certificate.location=$T/client.pem" -X "ssl.key.location=$T/client-key.pem")
source "$(dirname "$0")/relay_lib.sh"
cleanup_hooks=(tls_cleanup) # relay_lib's drop_slot is moot: the whole stack goes
PROJECTOR=$OUTBOX_BUILD_DIR/projector/outbox-projector
psql_read() { psql -X -q -v ON_ERROR_STOP=1 -tA "$OUTBOX_PG_READ_SUPER" "$@"; }

check_eq "the relay's role connects over TLS" t \
  "$(psql -X -tA "$OUTBOX_PG_RELAY" -c "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")"

# ---------------------------------------------------------------- configurations
# The registry's files relative to the config file's directory ($TEST_TMP): tls/ca.pem.
# Requests get a minute: Apicurio answers slowly on a loaded machine.
relay_config "${kafka_tls[@]}" "[registry]" "url = $OUTBOX_REGISTRY_URL" "ca-file = tls/ca.pem" \
  "cert-file = tls/client.pem" "key-file = tls/client-key.pem" "timeout = 1m"
psql_read -c "CREATE TABLE tls_effects (event_id uuid PRIMARY KEY, title text NOT NULL
    CHECK (title <> 'POISON'));
  GRANT SELECT, INSERT, UPDATE, TRUNCATE ON tls_effects TO outbox_projector"
cat >"$TEST_TMP/projector.ini" <<INI
[postgres]
conninfo = $OUTBOX_PG_READ

[avro]
schema-dir = $OUTBOX_SOURCE_DIR/schemas

[projector]
batch-linger = 50ms

[registry]
url = $OUTBOX_REGISTRY_URL
ca-file = tls/ca.pem
cert-file = tls/client.pem
key-file = tls/client-key.pem
timeout = 1m

[http]
listen = off

[kafka]
bootstrap.servers = $OUTBOX_KAFKA
$(printf '%s\n' "${kafka_tls[@]}")

[projection tls]
topics = $TOPIC_PREFIX.tls
tables = tls_effects
sql.PostCreated = INSERT INTO tls_effects (event_id, title) VALUES (\$2, \$1->>'title')
    ON CONFLICT (event_id) DO NOTHING
INI

check "outbox-relay check: ready with PostgreSQL, Kafka and the registry on TLS" \
  "$RELAY_BIN" check -c "$TEST_TMP/relay.ini"

# ---------------------------------------------------------------- end to end
relay_start
"$PROJECTOR" -c "$TEST_TMP/projector.ini" >>"$TEST_TMP/projector.log" 2>&1 &
PROJ_PID=$!
insert_events 20 5 7 tls
psql -X -q -v ON_ERROR_STOP=1 "$OUTBOX_PG_APP" -c "INSERT INTO outbox (id, aggregate_type,
  aggregate_id, event_type, payload) VALUES (gen_random_uuid(), 'tls', 'poison', 'PostCreated',
  jsonb_build_object('post_id', gen_random_uuid()::text, 'author_id', 'a', 'author_name', 'A',
    'title', 'POISON', 'body', '', 'tags', '[]'::jsonb, 'metadata', '{}'::jsonb,
    'publish_date', '2026-11-23', 'created_at', '2026-11-23T15:41:33.123Z'))"
applied=0
for i in $(seq 1 300); do
  applied=$(psql_read -c "SELECT count(*) FROM tls_effects")
  [ "$applied" -ge 20 ] && [ "$(psql_read -c "SELECT count(*) FROM projector_dead_letters WHERE projection = 'tls'")" -ge 1 ] && break
  kill -0 "$PROJ_PID" 2>/dev/null || break
  sleep 0.3
done
check_eq "the 20 events reached the read model (relay -> Kafka SSL -> projector)" 20 "$applied"
check_eq "the read model holds exactly the outbox's events" \
  "$(psql_app -c "SELECT id FROM outbox WHERE aggregate_type = 'tls' AND payload->>'title' <> 'POISON' ORDER BY id")" \
  "$(psql_read -c "SELECT event_id FROM tls_effects ORDER BY event_id")"
subjects=$(curl -fsS --cacert "$T/ca.pem" "$OUTBOX_REGISTRY_URL/subjects")
check "the relay registered the schema over https ($subjects)" \
  grep -q "\"$TOPIC_PREFIX.tls-blog.events.PostCreated\"" <<<"$subjects"
check_eq "the poison event is a dead letter of the projection" 1 \
  "$(psql_read -c "SELECT count(*) FROM projector_dead_letters WHERE projection = 'tls'")"
dlq=$(kcat -b "$OUTBOX_KAFKA" "${kcat_tls[@]}" -C -t "$TOPIC_PREFIX.tls.dlq" -o beginning -e -q \
  -f '%o\n' 2>/dev/null | wc -l)
check_eq "the projector's dead-letter producer wrote it to $TOPIC_PREFIX.tls.dlq over SSL" 1 "$dlq"
framed=$(kcat -b "$OUTBOX_KAFKA" "${kcat_tls[@]}" -C -t "$TOPIC_PREFIX.tls" -o beginning -e -q \
  -c 1 -f '%s' 2>/dev/null | head -c 1 | od -An -tx1 | tr -d ' ')
check_eq "records carry the registry's Confluent framing (magic byte 0)" 00 "$framed"
# Now that the relay made the topics: the projector's check on TLS (its admin requests too).
check "outbox-projector check: ready on TLS" "$PROJECTOR" check -c "$TEST_TMP/projector.ini"
relay_stop
check_eq "SIGTERM: the relay exits 0" 0 "$RELAY_RC"
kill -TERM "$PROJ_PID"
p_rc=0
wait "$PROJ_PID" || p_rc=$?
PROJ_PID=
check_eq "SIGTERM: the projector exits 0" 0 "$p_rc"

# ---------------------------------------------------------------- TLS is in force
no_tls_pg=$(sed 's/sslmode=[^ ]*/sslmode=disable/' <<<"$OUTBOX_PG_RELAY")
check "PostgreSQL refuses the relay's role without TLS" \
  bash -c '! psql -X -tA "$1" -c "SELECT 1" >/dev/null 2>&1' _ "$no_tls_pg"
check "PostgreSQL refuses TLS without a client certificate" \
  bash -c '! psql -X -tA "$1" -c "SELECT 1" >/dev/null 2>&1' _ \
  "${OUTBOX_PG_RELAY%% sslcert=*}"
check "the registry's port refuses plain http" \
  bash -c '! curl -fsS -m 10 "http${1#https}/subjects" >/dev/null 2>&1' _ "$OUTBOX_REGISTRY_URL"
check "Kafka's SSL listener refuses a plaintext client" \
  bash -c '! kcat -b "$1" -L -m 5 >/dev/null 2>&1' _ "$OUTBOX_KAFKA"
check "Kafka's SSL listener refuses a client without a certificate" \
  bash -c '! kcat -b "$1" -X security.protocol=SSL -X "ssl.ca.location=$2" -L -m 5 >/dev/null 2>&1' \
  _ "$OUTBOX_KAFKA" "$T/ca.pem"

# The wrong CA: `check` names a problem for each of the three, the relay refuses to start.
wrong=(--set "postgres.conninfo=${OUTBOX_PG_RELAY/$T\/ca.pem/$T/other-ca.pem}"
  --set "kafka.ssl.ca.location=$T/other-ca.pem" --set "registry.ca-file=$T/other-ca.pem")
rc=0
"$RELAY_BIN" check -c "$TEST_TMP/relay.ini" "${wrong[@]}" >"$TEST_TMP/wrong.out" 2>&1 || rc=$?
check_eq "check with a CA that signed none of the servers' certificates exits 3" 3 "$rc"
check "... PostgreSQL's problem names the TLS settings to fix" \
  grep -q "PROBLEM.*PostgreSQL.*sslrootcert=$T/other-ca.pem" "$TEST_TMP/wrong.out"
check "... Kafka's problem is a TLS one naming kafka.ssl.ca.location" \
  grep -q "PROBLEM.*Kafka.*TLS.*ssl.ca.location" "$TEST_TMP/wrong.out"
check "... the registry's names its URL and the CA file" \
  grep -q "PROBLEM.*$OUTBOX_REGISTRY_URL.*$T/other-ca.pem (registry.ca-file)" "$TEST_TMP/wrong.out"
# The relay with the wrong CA for the registry: its next event needs the registry, which it
# cannot trust: it stops (exit 1, nothing confirmed past the event) instead of filing the valid
# event as a dead letter.
relay_config "${kafka_tls[@]}" "[registry]" "url = $OUTBOX_REGISTRY_URL" \
  "ca-file = tls/other-ca.pem" "cert-file = tls/client.pem" "key-file = tls/client-key.pem" \
  "timeout = 1m"
RELAY_LOG=$TEST_TMP/wrong-relay.log
relay_start
insert_events 1 1 1 tls
rc=0
for i in $(seq 1 300); do kill -0 "$RELAY_PID" 2>/dev/null || break; sleep 0.2; done
relay_stop
check_eq "the relay with a registry CA that did not sign its certificate stops with exit 1" 1 "$RELAY_RC"
check "... with an error naming the registry URL and the CA file" \
  grep -q "$OUTBOX_REGISTRY_URL.*$T/other-ca.pem (registry.ca-file)" "$RELAY_LOG"
dlq=$(kcat -b "$OUTBOX_KAFKA" "${kcat_tls[@]}" -C -t "$TOPIC_PREFIX.tls.dlq" -o beginning -e -q \
  -f '%o\n' 2>/dev/null | wc -l)
check_eq "... and files no dead letter for the event" 1 "$dlq"

# ---------------------------------------------------------------- PostgreSQL's certificate
# The relay's sslrootcert is a copy of the CA. A relay started with a CA that did not sign the
# server's certificate stops at once, naming the TLS settings. A running relay whose CA stops
# verifying the server (here the file is swapped, as a server getting a certificate from
# another CA looks from the relay) keeps retrying with backoff, each attempt naming sslmode and
# sslrootcert and the fix, and streams again once the CA verifies, without a restart.
t1=$(date +%s)
cp "$T/other-ca.pem" "$T/relay-ca.pem"
pg_saved=$OUTBOX_PG_RELAY
OUTBOX_PG_RELAY=${OUTBOX_PG_RELAY/$T\/ca.pem/$T/relay-ca.pem}
relay_config "${kafka_tls[@]}" "[registry]" "url = $OUTBOX_REGISTRY_URL" "ca-file = tls/ca.pem" \
  "cert-file = tls/client.pem" "key-file = tls/client-key.pem" "timeout = 1m"
OUTBOX_PG_RELAY=$pg_saved
RELAY_LOG=$TEST_TMP/pg-ca-relay.log
rc=0
timeout 60 "$RELAY_BIN" -c "$TEST_TMP/relay.ini" >"$RELAY_LOG" 2>&1 || rc=$?
check_eq "the relay started with a PostgreSQL CA that did not sign the server's certificate exits 1" 1 "$rc"
check "... naming sslmode and sslrootcert" \
  grep -q "sslmode=verify-full sslrootcert=$T/relay-ca.pem" "$RELAY_LOG"
cp "$T/ca.pem" "$T/relay-ca.pem"
relay_start
cp "$T/other-ca.pem" "$T/relay-ca.pem"
psql_app -c "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots
  WHERE slot_name = '$SLOT'" >/dev/null
attempts=0
for _ in $(seq 1 150); do
  attempts=$(grep -c "replication connection failed.*sslrootcert=$T/relay-ca.pem" "$RELAY_LOG" || true)
  [ "$attempts" -ge 2 ] && break
  sleep 0.2
done
check "a running relay whose PostgreSQL CA no longer verifies the server keeps retrying ($attempts attempts)" \
  bash -c '[ "$1" -ge 2 ] && kill -0 "$2"' _ "$attempts" "$RELAY_PID"
check "... each attempt naming sslmode, sslrootcert and the fix" \
  grep -q "replication connection failed: .*TLS: sslmode=verify-full sslrootcert=$T/relay-ca.pem.*fix the TLS settings in postgres.conninfo.*retrying in" \
  "$RELAY_LOG"
cp "$T/ca.pem" "$T/relay-ca.pem"
active=f
for _ in $(seq 1 200); do
  active=$(psql_app -c "SELECT active FROM pg_replication_slots WHERE slot_name = '$SLOT'")
  [ "$active" = t ] && break
  sleep 0.2
done
check_eq "... and streams again once the CA verifies, without a restart" t "$active"
relay_stop
check_eq "SIGTERM: the relay exits 0" 0 "$RELAY_RC"
say "PostgreSQL certificate checks took $(($(date +%s) - t1)) s"

# ---------------------------------------------------------------- the registry client certificate
# Apicurio cannot ask for a client certificate; openssl s_server -Verify does (its -www page
# is not a registry's answer: a handshake that passed ends in "not like a ... registry").
openssl s_server -quiet -accept "127.0.0.1:$SSERVER_PORT" -cert "$T/server.pem" \
  -key "$T/server-key.pem" -CAfile "$T/ca.pem" -Verify 1 -verify_return_error -www \
  >"$TEST_TMP/s_server.log" 2>&1 &
SSERVER_PID=$!
for i in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$SSERVER_PORT") 2>/dev/null && break; sleep 0.1; done
mtls=(--set "registry.url=https://127.0.0.1:$SSERVER_PORT/apis/ccompat/v7" --set "registry.ca-file=$T/ca.pem")
"$RELAY_BIN" check -c "$TEST_TMP/relay.ini" "${mtls[@]}" >"$TEST_TMP/mtls.out" 2>&1 || true
check "a registry requiring a client certificate accepts registry.cert-file/key-file" \
  grep -q "PROBLEM.*answers, but not like a Confluent-compatible" "$TEST_TMP/mtls.out"
"$RELAY_BIN" check -c "$TEST_TMP/relay.ini" "${mtls[@]}" --set registry.cert-file= \
  --set registry.key-file= >"$TEST_TMP/nocert.out" 2>&1 || true
check "... and refuses the relay without them" \
  bash -c '! grep -q "answers, but not like" "$1" && grep -q "PROBLEM.*registry check" "$1"' _ \
  "$TEST_TMP/nocert.out"
kill "$SSERVER_PID" 2>/dev/null || true
wait "$SSERVER_PID" 2>/dev/null || true
SSERVER_PID=

say "TLS test took $(($(date +%s) - t0)) s"
finish
