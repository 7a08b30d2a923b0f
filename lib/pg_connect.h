#ifndef OUTBOX_PG_CONNECT_H
#define OUTBOX_PG_CONNECT_H

/*
 * pg_connect: the one place that turns a daemon's postgres.conninfo into libpq's keyword/value
 * arrays. Our defaults (connect_timeout, fallback_application_name) come BEFORE the conninfo,
 * which goes in as "dbname" with expand_dbname = 1: libpq applies the settings of an expanded
 * dbname over the keywords before it, so whatever the user wrote (connect_timeout=30,
 * application_name=..., a postgresql:// URI's ?connect_timeout=30) wins over our defaults.
 * Only what a connection must have (replication=database for the relay's stream) comes after
 * it and is forced. A connection that fails is classified here too (the one copy: the relay's
 * stream, the projector's store and every other connection use it): whether the server refused
 * it, and what to fix.
 *
 * Threads: any thread; nothing is shared between calls (a PGconn is used by one thread at a
 * time, as libpq requires).
 */

#include <libpq-fe.h>
#include <stdbool.h>
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
    OUTBOX_PG_CONNECT_ERR_FAILED,  /* libpq could not connect: errstr has its reason */
    OUTBOX_PG_CONNECT_ERR_TLS,     /* the same, and the conninfo insists on TLS (sslmode require,
                                    * verify-ca, verify-full): errstr names those settings too */
    OUTBOX_PG_CONNECT_ERR_NOMEM,   /* libpq could not allocate a connection */
    OUTBOX_PG_CONNECT_ERR_REFUSED, /* the server answered and refused this connection (password,
                                    * role, LOGIN, database, pg_hba.conf, a connection limit):
                                    * retrying cannot help until someone changes something,
                                    * unless a limit passes. What to do is the caller's: see
                                    * outbox_pg_connect_cause_refused() */
} outbox_pg_connect_rc;

/* ------------------------------------------------------------------ a failed connection
 * A failed connection attempt has no SQLSTATE in libpq, and its message text is not an
 * interface (it is translated, and changes between versions): it is classified from libpq's
 * codes instead: the phase the attempt failed in (the last PQstatus() before CONNECTION_BAD,
 * known because the attempt is driven with PQconnectPoll()), the conninfo's sslmode,
 * PQconnectionNeedsPassword(), PQconnectionUsedPassword() and, for a refusal without a password,
 * PQpingParams() (libpq's own reading of the server's SQLSTATE: 57P03 "cannot connect now" is a
 * REJECT). The functions below are pure. */

/* Where a connection attempt failed: the last PQstatus() before it became CONNECTION_BAD. */
typedef enum outbox_pg_connect_phase {
    OUTBOX_PG_PHASE_NETWORK, /* reaching the server (resolve, TCP, the startup packet): no
                                answer from it yet */
    OUTBOX_PG_PHASE_TLS,     /* negotiating TLS: the answer to SSLRequest, the handshake,
                                sslmode's certificate and host name checks */
    OUTBOX_PG_PHASE_SERVER,  /* the server answered the startup packet: authentication and
                                the session's start (role, database, REPLICATION). libpq may
                                read AuthenticationOk and a refusal in one step, so the two
                                are one phase */
    OUTBOX_PG_PHASE_TARGET,  /* connected, but target_session_attrs refused the server */
} outbox_pg_connect_phase;

/* outbox_pg_connect() tries again at once after a refusal, and reports ERR_REFUSED only when
 * this many attempts in a row were refused by a server that pings up: the ping that tells a
 * refusal from "starting up" (57P03) may come just after the server finished starting. */
#define OUTBOX_PG_REFUSALS_TO_STOP 2

/* Why an attempt failed, and so whether retrying can help (outbox_pg_connect_cause_refused()). */
typedef enum outbox_pg_connect_cause {
    OUTBOX_PG_CAUSE_NETWORK,     /* the server did not answer: retriable */
    OUTBOX_PG_CAUSE_TLS,         /* sslmode insists on TLS and TLS could not be set up (the
                                    certificate does not verify, the server has no TLS, a file
                                    is missing): retriable, the message names the fix */
    OUTBOX_PG_CAUSE_NO_PASSWORD, /* the server wants a password and none is configured:
                                    refused */
    OUTBOX_PG_CAUSE_AUTH,        /* a password was sent, then the server refused: refused */
    OUTBOX_PG_CAUSE_NOT_NOW,     /* refused, and a ping finds the server starting up, shutting
                                    down or in recovery (PQPING_REJECT) or gone: retriable */
    OUTBOX_PG_CAUSE_REFUSED,     /* refused, and a ping finds the server up: pg_hba.conf, the
                                    role, LOGIN, the database, REPLICATION, 53300: refused once
                                    OUTBOX_PG_REFUSALS_TO_STOP attempts in a row said so */
    OUTBOX_PG_CAUSE_TARGET,      /* no host matched target_session_attrs: retriable */
} outbox_pg_connect_cause;

/* What libpq said about a failed attempt. */
typedef struct outbox_pg_connect_failure {
    outbox_pg_connect_phase phase;
    bool tls_required;   /* the conninfo's sslmode is require, verify-ca or verify-full */
    bool needs_password; /* PQconnectionNeedsPassword() */
    bool used_password;  /* PQconnectionUsedPassword() */
    int ping;            /* a PGPing, when outbox_pg_connect_needs_ping() asked for one */
} outbox_pg_connect_failure;

/* The phase of a libpq ConnStatusType (as int) seen before the failure. Pure. */
outbox_pg_connect_phase outbox_pg_connect_phase_of(int conn_status);

/* True when only a PQpingParams() can tell a refusal from a server not ready yet: failed after
 * the server answered, without a password exchanged. Pure. */
bool outbox_pg_connect_needs_ping(const outbox_pg_connect_failure *failure);

/* The cause of a failed attempt (ping is read only when needs_ping said so). Pure. */
outbox_pg_connect_cause outbox_pg_connect_classify(const outbox_pg_connect_failure *failure);

/* True for the causes where the server answered and refused this connection (NO_PASSWORD,
 * AUTH, REFUSED): OUTBOX_PG_CONNECT_ERR_REFUSED. The others are worth retrying. Pure. */
bool outbox_pg_connect_cause_refused(outbox_pg_connect_cause cause);

/* What to do about a cause, naming the settings ("check pg_hba.conf ..."), for any daemon's
 * postgres.conninfo (a daemon with its own needs, the relay's REPLICATION, words its own for
 * AUTH and REFUSED). Static. Pure. */
const char *outbox_pg_connect_cause_fix(outbox_pg_connect_cause cause);

/* libpq's messages end with a newline and may have several lines: s on one line, in place
 * (trailing newlines and spaces cut, inner newlines and tabs made spaces). Pure. */
void outbox_pg_one_line(char *s);

/* ------------------------------------------------------------------ connecting */

/*
 * A blocking connect, driven with PQconnectPoll() so that a failure is classified (above);
 * connect_timeout (the conninfo's, else params->connect_timeout_s) bounds each address's
 * attempt. A refusal by a server that pings up is confirmed by a second attempt at once.
 * OK: *connp is the open connection. Any other code: *causep (may be NULL) says why, errstr
 * (NULL: not wanted) says what libpq said on one line ("no answer within connect_timeout (N s)"
 * when that passed), then, when the conninfo insists on TLS, outbox_pg_tls_describe()'s text,
 * WITHOUT a fix (see outbox_pg_connect()); *connp is the failed connection, still there to read
 * (PQconninfo(), PQerrorMessage()), or NULL for ERR_NOMEM. ERR_REFUSED when
 * outbox_pg_connect_cause_refused(*causep), else ERR_TLS when the conninfo insists on TLS, else
 * ERR_FAILED. The caller owns *connp in every case and PQfinish()es it (PQfinish(NULL) does
 * nothing).
 */
outbox_pg_connect_rc outbox_pg_connect_why(const outbox_pg_params *params, PGconn **connp,
                                           outbox_pg_connect_cause *causep, char *errstr,
                                           size_t errstr_size) __attribute__((warn_unused_result));

/* outbox_pg_connect_why(), with outbox_pg_connect_cause_fix()'s text after the reason in
 * errstr ("reason; fix"). */
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
