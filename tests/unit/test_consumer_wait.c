/* The client side of read-your-writes: NOTIFY payloads (applied and failed kinds, and what
 * `outbox-projector wait` finds in them) and --timeout parsing. Pure. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "projector_pgtext.h"
#include "projector_wait.h"

#define ID1 "0b6a2f3e-8f1c-4c7e-9a51-2d1f0e6a7b01"
#define ID2 "0b6a2f3e-8f1c-4c7e-9a51-2d1f0e6a7b02"
#define ID3 "0b6a2f3e-8f1c-4c7e-9a51-2d1f0e6a7b03"

static void test_applied_payload_is_unchanged_by_the_kind_parameter(void **state)
{
    const char *ids[] = {ID1, ID2};
    outbox_buf a = OUTBOX_BUF_INIT, b = OUTBOX_BUF_INIT;
    assert_int_equal(projector_notify_payload(&a, "posts", ids, 2, 0, PROJECTOR_NOTIFY_MAX), 2);
    assert_int_equal(projector_notify_payload_kind(&b, "posts", PROJECTOR_NOTIFY_APPLIED, ids, 2, 0,
                                                   PROJECTOR_NOTIFY_MAX),
                     2);
    assert_string_equal((char *)a.data, (char *)b.data);
    assert_string_equal((char *)a.data,
                        "{\"projection\":\"posts\",\"events\":[\"" ID1 "\",\"" ID2 "\"]}");
    outbox_buf_free(&a);
    outbox_buf_free(&b);
}

static void test_failed_payload_lists_ids_under_failed_with_empty_events(void **state)
{
    const char *ids[] = {ID3};
    outbox_buf buf = OUTBOX_BUF_INIT;
    assert_int_equal(projector_notify_payload_kind(&buf, "posts", PROJECTOR_NOTIFY_FAILED, ids, 1,
                                                   0, PROJECTOR_NOTIFY_MAX),
                     1);
    assert_string_equal((char *)buf.data,
                        "{\"projection\":\"posts\",\"events\":[],\"failed\":[\"" ID3 "\"]}");
    assert_true(buf.len == strlen((char *)buf.data));
    outbox_buf_free(&buf);
}

static void test_failed_payloads_stay_under_the_limit(void **state)
{
    enum { N = 600 };
    char ids[N][37];
    const char *ptrs[N];
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "00000000-0000-4000-8000-%012d", i);
        ptrs[i] = ids[i];
    }
    outbox_buf buf = OUTBOX_BUF_INIT;
    size_t at = 0;
    while (at < N) {
        long took = projector_notify_payload_kind(&buf, "p", PROJECTOR_NOTIFY_FAILED, ptrs, N, at,
                                                  PROJECTOR_NOTIFY_MAX);
        assert_true(took > 0);
        assert_true(buf.len <= PROJECTOR_NOTIFY_MAX);
        assert_int_equal(projector_notify_find((char *)buf.data, "p", ids[at]),
                         PROJECTOR_NOTIFY_HAS_FAILED);
        at += (size_t)took;
    }
    outbox_buf_free(&buf);
}

static void test_find_tells_applied_failed_and_absent(void **state)
{
    const char *applied = "{\"projection\":\"posts\",\"events\":[\"" ID1 "\",\"" ID2 "\"]}";
    const char *failed = "{\"projection\":\"posts\",\"events\":[],\"failed\":[\"" ID3 "\"]}";
    assert_int_equal(projector_notify_find(applied, "posts", ID2), PROJECTOR_NOTIFY_HAS_APPLIED);
    assert_int_equal(projector_notify_find(applied, "posts", ID3), PROJECTOR_NOTIFY_NONE);
    assert_int_equal(projector_notify_find(failed, "posts", ID3), PROJECTOR_NOTIFY_HAS_FAILED);
    assert_int_equal(projector_notify_find(failed, "posts", ID1), PROJECTOR_NOTIFY_NONE);
}

static void test_find_ignores_other_projections(void **state)
{
    const char *applied = "{\"projection\":\"comments\",\"events\":[\"" ID1 "\"]}";
    assert_int_equal(projector_notify_find(applied, "posts", ID1), PROJECTOR_NOTIFY_NONE);
}

static void test_find_rejects_what_the_projector_never_sends(void **state)
{
    const char *bad[] = {NULL,
                         "",
                         "not json",
                         "[]",
                         "{\"events\":[]}",
                         "{\"projection\":\"posts\"}",
                         "{\"projection\":\"posts\",\"events\":{}}",
                         "{\"projection\":\"posts\",\"events\":[],\"failed\":\"x\"}",
                         "{\"projection\":7,\"events\":[]}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(projector_notify_find(bad[i], "posts", ID1), PROJECTOR_NOTIFY_MALFORMED);
}

static void test_find_skips_non_string_elements(void **state)
{
    const char *mixed = "{\"projection\":\"posts\",\"events\":[1,null,\"" ID1 "\"]}";
    assert_int_equal(projector_notify_find(mixed, "posts", ID1), PROJECTOR_NOTIFY_HAS_APPLIED);
}

static void test_timeout_units(void **state)
{
    int64_t ms = -1;
    assert_int_equal(projector_wait_timeout_parse("5s", &ms), 0);
    assert_int_equal(ms, 5000);
    assert_int_equal(projector_wait_timeout_parse("250ms", &ms), 0);
    assert_int_equal(ms, 250);
    assert_int_equal(projector_wait_timeout_parse("2m", &ms), 0);
    assert_int_equal(ms, 120000);
    assert_int_equal(projector_wait_timeout_parse("1h", &ms), 0);
    assert_int_equal(ms, 3600000);
    assert_int_equal(projector_wait_timeout_parse("7", &ms), 0);
    assert_int_equal(ms, 7000);
    assert_int_equal(projector_wait_timeout_parse("0", &ms), 0);
    assert_int_equal(ms, 0);
}

static void test_timeout_rejects_garbage_and_huge_values(void **state)
{
    int64_t ms = 42;
    const char *bad[] = {
        NULL, "", "s", "-1s", "5 s", "5sec", "1.5s", "25h", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(projector_wait_timeout_parse(bad[i], &ms), -1);
    assert_int_equal(ms, 42);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_applied_payload_is_unchanged_by_the_kind_parameter),
        cmocka_unit_test(test_failed_payload_lists_ids_under_failed_with_empty_events),
        cmocka_unit_test(test_failed_payloads_stay_under_the_limit),
        cmocka_unit_test(test_find_tells_applied_failed_and_absent),
        cmocka_unit_test(test_find_ignores_other_projections),
        cmocka_unit_test(test_find_rejects_what_the_projector_never_sends),
        cmocka_unit_test(test_find_skips_non_string_elements),
        cmocka_unit_test(test_timeout_units),
        cmocka_unit_test(test_timeout_rejects_garbage_and_huge_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
