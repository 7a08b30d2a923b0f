/* relay_ack: the confirmable LSN only ever covers fully delivered transactions. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "ack.h"

static uint64_t txn_with(relay_ack *ack, int messages, uint64_t end_lsn)
{
    uint64_t seq = relay_ack_txn_begin(ack);
    assert_int_not_equal(seq, 0);
    for (int i = 0; i < messages; i++)
        assert_int_equal(relay_ack_txn_add(ack, seq, 100), 0);
    assert_int_equal(relay_ack_txn_commit(ack, seq, end_lsn), 0);
    return seq;
}

static void test_nothing_confirmed_before_delivery(void **state)
{
    relay_ack *ack = relay_ack_new(1000);
    txn_with(ack, 3, 2000);
    assert_int_equal(relay_ack_confirmable(ack), 1000);
    assert_int_equal(relay_ack_inflight_messages(ack), 3);
    assert_int_equal(relay_ack_inflight_bytes(ack), 300);
    relay_ack_free(ack);
}

static void test_commit_confirmed_after_every_message_delivered(void **state)
{
    relay_ack *ack = relay_ack_new(1000);
    uint64_t t = txn_with(ack, 2, 2000);
    assert_int_equal(relay_ack_delivered(ack, t, 100), 0);
    assert_int_equal(relay_ack_confirmable(ack), 1000);
    assert_int_equal(relay_ack_delivered(ack, t, 100), 0);
    assert_int_equal(relay_ack_confirmable(ack), 2000);
    assert_int_equal(relay_ack_inflight_bytes(ack), 0);
    assert_int_equal(relay_ack_txns(ack), 0);
    relay_ack_free(ack);
}

static void test_later_txn_delivered_first_waits_for_earlier(void **state)
{
    relay_ack *ack = relay_ack_new(1000);
    uint64_t t1 = txn_with(ack, 1, 2000);
    uint64_t t2 = txn_with(ack, 1, 3000);
    uint64_t t3 = txn_with(ack, 1, 4000);
    assert_int_equal(relay_ack_delivered(ack, t3, 100), 0);
    assert_int_equal(relay_ack_delivered(ack, t2, 100), 0);
    assert_int_equal(relay_ack_confirmable(ack), 1000);
    assert_int_equal(relay_ack_delivered(ack, t1, 100), 0);
    assert_int_equal(relay_ack_confirmable(ack), 4000);
    relay_ack_free(ack);
}

static void test_prefix_stops_at_first_undelivered(void **state)
{
    relay_ack *ack = relay_ack_new(1000);
    uint64_t t1 = txn_with(ack, 1, 2000);
    (void)txn_with(ack, 1, 3000);
    uint64_t t3 = txn_with(ack, 1, 4000);
    assert_int_equal(relay_ack_delivered(ack, t1, 100), 0);
    assert_int_equal(relay_ack_delivered(ack, t3, 100), 0);
    assert_int_equal(relay_ack_confirmable(ack), 2000);
    relay_ack_free(ack);
}

static void test_open_txn_blocks_confirmation(void **state)
{
    relay_ack *ack = relay_ack_new(1000);
    uint64_t t = relay_ack_txn_begin(ack);
    assert_int_equal(relay_ack_txn_add(ack, t, 10), 0);
    assert_int_equal(relay_ack_delivered(ack, t, 10), 0);
    relay_ack_idle(ack, 5000);
    assert_int_equal(relay_ack_confirmable(ack), 1000);
    assert_int_equal(relay_ack_txn_commit(ack, t, 2000), 0);
    assert_int_equal(relay_ack_confirmable(ack), 2000);
    relay_ack_free(ack);
}

static void test_empty_txn_confirmable_at_once(void **state)
{
    relay_ack *ack = relay_ack_new(1000);
    txn_with(ack, 0, 1500);
    assert_int_equal(relay_ack_confirmable(ack), 1500);
    relay_ack_free(ack);
}

static void test_idle_position_confirmed_when_nothing_in_flight(void **state)
{
    relay_ack *ack = relay_ack_new(1000);
    relay_ack_idle(ack, 7000);
    assert_int_equal(relay_ack_confirmable(ack), 7000);
    relay_ack_free(ack);
}

static void test_idle_position_waits_for_in_flight_messages(void **state)
{
    relay_ack *ack = relay_ack_new(1000);
    uint64_t t = txn_with(ack, 1, 2000);
    relay_ack_idle(ack, 7000);
    assert_int_equal(relay_ack_confirmable(ack), 1000);
    assert_int_equal(relay_ack_delivered(ack, t, 100), 0);
    assert_int_equal(relay_ack_confirmable(ack), 7000);
    relay_ack_free(ack);
}

static void test_failure_freezes_confirmation(void **state)
{
    relay_ack *ack = relay_ack_new(1000);
    uint64_t t1 = txn_with(ack, 1, 2000);
    uint64_t t2 = txn_with(ack, 1, 3000);
    assert_int_equal(relay_ack_delivered(ack, t1, 100), 0);
    assert_int_equal(relay_ack_confirmable(ack), 2000);
    relay_ack_fail(ack);
    assert_true(relay_ack_failed(ack));
    assert_int_equal(relay_ack_delivered(ack, t2, 100), 0);
    relay_ack_idle(ack, 9000);
    assert_int_equal(relay_ack_confirmable(ack), 2000);
    relay_ack_free(ack);
}

static void test_unknown_delivery_report_rejected(void **state)
{
    relay_ack *ack = relay_ack_new(1000);
    uint64_t t = txn_with(ack, 1, 2000);
    assert_int_equal(relay_ack_delivered(ack, t, 100), 0);
    assert_int_equal(relay_ack_delivered(ack, t, 100), -1);     /* twice */
    assert_int_equal(relay_ack_delivered(ack, t + 7, 100), -1); /* never begun */
    relay_ack_free(ack);
}

static void test_second_begin_while_open_rejected(void **state)
{
    relay_ack *ack = relay_ack_new(1000);
    assert_int_not_equal(relay_ack_txn_begin(ack), 0);
    assert_int_equal(relay_ack_txn_begin(ack), 0);
    relay_ack_free(ack);
}

static void test_commit_lsn_behind_confirmed_rejected(void **state)
{
    relay_ack *ack = relay_ack_new(5000);
    uint64_t t = relay_ack_txn_begin(ack);
    assert_int_equal(relay_ack_txn_commit(ack, t, 4000), -1);
    relay_ack_free(ack);
}

static void test_many_txns_grow_ring_and_keep_order(void **state)
{
    relay_ack *ack = relay_ack_new(0);
    uint64_t seqs[1000];
    for (int i = 0; i < 1000; i++)
        seqs[i] = txn_with(ack, 2, (uint64_t)(i + 1) * 10);
    /* Deliver in reverse: nothing confirmable until the first one completes. */
    for (int i = 999; i >= 1; i--) {
        assert_int_equal(relay_ack_delivered(ack, seqs[i], 100), 0);
        assert_int_equal(relay_ack_delivered(ack, seqs[i], 100), 0);
    }
    assert_int_equal(relay_ack_confirmable(ack), 0);
    assert_int_equal(relay_ack_delivered(ack, seqs[0], 100), 0);
    assert_int_equal(relay_ack_confirmable(ack), 0);
    assert_int_equal(relay_ack_delivered(ack, seqs[0], 100), 0);
    assert_int_equal(relay_ack_confirmable(ack), 10000);
    assert_int_equal(relay_ack_txns(ack), 0);
    relay_ack_free(ack);
}

static void test_extended_committed_txn_waits_for_the_extra_message(void **state)
{
    relay_ack *ack = relay_ack_new(1000);
    uint64_t t = txn_with(ack, 2, 2000);
    assert_int_equal(relay_ack_delivered(ack, t, 100), 0);
    /* The broker refused the second message: its dead letter joins the transaction before the
     * refusal is accounted for. */
    assert_int_equal(relay_ack_txn_extend(ack, t, 10), 0);
    assert_int_equal(relay_ack_delivered(ack, t, 100), 0);
    assert_int_equal(relay_ack_confirmable(ack), 1000);
    assert_int_equal(relay_ack_inflight_messages(ack), 1);
    assert_int_equal(relay_ack_delivered(ack, t, 10), 0);
    assert_int_equal(relay_ack_confirmable(ack), 2000);
    /* Confirmed (nothing in flight): it cannot be extended any more. */
    assert_int_equal(relay_ack_txn_extend(ack, t, 10), -1);
    relay_ack_free(ack);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_confirmed_before_delivery),
        cmocka_unit_test(test_extended_committed_txn_waits_for_the_extra_message),
        cmocka_unit_test(test_commit_confirmed_after_every_message_delivered),
        cmocka_unit_test(test_later_txn_delivered_first_waits_for_earlier),
        cmocka_unit_test(test_prefix_stops_at_first_undelivered),
        cmocka_unit_test(test_open_txn_blocks_confirmation),
        cmocka_unit_test(test_empty_txn_confirmable_at_once),
        cmocka_unit_test(test_idle_position_confirmed_when_nothing_in_flight),
        cmocka_unit_test(test_idle_position_waits_for_in_flight_messages),
        cmocka_unit_test(test_failure_freezes_confirmation),
        cmocka_unit_test(test_unknown_delivery_report_rejected),
        cmocka_unit_test(test_second_begin_while_open_rejected),
        cmocka_unit_test(test_commit_lsn_behind_confirmed_rejected),
        cmocka_unit_test(test_many_txns_grow_ring_and_keep_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
