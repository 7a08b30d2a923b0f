/* Where a dead letter goes (relay_dlq_topic): dlq.topic with ${topic} = the event's topic, the
 * fallback topic when the event has none, and the fallback too when the template would make a
 * name Kafka refuses (a legal event topic of 246-249 characters + ".dlq" is longer than Kafka's
 * 249; a template with a character a topic may not have), so that the dead letter lands
 * somewhere instead of failing to produce and stopping the relay. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "dlq.h"
#include "kafka_topics.h"

static const char *dlq_topic(outbox_buf *out, const char *template, const char *topic)
{
    assert_int_equal(relay_dlq_topic(template, "outbox.dlq", topic, out), 0);
    return (const char *)out->data;
}

static void test_template_takes_the_events_topic(void **state)
{
    (void)state;
    outbox_buf out = {0};
    assert_string_equal(dlq_topic(&out, "${topic}.dlq", "blog.comment"), "blog.comment.dlq");
    assert_string_equal(dlq_topic(&out, "dlq-${topic}-x", "t"), "dlq-t-x");
    assert_string_equal(dlq_topic(&out, "all.dead", "blog.comment"), "all.dead");
    assert_string_equal(dlq_topic(&out, "${topic}.dlq", NULL), "outbox.dlq");
    outbox_buf_free(&out);
}

static void test_a_name_kafka_refuses_takes_the_fallback(void **state)
{
    (void)state;
    outbox_buf out = {0};
    char topic[250];
    memset(topic, 'a', 249);
    topic[249] = '\0'; /* the longest legal topic */
    assert_true(outbox_kafka_topic_name_valid(topic));
    assert_string_equal(dlq_topic(&out, "${topic}.dlq", topic), "outbox.dlq");
    topic[245] = '\0'; /* 245 + ".dlq" = 249: still legal */
    const char *got = dlq_topic(&out, "${topic}.dlq", topic);
    assert_int_equal(strlen(got), 249);
    assert_memory_equal(got + 245, ".dlq", 5);
    topic[245] = 'a';
    topic[246] = '\0'; /* 246 + ".dlq" = 250 */
    assert_string_equal(dlq_topic(&out, "${topic}.dlq", topic), "outbox.dlq");
    assert_string_equal(dlq_topic(&out, "dead/${topic}", "blog"), "outbox.dlq");
    outbox_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_template_takes_the_events_topic),
        cmocka_unit_test(test_a_name_kafka_refuses_takes_the_fallback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
