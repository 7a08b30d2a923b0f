#ifndef PROJECTOR_REPLAY_H
#define PROJECTOR_REPLAY_H

/*
 * projector_replay: `outbox-projector replay NAME --from-beginning | --from-time T`.
 *
 * In ONE read-database transaction:
 *   UPDATE projector_projections SET generation = generation + 1   (taken first: waits for a
 *       running batch to commit, and makes every later batch of a running daemon STALE)
 *   TRUNCATE the projection's `tables`
 *   DELETE its dedup rows, dead-letter rows and offsets
 *   INSERT the new offsets: every partition of every topic of the projection, at -2 (the
 *       beginning) for --from-beginning, or at the first offset whose timestamp is >= T
 *       (Kafka's offsets-for-times; the end of the partition when there is none)
 * COMMIT.
 *
 * A running daemon notices the new generation (in its next batch transaction, or within
 * projector.replay-poll when idle), drops what it had read, re-reads the offsets and rebuilds;
 * no stop/start is needed. Stop/replay/start works as well.
 *
 * --from-time also truncates the tables: the rebuilt model then holds only the events from T
 * on (meant for topics whose retention already dropped the beginning).
 *
 * Main thread; blocking; prints what it did to stdout. On a live system, where readers must
 * never see an empty or partial model, use `rebuild` (projector_rebuild.h) instead.
 */

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>

#include "config.h"
#include "projector_settings.h"

/* from_time: NULL for --from-beginning, else any timestamptz PostgreSQL accepts
 * ("2026-01-02T03:04:05Z"). 0 on success, -1 with errstr. */
int projector_replay_run(const projector_settings *settings, const outbox_conf *conf,
                         const char *name, const char *from_time, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* 0 when res is COMMAND_OK or TUPLES_OK; else -1 with errstr "what: <server message>" (res
 * NULL: the connection's error). res stays the caller's. */
int projector_exec_ok(PGconn *conn, PGresult *res, const char *what, char *errstr,
                      size_t errstr_size);

/* A consumer handle (never subscribed) for metadata and watermark queries: the [kafka]
 * consumer keys, group.id = the projection's group. NULL with errstr. Caller destroys it. */
rd_kafka_t *projector_probe_new(const projector_projection *proj, const outbox_conf *conf,
                                char *errstr, size_t errstr_size);

/* Every partition of every topic of the projection, offsets at RD_KAFKA_OFFSET_BEGINNING.
 * NULL with errstr (a topic missing, metadata timeout). Caller destroys the list. */
rd_kafka_topic_partition_list_t *projector_probe_partitions(rd_kafka_t *rk,
                                                            const projector_projection *proj,
                                                            char *errstr, size_t errstr_size);

#endif
