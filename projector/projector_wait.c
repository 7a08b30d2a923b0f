/* projector_wait: LISTEN, look up, wait on the socket for the NOTIFY naming the event. */
#include "projector_wait.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pg_connect.h"
#include "projector_batch.h"
#include "projector_pgtext.h"
#include "projector_store.h"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int projector_wait_timeout_parse(const char *text, int64_t *ms)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"", 1000}, {"m", 60000}, {"h", 3600000}};
    char *end = NULL;
    if (text == NULL || *text < '0' || *text > '9')
        return -1;
    errno = 0;
    long long n = strtoll(text, &end, 10);
    if (errno != 0 || n < 0)
        return -1;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(end, units[i].unit) == 0) {
            if (n > 24LL * 3600000 / units[i].ms)
                return -1;
            *ms = (int64_t)n * units[i].ms;
            return 0;
        }
    return -1;
}

/* 1 settled (detail filled), 0 pending, -1 error (detail filled). */
static int lookup(PGconn *conn, const projector_wait_request *req, const char *id,
                  projector_wait_rc *outcome, char *detail, size_t detail_size)
{
    const char *params[2] = {req->projection, id};
    PGresult *res = PQexecParams(conn, projector_status_sql, 2, NULL, params, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        const char *why = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        snprintf(detail, detail_size,
                 "cannot look the event up: %s (are the projector tables in this database? "
                 "apply sql/projector.sql)",
                 why ? why : PQerrorMessage(conn));
        rc = -1;
    } else if (PQntuples(res) == 1) {
        const char *state = PQgetvalue(res, 0, 0);
        const char *at = PQgetvalue(res, 0, 1);
        if (strcmp(state, "applied") == 0) {
            *outcome = PROJECTOR_WAIT_APPLIED;
            snprintf(detail, detail_size, "applied at %s", at);
        } else {
            *outcome = PROJECTOR_WAIT_FAILED;
            snprintf(detail, detail_size, "failed: %s (%s%s%sdead letter in %s, at %s)",
                     PQgetvalue(res, 0, 2), PQgetisnull(res, 0, 3) ? "" : "SQLSTATE ",
                     PQgetisnull(res, 0, 3) ? "" : PQgetvalue(res, 0, 3),
                     PQgetisnull(res, 0, 3) ? "" : ", ", PQgetvalue(res, 0, 4), at);
        }
        rc = 1;
    }
    PQclear(res);
    return rc;
}

projector_wait_rc projector_wait_run(const projector_wait_request *req, char *detail,
                                     size_t detail_size)
{
    const outbox_pg_params pgparams = {.conninfo = req->conninfo,
                                       .application_name = "outbox-projector-wait",
                                       .connect_timeout_s = 10};
    projector_wait_rc outcome = PROJECTOR_WAIT_ERROR;
    char id[PROJECTOR_UUID_LEN + 1];
    char *listen = NULL;
    char *ident = NULL;
    PGresult *res = NULL;
    PGconn *conn = NULL;
    int64_t deadline = now_ms() + req->timeout_ms;

    if (projector_uuid_normalize(req->event_id, strlen(req->event_id), id)) {
        snprintf(detail, detail_size, "'%s' is not an event id (a uuid)", req->event_id);
        return PROJECTOR_WAIT_ERROR;
    }
    if (req->channel == NULL || req->channel[0] == '\0') {
        snprintf(detail, detail_size,
                 "projection %s sends no NOTIFY (notify = \"\"): nothing to wait on; set its "
                 "notify channel or pass --channel",
                 req->projection);
        return PROJECTOR_WAIT_ERROR;
    }
    char why[1600];
    if (outbox_pg_connect(&pgparams, &conn, why, sizeof why) != OUTBOX_PG_CONNECT_OK) {
        snprintf(detail, detail_size, "cannot connect: %s", why);
        goto done;
    }
    /* 1. LISTEN first: from here on every committed batch is heard. */
    ident = PQescapeIdentifier(conn, req->channel, strlen(req->channel));
    if (ident == NULL || (listen = malloc(strlen(ident) + 8)) == NULL) {
        snprintf(detail, detail_size, "out of memory");
        goto done;
    }
    sprintf(listen, "LISTEN %s", ident);
    res = PQexec(conn, listen);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        snprintf(detail, detail_size, "LISTEN %s: %s", ident, PQerrorMessage(conn));
        goto done;
    }
    PQclear(res);
    res = NULL;
    /* 2. Then the current status. */
    int settled = lookup(conn, req, id, &outcome, detail, detail_size);
    if (settled != 0) {
        if (settled < 0)
            outcome = PROJECTOR_WAIT_ERROR;
        goto done;
    }
    /* 3. Then the socket, until a notification names the event or time is up. */
    for (;;) {
        bool named = false;
        PGnotify *note;
        while ((note = PQnotifies(conn)) != NULL) {
            projector_notify_match m = projector_notify_find(note->extra, req->projection, id);
            if (m == PROJECTOR_NOTIFY_HAS_APPLIED || m == PROJECTOR_NOTIFY_HAS_FAILED)
                named = true;
            PQfreemem(note);
        }
        if (named) {
            settled = lookup(conn, req, id, &outcome, detail, detail_size);
            if (settled != 0) {
                if (settled < 0)
                    outcome = PROJECTOR_WAIT_ERROR;
                goto done;
            }
        }
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            outcome = PROJECTOR_WAIT_TIMEOUT;
            snprintf(detail, detail_size, "pending: not applied within %lld ms",
                     (long long)req->timeout_ms);
            goto done;
        }
        struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};
        int n = poll(&pfd, 1, left > 1000000 ? 1000000 : (int)left);
        if (n < 0 && errno != EINTR) {
            snprintf(detail, detail_size, "poll: %s", strerror(errno));
            goto done;
        }
        if (n > 0 && PQconsumeInput(conn) != 1) {
            snprintf(detail, detail_size, "connection lost: %s", PQerrorMessage(conn));
            goto done;
        }
    }
done:
    PQclear(res);
    free(listen);
    if (ident != NULL)
        PQfreemem(ident);
    if (conn != NULL)
        PQfinish(conn);
    /* libpq messages end in a newline; the detail is one line. */
    size_t len = strlen(detail);
    while (len > 0 && (detail[len - 1] == '\n' || detail[len - 1] == ' '))
        detail[--len] = '\0';
    return outcome;
}
