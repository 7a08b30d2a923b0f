#include "publish.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_topics.h"

struct relay_publish {
    rd_kafka_t *rk;
    relay_publish_dr_cb *cb;
    void *ctx;
};

/* Delivery reports arrive here from rd_kafka_poll/flush, on the polling thread. The message
 * opaque is the transaction's sequence number shifted left once, with the dead-letter flag in
 * bit 0. */
static void publish_dr_msg(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    relay_publish *pub = opaque;
    if (msg->_private == RELAY_PUBLISH_OPAQUE_OWN)
        return;
    uint64_t tag = (uint64_t)(uintptr_t)msg->_private;
    relay_publish_report report = {
        .seq = tag >> 1,
        .dead_letter = (tag & 1) != 0,
        .bytes = msg->key_len + msg->len,
        .err = msg->err,
        .topic = rd_kafka_topic_name(msg->rkt),
        .reason = msg->err ? rd_kafka_err2str(msg->err) : NULL,
        .key = msg->key,
        .key_len = msg->key_len,
        .value = msg->payload,
        .value_len = msg->len,
    };
    if (rd_kafka_message_headers(msg, &report.headers) != RD_KAFKA_RESP_ERR_NO_ERROR)
        report.headers = NULL;
    if (pub->cb)
        pub->cb(pub->ctx, &report);
}

relay_publish_outcome relay_publish_classify(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
        return RELAY_PUBLISH_DELIVERED;
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
        return RELAY_PUBLISH_TOPIC_UNKNOWN;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
        return RELAY_PUBLISH_TOO_LARGE;
    default:
        return RELAY_PUBLISH_FAILED;
    }
}

relay_topic_creation relay_topic_creation_of(bool answered, bool all_on, bool producer_asks)
{
    if (!producer_asks || (answered && !all_on))
        return RELAY_TOPICS_NOT_CREATED;
    return answered ? RELAY_TOPICS_CREATED_ON_USE : RELAY_TOPICS_UNKNOWN;
}

/* Whether the producer asks brokers to create missing topics (allow.auto.create.topics,
 * librdkafka's producer default true). */
static bool producer_asks_creation(rd_kafka_t *rk)
{
    char value[16];
    size_t size = sizeof(value);
    if (rd_kafka_conf_get(rd_kafka_conf(rk), "allow.auto.create.topics", value, &size) !=
        RD_KAFKA_CONF_OK)
        return true;
    return strcmp(value, "false") != 0;
}

relay_topic_creation relay_publish_topic_creation(relay_publish *pub, int timeout_ms,
                                                  int32_t *off_broker, char *errstr,
                                                  size_t errstr_size)
{
    bool all_on = false;
    *off_broker = -1;
    bool asks = producer_asks_creation(pub->rk);
    bool answered = asks ? outbox_kafka_topics_auto_create(pub->rk, timeout_ms, &all_on, off_broker,
                                                           errstr, errstr_size) == 0
                         : false;
    if (!asks)
        snprintf(errstr, errstr_size, "kafka.allow.auto.create.topics = false");
    return relay_topic_creation_of(answered, all_on, asks);
}

relay_topic_state relay_publish_topic_state(relay_publish *pub, const char *topic, int timeout_ms,
                                            char *errstr, size_t errstr_size)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(pub->rk, topic, NULL);
    if (!rkt) {
        snprintf(errstr, errstr_size, "topic %s: %s", topic,
                 rd_kafka_err2str(rd_kafka_last_error()));
        return RELAY_TOPIC_NO_ANSWER;
    }
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(pub->rk, 0, rkt, &md, timeout_ms);
    relay_topic_state st = RELAY_TOPIC_NO_ANSWER;
    if (err) {
        snprintf(errstr, errstr_size, "no metadata from the cluster: %s", rd_kafka_err2str(err));
    } else if (md->topic_cnt < 1) {
        snprintf(errstr, errstr_size, "the cluster's metadata does not mention topic %s", topic);
        st = RELAY_TOPIC_NOT_READY;
    } else {
        err = md->topics[0].err;
        st = err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topics[0].partition_cnt > 0
                 ? RELAY_TOPIC_PRESENT
             : err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ? RELAY_TOPIC_ABSENT
                                                              : RELAY_TOPIC_NOT_READY;
        snprintf(errstr, errstr_size, "the cluster says of topic %s: %s", topic,
                 err ? rd_kafka_err2str(err) : "no partitions");
    }
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return st;
}

/* The relay's choices where the user set nothing: the Java client's partitioner (same key, same
 * partition as Debezium or any Java producer), a short linger for batching, lz4. */
static const outbox_conf_kafka_default relay_kafka_defaults[] = {
    {"partitioner", "murmur2_random"},
    {"linger.ms", "5"},
    {"compression.type", "lz4"},
    {NULL, NULL},
};

rd_kafka_conf_t *relay_publish_conf(const outbox_conf *conf, char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *kconf = rd_kafka_conf_new();
    if (outbox_conf_kafka_apply_defaults(conf, kconf, relay_kafka_defaults, errstr, errstr_size) !=
            0 ||
        (conf != NULL && outbox_conf_kafka_apply(conf, kconf, errstr, errstr_size) != 0)) {
        rd_kafka_conf_destroy(kconf);
        return NULL;
    }
    return kconf;
}

int relay_publish_new(rd_kafka_conf_t *conf, relay_publish_dr_cb *cb, void *ctx,
                      relay_publish **out, char *errstr, size_t errstr_size)
{
    relay_publish *pub = calloc(1, sizeof(*pub));
    if (!pub) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    pub->cb = cb;
    pub->ctx = ctx;
    /* The guarantees: never relaxed by configuration. */
    if (rd_kafka_conf_set(conf, "enable.idempotence", "true", errstr, errstr_size) ||
        rd_kafka_conf_set(conf, "acks", "all", errstr, errstr_size))
        goto fail;
    rd_kafka_conf_set_dr_msg_cb(conf, publish_dr_msg);
    rd_kafka_conf_set_opaque(conf, pub);
    pub->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errstr_size);
    if (!pub->rk)
        goto fail;
    conf = NULL; /* now owned by rk */
    *out = pub;
    return 0;
fail:
    if (conf)
        rd_kafka_conf_destroy(conf);
    free(pub);
    return -1;
}

rd_kafka_resp_err_t relay_publish_send(relay_publish *pub, const char *topic, const void *key,
                                       size_t key_len, const void *value, size_t value_len,
                                       const relay_header *headers, size_t nheaders,
                                       const relay_header *extra, size_t nextra, uint64_t seq,
                                       int flags, char *errstr, size_t errstr_size)
{
    uint64_t tag = seq << 1 | ((flags & RELAY_PUBLISH_DEAD_LETTER) ? 1 : 0);
    rd_kafka_headers_t *hdrs = rd_kafka_headers_new(nheaders + nextra);
    for (size_t i = 0; i < nheaders; i++)
        rd_kafka_header_add(hdrs, headers[i].name, -1, headers[i].value,
                            (ssize_t)headers[i].value_len);
    for (size_t i = 0; i < nextra; i++)
        rd_kafka_header_add(hdrs, extra[i].name, -1, extra[i].value, (ssize_t)extra[i].value_len);
    rd_kafka_resp_err_t err =
        rd_kafka_producev(pub->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key_len),
                          RD_KAFKA_V_VALUE((void *)(uintptr_t)value, value_len),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
                          RD_KAFKA_V_OPAQUE((void *)(uintptr_t)tag), RD_KAFKA_V_END);
    if (err) {
        rd_kafka_headers_destroy(hdrs); /* not taken over on failure */
        snprintf(errstr, errstr_size, "produce to %s: %s", topic, rd_kafka_err2str(err));
    }
    return err;
}

int relay_publish_poll(relay_publish *pub, int timeout_ms)
{
    return rd_kafka_poll(pub->rk, timeout_ms);
}

int relay_publish_flush(relay_publish *pub, int timeout_ms)
{
    rd_kafka_resp_err_t err = rd_kafka_flush(pub->rk, timeout_ms);
    return err == RD_KAFKA_RESP_ERR_NO_ERROR && rd_kafka_outq_len(pub->rk) == 0 ? 0 : -1;
}

int relay_publish_fatal(relay_publish *pub, char *errstr, size_t errstr_size)
{
    return rd_kafka_fatal_error(pub->rk, errstr, errstr_size) != RD_KAFKA_RESP_ERR_NO_ERROR;
}

int relay_publish_outq_len(relay_publish *pub)
{
    return rd_kafka_outq_len(pub->rk);
}

int relay_publish_ping(relay_publish *pub, int timeout_ms, char *errstr, size_t errstr_size)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(pub->rk, 0, NULL, &md, timeout_ms);
    if (err) {
        snprintf(errstr, errstr_size, "Kafka metadata request failed: %s", rd_kafka_err2str(err));
        return -1;
    }
    int brokers = md->broker_cnt;
    rd_kafka_metadata_destroy(md);
    if (brokers < 1) {
        snprintf(errstr, errstr_size, "Kafka cluster reports no brokers");
        return -1;
    }
    return 0;
}

void relay_publish_purge(relay_publish *pub)
{
    rd_kafka_purge(pub->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
}

rd_kafka_t *relay_publish_handle(relay_publish *pub)
{
    return pub->rk;
}

void relay_publish_free(relay_publish *pub)
{
    if (!pub)
        return;
    if (pub->rk)
        rd_kafka_destroy(pub->rk);
    free(pub);
}
