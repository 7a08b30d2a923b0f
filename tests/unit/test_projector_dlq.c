/* projector_dlq on librdkafka's mock cluster: a dead-letter produce that times out (broker
 * down, or its Produce answered too late) is reported failed, nothing is marked sent, and the
 * retry delivers every dead letter with its headers (a late answer may duplicate one, never
 * lose one). The mock cluster is for fault injection only; the real broker is tested by
 * tests/integration/test_projector_dlq_restart.sh. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "projector_batch.h"
#include "projector_dlq.h"

#define API_PRODUCE 0 /* Kafka protocol ApiKey */

struct fixture {
    rd_kafka_t *mock_rk; /* hosts the mock cluster */
    rd_kafka_mock_cluster_t *mcluster;
    projector_dlq *dlq;
    projector_batch batch;
};

static void conf_must(rd_kafka_conf_t *conf, const char *name, const char *value)
{
    char err[256];
    assert_int_equal(rd_kafka_conf_set(conf, name, value, err, sizeof err), RD_KAFKA_CONF_OK);
}

static int setup(void **state)
{
    static struct fixture fx;
    char err[512];
    memset(&fx, 0, sizeof fx);
    rd_kafka_conf_t *mconf = rd_kafka_conf_new();
    conf_must(mconf, "log_level", "0");
    fx.mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, mconf, err, sizeof err);
    assert_non_null(fx.mock_rk);
    fx.mcluster = rd_kafka_mock_cluster_new(fx.mock_rk, 1);
    assert_non_null(fx.mcluster);
    assert_int_equal(rd_kafka_mock_topic_create(fx.mcluster, "ev.dlq", 1, 1), 0);

    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_must(conf, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(fx.mcluster));
    conf_must(conf, "log_level", "0");
    fx.dlq = projector_dlq_new(conf, "proj", ".dlq", err, sizeof err);
    assert_non_null(fx.dlq);

    /* Two dead events of topic "ev" (no Kafka record: key and value empty). */
    projector_batch_init(&fx.batch);
    for (int i = 0; i < 2; i++) {
        projector_event *ev = projector_batch_add(&fx.batch, 0);
        assert_non_null(ev);
        ev->topic = strdup("ev");
        assert_non_null(ev->topic);
        ev->partition = 0;
        ev->offset = 40 + i;
        snprintf(ev->id, sizeof ev->id, "00000000-0000-4000-8000-00000000000%d", i);
        assert_int_equal(projector_event_kill(ev, "23514", "violates check"), 0);
    }
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    projector_batch_free(&fx->batch, NULL);
    projector_dlq_free(fx->dlq, 5000);
    rd_kafka_mock_cluster_destroy(fx->mcluster);
    rd_kafka_destroy(fx->mock_rk);
    return 0;
}

/* The records on ev.dlq: how many, and how many carry the dead-letter headers of event
 * offset 40 or 41 as the dlq wrote them. */
static void read_dlq_topic(struct fixture *fx, int *records, int *well_formed)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_must(conf, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(fx->mcluster));
    conf_must(conf, "group.id", "dlq-reader");
    conf_must(conf, "log_level", "0");
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    assert_non_null(rk);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, "ev.dlq", 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(rk, parts), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(parts);
    *records = *well_formed = 0;
    for (int idle = 0; idle < 20;) { /* until 2 s without a record */
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 100);
        if (msg == NULL) {
            idle++;
            continue;
        }
        if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            rd_kafka_headers_t *hdrs = NULL;
            const void *v;
            size_t n;
            (*records)++;
            if (rd_kafka_message_headers(msg, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
                rd_kafka_header_get_last(hdrs, "dlq.sqlstate", &v, &n) == 0 && n == 5 &&
                memcmp(v, "23514", 5) == 0 &&
                rd_kafka_header_get_last(hdrs, "dlq.reason", &v, &n) == 0 &&
                rd_kafka_header_get_last(hdrs, "dlq.projection", &v, &n) == 0 &&
                rd_kafka_header_get_last(hdrs, "dlq.original.offset", &v, &n) == 0 && n == 2 &&
                (memcmp(v, "40", 2) == 0 || memcmp(v, "41", 2) == 0))
                (*well_formed)++;
        }
        rd_kafka_message_destroy(msg);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

static void test_dead_letters_are_acknowledged(void **state)
{
    struct fixture *fx = *state;
    char err[512];
    assert_int_equal(projector_dlq_send(fx->dlq, &fx->batch, 10000, err, sizeof err), 2);
    assert_true(fx->batch.events[0].dlq_sent && fx->batch.events[1].dlq_sent);
    /* Nothing left to send. */
    assert_int_equal(projector_dlq_send(fx->dlq, &fx->batch, 10000, err, sizeof err), 0);
    int records, well_formed;
    read_dlq_topic(fx, &records, &well_formed);
    assert_int_equal(records, 2);
    assert_int_equal(well_formed, 2);
}

/* The broker is down: the produce cannot be acknowledged in time. */
static void test_produce_to_a_down_broker_times_out_then_is_retried(void **state)
{
    struct fixture *fx = *state;
    char err[512];
    rd_kafka_mock_broker_set_down(fx->mcluster, 1);
    assert_int_equal(projector_dlq_send(fx->dlq, &fx->batch, 500, err, sizeof err), -1);
    assert_non_null(strstr(err, "not acknowledged"));
    assert_false(fx->batch.events[0].dlq_sent || fx->batch.events[1].dlq_sent);
    rd_kafka_mock_broker_set_up(fx->mcluster, 1);
    assert_int_equal(projector_dlq_send(fx->dlq, &fx->batch, 15000, err, sizeof err), 2);
    assert_true(fx->batch.events[0].dlq_sent && fx->batch.events[1].dlq_sent);
    int records, well_formed;
    read_dlq_topic(fx, &records, &well_formed);
    assert_int_equal(records, 2); /* the timed-out ones were purged before they left */
    assert_int_equal(well_formed, 2);
}

/* The broker answers the first Produce after 3 s, past the 500 ms the send waits: the request
 * was in flight when the send gave up (it is purged; its late answer must not write into
 * freed memory), and the retry delivers. The first request may have been written: a
 * duplicate is allowed, a loss is not. */
static void test_produce_answered_late_times_out_then_is_retried(void **state)
{
    struct fixture *fx = *state;
    char err[512];
    /* Warm up: the idempotent producer gets its PID first (else the delay hits InitProducerId's
     * neighbour requests instead of the Produce under test). */
    projector_batch warm;
    projector_batch_init(&warm);
    projector_event *ev = projector_batch_add(&warm, 0);
    assert_non_null(ev);
    ev->topic = strdup("ev");
    ev->offset = 39;
    assert_int_equal(projector_event_kill(ev, "23514", "violates check"), 0);
    assert_int_equal(projector_dlq_send(fx->dlq, &warm, 10000, err, sizeof err), 1);
    projector_batch_free(&warm, NULL);

    assert_int_equal(rd_kafka_mock_broker_push_request_error_rtts(fx->mcluster, 1, API_PRODUCE, 1,
                                                                  RD_KAFKA_RESP_ERR_NO_ERROR, 3000),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(projector_dlq_send(fx->dlq, &fx->batch, 500, err, sizeof err), -1);
    assert_non_null(strstr(err, "not acknowledged"));
    assert_false(fx->batch.events[0].dlq_sent || fx->batch.events[1].dlq_sent);
    assert_int_equal(projector_dlq_send(fx->dlq, &fx->batch, 15000, err, sizeof err), 2);
    assert_true(fx->batch.events[0].dlq_sent && fx->batch.events[1].dlq_sent);
    int records, well_formed;
    read_dlq_topic(fx, &records, &well_formed);
    /* 1 warm-up record (offset 39, not counted as well formed) + 2, or + 4 with the late
     * request's copies. */
    assert_true(records == 3 || records == 5);
    assert_int_equal(well_formed, records - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dead_letters_are_acknowledged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_produce_to_a_down_broker_times_out_then_is_retried,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_produce_answered_late_times_out_then_is_retried, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
