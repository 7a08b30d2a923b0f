#ifndef RELAY_LAG_H
#define RELAY_LAG_H

/*
 * relay_lag: the commit times of transactions received and not yet confirmed, in commit order,
 * so the relay can tell how old its oldest unconfirmed transaction is (lag in seconds) and the
 * commit time of the newest confirmed one.
 *
 * Pure: no I/O, no clock. Ownership: the caller owns the ring. Thread-safety: none (the relay's
 * loop thread only).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct relay_lag relay_lag;

/* An empty ring, or NULL on ENOMEM. Free with relay_lag_free(). */
relay_lag *relay_lag_new(void) __attribute__((warn_unused_result));
void relay_lag_free(relay_lag *lag);

/* Forget everything (a new stream starts from the slot's position). */
void relay_lag_reset(relay_lag *lag);

/* A transaction ending at `end_lsn`, committed at `commit_us`, awaits confirmation. Returns 0,
 * or -1 on ENOMEM (the ring is unchanged: only the metric is off). */
int relay_lag_push(relay_lag *lag, uint64_t end_lsn, int64_t commit_us)
    __attribute__((warn_unused_result));

/* Everything up to `confirmed` was confirmed: drop those transactions. Returns true when any
 * was dropped, with *last_commit_us the commit time of the newest of them. */
bool relay_lag_confirm(relay_lag *lag, uint64_t confirmed, int64_t *last_commit_us);

/* Commit time of the oldest unconfirmed transaction, 0 when there is none. */
int64_t relay_lag_oldest(const relay_lag *lag);

/* Transactions awaiting confirmation. */
size_t relay_lag_len(const relay_lag *lag);

#endif
