/* outbox_metrics: Prometheus text exposition (see metrics.h). */
#include "metrics.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct outbox_metrics_buf {
    char *data;
    size_t len;
    size_t cap;
    char error[160]; /* first error; "" while none */
};

struct outbox_metrics_histogram {
    size_t nbounds;
    double *bounds;
    _Atomic uint64_t *counts;  /* nbounds + 1, per bucket (not cumulative); last = above all */
    _Atomic uint64_t sum_bits; /* the double sum, as bits */
};

static bool metrics_failed(const outbox_metrics_buf *buf)
{
    return buf->error[0] != '\0';
}

__attribute__((format(printf, 2, 3))) static void metrics_fail(outbox_metrics_buf *buf,
                                                               const char *fmt, ...)
{
    if (metrics_failed(buf))
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf->error, sizeof buf->error, fmt, ap);
    va_end(ap);
}

static void metrics_append(outbox_metrics_buf *buf, const char *p, size_t n)
{
    if (metrics_failed(buf))
        return;
    if (buf->cap - buf->len < n + 1) {
        size_t cap = buf->cap ? buf->cap : 1024;
        while (cap - buf->len < n + 1) {
            if (cap > SIZE_MAX / 2) {
                metrics_fail(buf, "out of memory");
                return;
            }
            cap *= 2;
        }
        char *data = realloc(buf->data, cap);
        if (data == NULL) {
            metrics_fail(buf, "out of memory");
            return;
        }
        buf->data = data;
        buf->cap = cap;
    }
    memcpy(buf->data + buf->len, p, n);
    buf->len += n;
    buf->data[buf->len] = '\0';
}

static void metrics_puts(outbox_metrics_buf *buf, const char *s)
{
    metrics_append(buf, s, strlen(s));
}

outbox_metrics_buf *outbox_metrics_buf_new(void)
{
    return calloc(1, sizeof(outbox_metrics_buf));
}

void outbox_metrics_buf_destroy(outbox_metrics_buf *buf)
{
    if (buf == NULL)
        return;
    free(buf->data);
    free(buf);
}

int outbox_metrics_buf_status(const outbox_metrics_buf *buf, char *errstr, size_t errstr_size)
{
    if (!metrics_failed(buf))
        return 0;
    if (errstr && errstr_size)
        snprintf(errstr, errstr_size, "%s", buf->error);
    return -1;
}

const char *outbox_metrics_buf_data(const outbox_metrics_buf *buf, size_t *lenp)
{
    if (metrics_failed(buf))
        return NULL;
    if (lenp)
        *lenp = buf->len;
    return buf->data ? buf->data : "";
}

char *outbox_metrics_buf_steal(outbox_metrics_buf *buf, size_t *lenp)
{
    if (metrics_failed(buf))
        return NULL;
    if (buf->data == NULL) {
        metrics_append(buf, "", 0);
        if (metrics_failed(buf))
            return NULL;
    }
    char *data = buf->data;
    if (lenp)
        *lenp = buf->len;
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
    return data;
}

static bool metrics_name_ok(const char *name, bool is_label)
{
    if (name == NULL || name[0] == '\0')
        return false;
    if (is_label && name[0] == '_' && name[1] == '_')
        return false;
    for (const char *p = name; *p; p++) {
        char c = *p;
        bool alpha =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!is_label && c == ':');
        if (!alpha && !(p != name && c >= '0' && c <= '9'))
            return false;
    }
    return true;
}

static bool metrics_check_name(outbox_metrics_buf *buf, const char *name)
{
    if (metrics_name_ok(name, false))
        return true;
    metrics_fail(buf, "invalid metric name '%s'", name ? name : "(null)");
    return false;
}

/* HELP text: backslash and newline escaped. */
static void metrics_put_help(outbox_metrics_buf *buf, const char *s)
{
    for (const char *p = s; *p; p++) {
        if (*p == '\\')
            metrics_append(buf, "\\\\", 2);
        else if (*p == '\n')
            metrics_append(buf, "\\n", 2);
        else
            metrics_append(buf, p, 1);
    }
}

/* Label value: backslash, double quote and newline escaped. */
static void metrics_put_label_value(outbox_metrics_buf *buf, const char *s)
{
    for (const char *p = s; *p; p++) {
        if (*p == '\\')
            metrics_append(buf, "\\\\", 2);
        else if (*p == '"')
            metrics_append(buf, "\\\"", 2);
        else if (*p == '\n')
            metrics_append(buf, "\\n", 2);
        else
            metrics_append(buf, p, 1);
    }
}

/* "name" + suffix + "{labels[,le="..."]}" + " " */
static void metrics_put_series(outbox_metrics_buf *buf, const char *name, const char *suffix,
                               const outbox_metrics_label *labels, size_t nlabels, const char *le)
{
    metrics_puts(buf, name);
    metrics_puts(buf, suffix);
    if (nlabels > 0 || le) {
        metrics_puts(buf, "{");
        for (size_t i = 0; i < nlabels; i++) {
            if (!metrics_name_ok(labels[i].name, true) ||
                (le && strcmp(labels[i].name, "le") == 0)) {
                metrics_fail(buf, "invalid label name '%s' on %s",
                             labels[i].name ? labels[i].name : "(null)", name);
                return;
            }
            if (i > 0)
                metrics_puts(buf, ",");
            metrics_puts(buf, labels[i].name);
            metrics_puts(buf, "=\"");
            metrics_put_label_value(buf, labels[i].value ? labels[i].value : "");
            metrics_puts(buf, "\"");
        }
        if (le) {
            if (nlabels > 0)
                metrics_puts(buf, ",");
            metrics_puts(buf, "le=\"");
            metrics_puts(buf, le);
            metrics_puts(buf, "\"");
        }
        metrics_puts(buf, "}");
    }
    metrics_puts(buf, " ");
}

/* Shortest %g that reads back to the same double. */
static void metrics_format_double(double v, char *out, size_t size)
{
    if (isnan(v)) {
        snprintf(out, size, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(out, size, "%s", v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(out, size, "%.0f", v); /* integers as integers: 60000, not 6e+04 */
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, size, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

void outbox_metrics_header(outbox_metrics_buf *buf, const char *name, outbox_metrics_type type,
                           const char *help)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};

    if (!metrics_check_name(buf, name))
        return;
    if ((unsigned)type > OUTBOX_METRICS_HISTOGRAM) {
        metrics_fail(buf, "invalid metric type for %s", name);
        return;
    }
    metrics_puts(buf, "# HELP ");
    metrics_puts(buf, name);
    metrics_puts(buf, " ");
    metrics_put_help(buf, help ? help : "");
    metrics_puts(buf, "\n# TYPE ");
    metrics_puts(buf, name);
    metrics_puts(buf, " ");
    metrics_puts(buf, types[type]);
    metrics_puts(buf, "\n");
}

static void metrics_sample(outbox_metrics_buf *buf, const char *name,
                           const outbox_metrics_label *labels, size_t nlabels, const char *value)
{
    if (!metrics_check_name(buf, name))
        return;
    metrics_put_series(buf, name, "", labels, nlabels, NULL);
    metrics_puts(buf, value);
    metrics_puts(buf, "\n");
}

void outbox_metrics_counter(outbox_metrics_buf *buf, const char *name,
                            const outbox_metrics_label *labels, size_t nlabels, uint64_t value)
{
    char text[32];
    snprintf(text, sizeof text, "%" PRIu64, value);
    metrics_sample(buf, name, labels, nlabels, text);
}

void outbox_metrics_gauge(outbox_metrics_buf *buf, const char *name,
                          const outbox_metrics_label *labels, size_t nlabels, int64_t value)
{
    char text[32];
    snprintf(text, sizeof text, "%" PRId64, value);
    metrics_sample(buf, name, labels, nlabels, text);
}

void outbox_metrics_gauge_double(outbox_metrics_buf *buf, const char *name,
                                 const outbox_metrics_label *labels, size_t nlabels, double value)
{
    char text[40];
    metrics_format_double(value, text, sizeof text);
    metrics_sample(buf, name, labels, nlabels, text);
}

outbox_metrics_histogram *outbox_metrics_histogram_new(const double *bounds, size_t nbounds)
{
    outbox_metrics_histogram *hist = NULL;

    if (bounds == NULL || nbounds == 0)
        return NULL;
    for (size_t i = 0; i < nbounds; i++) {
        if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
            return NULL;
    }
    hist = calloc(1, sizeof *hist);
    if (hist == NULL)
        goto fail;
    hist->nbounds = nbounds;
    hist->bounds = malloc(nbounds * sizeof *hist->bounds);
    hist->counts = malloc((nbounds + 1) * sizeof *hist->counts);
    if (hist->bounds == NULL || hist->counts == NULL)
        goto fail;
    memcpy(hist->bounds, bounds, nbounds * sizeof *bounds);
    for (size_t i = 0; i <= nbounds; i++)
        atomic_init(&hist->counts[i], 0);
    double zero = 0.0;
    uint64_t zero_bits;
    memcpy(&zero_bits, &zero, sizeof zero_bits);
    atomic_init(&hist->sum_bits, zero_bits);
    return hist;
fail:
    outbox_metrics_histogram_destroy(hist);
    return NULL;
}

void outbox_metrics_histogram_observe(outbox_metrics_histogram *hist, double value)
{
    size_t i = 0;

    if (isnan(value))
        return;
    while (i < hist->nbounds && value > hist->bounds[i])
        i++;
    atomic_fetch_add_explicit(&hist->counts[i], 1, memory_order_relaxed);

    uint64_t old_bits = atomic_load_explicit(&hist->sum_bits, memory_order_relaxed);
    for (;;) {
        double sum;
        uint64_t new_bits;
        memcpy(&sum, &old_bits, sizeof sum);
        sum += value;
        memcpy(&new_bits, &sum, sizeof new_bits);
        if (atomic_compare_exchange_weak_explicit(&hist->sum_bits, &old_bits, new_bits,
                                                  memory_order_relaxed, memory_order_relaxed))
            break;
    }
}

void outbox_metrics_histogram_render(outbox_metrics_buf *buf, const char *name,
                                     const outbox_metrics_label *labels, size_t nlabels,
                                     const outbox_metrics_histogram *hist)
{
    outbox_metrics_histogram *h = (outbox_metrics_histogram *)hist; /* atomics are read only */
    char le[40], text[40];
    uint64_t cumulative = 0;

    if (!metrics_check_name(buf, name))
        return;
    for (size_t i = 0; i <= h->nbounds; i++) {
        cumulative += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
        if (i < h->nbounds)
            metrics_format_double(h->bounds[i], le, sizeof le);
        else
            snprintf(le, sizeof le, "+Inf");
        metrics_put_series(buf, name, "_bucket", labels, nlabels, le);
        snprintf(text, sizeof text, "%" PRIu64 "\n", cumulative);
        metrics_puts(buf, text);
    }
    uint64_t sum_bits = atomic_load_explicit(&h->sum_bits, memory_order_relaxed);
    double sum;
    memcpy(&sum, &sum_bits, sizeof sum);
    metrics_put_series(buf, name, "_sum", labels, nlabels, NULL);
    metrics_format_double(sum, text, sizeof text);
    metrics_puts(buf, text);
    metrics_puts(buf, "\n");
    metrics_put_series(buf, name, "_count", labels, nlabels, NULL);
    snprintf(text, sizeof text, "%" PRIu64 "\n", cumulative);
    metrics_puts(buf, text);
}

void outbox_metrics_histogram_destroy(outbox_metrics_histogram *hist)
{
    if (hist == NULL)
        return;
    free(hist->bounds);
    free(hist->counts);
    free(hist);
}
