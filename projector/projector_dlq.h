#ifndef PROJECTOR_DLQ_H
#define PROJECTOR_DLQ_H

/*
 * projector_dlq: dead-letter records, and the wait for Kafka's acknowledgement.
 *
 * A dead event goes to `<its topic><suffix>` (default suffix ".dlq") with the original key and
 * value unchanged, every original header, and:
 *   dlq.reason             why (PostgreSQL's message, or the decode error)
 *   dlq.sqlstate           the SQLSTATE (absent for undecodable records)
 *   dlq.projection         the projection that gave up on it
 *   dlq.original.topic     where it was read
 *   dlq.original.partition
 *   dlq.original.offset
 * projector_dlq_send() returns only when Kafka acknowledged (acks=all, idempotent producer)
 * every record it sent, or failed: the batch's offsets are committed past a dead event only
 * after that, so a crash or a broker failure can duplicate a dead letter but never lose one.
 *
 * Threads: one projection thread owns a dlq (delivery reports are served by its own flush).
 */

#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "projector_batch.h"

typedef struct projector_dlq projector_dlq;

/*
 * A producer from `conf` (the [kafka] passthrough already applied; acks=all and idempotence
 * are set here). Takes ownership of conf on success (caller sets its pointer to NULL); on
 * failure the caller still owns it and errstr says why.
 */
projector_dlq *projector_dlq_new(rd_kafka_conf_t *conf, const char *projection, const char *suffix,
                                 char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* Flush for at most timeout_ms, then destroy. NULL is a no-op. */
void projector_dlq_free(projector_dlq *dlq, int timeout_ms);

/*
 * Send every DEAD event of the batch whose dlq_sent is false (ev->msg must be its
 * rd_kafka_message_t) and wait up to timeout_ms for all acknowledgements. Events acknowledged
 * get dlq_sent = true. Returns the number of records sent and acknowledged (0 when there was
 * nothing to send), or -1 when any failed or timed out (errstr says which; retry later: the
 * ones acknowledged are not sent again).
 */
long projector_dlq_send(projector_dlq *dlq, projector_batch *batch, int timeout_ms, char *errstr,
                        size_t errstr_size) __attribute__((warn_unused_result));

#endif
