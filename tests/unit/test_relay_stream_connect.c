/*
 * Unit tests of the relay's reading of a failed replication connection (relay_stream_connect_*):
 * the cause comes from lib/pg_connect's classifier (its own tests: test_pg_connect_failure.c);
 * the relay maps a refusal to RELAY_STREAM_ERR_REFUSED, everything else to RETRIABLE, and words
 * the fix of a refusal for a replication connection (REPLICATION, max_wal_senders).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libpq-fe.h>
#include <stdbool.h>
#include <string.h>

#include "stream.h"

static void test_refused_causes_are_refused_others_retried(void **state)
{
    (void)state;
    static const struct {
        outbox_pg_connect_cause cause;
        int result;
    } cases[] = {
        {OUTBOX_PG_CAUSE_NETWORK, RELAY_STREAM_ERR_RETRIABLE},
        {OUTBOX_PG_CAUSE_TLS, RELAY_STREAM_ERR_RETRIABLE},
        {OUTBOX_PG_CAUSE_NO_PASSWORD, RELAY_STREAM_ERR_REFUSED},
        {OUTBOX_PG_CAUSE_AUTH, RELAY_STREAM_ERR_REFUSED},
        {OUTBOX_PG_CAUSE_NOT_NOW, RELAY_STREAM_ERR_RETRIABLE},
        {OUTBOX_PG_CAUSE_REFUSED, RELAY_STREAM_ERR_REFUSED},
        {OUTBOX_PG_CAUSE_TARGET, RELAY_STREAM_ERR_RETRIABLE},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(relay_stream_connect_cause_result(cases[i].cause), cases[i].result);
}

/* A refusal's fix names what a replication connection needs; the other causes' fixes are the
 * shared ones. */
static void test_relay_fix_names_replication(void **state)
{
    (void)state;
    const char *refused = relay_stream_connect_cause_fix(OUTBOX_PG_CAUSE_REFUSED);
    assert_non_null(strstr(refused, "pg_hba.conf"));
    assert_non_null(strstr(refused, "`replication` line"));
    assert_non_null(strstr(refused, "max_wal_senders"));
    assert_non_null(strstr(relay_stream_connect_cause_fix(OUTBOX_PG_CAUSE_AUTH), "REPLICATION"));
    for (int c = OUTBOX_PG_CAUSE_NETWORK; c <= OUTBOX_PG_CAUSE_TARGET; c++) {
        if (c == OUTBOX_PG_CAUSE_REFUSED || c == OUTBOX_PG_CAUSE_AUTH)
            continue;
        assert_string_equal(relay_stream_connect_cause_fix((outbox_pg_connect_cause)c),
                            outbox_pg_connect_cause_fix((outbox_pg_connect_cause)c));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refused_causes_are_refused_others_retried),
        cmocka_unit_test(test_relay_fix_names_replication),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
