/* lib/check_report: the lines and the summary every daemon's `check` prints (relay,
 * moderation), its exit status, and the schema directory probe on real files. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_report.h"

/* What `c` wrote so far (c->out is a tmpfile), into out. */
static void written(outbox_check *c, char *out, size_t size)
{
    fflush(c->out);
    rewind(c->out);
    size_t n = fread(out, 1, size - 1, c->out);
    out[n] = '\0';
}

static void test_lines_and_summary(void **state)
{
    (void)state;
    char text[2048];
    outbox_check c = {.out = tmpfile()};
    assert_non_null(c.out);
    outbox_check_ok(&c, "table %s exists", "t");
    assert_int_equal(outbox_check_summary(&c), 0);
    written(&c, text, sizeof text);
    assert_string_equal(text, "  ok       table t exists\nready\n");
    outbox_check_warning(&c, "drop it", "extra %d", 1);
    assert_int_equal(outbox_check_summary(&c), 0);
    outbox_check_problem(&c, "create it", "topic %s does not exist", "x");
    outbox_check_problem(&c, "start it", "no answer");
    assert_int_equal(outbox_check_summary(&c), 2);
    written(&c, text, sizeof text);
    assert_string_equal(text, "  ok       table t exists\n"
                              "ready\n"
                              "  WARNING  extra 1\n"
                              "           fix: drop it\n"
                              "ready, 1 warning\n"
                              "  PROBLEM  topic x does not exist\n"
                              "           fix: create it\n"
                              "  PROBLEM  no answer\n"
                              "           fix: start it\n"
                              "2 problems found\n");
    assert_int_equal(c.warnings, 1);
    fclose(c.out);
}

static void test_exit_status(void **state)
{
    (void)state;
    assert_int_equal(outbox_check_exit_status(0), 0);
    assert_int_equal(outbox_check_exit_status(1), OUTBOX_CHECK_EXIT_PROBLEMS);
    assert_int_equal(outbox_check_exit_status(7), 3);
}

static void test_schema_dir(void **state)
{
    (void)state;
    char text[2048];
    outbox_check c = {.out = tmpfile()};
    assert_non_null(c.out);
    outbox_check_schema_dir(&c, "avro.schema-dir", SCHEMA_DIR, NULL);
    assert_int_equal(c.problems, 0);
    written(&c, text, sizeof text);
    assert_non_null(strstr(text, "  ok       "));
    assert_non_null(strstr(text, " Avro schemas in " SCHEMA_DIR "\n"));
    outbox_check_schema_dir(&c, "avro.reader-schema-dir", "/nonexistent/schemas", NULL);
    assert_int_equal(c.problems, 1);
    written(&c, text, sizeof text);
    assert_non_null(strstr(text, "  PROBLEM  "));
    assert_non_null(strstr(text, "/nonexistent/schemas"));
    assert_non_null(
        strstr(text, "           fix: fix the schema file or set avro.reader-schema-dir\n"));
    fclose(c.out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_and_summary),
        cmocka_unit_test(test_exit_status),
        cmocka_unit_test(test_schema_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
