/* outbox_kafka_admin, the frame of one blocking admin request: the result of a request issued
 * on its options and queue arrives through outbox_kafka_admin_wait, the request timeout set by
 * outbox_kafka_admin_init bounds it, a refused timeout fails init with errstr, and
 * outbox_kafka_admin_done releases everything (valgrind.test_kafka_admin checks for leaks).
 * No broker is needed: the client points at a closed loopback port, so the request's own
 * timeout is what answers (librdkafka 2.0's mock cluster has no controller for CreateTopics). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <librdkafka/rdkafka.h>

#include "kafka_admin.h"

/* Fixture: a client whose only broker is a closed loopback port. */
static int setup(void **state)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", "127.0.0.1:1", err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "log_level", "0", err, sizeof(err))) {
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    *state = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (*state == NULL)
        rd_kafka_conf_destroy(conf);
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    rd_kafka_destroy(*state);
    return 0;
}

/* outbox_kafka_admin_done releases whatever adm holds and leaves it empty. */
static void done_and_check(outbox_kafka_admin *adm)
{
    outbox_kafka_admin_done(adm);
    assert_null(adm->ev);
    assert_null(adm->queue);
    assert_null(adm->opts);
}

/* Issues CreateTopics for one topic through adm; returns the result event (owned by adm). */
static rd_kafka_event_t *create_topic(rd_kafka_t *rk, outbox_kafka_admin *adm, int timeout_ms)
{
    char err[512];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new("admin-test", 1, 1, err, sizeof(err));
    assert_non_null(nt);
    rd_kafka_CreateTopics(rk, &nt, 1, adm->opts, adm->queue);
    rd_kafka_NewTopic_destroy(nt);
    return outbox_kafka_admin_wait(adm, timeout_ms);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* No broker listens: the request timeout set by init ends the request with __TIMED_OUT, and
 * wait's extra second lets that answer arrive rather than returning NULL. */
static void test_request_timeout_bounds_the_request(void **state)
{
    rd_kafka_t *rk = *state;
    outbox_kafka_admin adm;
    char err[512] = "";
    assert_int_equal(
        outbox_kafka_admin_init(&adm, rk, RD_KAFKA_ADMIN_OP_CREATETOPICS, 300, err, sizeof(err)),
        0);
    assert_non_null(adm.opts);
    assert_non_null(adm.queue);
    assert_null(adm.ev);
    rd_kafka_event_t *ev = create_topic(rk, &adm, 300);
    assert_non_null(ev);
    assert_ptr_equal(ev, adm.ev); /* owned by the frame */
    assert_int_equal(rd_kafka_event_type(ev), RD_KAFKA_EVENT_CREATETOPICS_RESULT);
    assert_int_equal(rd_kafka_event_error(ev), RD_KAFKA_RESP_ERR__TIMED_OUT);
    done_and_check(&adm);
}

static void test_wait_without_a_result_returns_null_after_the_timeout(void **state)
{
    rd_kafka_t *rk = *state;
    outbox_kafka_admin adm;
    char err[512] = "";
    assert_int_equal(
        outbox_kafka_admin_init(&adm, rk, RD_KAFKA_ADMIN_OP_CREATETOPICS, 0, err, sizeof(err)), 0);
    int64_t start = mono_ms();
    assert_null(outbox_kafka_admin_wait(&adm, 0)); /* nothing issued: waits timeout + 1 s */
    assert_true(mono_ms() - start >= 900);
    done_and_check(&adm);
}

static void test_refused_timeout_fails_init_with_errstr(void **state)
{
    rd_kafka_t *rk = *state;
    outbox_kafka_admin adm;
    char err[512] = "";
    assert_int_equal(
        outbox_kafka_admin_init(&adm, rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, -5, err, sizeof(err)),
        -1);
    assert_true(strlen(err) > 0);
    done_and_check(&adm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_request_timeout_bounds_the_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_without_a_result_returns_null_after_the_timeout,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_timeout_fails_init_with_errstr, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
