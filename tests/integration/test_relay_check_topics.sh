#!/usr/bin/env bash
# `outbox-relay check` against a broker that does not create topics on first use
# (auto.create.topics.enable=false, a static broker setting: a throwaway KRaft broker is started
# for this test from the stack's Kafka jars): it reports the setting and every missing topic the
# outbox needs, per aggregate type present in the outbox tables, with the dead-letter topics;
# once they exist it is ready. Against the stack's broker (auto-create on) it says so. The relay
# on that broker stops on an event for a missing topic, saying how to fix it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_lib.sh"

# Ports of the throwaway broker: the stack's Kafka port + 5 and + 6 unless set.
kport=${OUTBOX_TEST_KAFKA_NOAUTO_PORT:-$(( ${OUTBOX_KAFKA##*:} + 5 ))}
cport=${OUTBOX_TEST_KAFKA_NOAUTO_CONTROLLER_PORT:-$((kport + 1))}
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$kport" "$cport"; do
  port_free "$p" || { say "port $p is taken: set OUTBOX_TEST_KAFKA_NOAUTO_PORT to a free pair"; exit 1; }
done
kdir=$TEST_TMP/kafka
mkdir -p "$kdir/data"
cat >"$kdir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$kport,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$kport
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$kdir/data
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
auto.create.topics.enable=false
PROPS
printf 'log4j.rootLogger=WARN, file\nlog4j.appender.file=org.apache.log4j.FileAppender\nlog4j.appender.file.File=%s/server.log\nlog4j.appender.file.layout=org.apache.log4j.PatternLayout\nlog4j.appender.file.layout.ConversionPattern=[%%d] %%p %%m (%%c)%%n\n' "$kdir" >"$kdir/log4j.properties"
java=(java -Xms128m -Xmx256m -XX:+UseSerialGC -Djava.awt.headless=true
  "-Dlog4j.configuration=file:$kdir/log4j.properties" -cp "$OUTBOX_KAFKA_LIBS/*")
"${java[@]}" kafka.tools.StorageTool format -t "$("${java[@]}" kafka.tools.StorageTool random-uuid)" \
  -c "$kdir/server.properties" >"$kdir/format.log" 2>&1 || { cat "$kdir/format.log"; exit 1; }
"${java[@]}" kafka.Kafka "$kdir/server.properties" >"$kdir/stdout.log" 2>&1 </dev/null &
kpid=$!
# Before on_exit removes $TEST_TMP (hooks run first): stop the broker, wait for it.
cleanup_hooks=("kill $kpid 2>/dev/null; for i in \$(seq 1 100); do kill -0 $kpid 2>/dev/null || break; sleep 0.2; done; kill -9 $kpid 2>/dev/null" "${cleanup_hooks[@]}")
for i in $(seq 1 300); do
  kcat -b "127.0.0.1:$kport" -L -m 2 2>/dev/null | grep -q '1 brokers' && break
  kill -0 "$kpid" 2>/dev/null || { tail -20 "$kdir/server.log"; say "throwaway broker exited"; exit 1; }
  sleep 0.4
done
kcat -b "127.0.0.1:$kport" -L -m 2 2>/dev/null | grep -q '1 brokers' || { say "throwaway broker does not answer"; exit 1; }

# An outbox table of its own, rows of two aggregate types (each routed to its topic).
schema=itest_$RUN_ID
pub=itest_pub_$RUN_ID
psql_app -c "CREATE SCHEMA $schema; CREATE TABLE $schema.outbox (LIKE public.outbox INCLUDING ALL);
  GRANT USAGE ON SCHEMA $schema TO outbox_relay; GRANT SELECT ON $schema.outbox TO outbox_relay;
  CREATE PUBLICATION $pub FOR TABLE $schema.outbox WITH (publish = 'insert');
  INSERT INTO $schema.outbox (id, aggregate_type, aggregate_id, event_type, payload) VALUES
    (gen_random_uuid(), 'post', 'p1', 'PostCreated', '{}'),
    (gen_random_uuid(), 'post', 'p2', 'PostCreated', '{}'),
    (gen_random_uuid(), 'comment', 'c1', 'CommentCreated', '{}')"
cleanup_hooks+=("psql_app -c 'DROP PUBLICATION IF EXISTS $pub; DROP SCHEMA IF EXISTS $schema CASCADE'")
relay_config "[dlq]" "fallback-topic = $TOPIC_PREFIX.dlq"
sets=(--set "postgres.publication=$pub" --set "postgres.tables=$schema.outbox")
run_check() { # name, bootstrap: output in $TEST_TMP/<name>.txt, exit status in $rc
  rc=0
  "$RELAY_BIN" check -c "$TEST_TMP/relay.ini" "${sets[@]}" --set "kafka.bootstrap.servers=$2" \
    >"$TEST_TMP/$1.txt" 2>&1 || rc=$?
  cat "$TEST_TMP/$1.txt"
}

run_check noauto "127.0.0.1:$kport"
check_eq "auto-create off, topics missing: exit 3" 3 "$rc"
check "the broker's setting is reported" grep -q "auto.create.topics.enable = false" "$TEST_TMP/noauto.txt"
for t in "$TOPIC_PREFIX.post" "$TOPIC_PREFIX.comment"; do
  check "missing topic $t is a problem naming its aggregate type" \
    grep -q "PROBLEM  topic $t does not exist .*aggregate type '${t##*.}'" "$TEST_TMP/noauto.txt"
  check "missing dead-letter topic $t.dlq is a problem" \
    grep -q "PROBLEM  dead-letter topic $t.dlq does not exist" "$TEST_TMP/noauto.txt"
done
check "missing fallback dead-letter topic is a problem" \
  grep -q "PROBLEM  dead-letter topic $TOPIC_PREFIX.dlq does not exist" "$TEST_TMP/noauto.txt"
check "each missing topic comes with how to create it" grep -q "fix: create it.*--topic $TOPIC_PREFIX.post" "$TEST_TMP/noauto.txt"
check "the problems are counted" grep -q "^5 problems found" "$TEST_TMP/noauto.txt"

create_topics() {
  "$PY" - "127.0.0.1:$kport" "$@" <<'PY'
import sys
from confluent_kafka.admin import AdminClient, NewTopic
admin = AdminClient({"bootstrap.servers": sys.argv[1]})
for t, f in admin.create_topics([NewTopic(t, 1, 1) for t in sys.argv[2:]]).items():
    f.result(30)
PY
}
create_topics "$TOPIC_PREFIX.post" "$TOPIC_PREFIX.post.dlq"
run_check some "127.0.0.1:$kport"
check "an existing topic is no longer reported" bash -c "! grep -q 'topic $TOPIC_PREFIX.post does not' '$TEST_TMP/some.txt'"
check "the others still are" grep -q "^3 problems found" "$TEST_TMP/some.txt"
create_topics "$TOPIC_PREFIX.comment" "$TOPIC_PREFIX.comment.dlq" "$TOPIC_PREFIX.dlq"
run_check all "127.0.0.1:$kport"
check_eq "every topic exists: ready" 0 "$rc"
check "it says the topics exist" grep -q "ok  *5 topics the outbox needs exist" "$TEST_TMP/all.txt"

# The relay itself on that broker: an event for a topic that does not exist (and that nothing
# creates) stops it, naming the topic and the fix, with the event unconfirmed; it is not held
# forever as if the broker were down.
relay_start "${sets[@]}" --set "kafka.bootstrap.servers=127.0.0.1:$kport" \
  --set "kafka.topic.metadata.propagation.max.ms=1000"
psql_app -c "CREATE EXTENSION IF NOT EXISTS pg_walinspect" >/dev/null
before=$(psql_app -c "SELECT pg_current_wal_insert_lsn()")
psql_app -c "INSERT INTO $schema.outbox (id, aggregate_type, aggregate_id, event_type, payload)
  VALUES (gen_random_uuid(), 'gone', 'g1', 'PostCreated', jsonb_build_object('post_id', gen_random_uuid()::text,
    'author_id', 'a1', 'author_name', 'Ada', 'title', 't', 'body', 'b', 'tags', '[]'::jsonb,
    'metadata', '{}'::jsonb, 'publish_date', '2026-11-23', 'created_at', '2026-11-23T15:41:33.123Z'))"
barrier=$(commit_record_start "$before" "$schema.outbox" "aggregate_type = 'gone'")
wait_relay_exit 60
relay_stop
grep "\[relay\]" "$RELAY_LOG" | tail -3
check_eq "a topic Kafka will not create: the relay stops with exit 1" 1 "$RELAY_RC"
check "the reason names the topic, the broker's setting and the fix" grep -q \
  "topic $TOPIC_PREFIX.gone does not exist and Kafka will not create it (broker 1 has auto.create.topics.enable = false): create it (kafka-topics.sh --create --topic $TOPIC_PREFIX.gone)" \
  "$RELAY_LOG"
check_eq "the event is not confirmed (the slot at most at its commit record, $barrier)" t \
  "$(psql_app -c "SELECT '$(slot_confirmed)'::pg_lsn <= '${barrier:-0/0}'::pg_lsn")"
check "its commit record was found" test -n "$barrier"
drop_slot

run_check auto "$OUTBOX_KAFKA"
check_eq "the stack's broker creates topics: ready" 0 "$rc"
check "it says so" grep -q "ok  *the brokers create topics on first use (auto.create.topics.enable = true)" "$TEST_TMP/auto.txt"
finish
