/*
 * projector_httpd and lib/http, pure parts: what GET /events/{id}?projection=NAME asks for
 * (projector_httpd_events_parse), and the relay's http.listen "address:port"
 * (outbox_http_listen_parse).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "http.h"
#include "projector_httpd.h"

#define UUID_MIXED "3F2B8C1E-9d4a-4E7B-8C21-5A6F0E9D1B27"
#define UUID_LOWER "3f2b8c1e-9d4a-4e7b-8c21-5a6f0e9d1b27"

static projector_projection projections[3] = {
    {.name = "query"}, {.name = "comments"}, {.name = "counts"}};

static void test_events_id_is_normalised_and_projection_chosen_by_name(void **state)
{
    (void)state;
    char id[PROJECTOR_UUID_LEN + 1];
    size_t index = 99;

    assert_int_equal(
        projector_httpd_events_parse("/events/" UUID_MIXED, "counts", projections, 3, id, &index),
        PROJECTOR_HTTPD_EVENTS_OK);
    assert_string_equal(id, UUID_LOWER);
    assert_int_equal(index, 2);
}

static void test_events_projection_may_be_left_out_only_when_there_is_one(void **state)
{
    (void)state;
    char id[PROJECTOR_UUID_LEN + 1];
    size_t index = 99;

    assert_int_equal(
        projector_httpd_events_parse("/events/" UUID_LOWER, NULL, projections, 1, id, &index),
        PROJECTOR_HTTPD_EVENTS_OK);
    assert_int_equal(index, 0);
    assert_int_equal(
        projector_httpd_events_parse("/events/" UUID_LOWER, NULL, projections, 3, id, &index),
        PROJECTOR_HTTPD_EVENTS_SAY_WHICH);
}

static void test_events_bad_id_unknown_projection_and_other_paths(void **state)
{
    (void)state;
    char id[PROJECTOR_UUID_LEN + 1];
    size_t index = 99;

    assert_int_equal(
        projector_httpd_events_parse("/events/42", "query", projections, 3, id, &index),
        PROJECTOR_HTTPD_EVENTS_BAD_ID);
    assert_int_equal(projector_httpd_events_parse("/events/" UUID_LOWER "/x", "query", projections,
                                                  3, id, &index),
                     PROJECTOR_HTTPD_EVENTS_BAD_ID);
    assert_int_equal(
        projector_httpd_events_parse("/events/" UUID_LOWER, "Query", projections, 3, id, &index),
        PROJECTOR_HTTPD_EVENTS_NO_PROJECTION);
    assert_int_equal(
        projector_httpd_events_parse("/event/" UUID_LOWER, "query", projections, 3, id, &index),
        PROJECTOR_HTTPD_EVENTS_NOT_EVENTS);
    assert_int_equal(projector_httpd_events_parse("/", NULL, projections, 1, id, &index),
                     PROJECTOR_HTTPD_EVENTS_NOT_EVENTS);
}

static void test_listen_splits_at_the_last_colon(void **state)
{
    (void)state;
    char host[16];
    uint16_t port = 0;

    assert_int_equal(outbox_http_listen_parse("127.0.0.1:9187", host, sizeof host, &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 9187);
    assert_int_equal(outbox_http_listen_parse("::1:0", host, sizeof host, &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 0);
}

static void test_listen_rejects_bad_ports_and_long_hosts(void **state)
{
    (void)state;
    static const char *const bad[] = {"127.0.0.1",    "127.0.0.1:",    "127.0.0.1:65536",
                                      "127.0.0.1:-1", "127.0.0.1:80x", "1234567890123456:1"};
    char host[16];
    uint16_t port = 0;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (outbox_http_listen_parse(bad[i], host, sizeof host, &port) != -1)
            fail_msg("'%s' was accepted", bad[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events_id_is_normalised_and_projection_chosen_by_name),
        cmocka_unit_test(test_events_projection_may_be_left_out_only_when_there_is_one),
        cmocka_unit_test(test_events_bad_id_unknown_projection_and_other_paths),
        cmocka_unit_test(test_listen_splits_at_the_last_colon),
        cmocka_unit_test(test_listen_rejects_bad_ports_and_long_hosts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
