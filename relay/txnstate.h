#ifndef RELAY_TXNSTATE_H
#define RELAY_TXNSTATE_H

/*
 * relay_txnstate: the exactly-once relay's state record in Kafka (relay.exactly-once; the
 * engine is relay/txn.h).
 *
 * One record per Kafka transaction, written in the SAME transaction as the events it covers, to
 * a compacted topic (relay.state-topic): key = the relay's transactional id, value = format
 * version 1:
 *
 *     byte 0      0x01 (the format version)
 *     bytes 1..8  end LSN of the last PostgreSQL transaction the Kafka transaction covers,
 *                 unsigned 64-bit big-endian
 *
 * plus a header `outbox.state.lsn` with the LSN as text (%X/%X), for people reading the topic
 * with kcat; the decoder never looks at it. A record of another version is refused (a newer
 * relay wrote it): the relay stops rather than guess.
 *
 * The codec is pure. The other functions block (each bounded by a timeout) and use the
 * librdkafka handles they are given only during the call, on the calling thread.
 */

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define RELAY_TXNSTATE_VERSION 1
#define RELAY_TXNSTATE_SIZE 9 /* version 1's value */

typedef enum relay_txnstate_rc {
    RELAY_TXNSTATE_OK = 0,
    RELAY_TXNSTATE_ERR_FORMAT = -1,    /* a record that is not a state record we can read */
    RELAY_TXNSTATE_ERR_RETRIABLE = -2, /* Kafka did not answer in time, or a transient error */
    RELAY_TXNSTATE_ERR_FATAL = -3,     /* out of memory, a bad setting, not authorized */
} relay_txnstate_rc;

/* The value of a state record for `end_lsn` into out (RELAY_TXNSTATE_SIZE bytes). Pure. */
void relay_txnstate_encode(uint64_t end_lsn, uint8_t out[RELAY_TXNSTATE_SIZE]);

/* Decode a state record's value into *end_lsn. RELAY_TXNSTATE_OK, or ERR_FORMAT with errstr
 * naming what is wrong (empty, unknown version, wrong length). Pure. */
relay_txnstate_rc relay_txnstate_decode(const void *value, size_t len, uint64_t *end_lsn,
                                        char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* Create `topic` (one partition, the brokers' replication factor, cleanup.policy=compact) when
 * it does not exist. OK when created or already there; ERR_RETRIABLE when Kafka did not answer;
 * ERR_FATAL when it may not be created (errstr says how to create it by hand). `rk` is
 * borrowed: any client (the relay's producer). */
relay_txnstate_rc relay_txnstate_topic_ensure(rd_kafka_t *rk, const char *topic, int timeout_ms,
                                              char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* Read `topic` to its end with isolation.level=read_committed (a consumer of its own from the
 * [kafka] settings, no group, nothing committed) and set *end_lsn to the LSN of the last record
 * keyed `key` (the highest over partitions; 0 when there is none or the last is a tombstone).
 * Only committed transactions count: run it after rd_kafka_init_transactions() aborted what the
 * previous holder of the transactional id left open, else the read waits for that. */
relay_txnstate_rc relay_txnstate_read(const outbox_conf *conf, const char *topic, const char *key,
                                      int timeout_ms, uint64_t *end_lsn, char *errstr,
                                      size_t errstr_size) __attribute__((warn_unused_result));

#endif
