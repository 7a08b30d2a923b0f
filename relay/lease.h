#ifndef RELAY_LEASE_H
#define RELAY_LEASE_H

/*
 * relay_lease: which of several relays with the same configuration may stream the slot. The
 * lease is a session advisory lock, keyed by the slot's name, held on a dedicated (ordinary,
 * non-replication) connection whose idle_session_timeout is the lease's time to live: the
 * holder renews it (a round trip) well within that time; a holder that is killed, paused or cut
 * off from the server loses the session, hence the lock, after at most the TTL, and a standby
 * polling for the lock takes over.
 *
 * A holder that was paused cannot know from its own memory whether it still holds the lease, so
 * relay_lease_check() must pass before anything is produced or confirmed: it trusts the lease
 * only when the last successful renewal started less than a third of a TTL ago, and otherwise
 * renews synchronously (which fails on a session the server ended).
 *
 * The loop thread renews through its checks. While it is inside a long call (a registry request
 * bounded by registry.timeout, which may well exceed the TTL; a reconnect), a keeper thread
 * renews for it, but only while the loop's last check is less than the keep-alive bound old: a
 * loop stuck longer stops being covered and loses the lease to a standby. A paused process
 * pauses its keeper too, so a pause past the TTL still ends the lease.
 *
 * Ownership: the caller owns the lease (relay_lease_free). Thread-safety: the functions below
 * are for the relay's loop thread; the lease's own keeper thread shares the session under a
 * mutex, so the session is reached only through relay_lease_query().
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

typedef enum relay_lease_rc {
    RELAY_LEASE_HELD = 0,     /* we hold it (acquired or renewed) */
    RELAY_LEASE_BUSY = 1,     /* another session holds it */
    RELAY_LEASE_ERR_CONN = -1 /* no connection, or the session ended: not held */
} relay_lease_rc;

typedef struct relay_lease relay_lease;

/* A lease on `slot` over `conninfo` (both copied), with time to live ttl_ms; the keeper covers a
 * loop thread that checked the lease less than keepalive_ms ago (0: no keeper). NULL on ENOMEM. */
relay_lease *relay_lease_new(const char *conninfo, const char *slot, int64_t ttl_ms,
                             int64_t keepalive_ms) __attribute__((warn_unused_result));

/* The keep-alive bound for a TTL and the longest the loop thread blocks between two checks (a
 * registration's two registry requests; exactly-once's Kafka calls): that plus 5 s, at least
 * 10 s and 3 TTLs. Pure. */
int64_t relay_lease_keepalive_ms(int64_t ttl_ms, int64_t longest_block_ms);
void relay_lease_free(relay_lease *l);

/* Try once to take the lease (connecting first when needed). HELD, BUSY, or ERR_CONN with
 * errstr. */
relay_lease_rc relay_lease_try(relay_lease *l, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* Keep the lease: renew when a third of the TTL passed since the last renewal, and before
 * anything is trusted when half of it passed. HELD, or ERR_CONN (lost) with errstr. Call before
 * producing and before confirming; cheap (a clock read) when the lease is fresh. */
relay_lease_rc relay_lease_check(relay_lease *l, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* Whether the lease is held (as of the last check). */
bool relay_lease_held(relay_lease *l);

/* The replication slot's active walsender, when the lease was just taken: the previous holder
 * lost its lease, so its walsender is ended (waiting at most wait_ms). Returns the pid ended,
 * 0 when the slot was not active, or -1 with errstr. */
int relay_lease_end_previous(relay_lease *l, int64_t wait_ms, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* Run fn(conn, arg) on the lease's session, under its mutex, for occasional short queries of the
 * holder (the slot's health): a query that fails there means the lease is lost, as the next
 * check finds. Returns fn's result, or -1 without calling it when there is no session. */
typedef int (*relay_lease_query_fn)(PGconn *conn, void *arg);
int relay_lease_query(relay_lease *l, relay_lease_query_fn fn, void *arg);

/* Give the lease up (closes its session). */
void relay_lease_release(relay_lease *l);

#endif
