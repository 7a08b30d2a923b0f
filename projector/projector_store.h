#ifndef PROJECTOR_STORE_H
#define PROJECTOR_STORE_H

/*
 * projector_store: one projection's connection to its read database, and the one transaction
 * per batch that makes each effect happen exactly once.
 *
 * projector_store_apply() runs, in ONE transaction, over libpq's pipeline mode, one of two ways.
 *
 * One round (the usual way, one round trip per batch whatever its size): BEGIN; a strict dedup
 * INSERT without ON CONFLICT, whose rows carry the id only while the projection's generation
 * (locked FOR SHARE) is the expected one; every live event is then taken as NEW and round 2
 * below follows in the same pipeline. A redelivered event fails the INSERT (23505), a replay
 * or a missing projection row puts a NULL id (23502): PostgreSQL skips the rest up to the
 * sync, nothing commits, and the batch goes the two-round way, which every later batch also
 * takes until one has no duplicate. Effects, dedup rows and offsets commit together either way.
 *
 * Two rounds (two round trips per batch):
 *   round 1: BEGIN;
 *            SELECT generation ... FOR SHARE   (a replay that committed since the offsets were
 *                                                read makes the batch STALE; a replay running
 *                                                now waits for this transaction)
 *            INSERT INTO projector_dedup SELECT $1, unnest($2::uuid[])
 *              ON CONFLICT DO NOTHING RETURNING event_id   (which events are new)
 *   (handler mode, see projector_store_set_handler: the handler per NEW event, in batch order,
 *    on the same transaction outside pipeline mode)
 *   round 2: the mapped statement of every NEW event, in batch order (none in handler mode):
 *              sql.<Type>: one statement per event;
 *              sqlset.<Type>: one statement per run of consecutive NEW events of the type
 *                (projector_batch_next_run), $1 = their array (projector_setarray_*);
 *            INSERT INTO projector_dead_letters ... (events dead-lettered in this batch);
 *            INSERT INTO projector_offsets ... ON CONFLICT DO UPDATE (next offset per
 *              partition, for every event of the batch whatever became of it);
 *            SELECT pg_notify(channel, payload) per <8000-byte chunk of applied ids, then
 *              of dead-lettered ids (pgtext.h: the payload formats; delivered by PostgreSQL
 *              at COMMIT, never for a rolled-back batch);
 *            COMMIT.
 * A concurrent holder of the same partitions (a zombie after a rebalance) cannot double-apply:
 * the dedup primary key makes the second transaction wait for the first and then see the
 * events as not new.
 *
 * Errors (projector_rc): TRANSIENT (by SQLSTATE, see sqlstate.h, or a broken connection: the
 * store drops the connection and reconnects on the next call; the caller backs off and
 * retries the same batch), PERMANENT (a mapped statement failed because of its event:
 * err->event_index names it; the caller dead-letters it and retries the batch without it;
 * a set statement over several events that fails permanently is not reported: the store
 * rolls back, marks the run's events `single` and runs the transaction again, so the run is
 * applied one event at a time and a failure names the one event; likewise a permanent error
 * at COMMIT, e.g. a deferred constraint (SQLSTATE class 23), names no event: the store rolls
 * back and runs the transaction again with SET CONSTRAINTS ALL IMMEDIATE after BEGIN, so the
 * statement of the event that breaks the constraint fails and is reported as PERMANENT; this
 * checks each event's effects as if it were committed alone, which is what any batch size
 * already requires; an error at COMMIT that still names no event is FATAL),
 * FATAL (configuration: missing tables, privileges, a statement that does not prepare),
 * STALE (replay happened: reload the offsets). After any error the transaction is rolled back.
 *
 * Batches are limited to PROJECTOR_STORE_MAX_BATCH events: the pipeline runs on a blocking
 * connection and the results of a bounded batch always fit the socket buffers.
 *
 * Threads: a store belongs to one thread. The projection (borrowed) must outlive it.
 */

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "projector_batch.h"
#include "projector_projection.h"

#define PROJECTOR_STORE_MAX_BATCH 5000

typedef enum projector_rc {
    PROJECTOR_OK = 0,
    PROJECTOR_ERR_TRANSIENT = 1,
    PROJECTOR_ERR_PERMANENT = 2,
    PROJECTOR_ERR_FATAL = 3,
    PROJECTOR_ERR_STALE = 4,
} projector_rc;

const char *projector_rc_name(projector_rc rc);

/* Where event $2 (uuid text) stands in projection $1, for GET /events/{id} and `wait`: no row
 * (pending), or one row of s ('applied' or 'failed'; applied wins over an earlier dead letter),
 * at (when, RFC 3339 UTC with milliseconds), reason, sqlstate, dlq_topic, event_type,
 * aggregate_type, aggregate_id (NULL where the state has none). */
extern const char projector_status_sql[];

typedef struct projector_store_error {
    long event_index; /* PERMANENT: the batch index of the failing event; else -1 */
    char sqlstate[6]; /* "" when there was none */
    char message[1024];
} projector_store_error;

/* What a successful apply did. */
typedef struct projector_apply_result {
    uint64_t applied;        /* mapped statements run (NEW events with a mapping) */
    uint64_t unmapped;       /* NEW events without a mapping (dedup row only) */
    uint64_t duplicates;     /* events already applied */
    uint64_t dead;           /* dead-letter rows written */
    uint64_t notifies;       /* NOTIFY payloads sent */
    uint64_t set_statements; /* set statements run (sqlset.<Type>), each for a run of events */
    uint64_t set_fallbacks;  /* set runs that failed permanently and were re-applied one event
                              * at a time in a new attempt of the transaction */
    uint64_t commit_retries; /* attempts made again with SET CONSTRAINTS ALL IMMEDIATE after
                              * COMMIT failed permanently (0 or 1) */
} projector_apply_result;

typedef struct projector_store projector_store;

/* A store for `proj` on `conninfo` (copied). Does not connect. NULL on ENOMEM. */
projector_store *projector_store_new(const projector_projection *proj, const char *conninfo)
    __attribute__((warn_unused_result));
void projector_store_free(projector_store *store);

/* Connect if not connected: session settings, the projection's row in projector_projections,
 * and every statement prepared (the mapped ones included: a bad one is FATAL naming its ini
 * line). A server that refuses the connection (password, role, LOGIN, database, pg_hba.conf:
 * OUTBOX_PG_CONNECT_ERR_REFUSED) is FATAL while this store has never connected - a
 * configuration error shows at once, with its fix - and TRANSIENT once it has (a pg_hba.conf
 * reload or a connection storm must not stop a running projection). Network, TLS and "starting
 * up" failures are TRANSIENT. */
projector_rc projector_store_connect(projector_store *store, projector_store_error *err)
    __attribute__((warn_unused_result));
bool projector_store_connected(const projector_store *store);
/* Drop the connection (it is reopened by the next call). */
void projector_store_disconnect(projector_store *store);

/* One stored position. */
typedef struct projector_offset_row {
    char *topic; /* malloc'd */
    int32_t partition;
    int64_t next_offset;
} projector_offset_row;

/* The projection's stored offsets and generation, read in one snapshot. *rows is malloc'd
 * (free with projector_offset_rows_free). */
projector_rc projector_store_offsets(projector_store *store, projector_offset_row **rows,
                                     size_t *count, int64_t *generation, projector_store_error *err)
    __attribute__((warn_unused_result));
void projector_offset_rows_free(projector_offset_row *rows, size_t count);

/* The projection's current generation (bumped by replay). */
projector_rc projector_store_generation(projector_store *store, int64_t *generation,
                                        projector_store_error *err)
    __attribute__((warn_unused_result));

/*
 * The batch transaction (see above). Every DEAD event must already be acknowledged by the
 * dead-letter topic (dlq_sent) and carries its reason; `dlq_suffix` is recorded with it.
 * `generation` is the one the offsets were read under. Event states are updated (NEW /
 * DUPLICATE). On error nothing was committed.
 */
projector_rc projector_store_apply(projector_store *store, projector_batch *batch,
                                   int64_t generation, const char *dlq_suffix,
                                   projector_apply_result *result, projector_store_error *err)
    __attribute__((warn_unused_result));

/*
 * The batch transaction in two calls, so the caller can read and decode the next batch while
 * PostgreSQL works on this one (the one-round transaction, see above):
 *  projector_store_apply_send() sends it and returns at once: true when it is in flight; then
 *    `batch` must stay untouched and no other call may use the store until
 *    projector_store_apply_finish(). False: nothing is in flight (the batch does not fit the
 *    one round: a duplicate was seen lately, handler mode, only dead events; or sending
 *    failed): write the batch with projector_store_apply().
 *  projector_store_apply_finish() waits for the outcome: PROJECTOR_OK, committed (result
 *    filled, every live event NEW); anything else: rolled back, events PENDING again, the
 *    next call goes the two-round way: write the batch with projector_store_apply(), which
 *    classifies what happened.
 * Same thread as every other call.
 */
bool projector_store_apply_send(projector_store *store, projector_batch *batch, int64_t generation,
                                const char *dlq_suffix) __attribute__((warn_unused_result));
projector_rc projector_store_apply_finish(projector_store *store, projector_apply_result *result,
                                          projector_store_error *err)
    __attribute__((warn_unused_result));

/*
 * Handler mode (the consumers/ library): instead of the projection's mapped statements, call
 * `handler` for every NEW event of a batch, in batch order, after the dedup rows are inserted
 * and before the offsets row, in the SAME open transaction. The handler runs its own statements
 * on `conn` (plain PQexec*, the store leaves pipeline mode for it) and must neither end the
 * transaction nor ignore a failed statement. It returns:
 *   PROJECTOR_OK            done (set *ignored when it deliberately did nothing: counted as
 *                           unmapped, the dedup row and offsets still commit)
 *   PROJECTOR_ERR_PERMANENT this event cannot be applied: the caller dead-letters it and retries
 *                           the batch without it (err->message = the reason, err->sqlstate
 *                           if any)
 *   PROJECTOR_ERR_TRANSIENT roll back, back off, retry the same batch
 *   PROJECTOR_ERR_FATAL     stop
 * On any error the store rolls the transaction back. `opaque` is passed through. The handler
 * runs on the store's thread. Set before the first apply.
 */
typedef projector_rc (*projector_store_handler)(void *opaque, PGconn *conn, projector_event *ev,
                                                bool *ignored, projector_store_error *err);
void projector_store_set_handler(projector_store *store, projector_store_handler handler,
                                 void *opaque);

/* Delete up to `limit` dedup rows of the projection older than retention_ms. */
projector_rc projector_store_prune(projector_store *store, int64_t retention_ms, long limit,
                                   long *deleted, projector_store_error *err)
    __attribute__((warn_unused_result));

#endif
