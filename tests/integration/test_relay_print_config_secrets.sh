#!/usr/bin/env bash
# `outbox-relay print-config` shows the effective configuration without any secret or key
# material: the client's private key (kafka.ssl.key.pem), its password, SASL and OAuth secrets,
# a password inside postgres.conninfo, the registry's basic auth, PEM armour under any key.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_lib.sh"

key=$(printf -- '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----')
relay_config "[registry]" "url = $OUTBOX_REGISTRY_URL" "basic-auth = reg:regpass1"
rc=0
OUTBOX_RELAY_KAFKA_SSL_KEY_PEM="$key" "$RELAY_BIN" print-config -c "$TEST_TMP/relay.ini" \
  --set "postgres.conninfo=$OUTBOX_PG_RELAY password=pgpass1" \
  --set kafka.ssl.key.password=keypass1 --set kafka.sasl.password=saslpass1 \
  --set kafka.sasl.oauthbearer.client.secret=oauth1 \
  --set "kafka.ssl.ca.pem=-----BEGIN CERTIFICATE-----MIIDca1-----END CERTIFICATE-----" \
  --set "kafka.ssl.engine.id=-----BEGIN RSA PRIVATE KEY-----MIIEodd" \
  >"$TEST_TMP/out.txt" 2>&1 || rc=$?
cat "$TEST_TMP/out.txt"
check_eq "print-config: exit 0" 0 "$rc"
for secret in MIIE BEGIN keypass1 saslpass1 oauth1 pgpass1 regpass1 MIIDca1; do
  check "no '$secret' in the output" bash -c "! grep -q -- '$secret' '$TEST_TMP/out.txt'"
done
check "the private key's entry is there, masked" grep -q '^kafka.ssl.key.pem = \*\*\*' "$TEST_TMP/out.txt"
check "the conninfo is shown with its password masked" grep -q '^postgres.conninfo = .*password=\*\*\*' "$TEST_TMP/out.txt"
check "other keys are shown as they are" grep -q "^kafka.bootstrap.servers = $OUTBOX_KAFKA" "$TEST_TMP/out.txt"
finish
