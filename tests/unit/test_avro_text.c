/* JSON text -> Avro fast path: python3-avro fixtures, differential against the jansson path,
 * truncated and garbage input, and a warm scratch that allocates nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "avro_fixtures.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_json.h"
#include "avro_schema.h"
#include "avro_text.h"
#include "buf.h"

#define ALL_TYPES AVRO_FIXTURES "/schemas/AllTypes.avsc"

/* Seed of the generated documents; printed with any failure. */
#define DIFF_SEED 0x5eed2026u
#define DIFF_DOCS 4000

/* The result of one path: rc and, on success, the bytes. */
struct outcome {
    int rc;
    outbox_buf buf;
};

/* The reference path (jansson), as outbox_avro_json_encode_text() runs it after the fast path. */
static void run_jansson(const outbox_schema *schema, const char *json, size_t len,
                        size_t jansson_flags, struct outcome *out)
{
    outbox_avro_scratch scratch;
    char err[256];

    outbox_avro_scratch_init(&scratch,
                             (jansson_flags & JSON_ALLOW_NUL) ? OUTBOX_AVRO_TEXT_ALLOW_NUL : 0);
    outbox_buf_reset(&out->buf);
    out->rc = outbox_avro_json_encode_text_reference(schema, json, len, &scratch, &out->buf, err,
                                                     sizeof(err));
    if (out->rc != 0)
        assert_true(outbox_avro_enc_is_data(out->rc)); /* never NOMEM/INTERNAL here */
    outbox_avro_scratch_free(&scratch);
}

/* The fast path, on an exact-size copy (so the sanitizers see any read past the end), into a
 * buffer that already holds two bytes that must survive a failure. */
static void run_text(const outbox_schema *schema, const char *json, size_t len,
                     outbox_avro_scratch *scratch, struct outcome *out)
{
    char *copy = malloc(len ? len : 1);
    char err[256];

    assert_non_null(copy);
    memcpy(copy, json, len);
    outbox_buf_reset(&out->buf);
    assert_int_equal(outbox_buf_append(&out->buf, "\xAA\xBB", 2), 0);
    out->rc =
        outbox_avro_json_encode_text_fast(schema, copy, len, scratch, &out->buf, err, sizeof(err));
    if (out->rc != 0) {
        assert_int_equal(out->rc, OUTBOX_AVRO_ENC_DECLINED);
        assert_int_equal(out->buf.len, 2);
        assert_memory_equal(out->buf.data, "\xAA\xBB", 2);
        assert_true(err[0] != '\0');
    }
    free(copy);
}

/* ---- python3-avro fixtures ---------------------------------------------------------------- */

static void check_fixture(const char *schema_path, const char *name)
{
    outbox_schema *schema = schema_file(schema_path);
    outbox_avro_scratch scratch;
    outbox_buf buf = OUTBOX_BUF_INIT;
    char path[512];
    char err[256];
    size_t json_len;
    size_t bin_len;
    char *json;
    char *bin;

    snprintf(path, sizeof(path), "%s/%s.json", AVRO_FIXTURES, name);
    json = slurp(path, &json_len);
    snprintf(path, sizeof(path), "%s/%s.bin", AVRO_FIXTURES, name);
    bin = slurp(path, &bin_len);
    /* the fixtures are loaded with JSON_ALLOW_NUL by test_avro_encode.c */
    outbox_avro_scratch_init(&scratch, OUTBOX_AVRO_TEXT_ALLOW_NUL);
    if (outbox_avro_json_encode_text(schema, json, json_len, &scratch, &buf, err, sizeof(err)) != 0)
        fail_msg("%s: %s", name, err);
    assert_int_equal(buf.len, bin_len);
    assert_memory_equal(buf.data, bin, bin_len);
    outbox_avro_scratch_free(&scratch);
    outbox_buf_free(&buf);
    free(bin);
    free(json);
    outbox_schema_destroy(schema);
}

static void test_fixtures_match_python(void **state)
{
    (void)state;
    check_fixture(SCHEMA_DIR "/PostCreated.avsc", "post_created_full");
    check_fixture(SCHEMA_DIR "/PostCreated.avsc", "post_created_defaults");
    check_fixture(SCHEMA_DIR "/PostCreated.avsc", "post_created_offset");
    check_fixture(SCHEMA_DIR "/CommentCreated.avsc", "comment_created_top_level");
    check_fixture(SCHEMA_DIR "/CommentCreated.avsc", "comment_created_reply_wrapped");
    check_fixture(SCHEMA_DIR "/CommentModerated.avsc", "comment_moderated_rejected");
    check_fixture(SCHEMA_DIR "/CommentUpdated.avsc", "comment_updated_micros");
    check_fixture(ALL_TYPES, "all_types");
    check_fixture(ALL_TYPES, "all_types_edges");
}

static void test_nul_escape_needs_allow_nul_like_jansson(void **state)
{
    outbox_schema *schema = schema_text("\"bytes\"");
    outbox_avro_scratch scratch;
    struct outcome out = {0, OUTBOX_BUF_INIT};

    (void)state;
    outbox_avro_scratch_init(&scratch, 0);
    run_text(schema, "\"a\\u0000\"", 9, &scratch, &out);
    assert_int_not_equal(out.rc, 0);
    outbox_avro_scratch_free(&scratch);
    outbox_avro_scratch_init(&scratch, OUTBOX_AVRO_TEXT_ALLOW_NUL);
    run_text(schema, "\"a\\u0000\"", 9, &scratch, &out);
    assert_int_equal(out.rc, 0);
    assert_int_equal(out.buf.len, 5);
    assert_memory_equal(out.buf.data, "\xAA\xBB\x04\x61\x00", 5);
    /* never in a key, even with the flag (jansson: "NUL byte in object key not supported") */
    run_text(schema, "{\"\\u0000\":1}", 12, &scratch, &out);
    assert_int_not_equal(out.rc, 0);
    outbox_avro_scratch_free(&scratch);
    outbox_buf_free(&out.buf);
    outbox_schema_destroy(schema);
}

/* ---- agreement with the jansson path, case by case ---------------------------------------- */

/* Both paths agree on `json` under `schema_json`; returns the fast path's rc. */
static int agree_flags(const char *schema_json, const char *json, unsigned text_flags)
{
    outbox_schema *schema = schema_text(schema_json);
    outbox_avro_scratch scratch;
    struct outcome fast = {0, OUTBOX_BUF_INIT};
    struct outcome slow = {0, OUTBOX_BUF_INIT};
    size_t len = strlen(json);
    int rc;

    outbox_avro_scratch_init(&scratch, text_flags);
    run_text(schema, json, len, &scratch, &fast);
    run_jansson(schema, json, len, (text_flags & OUTBOX_AVRO_TEXT_ALLOW_NUL) ? JSON_ALLOW_NUL : 0,
                &slow);
    if ((fast.rc == 0) != (slow.rc == 0))
        fail_msg("%s under %s: fast rc %d, jansson rc %d", json, schema_json, fast.rc, slow.rc);
    if (fast.rc == 0) {
        assert_int_equal(fast.buf.len - 2, slow.buf.len);
        assert_memory_equal(fast.buf.data + 2, slow.buf.data, slow.buf.len);
    }
    rc = fast.rc;
    outbox_avro_scratch_free(&scratch);
    outbox_buf_free(&fast.buf);
    outbox_buf_free(&slow.buf);
    outbox_schema_destroy(schema);
    return rc;
}

static int agree(const char *schema_json, const char *json)
{
    return agree_flags(schema_json, json, 0);
}

static void test_repeated_keys_keep_last_value_in_first_place(void **state)
{
    const char *record = "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\","
                         "\"type\":\"int\"},{\"name\":\"b\",\"type\":\"string\"}]}";
    const char *map = "{\"type\":\"map\",\"values\":\"int\"}";
    const char *big = "{\"type\":\"map\",\"values\":\"long\"}";
    char json[4096];
    size_t used = 0;
    int i;

    (void)state;
    assert_int_equal(agree(record, "{\"a\":1,\"b\":\"x\",\"a\":2}"), 0);
    assert_int_equal(agree(record, "{\"a\":\"no\",\"b\":\"x\",\"a\":2}"), 0);
    assert_int_not_equal(agree(record, "{\"a\":2,\"b\":\"x\",\"a\":\"no\"}"), 0);
    assert_int_equal(agree(map, "{\"k\":1,\"j\":2,\"k\":3}"), 0);
    /* past the linear search: the hash table */
    used += (size_t)snprintf(json + used, sizeof(json) - used, "{");
    for (i = 0; i < 100; i++)
        used += (size_t)snprintf(json + used, sizeof(json) - used, "%s\"k%d\":%d", i ? "," : "",
                                 i % 37, i);
    snprintf(json + used, sizeof(json) - used, "}");
    assert_int_equal(agree(big, json), 0);
}

static void test_escaped_keys_match_field_names(void **state)
{
    const char *record = "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"name\","
                         "\"type\":\"string\"}]}";

    (void)state;
    assert_int_equal(agree(record, "{\"na\\u006de\":\"x\\ty\"}"), 0);
    assert_int_equal(agree(record, "{\"name\":\"\\ud83d\\ude00 \\u00e9\"}"), 0);
    assert_int_not_equal(agree(record, "{\"name\":\"\\ud83d\"}"), 0);
    assert_int_not_equal(agree(record, "{\"name\":\"\\ude00\"}"), 0);
}

static void test_union_wrapped_and_fallback_agree(void **state)
{
    const char *schema = "[\"null\",\"string\",{\"type\":\"record\",\"name\":\"n.R\","
                         "\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]}]";
    const char *map = "[\"null\",{\"type\":\"map\",\"values\":\"string\"}]";

    (void)state;
    assert_int_equal(agree(schema, "{\"string\":\"a\"}"), 0);
    assert_int_equal(agree(schema, "{\"n.R\":{\"a\":1}}"), 0);
    assert_int_equal(agree(schema, "{\"R\":{\"a\":1}}"), 0);
    assert_int_equal(agree(schema, "{\"a\":1}"), 0);
    assert_int_equal(agree(schema, "{\"string\":5,\"string\":\"b\"}"), 0);
    assert_int_equal(agree(map, "{\"map\":\"x\"}"), 0);
    assert_int_equal(agree(map, "{\"map\":{\"k\":\"v\"}}"), 0);
    assert_int_not_equal(agree("[\"null\",\"string\"]", "{\"string\":5}"), 0);
    assert_int_equal(agree("[\"null\",\"double\",\"long\"]", "5"), 0);
    assert_int_equal(agree("[\"null\",\"double\",\"long\"]", "{\"long\":5}"), 0);
    assert_int_not_equal(agree("[\"string\",\"long\"]", "null"), 0);
}

static void test_numbers_at_the_limits_agree(void **state)
{
    (void)state;
    assert_int_equal(agree("\"long\"", "9223372036854775807"), 0);
    assert_int_equal(agree("\"long\"", "-9223372036854775808"), 0);
    assert_int_not_equal(agree("\"long\"", "9223372036854775808"), 0);
    assert_int_not_equal(agree("\"long\"", "-9223372036854775809"), 0);
    assert_int_not_equal(agree("\"long\"", "10000000000000000000"), 0);
    assert_int_equal(agree("\"long\"", "9007199254740992.0"), 0);
    assert_int_not_equal(agree("\"long\"", "9007199254740994.0"), 0);
    assert_int_equal(agree("\"long\"", "-0"), 0);
    assert_int_equal(agree("\"long\"", "1e3"), 0);
    assert_int_not_equal(agree("\"int\"", "2147483648"), 0);
    assert_int_equal(agree("\"int\"", "-2147483648"), 0);
    assert_int_not_equal(agree("\"double\"", "1e309"), 0);
    assert_int_not_equal(agree("{\"type\":\"map\",\"values\":\"int\"}", "{\"x\":[-1e400]}"), 0);
    assert_int_equal(agree("\"double\"", "1e-400"), 0);
    assert_int_equal(agree("\"double\"", "0.1e309"), 0);
    assert_int_not_equal(agree("\"float\"", "1e39"), 0);
    assert_int_equal(agree("\"float\"", "\"-Infinity\""), 0);
    assert_int_not_equal(agree("\"int\"", "01"), 0);
    assert_int_not_equal(agree("\"double\"", "1."), 0);
    assert_int_not_equal(agree("\"double\"", ".5"), 0);
    assert_int_not_equal(agree("\"double\"", "+1"), 0);
    assert_int_not_equal(agree("\"double\"", "1e"), 0);
}

static void test_nan_with_nul_compares_as_c_string_like_jansson(void **state)
{
    (void)state;
    /* the jansson path strcmp()s the value, so "NaN\u0000x" is NaN there too */
    assert_int_equal(agree_flags("\"double\"", "\"NaN\\u0000x\"", OUTBOX_AVRO_TEXT_ALLOW_NUL), 0);
}

static void test_decimal_reals_go_through_the_same_double(void **state)
{
    const char *dec = "{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":30,"
                      "\"scale\":2}";
    const char *narrow = "{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":18,"
                         "\"scale\":1}";

    (void)state;
    assert_int_equal(agree(dec, "12.3"), 0);
    assert_int_equal(agree(dec, "-0.05"), 0);
    assert_int_equal(agree(dec, "1.5e3"), 0);
    assert_int_equal(agree(dec, "-0.0"), 0);
    assert_int_equal(agree(dec, "123456789012345"), 0);
    /* more than 15 significant digits: the double's digits, as on the jansson path... */
    assert_int_equal(agree(dec, "12345678901234567.89"), 0);
    assert_int_equal(agree(dec, "0.1000000000000000055511151231257827"), 0);
    /* ...even where the exact digits would fit and the double's do not */
    assert_int_not_equal(agree(narrow, "99999999999999999.9"), 0);
    assert_int_not_equal(agree(dec, "0.125"), 0);
    assert_int_equal(agree(dec, "1e-400"), 0);
}

static void test_syntax_errors_agree(void **state)
{
    static const char *docs[] = {
        "",
        " ",
        "{",
        "}",
        "[1,]",
        "{\"a\":1,}",
        "{\"a\"}",
        "{\"a\" 1}",
        "{1:1}",
        "[1 2]",
        "tru",
        "truex",
        "nul",
        "\"abc",
        "\"a\x01\"",
        "\"\\x\"",
        "\"\\u12\"",
        "\"\\u12G4\"",
        "[1]x",
        "1 2",
        "\"\xC0\x80\"",
        "\"\xED\xA0\x80\"",
        "\"\xF4\x90\x80\x80\"",
        "\"\xE2\x82\"",
        "\"\x80\"",
        "\xEF\xBB\xBF{}",
        "[\"\\ud800\\u0041\"]",
        "{\"a\":1}}",
        "[[[]]",
        "-",
        "--1",
        "1e+",
        "0x1",
        "[1,,2]",
    };
    size_t i;

    (void)state;
    outbox_avro_scratch scratch;

    outbox_avro_scratch_init(&scratch, OUTBOX_AVRO_TEXT_ALLOW_NUL);
    for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        /* the tokenizer itself rejects it, whatever the schema */
        if (outbox_avro_text_tokenize(&scratch, docs[i], strlen(docs[i]), NULL, 0) == 0)
            fail_msg("tokenizer accepted invalid JSON %s", docs[i]);
        assert_int_not_equal(agree("{\"type\":\"array\",\"items\":\"int\"}", docs[i]), 0);
        assert_int_not_equal(agree("\"string\"", docs[i]), 0);
    }
    outbox_avro_scratch_free(&scratch);
    assert_int_equal(agree("{\"type\":\"array\",\"items\":\"int\"}", " \t\r\n[ 1 ,\n2 ] \n"), 0);
}

static void test_deep_nesting_is_left_to_jansson(void **state)
{
    const char *schema = "{\"type\":\"record\",\"name\":\"N\",\"fields\":[{\"name\":\"n\","
                         "\"type\":[\"null\",\"N\"]}]}";
    outbox_schema *compiled = schema_text(schema);
    outbox_avro_scratch scratch;
    struct outcome fast = {0, OUTBOX_BUF_INIT};
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
    outbox_avro_scratch_init(&scratch, 0);
    run_text(compiled, json, len, &scratch, &fast);
    assert_int_not_equal(fast.rc, 0);
    /* deeper than the codec's 128 levels but within the tokenizer's: left to jansson too */
    len = 0;
    for (i = 0; i < 100; i++)
        len += (size_t)sprintf(json + len, "{\"n\":");
    len += (size_t)sprintf(json + len, "null");
    for (i = 0; i < 100; i++)
        json[len++] = '}';
    run_text(compiled, json, len, &scratch, &fast);
    assert_int_not_equal(fast.rc, 0);
    /* shallow: fine */
    run_text(compiled, "{\"n\":{\"n\":null}}", 16, &scratch, &fast);
    assert_int_equal(fast.rc, 0);
    outbox_avro_scratch_free(&scratch);
    outbox_buf_free(&fast.buf);
    free(json);
    outbox_schema_destroy(compiled);
}

/* ---- generated documents ------------------------------------------------------------------ */

struct gen {
    uint64_t state;
    outbox_buf out;
    int errors; /* per mille chance of a deliberately wrong value */
};

static uint64_t rnd(struct gen *g)
{
    g->state ^= g->state << 13;
    g->state ^= g->state >> 7;
    g->state ^= g->state << 17;
    return g->state;
}

static unsigned pick(struct gen *g, unsigned n)
{
    return (unsigned)(rnd(g) % n);
}

static int chance(struct gen *g, unsigned per_mille)
{
    return pick(g, 1000) < per_mille;
}

static void put(struct gen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct gen *g, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof(text));
    assert_int_equal(outbox_buf_append(&g->out, text, (size_t)n), 0);
}

static void ws(struct gen *g)
{
    static const char *spaces[] = {" ", "\n", "\t", "\r\n", "  "};

    while (chance(g, 150))
        put(g, "%s", spaces[pick(g, 5)]);
}

/* A string body (no quotes): ASCII, escapes, UTF-8 and \u escapes, sometimes invalid ones. */
static void gen_string_body(struct gen *g, unsigned max_len)
{
    static const char *pieces[] = {
        "a",
        "Z",
        "0",
        " ",
        "-",
        "\\\"",
        "\\\\",
        "\\/",
        "\\n",
        "\\t",
        "\\b",
        "\\f",
        "\\r",
        "\\u0041",
        "\\u00e9",
        "\\u00FF",
        "\xc3\xa9",
        "\xe4\xb8\xad",
        "\xf0\x9f\x98\x80",
        "\\ud83d\\ude00",
        "\\u4e2d",
        "\\u001f",
        "x",
        "NaN",
        ".",
        ":",
        "T",
    };
    static const char *bad[] = {"\\u0000",
                                "\\ud800",
                                "\\udc00x",
                                "\\q",
                                "\x01",
                                "\xc3",
                                "\xff",
                                "\\u12",
                                "\xed\xa0\x80",
                                "\xc0\x80",
                                "\xf4\x90\x80\x80",
                                "\xe0\x9f\xbf"};
    unsigned n = pick(g, max_len + 1);
    unsigned i;

    for (i = 0; i < n; i++) {
        if (g->errors && chance(g, 3))
            put(g, "%s", bad[pick(g, sizeof(bad) / sizeof(bad[0]))]);
        else
            put(g, "%s", pieces[pick(g, sizeof(pieces) / sizeof(pieces[0]))]);
    }
}

static void gen_any(struct gen *g, int depth);

/* Some JSON value of any kind (for wrong types and ignored members). */
static void gen_any(struct gen *g, int depth)
{
    unsigned i;
    unsigned n;

    switch (pick(g, depth > 2 ? 6 : 8)) {
    case 0:
        put(g, "null");
        break;
    case 1:
        put(g, pick(g, 2) ? "true" : "false");
        break;
    case 2:
        put(g, "%" PRId64, (int64_t)rnd(g) >> pick(g, 64));
        break;
    case 3:
        put(g, "%.*g", (int)pick(g, 17) + 1, (double)(int64_t)rnd(g) / (double)(1 + pick(g, 1000)));
        break;
    case 4:
    case 5:
        put(g, "\"");
        gen_string_body(g, 6);
        put(g, "\"");
        break;
    case 6:
        n = pick(g, 4);
        put(g, "[");
        for (i = 0; i < n; i++) {
            put(g, "%s", i ? "," : "");
            ws(g);
            gen_any(g, depth + 1);
        }
        put(g, "]");
        break;
    default:
        n = pick(g, 4);
        put(g, "{");
        for (i = 0; i < n; i++) {
            put(g, "%s\"k%u\":", i ? "," : "", pick(g, 3));
            gen_any(g, depth + 1);
        }
        put(g, "}");
        break;
    }
}

static void gen_int_text(struct gen *g, int64_t lo, int64_t hi)
{
    static const char *edge[] = {"0",
                                 "-0",
                                 "1",
                                 "-1",
                                 "2147483647",
                                 "-2147483648",
                                 "2147483648",
                                 "-2147483649",
                                 "9223372036854775807",
                                 "-9223372036854775808",
                                 "9223372036854775808",
                                 "3.0",
                                 "3.5",
                                 "1e2",
                                 "-1E+2",
                                 "2.5e-1",
                                 "9007199254740992.0",
                                 "9007199254740993",
                                 "1e19",
                                 "-0.0"};
    uint64_t span;

    if (chance(g, g->errors ? 300 : 100)) {
        put(g, "%s", edge[pick(g, sizeof(edge) / sizeof(edge[0]))]);
        return;
    }
    span = (uint64_t)hi - (uint64_t)lo;
    put(g, "%" PRId64,
        (int64_t)((uint64_t)lo + (span == UINT64_MAX ? rnd(g) : rnd(g) % (span + 1))));
}

static void gen_date_text(struct gen *g)
{
    unsigned y = pick(g, 10) < 8 ? 1900 + pick(g, 200) : pick(g, 10000);
    unsigned m = 1 + pick(g, g->errors ? 13 : 12);
    unsigned d = 1 + pick(g, g->errors ? 31 : 28);

    put(g, "%04u-%02u-%02u", y, m, d);
}

static void gen_time_text(struct gen *g)
{
    static const char *frac[] = {"", ".5", ".123", ".123456", ".1234567", ".999999999", "."};

    put(g, "%02u:%02u:%02u%s", pick(g, g->errors ? 25 : 24), pick(g, 60),
        pick(g, g->errors ? 61 : 60), frac[pick(g, g->errors ? 7 : 6)]);
}

static void gen_timestamp_text(struct gen *g, int local)
{
    static const char *tz[] = {"Z", "z", "+01:00", "-05:30", "+0100", "+01", "+25:00", "", "Q"};
    static const char sep[] = {'T', 't', ' ', 'x'};

    gen_date_text(g);
    put(g, "%c", sep[pick(g, g->errors ? 4 : 3)]);
    gen_time_text(g);
    if (local)
        put(g, "%s", g->errors && chance(g, 100) ? "Z" : "");
    else
        put(g, "%s", tz[pick(g, g->errors ? 9 : 6)]);
}

static void gen_uuid_text(struct gen *g)
{
    static const char hex[] = "0123456789abcdefABCDEF";
    int i;

    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            put(g, "%s", g->errors && chance(g, 10) ? "_" : "-");
        else
            put(g, "%c", g->errors && chance(g, 5) ? 'g' : hex[pick(g, 22)]);
    }
    if (g->errors && chance(g, 30))
        put(g, "0");
}

static void gen_decimal(struct gen *g, const outbox_avro_node *node)
{
    static const char *edge[] = {"0",
                                 "-0",
                                 "0.0",
                                 "-0.00",
                                 "1e2",
                                 "1.5e-1",
                                 "12.345",
                                 "1e-400",
                                 "1e30",
                                 "0.1",
                                 "-12.3",
                                 "99.99",
                                 "\"-12.30\"",
                                 "\"1.23e1\"",
                                 "\"12,3\"",
                                 "\" 1\"",
                                 "\"-\"",
                                 "\"+5\"",
                                 "\"0.001\"",
                                 "\"1E+3\"",
                                 "123456789012345678.25",
                                 "0.1000000000000000055511151231257827",
                                 "true"};
    int digits = 1 + (int)pick(g, (unsigned)node->precision + (g->errors ? 2 : 0));
    int frac = (int)pick(g, (unsigned)node->scale + (g->errors ? 2 : 1));
    int quoted = pick(g, 2);
    int i;

    if (chance(g, g->errors ? 250 : 80)) {
        put(g, "%s", edge[pick(g, sizeof(edge) / sizeof(edge[0]))]);
        return;
    }
    if (frac > digits)
        frac = digits;
    put(g, "%s%s", quoted ? "\"" : "", pick(g, 3) == 0 ? "-" : "");
    if (digits == frac)
        put(g, "0");
    for (i = 0; i < digits; i++) {
        if (i == digits - frac)
            put(g, ".");
        put(g, "%c", (char)((i == 0 ? '1' : '0') + pick(g, i == 0 ? 9 : 10)));
    }
    if (chance(g, 100))
        put(g, "e%d", (int)pick(g, 5) - 2);
    put(g, "%s", quoted ? "\"" : "");
}

static void gen_latin1(struct gen *g, size_t count)
{
    size_t i;

    put(g, "\"");
    for (i = 0; i < count; i++) {
        unsigned c = pick(g, 256);

        if (g->errors && chance(g, 5))
            put(g, "\\u0100");
        else if (c == 0)
            put(g, "%s", g->errors ? "\\u0000" : "\\u0001");
        else if (c < 0x20 || c == '"' || c == '\\' || pick(g, 2))
            put(g, "\\u%04x", c);
        else if (c < 0x80)
            put(g, "%c", (char)c);
        else
            put(g, "%c%c", (char)(0xC0 | (c >> 6)), (char)(0x80 | (c & 0x3F)));
    }
    put(g, "\"");
}

static void gen_value(struct gen *g, const outbox_avro_node *node, int depth);

static void gen_record(struct gen *g, const outbox_avro_node *node, int depth)
{
    size_t order[64];
    size_t n = node->n < 64 ? node->n : 64;
    size_t i;
    int first = 1;

    for (i = 0; i < n; i++)
        order[i] = i;
    if (pick(g, 2)) { /* shuffled; else schema order */
        for (i = n; i > 1; i--) {
            size_t j = pick(g, (unsigned)i);
            size_t t = order[i - 1];

            order[i - 1] = order[j];
            order[j] = t;
        }
    }
    put(g, "{");
    ws(g);
    for (i = 0; i < n; i++) {
        const outbox_avro_field *field = &node->fields[order[i]];

        if ((field->has_default && chance(g, 300)) || (g->errors && chance(g, 15)))
            continue;        /* missing: default, or an error */
        if (chance(g, 30)) { /* repeated key: the last one counts */
            put(g, "%s\"%s\":", first ? "" : ",", field->name);
            gen_any(g, depth + 1);
            first = 0;
        }
        if (chance(g, 40)) { /* extra member, ignored */
            put(g, "%s\"x_%u\":", first ? "" : ",", pick(g, 4));
            gen_any(g, depth + 1);
            first = 0;
        }
        put(g, "%s", first ? "" : ",");
        ws(g);
        if (chance(g, 20) && field->name_len > 0) /* an escaped first letter */
            put(g, "\"\\u%04x%s\"", (unsigned char)field->name[0], field->name + 1);
        else
            put(g, "\"%s\"", field->name);
        ws(g);
        put(g, ":");
        ws(g);
        gen_value(g, field->type, depth + 1);
        ws(g);
        first = 0;
    }
    put(g, "}");
}

static void gen_value(struct gen *g, const outbox_avro_node *node, int depth)
{
    size_t i;
    unsigned n;

    if (g->errors && chance(g, 25)) {
        gen_any(g, depth);
        return;
    }
    switch (node->type) {
    case OUTBOX_AVRO_NULL:
        put(g, "null");
        break;
    case OUTBOX_AVRO_BOOLEAN:
        put(g, pick(g, 2) ? "true" : "false");
        break;
    case OUTBOX_AVRO_INT:
        if (node->logical == OUTBOX_AVRO_LOGICAL_DATE && pick(g, 2)) {
            put(g, "\"");
            gen_date_text(g);
            put(g, "\"");
        } else if (node->logical == OUTBOX_AVRO_LOGICAL_TIME_MILLIS && pick(g, 2)) {
            put(g, "\"");
            gen_time_text(g);
            put(g, "\"");
        } else {
            gen_int_text(g, INT32_MIN, INT32_MAX);
        }
        break;
    case OUTBOX_AVRO_LONG:
        if (node->logical >= OUTBOX_AVRO_LOGICAL_TIMESTAMP_MILLIS &&
            node->logical <= OUTBOX_AVRO_LOGICAL_LOCAL_TIMESTAMP_MICROS && pick(g, 3)) {
            put(g, "\"");
            gen_timestamp_text(g, node->logical >= OUTBOX_AVRO_LOGICAL_LOCAL_TIMESTAMP_MILLIS);
            put(g, "\"");
        } else if (node->logical == OUTBOX_AVRO_LOGICAL_TIME_MICROS && pick(g, 2)) {
            put(g, "\"");
            gen_time_text(g);
            put(g, "\"");
        } else {
            gen_int_text(g, INT64_MIN, INT64_MAX);
        }
        break;
    case OUTBOX_AVRO_FLOAT:
    case OUTBOX_AVRO_DOUBLE: {
        static const char *edge[] = {"\"NaN\"", "\"Infinity\"", "\"-Infinity\"", "\"nan\"", "1e39",
                                     "-1e39",   "1e308",        "1e-400",        "-0.0",    "3",
                                     "0.1",     "1.5E3"};

        if (chance(g, g->errors ? 250 : 80))
            put(g, "%s", edge[pick(g, sizeof(edge) / sizeof(edge[0]))]);
        else
            put(g, "%.*g", (int)pick(g, 17) + 1,
                (double)((int64_t)rnd(g) >> pick(g, 63)) / (double)(1 + pick(g, 100000)));
        break;
    }
    case OUTBOX_AVRO_STRING:
        put(g, "\"");
        if (node->logical == OUTBOX_AVRO_LOGICAL_UUID)
            gen_uuid_text(g);
        else
            gen_string_body(g, 12);
        put(g, "\"");
        break;
    case OUTBOX_AVRO_BYTES:
    case OUTBOX_AVRO_FIXED:
        if (node->logical == OUTBOX_AVRO_LOGICAL_DECIMAL)
            gen_decimal(g, node);
        else if (node->type == OUTBOX_AVRO_FIXED)
            gen_latin1(g, node->size + (g->errors && chance(g, 30) ? 1 : 0));
        else
            gen_latin1(g, pick(g, 8));
        break;
    case OUTBOX_AVRO_ENUM:
        if (g->errors && chance(g, 30))
            put(g, "\"%s_\"", node->symbols[0]);
        else
            put(g, "\"%s\"", node->symbols[pick(g, (unsigned)node->n)]);
        break;
    case OUTBOX_AVRO_RECORD:
        gen_record(g, node, depth);
        break;
    case OUTBOX_AVRO_ARRAY:
        n = depth > 6 ? 0 : pick(g, 4);
        put(g, "[");
        for (i = 0; i < n; i++) {
            put(g, "%s", i ? "," : "");
            ws(g);
            gen_value(g, node->items, depth + 1);
        }
        put(g, "]");
        break;
    case OUTBOX_AVRO_MAP:
        n = depth > 6 ? 0 : chance(g, 20) ? 40 + pick(g, 20) : pick(g, 4);
        put(g, "{");
        for (i = 0; i < n; i++) {
            put(g, "%s\"", i ? "," : "");
            gen_string_body(g, n > 10 ? 1 : 3);
            put(g, "\":");
            gen_value(g, node->items, depth + 1);
        }
        put(g, "}");
        break;
    case OUTBOX_AVRO_UNION: {
        const outbox_avro_node *branch = node->branches[pick(g, (unsigned)node->n)];

        if (branch->type == OUTBOX_AVRO_NULL || (depth > 6 && node->null_branch >= 0)) {
            put(g, "null");
        } else if (chance(g, 300)) { /* Avro JSON's wrapped form */
            put(g, "{\"%s\":", pick(g, 2) ? branch->name : branch->short_name);
            gen_value(g, branch, depth + 1);
            put(g, "}");
        } else {
            gen_value(g, branch, depth + 1);
        }
        break;
    }
    }
}

/* Mutate the text: cut, flip, insert or delete a byte. */
static void mutate(struct gen *g)
{
    static const char junk[] = "{}[],:\"\\ 0-eE.tfnu\x01\x80\xff";
    size_t at;

    if (g->out.len == 0)
        return;
    at = pick(g, (unsigned)g->out.len);
    switch (pick(g, 4)) {
    case 0:
        g->out.len = at;
        break;
    case 1:
        g->out.data[at] = (uint8_t)junk[pick(g, sizeof(junk) - 1)];
        break;
    case 2:
        assert_int_equal(outbox_buf_append_byte(&g->out, 0), 0);
        memmove(g->out.data + at + 1, g->out.data + at, g->out.len - at - 1);
        g->out.data[at] = (uint8_t)junk[pick(g, sizeof(junk) - 1)];
        break;
    default:
        memmove(g->out.data + at, g->out.data + at + 1, g->out.len - at - 1);
        g->out.len--;
        break;
    }
}

struct tally {
    unsigned docs;
    unsigned both_ok;
    unsigned both_fail_parse;
    unsigned both_fail_schema;
};

static void differential(const char *schema_path, unsigned docs, unsigned text_flags,
                         struct tally *tally)
{
    outbox_schema *schema = schema_file(schema_path);
    const outbox_avro_node *root = outbox_schema_root(schema);
    outbox_avro_scratch scratch;
    struct outcome fast = {0, OUTBOX_BUF_INIT};
    struct outcome slow = {0, OUTBOX_BUF_INIT};
    struct gen g;
    unsigned i;

    outbox_avro_scratch_init(&scratch, text_flags);
    memset(&g, 0, sizeof(g));
    g.state = DIFF_SEED ^ outbox_avro_crc64(schema_path, strlen(schema_path)) ^ text_flags;
    if (g.state == 0)
        g.state = 1;
    for (i = 0; i < docs; i++) {
        uint64_t doc_state = g.state;

        outbox_buf_reset(&g.out);
        g.errors = pick(&g, 3) == 0;
        ws(&g);
        gen_value(&g, root, 0);
        ws(&g);
        if (pick(&g, 20) == 0)
            mutate(&g);
        run_text(schema, (const char *)g.out.data, g.out.len, &scratch, &fast);
        run_jansson(schema, (const char *)g.out.data, g.out.len,
                    (text_flags & OUTBOX_AVRO_TEXT_ALLOW_NUL) ? JSON_ALLOW_NUL : 0, &slow);
        if ((fast.rc == 0) != (slow.rc == 0) ||
            (fast.rc == 0 && (fast.buf.len - 2 != slow.buf.len ||
                              memcmp(fast.buf.data + 2, slow.buf.data, slow.buf.len) != 0)))
            fail_msg("seed %#x, %s, document %u (generator state %#" PRIx64
                     "): fast rc %d, jansson rc %d, %s:\n%.*s",
                     DIFF_SEED, schema_path, i, doc_state, fast.rc, slow.rc,
                     fast.rc == 0 && slow.rc == 0 ? "different bytes" : "one failed",
                     (int)g.out.len, (const char *)g.out.data);
        tally->docs++;
        if (slow.rc == 0)
            tally->both_ok++;
        else if (slow.rc == OUTBOX_AVRO_ENC_NOT_JSON)
            tally->both_fail_parse++;
        else
            tally->both_fail_schema++;
    }
    outbox_avro_scratch_free(&scratch);
    outbox_buf_free(&g.out);
    outbox_buf_free(&fast.buf);
    outbox_buf_free(&slow.buf);
    outbox_schema_destroy(schema);
}

static void test_generated_documents_agree_with_jansson(void **state)
{
    static const char *schemas[] = {
        SCHEMA_DIR "/PostCreated.avsc",
        SCHEMA_DIR "/CommentCreated.avsc",
        SCHEMA_DIR "/CommentModerated.avsc",
        SCHEMA_DIR "/CommentUpdated.avsc",
        ALL_TYPES,
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(schemas) / sizeof(schemas[0]); i++) {
        struct tally tally = {0, 0, 0, 0};

        differential(schemas[i], DIFF_DOCS, 0, &tally);
        if (i + 1 == sizeof(schemas) / sizeof(schemas[0]))
            differential(schemas[i], DIFF_DOCS, OUTBOX_AVRO_TEXT_ALLOW_NUL, &tally);
        print_message("seed %#x %s: %u documents, %u encoded identically, %u not JSON, %u not "
                      "fitting the schema (both paths)\n",
                      DIFF_SEED, strrchr(schemas[i], '/') + 1, tally.docs, tally.both_ok,
                      tally.both_fail_parse, tally.both_fail_schema);
        /* the generator must exercise both outcomes */
        assert_true(tally.both_ok > tally.docs / 5);
        assert_true(tally.both_fail_parse > 0 && tally.both_fail_schema > 0);
    }
}

/* ---- the authoritative result, classified at its source ----------------------------------- */

/* outbox_avro_json_encode_text() on `json` under `schema`: its rc, its errstr in err. */
static outbox_avro_enc_rc encode_full_with(const outbox_schema *schema, const char *json,
                                           unsigned flags, char *err, size_t err_size)
{
    outbox_avro_scratch scratch;
    outbox_buf buf = OUTBOX_BUF_INIT;
    outbox_avro_enc_rc rc;

    outbox_avro_scratch_init(&scratch, flags);
    err[0] = '\0';
    if (outbox_buf_append(&buf, "\xAA", 1) != 0)
        return OUTBOX_AVRO_ENC_NOMEM;
    rc = outbox_avro_json_encode_text(schema, json, strlen(json), &scratch, &buf, err, err_size);
    if (rc != OUTBOX_AVRO_ENC_OK && buf.len != 1)
        rc = OUTBOX_AVRO_ENC_DECLINED; /* bytes left behind: reported as a wrong rc */
    outbox_avro_scratch_free(&scratch);
    outbox_buf_free(&buf);
    return rc;
}

static outbox_avro_enc_rc encode_full(const char *schema_json, const char *json, unsigned flags,
                                      char *err, size_t err_size)
{
    outbox_schema *schema = schema_text(schema_json);
    outbox_avro_enc_rc rc = encode_full_with(schema, json, flags, err, err_size);

    outbox_schema_destroy(schema);
    return rc;
}

static void test_text_errors_are_classified_with_exact_reasons(void **state)
{
    const char *record = "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\","
                         "\"type\":{\"type\":\"array\",\"items\":\"int\"}}]}";
    char err[512];

    (void)state;
    assert_int_equal(encode_full(record, "{\"a\":[1,2]}", 0, err, sizeof(err)), OUTBOX_AVRO_ENC_OK);
    /* not JSON: jansson's reason with its position */
    assert_int_equal(encode_full(record, "{\"a\":[1,]}", 0, err, sizeof(err)),
                     OUTBOX_AVRO_ENC_NOT_JSON);
    assert_string_equal(err, "not valid JSON: unexpected token near ']' at line 1 column 9");
    assert_true(outbox_avro_enc_is_data(OUTBOX_AVRO_ENC_NOT_JSON));
    /* JSON that does not fit: the field path and what was expected */
    assert_int_equal(encode_full(record, "{\"a\":[1,\"x\"]}", 0, err, sizeof(err)),
                     OUTBOX_AVRO_ENC_MISMATCH);
    assert_string_equal(err, "schema mismatch at a[1]: expected int, got string \"x\"");
    assert_int_equal(encode_full(record, "{}", 0, err, sizeof(err)), OUTBOX_AVRO_ENC_MISMATCH);
    assert_string_equal(err, "missing required field a");
    assert_true(outbox_avro_enc_is_data(OUTBOX_AVRO_ENC_MISMATCH));
    /* "\u0000" is JSON only with the flag, as for json_loadb */
    assert_int_equal(encode_full("\"bytes\"", "\"\\u0000\"", 0, err, sizeof(err)),
                     OUTBOX_AVRO_ENC_NOT_JSON);
    assert_int_equal(
        encode_full("\"bytes\"", "\"\\u0000\"", OUTBOX_AVRO_TEXT_ALLOW_NUL, err, sizeof(err)),
        OUTBOX_AVRO_ENC_OK);
    assert_false(outbox_avro_enc_is_data(OUTBOX_AVRO_ENC_NOMEM));
    assert_false(outbox_avro_enc_is_data(OUTBOX_AVRO_ENC_INTERNAL));
    assert_false(outbox_avro_enc_is_data(OUTBOX_AVRO_ENC_DECLINED));
    assert_string_equal(outbox_avro_enc_rc_name(OUTBOX_AVRO_ENC_NOT_JSON), "not_json");
}

static void test_text_declined_by_the_fast_path_is_decided_by_the_reference(void **state)
{
    const char *schema = "{\"type\":\"record\",\"name\":\"N\",\"fields\":[{\"name\":\"n\","
                         "\"type\":[\"null\",\"N\"]}]}";
    char *json = malloc(20 * 1000 + 100);
    char err[512];
    size_t len = 0;
    int i;

    (void)state;
    assert_non_null(json);
    /* 600 levels: beyond the tokenizer's 512, within jansson's 2048 and the codec's limit is
     * exceeded: a property of the event (MISMATCH), decided by the reference path */
    for (i = 0; i < 600; i++)
        len += (size_t)sprintf(json + len, "{\"n\":");
    len += (size_t)sprintf(json + len, "null");
    for (i = 0; i < 600; i++)
        json[len++] = '}';
    json[len] = '\0';
    assert_int_equal(encode_full(schema, json, 0, err, sizeof(err)), OUTBOX_AVRO_ENC_MISMATCH);
    assert_non_null(strstr(err, "nested deeper than 128 levels"));
    free(json);
}

/* The authoritative encoding of `json`, as hex in one of 2 rotating buffers; fails the test
 * unless it succeeds. */
static const char *encode_hex(const char *schema_json, const char *json)
{
    static char bufs[2][2048];
    static int turn;
    char *out = bufs[turn++ % 2];
    outbox_schema *schema = schema_text(schema_json);
    outbox_avro_scratch scratch;
    outbox_buf buf = OUTBOX_BUF_INIT;
    char err[512];
    size_t i;

    outbox_avro_scratch_init(&scratch, 0);
    if (outbox_avro_json_encode_text(schema, json, strlen(json), &scratch, &buf, err,
                                     sizeof(err)) != OUTBOX_AVRO_ENC_OK)
        fail_msg("%.60s under %s: %s", json, schema_json, err);
    for (i = 0; i < buf.len && 2 * i + 2 < sizeof(bufs[0]); i++)
        snprintf(out + 2 * i, 3, "%02x", buf.data[i]);
    out[2 * i] = '\0';
    assert_true(2 * i + 2 < 2048);
    outbox_avro_scratch_free(&scratch);
    outbox_buf_free(&buf);
    outbox_schema_destroy(schema);
    return out;
}

/* DBL_MAX and 1e308 as PostgreSQL's jsonb prints them: digits, no exponent. */
#define DBL_MAX_DIGITS                                                                             \
    "17976931348623157081452742373170435679807056752584499659891747680315726078002853876058955"    \
    "86327668781715404589535143824642343213268894641827684675467035375169860499105765512820762"    \
    "45490090389328944075868508455133942304583236903222948165808559332123348274797826204144723"    \
    "168738177180919299881250404026184124858368"
#define E308_DIGITS                                                                                \
    "1000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"  \
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"  \
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"  \
    "000000000000000000000000000000000000"

static void test_numbers_jansson_cannot_hold_encode_exactly(void **state)
{
    const char *dec = "{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":38,"
                      "\"scale\":0}";
    char big[1024];

    (void)state;
    assert_int_equal(strlen(E308_DIGITS), 309);
    /* jsonb's spelling of 1e19, 9.3e18 and 1e308 give the same double as the exponent form */
    assert_string_equal(encode_hex("\"double\"", "10000000000000000000"),
                        encode_hex("\"double\"", "1e19"));
    assert_string_equal(encode_hex("\"double\"", "10000000000000000000"), "003d9160e458e143");
    assert_string_equal(encode_hex("\"double\"", "-9300000000000000000"), "40643f970722e0c3");
    assert_string_equal(encode_hex("\"double\"", E308_DIGITS), encode_hex("\"double\"", "1e308"));
    assert_string_equal(encode_hex("\"double\"", DBL_MAX_DIGITS), "ffffffffffffef7f");
    assert_string_equal(encode_hex("\"float\"", "10000000000000000000"), "23c70a5f");
    /* a union takes it in its double branch, the long branch refusing it */
    assert_string_equal(encode_hex("[\"null\",\"long\",\"double\"]", "10000000000000000000"),
                        "04003d9160e458e143");
    /* a decimal takes the digits exactly, as from a string */
    assert_string_equal(encode_hex(dec, "123456789012345678901234567890"),
                        encode_hex(dec, "\"123456789012345678901234567890\""));
    /* a member the schema lacks may hold one */
    assert_string_equal(encode_hex("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":"
                                   "\"a\",\"type\":\"int\"}]}",
                                   "{\"x\":1" E308_DIGITS "0,\"a\":1}"),
                        "02");
    /* both paths agree, jansson's tree built from the tokens on the reference path */
    assert_int_equal(agree("\"double\"", "10000000000000000000"), 0);
    assert_int_equal(agree("\"double\"", DBL_MAX_DIGITS), 0);
    snprintf(big, sizeof(big), "[%s,-%s,1e19,12]", E308_DIGITS, E308_DIGITS);
    assert_int_equal(agree("{\"type\":\"array\",\"items\":\"double\"}", big), 0);
    assert_int_equal(agree(dec, "123456789012345678901234567890"), 0);
    assert_int_not_equal(agree("\"long\"", "10000000000000000000"), 0);
    assert_int_not_equal(agree("\"double\"", "1" E308_DIGITS), 0);
    assert_int_not_equal(agree("\"double\"", "-2e308"), 0);
}

static void test_int64_stays_exact_next_to_a_number_jansson_cannot_hold(void **state)
{
    const char *schema = "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"l\","
                         "\"type\":\"long\"},{\"name\":\"d\",\"type\":\"double\"}]}";
    const char *json = "{\"l\":9007199254740993,\"d\":10000000000000000000}";
    outbox_schema *compiled = schema_text(schema);
    outbox_avro_scratch scratch;
    outbox_buf buf = OUTBOX_BUF_INIT;
    char err[256];

    (void)state;
    /* 2^53 + 1 would become 2^53 with JSON_DECODE_INT_AS_REAL; the reference path keeps it */
    outbox_avro_scratch_init(&scratch, 0);
    assert_int_equal(outbox_avro_json_encode_text_reference(compiled, json, strlen(json), &scratch,
                                                            &buf, err, sizeof(err)),
                     OUTBOX_AVRO_ENC_OK);
    assert_int_equal(buf.len, 8 + 8);
    assert_memory_equal(buf.data, "\x82\x80\x80\x80\x80\x80\x80\x20", 8);
    assert_memory_equal(buf.data + 8, "\x00\x3d\x91\x60\xe4\x58\xe1\x43", 8);
    outbox_avro_scratch_free(&scratch);
    outbox_buf_free(&buf);
    outbox_schema_destroy(compiled);
    assert_string_equal(encode_hex(schema, json), "8280808080808020003d9160e458e143");
}

static void test_int_or_long_out_of_range_names_the_field_and_range(void **state)
{
    const char *schema = "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"n\","
                         "\"type\":{\"type\":\"record\",\"name\":\"S\",\"fields\":[{\"name\":"
                         "\"amount\",\"type\":\"long\"},{\"name\":\"count\",\"type\":\"int\"},"
                         "{\"name\":\"ratio\",\"type\":\"double\"}]}}]}";
    char json[1024];
    char err[512];

    (void)state;
    assert_int_equal(encode_full(schema,
                                 "{\"n\":{\"amount\":10000000000000000000,\"count\":1,"
                                 "\"ratio\":1}}",
                                 0, err, sizeof(err)),
                     OUTBOX_AVRO_ENC_MISMATCH);
    assert_string_equal(err, "schema mismatch at n.amount: value 10000000000000000000 out of "
                             "range for long [-9223372036854775808, 9223372036854775807]");
    assert_int_equal(encode_full(schema,
                                 "{\"n\":{\"amount\":-9223372036854775809,\"count\":1,"
                                 "\"ratio\":1}}",
                                 0, err, sizeof(err)),
                     OUTBOX_AVRO_ENC_MISMATCH);
    assert_string_equal(err, "schema mismatch at n.amount: value -9223372036854775809 out of "
                             "range for long [-9223372036854775808, 9223372036854775807]");
    assert_int_equal(encode_full(schema, "{\"n\":{\"amount\":1,\"count\":2147483648,\"ratio\":1}}",
                                 0, err, sizeof(err)),
                     OUTBOX_AVRO_ENC_MISMATCH);
    assert_string_equal(err, "schema mismatch at n.count: value 2147483648 out of range for int "
                             "[-2147483648, 2147483647]");
    snprintf(json, sizeof(json), "{\"n\":{\"amount\":1,\"count\":1,\"ratio\":-1%s}}", E308_DIGITS);
    assert_int_equal(encode_full(schema, json, 0, err, sizeof(err)), OUTBOX_AVRO_ENC_MISMATCH);
    assert_string_equal(err, "schema mismatch at n.ratio: value -110000000000000000000000000000"
                             "000000000... out of range for double [-1.7976931348623157e+308, "
                             "1.7976931348623157e+308]");
    /* a document that is not JSON stays NOT_JSON, whatever numbers it holds */
    assert_int_equal(
        encode_full(schema, "{\"n\":{\"amount\":10000000000000000000,}}", 0, err, sizeof(err)),
        OUTBOX_AVRO_ENC_NOT_JSON);
}

/* An allocator that fails after `fail_after` more allocations. */
static int fail_after = -1;

static void *failing_malloc(size_t size)
{
    if (fail_after == 0)
        return NULL;
    if (fail_after > 0)
        fail_after--;
    return malloc(size);
}

static void test_text_out_of_memory_is_never_the_events_fault(void **state)
{
    const char *schema = "{\"type\":\"array\",\"items\":\"int\"}";
    outbox_schema *compiled;
    char json[4096];
    char err[512];
    size_t len = 0;
    int i;

    (void)state;
    /* deeper than the tokenizer takes, so jansson (whose allocator fails) parses it */
    for (i = 0; i < 600; i++)
        json[len++] = '[';
    for (i = 0; i < 600; i++)
        json[len++] = ']';
    json[len] = '\0';
    compiled = schema_text(schema);
    for (i = 0; i < 50; i++) {
        outbox_avro_enc_rc rc;

        fail_after = i;
        json_set_alloc_funcs(failing_malloc, free);
        rc = encode_full_with(compiled, json, 0, err, sizeof(err));
        json_set_alloc_funcs(malloc, free);
        fail_after = -1;
        /* the document is JSON and does not fit: MISMATCH, or NOMEM when parsing ran out */
        if (rc != OUTBOX_AVRO_ENC_MISMATCH && rc != OUTBOX_AVRO_ENC_NOMEM)
            fail_msg("allocation %d failing: rc %s (%s)", i, outbox_avro_enc_rc_name(rc), err);
        if (i == 0)
            assert_int_equal(rc, OUTBOX_AVRO_ENC_NOMEM);
    }
    outbox_schema_destroy(compiled);
}

static void test_unsupported_node_is_internal(void **state)
{
    outbox_avro_node node;
    outbox_buf buf = OUTBOX_BUF_INIT;
    char err[256];

    (void)state;
    memset(&node, 0, sizeof(node));
    node.type = (outbox_avro_type)99;
    node.name = node.short_name = "bogus";
    assert_int_equal(outbox_avro_json_encode_node(&node, json_null(), &buf, err, sizeof(err)),
                     OUTBOX_AVRO_ENC_INTERNAL);
    assert_string_equal(err,
                        "internal encoder error at top level: unsupported schema node type 99");
    outbox_buf_free(&buf);
}

/* ---- truncated and garbage input ------------------------------------------------------------ */

static void every_prefix_fails(const char *schema_path, const char *fixture, unsigned flags)
{
    outbox_schema *schema = schema_file(schema_path);
    outbox_avro_scratch scratch;
    struct outcome fast = {0, OUTBOX_BUF_INIT};
    char path[512];
    size_t len;
    size_t cut;
    char *json;

    snprintf(path, sizeof(path), "%s/%s.json", AVRO_FIXTURES, fixture);
    json = slurp(path, &len);
    outbox_avro_scratch_init(&scratch, flags);
    run_text(schema, json, len, &scratch, &fast);
    assert_int_equal(fast.rc, 0);
    for (cut = 0; cut < len; cut++) {
        /* the document is an object: no proper prefix is JSON, except up to trailing space */
        size_t end = len;

        while (end > 0 && (json[end - 1] == '\n' || json[end - 1] == ' '))
            end--;
        run_text(schema, json, cut, &scratch, &fast);
        if (cut < end && fast.rc == 0)
            fail_msg("%s: the first %zu of %zu bytes were accepted", fixture, cut, len);
    }
    outbox_avro_scratch_free(&scratch);
    outbox_buf_free(&fast.buf);
    free(json);
    outbox_schema_destroy(schema);
}

static void test_every_truncation_fails(void **state)
{
    (void)state;
    every_prefix_fails(SCHEMA_DIR "/PostCreated.avsc", "post_created_full", 0);
    every_prefix_fails(SCHEMA_DIR "/CommentCreated.avsc", "comment_created_reply_wrapped", 0);
    every_prefix_fails(ALL_TYPES, "all_types", OUTBOX_AVRO_TEXT_ALLOW_NUL);
    every_prefix_fails(ALL_TYPES, "all_types_edges", 0);
}

static void test_garbage_bytes_never_crash_and_agree(void **state)
{
    outbox_schema *schema = schema_file(ALL_TYPES);
    outbox_avro_scratch scratch;
    struct outcome fast = {0, OUTBOX_BUF_INIT};
    struct outcome slow = {0, OUTBOX_BUF_INIT};
    struct gen g;
    char doc[256];
    size_t len;
    int i;

    (void)state;
    memset(&g, 0, sizeof(g));
    g.state = DIFF_SEED;
    outbox_avro_scratch_init(&scratch, 0);
    for (i = 0; i < 20000; i++) {
        size_t k;

        len = pick(&g, sizeof(doc));
        for (k = 0; k < len; k++)
            doc[k] = (char)(pick(&g, 4) ? "{}[]\":,0-1e.\\u tfnalrse"[pick(&g, 23)]
                                        : (int)pick(&g, 256));
        run_text(schema, doc, len, &scratch, &fast);
        run_jansson(schema, doc, len, 0, &slow);
        if ((fast.rc == 0) != (slow.rc == 0))
            fail_msg("seed %#x, garbage %d: fast rc %d, jansson rc %d", DIFF_SEED, i, fast.rc,
                     slow.rc);
    }
    outbox_avro_scratch_free(&scratch);
    outbox_buf_free(&fast.buf);
    outbox_buf_free(&slow.buf);
    outbox_schema_destroy(schema);
}

/* ---- a warm scratch allocates nothing ------------------------------------------------------ */

static void test_warm_scratch_does_not_allocate(void **state)
{
    outbox_schema *post = schema_file(SCHEMA_DIR "/PostCreated.avsc");
    outbox_schema *all = schema_file(ALL_TYPES);
    outbox_avro_scratch scratch;
    outbox_avro_scratch before;
    outbox_buf buf = OUTBOX_BUF_INIT;
    uint8_t *data;
    size_t cap;
    size_t post_len;
    size_t all_len;
    char *post_json = slurp(AVRO_FIXTURES "/post_created_full.json", &post_len);
    char *all_json = slurp(AVRO_FIXTURES "/all_types.json", &all_len);
    int i;

    (void)state;
    outbox_avro_scratch_init(&scratch, OUTBOX_AVRO_TEXT_ALLOW_NUL);
    /* warm-up: escapes (str), records and maps (marks) */
    assert_int_equal(outbox_avro_json_encode_text(all, all_json, all_len, &scratch, &buf, NULL, 0),
                     0);
    outbox_buf_reset(&buf);
    assert_int_equal(
        outbox_avro_json_encode_text(post, post_json, post_len, &scratch, &buf, NULL, 0), 0);
    before = scratch;
    data = buf.data;
    cap = buf.cap;
    assert_non_null(before.toks);
    assert_non_null(before.str);
    assert_non_null(before.marks);
    for (i = 0; i < 1000; i++) {
        outbox_buf_reset(&buf);
        assert_int_equal(
            outbox_avro_json_encode_text(i % 2 ? post : all, i % 2 ? post_json : all_json,
                                         i % 2 ? post_len : all_len, &scratch, &buf, NULL, 0),
            0);
        assert_ptr_equal(scratch.toks, before.toks);
        assert_int_equal(scratch.toks_cap, before.toks_cap);
        assert_ptr_equal(scratch.str, before.str);
        assert_int_equal(scratch.str_cap, before.str_cap);
        assert_ptr_equal(scratch.marks, before.marks);
        assert_int_equal(scratch.marks_cap, before.marks_cap);
        assert_ptr_equal(scratch.num, before.num);
    }
    assert_ptr_equal(buf.data, data);
    assert_int_equal(buf.cap, cap);
    outbox_avro_scratch_free(&scratch);
    assert_null(scratch.toks);
    outbox_buf_free(&buf);
    free(all_json);
    free(post_json);
    outbox_schema_destroy(all);
    outbox_schema_destroy(post);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures_match_python),
        cmocka_unit_test(test_nul_escape_needs_allow_nul_like_jansson),
        cmocka_unit_test(test_repeated_keys_keep_last_value_in_first_place),
        cmocka_unit_test(test_escaped_keys_match_field_names),
        cmocka_unit_test(test_union_wrapped_and_fallback_agree),
        cmocka_unit_test(test_numbers_at_the_limits_agree),
        cmocka_unit_test(test_nan_with_nul_compares_as_c_string_like_jansson),
        cmocka_unit_test(test_decimal_reals_go_through_the_same_double),
        cmocka_unit_test(test_syntax_errors_agree),
        cmocka_unit_test(test_deep_nesting_is_left_to_jansson),
        cmocka_unit_test(test_generated_documents_agree_with_jansson),
        cmocka_unit_test(test_text_errors_are_classified_with_exact_reasons),
        cmocka_unit_test(test_text_declined_by_the_fast_path_is_decided_by_the_reference),
        cmocka_unit_test(test_text_out_of_memory_is_never_the_events_fault),
        cmocka_unit_test(test_unsupported_node_is_internal),
        cmocka_unit_test(test_numbers_jansson_cannot_hold_encode_exactly),
        cmocka_unit_test(test_int64_stays_exact_next_to_a_number_jansson_cannot_hold),
        cmocka_unit_test(test_int_or_long_out_of_range_names_the_field_and_range),
        cmocka_unit_test(test_every_truncation_fails),
        cmocka_unit_test(test_garbage_bytes_never_crash_and_agree),
        cmocka_unit_test(test_warm_scratch_does_not_allocate),
    };

    return cmocka_run_group_tests_name("avro_text", tests, NULL, NULL);
}
