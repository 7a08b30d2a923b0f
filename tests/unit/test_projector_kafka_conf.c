/* The projector's Kafka client configurations: [kafka] keys the user set reach librdkafka
 * unchanged (also values equal to librdkafka's own defaults); the projector's defaults apply
 * only to keys the user did not set; what the guarantees depend on is forced. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "projector_runner.h"
#include "projector_settings.h"

typedef struct loaded {
    projector_settings settings;
    outbox_conf *conf;
    projector_runner_config cfg;
} loaded;

/* Settings of one projection "p" plus the --set items `extra`. */
static void load(loaded *l, const char *const *extra, size_t nextra)
{
    const char *sets[16] = {"postgres.conninfo=dbname=unused", "projection p.topics=t",
                            "projection p.sql.X=SELECT 1",
                            "kafka.bootstrap.servers=127.0.0.1:9092"};
    size_t nsets = 4;
    char err[1024];
    assert_true(nextra <= 16 - nsets);
    for (size_t i = 0; i < nextra; i++)
        sets[nsets++] = extra[i];
    memset(l, 0, sizeof *l);
    outbox_conf_sources src = {.sets = sets, .set_count = nsets};
    if (projector_settings_load(&l->settings, &src, &l->conf, err, sizeof err) != 0)
        fail_msg("projector_settings_load: %s", err);
    l->cfg =
        projector_settings_runner_config(&l->settings, &l->settings.projections.items[0], l->conf);
}

static void release(loaded *l)
{
    outbox_conf_destroy(l->conf);
    projector_settings_free(&l->settings);
}

static void assert_value(rd_kafka_conf_t *conf, const char *name, const char *want)
{
    char value[256];
    size_t size = sizeof value;
    assert_int_equal(rd_kafka_conf_get(conf, name, value, &size), RD_KAFKA_CONF_OK);
    if (strcmp(value, want) != 0)
        fail_msg("%s is '%s', expected '%s'", name, value, want);
}

static rd_kafka_conf_t *client_conf(loaded *l, bool consumer)
{
    char err[512];
    rd_kafka_conf_t *conf = projector_runner_kafka_conf(&l->cfg, consumer, err, sizeof err);
    if (conf == NULL)
        fail_msg("projector_runner_kafka_conf: %s", err);
    return conf;
}

static void test_consumer_keeps_user_values_equal_to_librdkafka_defaults(void **state)
{
    (void)state;
    /* librdkafka's own defaults, each different from the projector's */
    const char *sets[] = {"kafka.topic.metadata.refresh.interval.ms=300000",
                          "kafka.isolation.level=read_uncommitted", "kafka.client.id=rdkafka",
                          "kafka.auto.offset.reset=largest"};
    loaded l;
    load(&l, sets, sizeof sets / sizeof sets[0]);
    rd_kafka_conf_t *conf = client_conf(&l, true);
    assert_value(conf, "topic.metadata.refresh.interval.ms", "300000");
    assert_value(conf, "isolation.level", "read_uncommitted");
    assert_value(conf, "client.id", "rdkafka");
    assert_value(conf, "auto.offset.reset", "largest");
    rd_kafka_conf_destroy(conf);
    release(&l);
}

static void test_consumer_defaults_apply_to_keys_not_set(void **state)
{
    (void)state;
    const char *sets[] = {"log.level=error"};
    loaded l;
    load(&l, sets, 1);
    rd_kafka_conf_t *conf = client_conf(&l, true);
    assert_value(conf, "topic.metadata.refresh.interval.ms", "5000");
    assert_value(conf, "isolation.level", "read_committed");
    assert_value(conf, "client.id", "outbox-projector-p");
    assert_value(conf, "auto.offset.reset", "smallest"); /* librdkafka's name for earliest */
    rd_kafka_conf_destroy(conf);
    release(&l);
}

static void test_consumer_guarantees_are_forced(void **state)
{
    (void)state;
    const char *sets[] = {"kafka.enable.auto.commit=true", "kafka.group.id=other"};
    loaded l;
    load(&l, sets, 2);
    rd_kafka_conf_t *conf = client_conf(&l, true);
    assert_value(conf, "enable.auto.commit", "false");
    assert_value(conf, "group.id", "outbox-projector.p");
    rd_kafka_conf_destroy(conf);
    release(&l);
}

static void test_dead_letter_producer_keeps_user_values(void **state)
{
    (void)state;
    const char *sets[] = {"kafka.client.id=rdkafka", "kafka.compression.type=none"};
    loaded l;
    load(&l, sets, 2);
    rd_kafka_conf_t *conf = client_conf(&l, false);
    assert_value(conf, "client.id", "rdkafka");
    assert_value(conf, "compression.type", "none");
    rd_kafka_conf_destroy(conf);
    release(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_consumer_keeps_user_values_equal_to_librdkafka_defaults),
        cmocka_unit_test(test_consumer_defaults_apply_to_keys_not_set),
        cmocka_unit_test(test_consumer_guarantees_are_forced),
        cmocka_unit_test(test_dead_letter_producer_keeps_user_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
