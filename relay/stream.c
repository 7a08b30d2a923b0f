/*
 * relay_stream: the replication connection (see stream.h).
 *
 * States: IDLE (command mode: slot_ensure, slot_drop, start), STREAMING (CopyBoth, reading and
 * sending status updates), CLOSING (we sent CopyDone and read until the server's), ENDING (the
 * COPY is over, collecting the command's results), BROKEN (the connection is unusable; only
 * close remains).
 */
#include "errstr.h"
#include "pg_connect.h"
#include "stream.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef enum stream_state {
    STREAM_IDLE,
    STREAM_STREAMING,
    STREAM_CLOSING,
    STREAM_ENDING,
    STREAM_BROKEN,
} stream_state;

struct relay_stream {
    PGconn *conn;
    stream_state state;
    relay_stream_system system;
    char *copybuf;         /* the last CopyData frame read; freed by the next read */
    bool want_write;       /* PQflush left output queued */
    bool copy_end_pending; /* the server ended the COPY; our CopyDone is still to be queued */
    int end_rc;            /* while ENDING: the first error seen, else RELAY_STREAM_END */
    char end_msg[512];     /* ...and its message */
    char sqlstate[6];
    uint64_t sent_flushed; /* highest flushed LSN reported: never report less */
};

/* ------------------------------------------------------------------ errors */

/* What a SQLSTATE means for the caller. */
static int classify_sqlstate(const char *sqlstate)
{
    if (!sqlstate || !*sqlstate)
        return RELAY_STREAM_ERR_RETRIABLE; /* no server error: the connection itself failed */
    if (strncmp(sqlstate, "08", 2) == 0)   /* connection exception */
        return RELAY_STREAM_ERR_RETRIABLE;
    if (strncmp(sqlstate, "53", 2) == 0) /* insufficient resources: too many connections */
        return RELAY_STREAM_ERR_RETRIABLE;
    if (strcmp(sqlstate, "57P01") == 0 || /* admin shutdown, pg_terminate_backend() */
        strcmp(sqlstate, "57P02") == 0 || /* crash shutdown */
        strcmp(sqlstate, "57P03") == 0)   /* cannot connect now: starting, in recovery */
        return RELAY_STREAM_ERR_RETRIABLE;
    /* 55006 slot in use, 42501 privilege, 42704 missing slot/publication, 28xxx auth, ... */
    return RELAY_STREAM_ERR_FATAL;
}

/* ------------------------------------------------------------------ a failed connection */

int relay_stream_connect_cause_result(outbox_pg_connect_cause cause)
{
    return outbox_pg_connect_cause_refused(cause) ? RELAY_STREAM_ERR_REFUSED
                                                  : RELAY_STREAM_ERR_RETRIABLE;
}

const char *relay_stream_connect_cause_fix(outbox_pg_connect_cause cause)
{
    switch (cause) {
    case OUTBOX_PG_CAUSE_AUTH:
        return "the server asked for the password, then refused: check the password in "
               "postgres.conninfo, and that the role may LOGIN with REPLICATION (or is superuser) "
               "into an existing database it may CONNECT to";
    case OUTBOX_PG_CAUSE_REFUSED:
        return "the server refuses the relay: check pg_hba.conf (a `replication` line for this "
               "host and user), that the role may LOGIN with REPLICATION (or is superuser), "
               "that the database exists and the role may CONNECT to it, and that "
               "max_wal_senders and max_connections leave the relay a slot";
    default:
        return outbox_pg_connect_cause_fix(cause);
    }
}

/* The connection's current error, classified as a lost connection unless the server said more. */
static int conn_error(relay_stream *stream, const char *what, char *errstr, size_t errstr_size)
{
    char msg[512];

    snprintf(msg, sizeof(msg), "%s", stream->conn ? PQerrorMessage(stream->conn) : "no connection");
    outbox_pg_one_line(msg);
    if (!stream->conn || PQstatus(stream->conn) == CONNECTION_BAD)
        stream->state = STREAM_BROKEN;
    outbox_errstr_set(errstr, errstr_size, "%s: %s", what, msg[0] ? msg : "connection lost");
    return RELAY_STREAM_ERR_RETRIABLE;
}

/* An error result from the server: message, SQLSTATE, classification. */
static int result_error(relay_stream *stream, const PGresult *res, const char *what, char *errstr,
                        size_t errstr_size)
{
    const char *sqlstate = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
    char msg[512];

    if (!primary) {
        snprintf(msg, sizeof(msg), "%s",
                 res && *PQresultErrorMessage(res) ? PQresultErrorMessage(res)
                                                   : PQerrorMessage(stream->conn));
        outbox_pg_one_line(msg);
    } else if (detail) {
        snprintf(msg, sizeof(msg), "%s (%s)", primary, detail);
        outbox_pg_one_line(msg);
    } else {
        snprintf(msg, sizeof(msg), "%s", primary);
    }
    snprintf(stream->sqlstate, sizeof(stream->sqlstate), "%s", sqlstate ? sqlstate : "");
    if (PQstatus(stream->conn) == CONNECTION_BAD)
        stream->state = STREAM_BROKEN;
    if (sqlstate)
        outbox_errstr_set(errstr, errstr_size, "%s: %s (SQLSTATE %s)", what, msg, sqlstate);
    else
        outbox_errstr_set(errstr, errstr_size, "%s: %s", what, msg[0] ? msg : "connection lost");
    return classify_sqlstate(sqlstate);
}

/* ------------------------------------------------------------------ helpers */

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Now in PostgreSQL-epoch microseconds, the clock of a status update. */
static int64_t pg_now_usec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return relay_pgoutput_time_from_unix_usec((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

/* PostgreSQL's rule for slot names: 1-63 of lower-case letters, digits, underscore. */
static bool slot_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;

    if (n == 0 || n > RELAY_STREAM_SLOT_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

static int check_state(relay_stream *stream, stream_state want, const char *what, char *errstr,
                       size_t errstr_size)
{
    static const char *const names[] = {"idle", "streaming", "closing", "ending", "broken"};

    if (!stream) {
        outbox_errstr_set(errstr, errstr_size, "%s: no stream", what);
        return RELAY_STREAM_ERR_FATAL;
    }
    if (stream->state == want)
        return RELAY_STREAM_OK;
    if (stream->state == STREAM_BROKEN) {
        outbox_errstr_set(errstr, errstr_size, "%s: the connection is broken", what);
        return RELAY_STREAM_ERR_RETRIABLE;
    }
    outbox_errstr_set(errstr, errstr_size, "%s: not allowed while %s", what, names[stream->state]);
    return RELAY_STREAM_ERR_FATAL;
}

/* Wait until fd is ready for `events` or the deadline passes. 1 ready (or interrupted: look
 * again), 0 timeout, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    struct pollfd pfd = {.fd = fd, .events = events, .revents = 0};
    int64_t left = deadline - mono_ms();
    int n;

    if (pfd.fd < 0)
        return -1;
    if (left <= 0)
        return 0;
    n = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
    if (n < 0 && errno == EINTR)
        return 1; /* let the caller look again */
    return n < 0 ? -1 : (n > 0 ? 1 : 0);
}

/* Wait until the connection's socket is ready for `events` or the deadline passes. */
static int wait_socket(relay_stream *stream, short events, int64_t deadline)
{
    return wait_fd(PQsocket(stream->conn), events, deadline);
}

/* ------------------------------------------------------------------ open, close */

int relay_stream_open(const char *conninfo, relay_stream **streamp, char *errstr,
                      size_t errstr_size)
{
    /* 10 s unless the conninfo sets connect_timeout; replication=database whatever it says */
    const outbox_pg_params pgparams = {.conninfo = conninfo,
                                       .application_name = "outbox-relay",
                                       .connect_timeout_s = 10,
                                       .replication = "database"};
    relay_stream *stream = NULL;
    PQconninfoOption *options = NULL;
    PGresult *res = NULL;
    char *parse_error = NULL;
    char msg[512], why[1600];
    int rc;

    if (streamp)
        *streamp = NULL;
    if (!streamp || !conninfo) {
        outbox_errstr_set(errstr, errstr_size, "relay_stream_open: no conninfo");
        rc = RELAY_STREAM_ERR_FATAL;
        goto cleanup;
    }
    options = PQconninfoParse(conninfo, &parse_error);
    if (!options) {
        snprintf(msg, sizeof(msg), "%s", parse_error ? parse_error : "out of memory");
        outbox_pg_one_line(msg);
        outbox_errstr_set(errstr, errstr_size, "invalid conninfo: %s", msg);
        rc = RELAY_STREAM_ERR_FATAL;
        goto cleanup;
    }
    stream = calloc(1, sizeof(*stream));
    if (!stream) {
        outbox_errstr_set(errstr, errstr_size, "relay_stream_open: out of memory");
        rc = RELAY_STREAM_ERR_RETRIABLE;
        goto cleanup;
    }
    stream->state = STREAM_BROKEN;
    /* outbox_pg_connect_why() confirms a refusal with a second attempt before it says so */
    outbox_pg_connect_cause cause = OUTBOX_PG_CAUSE_NETWORK;
    switch (outbox_pg_connect_why(&pgparams, &stream->conn, &cause, why, sizeof why)) {
    case OUTBOX_PG_CONNECT_OK:
        break;
    case OUTBOX_PG_CONNECT_ERR_NOMEM:
        outbox_errstr_set(errstr, errstr_size, "connect: out of memory");
        rc = RELAY_STREAM_ERR_RETRIABLE;
        goto cleanup;
    default:
        outbox_errstr_set(errstr, errstr_size, "replication connection: %s; %s", why,
                          relay_stream_connect_cause_fix(cause));
        rc = relay_stream_connect_cause_result(cause);
        goto cleanup;
    }
    stream->state = STREAM_IDLE;
    stream->system.server_version = PQserverVersion(stream->conn);
    if (stream->system.server_version < 100000) {
        outbox_errstr_set(errstr, errstr_size,
                          "replication connection: server version %d is too old (10+)",
                          stream->system.server_version);
        rc = RELAY_STREAM_ERR_FATAL;
        goto cleanup;
    }

    res = PQexec(stream->conn, "IDENTIFY_SYSTEM");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = result_error(stream, res, "IDENTIFY_SYSTEM", errstr, errstr_size);
        goto cleanup;
    }
    if (PQntuples(res) != 1 || PQnfields(res) < 4 || PQgetisnull(res, 0, 3)) {
        outbox_errstr_set(errstr, errstr_size,
                          "IDENTIFY_SYSTEM: unexpected answer (%d rows, %d fields, no database?)",
                          PQntuples(res), PQnfields(res));
        rc = RELAY_STREAM_ERR_FATAL;
        goto cleanup;
    }
    snprintf(stream->system.systemid, sizeof(stream->system.systemid), "%s", PQgetvalue(res, 0, 0));
    stream->system.timeline = (uint32_t)strtoul(PQgetvalue(res, 0, 1), NULL, 10);
    if (relay_pgoutput_lsn_parse(PQgetvalue(res, 0, 2), &stream->system.xlogpos) < 0) {
        outbox_errstr_set(errstr, errstr_size, "IDENTIFY_SYSTEM: bad xlogpos \"%s\"",
                          PQgetvalue(res, 0, 2));
        rc = RELAY_STREAM_ERR_FATAL;
        goto cleanup;
    }
    snprintf(stream->system.dbname, sizeof(stream->system.dbname), "%s", PQgetvalue(res, 0, 3));

    *streamp = stream;
    stream = NULL; /* now owned by the caller */
    rc = RELAY_STREAM_OK;

cleanup:
    PQclear(res);
    relay_stream_close(stream);
    PQfreemem(parse_error);
    PQconninfoFree(options);
    return rc;
}

const relay_stream_system *relay_stream_get_system(const relay_stream *stream)
{
    return &stream->system;
}

void relay_stream_close(relay_stream *stream)
{
    if (!stream)
        return;
    PQfreemem(stream->copybuf);
    PQfinish(stream->conn);
    free(stream);
}

const char *relay_stream_sqlstate(const relay_stream *stream)
{
    return stream ? stream->sqlstate : "";
}

int relay_stream_fd(const relay_stream *stream)
{
    return stream && stream->conn ? PQsocket(stream->conn) : -1;
}

/* ------------------------------------------------------------------ slots */

static int lsn_field(const PGresult *res, int col, uint64_t *lsn)
{
    if (PQgetisnull(res, 0, col)) {
        *lsn = 0;
        return 0;
    }
    return relay_pgoutput_lsn_parse(PQgetvalue(res, 0, col), lsn);
}

int relay_stream_slot_ensure(relay_stream *stream, const char *slot_name, int flags,
                             relay_stream_slot *slot, char *errstr, size_t errstr_size)
{
    relay_stream_slot info;
    PGresult *res = NULL;
    char query[512];
    int rc;

    memset(&info, 0, sizeof(info));
    rc = check_state(stream, STREAM_IDLE, "slot", errstr, errstr_size);
    if (rc != RELAY_STREAM_OK)
        goto cleanup;
    if (!slot_name_valid(slot_name)) {
        outbox_errstr_set(errstr, errstr_size,
                          "slot: invalid replication slot name \"%s\" (1-63 of a-z, 0-9, _)",
                          slot_name ? slot_name : "");
        rc = RELAY_STREAM_ERR_FATAL;
        goto cleanup;
    }

    /* The name is validated, so it needs no quoting. SQL works on a replication=database
     * connection (simple query protocol only). */
    snprintf(query, sizeof(query),
             "SELECT slot_type, plugin, database, temporary, active, coalesce(active_pid, 0), "
             "confirmed_flush_lsn, restart_lsn, %s "
             "FROM pg_catalog.pg_replication_slots WHERE slot_name = '%s'",
             stream->system.server_version >= 130000 ? "wal_status" : "NULL::text", slot_name);
    res = PQexec(stream->conn, query);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = result_error(stream, res, "slot lookup", errstr, errstr_size);
        goto cleanup;
    }
    if (PQntuples(res) == 1) {
        const char *type = PQgetvalue(res, 0, 0);
        const char *plugin = PQgetvalue(res, 0, 1);
        const char *database = PQgetvalue(res, 0, 2);

        if (strcmp(type, "logical") != 0 || strcmp(plugin, "pgoutput") != 0 ||
            strcmp(database, stream->system.dbname) != 0) {
            outbox_errstr_set(
                errstr, errstr_size,
                "slot \"%s\" is a %s slot of plugin \"%s\" in database \"%s\", not a logical "
                "pgoutput slot in \"%s\"",
                slot_name, type, plugin, database, stream->system.dbname);
            rc = RELAY_STREAM_ERR_FATAL;
            goto cleanup;
        }
        if (strcmp(PQgetvalue(res, 0, 8), "lost") == 0) {
            outbox_errstr_set(
                errstr, errstr_size,
                "slot \"%s\" lost WAL it needed (wal_status lost): drop and recreate it, "
                "events since its position are gone from the WAL",
                slot_name);
            rc = RELAY_STREAM_ERR_FATAL;
            goto cleanup;
        }
        info.temporary = strcmp(PQgetvalue(res, 0, 3), "t") == 0;
        info.active = strcmp(PQgetvalue(res, 0, 4), "t") == 0;
        info.active_pid = atoi(PQgetvalue(res, 0, 5));
        if (lsn_field(res, 6, &info.confirmed_flush_lsn) < 0 ||
            lsn_field(res, 7, &info.restart_lsn) < 0) {
            outbox_errstr_set(errstr, errstr_size, "slot lookup: bad LSN in pg_replication_slots");
            rc = RELAY_STREAM_ERR_FATAL;
            goto cleanup;
        }
        rc = RELAY_STREAM_OK;
        goto cleanup;
    }
    if (!(flags & RELAY_STREAM_SLOT_CREATE)) {
        outbox_errstr_set(errstr, errstr_size, "replication slot \"%s\" does not exist", slot_name);
        rc = RELAY_STREAM_ERR_FATAL;
        goto cleanup;
    }

    PQclear(res);
    snprintf(query, sizeof(query), "CREATE_REPLICATION_SLOT \"%s\"%s LOGICAL pgoutput %s",
             slot_name, (flags & RELAY_STREAM_SLOT_TEMPORARY) ? " TEMPORARY" : "",
             stream->system.server_version >= 150000 ? "(SNAPSHOT 'nothing')"
                                                     : "NOEXPORT_SNAPSHOT");
    res = PQexec(stream->conn, query);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = result_error(stream, res, "CREATE_REPLICATION_SLOT", errstr, errstr_size);
        goto cleanup;
    }
    if (PQntuples(res) != 1 || PQnfields(res) < 2 ||
        relay_pgoutput_lsn_parse(PQgetvalue(res, 0, 1), &info.consistent_point) < 0) {
        outbox_errstr_set(errstr, errstr_size, "CREATE_REPLICATION_SLOT: unexpected answer");
        rc = RELAY_STREAM_ERR_FATAL;
        goto cleanup;
    }
    info.created = true;
    info.temporary = (flags & RELAY_STREAM_SLOT_TEMPORARY) != 0;
    info.confirmed_flush_lsn = info.consistent_point;
    rc = RELAY_STREAM_OK;

cleanup:
    PQclear(res);
    if (rc == RELAY_STREAM_OK && slot)
        *slot = info;
    return rc;
}

int relay_stream_slot_drop(relay_stream *stream, const char *slot_name, char *errstr,
                           size_t errstr_size)
{
    PGresult *res = NULL;
    char query[128];
    int rc;

    rc = check_state(stream, STREAM_IDLE, "DROP_REPLICATION_SLOT", errstr, errstr_size);
    if (rc != RELAY_STREAM_OK)
        goto cleanup;
    if (!slot_name_valid(slot_name)) {
        outbox_errstr_set(errstr, errstr_size, "DROP_REPLICATION_SLOT: invalid slot name \"%s\"",
                          slot_name ? slot_name : "");
        rc = RELAY_STREAM_ERR_FATAL;
        goto cleanup;
    }
    snprintf(query, sizeof(query), "DROP_REPLICATION_SLOT \"%s\"", slot_name);
    res = PQexec(stream->conn, query);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = result_error(stream, res, "DROP_REPLICATION_SLOT", errstr, errstr_size);
        goto cleanup;
    }
    rc = RELAY_STREAM_OK;

cleanup:
    PQclear(res);
    return rc;
}

/* ------------------------------------------------------------------ streaming */

int relay_stream_start(relay_stream *stream, const char *slot_name, uint64_t start_lsn,
                       const char *publication_names, bool messages, char *errstr,
                       size_t errstr_size)
{
    PGresult *res = NULL;
    char *query = NULL;
    char *pubs = NULL;
    size_t n, j = 0;
    int rc;

    rc = check_state(stream, STREAM_IDLE, "START_REPLICATION", errstr, errstr_size);
    if (rc != RELAY_STREAM_OK)
        goto cleanup;
    if (!slot_name_valid(slot_name)) {
        outbox_errstr_set(errstr, errstr_size, "START_REPLICATION: invalid slot name \"%s\"",
                          slot_name ? slot_name : "");
        rc = RELAY_STREAM_ERR_FATAL;
        goto cleanup;
    }
    if (!publication_names || !*publication_names) {
        outbox_errstr_set(errstr, errstr_size, "START_REPLICATION: no publication names");
        rc = RELAY_STREAM_ERR_FATAL;
        goto cleanup;
    }
    if (messages && stream->system.server_version < 140000) {
        outbox_errstr_set(
            errstr, errstr_size,
            "START_REPLICATION: server version %d cannot stream logical decoding messages "
            "with pgoutput (14+)",
            stream->system.server_version);
        rc = RELAY_STREAM_ERR_FATAL;
        goto cleanup;
    }

    /* The option value is a string literal of the replication grammar: double the quotes. */
    n = strlen(publication_names);
    pubs = malloc(2 * n + 1);
    if (!pubs) {
        outbox_errstr_set(errstr, errstr_size, "START_REPLICATION: out of memory");
        rc = RELAY_STREAM_ERR_RETRIABLE;
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        if (publication_names[i] == '\'')
            pubs[j++] = '\'';
        pubs[j++] = publication_names[i];
    }
    pubs[j] = '\0';
    n = j + strlen(slot_name) + 160;
    query = malloc(n);
    if (!query) {
        outbox_errstr_set(errstr, errstr_size, "START_REPLICATION: out of memory");
        rc = RELAY_STREAM_ERR_RETRIABLE;
        goto cleanup;
    }
    snprintf(query, n,
             "START_REPLICATION SLOT \"%s\" LOGICAL " RELAY_LSN_FMT
             " (proto_version '1', publication_names '%s'%s)",
             slot_name, RELAY_LSN_ARGS(start_lsn), pubs, messages ? ", messages 'true'" : "");

    res = PQexec(stream->conn, query);
    if (PQresultStatus(res) != PGRES_COPY_BOTH) {
        rc = result_error(stream, res, "START_REPLICATION", errstr, errstr_size);
        goto cleanup;
    }
    if (PQsetnonblocking(stream->conn, 1) != 0) {
        rc = conn_error(stream, "START_REPLICATION: non-blocking mode", errstr, errstr_size);
        stream->state = STREAM_BROKEN; /* streaming, but we cannot use it without blocking */
        goto cleanup;
    }
    stream->state = STREAM_STREAMING;
    stream->want_write = false;
    stream->copy_end_pending = false;
    stream->sqlstate[0] = '\0';
    rc = RELAY_STREAM_OK;

cleanup:
    PQclear(res);
    free(query);
    free(pubs);
    return rc;
}

/*
 * The COPY is over: collect the results that end the command, without blocking when
 * deadline < 0 (returns WOULD_BLOCK then), else waiting until the deadline. Ends in IDLE (or
 * BROKEN) with RELAY_STREAM_END or the first error the server reported.
 */
static int stream_drain(relay_stream *stream, int64_t deadline, char *errstr, size_t errstr_size)
{
    PGresult *res;

    for (;;) {
        if (stream->copy_end_pending) {
            int r = PQputCopyEnd(stream->conn, NULL);
            if (r < 0)
                return conn_error(stream, "CopyDone", errstr, errstr_size);
            if (r == 1)
                stream->copy_end_pending = false;
        }
        if (PQflush(stream->conn) < 0)
            return conn_error(stream, "send", errstr, errstr_size);
        if (stream->copy_end_pending || PQisBusy(stream->conn)) {
            if (!PQconsumeInput(stream->conn))
                return conn_error(stream, "receive", errstr, errstr_size);
            if (stream->copy_end_pending || PQisBusy(stream->conn)) {
                int w;

                if (deadline < 0)
                    return RELAY_STREAM_WOULD_BLOCK;
                w = wait_socket(stream, POLLIN | (stream->copy_end_pending ? POLLOUT : 0),
                                deadline);
                if (w == 0) {
                    outbox_errstr_set(
                        errstr, errstr_size,
                        "end of replication stream: timed out waiting for the server");
                    stream->state = STREAM_BROKEN;
                    return RELAY_STREAM_ERR_RETRIABLE;
                }
                if (w < 0)
                    return conn_error(stream, "poll", errstr, errstr_size);
                continue;
            }
        }
        res = PQgetResult(stream->conn);
        if (!res)
            break;
        switch (PQresultStatus(res)) {
        case PGRES_COPY_IN:
            /* the server sent CopyDone first; answer with ours */
            stream->copy_end_pending = true;
            break;
        case PGRES_COMMAND_OK:
        case PGRES_TUPLES_OK:
        case PGRES_COPY_OUT: /* not expected from a logical walsender; drained below */
            break;
        default:
            if (stream->end_rc == RELAY_STREAM_END)
                stream->end_rc = result_error(stream, res, "replication stream ended",
                                              stream->end_msg, sizeof(stream->end_msg));
            break;
        }
        PQclear(res);
    }

    if (PQstatus(stream->conn) == CONNECTION_BAD) {
        stream->state = STREAM_BROKEN;
        if (stream->end_rc == RELAY_STREAM_END)
            return conn_error(stream, "replication stream ended", errstr, errstr_size);
    } else {
        stream->state = STREAM_IDLE;
        if (PQsetnonblocking(stream->conn, 0) != 0)
            stream->state = STREAM_BROKEN;
    }
    if (stream->end_rc == RELAY_STREAM_END)
        outbox_errstr_set(errstr, errstr_size, "the server ended the replication stream");
    else
        outbox_errstr_set(errstr, errstr_size, "%s", stream->end_msg);
    return stream->end_rc;
}

static int stream_frame(relay_stream *stream, int len, relay_stream_event *event, char *errstr,
                        size_t errstr_size)
{
    const uint8_t *frame = (const uint8_t *)stream->copybuf;
    char why[256];

    event->frame = frame;
    event->frame_size = (size_t)len;

    if (frame[0] == 'w') {
        if (relay_pgoutput_read_xlogdata(frame, (size_t)len, &event->xlogdata, why, sizeof(why)) <
            0)
            goto bad;
        return RELAY_STREAM_XLOGDATA;
    }
    if (frame[0] == 'k') {
        if (relay_pgoutput_read_keepalive(frame, (size_t)len, &event->keepalive, why, sizeof(why)) <
            0)
            goto bad;
        return RELAY_STREAM_KEEPALIVE;
    }
    snprintf(why, sizeof(why), "unknown CopyData message type 0x%02x", frame[0]);
bad:
    outbox_errstr_set(errstr, errstr_size, "replication stream: %s", why);
    return RELAY_STREAM_ERR_FATAL;
}

int relay_stream_read(relay_stream *stream, relay_stream_event *event, char *errstr,
                      size_t errstr_size)
{
    int len;
    int rc;

    if (stream && stream->state == STREAM_ENDING)
        return stream_drain(stream, -1, errstr, errstr_size);
    rc = check_state(stream, STREAM_STREAMING, "read", errstr, errstr_size);
    if (rc != RELAY_STREAM_OK)
        return rc;

    PQfreemem(stream->copybuf);
    stream->copybuf = NULL;

    len = PQgetCopyData(stream->conn, &stream->copybuf, 1);
    if (len == 0) {
        if (!PQconsumeInput(stream->conn))
            return conn_error(stream, "receive", errstr, errstr_size);
        len = PQgetCopyData(stream->conn, &stream->copybuf, 1);
        if (len == 0)
            return RELAY_STREAM_WOULD_BLOCK;
    }
    if (len > 0)
        return stream_frame(stream, len, event, errstr, errstr_size);
    if (len == -1) {
        stream->state = STREAM_ENDING;
        stream->end_rc = RELAY_STREAM_END;
        stream->end_msg[0] = '\0';
        return stream_drain(stream, -1, errstr, errstr_size);
    }
    return conn_error(stream, "receive", errstr, errstr_size);
}

static int stream_queue_status(relay_stream *stream, uint64_t written, uint64_t flushed,
                               uint64_t applied, bool reply_requested, char *errstr,
                               size_t errstr_size)
{
    uint8_t msg[RELAY_PGOUTPUT_STATUS_SIZE];
    int r;

    /* Never report a flush position below one already reported: older minor releases stored
     * it as the slot's confirmed_flush_lsn as is (15.20 ignores it, checked on the stack). */
    if (flushed < stream->sent_flushed)
        flushed = stream->sent_flushed;
    if (written < flushed)
        written = flushed;
    stream->sent_flushed = flushed;
    relay_pgoutput_write_status(msg, written, flushed, applied, pg_now_usec(), reply_requested);
    if (PQputCopyData(stream->conn, (const char *)msg, (int)sizeof(msg)) <= 0)
        return conn_error(stream, "status update", errstr, errstr_size);
    r = PQflush(stream->conn);
    if (r < 0)
        return conn_error(stream, "status update", errstr, errstr_size);
    stream->want_write = r == 1;
    return RELAY_STREAM_OK;
}

int relay_stream_send_status(relay_stream *stream, uint64_t written, uint64_t flushed,
                             uint64_t applied, bool reply_requested, char *errstr,
                             size_t errstr_size)
{
    int rc = check_state(stream, STREAM_STREAMING, "status update", errstr, errstr_size);

    if (rc != RELAY_STREAM_OK)
        return rc;
    return stream_queue_status(stream, written, flushed, applied, reply_requested, errstr,
                               errstr_size);
}

bool relay_stream_want_write(const relay_stream *stream)
{
    return stream && stream->conn && stream->want_write;
}

int relay_stream_flush(relay_stream *stream, char *errstr, size_t errstr_size)
{
    int r;

    if (!stream || !stream->conn || stream->state == STREAM_BROKEN) {
        outbox_errstr_set(errstr, errstr_size, "flush: the connection is broken");
        return RELAY_STREAM_ERR_RETRIABLE;
    }
    r = PQflush(stream->conn);
    if (r < 0)
        return conn_error(stream, "flush", errstr, errstr_size);
    stream->want_write = r == 1;
    return RELAY_STREAM_OK;
}

int relay_stream_finish(relay_stream *stream, uint64_t lsn, int timeout_ms, char *errstr,
                        size_t errstr_size)
{
    int64_t deadline = mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    int rc;

    if (!stream) {
        outbox_errstr_set(errstr, errstr_size, "finish: no stream");
        return RELAY_STREAM_ERR_FATAL;
    }
    if (stream->state == STREAM_IDLE)
        return RELAY_STREAM_OK;
    if (stream->state == STREAM_BROKEN) {
        outbox_errstr_set(errstr, errstr_size, "finish: the connection is broken");
        return RELAY_STREAM_ERR_RETRIABLE;
    }
    PQfreemem(stream->copybuf);
    stream->copybuf = NULL;

    if (stream->state == STREAM_STREAMING) {
        rc = stream_queue_status(stream, lsn, lsn, lsn, false, errstr, errstr_size);
        if (rc != RELAY_STREAM_OK)
            return rc;
        for (;;) {
            int r = PQputCopyEnd(stream->conn, NULL);
            if (r < 0)
                return conn_error(stream, "CopyDone", errstr, errstr_size);
            if (r == 1)
                break;
            if (wait_socket(stream, POLLOUT, deadline) <= 0) {
                outbox_errstr_set(errstr, errstr_size, "finish: timed out sending CopyDone");
                stream->state = STREAM_BROKEN;
                return RELAY_STREAM_ERR_RETRIABLE;
            }
        }
        stream->state = STREAM_CLOSING;
    }

    /* Read and discard what the server still sends until its CopyDone. */
    while (stream->state == STREAM_CLOSING) {
        int flushed = PQflush(stream->conn);
        int len;

        if (flushed < 0)
            return conn_error(stream, "finish", errstr, errstr_size);
        len = PQgetCopyData(stream->conn, &stream->copybuf, 1);
        if (len > 0) {
            PQfreemem(stream->copybuf);
            stream->copybuf = NULL;
            continue;
        }
        if (len == -1) {
            stream->state = STREAM_ENDING;
            stream->end_rc = RELAY_STREAM_END;
            stream->end_msg[0] = '\0';
            break;
        }
        if (len < -1)
            return conn_error(stream, "finish", errstr, errstr_size);
        switch (wait_socket(stream, POLLIN | (flushed == 1 ? POLLOUT : 0), deadline)) {
        case 0:
            outbox_errstr_set(errstr, errstr_size,
                              "finish: timed out waiting for the server's CopyDone");
            stream->state = STREAM_BROKEN;
            return RELAY_STREAM_ERR_RETRIABLE;
        case 1:
            if (!PQconsumeInput(stream->conn))
                return conn_error(stream, "finish", errstr, errstr_size);
            break;
        default:
            return conn_error(stream, "finish: poll", errstr, errstr_size);
        }
    }

    rc = stream_drain(stream, deadline, errstr, errstr_size);
    if (rc == RELAY_STREAM_END)
        rc = RELAY_STREAM_OK; /* the end we asked for */
    stream->want_write = false;
    return rc;
}
