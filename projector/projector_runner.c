/* projector_runner: consume, decode, batch, apply, commit - one projection, one thread. */
#include "projector_runner.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "projector_batch.h"
#include "projector_decode.h"
#include "projector_dlq.h"
#include "log.h"
#include "registry.h"
#include "projector_store.h"

#define COMPONENT "projector"
/* Most unmapped event types whose first skipped event is logged (each once). */
#define UNMAPPED_TYPES_LOGGED 32

struct projector_runner {
    projector_runner_config cfg;
    char ctx[PROJECTOR_NAME_MAX + 16]; /* log context "projection=NAME" */
    rd_kafka_t *rk;
    projector_dlq *dlq;
    outbox_registry *reg;
    projector_decoder *dec;
    projector_store *store;
    projector_batch batch;    /* being filled */
    projector_batch inflight; /* its one-round transaction sent, the outcome not read yet */
    bool in_flight;
    int64_t inflight_started_ms;
    rd_kafka_topic_partition_list_t *assignment; /* what we hold, with no offsets */
    int64_t generation;
    bool reseek;
    bool fatal;
    bool final;              /* shutting down: no more backoff */
    bool commit_time_warned; /* a dropped outbox.commit_time header was logged once */
    char *unmapped_logged[UNMAPPED_TYPES_LOGGED]; /* owned; event types whose skip was logged */
    size_t unmapped_logged_count;
    int64_t backoff_ms;
    int64_t next_gen_poll_ms;
    int64_t next_prune_ms;
    int64_t next_lag_ms;
    pthread_t thread;
    bool started;
    int result;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool stopping(const projector_runner *r)
{
    return atomic_load(r->cfg.stop) != 0;
}

static void set_state(projector_runner *r, projector_state state)
{
    projector_stat_set(&r->cfg.stats->state, state);
}

static void msg_free(void *msg)
{
    rd_kafka_message_destroy(msg);
}

/* Sleep the current backoff (in slices, so a stop is noticed) and double it. False when
 * stopping: the caller gives up. */
static bool backoff(projector_runner *r)
{
    if (r->final || stopping(r))
        return false;
    int64_t until = now_ms() + r->backoff_ms;
    while (now_ms() < until) {
        if (stopping(r))
            return false;
        int64_t left = until - now_ms();
        struct timespec ts = {0, (long)(left > 100 ? 100 : left) * 1000000L};
        nanosleep(&ts, NULL);
    }
    r->backoff_ms *= 2;
    if (r->backoff_ms > r->cfg.backoff_max_ms)
        r->backoff_ms = r->cfg.backoff_max_ms;
    return true;
}

static void backoff_reset(projector_runner *r)
{
    r->backoff_ms = r->cfg.backoff_min_ms;
}

/* ------------------------------------------------------------------ positions */

/* Read the stored offsets (retrying transient errors) and write them into `parts`. 0, or -1
 * when stopping or fatal. */
static int stored_offsets(projector_runner *r, rd_kafka_topic_partition_list_t *parts,
                          int64_t *generation)
{
    projector_offset_row *rows = NULL;
    size_t count = 0;
    projector_store_error err;
    for (;;) {
        projector_rc rc = projector_store_offsets(r->store, &rows, &count, generation, &err);
        if (rc == PROJECTOR_OK)
            break;
        if (rc == PROJECTOR_ERR_FATAL) {
            outbox_log(OUTBOX_LOG_ERROR, COMPONENT, r->ctx, "cannot read offsets: %s", err.message);
            r->fatal = true;
            return -1;
        }
        set_state(r, PROJECTOR_STATE_RETRYING);
        outbox_log(OUTBOX_LOG_WARN, COMPONENT, r->ctx,
                   "cannot read offsets (%s), retrying in %lld ms", err.message,
                   (long long)r->backoff_ms);
        if (!backoff(r))
            return -1;
    }
    backoff_reset(r);
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *p = &parts->elems[i];
        p->offset = r->cfg.proj->start == PROJECTOR_START_LATEST ? RD_KAFKA_OFFSET_END
                                                                 : RD_KAFKA_OFFSET_BEGINNING;
        for (size_t j = 0; j < count; j++)
            if (rows[j].partition == p->partition && strcmp(rows[j].topic, p->topic) == 0)
                p->offset = rows[j].next_offset;
        outbox_log(OUTBOX_LOG_INFO, COMPONENT, r->ctx, "%s [%d] starts at %s%lld", p->topic,
                   (int)p->partition,
                   p->offset == RD_KAFKA_OFFSET_BEGINNING ? "the beginning "
                   : p->offset == RD_KAFKA_OFFSET_END     ? "the end "
                                                          : "offset ",
                   (long long)(p->offset >= 0 ? p->offset : 0));
    }
    projector_offset_rows_free(rows, count);
    return 0;
}

static void finish_inflight(projector_runner *r);

static bool cooperative(projector_runner *r)
{
    const char *proto = rd_kafka_rebalance_protocol(r->rk);
    return proto != NULL && strcmp(proto, "COOPERATIVE") == 0;
}

static void assignment_gauge(projector_runner *r)
{
    projector_stat_set(&r->cfg.stats->assigned_partitions, r->assignment->cnt);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    projector_runner *r = opaque;
    bool coop = cooperative(r);
    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t aerr = RD_KAFKA_RESP_ERR_NO_ERROR;

    /* The stored offsets read on assign, and what a revoke drops, assume no transaction open. */
    finish_inflight(r);

    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        projector_stat_add(&r->cfg.stats->assigns, 1);
        int64_t generation = 0;
        if (stored_offsets(r, parts, &generation) != 0) {
            /* Stopping or fatal: take nothing rather than read from a wrong position. */
            if (!coop)
                aerr = rd_kafka_assign(rk, NULL);
            goto done;
        }
        if (r->assignment->cnt > 0 && generation != r->generation)
            r->reseek = true; /* a replay between two incremental assignments */
        r->generation = generation;
        if (coop)
            error = rd_kafka_incremental_assign(rk, parts);
        else
            aerr = rd_kafka_assign(rk, parts);
        if (!coop) {
            rd_kafka_topic_partition_list_destroy(r->assignment);
            r->assignment = rd_kafka_topic_partition_list_copy(parts);
        } else {
            for (int i = 0; i < parts->cnt; i++)
                rd_kafka_topic_partition_list_add(r->assignment, parts->elems[i].topic,
                                                  parts->elems[i].partition);
        }
    } else {
        projector_stat_add(&r->cfg.stats->revokes, 1);
        /* Nothing of the batch is in the database yet: drop the revoked partitions' events;
         * the next owner reads them again from the stored offsets. */
        for (int i = 0; i < parts->cnt; i++) {
            projector_batch_drop_partition(&r->batch, parts->elems[i].topic,
                                           parts->elems[i].partition, msg_free);
            rd_kafka_topic_partition_list_del(r->assignment, parts->elems[i].topic,
                                              parts->elems[i].partition);
        }
        if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
            outbox_log(OUTBOX_LOG_WARN, COMPONENT, r->ctx, "rebalance error: %s",
                       rd_kafka_err2str(err));
        if (coop) {
            error = rd_kafka_incremental_unassign(rk, parts);
        } else {
            aerr = rd_kafka_assign(rk, NULL);
            rd_kafka_topic_partition_list_destroy(r->assignment);
            r->assignment = rd_kafka_topic_partition_list_new(8);
            projector_batch_clear(&r->batch, msg_free);
        }
    }
done:
    if (error != NULL) {
        outbox_log(OUTBOX_LOG_ERROR, COMPONENT, r->ctx, "incremental assignment failed: %s",
                   rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    }
    if (aerr != RD_KAFKA_RESP_ERR_NO_ERROR)
        outbox_log(OUTBOX_LOG_ERROR, COMPONENT, r->ctx, "assignment failed: %s",
                   rd_kafka_err2str(aerr));
    outbox_log(OUTBOX_LOG_INFO, COMPONENT, r->ctx, "rebalance: %s %d partition(s), holding %d",
               err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? "assigned" : "revoked", parts->cnt,
               r->assignment->cnt);
    assignment_gauge(r);
}

/* A replay changed the generation: drop the batch, re-read the offsets, seek there. */
static void reseek(projector_runner *r)
{
    finish_inflight(r);
    r->reseek = false;
    projector_batch_clear(&r->batch, msg_free);
    projector_stat_add(&r->cfg.stats->replays_seen, 1);
    if (r->assignment->cnt == 0) {
        projector_store_error err;
        int64_t g;
        if (projector_store_generation(r->store, &g, &err) == PROJECTOR_OK)
            r->generation = g;
        return;
    }
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_copy(r->assignment);
    int64_t generation = 0;
    if (stored_offsets(r, parts, &generation) == 0) {
        rd_kafka_error_t *error = rd_kafka_seek_partitions(r->rk, parts, 10000);
        if (error != NULL) {
            outbox_log(OUTBOX_LOG_WARN, COMPONENT, r->ctx,
                       "seek after replay failed: %s; "
                       "will retry",
                       rd_kafka_error_string(error));
            rd_kafka_error_destroy(error);
            r->reseek = true;
        } else {
            for (int i = 0; i < parts->cnt; i++)
                if (parts->elems[i].err)
                    r->reseek = true;
            r->generation = generation;
            outbox_log(OUTBOX_LOG_INFO, COMPONENT, r->ctx,
                       "replay noticed (generation %lld): re-read offsets of %d partition(s)",
                       (long long)generation, parts->cnt);
        }
    }
    rd_kafka_topic_partition_list_destroy(parts);
}

/* ------------------------------------------------------------------ the batch */

static void commit_advisory(projector_runner *r, const projector_batch *b)
{
    projector_position *pos = malloc(b->count * sizeof *pos);
    if (pos == NULL)
        return;
    size_t n = projector_batch_positions(b, pos, b->count);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(list, pos[i].topic, pos[i].partition)->offset =
            pos[i].next_offset;
    /* Advisory (lag tools read it); the stored offsets in the read database decide. */
    rd_kafka_commit(r->rk, list, 1);
    rd_kafka_topic_partition_list_destroy(list);
    free(pos);
}

static void count_committed(projector_runner *r, const projector_batch *b,
                            const projector_apply_result *res, int64_t started_ms)
{
    projector_stats *st = r->cfg.stats;
    uint64_t dead_sql = 0, dead_decode = 0;
    for (size_t i = 0; i < b->count; i++)
        if (b->events[i].state == PROJECTOR_EVENT_DEAD) {
            if (b->events[i].sqlstate[0])
                dead_sql++;
            else
                dead_decode++;
        }
    projector_stat_add(&st->applied, res->applied);
    projector_stat_add(&st->duplicates, res->duplicates);
    projector_stat_add(&st->unmapped, res->unmapped);
    projector_stat_add(&st->dead_sql, dead_sql);
    projector_stat_add(&st->dead_decode, dead_decode);
    projector_stat_add(&st->notifies, res->notifies);
    projector_stat_add(&st->set_statements, res->set_statements);
    projector_stat_add(&st->batches, 1);
    projector_stat_set(&st->last_commit_ms, unix_ms());
    outbox_metrics_histogram_observe(st->batch_seconds, (double)(now_ms() - started_ms) / 1000.0);
    outbox_metrics_histogram_observe(st->batch_events, (double)b->count);
    outbox_log(OUTBOX_LOG_DEBUG, COMPONENT, r->ctx,
               "batch of %zu committed: %llu applied, %llu duplicate, %llu unmapped, %llu dead",
               b->count, (unsigned long long)res->applied, (unsigned long long)res->duplicates,
               (unsigned long long)res->unmapped, (unsigned long long)res->dead);
}

/* The projection's mapping keys as "sql.A, sqlset.B" (cut with "..." when long). */
static void mapped_keys(const projector_projection *proj, char *out, size_t size)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < proj->mapping_count; i++) {
        const projector_mapping *m = &proj->mappings[i];
        int n = snprintf(out + len, size - len, "%s%s.%s", i ? ", " : "", projector_mapping_key(m),
                         m->event_type);
        if (n < 0 || (size_t)n >= size - len) {
            if (size > 4)
                snprintf(out + size - 4, 4, "...");
            return;
        }
        len += (size_t)n;
    }
}

static bool unmapped_was_logged(const projector_runner *r, const char *type)
{
    for (size_t i = 0; i < r->unmapped_logged_count; i++)
        if (strcmp(r->unmapped_logged[i], type) == 0)
            return true;
    return false;
}

/* The committed batch skipped events of a type without sql.<Type> or sqlset.<Type>: the first
 * of each type is logged (a misspelt key would otherwise skip every event of the type with only
 * a counter to show for it). Runs only for batches that had such events. */
static void log_unmapped(projector_runner *r, const projector_batch *b,
                         const projector_apply_result *res)
{
    char keys[512];
    if (res->unmapped == 0 || r->cfg.handler != NULL)
        return;
    for (size_t i = 0; i < b->count && r->unmapped_logged_count < UNMAPPED_TYPES_LOGGED; i++) {
        const projector_event *ev = &b->events[i];
        const char *type = ev->event_type ? ev->event_type : "";
        if (ev->state != PROJECTOR_EVENT_NEW || ev->mapping >= 0 || unmapped_was_logged(r, type))
            continue;
        char *copy = strdup(type);
        if (copy == NULL)
            return;
        r->unmapped_logged[r->unmapped_logged_count++] = copy;
        mapped_keys(r->cfg.proj, keys, sizeof keys);
        outbox_log(OUTBOX_LOG_WARN, COMPONENT, r->ctx,
                   "events of type %s (first at %s [%d] @%lld) have no sql.%s or sqlset.%s in "
                   "[projection %s]: skipped (counted in "
                   "outbox_projector_events_unmapped_total, logged once per type); add the key "
                   "if the read model needs them, or correct a misspelt one (mapped: %s)",
                   type[0] ? type : "(none)", ev->topic, (int)ev->partition, (long long)ev->offset,
                   type, type, r->cfg.proj->name, keys);
    }
}

/* Batch b committed: counted, offsets committed to Kafka (advisory), emptied. */
static void batch_committed(projector_runner *r, projector_batch *b,
                            const projector_apply_result *res, int64_t started_ms)
{
    count_committed(r, b, res, started_ms);
    log_unmapped(r, b, res);
    commit_advisory(r, b);
    projector_batch_clear(b, msg_free);
    backoff_reset(r);
    set_state(r, PROJECTOR_STATE_RUNNING);
}

/* Write batch b now: dead letters first (acknowledged), then the one transaction, retried as
 * its errors say. Returns with b empty unless fatal: true when committed, false when dropped
 * (STALE, stop) or fatal. */
static bool flush(projector_runner *r, projector_batch *b, int64_t started)
{
    char errstr[1024];
    projector_store_error err;
    projector_apply_result res;

    while (b->count > 0 && !r->fatal) {
        long sent =
            projector_dlq_send(r->dlq, b, (int)r->cfg.dlq_timeout_ms, errstr, sizeof errstr);
        if (sent < 0) {
            projector_stat_add(&r->cfg.stats->retries_dlq, 1);
            set_state(r, PROJECTOR_STATE_RETRYING);
            outbox_log(OUTBOX_LOG_WARN, COMPONENT, r->ctx,
                       "dead letters not acknowledged (%s); retrying in %lld ms", errstr,
                       (long long)r->backoff_ms);
            if (!backoff(r))
                break;
            continue;
        }
        projector_rc rc =
            projector_store_apply(r->store, b, r->generation, r->cfg.dlq_suffix, &res, &err);
        if (res.set_fallbacks > 0) {
            projector_stat_add(&r->cfg.stats->retries_set, res.set_fallbacks);
            outbox_log(OUTBOX_LOG_INFO, COMPONENT, r->ctx,
                       "%llu set statement run(s) failed permanently; re-applied one event at "
                       "a time",
                       (unsigned long long)res.set_fallbacks);
        }
        if (res.commit_retries > 0) {
            projector_stat_add(&r->cfg.stats->retries_permanent, res.commit_retries);
            outbox_log(OUTBOX_LOG_INFO, COMPONENT, r->ctx,
                       "COMMIT failed permanently (a deferred constraint); re-applied the batch "
                       "with constraints checked per statement to find the event");
        }
        switch (rc) {
        case PROJECTOR_OK:
            batch_committed(r, b, &res, started);
            return true;
        case PROJECTOR_ERR_PERMANENT: {
            projector_event *ev = &b->events[err.event_index];
            outbox_log(OUTBOX_LOG_WARN, COMPONENT, r->ctx,
                       "event %s (%s) at %s [%d] @%lld cannot be applied, dead-lettering it: "
                       "SQLSTATE %s: %s",
                       ev->id, ev->event_type ? ev->event_type : "?", ev->topic, (int)ev->partition,
                       (long long)ev->offset, err.sqlstate, err.message);
            if (projector_event_kill(ev, err.sqlstate, err.message)) {
                r->fatal = true;
                outbox_log(OUTBOX_LOG_ERROR, COMPONENT, r->ctx, "out of memory");
                return false;
            }
            projector_stat_add(&r->cfg.stats->retries_permanent, 1);
            continue;
        }
        case PROJECTOR_ERR_TRANSIENT:
            projector_stat_add(&r->cfg.stats->retries_transient, 1);
            set_state(r, PROJECTOR_STATE_RETRYING);
            outbox_log(OUTBOX_LOG_WARN, COMPONENT, r->ctx,
                       "batch of %zu rolled back (SQLSTATE %s: %s); retrying in %lld ms", b->count,
                       err.sqlstate[0] ? err.sqlstate : "none", err.message,
                       (long long)r->backoff_ms);
            if (!backoff(r))
                goto abandon;
            continue;
        case PROJECTOR_ERR_STALE:
            outbox_log(OUTBOX_LOG_INFO, COMPONENT, r->ctx, "%s", err.message);
            r->reseek = true;
            goto abandon;
        case PROJECTOR_ERR_FATAL:
            outbox_log(OUTBOX_LOG_ERROR, COMPONENT, r->ctx, "stopping this projection: %s%s%s",
                       err.message, err.sqlstate[0] ? " SQLSTATE " : "", err.sqlstate);
            r->fatal = true;
            return false;
        }
    }
    if (b->count == 0)
        return true;
abandon:
    /* Nothing committed: the records are read again (stored offsets) after the rebalance,
     * reseek or restart that follows. */
    projector_batch_clear(b, msg_free);
    return false;
}

/* The in-flight transaction's outcome: committed, or the batch written again the ordinary way
 * (which tells duplicates, staleness and failing events apart). When it ends uncommitted
 * (stale, stopping, fatal) the batch being filled goes too: its events come after the
 * in-flight ones, so they must not commit first; they are read again from the stored offsets
 * after the reseek or restart that follows. */
static void finish_inflight(projector_runner *r)
{
    projector_apply_result res;
    projector_store_error err;
    if (!r->in_flight)
        return;
    r->in_flight = false;
    if (projector_store_apply_finish(r->store, &res, &err) == PROJECTOR_OK) {
        batch_committed(r, &r->inflight, &res, r->inflight_started_ms);
        return;
    }
    outbox_log(OUTBOX_LOG_DEBUG, COMPONENT, r->ctx,
               "one-round transaction of %zu events rolled back (SQLSTATE %s: %s); writing the "
               "batch the two-round way",
               r->inflight.count, err.sqlstate[0] ? err.sqlstate : "none", err.message);
    if (!flush(r, &r->inflight, r->inflight_started_ms))
        projector_batch_clear(&r->batch, msg_free);
}

/* Whether any event of the batch is dead (its dead letter must be sent before the transaction). */
static bool batch_has_dead(const projector_batch *b)
{
    for (size_t i = 0; i < b->count; i++)
        if (b->events[i].state == PROJECTOR_EVENT_DEAD)
            return true;
    return false;
}

/* The due batch: its transaction sent and left in flight while the next batch is read and
 * decoded (finished before anything else uses the store or the assignment changes), when the
 * store takes it in one round and no dead letter must go first; else written now. The
 * previous in-flight transaction is finished first, so batches commit in order. */
static void write_due(projector_runner *r)
{
    finish_inflight(r);
    if (r->fatal || r->reseek || r->batch.count == 0)
        return;
    int64_t started = now_ms();
    if (!batch_has_dead(&r->batch)) {
        projector_batch filled = r->batch; /* r->inflight is empty: swap them */
        r->batch = r->inflight;
        r->inflight = filled;
        if (projector_store_apply_send(r->store, &r->inflight, r->generation, r->cfg.dlq_suffix)) {
            r->in_flight = true;
            r->inflight_started_ms = started;
            return;
        }
        r->inflight = r->batch;
        r->batch = filled;
    }
    flush(r, &r->batch, started);
}

/* ------------------------------------------------------------------ consuming */

/* An outbox.commit_time header that is not RFC 3339: counted, logged the first time. */
static void commit_time_dropped(projector_runner *r, const rd_kafka_message_t *msg,
                                const projector_event *ev)
{
    projector_stat_add(&r->cfg.stats->commit_time_ignored, 1);
    if (r->commit_time_warned)
        return;
    r->commit_time_warned = true;
    char *raw = projector_header_dup(msg, "outbox.commit_time");
    outbox_log(OUTBOX_LOG_WARN, COMPONENT, r->ctx,
               "record %s [%d] @%lld: header outbox.commit_time '%s' is not an RFC 3339 "
               "timestamp; $8 is NULL for such events (counted in "
               "outbox_projector_commit_time_ignored_total, logged once)",
               ev->topic, (int)ev->partition, (long long)ev->offset, raw ? raw : "?");
    free(raw);
}

static void take(projector_runner *r, rd_kafka_message_t *msg)
{
    char errstr[1024];
    if (msg->err) {
        if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            outbox_log(OUTBOX_LOG_WARN, COMPONENT, r->ctx, "consumer: %s%s%s",
                       rd_kafka_message_errstr(msg), msg->rkt ? " topic " : "",
                       msg->rkt ? rd_kafka_topic_name(msg->rkt) : "");
        rd_kafka_message_destroy(msg);
        return;
    }
    projector_stat_add(&r->cfg.stats->records, 1);
    projector_event *ev = projector_batch_add(&r->batch, now_ms());
    if (ev == NULL) {
        rd_kafka_message_destroy(msg);
        r->fatal = true;
        outbox_log(OUTBOX_LOG_ERROR, COMPONENT, r->ctx, "out of memory");
        return;
    }
    ev->msg = msg;
    for (;;) {
        projector_decode_rc rc = projector_decode_message(r->dec, msg, ev, errstr, sizeof errstr);
        if (rc == PROJECTOR_DECODE_OK) {
            ev->mapping = projector_projection_mapping(r->cfg.proj, ev->event_type);
            if (ev->commit_time_ignored)
                commit_time_dropped(r, msg, ev);
            return;
        }
        if (rc == PROJECTOR_DECODE_DEAD) {
            outbox_log(OUTBOX_LOG_WARN, COMPONENT, r->ctx,
                       "record %s [%d] @%lld is undecodable, dead-lettering it: %s", ev->topic,
                       (int)ev->partition, (long long)ev->offset, errstr);
            if (projector_event_kill(ev, NULL, errstr) == 0)
                return;
            rc = PROJECTOR_DECODE_FATAL;
        }
        if (rc == PROJECTOR_DECODE_FATAL) {
            outbox_log(OUTBOX_LOG_ERROR, COMPONENT, r->ctx, "decoding: %s", errstr);
            r->fatal = true;
            return;
        }
        /* RETRY: the registry is unreachable; the record is fine. No transaction stays open
         * over the wait. */
        finish_inflight(r);
        set_state(r, PROJECTOR_STATE_RETRYING);
        outbox_log(OUTBOX_LOG_WARN, COMPONENT, r->ctx,
                   "cannot decode yet (%s); retrying in %lld ms", errstr, (long long)r->backoff_ms);
        projector_event_reset(ev);
        if (!backoff(r)) {
            projector_batch_clear(&r->batch, msg_free);
            return;
        }
    }
}

static void measure_lag(projector_runner *r)
{
    rd_kafka_topic_partition_list_t *pos = rd_kafka_topic_partition_list_copy(r->assignment);
    int64_t lag = 0;
    if (rd_kafka_position(r->rk, pos) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (int i = 0; i < pos->cnt; i++) {
            int64_t lo = 0, hi = 0;
            if (rd_kafka_get_watermark_offsets(r->rk, pos->elems[i].topic, pos->elems[i].partition,
                                               &lo, &hi) != RD_KAFKA_RESP_ERR_NO_ERROR ||
                hi < 0)
                continue;
            int64_t at = pos->elems[i].offset >= 0 ? pos->elems[i].offset : lo;
            if (hi > at)
                lag += hi - at;
        }
    }
    rd_kafka_topic_partition_list_destroy(pos);
    projector_stat_set(&r->cfg.stats->lag, lag);
}

/* Idle work: notice replays, prune dedup rows, measure lag. */
static void maintenance(projector_runner *r, int64_t now)
{
    projector_store_error err;
    if (now >= r->next_gen_poll_ms) {
        r->next_gen_poll_ms = now + r->cfg.replay_poll_ms;
        int64_t g = 0;
        if (projector_store_generation(r->store, &g, &err) == PROJECTOR_OK) {
            if (g != r->generation)
                r->reseek = true;
        } else {
            outbox_log(OUTBOX_LOG_DEBUG, COMPONENT, r->ctx, "generation poll: %s", err.message);
        }
    }
    if (r->cfg.dedup_retention_ms > 0 && now >= r->next_prune_ms) {
        r->next_prune_ms = now + r->cfg.prune_interval_ms;
        long deleted = 0;
        if (projector_store_prune(r->store, r->cfg.dedup_retention_ms, 10000, &deleted, &err) ==
            PROJECTOR_OK) {
            projector_stat_add(&r->cfg.stats->pruned, (uint64_t)deleted);
            if (deleted == 10000)
                r->next_prune_ms = now; /* more to do, next idle moment */
        } else {
            outbox_log(OUTBOX_LOG_WARN, COMPONENT, r->ctx, "pruning dedup rows: %s", err.message);
        }
    }
    if (now >= r->next_lag_ms) {
        r->next_lag_ms = now + 1000;
        measure_lag(r);
    }
}

int projector_runner_run(projector_runner *r)
{
    projector_store_error err;
    char errstr[512];

    set_state(r, PROJECTOR_STATE_STARTING);
    backoff_reset(r);
    for (;;) {
        projector_rc rc = projector_store_connect(r->store, &err);
        if (rc == PROJECTOR_OK)
            break;
        if (rc == PROJECTOR_ERR_FATAL) {
            outbox_log(OUTBOX_LOG_ERROR, COMPONENT, r->ctx, "%s", err.message);
            r->fatal = true;
            goto out;
        }
        set_state(r, PROJECTOR_STATE_RETRYING);
        outbox_log(OUTBOX_LOG_WARN, COMPONENT, r->ctx, "%s; retrying in %lld ms", err.message,
                   (long long)r->backoff_ms);
        if (!backoff(r))
            goto out;
    }
    backoff_reset(r);
    if (projector_store_generation(r->store, &r->generation, &err) != PROJECTOR_OK)
        r->generation = 0; /* read again with the offsets on assignment */

    rd_kafka_topic_partition_list_t *topics =
        rd_kafka_topic_partition_list_new((int)r->cfg.proj->topic_count);
    for (size_t i = 0; i < r->cfg.proj->topic_count; i++)
        rd_kafka_topic_partition_list_add(topics, r->cfg.proj->topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t kerr = rd_kafka_subscribe(r->rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (kerr) {
        outbox_log(OUTBOX_LOG_ERROR, COMPONENT, r->ctx, "subscribe: %s", rd_kafka_err2str(kerr));
        r->fatal = true;
        goto out;
    }
    set_state(r, PROJECTOR_STATE_RUNNING);
    outbox_log(OUTBOX_LOG_INFO, COMPONENT, r->ctx, "subscribed to %zu topic(s) as group %s",
               r->cfg.proj->topic_count, r->cfg.proj->group);

    while (!r->fatal && !stopping(r)) {
        if (r->reseek) {
            reseek(r);
            continue;
        }
        int64_t now = now_ms();
        if (projector_batch_due(&r->batch, (size_t)r->cfg.batch_size, r->cfg.batch_linger_ms,
                                now)) {
            write_due(r);
            continue;
        }
        int64_t wait = projector_batch_wait_ms(&r->batch, r->cfg.batch_linger_ms, now);
        if (wait < 0 || wait > 100)
            wait = 100;
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(r->rk, (int)wait);
        if (msg != NULL)
            take(r, msg);
        else
            finish_inflight(r); /* nothing to decode meanwhile */
        if (r->batch.count == 0 && !r->fatal) {
            finish_inflight(r);
            maintenance(r, now_ms());
        }
    }
    r->final = true;
    finish_inflight(r);
    if (!r->fatal && r->batch.count > 0)
        flush(r, &r->batch, now_ms());
out:
    projector_batch_clear(&r->batch, msg_free);
    projector_batch_clear(&r->inflight, msg_free);
    if (r->rk != NULL) {
        r->final = true;
        kerr = rd_kafka_consumer_close(r->rk);
        if (kerr)
            outbox_log(OUTBOX_LOG_WARN, COMPONENT, r->ctx, "closing the consumer: %s",
                       rd_kafka_err2str(kerr));
        projector_batch_clear(&r->batch, msg_free);
    }
    (void)errstr;
    set_state(r, r->fatal ? PROJECTOR_STATE_FAILED : PROJECTOR_STATE_STOPPED);
    outbox_log(r->fatal ? OUTBOX_LOG_ERROR : OUTBOX_LOG_INFO, COMPONENT, r->ctx, "%s",
               r->fatal ? "stopped on a fatal error" : "stopped");
    r->result = r->fatal ? 1 : 0;
    return r->result;
}

/* ------------------------------------------------------------------ lifecycle */

static int conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, char *errstr,
                    size_t errstr_size)
{
    char why[256];
    if (rd_kafka_conf_set(conf, name, value, why, sizeof why) != RD_KAFKA_CONF_OK) {
        snprintf(errstr, errstr_size, "kafka.%s=%s: %s", name, value, why);
        return -1;
    }
    return 0;
}

rd_kafka_conf_t *projector_runner_kafka_conf(const projector_runner_config *cfg, bool consumer,
                                             char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char client_id[PROJECTOR_NAME_MAX + 64];
    snprintf(client_id, sizeof client_id, "%s-%s%s",
             cfg->client_name ? cfg->client_name : "outbox-projector", cfg->proj->name,
             consumer ? "" : "-dlq");
    /* The projector's defaults, for the keys the user did not set. A subscribed topic created
     * after start (the relay creates topics as events arrive) is noticed within 5 s instead of
     * librdkafka's 5 minutes. */
    const outbox_conf_kafka_default defaults[] = {
        {"topic.metadata.refresh.interval.ms", "5000"},
        {"isolation.level", "read_committed"},
        {"auto.offset.reset", cfg->proj->start == PROJECTOR_START_LATEST ? "latest" : "earliest"},
        {"client.id", client_id}, /* the only one the dead-letter producer gets */
        {NULL, NULL}};
    const outbox_conf_kafka_default *mine = consumer ? defaults : &defaults[3];
    if (outbox_conf_kafka_apply_defaults(cfg->conf, conf, mine, errstr, errstr_size))
        goto fail;
    /* Each client gets the keys of its kind only (the dead-letter producer does not warn
     * about session.timeout.ms, nor the consumer about linger.ms). */
    if (cfg->conf != NULL &&
        outbox_conf_kafka_apply_for(
            cfg->conf, conf, consumer ? RD_KAFKA_CONSUMER : RD_KAFKA_PRODUCER, errstr, errstr_size))
        goto fail;
    /* What the projector's guarantees depend on. */
    if (consumer && (conf_set(conf, "group.id", cfg->proj->group, errstr, errstr_size) ||
                     conf_set(conf, "enable.auto.commit", "false", errstr, errstr_size) ||
                     conf_set(conf, "enable.auto.offset.store", "false", errstr, errstr_size) ||
                     conf_set(conf, "enable.partition.eof", "false", errstr, errstr_size)))
        goto fail;
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

projector_runner *projector_runner_new(const projector_runner_config *cfg, char *errstr,
                                       size_t errstr_size)
{
    projector_runner *r = calloc(1, sizeof *r);
    rd_kafka_conf_t *conf = NULL;
    if (r == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    r->cfg = *cfg;
    snprintf(r->ctx, sizeof r->ctx, "projection=%s", cfg->proj->name);
    projector_batch_init(&r->batch);
    projector_batch_init(&r->inflight);
    r->assignment = rd_kafka_topic_partition_list_new(8);
    r->backoff_ms = cfg->backoff_min_ms;

    conf = projector_runner_kafka_conf(cfg, true, errstr, errstr_size);
    if (conf == NULL)
        goto fail;
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_opaque(conf, r);
    r->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errstr_size);
    if (r->rk == NULL)
        goto fail;
    conf = NULL; /* now owned by rk */
    rd_kafka_poll_set_consumer(r->rk);

    conf = projector_runner_kafka_conf(cfg, false, errstr, errstr_size);
    if (conf == NULL)
        goto fail;
    r->dlq = projector_dlq_new(conf, cfg->proj->name, cfg->dlq_suffix, errstr, errstr_size);
    if (r->dlq == NULL)
        goto fail;
    conf = NULL; /* now owned by the dlq */

    if (cfg->registry_url != NULL && cfg->registry_url[0] != '\0') {
        r->reg =
            outbox_registry_new_tls(cfg->registry_url, (long)cfg->registry_timeout_ms,
                                    cfg->registry_auth, &cfg->registry_tls, errstr, errstr_size);
        if (r->reg == NULL)
            goto fail;
    }
    r->dec = projector_decoder_new(cfg->schemas, r->reg);
    if (r->dec != NULL)
        projector_decoder_set_readers(r->dec, cfg->readers, cfg->history);
    r->store = projector_store_new(cfg->proj, cfg->conninfo);
    if (r->dec == NULL || r->store == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    if (cfg->handler != NULL)
        projector_store_set_handler(r->store, cfg->handler, cfg->handler_opaque);
    return r;
fail:
    if (conf != NULL)
        rd_kafka_conf_destroy(conf);
    projector_runner_free(r);
    return NULL;
}

static void *thread_main(void *arg)
{
    projector_runner_run(arg);
    return NULL;
}

int projector_runner_start(projector_runner *r, char *errstr, size_t errstr_size)
{
    int rc = pthread_create(&r->thread, NULL, thread_main, r);
    if (rc != 0) {
        snprintf(errstr, errstr_size, "cannot start the thread of projection %s: %s",
                 r->cfg.proj->name, strerror(rc));
        return -1;
    }
    r->started = true;
    return 0;
}

int projector_runner_join(projector_runner *r)
{
    if (r->started) {
        pthread_join(r->thread, NULL);
        r->started = false;
    }
    return r->result;
}

void projector_runner_free(projector_runner *r)
{
    if (r == NULL)
        return;
    projector_batch_free(&r->batch, msg_free);
    projector_batch_free(&r->inflight, msg_free);
    if (r->rk != NULL)
        rd_kafka_destroy(r->rk);
    projector_dlq_free(r->dlq, 5000);
    projector_decoder_free(r->dec);
    outbox_registry_free(r->reg);
    projector_store_free(r->store);
    if (r->assignment != NULL)
        rd_kafka_topic_partition_list_destroy(r->assignment);
    for (size_t i = 0; i < r->unmapped_logged_count; i++)
        free(r->unmapped_logged[i]);
    free(r);
}
