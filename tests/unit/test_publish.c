/* relay_publish on librdkafka's mock cluster: delivery reports carry the transaction's
 * sequence number; a permanent failure is reported, never swallowed. (The mock cluster is for
 * fault injection only; end-to-end behaviour is tested against the real broker.) */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "mock_cluster.h"
#include "publish.h"

struct reports {
    int ok, failed, dead_letters;
    uint64_t seqs[64];
    char last_key[32], last_id[32];
    size_t bytes;
    rd_kafka_resp_err_t last_err;
};

static void on_report(void *ctx, const relay_publish_report *rep)
{
    struct reports *r = ctx;
    const void *id = NULL;
    size_t id_len = 0;
    if (rep->err) {
        r->failed++;
        r->last_err = rep->err;
    } else {
        r->seqs[r->ok++] = rep->seq;
        r->bytes += rep->bytes;
    }
    r->dead_letters += rep->dead_letter;
    snprintf(r->last_key, sizeof(r->last_key), "%.*s", (int)rep->key_len, (const char *)rep->key);
    if (rep->headers)
        (void)rd_kafka_header_get_last(rep->headers, "id", &id, &id_len);
    snprintf(r->last_id, sizeof(r->last_id), "%.*s", (int)id_len, id ? (const char *)id : "");
}

struct fixture {
    rd_kafka_t *mock_rk; /* hosts the mock cluster */
    rd_kafka_mock_cluster_t *mcluster;
    relay_publish *pub;
    struct reports reports;
};

static int setup_with(void **state, const char *timeout_ms)
{
    static struct fixture fx;
    memset(&fx, 0, sizeof(fx));
    char err[512];
    fx.mcluster = mock_cluster_new(&fx.mock_rk);
    assert_int_equal(rd_kafka_mock_topic_create(fx.mcluster, "t", 3, 1), 0);

    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers",
                                       rd_kafka_mock_cluster_bootstraps(fx.mcluster), err,
                                       sizeof(err)),
                     RD_KAFKA_CONF_OK);
    assert_int_equal(rd_kafka_conf_set(conf, "message.timeout.ms", timeout_ms, err, sizeof(err)),
                     RD_KAFKA_CONF_OK);
    rd_kafka_conf_set(conf, "log_level", "0", err, sizeof(err));
    assert_int_equal(relay_publish_new(conf, on_report, &fx.reports, &fx.pub, err, sizeof(err)), 0);
    *state = &fx;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, "30000");
}

static int setup_short_timeout(void **state)
{
    return setup_with(state, "1500");
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    relay_publish_free(fx->pub);
    rd_kafka_mock_cluster_destroy(fx->mcluster);
    rd_kafka_destroy(fx->mock_rk);
    return 0;
}

static void send_flags(struct fixture *fx, const char *key, uint64_t seq, int flags)
{
    char err[256];
    relay_header h = {"id", "e1", 2};
    assert_int_equal(relay_publish_send(fx->pub, "t", key, strlen(key), "value", 5, &h, 1, NULL, 0,
                                        seq, flags, err, sizeof(err)),
                     0);
}

static void send_one(struct fixture *fx, const char *key, uint64_t seq)
{
    send_flags(fx, key, seq, 0);
}

static void test_report_says_dead_letter_and_carries_key_and_headers(void **state)
{
    struct fixture *fx = *state;
    send_flags(fx, "agg-7", 1234567890123ULL, RELAY_PUBLISH_DEAD_LETTER);
    assert_int_equal(relay_publish_flush(fx->pub, 10000), 0);
    assert_int_equal(fx->reports.ok, 1);
    assert_int_equal(fx->reports.seqs[0], 1234567890123ULL);
    assert_int_equal(fx->reports.dead_letters, 1);
    assert_string_equal(fx->reports.last_key, "agg-7");
    assert_string_equal(fx->reports.last_id, "e1");
    send_one(fx, "agg-7", 2);
    assert_int_equal(relay_publish_flush(fx->pub, 10000), 0);
    assert_int_equal(fx->reports.dead_letters, 1);
}

static void test_delivery_reports_carry_sequence_numbers(void **state)
{
    struct fixture *fx = *state;
    for (uint64_t seq = 1; seq <= 10; seq++)
        send_one(fx, "agg-1", seq);
    assert_int_equal(relay_publish_flush(fx->pub, 10000), 0);
    assert_int_equal(fx->reports.ok, 10);
    assert_int_equal(fx->reports.failed, 0);
    /* One key, one partition, idempotent producer: reports in send order. */
    for (int i = 0; i < 10; i++)
        assert_int_equal(fx->reports.seqs[i], (uint64_t)i + 1);
    assert_int_equal(fx->reports.bytes, 10 * (5 + 5));
}

static void test_transient_broker_errors_are_retried(void **state)
{
    struct fixture *fx = *state;
    rd_kafka_mock_push_request_errors(
        fx->mcluster, 0 /* ApiKey Produce */, 3, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
    send_one(fx, "agg-1", 1);
    assert_int_equal(relay_publish_flush(fx->pub, 20000), 0);
    assert_int_equal(fx->reports.ok, 1);
    assert_int_equal(fx->reports.failed, 0);
}

static void test_undeliverable_message_is_reported_failed(void **state)
{
    struct fixture *fx = *state;
    /* The only broker is down for longer than message.timeout.ms. */
    rd_kafka_mock_broker_set_down(fx->mcluster, 1);
    send_one(fx, "agg-1", 42);
    /* Done with it: the message left the queue as a failure. */
    assert_int_equal(relay_publish_flush(fx->pub, 8000), 0);
    assert_int_equal(fx->reports.ok, 0);
    assert_int_equal(fx->reports.failed, 1);
    assert_int_equal(fx->reports.last_err, RD_KAFKA_RESP_ERR__MSG_TIMED_OUT);
}

static void test_idempotence_cannot_be_disabled(void **state)
{
    char err[256];
    relay_publish *pub = NULL;
    struct reports r = {0};
    rd_kafka_conf_t *conf = relay_publish_conf(NULL, err, sizeof(err)); /* the relay's defaults */
    assert_non_null(conf);
    assert_int_equal(rd_kafka_conf_set(conf, "enable.idempotence", "false", err, sizeof(err)),
                     RD_KAFKA_CONF_OK);
    assert_int_equal(rd_kafka_conf_set(conf, "acks", "1", err, sizeof(err)), RD_KAFKA_CONF_OK);
    assert_int_equal(relay_publish_new(conf, on_report, &r, &pub, err, sizeof(err)), 0);
    char value[32];
    size_t size = sizeof(value);
    const rd_kafka_conf_t *eff = rd_kafka_conf(relay_publish_handle(pub));
    assert_int_equal(rd_kafka_conf_get(eff, "enable.idempotence", value, &size), RD_KAFKA_CONF_OK);
    assert_string_equal(value, "true");
    size = sizeof(value);
    assert_int_equal(rd_kafka_conf_get(eff, "acks", value, &size), RD_KAFKA_CONF_OK);
    assert_string_equal(value, "-1");
    size = sizeof(value);
    assert_int_equal(rd_kafka_conf_get(eff, "partitioner", value, &size), RD_KAFKA_CONF_OK);
    assert_string_equal(value, "murmur2_random");
    relay_publish_free(pub);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_delivery_reports_carry_sequence_numbers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_report_says_dead_letter_and_carries_key_and_headers,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_transient_broker_errors_are_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_undeliverable_message_is_reported_failed,
                                        setup_short_timeout, teardown),
        cmocka_unit_test(test_idempotence_cannot_be_disabled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
