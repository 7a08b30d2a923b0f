/* outbox_consumer's lifecycle under a new user's mistakes: no settings, start called twice,
 * run after start, free without join. The consumer's thread only tries to connect to a closed
 * loopback port (the refusal is retried), so no stack is needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "outbox_consumer.h"

static outbox_consumer_rc no_handler(void *opaque, PGconn *conn, const outbox_consumer_event *ev,
                                     outbox_consumer_error *err)
{
    (void)opaque;
    (void)conn;
    (void)ev;
    (void)err;
    return OUTBOX_CONSUMER_OK;
}

typedef struct fixture {
    outbox_consumer_settings settings;
    outbox_conf *conf;
    outbox_consumer *consumer;
} fixture;

/* A consumer whose database refuses connections (port 1): its thread retries until stopped. */
static int setup(void **state)
{
    static fixture f;
    const char *sets[] = {"postgres.conninfo=host=127.0.0.1 port=1 connect_timeout=2",
                          "kafka.bootstrap.servers=127.0.0.1:1",
                          "consumer.name=lifecycle",
                          "consumer.topics=lifecycle.events",
                          "consumer.retry-backoff-min=20ms",
                          "consumer.retry-backoff-max=50ms",
                          "avro.schema-dir=" SCHEMA_DIR};
    char errstr[512];
    memset(&f, 0, sizeof f);
    outbox_conf_sources src = {.sets = sets, .set_count = sizeof sets / sizeof sets[0]};
    if (outbox_consumer_settings_load(&f.settings, "lifecycle", "LIFECYCLE", &src, &f.conf, errstr,
                                      sizeof errstr)) {
        fprintf(stderr, "settings: %s\n", errstr);
        return -1;
    }
    f.consumer = outbox_consumer_new(&f.settings, f.conf, no_handler, NULL, errstr, sizeof errstr);
    if (f.consumer == NULL) {
        fprintf(stderr, "new: %s\n", errstr);
        return -1;
    }
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    outbox_consumer_free(f->consumer);
    outbox_consumer_settings_free(&f->settings);
    outbox_conf_destroy(f->conf);
    return 0;
}

/* A schema directory that is not there: the error names the key to correct, as the daemons do. */
static void test_missing_schema_dir_names_the_key(void **state)
{
    (void)state;
    const char *sets[] = {"postgres.conninfo=host=127.0.0.1 port=1",
                          "kafka.bootstrap.servers=127.0.0.1:1", "consumer.name=lifecycle",
                          "consumer.topics=t", "avro.schema-dir=/nonexistent/outbox-schemas"};
    outbox_consumer_settings settings;
    outbox_conf *conf = NULL;
    char errstr[512] = "";
    memset(&settings, 0, sizeof settings);
    outbox_conf_sources src = {.sets = sets, .set_count = sizeof sets / sizeof sets[0]};
    assert_int_equal(outbox_consumer_settings_load(&settings, "lifecycle", "LIFECYCLE", &src, &conf,
                                                   errstr, sizeof errstr),
                     0);
    assert_null(outbox_consumer_new(&settings, conf, no_handler, NULL, errstr, sizeof errstr));
    if (strstr(errstr, "avro.schema-dir: schema directory /nonexistent/outbox-schemas") == NULL)
        fail_msg("errstr: %s", errstr);
    outbox_consumer_settings_free(&settings);
    outbox_conf_destroy(conf);
}

static void test_new_without_settings_is_an_error(void **state)
{
    (void)state;
    char errstr[256] = "";
    assert_null(outbox_consumer_new(NULL, NULL, no_handler, NULL, errstr, sizeof errstr));
    assert_non_null(strstr(errstr, "no settings"));
}

/* A second start used to create a second thread on the same Kafka consumer and connection:
 * misleading errors, then a hang in the consumer's close. */
static void test_start_twice_is_refused(void **state)
{
    fixture *f = *state;
    char errstr[256] = "";
    assert_int_equal(outbox_consumer_start(f->consumer, errstr, sizeof errstr), 0);
    assert_int_equal(outbox_consumer_start(f->consumer, errstr, sizeof errstr), -1);
    assert_non_null(strstr(errstr, "already"));
    assert_int_equal(outbox_consumer_run(f->consumer), 1);
    assert_true(outbox_consumer_running(f->consumer));
    outbox_consumer_stop(f->consumer);
    assert_int_equal(outbox_consumer_join(f->consumer), 0);
    assert_false(outbox_consumer_running(f->consumer));
    assert_int_equal(outbox_consumer_start(f->consumer, errstr, sizeof errstr), -1);
}

/* free while the thread runs: stops and joins it first (valgrind sees no use after free). */
static void test_free_without_join_stops_the_thread(void **state)
{
    fixture *f = *state;
    char errstr[256] = "";
    assert_int_equal(outbox_consumer_start(f->consumer, errstr, sizeof errstr), 0);
    outbox_consumer_free(f->consumer);
    f->consumer = NULL;
}

static void test_null_consumer_calls_are_harmless(void **state)
{
    (void)state;
    char errstr[256] = "";
    assert_int_equal(outbox_consumer_start(NULL, errstr, sizeof errstr), -1);
    assert_non_null(strstr(errstr, "outbox_consumer_new"));
    assert_int_equal(outbox_consumer_run(NULL), 1);
    assert_int_equal(outbox_consumer_join(NULL), 1);
    assert_false(outbox_consumer_running(NULL));
    outbox_consumer_stop(NULL);
    outbox_consumer_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_without_settings_is_an_error),
        cmocka_unit_test(test_missing_schema_dir_names_the_key),
        cmocka_unit_test_setup_teardown(test_start_twice_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_without_join_stops_the_thread, setup, teardown),
        cmocka_unit_test(test_null_consumer_calls_are_harmless),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
