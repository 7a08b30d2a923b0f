#include "lease.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct relay_lease {
    char *conninfo;
    char *slot;
    int64_t ttl_ms;
    PGconn *conn;
    bool held;
    int64_t renewed_us; /* when the last successful renewal (or the lock) was sent */
};

/* The advisory lock's key: both halves hashed server-side, so every relay agrees. */
#define LEASE_LOCK_SQL "SELECT pg_try_advisory_lock(hashtext('outbox-relay lease'), hashtext($1))"

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

relay_lease *relay_lease_new(const char *conninfo, const char *slot, int64_t ttl_ms)
{
    relay_lease *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->conninfo = strdup(conninfo);
    l->slot = strdup(slot);
    l->ttl_ms = ttl_ms;
    if (!l->conninfo || !l->slot) {
        relay_lease_free(l);
        return NULL;
    }
    return l;
}

void relay_lease_release(relay_lease *l)
{
    if (l->conn)
        PQfinish(l->conn);
    l->conn = NULL;
    l->held = false;
}

void relay_lease_free(relay_lease *l)
{
    if (!l)
        return;
    relay_lease_release(l);
    free(l->conninfo);
    free(l->slot);
    free(l);
}

PGconn *relay_lease_conn(relay_lease *l)
{
    return l->conn;
}

bool relay_lease_held(const relay_lease *l)
{
    return l->held;
}

/* Run a command on the lease's session; false (with errstr) when the session is gone. */
static bool lease_exec(relay_lease *l, const char *sql, char *errstr, size_t errstr_size)
{
    PGresult *res = PQexec(l->conn, sql);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!ok)
        snprintf(errstr, errstr_size, "%s", PQerrorMessage(l->conn));
    PQclear(res);
    return ok;
}

/* A session whose idle time is bounded by the TTL: the server ends it (and frees the lock) when
 * its holder stops renewing. */
static relay_lease_rc lease_connect(relay_lease *l, char *errstr, size_t errstr_size)
{
    l->conn = PQconnectdb(l->conninfo);
    if (PQstatus(l->conn) != CONNECTION_OK) {
        snprintf(errstr, errstr_size, "lease connection: %s", PQerrorMessage(l->conn));
        relay_lease_release(l);
        return RELAY_LEASE_ERR_CONN;
    }
    char sql[96];
    snprintf(sql, sizeof(sql), "SET idle_session_timeout = %" PRId64, l->ttl_ms);
    char err[256];
    if (!lease_exec(l, sql, err, sizeof(err))) {
        snprintf(errstr, errstr_size, "lease connection: %s", err);
        relay_lease_release(l);
        return RELAY_LEASE_ERR_CONN;
    }
    return RELAY_LEASE_HELD;
}

relay_lease_rc relay_lease_try(relay_lease *l, char *errstr, size_t errstr_size)
{
    if (l->held)
        return relay_lease_check(l, errstr, errstr_size);
    if (!l->conn && lease_connect(l, errstr, errstr_size) != RELAY_LEASE_HELD)
        return RELAY_LEASE_ERR_CONN;
    int64_t sent = mono_us();
    const char *params[1] = {l->slot};
    PGresult *res = PQexecParams(l->conn, LEASE_LOCK_SQL, 1, NULL, params, NULL, NULL, 0);
    relay_lease_rc rc = RELAY_LEASE_ERR_CONN;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        snprintf(errstr, errstr_size, "taking the lease: %s", PQerrorMessage(l->conn));
        PQclear(res);
        relay_lease_release(l);
        return rc;
    }
    rc = strcmp(PQgetvalue(res, 0, 0), "t") == 0 ? RELAY_LEASE_HELD : RELAY_LEASE_BUSY;
    PQclear(res);
    if (rc == RELAY_LEASE_HELD) {
        l->held = true;
        l->renewed_us = sent;
    }
    return rc;
}

relay_lease_rc relay_lease_check(relay_lease *l, char *errstr, size_t errstr_size)
{
    if (!l->held) {
        snprintf(errstr, errstr_size, "the lease is not held");
        return RELAY_LEASE_ERR_CONN;
    }
    int64_t now = mono_us();
    if (now - l->renewed_us < l->ttl_ms * 1000 / 3)
        return RELAY_LEASE_HELD;
    /* The server ends the session after a TTL of idleness: a renewal sent before that keeps
     * it; one that finds the session gone means another relay may hold the lease now. */
    char err[256];
    if (!lease_exec(l, "SELECT 1", err, sizeof(err))) {
        snprintf(errstr, errstr_size,
                 "lost the lease on slot %s (no renewal for %" PRId64 " ms, lease TTL %" PRId64
                 " ms): %s",
                 l->slot, (now - l->renewed_us) / 1000, l->ttl_ms, err);
        relay_lease_release(l);
        return RELAY_LEASE_ERR_CONN;
    }
    l->renewed_us = now;
    return RELAY_LEASE_HELD;
}

int relay_lease_end_previous(relay_lease *l, int64_t wait_ms, char *errstr, size_t errstr_size)
{
    if (!l->held || !l->conn) {
        snprintf(errstr, errstr_size, "the lease is not held");
        return -1;
    }
    char wait[32];
    snprintf(wait, sizeof(wait), "%" PRId64, wait_ms);
    const char *params[2] = {l->slot, wait};
    PGresult *res = PQexecParams(l->conn,
                                 "SELECT active_pid, pg_terminate_backend(active_pid, $2::bigint) "
                                 "FROM pg_replication_slots WHERE slot_name = $1 "
                                 "AND active_pid IS NOT NULL",
                                 2, NULL, params, NULL, NULL, 0);
    int pid = -1;
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        snprintf(errstr, errstr_size, "ending the slot's previous walsender: %s",
                 PQerrorMessage(l->conn));
    else
        pid = PQntuples(res) == 1 ? atoi(PQgetvalue(res, 0, 0)) : 0;
    PQclear(res);
    return pid;
}
