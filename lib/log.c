/*
 * outbox_log (see log.h). The line is built in a stack buffer and written with one write(2);
 * nothing allocates, so logging works when memory is short. JSON escaping is done here (a
 * dozen lines) rather than with jansson, which would allocate per line and reject messages
 * that are not valid UTF-8 (raw payload bytes in an error message).
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static _Atomic int log_level = OUTBOX_LOG_INFO;
static _Atomic int log_format = OUTBOX_LOG_FORMAT_TEXT;
static _Atomic int log_fd = 2;

/* Component and context are cut to these lengths so that only the message can overflow. */
#define LOG_COMPONENT_MAX 64
#define LOG_CONTEXT_MAX 256
#define LOG_TAIL_RESERVE 8 /* room for `..."}` + '\n' at the end of a truncated line */

void outbox_log_set_level(outbox_log_level level)
{
    atomic_store_explicit(&log_level, (int)level, memory_order_relaxed);
}

outbox_log_level outbox_log_get_level(void)
{
    return (outbox_log_level)atomic_load_explicit(&log_level, memory_order_relaxed);
}

void outbox_log_set_format(outbox_log_format format)
{
    atomic_store_explicit(&log_format, (int)format, memory_order_relaxed);
}

void outbox_log_set_fd(int fd)
{
    atomic_store_explicit(&log_fd, fd, memory_order_relaxed);
}

bool outbox_log_enabled(outbox_log_level level)
{
    return (int)level <= atomic_load_explicit(&log_level, memory_order_relaxed);
}

const char *outbox_log_level_name(outbox_log_level level)
{
    switch (level) {
    case OUTBOX_LOG_ERROR:
        return "error";
    case OUTBOX_LOG_WARN:
        return "warn";
    case OUTBOX_LOG_INFO:
        return "info";
    case OUTBOX_LOG_DEBUG:
        return "debug";
    }
    return "unknown";
}

static const char *log_level_upper(outbox_log_level level)
{
    switch (level) {
    case OUTBOX_LOG_ERROR:
        return "ERROR";
    case OUTBOX_LOG_WARN:
        return "WARN";
    case OUTBOX_LOG_INFO:
        return "INFO";
    case OUTBOX_LOG_DEBUG:
        return "DEBUG";
    }
    return "UNKNOWN";
}

int outbox_log_level_parse(const char *name, outbox_log_level *level)
{
    static const struct {
        const char *name;
        outbox_log_level level;
    } names[] = {
        {"error", OUTBOX_LOG_ERROR}, {"warn", OUTBOX_LOG_WARN},   {"warning", OUTBOX_LOG_WARN},
        {"info", OUTBOX_LOG_INFO},   {"debug", OUTBOX_LOG_DEBUG},
    };
    for (size_t i = 0; name && i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(name, names[i].name) == 0) {
            *level = names[i].level;
            return 0;
        }
    }
    return -1;
}

typedef struct log_line {
    char *buf;
    size_t len;
    size_t cap; /* usable bytes, LOG_TAIL_RESERVE excluded */
    bool truncated;
} log_line;

/* Append n bytes, all or nothing. */
static void log_put(log_line *line, const char *s, size_t n)
{
    if (line->truncated || line->cap - line->len < n) {
        line->truncated = true;
        return;
    }
    memcpy(line->buf + line->len, s, n);
    line->len += n;
}

static void log_puts(log_line *line, const char *s)
{
    log_put(line, s, strlen(s));
}

/* Append at most `max` bytes of s, JSON-escaped (without quotes). Bytes >= 0x80 are copied as
 * they are (UTF-8 assumed). */
static void log_put_json(log_line *line, const char *s, size_t max)
{
    for (size_t i = 0; s[i] && i < max && !line->truncated; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        switch (c) {
        case '"':
            log_put(line, "\\\"", 2);
            break;
        case '\\':
            log_put(line, "\\\\", 2);
            break;
        case '\n':
            log_put(line, "\\n", 2);
            break;
        case '\r':
            log_put(line, "\\r", 2);
            break;
        case '\t':
            log_put(line, "\\t", 2);
            break;
        default:
            if (c < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", c);
                log_put(line, esc, 6);
            } else {
                log_put(line, (const char *)&c, 1);
            }
        }
    }
}

/* Append at most `max` bytes of s for the text format: every control character is escaped, so
 * no text (an event type, a payload fragment, a server's error message) can end the line early,
 * forge another one or send terminal escape sequences. C0 controls and DEL become \n, \r, \t
 * or \xNN; C1 controls in UTF-8 (U+0080..U+009F, e.g. the one-byte CSI) become \u00NN.
 * Backslashes are kept as they are (readable bytea and Windows paths). */
static void log_put_text(log_line *line, const char *s, size_t max)
{
    for (size_t i = 0; s[i] && i < max && !line->truncated; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '\n') {
            log_put(line, "\\n", 2);
        } else if (c == '\r') {
            log_put(line, "\\r", 2);
        } else if (c == '\t') {
            log_put(line, "\\t", 2);
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof esc, "\\x%02x", c);
            log_put(line, esc, 4);
        } else if (c == 0xc2 && i + 1 < max && (unsigned char)s[i + 1] >= 0x80 &&
                   (unsigned char)s[i + 1] <= 0x9f) {
            snprintf(esc, sizeof esc, "\\u%04x", (unsigned char)s[i + 1]);
            log_put(line, esc, 6);
            i++;
        } else {
            log_put(line, (const char *)&c, 1);
        }
    }
}

static void log_timestamp(char *out, size_t size)
{
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000L);
}

static void log_write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return; /* nowhere to report it */
        }
        buf += n;
        len -= (size_t)n;
    }
}

void outbox_log_write(outbox_log_level level, const char *component, const char *context,
                      const char *fmt, ...)
{
    int saved_errno = errno;
    char msg[OUTBOX_LOG_LINE_MAX];
    char buf[OUTBOX_LOG_LINE_MAX + LOG_TAIL_RESERVE];
    char ts[40];
    log_line line = {.buf = buf, .cap = OUTBOX_LOG_LINE_MAX};
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0) {
        snprintf(msg, sizeof msg, "(bad log format: %s)", fmt);
        n = (int)strlen(msg);
    }
    bool msg_cut = (size_t)n >= sizeof msg;
    size_t msg_len = msg_cut ? sizeof msg - 1 : (size_t)n;
    while (msg_len > 0 && msg[msg_len - 1] == '\n')
        msg[--msg_len] = '\0';

    if (component == NULL)
        component = "";
    if (context == NULL)
        context = "";
    log_timestamp(ts, sizeof ts);

    if (atomic_load_explicit(&log_format, memory_order_relaxed) == OUTBOX_LOG_FORMAT_JSON) {
        log_puts(&line, "{\"ts\":\"");
        log_puts(&line, ts);
        log_puts(&line, "\",\"level\":\"");
        log_puts(&line, outbox_log_level_name(level));
        log_puts(&line, "\",\"component\":\"");
        log_put_json(&line, component, LOG_COMPONENT_MAX);
        if (context[0]) {
            log_puts(&line, "\",\"context\":\"");
            log_put_json(&line, context, LOG_CONTEXT_MAX);
        }
        log_puts(&line, "\",\"msg\":\"");
        log_put_json(&line, msg, msg_len);
        /* the prefix always fits, so a truncation happened inside the message string */
        if (line.truncated || msg_cut) {
            memcpy(buf + line.len, "...", 3);
            line.len += 3;
        }
        memcpy(buf + line.len, "\"}\n", 3);
        line.len += 3;
    } else {
        log_puts(&line, ts);
        log_puts(&line, " ");
        log_puts(&line, log_level_upper(level));
        log_puts(&line, " [");
        log_put_text(&line, component, LOG_COMPONENT_MAX);
        log_puts(&line, "] ");
        if (context[0]) {
            log_put_text(&line, context, LOG_CONTEXT_MAX);
            log_puts(&line, ": ");
        }
        /* the prefix always fits, so a truncation happened inside the message */
        log_put_text(&line, msg, msg_len);
        if (line.truncated || msg_cut) {
            memcpy(buf + line.len, "...", 3);
            line.len += 3;
        }
        buf[line.len++] = '\n';
    }
    log_write_all(atomic_load_explicit(&log_fd, memory_order_relaxed), buf, line.len);
    errno = saved_errno;
}
