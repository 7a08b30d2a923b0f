/* Compatibility levels on the evolution of CommentCreated (tests/fixtures/evolution): what is
 * accepted, what is refused, and the message naming the rule and the field. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "avro_fixtures.h"

#include "avro_compat.h"

#define EVOLUTION FIXTURE_DIR "/evolution"

struct reports {
    size_t n;
    size_t version[8];
    char message[8][800];
};

static void collect(void *opaque, size_t version, const char *message)
{
    struct reports *r = opaque;
    assert_true(r->n < 8);
    r->version[r->n] = version;
    snprintf(r->message[r->n], sizeof r->message[0], "%s", message);
    r->n++;
}

static int check(const char *candidate, const char *const *previous, size_t n,
                 outbox_compat_level level, struct reports *r)
{
    outbox_schema *cand = schema_file(candidate);
    outbox_schema *prev[4];
    memset(r, 0, sizeof *r);
    for (size_t i = 0; i < n; i++)
        prev[i] = schema_file(previous[i]);
    int found = outbox_compat_check(cand, (const outbox_schema *const *)prev, n, level, collect, r);
    assert_int_equal((size_t)found, r->n);
    for (size_t i = 0; i < n; i++)
        outbox_schema_destroy(prev[i]);
    outbox_schema_destroy(cand);
    return found;
}

static const char *const v1[] = {SCHEMA_DIR "/CommentCreated.avsc"};
static const char *const v1_v2[] = {SCHEMA_DIR "/CommentCreated.avsc",
                                    EVOLUTION "/v2/CommentCreated.avsc"};
static const char *const v3[] = {EVOLUTION "/v3/CommentCreated.avsc"};

static void test_levels_parse_by_name(void **state)
{
    (void)state;
    outbox_compat_level level;
    assert_int_equal(outbox_compat_level_parse("full_transitive", &level), 0);
    assert_int_equal(level, OUTBOX_COMPAT_FULL_TRANSITIVE);
    assert_string_equal(outbox_compat_level_name(OUTBOX_COMPAT_FORWARD), "FORWARD");
    assert_int_equal(outbox_compat_level_parse("SIDEWAYS", &level), -1);
}

static void test_defaults_added_are_fully_compatible(void **state)
{
    (void)state;
    struct reports r;
    assert_int_equal(check(EVOLUTION "/v2/CommentCreated.avsc", v1, 1, OUTBOX_COMPAT_FULL, &r), 0);
}

static void test_removal_widening_and_new_symbol_are_backward_compatible(void **state)
{
    (void)state;
    struct reports r;
    assert_int_equal(
        check(EVOLUTION "/v3/CommentCreated.avsc", v1_v2, 2, OUTBOX_COMPAT_BACKWARD_TRANSITIVE, &r),
        0);
}

static void test_field_added_without_default_is_refused_under_backward(void **state)
{
    (void)state;
    struct reports r;
    assert_int_equal(
        check(EVOLUTION "/refused_backward/CommentCreated.avsc", v3, 1, OUTBOX_COMPAT_BACKWARD, &r),
        1);
    assert_int_equal(r.version[0], 0);
    assert_string_equal(r.message[0],
                        "BACKWARD: the new schema cannot read data written with this version: "
                        "CommentCreated.mood: reader field (string) has no default and the "
                        "writer's blog.events.CommentCreated has no such field");
    /* FORWARD does not mind: old readers skip the new field */
    assert_int_equal(
        check(EVOLUTION "/refused_backward/CommentCreated.avsc", v3, 1, OUTBOX_COMPAT_FORWARD, &r),
        0);
}

static void test_field_without_default_removed_is_refused_under_forward(void **state)
{
    (void)state;
    struct reports r;
    assert_int_equal(
        check(EVOLUTION "/refused_forward/CommentCreated.avsc", v3, 1, OUTBOX_COMPAT_FORWARD, &r),
        1);
    assert_string_equal(r.message[0],
                        "FORWARD: readers of this version cannot read data written with the new "
                        "schema: CommentCreated.author_id: reader field (string) has no default "
                        "and the writer's blog.events.CommentCreated has no such field");
    assert_int_equal(
        check(EVOLUTION "/refused_forward/CommentCreated.avsc", v3, 1, OUTBOX_COMPAT_BACKWARD, &r),
        0);
}

static void test_transitive_checks_every_version_and_reports_every_field(void **state)
{
    (void)state;
    struct reports r;
    /* v1 readers lack author_name; v2 readers too, and cannot narrow revision back to int
     * (MEMBERS is fine: v2's enum has a default) */
    assert_int_equal(
        check(EVOLUTION "/v3/CommentCreated.avsc", v1_v2, 2, OUTBOX_COMPAT_FORWARD_TRANSITIVE, &r),
        3);
    assert_int_equal(r.version[0], 0);
    assert_int_equal(r.version[1], 1);
    assert_int_equal(r.version[2], 1);
    assert_non_null(strstr(r.message[0], "CommentCreated.author_name: reader field (string)"));
    assert_non_null(strstr(r.message[1], "CommentCreated.author_name: reader field (string)"));
    assert_string_equal(r.message[2], "FORWARD_TRANSITIVE: readers of this version cannot read "
                                      "data written with the new schema: CommentCreated.revision: "
                                      "writer type long cannot be read as int");
    /* not transitive: only the latest (v2) */
    assert_int_equal(check(EVOLUTION "/v3/CommentCreated.avsc", v1_v2, 2, OUTBOX_COMPAT_FULL, &r),
                     2);
    assert_int_equal(r.version[0], 1);
    assert_int_equal(check(EVOLUTION "/v3/CommentCreated.avsc", v1_v2, 2, OUTBOX_COMPAT_NONE, &r),
                     0);
}

static void test_enum_symbol_removed_without_default_is_refused(void **state)
{
    (void)state;
    outbox_schema *old =
        schema_text("{\"type\":\"enum\",\"name\":\"S\",\"symbols\":[\"A\",\"B\"]}");
    outbox_schema *cand = schema_text("{\"type\":\"enum\",\"name\":\"S\",\"symbols\":[\"A\"]}");
    const outbox_schema *prev[] = {old};
    struct reports r = {0};
    assert_int_equal(outbox_compat_check(cand, prev, 1, OUTBOX_COMPAT_BACKWARD, collect, &r), 1);
    assert_string_equal(r.message[0], "BACKWARD: the new schema cannot read data written with this "
                                      "version: (top level): writer symbol 'B' is not in the "
                                      "reader's enum S, which has no default");
    outbox_schema_destroy(old);
    outbox_schema_destroy(cand);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_levels_parse_by_name),
        cmocka_unit_test(test_defaults_added_are_fully_compatible),
        cmocka_unit_test(test_removal_widening_and_new_symbol_are_backward_compatible),
        cmocka_unit_test(test_field_added_without_default_is_refused_under_backward),
        cmocka_unit_test(test_field_without_default_removed_is_refused_under_forward),
        cmocka_unit_test(test_transitive_checks_every_version_and_reports_every_field),
        cmocka_unit_test(test_enum_symbol_removed_without_default_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
