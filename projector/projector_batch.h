#ifndef PROJECTOR_BATCH_H
#define PROJECTOR_BATCH_H

/*
 * projector_batch: the events of one database transaction, and the pure planning around it.
 *
 * The runner appends decoded events in consumption order (per partition: offset order). The
 * store inserts the dedup rows of every live event, and projector_batch_mark() turns the ids
 * the INSERT ... RETURNING reported into states: the first occurrence of a returned id is NEW
 * (its statement runs), every other live event is DUPLICATE (applied before, or earlier in
 * this batch). Dead-lettered events take no dedup row. Whatever their state, all events
 * advance their partition's position: projector_batch_positions().
 *
 * Ownership: the batch owns its events and their strings; `msg` is an opaque pointer (the
 * rd_kafka_message_t) released by the destructor passed to projector_batch_clear().
 * Not thread-safe: the projection's thread only.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROJECTOR_UUID_LEN 36

typedef enum projector_event_state {
    PROJECTOR_EVENT_PENDING = 0, /* decoded; waiting for the dedup answer */
    PROJECTOR_EVENT_NEW,         /* its dedup row was inserted by this transaction */
    PROJECTOR_EVENT_DUPLICATE,   /* already applied (or earlier in this batch): skipped */
    PROJECTOR_EVENT_DEAD,        /* dead-lettered: reason (and sqlstate) set */
} projector_event_state;

typedef struct projector_event {
    char *topic; /* owned */
    int32_t partition;
    int64_t offset;
    char id[PROJECTOR_UUID_LEN + 1]; /* lowercase uuid text; "" when the record had none */
    char *event_type;                /* owned; NULL when unknown */
    char *aggregate_id;              /* owned; NULL when unknown */
    char *aggregate_type;            /* owned; header aggregate_type; NULL when absent */
    char *commit_time;               /* owned; canonical RFC 3339 UTC; NULL when absent or
                                      * not RFC 3339 (commit_time_ignored then) */
    char *json;                      /* owned; the decoded value; NULL when dead on decode */
    int mapping;                     /* index in the projection's mappings, -1 unmapped */
    projector_event_state state;
    bool dlq_sent; /* the dead-letter record was acknowledged by Kafka */
    bool single;   /* apply alone even if its mapping is set-based (its set run failed) */
    bool commit_time_ignored; /* an outbox.commit_time header that is not RFC 3339 was dropped */
    char sqlstate[6];
    char *reason; /* owned; why it is dead */
    void *msg;    /* opaque (rd_kafka_message_t *), released by projector_batch_clear */
} projector_event;

typedef struct projector_batch {
    projector_event *events;
    size_t count;
    size_t cap;
    int64_t first_ms; /* monotonic ms of the first event (for the linger deadline) */
} projector_batch;

/* Next position of one partition after the batch. */
typedef struct projector_position {
    const char *topic; /* borrowed from an event of the batch (valid until clear) */
    int32_t partition;
    int64_t next_offset; /* highest offset in the batch + 1 */
} projector_position;

void projector_batch_init(projector_batch *batch);

/* A new zeroed event at the end (mapping -1, state PENDING), or NULL on ENOMEM. The pointer is
 * valid until the next add or clear. */
projector_event *projector_batch_add(projector_batch *batch, int64_t now_ms)
    __attribute__((warn_unused_result));

/* Release every event (msg through msg_free when not NULL); keeps the allocation. */
void projector_batch_clear(projector_batch *batch, void (*msg_free)(void *msg));

/* clear() and release the allocation. */
void projector_batch_free(projector_batch *batch, void (*msg_free)(void *msg));

/* Drop the events of one partition (revoked), keeping the others in order. */
void projector_batch_drop_partition(projector_batch *batch, const char *topic, int32_t partition,
                                    void (*msg_free)(void *msg));

/* Whether the batch must be written now: max_events reached, or the first event waited
 * linger_ms. An empty batch is never due. */
bool projector_batch_due(const projector_batch *batch, size_t max_events, int64_t linger_ms,
                         int64_t now_ms);

/* Milliseconds until the batch is due by time (0 if due, -1 if empty). */
int64_t projector_batch_wait_ms(const projector_batch *batch, int64_t linger_ms, int64_t now_ms);

/*
 * The next offset of every partition in the batch, in order of first appearance, written to
 * positions[] (capacity `cap`; the batch never spans more partitions than events). Returns the
 * number written.
 */
size_t projector_batch_positions(const projector_batch *batch, projector_position *positions,
                                 size_t cap);

/*
 * One statement of the batch's apply phase: either the per-event statement of one NEW event
 * (set = false, count 1, first = its index), or a set statement over a run of NEW events of one
 * set-based mapping (set = true): the events of [first, end) that are NEW with that mapping,
 * `count` of them, in batch order.
 */
typedef struct projector_run {
    size_t first; /* batch index of the run's first event */
    size_t end;   /* one past the batch index of its last event */
    size_t count; /* events applied by the statement */
    int mapping;
    bool set;
} projector_run;

/*
 * The next statement at or after batch index `from`, in batch order. `set_mapping[m]` says
 * whether mapping m (0 <= m < mapping_count) is set-based. A run starts at a NEW event with a
 * set-based mapping and extends over the following NEW events of the same mapping; events
 * that run no statement (DUPLICATE, DEAD, NEW without a mapping) do not interrupt it; it stops
 * before the first NEW event with another mapping or with `single` set. An event with `single`
 * set is a run of one. Returns false when no NEW event with a mapping is left. Pure.
 */
bool projector_batch_next_run(const projector_batch *batch, size_t from, const bool *set_mapping,
                              size_t mapping_count, projector_run *run);

/* Whether event i of the batch is one of the run's events. */
bool projector_run_has(const projector_run *run, const projector_batch *batch, size_t i);

/* Set every non-dead event back to PENDING (before a retry of the transaction). */
void projector_batch_reset(projector_batch *batch);

/*
 * The dedup answer: new_ids[0..n) are the ids the INSERT returned (any order, lowercase).
 * The first PENDING event with each id becomes NEW; every other PENDING event DUPLICATE.
 * Returns the number of NEW events, or -1 on ENOMEM (states unchanged).
 */
long projector_batch_mark(projector_batch *batch, const char *const *new_ids, size_t n)
    __attribute__((warn_unused_result));

/* The one-round transaction's answer (its strict dedup INSERT succeeded, so every live event
 * took a new dedup row): every PENDING event becomes NEW. Returns how many. */
size_t projector_batch_mark_all_new(projector_batch *batch);

/* Free the event's strings (not msg) and zero it except msg; mapping -1, state PENDING. */
void projector_event_reset(projector_event *ev);

/* Mark event i dead with a reason (copied) and optional sqlstate. 0 or -1 (ENOMEM). */
int projector_event_kill(projector_event *ev, const char *sqlstate, const char *reason)
    __attribute__((warn_unused_result));

/* Normalise a uuid text (hex digits in 8-4-4-4-12 groups, any case, optional braces are NOT
 * accepted) into out[37] lowercase. 0, or -1 when it is not a uuid. Pure. */
int projector_uuid_normalize(const char *text, size_t len, char out[PROJECTOR_UUID_LEN + 1]);

#endif
