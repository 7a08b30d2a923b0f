/* relay_prune: how a failed DELETE is classified, and which rows it lists: only committed
 * transactions' rows, none of a transaction cut off by a new stream, and none given up while the
 * database cannot be reached. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "prune.h"

static void test_sqlstates_are_classified_by_code(void **state)
{
    (void)state;
    assert_int_equal(relay_prune_classify("42501"), RELAY_PRUNE_ERR_PRIVILEGE);
    assert_int_equal(relay_prune_classify("08006"), RELAY_PRUNE_ERR_TRANSIENT);
    assert_int_equal(relay_prune_classify("40P01"), RELAY_PRUNE_ERR_TRANSIENT);
    assert_int_equal(relay_prune_classify("57014"), RELAY_PRUNE_ERR_TRANSIENT);
    assert_int_equal(relay_prune_classify("57P01"), RELAY_PRUNE_ERR_TRANSIENT);
    assert_int_equal(relay_prune_classify("53300"), RELAY_PRUNE_ERR_TRANSIENT);
    assert_int_equal(relay_prune_classify("55P03"), RELAY_PRUNE_ERR_TRANSIENT);
    assert_int_equal(relay_prune_classify(NULL), RELAY_PRUNE_ERR_TRANSIENT);
    assert_int_equal(relay_prune_classify("42P01"), RELAY_PRUNE_ERR_OTHER);
    assert_int_equal(relay_prune_classify("42703"), RELAY_PRUNE_ERR_OTHER);
    assert_int_equal(relay_prune_classify("22P02"), RELAY_PRUNE_ERR_OTHER);
}

static int64_t load(_Atomic int64_t *v)
{
    return atomic_load(v);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_only_committed_rows_are_listed_and_kept_until_deleted(void **state)
{
    (void)state;
    relay_prune_stats stats;
    memset(&stats, 0, sizeof(stats));
    relay_prune_table t = {"public", "outbox", "id"};
    /* A server that is not there: every DELETE attempt is a connection failure (transient). */
    relay_prune_config cfg = {.conninfo = "host=127.0.0.1 port=1 connect_timeout=1",
                              .tables = &t,
                              .ntables = 1,
                              .batch = 2,
                              .interval_ms = 10,
                              .stats = &stats};
    char err[256];
    relay_prune *p = relay_prune_start(&cfg, err, sizeof(err));
    assert_non_null(p);

    relay_prune_note(p, 0, "a");
    relay_prune_note(p, 0, "b");
    relay_prune_restart(p); /* the stream broke inside that transaction: it comes again */
    relay_prune_commit(p, 100);
    assert_int_equal(load(&stats.pending), 0);

    relay_prune_note(p, 0, "a");
    relay_prune_note(p, 0, "b");
    relay_prune_note(p, 7, "not a table"); /* no such table: ignored */
    relay_prune_note(p, -1, "a message");  /* no row */
    relay_prune_commit(p, 100);
    relay_prune_note(p, 0, "c");
    relay_prune_commit(p, 200);
    assert_int_equal(load(&stats.pending), 3);

    /* Nothing confirmed: nothing is tried. */
    sleep_ms(100);
    assert_int_equal(atomic_load(&stats.errors_transient), 0);

    /* Confirmed: the thread tries, cannot connect, and keeps every row listed. */
    relay_prune_confirmed(p, 150);
    for (int i = 0; i < 500 && atomic_load(&stats.errors_transient) == 0; i++)
        sleep_ms(10);
    assert_true(atomic_load(&stats.errors_transient) >= 1);
    assert_int_equal(load(&stats.pending), 3);
    assert_int_equal(atomic_load(&stats.rows), 0);
    assert_int_equal(atomic_load(&stats.skipped), 0);
    relay_prune_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sqlstates_are_classified_by_code),
        cmocka_unit_test(test_only_committed_rows_are_listed_and_kept_until_deleted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
