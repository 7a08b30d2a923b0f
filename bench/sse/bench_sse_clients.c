/*
 * bench_sse_clients: N Server-Sent Events clients of the projector's GET /events/stream in one
 * process (epoll, non-blocking sockets), for bench/sse/run.sh. Not a test.
 *
 *   bench_sse_clients HOST PORT PATH CLIENTS SECONDS
 *
 * Every `id:` line is a cursor "<at_us>-<a|f>-<uuid>": at_us is the projector's batch
 * transaction time (it starts before the COMMIT), so now - at_us is an upper bound of the
 * delay from the batch's COMMIT to this client. Prints, after SECONDS (or when every client is
 * gone): clients connected, still connected at the end, events received, latency p50/p90/p99/max
 * in ms.
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

static void on_bytes(client *c, const char *buf, size_t n, int64_t t)
{
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            c->line[c->len < sizeof c->line ? c->len : sizeof c->line - 1] = '\0';
            if (strncmp(c->line, "id: ", 4) == 0) {
                long long at = strtoll(c->line + 4, NULL, 10);
                if (at > 0)
                    record((double)(t - at) / 1000.0);
            }
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
    for (int i = 0; i < n; i++) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        inet_pton(AF_INET, host, &sa.sin_addr);
        cs[i].fd = socket(AF_INET, SOCK_STREAM, 0);
        if (cs[i].fd < 0 || connect(cs[i].fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
            write(cs[i].fd, req, strlen(req)) != (ssize_t)strlen(req)) {
            fprintf(stderr, "client %d: %s\n", i, strerror(errno));
            if (cs[i].fd >= 0)
                close(cs[i].fd);
            cs[i].fd = -1;
            continue;
        }
        fcntl(cs[i].fd, F_SETFL, O_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
        cs[i].alive = 1;
        connected++;
        alive++;
    }
    fprintf(stderr, "bench_sse_clients: %d of %d connected\n", connected, n);
    signal(SIGTERM, on_term);
    int64_t end = now_us() + (int64_t)(secs * 1e6);
    struct epoll_event evs[256];
    while (alive > 0 && now_us() < end && !stop) {
        int k = epoll_wait(ep, evs, 256, 200);
        for (int j = 0; j < k; j++) {
            client *c = &cs[evs[j].data.u32];
            for (;;) {
                ssize_t r = read(c->fd, buf, sizeof buf);
                if (r > 0) {
                    on_bytes(c, buf, (size_t)r, now_us());
                    continue;
                }
                if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                    close(c->fd);
                    c->alive = 0;
                    alive--;
                }
                break;
            }
        }
    }
    qsort(lat, nlat, sizeof *lat, cmp);
#define P(q) (nlat ? lat[(size_t)((double)(nlat - 1) * (q))] : 0.0)
    printf("clients %d connected %d alive_at_end %d events %zu p50_ms %.1f p90_ms %.1f p99_ms %.1f "
           "max_ms %.1f\n",
           n, connected, alive, nlat, P(0.5), P(0.9), P(0.99), nlat ? lat[nlat - 1] : 0.0);
    return 0;
}
