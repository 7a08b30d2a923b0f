#ifndef RELAY_ACK_H
#define RELAY_ACK_H

/*
 * relay_ack: which WAL position may be confirmed to PostgreSQL.
 *
 * The heart of "nothing lost". Transactions are tracked in commit order, each with the number
 * of its messages (events and dead letters) not yet acknowledged by Kafka. The confirmable
 * LSN is the end LSN of the longest prefix of committed transactions whose every message was
 * delivered; when nothing is open or in flight, the last idle position reported by the server
 * (keepalive WAL end), so that an idle slot does not hold WAL. After a permanent delivery
 * failure the tracker is failed: the confirmable LSN never moves again (fail closed).
 *
 * Pure: no I/O, no clock. Not thread-safe: one thread (the relay's main loop, where librdkafka
 * delivery reports are served by rd_kafka_poll) calls every function.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

typedef struct relay_ack relay_ack;

/* A new tracker starting at `start_lsn` (the slot's confirmed position). NULL on ENOMEM.
 * The caller owns it and frees it with relay_ack_free(). */
relay_ack *relay_ack_new(uint64_t start_lsn) __attribute__((warn_unused_result));
void relay_ack_free(relay_ack *ack);

/* A transaction started (pgoutput Begin). Returns its sequence number, used by the calls
 * below and carried in each message's opaque, or 0 on ENOMEM or when a transaction is already
 * open (pgoutput v1 never interleaves transactions). */
uint64_t relay_ack_txn_begin(relay_ack *ack) __attribute__((warn_unused_result));

/* One more message of the open transaction `seq` was handed to the producer: `bytes` of it
 * count towards the in-flight total until delivered. Returns 0, or -1 if seq is not open. */
int relay_ack_txn_add(relay_ack *ack, uint64_t seq, size_t bytes)
    __attribute__((warn_unused_result));

/* One more message of transaction `seq` (open, or committed and not yet confirmable because
 * one of its messages is still in flight) will be handed to the producer: e.g. the dead letter
 * of a message the broker refused, filed from its delivery report. The transaction stays
 * unconfirmable until that message is delivered too. Returns 0, or -1 if seq is not tracked or
 * has nothing in flight (it may already be confirmable). */
int relay_ack_txn_extend(relay_ack *ack, uint64_t seq, size_t bytes)
    __attribute__((warn_unused_result));

/* The open transaction `seq` committed; `end_lsn` is the Commit message's end LSN, the position
 * to confirm once all its messages are delivered. Returns 0, or -1 if seq is not open or the
 * LSN goes backwards. */
int relay_ack_txn_commit(relay_ack *ack, uint64_t seq, uint64_t end_lsn)
    __attribute__((warn_unused_result));

/* Kafka acknowledged one message of transaction `seq` (a successful delivery report).
 * Returns 0, or -1 for a report that matches no outstanding message (a bug upstream). */
int relay_ack_delivered(relay_ack *ack, uint64_t seq, size_t bytes)
    __attribute__((warn_unused_result));

/* A message could not be delivered (permanent error after retries): fail closed. */
void relay_ack_fail(relay_ack *ack);
bool relay_ack_failed(const relay_ack *ack);

/* The server reported `lsn` as its position (keepalive WAL end: everything before it was sent).
 * Ignored while a transaction is open; used once nothing is open or in flight. */
void relay_ack_idle(relay_ack *ack, uint64_t lsn);

/* The highest LSN that may be confirmed now. Never decreases. */
uint64_t relay_ack_confirmable(relay_ack *ack);

/* Bytes and messages handed to the producer and not yet delivered; transactions tracked. */
size_t relay_ack_inflight_bytes(const relay_ack *ack);
size_t relay_ack_inflight_messages(const relay_ack *ack);
size_t relay_ack_txns(const relay_ack *ack);

#endif
