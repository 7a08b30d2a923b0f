/* lib/pg_connect: the connection parameters libpq ends up with, read back with PQconninfo()
 * from connections started to a closed port (127.0.0.1:1), so no server is needed: the user's
 * conninfo (key=value or a postgresql:// URI) wins over the helper's defaults, the defaults
 * apply where it says nothing, and replication=database cannot be turned off by it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_connect.h"

/* Nothing listens on port 1: every connection below fails, its options stay readable. */
#define CLOSED "host=127.0.0.1 port=1"
#define CLOSED_URI "postgresql://127.0.0.1:1/blog"

/* The effective value of `keyword` on conn ("" when unset), into out. */
static const char *option(PGconn *conn, const char *keyword, char *out, size_t size)
{
    PQconninfoOption *opts = PQconninfo(conn);
    assert_non_null(opts);
    out[0] = '\0';
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (strcmp(o->keyword, keyword) == 0 && o->val)
            snprintf(out, size, "%s", o->val);
    PQconninfoFree(opts);
    return out;
}

/* Start a connection (non-blocking) with params and check one option's effective value. */
static void assert_started_option(const outbox_pg_params *params, const char *keyword,
                                  const char *expected)
{
    char value[256];
    PGconn *conn = outbox_pg_connect_start(params);
    assert_non_null(conn);
    assert_string_equal(option(conn, keyword, value, sizeof value), expected);
    PQfinish(conn);
}

static void test_user_connect_timeout_wins(void **state)
{
    (void)state;
    outbox_pg_params params = {.conninfo = CLOSED " connect_timeout=17 application_name=x",
                               .application_name = "outbox-test",
                               .connect_timeout_s = 5};
    assert_started_option(&params, "connect_timeout", "17");
    assert_started_option(&params, "application_name", "x");
    assert_started_option(&params, "fallback_application_name", "outbox-test");
    assert_started_option(&params, "host", "127.0.0.1");
    assert_started_option(&params, "port", "1");
}

static void test_default_connect_timeout_applies(void **state)
{
    (void)state;
    outbox_pg_params params = {
        .conninfo = CLOSED, .application_name = "outbox-test", .connect_timeout_s = 5};
    assert_started_option(&params, "connect_timeout", "5");
    assert_started_option(&params, "application_name", "");
    assert_started_option(&params, "fallback_application_name", "outbox-test");
}

static void test_no_default_connect_timeout(void **state)
{
    (void)state;
    outbox_pg_params params = {.conninfo = CLOSED, .application_name = NULL};
    assert_started_option(&params, "connect_timeout", "");
    assert_started_option(&params, "fallback_application_name", "");
}

static void test_uri_conninfo(void **state)
{
    (void)state;
    outbox_pg_params params = {.conninfo = CLOSED_URI "?connect_timeout=17&application_name=x",
                               .application_name = "outbox-test",
                               .connect_timeout_s = 5};
    assert_started_option(&params, "connect_timeout", "17");
    assert_started_option(&params, "application_name", "x");
    assert_started_option(&params, "fallback_application_name", "outbox-test");
    assert_started_option(&params, "dbname", "blog");
    assert_started_option(&params, "port", "1");
    params.conninfo = CLOSED_URI;
    assert_started_option(&params, "connect_timeout", "5");
    assert_started_option(&params, "dbname", "blog");
}

static void test_replication_is_forced(void **state)
{
    (void)state;
    outbox_pg_params params = {.conninfo = CLOSED " replication=false connect_timeout=17",
                               .application_name = "outbox-relay",
                               .connect_timeout_s = 10,
                               .replication = "database"};
    assert_started_option(&params, "replication", "database");
    assert_started_option(&params, "connect_timeout", "17");
}

static void test_blocking_connect_fails_with_reason(void **state)
{
    (void)state;
    char err[2048], value[64];
    PGconn *conn = NULL;
    outbox_pg_params params = {.conninfo = CLOSED " connect_timeout=17",
                               .application_name = "outbox-test",
                               .connect_timeout_s = 5};
    assert_int_equal(outbox_pg_connect(&params, &conn, err, sizeof err),
                     OUTBOX_PG_CONNECT_ERR_FAILED);
    assert_non_null(conn); /* the failed connection stays readable */
    assert_string_equal(option(conn, "connect_timeout", value, sizeof value), "17");
    assert_non_null(strstr(err, "127.0.0.1"));
    assert_null(strchr(err, '\n'));
    PQfinish(conn);

    conn = NULL;
    params.conninfo = CLOSED " sslmode=require";
    assert_int_equal(outbox_pg_connect(&params, &conn, err, sizeof err), OUTBOX_PG_CONNECT_ERR_TLS);
    assert_non_null(strstr(err, "sslmode=require"));
    assert_string_equal(option(conn, "connect_timeout", value, sizeof value), "5");
    PQfinish(conn);
}

static void test_ping_closed_port(void **state)
{
    (void)state;
    outbox_pg_params params = {.conninfo = CLOSED, .connect_timeout_s = 5};
    assert_int_equal(outbox_pg_ping(&params), PQPING_NO_RESPONSE);
    params.conninfo = "host='unterminated"; /* libpq cannot parse it */
    assert_int_equal(outbox_pg_ping(&params), PQPING_NO_ATTEMPT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_user_connect_timeout_wins),
        cmocka_unit_test(test_default_connect_timeout_applies),
        cmocka_unit_test(test_no_default_connect_timeout),
        cmocka_unit_test(test_uri_conninfo),
        cmocka_unit_test(test_replication_is_forced),
        cmocka_unit_test(test_blocking_connect_fails_with_reason),
        cmocka_unit_test(test_ping_closed_port),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
