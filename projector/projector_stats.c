/* projector_stats: one struct per projection, one render function. */
#include "projector_stats.h"

#include <string.h>

int projector_stats_init(projector_stats *stats, const char *projection)
{
    static const double seconds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                     0.1,   0.25,   0.5,   1,    2.5,   10};
    static const double events[] = {1, 10, 50, 100, 250, 500, 1000, 2500, 5000};
    memset(stats, 0, sizeof *stats);
    stats->projection = projection;
    stats->batch_seconds =
        outbox_metrics_histogram_new(seconds, sizeof seconds / sizeof seconds[0]);
    stats->batch_events = outbox_metrics_histogram_new(events, sizeof events / sizeof events[0]);
    if (stats->batch_seconds == NULL || stats->batch_events == NULL) {
        projector_stats_destroy(stats);
        return -1;
    }
    return 0;
}

void projector_stats_destroy(projector_stats *stats)
{
    outbox_metrics_histogram_destroy(stats->batch_seconds);
    outbox_metrics_histogram_destroy(stats->batch_events);
    stats->batch_seconds = NULL;
    stats->batch_events = NULL;
}

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

typedef struct counter_def {
    const char *name;
    const char *help;
    size_t offset; /* of an _Atomic uint64_t in projector_stats */
    const char *label;
    const char *label_value;
} counter_def;

#define C(name, help, field, label, value)                                                         \
    {                                                                                              \
        name, help, offsetof(projector_stats, field), label, value                                 \
    }

static const counter_def counters[] = {
    C("outbox_projector_records_total", "Records consumed from Kafka.", records, NULL, NULL),
    C("outbox_projector_events_applied_total",
      "Events whose mapped statement ran in a committed batch.", applied, NULL, NULL),
    C("outbox_projector_events_duplicate_total",
      "Events skipped because their dedup row existed (already applied).", duplicates, NULL, NULL),
    C("outbox_projector_events_unmapped_total",
      "Events of a type without a sql.<Type> mapping: skipped, position advanced.", unmapped, NULL,
      NULL),
    C("outbox_projector_dead_letters_total",
      "Events sent to the dead-letter topic, by reason (sql: permanent SQL error, decode: "
      "undecodable record).",
      dead_sql, "reason", "sql"),
    C(NULL, NULL, dead_decode, "reason", "decode"),
    C("outbox_projector_batches_total", "Batch transactions committed.", batches, NULL, NULL),
    C("outbox_projector_batch_retries_total",
      "Batch attempts rolled back and retried, by cause (transient SQL error or connection "
      "loss, an event isolated after a permanent error, a dead letter not acknowledged, a set "
      "statement's run re-applied one event at a time after a permanent error).",
      retries_transient, "cause", "transient"),
    C(NULL, NULL, retries_permanent, "cause", "permanent"),
    C(NULL, NULL, retries_dlq, "cause", "dlq"),
    C(NULL, NULL, retries_set, "cause", "set_fallback"),
    C("outbox_projector_set_statements_total",
      "Set statements (sqlset.<Type>) run in committed batches, each for a run of events.",
      set_statements, NULL, NULL),
    C("outbox_projector_replays_seen_total",
      "Times the daemon re-read its offsets because a replay bumped the generation.", replays_seen,
      NULL, NULL),
    C("outbox_projector_rebalances_total", "Consumer group rebalance callbacks, by kind.", assigns,
      "kind", "assign"),
    C(NULL, NULL, revokes, "kind", "revoke"),
    C("outbox_projector_notifies_total", "NOTIFY payloads sent with committed batches.", notifies,
      NULL, NULL),
    C("outbox_projector_dedup_pruned_total", "Dedup rows deleted after the retention.", pruned,
      NULL, NULL),
    C("outbox_projector_commit_time_ignored_total",
      "Events whose outbox.commit_time header was not an RFC 3339 timestamp (applied with $8 "
      "NULL).",
      commit_time_ignored, NULL, NULL),
    C("outbox_projector_sse_streams_ended_total",
      "GET /events/stream connections that ended, by reason (client_gone: the client went away, "
      "normal; slow: dropped for falling more than http.sse-backlog events behind; timeout: "
      "nothing could be sent for the connection timeout; stopped: the server stopped).",
      sse_ended_client, "reason", "client_gone"),
    C(NULL, NULL, sse_ended_slow, "reason", "slow"),
    C(NULL, NULL, sse_ended_timeout, "reason", "timeout"),
    C(NULL, NULL, sse_ended_stopped, "reason", "stopped"),
    C("outbox_projector_sse_events_total",
      "Events published to the projection's event stream (applied and dead-lettered), whether "
      "or not a client is connected.",
      sse_published, NULL, NULL),
    C("outbox_projector_sse_refused_total",
      "Event stream requests answered 503 because http.sse-max-clients streams were open.",
      sse_refused, NULL, NULL),
};

typedef struct gauge_def {
    const char *name;
    const char *help;
    size_t offset; /* of an _Atomic int64_t */
} gauge_def;

static const gauge_def gauges[] = {
    {"outbox_projector_assigned_partitions", "Partitions currently assigned to this process.",
     offsetof(projector_stats, assigned_partitions)},
    {"outbox_projector_lag_records",
     "Records behind the high watermarks of the assigned partitions (last measured).",
     offsetof(projector_stats, lag)},
    {"outbox_projector_state",
     "0 starting, 1 running, 2 retrying (transient errors), 3 failed (stopped on a fatal "
     "error), 4 stopped.",
     offsetof(projector_stats, state)},
    {"outbox_projector_sse_clients", "Open GET /events/stream connections.",
     offsetof(projector_stats, sse_clients)},
};

/* The labels every series of `s` carries (projection, and worker when set), then `key`="value"
 * when key is not NULL. Returns how many were filled (at most 3). */
static size_t labels_of(const projector_stats *s, outbox_metrics_label *l, const char *key,
                        const char *value)
{
    size_t n = 0;
    l[n++] = (outbox_metrics_label){"projection", s->projection};
    if (s->worker != NULL)
        l[n++] = (outbox_metrics_label){"worker", s->worker};
    if (key != NULL)
        l[n++] = (outbox_metrics_label){key, value};
    return n;
}

char *projector_stats_render(projector_stats *const *stats, size_t count, size_t *len)
{
    outbox_metrics_buf *buf = outbox_metrics_buf_new();
    if (buf == NULL)
        return NULL;
    for (size_t c = 0; c < sizeof counters / sizeof counters[0]; c++) {
        const counter_def *def = &counters[c];
        const char *name = def->name;
        if (name != NULL)
            outbox_metrics_header(buf, name, OUTBOX_METRICS_COUNTER, def->help);
        else
            for (size_t back = c; name == NULL; back--)
                name = counters[back - 1].name;
        for (size_t i = 0; i < count; i++) {
            outbox_metrics_label labels[3];
            size_t n = labels_of(stats[i], labels, def->label, def->label_value);
            _Atomic uint64_t *v = (_Atomic uint64_t *)((char *)stats[i] + def->offset);
            outbox_metrics_counter(buf, name, labels, n, LOAD(*v));
        }
    }
    for (size_t g = 0; g < sizeof gauges / sizeof gauges[0]; g++) {
        outbox_metrics_header(buf, gauges[g].name, OUTBOX_METRICS_GAUGE, gauges[g].help);
        for (size_t i = 0; i < count; i++) {
            outbox_metrics_label l[3];
            size_t n = labels_of(stats[i], l, NULL, NULL);
            _Atomic int64_t *v = (_Atomic int64_t *)((char *)stats[i] + gauges[g].offset);
            outbox_metrics_gauge(buf, gauges[g].name, l, n, LOAD(*v));
        }
    }
    outbox_metrics_header(buf, "outbox_projector_up", OUTBOX_METRICS_GAUGE,
                          "1 when the projection is running, 0 when retrying or failed.");
    for (size_t i = 0; i < count; i++) {
        outbox_metrics_label l[3];
        size_t n = labels_of(stats[i], l, NULL, NULL);
        outbox_metrics_gauge(buf, "outbox_projector_up", l, n,
                             LOAD(stats[i]->state) == PROJECTOR_STATE_RUNNING);
    }
    outbox_metrics_header(buf, "outbox_projector_last_commit_seconds", OUTBOX_METRICS_GAUGE,
                          "Unix time of the last committed batch (0: none yet).");
    for (size_t i = 0; i < count; i++) {
        outbox_metrics_label l[3];
        size_t n = labels_of(stats[i], l, NULL, NULL);
        outbox_metrics_gauge_double(buf, "outbox_projector_last_commit_seconds", l, n,
                                    (double)LOAD(stats[i]->last_commit_ms) / 1000.0);
    }
    outbox_metrics_header(buf, "outbox_projector_batch_seconds", OUTBOX_METRICS_HISTOGRAM,
                          "Duration of committed batch transactions.");
    for (size_t i = 0; i < count; i++) {
        outbox_metrics_label l[3];
        size_t n = labels_of(stats[i], l, NULL, NULL);
        outbox_metrics_histogram_render(buf, "outbox_projector_batch_seconds", l, n,
                                        stats[i]->batch_seconds);
    }
    outbox_metrics_header(buf, "outbox_projector_batch_events", OUTBOX_METRICS_HISTOGRAM,
                          "Events per committed batch.");
    for (size_t i = 0; i < count; i++) {
        outbox_metrics_label l[3];
        size_t n = labels_of(stats[i], l, NULL, NULL);
        outbox_metrics_histogram_render(buf, "outbox_projector_batch_events", l, n,
                                        stats[i]->batch_events);
    }
    char *text = outbox_metrics_buf_steal(buf, len);
    outbox_metrics_buf_destroy(buf);
    return text;
}
