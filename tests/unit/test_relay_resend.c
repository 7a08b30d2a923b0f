/* What the relay does with a message Kafka did not know the topic of: the delivery error codes
 * classified by enum (never by text), whether waiting can help, and the queue of held messages
 * (order, exact copies: a missing key or value stays missing, headers and extra headers kept). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "publish.h"
#include "resend.h"

static void test_unknown_topic_codes_are_held(void **state)
{
    /* librdkafka's own code (topic held for absent at produce time, or its UA partition failed)
     * and the broker's (a metadata answer after topic.metadata.propagation.max.ms) */
    assert_int_equal(relay_publish_classify(RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC),
                     RELAY_PUBLISH_TOPIC_UNKNOWN);
    assert_int_equal(relay_publish_classify(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART),
                     RELAY_PUBLISH_TOPIC_UNKNOWN);
}

static void test_other_codes(void **state)
{
    assert_int_equal(relay_publish_classify(RD_KAFKA_RESP_ERR_NO_ERROR), RELAY_PUBLISH_DELIVERED);
    assert_int_equal(relay_publish_classify(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE),
                     RELAY_PUBLISH_TOO_LARGE);
    /* may have been sent, or refused for good: never produced again by the relay */
    static const rd_kafka_resp_err_t failed[] = {
        RD_KAFKA_RESP_ERR__MSG_TIMED_OUT,
        RD_KAFKA_RESP_ERR__PURGE_QUEUE,
        RD_KAFKA_RESP_ERR__PURGE_INFLIGHT,
        RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
        RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION,
        RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION,
        RD_KAFKA_RESP_ERR__FATAL,
        RD_KAFKA_RESP_ERR_INVALID_RECORD,
        RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
    };
    for (size_t i = 0; i < sizeof(failed) / sizeof(failed[0]); i++)
        assert_int_equal(relay_publish_classify(failed[i]), RELAY_PUBLISH_FAILED);
}

static void test_creation_decision(void **state)
{
    /* every broker creates topics and the producer asks: wait for it */
    assert_int_equal(relay_topic_creation_of(true, true, true), RELAY_TOPICS_CREATED_ON_USE);
    /* a broker answered that it does not: stop */
    assert_int_equal(relay_topic_creation_of(true, false, true), RELAY_TOPICS_NOT_CREATED);
    /* the producer does not ask (kafka.allow.auto.create.topics = false): stop, whatever the
     * brokers say or whether they answer */
    assert_int_equal(relay_topic_creation_of(true, true, false), RELAY_TOPICS_NOT_CREATED);
    assert_int_equal(relay_topic_creation_of(false, false, false), RELAY_TOPICS_NOT_CREATED);
    /* no answer (brokers down): cannot tell, wait */
    assert_int_equal(relay_topic_creation_of(false, false, true), RELAY_TOPICS_UNKNOWN);
}

static void test_queue_keeps_order_and_exact_copies(void **state)
{
    relay_resend_queue *q = relay_resend_queue_new();
    assert_non_null(q);
    assert_null(relay_resend_peek(q));
    char key[] = "post-1", value[] = {'\xc3', '\x01', 0, 'x'}, topic[] = "t.a";
    relay_header h[] = {{"id", "e1", 2}, {"bin", "a\0b", 3}};
    relay_header extra[] = {{"outbox.dlq.reason", "r", 1}};
    relay_resend_msg m = {.seq = 7,
                          .flags = 1,
                          .topic = topic,
                          .key = key,
                          .key_len = 6,
                          .value = value,
                          .value_len = sizeof(value),
                          .headers = h,
                          .nheaders = 2};
    assert_int_equal(relay_resend_push(q, &m, extra, 1), 0);
    /* the second: no key, no value, no headers; an empty key is not a missing one */
    relay_resend_msg none = {.seq = 8, .topic = "t.b"};
    assert_int_equal(relay_resend_push(q, &none, NULL, 0), 0);
    relay_resend_msg empty_key = {.seq = 9, .topic = "t.b", .key = "", .value = ""};
    assert_int_equal(relay_resend_push(q, &empty_key, NULL, 0), 0);
    /* the caller's buffers change after the push: the queue has its own copies */
    memset(key, 'z', 6);
    value[3] = 'y';
    topic[0] = 'u';
    h[0].value = "XX";
    assert_int_equal(relay_resend_len(q), 3);

    const relay_resend_msg *got = relay_resend_peek(q);
    assert_int_equal(got->seq, 7);
    assert_int_equal(got->flags, 1);
    assert_string_equal(got->topic, "t.a");
    assert_int_equal(got->key_len, 6);
    assert_memory_equal(got->key, "post-1", 6);
    assert_int_equal(got->value_len, 4);
    assert_memory_equal(got->value, "\xc3\x01\0x", 4);
    assert_int_equal(got->nheaders, 3);
    assert_string_equal(got->headers[0].name, "id");
    assert_int_equal(got->headers[0].value_len, 2);
    assert_memory_equal(got->headers[0].value, "e1", 2);
    assert_int_equal(got->headers[1].value_len, 3);
    assert_memory_equal(got->headers[1].value, "a\0b", 3);
    assert_string_equal(got->headers[2].name, "outbox.dlq.reason");
    assert_memory_equal(got->headers[2].value, "r", 1);
    /* a push leaves the head where it is */
    relay_resend_msg later = {.seq = 10, .topic = "t.a"};
    assert_int_equal(relay_resend_push(q, &later, NULL, 0), 0);
    assert_ptr_equal(relay_resend_peek(q), got);
    relay_resend_pop(q);

    got = relay_resend_peek(q);
    assert_int_equal(got->seq, 8);
    assert_null(got->key);
    assert_null(got->value);
    assert_int_equal(got->nheaders, 0);
    relay_resend_pop(q);
    got = relay_resend_peek(q);
    assert_int_equal(got->seq, 9);
    assert_non_null(got->key);
    assert_int_equal(got->key_len, 0);
    assert_non_null(got->value);
    relay_resend_pop(q);
    assert_int_equal(relay_resend_peek(q)->seq, 10);
    assert_int_equal(relay_resend_len(q), 1);
    relay_resend_queue_free(q); /* frees what is still queued */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_topic_codes_are_held),
        cmocka_unit_test(test_other_codes),
        cmocka_unit_test(test_creation_decision),
        cmocka_unit_test(test_queue_keeps_order_and_exact_copies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
