/* projector_httpd: /metrics, /healthz, /events/{id}, /events/stream. */
#include "projector_httpd.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "http.h"
#include "log.h"
#include "pg_connect.h"
#include "projector_batch.h"
#include "projector_store.h"
#include "projector_stream.h"

typedef struct lookup {
    const projector_projection *proj;
    const char *conninfo;
    pthread_mutex_t lock;
    PGconn *conn;
    outbox_http_channel *channel;    /* its event stream; NULL when it sends no NOTIFY */
    projector_stream_feeder *feeder; /* feeds channel */
} lookup;

struct projector_httpd {
    const projector_settings *settings;
    projector_stats *const *stats;
    size_t count;
    lookup *lookups;
    outbox_http_server *server;
};

char *projector_httpd_event_body(const char *projection, const char *id, const char *state,
                                 const char *at, const char *reason, const char *sqlstate,
                                 const char *dlq_topic, int *status)
{
    return projector_httpd_event_body_link(projection, id, state, at, reason, sqlstate, dlq_topic,
                                           NULL, status);
}

char *projector_httpd_event_body_link(const char *projection, const char *id, const char *state,
                                      const char *at, const char *reason, const char *sqlstate,
                                      const char *dlq_topic, const char *link, int *status)
{
    json_t *obj = json_object();
    if (obj == NULL)
        return NULL;
    json_object_set_new(obj, "event_id", json_string(id));
    json_object_set_new(obj, "projection", json_string(projection));
    if (state == NULL) {
        *status = 202;
        json_object_set_new(obj, "status", json_string("pending"));
    } else if (strcmp(state, "applied") == 0) {
        *status = 200;
        json_object_set_new(obj, "status", json_string("applied"));
        json_object_set_new(obj, "applied_at", at ? json_string(at) : json_null());
        if (link != NULL)
            json_object_set_new(obj, "link", json_string(link));
    } else {
        *status = 422;
        json_object_set_new(obj, "status", json_string("failed"));
        json_object_set_new(obj, "failed_at", at ? json_string(at) : json_null());
        json_object_set_new(obj, "reason", reason ? json_string(reason) : json_null());
        json_object_set_new(obj, "sqlstate", sqlstate ? json_string(sqlstate) : json_null());
        json_object_set_new(obj, "dlq_topic", dlq_topic ? json_string(dlq_topic) : json_null());
    }
    char *text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (text == NULL)
        return NULL;
    size_t len = strlen(text);
    char *body = realloc(text, len + 2);
    if (body == NULL) {
        free(text);
        return NULL;
    }
    body[len] = '\n';
    body[len + 1] = '\0';
    return body;
}

static void reply_text(outbox_http_response *resp, int status, const char *text)
{
    resp->status = status;
    resp->static_body = text;
}

projector_httpd_events_rc projector_httpd_events_parse(const char *path, const char *projection,
                                                       const projector_projection *projections,
                                                       size_t count,
                                                       char id[PROJECTOR_UUID_LEN + 1],
                                                       size_t *index)
{
    static const char prefix[] = "/events/";
    if (strncmp(path, prefix, sizeof prefix - 1) != 0)
        return PROJECTOR_HTTPD_EVENTS_NOT_EVENTS;
    const char *raw = path + sizeof prefix - 1;
    if (projector_uuid_normalize(raw, strlen(raw), id))
        return PROJECTOR_HTTPD_EVENTS_BAD_ID;
    if (projection == NULL) {
        if (count != 1)
            return PROJECTOR_HTTPD_EVENTS_SAY_WHICH;
        *index = 0;
        return PROJECTOR_HTTPD_EVENTS_OK;
    }
    for (size_t i = 0; i < count; i++) {
        if (strcmp(projections[i].name, projection) == 0) {
            *index = i;
            return PROJECTOR_HTTPD_EVENTS_OK;
        }
    }
    return PROJECTOR_HTTPD_EVENTS_NO_PROJECTION;
}

projector_httpd_stream_rc projector_httpd_stream_parse(const char *projection,
                                                       const char *last_event_id,
                                                       const projector_projection *projections,
                                                       size_t count, size_t *index,
                                                       projector_cursor *after, bool *has_after)
{
    *has_after = false;
    if (projection == NULL) {
        if (count != 1)
            return PROJECTOR_HTTPD_STREAM_SAY_WHICH;
        *index = 0;
    } else {
        size_t i = 0;
        while (i < count && strcmp(projections[i].name, projection) != 0)
            i++;
        if (i == count)
            return PROJECTOR_HTTPD_STREAM_NO_PROJECTION;
        *index = i;
    }
    if (last_event_id != NULL && last_event_id[0] != '\0') {
        if (projector_cursor_parse(last_event_id, after) != 0)
            return PROJECTOR_HTTPD_STREAM_BAD_CURSOR;
        *has_after = true;
    }
    return PROJECTOR_HTTPD_STREAM_OK;
}

/* The connection's filter from ?aggregate_type= and ?aggregate_id=. NULL on ENOMEM. */
static projector_stream_filter *stream_filter_new(const outbox_http_request *req)
{
    projector_stream_filter *f = calloc(1, sizeof *f);
    const char *type = outbox_http_query(req, "aggregate_type");
    const char *agg = outbox_http_query(req, "aggregate_id");
    if (f == NULL)
        return NULL;
    if ((type && *type && (f->aggregate_type = strdup(type)) == NULL) ||
        (agg && *agg && (f->aggregate_id = strdup(agg)) == NULL)) {
        projector_stream_filter_free(f);
        return NULL;
    }
    return f;
}

/* Format the rows after f->after (at most replay_max, then `reset`) into *prelude, moving
 * f->after to the last row read. 0, -1 database error, -2 ENOMEM. Caller holds lk->lock. */
static int stream_replay(lookup *lk, int64_t replay_max, projector_stream_filter *f, char **prelude,
                         size_t *len)
{
    char errstr[512];
    PGresult *res = NULL;
    if (projector_stream_fetch(lk->conn, lk->proj->name, &f->after, (int)replay_max + 1, &res,
                               errstr, sizeof errstr)) {
        outbox_log_warn("http", "%s", errstr);
        return -1;
    }
    int n = PQntuples(res), rc = 0;
    for (int i = 0; i < n && i < replay_max && rc == 0; i++) {
        projector_stream_row row;
        char id[PROJECTOR_CURSOR_MAX];
        projector_stream_row_get(res, i, &row);
        projector_cursor_format(&row.cursor, id);
        char *tag = projector_stream_tag(row.aggregate_type, row.aggregate_id);
        char *data = projector_stream_data(lk->proj->name, &row,
                                           projector_projection_link(lk->proj, row.event_type));
        f->has_after = false; /* the aggregate part of the filter only */
        if (tag == NULL || data == NULL)
            rc = -2;
        else if (projector_stream_filter_accept(f, id, tag) &&
                 outbox_http_sse_format(prelude, len, row.cursor.kind == 0 ? "applied" : "failed",
                                        id, data) != 0)
            rc = -2;
        f->has_after = true;
        f->after = row.cursor;
        free(tag);
        free(data);
    }
    if (rc == 0 && n > replay_max &&
        outbox_http_sse_format(prelude, len, "reset", NULL,
                               "{\"reason\":\"more events were missed than http.sse-replay-max: "
                               "reload the state\"}") != 0)
        rc = -2;
    PQclear(res);
    return rc;
}

/* Open (or reopen) the lookup connection. Caller holds lk->lock. */
static bool lookup_connect(lookup *lk)
{
    if (lk->conn == NULL || PQstatus(lk->conn) != CONNECTION_OK) {
        if (lk->conn != NULL)
            PQfinish(lk->conn);
        /* 5 s unless postgres.conninfo sets connect_timeout: a lookup answers an HTTP client */
        const outbox_pg_params pgparams = {.conninfo = lk->conninfo,
                                           .application_name = "outbox-projector-http",
                                           .connect_timeout_s = 5};
        if (outbox_pg_connect(&pgparams, &lk->conn, NULL, 0) != OUTBOX_PG_CONNECT_OK)
            return false; /* lk->conn stays, failed: the next lookup tries again */
    }
    return lk->conn != NULL && PQstatus(lk->conn) == CONNECTION_OK;
}

static void stream_route(projector_httpd *h, const outbox_http_request *req,
                         outbox_http_response *resp)
{
    size_t index = 0;
    projector_cursor after;
    bool has_after = false;
    const char *last = outbox_http_header(req, "Last-Event-ID");
    if (last == NULL || *last == '\0')
        last = outbox_http_query(req, "last_event_id");
    switch (projector_httpd_stream_parse(outbox_http_query(req, "projection"), last,
                                         h->settings->projections.items, h->count, &index, &after,
                                         &has_after)) {
    case PROJECTOR_HTTPD_STREAM_OK:
        break;
    case PROJECTOR_HTTPD_STREAM_NO_PROJECTION:
        reply_text(resp, 404, "no such projection\n");
        return;
    case PROJECTOR_HTTPD_STREAM_SAY_WHICH:
        reply_text(resp, 404, "say which: ?projection=NAME\n");
        return;
    case PROJECTOR_HTTPD_STREAM_BAD_CURSOR:
        reply_text(resp, 400,
                   "Last-Event-ID is not an id of this stream (<micros>-<a|f>-<uuid>)\n");
        return;
    }
    lookup *lk = &h->lookups[index];
    if (lk->channel == NULL) {
        reply_text(resp, 409,
                   "this projection sends no NOTIFY (notify = \"\"): it has no event stream\n");
        return;
    }
    projector_stream_filter *f = stream_filter_new(req);
    if (f == NULL) {
        reply_text(resp, 500, "out of memory\n");
        return;
    }
    resp->stream_since = outbox_http_channel_position(lk->channel); /* before reading */
    resp->stream_since_set = true;
    if (has_after) {
        f->after = after;
        f->has_after = true;
        pthread_mutex_lock(&lk->lock);
        int rc = lookup_connect(lk)
                     ? stream_replay(lk, h->settings->sse_replay_max, f, &resp->stream_prelude,
                                     &resp->stream_prelude_len)
                     : -1;
        if (rc == -1 && lk->conn != NULL) {
            PQfinish(lk->conn);
            lk->conn = NULL;
        }
        pthread_mutex_unlock(&lk->lock);
        if (rc != 0) {
            free(resp->stream_prelude);
            resp->stream_prelude = NULL;
            projector_stream_filter_free(f);
            reply_text(resp, rc == -1 ? 503 : 500,
                       rc == -1 ? "the read database cannot be queried\n" : "out of memory\n");
            return;
        }
    }
    resp->stream = lk->channel;
    resp->stream_filter = projector_stream_filter_accept;
    resp->stream_filter_ctx = f;
    resp->stream_filter_free = projector_stream_filter_free;
}

static void events_route(projector_httpd *h, const outbox_http_request *req,
                         outbox_http_response *resp)
{
    char id[PROJECTOR_UUID_LEN + 1];
    size_t index = 0;
    switch (projector_httpd_events_parse(req->path, outbox_http_query(req, "projection"),
                                         h->settings->projections.items, h->count, id, &index)) {
    case PROJECTOR_HTTPD_EVENTS_OK:
        break;
    case PROJECTOR_HTTPD_EVENTS_NOT_EVENTS:
        return; /* status 0: not found */
    case PROJECTOR_HTTPD_EVENTS_BAD_ID:
        reply_text(resp, 400, "the event id must be a uuid\n");
        return;
    case PROJECTOR_HTTPD_EVENTS_NO_PROJECTION:
        reply_text(resp, 404, "no such projection\n");
        return;
    case PROJECTOR_HTTPD_EVENTS_SAY_WHICH:
        reply_text(resp, 404, "say which: ?projection=NAME\n");
        return;
    }
    lookup *lk = &h->lookups[index];
    pthread_mutex_lock(&lk->lock);
    const char *params[2] = {lk->proj->name, id};
    PGresult *res = NULL;
    if (lookup_connect(lk))
        res = PQexecParams(lk->conn, projector_status_sql, 2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        if (lk->conn != NULL) {
            PQfinish(lk->conn);
            lk->conn = NULL;
        }
        pthread_mutex_unlock(&lk->lock);
        reply_text(resp, 503, "the read database cannot be queried\n");
        return;
    }
    int status = 500;
    bool found = PQntuples(res) == 1;
#define COL(c) (found && !PQgetisnull(res, 0, c) ? PQgetvalue(res, 0, c) : NULL)
    char *link = projector_link_expand(projector_projection_link(lk->proj, COL(5)), id, COL(5),
                                       COL(6), COL(7));
    resp->body = projector_httpd_event_body_link(lk->proj->name, id, COL(0), COL(1), COL(2), COL(3),
                                                 COL(4), link, &status);
    free(link);
#undef COL
    PQclear(res);
    pthread_mutex_unlock(&lk->lock);
    resp->status = resp->body ? status : 500;
    resp->content_type = "application/json";
}

/* Copy each projection's stream counters (kept by its channel) into its stats. */
static void stream_stats_copy(projector_httpd *h)
{
    for (size_t i = 0; i < h->count; i++) {
        outbox_http_channel_stats cs;
        projector_stats *st = h->stats[i];
        if (h->lookups[i].channel == NULL)
            continue;
        outbox_http_channel_stats_get(h->lookups[i].channel, &cs);
        projector_stat_copy(&st->sse_ended_client, cs.ended[OUTBOX_HTTP_STREAM_END_CLIENT]);
        projector_stat_copy(&st->sse_ended_slow, cs.ended[OUTBOX_HTTP_STREAM_END_SLOW]);
        projector_stat_copy(&st->sse_ended_timeout, cs.ended[OUTBOX_HTTP_STREAM_END_TIMEOUT]);
        projector_stat_copy(&st->sse_ended_stopped, cs.ended[OUTBOX_HTTP_STREAM_END_STOP]);
        projector_stat_copy(&st->sse_refused, cs.refused);
        projector_stat_copy(&st->sse_published, cs.published);
        projector_stat_set(&st->sse_clients, (int64_t)cs.subscribers);
    }
}

static void routes(void *ctx, const outbox_http_request *req, outbox_http_response *resp)
{
    projector_httpd *h = ctx;
    /* Methods other than GET and HEAD never get here: lib/http answers them 405. */
    if (strcmp(req->path, "/metrics") == 0) {
        stream_stats_copy(h);
        resp->body = projector_stats_render(h->stats, h->count, &resp->body_len);
        resp->status = resp->body ? 200 : 500;
        resp->content_type = OUTBOX_HTTP_PROMETHEUS;
        return;
    }
    if (strcmp(req->path, "/healthz") == 0) {
        static const char *const names[] = {"starting", "running", "retrying", "failed", "stopped"};
        char text[4096];
        size_t used = 0;
        bool healthy = true;
        for (size_t i = 0; i < h->count; i++) {
            int64_t st = atomic_load_explicit(&h->stats[i]->state, memory_order_relaxed);
            if (st != PROJECTOR_STATE_RUNNING)
                healthy = false;
            if (used < sizeof text)
                used +=
                    (size_t)snprintf(text + used, sizeof text - used, "%s %s\n",
                                     h->stats[i]->projection, st >= 0 && st <= 4 ? names[st] : "?");
        }
        resp->status = healthy ? 200 : 503;
        resp->body = strdup(healthy ? "ok\n" : text);
        if (resp->body == NULL)
            resp->status = 500;
        return;
    }
    if (strcmp(req->path, "/events/stream") == 0) {
        stream_route(h, req, resp);
        return;
    }
    events_route(h, req, resp);
}

/* One descriptor per connection: raise the soft RLIMIT_NOFILE towards the hard one when the
 * connection bound needs it (systemd's default soft limit is 1024). */
static void raise_nofile(int64_t connections)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)connections + 256; /* Kafka, PostgreSQL, logs */
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want)
        outbox_log_warn("http",
                        "open file limit %llu is below http.max-connections + 256: raise "
                        "LimitNOFILE (or ulimit -n) or lower http.max-connections",
                        (unsigned long long)rl.rlim_cur);
}

projector_httpd *projector_httpd_start(const projector_settings *settings,
                                       projector_stats *const *stats, char *errstr,
                                       size_t errstr_size)
{
    projector_httpd *h = calloc(1, sizeof *h);
    if (h == NULL)
        goto nomem;
    h->settings = settings;
    h->stats = stats;
    h->count = settings->projections.count;
    h->lookups = calloc(h->count, sizeof *h->lookups);
    if (h->lookups == NULL)
        goto nomem;
    for (size_t i = 0; i < h->count; i++) {
        h->lookups[i].proj = &settings->projections.items[i];
        h->lookups[i].conninfo = projector_settings_conninfo(settings, h->lookups[i].proj);
        pthread_mutex_init(&h->lookups[i].lock, NULL);
    }
    for (size_t i = 0; i < h->count; i++) {
        lookup *lk = &h->lookups[i];
        if (lk->proj->notify == NULL || lk->proj->notify[0] == '\0')
            continue;
        lk->channel = outbox_http_channel_new((size_t)settings->sse_backlog);
        if (lk->channel == NULL)
            goto nomem;
        outbox_http_channel_set_max_subscribers(lk->channel, (size_t)settings->sse_max_clients);
        lk->feeder =
            projector_stream_feeder_start(lk->proj, lk->conninfo, lk->channel, errstr, errstr_size);
        if (lk->feeder == NULL) {
            projector_httpd_stop(h);
            return NULL;
        }
    }
    raise_nofile(settings->http_max_connections);
    if (outbox_http_start_n(settings->http_bind, (uint16_t)settings->http_port,
                            (unsigned)settings->http_max_connections, routes, h, &h->server, errstr,
                            errstr_size)) {
        projector_httpd_stop(h);
        return NULL;
    }
    return h;
nomem:
    snprintf(errstr, errstr_size, "out of memory");
    projector_httpd_stop(h);
    return NULL;
}

uint16_t projector_httpd_port(const projector_httpd *h)
{
    return outbox_http_port(h->server);
}

void projector_httpd_stop(projector_httpd *h)
{
    if (h == NULL)
        return;
    outbox_http_stop(h->server);
    for (size_t i = 0; h->lookups != NULL && i < h->count; i++) {
        projector_stream_feeder_stop(h->lookups[i].feeder);
        outbox_http_channel_destroy(h->lookups[i].channel);
        if (h->lookups[i].conn != NULL)
            PQfinish(h->lookups[i].conn);
        pthread_mutex_destroy(&h->lookups[i].lock);
    }
    free(h->lookups);
    free(h);
}
