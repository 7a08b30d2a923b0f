#!/usr/bin/env bash
# A registry request longer than the lease's TTL does not cost the relay its lease: while the
# loop thread waits on the registry (bounded by registry.timeout, here 10 s), the lease's keeper
# thread renews it. Before, a relay with relay.lease-ttl = 1s lost its lease on the first slow
# registration (seen in the chaos runs on a loaded box: a 5 s registry request, lease TTL 3 s),
# purged what it had in flight and restarted the stream: duplicates and a pause for nothing.
# The registry is paused (SIGSTOP) for 4 s, four TTLs, while the relay registers the schema of
# a new topic.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_lib.sh"

agg=lease$RUN_ID
topic=$TOPIC_PREFIX.$agg
relay_config "[registry]" "url = $OUTBOX_REGISTRY_URL" "timeout = 10s" "[relay]" "lease-ttl = 1s"
relay_start || exit 1

rpid=$(cat "$OUTBOX_STATE_DIR/registry/registry.pid")
cleanup_hooks+=("kill -CONT $rpid 2>/dev/null")
kill -STOP "$rpid"
insert_events 20 3 5 "$agg"
sleep 4
kill -CONT "$rpid"

wait_topic_count "$topic" 20
check_eq "the 20 events are on Kafka, once each" 20 "$(topic_count "$topic")"
check_eq "no lease lost while the registry was slow" 0 "$(relay_metric outbox_relay_lease_losses_total)"
check_eq "the relay still streams" 1 "$(relay_metric outbox_relay_streaming)"
check "the log has no lost lease" bash -c "! grep -q 'lost the lease' '$RELAY_LOG'"
grep -E "WARN|ERROR" "$RELAY_LOG" | head -20 || true # what the relay saw, for the log
relay_stop
check_eq "clean stop" 0 "$RELAY_RC"
finish
