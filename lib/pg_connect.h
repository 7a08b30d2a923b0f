#ifndef OUTBOX_PG_CONNECT_H
#define OUTBOX_PG_CONNECT_H

/*
 * pg_connect: the one place that turns a daemon's postgres.conninfo into libpq's keyword/value
 * arrays. Our defaults (connect_timeout, fallback_application_name) come BEFORE the conninfo,
 * which goes in as "dbname" with expand_dbname = 1: libpq applies the settings of an expanded
 * dbname over the keywords before it, so whatever the user wrote (connect_timeout=30,
 * application_name=..., a postgresql:// URI's ?connect_timeout=30) wins over our defaults.
 * Only what a connection must have (replication=database for the relay's stream) comes after
 * it and is forced.
 *
 * Threads: any thread; nothing is shared between calls (a PGconn is used by one thread at a
 * time, as libpq requires).
 */

#include <libpq-fe.h>
#include <stddef.h>

/* How to connect. conninfo is the user's: key=value pairs, a postgresql:// URI, or a bare
 * database name. The strings are only read during the call. */
typedef struct outbox_pg_params {
    const char *conninfo;
    /* fallback_application_name (pg_stat_activity shows it unless the conninfo sets
     * application_name); NULL: none. */
    const char *application_name;
    /* connect_timeout in seconds unless the conninfo sets one; 0: no default (libpq then waits
     * as long as the operating system does). */
    int connect_timeout_s;
    /* NULL, or "database" for a logical replication connection: set AFTER the conninfo, so
     * the conninfo cannot turn it off. */
    const char *replication;
} outbox_pg_params;

typedef enum outbox_pg_connect_rc {
    OUTBOX_PG_CONNECT_OK = 0,
    OUTBOX_PG_CONNECT_ERR_FAILED, /* libpq could not connect: errstr has its reason */
    OUTBOX_PG_CONNECT_ERR_TLS,    /* the same, and the conninfo insists on TLS (sslmode require,
                                   * verify-ca, verify-full): errstr names those settings too */
    OUTBOX_PG_CONNECT_ERR_NOMEM,  /* libpq could not allocate a connection */
} outbox_pg_connect_rc;

/* A blocking connect (PQconnectdbParams). OK: *connp is the open connection. Any other code:
 * errstr (NULL: not wanted) says why on one line (outbox_pg_conn_error()'s text) and *connp is
 * the failed connection, still there to read (PQconninfo(), PQerrorMessage()), or NULL for
 * ERR_NOMEM. The caller owns *connp in every case and PQfinish()es it (PQfinish(NULL) does
 * nothing). */
outbox_pg_connect_rc outbox_pg_connect(const outbox_pg_params *params, PGconn **connp, char *errstr,
                                       size_t errstr_size) __attribute__((warn_unused_result));

/* A non-blocking start (PQconnectStartParams) for a caller that drives PQconnectPoll() itself:
 * the connection in progress (check PQstatus() for CONNECTION_BAD), or NULL when out of
 * memory. The caller owns it and PQfinish()es it. */
PGconn *outbox_pg_connect_start(const outbox_pg_params *params) __attribute__((warn_unused_result));

/* PQpingParams() on the same parameters: whether a server answers there (PQPING_OK,
 * PQPING_REJECT, PQPING_NO_RESPONSE, PQPING_NO_ATTEMPT). Blocking, bounded by the effective
 * connect_timeout. */
PGPing outbox_pg_ping(const outbox_pg_params *params);

#endif
