/*
 * blog-web: the demo's blog as a web application (an example, not one of the daemons).
 *
 *   POST /posts                  {"author","title","body"}  -> 202 Accepted
 *   POST /posts/{id}/comments    {"author","text"}          -> 202 Accepted
 *        Each writes the business row and its outbox row in ONE transaction (sql/blog_app.sql:
 *        app.create_post / app.add_comment) and answers 202 with
 *        Location: /events/{event id}?projection=query (the event's status resource) and
 *        {"event_id","post_id"|"comment_id","status_url"}.
 *   GET  /posts, /posts/{id}     the query service's read model (sql/readmodel_blog.sql,
 *                                view post_comments), as JSON
 *   GET  /events/...             proxied to the projector's HTTP port: GET /events/{id}
 *                                (200/202/422) and GET /events/stream (Server-Sent Events),
 *                                so the page talks to ONE origin (no CORS)
 *   GET  /                       the page (index.html next to this file, --page)
 *
 *   outbox-blog-web --listen 127.0.0.1:8080 --app-db CONNINFO --read-db CONNINFO
 *            --projector 127.0.0.1:9188 --page projector/examples/blog-web/index.html
 *
 * Threads: libmicrohttpd, one thread per connection (an SSE proxy connection blocks on its
 * upstream socket). One connection per database, each behind a mutex (a demo, not a pool).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define BODY_MAX 65536
#define PROJECTION "query"

typedef struct db {
    const char *conninfo;
    pthread_mutex_t lock;
    PGconn *conn;
} db;

static struct {
    db app, read;
    char proxy_host[64];
    uint16_t proxy_port;
    char *page;
    size_t page_len;
} web;

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

/* ---------------------------------------------------------------------------------------- */
/* Responses.                                                                                */

static enum MHD_Result send_buffer(struct MHD_Connection *conn, unsigned status, const char *type,
                                   char *body, bool owned, const char *location)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        strlen(body), body, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (r == NULL) {
        if (owned)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (location)
        MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, location);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
    return send_buffer(conn, status, "text/plain; charset=utf-8", (char *)text, false, NULL);
}

/* ---------------------------------------------------------------------------------------- */
/* Databases.                                                                                */

/* Run one statement with text parameters on d, reconnecting once after a broken connection.
 * The caller holds d->lock. NULL when the database cannot be reached. */
static PGresult *db_exec(db *d, const char *sql, int n, const char *const *params)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (d->conn == NULL || PQstatus(d->conn) != CONNECTION_OK) {
            PQfinish(d->conn);
            d->conn = PQconnectdb(d->conninfo);
        }
        if (PQstatus(d->conn) != CONNECTION_OK) {
            fprintf(stderr, "blog-web: cannot connect: %s", PQerrorMessage(d->conn));
            return NULL;
        }
        PGresult *res = PQexecParams(d->conn, sql, n, NULL, params, NULL, NULL, 0);
        if (PQstatus(d->conn) == CONNECTION_OK)
            return res;
        PQclear(res);
    }
    return NULL;
}

/* The read model: one JSON text (a single row, single column) or NULL. */
static char *read_json(const char *sql, const char *param, bool *db_down)
{
    const char *params[1] = {param};
    char *out = NULL;
    pthread_mutex_lock(&web.read.lock);
    PGresult *res = db_exec(&web.read, sql, param ? 1 : 0, params);
    *db_down = res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK;
    if (*db_down && res)
        fprintf(stderr, "blog-web: %s", PQresultErrorMessage(res));
    if (!*db_down && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
        out = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    pthread_mutex_unlock(&web.read.lock);
    return out;
}

/* A command: BEGIN; SELECT <fn>(...) (business row + outbox row); the aggregate id of the
 * event; COMMIT. Fills event_id and aggregate_id. 0 ok, 1 bad request (SQLSTATE 22/23, e.g.
 * no such post), -1 database unreachable. */
static int run_command(const char *sql, int n, const char *const *params, char event_id[64],
                       char aggregate_id[64])
{
    int rc = -1;
    pthread_mutex_lock(&web.app.lock);
    PGresult *res = db_exec(&web.app, "BEGIN", 0, NULL);
    if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK)
        goto out;
    PQclear(res);
    res = PQexecParams(web.app.conn, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        fprintf(stderr, "blog-web: %s", PQresultErrorMessage(res));
        rc = state && (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0) ? 1 : -1;
        goto rollback;
    }
    snprintf(event_id, 64, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    const char *p[1] = {event_id};
    res = PQexecParams(web.app.conn, "SELECT aggregate_id FROM public.outbox WHERE id = $1", 1,
                       NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
        goto rollback;
    snprintf(aggregate_id, 64, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    res = PQexec(web.app.conn, "COMMIT");
    if (PQresultStatus(res) == PGRES_COMMAND_OK)
        rc = 0;
    goto out;
rollback:
    PQclear(res);
    res = PQexec(web.app.conn, "ROLLBACK");
out:
    PQclear(res);
    pthread_mutex_unlock(&web.app.lock);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Routes.                                                                                   */

static bool is_uuid(const char *s, size_t len)
{
    if (len != 36)
        return false;
    for (size_t i = 0; i < len; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-'
                 : !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
                     (s[i] >= 'A' && s[i] <= 'F')))
            return false;
    }
    return true;
}

static const char *json_text(json_t *obj, const char *key)
{
    const char *v = json_string_value(json_object_get(obj, key));
    return v && *v ? v : NULL;
}

static enum MHD_Result post_route(struct MHD_Connection *conn, const char *url, const char *body)
{
    json_error_t jerr;
    json_t *in = json_loads(body ? body : "", 0, &jerr);
    char event_id[64], agg[64], post[37];
    int rc;
    bool comment = false;

    if (!json_is_object(in)) {
        json_decref(in);
        return send_text(conn, 400, "the body must be a JSON object\n");
    }
    if (strcmp(url, "/posts") == 0) {
        const char *p[3] = {json_text(in, "author"), json_text(in, "title"), json_text(in, "body")};
        if (!p[0] || !p[1] || !p[2]) {
            json_decref(in);
            return send_text(conn, 400, "a post needs author, title and body\n");
        }
        rc = run_command("SELECT app.create_post($1, $2, $3)", 3, p, event_id, agg);
    } else if (strncmp(url, "/posts/", 7) == 0 && is_uuid(url + 7, 36) &&
               strcmp(url + 43, "/comments") == 0) {
        snprintf(post, sizeof post, "%.36s", url + 7);
        const char *p[3] = {post, json_text(in, "author"), json_text(in, "text")};
        if (!p[1] || !p[2]) {
            json_decref(in);
            return send_text(conn, 400, "a comment needs author and text\n");
        }
        comment = true;
        rc = run_command("SELECT app.add_comment($1::uuid, $2, $3)", 3, p, event_id, agg);
    } else {
        json_decref(in);
        return send_text(conn, 404, "not found\n");
    }
    json_decref(in);
    if (rc != 0)
        return send_text(conn, rc > 0 ? 404 : 503,
                         rc > 0 ? "no such post\n" : "the application database is unreachable\n");
    char location[160];
    snprintf(location, sizeof location, "/events/%s?projection=" PROJECTION, event_id);
    json_t *out = json_pack("{s:s, s:s, s:s}", "event_id", event_id,
                            comment ? "comment_id" : "post_id", agg, "status_url", location);
    char *text = out ? json_dumps(out, JSON_COMPACT) : NULL;
    json_decref(out);
    if (text == NULL)
        return send_text(conn, 500, "out of memory\n");
    return send_buffer(conn, MHD_HTTP_ACCEPTED, "application/json", text, true, location);
}

static enum MHD_Result get_route(struct MHD_Connection *conn, const char *url)
{
    bool down = false;
    char *json = NULL;
    if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0)
        return send_buffer(conn, 200, "text/html; charset=utf-8", web.page, false, NULL);
    if (strcmp(url, "/posts") == 0) {
        json = read_json("SELECT coalesce(jsonb_agg(to_jsonb(pc) ORDER BY pc.created_at DESC, "
                         "pc.post_id), '[]')::text FROM post_comments pc",
                         NULL, &down);
    } else if (strncmp(url, "/posts/", 7) == 0 && is_uuid(url + 7, strlen(url + 7))) {
        json = read_json("SELECT to_jsonb(pc)::text FROM post_comments pc WHERE post_id = $1::uuid",
                         url + 7, &down);
        if (json == NULL && !down)
            return send_text(conn, 404, "no such post (yet: the read side may still catch up)\n");
    } else {
        return send_text(conn, 404, "not found\n");
    }
    if (json == NULL)
        return send_text(conn, 503, "the read database is unreachable\n");
    return send_buffer(conn, 200, "application/json", json, true, NULL);
}

/* ---------------------------------------------------------------------------------------- */
/* The /events proxy: HTTP/1.0 to the projector (no chunking: the body ends at EOF).         */

typedef struct upstream {
    int fd;
    char *rest; /* body bytes read with the head */
    size_t rest_len, rest_off;
} upstream;

static ssize_t upstream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    upstream *up = cls;
    (void)pos;
    if (up->rest_off < up->rest_len) {
        size_t n = up->rest_len - up->rest_off < max ? up->rest_len - up->rest_off : max;
        memcpy(buf, up->rest + up->rest_off, n);
        up->rest_off += n;
        return (ssize_t)n;
    }
    ssize_t n;
    do /* SO_RCVTIMEO wakes it every second to notice a stop */
        n = recv(up->fd, buf, max, 0);
    while (n < 0 && (errno == EINTR || errno == EAGAIN) && !stopping);
    return n > 0 ? n : MHD_CONTENT_READER_END_OF_STREAM;
}

static void upstream_free(void *cls)
{
    upstream *up = cls;
    close(up->fd);
    free(up->rest);
    free(up);
}

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    char *q = cls;
    (void)kind;
    size_t len = strlen(q);
    snprintf(q + len, 1024 - len, "%c%s=", len ? '&' : '?', key);
    for (const unsigned char *p = (const unsigned char *)(value ? value : ""); *p; p++) {
        len = strlen(q);
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p))
            snprintf(q + len, 1024 - len, "%c", *p);
        else
            snprintf(q + len, 1024 - len, "%%%02X", *p);
    }
    return MHD_YES;
}

static enum MHD_Result proxy_route(struct MHD_Connection *conn, const char *url)
{
    char query[1024] = "", req[2048], head[4096];
    const char *last = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Last-Event-ID");
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(web.proxy_port)};
    upstream *up = calloc(1, sizeof *up);
    size_t got = 0;

    if (up == NULL)
        return send_text(conn, 500, "out of memory\n");
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_arg, query);
    snprintf(req, sizeof req, "GET %s%s HTTP/1.0\r\nHost: %s:%u\r\n%s%s%s\r\n", url, query,
             web.proxy_host, web.proxy_port, last ? "Last-Event-ID: " : "", last ? last : "",
             last ? "\r\n" : "");
    struct timeval one_second = {.tv_sec = 1};
    up->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (up->fd < 0 ||
        setsockopt(up->fd, SOL_SOCKET, SO_RCVTIMEO, &one_second, sizeof one_second) != 0 ||
        inet_pton(AF_INET, web.proxy_host, &sa.sin_addr) != 1 ||
        connect(up->fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        send(up->fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req))
        goto bad_gateway;
    /* The response head: status line and headers up to the blank line. */
    char *end = NULL;
    while (got < sizeof head - 1 && (end = memmem(head, got, "\r\n\r\n", 4)) == NULL) {
        ssize_t n = recv(up->fd, head + got, sizeof head - 1 - got, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN) && !stopping)
            continue;
        if (n <= 0)
            goto bad_gateway;
        got += (size_t)n;
    }
    if (end == NULL)
        goto bad_gateway;
    head[got] = '\0';
    unsigned status = 0;
    if (sscanf(head, "HTTP/%*s %u", &status) != 1)
        goto bad_gateway;
    size_t body_at = (size_t)(end - head) + 4;
    if (got > body_at && (up->rest = malloc(got - body_at)) != NULL) {
        memcpy(up->rest, head + body_at, got - body_at);
        up->rest_len = got - body_at;
    }
    char type[128] = "text/plain; charset=utf-8";
    char *ct = strcasestr(head, "\r\nContent-Type:");
    if (ct != NULL && ct < end)
        sscanf(ct + 15, " %127[^\r\n]", type);
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, upstream_read, up, upstream_free);
    if (r == NULL) {
        upstream_free(up);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
bad_gateway:
    if (up->fd >= 0)
        close(up->fd);
    free(up->rest);
    free(up);
    return send_text(conn, 502, "the projector's HTTP port does not answer\n");
}

/* ---------------------------------------------------------------------------------------- */

typedef struct request {
    char *body;
    size_t len;
    bool too_big;
} request;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)cls;
    (void)version;
    request *rq = *con_cls;
    if (rq == NULL) {
        if ((rq = calloc(1, sizeof *rq)) == NULL)
            return MHD_NO;
        *con_cls = rq;
        return MHD_YES;
    }
    if (*upload_size != 0) {
        if (rq->len + *upload_size > BODY_MAX) {
            rq->too_big = true;
        } else {
            char *grown = realloc(rq->body, rq->len + *upload_size + 1);
            if (grown == NULL)
                return MHD_NO;
            rq->body = grown;
            memcpy(rq->body + rq->len, upload, *upload_size);
            rq->len += *upload_size;
            rq->body[rq->len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "POST") == 0)
        return rq->too_big ? send_text(conn, 413, "the body is too large\n")
                           : post_route(conn, url, rq->body);
    if (strcmp(method, "GET") != 0)
        return send_text(conn, 405, "GET or POST\n");
    if (strncmp(url, "/events/", 8) == 0)
        return proxy_route(conn, url);
    return get_route(conn, url);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    request *rq = *con_cls;
    (void)cls;
    (void)conn;
    (void)toe;
    if (rq != NULL) {
        free(rq->body);
        free(rq);
    }
    *con_cls = NULL;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *data = NULL;
    long size;
    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (data = malloc((size_t)size + 1)) != NULL) {
        *len = fread(data, 1, (size_t)size, f);
        data[*len] = '\0';
    }
    fclose(f);
    return data;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: outbox-blog-web --listen HOST:PORT --app-db CONNINFO --read-db CONNINFO "
            "--projector HOST:PORT --page index.html\n");
    return 2;
}

static int split_host_port(const char *text, char *host, size_t size, uint16_t *port)
{
    const char *colon = strrchr(text, ':');
    if (colon == NULL || (size_t)(colon - text) >= size)
        return -1;
    snprintf(host, size, "%.*s", (int)(colon - text), text);
    long p = strtol(colon + 1, NULL, 10);
    if (p <= 0 || p > 65535)
        return -1;
    *port = (uint16_t)p;
    return 0;
}

int main(int argc, char **argv)
{
    const char *listen_at = NULL, *page = NULL, *projector = NULL;
    char host[64];
    uint16_t port = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--listen") == 0)
            listen_at = argv[i + 1];
        else if (strcmp(argv[i], "--app-db") == 0)
            web.app.conninfo = argv[i + 1];
        else if (strcmp(argv[i], "--read-db") == 0)
            web.read.conninfo = argv[i + 1];
        else if (strcmp(argv[i], "--projector") == 0)
            projector = argv[i + 1];
        else if (strcmp(argv[i], "--page") == 0)
            page = argv[i + 1];
        else
            return usage();
    }
    if (!listen_at || !page || !projector || !web.app.conninfo || !web.read.conninfo ||
        split_host_port(listen_at, host, sizeof host, &port) != 0 ||
        split_host_port(projector, web.proxy_host, sizeof web.proxy_host, &web.proxy_port) != 0)
        return usage();
    if ((web.page = read_file(page, &web.page_len)) == NULL) {
        fprintf(stderr, "blog-web: cannot read the page %s: %s\n", page, strerror(errno));
        return 1;
    }
    pthread_mutex_init(&web.app.lock, NULL);
    pthread_mutex_init(&web.read.lock, NULL);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "blog-web: --listen wants an IPv4 address:port, not %s\n", listen_at);
        return 2;
    }
    struct MHD_Daemon *d =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                             MHD_USE_POLL | MHD_USE_ERROR_LOG,
                         port, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR,
                         (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                         MHD_OPTION_CONNECTION_LIMIT, 256u, MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "blog-web: cannot listen on %s\n", listen_at);
        return 1;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    printf("blog-web: http://%s/ (projector %s)\n", listen_at, projector);
    fflush(stdout);
    while (!stopping)
        pause();
    MHD_stop_daemon(d);
    PQfinish(web.app.conn);
    PQfinish(web.read.conn);
    free(web.page);
    return 0;
}
