/* projector_stream: the SSE event stream of a projection, fed by LISTEN/NOTIFY. */
#include "projector_stream.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "log.h"
#include "pg_connect.h"

#define FEED_PAGE 500
#define FEED_WAKE_MS 500
#define FEED_RETRY_MAX_MS 10000

/* Rows after ($2 at, $3 kind, $4 id), both tables merged in cursor order. The lower bound on
 * the timestamps lets the BRIN index on applied_at (and the failed_at index) skip old rows. */
static const char SQL_FETCH[] =
    "SELECT k, us, id, event_type, aggregate_type, aggregate_id, reason FROM ("
    " SELECT 0 AS k, (extract(epoch FROM applied_at) * 1000000)::int8 AS us,"
    " event_id::text COLLATE \"C\" AS id, event_type, aggregate_type, aggregate_id,"
    " NULL::text AS reason FROM projector_dedup WHERE projection = $1"
    " AND applied_at >= 'epoch'::timestamptz + $2::int8 * interval '1 microsecond'"
    " UNION ALL"
    " SELECT 1, (extract(epoch FROM failed_at) * 1000000)::int8, event_id::text COLLATE \"C\","
    " event_type, aggregate_type, aggregate_id, reason FROM projector_dead_letters"
    " WHERE projection = $1 AND event_id IS NOT NULL"
    " AND failed_at >= 'epoch'::timestamptz + $2::int8 * interval '1 microsecond') AS x"
    " WHERE (us, k, id) > ($2::int8, $3::int4, $4::text COLLATE \"C\")"
    " ORDER BY us, k, id LIMIT $5";

/* Where a feeder starts: after the newest row of the last hour (older rows are history), or an
 * hour ago. Every batch still in flight started after that row's batch committed. */
static const char SQL_HEAD[] =
    "SELECT (extract(epoch FROM greatest(now() - interval '1 hour',"
    " (SELECT max(applied_at) FROM projector_dedup WHERE projection = $1"
    "  AND applied_at > now() - interval '1 hour'),"
    " (SELECT max(failed_at) FROM projector_dead_letters WHERE projection = $1"
    "  AND failed_at > now() - interval '1 hour'))) * 1000000)::int8";

/* ---------------------------------------------------------------------------------------- */
/* Pure parts.                                                                               */

void projector_cursor_format(const projector_cursor *cursor, char out[PROJECTOR_CURSOR_MAX])
{
    snprintf(out, PROJECTOR_CURSOR_MAX, "%" PRId64 "-%c-%s", cursor->at_us,
             cursor->kind == 0 ? 'a' : 'f', cursor->id);
}

int projector_cursor_parse(const char *text, projector_cursor *cursor)
{
    if (text == NULL || *text < '0' || *text > '9')
        return -1;
    char *end = NULL;
    errno = 0;
    long long at = strtoll(text, &end, 10);
    if (errno != 0 || end[0] != '-' || (end[1] != 'a' && end[1] != 'f') || end[2] != '-')
        return -1;
    const char *id = end + 3;
    if (strlen(id) != PROJECTOR_UUID_LEN ||
        projector_uuid_normalize(id, PROJECTOR_UUID_LEN, cursor->id) != 0 ||
        strcmp(id, cursor->id) != 0)
        return -1;
    cursor->at_us = (int64_t)at;
    cursor->kind = end[1] == 'a' ? 0 : 1;
    return 0;
}

int projector_cursor_cmp(const projector_cursor *a, const projector_cursor *b)
{
    if (a->at_us != b->at_us)
        return a->at_us < b->at_us ? -1 : 1;
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    return strcmp(a->id, b->id);
}

static int append_encoded(outbox_buf *out, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)(value ? value : ""); *p; p++) {
        bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                     (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~';
        char enc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
        if (plain ? outbox_buf_append_byte(out, *p) : outbox_buf_append(out, enc, 3))
            return -1;
    }
    return 0;
}

char *projector_link_expand(const char *tmpl, const char *id, const char *event_type,
                            const char *aggregate_type, const char *aggregate_id)
{
    const struct {
        const char *name;
        const char *value;
    } vars[] = {{"{aggregate_id}", aggregate_id},
                {"{aggregate_type}", aggregate_type},
                {"{id}", id},
                {"{type}", event_type}};
    outbox_buf out = OUTBOX_BUF_INIT;
    if (tmpl == NULL)
        return NULL;
    for (const char *p = tmpl; *p;) {
        size_t i = 0, n = 0;
        for (; i < sizeof vars / sizeof vars[0]; i++)
            if (strncmp(p, vars[i].name, (n = strlen(vars[i].name))) == 0)
                break;
        if (i < sizeof vars / sizeof vars[0]) {
            if (append_encoded(&out, vars[i].value))
                goto nomem;
            p += n;
        } else if (outbox_buf_append_byte(&out, (uint8_t)*p++)) {
            goto nomem;
        }
    }
    if (outbox_buf_append_byte(&out, 0))
        goto nomem;
    return (char *)out.data;
nomem:
    outbox_buf_free(&out);
    return NULL;
}

static json_t *json_str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

char *projector_stream_data(const char *projection, const projector_stream_row *row,
                            const char *link_tmpl)
{
    bool failed = row->cursor.kind == 1;
    json_t *obj = json_object();
    char *link = NULL, *text = NULL;
    if (obj == NULL)
        return NULL;
    if (link_tmpl && !failed) {
        link = projector_link_expand(link_tmpl, row->cursor.id, row->event_type,
                                     row->aggregate_type, row->aggregate_id);
        if (link == NULL)
            goto out;
    }
    if (json_object_set_new(obj, "id", json_string(row->cursor.id)) ||
        json_object_set_new(obj, "projection", json_string(projection)) ||
        json_object_set_new(obj, "type", json_str_or_null(row->event_type)) ||
        json_object_set_new(obj, "aggregate_type", json_str_or_null(row->aggregate_type)) ||
        json_object_set_new(obj, "aggregate_id", json_str_or_null(row->aggregate_id)) ||
        json_object_set_new(obj, "status", json_string(failed ? "failed" : "applied")) ||
        json_object_set_new(obj, "reason", json_str_or_null(failed ? row->reason : NULL)) ||
        (link && json_object_set_new(obj, "link", json_string(link))))
        goto out;
    text = json_dumps(obj, JSON_COMPACT);
out:
    free(link);
    json_decref(obj);
    return text;
}

char *projector_stream_tag(const char *aggregate_type, const char *aggregate_id)
{
    const char *t = aggregate_type ? aggregate_type : "";
    const char *i = aggregate_id ? aggregate_id : "";
    size_t size = strlen(t) + strlen(i) + 2;
    char *tag = malloc(size);
    if (tag != NULL)
        snprintf(tag, size, "%s\n%s", t, i);
    return tag;
}

int projector_stream_filter_accept(void *filter, const char *id, const char *tag)
{
    const projector_stream_filter *f = filter;
    if (f->has_after) {
        projector_cursor c;
        if (id == NULL || projector_cursor_parse(id, &c) != 0 ||
            projector_cursor_cmp(&c, &f->after) <= 0)
            return 0;
    }
    if (f->aggregate_type == NULL && f->aggregate_id == NULL)
        return 1;
    const char *nl = tag ? strchr(tag, '\n') : NULL;
    if (nl == NULL)
        return 0;
    size_t tlen = (size_t)(nl - tag);
    if (f->aggregate_type &&
        (strlen(f->aggregate_type) != tlen || strncmp(f->aggregate_type, tag, tlen) != 0))
        return 0;
    if (f->aggregate_id && strcmp(f->aggregate_id, nl + 1) != 0)
        return 0;
    return 1;
}

void projector_stream_filter_free(void *filter)
{
    projector_stream_filter *f = filter;
    if (f == NULL)
        return;
    free(f->aggregate_type);
    free(f->aggregate_id);
    free(f);
}

/* ---------------------------------------------------------------------------------------- */
/* Reading the tables.                                                                       */

int projector_stream_fetch(PGconn *conn, const char *projection, const projector_cursor *after,
                           int limit, PGresult **res, char *errstr, size_t errstr_size)
{
    char at[32], kind[8], lim[16];
    snprintf(at, sizeof at, "%" PRId64, after->at_us);
    snprintf(kind, sizeof kind, "%d", after->kind);
    snprintf(lim, sizeof lim, "%d", limit);
    const char *params[5] = {projection, at, kind, after->id, lim};
    *res = PQexecParams(conn, SQL_FETCH, 5, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(*res) == PGRES_TUPLES_OK)
        return 0;
    const char *why = PQresultErrorField(*res, PG_DIAG_MESSAGE_PRIMARY);
    snprintf(errstr, errstr_size,
             "cannot read the applied and dead-lettered events of %s: %s (apply sql/projector.sql "
             "again if a column is missing)",
             projection, why ? why : PQerrorMessage(conn));
    PQclear(*res);
    *res = NULL;
    return -1;
}

void projector_stream_row_get(const PGresult *res, int i, projector_stream_row *row)
{
#define COL(c) (PQgetisnull(res, i, c) ? NULL : PQgetvalue(res, i, c))
    memset(row, 0, sizeof *row);
    row->cursor.kind = atoi(PQgetvalue(res, i, 0));
    row->cursor.at_us = (int64_t)strtoll(PQgetvalue(res, i, 1), NULL, 10);
    snprintf(row->cursor.id, sizeof row->cursor.id, "%s", PQgetvalue(res, i, 2));
    row->event_type = COL(3);
    row->aggregate_type = COL(4);
    row->aggregate_id = COL(5);
    row->reason = COL(6);
#undef COL
}

/* ---------------------------------------------------------------------------------------- */
/* The feeder.                                                                               */

struct projector_stream_feeder {
    const projector_projection *proj;
    const char *conninfo;
    outbox_http_channel *channel;
    pthread_t thread;
    _Atomic bool stop;
    PGconn *conn;
    projector_cursor cursor; /* the last row published */
    bool have_cursor;
};

static bool feeder_sleep(projector_stream_feeder *feeder, int64_t ms)
{
    while (ms > 0 && !atomic_load(&feeder->stop)) {
        int64_t step = ms < FEED_WAKE_MS ? ms : FEED_WAKE_MS;
        struct timespec ts = {.tv_sec = step / 1000, .tv_nsec = (long)(step % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
    return !atomic_load(&feeder->stop);
}

/* Connect, LISTEN, and (first time only) take the head cursor. 0 or -1 (logged). */
static int feeder_connect(projector_stream_feeder *feeder)
{
    /* 5 s unless postgres.conninfo sets connect_timeout: the feeder retries on its own */
    const outbox_pg_params pgparams = {.conninfo = feeder->conninfo,
                                       .application_name = "outbox-projector-stream",
                                       .connect_timeout_s = 5};
    char why[1600];
    PGresult *res = NULL;
    char *ident = NULL, *sql = NULL;
    int rc = -1;

    if (outbox_pg_connect(&pgparams, &feeder->conn, why, sizeof why) != OUTBOX_PG_CONNECT_OK) {
        outbox_log_warn("stream", "projection %s: cannot connect to the read database: %s",
                        feeder->proj->name, why);
        goto out;
    }
    ident = PQescapeIdentifier(feeder->conn, feeder->proj->notify, strlen(feeder->proj->notify));
    if (ident == NULL || (sql = malloc(strlen(ident) + 8)) == NULL)
        goto out;
    sprintf(sql, "LISTEN %s", ident);
    res = PQexec(feeder->conn, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        outbox_log_warn("stream", "projection %s: LISTEN %s: %s", feeder->proj->name, ident,
                        PQerrorMessage(feeder->conn));
        goto out;
    }
    if (!feeder->have_cursor) {
        const char *params[1] = {feeder->proj->name};
        PQclear(res);
        res = PQexecParams(feeder->conn, SQL_HEAD, 1, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
            outbox_log_warn("stream", "projection %s: cannot read the stream head: %s",
                            feeder->proj->name, PQerrorMessage(feeder->conn));
            goto out;
        }
        feeder->cursor.at_us = (int64_t)strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        feeder->cursor.kind = 2; /* after every row at that instant */
        feeder->cursor.id[0] = '\0';
        feeder->have_cursor = true;
    }
    rc = 0;
out:
    PQclear(res);
    free(sql);
    if (ident != NULL)
        PQfreemem(ident);
    if (rc != 0 && feeder->conn != NULL) {
        PQfinish(feeder->conn);
        feeder->conn = NULL;
    }
    return rc;
}

/* Publish every row after the cursor. 0, or -1 (connection to drop). */
static int feeder_catch_up(projector_stream_feeder *feeder)
{
    char errstr[512];
    for (;;) {
        PGresult *res = NULL;
        if (projector_stream_fetch(feeder->conn, feeder->proj->name, &feeder->cursor, FEED_PAGE,
                                   &res, errstr, sizeof errstr)) {
            outbox_log_warn("stream", "%s", errstr);
            return -1;
        }
        int n = PQntuples(res);
        for (int i = 0; i < n; i++) {
            projector_stream_row row;
            char id[PROJECTOR_CURSOR_MAX];
            projector_stream_row_get(res, i, &row);
            projector_cursor_format(&row.cursor, id);
            char *data = projector_stream_data(
                feeder->proj->name, &row, projector_projection_link(feeder->proj, row.event_type));
            char *tag = projector_stream_tag(row.aggregate_type, row.aggregate_id);
            if (data == NULL || tag == NULL ||
                outbox_http_channel_publish_tagged(feeder->channel,
                                                   row.cursor.kind == 0 ? "applied" : "failed", id,
                                                   data, tag) != 0)
                outbox_log_warn("stream", "projection %s: out of memory: event %s not streamed",
                                feeder->proj->name, row.cursor.id);
            free(data);
            free(tag);
            feeder->cursor = row.cursor;
        }
        PQclear(res);
        if (n < FEED_PAGE)
            return 0;
    }
}

/* Wait for notifications until stop or a broken connection. 0 stop, -1 reconnect. */
static int feeder_listen(projector_stream_feeder *feeder)
{
    while (!atomic_load(&feeder->stop)) {
        struct pollfd pfd = {.fd = PQsocket(feeder->conn), .events = POLLIN};
        int n = poll(&pfd, 1, FEED_WAKE_MS); /* the timeout only looks at `stop` */
        if (n < 0 && errno != EINTR)
            return -1;
        if (n <= 0)
            continue;
        if (PQconsumeInput(feeder->conn) != 1) {
            outbox_log_warn("stream", "projection %s: read database connection lost: %s",
                            feeder->proj->name, PQerrorMessage(feeder->conn));
            return -1;
        }
        bool heard = false;
        PGnotify *note;
        while ((note = PQnotifies(feeder->conn)) != NULL) {
            heard = true;
            PQfreemem(note);
        }
        if (heard && feeder_catch_up(feeder) != 0)
            return -1;
    }
    return 0;
}

static void *feeder_main(void *arg)
{
    projector_stream_feeder *feeder = arg;
    int64_t backoff = 100;
    while (!atomic_load(&feeder->stop)) {
        if (feeder_connect(feeder) == 0 && feeder_catch_up(feeder) == 0) {
            backoff = 100;
            if (feeder_listen(feeder) == 0)
                break;
        }
        if (feeder->conn != NULL) {
            PQfinish(feeder->conn);
            feeder->conn = NULL;
        }
        if (!feeder_sleep(feeder, backoff))
            break;
        backoff = backoff * 2 > FEED_RETRY_MAX_MS ? FEED_RETRY_MAX_MS : backoff * 2;
    }
    if (feeder->conn != NULL)
        PQfinish(feeder->conn);
    feeder->conn = NULL;
    return NULL;
}

projector_stream_feeder *projector_stream_feeder_start(const projector_projection *proj,
                                                       const char *conninfo,
                                                       outbox_http_channel *channel, char *errstr,
                                                       size_t errstr_size)
{
    projector_stream_feeder *feeder = calloc(1, sizeof *feeder);
    if (feeder == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    feeder->proj = proj;
    feeder->conninfo = conninfo;
    feeder->channel = channel;
    atomic_init(&feeder->stop, false);
    int rc = pthread_create(&feeder->thread, NULL, feeder_main, feeder);
    if (rc != 0) {
        snprintf(errstr, errstr_size, "cannot start the event stream thread of %s: %s", proj->name,
                 strerror(rc));
        free(feeder);
        return NULL;
    }
    return feeder;
}

void projector_stream_feeder_stop(projector_stream_feeder *feeder)
{
    if (feeder == NULL)
        return;
    atomic_store(&feeder->stop, true);
    pthread_join(feeder->thread, NULL);
    free(feeder);
}
