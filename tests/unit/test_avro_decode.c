/* Avro binary -> JSON: rendering, round trips of python3-avro fixtures, strictness. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "avro_fixtures.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_json.h"
#include "avro_schema.h"
#include "buf.h"

/* Decode hex under schema_json (flags); returns rc, and the compact JSON or the error. */
static int decode_hex(const char *schema_json, const char *hex, unsigned flags, char *out,
                      size_t out_size)
{
    outbox_schema *schema = schema_text(schema_json);
    uint8_t data[1024];
    size_t len = unhex(hex, data);
    json_t *value = NULL;
    char *text;
    int rc;

    rc = outbox_avro_json_decode(schema, data, len, flags, &value, NULL, out, out_size);
    if (rc == 0) {
        text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
        assert_non_null(text);
        snprintf(out, out_size, "%s", text);
        free(text);
        json_decref(value);
    } else {
        assert_null(value);
    }
    outbox_schema_destroy(schema);
    return rc;
}

static const char *dec_ok(const char *schema_json, const char *hex)
{
    static char out[4096];

    if (decode_hex(schema_json, hex, 0, out, sizeof(out)) != 0)
        fail_msg("decode %s failed: %s", hex, out);
    return out;
}

static const char *dec_err(const char *schema_json, const char *hex, int expected_rc)
{
    static char out[4096];
    int rc = decode_hex(schema_json, hex, 0, out, sizeof(out));

    if (rc != expected_rc)
        fail_msg("decode %s: expected rc %d, got %d (%s)", hex, expected_rc, rc, out);
    return out;
}

static void assert_contains(const char *haystack, const char *needle)
{
    if (strstr(haystack, needle) == NULL)
        fail_msg("\"%s\" does not contain \"%s\"", haystack, needle);
}

static const struct {
    const char *schema;
    const char *name;
} fixtures[] = {
    {SCHEMA_DIR "/PostCreated.avsc", "post_created_full"},
    {SCHEMA_DIR "/PostCreated.avsc", "post_created_defaults"},
    {SCHEMA_DIR "/PostCreated.avsc", "post_created_offset"},
    {SCHEMA_DIR "/CommentCreated.avsc", "comment_created_top_level"},
    {SCHEMA_DIR "/CommentCreated.avsc", "comment_created_reply_wrapped"},
    {SCHEMA_DIR "/CommentModerated.avsc", "comment_moderated_rejected"},
    {SCHEMA_DIR "/CommentUpdated.avsc", "comment_updated_micros"},
    {AVRO_FIXTURES "/schemas/AllTypes.avsc", "all_types"},
    {AVRO_FIXTURES "/schemas/AllTypes.avsc", "all_types_edges"},
};

#define N_FIXTURES (sizeof(fixtures) / sizeof(fixtures[0]))

static uint8_t *fixture_bin(size_t i, size_t *len)
{
    char path[512];

    snprintf(path, sizeof(path), "%s/%s.bin", AVRO_FIXTURES, fixtures[i].name);
    return (uint8_t *)slurp(path, len);
}

static void test_every_python_fixture_round_trips(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < N_FIXTURES; i++) {
        outbox_schema *schema = schema_file(fixtures[i].schema);
        outbox_buf buf = OUTBOX_BUF_INIT;
        json_t *value = NULL;
        char err[512];
        size_t len;
        size_t consumed = 0;
        uint8_t *bin = fixture_bin(i, &len);

        if (outbox_avro_json_decode(schema, bin, len, 0, &value, &consumed, err, sizeof(err)))
            fail_msg("%s: %s", fixtures[i].name, err);
        assert_int_equal(consumed, len);
        if (outbox_avro_json_encode(schema, value, &buf, err, sizeof(err)) != 0)
            fail_msg("%s re-encode: %s", fixtures[i].name, err);
        assert_int_equal(buf.len, len);
        assert_memory_equal(buf.data, bin, len);
        json_decref(value);
        outbox_buf_free(&buf);
        free(bin);
        outbox_schema_destroy(schema);
    }
}

static void test_every_proper_prefix_is_truncated(void **state)
{
    size_t i;
    size_t cut;

    (void)state;
    for (i = 0; i < N_FIXTURES; i++) {
        outbox_schema *schema = schema_file(fixtures[i].schema);
        size_t len;
        uint8_t *bin = fixture_bin(i, &len);

        for (cut = 0; cut < len; cut++) {
            json_t *value = NULL;
            char err[512];
            int rc = outbox_avro_json_decode(schema, bin, cut, 0, &value, NULL, err, sizeof(err));

            if (rc != OUTBOX_AVRO_ERR_TRUNCATED)
                fail_msg("%s cut at %zu: rc %d (%s)", fixtures[i].name, cut, rc, err);
            assert_null(value);
        }
        free(bin);
        outbox_schema_destroy(schema);
    }
}

static void test_decode_renders_logical_types(void **state)
{
    outbox_schema *schema = schema_file(AVRO_FIXTURES "/schemas/AllTypes.avsc");
    json_t *value = NULL;
    char err[512];
    size_t len;
    uint8_t *bin = fixture_bin(7, &len); /* all_types */

    (void)state;
    assert_string_equal(fixtures[7].name, "all_types");
    assert_int_equal(outbox_avro_json_decode(schema, bin, len, 0, &value, NULL, err, sizeof(err)),
                     0);
    assert_string_equal(json_string_value(json_object_get(value, "price")), "-12345.60");
    assert_string_equal(json_string_value(json_object_get(value, "balance")), "-7.2500");
    assert_string_equal(json_string_value(json_object_get(value, "born")), "1815-12-10");
    assert_string_equal(json_string_value(json_object_get(value, "seen_at")),
                        "1970-01-01T00:00:00.000001Z");
    assert_string_equal(json_string_value(json_object_get(value, "alarm")), "07:30:00.250");
    assert_string_equal(json_string_value(json_object_get(value, "id")),
                        "0b7e4a92-3c5d-4f18-b6e9-2a8d1c4f7e30");
    assert_int_equal(json_string_length(json_object_get(value, "blob")), 7);
    assert_memory_equal(json_string_value(json_object_get(value, "blob")),
                        "\x00\x01\x7f\xc2\x80\xc3\xbf", 7);
    assert_string_equal(json_string_value(json_object_get(value, "color")), "BLUE");
    assert_int_equal(json_integer_value(json_object_get(value, "choice")), 42);
    json_decref(value);
    free(bin);
    outbox_schema_destroy(schema);
}

static void test_timestamps_render_as_rfc3339_utc(void **state)
{
    (void)state;
    assert_string_equal(
        dec_ok("{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}", "86d18e91c168"),
        "\"2026-11-23T15:41:33.123Z\"");
    assert_string_equal(dec_ok("{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}", "01"),
                        "\"1969-12-31T23:59:59.999Z\"");
    assert_string_equal(dec_ok("{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}", "01"),
                        "\"1969-12-31T23:59:59.999999Z\"");
    assert_string_equal(
        dec_ok("{\"type\":\"long\",\"logicalType\":\"local-timestamp-millis\"}", "02"),
        "\"1970-01-01T00:00:00.001\"");
}

static void test_values_outside_years_0_to_9999_stay_integers(void **state)
{
    (void)state;
    assert_string_equal(
        dec_ok("{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}", "feffffffffffffffff01"),
        "9223372036854775807");
    assert_string_equal(
        dec_ok("{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}", "ffffffffffffffffff01"),
        "-9223372036854775808");
    assert_string_equal(dec_ok("{\"type\":\"int\",\"logicalType\":\"date\"}", "feffffff0f"),
                        "2147483647");
}

static void test_date_renders_as_iso_date(void **state)
{
    (void)state;
    assert_string_equal(dec_ok("{\"type\":\"int\",\"logicalType\":\"date\"}", "90ac01"),
                        "\"2000-02-29\"");
    assert_string_equal(dec_ok("{\"type\":\"int\",\"logicalType\":\"date\"}", "01"),
                        "\"1969-12-31\"");
}

static void test_decimal_renders_with_scale_digits(void **state)
{
    const char *dec = "{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":10,"
                      "\"scale\":3}";

    (void)state;
    assert_string_equal(dec_ok(dec, "0205"), "\"0.005\"");
    assert_string_equal(dec_ok(dec, "02ff"), "\"-0.001\"");
    assert_string_equal(dec_ok(dec, "0200"), "\"0.000\"");
    assert_string_equal(dec_ok(dec, "00"), "\"0.000\"");
    assert_string_equal(dec_ok(dec, "0404ce"), "\"1.230\"");
    /* python3-avro writes -128 in two bytes; any sign extension decodes */
    assert_string_equal(dec_ok(dec, "04ff80"), "\"-0.128\"");
}

static void test_decimal_above_precision_is_malformed(void **state)
{
    (void)state;
    assert_contains(dec_err("{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":2}",
                            "0401f4", OUTBOX_AVRO_ERR_MALFORMED),
                    "decimal value exceeds its precision");
}

static void test_union_renders_plain_value(void **state)
{
    (void)state;
    assert_string_equal(dec_ok("[\"null\",\"string\"]", "020261"), "\"a\"");
    assert_string_equal(dec_ok("[\"null\",\"string\"]", "00"), "null");
    assert_string_equal(dec_ok("[\"null\",\"long\",\"string\"]", "040261"), "\"a\"");
}

static void test_union_value_the_encoder_would_misplace_is_wrapped(void **state)
{
    (void)state;
    /* 5 as long: plain 5 would be encoded into the double branch */
    assert_string_equal(dec_ok("[\"null\",\"double\",\"long\"]", "040a"), "{\"long\":5}");
    assert_string_equal(dec_ok("[\"null\",\"double\",\"long\"]", "020000000000000440"), "2.5");
    assert_string_equal(dec_ok("[\"string\",{\"type\":\"enum\",\"name\":\"n.E\",\"symbols\":"
                               "[\"A\"]}]",
                               "0200"),
                        "{\"n.E\":\"A\"}");
}

static void test_wrap_unions_flag_wraps_every_branch(void **state)
{
    char out[256];

    (void)state;
    assert_int_equal(decode_hex("[\"null\",\"string\"]", "020261", OUTBOX_AVRO_DECODE_WRAP_UNIONS,
                                out, sizeof(out)),
                     0);
    assert_string_equal(out, "{\"string\":\"a\"}");
}

static void test_truncated_string_is_reported_with_path(void **state)
{
    (void)state;
    assert_string_equal(
        dec_err("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":"
                "{\"type\":\"array\",\"items\":\"string\"}}]}",
                "04026106", OUTBOX_AVRO_ERR_TRUNCATED),
        "truncated Avro at a[1] (byte 4): string of 3 bytes but only 0 left");
}

static void test_truncated_varint_is_truncated(void **state)
{
    (void)state;
    assert_contains(dec_err("\"long\"", "8080", OUTBOX_AVRO_ERR_TRUNCATED),
                    "input ends inside the varint of long");
    assert_contains(dec_err("\"double\"", "00000000", OUTBOX_AVRO_ERR_TRUNCATED),
                    "input ends inside a double");
    assert_contains(dec_err("\"boolean\"", "", OUTBOX_AVRO_ERR_TRUNCATED),
                    "input ends before a boolean");
}

static void test_overlong_varint_is_malformed(void **state)
{
    (void)state;
    assert_contains(dec_err("\"long\"", "8080808080808080808001", OUTBOX_AVRO_ERR_MALFORMED),
                    "varint of long longer than 10 bytes");
    assert_contains(dec_err("\"long\"", "ffffffffffffffffff03", OUTBOX_AVRO_ERR_MALFORMED),
                    "varint of long overflows 64 bits");
    assert_contains(dec_err("\"int\"", "808080808001", OUTBOX_AVRO_ERR_MALFORMED),
                    "varint of int longer than 5 bytes");
    assert_contains(dec_err("\"int\"", "ffffffff1f", OUTBOX_AVRO_ERR_MALFORMED),
                    "varint of int overflows 32 bits");
    assert_string_equal(dec_ok("\"int\"", "feffffff0f"), "2147483647");
    assert_string_equal(dec_ok("\"long\"", "ffffffffffffffffff01"), "-9223372036854775808");
}

static void test_invalid_indexes_and_booleans_are_malformed(void **state)
{
    (void)state;
    assert_contains(dec_err("[\"null\",\"int\"]", "04", OUTBOX_AVRO_ERR_MALFORMED),
                    "union index 2 out of range");
    assert_contains(dec_err("[\"null\",\"int\"]", "01", OUTBOX_AVRO_ERR_MALFORMED),
                    "union index -1 out of range");
    assert_contains(dec_err("{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"]}", "02",
                            OUTBOX_AVRO_ERR_MALFORMED),
                    "enum index 1 out of range for E");
    assert_contains(dec_err("\"boolean\"", "02", OUTBOX_AVRO_ERR_MALFORMED),
                    "boolean byte 0x02 is neither 0 nor 1");
}

static void test_bad_lengths_and_text_are_malformed(void **state)
{
    (void)state;
    assert_contains(dec_err("\"string\"", "01", OUTBOX_AVRO_ERR_MALFORMED),
                    "negative length -1 of string");
    assert_contains(dec_err("\"string\"", "04c328", OUTBOX_AVRO_ERR_MALFORMED), "not valid UTF-8");
    assert_contains(dec_err("\"string\"", "06eda080", OUTBOX_AVRO_ERR_MALFORMED),
                    "not valid UTF-8"); /* a UTF-16 surrogate */
    assert_contains(dec_err("{\"type\":\"string\",\"logicalType\":\"uuid\"}", "0278",
                            OUTBOX_AVRO_ERR_MALFORMED),
                    "is not a uuid");
}

static void test_bytes_render_in_the_form_their_type_chose(void **state)
{
    const char *b64 = "{\"type\":\"bytes\",\"outbox.encoding\":\"base64\"}";
    const char *fixed = "{\"type\":\"fixed\",\"name\":\"H\",\"size\":2,"
                        "\"outbox.encoding\":\"base64\"}";
    const char *rec = "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"b\","
                      "\"type\":[\"null\",{\"type\":\"bytes\",\"outbox.encoding\":\"base64\"}]}]}";

    (void)state;
    assert_string_equal(dec_ok(b64, "08000102ff"), "\"AAEC/w==\"");
    assert_string_equal(dec_ok(b64, "0600ff00"), "\"AP8A\"");
    assert_string_equal(dec_ok(b64, "04ffee"), "\"/+4=\"");
    assert_string_equal(dec_ok(b64, "00"), "\"\"");
    assert_string_equal(dec_ok(fixed, "0000"), "\"AAA=\"");
    assert_string_equal(dec_ok(rec, "020400ff"), "{\"b\":\"AP8=\"}");
    /* the default stays Avro's code points */
    assert_string_equal(dec_ok("\"bytes\"", "040041"), "\"\\u0000A\"");
}

static void test_base64_bytes_round_trip(void **state)
{
    const char *schema_json = "{\"type\":\"array\",\"items\":{\"type\":\"bytes\","
                              "\"outbox.encoding\":\"base64\"}}";
    outbox_schema *schema = schema_text(schema_json);
    outbox_buf buf = OUTBOX_BUF_INIT;
    uint8_t data[64];
    json_t *value = NULL;
    char err[256];
    size_t n;
    size_t i;

    (void)state;
    /* one item of each length 0..9, every byte value in turn: encode(decode(x)) == x */
    for (n = 0; n < 10; n++) {
        size_t len = 0;

        data[len++] = 2; /* one item */
        data[len++] = (uint8_t)(2 * n);
        for (i = 0; i < n; i++)
            data[len++] = (uint8_t)(37 * (n + i) + 251);
        data[len++] = 0;
        assert_int_equal(
            outbox_avro_json_decode(schema, data, len, 0, &value, NULL, err, sizeof(err)), 0);
        outbox_buf_reset(&buf);
        assert_int_equal(outbox_avro_json_encode(schema, value, &buf, err, sizeof(err)), 0);
        assert_int_equal(buf.len, len);
        assert_memory_equal(buf.data, data, len);
        json_decref(value);
    }
    outbox_buf_free(&buf);
    outbox_schema_destroy(schema);
}

static void test_trailing_bytes_are_malformed_unless_allowed(void **state)
{
    char out[256];

    (void)state;
    assert_string_equal(dec_err("\"int\"", "0202", OUTBOX_AVRO_ERR_MALFORMED),
                        "malformed Avro at top level (byte 1): 1 trailing bytes after the value");
    assert_int_equal(
        decode_hex("\"int\"", "0202", OUTBOX_AVRO_DECODE_ALLOW_TRAILING, out, sizeof(out)), 0);
    assert_string_equal(out, "1");
}

static void test_huge_block_counts_are_rejected_before_allocating(void **state)
{
    (void)state;
    assert_contains(dec_err("{\"type\":\"array\",\"items\":\"int\"}", "feffffffffffffffff01",
                            OUTBOX_AVRO_ERR_TRUNCATED),
                    "cannot fit in 0 bytes");
    assert_contains(dec_err("{\"type\":\"array\",\"items\":\"null\"}", "feffffffffffffffff01",
                            OUTBOX_AVRO_ERR_MALFORMED),
                    "items of an empty type");
}

static void test_negative_block_count_carries_a_byte_size(void **state)
{
    (void)state;
    /* -2 items, 2 bytes, then 1 and 2, then end */
    assert_string_equal(dec_ok("{\"type\":\"array\",\"items\":\"int\"}", "0304020400"), "[1,2]");
    assert_string_equal(dec_ok("{\"type\":\"map\",\"values\":\"int\"}", "030c02610202620400"),
                        "{\"a\":1,\"b\":2}");
}

/* The commit-time helpers the projector uses for $8: RFC 3339 in any accepted form -> one
 * canonical UTC text; anything else refused. */
static void test_rfc3339_canonical_round_trip(void **state)
{
    static const struct {
        const char *in, *out;
    } ok[] = {
        {"2026-01-01T00:00:00.001001Z", "2026-01-01T00:00:00.001001Z"},
        {"2026-01-01T01:30:00+01:30", "2026-01-01T00:00:00.000000Z"},
        {"2025-12-31 23:59:59.9999999-00:00", "2025-12-31T23:59:59.999999Z"},
        {"1969-12-31t23:59:59.5z", "1969-12-31T23:59:59.500000Z"},
    };
    static const char *const bad[] = {"1767225600000",
                                      "",
                                      "2026-01-01",
                                      "2026-01-01T00:00:00",
                                      "2026-02-30T00:00:00Z",
                                      "now",
                                      "2026-01-01T00:00:00Zjunk"};
    char text[OUTBOX_RFC3339_MAX];
    int64_t us;

    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(outbox_rfc3339_to_micros(ok[i].in, strlen(ok[i].in), &us), 1);
        assert_int_equal(outbox_rfc3339_from_micros(us, text, sizeof text), 1);
        assert_string_equal(text, ok[i].out);
    }
    assert_int_equal(outbox_rfc3339_to_micros(ok[0].in, strlen(ok[0].in), &us), 1);
    assert_int_equal(us, INT64_C(1767225600001001));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(outbox_rfc3339_to_micros(bad[i], strlen(bad[i]), &us), 0);
    assert_int_equal(outbox_rfc3339_from_micros(0, text, OUTBOX_RFC3339_MAX - 1), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_python_fixture_round_trips),
        cmocka_unit_test(test_every_proper_prefix_is_truncated),
        cmocka_unit_test(test_decode_renders_logical_types),
        cmocka_unit_test(test_rfc3339_canonical_round_trip),
        cmocka_unit_test(test_timestamps_render_as_rfc3339_utc),
        cmocka_unit_test(test_values_outside_years_0_to_9999_stay_integers),
        cmocka_unit_test(test_date_renders_as_iso_date),
        cmocka_unit_test(test_decimal_renders_with_scale_digits),
        cmocka_unit_test(test_decimal_above_precision_is_malformed),
        cmocka_unit_test(test_union_renders_plain_value),
        cmocka_unit_test(test_union_value_the_encoder_would_misplace_is_wrapped),
        cmocka_unit_test(test_wrap_unions_flag_wraps_every_branch),
        cmocka_unit_test(test_truncated_string_is_reported_with_path),
        cmocka_unit_test(test_truncated_varint_is_truncated),
        cmocka_unit_test(test_overlong_varint_is_malformed),
        cmocka_unit_test(test_invalid_indexes_and_booleans_are_malformed),
        cmocka_unit_test(test_bad_lengths_and_text_are_malformed),
        cmocka_unit_test(test_bytes_render_in_the_form_their_type_chose),
        cmocka_unit_test(test_base64_bytes_round_trip),
        cmocka_unit_test(test_trailing_bytes_are_malformed_unless_allowed),
        cmocka_unit_test(test_huge_block_counts_are_rejected_before_allocating),
        cmocka_unit_test(test_negative_block_count_carries_a_byte_size),
    };

    return cmocka_run_group_tests_name("avro_decode", tests, NULL, NULL);
}
