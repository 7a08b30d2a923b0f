/* Avro schemas: Parsing Canonical Form, CRC-64-AVRO fingerprints, validation, schema sets. */
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
#include <unistd.h>

#include "avro_schema.h"

#define REPO_ROOT SCHEMA_DIR "/.."

static outbox_schema *parse_ok(const char *json, unsigned flags)
{
    outbox_schema *schema = NULL;
    char err[512] = "";
    int rc = outbox_schema_parse(json, strlen(json), flags, &schema, err, sizeof(err));

    if (rc != 0)
        fail_msg("parse failed (%d): %s\nschema: %s", rc, err, json);
    return schema;
}

/* Parse expecting failure; returns the message (static). */
static const char *parse_err(const char *json, int expected_rc)
{
    static char err[512];
    outbox_schema *schema = NULL;
    int rc;

    err[0] = '\0';
    rc = outbox_schema_parse(json, strlen(json), 0, &schema, err, sizeof(err));
    assert_int_equal(rc, expected_rc);
    assert_null(schema);
    return err;
}

static void assert_contains(const char *haystack, const char *needle)
{
    if (strstr(haystack, needle) == NULL)
        fail_msg("\"%s\" does not contain \"%s\"", haystack, needle);
}

/* Walk spec_vectors.tsv: input \t canonical \t fingerprint. */
typedef void (*vector_fn)(const char *input, const char *canonical, const char *fingerprint);

static int each_spec_vector(vector_fn fn)
{
    char *text = slurp(AVRO_FIXTURES "/spec_vectors.tsv", NULL);
    char *save = NULL;
    char *line;
    int n = 0;

    for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        char *tab1;
        char *tab2;

        if (line[0] == '#' || line[0] == '\0')
            continue;
        tab1 = strchr(line, '\t');
        assert_non_null(tab1);
        tab2 = strchr(tab1 + 1, '\t');
        assert_non_null(tab2);
        *tab1 = '\0';
        *tab2 = '\0';
        fn(line, tab1 + 1, tab2 + 1);
        n++;
    }
    free(text);
    return n;
}

/* The spec's vectors include the empty union "[  ]", which avro-c (our reference parser)
 * refuses: it must be rejected with avro-c's message; every other vector must parse. */
static int refused_by_avro_c(const char *input)
{
    char err[512] = "";
    outbox_schema *schema = NULL;

    if (strcmp(input, "[  ]") != 0)
        return 0;
    assert_int_equal(outbox_schema_parse(input, strlen(input), OUTBOX_SCHEMA_LAX_DEFAULTS, &schema,
                                         err, sizeof(err)),
                     OUTBOX_AVRO_ERR_SCHEMA);
    assert_string_equal(err, "avro-c rejects the schema: Union type must have at least one branch");
    return 1;
}

static void check_canonical(const char *input, const char *canonical, const char *fingerprint)
{
    /* Case 026 has a boolean field with default "true" (a string): valid for canonical-form
     * purposes only, hence LAX_DEFAULTS. */
    if (refused_by_avro_c(input))
        return;
    outbox_schema *schema = parse_ok(input, OUTBOX_SCHEMA_LAX_DEFAULTS);

    (void)fingerprint;
    assert_string_equal(outbox_schema_canonical(schema), canonical);
    outbox_schema_destroy(schema);
}

static void check_fingerprint(const char *input, const char *canonical, const char *fingerprint)
{
    outbox_schema *schema;

    (void)canonical;
    if (strcmp(fingerprint, "-") == 0 || refused_by_avro_c(input))
        return;
    schema = parse_ok(input, OUTBOX_SCHEMA_LAX_DEFAULTS);
    assert_int_equal((int64_t)outbox_schema_fingerprint(schema), strtoll(fingerprint, NULL, 10));
    outbox_schema_destroy(schema);
}

static void test_canonical_form_matches_spec_vectors(void **state)
{
    (void)state;
    assert_int_equal(each_spec_vector(check_canonical), 34);
}

static void test_fingerprint_matches_spec_vectors(void **state)
{
    (void)state;
    assert_int_equal(each_spec_vector(check_fingerprint), 34);
}

static void test_a_schema_avro_c_refuses_is_refused_with_its_message(void **state)
{
    (void)state;
    /* our parser accepts an empty union (the spec's vectors have one); avro-c does not */
    assert_string_equal(parse_err("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":"
                                  "\"u\",\"type\":[]}]}",
                                  OUTBOX_AVRO_ERR_SCHEMA),
                        "avro-c rejects the schema: Union type must have at least one branch");
}

static void test_crc64_of_empty_input_is_the_spec_constant(void **state)
{
    (void)state;
    assert_true(outbox_avro_crc64("", 0) == 0xc15d213aa4d7a795ULL);
}

/* fingerprints.txt: "<path from repo root> <hex> <canonical>", written by gen.py (Python). */
static void test_schema_fingerprints_match_independent_python(void **state)
{
    char *text = slurp(AVRO_FIXTURES "/fingerprints.txt", NULL);
    char *save = NULL;
    char *line;
    int n = 0;

    (void)state;
    for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        char *sp1 = strchr(line, ' ');
        char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
        char path[1024];
        char *json;
        size_t len;
        outbox_schema *schema = NULL;
        char err[512];

        assert_non_null(sp2);
        *sp1 = '\0';
        *sp2 = '\0';
        snprintf(path, sizeof(path), "%s/%s", REPO_ROOT, line);
        json = slurp(path, &len);
        if (outbox_schema_parse(json, len, 0, &schema, err, sizeof(err)) != 0)
            fail_msg("%s: %s", path, err);
        assert_string_equal(outbox_schema_canonical(schema), sp2 + 1);
        assert_true(outbox_schema_fingerprint(schema) == strtoull(sp1 + 1, NULL, 16));
        outbox_schema_destroy(schema);
        free(json);
        n++;
    }
    assert_true(n >= 5); /* the four blog schemas and AllTypes */
    free(text);
}

static void test_load_dir_loads_every_blog_schema(void **state)
{
    outbox_schemas *schemas = NULL;
    char err[512] = "";

    (void)state;
    assert_int_equal(outbox_schemas_load_dir(SCHEMA_DIR, &schemas, err, sizeof(err)), 0);
    assert_int_equal(outbox_schemas_count(schemas), 4);
    /* name order */
    assert_string_equal(outbox_schema_name(outbox_schemas_get(schemas, 0)),
                        "blog.events.CommentCreated");
    assert_null(outbox_schemas_get(schemas, 4));
    outbox_schemas_destroy(schemas);
}

static void test_find_by_short_or_full_name(void **state)
{
    outbox_schemas *schemas = NULL;
    char err[512];
    const outbox_schema *schema;

    (void)state;
    assert_int_equal(outbox_schemas_load_dir(SCHEMA_DIR, &schemas, err, sizeof(err)), 0);
    schema = outbox_schemas_find(schemas, "PostCreated");
    assert_non_null(schema);
    assert_string_equal(outbox_schema_name(schema), "blog.events.PostCreated");
    assert_string_equal(outbox_schema_short_name(schema), "PostCreated");
    assert_ptr_equal(outbox_schemas_find(schemas, "blog.events.PostCreated"), schema);
    assert_null(outbox_schemas_find(schemas, "other.PostCreated"));
    assert_null(outbox_schemas_find(schemas, "postcreated"));
    assert_null(outbox_schemas_find(schemas, "ModerationDecision")); /* nested type, no event */
    outbox_schemas_destroy(schemas);
}

static void test_find_by_fingerprint(void **state)
{
    outbox_schemas *schemas = NULL;
    char err[512];
    const outbox_schema *schema;

    (void)state;
    assert_int_equal(outbox_schemas_load_dir(SCHEMA_DIR, &schemas, err, sizeof(err)), 0);
    schema = outbox_schemas_find(schemas, "CommentModerated");
    assert_non_null(schema);
    assert_ptr_equal(outbox_schemas_find_fingerprint(schemas, outbox_schema_fingerprint(schema)),
                     schema);
    assert_null(outbox_schemas_find_fingerprint(schemas, 0x1234));
    outbox_schemas_destroy(schemas);
}

static void test_schema_keeps_original_json_text(void **state)
{
    const char *json =
        "{ \"type\": \"record\", \"name\": \"R\", \"doc\": \"kept\", \"fields\": [] }";
    outbox_schema *schema = parse_ok(json, 0);

    (void)state;
    assert_string_equal(outbox_schema_json(schema), json);
    assert_string_equal(outbox_schema_canonical(schema),
                        "{\"name\":\"R\",\"type\":\"record\",\"fields\":[]}");
    outbox_schema_destroy(schema);
}

static void test_canonical_form_strips_logical_types_and_defaults(void **state)
{
    outbox_schema *schema = parse_ok(
        "{\"type\":\"record\",\"name\":\"E\",\"namespace\":\"n\",\"fields\":["
        "{\"name\":\"at\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"},"
        "\"default\":0,\"doc\":\"d\"},"
        "{\"name\":\"amount\",\"type\":{\"type\":\"fixed\",\"name\":\"Amt\",\"size\":8,"
        "\"logicalType\":\"decimal\",\"precision\":10,\"scale\":2}}]}",
        0);

    (void)state;
    assert_string_equal(outbox_schema_canonical(schema),
                        "{\"name\":\"n.E\",\"type\":\"record\",\"fields\":[{\"name\":\"at\","
                        "\"type\":\"long\"},{\"name\":\"amount\",\"type\":{\"name\":\"n.Amt\","
                        "\"type\":\"fixed\",\"size\":8}}]}");
    outbox_schema_destroy(schema);
}

static void test_canonical_form_spells_a_named_type_once(void **state)
{
    outbox_schema *schema =
        parse_ok("{\"type\":\"record\",\"name\":\"a.R\",\"fields\":["
                 "{\"name\":\"x\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"]}},"
                 "{\"name\":\"y\",\"type\":\"E\"},{\"name\":\"z\",\"type\":{\"type\":\"array\","
                 "\"items\":\"a.E\"}}]}",
                 0);

    (void)state;
    assert_string_equal(outbox_schema_canonical(schema),
                        "{\"name\":\"a.R\",\"type\":\"record\",\"fields\":[{\"name\":\"x\","
                        "\"type\":{\"name\":\"a.E\",\"type\":\"enum\",\"symbols\":[\"A\"]}},"
                        "{\"name\":\"y\",\"type\":\"a.E\"},{\"name\":\"z\",\"type\":"
                        "{\"type\":\"array\",\"items\":\"a.E\"}}]}");
    outbox_schema_destroy(schema);
}

static void test_logical_types_compile_onto_their_base_types(void **state)
{
    outbox_schema *schema = parse_ok(
        "{\"type\":\"record\",\"name\":\"L\",\"fields\":["
        "{\"name\":\"a\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}},"
        "{\"name\":\"b\",\"type\":{\"type\":\"bytes\",\"logicalType\":\"decimal\","
        "\"precision\":5,\"scale\":2}},"
        "{\"name\":\"c\",\"type\":{\"type\":\"int\",\"logicalType\":\"timestamp-millis\"}},"
        "{\"name\":\"d\",\"type\":{\"type\":\"bytes\",\"logicalType\":\"decimal\","
        "\"precision\":2,\"scale\":3}},"
        "{\"name\":\"e\",\"type\":{\"type\":\"string\",\"logicalType\":\"made-up\"}}]}",
        0);
    const outbox_avro_node *root = outbox_schema_root(schema);

    (void)state;
    assert_int_equal(root->n, 5);
    assert_int_equal(root->fields[0].type->logical, OUTBOX_AVRO_LOGICAL_TIMESTAMP_MICROS);
    assert_int_equal(root->fields[1].type->logical, OUTBOX_AVRO_LOGICAL_DECIMAL);
    assert_int_equal(root->fields[1].type->precision, 5);
    assert_int_equal(root->fields[1].type->scale, 2);
    /* invalid logical types are ignored, per spec: the base type remains */
    assert_int_equal(root->fields[2].type->logical, OUTBOX_AVRO_LOGICAL_NONE);
    assert_int_equal(root->fields[3].type->logical, OUTBOX_AVRO_LOGICAL_NONE);
    assert_int_equal(root->fields[4].type->logical, OUTBOX_AVRO_LOGICAL_NONE);
    outbox_schema_destroy(schema);
}

static void test_recursive_schema_compiles(void **state)
{
    outbox_schema *schema = parse_ok(
        "{\"type\":\"record\",\"name\":\"Node\",\"fields\":[{\"name\":\"v\",\"type\":\"int\"},"
        "{\"name\":\"next\",\"type\":[\"null\",\"Node\"],\"default\":null}]}",
        0);
    const outbox_avro_node *root = outbox_schema_root(schema);

    (void)state;
    assert_ptr_equal(root->fields[1].type->branches[1], root);
    assert_int_equal(root->min_size, 2); /* int + union index */
    outbox_schema_destroy(schema);
}

static void test_parse_rejects_invalid_json(void **state)
{
    (void)state;
    assert_contains(parse_err("{\"type\": ", OUTBOX_AVRO_ERR_SCHEMA), "not valid JSON");
}

static void test_parse_rejects_unknown_type_naming_the_field(void **state)
{
    const char *err = parse_err("{\"type\":\"record\",\"name\":\"a.R\",\"fields\":[{\"name\":"
                                "\"f\",\"type\":{\"type\":\"array\",\"items\":\"strng\"}}]}",
                                OUTBOX_AVRO_ERR_SCHEMA);

    (void)state;
    assert_string_equal(err, "schema error at a.R.f[]: unknown type \"strng\"");
}

static void test_parse_rejects_invalid_names(void **state)
{
    (void)state;
    assert_contains(
        parse_err("{\"type\":\"record\",\"name\":\"1R\",\"fields\":[]}", OUTBOX_AVRO_ERR_SCHEMA),
        "invalid name \"1R\"");
    assert_contains(parse_err("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":"
                              "\"a-b\",\"type\":\"int\"}]}",
                              OUTBOX_AVRO_ERR_SCHEMA),
                    "invalid field name \"a-b\"");
    assert_contains(parse_err("{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A B\"]}",
                              OUTBOX_AVRO_ERR_SCHEMA),
                    "invalid symbol \"A B\"");
    assert_contains(
        parse_err("{\"type\":\"fixed\",\"name\":\"int\",\"size\":1}", OUTBOX_AVRO_ERR_SCHEMA),
        "primitive type name");
}

static void test_parse_rejects_duplicates(void **state)
{
    (void)state;
    assert_contains(parse_err("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\","
                              "\"type\":\"int\"},{\"name\":\"a\",\"type\":\"long\"}]}",
                              OUTBOX_AVRO_ERR_SCHEMA),
                    "field \"a\" appears twice");
    assert_contains(parse_err("{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"A\"]}",
                              OUTBOX_AVRO_ERR_SCHEMA),
                    "symbol \"A\" appears twice");
    assert_contains(parse_err("[{\"type\":\"fixed\",\"name\":\"F\",\"size\":1},"
                              "{\"type\":\"fixed\",\"name\":\"F\",\"size\":2}]",
                              OUTBOX_AVRO_ERR_SCHEMA),
                    "type \"F\" is defined twice");
}

static void test_parse_rejects_bad_unions(void **state)
{
    (void)state;
    assert_contains(parse_err("[\"null\", [\"int\"]]", OUTBOX_AVRO_ERR_SCHEMA),
                    "may not directly contain another union");
    assert_contains(
        parse_err("[\"long\", {\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}]",
                  OUTBOX_AVRO_ERR_SCHEMA),
        "two branches of type long");
}

static void test_parse_rejects_default_that_does_not_fit(void **state)
{
    const char *err = parse_err("{\"type\":\"record\",\"name\":\"n.R\",\"fields\":[{\"name\":"
                                "\"tags\",\"type\":{\"type\":\"array\",\"items\":\"string\"},"
                                "\"default\":[1]}]}",
                                OUTBOX_AVRO_ERR_SCHEMA);

    (void)state;
    assert_contains(err, "n.R.tags: default value does not fit");
    assert_contains(err, "expected string, got integer");
}

static void test_parse_checks_union_default_against_first_branch(void **state)
{
    (void)state;
    assert_contains(parse_err("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"r\","
                              "\"type\":[\"null\",\"string\"],\"default\":\"x\"}]}",
                              OUTBOX_AVRO_ERR_SCHEMA),
                    "R.r: default value does not fit");
}

static void test_lax_defaults_make_the_field_required(void **state)
{
    outbox_schema *schema = parse_ok("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":"
                                     "\"b\",\"type\":\"boolean\",\"default\":\"true\"}]}",
                                     OUTBOX_SCHEMA_LAX_DEFAULTS);

    (void)state;
    assert_false(outbox_schema_root(schema)->fields[0].has_default);
    outbox_schema_destroy(schema);
}

static void test_parse_rejects_decimal_precision_above_limit(void **state)
{
    (void)state;
    assert_contains(parse_err("{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":301}",
                              OUTBOX_AVRO_ERR_SCHEMA),
                    "above the supported 300");
}

/* A temporary directory with the given files; removed by rm_tree(). */
static void make_dir(char *dir, size_t size, const char *const *names, const char *const *contents,
                     int n)
{
    int i;

    snprintf(dir, size, "/tmp/test_avro_schema.XXXXXX");
    assert_non_null(mkdtemp(dir));
    for (i = 0; i < n; i++) {
        char path[512];
        FILE *fp;

        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        fp = fopen(path, "w");
        assert_non_null(fp);
        fputs(contents[i], fp);
        fclose(fp);
    }
}

static void rm_dir(const char *dir, const char *const *names, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        char path[512];

        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

static void test_load_dir_error_names_the_file_and_problem(void **state)
{
    const char *names[] = {"A.avsc", "Broken.avsc"};
    const char *contents[] = {
        "{\"type\":\"record\",\"name\":\"A\",\"fields\":[]}",
        "{\"type\":\"record\",\"name\":\"B\",\"fields\":[{\"name\":\"x\",\"type\":\"nope\"}]}"};
    outbox_schemas *schemas = NULL;
    char dir[64];
    char err[512] = "";

    (void)state;
    make_dir(dir, sizeof(dir), names, contents, 2);
    assert_int_equal(outbox_schemas_load_dir(dir, &schemas, err, sizeof(err)),
                     OUTBOX_AVRO_ERR_SCHEMA);
    assert_null(schemas);
    assert_contains(err, "/Broken.avsc: schema error at B.x: unknown type \"nope\"");
    rm_dir(dir, names, 2);
}

static void test_load_dir_rejects_ambiguous_event_types(void **state)
{
    const char *names[] = {"One.avsc", "Two.avsc"};
    const char *contents[] = {
        "{\"type\":\"record\",\"name\":\"Same\",\"namespace\":\"a\",\"fields\":[]}",
        "{\"type\":\"record\",\"name\":\"Same\",\"namespace\":\"b\",\"fields\":[]}"};
    outbox_schemas *schemas = NULL;
    char dir[64];
    char err[512] = "";

    (void)state;
    make_dir(dir, sizeof(dir), names, contents, 2);
    assert_int_equal(outbox_schemas_load_dir(dir, &schemas, err, sizeof(err)),
                     OUTBOX_AVRO_ERR_SCHEMA);
    assert_contains(err, "Two.avsc: event type b.Same clashes with a.Same from ");
    assert_contains(err, "One.avsc");
    rm_dir(dir, names, 2);
}

static void test_load_dir_rejects_non_record_schema(void **state)
{
    const char *names[] = {"Plain.avsc"};
    const char *contents[] = {"\"string\""};
    outbox_schemas *schemas = NULL;
    char dir[64];
    char err[512] = "";

    (void)state;
    make_dir(dir, sizeof(dir), names, contents, 1);
    assert_int_equal(outbox_schemas_load_dir(dir, &schemas, err, sizeof(err)),
                     OUTBOX_AVRO_ERR_SCHEMA);
    assert_contains(err, "Plain.avsc: top-level type is string; an event schema must be a record");
    rm_dir(dir, names, 1);
}

static void test_load_dir_of_missing_directory_is_io_error(void **state)
{
    outbox_schemas *schemas = NULL;
    char err[512] = "";

    (void)state;
    assert_int_equal(outbox_schemas_load_dir("/nonexistent/schemas", &schemas, err, sizeof(err)),
                     OUTBOX_AVRO_ERR_IO);
    assert_contains(err, "/nonexistent/schemas");
    assert_false(outbox_avro_err_is_permanent(OUTBOX_AVRO_ERR_IO));
    assert_true(outbox_avro_err_is_permanent(OUTBOX_AVRO_ERR_MISMATCH));
}

static void test_schemas_add_keeps_ownership_on_failure(void **state)
{
    outbox_schemas *schemas = outbox_schemas_new();
    outbox_schema *first = parse_ok("{\"type\":\"record\",\"name\":\"E\",\"fields\":[]}", 0);
    outbox_schema *again = parse_ok("{\"type\":\"record\",\"name\":\"E\",\"fields\":[]}", 0);
    char err[512] = "";

    (void)state;
    assert_non_null(schemas);
    assert_int_equal(outbox_schemas_add(schemas, first, NULL, err, sizeof(err)), 0);
    first = NULL; /* owned by schemas */
    assert_int_equal(outbox_schemas_add(schemas, again, "again", err, sizeof(err)),
                     OUTBOX_AVRO_ERR_SCHEMA);
    outbox_schema_destroy(again); /* still ours */
    assert_int_equal(outbox_schemas_count(schemas), 1);
    outbox_schemas_destroy(schemas);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical_form_matches_spec_vectors),
        cmocka_unit_test(test_fingerprint_matches_spec_vectors),
        cmocka_unit_test(test_a_schema_avro_c_refuses_is_refused_with_its_message),
        cmocka_unit_test(test_crc64_of_empty_input_is_the_spec_constant),
        cmocka_unit_test(test_schema_fingerprints_match_independent_python),
        cmocka_unit_test(test_load_dir_loads_every_blog_schema),
        cmocka_unit_test(test_find_by_short_or_full_name),
        cmocka_unit_test(test_find_by_fingerprint),
        cmocka_unit_test(test_schema_keeps_original_json_text),
        cmocka_unit_test(test_canonical_form_strips_logical_types_and_defaults),
        cmocka_unit_test(test_canonical_form_spells_a_named_type_once),
        cmocka_unit_test(test_logical_types_compile_onto_their_base_types),
        cmocka_unit_test(test_recursive_schema_compiles),
        cmocka_unit_test(test_parse_rejects_invalid_json),
        cmocka_unit_test(test_parse_rejects_unknown_type_naming_the_field),
        cmocka_unit_test(test_parse_rejects_invalid_names),
        cmocka_unit_test(test_parse_rejects_duplicates),
        cmocka_unit_test(test_parse_rejects_bad_unions),
        cmocka_unit_test(test_parse_rejects_default_that_does_not_fit),
        cmocka_unit_test(test_parse_checks_union_default_against_first_branch),
        cmocka_unit_test(test_lax_defaults_make_the_field_required),
        cmocka_unit_test(test_parse_rejects_decimal_precision_above_limit),
        cmocka_unit_test(test_load_dir_error_names_the_file_and_problem),
        cmocka_unit_test(test_load_dir_rejects_ambiguous_event_types),
        cmocka_unit_test(test_load_dir_rejects_non_record_schema),
        cmocka_unit_test(test_load_dir_of_missing_directory_is_io_error),
        cmocka_unit_test(test_schemas_add_keeps_ownership_on_failure),
    };

    return cmocka_run_group_tests_name("avro_schema", tests, NULL, NULL);
}
