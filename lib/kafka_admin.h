#ifndef OUTBOX_KAFKA_ADMIN_H
#define OUTBOX_KAFKA_ADMIN_H

/*
 * kafka_admin: the frame of one blocking librdkafka admin request (CreateTopics,
 * DescribeConfigs, ...): its options with the request timeout set, a result queue of its own,
 * the bounded wait for the result event, and the release of all three. The caller builds the
 * request's own objects (NewTopic, ConfigResource), issues it on adm.opts / adm.queue and reads
 * the result, so each caller keeps its own error messages.
 *
 * Threads: one outbox_kafka_admin belongs to the thread that set it up; the rd_kafka_t is
 * borrowed (any client type) for the call and must outlive outbox_kafka_admin_done.
 */

#include <librdkafka/rdkafka.h>
#include <stddef.h>

typedef struct outbox_kafka_admin {
    rd_kafka_AdminOptions_t *opts; /* owned; pass to the rd_kafka_<Op>() call */
    rd_kafka_queue_t *queue;       /* owned; pass to the rd_kafka_<Op>() call */
    rd_kafka_event_t *ev;          /* owned; the result, once outbox_kafka_admin_wait has it */
} outbox_kafka_admin;

/* Sets up adm for one request of kind `op` on rk whose brokers must answer within timeout_ms.
 * 0, or -1 with errstr (out of memory, or a timeout librdkafka refuses). Call
 * outbox_kafka_admin_done afterwards in either case. */
int outbox_kafka_admin_init(outbox_kafka_admin *adm, rd_kafka_t *rk, rd_kafka_admin_op_t op,
                            int timeout_ms, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* Waits for the result of the request issued on adm->queue, at most timeout_ms plus one second
 * (so the broker's own timeout answers first). The event, owned by adm (freed by
 * outbox_kafka_admin_done), or NULL when none came in time. */
rd_kafka_event_t *outbox_kafka_admin_wait(outbox_kafka_admin *adm, int timeout_ms)
    __attribute__((warn_unused_result));

/* Releases the result event, the queue and the options (whichever exist), in reverse order of
 * creation; adm may then be set up again. */
void outbox_kafka_admin_done(outbox_kafka_admin *adm);

#endif
