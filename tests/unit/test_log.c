/* Unit tests for lib/log: level check before formatting, line formats, LSN notation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kafka_log.h"
#include "log.h"

#define TS_RE "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z"

/* Each test logs into a fresh temporary file and reads it back. */
typedef struct log_capture {
    int fd;
    char path[64];
} log_capture;

static int setup(void **state)
{
    log_capture *cap = calloc(1, sizeof *cap);
    snprintf(cap->path, sizeof cap->path, "/tmp/test_log.XXXXXX");
    cap->fd = mkstemp(cap->path);
    if (cap->fd < 0)
        return -1;
    /* O_APPEND like a shared log file: concurrent single writes land whole */
    fcntl(cap->fd, F_SETFL, O_APPEND);
    outbox_log_set_fd(cap->fd);
    outbox_log_set_level(OUTBOX_LOG_INFO);
    outbox_log_set_format(OUTBOX_LOG_FORMAT_TEXT);
    *state = cap;
    return 0;
}

static int teardown(void **state)
{
    log_capture *cap = *state;
    outbox_log_set_fd(2);
    outbox_log_set_level(OUTBOX_LOG_INFO);
    outbox_log_set_format(OUTBOX_LOG_FORMAT_TEXT);
    close(cap->fd);
    unlink(cap->path);
    free(cap);
    return 0;
}

/* Everything logged so far, malloc'd. */
static char *captured(log_capture *cap)
{
    off_t size = lseek(cap->fd, 0, SEEK_END);
    char *text = calloc(1, (size_t)size + 1);
    assert_int_equal(pread(cap->fd, text, (size_t)size, 0), size);
    return text;
}

static void assert_matches(const char *text, const char *pattern)
{
    regex_t re;
    assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
    int rc = regexec(&re, text, 0, NULL, 0);
    regfree(&re);
    if (rc != 0)
        fail_msg("'%s' does not match /%s/", text, pattern);
}

static int evaluations;

static int count_evaluation(void)
{
    return ++evaluations;
}

static void test_disabled_level_does_not_evaluate_arguments(void **state)
{
    log_capture *cap = *state;

    evaluations = 0;
    outbox_log_set_level(OUTBOX_LOG_WARN);
    outbox_log_debug("test", "debug %d", count_evaluation());
    outbox_log_info("test", "info %d", count_evaluation());
    assert_int_equal(evaluations, 0);
    outbox_log_warn("test", "warn %d", count_evaluation());
    outbox_log_error("test", "error %d", count_evaluation());
    assert_int_equal(evaluations, 2);

    char *text = captured(cap);
    assert_null(strstr(text, "debug"));
    assert_null(strstr(text, "info"));
    assert_non_null(strstr(text, "WARN [test] warn 1\n"));
    assert_non_null(strstr(text, "ERROR [test] error 2\n"));
    free(text);
}

static void test_lsn_prints_as_postgres_does(void **state)
{
    char buf[32];
    uint64_t lsn = 0x16B3748;

    snprintf(buf, sizeof buf, OUTBOX_LSN_FMT, OUTBOX_LSN_ARGS(lsn));
    assert_string_equal(buf, "0/16B3748");
    lsn = 0x1234567890ABCDEFULL;
    snprintf(buf, sizeof buf, OUTBOX_LSN_FMT, OUTBOX_LSN_ARGS(lsn));
    assert_string_equal(buf, "12345678/90ABCDEF");
    snprintf(buf, sizeof buf, OUTBOX_LSN_FMT, OUTBOX_LSN_ARGS(0));
    assert_string_equal(buf, "0/0");
}

static void test_text_line_has_timestamp_level_component_context(void **state)
{
    log_capture *cap = *state;
    uint64_t lsn = 0x16B3748;

    outbox_log(OUTBOX_LOG_INFO, "relay", "slot=outbox", "confirmed " OUTBOX_LSN_FMT,
               OUTBOX_LSN_ARGS(lsn));
    outbox_log_warn("http", "no context\n"); /* a trailing newline is not doubled */
    char *text = captured(cap);
    assert_matches(text, "^" TS_RE " INFO \\[relay\\] slot=outbox: confirmed 0/16B3748\n" TS_RE
                         " WARN \\[http\\] no context\n$");
    free(text);
}

/* An event type (or any text from the database) with a newline, a carriage return and ANSI
 * escapes must not start a line of its own or reach the terminal as an escape sequence. */
static void test_text_format_escapes_control_characters(void **state)
{
    log_capture *cap = *state;
    const char *forged = "X\n2026-01-01T00:00:00.000Z ERROR [relay] forged\r\x1b[31mred\x1b[0m"
                         "\x7f\xc2\x9b"
                         "2J caf\xc3\xa9 C:\\tmp";

    outbox_log(OUTBOX_LOG_WARN, "relay", "ctx\nline", "event type '%s' unknown", forged);
    char *text = captured(cap);
    assert_string_equal(strchr(text, '\n'), "\n"); /* one line, ends in its only newline */
    assert_null(strchr(text, '\r'));
    assert_null(strchr(text, '\x1b'));
    assert_null(strchr(text, '\x7f'));
    assert_null(strstr(text, "\xc2\x9b"));
    assert_non_null(strstr(text, " WARN [relay] ctx\\nline: event type 'X\\n2026-01-01T00:00:00"
                                 ".000Z ERROR [relay] forged\\r\\x1b[31mred\\x1b[0m\\x7f"
                                 "\\u009b2J caf\xc3\xa9 C:\\tmp' unknown\n"));
    free(text);
}

static void test_json_line_is_one_valid_object(void **state)
{
    log_capture *cap = *state;
    json_error_t err;

    outbox_log_set_format(OUTBOX_LOG_FORMAT_JSON);
    outbox_log(OUTBOX_LOG_ERROR, "projector", "posts", "say \"hi\"\\\n\tbye \x01");
    outbox_log_info("relay", "plain");
    char *text = captured(cap);
    char *nl = strchr(text, '\n');
    assert_non_null(nl);
    assert_string_equal(nl + 1 + strcspn(nl + 1, "\n"), "\n"); /* exactly two lines */
    *nl = '\0';

    json_t *obj = json_loads(text, 0, &err);
    if (obj == NULL)
        fail_msg("invalid JSON '%s': %s", text, err.text);
    assert_string_equal(json_string_value(json_object_get(obj, "level")), "error");
    assert_string_equal(json_string_value(json_object_get(obj, "component")), "projector");
    assert_string_equal(json_string_value(json_object_get(obj, "context")), "posts");
    assert_string_equal(json_string_value(json_object_get(obj, "msg")), "say \"hi\"\\\n\tbye \x01");
    assert_matches(json_string_value(json_object_get(obj, "ts")), "^" TS_RE "$");
    assert_int_equal(json_object_size(obj), 5);
    json_decref(obj);

    obj = json_loads(nl + 1, 0, &err);
    assert_non_null(obj);
    assert_null(json_object_get(obj, "context")); /* no context, no key */
    json_decref(obj);
    free(text);
}

static void test_long_message_is_truncated_to_one_line(void **state)
{
    log_capture *cap = *state;
    size_t len = OUTBOX_LOG_LINE_MAX * 2;
    char *big = malloc(len + 1);

    memset(big, 'x', len);
    big[len] = '\0';
    outbox_log_info("test", "%s", big);
    outbox_log_set_format(OUTBOX_LOG_FORMAT_JSON);
    outbox_log_info("test", "%s", big);
    char *text = captured(cap);
    char *second = strchr(text, '\n') + 1;
    assert_true((size_t)(second - text) <= OUTBOX_LOG_LINE_MAX + 8);
    assert_memory_equal(second - 5, "x...\n", 5);
    json_t *obj = json_loads(second, 0, NULL);
    assert_non_null(obj);
    json_decref(obj);
    assert_string_equal(second + strlen(second) - 6, "...\"}\n");
    free(text);
    free(big);
}

static void test_errno_is_preserved(void **state)
{
    errno = ENOSPC;
    outbox_log_error("test", "disk full");
    assert_int_equal(errno, ENOSPC);
}

static void test_level_names_parse(void **state)
{
    outbox_log_level level = OUTBOX_LOG_ERROR;

    assert_int_equal(outbox_log_level_parse("DEBUG", &level), 0);
    assert_int_equal(level, OUTBOX_LOG_DEBUG);
    assert_int_equal(outbox_log_level_parse("warning", &level), 0);
    assert_int_equal(level, OUTBOX_LOG_WARN);
    assert_int_equal(outbox_log_level_parse("verbose", &level), -1);
    assert_string_equal(outbox_log_level_name(OUTBOX_LOG_INFO), "info");
}

#define WRITERS 8
#define LINES_PER_WRITER 400

static void *writer(void *arg)
{
    long id = (long)(intptr_t)arg;
    for (int i = 0; i < LINES_PER_WRITER; i++)
        outbox_log_info("thread", "writer %ld line %d %s", id, i,
                        "padding padding padding padding padding padding padding padding");
    return NULL;
}

/* librdkafka's syslog levels in ours: its connection failures (3) are errors, its notices and
 * infos (5, 6) info, its debug (7) debug. */
static void test_kafka_levels_map_to_ours(void **state)
{
    (void)state;
    for (int level = 0; level <= 3; level++)
        assert_int_equal(outbox_kafka_log_level(level), OUTBOX_LOG_ERROR);
    assert_int_equal(outbox_kafka_log_level(4), OUTBOX_LOG_WARN);
    assert_int_equal(outbox_kafka_log_level(5), OUTBOX_LOG_INFO);
    assert_int_equal(outbox_kafka_log_level(6), OUTBOX_LOG_INFO);
    assert_int_equal(outbox_kafka_log_level(7), OUTBOX_LOG_DEBUG);
}

static void test_concurrent_lines_never_interleave(void **state)
{
    log_capture *cap = *state;
    pthread_t threads[WRITERS];
    regex_t re;

    for (long i = 0; i < WRITERS; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, writer, (void *)(intptr_t)i), 0);
    for (int i = 0; i < WRITERS; i++)
        pthread_join(threads[i], NULL);

    char *text = captured(cap);
    assert_int_equal(regcomp(&re,
                             "^" TS_RE " INFO \\[thread\\] writer [0-9]+ line [0-9]+ "
                             "(padding ?){8}$",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    size_t lines = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (regexec(&re, line, 0, NULL, 0) != 0)
            fail_msg("mangled line: '%s'", line);
        lines++;
    }
    regfree(&re);
    assert_int_equal(lines, WRITERS * LINES_PER_WRITER);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_disabled_level_does_not_evaluate_arguments, setup,
                                        teardown),
        cmocka_unit_test(test_lsn_prints_as_postgres_does),
        cmocka_unit_test(test_kafka_levels_map_to_ours),
        cmocka_unit_test_setup_teardown(test_text_line_has_timestamp_level_component_context, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_text_format_escapes_control_characters, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_json_line_is_one_valid_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_message_is_truncated_to_one_line, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_errno_is_preserved, setup, teardown),
        cmocka_unit_test(test_level_names_parse),
        cmocka_unit_test_setup_teardown(test_concurrent_lines_never_interleave, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
