/*
 * Findings of the fuzz targets (tests/fuzz), one test each, with the minimized input as a byte
 * fixture. Some only fail under the sanitizers (undefined behaviour that gives the right answer
 * on this compiler): the build with OUTBOX_SANITIZE=ON, or OUTBOX_FUZZ=ON, runs them so.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "pgoutput.h"
#include "registry.h"

#define LEN(s) (sizeof(s) - 1)

static void assert_one_line(const char *text)
{
    for (const char *c = text; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            fail_msg("control character 0x%02x at %zu in \"%s\"", (unsigned char)*c,
                     (size_t)(c - text), text);
}

/* fuzz_pgoutput: walking the old tuple of an Update that carries none (its values pointer is
 * NULL) did NULL + 0, undefined behaviour (UBSan: "applying zero offset to null pointer"). */
static void test_update_without_old_tuple_walks_empty(void **state)
{
    (void)state;
    /* 'U', relid 16517, 'N' new tuple of 1 column: NULL */
    static const uint8_t update[] = {'U', 0x00, 0x00, 0x40, 0x85, 'N', 0x00, 0x01, 'n'};
    relay_pgoutput_update upd;
    relay_pgoutput_cursor cursor;
    relay_pgoutput_value value;
    char err[256];

    assert_int_equal(relay_pgoutput_read_update(update, sizeof update, &upd, err, sizeof err), 0);
    assert_int_equal(upd.old_kind, RELAY_PGOUTPUT_OLD_NONE);
    relay_pgoutput_tuple_begin(&upd.oldtuple, &cursor);
    assert_false(relay_pgoutput_tuple_next(&cursor, &value));
    assert_ptr_equal(cursor.pos, cursor.end);
    relay_pgoutput_tuple_begin(&upd.newtuple, &cursor);
    assert_true(relay_pgoutput_tuple_next(&cursor, &value));
    assert_int_equal(value.kind, RELAY_PGOUTPUT_VALUE_NULL);
}

/* fuzz_registry: a registry answer that is not JSON put jansson's message, which quotes the
 * offending bytes, into errstr unfiltered: a control character reached the log line. */
static void test_non_json_answer_message_has_no_control_characters(void **state)
{
    (void)state;
    static const char body[] = "{\x01\x00"
                               "1}";
    char err[256] = "";
    int32_t id = -1;
    char *schema = NULL;
    char level[32];

    assert_int_equal(outbox_registry_parse_id(body, LEN(body), &id, err, sizeof err),
                     OUTBOX_REGISTRY_ERR_PROTOCOL);
    assert_non_null(strstr(err, "answer is not JSON"));
    assert_one_line(err);
    assert_int_equal(outbox_registry_parse_schema(body, LEN(body), &schema, err, sizeof err),
                     OUTBOX_REGISTRY_ERR_PROTOCOL);
    assert_one_line(err);
    assert_int_equal(
        outbox_registry_parse_config(body, LEN(body), level, sizeof level, err, sizeof err),
        OUTBOX_REGISTRY_ERR_PROTOCOL);
    assert_one_line(err);
}

/* Found while fixing the above: the other registry strings copied into messages and results. */
static void test_registry_type_and_level_have_no_control_characters(void **state)
{
    (void)state;
    static const char typed[] = "{\"schema\":\"\\\"int\\\"\",\"schemaType\":\"PROTO\\nBUF\"}";
    static const char config[] = "{\"compatibilityLevel\":\"BACK\\rWARD\"}";
    char err[256] = "";
    char *schema = NULL;
    char level[32] = "";

    assert_int_equal(outbox_registry_parse_schema(typed, LEN(typed), &schema, err, sizeof err),
                     OUTBOX_REGISTRY_ERR_PROTOCOL);
    assert_string_equal(err, "the schema is of type PROTO BUF, not AVRO");
    assert_int_equal(
        outbox_registry_parse_config(config, LEN(config), level, sizeof level, err, sizeof err),
        OUTBOX_REGISTRY_OK);
    assert_string_equal(level, "BACK WARD");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_update_without_old_tuple_walks_empty),
        cmocka_unit_test(test_non_json_answer_message_has_no_control_characters),
        cmocka_unit_test(test_registry_type_and_level_have_no_control_characters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
