#ifndef PROJECTOR_RUNNER_H
#define PROJECTOR_RUNNER_H

/*
 * projector_runner: one projection at work, on its own thread.
 *
 * It owns a librdkafka high-level consumer (group = the projection's group,
 * enable.auto.commit=false, isolation.level=read_committed), a dead-letter producer, a decoder
 * and a store (its read-database connection). The loop:
 *
 *   poll one record (the rebalance callback runs inside the poll, on this thread)
 *   decode it into the batch (undecodable: dead, with the reason)
 *   when the batch is due (batch-size events, or batch-linger after its first event):
 *     finish the transaction in flight, if any (below);
 *     no dead event: projector_store_apply_send() sends the whole one-round transaction and
 *       the batch stays in flight while the next one is polled and decoded; its outcome is
 *       read when the next batch is due, when a poll finds nothing to decode, and before
 *       anything else uses the store or the assignment (rebalance, reseek, maintenance, a
 *       decoder retry, shutdown); committed: as OK below; rolled back: written again now,
 *       the ordinary way; ending uncommitted (stale, stop) it drops the batch being filled
 *       too, whose events come after its own;
 *     else (or when the store cannot take it in one round): send the dead letters and wait
 *     for their acks; then projector_store_apply()
 *       OK         Kafka-side commit of the same offsets, async, advisory only
 *       TRANSIENT  back off (doubling, retry-backoff-min .. -max), reconnect, retry the batch
 *       PERMANENT  the failing event becomes dead (reason, SQLSTATE); retry without it
 *       STALE      a replay happened: drop the batch, re-read the offsets, re-assign
 *       FATAL      stop this projection (state FAILED; the daemon exits non-zero)
 *
 * Rebalances (eager or cooperative, whatever partition.assignment.strategy says): on assign the
 * stored offsets are read from the read database and the partitions are assigned AT them (no
 * offset stored: the projection's `start`, earliest or latest); on revoke the pending batch's
 * events of the revoked partitions are dropped before unassigning. The rebalance callback
 * first finishes the transaction in flight (committed, or written again, or dropped), so a
 * rebalance never interrupts one and the offsets read on assign include it; a record dropped on
 * revoke is re-read by the next owner from the stored offsets, and the dedup table stops any
 * effect from applying twice even when a zombie (a member the group already expelled) commits
 * late.
 *
 * Replays: every batch checks the projection's generation inside its transaction; when idle
 * the runner polls it every replay-poll. A change drops the batch and re-reads the offsets.
 *
 * Shutdown: when *stop becomes non-zero the transaction in flight is finished, the pending
 * batch is written (one attempt, with the
 * normal retries cut short), the consumer is closed (revoking its partitions) and the thread
 * ends.
 */

#include <stdatomic.h>
#include <stdint.h>

#include "avro_history.h"
#include "avro_schema.h"
#include "config.h"
#include "projector_projection.h"
#include "projector_stats.h"
#include "projector_store.h"
#include "registry.h"

typedef struct projector_runner_config {
    const projector_projection *proj;     /* borrowed; outlives the runner */
    const char *conninfo;                 /* the projection's database (resolved) */
    const outbox_conf *conf;              /* [kafka] passthrough; borrowed; NULL = none */
    const outbox_schemas *schemas;        /* borrowed, may be NULL */
    const outbox_schemas *readers;        /* reader schemas; borrowed, NULL = none */
    const outbox_schema_history *history; /* earlier writer schemas; borrowed, NULL = none */
    const char *registry_url;             /* NULL/"" = none */
    int64_t registry_timeout_ms;
    const char *registry_auth;
    outbox_registry_tls registry_tls; /* borrowed strings; all NULL = no TLS settings */
    int64_t batch_size;
    int64_t batch_linger_ms;
    int64_t backoff_min_ms;
    int64_t backoff_max_ms;
    int64_t dedup_retention_ms; /* 0 = keep forever */
    int64_t prune_interval_ms;
    int64_t replay_poll_ms;
    const char *dlq_suffix;
    int64_t dlq_timeout_ms;
    projector_stats *stats; /* borrowed; written by the runner's thread */
    atomic_int *stop;       /* set by main to stop */
    /* Optional: a C handler instead of the mapped statements (projector_store_set_handler;
     * the consumers/ library). Called on the runner's thread; opaque is passed through. */
    projector_store_handler handler;
    void *handler_opaque;
    const char *client_name; /* Kafka client.id prefix; NULL = "outbox-projector" */
} projector_runner_config;

typedef struct projector_runner projector_runner;

/* The librdkafka configuration of the projection's consumer (consumer = true) or dead-letter
 * producer: the projector's defaults (client.id; for the consumer also isolation.level =
 * read_committed, auto.offset.reset from the projection's start, a 5 s metadata refresh) for
 * the keys the user did not set, then the [kafka] keys of that client kind unchanged, then
 * what the guarantees depend on (the consumer's group.id, no auto commit or offset store).
 * Caller owns the result; NULL with errstr when librdkafka refuses a key. Main thread. */
rd_kafka_conf_t *projector_runner_kafka_conf(const projector_runner_config *cfg, bool consumer,
                                             char *errstr, size_t errstr_size);

/* Build the consumer, producer, decoder and store (no connection yet). NULL with errstr on a
 * configuration error (e.g. a [kafka] property librdkafka rejects). The config's pointers
 * must outlive the runner. Main thread. */
projector_runner *projector_runner_new(const projector_runner_config *cfg, char *errstr,
                                       size_t errstr_size) __attribute__((warn_unused_result));

/* Start the thread. 0 or -1 (errstr). */
int projector_runner_start(projector_runner *runner, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* Wait for the thread; returns 0 after a clean stop, 1 after a fatal error. */
int projector_runner_join(projector_runner *runner);

/* Free everything (after join, or when never started). NULL is a no-op. */
void projector_runner_free(projector_runner *runner);

/* Run the loop on the calling thread (what the thread runs). 0 clean stop, 1 fatal. */
int projector_runner_run(projector_runner *runner);

#endif
