#ifndef RELAY_RESEND_H
#define RELAY_RESEND_H

/*
 * relay_resend: messages to hand to the producer again, in the order they are queued.
 *
 * librdkafka fails the messages it holds for a topic it cannot place on a partition (the
 * cluster did not know the topic within topic.metadata.propagation.max.ms: a broker outage
 * when the topic's first events came, a topic being auto-created) before sending them; the
 * relay copies each out of its delivery report into this queue, in report order (which is
 * produce order for one topic), and queues every later message behind them, so that nothing
 * overtakes an earlier message of its key when they are produced again.
 *
 * Pure: no I/O. Ownership: the queue owns copies of everything pushed. Thread-safety: none
 * (the relay's loop thread, where delivery reports are served).
 */

#include <stddef.h>
#include <stdint.h>

#include "route.h"

typedef struct relay_resend_msg {
    uint64_t seq; /* its transaction (relay_ack) */
    int flags;    /* RELAY_PUBLISH_* */
    const char *topic;
    const void *key; /* NULL: no key (kept apart from an empty one) */
    size_t key_len;
    const void *value; /* NULL: no value */
    size_t value_len;
    const relay_header *headers;
    size_t nheaders;
} relay_resend_msg;

typedef struct relay_resend_queue relay_resend_queue;

/* An empty queue, or NULL on ENOMEM. */
relay_resend_queue *relay_resend_queue_new(void) __attribute__((warn_unused_result));
void relay_resend_queue_free(relay_resend_queue *queue);

/* Copy `msg` to the end of the queue, its headers followed by `extra` (nextra of them) as the
 * copy's headers. 0, or -1 on ENOMEM (nothing queued). */
int relay_resend_push(relay_resend_queue *queue, const relay_resend_msg *msg,
                      const relay_header *extra, size_t nextra) __attribute__((warn_unused_result));

/* The oldest queued message (valid until it is popped; pushes leave it alone), or NULL. */
const relay_resend_msg *relay_resend_peek(const relay_resend_queue *queue);
void relay_resend_pop(relay_resend_queue *queue);

/* Messages queued. */
size_t relay_resend_len(const relay_resend_queue *queue);

#endif
