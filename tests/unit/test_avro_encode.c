/* JSON -> Avro binary: byte fixtures from python3-avro, logical types, defaults, errors. */
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

static void hex(const uint8_t *data, size_t len, char *out, size_t out_size)
{
    size_t i;

    out[0] = '\0';
    for (i = 0; i < len && 2 * i + 2 < out_size; i++)
        snprintf(out + 2 * i, 3, "%02x", data[i]);
}

/* Encode value (JSON text) with schema; returns rc, hex of the output or the error message. */
static int encode_with(const outbox_schema *schema, const char *value_json, char *out,
                       size_t out_size)
{
    outbox_buf buf = OUTBOX_BUF_INIT;
    json_error_t jerr;
    json_t *value = json_loads(value_json, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    int rc;

    if (value == NULL)
        fail_msg("bad test JSON %s: %s", value_json, jerr.text);
    rc = outbox_avro_json_encode(schema, value, &buf, out, out_size);
    if (rc == 0)
        hex(buf.data, buf.len, out, out_size);
    json_decref(value);
    outbox_buf_free(&buf);
    return rc;
}

/* Hex of the encoding; fails the test on error. */
static const char *enc_ok(const char *schema_json, const char *value_json)
{
    static char out[4096];
    outbox_schema *schema = schema_text(schema_json);
    int rc = encode_with(schema, value_json, out, sizeof(out));

    if (rc != 0)
        fail_msg("encode %s failed: %s", value_json, out);
    outbox_schema_destroy(schema);
    return out;
}

/* Error message of a failing encoding; fails the test if it succeeds. */
static const char *enc_err(const char *schema_json, const char *value_json)
{
    static char out[4096];
    outbox_schema *schema = schema_text(schema_json);
    int rc = encode_with(schema, value_json, out, sizeof(out));

    if (rc != OUTBOX_AVRO_ENC_MISMATCH)
        fail_msg("encode %s: expected a mismatch, got rc %d (%s)", value_json, rc, out);
    outbox_schema_destroy(schema);
    return out;
}

/* The fixture's JSON, encoded by us, must equal python3-avro's bytes. */
static void check_fixture(const char *schema_path, const char *name)
{
    char path[512];
    char err[512];
    char want[4096];
    char got[4096];
    outbox_buf buf = OUTBOX_BUF_INIT;
    outbox_schema *schema = schema_file(schema_path);
    json_error_t jerr;
    json_t *value;
    size_t len;
    char *expected;

    snprintf(path, sizeof(path), "%s/%s.json", AVRO_FIXTURES, name);
    value = json_load_file(path, JSON_ALLOW_NUL, &jerr);
    if (value == NULL)
        fail_msg("%s: %s", path, jerr.text);
    snprintf(path, sizeof(path), "%s/%s.bin", AVRO_FIXTURES, name);
    expected = slurp(path, &len);
    if (outbox_avro_json_encode(schema, value, &buf, err, sizeof(err)) != 0)
        fail_msg("%s: %s", name, err);
    hex((const uint8_t *)expected, len, want, sizeof(want));
    hex(buf.data, buf.len, got, sizeof(got));
    assert_string_equal(got, want);
    free(expected);
    json_decref(value);
    outbox_buf_free(&buf);
    outbox_schema_destroy(schema);
}

static void assert_contains(const char *haystack, const char *needle)
{
    if (strstr(haystack, needle) == NULL)
        fail_msg("\"%s\" does not contain \"%s\"", haystack, needle);
}

/* ---- python3-avro fixtures ---- */

static void test_post_created_full_matches_python(void **state)
{
    (void)state;
    check_fixture(SCHEMA_DIR "/PostCreated.avsc", "post_created_full");
}

static void test_post_created_with_defaults_matches_python(void **state)
{
    (void)state;
    check_fixture(SCHEMA_DIR "/PostCreated.avsc", "post_created_defaults");
}

static void test_post_created_offset_and_extra_field_matches_python(void **state)
{
    (void)state;
    check_fixture(SCHEMA_DIR "/PostCreated.avsc", "post_created_offset");
}

static void test_comment_created_matches_python(void **state)
{
    (void)state;
    check_fixture(SCHEMA_DIR "/CommentCreated.avsc", "comment_created_top_level");
}

static void test_comment_created_wrapped_union_matches_python(void **state)
{
    (void)state;
    check_fixture(SCHEMA_DIR "/CommentCreated.avsc", "comment_created_reply_wrapped");
}

static void test_comment_moderated_matches_python(void **state)
{
    (void)state;
    check_fixture(SCHEMA_DIR "/CommentModerated.avsc", "comment_moderated_rejected");
}

static void test_comment_updated_micros_matches_python(void **state)
{
    (void)state;
    check_fixture(SCHEMA_DIR "/CommentUpdated.avsc", "comment_updated_micros");
}

static void test_all_types_matches_python(void **state)
{
    (void)state;
    check_fixture(AVRO_FIXTURES "/schemas/AllTypes.avsc", "all_types");
}

static void test_all_types_edge_values_match_python(void **state)
{
    (void)state;
    check_fixture(AVRO_FIXTURES "/schemas/AllTypes.avsc", "all_types_edges");
}

/* ---- primitives and containers ---- */

static void test_long_uses_zigzag_varints(void **state)
{
    (void)state;
    assert_string_equal(enc_ok("\"long\"", "0"), "00");
    assert_string_equal(enc_ok("\"long\"", "-1"), "01");
    assert_string_equal(enc_ok("\"long\"", "1"), "02");
    assert_string_equal(enc_ok("\"long\"", "-64"), "7f");
    assert_string_equal(enc_ok("\"long\"", "64"), "8001");
    assert_string_equal(enc_ok("\"long\"", "-9223372036854775808"), "ffffffffffffffffff01");
}

static void test_int_accepts_integral_reals_only(void **state)
{
    (void)state;
    assert_string_equal(enc_ok("\"int\"", "3.0"), "06");
    assert_string_equal(enc_err("\"int\"", "3.5"),
                        "schema mismatch at top level: expected int, got real");
}

static void test_int_out_of_range_is_an_error(void **state)
{
    (void)state;
    assert_string_equal(enc_err("\"int\"", "2147483648"),
                        "schema mismatch at top level: value 2147483648 out of range for int "
                        "[-2147483648, 2147483647]");
    assert_string_equal(enc_err("\"int\"", "3e9"),
                        "schema mismatch at top level: value 3000000000 out of range for int "
                        "[-2147483648, 2147483647]");
    /* a real beyond any long: out of range, not "expected long, got real" */
    assert_string_equal(enc_err("\"long\"", "1e19"),
                        "schema mismatch at top level: value 1e+19 out of range for long "
                        "[-9223372036854775808, 9223372036854775807]");
    assert_string_equal(enc_err("\"long\"", "-9.3e18"),
                        "schema mismatch at top level: value -9.3e+18 out of range for long "
                        "[-9223372036854775808, 9223372036854775807]");
}

static void test_float_and_double_are_little_endian_ieee(void **state)
{
    (void)state;
    assert_string_equal(enc_ok("\"float\"", "1.5"), "0000c03f");
    assert_string_equal(enc_ok("\"double\"", "5"), "0000000000001440");
    assert_string_equal(enc_ok("\"float\"", "\"NaN\""), "0000c07f");
    assert_string_equal(enc_ok("\"double\"", "\"-Infinity\""), "000000000000f0ff");
    assert_string_equal(enc_err("\"float\"", "1e300"),
                        "schema mismatch at top level: value 1e+300 out of range for float "
                        "[-3.40282347e+38, 3.40282347e+38]");
}

static void test_bytes_are_code_points_0_to_255(void **state)
{
    (void)state;
    assert_string_equal(enc_ok("\"bytes\"", "\"\\u0000A\\u00ff\""), "060041ff");
    assert_string_equal(enc_err("\"bytes\"", "\"\\u0100\""),
                        "schema mismatch at top level: bytes string has a character above "
                        "U+00FF at offset 0 (one character per byte, 0-255)");
}

#define B64_BYTES "{\"type\":\"bytes\",\"outbox.encoding\":\"base64\"}"
#define B64_FIXED "{\"type\":\"fixed\",\"name\":\"H\",\"size\":3,\"outbox.encoding\":\"base64\"}"

static void test_bytes_and_fixed_take_base64_when_the_type_says_so(void **state)
{
    (void)state;
    /* zero bytes, which jsonb cannot carry as "\u0000" */
    assert_string_equal(enc_ok(B64_BYTES, "\"AAEC/w==\""), "08000102ff");
    assert_string_equal(enc_ok(B64_BYTES, "\"AAEC/w\""), "08000102ff"); /* padding optional */
    assert_string_equal(enc_ok(B64_BYTES, "\"AAAA\""), "06000000");
    assert_string_equal(enc_ok(B64_BYTES, "\"\""), "00");
    assert_string_equal(enc_ok(B64_FIXED, "\"AAEC\""), "000102");
    assert_string_equal(enc_ok("{\"type\":\"fixed\",\"name\":\"H\",\"size\":3,"
                               "\"outbox.encoding\":\"codepoints\"}",
                               "\"\\u0000\\u0001\\u0002\""),
                        "000102");
    /* the code-point form stays the default */
    assert_string_equal(enc_ok("\"bytes\"", "\"AA==\""), "0841413d3d");
    assert_string_equal(enc_err(B64_FIXED, "\"AAE=\""),
                        "schema mismatch at top level: expected 3 bytes for fixed H, got 2 "
                        "(base64)");
    assert_string_equal(enc_err(B64_BYTES, "\"AB\""), /* non-zero unused bits */
                        "schema mismatch at top level: expected bytes as base64, got string "
                        "\"AB\"");
    assert_string_equal(enc_err(B64_BYTES, "\"A\""),
                        "schema mismatch at top level: expected bytes as base64, got string "
                        "\"A\"");
    assert_string_equal(enc_err(B64_BYTES, "\"AA AA\""),
                        "schema mismatch at top level: expected bytes as base64, got string "
                        "\"AA AA\"");
    assert_string_equal(enc_err(B64_BYTES, "\"AAEC/w=\""),
                        "schema mismatch at top level: expected bytes as base64, got string "
                        "\"AAEC/w=\"");
    assert_string_equal(enc_err(B64_BYTES, "\"AA-_\""), /* base64url is not base64 */
                        "schema mismatch at top level: expected bytes as base64, got string "
                        "\"AA-_\"");
    assert_string_equal(enc_err(B64_BYTES, "5"),
                        "schema mismatch at top level: expected bytes as a base64 string, got "
                        "integer");
}

static void test_bytes_form_property_is_checked(void **state)
{
    outbox_schema *schema = NULL;
    char err[512];
    static const struct {
        const char *schema;
        const char *error;
    } bad[] = {
        {"{\"type\":\"string\",\"outbox.encoding\":\"base64\"}",
         "\"outbox.encoding\" applies to bytes and fixed types only"},
        {"{\"type\":\"bytes\",\"outbox.encoding\":\"hex\"}",
         "\"outbox.encoding\" must be \"base64\" or \"codepoints\""},
        {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"b\",\"type\":\"bytes\","
         "\"outbox.encoding\":\"base64\"}]}",
         "field b: put \"outbox.encoding\" on its bytes or fixed type: {\"type\": \"bytes\", "
         "\"outbox.encoding\": \"base64\"}"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_not_equal(
            outbox_schema_parse(bad[i].schema, strlen(bad[i].schema), 0, &schema, err, sizeof(err)),
            0);
        if (strstr(err, bad[i].error) == NULL)
            fail_msg("%s: %s", bad[i].schema, err);
    }
}

static void test_zero_size_fixed_encodes_to_nothing(void **state)
{
    (void)state;
    /* an empty buffer (data still NULL): UBSan flagged NULL + 0 here (issue 8 item 10) */
    assert_string_equal(enc_ok("{\"type\":\"fixed\",\"name\":\"Z\",\"size\":0}", "\"\""), "");
    assert_string_equal(enc_ok("{\"type\":\"fixed\",\"name\":\"Z\",\"size\":0,"
                               "\"outbox.encoding\":\"base64\"}",
                               "\"\""),
                        "");
    assert_string_equal(enc_err("{\"type\":\"fixed\",\"name\":\"Z\",\"size\":0}", "\"a\""),
                        "schema mismatch at top level: expected 0 bytes for fixed Z, got 1");
}

static void test_fixed_needs_exact_size(void **state)
{
    const char *schema = "{\"type\":\"fixed\",\"name\":\"F\",\"size\":2}";

    (void)state;
    assert_string_equal(enc_ok(schema, "\"\\u00ffa\""), "ff61");
    assert_string_equal(enc_err(schema, "\"abc\""),
                        "schema mismatch at top level: expected 2 bytes for fixed F, got 3");
}

static void test_arrays_and_maps_are_one_block_then_zero(void **state)
{
    (void)state;
    assert_string_equal(enc_ok("{\"type\":\"array\",\"items\":\"int\"}", "[1,2,3]"), "0602040600");
    assert_string_equal(enc_ok("{\"type\":\"array\",\"items\":\"int\"}", "[]"), "00");
    assert_string_equal(enc_ok("{\"type\":\"map\",\"values\":\"int\"}", "{\"a\":1,\"b\":2}"),
                        "0402610202620400");
    assert_string_equal(enc_ok("{\"type\":\"map\",\"values\":\"int\"}", "{}"), "00");
}

static void test_enum_encodes_symbol_index(void **state)
{
    (void)state;
    assert_string_equal(
        enc_ok("{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\",\"C\"]}", "\"C\""),
        "04");
}

static void test_unknown_enum_symbol_is_an_error(void **state)
{
    outbox_schema *schema = schema_file(SCHEMA_DIR "/CommentModerated.avsc");
    char out[512];

    (void)state;
    assert_int_equal(encode_with(schema,
                                 "{\"comment_id\":\"3f2b8c1e-9d4a-4e7b-8c21-5a6f0e9d1b27\","
                                 "\"post_id\":\"3f2b8c1e-9d4a-4e7b-8c21-5a6f0e9d1b27\","
                                 "\"decision\":\"MAYBE\",\"moderated_at\":0}",
                                 out, sizeof(out)),
                     OUTBOX_AVRO_ENC_MISMATCH);
    assert_string_equal(out, "schema mismatch at decision: \"MAYBE\" is not a symbol of enum "
                             "blog.events.ModerationDecision (APPROVED, REJECTED)");
    outbox_schema_destroy(schema);
}

/* ---- records ---- */

static const char *nested_schema =
    "{\"type\":\"record\",\"name\":\"Post\",\"fields\":["
    "{\"name\":\"comment\",\"type\":{\"type\":\"record\",\"name\":\"Comment\",\"fields\":["
    "{\"name\":\"author_id\",\"type\":\"string\"}]}},"
    "{\"name\":\"comments\",\"type\":{\"type\":\"array\",\"items\":{\"type\":\"record\","
    "\"name\":\"C\",\"fields\":[{\"name\":\"created_at\",\"type\":{\"type\":\"long\","
    "\"logicalType\":\"timestamp-millis\"}}]}},\"default\":[]},"
    "{\"name\":\"counts\",\"type\":{\"type\":\"map\",\"values\":\"int\"},\"default\":{}}]}";

static void test_missing_required_field_names_its_path(void **state)
{
    (void)state;
    assert_string_equal(enc_err(nested_schema, "{\"comment\":{}}"),
                        "missing required field comment.author_id");
    assert_string_equal(enc_err(nested_schema, "{}"), "missing required field comment");
}

static void test_wrong_type_names_path_expected_and_actual(void **state)
{
    (void)state;
    assert_string_equal(
        enc_err(nested_schema, "{\"comment\":{\"author_id\":\"a\"},\"comments\":["
                               "{\"created_at\":1},{\"created_at\":2},{\"created_at\":true}]}"),
        "schema mismatch at comments[2].created_at: expected timestamp string or integer, got "
        "boolean");
    assert_string_equal(enc_err(nested_schema,
                                "{\"comment\":{\"author_id\":\"a\"},\"counts\":{\"a\":1,\"b\":"
                                "\"x\"}}"),
                        "schema mismatch at counts[\"b\"]: expected int, got string \"x\"");
    assert_string_equal(enc_err(nested_schema, "[]"),
                        "schema mismatch at top level: expected object for record Post, got "
                        "array");
}

static void test_extra_json_fields_are_ignored(void **state)
{
    const char *schema = "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\","
                         "\"type\":\"int\"}]}";
    char with_extra[64];

    (void)state;
    snprintf(with_extra, sizeof(with_extra), "%s", enc_ok(schema, "{\"a\":1,\"zzz\":[true]}"));
    assert_string_equal(with_extra, enc_ok(schema, "{\"a\":1}"));
}

static void test_missing_fields_take_their_defaults(void **state)
{
    const char *schema =
        "{\"type\":\"record\",\"name\":\"D\",\"fields\":["
        "{\"name\":\"i\",\"type\":\"int\",\"default\":5},"
        "{\"name\":\"s\",\"type\":\"string\",\"default\":\"x\"},"
        "{\"name\":\"u\",\"type\":[\"null\",\"string\"],\"default\":null},"
        "{\"name\":\"v\",\"type\":[\"long\",\"null\"],\"default\":7},"
        "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":\"int\"},\"default\":[1,2]},"
        "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"int\"},\"default\":{\"k\":1}},"
        "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"]},"
        "\"default\":\"B\"},"
        "{\"name\":\"b\",\"type\":\"bytes\",\"default\":\"\\u00ff\"},"
        "{\"name\":\"r\",\"type\":{\"type\":\"record\",\"name\":\"In\",\"fields\":["
        "{\"name\":\"x\",\"type\":\"int\"},{\"name\":\"y\",\"type\":\"int\",\"default\":3}]},"
        "\"default\":{\"x\":1}},"
        "{\"name\":\"t\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"},"
        "\"default\":0}]}";

    (void)state;
    assert_string_equal(enc_ok(schema, "{}"), "0a"         /* i = 5 */
                                              "0278"       /* s = "x" */
                                              "00"         /* u = null (branch 0) */
                                              "000e"       /* v = branch 0, 7 */
                                              "04020400"   /* a = [1, 2] */
                                              "02026b0200" /* m = {"k": 1} */
                                              "02"         /* e = B */
                                              "02ff"       /* b = \xff */
                                              "0206"       /* r = {x: 1, y: 3} */
                                              "00");       /* t = 0 */
}

static void test_given_values_override_defaults(void **state)
{
    (void)state;
    assert_string_equal(enc_ok("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"i\","
                               "\"type\":\"int\",\"default\":5}]}",
                               "{\"i\":1}"),
                        "02");
}

/* ---- unions ---- */

static void test_union_null_selects_the_null_branch(void **state)
{
    (void)state;
    assert_string_equal(enc_ok("[\"string\",\"null\"]", "null"), "02");
    assert_string_equal(enc_err("[\"string\",\"long\"]", "null"),
                        "schema mismatch at top level: expected one of [string, long], got null");
}

static void test_union_plain_value_selects_the_non_null_branch(void **state)
{
    (void)state;
    assert_string_equal(enc_ok("[\"null\",\"string\"]", "\"a\""), "020261");
    /* with a single non-null branch, its own error is reported */
    assert_string_equal(
        enc_err("[\"null\",{\"type\":\"string\",\"logicalType\":\"uuid\"}]", "\"nope\""),
        "schema mismatch at top level: expected uuid string (8-4-4-4-12 hex "
        "digits), got string \"nope\"");
}

static void test_union_accepts_avro_json_wrapped_values(void **state)
{
    const char *schema = "[\"null\",\"string\",{\"type\":\"record\",\"name\":\"n.R\","
                         "\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]}]";

    (void)state;
    assert_string_equal(enc_ok(schema, "{\"string\":\"a\"}"), "020261");
    assert_string_equal(enc_ok(schema, "{\"n.R\":{\"a\":1}}"), "0402");
    assert_string_equal(enc_ok(schema, "{\"R\":{\"a\":1}}"), "0402");
    /* a single key that names no branch is a plain value */
    assert_string_equal(enc_ok(schema, "{\"a\":1}"), "0402");
}

static void test_union_single_key_object_falls_back_to_plain_value(void **state)
{
    const char *map = "[\"null\",{\"type\":\"map\",\"values\":\"string\"}]";

    (void)state;
    /* {"map": "x"} does not read as a wrapped map, so it is the map {"map": "x"} */
    assert_string_equal(enc_ok(map, "{\"map\":\"x\"}"), "0202066d6170027800");
    assert_string_equal(enc_ok(map, "{\"map\":{\"k\":\"v\"}}"), "0202026b027600");
    /* when neither reading works, the wrapped reading's error is reported */
    assert_string_equal(enc_err("[\"null\",\"string\"]", "{\"string\":5}"),
                        "schema mismatch at top level: expected string, got integer");
}

static void test_union_picks_first_branch_that_accepts(void **state)
{
    (void)state;
    assert_string_equal(enc_ok("[\"null\",\"long\",\"string\"]", "5"), "020a");
    assert_string_equal(enc_ok("[\"null\",\"long\",\"string\"]", "\"x\""), "040278");
    assert_string_equal(enc_ok("[\"null\",\"double\",\"long\"]", "5"), "020000000000001440");
    assert_string_equal(enc_ok("[\"null\",\"double\",\"long\"]", "{\"long\":5}"), "040a");
}

static void test_union_without_matching_branch_lists_branches(void **state)
{
    (void)state;
    assert_string_equal(enc_err("[\"null\",\"long\",\"string\"]", "true"),
                        "schema mismatch at top level: expected one of [null, long, string], got "
                        "boolean");
}

/* ---- logical types ---- */

static const char *ts_millis = "{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}";
static const char *ts_micros = "{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}";

static void test_timestamp_string_with_offset_equals_utc(void **state)
{
    char utc[64];

    (void)state;
    snprintf(utc, sizeof(utc), "%s", enc_ok(ts_millis, "\"2026-11-23T15:41:33.123Z\""));
    assert_string_equal(enc_ok(ts_millis, "1795448493123"), utc);
    assert_string_equal(enc_ok(ts_millis, "\"2026-11-23T16:41:33.123+01:00\""), utc);
    assert_string_equal(enc_ok(ts_millis, "\"2026-11-23T10:11:33.123-05:30\""), utc);
    assert_string_equal(enc_ok(ts_millis, "\"2026-11-23 16:41:33.123+0100\""), utc);
    assert_string_equal(enc_ok(ts_millis, "\"2026-11-23t15:41:33.123z\""), utc);
}

static void test_timestamp_micros_keeps_microseconds(void **state)
{
    (void)state;
    assert_string_equal(enc_ok(ts_micros, "\"1970-01-01T00:00:00.000001Z\""), "02");
    assert_string_equal(enc_ok(ts_micros, "\"1969-12-31T23:59:59.999999Z\""), "01");
    assert_string_equal(enc_ok(ts_micros, "\"1970-01-01T00:00:01+00:00\""), "80897a");
}

static void test_timestamp_extra_fraction_digits_floor(void **state)
{
    (void)state;
    assert_string_equal(enc_ok(ts_millis, "\"1970-01-01T00:00:00.0019Z\""), "02");
    assert_string_equal(enc_ok(ts_millis, "\"1969-12-31T23:59:59.9995Z\""), "01");
}

static void test_timestamp_without_offset_is_rejected(void **state)
{
    (void)state;
    assert_string_equal(enc_err(ts_millis, "\"2026-11-23T15:41:33\""),
                        "schema mismatch at top level: expected RFC 3339 timestamp string with "
                        "offset or integer, got string \"2026-11-23T15:41:33\"");
}

static void test_timestamp_with_impossible_date_or_time_is_rejected(void **state)
{
    (void)state;
    enc_err(ts_millis, "\"2026-02-29T00:00:00Z\"");
    enc_err(ts_millis, "\"2026-11-23T24:00:00Z\"");
    enc_err(ts_millis, "\"2026-11-23T23:59:60Z\"");
    enc_err(ts_millis, "\"2026-11-23T23:59:59.Z\"");
    enc_err(ts_millis, "\"2026-11-23T23:59:59+25:00\"");
    assert_string_equal(enc_ok(ts_millis, "\"2024-02-29T00:00:00Z\""), "80a0c9a2be63");
}

static void test_local_timestamp_takes_wall_time_without_offset(void **state)
{
    const char *local = "{\"type\":\"long\",\"logicalType\":\"local-timestamp-millis\"}";

    (void)state;
    assert_string_equal(enc_ok(local, "\"1970-01-01T00:00:00.001\""), "02");
    enc_err(local, "\"1970-01-01T00:00:00.001Z\"");
}

static void test_date_accepts_iso_string_or_days(void **state)
{
    const char *date = "{\"type\":\"int\",\"logicalType\":\"date\"}";

    (void)state;
    assert_string_equal(enc_ok(date, "\"1970-01-02\""), "02");
    assert_string_equal(enc_ok(date, "\"1969-12-31\""), "01");
    assert_string_equal(enc_ok(date, "-1"), "01");
    assert_string_equal(enc_ok(date, "\"2000-02-29\""), "90ac01"); /* 11016 days */
    assert_string_equal(enc_err(date, "\"2001-02-29\""),
                        "schema mismatch at top level: expected date string YYYY-MM-DD or "
                        "integer, got string \"2001-02-29\"");
}

static void test_time_millis_accepts_clock_string(void **state)
{
    const char *time = "{\"type\":\"int\",\"logicalType\":\"time-millis\"}";

    (void)state;
    assert_string_equal(enc_ok(time, "\"00:00:01.5\""), "b817"); /* 1500 ms */
    enc_err(time, "\"24:00:00\"");
}

static void test_uuid_must_be_8_4_4_4_12_hex(void **state)
{
    const char *uuid = "{\"type\":\"string\",\"logicalType\":\"uuid\"}";

    (void)state;
    enc_ok(uuid, "\"3F2B8C1E-9d4a-4e7b-8c21-5a6f0e9d1b27\"");
    enc_err(uuid, "\"3f2b8c1e9d4a4e7b8c215a6f0e9d1b27\"");
    enc_err(uuid, "\"3f2b8c1e-9d4a-4e7b-8c21-5a6f0e9d1b2g\"");
    enc_err(uuid, "\"{3f2b8c1e-9d4a-4e7b-8c21-5a6f0e9d1b2}\"");
    assert_string_equal(enc_err(uuid, "42"),
                        "schema mismatch at top level: expected uuid string, got integer");
}

static const char *dec_bytes =
    "{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":10,\"scale\":2}";

static void test_decimal_scales_digits_exactly(void **state)
{
    (void)state;
    assert_string_equal(enc_ok(dec_bytes, "\"12.30\""), "0404ce");
    assert_string_equal(enc_ok(dec_bytes, "\"12.3\""), "0404ce");
    assert_string_equal(enc_ok(dec_bytes, "\"12.300\""), "0404ce");
    assert_string_equal(enc_ok(dec_bytes, "12.3"), "0404ce");
    assert_string_equal(enc_ok(dec_bytes, "\"1.23e1\""), "0404ce");
    assert_string_equal(enc_ok(dec_bytes, "5"), "0401f4");
    assert_string_equal(enc_ok(dec_bytes, "\"0.05\""), "0205");
    assert_string_equal(enc_ok(dec_bytes, "0"), "0200");
    assert_string_equal(enc_ok(dec_bytes, "\"-0.00\""), "0200");
    assert_string_equal(enc_ok(dec_bytes, "\"99999999.99\""), "0a02540be3ff");
}

static void test_decimal_negative_is_minimal_twos_complement(void **state)
{
    (void)state;
    assert_string_equal(enc_ok(dec_bytes, "\"-12.3\""), "04fb32");
    assert_string_equal(enc_ok(dec_bytes, "\"-0.01\""), "02ff");
    assert_string_equal(enc_ok(dec_bytes, "\"-1.28\""), "0280");
    assert_string_equal(enc_ok(dec_bytes, "\"-1.29\""), "04ff7f");
    assert_string_equal(enc_ok(dec_bytes, "\"1.27\""), "027f");
    assert_string_equal(enc_ok(dec_bytes, "\"1.28\""), "040080");
}

static void test_decimal_fixed_is_sign_extended(void **state)
{
    const char *fixed = "{\"type\":\"fixed\",\"name\":\"M\",\"size\":4,\"logicalType\":"
                        "\"decimal\",\"precision\":9,\"scale\":0}";

    (void)state;
    assert_string_equal(enc_ok(fixed, "-1"), "ffffffff");
    assert_string_equal(enc_ok(fixed, "\"1\""), "00000001");
    assert_string_equal(enc_ok(fixed, "-999999999"), "c4653601");
}

static void test_decimal_rejects_lost_digits(void **state)
{
    (void)state;
    assert_string_equal(enc_err(dec_bytes, "\"12.345\""),
                        "schema mismatch at top level: decimal(10,2) value \"12.345\" has more "
                        "fraction digits than the scale allows");
    assert_string_equal(enc_err(dec_bytes, "\"123456789.01\""),
                        "schema mismatch at top level: decimal(10,2) value \"123456789.01\" has "
                        "more digits than the precision allows");
    assert_contains(enc_err(dec_bytes, "\"1e9\""), "more digits than the precision");
    assert_contains(enc_err(dec_bytes, "\"12,3\""), "not a decimal number");
    assert_contains(enc_err(dec_bytes, "\" 1\""), "not a decimal number");
    assert_contains(enc_err(dec_bytes, "true"), "expected decimal number or numeric string");
}

static void test_decimal_long_strings_stay_exact(void **state)
{
    const char *big = "{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":38,"
                      "\"scale\":10}";

    (void)state;
    /* 10^37 - 1 at scale 10 needs 16 bytes; a double could not carry it */
    assert_string_equal(enc_ok(big, "\"999999999999999999999999999.9999999999\""),
                        "20"
                        "0785ee10d5da46d900f4369fffffffff");
    assert_string_equal(enc_ok(big, "\"-999999999999999999999999999.9999999999\""),
                        "20"
                        "f87a11ef2a25b926ff0bc96000000001");
}

/* ---- buffer behaviour ---- */

static void test_failed_encode_leaves_buffer_unchanged(void **state)
{
    outbox_schema *schema = schema_text(nested_schema);
    outbox_buf buf = OUTBOX_BUF_INIT;
    json_t *value = json_loads("{\"comment\":{\"author_id\":\"a\"},\"comments\":[{}]}", 0, NULL);
    char err[256];

    (void)state;
    assert_int_equal(outbox_buf_append(&buf, "xy", 2), 0);
    assert_int_equal(outbox_avro_json_encode(schema, value, &buf, err, sizeof(err)),
                     OUTBOX_AVRO_ENC_MISMATCH);
    assert_string_equal(err, "missing required field comments[0].created_at");
    assert_int_equal(buf.len, 2);
    assert_memory_equal(buf.data, "xy", 2);
    json_decref(value);
    outbox_buf_free(&buf);
    outbox_schema_destroy(schema);
}

static void test_encode_appends_to_a_warm_buffer_without_reallocating(void **state)
{
    outbox_schema *schema = schema_file(SCHEMA_DIR "/PostCreated.avsc");
    outbox_buf buf = OUTBOX_BUF_INIT;
    json_t *value = json_load_file(AVRO_FIXTURES "/post_created_full.json", 0, NULL);
    uint8_t *data;
    size_t cap;
    size_t first;
    int i;

    (void)state;
    assert_non_null(value);
    assert_int_equal(outbox_avro_json_encode(schema, value, &buf, NULL, 0), 0);
    first = buf.len;
    data = buf.data;
    cap = buf.cap;
    for (i = 0; i < 100; i++) {
        outbox_buf_reset(&buf);
        assert_int_equal(outbox_avro_json_encode(schema, value, &buf, NULL, 0), 0);
        assert_int_equal(buf.len, first);
    }
    assert_ptr_equal(buf.data, data);
    assert_int_equal(buf.cap, cap);
    json_decref(value);
    outbox_buf_free(&buf);
    outbox_schema_destroy(schema);
}

static void test_deeply_nested_value_is_rejected_not_crashing(void **state)
{
    const char *schema = "{\"type\":\"record\",\"name\":\"N\",\"fields\":[{\"name\":\"n\","
                         "\"type\":[\"null\",\"N\"]}]}";
    char *json = malloc(20 * 1000 + 100);
    size_t len = 0;
    int i;

    (void)state;
    assert_non_null(json);
    for (i = 0; i < 1000; i++)
        len += (size_t)sprintf(json + len, "{\"n\":");
    len += (size_t)sprintf(json + len, "null");
    for (i = 0; i < 1000; i++)
        json[len++] = '}';
    json[len] = '\0';
    assert_contains(enc_err(schema, json), "nested deeper than");
    free(json);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_post_created_full_matches_python),
        cmocka_unit_test(test_post_created_with_defaults_matches_python),
        cmocka_unit_test(test_post_created_offset_and_extra_field_matches_python),
        cmocka_unit_test(test_comment_created_matches_python),
        cmocka_unit_test(test_comment_created_wrapped_union_matches_python),
        cmocka_unit_test(test_comment_moderated_matches_python),
        cmocka_unit_test(test_comment_updated_micros_matches_python),
        cmocka_unit_test(test_all_types_matches_python),
        cmocka_unit_test(test_all_types_edge_values_match_python),
        cmocka_unit_test(test_long_uses_zigzag_varints),
        cmocka_unit_test(test_int_accepts_integral_reals_only),
        cmocka_unit_test(test_int_out_of_range_is_an_error),
        cmocka_unit_test(test_float_and_double_are_little_endian_ieee),
        cmocka_unit_test(test_bytes_are_code_points_0_to_255),
        cmocka_unit_test(test_bytes_and_fixed_take_base64_when_the_type_says_so),
        cmocka_unit_test(test_bytes_form_property_is_checked),
        cmocka_unit_test(test_zero_size_fixed_encodes_to_nothing),
        cmocka_unit_test(test_fixed_needs_exact_size),
        cmocka_unit_test(test_arrays_and_maps_are_one_block_then_zero),
        cmocka_unit_test(test_enum_encodes_symbol_index),
        cmocka_unit_test(test_unknown_enum_symbol_is_an_error),
        cmocka_unit_test(test_missing_required_field_names_its_path),
        cmocka_unit_test(test_wrong_type_names_path_expected_and_actual),
        cmocka_unit_test(test_extra_json_fields_are_ignored),
        cmocka_unit_test(test_missing_fields_take_their_defaults),
        cmocka_unit_test(test_given_values_override_defaults),
        cmocka_unit_test(test_union_null_selects_the_null_branch),
        cmocka_unit_test(test_union_plain_value_selects_the_non_null_branch),
        cmocka_unit_test(test_union_accepts_avro_json_wrapped_values),
        cmocka_unit_test(test_union_single_key_object_falls_back_to_plain_value),
        cmocka_unit_test(test_union_picks_first_branch_that_accepts),
        cmocka_unit_test(test_union_without_matching_branch_lists_branches),
        cmocka_unit_test(test_timestamp_string_with_offset_equals_utc),
        cmocka_unit_test(test_timestamp_micros_keeps_microseconds),
        cmocka_unit_test(test_timestamp_extra_fraction_digits_floor),
        cmocka_unit_test(test_timestamp_without_offset_is_rejected),
        cmocka_unit_test(test_timestamp_with_impossible_date_or_time_is_rejected),
        cmocka_unit_test(test_local_timestamp_takes_wall_time_without_offset),
        cmocka_unit_test(test_date_accepts_iso_string_or_days),
        cmocka_unit_test(test_time_millis_accepts_clock_string),
        cmocka_unit_test(test_uuid_must_be_8_4_4_4_12_hex),
        cmocka_unit_test(test_decimal_scales_digits_exactly),
        cmocka_unit_test(test_decimal_negative_is_minimal_twos_complement),
        cmocka_unit_test(test_decimal_fixed_is_sign_extended),
        cmocka_unit_test(test_decimal_rejects_lost_digits),
        cmocka_unit_test(test_decimal_long_strings_stay_exact),
        cmocka_unit_test(test_failed_encode_leaves_buffer_unchanged),
        cmocka_unit_test(test_encode_appends_to_a_warm_buffer_without_reallocating),
        cmocka_unit_test(test_deeply_nested_value_is_rejected_not_crashing),
    };

    return cmocka_run_group_tests_name("avro_encode", tests, NULL, NULL);
}
