#ifndef RELAY_RELAY_INTERNAL_H
#define RELAY_RELAY_INTERNAL_H

/*
 * The relay's loop, one step at a time, without a replication connection: for relay.c's own
 * loop and for tests that feed it captured pgoutput frames (tests/fixtures/pgoutput) while its
 * producer talks to a real or mock Kafka cluster. Not part of the daemon's interface.
 *
 * Same thread rules as relay.h: everything on the thread that created the relay.
 */

#include <stdbool.h>
#include <stdint.h>

#include "pgoutput.h"
#include "relay.h"

/* Start the bookkeeping of a stream at `start_lsn` (the slot's confirmed position): a fresh
 * acknowledgement tracker, nothing received beyond start. 0, or -1 with errstr (ENOMEM). */
int relay_loop_begin(relay *r, uint64_t start_lsn, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* Handle one XLogData frame (one pgoutput message): route, encode and produce events, file dead
 * letters. Returns 0, or -1 when the relay failed (relay_loop_failed() says why). */
int relay_loop_xlogdata(relay *r, const relay_pgoutput_xlogdata *x)
    __attribute__((warn_unused_result));

/* Handle a primary keepalive: the server's WAL end, and whether it wants a reply. */
void relay_loop_keepalive(relay *r, const relay_pgoutput_keepalive *k);

/* Serve delivery reports (waiting at most timeout_ms for the first) and, when streaming, a due
 * status update. 0, or a negative relay_stream error with errstr. */
int relay_loop_service(relay *r, int timeout_ms, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* Wait, serving delivery reports, until Kafka acknowledged what is in flight, at most
 * timeout_ms. */
void relay_loop_drain(relay *r, int64_t timeout_ms);

/* The highest LSN that may be confirmed now (everything before it delivered). */
uint64_t relay_loop_confirmable(const relay *r);

/* Messages handed to the producer and not yet acknowledged. */
size_t relay_loop_inflight(const relay *r);

/* Whether the relay failed (it then confirms nothing more), and why (NULL: not failed). */
const char *relay_loop_failure(const relay *r);

#endif
