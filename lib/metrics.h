#ifndef OUTBOX_METRICS_H
#define OUTBOX_METRICS_H

/*
 * outbox_metrics: Prometheus text exposition (format 0.0.4), written by hand.
 *
 * A daemon keeps ONE stats struct and renders it in ONE function (the /metrics handler) into
 * an outbox_metrics_buf:
 *
 *   typedef struct relay_stats {
 *       _Atomic uint64_t events_published;   // counter: worker threads add
 *       _Atomic int64_t inflight_bytes;      // gauge: worker threads set/add
 *       outbox_metrics_histogram *ack_seconds;
 *   } relay_stats;
 *
 *   // worker thread
 *   atomic_fetch_add_explicit(&stats->events_published, 1, memory_order_relaxed);
 *   outbox_metrics_histogram_observe(stats->ack_seconds, elapsed_s);
 *
 *   // HTTP thread, rendering
 *   outbox_metrics_buf *buf = outbox_metrics_buf_new();
 *   outbox_metrics_header(buf, "outbox_relay_events_published_total", OUTBOX_METRICS_COUNTER,
 *                         "Events acknowledged by Kafka.");
 *   outbox_metrics_counter(buf, "outbox_relay_events_published_total", NULL, 0,
 *       atomic_load_explicit(&stats->events_published, memory_order_relaxed));
 *   ...
 *   body = outbox_metrics_buf_steal(buf, &len);    // NULL: out of memory or a bad name
 *   outbox_metrics_buf_destroy(buf);
 *
 * Concurrency contract: counters and gauges are `_Atomic uint64_t` / `_Atomic int64_t` fields
 * written by the daemon's threads and read by the renderer (in the HTTP server's thread) with
 * relaxed loads. Relaxed is enough: each value is read whole (no torn reads) and monotonic
 * counters never go back; the values of different fields are NOT a consistent snapshot
 * (counter A may already include an event that counter B does not yet), which Prometheus
 * tolerates. Anything needing consistency across fields must be computed under the owner's lock
 * and published as one atomic.
 *
 * Names are checked ([a-zA-Z_:][a-zA-Z0-9_:]* for metrics, [a-zA-Z_][a-zA-Z0-9_]* for labels,
 * no "__" prefix, no "le" on histograms); label values and HELP text are escaped as the format
 * requires (label values: backslash, double quote, newline; HELP: backslash, newline).
 *
 * Errors are sticky: append functions return nothing; the first failure (no memory, bad name)
 * is remembered and reported by outbox_metrics_buf_status() / _steal(). A buffer belongs to one
 * thread at a time.
 */

#include <stddef.h>
#include <stdint.h>

typedef struct outbox_metrics_buf outbox_metrics_buf;

typedef enum outbox_metrics_type {
    OUTBOX_METRICS_COUNTER,
    OUTBOX_METRICS_GAUGE,
    OUTBOX_METRICS_HISTOGRAM,
} outbox_metrics_type;

/* One label; arrays of them are passed with a count (NULL, 0 for none). */
typedef struct outbox_metrics_label {
    const char *name;
    const char *value;
} outbox_metrics_label;

/* An empty buffer, or NULL when out of memory. The caller owns it. */
outbox_metrics_buf *outbox_metrics_buf_new(void);

/* Free the buffer and its text. NULL is a no-op. */
void outbox_metrics_buf_destroy(outbox_metrics_buf *buf);

/* 0 if every append so far succeeded; else -1 with the first error in errstr. */
int outbox_metrics_buf_status(const outbox_metrics_buf *buf, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* The text so far (NUL-terminated, owned by buf, valid until the next append), its length in
 * *lenp (may be NULL); NULL after an error. */
const char *outbox_metrics_buf_data(const outbox_metrics_buf *buf, size_t *lenp);

/* Take the text: a malloc'd NUL-terminated string the caller frees (e.g. an HTTP body), length
 * in *lenp (may be NULL). NULL after an error. The buffer is empty afterwards (errors kept). */
char *outbox_metrics_buf_steal(outbox_metrics_buf *buf, size_t *lenp)
    __attribute__((warn_unused_result));

/* "# HELP <name> <help>\n# TYPE <name> <type>\n". */
void outbox_metrics_header(outbox_metrics_buf *buf, const char *name, outbox_metrics_type type,
                           const char *help);

/* "<name>{l1="v1",...} <value>\n" (no braces without labels). */
void outbox_metrics_counter(outbox_metrics_buf *buf, const char *name,
                            const outbox_metrics_label *labels, size_t nlabels, uint64_t value);
void outbox_metrics_gauge(outbox_metrics_buf *buf, const char *name,
                          const outbox_metrics_label *labels, size_t nlabels, int64_t value);
/* Shortest text that reads back as the same double; NaN, +Inf, -Inf as Prometheus spells them. */
void outbox_metrics_gauge_double(outbox_metrics_buf *buf, const char *name,
                                 const outbox_metrics_label *labels, size_t nlabels, double value);

/* A histogram with fixed upper bounds. Opaque. */
typedef struct outbox_metrics_histogram outbox_metrics_histogram;

/* `bounds`: nbounds >= 1 finite upper bounds in strictly increasing order (copied; +Inf is
 * implicit). NULL on bad bounds or no memory. Create before the threads that observe start. */
outbox_metrics_histogram *outbox_metrics_histogram_new(const double *bounds, size_t nbounds);

/* Count one observation in the first bucket whose bound is >= value, and add it to the sum.
 * Lock-free (relaxed atomics, a CAS loop for the sum); any thread. NaN is ignored. */
void outbox_metrics_histogram_observe(outbox_metrics_histogram *hist, double value);

/* Render <name>_bucket{...,le="..."} lines (cumulative, ending with le="+Inf"), <name>_sum and
 * <name>_count. Call outbox_metrics_header(..., OUTBOX_METRICS_HISTOGRAM, ...) first. Any
 * thread, concurrently with observe(): _count always equals the +Inf bucket; _sum may lag or
 * lead by the observations in flight. */
void outbox_metrics_histogram_render(outbox_metrics_buf *buf, const char *name,
                                     const outbox_metrics_label *labels, size_t nlabels,
                                     const outbox_metrics_histogram *hist);

/* Free it once no thread observes any more. NULL is a no-op. */
void outbox_metrics_histogram_destroy(outbox_metrics_histogram *hist);

#endif
