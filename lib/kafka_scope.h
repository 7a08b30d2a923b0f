#ifndef OUTBOX_KAFKA_SCOPE_H
#define OUTBOX_KAFKA_SCOPE_H

/*
 * kafka_scope: which kind of client a librdkafka property is for, as librdkafka itself says
 * (the C/P column of rd_kafka_conf_properties_show(), the table CONFIGURATION.md is made
 * from), so a [kafka] list shared by a consumer and a producer can give each client only the
 * keys of its kind, without a hand-kept list that goes stale with the next librdkafka.
 *
 * Threads: any thread. The table is read from librdkafka once (pthread_once) and is read-only
 * afterwards.
 */

#include <stdbool.h>

#include <librdkafka/rdkafka.h>

typedef enum outbox_kafka_scope {
    OUTBOX_KAFKA_SCOPE_UNKNOWN = 0, /* not a property this librdkafka lists (or no memory) */
    OUTBOX_KAFKA_SCOPE_BOTH,        /* "*": any client */
    OUTBOX_KAFKA_SCOPE_CONSUMER,    /* "C" */
    OUTBOX_KAFKA_SCOPE_PRODUCER,    /* "P" */
} outbox_kafka_scope;

/* The scope of property `name` (global or topic-level, aliases included). */
outbox_kafka_scope outbox_kafka_property_scope(const char *name);

/* Whether a client of `type` uses property `name`: false only for a property librdkafka lists
 * as the other kind's (an unknown name is left to rd_kafka_conf_set to accept or reject). */
bool outbox_kafka_property_for(const char *name, rd_kafka_type_t type);

#endif
