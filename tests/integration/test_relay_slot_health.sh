#!/usr/bin/env bash
# Replication health: the relay reports the WAL its slot retains against max_slot_wal_keep_size
# (metrics), warns and says so on /healthz when the slot is at risk of being invalidated, and
# `check` reports a slot at risk and an invalidated one (wal_status = 'lost') with the fix.
# max_slot_wal_keep_size is lowered on the test stack with ALTER SYSTEM and restored at exit.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_lib.sh"

restore_keep() {
  psql_app -c "ALTER SYSTEM RESET max_slot_wal_keep_size" -c "SELECT pg_reload_conf()" >/dev/null
}
cleanup_hooks+=("restore_keep")

relay_config
relay_start
sleep 0.5
check_eq "unlimited max_slot_wal_keep_size: keep -1, not at risk" "-1 0" \
  "$(relay_metric outbox_relay_slot_wal_keep_bytes) $(relay_metric outbox_relay_slot_at_risk)"
check "the retained WAL is reported" test -n "$(relay_metric outbox_relay_slot_wal_retained_bytes)"
relay_stop

# 64 MB kept for slots; five WAL segments (16 MB each) written past the stopped relay's slot.
psql_app -c "ALTER SYSTEM SET max_slot_wal_keep_size = '64MB'" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
switch_wal() { # n: write a little and switch segments n times
  local i
  for i in $(seq 1 "$1"); do
    psql_app -c "SELECT pg_logical_emit_message(false, 'slot-health-test', 'x')" \
      -c "SELECT pg_switch_wal()" >/dev/null
  done
}
switch_wal 5
status=$(psql_app -c "SELECT wal_status FROM pg_replication_slots WHERE slot_name = '$SLOT'")
say "slot after 5 segments with max_slot_wal_keep_size = 64MB: wal_status $status"
check_eq "the slot is unreserved (the next checkpoint would remove its WAL)" unreserved "$status"

out=$("$RELAY_BIN" check -c "$TEST_TMP/relay.ini" 2>&1) && rc=0 || rc=$?
check_eq "check on a slot at risk: exit 3" 3 "$rc"
check "check names the slot at risk" grep -q "slot $SLOT is at risk (wal_status = 'unreserved')" <<<"$out"

: >"$RELAY_LOG"
relay_start
health=$(curl -sS -m 5 "http://127.0.0.1:$(sed -n 's|.*metrics on http://127.0.0.1:\([0-9]*\)/metrics.*|\1|p' "$RELAY_LOG" | tail -1)/healthz")
check_eq "/healthz says the slot is at risk" "active: streaming; slot at risk of invalidation" "$health"
check_eq "outbox_relay_slot_at_risk 1" 1 "$(relay_metric outbox_relay_slot_at_risk)"
check_eq "keep bytes: 64 MB" $((64 * 1024 * 1024)) "$(relay_metric outbox_relay_slot_wal_keep_bytes)"
check "the relay warns" grep -q "slot $SLOT is at risk of being invalidated: wal_status unreserved" "$RELAY_LOG"
relay_stop

# Invalidated: WAL past the limit and a checkpoint removes what the stopped slot needed.
switch_wal 6
psql_app -c "CHECKPOINT" >/dev/null
status=$(psql_app -c "SELECT wal_status FROM pg_replication_slots WHERE slot_name = '$SLOT'")
check_eq "after a checkpoint the slot is lost" lost "$status"
out=$("$RELAY_BIN" check -c "$TEST_TMP/relay.ini" 2>&1) && rc=0 || rc=$?
say "$(grep -A2 "invalidated" <<<"$out" | head -3)"
check_eq "check on an invalidated slot: exit 3" 3 "$rc"
check "check reports the invalidated slot" grep -q "slot $SLOT was invalidated (wal_status = 'lost')" <<<"$out"
check "check gives the fix (drop and recreate the slot, re-publish)" grep -q "pg_drop_replication_slot" <<<"$out"

restore_keep
check_eq "max_slot_wal_keep_size restored" -1 \
  "$(psql_app -c "SELECT setting FROM pg_settings WHERE name = 'max_slot_wal_keep_size'")"
finish
