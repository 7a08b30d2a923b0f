/* outbox_http: loopback HTTP server and SSE channels on libmicrohttpd (see http.h). */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define HTTP_DEFAULT_BACKLOG 256
#define HTTP_SSE_BLOCK 4096
#define HTTP_SSE_HANGUP_CHECK_S 1 /* an idle stream looks for a closed client this often */

static const char http_sse_hello[] = ": connected\n\n";
static const char http_sse_keepalive[] = ": keepalive\n\n";

struct outbox_http_channel {
    pthread_mutex_t mu;
    pthread_cond_t cond; /* signalled on publish and on server stop */
    size_t cap;
    char **frames; /* ring of formatted events; frames[seq % cap] for head <= seq < next */
    size_t *lens;
    char **ids;    /* per frame: its id (for stream filters), or NULL */
    char **tags;   /* per frame: its tag (for stream filters), or NULL */
    uint64_t head; /* oldest retained sequence number */
    uint64_t next; /* sequence number of the next event */
    size_t subscribers;
    size_t max_subscribers;                  /* 0 = no limit */
    uint64_t refused;                        /* stream requests answered 503 (the limit) */
    uint64_t ended[OUTBOX_HTTP_STREAM_ENDS]; /* streams ended, by outbox_http_stream_end */
};

typedef struct http_sub http_sub;

struct outbox_http_server {
    struct MHD_Daemon *daemon;
    uint16_t port;
    outbox_http_handler handler;
    void *ctx;
    _Atomic bool stopping;
    pthread_mutex_t mu; /* guards subs; taken before any channel's mu */
    http_sub *subs;
};

/* One SSE connection. Created by the access handler, freed by MHD's free callback. */
struct http_sub {
    outbox_http_server *server;
    outbox_http_channel *channel;
    uint64_t seq;        /* next event to send */
    size_t off;          /* bytes of event `seq` already sent */
    const char *pending; /* a static comment being sent */
    size_t pending_off;
    int fd;        /* the connection's socket (-1 unknown): watched for a hang-up while idle */
    char *prelude; /* owned: replayed events, sent after the hello */
    size_t prelude_len, prelude_off;
    outbox_http_stream_filter filter;
    void *filter_ctx;
    void (*filter_free)(void *filter_ctx);
    int end;       /* outbox_http_stream_end once known (set where the stream ends), else -1 */
    uint64_t sent; /* events sent */
    http_sub *prev, *next;
};

/* *con_cls of a request whose headers arrived; an SSE request's becomes its http_sub once the
 * response is queued (so the completion callback can tell why the stream ended). */
static int http_headers_seen;

/* One WARN line per OUTBOX_HTTP_WARN_EVERY_S for a kind of event that may come in bursts. */
typedef struct http_warn_limit {
    pthread_mutex_t mu;
    time_t last;         /* CLOCK_MONOTONIC seconds of the last line written; 0 = none yet */
    uint64_t suppressed; /* events not logged since */
} http_warn_limit;

static http_warn_limit http_slow_warn = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* Libmicrohttpd's messages on a thread that served a request are about that one client. */
static _Thread_local bool http_on_connection_thread;

/* ---------------------------------------------------------------------------------------- */
/* Channels.                                                                                 */

outbox_http_channel *outbox_http_channel_new(size_t backlog)
{
    outbox_http_channel *channel = calloc(1, sizeof *channel);
    pthread_condattr_t attr;
    bool attr_ok = false, mu_ok = false;

    if (channel == NULL)
        return NULL;
    channel->cap = backlog ? backlog : HTTP_DEFAULT_BACKLOG;
    channel->frames = calloc(channel->cap, sizeof *channel->frames);
    channel->lens = calloc(channel->cap, sizeof *channel->lens);
    channel->ids = calloc(channel->cap, sizeof *channel->ids);
    channel->tags = calloc(channel->cap, sizeof *channel->tags);
    if (channel->frames == NULL || channel->lens == NULL || channel->ids == NULL ||
        channel->tags == NULL)
        goto fail;
    if (pthread_mutex_init(&channel->mu, NULL) != 0)
        goto fail;
    mu_ok = true;
    if (pthread_condattr_init(&attr) != 0)
        goto fail;
    attr_ok = true;
    if (pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&channel->cond, &attr) != 0)
        goto fail;
    pthread_condattr_destroy(&attr);
    return channel;
fail:
    if (attr_ok)
        pthread_condattr_destroy(&attr);
    if (mu_ok)
        pthread_mutex_destroy(&channel->mu);
    free(channel->frames);
    free(channel->lens);
    free(channel->ids);
    free(channel->tags);
    free(channel);
    return NULL;
}

void outbox_http_channel_destroy(outbox_http_channel *channel)
{
    if (channel == NULL)
        return;
    for (size_t i = 0; i < channel->cap; i++) {
        free(channel->frames[i]);
        free(channel->ids[i]);
        free(channel->tags[i]);
    }
    free(channel->frames);
    free(channel->lens);
    free(channel->ids);
    free(channel->tags);
    pthread_cond_destroy(&channel->cond);
    pthread_mutex_destroy(&channel->mu);
    free(channel);
}

size_t outbox_http_channel_subscribers(outbox_http_channel *channel)
{
    pthread_mutex_lock(&channel->mu);
    size_t n = channel->subscribers;
    pthread_mutex_unlock(&channel->mu);
    return n;
}

void outbox_http_channel_set_max_subscribers(outbox_http_channel *channel, size_t max)
{
    pthread_mutex_lock(&channel->mu);
    channel->max_subscribers = max;
    pthread_mutex_unlock(&channel->mu);
}

uint64_t outbox_http_channel_position(outbox_http_channel *channel)
{
    pthread_mutex_lock(&channel->mu);
    uint64_t n = channel->next;
    pthread_mutex_unlock(&channel->mu);
    return n;
}

uint64_t outbox_http_channel_dropped(outbox_http_channel *channel)
{
    pthread_mutex_lock(&channel->mu);
    uint64_t n = channel->ended[OUTBOX_HTTP_STREAM_END_SLOW];
    pthread_mutex_unlock(&channel->mu);
    return n;
}

void outbox_http_channel_stats_get(outbox_http_channel *channel, outbox_http_channel_stats *stats)
{
    pthread_mutex_lock(&channel->mu);
    stats->subscribers = channel->subscribers;
    stats->published = channel->next;
    stats->refused = channel->refused;
    memcpy(stats->ended, channel->ended, sizeof stats->ended);
    pthread_mutex_unlock(&channel->mu);
}

const char *outbox_http_stream_end_name(outbox_http_stream_end end)
{
    static const char *const names[OUTBOX_HTTP_STREAM_ENDS] = {"client_gone", "slow", "timeout",
                                                               "stopped"};
    return (unsigned)end < OUTBOX_HTTP_STREAM_ENDS ? names[end] : "unknown";
}

/* Append "<field>: <value>\n" for every line of value (CR, LF and CRLF all end a line). */
static int http_frame_field(char **frame, size_t *len, const char *field, const char *value)
{
    const char *p = value;
    for (;;) {
        size_t n = strcspn(p, "\r\n");
        size_t add = strlen(field) + 2 + n + 1;
        char *grown = realloc(*frame, *len + add + 2); /* + final blank line, NUL */
        if (grown == NULL)
            return -1;
        *frame = grown;
        *len += (size_t)sprintf(*frame + *len, "%s: %.*s\n", field, (int)n, p);
        p += n;
        if (*p == '\0')
            return 0;
        p += (p[0] == '\r' && p[1] == '\n') ? 2 : 1;
    }
}

int outbox_http_sse_format(char **buf, size_t *len, const char *event, const char *id,
                           const char *data)
{
    char *frame = NULL;
    size_t flen = 0;

    if ((event && strpbrk(event, "\r\n")) || (id && strpbrk(id, "\r\n")))
        return -1;
    if ((id && http_frame_field(&frame, &flen, "id", id) != 0) ||
        (event && http_frame_field(&frame, &flen, "event", event) != 0) ||
        http_frame_field(&frame, &flen, "data", data ? data : "") != 0) {
        free(frame);
        return -1;
    }
    frame[flen++] = '\n'; /* room was reserved by the last field */
    frame[flen] = '\0';
    if (*buf == NULL) {
        *buf = frame;
        *len = flen;
        return 0;
    }
    char *grown = realloc(*buf, *len + flen + 1);
    if (grown == NULL) {
        free(frame);
        return -1;
    }
    memcpy(grown + *len, frame, flen + 1);
    *buf = grown;
    *len += flen;
    free(frame);
    return 0;
}

int outbox_http_channel_publish(outbox_http_channel *channel, const char *event, const char *id,
                                const char *data)
{
    return outbox_http_channel_publish_tagged(channel, event, id, data, NULL);
}

int outbox_http_channel_publish_tagged(outbox_http_channel *channel, const char *event,
                                       const char *id, const char *data, const char *tag)
{
    char *frame = NULL, *id_copy = NULL, *tag_copy = NULL;
    size_t len = 0;

    if (outbox_http_sse_format(&frame, &len, event, id, data) != 0)
        return -1;
    if ((id && (id_copy = strdup(id)) == NULL) || (tag && (tag_copy = strdup(tag)) == NULL)) {
        free(frame);
        free(id_copy);
        return -1;
    }
    pthread_mutex_lock(&channel->mu);
    size_t idx = (size_t)(channel->next % channel->cap);
    if (channel->next - channel->head == channel->cap) {
        free(channel->frames[idx]); /* the oldest; its laggards get disconnected */
        free(channel->ids[idx]);
        free(channel->tags[idx]);
        channel->head++;
    }
    channel->frames[idx] = frame;
    channel->lens[idx] = len;
    channel->ids[idx] = id_copy;
    channel->tags[idx] = tag_copy;
    channel->next++;
    pthread_cond_broadcast(&channel->cond);
    pthread_mutex_unlock(&channel->mu);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* SSE responses.                                                                            */

static size_t http_send_pending(http_sub *sub, char *buf, size_t max)
{
    size_t left = strlen(sub->pending) - sub->pending_off;
    size_t n = left < max ? left : max;
    memcpy(buf, sub->pending + sub->pending_off, n);
    sub->pending_off += n;
    if (sub->pending_off == strlen(sub->pending)) {
        sub->pending = NULL;
        sub->pending_off = 0;
    }
    return n;
}

/* True when the client closed its side (idle SSE connections see no write error until the
 * next event or keepalive; this frees a closed one's place at once). Non-blocking. */
static bool http_peer_gone(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLRDHUP};
    return fd >= 0 && poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* MHD content reader: blocks (this is the connection's own thread) until an event, a keepalive
 * deadline or the server's stop. */
static ssize_t http_sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    http_sub *sub = cls;
    outbox_http_channel *channel = sub->channel;
    ssize_t n = 0;
    struct timespec deadline;

    if (sub->pending)
        return (ssize_t)http_send_pending(sub, buf, max);
    if (sub->prelude) {
        size_t left = sub->prelude_len - sub->prelude_off;
        size_t take = left < max ? left : max;
        memcpy(buf, sub->prelude + sub->prelude_off, take);
        sub->prelude_off += take;
        if (sub->prelude_off == sub->prelude_len) {
            free(sub->prelude);
            sub->prelude = NULL;
        }
        if (take > 0)
            return (ssize_t)take;
    }

    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += OUTBOX_HTTP_SSE_KEEPALIVE_MS / 1000;
    deadline.tv_nsec += (long)(OUTBOX_HTTP_SSE_KEEPALIVE_MS % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }

    pthread_mutex_lock(&channel->mu);
    for (;;) {
        if (atomic_load(&sub->server->stopping)) {
            sub->end = OUTBOX_HTTP_STREAM_END_STOP;
            n = MHD_CONTENT_READER_END_OF_STREAM;
            break;
        }
        if (sub->seq < channel->head) {
            sub->end = OUTBOX_HTTP_STREAM_END_SLOW; /* logged and counted by http_sse_free */
            n = MHD_CONTENT_READER_END_WITH_ERROR;  /* close the connection, free its thread */
            break;
        }
        if (sub->seq < channel->next) {
            size_t idx = (size_t)(sub->seq % channel->cap);
            if (sub->off == 0 && sub->filter &&
                !sub->filter(sub->filter_ctx, channel->ids[idx], channel->tags[idx])) {
                sub->seq++; /* not for this connection */
                continue;
            }
            size_t left = channel->lens[idx] - sub->off;
            size_t take = left < max ? left : max;
            memcpy(buf, channel->frames[idx] + sub->off, take);
            sub->off += take;
            if (sub->off == channel->lens[idx]) {
                sub->seq++;
                sub->off = 0;
                sub->sent++;
            }
            n = (ssize_t)take;
            break;
        }
        struct timespec wake;
        clock_gettime(CLOCK_MONOTONIC, &wake);
        wake.tv_sec += HTTP_SSE_HANGUP_CHECK_S;
        bool at_deadline = wake.tv_sec > deadline.tv_sec ||
                           (wake.tv_sec == deadline.tv_sec && wake.tv_nsec >= deadline.tv_nsec);
        if (pthread_cond_timedwait(&channel->cond, &channel->mu, at_deadline ? &deadline : &wake) !=
                ETIMEDOUT ||
            sub->seq != channel->next || atomic_load(&sub->server->stopping))
            continue;
        if (at_deadline) {
            sub->pending = http_sse_keepalive;
            sub->pending_off = 0;
            break;
        }
        if (http_peer_gone(sub->fd)) { /* free its place now, not at the next write */
            sub->end = OUTBOX_HTTP_STREAM_END_CLIENT;
            n = MHD_CONTENT_READER_END_WITH_ERROR;
            break;
        }
    }
    pthread_mutex_unlock(&channel->mu);
    if (sub->pending)
        n = (ssize_t)http_send_pending(sub, buf, max);
    return n;
}

/* True when a line may be written now; then *suppressed is how many were not since the last. */
static bool http_warn_take(http_warn_limit *limit, uint64_t *suppressed)
{
    struct timespec now;
    bool take = false;

    clock_gettime(CLOCK_MONOTONIC, &now);
    pthread_mutex_lock(&limit->mu);
    if (limit->last == 0 || now.tv_sec - limit->last >= OUTBOX_HTTP_WARN_EVERY_S) {
        take = true;
        *suppressed = limit->suppressed;
        limit->suppressed = 0;
        limit->last = now.tv_sec > 0 ? now.tv_sec : 1;
    } else {
        limit->suppressed++;
    }
    pthread_mutex_unlock(&limit->mu);
    return take;
}

/* The one log line of a stream's end: a laggard is the operator's business (WARN, rate-limited),
 * a client going away or the server stopping is not (DEBUG; the counters have them all). */
static void http_sse_log_end(const http_sub *sub, size_t backlog)
{
    uint64_t suppressed = 0;

    if (sub->end == OUTBOX_HTTP_STREAM_END_SLOW) {
        if (http_warn_take(&http_slow_warn, &suppressed))
            outbox_log_warn("http",
                            "SSE client fell more than %zu events behind after %" PRIu64
                            " events; closed it (it may resume with Last-Event-ID); %" PRIu64
                            " more dropped since the last such line",
                            backlog, sub->sent, suppressed);
        return;
    }
    outbox_log_debug("http", "SSE stream ended (%s) after %" PRIu64 " events",
                     outbox_http_stream_end_name((outbox_http_stream_end)sub->end), sub->sent);
}

/* MHD free callback of the SSE response: the connection is gone (http_completed ran before
 * when MHD ended it, so sub->end says why). */
static void http_sse_free(void *cls)
{
    http_sub *sub = cls;
    outbox_http_server *server = sub->server;
    outbox_http_channel *channel = sub->channel;

    if (sub->end < 0)
        sub->end = OUTBOX_HTTP_STREAM_END_CLIENT;
    pthread_mutex_lock(&server->mu);
    if (sub->prev)
        sub->prev->next = sub->next;
    else
        server->subs = sub->next;
    if (sub->next)
        sub->next->prev = sub->prev;
    pthread_mutex_lock(&channel->mu);
    channel->subscribers--;
    channel->ended[sub->end]++;
    size_t backlog = channel->cap;
    pthread_mutex_unlock(&channel->mu);
    pthread_mutex_unlock(&server->mu);
    http_sse_log_end(sub, backlog);
    if (sub->filter_free)
        sub->filter_free(sub->filter_ctx);
    free(sub->prelude);
    free(sub);
}

/* Drop what a stream response owns when no subscription takes it over. */
static void http_stream_discard(outbox_http_response *resp)
{
    free(resp->stream_prelude);
    resp->stream_prelude = NULL;
    if (resp->stream_filter_free)
        resp->stream_filter_free(resp->stream_filter_ctx);
    resp->stream_filter_free = NULL;
}

/* The SSE response of `resp` (which it takes over) with its subscription in *subp, or NULL
 * with *full set when the channel has its subscriber limit. */
static struct MHD_Response *http_sse_response(outbox_http_server *server,
                                              struct MHD_Connection *conn,
                                              outbox_http_response *resp, bool *full,
                                              http_sub **subp)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    outbox_http_channel *channel = resp->stream;
    http_sub *sub = calloc(1, sizeof *sub);
    struct MHD_Response *response = NULL;

    *full = false;
    *subp = NULL;
    if (sub == NULL) {
        http_stream_discard(resp);
        return NULL;
    }
    sub->end = -1;
    sub->server = server;
    sub->channel = channel;
    sub->fd = ci ? ci->connect_fd : -1;
    sub->pending = http_sse_hello;
    pthread_mutex_lock(&server->mu);
    pthread_mutex_lock(&channel->mu);
    if (channel->max_subscribers && channel->subscribers >= channel->max_subscribers) {
        channel->refused++;
        pthread_mutex_unlock(&channel->mu);
        pthread_mutex_unlock(&server->mu);
        free(sub);
        http_stream_discard(resp);
        *full = true;
        return NULL;
    }
    sub->seq = channel->next;
    if (resp->stream_since_set && resp->stream_since < channel->next)
        sub->seq = resp->stream_since; /* below head: dropped at once, it reconnects */
    channel->subscribers++;
    pthread_mutex_unlock(&channel->mu);
    sub->next = server->subs;
    if (server->subs)
        server->subs->prev = sub;
    server->subs = sub;
    pthread_mutex_unlock(&server->mu);
    sub->prelude = resp->stream_prelude;
    sub->prelude_len = resp->stream_prelude_len;
    if (sub->prelude && sub->prelude_len == 0)
        sub->prelude_len = strlen(sub->prelude);
    sub->filter = resp->stream_filter;
    sub->filter_ctx = resp->stream_filter_ctx;
    sub->filter_free = resp->stream_filter_free;
    resp->stream_prelude = NULL;
    resp->stream_filter_free = NULL;

    response = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, HTTP_SSE_BLOCK, http_sse_read,
                                                 sub, http_sse_free);
    if (response == NULL) {
        http_sse_free(sub);
        return NULL;
    }
    if (MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream") !=
            MHD_YES ||
        MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache") != MHD_YES) {
        MHD_destroy_response(response); /* calls http_sse_free */
        return NULL;
    }
    *subp = sub;
    return response;
}

/* ---------------------------------------------------------------------------------------- */
/* Requests.                                                                                 */

const char *outbox_http_query(const outbox_http_request *req, const char *name)
{
    const char *value = NULL;
    size_t size = 0;

    if (MHD_lookup_connection_value_n(req->internal_, MHD_GET_ARGUMENT_KIND, name, strlen(name),
                                      &value, &size) != MHD_YES)
        return NULL;
    return value ? value : "";
}

const char *outbox_http_header(const outbox_http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->internal_, MHD_HEADER_KIND, name);
}

/* The answer of a stream request refused for the subscriber limit (or memory): closes the
 * connection, so the refused client does not keep a thread until the connection timeout. */
static struct MHD_Response *http_sse_refusal(bool full)
{
    static const char full_text[] = "too many event streams; retry later\n";
    static const char oom[] = "out of memory\n";
    const char *text = full ? full_text : oom;
    struct MHD_Response *response =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    if (response != NULL &&
        MHD_add_response_header(response, MHD_HTTP_HEADER_CONNECTION, "close") != MHD_YES) {
        MHD_destroy_response(response);
        return NULL;
    }
    return response;
}

static enum MHD_Result http_respond(outbox_http_server *server, struct MHD_Connection *conn,
                                    outbox_http_response *resp, void **con_cls)
{
    static const char not_found[] = "not found\n";
    struct MHD_Response *response = NULL;
    enum MHD_Result ret = MHD_NO;
    unsigned status = (unsigned)resp->status;
    const char *content_type =
        resp->content_type ? resp->content_type : "text/plain; charset=utf-8";
    http_sub *sub = NULL;

    if (resp->stream) {
        bool full = false;
        free(resp->body);
        resp->body = NULL;
        response = http_sse_response(server, conn, resp, &full, &sub);
        status = MHD_HTTP_OK;
        content_type = NULL; /* set by http_sse_response */
        if (response == NULL) {
            status = MHD_HTTP_SERVICE_UNAVAILABLE;
            content_type = "text/plain; charset=utf-8";
            response = http_sse_refusal(full);
        }
    } else if (resp->status == 0) {
        http_stream_discard(resp);
        free(resp->body);
        resp->body = NULL;
        status = MHD_HTTP_NOT_FOUND;
        content_type = "text/plain; charset=utf-8";
        response = MHD_create_response_from_buffer(strlen(not_found), (void *)not_found,
                                                   MHD_RESPMEM_PERSISTENT);
    } else if (resp->body) {
        http_stream_discard(resp);
        size_t len = resp->body_len ? resp->body_len : strlen(resp->body);
        response = MHD_create_response_from_buffer(len, resp->body, MHD_RESPMEM_MUST_FREE);
        if (response == NULL)
            free(resp->body);
        resp->body = NULL; /* now owned by the response */
    } else {
        http_stream_discard(resp);
        const char *body = resp->static_body ? resp->static_body : "";
        size_t len = resp->body_len && resp->static_body ? resp->body_len : strlen(body);
        response = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_PERSISTENT);
    }
    if (response == NULL)
        goto out;
    if (status < 100 || status > 599)
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    if (content_type &&
        MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) != MHD_YES)
        goto out;
    ret = MHD_queue_response(conn, status, response);
    if (ret == MHD_YES && sub != NULL)
        *con_cls = sub; /* for http_completed; freed with the response, after it */
out:
    if (response)
        MHD_destroy_response(response);
    return ret;
}

/* Every endpoint only reads: POST, PUT, DELETE, ... get 405 with Allow before any handler
 * runs (RFC 9110 15.5.6), so no route can be reached by a method it was not written for. */
static enum MHD_Result http_method_not_allowed(struct MHD_Connection *conn)
{
    static const char body[] = "method not allowed: only GET and HEAD\n";
    enum MHD_Result ret = MHD_NO;
    struct MHD_Response *response =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    if (response == NULL)
        return MHD_NO;
    if (MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") == MHD_YES &&
        MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
                                "text/plain; charset=utf-8") == MHD_YES)
        ret = MHD_queue_response(conn, MHD_HTTP_METHOD_NOT_ALLOWED, response);
    MHD_destroy_response(response);
    return ret;
}

static enum MHD_Result http_access(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **con_cls)
{
    outbox_http_server *server = cls;

    http_on_connection_thread = true;
    if (*con_cls == NULL) {
        *con_cls = &http_headers_seen; /* the first call only announces the headers */
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0; /* request bodies are discarded */
        return MHD_YES;
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return http_method_not_allowed(conn);
    outbox_http_request req = {.method = method, .path = url, .internal_ = conn};
    outbox_http_response resp = {0};
    server->handler(server->ctx, &req, &resp);
    return http_respond(server, conn, &resp, con_cls);
}

/* Why MHD ended a connection, for a stream that did not end itself. */
static outbox_http_stream_end http_stream_end_of(enum MHD_RequestTerminationCode code)
{
    switch (code) {
    case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:
        return OUTBOX_HTTP_STREAM_END_TIMEOUT;
    case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN:
    case MHD_REQUEST_TERMINATED_COMPLETED_OK:
        return OUTBOX_HTTP_STREAM_END_STOP;
    default: /* WITH_ERROR (a failed send), READ_ERROR, CLIENT_ABORT */
        return OUTBOX_HTTP_STREAM_END_CLIENT;
    }
}

/* MHD's completion callback (on the connection's thread, before the response is freed). */
static void http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                           enum MHD_RequestTerminationCode code)
{
    (void)cls;
    (void)conn;
    if (*con_cls == NULL || *con_cls == &http_headers_seen)
        return;
    http_sub *sub = *con_cls;
    if (sub->end < 0)
        sub->end = (int)http_stream_end_of(code);
    *con_cls = NULL;
}

__attribute__((format(printf, 2, 0))) static void http_mhd_log(void *cls, const char *fmt,
                                                               va_list ap)
{
    outbox_log_level level = http_on_connection_thread ? OUTBOX_LOG_DEBUG : OUTBOX_LOG_WARN;
    char msg[512];

    (void)cls;
    if (!outbox_log_enabled(level))
        return;
    vsnprintf(msg, sizeof msg, fmt, ap);
    outbox_log(level, "http", NULL, "libmicrohttpd: %s", msg);
}

/* ---------------------------------------------------------------------------------------- */
/* Server.                                                                                   */

int outbox_http_listen_parse(const char *listen, char *host, size_t host_size, uint16_t *port)
{
    const char *colon = strrchr(listen, ':');
    if (!colon || (size_t)(colon - listen) >= host_size)
        return -1;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p < 0 || p > 65535 || end == colon + 1)
        return -1;
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    *port = (uint16_t)p;
    return 0;
}

static int http_parse_addr(const char *bind_address, uint16_t port, struct sockaddr_storage *ss,
                           socklen_t *len)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof *ss);
    if (strcmp(bind_address, "localhost") == 0)
        bind_address = OUTBOX_HTTP_DEFAULT_BIND;
    if (inet_pton(AF_INET, bind_address, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        *len = sizeof *sin;
        return 0;
    }
    if (inet_pton(AF_INET6, bind_address, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        *len = sizeof *sin6;
        return 0;
    }
    return -1;
}

/* Why MHD could not listen: try the same bind ourselves to get errno. */
static void http_explain_failure(const struct sockaddr_storage *ss, socklen_t len,
                                 const char *bind_address, uint16_t port, char *errstr,
                                 size_t errstr_size)
{
    int one = 1;
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int err = fd < 0 ? errno : 0;

    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, (const struct sockaddr *)ss, len) != 0 || listen(fd, 1) != 0)
            err = errno;
        close(fd);
    }
    if (err)
        snprintf(errstr, errstr_size, "cannot listen on %s:%u: %s", bind_address, port,
                 strerror(err));
    else
        snprintf(errstr, errstr_size,
                 "cannot start the HTTP server on %s:%u (libmicrohttpd "
                 "failed; see its log line)",
                 bind_address, port);
}

int outbox_http_start(const char *bind_address, uint16_t port, outbox_http_handler handler,
                      void *ctx, outbox_http_server **serverp, char *errstr, size_t errstr_size)
{
    return outbox_http_start_n(bind_address, port, OUTBOX_HTTP_MAX_CONNECTIONS, handler, ctx,
                               serverp, errstr, errstr_size);
}

int outbox_http_start_n(const char *bind_address, uint16_t port, unsigned max_connections,
                        outbox_http_handler handler, void *ctx, outbox_http_server **serverp,
                        char *errstr, size_t errstr_size)
{
    outbox_http_server *server = NULL;
    struct sockaddr_storage ss;
    socklen_t ss_len = 0;
    bool mu_ok = false;
    int rc = -1;

    *serverp = NULL;
    if (bind_address == NULL)
        bind_address = OUTBOX_HTTP_DEFAULT_BIND;
    if (handler == NULL) {
        snprintf(errstr, errstr_size, "outbox_http_start: a handler is required");
        goto out;
    }
    if (max_connections < 1 || max_connections > OUTBOX_HTTP_MAX_CONNECTIONS_LIMIT) {
        snprintf(errstr, errstr_size, "HTTP connection limit %u is outside 1..%u", max_connections,
                 (unsigned)OUTBOX_HTTP_MAX_CONNECTIONS_LIMIT);
        goto out;
    }
    if (http_parse_addr(bind_address, port, &ss, &ss_len) != 0) {
        snprintf(errstr, errstr_size,
                 "invalid HTTP bind address '%s': expected an IPv4 or IPv6 address", bind_address);
        goto out;
    }
    server = calloc(1, sizeof *server);
    if (server == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    server->handler = handler;
    server->ctx = ctx;
    atomic_init(&server->stopping, false);
    if (pthread_mutex_init(&server->mu, NULL) != 0) {
        snprintf(errstr, errstr_size, "cannot create a mutex");
        goto out;
    }
    mu_ok = true;

    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                         MHD_USE_POLL | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    server->daemon = MHD_start_daemon(
        flags, port, NULL, NULL, http_access, server, MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log,
        NULL, MHD_OPTION_NOTIFY_COMPLETED, http_completed, NULL, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)OUTBOX_HTTP_CONNECTION_TIMEOUT_S,
        MHD_OPTION_THREAD_STACK_SIZE, (size_t)OUTBOX_HTTP_THREAD_STACK, MHD_OPTION_END);
    if (server->daemon == NULL) {
        http_explain_failure(&ss, ss_len, bind_address, port, errstr, errstr_size);
        goto out;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(server->daemon, MHD_DAEMON_INFO_BIND_PORT);
    server->port = info ? info->port : port;
    if (server->port == 0) {
        snprintf(errstr, errstr_size, "cannot tell which port the HTTP server listens on");
        goto out;
    }
    *serverp = server;
    server = NULL;
    rc = 0;
out:
    if (server) {
        if (server->daemon)
            MHD_stop_daemon(server->daemon);
        if (mu_ok)
            pthread_mutex_destroy(&server->mu);
        free(server);
    }
    return rc;
}

uint16_t outbox_http_port(const outbox_http_server *server)
{
    return server->port;
}

void outbox_http_stop(outbox_http_server *server)
{
    if (server == NULL)
        return;
    /* Wake every SSE reader blocked on its channel so MHD can join the connection threads. */
    atomic_store(&server->stopping, true);
    pthread_mutex_lock(&server->mu);
    for (http_sub *sub = server->subs; sub; sub = sub->next) {
        pthread_mutex_lock(&sub->channel->mu);
        pthread_cond_broadcast(&sub->channel->cond);
        pthread_mutex_unlock(&sub->channel->mu);
    }
    pthread_mutex_unlock(&server->mu);
    MHD_stop_daemon(server->daemon);
    pthread_mutex_destroy(&server->mu);
    free(server);
}
