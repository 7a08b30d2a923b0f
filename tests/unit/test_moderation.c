/* The moderation service's pure parts: the decision on a comment's text, the statement built
 * for the outbox table, and its settings (the consumer library's keys plus its own). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "moderation.h"
#include "outbox_consumer.h"

static const moderation_rules rules = {.word = "orange",
                                       .reason = "mentions oranges",
                                       .moderator = "auto-moderator",
                                       .outbox_table = "public.outbox",
                                       .aggregate_type = "comment"};

static void test_plain_text_is_approved_without_reason(void **state)
{
    const char *reason = "unset";
    assert_int_equal(moderation_decide(&rules, "Nice post, apples are fine", &reason),
                     MODERATION_APPROVED);
    assert_null(reason);
    assert_string_equal(moderation_decision_name(MODERATION_APPROVED), "APPROVED");
}

static void test_orange_in_any_case_is_rejected_with_the_reason(void **state)
{
    const char *texts[] = {"orange",          "I love oranges", "ORANGE juice",
                           "an OrAnGe a day", "blood-orange",   "xxorangexx"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        const char *reason = NULL;
        assert_int_equal(moderation_decide(&rules, texts[i], &reason), MODERATION_REJECTED);
        assert_string_equal(reason, "mentions oranges");
    }
    assert_string_equal(moderation_decision_name(MODERATION_REJECTED), "REJECTED");
}

static void test_near_misses_pass(void **state)
{
    const char *texts[] = {"", "oran", "orang e", "o r a n g e", "ORANG", "range"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        const char *reason = NULL;
        assert_int_equal(moderation_decide(&rules, texts[i], &reason), MODERATION_APPROVED);
    }
}

static void test_mentions_handles_utf8_and_edges(void **state)
{
    assert_true(moderation_mentions("Äpfel und Orangen \xc3\xa9t\xc3\xa9", "orange"));
    assert_false(moderation_mentions("\xc3\x96RANGE", "orange")); /* only ASCII folds */
    assert_false(moderation_mentions(NULL, "orange"));
    assert_false(moderation_mentions("orange", NULL));
    assert_false(moderation_mentions("orange", ""));
    assert_true(moderation_mentions("ends with orangE", "orange"));
    assert_false(moderation_mentions("ends with orang", "orange"));
}

static void test_service_statement_names_the_outbox_table(void **state)
{
    moderation_service svc;
    char errstr[256];
    moderation_rules r = rules;
    r.outbox_table = "app.events_outbox";
    assert_int_equal(moderation_service_init(&svc, &r, errstr, sizeof errstr), 0);
    assert_non_null(strstr(svc.sql, "INSERT INTO app.events_outbox (id, aggregate_type"));
    assert_non_null(strstr(svc.sql, "'CommentModerated'"));
    assert_null(strstr(svc.sql, "RETURNING id")); /* INSERT privilege on the outbox suffices */
    moderation_service_destroy(&svc);
}

static void test_service_refuses_a_table_that_is_not_an_identifier(void **state)
{
    moderation_service svc;
    char errstr[256];
    moderation_rules r = rules;
    r.outbox_table = "outbox; DROP TABLE x";
    assert_int_equal(moderation_service_init(&svc, &r, errstr, sizeof errstr), -1);
    assert_non_null(strstr(errstr, "moderation.outbox-table"));
    moderation_service_destroy(&svc);
}

static int load(moderation_settings *s, const char **sets, size_t n, char *errstr, size_t size)
{
    outbox_conf *conf = NULL;
    memset(s, 0, sizeof *s);
    outbox_conf_sources src = {.sets = sets, .set_count = n};
    int rc = moderation_settings_load(s, &src, &conf, errstr, size);
    outbox_conf_destroy(conf);
    return rc;
}

static void test_settings_defaults_and_library_keys(void **state)
{
    const char *sets[] = {"postgres.conninfo=dbname=blog", "consumer.name=moderation",
                          "consumer.topics=outbox.event.comment",
                          "kafka.bootstrap.servers=127.0.0.1:9092"};
    moderation_settings s;
    char errstr[512];
    assert_int_equal(load(&s, sets, 4, errstr, sizeof errstr), 0);
    assert_string_equal(s.consumer.conninfo, "dbname=blog");
    assert_string_equal(s.consumer.group, "");
    assert_int_equal(s.consumer.batch_size, 100);
    assert_int_equal(s.consumer.start, OUTBOX_CONSUMER_START_EARLIEST);
    assert_false(s.consumer.http_enabled);
    assert_string_equal(s.word, "orange");
    assert_string_equal(s.reason, "mentions oranges");
    assert_string_equal(s.moderator, "auto-moderator");
    assert_string_equal(s.outbox_table, "public.outbox");
    assert_string_equal(s.aggregate_type, "comment");
    moderation_settings_free(&s);
}

static void test_settings_name_the_missing_or_bad_key(void **state)
{
    moderation_settings s;
    char errstr[512];
    const char *no_topics[] = {"postgres.conninfo=dbname=blog", "consumer.name=m"};
    assert_int_equal(load(&s, no_topics, 2, errstr, sizeof errstr), -1);
    assert_non_null(strstr(errstr, "consumer.topics"));
    const char *bad_name[] = {"postgres.conninfo=dbname=blog", "consumer.name=a b",
                              "consumer.topics=t"};
    assert_int_equal(load(&s, bad_name, 3, errstr, sizeof errstr), -1);
    assert_non_null(strstr(errstr, "consumer.name"));
    const char *bad_table[] = {"postgres.conninfo=dbname=blog", "consumer.name=m",
                               "consumer.topics=t", "moderation.outbox-table=1x",
                               "kafka.bootstrap.servers=127.0.0.1:9092"};
    assert_int_equal(load(&s, bad_table, 5, errstr, sizeof errstr), -1);
    assert_non_null(strstr(errstr, "moderation.outbox-table"));
    /* without it librdkafka only warns, and the consumer never gets an event */
    const char *no_kafka[] = {"postgres.conninfo=dbname=blog", "consumer.name=m",
                              "consumer.topics=t"};
    assert_int_equal(load(&s, no_kafka, 3, errstr, sizeof errstr), -1);
    assert_non_null(strstr(errstr, "kafka.bootstrap.servers is not set"));
    assert_non_null(strstr(errstr, "OUTBOX_MODERATION_KAFKA_BOOTSTRAP_SERVERS=host:port"));
}

static void test_plain_consumer_settings_load(void **state)
{
    const char *sets[] = {"postgres.conninfo=dbname=x",
                          "consumer.name=audit",
                          "consumer.topics=a, b",
                          "consumer.start=latest",
                          "kafka.acks=all",
                          "kafka.bootstrap.servers=127.0.0.1:9092"};
    outbox_consumer_settings s;
    outbox_conf *conf = NULL;
    char errstr[512];
    memset(&s, 0, sizeof s);
    outbox_conf_sources src = {.sets = sets, .set_count = 6};
    assert_int_equal(
        outbox_consumer_settings_load(&s, "audit", "AUDIT", &src, &conf, errstr, sizeof errstr), 0);
    assert_int_equal(s.start, OUTBOX_CONSUMER_START_LATEST);
    assert_string_equal(s.topics, "a, b");
    assert_string_equal(outbox_conf_kafka_get(conf, "acks"), "all");
    outbox_consumer_settings_free(&s);
    outbox_conf_destroy(conf);
}

static outbox_consumer_rc no_handler(void *opaque, PGconn *conn, const outbox_consumer_event *ev,
                                     outbox_consumer_error *err)
{
    return OUTBOX_CONSUMER_OK;
}

/* The library's services share the daemons' registry TLS keys: a CA file that cannot be read
 * stops outbox_consumer_new with the setting named (before: registry.ca-file was unknown). */
static void test_consumer_registry_tls_keys(void **state)
{
    const char *sets[] = {"postgres.conninfo=dbname=x",
                          "consumer.name=audit",
                          "consumer.topics=a",
                          "registry.url=https://127.0.0.1:1/apis/ccompat/v7",
                          "registry.ca-file=/nonexistent/outbox-test-ca.pem",
                          "avro.schema-dir=" SCHEMA_DIR,
                          "kafka.bootstrap.servers=127.0.0.1:9092"};
    outbox_consumer_settings s;
    outbox_conf *conf = NULL;
    char errstr[512];
    memset(&s, 0, sizeof s);
    outbox_conf_sources src = {.sets = sets, .set_count = 7};
    assert_int_equal(
        outbox_consumer_settings_load(&s, "audit", "AUDIT", &src, &conf, errstr, sizeof errstr), 0);
    assert_string_equal(s.registry_ca_file, "/nonexistent/outbox-test-ca.pem");
    outbox_consumer *c = outbox_consumer_new(&s, conf, no_handler, NULL, errstr, sizeof errstr);
    assert_null(c);
    assert_non_null(strstr(errstr, "registry.ca-file"));
    assert_non_null(strstr(errstr, "/nonexistent/outbox-test-ca.pem"));
    outbox_consumer_settings_free(&s);
    outbox_conf_destroy(conf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_text_is_approved_without_reason),
        cmocka_unit_test(test_orange_in_any_case_is_rejected_with_the_reason),
        cmocka_unit_test(test_near_misses_pass),
        cmocka_unit_test(test_mentions_handles_utf8_and_edges),
        cmocka_unit_test(test_service_statement_names_the_outbox_table),
        cmocka_unit_test(test_service_refuses_a_table_that_is_not_an_identifier),
        cmocka_unit_test(test_settings_defaults_and_library_keys),
        cmocka_unit_test(test_settings_name_the_missing_or_bad_key),
        cmocka_unit_test(test_plain_consumer_settings_load),
        cmocka_unit_test(test_consumer_registry_tls_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
