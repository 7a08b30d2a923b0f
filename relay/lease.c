#include "lease.h"
#include "pg_connect.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct relay_lease {
    char *conninfo;
    char *slot;
    int64_t ttl_ms;
    int64_t keepalive_ms;
    /* mu guards everything below: the session is used by the loop thread and the keeper. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    PGconn *conn;
    bool held;
    bool lost;          /* the keeper's renewal failed: the next check reports it */
    char lost_msg[256]; /* why */
    int64_t renewed_us; /* when the last successful renewal (or the lock) was sent */
    int64_t checked_us; /* when the loop thread last took or checked the lease */
    bool keeper_started;
    bool stopping;
    pthread_t keeper;
};

/* The advisory lock's key: both halves hashed server-side, so every relay agrees. */
#define LEASE_LOCK_SQL "SELECT pg_try_advisory_lock(hashtext('outbox-relay lease'), hashtext($1))"

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

relay_lease *relay_lease_new(const char *conninfo, const char *slot, int64_t ttl_ms,
                             int64_t keepalive_ms)
{
    relay_lease *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    if (pthread_mutex_init(&l->mu, NULL) != 0) {
        free(l);
        return NULL;
    }
    if (pthread_cond_init(&l->cv, NULL) != 0) {
        pthread_mutex_destroy(&l->mu);
        free(l);
        return NULL;
    }
    l->conninfo = strdup(conninfo);
    l->slot = strdup(slot);
    l->ttl_ms = ttl_ms;
    l->keepalive_ms = keepalive_ms;
    if (!l->conninfo || !l->slot) {
        relay_lease_free(l);
        return NULL;
    }
    return l;
}

int64_t relay_lease_keepalive_ms(int64_t ttl_ms, int64_t longest_block_ms)
{
    int64_t ms = longest_block_ms + 5000;
    if (ms < 3 * ttl_ms)
        ms = 3 * ttl_ms;
    return ms < 10000 ? 10000 : ms;
}

/* With mu held. */
static void lease_drop(relay_lease *l)
{
    if (l->conn)
        PQfinish(l->conn);
    l->conn = NULL;
    l->held = false;
    l->lost = false;
}

void relay_lease_release(relay_lease *l)
{
    pthread_mutex_lock(&l->mu);
    lease_drop(l);
    pthread_mutex_unlock(&l->mu);
}

void relay_lease_free(relay_lease *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    l->stopping = true;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    if (l->keeper_started)
        pthread_join(l->keeper, NULL);
    lease_drop(l);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    free(l->conninfo);
    free(l->slot);
    free(l);
}

int relay_lease_query(relay_lease *l, relay_lease_query_fn fn, void *arg)
{
    pthread_mutex_lock(&l->mu);
    int rc = l->conn && !l->lost ? fn(l->conn, arg) : -1;
    pthread_mutex_unlock(&l->mu);
    return rc;
}

bool relay_lease_held(relay_lease *l)
{
    pthread_mutex_lock(&l->mu);
    bool held = l->held;
    pthread_mutex_unlock(&l->mu);
    return held;
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
    const outbox_pg_params pgparams = {.conninfo = l->conninfo,
                                       .application_name = "outbox-relay-lease"};
    char why[1600];
    if (outbox_pg_connect(&pgparams, &l->conn, why, sizeof why) != OUTBOX_PG_CONNECT_OK) {
        snprintf(errstr, errstr_size, "lease connection: %s", why);
        lease_drop(l);
        return RELAY_LEASE_ERR_CONN;
    }
    char sql[96];
    snprintf(sql, sizeof(sql), "SET idle_session_timeout = %" PRId64, l->ttl_ms);
    char err[256];
    if (!lease_exec(l, sql, err, sizeof(err))) {
        snprintf(errstr, errstr_size, "lease connection: %s", err);
        lease_drop(l);
        return RELAY_LEASE_ERR_CONN;
    }
    return RELAY_LEASE_HELD;
}

/* One renewal on the session (with mu held): true when it still holds the lease. */
static bool lease_renew(relay_lease *l, int64_t now, char *err, size_t err_size)
{
    if (!lease_exec(l, "SELECT 1", err, err_size))
        return false;
    l->renewed_us = now;
    return true;
}

/*
 * The keeper: renews the lease while the loop thread is inside a long call (a registry request
 * bounded by registry.timeout, a reconnect), as long as the loop checked the lease less than
 * keepalive_ms ago. A loop stuck longer than that stops being covered, so its lease expires and
 * a standby takes over. A paused process pauses its keeper too, so a pause still ends the lease.
 */
static void *lease_keeper(void *arg)
{
    relay_lease *l = arg;
    pthread_mutex_lock(&l->mu);
    while (!l->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        int64_t ns = until.tv_nsec + l->ttl_ms * 1000000 / 4;
        until.tv_sec += ns / 1000000000;
        until.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&l->cv, &l->mu, &until);
        int64_t now = mono_us();
        if (l->stopping || !l->held || l->lost || !l->conn ||
            now - l->checked_us > l->keepalive_ms * 1000 ||
            now - l->renewed_us < l->ttl_ms * 1000 / 3)
            continue;
        char err[200];
        if (!lease_renew(l, now, err, sizeof(err))) {
            l->lost = true;
            snprintf(l->lost_msg, sizeof(l->lost_msg), "%s", err);
        }
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* With mu held, after the lock was taken. */
static void lease_start_keeper(relay_lease *l)
{
    if (l->keeper_started || l->keepalive_ms <= 0)
        return;
    l->keeper_started = pthread_create(&l->keeper, NULL, lease_keeper, l) == 0;
}

static relay_lease_rc lease_check_locked(relay_lease *l, char *errstr, size_t errstr_size);

static relay_lease_rc lease_try_locked(relay_lease *l, char *errstr, size_t errstr_size)
{
    if (l->held)
        return lease_check_locked(l, errstr, errstr_size);
    if (!l->conn && lease_connect(l, errstr, errstr_size) != RELAY_LEASE_HELD)
        return RELAY_LEASE_ERR_CONN;
    int64_t sent = mono_us();
    const char *params[1] = {l->slot};
    PGresult *res = PQexecParams(l->conn, LEASE_LOCK_SQL, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        snprintf(errstr, errstr_size, "taking the lease: %s", PQerrorMessage(l->conn));
        PQclear(res);
        lease_drop(l);
        return RELAY_LEASE_ERR_CONN;
    }
    relay_lease_rc rc =
        strcmp(PQgetvalue(res, 0, 0), "t") == 0 ? RELAY_LEASE_HELD : RELAY_LEASE_BUSY;
    PQclear(res);
    if (rc == RELAY_LEASE_HELD) {
        l->held = true;
        l->lost = false;
        l->renewed_us = sent;
        l->checked_us = sent;
        lease_start_keeper(l);
    }
    return rc;
}

relay_lease_rc relay_lease_try(relay_lease *l, char *errstr, size_t errstr_size)
{
    pthread_mutex_lock(&l->mu);
    relay_lease_rc rc = lease_try_locked(l, errstr, errstr_size);
    pthread_mutex_unlock(&l->mu);
    return rc;
}

static relay_lease_rc lease_check_locked(relay_lease *l, char *errstr, size_t errstr_size)
{
    if (!l->held) {
        snprintf(errstr, errstr_size, "the lease is not held");
        return RELAY_LEASE_ERR_CONN;
    }
    int64_t now = mono_us();
    char err[256];
    if (l->lost) {
        snprintf(err, sizeof(err), "%s", l->lost_msg);
    } else if (now - l->renewed_us < l->ttl_ms * 1000 / 3 ||
               lease_renew(l, now, err, sizeof(err))) {
        /* The server ends the session after a TTL of idleness: a renewal sent before that keeps
         * it; one that finds the session gone means another relay may hold the lease now. */
        l->checked_us = now;
        return RELAY_LEASE_HELD;
    }
    snprintf(errstr, errstr_size,
             "lost the lease on slot %s (no renewal for %" PRId64 " ms, lease TTL %" PRId64
             " ms): %s",
             l->slot, (now - l->renewed_us) / 1000, l->ttl_ms, err);
    lease_drop(l);
    return RELAY_LEASE_ERR_CONN;
}

relay_lease_rc relay_lease_check(relay_lease *l, char *errstr, size_t errstr_size)
{
    pthread_mutex_lock(&l->mu);
    relay_lease_rc rc = lease_check_locked(l, errstr, errstr_size);
    pthread_mutex_unlock(&l->mu);
    return rc;
}

int relay_lease_end_previous(relay_lease *l, int64_t wait_ms, char *errstr, size_t errstr_size)
{
    pthread_mutex_lock(&l->mu);
    if (!l->held || !l->conn || l->lost) {
        pthread_mutex_unlock(&l->mu);
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
    else {
        pid = PQntuples(res) == 1 ? atoi(PQgetvalue(res, 0, 0)) : 0;
        l->renewed_us = mono_us(); /* the session was busy, not idle: a renewal */
    }
    PQclear(res);
    pthread_mutex_unlock(&l->mu);
    return pid;
}
