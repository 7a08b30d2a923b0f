/*
 * bench_sse_clients: N Server-Sent Events clients of the projector's GET /events/stream in one
 * process (epoll, non-blocking sockets), for bench/sse/run.sh. Not a test.
 *
 *   bench_sse_clients HOST PORT PATH CLIENTS SECONDS
 *
 * Every `id:` line is a cursor "<at_us>-<a|f>-<uuid>": at_us is the projector's batch
 * transaction time (it starts before the COMMIT), so now - at_us is an upper bound of the
 * delay from the batch's COMMIT to this client. Only answers with status 200 count as stream
 * clients: another status (503: the subscriber limit) is counted apart and its connection
 * closed, so an idle keep-alive connection never passes for a stream. Prints, after SECONDS (or
 * when every client is gone): streams opened, still open at the end, events received, latency
 * p50/p90/p99/max in ms; on stderr, each way a stream ended (end of file or a socket error),
 * with when (seconds after the start) and how many events it had received.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct client {
    int fd;
    char line[256]; /* the current line (only its start matters) */
    size_t len;
    int alive;
    int status;    /* HTTP status; 0 until the status line arrived */
    long events;   /* id: lines received */
    double end_s;  /* when it ended, seconds after the start */
    int end_errno; /* 0: end of file */
} client;

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static double *lat;
static size_t nlat, caplat;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void record(double ms)
{
    if (nlat == caplat) {
        caplat = caplat ? caplat * 2 : 1 << 20;
        lat = realloc(lat, caplat * sizeof *lat);
        if (lat == NULL) {
            perror("realloc");
            exit(1);
        }
    }
    lat[nlat++] = ms;
}

static void on_line(client *c, int64_t t)
{
    if (c->status == 0) {
        int status = 0;
        c->status = sscanf(c->line, "HTTP/%*d.%*d %d", &status) == 1 ? status : -1;
        return;
    }
    if (strncmp(c->line, "id: ", 4) == 0) {
        long long at = strtoll(c->line + 4, NULL, 10);
        c->events++;
        if (at > 0)
            record((double)(t - at) / 1000.0);
    }
}

static void on_bytes(client *c, const char *buf, size_t n, int64_t t)
{
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            c->line[c->len < sizeof c->line ? c->len : sizeof c->line - 1] = '\0';
            on_line(c, t);
            c->len = 0;
        } else if (c->len < sizeof c->line - 1) {
            c->line[c->len++] = buf[i];
        } else {
            c->len++;
        }
    }
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* stderr: how the streams (status 200) that ended early ended, and the other statuses. */
static void report_ends(const client *cs, int n)
{
    int other = 0, ended = 0, by_eof = 0;
    double first = 0, last = 0;
    long events = 0;
    for (int i = 0; i < n; i++) {
        if (cs[i].fd < 0 && cs[i].status == 0 && cs[i].end_s == 0)
            continue; /* never connected */
        if (cs[i].status != 200) {
            if (other++ < 5)
                fprintf(stderr, "bench_sse_clients: client %d answered status %d\n", i,
                        cs[i].status);
            continue;
        }
        if (cs[i].alive)
            continue;
        if (ended == 0 || cs[i].end_s < first)
            first = cs[i].end_s;
        if (cs[i].end_s > last)
            last = cs[i].end_s;
        ended++;
        by_eof += cs[i].end_errno == 0;
        events += cs[i].events;
        if (cs[i].end_errno)
            fprintf(stderr, "bench_sse_clients: stream %d ended: %s\n", i,
                    strerror(cs[i].end_errno));
    }
    fprintf(stderr,
            "bench_sse_clients: %d answers not 200; %d streams ended before the end (%d end of "
            "file, %d socket errors) between %.1f s and %.1f s, after %ld events in all\n",
            other, ended, by_eof, ended - by_eof, first, last, events);
}

static int connect_one(client *c, const char *host, int port, const char *req, int ep, int i)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &sa.sin_addr);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        write(c->fd, req, strlen(req)) != (ssize_t)strlen(req)) {
        fprintf(stderr, "client %d: %s\n", i, strerror(errno));
        if (c->fd >= 0)
            close(c->fd);
        c->fd = -1;
        return -1;
    }
    fcntl(c->fd, F_SETFL, O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    c->alive = 1;
    return 0;
}

static void end_client(client *c, int ep, int err, int64_t t0)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->alive = 0;
    c->end_errno = err;
    c->end_s = (double)(now_us() - t0) / 1e6;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: bench_sse_clients HOST PORT PATH CLIENTS SECONDS\n");
        return 2;
    }
    const char *host = argv[1], *path = argv[3];
    int port = atoi(argv[2]), n = atoi(argv[4]);
    double secs = atof(argv[5]);
    client *cs = calloc((size_t)n, sizeof *cs);
    int ep = epoll_create1(0), connected = 0, alive = 0;
    char req[1024], buf[65536];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s:%d\r\nAccept: text/event-stream\r\n\r\n",
             path, host, port);
    int64_t t0 = now_us();
    for (int i = 0; i < n; i++) {
        if (connect_one(&cs[i], host, port, req, ep, i) == 0) {
            connected++;
            alive++;
        }
    }
    fprintf(stderr, "bench_sse_clients: %d of %d connected\n", connected, n);
    signal(SIGTERM, on_term);
    int64_t end = now_us() + (int64_t)(secs * 1e6);
    struct epoll_event evs[1024];
    while (alive > 0 && now_us() < end && !stop) {
        /* One read per ready client and round (epoll is level-triggered: one with more to read
         * comes back next round): reading each until EAGAIN while the server keeps writing let
         * a few busy clients starve the others, which then looked like clients that never got
         * an answer. */
        int k = epoll_wait(ep, evs, 1024, 200);
        for (int j = 0; j < k; j++) {
            client *c = &cs[evs[j].data.u32];
            ssize_t r = read(c->fd, buf, sizeof buf);
            if (r > 0) {
                on_bytes(c, buf, (size_t)r, now_us());
                if (c->status != 0 && c->status != 200) { /* not a stream: do not wait */
                    end_client(c, ep, 0, t0);
                    alive--;
                }
            } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                end_client(c, ep, r == 0 ? 0 : errno, t0);
                alive--;
            }
        }
    }
    int streams = 0, open_at_end = 0;
    for (int i = 0; i < n; i++) {
        streams += cs[i].status == 200;
        open_at_end += cs[i].status == 200 && cs[i].alive;
    }
    report_ends(cs, n);
    qsort(lat, nlat, sizeof *lat, cmp);
#define P(q) (nlat ? lat[(size_t)((double)(nlat - 1) * (q))] : 0.0)
    printf("clients %d connected %d streams %d alive_at_end %d events %zu p50_ms %.1f p90_ms "
           "%.1f p99_ms %.1f max_ms %.1f\n",
           n, connected, streams, open_at_end, nlat, P(0.5), P(0.9), P(0.99),
           nlat ? lat[nlat - 1] : 0.0);
    return 0;
}
