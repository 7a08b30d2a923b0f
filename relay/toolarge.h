#ifndef RELAY_TOOLARGE_H
#define RELAY_TOOLARGE_H

/*
 * relay_toolarge: records the broker refused as too large (a delivery report with
 * RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE), copied out of librdkafka's message while the report is
 * served, queued until the loop files their small dead letters (relay.on-too-large =
 * dead-letter). Only what the dead letter needs is kept: topic, key, size and the headers
 * relay_dlq_too_large_headers() chooses, never the payload.
 *
 * Pure: no I/O. Ownership: the queue owns its items. Thread-safety: none (the relay's loop
 * thread, where delivery reports are served).
 */

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "route.h"

typedef struct relay_toolarge {
    uint64_t seq;      /* the refused record's transaction */
    size_t size;       /* its key + value + header bytes */
    const char *topic; /* where it was refused; NULL: the event had no topic */
    const char *key;
    size_t key_len;
    const relay_header *headers; /* chosen for the dead letter */
    size_t nheaders;
    size_t omitted; /* headers of the record left out */
} relay_toolarge;

typedef struct relay_toolarge_queue relay_toolarge_queue;

/* An empty queue, or NULL on ENOMEM. */
relay_toolarge_queue *relay_toolarge_queue_new(void) __attribute__((warn_unused_result));
void relay_toolarge_queue_free(relay_toolarge_queue *queue);

/* Copy a refused record into the queue (its headers may be NULL). 0, or -1 on ENOMEM. */
int relay_toolarge_push(relay_toolarge_queue *queue, uint64_t seq, const char *topic,
                        const void *key, size_t key_len, size_t value_len,
                        rd_kafka_headers_t *headers) __attribute__((warn_unused_result));

/* The oldest queued record (valid until it is popped), or NULL. */
const relay_toolarge *relay_toolarge_peek(const relay_toolarge_queue *queue);
void relay_toolarge_pop(relay_toolarge_queue *queue);

/* librdkafka's headers as relay_headers pointing into them (valid while they are), in a
 * malloc'd array the caller frees; *n set. NULL with *n 0 when there are none (hdrs NULL or
 * empty); NULL with *n > 0 on ENOMEM. */
relay_header *relay_headers_view(rd_kafka_headers_t *hdrs, size_t *n);

/* Copy len bytes of s and a NUL to *pos, advance *pos past them and return the copy: how a
 * queued record packs its strings into the one allocation that holds it. Pure. */
char *relay_pack(char **pos, const void *s, size_t len);

/* Bytes of a record: key, value, and each header's name and value. */
size_t relay_record_size(size_t key_len, size_t value_len, const relay_header *headers,
                         size_t nheaders);

#endif
