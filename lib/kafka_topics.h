#ifndef OUTBOX_KAFKA_TOPICS_H
#define OUTBOX_KAFKA_TOPICS_H

/*
 * kafka_topics: what the Kafka cluster says about topics, for the daemons' `check` (and the
 * relay's exactly-once state topic): whether its brokers create a topic on first use
 * (auto.create.topics.enable, read with DescribeConfigs), whether a topic is compacted, and
 * which of a list of topics exist (from the cluster's metadata, asked for all topics so that
 * asking never creates one).
 *
 * Blocking, each call bounded by timeout_ms. The rd_kafka_t is borrowed (any client type, e.g.
 * a daemon's producer handle) and used only by the calling thread during the call.
 */

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whether `name` is a legal Kafka topic name: 1-249 of [a-zA-Z0-9._-], not "." or "..". Pure. */
bool outbox_kafka_topic_name_valid(const char *name);

/* Whether `c` may stand in a Kafka topic name: [a-zA-Z0-9._-]. Pure. */
bool outbox_kafka_topic_char_valid(char c);

/* auto.create.topics.enable of every broker in the metadata: *all_on is true when each says
 * true; *off_broker is the id of one that says false (or -1). 0, or -1 with errstr (no
 * answer, or a broker that would not describe its configuration). */
int outbox_kafka_topics_auto_create(rd_kafka_t *rk, int timeout_ms, bool *all_on,
                                    int32_t *off_broker, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* missing[i] = whether topic names[i] is absent from the cluster. 0, or -1 with errstr. */
int outbox_kafka_topics_missing(rd_kafka_t *rk, const char *const *names, size_t n, bool *missing,
                                int timeout_ms, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* Whether `topic`'s cleanup.policy includes compact (*compact), read with DescribeConfigs.
 * 0, or -1 with errstr (the topic missing, or not described). */
int outbox_kafka_topics_compacted(rd_kafka_t *rk, const char *topic, int timeout_ms, bool *compact,
                                  char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

#endif
