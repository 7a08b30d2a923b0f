/* The relay's metrics: its one stats struct rendered as Prometheus text, in one function. */
#include <time.h>

#include "metrics.h"
#include "relay.h"

#define LOAD(field) atomic_load_explicit(&stats->field, memory_order_relaxed)

static void counter(outbox_metrics_buf *buf, const char *name, const char *help, uint64_t v)
{
    outbox_metrics_header(buf, name, OUTBOX_METRICS_COUNTER, help);
    outbox_metrics_counter(buf, name, NULL, 0, v);
}

static void gauge(outbox_metrics_buf *buf, const char *name, const char *help, int64_t v)
{
    outbox_metrics_header(buf, name, OUTBOX_METRICS_GAUGE, help);
    outbox_metrics_gauge(buf, name, NULL, 0, v);
}

/* outbox.prune's counters (all 0 while it is off). */
static void relay_prune_render(outbox_metrics_buf *buf, const relay_prune_stats *stats)
{
    counter(buf, "outbox_relay_pruned_rows_total",
            "Outbox rows deleted by outbox.prune (their events acknowledged and confirmed).",
            LOAD(rows));
    static const char *const name = "outbox_relay_prune_errors_total";
    outbox_metrics_header(buf, name, OUTBOX_METRICS_COUNTER,
                          "outbox.prune batches that failed, by reason: privilege (the role lacks "
                          "DELETE; given up), transient (connection, lock, timeout; retried), "
                          "other (given up).");
    const struct {
        const char *reason;
        uint64_t v;
    } errs[] = {{"privilege", LOAD(errors_privilege)},
                {"transient", LOAD(errors_transient)},
                {"other", LOAD(errors_other)}};
    for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
        outbox_metrics_label l = {"reason", errs[i].reason};
        outbox_metrics_counter(buf, name, &l, 1, errs[i].v);
    }
    counter(buf, "outbox_relay_prune_skipped_rows_total",
            "Published rows outbox.prune left in the table (a batch given up, or its list full).",
            LOAD(skipped));
    gauge(buf, "outbox_relay_prune_pending_rows",
          "Published rows outbox.prune still lists (deleted once confirmed).", LOAD(pending));
}

/* relay.exactly-once's counters (all 0 while it is off). */
static void relay_eos_render(outbox_metrics_buf *buf, const relay_txn_stats *stats)
{
    static const char *const name = "outbox_relay_kafka_transactions_total";
    outbox_metrics_header(buf, name, OUTBOX_METRICS_COUNTER,
                          "relay.exactly-once: Kafka transactions by result: committed, or "
                          "aborted (streaming then restarts from the confirmed position).");
    outbox_metrics_label committed = {"result", "committed"}, aborted = {"result", "aborted"};
    outbox_metrics_counter(buf, name, &committed, 1, LOAD(committed));
    outbox_metrics_counter(buf, name, &aborted, 1, LOAD(aborted));
    counter(buf, "outbox_relay_transactions_skipped_total",
            "relay.exactly-once: PostgreSQL transactions resent by the slot that Kafka already "
            "had (skipped, and confirmed).",
            LOAD(skipped));
    gauge(buf, "outbox_relay_kafka_committed_lsn",
          "relay.exactly-once: end LSN the last committed Kafka transaction covers.",
          (int64_t)LOAD(committed_lsn));
}

char *relay_stats_render(const relay_stats *stats)
{
    outbox_metrics_buf *buf = outbox_metrics_buf_new();
    if (!buf)
        return NULL;
    counter(buf, "outbox_relay_events_published_total",
            "Outbox events encoded and handed to Kafka (dead letters not included).",
            LOAD(events_published));
    counter(buf, "outbox_relay_messages_acked_total",
            "Messages (events and dead letters) Kafka acknowledged.", LOAD(events_acked));
    counter(buf, "outbox_relay_delivery_failures_total",
            "Messages Kafka could not take after retries; the relay stops unconfirmed.",
            LOAD(delivery_failures));
    counter(buf, "outbox_relay_delivery_retries_total",
            "Messages held to be produced again because Kafka did not know their topic yet "
            "(a broker outage when a topic's first events came, a topic created on first use), "
            "and the later messages held behind them.",
            LOAD(delivery_retries));
    gauge(buf, "outbox_relay_held_messages",
          "Messages held, unconfirmed, until Kafka knows their topic (0: none).",
          (int64_t)LOAD(held_messages));
    outbox_metrics_header(buf, "outbox_relay_dead_letters_total", OUTBOX_METRICS_COUNTER,
                          "Bad events sent to the dead-letter topic, by reason.");
    for (int i = 0; i < RELAY_DLQ_REASONS; i++) {
        outbox_metrics_label l = {"reason", relay_dlq_reason_name((relay_dlq_reason)i)};
        outbox_metrics_counter(buf, "outbox_relay_dead_letters_total", &l, 1,
                               LOAD(dead_letters[i]));
    }
    counter(buf, "outbox_relay_rows_ignored_total",
            "UPDATE, DELETE or TRUNCATE of the outbox seen and not published.", LOAD(rows_ignored));
    counter(buf, "outbox_relay_messages_ignored_total",
            "Non-transactional logical messages with the outbox prefix, ignored (only "
            "transactional ones publish, with outbox.logical-messages on).",
            LOAD(messages_ignored));
    counter(buf, "outbox_relay_reserved_headers_dropped_total",
            "Headers-column entries named like a relay header (id, event_type, aggregate_type, "
            "aggregate_id, outbox.*), dropped; their events were published with the relay's own.",
            LOAD(reserved_headers_dropped));
    counter(buf, "outbox_relay_transactions_total", "Committed transactions received.",
            LOAD(transactions));
    counter(buf, "outbox_relay_bytes_published_total", "Key and value bytes handed to Kafka.",
            LOAD(bytes_published));
    counter(buf, "outbox_relay_status_updates_total", "Standby status updates sent.",
            LOAD(status_updates));
    counter(buf, "outbox_relay_registry_retries_total",
            "Schema registry calls retried while it was unavailable.", LOAD(registry_retries));
    counter(buf, "outbox_relay_reconnects_total", "Replication connections re-established.",
            LOAD(reconnects));
    uint64_t confirmed = LOAD(confirmed_lsn), wal_end = LOAD(server_wal_end);
    gauge(buf, "outbox_relay_confirmed_lsn",
          "WAL position last confirmed to PostgreSQL (the slot's confirmed_flush_lsn).",
          (int64_t)confirmed);
    gauge(buf, "outbox_relay_received_lsn", "WAL position last received.",
          (int64_t)LOAD(received_lsn));
    gauge(buf, "outbox_relay_slot_lag_bytes",
          "Server WAL end (last keepalive) minus the confirmed position.",
          wal_end > confirmed ? (int64_t)(wal_end - confirmed) : 0);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    int64_t oldest = LOAD(oldest_unconfirmed_commit_us);
    outbox_metrics_header(buf, "outbox_relay_slot_lag_seconds", OUTBOX_METRICS_GAUGE,
                          "Age of the oldest received transaction not yet confirmed (0: none).");
    outbox_metrics_gauge_double(buf, "outbox_relay_slot_lag_seconds", NULL, 0,
                                oldest && now > oldest ? (double)(now - oldest) / 1e6 : 0.0);
    gauge(buf, "outbox_relay_inflight_bytes", "Bytes handed to Kafka and not yet acknowledged.",
          (int64_t)LOAD(inflight_bytes));
    gauge(buf, "outbox_relay_inflight_messages", "Messages handed to Kafka, not yet acknowledged.",
          (int64_t)LOAD(inflight_messages));
    gauge(buf, "outbox_relay_streaming", "1 while the replication stream is up.", LOAD(streaming));
    gauge(buf, "outbox_relay_active",
          "1 while this relay holds the slot's lease (active), 0 as standby or starting.",
          LOAD(role) == RELAY_ROLE_ACTIVE);
    gauge(buf, "outbox_relay_slot_wal_retained_bytes",
          "WAL the replication slot holds back (from its restart_lsn).",
          LOAD(slot_wal_retained_bytes));
    gauge(buf, "outbox_relay_slot_safe_wal_bytes",
          "WAL that can still be written before the slot is at risk of invalidation "
          "(safe_wal_size; -1: max_slot_wal_keep_size unlimited).",
          LOAD(slot_safe_wal_bytes));
    gauge(buf, "outbox_relay_slot_wal_keep_bytes",
          "max_slot_wal_keep_size in bytes (-1: unlimited).", LOAD(slot_wal_keep_bytes));
    gauge(buf, "outbox_relay_slot_at_risk",
          "0: ok, 1: at risk of invalidation (wal_status unreserved, or under a fifth of "
          "max_slot_wal_keep_size left), 2: lost.",
          LOAD(slot_health));
    counter(buf, "outbox_relay_lease_takeovers_total",
            "Leases taken over from another relay after waiting as standby.", LOAD(takeovers));
    counter(buf, "outbox_relay_lease_losses_total",
            "Leases lost while streaming (paused or cut off longer than relay.lease-ttl).",
            LOAD(lease_losses));
    relay_prune_render(buf, &stats->prune);
    relay_eos_render(buf, &stats->eos);
    char *text = outbox_metrics_buf_steal(buf, NULL);
    outbox_metrics_buf_destroy(buf);
    return text;
}
