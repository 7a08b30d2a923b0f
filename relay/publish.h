#ifndef RELAY_PUBLISH_H
#define RELAY_PUBLISH_H

/*
 * relay_publish: the relay's Kafka producer (librdkafka), idempotent with acks=all.
 *
 * Every message carries the sequence number of its transaction (see relay_ack); each delivery
 * report is handed to the caller's callback with it, from relay_publish_poll() /
 * relay_publish_flush(), on the calling thread. Only the thread that created the producer
 * calls these functions.
 */

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "route.h"

typedef struct relay_publish relay_publish;

/* A delivery report. `err` is RD_KAFKA_RESP_ERR_NO_ERROR on success; otherwise the message is
 * lost for good (librdkafka retried until message.timeout.ms, or the broker refused it, e.g.
 * RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE). Everything points into librdkafka's message and is
 * valid only during the callback (copy what is kept). */
typedef struct relay_publish_report {
    uint64_t seq;     /* the transaction's sequence number given to relay_publish_send */
    bool dead_letter; /* sent with RELAY_PUBLISH_DEAD_LETTER */
    size_t bytes;     /* what relay_publish_send counted for it (key + value) */
    rd_kafka_resp_err_t err;
    const char *topic;
    const char *reason; /* NULL on success */
    const void *key;    /* NULL: the message had no key */
    size_t key_len;
    const void *value; /* NULL: the message had no value (a too-large dead letter) */
    size_t value_len;
    rd_kafka_headers_t *headers; /* may be NULL */
} relay_publish_report;

/* What a delivery report's (or relay_publish_send's) error code means to the relay, by
 * librdkafka's enum code only. */
typedef enum relay_publish_outcome {
    RELAY_PUBLISH_DELIVERED = 0, /* no error */
    RELAY_PUBLISH_TOPIC_UNKNOWN, /* the cluster did not know the topic when the message was to
                                    be partitioned (RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC from
                                    librdkafka, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART from a
                                    broker): never sent, no idempotence sequence taken; may be
                                    produced again (relay_publish_topic_creation() says whether
                                    waiting can help) */
    RELAY_PUBLISH_TOO_LARGE,     /* RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE */
    RELAY_PUBLISH_FAILED,        /* anything else: lost for good */
} relay_publish_outcome;

/* The outcome of error code `err`. Pure; any thread. */
relay_publish_outcome relay_publish_classify(rd_kafka_resp_err_t err);

/* Whether a topic Kafka does not know will come into being by itself on first use. */
typedef enum relay_topic_creation {
    RELAY_TOPICS_CREATED_ON_USE = 0, /* every broker has auto.create.topics.enable = true and
                                        the producer asks for it (allow.auto.create.topics) */
    RELAY_TOPICS_NOT_CREATED,        /* a broker answered auto.create.topics.enable = false, or
                                        kafka.allow.auto.create.topics = false */
    RELAY_TOPICS_UNKNOWN,            /* no answer: brokers unreachable (or DescribeConfigs
                                        refused); errstr says why */
} relay_topic_creation;

/* The decision from what was learned: `answered` (the brokers described their configuration),
 * `all_on` (each said auto.create.topics.enable = true), `producer_asks`
 * (allow.auto.create.topics). Pure; any thread. */
relay_topic_creation relay_topic_creation_of(bool answered, bool all_on, bool producer_asks);

/* Ask the cluster (metadata, then DescribeConfigs of each broker; each bounded by timeout_ms, so
 * up to about twice that and a second when the brokers are down) whether a missing topic is
 * created on first use. *off_broker: the id of a broker that said false, or -1. errstr says
 * why for RELAY_TOPICS_UNKNOWN. Blocking; the thread that owns pub. */
relay_topic_creation relay_publish_topic_creation(relay_publish *pub, int timeout_ms,
                                                  int32_t *off_broker, char *errstr,
                                                  size_t errstr_size);

/* What a metadata request for one topic says (relay_publish_topic_state). */
typedef enum relay_topic_state {
    RELAY_TOPIC_PRESENT = 0, /* it has partitions; the producer's own view is updated too */
    RELAY_TOPIC_ABSENT,      /* UNKNOWN_TOPIC_OR_PART (the request asked brokers that create
                                topics on first use to create it) */
    RELAY_TOPIC_NOT_READY,   /* another topic error, e.g. LEADER_NOT_AVAILABLE while created */
    RELAY_TOPIC_NO_ANSWER,   /* no broker answered within the timeout */
} relay_topic_state;

/* Ask the cluster about `topic` (a metadata request for it alone, bounded by timeout_ms; it
 * asks for auto-creation like the producer's own requests do). errstr says what was answered
 * for any state but PRESENT. Blocking; the thread that owns pub. */
relay_topic_state relay_publish_topic_state(relay_publish *pub, const char *topic, int timeout_ms,
                                            char *errstr, size_t errstr_size);

typedef void(relay_publish_dr_cb)(void *ctx, const relay_publish_report *report);

/* The opaque of a message the caller produced itself on relay_publish_handle() (the exactly-once
 * state record, relay/txn.c): its delivery report is not handed to the callback. */
#define RELAY_PUBLISH_OPAQUE_OWN ((void *)UINTPTR_MAX)

/* relay_publish_send flags. */
#define RELAY_PUBLISH_DEAD_LETTER 0x1 /* the message is a dead letter (reported as such) */

/* The producer configuration from the user's [kafka] list (conf; NULL = none): the relay's
 * defaults for the properties the user did not set, partitioner=murmur2_random (the Java
 * client's: same key, same partition as Debezium or any Java producer), linger.ms=5,
 * compression.type=lz4, then every [kafka] key the user set, unchanged (also one equal to
 * librdkafka's own default, e.g. compression.type=none). The caller owns the result (hand it
 * to relay_publish_new); NULL with errstr when librdkafka refuses a [kafka] key. Main thread. */
rd_kafka_conf_t *relay_publish_conf(const outbox_conf *conf, char *errstr, size_t errstr_size);

/* Create the producer from `conf` (ownership taken, also on failure; the caller sets its
 * pointer to NULL), usually relay_publish_conf()'s. Forces enable.idempotence=true and
 * acks=all: what the relay's guarantees depend on is not configurable. */
int relay_publish_new(rd_kafka_conf_t *conf, relay_publish_dr_cb *cb, void *ctx,
                      relay_publish **out, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* Enqueue one message (copied), `headers` then `extra` as its headers, `flags`
 * RELAY_PUBLISH_*. Returns 0; RD_KAFKA_RESP_ERR__QUEUE_FULL when librdkafka's queue is full
 * (poll, then retry); RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE for a message above
 * kafka.message.max.bytes; RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC (RELAY_PUBLISH_TOPIC_UNKNOWN) while
 * librdkafka holds the topic for absent (until its next metadata answer says otherwise);
 * another error code with errstr for a message that can never be sent. The report's `bytes` is key
 * + value length, for the in-flight count. */
rd_kafka_resp_err_t relay_publish_send(relay_publish *pub, const char *topic, const void *key,
                                       size_t key_len, const void *value, size_t value_len,
                                       const relay_header *headers, size_t nheaders,
                                       const relay_header *extra, size_t nextra, uint64_t seq,
                                       int flags, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* Serve delivery reports, waiting at most timeout_ms for the first. Returns how many. */
int relay_publish_poll(relay_publish *pub, int timeout_ms);

/* Wait until every message is delivered or failed, at most timeout_ms. Returns 0 when nothing
 * is left in flight, -1 otherwise. */
int relay_publish_flush(relay_publish *pub, int timeout_ms) __attribute__((warn_unused_result));

/* Drop every message librdkafka has not yet sent, and stop waiting for those sent (their
 * reports come with a purge error from relay_publish_poll). What is already on the wire may
 * still land. */
void relay_publish_purge(relay_publish *pub);

/* A fatal producer error (idempotence broken): non-zero and errstr set. Then the relay must
 * stop without confirming anything more. */
int relay_publish_fatal(relay_publish *pub, char *errstr, size_t errstr_size);

/* Messages librdkafka still holds (queued or in flight). */
int relay_publish_outq_len(relay_publish *pub);

/* Whether the cluster answers a metadata request within timeout_ms (for `check`). */
int relay_publish_ping(relay_publish *pub, int timeout_ms, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* The librdkafka handle, for statistics; still owned by pub. */
rd_kafka_t *relay_publish_handle(relay_publish *pub);

/* Flush nothing, destroy the producer: undelivered messages are dropped (their transactions
 * are then never confirmed). */
void relay_publish_free(relay_publish *pub);

#endif
