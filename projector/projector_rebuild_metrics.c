/* projector_rebuild_metrics: the rebuild's progress on its own /metrics. */
#include "projector_rebuild_metrics.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "metrics.h"

struct projector_rebuild_metrics {
    const char *projection; /* borrowed (the settings') */
    projector_stats *const *workers;
    size_t count;
    outbox_http_server *server;
    _Atomic int64_t done, total, rate_milli, phase;
};

char *projector_rebuild_metrics_text(const char *projection, int64_t done, int64_t total,
                                     double rate, int phase)
{
    outbox_metrics_buf *buf = outbox_metrics_buf_new();
    if (buf == NULL)
        return NULL;
    outbox_metrics_label l = {"projection", projection};
    int64_t lag = total > done ? total - done : 0;
    static const struct {
        const char *name, *help;
    } g[] = {
        {"outbox_projector_rebuild_events_done",
         "Records of the projection's topics the rebuild's shadow has consumed."},
        {"outbox_projector_rebuild_events_total", "Records in the projection's topics now."},
        {"outbox_projector_rebuild_lag_events", "Records the shadow has still to consume."},
        {"outbox_projector_rebuild_phase",
         "1 building the shadow, 2 swapping (the swap transaction is open)."},
    };
    int64_t v[] = {done, total, lag, phase};
    for (size_t i = 0; i < sizeof g / sizeof g[0]; i++) {
        outbox_metrics_header(buf, g[i].name, OUTBOX_METRICS_GAUGE, g[i].help);
        outbox_metrics_gauge(buf, g[i].name, &l, 1, v[i]);
    }
    outbox_metrics_header(buf, "outbox_projector_rebuild_rate_events_per_second",
                          OUTBOX_METRICS_GAUGE, "Records consumed per second (smoothed).");
    outbox_metrics_gauge_double(buf, "outbox_projector_rebuild_rate_events_per_second", &l, 1,
                                rate);
    outbox_metrics_header(buf, "outbox_projector_rebuild_eta_seconds", OUTBOX_METRICS_GAUGE,
                          "Seconds until the shadow catches up at the current rate (-1: unknown).");
    outbox_metrics_gauge_double(buf, "outbox_projector_rebuild_eta_seconds", &l, 1,
                                rate > 0.0 ? (double)lag / rate : -1.0);
    char *text = outbox_metrics_buf_steal(buf, NULL);
    outbox_metrics_buf_destroy(buf);
    return text;
}

/* The progress series followed by the shadow workers' own. */
static char *render(projector_rebuild_metrics *m, size_t *len)
{
    char *progress = projector_rebuild_metrics_text(
        m->projection, atomic_load_explicit(&m->done, memory_order_relaxed),
        atomic_load_explicit(&m->total, memory_order_relaxed),
        (double)atomic_load_explicit(&m->rate_milli, memory_order_relaxed) / 1000.0,
        (int)atomic_load_explicit(&m->phase, memory_order_relaxed));
    size_t runner_len = 0;
    char *runner = projector_stats_render(m->workers, m->count, &runner_len);
    char *text = NULL;
    if (progress != NULL && runner != NULL) {
        size_t plen = strlen(progress);
        text = malloc(plen + runner_len + 1);
        if (text != NULL) {
            memcpy(text, progress, plen);
            memcpy(text + plen, runner, runner_len + 1);
            *len = plen + runner_len;
        }
    }
    free(progress);
    free(runner);
    return text;
}

static void routes(void *ctx, const outbox_http_request *req, outbox_http_response *resp)
{
    projector_rebuild_metrics *m = ctx;
    if (strcmp(req->path, "/metrics") == 0) {
        resp->body = render(m, &resp->body_len);
        resp->status = resp->body ? 200 : 500;
        resp->content_type = OUTBOX_HTTP_PROMETHEUS;
    } else if (strcmp(req->path, "/healthz") == 0) {
        bool failed = false;
        for (size_t i = 0; i < m->count; i++)
            failed |= atomic_load_explicit(&m->workers[i]->state, memory_order_relaxed) ==
                      PROJECTOR_STATE_FAILED;
        resp->status = failed ? 503 : 200;
        resp->static_body = failed ? "rebuild runner failed\n" : "rebuilding\n";
    } else {
        resp->status = 404;
        resp->static_body = "not found: GET /metrics or /healthz\n";
    }
}

projector_rebuild_metrics *projector_rebuild_metrics_start(const projector_settings *settings,
                                                           const char *projection,
                                                           projector_stats *const *workers,
                                                           size_t count, char *errstr,
                                                           size_t errstr_size)
{
    errstr[0] = '\0';
    if (!settings->http_enabled)
        return NULL;
    projector_rebuild_metrics *m = calloc(1, sizeof *m);
    if (m == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    m->projection = projection;
    m->workers = workers;
    m->count = count;
    atomic_store(&m->phase, PROJECTOR_REBUILD_PHASE_BUILDING);
    if (outbox_http_start(settings->http_bind, (uint16_t)settings->http_rebuild_port, routes, m,
                          &m->server, errstr, errstr_size)) {
        free(m);
        return NULL;
    }
    return m;
}

uint16_t projector_rebuild_metrics_port(const projector_rebuild_metrics *m)
{
    return outbox_http_port(m->server);
}

void projector_rebuild_metrics_update(projector_rebuild_metrics *m, int64_t done, int64_t total,
                                      double rate)
{
    if (m == NULL)
        return;
    atomic_store_explicit(&m->done, done, memory_order_relaxed);
    atomic_store_explicit(&m->total, total, memory_order_relaxed);
    atomic_store_explicit(&m->rate_milli, (int64_t)(rate * 1000.0), memory_order_relaxed);
}

void projector_rebuild_metrics_phase(projector_rebuild_metrics *m, projector_rebuild_phase phase)
{
    if (m != NULL)
        atomic_store_explicit(&m->phase, phase, memory_order_relaxed);
}

void projector_rebuild_metrics_stop(projector_rebuild_metrics *m)
{
    if (m == NULL)
        return;
    outbox_http_stop(m->server);
    free(m);
}
