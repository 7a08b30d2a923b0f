/* projector_rebuild: build a projection into a shadow schema, then swap it in. */
#include "projector_rebuild.h"

#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "buf.h"
#include "log.h"
#include "pg_connect.h"
#include "projector_rebuild_metrics.h"
#include "projector_replay.h"
#include "projector_runner.h"
#include "projector_stats.h"

#define COMPONENT "rebuild"
#define SCHEMA_MAX 43 /* + "__old_" + 14 digits = 63, PostgreSQL's identifier limit */
#define SWAP_WAIT_MS 60000
#define WATERMARK_TIMEOUT_MS 10000
#define WATERMARK_GIVEUP_MS 120000 /* a broker silent that long ends the rebuild (resumable) */

extern const char projector_sql_text[]; /* sql/projector.sql (generated) */

/* One rebuild's state; main thread only. */
typedef struct rebuild {
    const projector_settings *settings;
    const outbox_conf *conf;
    const projector_projection *proj;
    PGconn *conn; /* the projection's conninfo: control, progress and swap */
    char live[64], shadow[64];
    char *qlive, *qshadow; /* quoted identifiers (PQescapeIdentifier) */
    rd_kafka_t *probe;
    rd_kafka_topic_partition_list_t *parts; /* offset = low watermark; high kept aside */
    int64_t *high;
    char *errstr;
    size_t errstr_size;
} rebuild;

static void fail(rebuild *rb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(rebuild *rb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rb->errstr, rb->errstr_size, fmt, ap);
    va_end(ap);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run sql with text params; *out gets the result when non-NULL (else it is cleared). */
static int q(rebuild *rb, const char *sql, int n, const char *const *params, PGresult **out)
{
    /* Without parameters: PQexec, which also runs a script of several statements. */
    PGresult *res = n == 0 ? PQexec(rb->conn, sql)
                           : PQexecParams(rb->conn, sql, n, NULL, params, NULL, NULL, 0);
    char what[120];
    snprintf(what, sizeof what, "%.100s%s", sql, strlen(sql) > 100 ? "..." : "");
    int rc = projector_exec_ok(rb->conn, res, what, rb->errstr, rb->errstr_size);
    if (rc != 0 || out == NULL)
        PQclear(res);
    else
        *out = res;
    return rc;
}

/* "SQL with %s", formatted with quoted identifiers, then run without parameters. */
static int qf(rebuild *rb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int qf(rebuild *rb, const char *fmt, ...)
{
    char sql[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    return q(rb, sql, 0, NULL, NULL);
}

/* Append a key='value' pair, the value escaped for conninfo ('\' and '\''). 0 or -1. */
static int append_pair(outbox_buf *b, const char *key, const char *value, const char *tail)
{
    int bad = (b->len && outbox_buf_append_byte(b, ' ')) ||
              outbox_buf_append(b, key, strlen(key)) || outbox_buf_append(b, "='", 2);
    for (const char *p = value; !bad && *p; p++)
        bad = ((*p == '\'' || *p == '\\') && outbox_buf_append_byte(b, '\\')) ||
              outbox_buf_append_byte(b, (uint8_t)*p);
    return bad || outbox_buf_append(b, tail, strlen(tail)) || outbox_buf_append(b, "'", 1) ? -1 : 0;
}

char *projector_conninfo_with_schema(const char *conninfo, const char *schema)
{
    PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
    outbox_buf b = OUTBOX_BUF_INIT;
    int bad = 0;
    if (opts == NULL)
        return NULL;
    for (PQconninfoOption *o = opts; o->keyword != NULL && !bad; o++) {
        char tail[128] = "";
        if (strcmp(o->keyword, "options") == 0)
            snprintf(tail, sizeof tail, "%s-c search_path=%s",
                     o->val != NULL && o->val[0] ? " " : "", schema);
        else if (o->val == NULL)
            continue;
        bad = append_pair(&b, o->keyword, o->val ? o->val : "", tail);
    }
    PQconninfoFree(opts);
    if (bad || outbox_buf_append_byte(&b, 0)) {
        outbox_buf_free(&b);
        return NULL;
    }
    return (char *)b.data;
}

void projector_rebuild_progress_format(char *out, size_t size, int64_t done, int64_t total,
                                       double rate, bool bar)
{
    char bar_text[40] = "", eta[32] = "?";
    double frac = total > 0 ? (double)done / (double)total : 1.0;
    int64_t lag = total > done ? total - done : 0;
    if (frac > 1.0)
        frac = 1.0;
    if (bar) {
        int filled = (int)(frac * 30.0);
        bar_text[0] = '[';
        for (int i = 0; i < 30; i++)
            bar_text[1 + i] = i < filled ? '#' : '.';
        bar_text[31] = ']';
        bar_text[32] = ' ';
        bar_text[33] = '\0';
    }
    if (rate > 0.0) {
        long long s = (long long)((double)lag / rate + 0.5);
        snprintf(eta, sizeof eta, "%lldm%02llds", s / 60, s % 60);
    }
    snprintf(out, size, "%s%5.1f%% %lld/%lld events  %.0f ev/s  lag %lld  ETA %s", bar_text,
             frac * 100.0, (long long)done, (long long)total, rate, (long long)lag, eta);
}

/* --------------------------------------------------------------- names and guards */

static int resolve_schemas(rebuild *rb)
{
    PGresult *res = NULL;
    if (q(rb, "SELECT current_schema()", 0, NULL, &res))
        return -1;
    const char *s = PQgetisnull(res, 0, 0) ? NULL : PQgetvalue(res, 0, 0);
    if (s == NULL || strcmp(s, "public") == 0 || strlen(s) > SCHEMA_MAX ||
        !projector_identifier_valid(s) || strchr(s, '.') != NULL) {
        fail(rb,
             "projection %s has no schema of its own (current schema: %s): rebuild swaps the "
             "schema that holds the model and the projector's tables; put them in a schema of "
             "at most %d characters and add options='-c search_path=SCHEMA' to its database",
             rb->proj->name, s ? s : "none", SCHEMA_MAX);
        PQclear(res);
        return -1;
    }
    snprintf(rb->live, sizeof rb->live, "%s", s);
    snprintf(rb->shadow, sizeof rb->shadow, "%s__rebuild", s);
    PQclear(res);
    rb->qlive = PQescapeIdentifier(rb->conn, rb->live, strlen(rb->live));
    rb->qshadow = PQescapeIdentifier(rb->conn, rb->shadow, strlen(rb->shadow));
    if (rb->qlive == NULL || rb->qshadow == NULL) {
        fail(rb, "out of memory");
        return -1;
    }
    return 0;
}

/* Only this projection in the schema: a swap moves everything in it. */
static int check_alone(rebuild *rb)
{
    const char *p[1] = {rb->proj->name};
    PGresult *res = NULL;
    if (q(rb,
          "SELECT projection FROM projector_offsets WHERE projection <> $1 UNION "
          "SELECT projection FROM projector_projections WHERE projection <> $1 LIMIT 1",
          1, p, &res))
        return -1;
    int other = PQntuples(res);
    if (other)
        fail(rb,
             "schema %s also holds projection %s: a rebuild swaps the whole schema; give each "
             "projection its own schema (options='-c search_path=...')",
             rb->live, PQgetvalue(res, 0, 0));
    PQclear(res);
    return other ? -1 : 0;
}

/* The session advisory lock of the schema's rebuilds; waits up to 15 s, so that the backend
 * of a rebuild just killed has time to notice and release it. */
static int take_lock(rebuild *rb)
{
    const char *p[1] = {rb->live};
    int64_t deadline = now_ms() + 15000;
    for (;;) {
        PGresult *res = NULL;
        if (q(rb, "SELECT pg_try_advisory_lock(hashtext('outbox-projector rebuild'), hashtext($1))",
              1, p, &res))
            return -1;
        bool got = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
        PQclear(res);
        if (got)
            return 0;
        if (now_ms() > deadline)
            break;
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
    }
    fail(rb,
         "another rebuild of schema %s is running (stop it with Ctrl-C first; it resumes where "
         "it stopped)",
         rb->live);
    return -1;
}

static int schema_exists(rebuild *rb, const char *name, bool *exists)
{
    const char *p[1] = {name};
    PGresult *res = NULL;
    if (q(rb, "SELECT 1 FROM pg_namespace WHERE nspname = $1", 1, p, &res))
        return -1;
    *exists = PQntuples(res) > 0;
    PQclear(res);
    return 0;
}

/* --------------------------------------------------------------- the shadow schema */

static int run_file(rebuild *rb, const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fail(rb,
             "ddl file %s of projection %s: cannot open it (relative paths are read from "
             "the config file's directory)",
             path, rb->proj->name);
        return -1;
    }
    outbox_buf b = OUTBOX_BUF_INIT;
    char chunk[8192];
    size_t n;
    int bad = 0;
    while (!bad && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        bad = outbox_buf_append(&b, chunk, n);
    fclose(f);
    if (bad || outbox_buf_append_byte(&b, 0)) {
        outbox_buf_free(&b);
        fail(rb, "out of memory");
        return -1;
    }
    PGresult *res = PQexec(rb->conn, (const char *)b.data);
    outbox_buf_free(&b);
    char what[600];
    snprintf(what, sizeof what, "ddl file %s", path);
    int rc = projector_exec_ok(rb->conn, res, what, rb->errstr, rb->errstr_size);
    PQclear(res);
    return rc;
}

/* S's USAGE grantees get USAGE on the shadow (the daemon's role must reach it after the swap). */
static int copy_grants(rebuild *rb)
{
    const char *p[1] = {rb->live};
    PGresult *res = NULL;
    if (q(rb,
          "SELECT DISTINCT quote_ident(a.grantee::regrole::text) FROM pg_namespace n, "
          "aclexplode(n.nspacl) a WHERE n.nspname = $1 AND a.privilege_type = 'USAGE' AND "
          "a.grantee <> 0 AND a.grantee <> n.nspowner",
          1, p, &res))
        return -1;
    for (int i = 0; i < PQntuples(res); i++)
        if (qf(rb, "GRANT USAGE ON SCHEMA %s TO %s", rb->qshadow, PQgetvalue(res, i, 0))) {
            PQclear(res);
            return -1;
        }
    PQclear(res);
    return 0;
}

/* Create the shadow in one transaction, or find it (resume). */
static int prepare_shadow(rebuild *rb)
{
    bool exists = false;
    if (schema_exists(rb, rb->shadow, &exists))
        return -1;
    if (exists) {
        printf("resuming the rebuild of %s in schema %s\n", rb->proj->name, rb->shadow);
        fflush(stdout);
        return 0;
    }
    if (rb->proj->ddl_count == 0) {
        fail(rb,
             "projection %s has no ddl: add ddl = <file>[, ...] to [projection %s], the SQL "
             "that creates its tables (without schema names)",
             rb->proj->name, rb->proj->name);
        return -1;
    }
    if (qf(rb, "BEGIN") || qf(rb, "CREATE SCHEMA %s", rb->qshadow) ||
        qf(rb, "SET LOCAL search_path = %s", rb->qshadow) ||
        q(rb, projector_sql_text, 0, NULL, NULL))
        goto fail;
    for (size_t i = 0; i < rb->proj->ddl_count; i++)
        if (run_file(rb, rb->proj->ddl[i]))
            goto fail;
    if (copy_grants(rb) || qf(rb, "COMMIT"))
        goto fail;
    printf("created schema %s (projector tables + %zu ddl file(s))\n", rb->shadow,
           rb->proj->ddl_count);
    fflush(stdout);
    return 0;
fail:
    PQclear(PQexec(rb->conn, "ROLLBACK"));
    return -1;
}

/* --------------------------------------------------------------- offsets and progress */

static int watermarks(rebuild *rb)
{
    for (int i = 0; i < rb->parts->cnt; i++) {
        rd_kafka_topic_partition_t *p = &rb->parts->elems[i];
        int64_t lo = 0, hi = 0;
        rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
            rb->probe, p->topic, p->partition, &lo, &hi, WATERMARK_TIMEOUT_MS);
        if (err) {
            fail(rb, "kafka watermarks of %s [%d]: %s", p->topic, (int)p->partition,
                 rd_kafka_err2str(err));
            return -1;
        }
        p->offset = lo;
        rb->high[i] = hi;
    }
    return 0;
}

/* Next offsets stored in `schema` (quoted) for each of rb->parts: the low watermark when there
 * is no row or it is -2. */
static int stored(rebuild *rb, const char *qschema, int64_t *next)
{
    char sql[256];
    const char *p[1] = {rb->proj->name};
    PGresult *res = NULL;
    snprintf(sql, sizeof sql,
             "SELECT topic, partition, next_offset FROM %s.projector_offsets WHERE projection "
             "= $1",
             qschema);
    if (q(rb, sql, 1, p, &res))
        return -1;
    for (int i = 0; i < rb->parts->cnt; i++)
        next[i] = rb->parts->elems[i].offset;
    for (int r = 0; r < PQntuples(res); r++) {
        int64_t off = strtoll(PQgetvalue(res, r, 2), NULL, 10);
        for (int i = 0; i < rb->parts->cnt; i++)
            if (strcmp(rb->parts->elems[i].topic, PQgetvalue(res, r, 0)) == 0 &&
                rb->parts->elems[i].partition == atoi(PQgetvalue(res, r, 1)) && off >= 0)
                next[i] = off;
    }
    PQclear(res);
    return 0;
}

static void totals(const rebuild *rb, const int64_t *next, int64_t *done, int64_t *total)
{
    *done = *total = 0;
    for (int i = 0; i < rb->parts->cnt; i++) {
        int64_t lo = rb->parts->elems[i].offset, hi = rb->high[i];
        int64_t at = next[i] < lo ? lo : next[i] > hi ? hi : next[i];
        *total += hi - lo;
        *done += at - lo;
    }
}

/* --------------------------------------------------------------- the shadow runner */

/* The shadow's workers: `rebuild-workers` runners in one consumer group (<group>.rebuild), each
 * with its own connection and its share of the partitions (the group assigns them; a worker
 * without a partition waits). Order per aggregate holds: a partition has one worker. */
typedef struct shadow_worker {
    char label[16]; /* the worker="N" label of its metrics */
    projector_stats stats;
    bool stats_init;
    projector_runner *runner;
    bool started;
} shadow_worker;

typedef struct shadow_runner {
    projector_projection proj; /* shallow copy of the live one: group and notify differ */
    char group[PROJECTOR_NAME_MAX + 128];
    char *conninfo;
    outbox_schemas *schemas, *readers;
    outbox_schema_history *history;
    atomic_int stop; /* one flag for every worker */
    shadow_worker *workers;
    int n;
    projector_stats **stats; /* &workers[i].stats, for the metrics */
} shadow_runner;

static int shadow_load(rebuild *rb, shadow_runner *sr)
{
    sr->proj = *rb->proj;
    snprintf(sr->group, sizeof sr->group, "%s.rebuild", rb->proj->group);
    sr->proj.group = sr->group;
    sr->proj.notify = (char *)""; /* readers of the live model wait on the live channel */
    sr->conninfo = projector_conninfo_with_schema(
        projector_settings_conninfo(rb->settings, rb->proj), rb->shadow);
    if (sr->conninfo == NULL) {
        fail(rb, "the database conninfo of projection %s does not parse", rb->proj->name);
        return -1;
    }
    if (outbox_schemas_load_dir(rb->settings->schemas_dir, &sr->schemas, rb->errstr,
                                rb->errstr_size))
        return -1;
    const char *reader_dir = projector_settings_reader_schemas(rb->settings, rb->proj);
    if (reader_dir != NULL &&
        outbox_schemas_load_dir(reader_dir, &sr->readers, rb->errstr, rb->errstr_size))
        return -1;
    const char *history_dir = rb->settings->schema_history_dir;
    if (history_dir != NULL && history_dir[0] != '\0' &&
        outbox_schema_history_load(history_dir, &sr->history, rb->errstr, rb->errstr_size))
        return -1;
    return 0;
}

static int worker_start(rebuild *rb, shadow_runner *sr, shadow_worker *w, int index)
{
    if (projector_stats_init(&w->stats, rb->proj->name)) {
        fail(rb, "out of memory");
        return -1;
    }
    w->stats_init = true;
    snprintf(w->label, sizeof w->label, "%d", index + 1);
    w->stats.worker = sr->n > 1 ? w->label : NULL;
    projector_runner_config cfg =
        projector_settings_runner_config(rb->settings, rb->proj, rb->conf);
    cfg.proj = &sr->proj;
    cfg.conninfo = sr->conninfo;
    cfg.schemas = sr->schemas;
    cfg.readers = sr->readers;
    cfg.history = sr->history;
    cfg.stats = &w->stats;
    cfg.stop = &sr->stop;
    cfg.client_name = "outbox-projector-rebuild";
    w->runner = projector_runner_new(&cfg, rb->errstr, rb->errstr_size);
    if (w->runner == NULL || projector_runner_start(w->runner, rb->errstr, rb->errstr_size))
        return -1;
    w->started = true;
    return 0;
}

static int shadow_start(rebuild *rb, shadow_runner *sr)
{
    if (shadow_load(rb, sr))
        return -1;
    int n = (int)rb->settings->rebuild_workers;
    sr->workers = calloc((size_t)n, sizeof *sr->workers);
    sr->stats = calloc((size_t)n, sizeof *sr->stats);
    if (sr->workers == NULL || sr->stats == NULL) {
        fail(rb, "out of memory");
        return -1;
    }
    sr->n = n;
    for (int i = 0; i < n; i++) {
        sr->stats[i] = &sr->workers[i].stats;
        if (worker_start(rb, sr, &sr->workers[i], i))
            return -1;
    }
    return 0;
}

/* Stop and join every worker (each writes its pending batch). 0, or 1 when one had failed. */
static int shadow_stop(shadow_runner *sr)
{
    int rc = 0;
    atomic_store(&sr->stop, 1);
    for (int i = 0; i < sr->n; i++) {
        shadow_worker *w = &sr->workers[i];
        if (w->started && projector_runner_join(w->runner) != 0)
            rc = 1;
        w->started = false;
    }
    return rc;
}

static void shadow_free(shadow_runner *sr)
{
    shadow_stop(sr);
    for (int i = 0; i < sr->n; i++) {
        projector_runner_free(sr->workers[i].runner);
        if (sr->workers[i].stats_init)
            projector_stats_destroy(&sr->workers[i].stats);
    }
    free(sr->workers);
    free(sr->stats);
    outbox_schemas_destroy(sr->schemas);
    outbox_schemas_destroy(sr->readers);
    outbox_schema_history_free(sr->history);
    free(sr->conninfo);
}

/* One failed worker fails the build: its partitions would never catch up. */
static bool shadow_failed(shadow_runner *sr)
{
    for (int i = 0; i < sr->n; i++)
        if (atomic_load(&sr->workers[i].stats.state) == PROJECTOR_STATE_FAILED)
            return true;
    return false;
}

/* --------------------------------------------------------------- the swap */

/* Every live partition reached by the shadow. */
static bool caught_up(const rebuild *rb, const int64_t *live, const int64_t *shadow)
{
    for (int i = 0; i < rb->parts->cnt; i++)
        if (shadow[i] < live[i])
            return false;
    return true;
}

/* Drop every schema the query (quote_ident'ed names in column 0) lists. -1 on error, else
 * the number dropped. */
static int drop_listed(rebuild *rb, const char *sql, int n, const char *const *params)
{
    PGresult *res = NULL;
    if (q(rb, sql, n, params, &res))
        return -1;
    int dropped = PQntuples(res);
    for (int i = 0; i < dropped; i++) {
        if (qf(rb, "DROP SCHEMA %s CASCADE", PQgetvalue(res, i, 0))) {
            PQclear(res);
            return -1;
        }
        printf("dropped %s\n", PQgetvalue(res, i, 0));
    }
    PQclear(res);
    return dropped;
}

/* Old models past projector.rebuild-keep-old (inside the swap transaction). */
static int drop_expired(rebuild *rb)
{
    if (rb->settings->rebuild_keep_old_ms <= 0)
        return 0;
    char ms[32];
    snprintf(ms, sizeof ms, "%lld", (long long)rb->settings->rebuild_keep_old_ms);
    const char *p[2] = {rb->live, ms};
    return drop_listed(rb,
                       "SELECT quote_ident(nspname) FROM pg_namespace WHERE nspname ~ ('^' || $1 "
                       "|| '__old_[0-9]{14}$') AND right(nspname, 14) < to_char((now() - "
                       "$2::bigint * interval '1 ms') AT TIME ZONE 'UTC', 'YYYYMMDDHH24MISS')",
                       2, p) < 0
               ? -1
               : 0;
}

/* The renames and generations, inside the swap transaction, the live row locked. */
static int swap_names(rebuild *rb, const char *generation, char *old, size_t old_size)
{
    PGresult *res = NULL;
    const char *p[2] = {rb->proj->name, generation};
    if (q(rb, "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDDHH24MISS')", 0, NULL, &res))
        return -1;
    snprintf(old, old_size, "%s__old_%s", rb->live, PQgetvalue(res, 0, 0));
    PQclear(res);
    char *qold = PQescapeIdentifier(rb->conn, old, strlen(old));
    if (qold == NULL) {
        fail(rb, "out of memory");
        return -1;
    }
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO %s.projector_projections (projection, generation, replayed_at, "
             "replay_from) VALUES ($1, $2::bigint + 1, now(), 'rebuild') ON CONFLICT "
             "(projection) DO UPDATE SET generation = EXCLUDED.generation, replayed_at = now(), "
             "replay_from = 'rebuild'",
             rb->qshadow);
    int rc = -1;
    if (q(rb, sql, 2, p, NULL))
        goto done;
    snprintf(sql, sizeof sql,
             "UPDATE %s.projector_projections SET generation = generation + 1 WHERE "
             "projection = $1",
             rb->qlive);
    if (q(rb, sql, 1, p, NULL) || qf(rb, "ALTER SCHEMA %s RENAME TO %s", rb->qlive, qold) ||
        qf(rb, "ALTER SCHEMA %s RENAME TO %s", rb->qshadow, rb->qlive) ||
        qf(rb, "ALTER FUNCTION %s.projector_event_status(text, uuid) SET search_path = %s",
           rb->qlive, rb->qlive))
        goto done;
    /* The old copy of the function (if the schema had one) keeps answering from its schema. */
    snprintf(sql, sizeof sql,
             "DO $$ BEGIN IF to_regprocedure('%s.projector_event_status(text, uuid)') IS NOT "
             "NULL THEN ALTER FUNCTION %s.projector_event_status(text, uuid) SET search_path = "
             "%s; END IF; END $$",
             qold, qold, qold);
    rc = q(rb, sql, 0, NULL, NULL);
done:
    PQfreemem(qold);
    return rc;
}

/* Poll until the shadow reaches `live` (or SWAP_WAIT_MS). 1 reached, 0 not, -1 error. */
static int wait_shadow(rebuild *rb, shadow_runner *sr, const int64_t *live, int64_t *shadow)
{
    int64_t deadline = now_ms() + SWAP_WAIT_MS;
    for (;;) {
        if (stored(rb, rb->qshadow, shadow))
            return -1;
        if (caught_up(rb, live, shadow))
            return 1;
        if (shadow_failed(sr) || now_ms() > deadline)
            return 0;
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* The swap transaction (see the header). 1 swapped, 0 not yet (keep building), -1 error. */
static int try_swap(rebuild *rb, shadow_runner *sr, int64_t *live, int64_t *shadow)
{
    char sql[256], old[64];
    const char *p[1] = {rb->proj->name};
    PGresult *res = NULL;
    snprintf(sql, sizeof sql,
             "INSERT INTO %s.projector_projections (projection) VALUES ($1) ON CONFLICT DO "
             "NOTHING",
             rb->qlive);
    if (q(rb, sql, 1, p, NULL) || qf(rb, "BEGIN"))
        return -1;
    snprintf(sql, sizeof sql,
             "SELECT generation FROM %s.projector_projections WHERE projection = $1 FOR UPDATE",
             rb->qlive);
    if (q(rb, sql, 1, p, &res))
        goto fail;
    char generation[32];
    snprintf(generation, sizeof generation, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (stored(rb, rb->qlive, live))
        goto fail;
    int reached = wait_shadow(rb, sr, live, shadow);
    if (reached <= 0) {
        PQclear(PQexec(rb->conn, "ROLLBACK"));
        return reached;
    }
    if (shadow_stop(sr) != 0) {
        fail(rb, "the rebuild's runner failed (see the log above)");
        goto fail;
    }
    if (stored(rb, rb->qshadow, shadow) || swap_names(rb, generation, old, sizeof old) ||
        drop_expired(rb) || qf(rb, "COMMIT"))
        goto fail;
    printf("swapped: schema %s now holds the rebuilt model (generation %lld); the old model "
           "is kept as %s (outbox-projector rebuild %s --drop-old removes it)\n",
           rb->live, strtoll(generation, NULL, 10) + 1, old, rb->proj->name);
    return 1;
fail:
    PQclear(PQexec(rb->conn, "ROLLBACK"));
    return -1;
}

/* --------------------------------------------------------------- the build loop */

typedef struct progress {
    bool tty;
    int64_t last_print_ms, last_done, last_ms;
    double rate;
} progress;

static void progress_show(progress *pr, int64_t done, int64_t total, bool final)
{
    int64_t t = now_ms();
    if (pr->last_ms > 0 && t > pr->last_ms) {
        double inst = (double)(done - pr->last_done) * 1000.0 / (double)(t - pr->last_ms);
        pr->rate = pr->rate > 0 ? 0.7 * pr->rate + 0.3 * inst : inst;
    }
    pr->last_ms = t;
    pr->last_done = done;
    if (!final && !pr->tty && t - pr->last_print_ms < 5000)
        return;
    pr->last_print_ms = t;
    char line[256];
    projector_rebuild_progress_format(line, sizeof line, done, total, pr->rate, pr->tty);
    printf(pr->tty ? "\r%s\033[K%s" : "%s%s", line, pr->tty && !final ? "" : "\n");
    fflush(stdout);
}

projector_broker_health projector_rebuild_broker_health(int64_t *since_ms, bool answered,
                                                        int64_t now_ms, int64_t giveup_ms)
{
    if (answered) {
        bool was = *since_ms != 0;
        *since_ms = 0;
        return was ? PROJECTOR_BROKER_RECOVERED : PROJECTOR_BROKER_OK;
    }
    if (*since_ms == 0)
        *since_ms = now_ms;
    return now_ms - *since_ms > giveup_ms ? PROJECTOR_BROKER_GIVE_UP : PROJECTOR_BROKER_WAITING;
}

/* The high watermarks while the build runs; a broker that does not answer is waited for (see
 * projector_rebuild_broker_health), as the shadow's runner waits for it: *since is when the
 * trouble started (0: none). Non-zero only when it lasted WATERMARK_GIVEUP_MS (errstr set). */
static int broker_trouble(rebuild *rb, int64_t *since)
{
    switch (projector_rebuild_broker_health(since, watermarks(rb) == 0, now_ms(),
                                            WATERMARK_GIVEUP_MS)) {
    case PROJECTOR_BROKER_OK:
        return 0;
    case PROJECTOR_BROKER_RECOVERED:
        outbox_log_info(COMPONENT, "the broker answers again; the rebuild goes on");
        return 0;
    case PROJECTOR_BROKER_WAITING:
        outbox_log_warn(COMPONENT, "%s; retrying (the build goes on, for up to %d s)", rb->errstr,
                        WATERMARK_GIVEUP_MS / 1000);
        return 0;
    case PROJECTOR_BROKER_GIVE_UP:
        break;
    }
    return -1;
}

/* Serve the progress on /metrics (a port in use or http off: on the terminal only). */
static projector_rebuild_metrics *metrics_start(rebuild *rb, shadow_runner *sr)
{
    char err[256];
    projector_rebuild_metrics *m = projector_rebuild_metrics_start(
        rb->settings, rb->proj->name, sr->stats, (size_t)sr->n, err, sizeof err);
    if (m != NULL)
        printf("metrics on http://%s:%u/metrics\n", rb->settings->http_bind,
               (unsigned)projector_rebuild_metrics_port(m));
    else if (err[0] != '\0')
        outbox_log_warn(COMPONENT, "no progress in /metrics: %s (http.rebuild-port)", err);
    fflush(stdout);
    return m;
}

static int build_and_swap(rebuild *rb, const volatile sig_atomic_t *interrupted)
{
    shadow_runner sr;
    memset(&sr, 0, sizeof sr);
    int64_t *live = calloc((size_t)rb->parts->cnt, sizeof *live);
    int64_t *shadow = calloc((size_t)rb->parts->cnt, sizeof *shadow);
    progress pr = {.tty = isatty(STDOUT_FILENO) == 1};
    projector_rebuild_metrics *metrics = NULL;
    int64_t trouble_since = 0;
    int rc = -1;
    if (live == NULL || shadow == NULL) {
        fail(rb, "out of memory");
        goto done;
    }
    /* The rate's baseline: where the shadow stands (0 or a resumed build's count) as the runner
     * starts, so a build that ends within the first tick still shows how fast it went. */
    int64_t base_total = 0;
    if (stored(rb, rb->qshadow, shadow))
        goto done;
    totals(rb, shadow, &pr.last_done, &base_total);
    pr.last_ms = now_ms();
    if (shadow_start(rb, &sr))
        goto done;
    metrics = metrics_start(rb, &sr);
    for (;;) {
        struct timespec ts = {1, 0};
        nanosleep(&ts, NULL);
        if (interrupted != NULL && *interrupted) {
            fail(rb,
                 "interrupted: the shadow schema %s is kept; run rebuild %s again to resume "
                 "or rebuild %s --cancel to drop it",
                 rb->shadow, rb->proj->name, rb->proj->name);
            goto done;
        }
        if (shadow_failed(&sr)) {
            fail(rb, "the rebuild's runner failed (see the log above); schema %s is kept",
                 rb->shadow);
            goto done;
        }
        if (broker_trouble(rb, &trouble_since))
            goto done;
        if (trouble_since != 0)
            continue; /* no fresh watermarks: progress and the catch-up test wait */
        int64_t done_n = 0, total = 0;
        if (stored(rb, rb->qshadow, shadow))
            goto done;
        totals(rb, shadow, &done_n, &total);
        progress_show(&pr, done_n, total, false);
        projector_rebuild_metrics_update(metrics, done_n, total, pr.rate);
        if (total - done_n > 2 * rb->settings->batch_size)
            continue;
        projector_rebuild_metrics_phase(metrics, PROJECTOR_REBUILD_PHASE_SWAPPING);
        int swapped = try_swap(rb, &sr, live, shadow);
        projector_rebuild_metrics_phase(metrics, PROJECTOR_REBUILD_PHASE_BUILDING);
        if (swapped < 0)
            goto done;
        if (swapped > 0) {
            totals(rb, shadow, &done_n, &total);
            progress_show(&pr, done_n, total, true);
            rc = 0;
            goto done;
        }
    }
done:
    if (rc != 0 && pr.tty)
        printf("\n");
    projector_rebuild_metrics_stop(metrics);
    shadow_free(&sr);
    free(live);
    free(shadow);
    return rc;
}

/* --------------------------------------------------------------- the commands */

static int drop_old(rebuild *rb)
{
    const char *p[1] = {rb->live};
    int n = drop_listed(rb,
                        "SELECT quote_ident(nspname) FROM pg_namespace WHERE nspname ~ ('^' || $1 "
                        "|| '__old_[0-9]{14}$') ORDER BY 1",
                        1, p);
    if (n == 0)
        printf("no old model of %s to drop\n", rb->live);
    return n < 0 ? -1 : 0;
}

static int cancel(rebuild *rb)
{
    bool exists = false;
    if (schema_exists(rb, rb->shadow, &exists))
        return -1;
    if (exists && qf(rb, "DROP SCHEMA %s CASCADE", rb->qshadow))
        return -1;
    printf(exists ? "cancelled: dropped %s; the live model is untouched\n"
                  : "no rebuild in progress (%s does not exist)\n",
           rb->shadow);
    return 0;
}

static int connect_kafka(rebuild *rb)
{
    rb->probe = projector_probe_new(rb->proj, rb->conf, rb->errstr, rb->errstr_size);
    if (rb->probe == NULL)
        return -1;
    rb->parts = projector_probe_partitions(rb->probe, rb->proj, rb->errstr, rb->errstr_size);
    if (rb->parts == NULL)
        return -1;
    rb->high = calloc((size_t)rb->parts->cnt + 1, sizeof *rb->high);
    if (rb->high == NULL) {
        fail(rb, "out of memory");
        return -1;
    }
    return watermarks(rb);
}

static int dispatch(rebuild *rb, projector_rebuild_action action,
                    const volatile sig_atomic_t *interrupted)
{
    if (resolve_schemas(rb) || take_lock(rb))
        return -1;
    if (action == PROJECTOR_REBUILD_CANCEL)
        return cancel(rb);
    if (action == PROJECTOR_REBUILD_DROP_OLD)
        return drop_old(rb);
    if (check_alone(rb) || prepare_shadow(rb) || connect_kafka(rb))
        return -1;
    return build_and_swap(rb, interrupted);
}

int projector_rebuild_run(const projector_settings *settings, const outbox_conf *conf,
                          const char *name, projector_rebuild_action action,
                          const volatile sig_atomic_t *interrupted, char *errstr,
                          size_t errstr_size)
{
    rebuild rb = {.settings = settings,
                  .conf = conf,
                  .proj = projector_projections_find(&settings->projections, name),
                  .errstr = errstr,
                  .errstr_size = errstr_size};
    if (rb.proj == NULL) {
        snprintf(errstr, errstr_size, "no projection named '%s' in the configuration", name);
        return -1;
    }
    const outbox_pg_params pgparams = {.conninfo = projector_settings_conninfo(settings, rb.proj),
                                       .application_name = "outbox-projector-rebuild"};
    char why[1600];
    int rc = -1;
    if (outbox_pg_connect(&pgparams, &rb.conn, why, sizeof why) != OUTBOX_PG_CONNECT_OK)
        snprintf(errstr, errstr_size, "cannot connect to the read database: %s", why);
    else
        rc = dispatch(&rb, action, interrupted);
    PQfinish(rb.conn);
    PQfreemem(rb.qlive);
    PQfreemem(rb.qshadow);
    if (rb.parts != NULL)
        rd_kafka_topic_partition_list_destroy(rb.parts);
    if (rb.probe != NULL)
        rd_kafka_destroy(rb.probe);
    free(rb.high);
    return rc;
}
