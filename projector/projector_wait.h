#ifndef PROJECTOR_WAIT_H
#define PROJECTOR_WAIT_H

/*
 * projector_wait: `outbox-projector wait PROJECTION EVENT_ID --timeout 5s`, the client side
 * of read-your-writes: block until the projection applied the event (or dead-lettered it),
 * woken by LISTEN/NOTIFY, not by polling.
 *
 * On one connection to the projection's database:
 *   1. LISTEN "<channel>"   (the projection's notify channel; effective when it returns, so
 *                            every batch that commits from now on is heard)
 *   2. look the event up    (projector_dedup: applied; projector_dead_letters: failed) and
 *                            answer at once when it is settled
 *   3. wait on the socket with the remaining time; on each notification whose payload names
 *      the event (projector_notify_find: in "events" or "failed"), look it up again and answer.
 * Steps 1-2 in this order leave no gap: a batch that commits between the lookup and the wait
 * is already queued as a notification.
 *
 * A projection with `notify = ""` sends nothing: wait refuses it (error) rather than hang.
 *
 * Main thread; blocking; bounded by the timeout (plus connect_timeout to connect).
 */

#include <stddef.h>
#include <stdint.h>

typedef enum projector_wait_rc {
    PROJECTOR_WAIT_APPLIED = 0,
    PROJECTOR_WAIT_FAILED = 1,
    PROJECTOR_WAIT_TIMEOUT = 2,
    PROJECTOR_WAIT_ERROR = 3, /* could not tell: connection, missing tables, bad input */
} projector_wait_rc;

typedef struct projector_wait_request {
    const char *conninfo;   /* the projection's database */
    const char *projection; /* its name (the dedup rows' `projection`) */
    const char *channel;    /* its NOTIFY channel */
    const char *event_id;   /* a uuid, any case */
    int64_t timeout_ms;     /* >= 0 */
} projector_wait_request;

/*
 * Wait as described above. `detail` receives one human line: "applied at <ts>", "failed:
 * <reason> (SQLSTATE x, dead letter in <topic>)", "pending after 5000 ms", or the error.
 * Returns the outcome.
 */
projector_wait_rc projector_wait_run(const projector_wait_request *req, char *detail,
                                     size_t detail_size);

/* Parse a --timeout value: "250ms", "5s", "2m", "1h"; a plain number is seconds. 0, or -1 when
 * malformed or out of range (0 .. 24h). Pure. */
int projector_wait_timeout_parse(const char *text, int64_t *ms) __attribute__((warn_unused_result));

#endif
