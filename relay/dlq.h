#ifndef RELAY_DLQ_H
#define RELAY_DLQ_H

/*
 * relay_dlq: what a dead letter looks like: its class (one metric label each), its topic (the
 * dlq.topic template with ${topic} = the event's topic, or dlq.fallback-topic when the event
 * has no topic or the template makes no legal topic of it) and the headers that say why.
 *
 * Pure: no I/O. Any thread.
 */

#include <stddef.h>

#include "buf.h"
#include "route.h"

/* Dead-letter classes: a property of the event, never of the relay. One metric label each. */
typedef enum relay_dlq_reason {
    RELAY_DLQ_INVALID_JSON,
    RELAY_DLQ_NULL_COLUMN,
    RELAY_DLQ_UNKNOWN_EVENT_TYPE,
    RELAY_DLQ_SCHEMA_MISMATCH,
    RELAY_DLQ_INVALID_TOPIC,
    RELAY_DLQ_REGISTRY_REJECTED,
    RELAY_DLQ_BAD_TABLE,
    RELAY_DLQ_TOO_LARGE, /* Kafka refused the record as too large: a small record, no payload */
    RELAY_DLQ_REASONS
} relay_dlq_reason;

/* The class's name ("invalid_json", ...): the outbox.dlq.class header and the metric label. */
const char *relay_dlq_reason_name(relay_dlq_reason why);

/* The dead-letter topic of an event whose topic is `event_topic` under `template`,
 * NUL-terminated in `out` (reset first); `fallback` when the event has no topic (NULL) or the
 * template makes a name Kafka refuses (e.g. a 249-character topic + ".dlq"). 0, or -1 on
 * ENOMEM. */
int relay_dlq_topic(const char *template, const char *fallback, const char *event_topic,
                    outbox_buf *out) __attribute__((warn_unused_result));

/* Whether `template` makes a legal Kafka topic name with ${topic} standing for a short legal
 * topic (a template with another character, or another placeholder, never can). Pure. */
bool relay_dlq_template_valid(const char *template);

#define RELAY_DLQ_NHEADERS 4

/* The dead letter's own headers (outbox.dlq.reason, .class, .topic, .source) into `out`; they
 * point to `reason` and `intended_topic` (NULL: ""), which must outlive them. Returns how many. */
size_t relay_dlq_headers(relay_dlq_reason why, const char *reason, const char *intended_topic,
                         relay_header out[RELAY_DLQ_NHEADERS]);

/* How many of the event's own headers (beyond the relay's reserved ones) and how many of their
 * bytes a too-large dead letter carries at most, so that it stays small. */
#define RELAY_DLQ_TOO_LARGE_MAX_HEADERS 64
#define RELAY_DLQ_TOO_LARGE_HEADER_BYTES 8192

/* The headers of an event's too-large dead letter, chosen from its `n` headers `in`: every
 * relay header (relay_route_header_reserved(): id, event_type, aggregate_type, aggregate_id,
 * outbox.*), then the others in order within the limits above. Writes at most `cap` to `out`
 * (pointing into `in`'s strings) and returns how many; *omitted is how many were left out. */
size_t relay_dlq_too_large_headers(const relay_header *in, size_t n, relay_header *out, size_t cap,
                                   size_t *omitted);

#endif
