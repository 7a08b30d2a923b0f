/* pg_connect: libpq's connection parameters, built in one place; a failed connection,
 * classified. */
#include "pg_connect.h"

#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errstr.h"
#include "pg_tls.h"

/* The keyword/value arrays of one connection (values point into params and timeout). */
typedef struct pg_kv {
    const char *keys[5];
    const char *values[5];
    char timeout[16];
} pg_kv;

static void pg_kv_add(pg_kv *kv, size_t *n, const char *key, const char *value)
{
    kv->keys[*n] = key;
    kv->values[*n] = value;
    (*n)++;
}

/* Defaults first, then the conninfo as an expanded dbname (its settings override the
 * defaults), then what must not be overridden. NULL-terminated. */
static void pg_kv_build(const outbox_pg_params *params, pg_kv *kv)
{
    size_t n = 0;
    if (params->connect_timeout_s > 0) {
        snprintf(kv->timeout, sizeof kv->timeout, "%d", params->connect_timeout_s);
        pg_kv_add(kv, &n, "connect_timeout", kv->timeout);
    }
    if (params->application_name != NULL)
        pg_kv_add(kv, &n, "fallback_application_name", params->application_name);
    pg_kv_add(kv, &n, "dbname", params->conninfo ? params->conninfo : "");
    if (params->replication != NULL)
        pg_kv_add(kv, &n, "replication", params->replication);
    kv->keys[n] = NULL;
    kv->values[n] = NULL;
}

/* ------------------------------------------------------------------ a failed connection */

outbox_pg_connect_phase outbox_pg_connect_phase_of(int conn_status)
{
    switch ((ConnStatusType)conn_status) {
    case CONNECTION_SSL_STARTUP:
        return OUTBOX_PG_PHASE_TLS;
    case CONNECTION_AWAITING_RESPONSE:
    case CONNECTION_AUTH_OK:
    case CONNECTION_SETENV:
        return OUTBOX_PG_PHASE_SERVER;
    case CONNECTION_CHECK_WRITABLE:
    case CONNECTION_CONSUME:
    case CONNECTION_CHECK_TARGET:
    case CONNECTION_CHECK_STANDBY:
        return OUTBOX_PG_PHASE_TARGET;
    default: /* STARTED, MADE, NEEDED, GSS_STARTUP (and OK, BAD: never a phase seen) */
        return OUTBOX_PG_PHASE_NETWORK;
    }
}

bool outbox_pg_connect_needs_ping(const outbox_pg_connect_failure *failure)
{
    return failure->phase == OUTBOX_PG_PHASE_SERVER && !failure->needs_password &&
           !failure->used_password;
}

outbox_pg_connect_cause outbox_pg_connect_classify(const outbox_pg_connect_failure *failure)
{
    if (failure->needs_password)
        return OUTBOX_PG_CAUSE_NO_PASSWORD;
    switch (failure->phase) {
    case OUTBOX_PG_PHASE_TLS:
        /* sslmode prefer or allow: libpq falls back without TLS itself; what is left is the
         * connection's own failure */
        return failure->tls_required ? OUTBOX_PG_CAUSE_TLS : OUTBOX_PG_CAUSE_NETWORK;
    case OUTBOX_PG_PHASE_SERVER:
        if (failure->used_password)
            return OUTBOX_PG_CAUSE_AUTH;
        /* PQPING_OK: the server answered with a SQLSTATE that is not 57P03, or accepts
         * connections: it is up and refuses this one. REJECT: 57P03 (starting up, shutting
         * down, in recovery). NO_RESPONSE: gone since. */
        return failure->ping == PQPING_OK ? OUTBOX_PG_CAUSE_REFUSED : OUTBOX_PG_CAUSE_NOT_NOW;
    case OUTBOX_PG_PHASE_TARGET:
        return OUTBOX_PG_CAUSE_TARGET;
    default:
        return OUTBOX_PG_CAUSE_NETWORK;
    }
}

bool outbox_pg_connect_cause_refused(outbox_pg_connect_cause cause)
{
    return cause == OUTBOX_PG_CAUSE_NO_PASSWORD || cause == OUTBOX_PG_CAUSE_AUTH ||
           cause == OUTBOX_PG_CAUSE_REFUSED;
}

const char *outbox_pg_connect_cause_fix(outbox_pg_connect_cause cause)
{
    switch (cause) {
    case OUTBOX_PG_CAUSE_NETWORK:
        return "PostgreSQL did not answer: is it running, and are host and port in "
               "postgres.conninfo right?";
    case OUTBOX_PG_CAUSE_TLS:
        return "TLS with PostgreSQL could not be set up: fix the TLS settings in "
               "postgres.conninfo named here (sslrootcert must be the CA that signed the "
               "server's certificate), or give the server a certificate that CA signed; retried "
               "with backoff, since a server may be getting a new certificate";
    case OUTBOX_PG_CAUSE_NO_PASSWORD:
        return "the server asks for a password and none is configured: give the role's password "
               "in postgres.conninfo (password, or passfile)";
    case OUTBOX_PG_CAUSE_AUTH:
        return "the server asked for the password, then refused: check the password in "
               "postgres.conninfo, and that the role may LOGIN into an existing database it may "
               "CONNECT to";
    case OUTBOX_PG_CAUSE_NOT_NOW:
        return "the server is starting up, shutting down or in recovery, or went away";
    case OUTBOX_PG_CAUSE_REFUSED:
        return "the server refuses this connection: check pg_hba.conf (a line for this host, "
               "database and user), that the role exists and may LOGIN, that the database "
               "exists and the role may CONNECT to it, and that max_connections leaves a slot";
    case OUTBOX_PG_CAUSE_TARGET:
        return "no server in postgres.conninfo matched target_session_attrs (a failover under "
               "way?)";
    }
    return "";
}

/* ------------------------------------------------------------------ connecting */

static int64_t pg_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The connection's connect_timeout in ms as libpq reads it (unset or <= 0: no bound,
 * INT64_MAX; 1 counts as 2 s). */
static int64_t pg_timeout_ms(PGconn *conn)
{
    int64_t ms = INT64_MAX;
    PQconninfoOption *opts = PQconninfo(conn);
    for (PQconninfoOption *o = opts; o && o->keyword; o++) {
        if (strcmp(o->keyword, "connect_timeout") != 0 || !o->val)
            continue;
        long sec = strtol(o->val, NULL, 10);
        if (sec > 0)
            ms = (int64_t)(sec < 2 ? 2 : sec) * 1000;
    }
    PQconninfoFree(opts);
    return ms;
}

/* poll() conn's socket for the step's direction, at most until deadline (in slices of a
 * minute). True: ready, interrupted, or the socket failed (PQconnectPoll() then says so);
 * false: the deadline passed. */
static bool pg_step_ready(PGconn *conn, PostgresPollingStatusType step, int64_t deadline)
{
    struct pollfd pfd = {.fd = PQsocket(conn),
                         .events = step == PGRES_POLLING_READING ? POLLIN : POLLOUT};
    if (pfd.fd < 0)
        return true; /* no socket to wait for: PQconnectPoll() says what happened */
    for (;;) {
        int64_t left = deadline - pg_mono_ms();
        if (left <= 0)
            return false;
        int n = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
        if (n != 0)
            return true;
    }
}

/* Whether the conninfo lists several hosts (host=a,b or hostaddr=x,y). */
static bool pg_several_hosts(PGconn *conn)
{
    bool several = false;
    PQconninfoOption *opts = PQconninfo(conn);
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if ((strcmp(o->keyword, "host") == 0 || strcmp(o->keyword, "hostaddr") == 0) && o->val &&
            strchr(o->val, ',') != NULL)
            several = true;
    PQconninfoFree(opts);
    return several;
}

/* Several hosts: libpq's own blocking loop, which gives up on a host that does not answer
 * within connect_timeout and tries the next (PQconnectPoll offers no way to skip a host). A
 * failure's phase is then not known: the server phase when a password was asked for (an
 * authentication failure), else the network's (retried). */
static PGconn *pg_attempt_several(const outbox_pg_params *params, int *last_status)
{
    pg_kv kv;
    pg_kv_build(params, &kv);
    PGconn *conn = PQconnectdbParams(kv.keys, kv.values, 1);
    *last_status = conn && (PQconnectionNeedsPassword(conn) || PQconnectionUsedPassword(conn))
                       ? CONNECTION_AWAITING_RESPONSE
                       : CONNECTION_STARTED;
    return conn;
}

/* PQconnectdbParams(), driven step by step with PQconnectPoll() so that a failure's phase is
 * known: *last_status is the last PQstatus() before the step that failed. connect_timeout
 * bounds each address's attempt as libpq's own loop does (a new socket: a new bound); when it
 * passes, *timed_out is set and the connection is returned unfinished. With several hosts,
 * pg_attempt_several(). NULL: out of memory. */
static PGconn *pg_attempt(const outbox_pg_params *params, int *last_status, bool *timed_out)
{
    PGconn *conn = outbox_pg_connect_start(params);
    PostgresPollingStatusType step = PGRES_POLLING_WRITING;
    int64_t timeout = conn ? pg_timeout_ms(conn) : 0, deadline = 0;
    int sock = -1;

    *last_status = CONNECTION_STARTED;
    *timed_out = false;
    if (!conn || PQstatus(conn) == CONNECTION_BAD)
        return conn;
    if (pg_several_hosts(conn)) {
        PQfinish(conn);
        return pg_attempt_several(params, last_status);
    }
    while (step != PGRES_POLLING_OK && step != PGRES_POLLING_FAILED) {
        if (PQsocket(conn) != sock) {
            sock = PQsocket(conn);
            deadline = timeout == INT64_MAX ? INT64_MAX : pg_mono_ms() + timeout;
        }
        if (!pg_step_ready(conn, step, deadline)) {
            *timed_out = true;
            break;
        }
        *last_status = PQstatus(conn);
        step = PQconnectPoll(conn);
    }
    return conn;
}

void outbox_pg_one_line(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = '\0';
    for (char *p = s; *p; p++)
        if (*p == '\n' || *p == '\t')
            *p = ' ';
}

/* A failed attempt: its cause (from libpq's codes) and what libpq said, into errstr. */
static outbox_pg_connect_cause pg_failure(PGconn *conn, const outbox_pg_params *params,
                                          int last_status, bool timed_out, char *errstr,
                                          size_t errstr_size)
{
    char msg[512], tls[1024];
    outbox_pg_connect_failure failure = {
        .phase = outbox_pg_connect_phase_of(last_status),
        .tls_required = outbox_pg_tls_describe(conn, tls, sizeof tls),
        .needs_password = PQconnectionNeedsPassword(conn) != 0,
        .used_password = PQconnectionUsedPassword(conn) != 0,
        .ping = PQPING_NO_RESPONSE,
    };
    if (!timed_out && outbox_pg_connect_needs_ping(&failure))
        failure.ping = outbox_pg_ping(params);
    if (timed_out)
        snprintf(msg, sizeof msg, "no answer within connect_timeout (%lld s)",
                 (long long)(pg_timeout_ms(conn) / 1000));
    else
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(conn));
    outbox_pg_one_line(msg);
    outbox_errstr_set(errstr, errstr_size, "%s%s%s", msg, failure.tls_required ? "; " : "", tls);
    return outbox_pg_connect_classify(&failure);
}

outbox_pg_connect_rc outbox_pg_connect_why(const outbox_pg_params *params, PGconn **connp,
                                           outbox_pg_connect_cause *causep, char *errstr,
                                           size_t errstr_size)
{
    outbox_pg_connect_cause cause = OUTBOX_PG_CAUSE_NETWORK;
    int last_status;
    bool timed_out;

    /* A refusal is confirmed by a second attempt: the ping that tells it from "starting up"
     * (57P03) may come just after the server finished starting. */
    for (int attempt = 1;; attempt++) {
        *connp = pg_attempt(params, &last_status, &timed_out);
        if (*connp == NULL) {
            outbox_errstr_set(errstr, errstr_size, "out of memory");
            return OUTBOX_PG_CONNECT_ERR_NOMEM;
        }
        if (!timed_out && PQstatus(*connp) == CONNECTION_OK)
            return OUTBOX_PG_CONNECT_OK;
        cause = pg_failure(*connp, params, last_status, timed_out, errstr, errstr_size);
        if (cause != OUTBOX_PG_CAUSE_REFUSED || attempt >= OUTBOX_PG_REFUSALS_TO_STOP)
            break;
        PQfinish(*connp);
    }
    if (causep != NULL)
        *causep = cause;
    if (outbox_pg_connect_cause_refused(cause))
        return OUTBOX_PG_CONNECT_ERR_REFUSED;
    return outbox_pg_tls_describe(*connp, NULL, 0) ? OUTBOX_PG_CONNECT_ERR_TLS
                                                   : OUTBOX_PG_CONNECT_ERR_FAILED;
}

outbox_pg_connect_rc outbox_pg_connect(const outbox_pg_params *params, PGconn **connp, char *errstr,
                                       size_t errstr_size)
{
    outbox_pg_connect_cause cause = OUTBOX_PG_CAUSE_NETWORK;
    char why[1600];
    outbox_pg_connect_rc rc = outbox_pg_connect_why(params, connp, &cause, why, sizeof why);
    if (rc == OUTBOX_PG_CONNECT_ERR_NOMEM)
        outbox_errstr_set(errstr, errstr_size, "%s", why);
    else if (rc != OUTBOX_PG_CONNECT_OK)
        outbox_errstr_set(errstr, errstr_size, "%s; %s", why, outbox_pg_connect_cause_fix(cause));
    return rc;
}

PGconn *outbox_pg_connect_start(const outbox_pg_params *params)
{
    pg_kv kv;
    pg_kv_build(params, &kv);
    return PQconnectStartParams(kv.keys, kv.values, 1);
}

PGPing outbox_pg_ping(const outbox_pg_params *params)
{
    pg_kv kv;
    pg_kv_build(params, &kv);
    return PQpingParams(kv.keys, kv.values, 1);
}
