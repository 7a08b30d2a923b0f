/*
 * bench_projector: how fast the projector applies events with dedup and offsets, against a
 * raw set-based upsert of the same rows straight into PostgreSQL, in the same run.
 *
 *   bench_projector [EVENTS (200000)] [BATCH (500)]
 *   bench_projector produce TOPIC EVENTS     only step 1, into TOPIC (bench/rebuild/run.sh)
 *   env: OUTBOX_PG_READ_SUPER (creates a scratch schema), OUTBOX_PG_READ (the projector's
 *        role), OUTBOX_KAFKA; see bench/projector/run.sh
 *
 * 1. EVENTS PostCreated events, Avro single-object encoded, go to a fresh 3-partition topic.
 * 2. The projector's runner (the daemon's code, in process) consumes them: every batch is one
 *    transaction with dedup rows, the mapped upsert per event (sql.PostCreated), offsets.
 *    Rate = events between the first and the last commit / that time (steady state; group join
 *    excluded, and shown).
 * 3. The same with the set-based mapping (sqlset.PostCreated: one upsert per run of events,
 *    $1 the run's jsonb array), as another projection into another table.
 * 4. Raw: the same JSON rows, BATCH per transaction, one set-based
 *    INSERT ... SELECT FROM jsonb_array_elements($1) ON CONFLICT DO UPDATE per transaction.
 * Prints the three rates and both ratios to raw. Leaves nothing behind (schema and topic
 * dropped).
 */
#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "avro_json.h"
#include "avro_schema.h"
#include "log.h"
#include "projector_runner.h"
#include "projector_settings.h"
#include "wire.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int exec(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "bench: %s: %s", sql, PQerrorMessage(conn));
    PQclear(res);
    return ok ? 0 : -1;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)len + 1);
    if (text != NULL && fread(text, 1, (size_t)len, f) == (size_t)len)
        text[len] = '\0';
    fclose(f);
    return text;
}

#define TABLE_DDL                                                                                  \
    "(post_id uuid PRIMARY KEY, author_id text NOT NULL, author_name text NOT NULL, title "        \
    "text NOT NULL, body text NOT NULL, tags text[] NOT NULL, created_at timestamptz NOT "         \
    "NULL, event_id uuid NOT NULL)"
#define PROJECT_SELECT(src, id)                                                                    \
    "SELECT (" src "->>'post_id')::uuid, " src "->>'author_id', " src "->>'author_name', " src     \
    "->>'title', " src "->>'body', ARRAY(SELECT jsonb_array_elements_text(" src                    \
    "->'tags')), (" src "->>'created_at')::timestamptz, " id
#define UPSERT_TAIL                                                                                \
    " ON CONFLICT (post_id) DO UPDATE SET title = EXCLUDED.title, body = EXCLUDED.body, "          \
    "event_id = EXCLUDED.event_id"

typedef struct bench_target {
    const char *topic, *role, *schema, *kafka;
    const outbox_schemas *schemas;
    long events, batch;
} bench_target;

/* Run the projector's runner as projection `name` with the mapping `mapping` ("sql.T=..." or
 * "sqlset.T=...") until every event is applied. The steady rate, or -1. */
static double run_projector(const bench_target *t, const char *name, const char *mapping)
{
    char errstr[1024];
    char set_topics[256], set_db[512], set_kafka[256], set_sql[2200], set_batch[64],
        set_notify[160];
    snprintf(set_topics, sizeof set_topics, "projection %s.topics=%s", name, t->topic);
    snprintf(set_db, sizeof set_db, "projection %s.database=%s options='-c search_path=%s'", name,
             t->role, t->schema);
    snprintf(set_kafka, sizeof set_kafka, "kafka.bootstrap.servers=%s", t->kafka);
    snprintf(set_sql, sizeof set_sql, "projection %s.%s", name, mapping);
    snprintf(set_batch, sizeof set_batch, "projector.batch-size=%ld", t->batch);
    snprintf(set_notify, sizeof set_notify, "projection %s.notify=", name);
    const char *sets[] = {set_topics, set_db,     set_kafka,        set_sql,
                          set_batch,  set_notify, "http.listen=off"};
    projector_settings settings;
    memset(&settings, 0, sizeof settings);
    outbox_conf *conf = NULL;
    outbox_conf_sources src = {.sets = sets, .set_count = sizeof sets / sizeof sets[0]};
    if (projector_settings_load(&settings, &src, &conf, errstr, sizeof errstr)) {
        fprintf(stderr, "bench: %s\n", errstr);
        return -1;
    }
    projector_stats stats;
    if (projector_stats_init(&stats, name))
        return -1;
    atomic_int stop = 0;
    const projector_projection *proj = &settings.projections.items[0];
    projector_runner_config rcfg = {.proj = proj,
                                    .conninfo = proj->database,
                                    .conf = conf,
                                    .schemas = t->schemas,
                                    .batch_size = settings.batch_size,
                                    .batch_linger_ms = settings.batch_linger_ms,
                                    .backoff_min_ms = settings.backoff_min_ms,
                                    .backoff_max_ms = settings.backoff_max_ms,
                                    .dedup_retention_ms = 0,
                                    .prune_interval_ms = settings.prune_interval_ms,
                                    .replay_poll_ms = settings.replay_poll_ms,
                                    .dlq_suffix = settings.dlq_suffix,
                                    .dlq_timeout_ms = settings.dlq_timeout_ms,
                                    .stats = &stats,
                                    .stop = &stop};
    projector_runner *runner = projector_runner_new(&rcfg, errstr, sizeof errstr);
    if (runner == NULL || projector_runner_start(runner, errstr, sizeof errstr)) {
        fprintf(stderr, "bench: %s\n", errstr);
        return -1;
    }
    double start = now_s(), first = 0, last = 0;
    uint64_t first_applied = 0;
    while (now_s() - start < 600) {
        uint64_t applied = atomic_load(&stats.applied);
        if (first == 0 && applied > 0) {
            first = now_s();
            first_applied = applied;
        }
        if ((long)applied >= t->events) {
            last = now_s();
            break;
        }
        if (atomic_load(&stats.state) == PROJECTOR_STATE_FAILED)
            break;
        usleep(1000);
    }
    atomic_store(&stop, 1);
    projector_runner_join(runner);
    projector_runner_free(runner);
    double rate = -1;
    if (last == 0) {
        fprintf(stderr, "bench: projection %s applied only %llu events\n", name,
                (unsigned long long)atomic_load(&stats.applied));
    } else {
        rate = (double)((uint64_t)t->events - first_applied) / (last - first);
        printf("projector (%s): %ld events applied with dedup + offsets in %.2f s from start "
               "(group join %.2f s); steady %.0f events/s (batches of %ld, %llu transactions, "
               "%llu set statements)\n",
               strncmp(mapping, "sqlset.", 7) == 0 ? "set-based, sqlset.PostCreated"
                                                   : "per event, sql.PostCreated",
               t->events, last - start, first - start, rate, t->batch,
               (unsigned long long)atomic_load(&stats.batches),
               (unsigned long long)atomic_load(&stats.set_statements));
    }
    projector_stats_destroy(&stats);
    outbox_conf_destroy(conf);
    projector_settings_free(&settings);
    return rate;
}

/* Event i: a PostCreated value exactly as the projector will see it decoded (timestamps
 * rendered, so the raw upsert gets the same rows), its post id and event id. Call srand(42)
 * first: ids are unique by i, the random part spreads posts over partitions. */
static json_t *bench_event(long i, char pid[37], char id[37])
{
    unsigned r1 = (unsigned)rand() & 0xffffffu, r2 = (unsigned)rand() & 0xffffffu;
    unsigned seq = (unsigned)i;
    snprintf(pid, 37, "%08x-0000-4000-8000-%06x%06x", seq, r1, r2);
    snprintf(id, 37, "%08x-1111-4000-8000-%06x%06x", seq, r2, r1);
    char created[40];
    long ms = i % 86400000L;
    snprintf(created, sizeof created, "2026-01-01T%02ld:%02ld:%02ld.%03ldZ", ms / 3600000,
             ms / 60000 % 60, ms / 1000 % 60, ms % 1000);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:[s,s], s:{}, s:n, s:s}", "post_id", pid,
                     "author_id", "u1", "author_name", "Author", "title", "Title", "body",
                     "A body of some length for the benchmark post.", "tags", "a", "b", "metadata",
                     "publish_date", "created_at", created);
}

/* Encode v (single-object Avro) and produce it with headers id and event_type. 0 or -1. */
static int produce_one(rd_kafka_t *producer, const char *topic, const outbox_schema *post,
                       json_t *v, const char *pid, const char *id, outbox_buf *buf)
{
    char errstr[512];
    outbox_buf_reset(buf);
    if (outbox_wire_single_object_write(buf, outbox_schema_fingerprint(post), errstr,
                                        sizeof errstr) ||
        outbox_avro_json_encode(post, v, buf, errstr, sizeof errstr)) {
        fprintf(stderr, "bench: encode: %s\n", errstr);
        return -1;
    }
    rd_kafka_headers_t *h = rd_kafka_headers_new(2);
    rd_kafka_header_add(h, "id", -1, id, -1);
    rd_kafka_header_add(h, "event_type", -1, "PostCreated", -1);
    while (rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(pid, 36),
                             RD_KAFKA_V_VALUE(buf->data, buf->len),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(h),
                             RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(producer, 10);
    rd_kafka_poll(producer, 0);
    return 0;
}

/* `bench_projector produce TOPIC EVENTS`: only the events (bench/rebuild/run.sh). */
static int produce_only(const char *topic, long events, const char *kafka)
{
    char errstr[512];
    outbox_schemas *schemas = NULL;
    if (outbox_schemas_load_dir(SCHEMA_DIR, &schemas, errstr, sizeof errstr)) {
        fprintf(stderr, "bench: %s\n", errstr);
        return 1;
    }
    const outbox_schema *post = outbox_schemas_find(schemas, "PostCreated");
    rd_kafka_conf_t *pconf = rd_kafka_conf_new();
    rd_kafka_conf_set(pconf, "bootstrap.servers", kafka, errstr, sizeof errstr);
    rd_kafka_conf_set(pconf, "linger.ms", "50", errstr, sizeof errstr);
    rd_kafka_conf_set(pconf, "compression.type", "lz4", errstr, sizeof errstr);
    rd_kafka_conf_set(pconf, "enable.idempotence", "true", errstr, sizeof errstr);
    rd_kafka_t *producer = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, errstr, sizeof errstr);
    outbox_buf buf = OUTBOX_BUF_INIT;
    double t0 = now_s();
    int rc = 0;
    srand(42);
    for (long i = 0; i < events && rc == 0; i++) {
        char pid[37], id[37];
        json_t *v = bench_event(i, pid, id);
        rc = produce_one(producer, topic, post, v, pid, id, &buf);
        json_decref(v);
    }
    if (rc == 0 && rd_kafka_flush(producer, 120000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "bench: produce did not finish\n");
        rc = 1;
    }
    if (rc == 0)
        printf("produced %ld events to %s in %.2f s\n", events, topic, now_s() - t0);
    rd_kafka_destroy(producer);
    outbox_buf_free(&buf);
    outbox_schemas_destroy(schemas);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "produce") == 0) {
        const char *kafka = getenv("OUTBOX_KAFKA");
        return kafka ? produce_only(argv[2], atol(argv[3]), kafka) : 2;
    }
    long events = argc > 1 ? atol(argv[1]) : 200000;
    long batch = argc > 2 ? atol(argv[2]) : 500;
    const char *super = getenv("OUTBOX_PG_READ_SUPER");
    const char *role = getenv("OUTBOX_PG_READ");
    const char *kafka = getenv("OUTBOX_KAFKA");
    char errstr[1024], schema[64], topic[128], sql[4096];
    if (super == NULL || role == NULL || kafka == NULL) {
        fprintf(stderr, "bench: set OUTBOX_PG_READ_SUPER, OUTBOX_PG_READ, OUTBOX_KAFKA "
                        "(eval \"$(compose/stack env)\")\n");
        return 2;
    }
    outbox_log_set_level(OUTBOX_LOG_WARN);
    snprintf(schema, sizeof schema, "bench_%d_%ld", (int)getpid(), (long)time(NULL));
    snprintf(topic, sizeof topic, "bench.projector.%d.%ld", (int)getpid(), (long)time(NULL));

    /* ---------------------------------------------------------------- database */
    PGconn *conn = PQconnectdb(super);
    char *ddl = read_file(PROJECTOR_SQL);
    if (PQstatus(conn) != CONNECTION_OK || ddl == NULL) {
        fprintf(stderr, "bench: %s", ddl ? PQerrorMessage(conn) : "cannot read projector.sql\n");
        return 1;
    }
    snprintf(sql, sizeof sql,
             "CREATE SCHEMA %s; SET search_path = %s; SET client_min_messages = warning", schema,
             schema);
    if (exec(conn, sql) || exec(conn, ddl))
        return 1;
    snprintf(sql, sizeof sql,
             "CREATE TABLE projected " TABLE_DDL "; CREATE TABLE projected_set " TABLE_DDL
             "; CREATE TABLE raw " TABLE_DDL
             "; GRANT USAGE ON SCHEMA %s TO outbox_projector; GRANT ALL ON ALL TABLES IN "
             "SCHEMA %s TO outbox_projector",
             schema, schema);
    if (exec(conn, sql))
        return 1;
    free(ddl);

    /* ---------------------------------------------------------------- events */
    outbox_schemas *schemas = NULL;
    if (outbox_schemas_load_dir(SCHEMA_DIR, &schemas, errstr, sizeof errstr)) {
        fprintf(stderr, "bench: %s\n", errstr);
        return 1;
    }
    const outbox_schema *post = outbox_schemas_find(schemas, "PostCreated");
    char **payloads = calloc((size_t)events, sizeof *payloads);
    char(*ids)[37] = calloc((size_t)events, sizeof *ids);
    rd_kafka_conf_t *pconf = rd_kafka_conf_new();
    rd_kafka_conf_set(pconf, "bootstrap.servers", kafka, errstr, sizeof errstr);
    rd_kafka_conf_set(pconf, "linger.ms", "20", errstr, sizeof errstr);
    rd_kafka_conf_set(pconf, "enable.idempotence", "true", errstr, sizeof errstr);
    rd_kafka_t *producer = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, errstr, sizeof errstr);
    outbox_buf buf = OUTBOX_BUF_INIT;
    double t0 = now_s();
    srand(42);
    for (long i = 0; i < events; i++) {
        char pid[37];
        json_t *v = bench_event(i, pid, ids[i]);
        payloads[i] = json_dumps(v, JSON_COMPACT);
        int rc = produce_one(producer, topic, post, v, pid, ids[i], &buf);
        json_decref(v);
        if (rc)
            return 1;
    }
    if (rd_kafka_flush(producer, 60000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "bench: produce did not finish\n");
        return 1;
    }
    printf("produced %ld events to %s in %.2f s\n", events, topic, now_s() - t0);

    /* ---------------------------------------------------------------- the projector */
    char sql_event[2048], sql_set[2048];
    snprintf(sql_event, sizeof sql_event,
             "sql.PostCreated=INSERT INTO projected " PROJECT_SELECT("$1", "$2") UPSERT_TAIL);
    snprintf(
        sql_set, sizeof sql_set,
        "sqlset.PostCreated=INSERT INTO projected_set " PROJECT_SELECT(
            "(e->'event')", "(e->>'id')::uuid") " FROM jsonb_array_elements($1) AS e" UPSERT_TAIL);
    bench_target target = {.topic = topic,
                           .role = role,
                           .schema = schema,
                           .kafka = kafka,
                           .schemas = schemas,
                           .events = events,
                           .batch = batch};
    double event_rate = run_projector(&target, "bench", sql_event);
    if (event_rate <= 0)
        return 1;
    double set_rate = run_projector(&target, "benchset", sql_set);
    if (set_rate <= 0)
        return 1;

    /* ---------------------------------------------------------------- raw set-based upsert */
    snprintf(
        sql, sizeof sql,
        "INSERT INTO raw " PROJECT_SELECT(
            "e", "(i->>0)::uuid") " FROM "
                                  "jsonb_array_elements($1::jsonb) WITH ORDINALITY AS a(e, n) JOIN "
                                  "jsonb_array_elements($2::jsonb) WITH ORDINALITY AS b(i, m) ON n "
                                  "= m" UPSERT_TAIL);
    PGresult *res = PQprepare(conn, "raw", sql, 0, NULL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        fprintf(stderr, "bench: %s", PQerrorMessage(conn));
        return 1;
    }
    PQclear(res);
    double r0 = now_s();
    for (long at = 0; at < events; at += batch) {
        outbox_buf rows = OUTBOX_BUF_INIT, idv = OUTBOX_BUF_INIT;
        long end = at + batch < events ? at + batch : events;
        if (outbox_buf_append_byte(&rows, '[') || outbox_buf_append_byte(&idv, '['))
            return 1;
        for (long i = at; i < end; i++) {
            char q[48];
            snprintf(q, sizeof q, "%s\"%s\"", i > at ? "," : "", ids[i]);
            if ((i > at && outbox_buf_append_byte(&rows, ',')) ||
                outbox_buf_append(&rows, payloads[i], strlen(payloads[i])) ||
                outbox_buf_append(&idv, q, strlen(q)))
                return 1;
        }
        if (outbox_buf_append(&rows, "]", 2) || outbox_buf_append(&idv, "]", 2))
            return 1;
        const char *params[2] = {(const char *)rows.data, (const char *)idv.data};
        if (exec(conn, "BEGIN"))
            return 1;
        res = PQexecPrepared(conn, "raw", 2, params, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            fprintf(stderr, "bench: raw: %s", PQerrorMessage(conn));
            return 1;
        }
        PQclear(res);
        if (exec(conn, "COMMIT"))
            return 1;
        outbox_buf_free(&rows);
        outbox_buf_free(&idv);
    }
    double raw_rate = (double)events / (now_s() - r0);
    printf("raw set-based upsert: %ld rows in transactions of %ld in %.2f s: %.0f rows/s\n", events,
           batch, now_s() - r0, raw_rate);

    snprintf(sql, sizeof sql,
             "SELECT (SELECT count(*) FROM projected), (SELECT count(*) FROM projected_set), "
             "(SELECT count(*) FROM raw), (SELECT count(*) FROM projector_dedup), (SELECT "
             "sum(next_offset) FROM projector_offsets), (SELECT count(*) FROM (SELECT * FROM "
             "projected EXCEPT SELECT * FROM projected_set) d)");
    res = PQexec(conn, sql);
    printf("check: projected %s rows, projected_set %s rows, raw %s rows, %s dedup rows (both "
           "projections), offsets sum %s (both), rows differing per-event vs set-based %s\n",
           PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2),
           PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 4), PQgetvalue(res, 0, 5));
    PQclear(res);
    printf("RESULT events=%ld batch=%ld per_event_per_s=%.0f set_based_per_s=%.0f "
           "raw_rows_per_s=%.0f ratio_per_event=%.2f ratio_set_based=%.2f\n",
           events, batch, event_rate, set_rate, raw_rate, event_rate / raw_rate,
           set_rate / raw_rate);

    /* ---------------------------------------------------------------- cleanup */
    snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", schema);
    exec(conn, sql);
    PQfinish(conn);
    rd_kafka_DeleteTopic_t *del = rd_kafka_DeleteTopic_new(topic);
    rd_kafka_queue_t *q = rd_kafka_queue_new(producer);
    rd_kafka_DeleteTopics(producer, &del, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 10000);
    if (ev != NULL)
        rd_kafka_event_destroy(ev);
    rd_kafka_DeleteTopic_destroy(del);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(producer);
    for (long i = 0; i < events; i++)
        free(payloads[i]);
    free(payloads);
    free(ids);
    outbox_buf_free(&buf);
    outbox_schemas_destroy(schemas);
    return 0;
}
