#ifndef PROJECTOR_STATS_H
#define PROJECTOR_STATS_H

/*
 * projector_stats: the daemon's one stats struct per projection, rendered in ONE function
 * (projector_stats_render) as Prometheus text. Every metric carries the label
 * projection="NAME" (and worker="N" when the stats are one of several runners of a projection,
 * as in `rebuild`).
 *
 *   outbox_projector_records_total            counter  records consumed from Kafka
 *   outbox_projector_events_applied_total     counter  events whose mapped statement ran
 *                                                      (committed)
 *   outbox_projector_events_duplicate_total   counter  events skipped: already applied
 *                                                      (dedup row present)
 *   outbox_projector_events_unmapped_total    counter  events without a sql.<Type> mapping:
 *                                                      skipped, position advanced
 *   outbox_projector_dead_letters_total{reason="sql"|"decode"}
 *                                             counter  events sent to the dead-letter topic
 *                                                      (permanent SQL error / undecodable)
 *   outbox_projector_batches_total            counter  batch transactions committed
 *   outbox_projector_batch_retries_total{cause="transient"|"permanent"|"dlq"|"set_fallback"}
 *                                             counter  batch attempts rolled back and
 *                                                      retried: transient SQL error (after a
 *                                                      backoff), an event isolated after a
 *                                                      permanent error, a dead-letter
 *                                                      record not acknowledged, or a set
 *                                                      statement's run that failed and is
 *                                                      re-applied one event at a time
 *   outbox_projector_set_statements_total     counter  set statements (sqlset.<Type>) run in
 *                                                      committed batches, each for a run of
 *                                                      events
 *   outbox_projector_replays_seen_total       counter  batches dropped and offsets re-read
 *                                                      because a replay bumped the generation
 *   outbox_projector_rebalances_total{kind="assign"|"revoke"}
 *                                             counter  consumer group rebalance callbacks
 *   outbox_projector_notifies_total           counter  NOTIFY payloads sent (committed)
 *   outbox_projector_dedup_pruned_total       counter  dedup rows deleted after retention
 *   outbox_projector_commit_time_ignored_total counter events whose outbox.commit_time
 *                                                      header was not RFC 3339 ($8 NULL)
 *   outbox_projector_sse_streams_ended_total{reason="client_gone"|"slow"|"timeout"|"stopped"}
 *                                             counter  GET /events/stream connections that
 *                                                      ended: the client went away (normal),
 *                                                      dropped for falling more than
 *                                                      http.sse-backlog behind, nothing sent
 *                                                      for the connection timeout, server stop
 *   outbox_projector_sse_events_total         counter  events published to the projection's
 *                                                      event stream (applied and failed)
 *   outbox_projector_sse_refused_total        counter  stream requests answered 503
 *                                                      (http.sse-max-clients reached)
 *   outbox_projector_sse_clients              gauge    open event streams
 *   outbox_projector_assigned_partitions      gauge    partitions currently assigned
 *   outbox_projector_lag_records              gauge    records behind the high watermarks
 *                                                      of the assigned partitions (last
 *                                                      measured, at most every second)
 *   outbox_projector_last_commit_seconds      gauge    unix time of the last batch commit
 *   outbox_projector_up                       gauge    1 running, 0 retrying or failed
 *   outbox_projector_state                    gauge    0 starting, 1 running, 2 retrying,
 *                                                      3 failed (fatal, stopped), 4 stopped
 *   outbox_projector_batch_seconds            histogram  duration of a committed batch
 *                                                      transaction (both round trips)
 *   outbox_projector_batch_events             histogram  events per committed batch
 *
 * Threads: the projection's thread writes (relaxed atomics), the HTTP thread renders; the
 * sse_* fields are copied from the projection's stream channel (lib/http keeps them) by the
 * HTTP thread just before it renders.
 */

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics.h"

typedef enum projector_state {
    PROJECTOR_STATE_STARTING = 0,
    PROJECTOR_STATE_RUNNING = 1,
    PROJECTOR_STATE_RETRYING = 2,
    PROJECTOR_STATE_FAILED = 3,
    PROJECTOR_STATE_STOPPED = 4,
} projector_state;

typedef struct projector_stats {
    const char *projection; /* borrowed */
    const char *worker;     /* borrowed; NULL = no worker label (one runner per projection) */
    _Atomic uint64_t records;
    _Atomic uint64_t applied;
    _Atomic uint64_t duplicates;
    _Atomic uint64_t unmapped;
    _Atomic uint64_t dead_sql;
    _Atomic uint64_t dead_decode;
    _Atomic uint64_t batches;
    _Atomic uint64_t retries_transient;
    _Atomic uint64_t retries_permanent;
    _Atomic uint64_t retries_dlq;
    _Atomic uint64_t retries_set;
    _Atomic uint64_t set_statements;
    _Atomic uint64_t replays_seen;
    _Atomic uint64_t assigns;
    _Atomic uint64_t revokes;
    _Atomic uint64_t notifies;
    _Atomic uint64_t pruned;
    _Atomic uint64_t commit_time_ignored;
    _Atomic uint64_t sse_ended_client;
    _Atomic uint64_t sse_ended_slow;
    _Atomic uint64_t sse_ended_timeout;
    _Atomic uint64_t sse_ended_stopped;
    _Atomic uint64_t sse_refused;
    _Atomic uint64_t sse_published;
    _Atomic int64_t sse_clients;
    _Atomic int64_t assigned_partitions;
    _Atomic int64_t lag;
    _Atomic int64_t last_commit_ms; /* unix ms */
    _Atomic int64_t state;          /* projector_state */
    outbox_metrics_histogram *batch_seconds;
    outbox_metrics_histogram *batch_events;
} projector_stats;

/* Zero the counters, create the histograms. 0 or -1 (ENOMEM). Before any thread uses it. */
int projector_stats_init(projector_stats *stats, const char *projection)
    __attribute__((warn_unused_result));
void projector_stats_destroy(projector_stats *stats);

/* Render every projection's stats as Prometheus text. malloc'd (caller frees), length in
 * *len; NULL on ENOMEM. Any thread. */
char *projector_stats_render(projector_stats *const *stats, size_t count, size_t *len);

static inline void projector_stat_add(_Atomic uint64_t *counter, uint64_t n)
{
    atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

/* A counter whose total is kept elsewhere (a stream channel's), copied before rendering. */
static inline void projector_stat_copy(_Atomic uint64_t *counter, uint64_t total)
{
    atomic_store_explicit(counter, total, memory_order_relaxed);
}

static inline void projector_stat_set(_Atomic int64_t *gauge, int64_t v)
{
    atomic_store_explicit(gauge, v, memory_order_relaxed);
}

#endif
