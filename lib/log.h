#ifndef OUTBOX_LOG_H
#define OUTBOX_LOG_H

/*
 * outbox_log: the one log family of both daemons.
 *
 * Every line: ISO-8601 UTC timestamp with milliseconds, level, component tag, optional context
 * prefix, message. Text format:
 *
 *   2025-01-02T03:04:05.678Z INFO [relay] slot=outbox: confirmed 0/16B3748
 *   2025-01-02T03:04:05.678Z WARN [http] cannot accept: Too many open files
 *
 * JSON format, one object per line (message and context JSON-escaped):
 *
 *   {"ts":"2025-01-02T03:04:05.678Z","level":"info","component":"relay",
 *    "context":"slot=outbox","msg":"confirmed 0/16B3748"}
 *
 * The level is checked BEFORE the arguments are evaluated or formatted (the macros below), so
 * a disabled debug line costs one relaxed atomic load. Each line is formatted into one buffer
 * and written with a single write(2) to the log fd (stderr by default), so lines from
 * different threads never interleave (lines up to PIPE_BUF bytes are atomic even on a pipe;
 * longer lines are truncated at OUTBOX_LOG_LINE_MAX). A trailing newline in the message is
 * dropped; control characters inside any field are escaped in both formats (text: \n, \r,
 * \t, \xNN and \u0080..\u009f for UTF-8 C1 controls), so no logged text can forge a line.
 *
 * Threads: every function may be called from any thread. Level, format and fd are process-wide
 * atomics, normally set once by main() after loading the config. Not async-signal-safe: a
 * signal handler sets a flag and the loop logs.
 *
 * Usage:
 *   outbox_log_info("relay", "streaming from " OUTBOX_LSN_FMT, OUTBOX_LSN_ARGS(lsn));
 *   outbox_log(OUTBOX_LOG_WARN, "projector", proj->name, "retrying in %d ms", delay);
 */

#include <stdbool.h>
#include <stdint.h>

/* PostgreSQL's LSN notation: printf(OUTBOX_LSN_FMT, OUTBOX_LSN_ARGS(lsn)) -> "0/16B3748". */
#define OUTBOX_LSN_FMT "%X/%X"
#define OUTBOX_LSN_ARGS(lsn) (uint32_t)((uint64_t)(lsn) >> 32), (uint32_t)(uint64_t)(lsn)

/* Longest line written, in bytes; longer messages are cut and end in "...". */
#define OUTBOX_LOG_LINE_MAX 8192

typedef enum outbox_log_level {
    OUTBOX_LOG_ERROR = 0,
    OUTBOX_LOG_WARN = 1,
    OUTBOX_LOG_INFO = 2,
    OUTBOX_LOG_DEBUG = 3,
} outbox_log_level;

typedef enum outbox_log_format {
    OUTBOX_LOG_FORMAT_TEXT = 0,
    OUTBOX_LOG_FORMAT_JSON = 1,
} outbox_log_format;

/* Lines at `level` and more severe are written; default OUTBOX_LOG_INFO. Any thread. */
void outbox_log_set_level(outbox_log_level level);
outbox_log_level outbox_log_get_level(void);

/* Default OUTBOX_LOG_FORMAT_TEXT. Any thread. */
void outbox_log_set_format(outbox_log_format format);

/* Write to `fd` instead of stderr (2); the caller keeps owning fd and must keep it open while
 * any thread may log. For tests and for daemons that redirect their log. Any thread. */
void outbox_log_set_fd(int fd);

/* Whether a line at `level` would be written (one relaxed atomic load). Any thread. */
bool outbox_log_enabled(outbox_log_level level);

/* "error", "warn", "info", "debug". Static storage. */
const char *outbox_log_level_name(outbox_log_level level);

/* Parse "error"/"warn"/"warning"/"info"/"debug" (any case). 0, or -1 if unknown. */
int outbox_log_level_parse(const char *name, outbox_log_level *level)
    __attribute__((warn_unused_result));

/*
 * Format and write one line unconditionally (use the macros, which check the level first).
 * `component` is a short tag ("relay", "http"); `context` may be NULL or "" for none. errno is
 * preserved. Any thread.
 */
void outbox_log_write(outbox_log_level level, const char *component, const char *context,
                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* The level check happens before any argument is evaluated. */
#define outbox_log(level, component, context, ...)                                                 \
    do {                                                                                           \
        if (outbox_log_enabled(level))                                                             \
            outbox_log_write((level), (component), (context), __VA_ARGS__);                        \
    } while (0)

#define outbox_log_error(component, ...) outbox_log(OUTBOX_LOG_ERROR, component, NULL, __VA_ARGS__)
#define outbox_log_warn(component, ...) outbox_log(OUTBOX_LOG_WARN, component, NULL, __VA_ARGS__)
#define outbox_log_info(component, ...) outbox_log(OUTBOX_LOG_INFO, component, NULL, __VA_ARGS__)
#define outbox_log_debug(component, ...) outbox_log(OUTBOX_LOG_DEBUG, component, NULL, __VA_ARGS__)

#endif
