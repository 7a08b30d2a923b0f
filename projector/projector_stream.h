#ifndef PROJECTOR_STREAM_H
#define PROJECTOR_STREAM_H

/*
 * projector_stream: GET /events/stream?projection=NAME, the applied and dead-lettered events of
 * a projection as Server-Sent Events.
 *
 *   id: 1764323456123456-a-3f0c...     a resume cursor (below)
 *   event: applied | failed
 *   data: {"id":..,"projection":..,"type":..,"aggregate_type":..,"aggregate_id":..,
 *          "status":"applied"|"failed","reason":null|..,"link":..}   (link: link.<Type>)
 *
 * Feed: one feeder thread per projection (projector_stream_feeder) holds its own connection to
 * the read database, LISTENs on the projection's notify channel and, on each notification,
 * reads the rows committed after its cursor from projector_dedup and projector_dead_letters
 * and publishes them on the projection's lib/http channel. No polling: the database is read
 * when the projector's batch transaction NOTIFYs after its COMMIT (and once after every
 * (re)connect, so nothing committed while it was away is lost). A client that falls more than
 * the channel's backlog behind is closed by lib/http; the projector never waits on clients
 * (it only sends its NOTIFY, as before).
 *
 * Cursor: "<at>-<k>-<event id>": at = applied_at / failed_at in microseconds since the epoch
 * (the batch transaction's start: every row of one batch shares it), k = 'a' applied or 'f'
 * failed, then the uuid. Rows are ordered by (at, k, id). One projection writes one batch at a
 * time (one thread), so a batch that commits later has a later `at`: a cursor taken after a
 * commit never skips a row committed after it. (Two daemons running the SAME projection would
 * break that order: the stream may then miss events of the overlapping batches.)
 *
 * Resume: a client that sends Last-Event-ID (EventSource does on reconnect) first gets the rows
 * after that cursor, read from the tables (so bounded by dedup-retention and the dead letters
 * kept), at most `replay_max`; when more were missed it gets `event: reset` (reload your state)
 * after them. Live events already replayed are skipped by the cursor.
 *
 * Filters: ?aggregate_type=T and/or ?aggregate_id=I keep only the matching events.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "buf.h"
#include "http.h"
#include "projector_batch.h"
#include "projector_projection.h"

#define PROJECTOR_CURSOR_MAX 64

/* A position in the stream: events sort by (at_us, kind, id). */
typedef struct projector_cursor {
    int64_t at_us;
    int kind; /* 0 applied, 1 failed; 2 = after both kinds at at_us (a head) */
    char id[PROJECTOR_UUID_LEN + 1];
} projector_cursor;

/* One event of the stream, as read from the tables. Strings borrowed (a PGresult's). */
typedef struct projector_stream_row {
    projector_cursor cursor;
    const char *event_type;     /* NULL when unknown */
    const char *aggregate_type; /* NULL when unknown */
    const char *aggregate_id;   /* NULL when unknown */
    const char *reason;         /* failed: why; NULL for applied */
} projector_stream_row;

/* "<at_us>-<a|f>-<id>" into out (PROJECTOR_CURSOR_MAX bytes). Pure. */
void projector_cursor_format(const projector_cursor *cursor, char out[PROJECTOR_CURSOR_MAX]);

/* Parse a Last-Event-ID value. 0, or -1 when it is not a cursor this module wrote. Pure. */
int projector_cursor_parse(const char *text, projector_cursor *cursor)
    __attribute__((warn_unused_result));

/* <0, 0, >0 as a sorts before, with, after b. Pure. */
int projector_cursor_cmp(const projector_cursor *a, const projector_cursor *b);

/* The link template expanded for the row, values percent-encoded (RFC 3986 unreserved kept).
 * malloc'd; NULL on ENOMEM or when tmpl is NULL. Pure. */
char *projector_link_expand(const char *tmpl, const char *id, const char *event_type,
                            const char *aggregate_type, const char *aggregate_id);

/* The `data:` JSON of a row (one line). malloc'd; NULL on ENOMEM. Pure. */
char *projector_stream_data(const char *projection, const projector_stream_row *row,
                            const char *link_tmpl);

/* The channel tag of an event: "<aggregate_type>\n<aggregate_id>" (absent parts empty).
 * malloc'd; NULL on ENOMEM. Pure. */
char *projector_stream_tag(const char *aggregate_type, const char *aggregate_id);

/* A connection's filter (lib/http stream filter): the aggregate it wants (NULL = any) and the
 * last replayed cursor (live events up to it were already sent). */
typedef struct projector_stream_filter {
    char *aggregate_type;
    char *aggregate_id;
    bool has_after;
    projector_cursor after;
} projector_stream_filter;

/* outbox_http_stream_filter for a projector_stream_filter: keep the event when it sorts after
 * `after` and matches the aggregate. Pure; any thread. */
int projector_stream_filter_accept(void *filter, const char *id, const char *tag);

/* Free a projector_stream_filter (outbox_http_response.stream_filter_free). */
void projector_stream_filter_free(void *filter);

/* Read at most `limit` rows of `projection` after `after`, in cursor order, into *res
 * (PQclear it). 0, or -1 with errstr (the query failed: reconnect). Blocking; the caller's
 * connection. */
int projector_stream_fetch(PGconn *conn, const char *projection, const projector_cursor *after,
                           int limit, PGresult **res, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* Row i of a projector_stream_fetch() result. */
void projector_stream_row_get(const PGresult *res, int i, projector_stream_row *row);

/* The feeder thread of one projection. */
typedef struct projector_stream_feeder projector_stream_feeder;

/* Start feeding `channel` from projection `proj` (its notify channel must not be empty) in
 * the database `conninfo`. All borrowed; they must outlive the feeder. NULL on ENOMEM or
 * when the thread cannot start (errstr). Main thread. */
projector_stream_feeder *
projector_stream_feeder_start(const projector_projection *proj, const char *conninfo,
                              outbox_http_channel *channel, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* Stop the thread (within ~0.5 s), close its connection, free. NULL is a no-op. Main thread. */
void projector_stream_feeder_stop(projector_stream_feeder *feeder);

#endif
