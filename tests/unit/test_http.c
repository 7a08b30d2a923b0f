/* Unit tests for lib/http: a real server on a loopback port, driven with libcurl. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "log.h"

typedef struct routes_ctx {
    outbox_http_channel *channel;
    uint64_t since; /* /events/filtered starts there */
} routes_ctx;

static int keep_tagged_keep(void *filter_ctx, const char *id, const char *tag)
{
    (void)id;
    (*(int *)filter_ctx)++;
    return tag != NULL && strcmp(tag, "keep") == 0;
}

static int filter_calls;
static int filter_freed;

static void count_free(void *filter_ctx)
{
    (void)filter_ctx;
    filter_freed++;
}

static void routes(void *ctx, const outbox_http_request *req, outbox_http_response *resp)
{
    routes_ctx *rc = ctx;

    if (strcmp(req->path, "/metrics") == 0) {
        resp->status = 200;
        resp->content_type = OUTBOX_HTTP_PROMETHEUS;
        resp->body = strdup("outbox_up 1\n");
        if (resp->body == NULL)
            resp->status = 500;
    } else if (strcmp(req->path, "/healthz") == 0) {
        resp->status = 503;
        resp->static_body = "starting\n";
    } else if (strncmp(req->path, "/events/", 8) == 0 && strcmp(req->path, "/events/stream") &&
               strcmp(req->path, "/events/filtered")) {
        const char *wait = outbox_http_query(req, "wait");
        const char *flag = outbox_http_query(req, "flag");
        const char *missing = outbox_http_query(req, "missing");
        const char *agent = outbox_http_header(req, "x-test-header");
        resp->status = 202;
        if (asprintf(&resp->body, "%s id=%s wait=%s flag=[%s] missing=%s header=%s\n", req->method,
                     req->path + 8, wait ? wait : "(null)", flag ? flag : "(null)",
                     missing ? missing : "(null)", agent ? agent : "(null)") < 0)
            resp->body = NULL;
    } else if (strcmp(req->path, "/events/stream") == 0) {
        resp->stream = rc->channel;
    } else if (strcmp(req->path, "/events/filtered") == 0) {
        resp->stream = rc->channel;
        resp->stream_prelude = strdup("id: p\ndata: replay\n\n");
        resp->stream_filter = keep_tagged_keep;
        resp->stream_filter_ctx = &filter_calls;
        resp->stream_filter_free = count_free;
        resp->stream_since_set = true;
        resp->stream_since = rc->since;
    }
    /* anything else: status stays 0 -> 404 */
}

typedef struct fetched {
    long status;
    char *body;
    size_t len;
    char content_type[128];
    size_t stop_after_frames; /* 0 = read to the end */
    _Atomic size_t frames;    /* complete frames (ending in a blank line) received so far */
} fetched;

static size_t collect(char *data, size_t size, size_t nmemb, void *userp)
{
    fetched *f = userp;
    size_t n = size * nmemb;
    char *grown = realloc(f->body, f->len + n + 1);
    if (grown == NULL)
        return 0;
    f->body = grown;
    memcpy(f->body + f->len, data, n);
    f->len += n;
    f->body[f->len] = '\0';
    size_t frames = 0;
    for (const char *p = f->body; (p = strstr(p, "\n\n")) != NULL; p += 2)
        frames++;
    atomic_store(&f->frames, frames);
    if (f->stop_after_frames && frames >= f->stop_after_frames)
        return 0; /* enough: abort the transfer */
    return n;
}

static CURLcode fetch_method(uint16_t port, const char *method, const char *path,
                             const char *header, fetched *f);

static CURLcode fetch(uint16_t port, const char *path, const char *header, fetched *f)
{
    return fetch_method(port, NULL, path, header, f);
}

/* The value of response header `name` seen by fetch_method (one at a time is enough here). */
static char seen_allow[128];

static size_t collect_header(char *data, size_t size, size_t nmemb, void *userp)
{
    size_t n = size * nmemb;
    (void)userp;
    if (n > 6 && strncasecmp(data, "Allow:", 6) == 0) {
        size_t len = n - 6;
        const char *v = data + 6;
        while (len > 0 && *v == ' ')
            v++, len--;
        while (len > 0 && (v[len - 1] == '\r' || v[len - 1] == '\n'))
            len--;
        snprintf(seen_allow, sizeof seen_allow, "%.*s", (int)len, v);
    }
    return n;
}

static CURLcode fetch_method(uint16_t port, const char *method, const char *path,
                             const char *header, fetched *f)
{
    char url[256];
    struct curl_slist *headers = NULL;
    CURL *curl = curl_easy_init();
    char *ct = NULL;

    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, path);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, collect_header);
    seen_allow[0] = '\0';
    if (method) {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
        if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0)
            curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "x=1");
        if (strcmp(method, "HEAD") == 0)
            curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    }
    if (header) {
        headers = curl_slist_append(headers, header);
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    }
    CURLcode rc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &f->status);
    if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
        snprintf(f->content_type, sizeof f->content_type, "%s", ct);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return rc;
}

typedef struct server_fixture {
    routes_ctx ctx;
    outbox_http_server *server;
} server_fixture;

static int setup(void **state)
{
    server_fixture *fx = calloc(1, sizeof *fx);
    char err[256];

    fx->ctx.channel = outbox_http_channel_new(0);
    if (fx->ctx.channel == NULL ||
        outbox_http_start(NULL, 0, routes, &fx->ctx, &fx->server, err, sizeof err) != 0) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    server_fixture *fx = *state;
    outbox_http_stop(fx->server);
    outbox_http_channel_destroy(fx->ctx.channel);
    free(fx);
    return 0;
}

static void test_start_on_port_zero_reports_the_port(void **state)
{
    server_fixture *fx = *state;
    assert_true(outbox_http_port(fx->server) > 0);
}

static void test_get_metrics_returns_handler_body_and_status(void **state)
{
    server_fixture *fx = *state;
    fetched f = {0};

    assert_int_equal(fetch(outbox_http_port(fx->server), "/metrics", NULL, &f), CURLE_OK);
    assert_int_equal(f.status, 200);
    assert_string_equal(f.body, "outbox_up 1\n");
    assert_string_equal(f.content_type, OUTBOX_HTTP_PROMETHEUS);
    free(f.body);
}

static void test_static_body_with_status(void **state)
{
    server_fixture *fx = *state;
    fetched f = {0};

    assert_int_equal(fetch(outbox_http_port(fx->server), "/healthz", NULL, &f), CURLE_OK);
    assert_int_equal(f.status, 503);
    assert_string_equal(f.body, "starting\n");
    assert_string_equal(f.content_type, "text/plain; charset=utf-8");
    free(f.body);
}

static void test_unknown_path_is_404(void **state)
{
    server_fixture *fx = *state;
    fetched f = {0};

    assert_int_equal(fetch(outbox_http_port(fx->server), "/nope", NULL, &f), CURLE_OK);
    assert_int_equal(f.status, 404);
    assert_string_equal(f.body, "not found\n");
    free(f.body);
}

/* The ops endpoints only read: any other method is refused before the handler runs. */
static void test_methods_other_than_get_and_head_are_405(void **state)
{
    server_fixture *fx = *state;
    static const char *const refused[] = {"POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        fetched f = {0};
        assert_int_equal(
            fetch_method(outbox_http_port(fx->server), refused[i], "/metrics", NULL, &f), CURLE_OK);
        if (f.status != 405)
            fail_msg("%s /metrics answered %ld, not 405", refused[i], f.status);
        assert_string_equal(seen_allow, "GET, HEAD");
        assert_null(strstr(f.body ? f.body : "", "outbox_up")); /* the handler did not run */
        free(f.body);
    }
    fetched f = {0};
    assert_int_equal(fetch_method(outbox_http_port(fx->server), "HEAD", "/metrics", NULL, &f),
                     CURLE_OK);
    assert_int_equal(f.status, 200);
    free(f.body);
}

static void test_query_args_and_headers_reach_the_handler(void **state)
{
    server_fixture *fx = *state;
    fetched f = {0};

    assert_int_equal(
        fetch(outbox_http_port(fx->server), "/events/a%20b?wait=5s&flag", "X-Test-Header: yes", &f),
        CURLE_OK);
    assert_int_equal(f.status, 202);
    assert_string_equal(f.body, "GET id=a b wait=5s flag=[] missing=(null) header=yes\n");
    free(f.body);
}

typedef struct publisher_args {
    outbox_http_channel *channel;
    int rc;
} publisher_args;

/* Up to 30 s (a sanitized build on a loaded box is slow; a wait costs nothing when it ends). */
static void wait_for_subscribers(outbox_http_channel *channel, size_t n)
{
    for (int i = 0; i < 6000 && outbox_http_channel_subscribers(channel) != n; i++)
        usleep(5000);
}

/* Until the client has received `n` frames, up to 30 s. */
static void wait_for_frames(const fetched *f, size_t n)
{
    for (int i = 0; i < 6000 && atomic_load(&f->frames) < n; i++)
        usleep(5000);
}

static void *publisher(void *arg)
{
    publisher_args *pa = arg;
    wait_for_subscribers(pa->channel, 1);
    pa->rc = outbox_http_channel_publish(pa->channel, "post", NULL, "{\"id\":1}");
    if (pa->rc == 0)
        pa->rc = outbox_http_channel_publish(pa->channel, "post", "7", "line1\nline2");
    return NULL;
}

static void test_sse_stream_receives_two_events(void **state)
{
    server_fixture *fx = *state;
    publisher_args pa = {.channel = fx->ctx.channel, .rc = -1};
    fetched f = {.stop_after_frames = 3}; /* the ": connected" comment and two events */
    pthread_t thread;

    /* an event before anyone listens is not replayed */
    assert_int_equal(outbox_http_channel_publish(fx->ctx.channel, "early", NULL, "x"), 0);
    assert_int_equal(pthread_create(&thread, NULL, publisher, &pa), 0);
    CURLcode rc = fetch(outbox_http_port(fx->server), "/events/stream", NULL, &f);
    pthread_join(thread, NULL);

    assert_int_equal(pa.rc, 0);
    assert_int_equal(rc, CURLE_WRITE_ERROR); /* we hung up after the second event */
    assert_int_equal(f.status, 200);
    assert_string_equal(f.content_type, "text/event-stream");
    assert_string_equal(f.body, ": connected\n\n"
                                "event: post\ndata: {\"id\":1}\n\n"
                                "id: 7\nevent: post\ndata: line1\ndata: line2\n\n");
    free(f.body);
}

static void *publisher_tagged(void *arg)
{
    publisher_args *pa = arg;
    wait_for_subscribers(pa->channel, 1);
    pa->rc = outbox_http_channel_publish_tagged(pa->channel, "e", "3", "three", "keep");
    return NULL;
}

/* A resuming stream: its prelude first, then the events from the position the handler took
 * (published before the connection subscribed), only those its filter keeps. */
static void test_sse_prelude_since_and_filter(void **state)
{
    server_fixture *fx = *state;
    publisher_args pa = {.channel = fx->ctx.channel, .rc = -1};
    fetched f = {.stop_after_frames = 4};
    pthread_t thread;

    filter_calls = filter_freed = 0;
    fx->ctx.since = outbox_http_channel_position(fx->ctx.channel);
    assert_int_equal(outbox_http_channel_publish_tagged(fx->ctx.channel, "e", "1", "one", "keep"),
                     0);
    assert_int_equal(outbox_http_channel_publish_tagged(fx->ctx.channel, "e", "2", "two", "drop"),
                     0);
    assert_int_equal(pthread_create(&thread, NULL, publisher_tagged, &pa), 0);
    CURLcode rc = fetch(outbox_http_port(fx->server), "/events/filtered", NULL, &f);
    pthread_join(thread, NULL);

    assert_int_equal(pa.rc, 0);
    assert_int_equal(rc, CURLE_WRITE_ERROR);
    assert_string_equal(f.body, ": connected\n\n"
                                "id: p\ndata: replay\n\n"
                                "id: 1\nevent: e\ndata: one\n\n"
                                "id: 3\nevent: e\ndata: three\n\n");
    assert_int_equal(filter_calls, 3);
    free(f.body);
    outbox_http_stop(fx->server); /* the connection's filter is freed with it */
    fx->server = NULL;
    assert_int_equal(filter_freed, 1);
}

typedef struct client_args {
    uint16_t port;
    fetched f;
    CURLcode rc;
} client_args;

static void *stream_client(void *arg)
{
    client_args *ca = arg;
    ca->rc = fetch(ca->port, "/events/stream", NULL, &ca->f);
    return NULL;
}

static void test_stop_ends_an_open_stream(void **state)
{
    server_fixture *fx = *state;
    client_args ca = {.port = outbox_http_port(fx->server)};
    pthread_t thread;
    struct timespec t0, t1;

    assert_int_equal(pthread_create(&thread, NULL, stream_client, &ca), 0);
    wait_for_subscribers(fx->ctx.channel, 1);
    assert_int_equal(outbox_http_channel_subscribers(fx->ctx.channel), 1);
    /* The subscription exists before its first byte is sent: a stop right then shuts the socket
     * before the response (curl: empty reply, no body). Stop an open, flowing stream. */
    wait_for_frames(&ca.f, 1);
    assert_int_equal(atomic_load(&ca.f.frames), 1);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    outbox_http_stop(fx->server); /* must not wait for the keepalive interval */
    fx->server = NULL;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    pthread_join(thread, NULL);

    assert_true(t1.tv_sec - t0.tv_sec < 5);
    assert_int_equal(outbox_http_channel_subscribers(fx->ctx.channel), 0);
    assert_non_null(ca.f.body);
    assert_string_equal(ca.f.body, ": connected\n\n");
    free(ca.f.body);
}

/* A client that hangs up while no event flows frees its place within seconds, not at the next
 * keepalive (OUTBOX_HTTP_SSE_KEEPALIVE_MS): a reconnect storm is not refused by the limit. */
static void test_sse_idle_hangup_frees_the_place(void **state)
{
    server_fixture *fx = *state;
    fetched f = {.stop_after_frames = 1}; /* ": connected", then hang up */
    struct timespec t0, t1;

    assert_int_equal(fetch(outbox_http_port(fx->server), "/events/stream", NULL, &f),
                     CURLE_WRITE_ERROR);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 2000 && outbox_http_channel_subscribers(fx->ctx.channel) != 0; i++)
        usleep(5000);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(outbox_http_channel_subscribers(fx->ctx.channel), 0);
    assert_true(t1.tv_sec - t0.tv_sec < OUTBOX_HTTP_SSE_KEEPALIVE_MS / 1000 / 2);
    free(f.body);
}

/* Past the channel's subscriber limit a stream request is 503, and a freed place is reusable. */
static void test_sse_subscriber_limit_is_503(void **state)
{
    server_fixture *fx = *state;
    client_args ca = {.port = outbox_http_port(fx->server)};
    fetched f = {0};
    pthread_t thread;

    outbox_http_channel_set_max_subscribers(fx->ctx.channel, 1);
    assert_int_equal(pthread_create(&thread, NULL, stream_client, &ca), 0);
    wait_for_subscribers(fx->ctx.channel, 1);
    assert_int_equal(fetch(outbox_http_port(fx->server), "/events/stream", NULL, &f), CURLE_OK);
    assert_int_equal(f.status, 503);
    assert_string_equal(f.body, "too many event streams; retry later\n");
    assert_int_equal(outbox_http_channel_subscribers(fx->ctx.channel), 1);
    free(f.body);
    outbox_http_stop(fx->server);
    fx->server = NULL;
    pthread_join(thread, NULL);
    free(ca.f.body);
}

/* A raw client: a loopback socket (receive buffer `rcvbuf` bytes, 0 = default) that sent
 * "GET path". -1 on failure. */
static int raw_connect(uint16_t port, const char *path, int rcvbuf)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    char req[256];
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);

    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (fd < 0)
        return -1;
    if ((rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) != 0) ||
        connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Read until the server closes the connection: the bytes read, or -1 when it is still open
 * after `seconds`. The first head_size - 1 bytes go to head (NUL-terminated). */
static long raw_read_to_eof(int fd, int seconds, char *head, size_t head_size)
{
    struct timespec t0, now;
    char buf[65536];
    long total = 0;

    head[0] = '\0';
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        clock_gettime(CLOCK_MONOTONIC, &now);
        long left_ms = seconds * 1000L -
                       ((now.tv_sec - t0.tv_sec) * 1000L + (now.tv_nsec - t0.tv_nsec) / 1000000L);
        if (left_ms <= 0 || poll(&pfd, 1, (int)left_ms) != 1)
            return -1;
        ssize_t r = read(fd, buf, sizeof buf);
        if (r <= 0)
            return r == 0 ? total : -1;
        if ((size_t)total < head_size - 1) {
            size_t take = head_size - 1 - (size_t)total < (size_t)r ? head_size - 1 - (size_t)total
                                                                    : (size_t)r;
            memcpy(head + total, buf, take);
            head[total + (long)take] = '\0';
        }
        total += r;
    }
}

/* The log lines written at WARN or ERROR to a captured log file. */
static int warnings_in(FILE *log)
{
    char line[OUTBOX_LOG_LINE_MAX];
    int n = 0;
    fflush(log);
    rewind(log);
    while (fgets(line, sizeof line, log))
        n += strstr(line, " WARN ") != NULL || strstr(line, " ERROR ") != NULL;
    return n;
}

/* A stream request refused for the subscriber limit gets its 503 and the connection is closed:
 * it must not hold a connection (a thread, a descriptor) until the connection timeout, which
 * under a reconnect storm fills http.max-connections with idle refused clients. */
static void test_sse_refused_stream_request_closes_its_connection(void **state)
{
    server_fixture *fx = *state;
    client_args ca = {.port = outbox_http_port(fx->server)};
    outbox_http_channel_stats st;
    pthread_t thread;
    char head[64];

    outbox_http_channel_set_max_subscribers(fx->ctx.channel, 1);
    assert_int_equal(pthread_create(&thread, NULL, stream_client, &ca), 0);
    wait_for_subscribers(fx->ctx.channel, 1);
    int fd = raw_connect(outbox_http_port(fx->server), "/events/stream", 0);
    assert_true(fd >= 0);
    /* closed within a third of the connection timeout (a loaded box is slow, not 20 s slow) */
    assert_true(raw_read_to_eof(fd, OUTBOX_HTTP_CONNECTION_TIMEOUT_S / 3, head, sizeof head) > 0);
    close(fd);
    assert_memory_equal(head, "HTTP/1.1 503", 12);
    outbox_http_channel_stats_get(fx->ctx.channel, &st);
    assert_int_equal(st.refused, 1);
    assert_int_equal(st.subscribers, 1);
    outbox_http_stop(fx->server);
    fx->server = NULL;
    pthread_join(thread, NULL);
    free(ca.f.body);
}

/* A client going away is normal: counted as client_gone, no WARN line; a server stop counts as
 * stopped. */
static void test_sse_stream_ends_are_counted_and_a_gone_client_is_no_warning(void **state)
{
    server_fixture *fx = *state;
    fetched f = {.stop_after_frames = 1}; /* ": connected", then hang up */
    client_args ca = {.port = outbox_http_port(fx->server)};
    outbox_http_channel_stats st;
    pthread_t thread;
    FILE *log = tmpfile();

    assert_non_null(log);
    outbox_log_set_fd(fileno(log));
    assert_int_equal(fetch(outbox_http_port(fx->server), "/events/stream", NULL, &f),
                     CURLE_WRITE_ERROR);
    for (int i = 0; i < 2000 && outbox_http_channel_subscribers(fx->ctx.channel) != 0; i++)
        usleep(5000);
    outbox_http_channel_stats_get(fx->ctx.channel, &st);
    assert_int_equal(st.subscribers, 0);
    assert_int_equal(st.ended[OUTBOX_HTTP_STREAM_END_CLIENT], 1);
    assert_int_equal(st.ended[OUTBOX_HTTP_STREAM_END_SLOW], 0);

    assert_int_equal(pthread_create(&thread, NULL, stream_client, &ca), 0);
    wait_for_frames(&ca.f, 1); /* an open stream (see test_stop_ends_an_open_stream) */
    outbox_http_stop(fx->server);
    fx->server = NULL;
    pthread_join(thread, NULL);
    outbox_http_channel_stats_get(fx->ctx.channel, &st);
    assert_int_equal(st.ended[OUTBOX_HTTP_STREAM_END_STOP], 1);
    assert_int_equal(st.ended[OUTBOX_HTTP_STREAM_END_CLIENT], 1);
    outbox_log_set_fd(2);
    assert_int_equal(warnings_in(log), 0);
    fclose(log);
    free(f.body);
    free(ca.f.body);
}

/* Two clients that stop reading fall more than the backlog behind: both are closed (the server
 * never waits for them) and counted as slow, with ONE warning line for the burst. */
static void test_sse_slow_clients_are_dropped_counted_and_warned_once(void **state)
{
    routes_ctx ctx = {.channel = outbox_http_channel_new(4)};
    outbox_http_server *server = NULL;
    outbox_http_channel_stats st;
    FILE *log = tmpfile();
    char err[256], head[64];
    int fds[2];
    (void)state;

    assert_non_null(log);
    assert_non_null(ctx.channel);
    assert_int_equal(outbox_http_start(NULL, 0, routes, &ctx, &server, err, sizeof err), 0);
    outbox_log_set_fd(fileno(log));
    for (int i = 0; i < 2; i++)
        assert_true((fds[i] = raw_connect(outbox_http_port(server), "/events/stream", 4096)) >= 0);
    wait_for_subscribers(ctx.channel, 2);
    assert_int_equal(outbox_http_channel_subscribers(ctx.channel), 2);
    /* 8 MiB: more than a loopback socket's buffers hold (tcp_wmem's default top is 4 MiB) */
    char *big = malloc(32 * 1024 + 1);
    assert_non_null(big);
    memset(big, 'x', 32 * 1024);
    big[32 * 1024] = '\0';
    for (int i = 0; i < 256; i++)
        assert_int_equal(outbox_http_channel_publish(ctx.channel, "e", NULL, big), 0);
    free(big);
    for (int i = 0; i < 2; i++) { /* read again: the server finds it behind and closes */
        assert_true(raw_read_to_eof(fds[i], 20, head, sizeof head) > 0);
        assert_memory_equal(head, "HTTP/1.1 200", 12);
        close(fds[i]);
    }
    for (int i = 0; i < 2000 && outbox_http_channel_subscribers(ctx.channel) != 0; i++)
        usleep(5000);
    outbox_http_channel_stats_get(ctx.channel, &st);
    assert_int_equal(st.ended[OUTBOX_HTTP_STREAM_END_SLOW], 2);
    assert_int_equal(outbox_http_channel_dropped(ctx.channel), 2);
    outbox_http_stop(server);
    outbox_log_set_fd(2);
    assert_int_equal(warnings_in(log), 1);
    fclose(log);
    outbox_http_channel_destroy(ctx.channel);
}

/* A connection bound outside 1..OUTBOX_HTTP_MAX_CONNECTIONS_LIMIT is refused, named. */
static void test_start_n_rejects_a_bad_connection_bound(void **state)
{
    outbox_http_server *server = NULL;
    char err[256];
    (void)state;
    assert_int_equal(outbox_http_start_n(NULL, 0, 0, routes, NULL, &server, err, sizeof err), -1);
    assert_non_null(strstr(err, "connection limit 0"));
    assert_int_equal(outbox_http_start_n(NULL, 0, 2000, routes, NULL, &server, err, sizeof err), 0);
    outbox_http_stop(server);
}

static void test_publish_rejects_line_breaks_in_event_name(void **state)
{
    outbox_http_channel *channel = outbox_http_channel_new(4);

    assert_int_equal(outbox_http_channel_publish(channel, "bad\nname", NULL, "x"), -1);
    assert_int_equal(outbox_http_channel_publish(channel, "ok", "1\r", "x"), -1);
    /* the backlog is a ring: more events than its size are fine */
    for (int i = 0; i < 10; i++)
        assert_int_equal(outbox_http_channel_publish(channel, "ok", NULL, "x"), 0);
    outbox_http_channel_destroy(channel);
}

static void test_start_on_a_busy_port_names_address_and_reason(void **state)
{
    server_fixture *fx = *state;
    outbox_http_server *second = NULL;
    char err[256], expected[256];
    uint16_t port = outbox_http_port(fx->server);

    assert_int_equal(outbox_http_start("127.0.0.1", port, routes, NULL, &second, err, sizeof err),
                     -1);
    assert_null(second);
    snprintf(expected, sizeof expected, "cannot listen on 127.0.0.1:%u: Address already in use",
             port);
    assert_string_equal(err, expected);
}

static void test_invalid_bind_address_is_rejected(void **state)
{
    outbox_http_server *server = NULL;
    char err[256];

    assert_int_equal(outbox_http_start("not-an-ip", 0, routes, NULL, &server, err, sizeof err), -1);
    assert_string_equal(err,
                        "invalid HTTP bind address 'not-an-ip': expected an IPv4 or IPv6 address");
}

static void test_ipv6_loopback_works(void **state)
{
    outbox_http_server *server = NULL;
    char err[256];

    if (outbox_http_start("::1", 0, routes, NULL, &server, err, sizeof err) != 0)
        skip(); /* no IPv6 in this sandbox */
    assert_true(outbox_http_port(server) > 0);
    outbox_http_stop(server);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_start_on_port_zero_reports_the_port, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_metrics_returns_handler_body_and_status, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_static_body_with_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_path_is_404, setup, teardown),
        cmocka_unit_test_setup_teardown(test_methods_other_than_get_and_head_are_405, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_query_args_and_headers_reach_the_handler, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sse_stream_receives_two_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_ends_an_open_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sse_prelude_since_and_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sse_subscriber_limit_is_503, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sse_idle_hangup_frees_the_place, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sse_refused_stream_request_closes_its_connection,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_sse_stream_ends_are_counted_and_a_gone_client_is_no_warning, setup, teardown),
        cmocka_unit_test(test_sse_slow_clients_are_dropped_counted_and_warned_once),
        cmocka_unit_test(test_start_n_rejects_a_bad_connection_bound),
        cmocka_unit_test(test_publish_rejects_line_breaks_in_event_name),
        cmocka_unit_test_setup_teardown(test_start_on_a_busy_port_names_address_and_reason, setup,
                                        teardown),
        cmocka_unit_test(test_invalid_bind_address_is_rejected),
        cmocka_unit_test(test_ipv6_loopback_works),
    };
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return failed;
}
