#ifndef RELAY_SLOTHEALTH_H
#define RELAY_SLOTHEALTH_H

/*
 * relay_slothealth: how close the replication slot is to being invalidated. PostgreSQL keeps
 * the WAL a slot needs only up to max_slot_wal_keep_size; past it the slot's wal_status becomes
 * 'unreserved' (the next checkpoint removes the WAL) and then 'lost' (the slot can no longer
 * stream: the events written since its confirmed position are gone from the WAL).
 *
 * relay_slothealth_classify() is pure; relay_slothealth_query() does one round trip on an
 * ordinary connection. Thread-safety: none needed (no state).
 */

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

typedef enum relay_slot_health {
    RELAY_SLOT_OK = 0,
    RELAY_SLOT_AT_RISK = 1, /* unreserved, or under a fifth of max_slot_wal_keep_size left */
    RELAY_SLOT_LOST = 2     /* invalidated: wal_status = 'lost' */
} relay_slot_health;

typedef struct relay_slot_state {
    relay_slot_health health;
    char wal_status[16];    /* reserved, extended, unreserved, lost ("" when NULL) */
    int64_t retained_bytes; /* WAL from the slot's restart_lsn to the current position */
    int64_t safe_bytes;     /* safe_wal_size: WAL left before it is at risk; -1: unlimited */
    int64_t keep_bytes;     /* max_slot_wal_keep_size in bytes; -1: unlimited */
} relay_slot_state;

/* The health of a slot from its wal_status (NULL or "" when unknown), safe_wal_size (-1: NULL)
 * and max_slot_wal_keep_size in bytes (-1: unlimited). */
relay_slot_health relay_slothealth_classify(const char *wal_status, int64_t safe_bytes,
                                            int64_t keep_bytes);

/* "ok", "at_risk" or "lost". */
const char *relay_slothealth_name(relay_slot_health h);

/* Read the state of `slot` on `conn`. 0, 1 when the slot does not exist, -1 with errstr. */
int relay_slothealth_query(PGconn *conn, const char *slot, relay_slot_state *out, char *errstr,
                           size_t errstr_size) __attribute__((warn_unused_result));

#endif
