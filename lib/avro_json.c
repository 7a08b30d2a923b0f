#include "errstr.h"
#include "avro_json.h"
#include "hex.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deepest value nesting encoded or decoded (guards recursive schemas and hostile input). */
#define CODEC_MAX_DEPTH 128

/* Most elements of a zero-size item type (null, empty record) one decoded array may hold. */
#define CODEC_MAX_EMPTY_ITEMS 65536

/* Decimal: digits a numeric string may carry, and bytes of an unscaled value. */
#define DECIMAL_MAX_TEXT 1024
#define DECIMAL_MAX_BYTES 128 /* > 300 digits * log2(10) / 8 + 1 */

/* ---- error paths: segments are recorded while unwinding, so success costs nothing ------- */

enum seg_kind { SEG_FIELD, SEG_INDEX, SEG_KEY };

struct path_seg {
    enum seg_kind kind;
    const char *name; /* field name or map key (not NUL-terminated for keys) */
    size_t len;
    size_t index;
};

struct path {
    struct path_seg segs[CODEC_MAX_DEPTH + 2];
    size_t n; /* innermost first */
};

static void path_add(struct path *path, enum seg_kind kind, const char *name, size_t len,
                     size_t index)
{
    if (path->n >= sizeof(path->segs) / sizeof(path->segs[0]))
        return;
    path->segs[path->n].kind = kind;
    path->segs[path->n].name = name;
    path->segs[path->n].len = len;
    path->segs[path->n].index = index;
    path->n++;
}

/* Render "comments[2].created_at" (or "top level") into out. */
static void path_render(const struct path *path, char *out, size_t out_size)
{
    size_t used = 0;
    size_t i;
    int n;

    if (out_size == 0)
        return;
    out[0] = '\0';
    if (path->n == 0) {
        snprintf(out, out_size, "top level");
        return;
    }
    for (i = path->n; i-- > 0 && used < out_size;) {
        const struct path_seg *seg = &path->segs[i];
        int len = seg->len > 64 ? 64 : (int)seg->len;

        if (seg->kind == SEG_FIELD)
            n = snprintf(out + used, out_size - used, "%s%.*s", used ? "." : "", len, seg->name);
        else if (seg->kind == SEG_INDEX)
            n = snprintf(out + used, out_size - used, "[%zu]", seg->index);
        else
            n = snprintf(out + used, out_size - used, "[\"%.*s\"]", len, seg->name);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

/* ---- encoding ---------------------------------------------------------------------------- */

/* ENC_MISMATCH and ENC_MISSING are the event's fault; ENC_NOMEM and ENC_INTERNAL the encoder's,
 * and end every union trial at once. */
enum enc_fail { ENC_MISMATCH = 1, ENC_MISSING = 2, ENC_NOMEM = 3, ENC_INTERNAL = 5 };

static inline int enc_fatal(int rc)
{
    return rc == ENC_NOMEM || rc == ENC_INTERNAL;
}

/*
 * A number jansson cannot hold (a BIGNUM token: an integer beyond int64, a real beyond a
 * double), in a tree the reference path built from tokens: the json_t is a real standing in for
 * it (its double, or 0 when beyond a double's range), the note has the truth.
 */
struct enc_note {
    const json_t *json;
    const char *text; /* the number as written, in the caller's JSON text */
    size_t len;
    double value; /* correctly rounded; +-HUGE_VAL beyond a double's range */
};

struct enc_ctx {
    outbox_buf *buf;
    int depth;
    int quiet;                    /* inside a union trial: do not format messages */
    int union_branch;             /* branch the outermost finished union chose */
    const struct enc_note *notes; /* BIGNUMs of a tree built from tokens, else NULL */
    size_t n_notes;
    struct path path;
    char msg[256];
};

static void enc_ctx_init(struct enc_ctx *ctx, outbox_buf *buf, int quiet)
{
    ctx->buf = buf;
    ctx->depth = 0;
    ctx->quiet = quiet;
    ctx->union_branch = -1;
    ctx->notes = NULL;
    ctx->n_notes = 0;
    ctx->path.n = 0;
    ctx->msg[0] = '\0';
}

/* The note of a real that stands in for a BIGNUM, or NULL. */
static const struct enc_note *enc_note_of(const struct enc_ctx *ctx, const json_t *json)
{
    size_t i;

    if (ctx == NULL || ctx->n_notes == 0 || !json_is_real(json))
        return NULL;
    for (i = 0; i < ctx->n_notes; i++) {
        if (ctx->notes[i].json == json)
            return &ctx->notes[i];
    }
    return NULL;
}

static const char *json_kind(const json_t *json)
{
    switch (json_typeof(json)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "real";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    case JSON_NULL:
        return "null";
    }
    return "?";
}

/* A mismatch, with its message unless ctx is NULL (the fast path) or quiet (a union trial). */
static int enc_mismatch(struct enc_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int enc_mismatch(struct enc_ctx *ctx, const char *fmt, ...)
{
    va_list ap;

    if (ctx != NULL && !ctx->quiet) {
        va_start(ap, fmt);
        vsnprintf(ctx->msg, sizeof(ctx->msg), fmt, ap);
        va_end(ap);
    }
    return ENC_MISMATCH;
}

/* "expected X, got string "<excerpt>"" for a string value s of len bytes. */
static int enc_expected_str(struct enc_ctx *ctx, const char *expected, const char *s, size_t len)
{
    if (ctx == NULL || ctx->quiet)
        return ENC_MISMATCH;
    return enc_mismatch(ctx, "expected %s, got string \"%.*s%s\"", expected,
                        (int)(len > 40 ? 40 : len), s, len > 40 ? "..." : "");
}

/* "expected X, got <kind>" with a short excerpt of strings. */
static int enc_expected(struct enc_ctx *ctx, const char *expected, const json_t *json)
{
    if (ctx->quiet)
        return ENC_MISMATCH;
    if (json_is_string(json))
        return enc_expected_str(ctx, expected, json_string_value(json), json_string_length(json));
    return enc_mismatch(ctx, "expected %s, got %s", expected, json_kind(json));
}

static inline int put_long(outbox_buf *buf, int64_t value)
{
    uint64_t zz = ((uint64_t)value << 1) ^ (0 - ((uint64_t)value >> 63));
    uint8_t *p;

    if (outbox_buf_reserve(buf, 10) != 0)
        return ENC_NOMEM;
    p = buf->data + buf->len;
    while (zz >= 0x80) {
        *p++ = (uint8_t)(zz | 0x80);
        zz >>= 7;
    }
    *p++ = (uint8_t)zz;
    buf->len = (size_t)(p - buf->data);
    return 0;
}

static inline int put_bytes(outbox_buf *buf, const void *data, size_t len)
{
    if (put_long(buf, (int64_t)len) != 0 || outbox_buf_append(buf, data, len) != 0)
        return ENC_NOMEM;
    return 0;
}

static int put_le(outbox_buf *buf, uint64_t bits, int n)
{
    uint8_t *p;
    int i;

    if (outbox_buf_reserve(buf, (size_t)n) != 0)
        return ENC_NOMEM;
    p = buf->data + buf->len;
    for (i = 0; i < n; i++)
        p[i] = (uint8_t)(bits >> (8 * i));
    buf->len += (size_t)n;
    return 0;
}

/* A real taken as an integer: an exact integral value of magnitude <= 2^53. */
static inline int real_integral(double d, int64_t *value)
{
    if (d == floor(d) && fabs(d) <= 9007199254740992.0) {
        *value = (int64_t)d;
        return 1;
    }
    return 0;
}

/* An integral JSON number: any integer, or a real with an exact integral value <= 2^53. */
static int json_integral(const json_t *json, int64_t *value)
{
    if (json_is_integer(json)) {
        *value = json_integer_value(json);
        return 1;
    }
    return json_is_real(json) && real_integral(json_real_value(json), value);
}

/* ---- calendar arithmetic (proleptic Gregorian, years 0..9999 for text) ------------------ */

static const int days_before_month[13] = {0,   31,  59,  90,  120, 151, 181,
                                          212, 243, 273, 304, 334, 365};

static int is_leap(int64_t year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int days_in_month(int64_t year, int month)
{
    return days_before_month[month] - days_before_month[month - 1] + (month == 2 && is_leap(year));
}

/* Days from 0000-01-01 to the first of January of `year` (0 <= year). */
static int64_t days_before_year(int64_t year)
{
    int64_t last = year - 1; /* leap years among 0..year-1; year 0 is one */

    if (year <= 0)
        return 0;
    return 365 * year + last / 4 - last / 100 + last / 400 + 1;
}

#define EPOCH_DAYS 719528 /* days_before_year(1970) */

static int64_t days_from_date(int64_t year, int month, int day)
{
    return days_before_year(year) + days_before_month[month - 1] + (month > 2 && is_leap(year)) +
           day - 1 - EPOCH_DAYS;
}

/* Inverse of days_from_date(); returns 0 when outside years 0..9999. */
static int date_from_days(int64_t days, int *year, int *month, int *day)
{
    int64_t abs_days = days + EPOCH_DAYS;
    int64_t y;
    int64_t doy;
    int m;

    if (abs_days < 0 || abs_days >= days_before_year(10000))
        return 0;
    y = abs_days * 400 / 146097; /* 146097 days per 400 years; at most one year off */
    while (y > 0 && days_before_year(y) > abs_days)
        y--;
    while (days_before_year(y + 1) <= abs_days)
        y++;
    doy = abs_days - days_before_year(y);
    for (m = 1; m < 12; m++) {
        if (doy < days_before_month[m] + (m >= 2 && is_leap(y)))
            break;
    }
    *year = (int)y;
    *month = m;
    *day = (int)(doy - days_before_month[m - 1] - (m > 2 && is_leap(y))) + 1;
    return 1;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* Parse exactly `n` digits. */
static int digits(const char *s, int n, int *value)
{
    int v = 0;
    int i;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    *value = v;
    return 1;
}

static int parse_date_text(const char *s, size_t len, int64_t *days)
{
    int y;
    int m;
    int d;

    if (len != 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4, &y) || !digits(s + 5, 2, &m) ||
        !digits(s + 8, 2, &d))
        return 0;
    if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return 0;
    *days = days_from_date(y, m, d);
    return 1;
}

/* "HH:MM:SS[.fraction]" at s (no more than len); `unit` 1000 or 1000000; sets *used. */
static int parse_time_text(const char *s, size_t len, int64_t unit, int64_t *value, size_t *used)
{
    int h;
    int mi;
    int sec;
    int64_t frac = 0;
    int64_t scale = unit;
    size_t i = 8;

    if (len < 8 || s[2] != ':' || s[5] != ':' || !digits(s, 2, &h) || !digits(s + 3, 2, &mi) ||
        !digits(s + 6, 2, &sec))
        return 0;
    if (h > 23 || mi > 59 || sec > 59)
        return 0;
    if (i < len && s[i] == '.') {
        i++;
        if (i >= len || s[i] < '0' || s[i] > '9')
            return 0;
        /* keep the digits the unit resolves, drop the rest (floor) */
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
            if (scale > 1) {
                scale /= 10;
                frac += (s[i] - '0') * scale;
            }
        }
    }
    *value = ((int64_t)h * 3600 + mi * 60 + sec) * unit + frac;
    *used = i;
    return 1;
}

/*
 * RFC 3339 date-time: "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)" ('t', 'z' and a space
 * separator accepted, offsets also as +HHMM or +HH). With `local`, no offset is allowed and
 * the wall time is taken as is. Result in `unit`s (1000 or 1000000) since the epoch.
 */
static int parse_timestamp_text(const char *s, size_t len, int64_t unit, int local, int64_t *value)
{
    int64_t days;
    int64_t tod;
    int64_t offset = 0;
    size_t used;
    size_t rest;
    const char *tz;
    int oh;
    int om = 0;

    if (len < 19 || !parse_date_text(s, 10, &days) ||
        (s[10] != 'T' && s[10] != 't' && s[10] != ' '))
        return 0;
    if (!parse_time_text(s + 11, len - 11, unit, &tod, &used))
        return 0;
    tz = s + 11 + used;
    rest = len - 11 - used;
    if (local) {
        if (rest != 0)
            return 0;
    } else if (rest == 1 && (tz[0] == 'Z' || tz[0] == 'z')) {
        offset = 0;
    } else if (rest >= 3 && (tz[0] == '+' || tz[0] == '-') && digits(tz + 1, 2, &oh)) {
        if (rest == 6 && tz[3] == ':' && digits(tz + 4, 2, &om))
            ;
        else if (rest == 5 && digits(tz + 3, 2, &om))
            ;
        else if (rest != 3)
            return 0;
        if (oh > 23 || om > 59)
            return 0;
        offset = ((int64_t)oh * 3600 + om * 60) * (tz[0] == '-' ? -1 : 1);
    } else {
        return 0;
    }
    *value = (days * 86400 - offset) * unit + tod;
    return 1;
}

static int uuid_valid(const char *s, size_t len)
{
    size_t i;

    if (len != 36)
        return 0;
    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (outbox_hex_digit(s[i]) < 0) {
            return 0;
        }
    }
    return 1;
}

/* ---- decimals: exact text <-> two's complement ------------------------------------------ */

/*
 * Unscaled value of a decimal numeric text at `scale`, as decimal digits without leading zeros
 * (empty for zero) into `out` (DECIMAL_MAX_TEXT + 1 bytes). Returns NULL on success, else a
 * static reason.
 */
static const char *decimal_text_unscale(const char *s, size_t len, int scale, int precision,
                                        char *out, size_t *out_len, int *negative)
{
    char all[DECIMAL_MAX_TEXT];
    size_t n = 0;
    size_t i = 0;
    size_t frac_digits = 0;
    size_t keep;
    size_t k;
    long long exp10 = 0;
    long long shift;
    int seen_digit = 0;
    int exp_neg = 0;

    *negative = 0;
    if (i < len && (s[i] == '-' || s[i] == '+'))
        *negative = s[i++] == '-';
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        seen_digit = 1;
        if (n == 0 && s[i] == '0')
            continue; /* leading zeros of the integer part carry nothing */
        if (n == sizeof(all))
            return "too many digits";
        all[n++] = s[i];
    }
    if (i < len && s[i] == '.') {
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
            seen_digit = 1;
            if (n == sizeof(all))
                return "too many digits";
            all[n++] = s[i];
            frac_digits++;
        }
    }
    if (!seen_digit)
        return "not a decimal number";
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '-' || s[i] == '+'))
            exp_neg = s[i++] == '-';
        if (i >= len || s[i] < '0' || s[i] > '9')
            return "not a decimal number";
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
            if (exp10 < 100000)
                exp10 = exp10 * 10 + (s[i] - '0');
        }
        if (exp_neg)
            exp10 = -exp10;
    }
    if (i != len)
        return "not a decimal number";
    /* value = all * 10^(exp10 - frac_digits); unscaled = value * 10^scale */
    shift = exp10 - (long long)frac_digits + scale;
    keep = n;
    if (shift < 0) {
        keep = (unsigned long long)-shift >= n ? 0 : n - (size_t)-shift;
        for (k = keep; k < n; k++) {
            if (all[k] != '0')
                return "has more fraction digits than the scale allows";
        }
    }
    /* strip leading zeros (fraction digits of values below 1) */
    for (k = 0; k < keep && all[k] == '0'; k++)
        ;
    *out_len = 0;
    if (k == keep) {
        *negative = 0; /* zero; a sign on zero is irrelevant */
        return NULL;
    }
    if (shift > 0 && (long long)(keep - k) + shift > precision)
        return "has more digits than the precision allows";
    if ((long long)(keep - k) > precision)
        return "has more digits than the precision allows";
    memcpy(out, all + k, keep - k);
    *out_len = keep - k;
    for (; shift > 0; shift--)
        out[(*out_len)++] = '0';
    return NULL;
}

/*
 * Digits (most significant first) to big-endian two's complement, minimal length, in the last
 * bytes of `out` (DECIMAL_MAX_BYTES); returns the start index.
 */
static size_t decimal_to_twos(const char *dig, size_t n, int negative, uint8_t *out)
{
    size_t i;
    size_t j;
    size_t start;
    unsigned carry;

    memset(out, 0, DECIMAL_MAX_BYTES);
    for (i = 0; i < n; i++) {
        carry = (unsigned)(dig[i] - '0');
        for (j = DECIMAL_MAX_BYTES; j-- > 0;) {
            unsigned v = out[j] * 10u + carry;

            out[j] = (uint8_t)v;
            carry = v >> 8;
        }
    }
    if (negative) {
        carry = 1;
        for (j = DECIMAL_MAX_BYTES; j-- > 0;) {
            unsigned v = (uint8_t)~out[j] + carry;

            out[j] = (uint8_t)v;
            carry = v >> 8;
        }
    }
    start = 0;
    while (start + 1 < DECIMAL_MAX_BYTES && ((out[start] == 0x00 && !(out[start + 1] & 0x80)) ||
                                             (out[start] == 0xFF && (out[start + 1] & 0x80))))
        start++;
    return start;
}

/* Shortest decimal text that reads back as exactly `d`. */
static void double_shortest(double d, char *out, size_t out_size)
{
    int prec;

    char *p;

    for (prec = 1; prec <= 17; prec++) {
        snprintf(out, out_size, "%.*e", prec - 1, d);
        if (strtod(out, NULL) == d)
            break;
    }
    /* under a locale with another decimal point, printf wrote that one */
    for (p = out; *p; p++) {
        if (!(*p >= '0' && *p <= '9') && *p != '-' && *p != '+' && *p != 'e')
            *p = '.';
    }
}

/* ---- leaf encoders, shared by both walkers ----------------------------------------------- *
 *
 * Each takes the value as the walker read it (a byte span, a number) and writes its Avro form.
 * ctx is the jansson path's context, for its messages; the fast path passes NULL and gets the
 * bare ENC_MISMATCH.
 */

/* Unscaled decimal digits to a bytes or fixed decimal. */
static int leaf_decimal_put(struct enc_ctx *ctx, outbox_buf *buf, const outbox_avro_node *node,
                            const char *unscaled, size_t n, int negative)
{
    uint8_t twos[DECIMAL_MAX_BYTES];
    size_t start = decimal_to_twos(unscaled, n, negative, twos);
    size_t size = DECIMAL_MAX_BYTES - start;

    if (node->type == OUTBOX_AVRO_BYTES)
        return put_bytes(buf, twos + start, size);
    if (size > node->size)
        return enc_mismatch(ctx, "decimal value does not fit fixed(%zu)", node->size);
    if (outbox_buf_reserve(buf, node->size) != 0)
        return ENC_NOMEM;
    memset(buf->data + buf->len, (twos[start] & 0x80) ? 0xFF : 0x00, node->size - size);
    memcpy(buf->data + buf->len + node->size - size, twos + start, size);
    buf->len += node->size;
    return 0;
}

/* A decimal from its numeric text s (len bytes). */
static int leaf_decimal(struct enc_ctx *ctx, outbox_buf *buf, const outbox_avro_node *node,
                        const char *s, size_t len)
{
    char unscaled[DECIMAL_MAX_TEXT + 1];
    size_t n;
    int negative;
    const char *why;

    why = decimal_text_unscale(s, len, node->scale, node->precision, unscaled, &n, &negative);
    if (why != NULL)
        return enc_mismatch(ctx, "decimal(%d,%d) value \"%.*s\" %s", node->precision, node->scale,
                            (int)(len > 40 ? 40 : len), s, why);
    return leaf_decimal_put(ctx, buf, node, unscaled, n, negative);
}

/* Code points 0..255 of a valid UTF-8 string, one byte each (Avro JSON bytes/fixed). */
static int leaf_latin1(struct enc_ctx *ctx, outbox_buf *buf, const outbox_avro_node *node,
                       const uint8_t *s, size_t len)
{
    size_t count = 0;
    size_t i;
    uint8_t *p;

    for (i = 0; i < len; i++, count++) {
        if (s[i] >= 0x80) {
            if ((s[i] & 0xFE) != 0xC2)
                return enc_mismatch(ctx,
                                    "%s string has a character above U+00FF at offset "
                                    "%zu (one character per byte, 0-255)",
                                    node->type == OUTBOX_AVRO_FIXED ? "fixed" : "bytes", i);
            i++; /* valid UTF-8 (jansson, the tokenizer): one continuation byte follows */
        }
    }
    if (node->type == OUTBOX_AVRO_FIXED) {
        if (count != node->size)
            return enc_mismatch(ctx, "expected %zu bytes for fixed %s, got %zu", node->size,
                                node->name, count);
    } else if (put_long(buf, (int64_t)count) != 0) {
        return ENC_NOMEM;
    }
    if (count == 0) /* buf->data may still be NULL: no pointer arithmetic on it */
        return 0;
    if (outbox_buf_reserve(buf, count) != 0)
        return ENC_NOMEM;
    p = buf->data + buf->len;
    for (i = 0; i < len; i++) {
        if (s[i] >= 0x80) {
            *p++ = (uint8_t)(((s[i] & 0x03) << 6) | (s[i + 1] & 0x3F));
            i++;
        } else {
            *p++ = s[i];
        }
    }
    buf->len += count;
    return 0;
}

/* The 6-bit value of a base64 character (RFC 4648 standard alphabet), or -1. */
static int base64_value(uint8_t c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Bytes that base64 text of `len` characters (padding removed) decodes to, or SIZE_MAX when
 * its length or characters are not base64 (unused trailing bits must be zero, RFC 4648 3.5). */
static size_t base64_decoded_len(const uint8_t *s, size_t len)
{
    size_t i;

    if (len % 4 == 1)
        return SIZE_MAX;
    for (i = 0; i < len; i++) {
        if (base64_value(s[i]) < 0)
            return SIZE_MAX;
    }
    if ((len % 4 == 2 && (base64_value(s[len - 1]) & 0x0F) != 0) ||
        (len % 4 == 3 && (base64_value(s[len - 1]) & 0x03) != 0))
        return SIZE_MAX;
    return len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
}

/* A bytes or fixed value given as base64 text ('=' padding optional). */
static int leaf_base64(struct enc_ctx *ctx, outbox_buf *buf, const outbox_avro_node *node,
                       const uint8_t *s, size_t len)
{
    size_t text = len;
    size_t count;
    uint32_t acc = 0;
    int bits = 0;
    uint8_t *p;
    size_t i;

    if (text % 4 == 0 && text > 0 && s[text - 1] == '=')
        text -= (text > 1 && s[text - 2] == '=') ? 2 : 1;
    count = base64_decoded_len(s, text);
    if (count == SIZE_MAX) {
        if (ctx == NULL || ctx->quiet)
            return ENC_MISMATCH;
        return enc_expected_str(
            ctx, node->type == OUTBOX_AVRO_FIXED ? "fixed as base64" : "bytes as base64",
            (const char *)s, len);
    }
    if (node->type == OUTBOX_AVRO_FIXED) {
        if (count != node->size)
            return enc_mismatch(ctx, "expected %zu bytes for fixed %s, got %zu (base64)",
                                node->size, node->name, count);
    } else if (put_long(buf, (int64_t)count) != 0) {
        return ENC_NOMEM;
    }
    if (count == 0)
        return 0;
    if (outbox_buf_reserve(buf, count) != 0)
        return ENC_NOMEM;
    p = buf->data + buf->len;
    for (i = 0; i < text; i++) {
        acc = (acc << 6) | (uint32_t)base64_value(s[i]);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            *p++ = (uint8_t)(acc >> bits);
        }
    }
    buf->len += count;
    return 0;
}

/* A bytes or fixed value (not a decimal) in the JSON form its node chose. */
static inline int leaf_bytes(struct enc_ctx *ctx, outbox_buf *buf, const outbox_avro_node *node,
                             const char *s, size_t len)
{
    if (node->bytes_form == OUTBOX_AVRO_BYTES_BASE64)
        return leaf_base64(ctx, buf, node, (const uint8_t *)s, len);
    return leaf_latin1(ctx, buf, node, (const uint8_t *)s, len);
}

/* A string, or a uuid string. */
static inline int leaf_string(struct enc_ctx *ctx, outbox_buf *buf, const outbox_avro_node *node,
                              const char *s, size_t len)
{
    if (node->logical == OUTBOX_AVRO_LOGICAL_UUID && !uuid_valid(s, len))
        return enc_expected_str(ctx, "uuid string (8-4-4-4-12 hex digits)", s, len);
    return put_bytes(buf, s, len);
}

/* "out of range for int [-2147483648, 2147483647]" for an int or long node. */
#define RANGE_INT "int [-2147483648, 2147483647]"
#define RANGE_LONG "long [-9223372036854775808, 9223372036854775807]"
#define RANGE_FLOAT "float [-3.40282347e+38, 3.40282347e+38]"
#define RANGE_DOUBLE "double [-1.7976931348623157e+308, 1.7976931348623157e+308]"

static inline const char *integer_range(const outbox_avro_node *node)
{
    return node->type == OUTBOX_AVRO_INT ? RANGE_INT : RANGE_LONG;
}

/* A number written as `s` (len bytes) that does not fit `range`. */
static int enc_out_of_range(struct enc_ctx *ctx, const char *s, size_t len, const char *range)
{
    if (ctx == NULL || ctx->quiet)
        return ENC_MISMATCH;
    return enc_mismatch(ctx, "value %.*s%s out of range for %s", (int)(len > 40 ? 40 : len), s,
                        len > 40 ? "..." : "", range);
}

/* An int (range-checked) or a long. */
static inline int leaf_integer(struct enc_ctx *ctx, outbox_buf *buf, const outbox_avro_node *node,
                               int64_t v)
{
    if (node->type == OUTBOX_AVRO_INT && (v < INT32_MIN || v > INT32_MAX)) {
        if (ctx == NULL || ctx->quiet)
            return ENC_MISMATCH;
        return enc_mismatch(ctx, "value %lld out of range for " RANGE_INT, (long long)v);
    }
    return put_long(buf, v);
}

/* strcmp(s, literal) == 0 for a string that may hold NULs (what jansson's value compares). */
static inline int cstr_equal(const char *s, size_t len, const char *literal)
{
    size_t n = strlen(literal);

    return strnlen(s, len) == n && memcmp(s, literal, n) == 0;
}

/* The strings a float or double takes for the values JSON numbers cannot write. */
static int real_special(const char *s, size_t len, double *d)
{
    if (cstr_equal(s, len, "NaN"))
        *d = NAN;
    else if (cstr_equal(s, len, "Infinity"))
        *d = INFINITY;
    else if (cstr_equal(s, len, "-Infinity"))
        *d = -INFINITY;
    else
        return 0;
    return 1;
}

/* A float (range-checked) or a double. */
static inline int leaf_real(struct enc_ctx *ctx, outbox_buf *buf, const outbox_avro_node *node,
                            double d)
{
    uint32_t bits32;
    uint64_t bits64;
    float f;

    if (node->type == OUTBOX_AVRO_FLOAT) {
        if (isfinite(d) && fabs(d) > FLT_MAX)
            return enc_mismatch(ctx, "value %g out of range for " RANGE_FLOAT, d);
        f = (float)d;
        memcpy(&bits32, &f, sizeof(bits32));
        return put_le(buf, bits32, 4);
    }
    memcpy(&bits64, &d, sizeof(bits64));
    return put_le(buf, bits64, 8);
}

static inline int leaf_boolean(outbox_buf *buf, int truth)
{
    return outbox_buf_append_byte(buf, truth ? 1 : 0) != 0 ? ENC_NOMEM : 0;
}

/* An enum symbol by name. */
static int leaf_enum(struct enc_ctx *ctx, outbox_buf *buf, const outbox_avro_node *node,
                     const char *s, size_t len)
{
    char list[128];
    size_t used = 0;
    size_t i;

    for (i = 0; i < node->n; i++) {
        if (node->symbol_lens[i] == len && memcmp(node->symbols[i], s, len) == 0)
            return put_long(buf, (int64_t)i);
    }
    if (ctx == NULL || ctx->quiet)
        return ENC_MISMATCH;
    list[0] = '\0';
    for (i = 0; i < node->n && used < sizeof(list); i++) {
        int n = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", node->symbols[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    return enc_mismatch(ctx, "\"%.*s\" is not a symbol of enum %s (%s)", (int)(len > 40 ? 40 : len),
                        s, node->name, list);
}

/* leaf_time_text(): the node's logical type has no text form. */
#define LEAF_NO_TEXT (-1)

/* A date, time or timestamp string for an int or long of that logical type. */
static int leaf_time_text(struct enc_ctx *ctx, outbox_buf *buf, const outbox_avro_node *node,
                          const char *s, size_t len)
{
    const char *expected;
    size_t used = len;
    int64_t v;
    int ok;

    switch (node->logical) {
    case OUTBOX_AVRO_LOGICAL_DATE:
        ok = parse_date_text(s, len, &v);
        expected = "date string YYYY-MM-DD or integer";
        break;
    case OUTBOX_AVRO_LOGICAL_TIME_MILLIS:
        ok = parse_time_text(s, len, 1000, &v, &used);
        expected = "time string HH:MM:SS[.fff] or integer";
        break;
    case OUTBOX_AVRO_LOGICAL_TIME_MICROS:
        ok = parse_time_text(s, len, 1000000, &v, &used);
        expected = "time string HH:MM:SS[.ffffff] or integer";
        break;
    case OUTBOX_AVRO_LOGICAL_TIMESTAMP_MILLIS:
    case OUTBOX_AVRO_LOGICAL_TIMESTAMP_MICROS:
        ok = parse_timestamp_text(
            s, len, node->logical == OUTBOX_AVRO_LOGICAL_TIMESTAMP_MILLIS ? 1000 : 1000000, 0, &v);
        expected = "RFC 3339 timestamp string with offset or integer";
        break;
    case OUTBOX_AVRO_LOGICAL_LOCAL_TIMESTAMP_MILLIS:
    case OUTBOX_AVRO_LOGICAL_LOCAL_TIMESTAMP_MICROS:
        ok = parse_timestamp_text(
            s, len, node->logical == OUTBOX_AVRO_LOGICAL_LOCAL_TIMESTAMP_MILLIS ? 1000 : 1000000, 1,
            &v);
        expected = "local timestamp string YYYY-MM-DDTHH:MM:SS[.f] or integer";
        break;
    default:
        return LEAF_NO_TEXT;
    }
    if (!ok || used != len)
        return enc_expected_str(ctx, expected, s, len);
    return put_long(buf, v);
}

/* What an int or long (of its logical type) expected when the value is no integral number. */
static const char *integral_expected(const outbox_avro_node *node)
{
    switch (node->logical) {
    case OUTBOX_AVRO_LOGICAL_DATE:
        return "date string YYYY-MM-DD or integer";
    case OUTBOX_AVRO_LOGICAL_TIME_MILLIS:
        return "time string HH:MM:SS[.fff] or integer";
    case OUTBOX_AVRO_LOGICAL_TIME_MICROS:
        return "time string or integer";
    case OUTBOX_AVRO_LOGICAL_TIMESTAMP_MILLIS:
    case OUTBOX_AVRO_LOGICAL_TIMESTAMP_MICROS:
    case OUTBOX_AVRO_LOGICAL_LOCAL_TIMESTAMP_MILLIS:
    case OUTBOX_AVRO_LOGICAL_LOCAL_TIMESTAMP_MICROS:
        return "timestamp string or integer";
    default:
        return node->type == OUTBOX_AVRO_INT ? "int" : "long";
    }
}

/* strcmp(name, key) == 0 for a key of len bytes that holds no NUL. */
static inline int name_equal(const char *name, const char *key, size_t len)
{
    return strncmp(name, key, len) == 0 && name[len] == '\0';
}

/* The non-null branch a union's wrapped value {"<key>": value} names, or -1. */
static int union_branch_named(const outbox_avro_node *node, const char *key, size_t len)
{
    size_t i;

    for (i = 0; i < node->n; i++) {
        const outbox_avro_node *branch = node->branches[i];

        if (branch->type != OUTBOX_AVRO_NULL &&
            (name_equal(branch->name, key, len) || name_equal(branch->short_name, key, len)))
            return (int)i;
    }
    return -1;
}

/* The one non-null branch of a union such as ["null", X], or -1 when there are more (or none). */
static int union_only_branch(const outbox_avro_node *node)
{
    int only = -1;
    size_t i;

    for (i = 0; i < node->n; i++) {
        if (node->branches[i]->type == OUTBOX_AVRO_NULL)
            continue;
        if (only >= 0)
            return -1;
        only = (int)i;
    }
    return only;
}

/* ---- encoding a json_t -------------------------------------------------------------------- */

/* An int or long given a value that is no integral number in range: say which it is. */
static int enc_not_integral(struct enc_ctx *ctx, const outbox_avro_node *node, const json_t *json)
{
    const struct enc_note *note;
    char text[64];
    double d;

    if (ctx->quiet)
        return ENC_MISMATCH;
    note = enc_note_of(ctx, json);
    if (note != NULL)
        return enc_out_of_range(ctx, note->text, note->len, integer_range(node));
    if (json_is_real(json)) {
        d = json_real_value(json);
        /* integral but beyond any long, or (for an int) beyond 2^53: out of range */
        if (d == floor(d) && (fabs(d) >= 9223372036854775808.0 ||
                              (node->type == OUTBOX_AVRO_INT && fabs(d) > 2147483648.0))) {
            snprintf(text, sizeof(text), "%.17g", d);
            return enc_out_of_range(ctx, text, strlen(text), integer_range(node));
        }
    }
    return enc_expected(ctx, integral_expected(node), json);
}

static int enc_decimal(struct enc_ctx *ctx, const outbox_avro_node *node, const json_t *json)
{
    char text[64];

    if (json_is_string(json))
        return leaf_decimal(ctx, ctx->buf, node, json_string_value(json), json_string_length(json));
    if (json_is_integer(json))
        return leaf_decimal(ctx, ctx->buf, node, text,
                            (size_t)snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT,
                                             json_integer_value(json)));
    if (json_is_real(json)) {
        const struct enc_note *note = enc_note_of(ctx, json);

        if (note != NULL) /* a BIGNUM: its exact text, as on the fast path */
            return leaf_decimal(ctx, ctx->buf, node, note->text, note->len);
        double_shortest(json_real_value(json), text, sizeof(text));
        return leaf_decimal(ctx, ctx->buf, node, text, strlen(text));
    }
    return enc_expected(ctx, "decimal number or numeric string", json);
}

static int enc_value(struct enc_ctx *ctx, const outbox_avro_node *node, const json_t *json);

static int enc_field_default(struct enc_ctx *ctx, const outbox_avro_field *field)
{
    const outbox_avro_node *type = field->type;

    if (field->default_bin != NULL) {
        if (outbox_buf_append(ctx->buf, field->default_bin, field->default_len) != 0)
            return ENC_NOMEM;
        return 0;
    }
    /* Only while the schema is being compiled: defaults of unions are for branch 0. */
    if (type->type == OUTBOX_AVRO_UNION) {
        if (type->n == 0)
            return enc_mismatch(ctx, "an empty union has no values");
        if (put_long(ctx->buf, 0) != 0)
            return ENC_NOMEM;
        type = type->branches[0];
    }
    return enc_value(ctx, type, field->default_json);
}

static int enc_record(struct enc_ctx *ctx, const outbox_avro_node *node, const json_t *json)
{
    const outbox_avro_field *field;
    const json_t *value;
    size_t i;
    int rc;

    if (!json_is_object(json)) {
        if (ctx->quiet)
            return ENC_MISMATCH;
        return enc_mismatch(ctx, "expected object for record %s, got %s", node->name,
                            json_kind(json));
    }
    for (i = 0; i < node->n; i++) {
        field = &node->fields[i];
        value = json_object_getn(json, field->name, field->name_len);
        if (value != NULL) {
            rc = enc_value(ctx, field->type, value);
        } else if (field->has_default) {
            rc = enc_field_default(ctx, field);
        } else {
            path_add(&ctx->path, SEG_FIELD, field->name, field->name_len, 0);
            return ENC_MISSING;
        }
        if (rc != 0) {
            if (rc != ENC_NOMEM)
                path_add(&ctx->path, SEG_FIELD, field->name, field->name_len, 0);
            return rc;
        }
    }
    return 0;
}

static int enc_enum(struct enc_ctx *ctx, const outbox_avro_node *node, const json_t *json)
{
    if (!json_is_string(json)) {
        if (ctx->quiet)
            return ENC_MISMATCH;
        return enc_mismatch(ctx, "expected symbol of enum %s, got %s", node->name, json_kind(json));
    }
    return leaf_enum(ctx, ctx->buf, node, json_string_value(json), json_string_length(json));
}

static int enc_array(struct enc_ctx *ctx, const outbox_avro_node *node, const json_t *json)
{
    size_t n;
    size_t i;
    int rc;

    if (!json_is_array(json))
        return enc_expected(ctx, "array", json);
    n = json_array_size(json);
    if (n > 0) {
        if (put_long(ctx->buf, (int64_t)n) != 0)
            return ENC_NOMEM;
        for (i = 0; i < n; i++) {
            rc = enc_value(ctx, node->items, json_array_get(json, i));
            if (rc != 0) {
                if (rc != ENC_NOMEM)
                    path_add(&ctx->path, SEG_INDEX, NULL, 0, i);
                return rc;
            }
        }
    }
    return put_long(ctx->buf, 0);
}

static int enc_map(struct enc_ctx *ctx, const outbox_avro_node *node, const json_t *json)
{
    void *iter;
    size_t n;
    int rc;

    if (!json_is_object(json))
        return enc_expected(ctx, "object (map)", json);
    n = json_object_size(json);
    if (n > 0) {
        if (put_long(ctx->buf, (int64_t)n) != 0)
            return ENC_NOMEM;
        for (iter = json_object_iter((json_t *)json); iter != NULL;
             iter = json_object_iter_next((json_t *)json, iter)) {
            const char *key = json_object_iter_key(iter);
            size_t key_len = json_object_iter_key_len(iter);

            if (put_bytes(ctx->buf, key, key_len) != 0)
                return ENC_NOMEM;
            rc = enc_value(ctx, node->items, json_object_iter_value(iter));
            if (rc != 0) {
                if (rc != ENC_NOMEM)
                    path_add(&ctx->path, SEG_KEY, key, key_len, 0);
                return rc;
            }
        }
    }
    return put_long(ctx->buf, 0);
}

static void union_describe(const outbox_avro_node *node, char *out, size_t out_size)
{
    size_t used = 0;
    size_t i;
    int n;

    out[0] = '\0';
    for (i = 0; i < node->n && used < out_size; i++) {
        n = snprintf(out + used, out_size - used, "%s%s", i ? ", " : "", node->branches[i]->name);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

/* Index of the branch a one-member object {"<branch name>": value} names, or -1. */
static int union_wrapped_branch(const outbox_avro_node *node, const json_t *json,
                                const json_t **inner)
{
    void *iter;
    const char *key;
    int i;

    if (!json_is_object(json) || json_object_size(json) != 1)
        return -1;
    iter = json_object_iter((json_t *)json);
    key = json_object_iter_key(iter);
    i = union_branch_named(node, key, strlen(key));
    if (i >= 0)
        *inner = json_object_iter_value(iter);
    return i;
}

static int enc_union_plain(struct enc_ctx *ctx, const outbox_avro_node *node, const json_t *json);

static int enc_union(struct enc_ctx *ctx, const outbox_avro_node *node, const json_t *json)
{
    const json_t *inner = NULL;
    size_t mark = ctx->buf->len;
    size_t path_mark = ctx->path.n;
    int saved_quiet = ctx->quiet;
    int wrapped;
    int rc;

    if (json_is_null(json)) {
        if (node->null_branch < 0)
            return enc_union_plain(ctx, node, json); /* reports the mismatch */
        ctx->union_branch = node->null_branch;
        return put_long(ctx->buf, node->null_branch);
    }
    wrapped = union_wrapped_branch(node, json, &inner);
    if (wrapped < 0)
        return enc_union_plain(ctx, node, json);
    /* Avro JSON style {"<branch name>": value} first; if that reading fails, the object may
     * still be a plain map or record value; if both fail, the wrapped reading's error is the
     * one worth reporting. */
    ctx->quiet = 1;
    rc = put_long(ctx->buf, wrapped);
    if (rc == 0)
        rc = enc_value(ctx, node->branches[wrapped], inner);
    ctx->quiet = saved_quiet;
    if (rc == 0 || enc_fatal(rc)) {
        ctx->union_branch = wrapped;
        return rc;
    }
    ctx->buf->len = mark;
    ctx->path.n = path_mark;
    rc = enc_union_plain(ctx, node, json);
    if (rc == 0 || enc_fatal(rc))
        return rc;
    ctx->buf->len = mark;
    ctx->path.n = path_mark;
    rc = put_long(ctx->buf, wrapped);
    if (rc == 0)
        rc = enc_value(ctx, node->branches[wrapped], inner);
    return rc;
}

/* A union value that is not null and not wrapped. */
static int enc_union_plain(struct enc_ctx *ctx, const outbox_avro_node *node, const json_t *json)
{
    size_t mark;
    size_t path_mark;
    int saved_quiet;
    int only;
    size_t i;
    int rc;

    if (json_is_null(json))
        goto mismatch;
    only = union_only_branch(node);
    if (only >= 0) {
        /* ["null", X]: no guessing, and X's own error message is the precise one. */
        if (put_long(ctx->buf, only) != 0)
            return ENC_NOMEM;
        rc = enc_value(ctx, node->branches[only], json);
        ctx->union_branch = only;
        return rc;
    }
    /* First non-null branch that takes the value. */
    saved_quiet = ctx->quiet;
    ctx->quiet = 1;
    for (i = 0; i < node->n; i++) {
        if (node->branches[i]->type == OUTBOX_AVRO_NULL)
            continue;
        mark = ctx->buf->len;
        path_mark = ctx->path.n;
        if (put_long(ctx->buf, (int64_t)i) != 0) {
            ctx->quiet = saved_quiet;
            return ENC_NOMEM;
        }
        rc = enc_value(ctx, node->branches[i], json);
        if (rc == 0 || enc_fatal(rc)) {
            ctx->quiet = saved_quiet;
            ctx->union_branch = (int)i;
            return rc;
        }
        ctx->buf->len = mark;
        ctx->path.n = path_mark;
    }
    ctx->quiet = saved_quiet;
mismatch:
    if (ctx->quiet)
        return ENC_MISMATCH;
    {
        char list[160];

        union_describe(node, list, sizeof(list));
        return enc_mismatch(ctx, "expected one of [%s], got %s", list, json_kind(json));
    }
}

static int enc_value(struct enc_ctx *ctx, const outbox_avro_node *node, const json_t *json)
{
    int64_t v;
    double d;
    int rc;

    switch (node->type) {
    case OUTBOX_AVRO_NULL:
        if (!json_is_null(json))
            return enc_expected(ctx, "null", json);
        return 0;
    case OUTBOX_AVRO_BOOLEAN:
        if (!json_is_boolean(json))
            return enc_expected(ctx, "boolean", json);
        return leaf_boolean(ctx->buf, json_is_true(json));
    case OUTBOX_AVRO_INT:
    case OUTBOX_AVRO_LONG:
        if (json_is_string(json)) {
            rc = leaf_time_text(ctx, ctx->buf, node, json_string_value(json),
                                json_string_length(json));
            if (rc != LEAF_NO_TEXT)
                return rc;
        }
        /* a BIGNUM is beyond any long (its stand-in real may look integral) */
        if (enc_note_of(ctx, json) != NULL || !json_integral(json, &v))
            return enc_not_integral(ctx, node, json);
        return leaf_integer(ctx, ctx->buf, node, v);
    case OUTBOX_AVRO_FLOAT:
    case OUTBOX_AVRO_DOUBLE:
        if (json_is_number(json)) {
            const struct enc_note *note = enc_note_of(ctx, json);

            d = note != NULL ? note->value : json_number_value(json);
            if (note != NULL && !isfinite(d)) /* JSON numbers never spell NaN or Infinity */
                return enc_out_of_range(ctx, note->text, note->len,
                                        node->type == OUTBOX_AVRO_FLOAT ? RANGE_FLOAT
                                                                        : RANGE_DOUBLE);
        } else if (!json_is_string(json) ||
                   !real_special(json_string_value(json), json_string_length(json), &d)) {
            return enc_expected(ctx, node->type == OUTBOX_AVRO_FLOAT ? "float" : "double", json);
        }
        return leaf_real(ctx, ctx->buf, node, d);
    case OUTBOX_AVRO_STRING:
        if (!json_is_string(json))
            return enc_expected(
                ctx, node->logical == OUTBOX_AVRO_LOGICAL_UUID ? "uuid string" : "string", json);
        return leaf_string(ctx, ctx->buf, node, json_string_value(json), json_string_length(json));
    case OUTBOX_AVRO_BYTES:
    case OUTBOX_AVRO_FIXED:
        if (node->logical == OUTBOX_AVRO_LOGICAL_DECIMAL)
            return enc_decimal(ctx, node, json);
        if (!json_is_string(json)) {
            if (node->bytes_form == OUTBOX_AVRO_BYTES_BASE64)
                return enc_expected(ctx,
                                    node->type == OUTBOX_AVRO_BYTES ? "bytes as a base64 string"
                                                                    : "fixed as a base64 string",
                                    json);
            if (node->type == OUTBOX_AVRO_BYTES)
                return enc_expected(ctx, "bytes as a string of code points 0-255", json);
            return enc_expected(ctx, "fixed as a string of code points 0-255", json);
        }
        return leaf_bytes(ctx, ctx->buf, node, json_string_value(json), json_string_length(json));
    case OUTBOX_AVRO_ENUM:
        return enc_enum(ctx, node, json);
    case OUTBOX_AVRO_RECORD:
    case OUTBOX_AVRO_ARRAY:
    case OUTBOX_AVRO_MAP:
    case OUTBOX_AVRO_UNION:
        if (++ctx->depth > CODEC_MAX_DEPTH) {
            ctx->depth--;
            return enc_mismatch(ctx, "value nested deeper than %d levels", CODEC_MAX_DEPTH);
        }
        if (node->type == OUTBOX_AVRO_RECORD)
            rc = enc_record(ctx, node, json);
        else if (node->type == OUTBOX_AVRO_ARRAY)
            rc = enc_array(ctx, node, json);
        else if (node->type == OUTBOX_AVRO_MAP)
            rc = enc_map(ctx, node, json);
        else
            rc = enc_union(ctx, node, json);
        ctx->depth--;
        return rc;
    }
    if (!ctx->quiet)
        snprintf(ctx->msg, sizeof(ctx->msg), "unsupported schema node type %d", (int)node->type);
    return ENC_INTERNAL;
}

const char *outbox_avro_enc_rc_name(outbox_avro_enc_rc rc)
{
    switch (rc) {
    case OUTBOX_AVRO_ENC_OK:
        return "ok";
    case OUTBOX_AVRO_ENC_NOT_JSON:
        return "not_json";
    case OUTBOX_AVRO_ENC_MISMATCH:
        return "mismatch";
    case OUTBOX_AVRO_ENC_NOMEM:
        return "nomem";
    case OUTBOX_AVRO_ENC_INTERNAL:
        return "internal";
    case OUTBOX_AVRO_ENC_DECLINED:
        return "declined";
    }
    return "unknown";
}

/* Map an encoder failure to a result code and a message. */
static outbox_avro_enc_rc enc_finish(struct enc_ctx *ctx, int rc, char *errstr, size_t errstr_size)
{
    char where[512];

    if (rc == 0)
        return OUTBOX_AVRO_ENC_OK;
    if (rc == ENC_NOMEM) {
        outbox_errstr_set(errstr, errstr_size, "out of memory while encoding");
        return OUTBOX_AVRO_ENC_NOMEM;
    }
    path_render(&ctx->path, where, sizeof(where));
    if (rc == ENC_INTERNAL) {
        outbox_errstr_set(errstr, errstr_size, "internal encoder error at %s: %s", where, ctx->msg);
        return OUTBOX_AVRO_ENC_INTERNAL;
    }
    if (rc == ENC_MISSING)
        outbox_errstr_set(errstr, errstr_size, "missing required field %s", where);
    else
        outbox_errstr_set(errstr, errstr_size, "schema mismatch at %s: %s", where, ctx->msg);
    return OUTBOX_AVRO_ENC_MISMATCH;
}

outbox_avro_enc_rc outbox_avro_json_encode_node(const outbox_avro_node *node, const json_t *value,
                                                outbox_buf *buf, char *errstr, size_t errstr_size)
{
    struct enc_ctx ctx;
    size_t mark = buf->len;
    int rc;

    enc_ctx_init(&ctx, buf, 0);
    rc = enc_value(&ctx, node, value);
    if (rc != 0)
        buf->len = mark;
    return enc_finish(&ctx, rc, errstr, errstr_size);
}

outbox_avro_enc_rc outbox_avro_json_encode(const outbox_schema *schema, const json_t *value,
                                           outbox_buf *buf, char *errstr, size_t errstr_size)
{
    return outbox_avro_json_encode_node(outbox_schema_root(schema), value, buf, errstr,
                                        errstr_size);
}

outbox_avro_enc_rc outbox_avro_json_encode_default(const outbox_avro_field *field, outbox_buf *buf,
                                                   char *errstr, size_t errstr_size)
{
    struct enc_ctx ctx;
    size_t mark = buf->len;
    int rc;

    if (!field->has_default) {
        outbox_errstr_set(errstr, errstr_size, "field %s has no default", field->name);
        return OUTBOX_AVRO_ENC_INTERNAL;
    }
    enc_ctx_init(&ctx, buf, 0);
    rc = enc_field_default(&ctx, field);
    if (rc != 0)
        buf->len = mark;
    return enc_finish(&ctx, rc, errstr, errstr_size);
}

/* ---- encoding JSON text (the fast path) --------------------------------------------------- *
 *
 * Mirrors enc_value() and its helpers case by case, on the tokens of avro_text.c instead of a
 * json_t. Messages are not formatted: any failure sends the caller to the jansson path, which
 * gives the established one. ENC_PUNT marks what the fast path does not decide itself (nesting
 * beyond CODEC_MAX_DEPTH, defaults not pre-encoded): it ends the whole encoding at once, also
 * inside a union trial, where a plain mismatch would move on to the next branch.
 */

#define ENC_PUNT 4

/* Above this many members a map's repeated keys are found with a hash table. */
#define TEXT_MAP_LINEAR_MAX 32

struct text_ctx {
    outbox_avro_scratch *scratch;
    const char *json;
    outbox_buf *buf;
    size_t marks_top; /* scratch->marks in use by the records and maps being encoded */
    int depth;
};

static int txt_value(struct text_ctx *ctx, const outbox_avro_node *node, uint32_t index);

static inline const outbox_avro_token *txt_tok(const struct text_ctx *ctx, uint32_t index)
{
    return &ctx->scratch->toks[index];
}

static inline const char *txt_str(const struct text_ctx *ctx, const outbox_avro_token *tok)
{
    return outbox_avro_tok_str(ctx->scratch, ctx->json, tok);
}

/* Reserve `n` more marks on the scratch's stack; returns the base index or SIZE_MAX. */
static size_t txt_marks_push(struct text_ctx *ctx, size_t n)
{
    outbox_avro_scratch *scratch = ctx->scratch;
    size_t base = ctx->marks_top;
    size_t need = base + n;
    size_t cap = scratch->marks_cap ? scratch->marks_cap : 64;
    uint32_t *marks;

    if (need > scratch->marks_cap) {
        while (cap < need) {
            if (cap > SIZE_MAX / 2 / sizeof(uint32_t))
                return SIZE_MAX;
            cap *= 2;
        }
        marks = realloc(scratch->marks, cap * sizeof(uint32_t));
        if (marks == NULL)
            return SIZE_MAX;
        scratch->marks = marks;
        scratch->marks_cap = cap;
    }
    ctx->marks_top = need;
    return base;
}

/* json_integral() on a token: 1 integral, 0 not, -1 out of memory. */
static int txt_integral(struct text_ctx *ctx, const outbox_avro_token *tok, int64_t *value)
{
    double d;

    if (tok->type == OUTBOX_AVRO_TOK_INTEGER) {
        *value = outbox_avro_tok_integer(ctx->json, tok);
        return 1;
    }
    if (tok->type == OUTBOX_AVRO_TOK_REAL) {
        if (outbox_avro_tok_double(ctx->scratch, ctx->json, tok, &d) != 0)
            return -1;
        return real_integral(d, value);
    }
    return 0;
}

/* Significant digits of a number's mantissa: first to last non-zero digit. */
static size_t txt_significant_digits(const char *s, size_t len)
{
    size_t first = SIZE_MAX;
    size_t last = 0;
    size_t count = 0;
    size_t i;

    for (i = 0; i < len && s[i] != 'e' && s[i] != 'E'; i++) {
        if (s[i] < '0' || s[i] > '9')
            continue;
        if (s[i] != '0') {
            if (first == SIZE_MAX)
                first = count;
            last = count;
        }
        count++;
    }
    return first == SIZE_MAX ? 0 : last - first + 1;
}

/*
 * enc_decimal() on a token. A JSON real is read the way the jansson path reads it: through its
 * double's shortest round-trip text. With at most 15 significant digits (DBL_DIG) that text
 * has the same value as the token's own digits, so when those digits fit the decimal they are
 * used directly and the slow conversion is skipped (same bytes).
 */
static int txt_decimal(struct text_ctx *ctx, const outbox_avro_node *node,
                       const outbox_avro_token *tok)
{
    char text[64];
    const char *s = ctx->json + tok->start;
    char unscaled[DECIMAL_MAX_TEXT + 1];
    size_t n;
    int negative;
    double d;

    if (tok->type == OUTBOX_AVRO_TOK_STRING)
        return leaf_decimal(NULL, ctx->buf, node, txt_str(ctx, tok), tok->len);
    /* an integer token is the "%lld" text of its value, but for "-0", which scales the same; a
     * BIGNUM is taken exactly, as the reference path takes it */
    if (tok->type == OUTBOX_AVRO_TOK_INTEGER || tok->type == OUTBOX_AVRO_TOK_BIGNUM)
        return leaf_decimal(NULL, ctx->buf, node, s, tok->len);
    if (tok->type != OUTBOX_AVRO_TOK_REAL)
        return ENC_MISMATCH;
    if (txt_significant_digits(s, tok->len) <= 15 &&
        decimal_text_unscale(s, tok->len, node->scale, node->precision, unscaled, &n, &negative) ==
            NULL)
        return leaf_decimal_put(NULL, ctx->buf, node, unscaled, n, negative);
    if (outbox_avro_tok_double(ctx->scratch, ctx->json, tok, &d) != 0)
        return ENC_NOMEM;
    double_shortest(d, text, sizeof(text));
    return leaf_decimal(NULL, ctx->buf, node, text, strlen(text));
}

/* enc_record(): each member is matched to its field once; a repeated key keeps its last value,
 * as in jansson's object. Members that are no field are ignored. */
static int txt_record(struct text_ctx *ctx, const outbox_avro_node *node, uint32_t index)
{
    const outbox_avro_token *tok = txt_tok(ctx, index);
    const outbox_avro_field *field;
    size_t base;
    uint32_t key;
    uint32_t value;
    size_t m;
    size_t i;
    int rc = 0;

    if (tok->type != OUTBOX_AVRO_TOK_OBJECT)
        return ENC_MISMATCH;
    base = txt_marks_push(ctx, node->n);
    if (base == SIZE_MAX)
        return ENC_NOMEM;
    memset(ctx->scratch->marks + base, 0, node->n * sizeof(uint32_t));
    for (m = 0, key = index + 1; m < tok->len; m++, key = txt_tok(ctx, value)->next) {
        const outbox_avro_token *k = txt_tok(ctx, key);
        const char *name = txt_str(ctx, k);

        value = key + 1;
        for (i = 0; i < node->n; i++) {
            field = &node->fields[i];
            if (field->name_len == k->len && memcmp(field->name, name, k->len) == 0) {
                ctx->scratch->marks[base + i] = value + 1;
                break;
            }
        }
    }
    for (i = 0; i < node->n && rc == 0; i++) {
        field = &node->fields[i];
        value = ctx->scratch->marks[base + i]; /* re-read: nested values may move the marks */
        if (value != 0)
            rc = txt_value(ctx, field->type, value - 1);
        else if (!field->has_default)
            rc = ENC_MISMATCH; /* missing required field */
        else if (field->default_bin == NULL)
            rc = ENC_PUNT;
        else if (outbox_buf_append(ctx->buf, field->default_bin, field->default_len) != 0)
            rc = ENC_NOMEM;
    }
    ctx->marks_top = base;
    return rc;
}

static uint32_t txt_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    size_t i;

    for (i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

static int txt_same_key(const struct text_ctx *ctx, uint32_t a, uint32_t b)
{
    const outbox_avro_token *ka = txt_tok(ctx, a);
    const outbox_avro_token *kb = txt_tok(ctx, b);

    return ka->len == kb->len && memcmp(txt_str(ctx, ka), txt_str(ctx, kb), ka->len) == 0;
}

/* enc_map(): like jansson's object, a repeated key counts once, keeps the place of its first
 * occurrence and the value of its last. */
static int txt_map(struct text_ctx *ctx, const outbox_avro_node *node, uint32_t index)
{
    const outbox_avro_token *tok = txt_tok(ctx, index);
    size_t members = tok->len;
    size_t table_size = 0;
    size_t unique = 0;
    size_t base;
    uint32_t *marks;
    uint32_t key;
    uint32_t value;
    size_t m;
    size_t j;
    int rc = 0;

    if (tok->type != OUTBOX_AVRO_TOK_OBJECT)
        return ENC_MISMATCH;
    if (members == 0)
        return put_long(ctx->buf, 0);
    if (members > TEXT_MAP_LINEAR_MAX)
        for (table_size = 64; table_size < 2 * members; table_size *= 2)
            ;
    /* unique (key, value) pairs, then the hash table when there is one */
    base = txt_marks_push(ctx, 2 * members + table_size);
    if (base == SIZE_MAX)
        return ENC_NOMEM;
    marks = ctx->scratch->marks + base;
    memset(marks + 2 * members, 0, table_size * sizeof(uint32_t));
    for (m = 0, key = index + 1; m < members; m++, key = txt_tok(ctx, value)->next) {
        value = key + 1;
        if (table_size == 0) {
            for (j = 0; j < unique && !txt_same_key(ctx, marks[2 * j], key); j++)
                ;
        } else {
            const outbox_avro_token *k = txt_tok(ctx, key);
            uint32_t *table = marks + 2 * members;
            size_t slot = txt_hash(txt_str(ctx, k), k->len) & (table_size - 1);

            for (; table[slot] != 0; slot = (slot + 1) & (table_size - 1)) {
                if (txt_same_key(ctx, marks[2 * (table[slot] - 1)], key))
                    break;
            }
            j = table[slot] != 0 ? table[slot] - 1 : unique;
            if (j == unique)
                table[slot] = (uint32_t)unique + 1;
        }
        if (j == unique) {
            marks[2 * unique] = key;
            unique++;
        }
        marks[2 * j + 1] = value;
    }
    if (put_long(ctx->buf, (int64_t)unique) != 0) {
        rc = ENC_NOMEM;
        goto done;
    }
    for (j = 0; j < unique && rc == 0; j++) {
        const outbox_avro_token *k;

        marks = ctx->scratch->marks + base; /* re-read: nested values may move the marks */
        k = txt_tok(ctx, marks[2 * j]);
        value = marks[2 * j + 1];
        if (put_bytes(ctx->buf, txt_str(ctx, k), k->len) != 0)
            rc = ENC_NOMEM;
        else
            rc = txt_value(ctx, node->items, value);
    }
    if (rc == 0)
        rc = put_long(ctx->buf, 0);
done:
    ctx->marks_top = base;
    return rc;
}

static int txt_array(struct text_ctx *ctx, const outbox_avro_node *node, uint32_t index)
{
    const outbox_avro_token *tok = txt_tok(ctx, index);
    uint32_t item;
    size_t i;
    int rc;

    if (tok->type != OUTBOX_AVRO_TOK_ARRAY)
        return ENC_MISMATCH;
    if (tok->len > 0) {
        if (put_long(ctx->buf, (int64_t)tok->len) != 0)
            return ENC_NOMEM;
        for (i = 0, item = index + 1; i < tok->len; i++, item = txt_tok(ctx, item)->next) {
            rc = txt_value(ctx, node->items, item);
            if (rc != 0)
                return rc;
        }
    }
    return put_long(ctx->buf, 0);
}

/* union_wrapped_branch(): an object whose members all have one key (jansson's size 1) that
 * names a non-null branch; *inner is the last member's value. */
static int txt_wrapped_branch(const struct text_ctx *ctx, const outbox_avro_node *node,
                              uint32_t index, uint32_t *inner)
{
    const outbox_avro_token *tok = txt_tok(ctx, index);
    const outbox_avro_token *k;
    uint32_t first = index + 1;
    uint32_t member;
    size_t m;

    if (tok->type != OUTBOX_AVRO_TOK_OBJECT || tok->len == 0)
        return -1;
    *inner = first + 1;
    for (m = 1, member = txt_tok(ctx, first + 1)->next; m < tok->len;
         m++, member = txt_tok(ctx, member + 1)->next) {
        if (!txt_same_key(ctx, first, member))
            return -1;
        *inner = member + 1;
    }
    k = txt_tok(ctx, first);
    return union_branch_named(node, txt_str(ctx, k), k->len);
}

/* enc_union_plain(). */
static int txt_union_plain(struct text_ctx *ctx, const outbox_avro_node *node, uint32_t index)
{
    size_t mark;
    int only;
    size_t i;
    int rc;

    if (txt_tok(ctx, index)->type == OUTBOX_AVRO_TOK_NULL)
        return ENC_MISMATCH;
    only = union_only_branch(node);
    if (only >= 0) {
        if (put_long(ctx->buf, only) != 0)
            return ENC_NOMEM;
        return txt_value(ctx, node->branches[only], index);
    }
    for (i = 0; i < node->n; i++) {
        if (node->branches[i]->type == OUTBOX_AVRO_NULL)
            continue;
        mark = ctx->buf->len;
        if (put_long(ctx->buf, (int64_t)i) != 0)
            return ENC_NOMEM;
        rc = txt_value(ctx, node->branches[i], index);
        if (rc == 0 || rc == ENC_NOMEM || rc == ENC_PUNT)
            return rc;
        ctx->buf->len = mark;
    }
    return ENC_MISMATCH;
}

/* enc_union(). */
static int txt_union(struct text_ctx *ctx, const outbox_avro_node *node, uint32_t index)
{
    size_t mark = ctx->buf->len;
    uint32_t inner = 0;
    int wrapped;
    int rc;

    if (txt_tok(ctx, index)->type == OUTBOX_AVRO_TOK_NULL) {
        if (node->null_branch < 0)
            return ENC_MISMATCH;
        return put_long(ctx->buf, node->null_branch);
    }
    wrapped = txt_wrapped_branch(ctx, node, index, &inner);
    if (wrapped < 0)
        return txt_union_plain(ctx, node, index);
    rc = put_long(ctx->buf, wrapped);
    if (rc == 0)
        rc = txt_value(ctx, node->branches[wrapped], inner);
    if (rc == 0 || rc == ENC_NOMEM || rc == ENC_PUNT)
        return rc;
    ctx->buf->len = mark;
    rc = txt_union_plain(ctx, node, index);
    if (rc == 0 || rc == ENC_NOMEM || rc == ENC_PUNT)
        return rc;
    ctx->buf->len = mark;
    return ENC_MISMATCH; /* the jansson path retries the wrapped reading for its message */
}

static int txt_value(struct text_ctx *ctx, const outbox_avro_node *node, uint32_t index)
{
    const outbox_avro_token *tok = txt_tok(ctx, index);
    int64_t v;
    double d;
    int rc;

    switch (node->type) {
    case OUTBOX_AVRO_NULL:
        return tok->type == OUTBOX_AVRO_TOK_NULL ? 0 : ENC_MISMATCH;
    case OUTBOX_AVRO_BOOLEAN:
        if (tok->type != OUTBOX_AVRO_TOK_TRUE && tok->type != OUTBOX_AVRO_TOK_FALSE)
            return ENC_MISMATCH;
        return leaf_boolean(ctx->buf, tok->type == OUTBOX_AVRO_TOK_TRUE);
    case OUTBOX_AVRO_INT:
    case OUTBOX_AVRO_LONG:
        if (tok->type == OUTBOX_AVRO_TOK_STRING && node->logical != OUTBOX_AVRO_LOGICAL_NONE) {
            rc = leaf_time_text(NULL, ctx->buf, node, txt_str(ctx, tok), tok->len);
            if (rc != LEAF_NO_TEXT)
                return rc;
        }
        rc = txt_integral(ctx, tok, &v);
        if (rc <= 0)
            return rc < 0 ? ENC_NOMEM : ENC_MISMATCH;
        return leaf_integer(NULL, ctx->buf, node, v);
    case OUTBOX_AVRO_FLOAT:
    case OUTBOX_AVRO_DOUBLE:
        if (tok->type == OUTBOX_AVRO_TOK_INTEGER || tok->type == OUTBOX_AVRO_TOK_REAL ||
            tok->type == OUTBOX_AVRO_TOK_BIGNUM) {
            if (outbox_avro_tok_double(ctx->scratch, ctx->json, tok, &d) != 0)
                return ENC_NOMEM;
            if (!isfinite(d)) /* a BIGNUM beyond a double's range */
                return ENC_MISMATCH;
        } else if (tok->type != OUTBOX_AVRO_TOK_STRING ||
                   !real_special(txt_str(ctx, tok), tok->len, &d)) {
            return ENC_MISMATCH;
        }
        return leaf_real(NULL, ctx->buf, node, d);
    case OUTBOX_AVRO_STRING:
        if (tok->type != OUTBOX_AVRO_TOK_STRING)
            return ENC_MISMATCH;
        return leaf_string(NULL, ctx->buf, node, txt_str(ctx, tok), tok->len);
    case OUTBOX_AVRO_BYTES:
    case OUTBOX_AVRO_FIXED:
        if (node->logical == OUTBOX_AVRO_LOGICAL_DECIMAL)
            return txt_decimal(ctx, node, tok);
        if (tok->type != OUTBOX_AVRO_TOK_STRING)
            return ENC_MISMATCH;
        return leaf_bytes(NULL, ctx->buf, node, txt_str(ctx, tok), tok->len);
    case OUTBOX_AVRO_ENUM:
        if (tok->type != OUTBOX_AVRO_TOK_STRING)
            return ENC_MISMATCH;
        return leaf_enum(NULL, ctx->buf, node, txt_str(ctx, tok), tok->len);
    case OUTBOX_AVRO_RECORD:
    case OUTBOX_AVRO_ARRAY:
    case OUTBOX_AVRO_MAP:
    case OUTBOX_AVRO_UNION:
        if (++ctx->depth > CODEC_MAX_DEPTH) {
            ctx->depth--;
            return ENC_PUNT;
        }
        if (node->type == OUTBOX_AVRO_RECORD)
            rc = txt_record(ctx, node, index);
        else if (node->type == OUTBOX_AVRO_ARRAY)
            rc = txt_array(ctx, node, index);
        else if (node->type == OUTBOX_AVRO_MAP)
            rc = txt_map(ctx, node, index);
        else
            rc = txt_union(ctx, node, index);
        ctx->depth--;
        return rc;
    }
    return ENC_PUNT;
}

outbox_avro_enc_rc outbox_avro_json_encode_text_fast(const outbox_schema *schema, const char *json,
                                                     size_t len, outbox_avro_scratch *scratch,
                                                     outbox_buf *buf, char *errstr,
                                                     size_t errstr_size)
{
    struct text_ctx ctx;
    size_t mark = buf->len;
    int rc;

    rc = outbox_avro_text_tokenize(scratch, json, len, errstr, errstr_size);
    if (rc == OUTBOX_AVRO_ERR_NOMEM)
        return OUTBOX_AVRO_ENC_NOMEM;
    if (rc != 0)
        return OUTBOX_AVRO_ENC_DECLINED;
    ctx.scratch = scratch;
    ctx.json = json;
    ctx.buf = buf;
    ctx.marks_top = 0;
    ctx.depth = 0;
    rc = txt_value(&ctx, outbox_schema_root(schema), 0);
    if (rc == 0)
        return OUTBOX_AVRO_ENC_OK;
    buf->len = mark;
    if (rc == ENC_NOMEM) {
        outbox_errstr_set(errstr, errstr_size, "out of memory while encoding");
        return OUTBOX_AVRO_ENC_NOMEM;
    }
    outbox_errstr_set(errstr, errstr_size, "%s",
                      rc == ENC_PUNT ? "not for the fast path: the reference path decides"
                                     : "schema mismatch: the reference path says where");
    return OUTBOX_AVRO_ENC_DECLINED;
}

/* ---- the reference path ------------------------------------------------------------------ *
 *
 * json_loadb() and outbox_avro_json_encode(): the exact reasons. Two things jansson cannot do are
 * done here with the tokenizer of the fast path:
 *  - tell "not JSON" from its own failures: it reports some allocation failures as syntax
 *    errors ("invalid token") or not at all (json_error_unknown, empty text); our tokenizer,
 *    which accepts exactly a subset of jansson's grammar, is the judge of "is this JSON";
 *  - hold numbers beyond int64 or a double (jsonb prints 1e19 as twenty digits): jansson fails
 *    the whole document ("too big integer"). JSON_DECODE_INT_AS_REAL is no way out: it would
 *    turn every integer into a double and lose int64 precision above 2^53. Instead the tree is
 *    built from the tokens: integers that fit stay json_integer, each BIGNUM becomes a real
 *    with a note of its exact text (struct enc_note), which the encoder consults: exact for
 *    float/double and decimal, "out of range for long [...]" for an int/long.
 */

struct tree_ctx {
    outbox_avro_scratch *scratch;
    const char *json;
    struct enc_note *notes; /* each holds a reference to its json_t, so no address is reused */
    size_t n_notes;
    size_t notes_cap;
};

static json_t *tree_value(struct tree_ctx *t, uint32_t index);

static json_t *tree_bignum(struct tree_ctx *t, const outbox_avro_token *tok)
{
    struct enc_note *notes;
    json_t *json;
    double d;

    if (outbox_avro_tok_double(t->scratch, t->json, tok, &d) != 0)
        return NULL;
    if (t->n_notes == t->notes_cap) {
        size_t cap = t->notes_cap ? t->notes_cap * 2 : 8;

        notes = realloc(t->notes, cap * sizeof(*notes));
        if (notes == NULL)
            return NULL;
        t->notes = notes;
        t->notes_cap = cap;
    }
    json = json_real(isfinite(d) ? d : 0.0);
    if (json == NULL)
        return NULL;
    t->notes[t->n_notes].json = json_incref(json);
    t->notes[t->n_notes].text = t->json + tok->start;
    t->notes[t->n_notes].len = tok->len;
    t->notes[t->n_notes].value = d;
    t->n_notes++;
    return json;
}

static json_t *tree_container(struct tree_ctx *t, uint32_t index)
{
    const outbox_avro_token *tok = &t->scratch->toks[index];
    int object = tok->type == OUTBOX_AVRO_TOK_OBJECT;
    json_t *json = object ? json_object() : json_array();
    uint32_t member = index + 1;
    uint32_t i;

    if (json == NULL)
        return NULL;
    for (i = 0; i < tok->len; i++) {
        const outbox_avro_token *key = &t->scratch->toks[member];
        uint32_t at = object ? member + 1 : member;
        json_t *item = tree_value(t, at);
        int rc;

        if (item == NULL) {
            json_decref(json);
            return NULL;
        }
        /* like json_loadb: a repeated key keeps its last value in the place of its first */
        rc = object ? json_object_setn_new_nocheck(
                          json, outbox_avro_tok_str(t->scratch, t->json, key), key->len, item)
                    : json_array_append_new(json, item);
        if (rc != 0) {
            json_decref(json);
            return NULL;
        }
        member = t->scratch->toks[at].next;
    }
    return json;
}

/* The json_t json_loadb() would give for token `index`, BIGNUMs noted; NULL: out of memory. */
static json_t *tree_value(struct tree_ctx *t, uint32_t index)
{
    const outbox_avro_token *tok = &t->scratch->toks[index];
    double d;

    switch ((outbox_avro_tok_type)tok->type) {
    case OUTBOX_AVRO_TOK_NULL:
        return json_null();
    case OUTBOX_AVRO_TOK_TRUE:
        return json_true();
    case OUTBOX_AVRO_TOK_FALSE:
        return json_false();
    case OUTBOX_AVRO_TOK_INTEGER:
        return json_integer(outbox_avro_tok_integer(t->json, tok));
    case OUTBOX_AVRO_TOK_REAL:
        if (outbox_avro_tok_double(t->scratch, t->json, tok, &d) != 0)
            return NULL;
        return json_real(d);
    case OUTBOX_AVRO_TOK_BIGNUM:
        return tree_bignum(t, tok);
    case OUTBOX_AVRO_TOK_STRING:
        return json_stringn_nocheck(outbox_avro_tok_str(t->scratch, t->json, tok), tok->len);
    case OUTBOX_AVRO_TOK_ARRAY:
    case OUTBOX_AVRO_TOK_OBJECT:
        return tree_container(t, index);
    }
    return NULL;
}

/* The reference encoding of the tokenized text in scratch, through a tree with noted BIGNUMs. */
static outbox_avro_enc_rc ref_encode_tokens(const outbox_schema *schema, const char *json,
                                            outbox_avro_scratch *scratch, outbox_buf *buf,
                                            char *errstr, size_t errstr_size)
{
    struct tree_ctx t = {scratch, json, NULL, 0, 0};
    struct enc_ctx ctx;
    outbox_avro_enc_rc result;
    size_t mark = buf->len;
    json_t *value;
    size_t i;
    int rc;

    value = tree_value(&t, 0);
    if (value == NULL) {
        outbox_errstr_set(errstr, errstr_size, "out of memory while building the JSON tree");
        result = OUTBOX_AVRO_ENC_NOMEM;
        goto done;
    }
    enc_ctx_init(&ctx, buf, 0);
    ctx.notes = t.notes;
    ctx.n_notes = t.n_notes;
    rc = enc_value(&ctx, outbox_schema_root(schema), value);
    if (rc != 0)
        buf->len = mark;
    result = enc_finish(&ctx, rc, errstr, errstr_size);
done:
    json_decref(value);
    for (i = 0; i < t.n_notes; i++)
        json_decref((json_t *)t.notes[i].json);
    free(t.notes);
    return result;
}

/*
 * json_loadb() failed: classify it with the tokenizer's verdict, or encode the tokens when only
 * jansson's number range stood in the way.
 *   tokenizer accepted the text   a number jansson cannot hold: encode from the tokens;
 *                                 anything else is jansson's own failure: out of memory
 *   tokenizer: not JSON           NOT_JSON, with jansson's reason when it is about the syntax
 *   tokenizer: beyond its limits  jansson decides: its syntax errors are NOT_JSON, a number it
 *                                 cannot hold MISMATCH (the codec could not take such a deep
 *                                 document either), the rest NOMEM
 */
static outbox_avro_enc_rc ref_load_failed(const outbox_schema *schema, const char *json, size_t len,
                                          outbox_avro_scratch *scratch, const json_error_t *jerr,
                                          outbox_buf *buf, char *errstr, size_t errstr_size)
{
    enum json_error_code code = json_error_code(jerr);
    int jansson_oom = code == json_error_out_of_memory || code == json_error_unknown;
    char tok_err[128];
    int tok_rc;

    tok_rc = outbox_avro_text_tokenize(scratch, json, len, tok_err, sizeof(tok_err));
    if (tok_rc == 0 && code == json_error_numeric_overflow)
        return ref_encode_tokens(schema, json, scratch, buf, errstr, errstr_size);
    if (tok_rc == OUTBOX_AVRO_ERR_NOMEM || tok_rc == 0 || (scratch->over_limit && jansson_oom)) {
        outbox_errstr_set(errstr, errstr_size, "out of memory while parsing JSON (jansson: %s)",
                          jerr->text[0] ? jerr->text : "no reason given");
        return OUTBOX_AVRO_ENC_NOMEM;
    }
    if (scratch->over_limit && code == json_error_numeric_overflow) {
        outbox_errstr_set(errstr, errstr_size,
                          "schema mismatch at top level: %s, with a number beyond int64 or "
                          "double (%s at line %d column %d)",
                          tok_err, jerr->text, jerr->line, jerr->column);
        return OUTBOX_AVRO_ENC_MISMATCH;
    }
    if (jansson_oom || code == json_error_numeric_overflow)
        outbox_errstr_set(errstr, errstr_size, "not valid JSON: %s", tok_err);
    else
        outbox_errstr_set(errstr, errstr_size, "not valid JSON: %s at line %d column %d",
                          jerr->text, jerr->line, jerr->column);
    return OUTBOX_AVRO_ENC_NOT_JSON;
}

outbox_avro_enc_rc outbox_avro_json_encode_text_reference(const outbox_schema *schema,
                                                          const char *json, size_t len,
                                                          outbox_avro_scratch *scratch,
                                                          outbox_buf *buf, char *errstr,
                                                          size_t errstr_size)
{
    size_t flags = JSON_DECODE_ANY;
    outbox_avro_enc_rc rc;
    json_error_t jerr;
    json_t *value;

    if (scratch->flags & OUTBOX_AVRO_TEXT_ALLOW_NUL)
        flags |= JSON_ALLOW_NUL;
    memset(&jerr, 0, sizeof(jerr)); /* a failure jansson does not report leaves the code 0 */
    value = json_loadb(json, len, flags, &jerr);
    if (value == NULL)
        return ref_load_failed(schema, json, len, scratch, &jerr, buf, errstr, errstr_size);
    rc = outbox_avro_json_encode(schema, value, buf, errstr, errstr_size);
    json_decref(value);
    return rc;
}

outbox_avro_enc_rc outbox_avro_json_encode_text(const outbox_schema *schema, const char *json,
                                                size_t len, outbox_avro_scratch *scratch,
                                                outbox_buf *buf, char *errstr, size_t errstr_size)
{
    outbox_avro_enc_rc rc;

    rc = outbox_avro_json_encode_text_fast(schema, json, len, scratch, buf, errstr, errstr_size);
    if (rc != OUTBOX_AVRO_ENC_DECLINED)
        return rc;
    return outbox_avro_json_encode_text_reference(schema, json, len, scratch, buf, errstr,
                                                  errstr_size);
}

/* ---- decoding ---------------------------------------------------------------------------- */

enum dec_fail { DEC_TRUNCATED = 1, DEC_MALFORMED = 2, DEC_NOMEM = 3 };

struct dec_ctx {
    const uint8_t *start;
    const uint8_t *p;
    const uint8_t *end;
    unsigned flags;
    int depth;
    outbox_buf scratch; /* union branch checks and byte-string rendering */
    struct path path;
    size_t fail_offset;
    char msg[256];
};

static int dec_fail(struct dec_ctx *ctx, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int dec_fail(struct dec_ctx *ctx, int rc, const char *fmt, ...)
{
    va_list ap;

    ctx->fail_offset = (size_t)(ctx->p - ctx->start);
    va_start(ap, fmt);
    vsnprintf(ctx->msg, sizeof(ctx->msg), fmt, ap);
    va_end(ap);
    return rc;
}

/* Zigzag varint of at most `max_bytes` (10 for long, 5 for int). */
static int get_varint(struct dec_ctx *ctx, int max_bytes, const char *what, int64_t *out)
{
    const uint8_t *p = ctx->p;
    uint64_t v = 0;
    int shift = 0;
    int i;
    uint8_t b;

    for (i = 0;; i++) {
        if (p >= ctx->end)
            return dec_fail(ctx, DEC_TRUNCATED, "input ends inside the varint of %s", what);
        b = *p++;
        if (i == max_bytes - 1) {
            /* the last byte may only carry the remaining high bits, and must end */
            uint8_t limit = max_bytes == 10 ? 0x01 : 0x0F;

            if (b & 0x80)
                return dec_fail(ctx, DEC_MALFORMED, "varint of %s longer than %d bytes", what,
                                max_bytes);
            if (b > limit)
                return dec_fail(ctx, DEC_MALFORMED, "varint of %s overflows %d bits", what,
                                max_bytes == 10 ? 64 : 32);
        }
        v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80))
            break;
        shift += 7;
    }
    ctx->p = p;
    *out = (int64_t)((v >> 1) ^ (0 - (v & 1)));
    return 0;
}

/* A length prefix (bytes, string): non-negative and within the input. */
static int get_length(struct dec_ctx *ctx, const char *what, size_t *len)
{
    int64_t n;
    int rc;

    rc = get_varint(ctx, 10, what, &n);
    if (rc != 0)
        return rc;
    if (n < 0)
        return dec_fail(ctx, DEC_MALFORMED, "negative length %lld of %s", (long long)n, what);
    if ((uint64_t)n > (uint64_t)(ctx->end - ctx->p))
        return dec_fail(ctx, DEC_TRUNCATED, "%s of %lld bytes but only %zu left", what,
                        (long long)n, (size_t)(ctx->end - ctx->p));
    *len = (size_t)n;
    return 0;
}

static int utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        uint8_t c = s[i];
        size_t n;
        uint32_t cp;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (len - i <= n)
            return 0;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += n + 1;
    }
    return 1;
}

static json_t *json_string_latin1(struct dec_ctx *ctx, const uint8_t *data, size_t len)
{
    size_t i;
    uint8_t *p;

    outbox_buf_reset(&ctx->scratch);
    if (outbox_buf_reserve(&ctx->scratch, len * 2 + 1) != 0)
        return NULL;
    p = ctx->scratch.data;
    for (i = 0; i < len; i++) {
        if (data[i] < 0x80) {
            *p++ = data[i];
        } else {
            *p++ = (uint8_t)(0xC0 | (data[i] >> 6));
            *p++ = (uint8_t)(0x80 | (data[i] & 0x3F));
        }
    }
    return json_stringn_nocheck((const char *)ctx->scratch.data, (size_t)(p - ctx->scratch.data));
}

/* RFC 4648 base64 with padding, the form outbox_avro_bytes_form BASE64 reads. */
static json_t *json_string_base64(struct dec_ctx *ctx, const uint8_t *data, size_t len)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i;
    char *p;

    outbox_buf_reset(&ctx->scratch);
    if (outbox_buf_reserve(&ctx->scratch, (len + 2) / 3 * 4 + 1) != 0)
        return NULL;
    p = (char *)ctx->scratch.data;
    for (i = 0; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];

        *p++ = alphabet[v >> 18];
        *p++ = alphabet[(v >> 12) & 0x3F];
        *p++ = alphabet[(v >> 6) & 0x3F];
        *p++ = alphabet[v & 0x3F];
    }
    if (len - i == 1) {
        *p++ = alphabet[data[i] >> 2];
        *p++ = alphabet[(data[i] & 0x03) << 4];
        *p++ = '=';
        *p++ = '=';
    } else if (len - i == 2) {
        *p++ = alphabet[data[i] >> 2];
        *p++ = alphabet[((data[i] & 0x03) << 4) | (data[i + 1] >> 4)];
        *p++ = alphabet[(data[i + 1] & 0x0F) << 2];
        *p++ = '=';
    }
    return json_stringn_nocheck((const char *)ctx->scratch.data,
                                (size_t)(p - (char *)ctx->scratch.data));
}

/* Two's complement big-endian -> "-12.30"; NULL result with *why set when invalid. */
static json_t *dec_decimal_render(const outbox_avro_node *node, const uint8_t *data, size_t len,
                                  const char **why)
{
    uint8_t mag[DECIMAL_MAX_BYTES];
    char dig[DECIMAL_MAX_TEXT];
    char text[DECIMAL_MAX_TEXT + 8];
    size_t nd = 0;
    size_t i;
    size_t start;
    int negative = len > 0 && (data[0] & 0x80);
    unsigned carry;
    size_t t = 0;

    *why = NULL;
    if (len > DECIMAL_MAX_BYTES) {
        /* a longer value is only sign extension if it fits at all */
        for (i = 0; i <= len - DECIMAL_MAX_BYTES; i++) {
            /* ... and the first byte kept still carries the sign */
            uint8_t sign = (uint8_t)(i < len - DECIMAL_MAX_BYTES ? (negative ? 0xFF : 0x00)
                                                                 : (negative ? 0x80 : 0x00));
            uint8_t mask = (uint8_t)(i < len - DECIMAL_MAX_BYTES ? 0xFF : 0x80);

            if ((data[i] & mask) != sign) {
                *why = "decimal value exceeds its precision";
                return NULL;
            }
        }
        data += len - DECIMAL_MAX_BYTES;
        len = DECIMAL_MAX_BYTES;
    }
    memset(mag, negative ? 0xFF : 0x00, sizeof(mag));
    memcpy(mag + sizeof(mag) - len, data, len);
    if (negative) {
        carry = 1;
        for (i = sizeof(mag); i-- > 0;) {
            unsigned v = (uint8_t)~mag[i] + carry;

            mag[i] = (uint8_t)v;
            carry = v >> 8;
        }
    }
    /* repeated division by 10; digits come out least significant first */
    for (start = 0; start < sizeof(mag) && mag[start] == 0; start++)
        ;
    while (start < sizeof(mag)) {
        unsigned rem = 0;

        for (i = start; i < sizeof(mag); i++) {
            unsigned cur = (rem << 8) | mag[i];

            mag[i] = (uint8_t)(cur / 10);
            rem = cur % 10;
        }
        dig[nd++] = (char)('0' + rem);
        while (start < sizeof(mag) && mag[start] == 0)
            start++;
    }
    if ((int)nd > node->precision) {
        *why = "decimal value exceeds its precision";
        return NULL;
    }
    if (negative)
        text[t++] = '-';
    if ((int)nd <= node->scale) {
        text[t++] = '0';
        if (node->scale > 0)
            text[t++] = '.';
        for (i = (size_t)node->scale; i > nd; i--)
            text[t++] = '0';
        while (nd > 0)
            text[t++] = dig[--nd];
    } else {
        while (nd > 0) {
            if ((int)nd == node->scale)
                text[t++] = '.';
            text[t++] = dig[--nd];
        }
    }
    return json_stringn_nocheck(text, t);
}

/* `v` units (1000 or 1000000 a second) since the epoch as "YYYY-MM-DDTHH:MM:SS.fff[fff]",
 * then "Z" unless `local`. 0 when the year is outside 0000-9999. */
static int format_timestamp_text(int64_t v, int64_t unit, int local, char *text, size_t size)
{
    int64_t secs = v / unit;
    int64_t frac = v % unit;
    int64_t days;
    int64_t tod;
    int y;
    int m;
    int d;

    if (frac < 0) { /* floor, without computing secs * unit (INT64_MIN would overflow) */
        frac += unit;
        secs--;
    }
    days = floor_div(secs, 86400);
    tod = secs - days * 86400;
    if (!date_from_days(days, &y, &m, &d))
        return 0;
    snprintf(text, size, "%04d-%02d-%02dT%02d:%02d:%02d.%0*lld%s", y, m, d, (int)(tod / 3600),
             (int)(tod / 60 % 60), (int)(tod % 60), unit == 1000 ? 3 : 6, (long long)frac,
             local ? "" : "Z");
    return 1;
}

static json_t *render_timestamp(int64_t v, int64_t unit, int local)
{
    char text[40];

    if (!format_timestamp_text(v, unit, local, text, sizeof(text)))
        return json_integer(v);
    return json_string(text);
}

int outbox_rfc3339_to_micros(const char *s, size_t len, int64_t *micros)
{
    return parse_timestamp_text(s, len, 1000000, 0, micros);
}

int outbox_rfc3339_from_micros(int64_t micros, char *out, size_t out_size)
{
    if (out_size < OUTBOX_RFC3339_MAX)
        return 0;
    return format_timestamp_text(micros, 1000000, 0, out, out_size);
}

static json_t *render_time(int64_t v, int64_t unit)
{
    char text[32];
    int64_t secs;

    if (v < 0 || v >= 86400 * unit)
        return json_integer(v);
    secs = v / unit;
    snprintf(text, sizeof(text), "%02d:%02d:%02d.%0*lld", (int)(secs / 3600), (int)(secs / 60 % 60),
             (int)(secs % 60), unit == 1000 ? 3 : 6, (long long)(v % unit));
    return json_string(text);
}

static json_t *render_double(double d)
{
    if (isnan(d))
        return json_string("NaN");
    if (isinf(d))
        return json_string(d > 0 ? "Infinity" : "-Infinity");
    return json_real(d);
}

static int dec_value(struct dec_ctx *ctx, const outbox_avro_node *node, json_t **out);

/*
 * The branch outbox_avro_json_encode would pick for `value` (-1: none, -2: out of memory).
 * Separate and not inlined so its large context is on the stack only while it runs.
 */
static __attribute__((noinline)) int
union_encoder_choice(outbox_buf *scratch, const outbox_avro_node *node, const json_t *value)
{
    struct enc_ctx enc;
    int rc;

    enc_ctx_init(&enc, scratch, 1);
    outbox_buf_reset(scratch);
    rc = enc_union(&enc, node, value);
    if (rc == ENC_NOMEM)
        return -2;
    return rc == 0 ? enc.union_branch : -1;
}

static int dec_union(struct dec_ctx *ctx, const outbox_avro_node *node, json_t **out)
{
    const outbox_avro_node *branch;
    json_t *value = NULL;
    json_t *wrapped = NULL;
    int64_t index;
    size_t i;
    int others = 0;
    int rc;

    rc = get_varint(ctx, 10, "union index", &index);
    if (rc != 0)
        return rc;
    if (index < 0 || (uint64_t)index >= node->n)
        return dec_fail(ctx, DEC_MALFORMED, "union index %lld out of range (union has %zu)",
                        (long long)index, node->n);
    branch = node->branches[index];
    rc = dec_value(ctx, branch, &value);
    if (rc != 0)
        return rc;
    if (branch->type == OUTBOX_AVRO_NULL) {
        *out = value;
        return 0;
    }
    for (i = 0; i < node->n; i++)
        others += (i != (size_t)index && node->branches[i]->type != OUTBOX_AVRO_NULL);
    if (!(ctx->flags & OUTBOX_AVRO_DECODE_WRAP_UNIONS) && others > 0) {
        /* Plain only when the encoder would choose this same branch for the plain value. */
        rc = union_encoder_choice(&ctx->scratch, node, value);
        if (rc == -2) {
            json_decref(value);
            return DEC_NOMEM;
        }
        if (rc == (int)index) {
            *out = value;
            return 0;
        }
    } else if (!(ctx->flags & OUTBOX_AVRO_DECODE_WRAP_UNIONS)) {
        *out = value;
        return 0;
    }
    wrapped = json_object();
    if (wrapped == NULL || json_object_set_new(wrapped, branch->name, value) != 0) {
        json_decref(wrapped);
        return DEC_NOMEM;
    }
    *out = wrapped;
    return 0;
}

/* Array and map blocks: count, optional byte size, items; zero count ends. */
static int dec_block_count(struct dec_ctx *ctx, size_t item_min_size, size_t total, int64_t *count)
{
    int64_t size;
    int rc;

    rc = get_varint(ctx, 10, "block count", count);
    if (rc != 0)
        return rc;
    if (*count < 0) {
        if (*count == INT64_MIN)
            return dec_fail(ctx, DEC_MALFORMED, "block count out of range");
        *count = -*count;
        rc = get_varint(ctx, 10, "block size", &size);
        if (rc != 0)
            return rc;
        if (size < 0)
            return dec_fail(ctx, DEC_MALFORMED, "negative block size %lld", (long long)size);
    }
    if (item_min_size > 0) {
        if ((uint64_t)*count > (uint64_t)(ctx->end - ctx->p) / item_min_size)
            return dec_fail(ctx, DEC_TRUNCATED, "block of %lld items cannot fit in %zu bytes",
                            (long long)*count, (size_t)(ctx->end - ctx->p));
    } else if ((uint64_t)*count > CODEC_MAX_EMPTY_ITEMS ||
               total + (size_t)*count > CODEC_MAX_EMPTY_ITEMS) {
        return dec_fail(ctx, DEC_MALFORMED, "more than %d items of an empty type",
                        CODEC_MAX_EMPTY_ITEMS);
    }
    return 0;
}

/* Decodes item number `index` of an array or map (of `items`) into `container`. */
typedef int (*dec_item_fn)(struct dec_ctx *ctx, const outbox_avro_node *items, json_t *container,
                           size_t index);

/* The blocks of an array or map (a count, negative with a byte size after it, then that many
 * items; a zero count ends them), each item decoded by `item` into `container`, whose
 * reference it takes: on success *out holds it, on failure it is released. */
static int dec_blocks(struct dec_ctx *ctx, const outbox_avro_node *node, size_t item_min_size,
                      json_t *container, dec_item_fn item, json_t **out)
{
    int64_t count;
    size_t total = 0;
    int rc;

    if (container == NULL)
        return DEC_NOMEM;
    for (;;) {
        rc = dec_block_count(ctx, item_min_size, total, &count);
        if (rc != 0)
            goto fail;
        if (count == 0)
            break;
        for (; count > 0; count--) {
            rc = item(ctx, node->items, container, total);
            if (rc != 0)
                goto fail;
            total++;
        }
    }
    *out = container;
    return 0;
fail:
    json_decref(container);
    return rc;
}

static int dec_array_item(struct dec_ctx *ctx, const outbox_avro_node *items, json_t *array,
                          size_t index)
{
    json_t *item = NULL;
    int rc = dec_value(ctx, items, &item);

    if (rc != 0) {
        if (rc != DEC_NOMEM)
            path_add(&ctx->path, SEG_INDEX, NULL, 0, index);
        return rc;
    }
    return json_array_append_new(array, item) != 0 ? DEC_NOMEM : 0;
}

static int dec_array(struct dec_ctx *ctx, const outbox_avro_node *node, json_t **out)
{
    return dec_blocks(ctx, node, node->items->min_size, json_array(), dec_array_item, out);
}

static int dec_map_item(struct dec_ctx *ctx, const outbox_avro_node *items, json_t *map,
                        size_t index)
{
    json_t *value = NULL;
    const uint8_t *key;
    size_t key_len;
    int rc;

    (void)index;
    rc = get_length(ctx, "map key", &key_len);
    if (rc != 0)
        return rc;
    key = ctx->p;
    ctx->p += key_len;
    if (!utf8_valid(key, key_len))
        return dec_fail(ctx, DEC_MALFORMED, "map key is not valid UTF-8");
    rc = dec_value(ctx, items, &value);
    if (rc != 0) {
        if (rc != DEC_NOMEM)
            path_add(&ctx->path, SEG_KEY, (const char *)key, key_len, 0);
        return rc;
    }
    /* a repeated key keeps the last value, like other Avro readers */
    return json_object_setn_new_nocheck(map, (const char *)key, key_len, value) != 0 ? DEC_NOMEM
                                                                                     : 0;
}

/* A map's item is its key (at least its one length byte) and its value. */
static int dec_map(struct dec_ctx *ctx, const outbox_avro_node *node, json_t **out)
{
    return dec_blocks(ctx, node, node->items->min_size + 1, json_object(), dec_map_item, out);
}

static int dec_record(struct dec_ctx *ctx, const outbox_avro_node *node, json_t **out)
{
    json_t *record = json_object();
    json_t *value = NULL;
    size_t i;
    int rc;

    if (record == NULL)
        return DEC_NOMEM;
    for (i = 0; i < node->n; i++) {
        const outbox_avro_field *field = &node->fields[i];

        rc = dec_value(ctx, field->type, &value);
        if (rc != 0) {
            if (rc != DEC_NOMEM)
                path_add(&ctx->path, SEG_FIELD, field->name, field->name_len, 0);
            goto fail;
        }
        if (json_object_setn_new_nocheck(record, field->name, field->name_len, value) != 0) {
            rc = DEC_NOMEM;
            goto fail;
        }
    }
    *out = record;
    return 0;
fail:
    json_decref(record);
    return rc;
}

static int dec_value(struct dec_ctx *ctx, const outbox_avro_node *node, json_t **out)
{
    json_t *value = NULL;
    int64_t v;
    size_t len;
    uint64_t bits = 0;
    float f;
    double d;
    const char *why;
    int i;
    int rc;

    switch (node->type) {
    case OUTBOX_AVRO_NULL:
        value = json_null();
        break;
    case OUTBOX_AVRO_BOOLEAN:
        if (ctx->p >= ctx->end)
            return dec_fail(ctx, DEC_TRUNCATED, "input ends before a boolean");
        if (*ctx->p > 1)
            return dec_fail(ctx, DEC_MALFORMED, "boolean byte 0x%02x is neither 0 nor 1", *ctx->p);
        value = *ctx->p ? json_true() : json_false();
        ctx->p++;
        break;
    case OUTBOX_AVRO_INT:
        rc = get_varint(ctx, 5, "int", &v);
        if (rc != 0)
            return rc;
        if (node->logical == OUTBOX_AVRO_LOGICAL_DATE) {
            int y;
            int m;
            int day;
            char text[16];

            if (date_from_days(v, &y, &m, &day)) {
                snprintf(text, sizeof(text), "%04d-%02d-%02d", y, m, day);
                value = json_string(text);
            } else {
                value = json_integer(v);
            }
        } else if (node->logical == OUTBOX_AVRO_LOGICAL_TIME_MILLIS) {
            value = render_time(v, 1000);
        } else {
            value = json_integer(v);
        }
        break;
    case OUTBOX_AVRO_LONG:
        rc = get_varint(ctx, 10, "long", &v);
        if (rc != 0)
            return rc;
        switch (node->logical) {
        case OUTBOX_AVRO_LOGICAL_TIMESTAMP_MILLIS:
            value = render_timestamp(v, 1000, 0);
            break;
        case OUTBOX_AVRO_LOGICAL_TIMESTAMP_MICROS:
            value = render_timestamp(v, 1000000, 0);
            break;
        case OUTBOX_AVRO_LOGICAL_LOCAL_TIMESTAMP_MILLIS:
            value = render_timestamp(v, 1000, 1);
            break;
        case OUTBOX_AVRO_LOGICAL_LOCAL_TIMESTAMP_MICROS:
            value = render_timestamp(v, 1000000, 1);
            break;
        case OUTBOX_AVRO_LOGICAL_TIME_MICROS:
            value = render_time(v, 1000000);
            break;
        default:
            value = json_integer(v);
            break;
        }
        break;
    case OUTBOX_AVRO_FLOAT:
    case OUTBOX_AVRO_DOUBLE:
        len = node->type == OUTBOX_AVRO_FLOAT ? 4 : 8;
        if ((size_t)(ctx->end - ctx->p) < len)
            return dec_fail(ctx, DEC_TRUNCATED, "input ends inside a %s", node->name);
        for (i = (int)len; i-- > 0;)
            bits = (bits << 8) | ctx->p[i];
        ctx->p += len;
        if (node->type == OUTBOX_AVRO_FLOAT) {
            uint32_t bits32 = (uint32_t)bits;

            memcpy(&f, &bits32, sizeof(f));
            d = f;
        } else {
            memcpy(&d, &bits, sizeof(d));
        }
        value = render_double(d);
        break;
    case OUTBOX_AVRO_STRING:
        rc = get_length(ctx, "string", &len);
        if (rc != 0)
            return rc;
        if (!utf8_valid(ctx->p, len))
            return dec_fail(ctx, DEC_MALFORMED, "string is not valid UTF-8");
        if (node->logical == OUTBOX_AVRO_LOGICAL_UUID && !uuid_valid((const char *)ctx->p, len))
            return dec_fail(ctx, DEC_MALFORMED, "string \"%.*s\" is not a uuid",
                            (int)(len > 40 ? 40 : len), (const char *)ctx->p);
        value = json_stringn_nocheck((const char *)ctx->p, len);
        ctx->p += len;
        break;
    case OUTBOX_AVRO_BYTES:
    case OUTBOX_AVRO_FIXED:
        if (node->type == OUTBOX_AVRO_BYTES) {
            rc = get_length(ctx, "bytes", &len);
            if (rc != 0)
                return rc;
        } else {
            len = node->size;
            if ((size_t)(ctx->end - ctx->p) < len)
                return dec_fail(ctx, DEC_TRUNCATED, "fixed of %zu bytes but only %zu left", len,
                                (size_t)(ctx->end - ctx->p));
        }
        if (node->logical == OUTBOX_AVRO_LOGICAL_DECIMAL) {
            value = dec_decimal_render(node, ctx->p, len, &why);
            if (value == NULL && why != NULL)
                return dec_fail(ctx, DEC_MALFORMED, "%s (decimal(%d,%d))", why, node->precision,
                                node->scale);
        } else if (node->bytes_form == OUTBOX_AVRO_BYTES_BASE64) {
            value = json_string_base64(ctx, ctx->p, len);
        } else {
            value = json_string_latin1(ctx, ctx->p, len);
        }
        ctx->p += len;
        break;
    case OUTBOX_AVRO_ENUM:
        rc = get_varint(ctx, 5, "enum index", &v);
        if (rc != 0)
            return rc;
        if (v < 0 || (uint64_t)v >= node->n)
            return dec_fail(ctx, DEC_MALFORMED, "enum index %lld out of range for %s (%zu symbols)",
                            (long long)v, node->name, node->n);
        value = json_stringn_nocheck(node->symbols[v], node->symbol_lens[v]);
        break;
    case OUTBOX_AVRO_RECORD:
    case OUTBOX_AVRO_ARRAY:
    case OUTBOX_AVRO_MAP:
    case OUTBOX_AVRO_UNION:
        if (++ctx->depth > CODEC_MAX_DEPTH) {
            ctx->depth--;
            return dec_fail(ctx, DEC_MALFORMED, "value nested deeper than %d levels",
                            CODEC_MAX_DEPTH);
        }
        if (node->type == OUTBOX_AVRO_RECORD)
            rc = dec_record(ctx, node, out);
        else if (node->type == OUTBOX_AVRO_ARRAY)
            rc = dec_array(ctx, node, out);
        else if (node->type == OUTBOX_AVRO_MAP)
            rc = dec_map(ctx, node, out);
        else
            rc = dec_union(ctx, node, out);
        ctx->depth--;
        return rc;
    }
    if (value == NULL)
        return DEC_NOMEM;
    *out = value;
    return 0;
}

int outbox_avro_json_decode_node(const outbox_avro_node *node, const void *data, size_t len,
                                 unsigned flags, json_t **value, size_t *consumed, char *errstr,
                                 size_t errstr_size)
{
    struct dec_ctx ctx;
    json_t *result = NULL;
    char where[512];
    int rc;

    *value = NULL;
    ctx.start = data;
    ctx.p = data;
    ctx.end = ctx.start + len;
    ctx.flags = flags;
    ctx.depth = 0;
    ctx.path.n = 0;
    ctx.fail_offset = 0;
    ctx.msg[0] = '\0';
    outbox_buf_init(&ctx.scratch);
    if (data == NULL && len > 0) {
        outbox_errstr_set(errstr, errstr_size, "no input");
        rc = OUTBOX_AVRO_ERR_MALFORMED;
        goto done;
    }
    rc = dec_value(&ctx, node, &result);
    if (rc == 0 && ctx.p != ctx.end && !(flags & OUTBOX_AVRO_DECODE_ALLOW_TRAILING))
        rc = dec_fail(&ctx, DEC_MALFORMED, "%zu trailing bytes after the value",
                      (size_t)(ctx.end - ctx.p));
    switch (rc) {
    case 0:
        if (consumed != NULL)
            *consumed = (size_t)(ctx.p - ctx.start);
        *value = result;
        result = NULL;
        rc = OUTBOX_AVRO_OK;
        break;
    case DEC_NOMEM:
        outbox_errstr_set(errstr, errstr_size, "out of memory while decoding");
        rc = OUTBOX_AVRO_ERR_NOMEM;
        break;
    default:
        path_render(&ctx.path, where, sizeof(where));
        outbox_errstr_set(errstr, errstr_size, "%s Avro at %s (byte %zu): %s",
                          rc == DEC_TRUNCATED ? "truncated" : "malformed", where, ctx.fail_offset,
                          ctx.msg);
        rc = rc == DEC_TRUNCATED ? OUTBOX_AVRO_ERR_TRUNCATED : OUTBOX_AVRO_ERR_MALFORMED;
        break;
    }
done:
    json_decref(result);
    outbox_buf_free(&ctx.scratch);
    return rc;
}

int outbox_avro_json_decode(const outbox_schema *schema, const void *data, size_t len,
                            unsigned flags, json_t **value, size_t *consumed, char *errstr,
                            size_t errstr_size)
{
    return outbox_avro_json_decode_node(outbox_schema_root(schema), data, len, flags, value,
                                        consumed, errstr, errstr_size);
}
