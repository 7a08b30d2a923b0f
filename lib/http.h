#ifndef OUTBOX_HTTP_H
#define OUTBOX_HTTP_H

/*
 * outbox_http: a small loopback HTTP server (libmicrohttpd) for /metrics, /healthz, the
 * projector's read-your-writes endpoints and Server-Sent Events.
 *
 * Routes live in the daemons: one handler callback gets every request and fills a response.
 *
 *   static void routes(void *ctx, const outbox_http_request *req, outbox_http_response *resp)
 *   {
 *       relay *r = ctx;
 *       if (strcmp(req->path, "/healthz") == 0) {
 *           resp->status = relay_healthy(r) ? 200 : 503;
 *           resp->static_body = relay_healthy(r) ? "ok\n" : "unhealthy\n";
 *       } else if (strcmp(req->path, "/metrics") == 0) {
 *           resp->status = 200;
 *           resp->content_type = OUTBOX_HTTP_PROMETHEUS;
 *           resp->body = relay_stats_render(r, &resp->body_len);  // malloc'd, NULL -> 500
 *       } else if (strcmp(req->path, "/events/stream") == 0) {
 *           resp->stream = r->events;                            // an outbox_http_channel
 *       }
 *       // anything else: status left 0 -> 404
 *   }
 *
 *   outbox_http_server *server = NULL;
 *   if (outbox_http_start("127.0.0.1", 9187, routes, r, &server, errstr, sizeof errstr)) ...
 *   ... outbox_http_channel_publish(r->events, "applied", event_id, json) from any thread ...
 *   outbox_http_stop(server);
 *
 * Threading (why thread-per-connection): the server runs libmicrohttpd with
 * MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION (poll(), no FD_SETSIZE
 * limit). A handler may block briefly (the projector's GET /events/{id} reads the read
 * database) without stalling /metrics or /healthz, and an SSE stream simply waits on a
 * condition variable for the next event - with a single polling thread a streaming response
 * would need suspend/resume plumbing and would busy-loop if it ever returned "no data yet".
 * The cost, one thread per open connection, is bounded by OUTBOX_HTTP_MAX_CONNECTIONS, which
 * is fine for a loopback ops port. Consequence: the handler is called concurrently from
 * several connection threads and must be thread-safe (read atomics, take locks).
 *
 * Server-Sent Events: an outbox_http_channel is a broadcast queue owned by the daemon. A
 * handler answers a request with `resp->stream = channel`; the connection then receives, as
 * `text/event-stream`, a ": connected" comment and every event published on the channel after
 * that moment, plus a ": keepalive" comment after OUTBOX_HTTP_SSE_KEEPALIVE_MS of silence
 * (which is also how a vanished client is noticed). The channel keeps the last `backlog`
 * events; a client that falls further behind is disconnected (the connection is closed; it
 * may reconnect and resync). A burst (one batch's events) must fit in the backlog. A client
 * that reads nothing at all stops its connection's writes once the socket buffers are full:
 * it is closed when it reads again, or after OUTBOX_HTTP_CONNECTION_TIMEOUT_S without any
 * byte sent; publishers never wait for it.
 * No per-client object is ever visible to the daemon, so there is nothing to leak or to use
 * after the client went away.
 *
 * Logging: a stream that ends because its client went away is normal (DEBUG, counted); one
 * dropped for being slow is a WARN (rate-limited, counted); see outbox_http_channel_stats_get.
 * libmicrohttpd's own messages about one connection (a client that vanished mid-send, a bad
 * request) are DEBUG for the same reason; its others (listening, accepting) stay WARN.
 * A request answered 503 because of the subscriber limit is answered with "Connection: close",
 * so a refused client does not hold a connection (a thread) until the connection timeout.
 *
 * Only GET and HEAD reach the handler: any other method is answered 405 with
 * `Allow: GET, HEAD` by the server itself. Request bodies are discarded (no route needs one).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef OUTBOX_MUSTCHECK
#define OUTBOX_MUSTCHECK __attribute__((warn_unused_result))
#endif

#define OUTBOX_HTTP_DEFAULT_BIND "127.0.0.1"
#define OUTBOX_HTTP_MAX_CONNECTIONS 64          /* outbox_http_start(); see outbox_http_start_n() */
#define OUTBOX_HTTP_MAX_CONNECTIONS_LIMIT 10000 /* the most outbox_http_start_n() accepts */
#define OUTBOX_HTTP_THREAD_STACK (512 * 1024)   /* per connection thread: handlers are shallow */
#define OUTBOX_HTTP_CONNECTION_TIMEOUT_S 60
#define OUTBOX_HTTP_SSE_KEEPALIVE_MS 15000
#define OUTBOX_HTTP_PROMETHEUS "text/plain; version=0.0.4; charset=utf-8"

typedef struct outbox_http_server outbox_http_server;
typedef struct outbox_http_channel outbox_http_channel;

/* A request, valid only during the handler call. */
typedef struct outbox_http_request {
    const char *method; /* "GET", "HEAD", "POST", ... */
    const char *path;   /* decoded path without the query string: "/events/42" */
    void *internal_;    /* the server's; use the accessors below */
} outbox_http_request;

/* The decoded value of query argument `name` ("?id=42" -> "42"), "" for a bare "?flag", NULL
 * if absent. Valid during the handler call. */
const char *outbox_http_query(const outbox_http_request *req, const char *name);

/* The value of request header `name` (case-insensitive), or NULL. Valid during the call. */
const char *outbox_http_header(const outbox_http_request *req, const char *name);

/* A stream's per-connection filter: called under the channel's lock for every event published
 * after the connection subscribed, with the event's id and tag (see
 * outbox_http_channel_publish_tagged; either may be NULL); false skips the event for this
 * connection only. Must not block or call back into the channel. */
typedef int (*outbox_http_stream_filter)(void *filter_ctx, const char *id, const char *tag);

/*
 * What the handler fills. Starts zeroed.
 *   status        0 = no such route: 404 with "not found\n" (any body is discarded).
 *   content_type  static storage; NULL = "text/plain; charset=utf-8".
 *   body          malloc'd; ownership passes to the server (also on error). Takes precedence
 *                 over static_body. If the handler meant to send a body but body is NULL
 *                 (allocation failed) it should set status 500.
 *   static_body   static storage (string literal), not freed.
 *   body_len      bytes of body/static_body; 0 = strlen().
 *   stream        non-NULL: answer 200 text/event-stream subscribed to this channel; status,
 *                 content_type and bodies are ignored (body still freed). When the channel
 *                 already has its subscriber limit, 503 instead.
 *   stream_prelude  malloc'd bytes (formatted events, e.g. a resume replay) sent after
 *                 ": connected" and before any live event; ownership passes to the server.
 *   stream_filter, stream_filter_ctx, stream_filter_free  optional per-connection filter of
 *                 the live events; the server frees the ctx with stream_filter_free (if set)
 *                 when the connection ends, also when the stream could not be started.
 *   stream_since_set, stream_since  start with the channel's event at this position (from
 *                 outbox_http_channel_position() taken before the handler read what it
 *                 replays: nothing published meanwhile is lost) instead of the next one.
 */
typedef struct outbox_http_response {
    int status;
    const char *content_type;
    char *body;
    const char *static_body;
    size_t body_len;
    outbox_http_channel *stream;
    char *stream_prelude;
    size_t stream_prelude_len;
    outbox_http_stream_filter stream_filter;
    void *stream_filter_ctx;
    void (*stream_filter_free)(void *filter_ctx);
    bool stream_since_set;
    uint64_t stream_since;
} outbox_http_response;

/* Called on a connection thread, possibly concurrently with itself (see above). Must not call
 * outbox_http_stop(). */
typedef void (*outbox_http_handler)(void *ctx, const outbox_http_request *req,
                                    outbox_http_response *resp);

/* Split "address:port" (e.g. the relay's http.listen "127.0.0.1:9187") at its last ':' into
 * host (NUL-terminated, host_size bytes) and *port: a decimal 0..65535 (as strtol reads it).
 * Returns 0, or -1 when there is no ':', no or a bad port, or the address does not fit.
 * Pure; any thread. */
int outbox_http_listen_parse(const char *listen, char *host, size_t host_size,
                             uint16_t *port) OUTBOX_MUSTCHECK;

/*
 * Listen on bind_address (an IPv4/IPv6 literal or "localhost"; NULL = 127.0.0.1) and `port`
 * (0 = any free port; read it back with outbox_http_port()), serving `handler` with `ctx`.
 * On success *serverp owns the listening threads until outbox_http_stop(). On failure returns
 * -1 with errstr ("cannot listen on 127.0.0.1:9187: Address already in use"); nothing to free.
 * Fatal for the daemon (a port in use does not free itself). Main thread.
 */
int outbox_http_start(const char *bind_address, uint16_t port, outbox_http_handler handler,
                      void *ctx, outbox_http_server **serverp, char *errstr,
                      size_t errstr_size) OUTBOX_MUSTCHECK;

/* outbox_http_start() with another bound on open connections (1 ..
 * OUTBOX_HTTP_MAX_CONNECTIONS_LIMIT; one thread each, OUTBOX_HTTP_THREAD_STACK of stack):
 * what a server that streams SSE to many clients needs. The process needs a file descriptor
 * per connection too (RLIMIT_NOFILE). Main thread. */
int outbox_http_start_n(const char *bind_address, uint16_t port, unsigned max_connections,
                        outbox_http_handler handler, void *ctx, outbox_http_server **serverp,
                        char *errstr, size_t errstr_size) OUTBOX_MUSTCHECK;

/* The port actually bound. Any thread. */
uint16_t outbox_http_port(const outbox_http_server *server);

/* Close every connection (SSE streams end), join the threads, free the server. After it
 * returns no handler runs any more and channels have no subscribers from this server.
 * NULL is a no-op. Main thread, never from a handler. */
void outbox_http_stop(outbox_http_server *server);

/* A broadcast channel keeping the last `backlog` events (0 = 256). NULL when out of memory.
 * The daemon owns it; destroy it only after every server that may stream it was stopped. */
outbox_http_channel *outbox_http_channel_new(size_t backlog);

/*
 * Send one event to every current subscriber: "id: <id>\nevent: <event>\ndata: ...\n\n", with
 * one data line per line of `data`; `event` and `id` may be NULL. Copies everything; never
 * blocks on clients. Returns 0; -1 if event/id contain a line break or memory is short
 * (nothing sent). Any thread.
 */
int outbox_http_channel_publish(outbox_http_channel *channel, const char *event, const char *id,
                                const char *data) OUTBOX_MUSTCHECK;

/* outbox_http_channel_publish() with a `tag` (may be NULL) kept with the event and shown to
 * the stream filters (never sent): e.g. "aggregate_type\naggregate_id" for a filter by
 * aggregate. Any thread. */
int outbox_http_channel_publish_tagged(outbox_http_channel *channel, const char *event,
                                       const char *id, const char *data,
                                       const char *tag) OUTBOX_MUSTCHECK;

/* At most `max` subscribers at once (0 = no limit, the default): a stream request beyond it
 * is answered 503 "too many event streams". Any thread. */
void outbox_http_channel_set_max_subscribers(outbox_http_channel *channel, size_t max);

/* Connections dropped because they fell more than the backlog behind. Any thread. */
uint64_t outbox_http_channel_dropped(outbox_http_channel *channel);

/* Why a stream ended, classified where it ends: by the stream itself (a laggard, a client seen
 * hanging up, the server's stop) or by libmicrohttpd's termination code of the connection. */
typedef enum outbox_http_stream_end {
    OUTBOX_HTTP_STREAM_END_CLIENT = 0, /* the client hung up or its connection failed: normal,
                                          logged at DEBUG */
    OUTBOX_HTTP_STREAM_END_SLOW,       /* fell more than the backlog behind and was dropped:
                                          WARN, at most one line per OUTBOX_HTTP_WARN_EVERY_S */
    OUTBOX_HTTP_STREAM_END_TIMEOUT,    /* nothing could be sent for
                                          OUTBOX_HTTP_CONNECTION_TIMEOUT_S (a client that stopped
                                          reading) */
    OUTBOX_HTTP_STREAM_END_STOP,       /* the server stopped */
} outbox_http_stream_end;
#define OUTBOX_HTTP_STREAM_ENDS 4
#define OUTBOX_HTTP_WARN_EVERY_S 10

/* "client_gone", "slow", "timeout", "stopped" (metric label values). Static storage. */
const char *outbox_http_stream_end_name(outbox_http_stream_end end);

/* A channel's counters, read together under its lock. */
typedef struct outbox_http_channel_stats {
    size_t subscribers;                      /* streams open now */
    uint64_t published;                      /* events published on the channel */
    uint64_t refused;                        /* stream requests answered 503 (the limit) */
    uint64_t ended[OUTBOX_HTTP_STREAM_ENDS]; /* streams ended, by outbox_http_stream_end */
} outbox_http_channel_stats;

/* Fill *stats. Any thread. */
void outbox_http_channel_stats_get(outbox_http_channel *channel, outbox_http_channel_stats *stats);

/* Format one SSE event as outbox_http_channel_publish() sends it and append it to *buf
 * (malloc'd, grown with realloc, *len bytes used; *buf NULL and *len 0 to start). For stream
 * preludes. 0, or -1 (ENOMEM or a line break in event/id; *buf unchanged). Pure; any thread. */
int outbox_http_sse_format(char **buf, size_t *len, const char *event, const char *id,
                           const char *data) OUTBOX_MUSTCHECK;

/* The position of the next event published on the channel. Any thread. */
uint64_t outbox_http_channel_position(outbox_http_channel *channel);

/* Current number of connected subscribers. Any thread. */
size_t outbox_http_channel_subscribers(outbox_http_channel *channel);

/* Free the channel and its backlog. NULL is a no-op. Main thread, after outbox_http_stop(). */
void outbox_http_channel_destroy(outbox_http_channel *channel);

#endif
