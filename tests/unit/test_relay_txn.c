/* relay.exactly-once, its pure parts: the state record's bytes (relay/txnstate.h), the decision
 * to skip a PostgreSQL transaction Kafka already has, the settings' derived defaults, and the
 * confirmable LSN that never goes backwards. The engine itself runs against a real broker in
 * tests/integration/test_relay_exactly_once.sh (the mock cluster has no transaction markers). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "settings.h"
#include "txn.h"
#include "txnstate.h"

/* 0/102A3B4C5 -> version 1, big-endian LSN. */
static const uint8_t STATE_V1[RELAY_TXNSTATE_SIZE] = {0x01, 0x00, 0x00, 0x00, 0x01,
                                                      0x02, 0xA3, 0xB4, 0xC5};

static void test_state_record_encodes_version_and_big_endian_lsn(void **state)
{
    uint8_t out[RELAY_TXNSTATE_SIZE];
    relay_txnstate_encode(0x102A3B4C5ull, out);
    assert_memory_equal(out, STATE_V1, sizeof(out));
    relay_txnstate_encode(0, out);
    const uint8_t zero[RELAY_TXNSTATE_SIZE] = {0x01};
    assert_memory_equal(out, zero, sizeof(out));
}

static void test_state_record_decodes_fixture_and_round_trips(void **state)
{
    char err[256];
    uint64_t lsn = 0;
    assert_int_equal(relay_txnstate_decode(STATE_V1, sizeof(STATE_V1), &lsn, err, sizeof(err)),
                     RELAY_TXNSTATE_OK);
    assert_true(lsn == 0x102A3B4C5ull);
    uint8_t buf[RELAY_TXNSTATE_SIZE];
    const uint64_t values[] = {0, 1, 0xFFull << 56, UINT64_MAX, 0x16B3748};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        relay_txnstate_encode(values[i], buf);
        assert_int_equal(relay_txnstate_decode(buf, sizeof(buf), &lsn, err, sizeof(err)), 0);
        assert_true(lsn == values[i]);
    }
}

static void test_state_record_rejects_empty_other_version_and_bad_length(void **state)
{
    char err[256];
    uint64_t lsn = 42;
    assert_int_equal(relay_txnstate_decode(NULL, 0, &lsn, err, sizeof(err)),
                     RELAY_TXNSTATE_ERR_FORMAT);
    assert_non_null(strstr(err, "empty"));
    const uint8_t v2[RELAY_TXNSTATE_SIZE] = {0x02, 0, 0, 0, 0, 0, 0, 0, 1};
    assert_int_equal(relay_txnstate_decode(v2, sizeof(v2), &lsn, err, sizeof(err)),
                     RELAY_TXNSTATE_ERR_FORMAT);
    assert_non_null(strstr(err, "version 2"));
    assert_int_equal(relay_txnstate_decode(STATE_V1, 8, &lsn, err, sizeof(err)),
                     RELAY_TXNSTATE_ERR_FORMAT);
    assert_non_null(strstr(err, "8 bytes"));
    const uint8_t longer[10] = {0x01, 0, 0, 0, 0, 0, 0, 0, 1, 0};
    assert_int_equal(relay_txnstate_decode(longer, sizeof(longer), &lsn, err, sizeof(err)),
                     RELAY_TXNSTATE_ERR_FORMAT);
    assert_int_equal(lsn, 42); /* untouched on failure */
}

/* Three transactions as the walsender reports them: (commit record start, end). Kafka's state
 * holds the end of the second: the first two are skipped, the third is published. */
static void test_skip_exactly_the_transactions_ending_at_or_before_kafka_lsn(void **state)
{
    const struct {
        uint64_t commit_lsn, end_lsn;
    } txns[] = {{0x1000, 0x1030}, {0x1100, 0x1130}, {0x1130, 0x1160}};
    uint64_t kafka = txns[1].end_lsn;
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(relay_txn_skip(kafka, txns[i].commit_lsn), txns[i].end_lsn <= kafka);
    assert_false(relay_txn_skip(0, 0));      /* no state: nothing skipped */
    assert_false(relay_txn_skip(0, 0x1000)); /* no state: nothing skipped */
    assert_true(relay_txn_skip(0x2000, 0x1FFF));
    assert_false(relay_txn_skip(0x2000, 0x2000)); /* starts where Kafka's last one ended */
    assert_false(relay_txn_skip(0x2000, 0x2001));
}

struct loaded {
    relay_settings s;
    outbox_conf *conf;
    char err[512];
    int rc;
};

static void load(struct loaded *l, const char *const *sets, size_t n)
{
    memset(l, 0, sizeof(*l));
    l->rc = relay_settings_load(&l->s, NULL, sets, n, &l->conf, l->err, sizeof(l->err));
}

static void unload(struct loaded *l)
{
    if (l->rc == 0) {
        relay_settings_free(&l->s);
        outbox_conf_destroy(l->conf);
    }
}

static void test_defaults_off_and_derived_from_the_slot(void **state)
{
    const char *sets[] = {"postgres.conninfo=host=x", "kafka.bootstrap.servers=x:1",
                          "postgres.slot=orders"};
    struct loaded l;
    load(&l, sets, 3);
    assert_int_equal(l.rc, 0);
    assert_false(l.s.exactly_once);
    assert_int_equal(l.s.txn_max_messages, 10000);
    assert_int_equal(l.s.txn_max_time_ms, 100);
    char buf[300];
    relay_txn_id(&l.s, buf, sizeof(buf));
    assert_string_equal(buf, "outbox-relay.orders");
    relay_txn_state_topic(&l.s, buf, sizeof(buf));
    assert_string_equal(buf, "orders.outbox-relay-state");
    relay_txn *t = (relay_txn *)&l; /* must be replaced */
    relay_txn_stats stats = {0};
    assert_int_equal(relay_txn_new(&l.s, l.conf, NULL, &stats, &t, l.err, sizeof(l.err)), 0);
    assert_null(t); /* off: no engine, every hook a no-op */
    assert_int_equal(relay_txn_cap(NULL, 1234), 1234);
    assert_false(relay_txn_skip_begin(NULL, 1));
    unload(&l);
}

static void test_explicit_id_and_topic(void **state)
{
    const char *sets[] = {"postgres.conninfo=host=x",    "kafka.bootstrap.servers=x:1",
                          "relay.exactly-once=on",       "relay.transactional-id=relay-a",
                          "relay.state-topic=ops.state", "relay.txn-max-time=2s"};
    struct loaded l;
    load(&l, sets, 6);
    assert_int_equal(l.rc, 0);
    assert_true(l.s.exactly_once);
    assert_int_equal(l.s.txn_max_time_ms, 2000);
    char buf[300];
    relay_txn_id(&l.s, buf, sizeof(buf));
    assert_string_equal(buf, "relay-a");
    relay_txn_state_topic(&l.s, buf, sizeof(buf));
    assert_string_equal(buf, "ops.state");
    unload(&l);
}

static void test_kafka_transactional_id_refused(void **state)
{
    const char *sets[] = {"postgres.conninfo=host=x", "kafka.bootstrap.servers=x:1",
                          "kafka.transactional.id=t"};
    struct loaded l;
    load(&l, sets, 3);
    assert_int_equal(l.rc, -1);
    assert_non_null(strstr(l.err, "relay.transactional-id"));
    unload(&l);
}

/* No group open: the ack tracker's value passes, and what was returned never goes back. */
static void test_cap_never_decreases(void **state)
{
    const char *sets[] = {"postgres.conninfo=host=x", "kafka.bootstrap.servers=x:1",
                          "relay.exactly-once=on"};
    struct loaded l;
    load(&l, sets, 3);
    assert_int_equal(l.rc, 0);
    relay_txn *t = NULL;
    relay_txn_stats stats = {0};
    assert_int_equal(relay_txn_new(&l.s, l.conf, NULL, &stats, &t, l.err, sizeof(l.err)), 0);
    assert_non_null(t);
    assert_int_equal(relay_txn_cap(t, 100), 100);
    assert_int_equal(relay_txn_cap(t, 300), 300);
    assert_int_equal(relay_txn_cap(t, 200), 300);
    assert_false(relay_txn_due(t)); /* nothing open */
    relay_txn_free(t);
    unload(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_record_encodes_version_and_big_endian_lsn),
        cmocka_unit_test(test_state_record_decodes_fixture_and_round_trips),
        cmocka_unit_test(test_state_record_rejects_empty_other_version_and_bad_length),
        cmocka_unit_test(test_skip_exactly_the_transactions_ending_at_or_before_kafka_lsn),
        cmocka_unit_test(test_defaults_off_and_derived_from_the_slot),
        cmocka_unit_test(test_explicit_id_and_topic),
        cmocka_unit_test(test_kafka_transactional_id_refused),
        cmocka_unit_test(test_cap_never_decreases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
