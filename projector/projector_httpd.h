#ifndef PROJECTOR_HTTPD_H
#define PROJECTOR_HTTPD_H

/*
 * projector_httpd: the projector's loopback HTTP routes on lib/http.
 *
 *   GET /metrics                 Prometheus text (projector_stats_render)
 *   GET /healthz                 200 "ok" when every projection runs; 503 listing the ones
 *                                starting, retrying (transient errors) or failed
 *   GET /events/{id}?projection=NAME   read-your-writes: where is event {id} in projection
 *                                NAME (the parameter may be left out when there is only one)
 *        200 {"status":"applied","applied_at":...}   its dedup row exists (committed)
 *        202 {"status":"pending"}                    not applied (yet), nor failed
 *        422 {"status":"failed","reason":...,"sqlstate":...,"dlq_topic":...}
 *                                                    dead-lettered (projector_dead_letters)
 *        400 bad id, 404 unknown projection, 503 read database unreachable
 *   An event applied once stays "applied" until its dedup row is pruned (dedup-retention):
 *   older events answer 202. An applied event of a type with link.<Type> also has "link".
 *   GET /events/stream?projection=NAME[&aggregate_type=T][&aggregate_id=I]
 *                                Server-Sent Events, one per applied or dead-lettered event
 *                                (projector_stream.h); Last-Event-ID (header, or the query
 *                                argument last_event_id) resumes; 409 when the projection
 *                                sends no NOTIFY, 503 past http.sse-max-clients
 *
 * Threads: handlers run on the server's connection threads; each projection's status lookup
 * uses its own connection under a mutex (opened lazily, reopened after a failure).
 */

#include <stddef.h>
#include <stdint.h>

#include "projector_batch.h"
#include "projector_settings.h"
#include "projector_stats.h"
#include "projector_stream.h"

typedef struct projector_httpd projector_httpd;

/* Start serving on bind:port. stats[i] belongs to settings->projections.items[i]; both are
 * borrowed and must outlive the server. NULL with errstr on failure. Main thread. */
projector_httpd *projector_httpd_start(const projector_settings *settings,
                                       projector_stats *const *stats, char *errstr,
                                       size_t errstr_size) __attribute__((warn_unused_result));

/* The bound port. */
uint16_t projector_httpd_port(const projector_httpd *httpd);

/* Stop serving, close the lookup connections, free. NULL is a no-op. Main thread. */
void projector_httpd_stop(projector_httpd *httpd);

/* What GET {path}?projection=... asks for, decided before any database work. */
typedef enum projector_httpd_events_rc {
    PROJECTOR_HTTPD_EVENTS_OK = 0,        /* *index and id are filled */
    PROJECTOR_HTTPD_EVENTS_NOT_EVENTS,    /* the path is not /events/...: no such route (404) */
    PROJECTOR_HTTPD_EVENTS_BAD_ID,        /* 400: the id is not a uuid */
    PROJECTOR_HTTPD_EVENTS_NO_PROJECTION, /* 404: no projection has that name */
    PROJECTOR_HTTPD_EVENTS_SAY_WHICH,     /* 404: several projections and no ?projection= */
} projector_httpd_events_rc;

/* Parse a decoded request path ("/events/<uuid>") and the decoded value of its `projection`
 * query argument (NULL when absent; may be left out when there is exactly one projection)
 * against projections[0..count). On OK, id holds the uuid in lowercase and *index the
 * projection. Pure; any thread. */
projector_httpd_events_rc projector_httpd_events_parse(
    const char *path, const char *projection, const projector_projection *projections, size_t count,
    char id[PROJECTOR_UUID_LEN + 1], size_t *index) __attribute__((warn_unused_result));

/* The JSON body and status for an event lookup result (pure; for tests): state is
 * "applied", "failed" or NULL (pending). malloc'd body; NULL on ENOMEM. */
char *projector_httpd_event_body(const char *projection, const char *id, const char *state,
                                 const char *at, const char *reason, const char *sqlstate,
                                 const char *dlq_topic, int *status);

/* The same with the resource link of an applied event ("link": the projection's
 * link.<EventType> expanded; NULL = none, also ignored unless applied). Pure. */
char *projector_httpd_event_body_link(const char *projection, const char *id, const char *state,
                                      const char *at, const char *reason, const char *sqlstate,
                                      const char *dlq_topic, const char *link, int *status);

/* What GET /events/stream?projection=NAME asks for. */
typedef enum projector_httpd_stream_rc {
    PROJECTOR_HTTPD_STREAM_OK = 0,        /* *index filled */
    PROJECTOR_HTTPD_STREAM_NO_PROJECTION, /* 404 */
    PROJECTOR_HTTPD_STREAM_SAY_WHICH,     /* 404: several projections and no ?projection= */
    PROJECTOR_HTTPD_STREAM_BAD_CURSOR,    /* 400: Last-Event-ID is not a cursor of this stream */
} projector_httpd_stream_rc;

/* Resolve the projection (NULL: the only one) and parse last_event_id (NULL or "": none) into
 * *after / *has_after. Pure; any thread. */
projector_httpd_stream_rc
projector_httpd_stream_parse(const char *projection, const char *last_event_id,
                             const projector_projection *projections, size_t count, size_t *index,
                             projector_cursor *after, bool *has_after)
    __attribute__((warn_unused_result));

#endif
