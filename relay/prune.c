/* relay_prune: delete confirmed outbox rows in small batches, on a thread of its own. */
#include "prune.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "log.h"
#include "pg_connect.h"
#include "pgarray.h"
#include "settings.h"

#define COMPONENT "prune"
/* Rows listed at most; past it a published row is not listed (it stays in the table). */
#define PRUNE_MAX_PENDING 1000000
#define PRUNE_BACKOFF_MAX_MS 30000
#define PRUNE_LOG_EVERY_US 60000000
/* Bounds on one DELETE, so stopping never waits long on it. */
#define PRUNE_SESSION_SQL "SET statement_timeout = '10s'; SET lock_timeout = '2s'"

struct prune_entry {
    uint64_t lsn; /* the end LSN of the row's transaction */
    int table;
    char *id;
};

struct relay_prune {
    char *conninfo;
    char **sql;   /* DELETE statement by table */
    char **names; /* "schema.table" by table, for messages */
    size_t ntables;
    int64_t batch, interval_ms;
    relay_prune_stats *stats;

    /* The loop thread's rows of the transaction being received (no lock). */
    struct prune_entry *staged;
    size_t nstaged, staged_cap;

    /* Shared, under mu: rows of committed transactions, oldest first, at q[head..len). */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct prune_entry *q;
    size_t head, len, cap;
    uint64_t confirmed;
    bool stop;

    /* The prune thread's own. */
    pthread_t thread;
    PGconn *conn;
    const char **ids;     /* the batch being deleted (pointers into q's entries) */
    outbox_buf literal;   /* the batch as an array literal, $1 of the DELETE */
    int64_t logged_us[4]; /* when each relay_prune_err was last logged */
};

#define STAT_ADD(field, n) atomic_fetch_add_explicit(&p->stats->field, (n), memory_order_relaxed)

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---------------------------------------------------------------- pure helpers */

relay_prune_err relay_prune_classify(const char *sqlstate)
{
    if (sqlstate == NULL || strlen(sqlstate) != 5)
        return RELAY_PRUNE_ERR_TRANSIENT; /* no server answer: the connection broke */
    if (strcmp(sqlstate, "42501") == 0)
        return RELAY_PRUNE_ERR_PRIVILEGE;
    static const char *const transient_classes[] = {"08", "40", "53", "57"};
    for (size_t i = 0; i < sizeof(transient_classes) / sizeof(transient_classes[0]); i++)
        if (strncmp(sqlstate, transient_classes[i], 2) == 0)
            return RELAY_PRUNE_ERR_TRANSIENT;
    if (strcmp(sqlstate, "55P03") == 0) /* lock_not_available (lock_timeout) */
        return RELAY_PRUNE_ERR_TRANSIENT;
    return RELAY_PRUNE_ERR_OTHER;
}

/* An identifier, always double-quoted (embedded quotes doubled), appended at out. */
static size_t quote_ident(const char *name, char *out)
{
    size_t n = 0;
    out[n++] = '"';
    for (const char *s = name; *s; s++) {
        if (*s == '"')
            out[n++] = '"';
        out[n++] = *s;
    }
    out[n++] = '"';
    return n;
}

/* "DELETE FROM "s"."t" WHERE "id" = ANY($1)" (malloc'd) or NULL. */
static char *delete_sql(const relay_prune_table *t)
{
    size_t size = 64 + 2 * (strlen(t->schema) + strlen(t->relname) + strlen(t->id_column)) + 8;
    char *sql = malloc(size);
    if (!sql)
        return NULL;
    size_t n = (size_t)snprintf(sql, size, "DELETE FROM ");
    n += quote_ident(t->schema, sql + n);
    sql[n++] = '.';
    n += quote_ident(t->relname, sql + n);
    n += (size_t)snprintf(sql + n, size - n, " WHERE ");
    n += quote_ident(t->id_column, sql + n);
    snprintf(sql + n, size - n, " = ANY($1)");
    return sql;
}

/* ---------------------------------------------------------------- the list */

static void entry_free(struct prune_entry *e)
{
    free(e->id);
    e->id = NULL;
}

/* Append to the shared list (under mu). 0, or -1 when full or out of memory. */
static int list_push(relay_prune *p, const struct prune_entry *e)
{
    if (p->len - p->head >= PRUNE_MAX_PENDING)
        return -1;
    if (p->head > 0 && p->len == p->cap) { /* room at the front: move down */
        memmove(p->q, p->q + p->head, (p->len - p->head) * sizeof(*p->q));
        p->len -= p->head;
        p->head = 0;
    }
    if (p->len == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 1024;
        struct prune_entry *q = realloc(p->q, cap * sizeof(*q));
        if (!q)
            return -1;
        p->q = q;
        p->cap = cap;
    }
    p->q[p->len++] = *e;
    return 0;
}

/* The next batch (under mu): head entries of one table, confirmed, at most p->batch; their ids
 * in p->ids. The count, 0 when none is deletable. */
static size_t list_take(relay_prune *p, int *table)
{
    size_t n = 0;
    for (size_t i = p->head; i < p->len && n < (size_t)p->batch; i++) {
        const struct prune_entry *e = &p->q[i];
        if (e->lsn > p->confirmed || (n > 0 && e->table != *table))
            break;
        *table = e->table;
        p->ids[n++] = e->id;
    }
    return n;
}

/* Drop the first n entries (under mu): deleted, or given up (then counted as skipped). */
static void list_pop(relay_prune *p, size_t n, bool given_up)
{
    for (size_t i = 0; i < n; i++)
        entry_free(&p->q[p->head + i]);
    p->head += n;
    if (p->head == p->len)
        p->head = p->len = 0;
    atomic_fetch_sub_explicit(&p->stats->pending, (int64_t)n, memory_order_relaxed);
    if (given_up)
        STAT_ADD(skipped, n);
}

/* ---------------------------------------------------------------- the loop thread's side */

void relay_prune_note(relay_prune *p, int table, const char *id)
{
    if (!p || table < 0 || (size_t)table >= p->ntables || !id)
        return;
    if (p->nstaged == p->staged_cap) {
        size_t cap = p->staged_cap ? p->staged_cap * 2 : 64;
        struct prune_entry *s = realloc(p->staged, cap * sizeof(*s));
        if (!s) {
            STAT_ADD(skipped, 1);
            return;
        }
        p->staged = s;
        p->staged_cap = cap;
    }
    struct prune_entry e = {.table = table, .id = strdup(id)};
    if (!e.id) {
        STAT_ADD(skipped, 1);
        return;
    }
    p->staged[p->nstaged++] = e;
}

void relay_prune_commit(relay_prune *p, uint64_t end_lsn)
{
    if (!p || p->nstaged == 0)
        return;
    size_t listed = 0;
    pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < p->nstaged; i++) {
        p->staged[i].lsn = end_lsn;
        if (list_push(p, &p->staged[i]) == 0)
            listed++;
        else
            entry_free(&p->staged[i]);
    }
    pthread_mutex_unlock(&p->mu);
    atomic_fetch_add_explicit(&p->stats->pending, (int64_t)listed, memory_order_relaxed);
    if (listed < p->nstaged)
        STAT_ADD(skipped, p->nstaged - listed);
    p->nstaged = 0;
}

void relay_prune_restart(relay_prune *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nstaged; i++)
        entry_free(&p->staged[i]);
    p->nstaged = 0;
}

void relay_prune_confirmed(relay_prune *p, uint64_t lsn)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    if (lsn > p->confirmed) {
        p->confirmed = lsn;
        pthread_cond_signal(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
}

/* ---------------------------------------------------------------- the prune thread */

/* Wait (under mu) ms, or until signalled or stopped. */
static void wait_ms(relay_prune *p, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = ts.tv_nsec + (ms % 1000) * 1000000;
    ts.tv_sec += ms / 1000 + ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    if (!p->stop)
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
}

/* Log an error class at most once a minute (the counters show every one). */
static bool log_due(relay_prune *p, relay_prune_err e)
{
    int64_t now = mono_us();
    if (p->logged_us[e] != 0 && now - p->logged_us[e] < PRUNE_LOG_EVERY_US)
        return false;
    p->logged_us[e] = now;
    return true;
}

/* A session for the deletes, bounded statements. 0, or -1 (logged now and then). */
static int prune_connect(relay_prune *p)
{
    if (p->conn && PQstatus(p->conn) == CONNECTION_OK)
        return 0;
    PQfinish(p->conn);
    const outbox_pg_params pgparams = {.conninfo = p->conninfo,
                                       .application_name = "outbox-relay-prune"};
    char why[1600];
    PGresult *res = NULL;
    if (outbox_pg_connect(&pgparams, &p->conn, why, sizeof why) == OUTBOX_PG_CONNECT_OK) {
        res = PQexec(p->conn, PRUNE_SESSION_SQL);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            snprintf(why, sizeof why, "%s", PQerrorMessage(p->conn));
    }
    bool ok = res && PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (ok)
        return 0;
    if (log_due(p, RELAY_PRUNE_ERR_TRANSIENT))
        outbox_log_warn(COMPONENT,
                        "outbox.prune: cannot connect to delete confirmed rows: %s; "
                        "retrying (relaying goes on)",
                        why);
    PQfinish(p->conn);
    p->conn = NULL;
    return -1;
}

/* Say what a failed batch means and count it. */
static void prune_report(relay_prune *p, relay_prune_err e, int table, size_t n,
                         const char *sqlstate)
{
    const char *err = PQerrorMessage(p->conn);
    switch (e) {
    case RELAY_PRUNE_ERR_PRIVILEGE:
        STAT_ADD(errors_privilege, 1);
        if (log_due(p, e))
            outbox_log_error(COMPONENT,
                             "outbox.prune: role %s may not delete from %s (SQLSTATE %s): run "
                             "GRANT DELETE ON %s TO %s; as the table's owner. These %zu rows "
                             "stay in the table; relaying goes on",
                             PQuser(p->conn), p->names[table], sqlstate, p->names[table],
                             PQuser(p->conn), n);
        break;
    case RELAY_PRUNE_ERR_OTHER:
        STAT_ADD(errors_other, 1);
        if (log_due(p, e))
            outbox_log_error(COMPONENT,
                             "outbox.prune: deleting %zu confirmed rows from %s failed "
                             "(SQLSTATE %s): %s; they stay in the table; relaying goes on",
                             n, p->names[table], sqlstate, err);
        break;
    case RELAY_PRUNE_ERR_TRANSIENT:
        STAT_ADD(errors_transient, 1);
        if (log_due(p, e))
            outbox_log_warn(COMPONENT,
                            "outbox.prune: deleting from %s failed (SQLSTATE %s): %s; retrying",
                            p->names[table], sqlstate ? sqlstate : "none", err);
        break;
    case RELAY_PRUNE_OK:
        break;
    }
}

/* DELETE the batch p->ids[0..n) of `table`. */
static relay_prune_err prune_delete(relay_prune *p, int table, size_t n)
{
    if (prune_connect(p) != 0) {
        STAT_ADD(errors_transient, 1);
        return RELAY_PRUNE_ERR_TRANSIENT;
    }
    int bad = outbox_pgarray_begin(&p->literal);
    for (size_t i = 0; i < n && !bad; i++)
        bad = outbox_pgarray_add(&p->literal, p->ids[i], i == 0);
    if (bad || outbox_pgarray_end(&p->literal))
        return RELAY_PRUNE_ERR_TRANSIENT; /* out of memory: try again later */
    const char *params[1] = {(const char *)p->literal.data};
    PGresult *res = PQexecParams(p->conn, p->sql[table], 1, NULL, params, NULL, NULL, 0);
    relay_prune_err e = RELAY_PRUNE_OK;
    if (PQresultStatus(res) == PGRES_COMMAND_OK) {
        STAT_ADD(rows, strtoull(PQcmdTuples(res), NULL, 10));
    } else {
        const char *sqlstate = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        e = PQstatus(p->conn) != CONNECTION_OK ? RELAY_PRUNE_ERR_TRANSIENT
                                               : relay_prune_classify(sqlstate);
        prune_report(p, e, table, n, sqlstate);
    }
    PQclear(res);
    return e;
}

static void *prune_main(void *arg)
{
    relay_prune *p = arg;
    int64_t backoff_ms = p->interval_ms;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        int table = 0;
        size_t n = list_take(p, &table);
        if (n == 0) {
            wait_ms(p, p->interval_ms);
            continue;
        }
        pthread_mutex_unlock(&p->mu); /* the loop thread only appends meanwhile */
        relay_prune_err e = prune_delete(p, table, n);
        pthread_mutex_lock(&p->mu);
        if (e == RELAY_PRUNE_ERR_TRANSIENT) {
            wait_ms(p, backoff_ms);
            backoff_ms =
                backoff_ms * 2 > PRUNE_BACKOFF_MAX_MS ? PRUNE_BACKOFF_MAX_MS : backoff_ms * 2;
            continue;
        }
        backoff_ms = p->interval_ms;
        list_pop(p, n, e != RELAY_PRUNE_OK);
        if (e != RELAY_PRUNE_OK)
            wait_ms(p, p->interval_ms);
    }
    pthread_mutex_unlock(&p->mu);
    PQfinish(p->conn);
    p->conn = NULL;
    return NULL;
}

/* ---------------------------------------------------------------- setup */

static void prune_destroy(relay_prune *p)
{
    for (size_t i = 0; i < p->ntables; i++) {
        free(p->sql[i]);
        free(p->names[i]);
    }
    free(p->sql);
    free(p->names);
    relay_prune_restart(p);
    free(p->staged);
    for (size_t i = p->head; i < p->len; i++)
        entry_free(&p->q[i]);
    free(p->q);
    free(p->ids);
    outbox_buf_free(&p->literal);
    free(p->conninfo);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}

/* Statements and names of every table. 0, or -1 (ENOMEM). */
static int prune_tables(relay_prune *p, const relay_prune_config *cfg)
{
    p->sql = calloc(cfg->ntables, sizeof(*p->sql));
    p->names = calloc(cfg->ntables, sizeof(*p->names));
    if (!p->sql || !p->names)
        return -1;
    p->ntables = cfg->ntables;
    for (size_t i = 0; i < cfg->ntables; i++) {
        const relay_prune_table *t = &cfg->tables[i];
        size_t size = strlen(t->schema) + strlen(t->relname) + 2;
        p->sql[i] = delete_sql(t);
        p->names[i] = malloc(size);
        if (!p->sql[i] || !p->names[i])
            return -1;
        snprintf(p->names[i], size, "%s.%s", t->schema, t->relname);
    }
    return 0;
}

relay_prune *relay_prune_start(const relay_prune_config *cfg, char *errstr, size_t errstr_size)
{
    relay_prune *p = calloc(1, sizeof(*p));
    if (!p) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    outbox_buf_init(&p->literal);
    p->batch = cfg->batch > 0 ? cfg->batch : 1;
    p->interval_ms = cfg->interval_ms > 0 ? cfg->interval_ms : 1;
    p->stats = cfg->stats;
    p->conninfo = strdup(cfg->conninfo);
    p->ids = calloc((size_t)p->batch, sizeof(*p->ids));
    if (!p->conninfo || !p->ids || prune_tables(p, cfg) != 0) {
        snprintf(errstr, errstr_size, "out of memory");
        prune_destroy(p);
        return NULL;
    }
    if (pthread_create(&p->thread, NULL, prune_main, p) != 0) {
        snprintf(errstr, errstr_size, "outbox.prune: cannot start its thread");
        prune_destroy(p);
        return NULL;
    }
    return p;
}

void relay_prune_free(relay_prune *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    prune_destroy(p);
}

int relay_prune_start_settings(const relay_settings *settings, relay_prune_stats *stats,
                               relay_prune **out, char *errstr, size_t errstr_size)
{
    *out = NULL;
    if (!settings->prune)
        return 0;
    relay_prune_table *tables = calloc(settings->ntables, sizeof(*tables));
    if (!tables) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < settings->ntables; i++) {
        const relay_table *t = &settings->tables[i];
        tables[i] = (relay_prune_table){t->schema, t->relname, t->columns[RELAY_COL_ID]};
    }
    relay_prune_config cfg = {.conninfo = settings->conninfo,
                              .tables = tables,
                              .ntables = settings->ntables,
                              .batch = settings->prune_batch,
                              .interval_ms = settings->prune_interval_ms,
                              .stats = stats};
    *out = relay_prune_start(&cfg, errstr, errstr_size);
    free(tables);
    if (!*out)
        return -1;
    outbox_log_info(COMPONENT,
                    "outbox.prune on: confirmed rows are deleted in batches of %" PRId64
                    " (every %" PRId64 " ms when idle)",
                    settings->prune_batch, settings->prune_interval_ms);
    return 0;
}
