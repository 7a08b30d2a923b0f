/* Framing of Avro record values: Confluent and Avro single-object encoding. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "avro_json.h"
#include "avro_schema.h"
#include "buf.h"
#include "wire.h"

static void assert_contains(const char *haystack, const char *needle)
{
    if (strstr(haystack, needle) == NULL)
        fail_msg("\"%s\" does not contain \"%s\"", haystack, needle);
}

static void test_confluent_header_is_zero_then_big_endian_id(void **state)
{
    outbox_buf buf = OUTBOX_BUF_INIT;
    const uint8_t want[] = {0x00, 0x01, 0x02, 0x03, 0x04};

    (void)state;
    assert_int_equal(outbox_wire_confluent_write(&buf, 0x01020304, NULL, 0), 0);
    assert_int_equal(buf.len, sizeof(want));
    assert_memory_equal(buf.data, want, sizeof(want));
    outbox_buf_free(&buf);
}

static void test_confluent_write_rejects_negative_id(void **state)
{
    outbox_buf buf = OUTBOX_BUF_INIT;
    char err[128] = "";

    (void)state;
    assert_int_equal(outbox_wire_confluent_write(&buf, -1, err, sizeof(err)),
                     OUTBOX_AVRO_ERR_FRAMING);
    assert_string_equal(err, "schema id -1 is negative");
    assert_int_equal(buf.len, 0);
    outbox_buf_free(&buf);
}

static void test_single_object_header_is_c301_then_little_endian_fingerprint(void **state)
{
    outbox_buf buf = OUTBOX_BUF_INIT;
    const uint8_t want[] = {0xC3, 0x01, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01};

    (void)state;
    assert_int_equal(outbox_wire_single_object_write(&buf, 0x0102030405060708ULL, NULL, 0), 0);
    assert_int_equal(buf.len, sizeof(want));
    assert_memory_equal(buf.data, want, sizeof(want));
    outbox_buf_free(&buf);
}

static void test_parse_confluent_returns_id_and_body(void **state)
{
    const uint8_t msg[] = {0x00, 0x00, 0x00, 0x01, 0x2C, 0xAA, 0xBB};
    outbox_wire_msg parsed;

    (void)state;
    assert_int_equal(outbox_wire_msg_parse(msg, sizeof(msg), &parsed, NULL, 0), 0);
    assert_int_equal(parsed.format, OUTBOX_WIRE_CONFLUENT);
    assert_int_equal(parsed.schema_id, 300);
    assert_ptr_equal(parsed.body, msg + 5);
    assert_int_equal(parsed.body_len, 2);
    assert_string_equal(outbox_wire_format_name(parsed.format), "confluent");
}

static void test_parse_single_object_returns_fingerprint_and_body(void **state)
{
    const uint8_t msg[] = {0xC3, 0x01, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, 0x02};
    outbox_wire_msg parsed;

    (void)state;
    assert_int_equal(outbox_wire_msg_parse(msg, sizeof(msg), &parsed, NULL, 0), 0);
    assert_int_equal(parsed.format, OUTBOX_WIRE_SINGLE_OBJECT);
    assert_true(parsed.fingerprint == 0x0102030405060708ULL);
    assert_int_equal(parsed.schema_id, -1);
    assert_ptr_equal(parsed.body, msg + 10);
    assert_int_equal(parsed.body_len, 1);
}

static void test_parse_accepts_empty_body(void **state)
{
    const uint8_t msg[] = {0x00, 0x00, 0x00, 0x00, 0x07};
    outbox_wire_msg parsed;

    (void)state;
    assert_int_equal(outbox_wire_msg_parse(msg, sizeof(msg), &parsed, NULL, 0), 0);
    assert_int_equal(parsed.schema_id, 7);
    assert_int_equal(parsed.body_len, 0);
}

static void test_parse_rejects_empty_message(void **state)
{
    outbox_wire_msg parsed;
    char err[256] = "";

    (void)state;
    assert_int_equal(outbox_wire_msg_parse("", 0, &parsed, err, sizeof(err)),
                     OUTBOX_AVRO_ERR_FRAMING);
    assert_string_equal(err, "empty message: no Avro framing");
}

static void test_parse_rejects_short_headers(void **state)
{
    const uint8_t confluent[] = {0x00, 0x00, 0x00, 0x01};
    const uint8_t single[] = {0xC3, 0x01, 0x01, 0x02};
    outbox_wire_msg parsed;
    char err[256] = "";

    (void)state;
    assert_int_equal(outbox_wire_msg_parse(confluent, sizeof(confluent), &parsed, err, sizeof(err)),
                     OUTBOX_AVRO_ERR_FRAMING);
    assert_string_equal(err, "message of 4 bytes is shorter than the 5-byte Confluent header");
    assert_null(parsed.body);
    assert_int_equal(outbox_wire_msg_parse(single, sizeof(single), &parsed, err, sizeof(err)),
                     OUTBOX_AVRO_ERR_FRAMING);
    assert_string_equal(err, "message of 4 bytes is shorter than the 10-byte single-object header");
    assert_int_equal(outbox_wire_msg_parse(single, 1, &parsed, err, sizeof(err)),
                     OUTBOX_AVRO_ERR_FRAMING);
}

static void test_parse_rejects_unknown_magic(void **state)
{
    outbox_wire_msg parsed;
    char err[256] = "";

    (void)state;
    assert_int_equal(outbox_wire_msg_parse("{\"a\":1}", 7, &parsed, err, sizeof(err)),
                     OUTBOX_AVRO_ERR_FRAMING);
    assert_contains(err, "unknown framing: first byte 0x7b");
    assert_int_equal(outbox_wire_msg_parse("\xC3\x02"
                                           "12345678",
                                           10, &parsed, err, sizeof(err)),
                     OUTBOX_AVRO_ERR_FRAMING);
    assert_contains(err, "unknown single-object format version 0x02");
}

static void test_parse_rejects_negative_schema_id(void **state)
{
    const uint8_t msg[] = {0x00, 0xFF, 0xFF, 0xFF, 0xFF};
    outbox_wire_msg parsed;
    char err[256] = "";

    (void)state;
    assert_int_equal(outbox_wire_msg_parse(msg, sizeof(msg), &parsed, err, sizeof(err)),
                     OUTBOX_AVRO_ERR_FRAMING);
    assert_contains(err, "is negative");
}

/* Writer and reader together: frame an event, find its schema by fingerprint, decode. */
static void test_single_object_event_round_trips_through_schema_set(void **state)
{
    outbox_schemas *schemas = NULL;
    const outbox_schema *schema;
    outbox_buf buf = OUTBOX_BUF_INIT;
    outbox_wire_msg parsed;
    json_t *event = json_loads("{\"comment_id\":\"3f2b8c1e-9d4a-4e7b-8c21-5a6f0e9d1b27\","
                               "\"post_id\":\"a1c9e5d3-7b2f-4c8e-9a06-1d3e5f7b9c0a\","
                               "\"decision\":\"APPROVED\",\"moderated_at\":"
                               "\"2026-11-23T15:41:33.123Z\"}",
                               0, NULL);
    json_t *decoded = NULL;
    char err[512];

    (void)state;
    assert_non_null(event);
    assert_int_equal(outbox_schemas_load_dir(SCHEMA_DIR, &schemas, err, sizeof(err)), 0);
    schema = outbox_schemas_find(schemas, "CommentModerated");
    assert_non_null(schema);
    assert_int_equal(
        outbox_wire_single_object_write(&buf, outbox_schema_fingerprint(schema), err, sizeof(err)),
        0);
    assert_int_equal(outbox_avro_json_encode(schema, event, &buf, err, sizeof(err)), 0);

    assert_int_equal(outbox_wire_msg_parse(buf.data, buf.len, &parsed, err, sizeof(err)), 0);
    assert_int_equal(parsed.format, OUTBOX_WIRE_SINGLE_OBJECT);
    assert_ptr_equal(outbox_schemas_find_fingerprint(schemas, parsed.fingerprint), schema);
    assert_int_equal(outbox_avro_json_decode(schema, parsed.body, parsed.body_len, 0, &decoded,
                                             NULL, err, sizeof(err)),
                     0);
    assert_string_equal(json_string_value(json_object_get(decoded, "moderator")), "auto-moderator");
    assert_true(json_is_null(json_object_get(decoded, "reason")));
    assert_string_equal(json_string_value(json_object_get(decoded, "moderated_at")),
                        "2026-11-23T15:41:33.123Z");
    json_decref(decoded);
    json_decref(event);
    outbox_buf_free(&buf);
    outbox_schemas_destroy(schemas);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_confluent_header_is_zero_then_big_endian_id),
        cmocka_unit_test(test_confluent_write_rejects_negative_id),
        cmocka_unit_test(test_single_object_header_is_c301_then_little_endian_fingerprint),
        cmocka_unit_test(test_parse_confluent_returns_id_and_body),
        cmocka_unit_test(test_parse_single_object_returns_fingerprint_and_body),
        cmocka_unit_test(test_parse_accepts_empty_body),
        cmocka_unit_test(test_parse_rejects_empty_message),
        cmocka_unit_test(test_parse_rejects_short_headers),
        cmocka_unit_test(test_parse_rejects_unknown_magic),
        cmocka_unit_test(test_parse_rejects_negative_schema_id),
        cmocka_unit_test(test_single_object_event_round_trips_through_schema_set),
    };

    return cmocka_run_group_tests_name("avro_wire", tests, NULL, NULL);
}
