/* projector_httpd: /metrics, /healthz, /events/{id}. */
#include "projector_httpd.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "http.h"
#include "projector_batch.h"

typedef struct lookup {
    const projector_projection *proj;
    const char *conninfo;
    pthread_mutex_t lock;
    PGconn *conn;
} lookup;

struct projector_httpd {
    const projector_settings *settings;
    projector_stats *const *stats;
    size_t count;
    lookup *lookups;
    outbox_http_server *server;
};

static const char SQL_STATUS[] =
    "SELECT s, at, reason, sqlstate, dlq_topic FROM ("
    " SELECT 1 AS o, 'applied' AS s, applied_at::text AS at, NULL AS reason, NULL AS sqlstate,"
    " NULL AS dlq_topic FROM projector_dedup WHERE projection = $1 AND event_id = $2::uuid"
    " UNION ALL"
    " SELECT 2, 'failed', failed_at::text, reason, sqlstate, dlq_topic FROM"
    " projector_dead_letters WHERE projection = $1 AND event_id = $2::uuid) AS x"
    " ORDER BY o, at DESC LIMIT 1";

char *projector_httpd_event_body(const char *projection, const char *id, const char *state,
                                 const char *at, const char *reason, const char *sqlstate,
                                 const char *dlq_topic, int *status)
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
    if (lk->conn == NULL || PQstatus(lk->conn) != CONNECTION_OK) {
        if (lk->conn != NULL)
            PQfinish(lk->conn);
        static const char *const keys[] = {"dbname", "fallback_application_name", "connect_timeout",
                                           NULL};
        const char *values[] = {lk->conninfo, "outbox-projector-http", "5", NULL};
        lk->conn = PQconnectdbParams(keys, values, 1);
    }
    const char *params[2] = {lk->proj->name, id};
    PGresult *res = NULL;
    if (lk->conn != NULL && PQstatus(lk->conn) == CONNECTION_OK)
        res = PQexecParams(lk->conn, SQL_STATUS, 2, NULL, params, NULL, NULL, 0);
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
    resp->body = projector_httpd_event_body(lk->proj->name, id, COL(0), COL(1), COL(2), COL(3),
                                            COL(4), &status);
#undef COL
    PQclear(res);
    pthread_mutex_unlock(&lk->lock);
    resp->status = resp->body ? status : 500;
    resp->content_type = "application/json";
}

static void routes(void *ctx, const outbox_http_request *req, outbox_http_response *resp)
{
    projector_httpd *h = ctx;
    /* Methods other than GET and HEAD never get here: lib/http answers them 405. */
    if (strcmp(req->path, "/metrics") == 0) {
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
    events_route(h, req, resp);
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
    if (outbox_http_start(settings->http_bind, (uint16_t)settings->http_port, routes, h, &h->server,
                          errstr, errstr_size)) {
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
        if (h->lookups[i].conn != NULL)
            PQfinish(h->lookups[i].conn);
        pthread_mutex_destroy(&h->lookups[i].lock);
    }
    free(h->lookups);
    free(h);
}
