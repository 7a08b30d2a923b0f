/* The relay's producer configuration: [kafka] keys the user set reach librdkafka unchanged,
 * also when they equal librdkafka's own defaults; the relay's defaults (lz4, murmur2_random,
 * linger.ms=5) apply only to keys the user did not set; idempotence and acks=all are forced.
 * No broker is needed: the producer is created and its configuration read back. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "publish.h"
#include "settings.h"

typedef struct producer {
    relay_settings settings;
    outbox_conf *conf;
    relay_publish *pub;
} producer;

/* Load the relay's settings from the required keys and --set items `extra` (the environment
 * as the test runs), and create the producer the way the relay does. */
static void producer_open(producer *p, const char *const *extra, size_t nextra)
{
    const char *sets[16] = {"postgres.conninfo=dbname=unused",
                            "kafka.bootstrap.servers=127.0.0.1:1", "kafka.log_level=0"};
    size_t nsets = 3;
    char err[1024];
    assert_true(nextra <= 16 - nsets);
    for (size_t i = 0; i < nextra; i++)
        sets[nsets++] = extra[i];
    memset(p, 0, sizeof *p);
    int rc = relay_settings_load(&p->settings, NULL, sets, nsets, &p->conf, err, sizeof err);
    if (rc != 0)
        fail_msg("relay_settings_load: %s", err);
    rd_kafka_conf_t *kconf = relay_publish_conf(p->conf, err, sizeof err);
    if (kconf == NULL)
        fail_msg("relay_publish_conf: %s", err);
    rc = relay_publish_new(kconf, NULL, NULL, &p->pub, err, sizeof err);
    if (rc != 0)
        fail_msg("relay_publish_new: %s", err);
}

static void producer_close(producer *p)
{
    relay_publish_free(p->pub);
    relay_settings_free(&p->settings);
    outbox_conf_destroy(p->conf);
}

/* The value librdkafka's producer runs with. */
static void assert_effective(producer *p, const char *name, const char *want)
{
    char value[256];
    size_t size = sizeof value;
    const rd_kafka_conf_t *conf = rd_kafka_conf(relay_publish_handle(p->pub));
    assert_int_equal(rd_kafka_conf_get(conf, name, value, &size), RD_KAFKA_CONF_OK);
    if (strcmp(value, want) != 0)
        fail_msg("%s is '%s', expected '%s'", name, value, want);
}

static void test_user_values_equal_to_librdkafka_defaults_are_kept(void **state)
{
    (void)state;
    const char *sets[] = {"kafka.compression.type=none", "kafka.partitioner=consistent_random"};
    producer p;
    producer_open(&p, sets, sizeof sets / sizeof sets[0]);
    assert_effective(&p, "compression.type", "none");
    assert_effective(&p, "partitioner", "consistent_random");
    assert_effective(&p, "linger.ms", "5"); /* not set: the relay's default */
    producer_close(&p);
}

static void test_relay_defaults_apply_to_keys_not_set(void **state)
{
    (void)state;
    const char *sets[] = {"log.level=error"};
    producer p;
    producer_open(&p, sets, sizeof sets / sizeof sets[0]);
    assert_effective(&p, "compression.type", "lz4");
    assert_effective(&p, "partitioner", "murmur2_random");
    assert_effective(&p, "linger.ms", "5");
    producer_close(&p);
}

static void test_user_values_other_than_defaults_are_kept(void **state)
{
    (void)state;
    const char *sets[] = {"kafka.compression.type=zstd", "kafka.partitioner=fnv1a",
                          "kafka.linger.ms=0"};
    producer p;
    producer_open(&p, sets, sizeof sets / sizeof sets[0]);
    assert_effective(&p, "compression.type", "zstd");
    assert_effective(&p, "partitioner", "fnv1a");
    assert_effective(&p, "linger.ms", "0");
    producer_close(&p);
}

/* librdkafka's alias of a property the relay has a default for: the user's spelling wins. */
static void test_user_alias_of_a_defaulted_key_is_kept(void **state)
{
    (void)state;
    const char *sets[] = {"kafka.compression.codec=none", "kafka.queue.buffering.max.ms=0"};
    producer p;
    producer_open(&p, sets, sizeof sets / sizeof sets[0]);
    assert_effective(&p, "compression.type", "none");
    assert_effective(&p, "linger.ms", "0");
    producer_close(&p);
}

/* A [kafka] key from the environment is a key the user set. */
static void test_user_values_from_the_environment_are_kept(void **state)
{
    (void)state;
    const char *sets[] = {"log.level=error"};
    assert_int_equal(setenv("OUTBOX_RELAY_KAFKA_COMPRESSION_TYPE", "none", 1), 0);
    assert_int_equal(setenv("OUTBOX_RELAY_KAFKA_PARTITIONER", "consistent_random", 1), 0);
    producer p;
    producer_open(&p, sets, sizeof sets / sizeof sets[0]);
    unsetenv("OUTBOX_RELAY_KAFKA_COMPRESSION_TYPE");
    unsetenv("OUTBOX_RELAY_KAFKA_PARTITIONER");
    assert_effective(&p, "compression.type", "none");
    assert_effective(&p, "partitioner", "consistent_random");
    producer_close(&p);
}

/* What delivery guarantees depend on cannot be configured away. */
static void test_guarantees_are_forced(void **state)
{
    (void)state;
    const char *sets[] = {"kafka.acks=1", "kafka.enable.idempotence=false"};
    producer p;
    producer_open(&p, sets, sizeof sets / sizeof sets[0]);
    assert_effective(&p, "enable.idempotence", "true");
    assert_effective(&p, "acks", "-1");
    producer_close(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_user_values_equal_to_librdkafka_defaults_are_kept),
        cmocka_unit_test(test_relay_defaults_apply_to_keys_not_set),
        cmocka_unit_test(test_user_values_other_than_defaults_are_kept),
        cmocka_unit_test(test_user_alias_of_a_defaulted_key_is_kept),
        cmocka_unit_test(test_user_values_from_the_environment_are_kept),
        cmocka_unit_test(test_guarantees_are_forced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
