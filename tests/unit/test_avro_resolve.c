/* Schema resolution: writer binary -> reader binary, on byte fixtures (checked against
 * python3-avro's DatumReader(writer, reader)), and the exact reasons of unresolvable pairs. */
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
#include "avro_resolve.h"
#include "avro_schema.h"
#include "buf.h"

static void tohex(const uint8_t *data, size_t len, char *out)
{
    for (size_t i = 0; i < len; i++)
        sprintf(out + 2 * i, "%02x", data[i]);
    out[2 * len] = '\0';
}

/* Resolve `hex` written with `writer` as `reader`: rc, and the output hex or the error. */
static int resolve_hex(const char *writer, const char *reader, const char *hex, char *out,
                       size_t out_size)
{
    outbox_schema *w = schema_text(writer);
    outbox_schema *r = schema_text(reader);
    outbox_avro_plan *plan = NULL;
    outbox_buf buf = OUTBOX_BUF_INIT;
    uint8_t data[1024];
    size_t len = unhex(hex, data);
    int rc = outbox_avro_plan_new(w, r, &plan, out, out_size);

    if (rc == 0) {
        rc = outbox_avro_resolve(plan, data, len, &buf, out, out_size);
        if (rc == 0) {
            assert_true(buf.len * 2 < out_size);
            tohex(buf.data, buf.len, out);
        } else {
            assert_int_equal(buf.len, 0);
        }
    } else {
        assert_null(plan);
    }
    outbox_buf_free(&buf);
    outbox_avro_plan_free(plan);
    outbox_schema_destroy(w);
    outbox_schema_destroy(r);
    return rc;
}

static void expect_bytes(const char *writer, const char *reader, const char *in,
                         const char *expected)
{
    char out[2048];
    int rc = resolve_hex(writer, reader, in, out, sizeof(out));
    if (rc != 0)
        fail_msg("resolve failed (%d): %s", rc, out);
    assert_string_equal(out, expected);
}

static void expect_error(const char *writer, const char *reader, const char *in, int code,
                         const char *message)
{
    char out[2048];
    int rc = resolve_hex(writer, reader, in, out, sizeof(out));
    assert_int_equal(rc, code);
    assert_string_equal(out, message);
}

#define REC(fields)                                                                                \
    "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"t\",\"fields\":[" fields "]}"

static void test_added_field_takes_default(void **state)
{
    (void)state;
    /* {a:1} -> {a:1, b:7, c:"x"} */
    expect_bytes(REC("{\"name\":\"a\",\"type\":\"int\"}"),
                 REC("{\"name\":\"a\",\"type\":\"int\"},"
                     "{\"name\":\"b\",\"type\":\"long\",\"default\":7},"
                     "{\"name\":\"c\",\"type\":[\"string\",\"null\"],\"default\":\"x\"}"),
                 "02", "020e000278");
}

static void test_default_between_matched_fields(void **state)
{
    (void)state;
    /* writer {a:1, c:2}; reader {a, b default 5, c}: the default lands between them */
    expect_bytes(REC("{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"c\",\"type\":\"int\"}"),
                 REC("{\"name\":\"a\",\"type\":\"int\"},"
                     "{\"name\":\"b\",\"type\":\"int\",\"default\":5},"
                     "{\"name\":\"c\",\"type\":\"int\"}"),
                 "0204", "020a04");
}

static void test_removed_fields_are_skipped(void **state)
{
    (void)state;
    /* writer {a:1, s:"hi", m:{"k":[1.5f]}, u:null, z:3}; reader {a, z} */
    expect_bytes(REC("{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"s\",\"type\":\"string\"},"
                     "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":{\"type\":\"array\","
                     "\"items\":\"float\"}}},"
                     "{\"name\":\"u\",\"type\":[\"null\",\"long\"]},"
                     "{\"name\":\"z\",\"type\":\"int\"}"),
                 REC("{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"z\",\"type\":\"int\"}"),
                 "02"
                 "046869"
                 "02026b02"
                 "0000c03f"
                 "0000"
                 "00"
                 "06",
                 "0206");
}

static void test_skipped_block_with_byte_size(void **state)
{
    (void)state;
    /* a removed array written in a negative-count block (count -2, size 2) */
    expect_bytes(REC("{\"name\":\"x\",\"type\":{\"type\":\"array\",\"items\":\"int\"}},"
                     "{\"name\":\"a\",\"type\":\"int\"}"),
                 REC("{\"name\":\"a\",\"type\":\"int\"}"),
                 "03040204"
                 "00"
                 "08",
                 "08");
}

static void test_fields_in_another_order(void **state)
{
    (void)state;
    /* writer {a:1, b:"x", c:2}; reader {c, d default true, b} */
    expect_bytes(REC("{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"b\",\"type\":\"string\"},"
                     "{\"name\":\"c\",\"type\":\"int\"}"),
                 REC("{\"name\":\"c\",\"type\":\"long\"},"
                     "{\"name\":\"d\",\"type\":\"boolean\",\"default\":true},"
                     "{\"name\":\"b\",\"type\":\"bytes\"}"),
                 "02027804", "04010278");
}

static void test_promotions(void **state)
{
    (void)state;
    /* int 3 -> long, float, double; long -> float, double; float 1.5 -> double; string <->
     * bytes; the value -1 as int -> long keeps its varint */
    expect_bytes(REC("{\"name\":\"i\",\"type\":\"int\"},{\"name\":\"f\",\"type\":\"int\"},"
                     "{\"name\":\"d\",\"type\":\"int\"},{\"name\":\"lf\",\"type\":\"long\"},"
                     "{\"name\":\"ld\",\"type\":\"long\"},{\"name\":\"fd\",\"type\":\"float\"},"
                     "{\"name\":\"sb\",\"type\":\"string\"},{\"name\":\"bs\",\"type\":\"bytes\"}"),
                 REC("{\"name\":\"i\",\"type\":\"long\"},{\"name\":\"f\",\"type\":\"float\"},"
                     "{\"name\":\"d\",\"type\":\"double\"},{\"name\":\"lf\",\"type\":\"float\"},"
                     "{\"name\":\"ld\",\"type\":\"double\"},{\"name\":\"fd\",\"type\":\"double\"},"
                     "{\"name\":\"sb\",\"type\":\"bytes\"},{\"name\":\"bs\",\"type\":\"string\"}"),
                 "01"
                 "06"
                 "06"
                 "06"
                 "06"
                 "0000c03f"
                 "0278"
                 "0279",
                 "01"
                 "00004040"
                 "0000000000000840"
                 "00004040"
                 "0000000000000840"
                 "000000000000f83f"
                 "0278"
                 "0279");
}

static void test_long_to_float_rounds_like_java(void **state)
{
    (void)state;
    /* 2^53 + 1 as long -> double rounds to 2^53 (the IEEE conversion every reader uses) */
    expect_bytes("\"long\"", "\"double\"", "8280808080808020", "0000000000004043");
}

#define ENUM_W "{\"type\":\"enum\",\"name\":\"S\",\"symbols\":[\"A\",\"B\",\"C\"]}"
#define ENUM_R_DEFAULT                                                                             \
    "{\"type\":\"enum\",\"name\":\"S\",\"symbols\":[\"X\",\"B\",\"A\"],\"default\":\"X\"}"
#define ENUM_R_STRICT "{\"type\":\"enum\",\"name\":\"S\",\"symbols\":[\"B\",\"A\"]}"

static void test_enum_by_symbol_and_default(void **state)
{
    (void)state;
    expect_bytes(ENUM_W, ENUM_R_DEFAULT, "00", "04"); /* A -> index 2 */
    expect_bytes(ENUM_W, ENUM_R_DEFAULT, "02", "02"); /* B -> 1 */
    expect_bytes(ENUM_W, ENUM_R_DEFAULT, "04", "00"); /* C unknown -> default X */
    expect_bytes(ENUM_W, ENUM_R_STRICT, "00", "02");
}

static void test_enum_unknown_symbol_without_default(void **state)
{
    (void)state;
    expect_error(ENUM_W, ENUM_R_STRICT, "04", OUTBOX_AVRO_ERR_RESOLVE,
                 "symbol 'C' of the writer's enum S is not in the reader's enum, which has no "
                 "default (at byte 1)");
}

static void test_unions(void **state)
{
    (void)state;
    /* writer union -> reader union with a promotion, and a branch reordering */
    expect_bytes("[\"null\",\"int\"]", "[\"long\",\"null\"]", "0206", "0006");
    expect_bytes("[\"null\",\"int\"]", "[\"long\",\"null\"]", "00", "02");
    /* plain writer -> the reader branch of the same type, else the first promotion */
    expect_bytes("\"int\"", "[\"null\",\"double\",\"int\"]", "06", "0406");
    expect_bytes("\"int\"", "[\"null\",\"string\",\"double\",\"long\"]", "06",
                 "040000000000000840");
    /* writer union -> plain reader: each value resolves on its own */
    expect_bytes("[\"null\",\"string\"]", "\"bytes\"", "020278", "0278");
    expect_error("[\"null\",\"string\"]", "\"bytes\"", "00", OUTBOX_AVRO_ERR_RESOLVE,
                 "(top level): writer type null cannot be read as bytes (at byte 1)");
}

static void test_union_of_records_by_name(void **state)
{
    (void)state;
    const char *w = "[\"null\",{\"type\":\"record\",\"name\":\"a.P\",\"fields\":["
                    "{\"name\":\"x\",\"type\":\"int\"}]}]";
    const char *r = "[\"null\",{\"type\":\"record\",\"name\":\"b.Q\",\"fields\":[]},"
                    "{\"type\":\"record\",\"name\":\"b.P\",\"fields\":["
                    "{\"name\":\"x\",\"type\":\"long\"},{\"name\":\"y\",\"type\":\"int\","
                    "\"default\":1}]}]";
    expect_bytes(w, r, "0204", "040402");
}

static void test_arrays_and_maps(void **state)
{
    (void)state;
    /* array<int> [1,2] in one negative-size block -> array<long>; map<int> {"k":1} -> map<double>
     */
    expect_bytes("{\"type\":\"array\",\"items\":\"int\"}",
                 "{\"type\":\"array\",\"items\":\"long\"}", "0304020400", "04020400");
    expect_bytes("{\"type\":\"map\",\"values\":\"int\"}",
                 "{\"type\":\"map\",\"values\":\"double\"}", "02026b0200",
                 "02026b000000000000f03f00");
}

static void test_recursive_record(void **state)
{
    (void)state;
    const char *w = "{\"type\":\"record\",\"name\":\"L\",\"fields\":[{\"name\":\"v\",\"type\":"
                    "\"int\"},{\"name\":\"next\",\"type\":[\"null\",\"L\"]}]}";
    const char *r = "{\"type\":\"record\",\"name\":\"L\",\"fields\":[{\"name\":\"next\",\"type\":"
                    "[\"null\",\"L\"]},{\"name\":\"v\",\"type\":\"long\"}]}";
    /* 1 -> 2 -> null, reader has the fields the other way round */
    expect_bytes(w, r, "02020400", "02000402");
}

static void test_missing_field_without_default(void **state)
{
    (void)state;
    expect_error(REC("{\"name\":\"a\",\"type\":\"int\"}"),
                 REC("{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"score\",\"type\":\"long\"}"),
                 "02", OUTBOX_AVRO_ERR_RESOLVE,
                 "R.score: reader field (long) has no default and the writer's t.R has no such "
                 "field");
}

static void test_incompatible_types(void **state)
{
    (void)state;
    expect_error(REC("{\"name\":\"a\",\"type\":\"long\"}"),
                 REC("{\"name\":\"a\",\"type\":\"int\"}"), "02", OUTBOX_AVRO_ERR_RESOLVE,
                 "R.a: writer type long cannot be read as int");
    expect_error(REC("{\"name\":\"a\",\"type\":\"string\"}"),
                 REC("{\"name\":\"a\",\"type\":[\"null\",\"int\"]}"), "02", OUTBOX_AVRO_ERR_RESOLVE,
                 "R.a: writer type string matches no branch of the reader's union [null, int]");
    expect_error("{\"type\":\"record\",\"name\":\"A\",\"fields\":[]}",
                 "{\"type\":\"record\",\"name\":\"B\",\"fields\":[]}", "", OUTBOX_AVRO_ERR_RESOLVE,
                 "B: writer record A and reader record B differ in name");
    expect_error("{\"type\":\"fixed\",\"name\":\"F\",\"size\":2}",
                 "{\"type\":\"fixed\",\"name\":\"F\",\"size\":3}", "0000", OUTBOX_AVRO_ERR_RESOLVE,
                 "(top level): writer fixed F (2 bytes) cannot be read as fixed F (3)");
}

static void test_bad_input(void **state)
{
    (void)state;
    const char *w = REC("{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"s\",\"type\":\"string\"}");
    const char *r = REC("{\"name\":\"a\",\"type\":\"long\"}");
    expect_error(w, r, "0206", OUTBOX_AVRO_ERR_TRUNCATED, "3 bytes needed, 0 left (at byte 2)");
    expect_error(w, r, "020078", OUTBOX_AVRO_ERR_MALFORMED,
                 "1 trailing bytes after the value (at byte 2)");
    expect_error(w, r, "ffffffffff", OUTBOX_AVRO_ERR_MALFORMED,
                 "varint longer than 32 bits (at byte 0)");
    expect_error("[\"null\",\"int\"]", "[\"null\",\"long\"]", "04", OUTBOX_AVRO_ERR_MALFORMED,
                 "union index 2 out of range (0..1) (at byte 1)");
}

/* The blog's CommentCreated, v1 (schemas/) read as a later version: a field added with a
 * default, one removed, an int widened to long, an enum with a new symbol and a default. */
static void test_comment_created_v1_as_v3(void **state)
{
    (void)state;
    outbox_schema *v1 = schema_file(SCHEMA_DIR "/CommentCreated.avsc");
    outbox_schema *v3 = schema_file(FIXTURE_DIR "/evolution/v3/CommentCreated.avsc");
    const char *json = "{\"comment_id\":\"0b7f2d1e-3c4a-4b5c-9d6e-7f8091a2b3c4\","
                       "\"post_id\":\"1b7f2d1e-3c4a-4b5c-9d6e-7f8091a2b3c4\","
                       "\"parent_comment_id\":null,\"author_id\":\"u1\",\"author_name\":\"Ann\","
                       "\"text\":\"hello\",\"created_at\":1700000000123}";
    json_t *in = json_loads(json, 0, NULL);
    outbox_buf wbuf = OUTBOX_BUF_INIT;
    outbox_buf rbuf = OUTBOX_BUF_INIT;
    outbox_avro_plan *plan = NULL;
    json_t *out = NULL;
    char err[512];

    assert_non_null(in);
    assert_int_equal(outbox_avro_json_encode(v1, in, &wbuf, err, sizeof(err)), 0);
    assert_int_equal(outbox_avro_plan_new(v1, v3, &plan, err, sizeof(err)), 0);
    assert_int_equal(outbox_avro_resolve(plan, wbuf.data, wbuf.len, &rbuf, err, sizeof(err)), 0);
    assert_int_equal(
        outbox_avro_json_decode(v3, rbuf.data, rbuf.len, 0, &out, NULL, err, sizeof(err)), 0);
    char *text = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text,
                        "{\"author_id\":\"u1\",\"comment_id\":"
                        "\"0b7f2d1e-3c4a-4b5c-9d6e-7f8091a2b3c4\",\"created_at\":"
                        "\"2023-11-14T22:13:20.123Z\",\"language\":\"en\",\"parent_comment_id\":"
                        "null,\"post_id\":\"1b7f2d1e-3c4a-4b5c-9d6e-7f8091a2b3c4\","
                        "\"revision\":0,\"text\":\"hello\",\"visibility\":\"PUBLIC\"}");
    free(text);
    json_decref(out);
    json_decref(in);
    outbox_buf_free(&wbuf);
    outbox_buf_free(&rbuf);
    outbox_avro_plan_free(plan);
    outbox_schema_destroy(v1);
    outbox_schema_destroy(v3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_added_field_takes_default),
        cmocka_unit_test(test_default_between_matched_fields),
        cmocka_unit_test(test_removed_fields_are_skipped),
        cmocka_unit_test(test_skipped_block_with_byte_size),
        cmocka_unit_test(test_fields_in_another_order),
        cmocka_unit_test(test_promotions),
        cmocka_unit_test(test_long_to_float_rounds_like_java),
        cmocka_unit_test(test_enum_by_symbol_and_default),
        cmocka_unit_test(test_enum_unknown_symbol_without_default),
        cmocka_unit_test(test_unions),
        cmocka_unit_test(test_union_of_records_by_name),
        cmocka_unit_test(test_arrays_and_maps),
        cmocka_unit_test(test_recursive_record),
        cmocka_unit_test(test_missing_field_without_default),
        cmocka_unit_test(test_incompatible_types),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_comment_created_v1_as_v3),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
