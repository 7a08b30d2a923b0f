/* projector_store: dedup rows, mapped statements and offsets in one pipelined transaction. */
#include "projector_store.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_connect.h"
#include "projector_pgtext.h"
#include "projector_sqlstate.h"

#define OID_INT8 20
#define OID_INT4 23
#define OID_TEXT 25
#define OID_TIMESTAMPTZ 1184
#define OID_UUID 2950
#define OID_JSONB 3802

static const char SQL_GEN[] =
    "SELECT generation FROM projector_projections WHERE projection = $1 FOR SHARE";
static const char SQL_GEN_READ[] =
    "SELECT generation FROM projector_projections WHERE projection = $1";
static const char SQL_DEDUP[] =
    "INSERT INTO projector_dedup (projection, event_id, event_type, aggregate_type, aggregate_id) "
    "SELECT $1, u, y, g, a FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[]) AS "
    "x(u, y, g, a) ON CONFLICT DO NOTHING RETURNING event_id::text";
/* The one-round transaction's dedup rows: no ON CONFLICT, so an event applied before (or twice
 * in the batch) fails the INSERT with 23505, and a generation other than $6 (a replay since the
 * offsets were read; the row locked FOR SHARE as in round 1) or a missing projection row puts a
 * NULL id that fails it with 23502: either way nothing after it runs and the batch goes the
 * two-round way. */
static const char SQL_DEDUP_STRICT[] =
    "INSERT INTO projector_dedup (projection, event_id, event_type, aggregate_type, aggregate_id) "
    "SELECT $1, CASE WHEN (SELECT generation FROM projector_projections WHERE projection = $1 FOR "
    "SHARE) = $6::bigint THEN u END, y, g, a FROM unnest($2::uuid[], $3::text[], $4::text[], "
    "$5::text[]) AS x(u, y, g, a)";
static const char SQL_DEAD[] =
    "INSERT INTO projector_dead_letters (projection, topic, partition, \"offset\", event_id, "
    "event_type, sqlstate, reason, dlq_topic, aggregate_type, aggregate_id) SELECT $1, t, p, o, "
    "e, y, s, r, d, g, a FROM unnest($2::text[], $3::int[], $4::bigint[], $5::uuid[], $6::text[], "
    "$7::text[], $8::text[], $9::text[], $10::text[], $11::text[]) AS u(t, p, o, e, y, s, r, d, "
    "g, a) ON CONFLICT (projection, topic, partition, \"offset\") DO UPDATE SET event_id = "
    "EXCLUDED.event_id, event_type = EXCLUDED.event_type, sqlstate = EXCLUDED.sqlstate, reason = "
    "EXCLUDED.reason, dlq_topic = EXCLUDED.dlq_topic, aggregate_type = EXCLUDED.aggregate_type, "
    "aggregate_id = EXCLUDED.aggregate_id, failed_at = now()";
static const char SQL_OFFSETS[] =
    "INSERT INTO projector_offsets (projection, topic, partition, next_offset, updated_at) "
    "SELECT $1, t, p, o, now() FROM unnest($2::text[], $3::int[], $4::bigint[]) AS u(t, p, o) "
    "ON CONFLICT (projection, topic, partition) DO UPDATE SET next_offset = "
    "EXCLUDED.next_offset, updated_at = EXCLUDED.updated_at";
static const char SQL_NOTIFY[] = "SELECT pg_notify($1, $2)";
/* The time as RFC 3339 UTC by to_char, not ::text (the session's DateStyle and TimeZone). */
const char projector_status_sql[] =
    "SELECT s, to_char(x.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), reason,"
    " sqlstate, dlq_topic, event_type, aggregate_type, aggregate_id FROM ("
    " SELECT 1 AS o, 'applied' AS s, applied_at AS at, NULL AS reason, NULL AS sqlstate,"
    " NULL AS dlq_topic, event_type, aggregate_type, aggregate_id FROM projector_dedup"
    " WHERE projection = $1 AND event_id = $2::uuid"
    " UNION ALL"
    " SELECT 2, 'failed', failed_at, reason, sqlstate, dlq_topic, event_type, aggregate_type,"
    " aggregate_id FROM projector_dead_letters WHERE projection = $1 AND event_id = $2::uuid)"
    " AS x ORDER BY x.o, x.at DESC LIMIT 1";
static const char SQL_LOAD[] =
    "SELECT topic, partition, next_offset FROM projector_offsets WHERE projection = $1";
static const char SQL_PRUNE[] =
    "DELETE FROM projector_dedup WHERE ctid = ANY(ARRAY(SELECT ctid FROM projector_dedup WHERE "
    "projection = $1 AND applied_at < now() - $2::bigint * interval '1 millisecond' LIMIT $3))";
static const char SQL_REGISTER[] =
    "INSERT INTO projector_projections (projection) VALUES ($1) ON CONFLICT DO NOTHING";

static const struct {
    const char *name;
    const char *sql;
} internal_statements[] = {
    {"projector_gen", SQL_GEN},       {"projector_gen_read", SQL_GEN_READ},
    {"projector_dedup", SQL_DEDUP},   {"projector_dedup_strict", SQL_DEDUP_STRICT},
    {"projector_dead", SQL_DEAD},     {"projector_offsets", SQL_OFFSETS},
    {"projector_notify", SQL_NOTIFY}, {"projector_load", SQL_LOAD},
    {"projector_prune", SQL_PRUNE},
};

struct projector_store {
    const projector_projection *proj;
    char *conninfo;
    PGconn *conn;
    bool connected_once; /* a connection to the database succeeded before: refusals retry */
    outbox_buf a[10];    /* array literal buffers, reused */
    outbox_buf notify;
    long *slots;              /* per pipelined query: event index, or a SLOT_* kind */
    projector_run *slot_runs; /* per pipelined query with an event index: its statement */
    size_t slot_cap;
    long failed_slot;      /* read_segment: the query whose error it reports, or -1 */
    bool *set_mapping;     /* per mapping: sqlset.<Type> */
    outbox_buf setarray;   /* $1 of a set statement, reused */
    const char **ids;      /* applied ids for NOTIFY */
    const char **dead_ids; /* dead-lettered ids for NOTIFY */
    size_t id_cap;
    const projector_batch *batch; /* during apply: slot numbers index its events */
    bool two_rounds;       /* the last batch had duplicates (or its one-round attempt failed): the
                            * next one goes the two-round way */
    bool in_flight;        /* a one-round transaction sent, its outcome not read yet */
    struct apply_txn *txn; /* the one-round transaction's state; malloc'd on first use */
    projector_apply_result txn_result; /* its result and error, until finished */
    projector_store_error txn_err;
    projector_store_handler handler; /* NULL: the projection's mapped statements */
    void *handler_opaque;
};

enum { SLOT_INTERNAL = -1, SLOT_GEN = -2, SLOT_DEDUP = -3, SLOT_COMMIT = -4 };

const char *projector_rc_name(projector_rc rc)
{
    switch (rc) {
    case PROJECTOR_OK:
        return "ok";
    case PROJECTOR_ERR_TRANSIENT:
        return "transient";
    case PROJECTOR_ERR_PERMANENT:
        return "permanent";
    case PROJECTOR_ERR_FATAL:
        return "fatal";
    case PROJECTOR_ERR_STALE:
        return "stale";
    }
    return "?";
}

static void err_set(projector_store_error *err, long idx, const char *sqlstate, const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));
static void err_set(projector_store_error *err, long idx, const char *sqlstate, const char *fmt,
                    ...)
{
    va_list ap;
    err->event_index = idx;
    snprintf(err->sqlstate, sizeof err->sqlstate, "%s", sqlstate ? sqlstate : "");
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    size_t len = strlen(err->message);
    while (len > 0 && (err->message[len - 1] == '\n' || err->message[len - 1] == ' '))
        err->message[--len] = '\0';
}

projector_store *projector_store_new(const projector_projection *proj, const char *conninfo)
{
    projector_store *store = calloc(1, sizeof *store);
    if (store == NULL)
        return NULL;
    store->proj = proj;
    store->conninfo = strdup(conninfo ? conninfo : "");
    if (proj->mapping_count > 0)
        store->set_mapping = calloc(proj->mapping_count, sizeof *store->set_mapping);
    if (store->conninfo == NULL || (proj->mapping_count > 0 && store->set_mapping == NULL)) {
        free(store->conninfo);
        free(store->set_mapping);
        free(store);
        return NULL;
    }
    for (size_t i = 0; i < proj->mapping_count; i++)
        store->set_mapping[i] = proj->mappings[i].set;
    return store;
}

void projector_store_disconnect(projector_store *store)
{
    if (store->conn != NULL)
        PQfinish(store->conn);
    store->conn = NULL;
}

void projector_store_free(projector_store *store)
{
    if (store == NULL)
        return;
    projector_store_disconnect(store);
    for (size_t i = 0; i < sizeof store->a / sizeof store->a[0]; i++)
        outbox_buf_free(&store->a[i]);
    outbox_buf_free(&store->notify);
    free(store->slots);
    free(store->slot_runs);
    free(store->txn);
    free(store->set_mapping);
    outbox_buf_free(&store->setarray);
    free(store->ids);
    free(store->dead_ids);
    free(store->conninfo);
    free(store);
}

bool projector_store_connected(const projector_store *store)
{
    return store->conn != NULL && PQstatus(store->conn) == CONNECTION_OK;
}

/* Classify a failed result; drops a broken connection. `what` prefixes the message. */
static projector_rc fail_result(projector_store *store, const PGresult *res, long idx,
                                const char *what, projector_store_error *err)
{
    const char *sqlstate = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
    if (primary != NULL)
        err_set(err, idx, sqlstate, "%s: %s%s%s", what, primary, detail ? "; " : "",
                detail ? detail : "");
    else
        err_set(err, idx, sqlstate, "%s: %s", what,
                store->conn ? PQerrorMessage(store->conn) : "no connection");
    projector_sqlstate_class cls = projector_sqlstate_classify(sqlstate);
    if (PQstatus(store->conn) != CONNECTION_OK)
        cls = PROJECTOR_SQLSTATE_TRANSIENT;
    if (cls == PROJECTOR_SQLSTATE_TRANSIENT) {
        projector_store_disconnect(store);
        return PROJECTOR_ERR_TRANSIENT;
    }
    if (cls == PROJECTOR_SQLSTATE_FATAL || idx < 0)
        return PROJECTOR_ERR_FATAL;
    return PROJECTOR_ERR_PERMANENT;
}

projector_rc projector_store_connect(projector_store *store, projector_store_error *err)
{
    /* $1 event, $2 id, $3 type, $4 aggregate id, $5 topic, $6 partition, $7 offset, $8 commit
     * time: see projection.h. */
    const Oid types[8] = {OID_JSONB, OID_UUID, OID_TEXT, OID_TEXT,
                          OID_TEXT,  OID_INT4, OID_INT8, OID_TIMESTAMPTZ};
    PGresult *res = NULL;
    projector_rc rc = PROJECTOR_OK;

    if (projector_store_connected(store))
        return PROJECTOR_OK;
    projector_store_disconnect(store);
    const outbox_pg_params pgparams = {.conninfo = store->conninfo,
                                       .application_name = "outbox-projector"};
    char why[1600];
    switch (outbox_pg_connect(&pgparams, &store->conn, why, sizeof why)) {
    case OUTBOX_PG_CONNECT_OK:
        store->connected_once = true;
        break;
    case OUTBOX_PG_CONNECT_ERR_NOMEM:
        err_set(err, -1, NULL, "out of memory");
        return PROJECTOR_ERR_FATAL;
    case OUTBOX_PG_CONNECT_ERR_REFUSED:
        err_set(err, -1, NULL,
                "the read database refuses the connection (the projection's database, else "
                "postgres.conninfo): %s",
                why);
        projector_store_disconnect(store);
        return store->connected_once ? PROJECTOR_ERR_TRANSIENT : PROJECTOR_ERR_FATAL;
    case OUTBOX_PG_CONNECT_ERR_FAILED:
    case OUTBOX_PG_CONNECT_ERR_TLS:
        err_set(err, -1, NULL, "cannot connect to the read database: %s", why);
        projector_store_disconnect(store);
        return PROJECTOR_ERR_TRANSIENT;
    }
    for (size_t i = 0; i < sizeof internal_statements / sizeof internal_statements[0]; i++) {
        res = PQprepare(store->conn, internal_statements[i].name, internal_statements[i].sql, 0,
                        NULL);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            rc = fail_result(store, res, -1, "preparing the projector's own statements", err);
            if (rc == PROJECTOR_ERR_FATAL)
                snprintf(err->message + strlen(err->message),
                         sizeof err->message - strlen(err->message),
                         " (are the projector tables there? apply sql/projector.sql to this "
                         "database and grant the role access)");
            goto done;
        }
        PQclear(res);
    }
    const char *name = store->proj->name;
    res = PQexecParams(store->conn, SQL_REGISTER, 1, NULL, &name, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = fail_result(store, res, -1, "registering the projection", err);
        goto done;
    }
    PQclear(res);
    for (size_t i = 0; i < store->proj->mapping_count; i++) {
        const projector_mapping *m = &store->proj->mappings[i];
        char stmt[32];
        snprintf(stmt, sizeof stmt, "m%zu", i);
        /* A set statement has one parameter: $1 jsonb, the run's array. */
        res = PQprepare(store->conn, stmt, m->sql, m->set ? 1 : 8, types);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            char what[600];
            snprintf(what, sizeof what, "[projection %s] %s.%s (%s) does not prepare",
                     store->proj->name, projector_mapping_key(m), m->event_type,
                     m->origin ? m->origin : "?");
            rc = fail_result(store, res, -1, what, err);
            goto done;
        }
        PQclear(res);
    }
    res = NULL;
done:
    PQclear(res);
    if (rc != PROJECTOR_OK)
        projector_store_disconnect(store);
    return rc;
}

void projector_offset_rows_free(projector_offset_row *rows, size_t count)
{
    if (rows == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        free(rows[i].topic);
    free(rows);
}

static projector_rc exec_command(projector_store *store, const char *sql, const char *what,
                                 projector_store_error *err)
{
    PGresult *res = PQexec(store->conn, sql);
    projector_rc rc = PROJECTOR_OK;
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = fail_result(store, res, -1, what, err);
    PQclear(res);
    return rc;
}

projector_rc projector_store_offsets(projector_store *store, projector_offset_row **rows,
                                     size_t *count, int64_t *generation, projector_store_error *err)
{
    PGresult *res = NULL;
    projector_offset_row *out = NULL;
    size_t n = 0;
    const char *name = store->proj->name;
    projector_rc rc = projector_store_connect(store, err);

    *rows = NULL;
    *count = 0;
    if (rc != PROJECTOR_OK)
        return rc;
    rc = exec_command(store, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "BEGIN", err);
    if (rc != PROJECTOR_OK)
        return rc;
    res = PQexecPrepared(store->conn, "projector_gen_read", 1, &name, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = fail_result(store, res, -1, "reading the projection's generation", err);
        goto fail;
    }
    if (PQntuples(res) != 1) {
        err_set(err, -1, NULL, "projection %s has no row in projector_projections", name);
        rc = PROJECTOR_ERR_TRANSIENT;
        goto fail;
    }
    *generation = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    res = PQexecPrepared(store->conn, "projector_load", 1, &name, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = fail_result(store, res, -1, "reading the stored offsets", err);
        goto fail;
    }
    n = (size_t)PQntuples(res);
    if (n > 0) {
        out = calloc(n, sizeof *out);
        if (out == NULL)
            goto nomem;
    }
    for (size_t i = 0; i < n; i++) {
        out[i].topic = strdup(PQgetvalue(res, (int)i, 0));
        if (out[i].topic == NULL)
            goto nomem;
        out[i].partition = (int32_t)strtol(PQgetvalue(res, (int)i, 1), NULL, 10);
        out[i].next_offset = strtoll(PQgetvalue(res, (int)i, 2), NULL, 10);
    }
    PQclear(res);
    res = NULL;
    rc = exec_command(store, "COMMIT", "COMMIT", err);
    if (rc != PROJECTOR_OK)
        goto fail;
    *rows = out;
    *count = n;
    return PROJECTOR_OK;
nomem:
    err_set(err, -1, NULL, "out of memory");
    rc = PROJECTOR_ERR_FATAL;
fail:
    PQclear(res);
    projector_offset_rows_free(out, n);
    if (store->conn != NULL) {
        PGresult *rb = PQexec(store->conn, "ROLLBACK");
        PQclear(rb);
    }
    return rc;
}

projector_rc projector_store_generation(projector_store *store, int64_t *generation,
                                        projector_store_error *err)
{
    const char *name = store->proj->name;
    projector_rc rc = projector_store_connect(store, err);
    if (rc != PROJECTOR_OK)
        return rc;
    PGresult *res = PQexecPrepared(store->conn, "projector_gen_read", 1, &name, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = fail_result(store, res, -1, "reading the projection's generation", err);
    } else if (PQntuples(res) != 1) {
        err_set(err, -1, NULL, "projection %s has no row in projector_projections", name);
        rc = PROJECTOR_ERR_TRANSIENT;
    } else {
        *generation = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    }
    PQclear(res);
    return rc;
}

projector_rc projector_store_prune(projector_store *store, int64_t retention_ms, long limit,
                                   long *deleted, projector_store_error *err)
{
    char retention[32], lim[32];
    snprintf(retention, sizeof retention, "%lld", (long long)retention_ms);
    snprintf(lim, sizeof lim, "%ld", limit);
    const char *params[3] = {store->proj->name, retention, lim};
    projector_rc rc = projector_store_connect(store, err);
    *deleted = 0;
    if (rc != PROJECTOR_OK)
        return rc;
    PGresult *res = PQexecPrepared(store->conn, "projector_prune", 3, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = fail_result(store, res, -1, "pruning dedup rows", err);
    else
        *deleted = strtol(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return rc;
}

/* ------------------------------------------------------------------ the batch transaction */

static int ids_reserve(projector_store *store, size_t n)
{
    if (n <= store->id_cap)
        return 0;
    const char **grown = realloc(store->ids, n * sizeof *grown);
    if (grown == NULL)
        return -1;
    store->ids = grown;
    grown = realloc(store->dead_ids, n * sizeof *grown);
    if (grown == NULL)
        return -1;
    store->dead_ids = grown;
    store->id_cap = n;
    return 0;
}

void projector_store_set_handler(projector_store *store, projector_store_handler handler,
                                 void *opaque)
{
    store->handler = handler;
    store->handler_opaque = opaque;
}

/* Handler mode: call the handler for every NEW event, in batch order, on the open transaction
 * (pipeline mode left for the duration). OK, or the first error (the transaction is then to
 * be rolled back by the caller). */
static projector_rc run_handler(projector_store *store, projector_batch *batch,
                                projector_apply_result *result, projector_store_error *err)
{
    if (PQexitPipelineMode(store->conn) != 1) {
        err_set(err, -1, NULL, "cannot leave pipeline mode: %s", PQerrorMessage(store->conn));
        projector_store_disconnect(store);
        return PROJECTOR_ERR_TRANSIENT;
    }
    for (size_t i = 0; i < batch->count; i++) {
        projector_event *ev = &batch->events[i];
        if (ev->state != PROJECTOR_EVENT_NEW)
            continue;
        bool ignored = false;
        err->event_index = (long)i;
        err->sqlstate[0] = '\0';
        err->message[0] = '\0';
        projector_rc rc = store->handler(store->handler_opaque, store->conn, ev, &ignored, err);
        if (PQstatus(store->conn) != CONNECTION_OK) {
            if (rc == PROJECTOR_OK || err->message[0] == '\0')
                err_set(err, -1, NULL, "the connection broke in the handler: %s",
                        PQerrorMessage(store->conn));
            projector_store_disconnect(store);
            return PROJECTOR_ERR_TRANSIENT;
        }
        /* Closed (a COMMIT or ROLLBACK of its own) is fatal whatever it returned: after a
         * COMMIT the batch's dedup rows are in, so a retry would skip the events not handled
         * yet as duplicates. Failed is fatal only with OK (an error return is expected then). */
        PGTransactionStatusType ts = PQtransactionStatus(store->conn);
        if (ts != PQTRANS_INTRANS && (rc == PROJECTOR_OK || ts != PQTRANS_INERROR)) {
            err_set(err, -1, NULL,
                    "the handler of event %s returned %s but left the transaction %s (it must "
                    "not COMMIT, ROLLBACK or ignore a failed statement)%s",
                    ev->id, projector_rc_name(rc), ts == PQTRANS_INERROR ? "failed" : "closed",
                    ts == PQTRANS_INERROR
                        ? ""
                        : "; if it committed, the dedup rows of the whole batch (projector_dedup, "
                          "one applied_at) were committed with it: delete those of the events "
                          "it did not handle before restarting, or they are skipped");
            return PROJECTOR_ERR_FATAL;
        }
        if (rc == PROJECTOR_ERR_TRANSIENT || rc == PROJECTOR_ERR_FATAL)
            err->event_index = -1;
        if (rc == PROJECTOR_ERR_PERMANENT)
            err->event_index = (long)i;
        if (rc != PROJECTOR_OK) {
            if (err->message[0] == '\0')
                err_set(err, err->event_index, err->sqlstate, "the handler failed (%s)",
                        projector_rc_name(rc));
            return rc;
        }
        if (ignored)
            result->unmapped++;
        else
            result->applied++;
    }
    err->event_index = -1;
    if (PQenterPipelineMode(store->conn) != 1) {
        err_set(err, -1, NULL, "cannot enter pipeline mode: %s", PQerrorMessage(store->conn));
        projector_store_disconnect(store);
        return PROJECTOR_ERR_TRANSIENT;
    }
    return PROJECTOR_OK;
}

static int slots_reserve(projector_store *store, size_t n)
{
    if (n <= store->slot_cap)
        return 0;
    long *grown = realloc(store->slots, n * sizeof *grown);
    if (grown == NULL)
        return -1;
    store->slots = grown;
    projector_run *runs = realloc(store->slot_runs, n * sizeof *runs);
    if (runs == NULL)
        return -1;
    store->slot_runs = runs;
    store->slot_cap = n;
    return 0;
}

/* Abandon the transaction after an error: drain what is left, leave pipeline mode, ROLLBACK.
 * A connection that cannot do that is dropped. */
static void abort_txn(projector_store *store)
{
    if (store->conn == NULL)
        return;
    if (PQpipelineStatus(store->conn) != PQ_PIPELINE_OFF) {
        if (PQexitPipelineMode(store->conn) != 1) {
            projector_store_disconnect(store);
            return;
        }
    }
    PGresult *res = PQexec(store->conn, "ROLLBACK");
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        projector_store_disconnect(store);
    PQclear(res);
}

/*
 * Read the results of `nslots` pipelined queries and the sync that follows them. Calls
 * on_tuples for SLOT_GEN/SLOT_DEDUP results. Returns OK or the first error (later queries of
 * the segment are skipped by the server and reported as aborted).
 */
typedef int (*tuples_cb)(projector_store *store, long slot, const PGresult *res, void *opaque);

static projector_rc read_segment(projector_store *store, size_t nslots, tuples_cb on_tuples,
                                 void *opaque, projector_store_error *err)
{
    projector_rc rc = PROJECTOR_OK;
    store->failed_slot = -1;
    for (size_t k = 0; k < nslots; k++) {
        PGresult *res = PQgetResult(store->conn);
        if (res == NULL) {
            if (rc == PROJECTOR_OK)
                rc = fail_result(store, NULL, -1, "pipeline ended early", err);
            return rc == PROJECTOR_ERR_PERMANENT ? PROJECTOR_ERR_TRANSIENT : rc;
        }
        ExecStatusType st = PQresultStatus(res);
        long slot = store->slots[k];
        if (st == PGRES_FATAL_ERROR) {
            if (rc == PROJECTOR_OK) {
                char what[160];
                if (slot >= 0) {
                    const projector_run *run = &store->slot_runs[k];
                    snprintf(what, sizeof what, "%s.%s",
                             projector_mapping_key(&store->proj->mappings[run->mapping]),
                             store->batch->events[slot].event_type);
                } else {
                    snprintf(what, sizeof what, "projector statement");
                }
                rc = fail_result(store, res, slot >= 0 ? slot : -1, what, err);
                store->failed_slot = (long)k;
            }
        } else if (st == PGRES_TUPLES_OK && (slot == SLOT_GEN || slot == SLOT_DEDUP)) {
            if (rc == PROJECTOR_OK && on_tuples(store, slot, res, opaque)) {
                err_set(err, -1, NULL, "out of memory");
                rc = PROJECTOR_ERR_FATAL;
            }
        } else if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK &&
                   st != PGRES_PIPELINE_ABORTED) {
            if (rc == PROJECTOR_OK)
                rc = fail_result(store, res, -1, "unexpected result in the pipeline", err);
        }
        PQclear(res);
        if (store->conn == NULL)
            return rc;
        /* Each query's results end with NULL. */
        res = PQgetResult(store->conn);
        if (res != NULL) {
            PQclear(res);
            if (rc == PROJECTOR_OK)
                err_set(err, -1, NULL, "unexpected extra result in the pipeline");
            projector_store_disconnect(store);
            return PROJECTOR_ERR_TRANSIENT;
        }
    }
    PGresult *sync = PQgetResult(store->conn);
    if (PQresultStatus(sync) != PGRES_PIPELINE_SYNC) {
        if (rc == PROJECTOR_OK)
            rc = fail_result(store, sync, -1, "pipeline sync", err);
        PQclear(sync);
        projector_store_disconnect(store);
        return rc == PROJECTOR_ERR_PERMANENT ? rc : PROJECTOR_ERR_TRANSIENT;
    }
    PQclear(sync);
    return rc;
}

typedef struct round1_state {
    int64_t generation;
    bool have_generation;
    char **new_ids; /* malloc'd copies of the returned ids */
    size_t new_count;
} round1_state;

static int round1_tuples(projector_store *store, long slot, const PGresult *res, void *opaque)
{
    round1_state *st = opaque;
    (void)store;
    if (slot == SLOT_GEN) {
        if (PQntuples(res) == 1) {
            st->generation = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
            st->have_generation = true;
        }
        return 0;
    }
    int n = PQntuples(res);
    if (n == 0)
        return 0;
    st->new_ids = calloc((size_t)n, sizeof *st->new_ids);
    if (st->new_ids == NULL)
        return -1;
    for (int i = 0; i < n; i++) {
        st->new_ids[i] = strdup(PQgetvalue(res, i, 0));
        if (st->new_ids[i] == NULL)
            return -1;
        st->new_count++;
    }
    return 0;
}

static void round1_free(round1_state *st)
{
    for (size_t i = 0; i < st->new_count; i++)
        free(st->new_ids[i]);
    free(st->new_ids);
    memset(st, 0, sizeof *st);
}

static int send_query(projector_store *store, size_t *nslots, long slot, const char *stmt,
                      int nparams, const char *const *params)
{
    store->slots[(*nslots)++] = slot;
    if (stmt == NULL)
        return PQsendQueryParams(store->conn, params[0], 0, NULL, NULL, NULL, NULL, 0) ? 0 : -1;
    return PQsendQueryPrepared(store->conn, stmt, nparams, params, NULL, NULL, 0) ? 0 : -1;
}

/* Send the statement of one run: the per-event statement with $1..$8, or the set statement
 * with the run's array. 0, or -1 when the connection broke (or ENOMEM: *nomem set). */
static int send_run(projector_store *store, size_t *nslots, const projector_batch *batch,
                    const projector_run *run, bool *nomem)
{
    char stmt[32];
    snprintf(stmt, sizeof stmt, "m%d", run->mapping);
    store->slot_runs[*nslots] = *run;
    if (!run->set) {
        const projector_event *ev = &batch->events[run->first];
        char part[16], off[32];
        snprintf(part, sizeof part, "%d", (int)ev->partition);
        snprintf(off, sizeof off, "%lld", (long long)ev->offset);
        const char *params[8] = {ev->json, ev->id, ev->event_type, ev->aggregate_id, ev->topic,
                                 part,     off,    ev->commit_time};
        return send_query(store, nslots, (long)run->first, stmt, 8, params);
    }
    outbox_buf *arr = &store->setarray;
    int bad = projector_setarray_begin(arr);
    size_t n = 0;
    for (size_t i = run->first; i < run->end && !bad; i++)
        if (projector_run_has(run, batch, i))
            bad = projector_setarray_add(arr, &batch->events[i], n++ == 0);
    if (bad || projector_setarray_end(arr)) {
        *nomem = true;
        return -1;
    }
    const char *params[1] = {(const char *)arr->data};
    return send_query(store, nslots, (long)run->first, stmt, 1, params);
}

/* A set statement failed permanently: mark its events to be applied one at a time. Returns
 * true when the failing query was such a run of more than one event (false: the error is the
 * failing event's own). */
static bool split_failed_run(projector_store *store, projector_batch *batch)
{
    if (store->failed_slot < 0 || store->slots[store->failed_slot] < 0)
        return false;
    const projector_run *run = &store->slot_runs[store->failed_slot];
    if (!run->set || run->count < 2)
        return false;
    for (size_t i = run->first; i < run->end; i++)
        if (projector_run_has(run, batch, i))
            batch->events[i].single = true;
    return true;
}

/* The error read_segment reported came from COMMIT and is permanent by its SQLSTATE (a
 * deferred constraint or constraint trigger: class 23 at COMMIT), so no statement names the
 * event that caused it. */
static bool commit_failed_permanently(const projector_store *store,
                                      const projector_store_error *err)
{
    return store->failed_slot >= 0 && store->slots[store->failed_slot] == SLOT_COMMIT &&
           projector_sqlstate_classify(err->sqlstate) == PROJECTOR_SQLSTATE_PERMANENT;
}

/* How one attempt of the batch transaction asks for the next one. */
typedef enum apply_again {
    APPLY_DONE = 0,  /* the result stands */
    APPLY_SPLIT,     /* a set run failed and was marked for one event at a time */
    APPLY_IMMEDIATE, /* COMMIT failed permanently: again with constraints checked per statement */
} apply_again;

/* One attempt of the batch transaction: what its steps share. Lives on apply_once's stack. */
typedef struct apply_txn {
    projector_store *store;
    projector_batch *batch;
    const char *dlq_suffix;
    bool immediate; /* SET CONSTRAINTS ALL IMMEDIATE after BEGIN */
    projector_apply_result *result;
    projector_store_error *err;
    round1_state r1;  /* round 1's answers (generation, new ids) */
    size_t nslots;    /* queries sent in the current round */
    size_t live;      /* events that take a dedup row (not dead) */
    size_t dead;      /* dead-lettered events */
    size_t napplied;  /* NEW events' ids in store->ids (NOTIFY) */
    size_t ndead_ids; /* dead events' ids in store->dead_ids (NOTIFY) */
} apply_txn;

static projector_rc txn_nomem(apply_txn *t)
{
    err_set(t->err, -1, NULL, "out of memory");
    return PROJECTOR_ERR_FATAL;
}

/* The connection broke while sending (no SQLSTATE): transient, connection dropped. */
static projector_rc txn_send_failed(apply_txn *t)
{
    return fail_result(t->store, NULL, -1, "sending the batch", t->err);
}

/* Array literals for several columns at once: begin, add one row, end. 0 or -1 (ENOMEM). */
static int columns_begin(outbox_buf *const *cols, size_t n)
{
    for (size_t c = 0; c < n; c++)
        if (outbox_pgarray_begin(cols[c]))
            return -1;
    return 0;
}

static int columns_add(outbox_buf *const *cols, const char *const *values, size_t n, bool first)
{
    for (size_t c = 0; c < n; c++)
        if (outbox_pgarray_add(cols[c], values[c], first))
            return -1;
    return 0;
}

static int columns_end(outbox_buf *const *cols, size_t n)
{
    for (size_t c = 0; c < n; c++)
        if (outbox_pgarray_end(cols[c]))
            return -1;
    return 0;
}

/* Connected, buffers sized for the batch, every live event PENDING again. */
static projector_rc txn_start(apply_txn *t)
{
    projector_rc rc = projector_store_connect(t->store, t->err);
    if (rc != PROJECTOR_OK)
        return rc;
    if (slots_reserve(t->store, t->batch->count + 16) || ids_reserve(t->store, t->batch->count))
        return txn_nomem(t);
    projector_batch_reset(t->batch);
    return PROJECTOR_OK;
}

/* store->a[0..3]: ids, types, aggregate types and ids of the live events, in batch order (the
 * dedup INSERT's $2..$5). Counts live and dead events. */
static projector_rc build_dedup_columns(apply_txn *t)
{
    outbox_buf *cols[4] = {&t->store->a[0], &t->store->a[1], &t->store->a[2], &t->store->a[3]};
    if (columns_begin(cols, 4))
        return txn_nomem(t);
    for (size_t i = 0; i < t->batch->count; i++) {
        const projector_event *ev = &t->batch->events[i];
        if (ev->state == PROJECTOR_EVENT_DEAD) {
            t->dead++;
            continue;
        }
        const char *row[4] = {ev->id, ev->event_type, ev->aggregate_type, ev->aggregate_id};
        if (columns_add(cols, row, 4, t->live == 0))
            return txn_nomem(t);
        t->live++;
    }
    return columns_end(cols, 4) ? txn_nomem(t) : PROJECTOR_OK;
}

/* Pipeline mode entered; BEGIN and, when asked, SET CONSTRAINTS ALL IMMEDIATE sent. */
static projector_rc send_begin(apply_txn *t)
{
    projector_store *store = t->store;
    if (PQenterPipelineMode(store->conn) != 1) {
        err_set(t->err, -1, NULL, "cannot enter pipeline mode: %s", PQerrorMessage(store->conn));
        projector_store_disconnect(store);
        return PROJECTOR_ERR_TRANSIENT;
    }
    const char *begin[1] = {"BEGIN"};
    const char *set_immediate[1] = {"SET CONSTRAINTS ALL IMMEDIATE"};
    if (send_query(store, &t->nslots, SLOT_INTERNAL, NULL, 0, begin) ||
        (t->immediate && send_query(store, &t->nslots, SLOT_INTERNAL, NULL, 0, set_immediate)))
        return txn_send_failed(t);
    return PROJECTOR_OK;
}

/* Round 1 sent: BEGIN, the generation FOR SHARE, the dedup rows (when any event is live),
 * sync. */
static projector_rc send_round1(apply_txn *t)
{
    projector_store *store = t->store;
    const char *name = store->proj->name;
    projector_rc rc = send_begin(t);
    if (rc != PROJECTOR_OK)
        return rc;
    const char *p_dedup[5] = {name, (const char *)store->a[0].data, (const char *)store->a[1].data,
                              (const char *)store->a[2].data, (const char *)store->a[3].data};
    if (send_query(store, &t->nslots, SLOT_GEN, "projector_gen", 1, &name) ||
        (t->live > 0 && send_query(store, &t->nslots, SLOT_DEDUP, "projector_dedup", 5, p_dedup)) ||
        PQpipelineSync(store->conn) != 1)
        return txn_send_failed(t);
    return PROJECTOR_OK;
}

/* Round 1 read: the generation must be the one the offsets were read under (else STALE), and
 * the ids the dedup INSERT returned turn the live events NEW or DUPLICATE. */
static projector_rc read_round1(apply_txn *t, int64_t generation)
{
    const char *name = t->store->proj->name;
    projector_rc rc = read_segment(t->store, t->nslots, round1_tuples, &t->r1, t->err);
    if (rc != PROJECTOR_OK)
        return rc;
    if (!t->r1.have_generation) {
        err_set(t->err, -1, NULL, "projection %s has no row in projector_projections", name);
        return PROJECTOR_ERR_TRANSIENT;
    }
    if (t->r1.generation != generation) {
        err_set(t->err, -1, NULL, "projection %s was replayed (generation %lld, expected %lld)",
                name, (long long)t->r1.generation, (long long)generation);
        return PROJECTOR_ERR_STALE;
    }
    if (projector_batch_mark(t->batch, (const char *const *)t->r1.new_ids, t->r1.new_count) < 0)
        return txn_nomem(t);
    return PROJECTOR_OK;
}

/* Round 1: which events are new, under the generation the offsets were read under. */
static projector_rc round1(apply_txn *t, int64_t generation)
{
    projector_rc rc = build_dedup_columns(t);
    if (rc == PROJECTOR_OK)
        rc = send_round1(t);
    if (rc == PROJECTOR_OK)
        rc = read_round1(t, generation);
    return rc;
}

/* What became of each event: duplicates and unmapped counted, the ids to announce listed. */
static void collect_outcomes(apply_txn *t)
{
    projector_store *store = t->store;
    for (size_t i = 0; i < t->batch->count; i++) {
        const projector_event *ev = &t->batch->events[i];
        if (ev->state == PROJECTOR_EVENT_DUPLICATE) {
            t->result->duplicates++;
        } else if (ev->state == PROJECTOR_EVENT_DEAD) {
            if (ev->id[0] != '\0')
                store->dead_ids[t->ndead_ids++] = ev->id;
        } else if (ev->state == PROJECTOR_EVENT_NEW) {
            store->ids[t->napplied++] = ev->id;
            if (store->handler == NULL && ev->mapping < 0)
                t->result->unmapped++;
        }
    }
}

/* The mapped statements of the NEW events, in batch order: one per event, or one per run
 * (sqlset.<Type>). None in handler mode (the handler ran them). */
static projector_rc send_statements(apply_txn *t)
{
    projector_store *store = t->store;
    projector_run run;
    size_t at = 0;
    if (store->handler != NULL)
        return PROJECTOR_OK;
    while (projector_batch_next_run(t->batch, at, store->set_mapping, store->proj->mapping_count,
                                    &run)) {
        bool nomem = false;
        if (send_run(store, &t->nslots, t->batch, &run, &nomem))
            return nomem ? txn_nomem(t) : txn_send_failed(t);
        t->result->applied += run.count;
        if (run.set)
            t->result->set_statements++;
        at = run.end;
    }
    return PROJECTOR_OK;
}

enum { DEAD_COLUMNS = 10 };

/* The dead-letter rows' columns (projector_dead's $2..$11) into store->a[1..9] and
 * store->notify (reused for NOTIFY only after this statement is sent). */
static projector_rc build_dead_columns(apply_txn *t, outbox_buf *const *cols)
{
    bool first = true;
    if (columns_begin(cols, DEAD_COLUMNS))
        return txn_nomem(t);
    for (size_t i = 0; i < t->batch->count; i++) {
        const projector_event *ev = &t->batch->events[i];
        if (ev->state != PROJECTOR_EVENT_DEAD)
            continue;
        char part[16], off[32], dlq[512];
        snprintf(part, sizeof part, "%d", (int)ev->partition);
        snprintf(off, sizeof off, "%lld", (long long)ev->offset);
        snprintf(dlq, sizeof dlq, "%s%s", ev->topic, t->dlq_suffix);
        const char *row[DEAD_COLUMNS] = {ev->topic,
                                         part,
                                         off,
                                         ev->id[0] ? ev->id : NULL,
                                         ev->event_type,
                                         ev->sqlstate[0] ? ev->sqlstate : NULL,
                                         ev->reason ? ev->reason : "unknown",
                                         dlq,
                                         ev->aggregate_type,
                                         ev->aggregate_id};
        if (columns_add(cols, row, DEAD_COLUMNS, first))
            return txn_nomem(t);
        first = false;
        t->result->dead++;
    }
    return columns_end(cols, DEAD_COLUMNS) ? txn_nomem(t) : PROJECTOR_OK;
}

/* The rows of projector_dead_letters for the events dead-lettered in this batch. */
static projector_rc send_dead_letters(apply_txn *t)
{
    projector_store *store = t->store;
    if (t->dead == 0)
        return PROJECTOR_OK;
    outbox_buf *cols[DEAD_COLUMNS] = {&store->a[1], &store->a[2], &store->a[3], &store->a[4],
                                      &store->a[5], &store->a[6], &store->a[7], &store->notify,
                                      &store->a[8], &store->a[9]};
    projector_rc rc = build_dead_columns(t, cols);
    if (rc != PROJECTOR_OK)
        return rc;
    const char *params[1 + DEAD_COLUMNS] = {store->proj->name};
    for (size_t c = 0; c < DEAD_COLUMNS; c++)
        params[1 + c] = (const char *)cols[c]->data;
    if (send_query(store, &t->nslots, SLOT_INTERNAL, "projector_dead", 1 + DEAD_COLUMNS, params))
        return txn_send_failed(t);
    return PROJECTOR_OK;
}

/* The next offset of every partition of the batch, whatever became of its events. */
static projector_rc send_offsets(apply_txn *t)
{
    projector_store *store = t->store;
    projector_position *pos = malloc(t->batch->count * sizeof *pos);
    if (pos == NULL)
        return txn_nomem(t);
    size_t npos = projector_batch_positions(t->batch, pos, t->batch->count);
    outbox_buf *cols[3] = {&store->a[1], &store->a[2], &store->a[3]};
    int bad = columns_begin(cols, 3);
    for (size_t i = 0; i < npos && !bad; i++) {
        char part[16], off[32];
        snprintf(part, sizeof part, "%d", (int)pos[i].partition);
        snprintf(off, sizeof off, "%lld", (long long)pos[i].next_offset);
        const char *row[3] = {pos[i].topic, part, off};
        bad = columns_add(cols, row, 3, i == 0);
    }
    free(pos);
    if (bad || columns_end(cols, 3))
        return txn_nomem(t);
    const char *params[4] = {store->proj->name, (const char *)cols[0]->data,
                             (const char *)cols[1]->data, (const char *)cols[2]->data};
    if (npos > 0 && send_query(store, &t->nslots, SLOT_INTERNAL, "projector_offsets", 4, params))
        return txn_send_failed(t);
    return PROJECTOR_OK;
}

/* pg_notify of one kind of ids (applied or dead-lettered), in payloads under the limit. */
static projector_rc send_notify_kind(apply_txn *t, projector_notify_kind kind)
{
    projector_store *store = t->store;
    const char *const *list = kind == PROJECTOR_NOTIFY_APPLIED ? store->ids : store->dead_ids;
    size_t n = kind == PROJECTOR_NOTIFY_APPLIED ? t->napplied : t->ndead_ids;
    size_t at = 0;
    while (at < n) {
        long took = projector_notify_payload_kind(&store->notify, store->proj->name, kind, list, n,
                                                  at, PROJECTOR_NOTIFY_MAX);
        if (took <= 0)
            return txn_nomem(t);
        const char *params[2] = {store->proj->notify, (const char *)store->notify.data};
        if (send_query(store, &t->nslots, SLOT_INTERNAL, "projector_notify", 2, params))
            return txn_send_failed(t);
        at += (size_t)took;
        t->result->notifies++;
    }
    return PROJECTOR_OK;
}

/* Applied ids, then dead-lettered ones (what `outbox-projector wait` listens for), when the
 * projection has a channel. */
static projector_rc send_notifies(apply_txn *t)
{
    const char *channel = t->store->proj->notify;
    if (channel == NULL || channel[0] == '\0')
        return PROJECTOR_OK;
    projector_rc rc = send_notify_kind(t, PROJECTOR_NOTIFY_APPLIED);
    if (rc == PROJECTOR_OK)
        rc = send_notify_kind(t, PROJECTOR_NOTIFY_FAILED);
    return rc;
}

static projector_rc send_commit(apply_txn *t)
{
    const char *commit[1] = {"COMMIT"};
    if (send_query(t->store, &t->nslots, SLOT_COMMIT, NULL, 0, commit) ||
        PQpipelineSync(t->store->conn) != 1)
        return txn_send_failed(t);
    return PROJECTOR_OK;
}

/* Round 2 read: the COMMIT's outcome. A failed set run or a permanent failure at COMMIT asks
 * for another attempt (*again). */
static projector_rc read_round2(apply_txn *t, apply_again *again)
{
    projector_store *store = t->store;
    projector_rc rc = read_segment(store, t->nslots, round1_tuples, &t->r1, t->err);
    if (rc == PROJECTOR_ERR_PERMANENT && split_failed_run(store, t->batch))
        *again = APPLY_SPLIT;
    if (rc != PROJECTOR_OK && !t->immediate && commit_failed_permanently(store, t->err))
        *again = APPLY_IMMEDIATE;
    if (rc != PROJECTOR_OK)
        return rc;
    if (PQexitPipelineMode(store->conn) != 1) {
        /* Committed; the connection is just in a state we do not trust. */
        projector_store_disconnect(store);
    }
    return PROJECTOR_OK;
}

/* Round 2 sent: the mapped statements of the new events, dead letters, offsets, NOTIFY,
 * COMMIT, sync. */
static projector_rc send_round2(apply_txn *t)
{
    collect_outcomes(t);
    projector_rc rc = send_statements(t);
    if (rc == PROJECTOR_OK)
        rc = send_dead_letters(t);
    if (rc == PROJECTOR_OK)
        rc = send_offsets(t);
    if (rc == PROJECTOR_OK)
        rc = send_notifies(t);
    if (rc == PROJECTOR_OK)
        rc = send_commit(t);
    return rc;
}

/* Round 2: sent, then read. */
static projector_rc round2(apply_txn *t, apply_again *again)
{
    t->nslots = 0;
    projector_rc rc = send_round2(t);
    if (rc == PROJECTOR_OK)
        rc = read_round2(t, again);
    return rc;
}

/* The two-round transaction (round 1 tells which events are new, round 2 applies them).
 * `immediate`: SET CONSTRAINTS ALL IMMEDIATE right after BEGIN, so a deferred constraint fails
 * the statement (the event) that breaks it instead of COMMIT. *again: whether and how the
 * caller tries again. On error the transaction is rolled back and the live events are PENDING
 * again. */
static projector_rc apply_two_rounds(projector_store *store, projector_batch *batch,
                                     int64_t generation, const char *dlq_suffix, bool immediate,
                                     projector_apply_result *result, projector_store_error *err,
                                     apply_again *again)
{
    apply_txn t = {.store = store,
                   .batch = batch,
                   .dlq_suffix = dlq_suffix,
                   .immediate = immediate,
                   .result = result,
                   .err = err};
    memset(result, 0, sizeof *result);
    err->event_index = -1;
    store->batch = batch;
    projector_rc rc = txn_start(&t);
    if (rc != PROJECTOR_OK)
        return rc;
    rc = round1(&t, generation);
    /* Handler mode: the handler's statements run now, each event after the other. */
    if (rc == PROJECTOR_OK && store->handler != NULL)
        rc = run_handler(store, batch, result, err);
    if (rc == PROJECTOR_OK)
        rc = round2(&t, again);
    round1_free(&t.r1);
    if (rc != PROJECTOR_OK) {
        abort_txn(store);
        projector_batch_reset(batch);
    }
    return rc;
}

/* Whether the batch may try the one-round transaction: the last batch had no duplicate, no
 * handler runs between the rounds, and some event takes a dedup row. */
static bool one_round_fits(const projector_store *store, const projector_batch *batch)
{
    if (store->two_rounds || store->handler != NULL)
        return false;
    for (size_t i = 0; i < batch->count; i++)
        if (batch->events[i].state != PROJECTOR_EVENT_DEAD)
            return true;
    return false;
}

/* BEGIN, [SET CONSTRAINTS ALL IMMEDIATE], the strict dedup INSERT (every live event must be new,
 * under `generation`), then every live event is NEW. */
static projector_rc send_strict_dedup(apply_txn *t, int64_t generation)
{
    projector_store *store = t->store;
    char gen[32];
    snprintf(gen, sizeof gen, "%lld", (long long)generation);
    projector_rc rc = send_begin(t);
    if (rc != PROJECTOR_OK)
        return rc;
    const char *params[6] = {store->proj->name,
                             (const char *)store->a[0].data,
                             (const char *)store->a[1].data,
                             (const char *)store->a[2].data,
                             (const char *)store->a[3].data,
                             gen};
    if (send_query(store, &t->nslots, SLOT_INTERNAL, "projector_dedup_strict", 6, params))
        return txn_send_failed(t);
    projector_batch_mark_all_new(t->batch);
    return PROJECTOR_OK;
}

/*
 * The one-round transaction: the whole of it (BEGIN, strict dedup rows, statements, dead
 * letters, offsets, NOTIFY, COMMIT) in one pipeline, one round trip, betting that every live
 * event is new, as it is unless Kafka redelivered. The strict INSERT fails when the bet is lost
 * or the generation moved, and the server then skips everything up to the sync: nothing is
 * committed. Any error: rolled back, events PENDING again, and the caller runs the two-round
 * transaction, which tells duplicates, staleness and failing events apart as always.
 * one_round_send sends it (state in store->txn), one_round_finish reads its outcome.
 */
static projector_rc one_round_send(projector_store *store, projector_batch *batch,
                                   int64_t generation, const char *dlq_suffix, bool immediate)
{
    if (store->txn == NULL && (store->txn = malloc(sizeof *store->txn)) == NULL) {
        err_set(&store->txn_err, -1, NULL, "out of memory");
        return PROJECTOR_ERR_FATAL;
    }
    apply_txn *t = store->txn;
    *t = (apply_txn){.store = store,
                     .batch = batch,
                     .dlq_suffix = dlq_suffix,
                     .immediate = immediate,
                     .result = &store->txn_result,
                     .err = &store->txn_err};
    memset(t->result, 0, sizeof *t->result);
    t->err->event_index = -1;
    store->batch = batch;
    projector_rc rc = txn_start(t);
    if (rc != PROJECTOR_OK)
        return rc;
    rc = build_dedup_columns(t);
    if (rc == PROJECTOR_OK)
        rc = send_strict_dedup(t, generation);
    if (rc == PROJECTOR_OK)
        rc = send_round2(t);
    if (rc != PROJECTOR_OK) {
        abort_txn(store);
        projector_batch_reset(batch);
    }
    return rc;
}

static projector_rc one_round_finish(projector_store *store, projector_apply_result *result,
                                     projector_store_error *err)
{
    apply_txn *t = store->txn;
    apply_again ignored = APPLY_DONE; /* the two-round attempt that follows a failure decides */
    projector_rc rc = read_round2(t, &ignored);
    if (rc != PROJECTOR_OK) {
        abort_txn(store);
        projector_batch_reset(t->batch);
        store->two_rounds = true;
    }
    *result = *t->result;
    *err = *t->err;
    return rc;
}

bool projector_store_apply_send(projector_store *store, projector_batch *batch, int64_t generation,
                                const char *dlq_suffix)
{
    if (!one_round_fits(store, batch))
        return false;
    if (one_round_send(store, batch, generation, dlq_suffix, false) != PROJECTOR_OK) {
        store->two_rounds = true;
        return false;
    }
    store->in_flight = true;
    return true;
}

projector_rc projector_store_apply_finish(projector_store *store, projector_apply_result *result,
                                          projector_store_error *err)
{
    store->in_flight = false;
    return one_round_finish(store, result, err);
}

/* One attempt of the batch transaction: one round when it fits, else (or when that failed)
 * two rounds. Duplicates send the next batch the two-round way; a clean batch brings the one
 * round back. */
static projector_rc apply_attempt(projector_store *store, projector_batch *batch,
                                  int64_t generation, const char *dlq_suffix, bool immediate,
                                  projector_apply_result *result, projector_store_error *err,
                                  apply_again *again)
{
    if (one_round_fits(store, batch) &&
        one_round_send(store, batch, generation, dlq_suffix, immediate) == PROJECTOR_OK &&
        one_round_finish(store, result, err) == PROJECTOR_OK)
        return PROJECTOR_OK;
    store->two_rounds = true;
    projector_rc rc =
        apply_two_rounds(store, batch, generation, dlq_suffix, immediate, result, err, again);
    if (rc == PROJECTOR_OK)
        store->two_rounds = result->duplicates > 0;
    return rc;
}

/* A FATAL error of the attempt with constraints checked per statement that still names no
 * event: say so. */
static void note_unblamed_commit(projector_store_error *err)
{
    if (err->event_index >= 0 || err->sqlstate[0] == '\0' ||
        projector_sqlstate_classify(err->sqlstate) != PROJECTOR_SQLSTATE_PERMANENT)
        return;
    size_t len = strlen(err->message);
    snprintf(err->message + len, sizeof err->message - len,
             " (COMMIT failed permanently even with every constraint checked per statement: no "
             "event can be blamed)");
}

projector_rc projector_store_apply(projector_store *store, projector_batch *batch,
                                   int64_t generation, const char *dlq_suffix,
                                   projector_apply_result *result, projector_store_error *err)
{
    uint64_t fallbacks = 0, commit_retries = 0;
    bool immediate = false;
    for (;;) {
        apply_again again = APPLY_DONE;
        projector_rc rc =
            apply_attempt(store, batch, generation, dlq_suffix, immediate, result, err, &again);
        result->set_fallbacks = fallbacks;
        result->commit_retries = commit_retries;
        if (again == APPLY_DONE) {
            if (rc == PROJECTOR_ERR_FATAL && immediate)
                note_unblamed_commit(err);
            return rc;
        }
        /* Each split marks at least two more events single, and the immediate attempt is made
         * once: this ends. */
        if (again == APPLY_SPLIT) {
            fallbacks++;
        } else {
            immediate = true;
            commit_retries++;
        }
    }
}
