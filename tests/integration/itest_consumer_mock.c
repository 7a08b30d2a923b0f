/*
 * The consumer side under Kafka faults: outbox_consumer (the projector's runner, store and
 * dead-letter producer in handler mode) reading from librdkafka's mock cluster, with its
 * dedup rows, offsets and the handler's effects in the stack's real PostgreSQL
 * ($OUTBOX_PG_READ_SUPER, a schema of its own per run). The mock cluster is used only to inject
 * what a real broker cannot be made to do on cue; every effect is checked in the database.
 *
 *   rebalance during batches: a second member joins while the first holds open batches, then
 *     the first leaves; every event is applied exactly once and the stored offsets reach the
 *     end of every partition.
 *   coordinator loss: the group coordinator's broker goes down for a while (the partition
 *     leaders stay up); the consumer keeps applying, stays running, and every event is applied
 *     exactly once.
 *
 *   a handler that COMMITs and returns RETRY: the inbox rows of the batch's events it had not
 *     handled yet were committed with it; the consumer must stop (join returns 1) instead of
 *     retrying the batch and skipping those events as duplicates.
 *
 * Not covered here: a member stalled past session.timeout.ms (a process-level fault: the chaos
 * suite's SIGSTOP on the real stack); librdkafka 2.0.2's mock API has no call acting on a
 * group member, only on brokers, partitions, coordinators and request errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "avro_json.h"
#include "avro_schema.h"
#include "buf.h"
#include "outbox_consumer.h"
#include "wire.h"

#define TOPIC "ev"
#define PARTITIONS 4

static const char *pg_super;
static char schema_name[64];
static char conninfo[1024];
static outbox_schemas *schemas;
static const outbox_schema *post_schema;
static int run_counter;

/* ------------------------------------------------------------------ helpers */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void sql_must(const char *sql)
{
    PGconn *conn = PQconnectdb(conninfo);
    if (PQstatus(conn) != CONNECTION_OK)
        fail_msg("connect: %s", PQerrorMessage(conn));
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(res));
    PQclear(res);
    PQfinish(conn);
}

/* The first column of the first row as a number (-1 when the query fails). */
static long long sql_number(const char *sql)
{
    PGconn *conn = PQconnectdb(conninfo);
    long long v = -1;
    if (PQstatus(conn) == CONNECTION_OK) {
        PGresult *res = PQexec(conn, sql);
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
            !PQgetisnull(res, 0, 0))
            v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
    }
    PQfinish(conn);
    return v;
}

static bool wait_number(const char *sql, long long want, int seconds)
{
    int64_t deadline = now_ms() + seconds * 1000LL;
    while (now_ms() < deadline) {
        if (sql_number(sql) == want)
            return true;
        sleep_ms(200);
    }
    return false;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = calloc(1, (size_t)n + 1);
    if (text != NULL && fread(text, 1, (size_t)n, f) != (size_t)n) {
        free(text);
        text = NULL;
    }
    fclose(f);
    return text;
}

/* A fresh schema with the projector's tables and the handler's `seen` table. */
static void fresh_schema(void)
{
    char sql[512];
    snprintf(schema_name, sizeof schema_name, "itest_cmock_%ld_%d", (long)getpid(), ++run_counter);
    snprintf(conninfo, sizeof conninfo,
             "%s options='-c search_path=%s -c client_min_messages=warning'", pg_super,
             schema_name);
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", schema_name,
             schema_name);
    sql_must(sql);
    char *projector_sql = read_file(FIXTURE_DIR "/../../sql/projector.sql");
    assert_non_null(projector_sql);
    sql_must(projector_sql);
    free(projector_sql);
    sql_must("CREATE TABLE seen (event_id uuid PRIMARY KEY, part int NOT NULL, "
             "\"offset\" bigint NOT NULL, n int NOT NULL DEFAULT 1)");
}

static void drop_schema(void)
{
    char sql[256];
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", schema_name);
    sql_must(sql);
}

/* The handler's call that COMMITs and returns RETRY (a handler bug); 0 = none. */
static atomic_int commit_at_call;
static atomic_int handler_calls;

/* The handler: one row per event; a second application of an event bumps n. */
static outbox_consumer_rc on_event(void *opaque, PGconn *conn, const outbox_consumer_event *ev,
                                   outbox_consumer_error *err)
{
    int call = atomic_fetch_add(&handler_calls, 1) + 1;
    if (call == atomic_load(&commit_at_call)) {
        PQclear(PQexec(conn, "COMMIT"));
        return outbox_consumer_fail(err, OUTBOX_CONSUMER_RETRY, "committed, then RETRY");
    }
    char part[16], off[32];
    snprintf(part, sizeof part, "%d", (int)ev->partition);
    snprintf(off, sizeof off, "%lld", (long long)ev->offset);
    const char *params[3] = {ev->id, part, off};
    PGresult *res =
        PQexecParams(conn,
                     "INSERT INTO seen (event_id, part, \"offset\") VALUES ($1, $2, $3) "
                     "ON CONFLICT (event_id) DO UPDATE SET n = seen.n + 1",
                     3, NULL, params, NULL, NULL, 0);
    outbox_consumer_rc rc = PQresultStatus(res) == PGRES_COMMAND_OK
                                ? OUTBOX_CONSUMER_OK
                                : outbox_consumer_sql_error(conn, res, "insert seen", err);
    PQclear(res);
    return rc;
}

/* ------------------------------------------------------------------ the cluster and events */

typedef struct cluster {
    rd_kafka_t *mock_rk;
    rd_kafka_mock_cluster_t *mcluster;
    rd_kafka_t *producer;
    int produced;
    char group[64];
} cluster;

static void conf_must(rd_kafka_conf_t *conf, const char *name, const char *value)
{
    char err[256];
    if (rd_kafka_conf_set(conf, name, value, err, sizeof err) != RD_KAFKA_CONF_OK)
        fail_msg("%s=%s: %s", name, value, err);
}

static void cluster_new(cluster *c, int brokers)
{
    char err[512];
    memset(c, 0, sizeof *c);
    rd_kafka_conf_t *mconf = rd_kafka_conf_new();
    conf_must(mconf, "log_level", "0");
    c->mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, mconf, err, sizeof err);
    assert_non_null(c->mock_rk);
    c->mcluster = rd_kafka_mock_cluster_new(c->mock_rk, brokers);
    assert_non_null(c->mcluster);
    assert_int_equal(rd_kafka_mock_topic_create(c->mcluster, TOPIC, PARTITIONS, 1), 0);
    assert_int_equal(rd_kafka_mock_topic_create(c->mcluster, TOPIC ".dlq", 1, 1), 0);
    snprintf(c->group, sizeof c->group, "itest-cmock-%ld-%d", (long)getpid(), run_counter);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_must(conf, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(c->mcluster));
    conf_must(conf, "log_level", "0");
    conf_must(conf, "linger.ms", "5");
    c->producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    assert_non_null(c->producer);
}

static void cluster_free(cluster *c)
{
    rd_kafka_flush(c->producer, 5000);
    rd_kafka_destroy(c->producer);
    rd_kafka_mock_cluster_destroy(c->mcluster);
    rd_kafka_destroy(c->mock_rk);
}

/* Produce events [c->produced, c->produced + n): PostCreated values in Avro single-object
 * encoding (the consumer finds the schema in the schemas directory by fingerprint). */
static void produce(cluster *c, int n)
{
    outbox_buf buf = {0};
    char err[512];
    for (int i = c->produced; i < c->produced + n; i++) {
        char id[40], post[40];
        snprintf(id, sizeof id, "%08lx-0000-4000-8000-%012x",
                 (unsigned long)getpid() & 0xffffffffUL, (unsigned)(run_counter * 1000000 + i));
        snprintf(post, sizeof post, "%08x-1111-4000-8000-%012x", (unsigned)run_counter,
                 (unsigned)i);
        json_t *value =
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:[], s:{}, s:n, s:I}", "post_id", post,
                      "author_id", "a", "author_name", "A", "title", "t", "body", "b", "tags",
                      "metadata", "publish_date", "created_at", (json_int_t)1767225600000LL + i);
        assert_non_null(value);
        outbox_buf_reset(&buf);
        assert_int_equal(outbox_wire_single_object_write(
                             &buf, outbox_schema_fingerprint(post_schema), err, sizeof err),
                         0);
        if (outbox_avro_json_encode(post_schema, value, &buf, err, sizeof err) != 0)
            fail_msg("encode: %s", err);
        json_decref(value);
        rd_kafka_resp_err_t kerr = rd_kafka_producev(
            c->producer, RD_KAFKA_V_TOPIC(TOPIC), RD_KAFKA_V_KEY(post, strlen(post)),
            RD_KAFKA_V_VALUE(buf.data, buf.len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_HEADER("id", id, -1), RD_KAFKA_V_HEADER("event_type", "PostCreated", -1),
            RD_KAFKA_V_END);
        assert_int_equal(kerr, RD_KAFKA_RESP_ERR_NO_ERROR);
        rd_kafka_poll(c->producer, 0);
    }
    assert_int_equal(rd_kafka_flush(c->producer, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
    c->produced += n;
    outbox_buf_free(&buf);
}

/* A consumer of TOPIC in c's group, started on its own thread. */
static outbox_consumer *consumer_start(cluster *c, outbox_consumer_settings *settings,
                                       outbox_conf **conf)
{
    char errstr[1024], s_conn[1200], s_group[128], s_boot[256], s_schemas[512];
    snprintf(s_conn, sizeof s_conn, "postgres.conninfo=%s", conninfo);
    snprintf(s_group, sizeof s_group, "consumer.group=%s", c->group);
    snprintf(s_boot, sizeof s_boot, "kafka.bootstrap.servers=%s",
             rd_kafka_mock_cluster_bootstraps(c->mcluster));
    snprintf(s_schemas, sizeof s_schemas, "avro.schema-dir=%s", SCHEMA_DIR);
    const char *sets[] = {s_conn,
                          "consumer.name=cmock",
                          "consumer.topics=" TOPIC,
                          s_group,
                          s_schemas,
                          "consumer.batch-size=200",
                          "consumer.batch-linger=300ms",
                          "consumer.retry-backoff-min=50ms",
                          "consumer.retry-backoff-max=500ms",
                          "log.level=warn",
                          s_boot,
                          "kafka.session.timeout.ms=6000",
                          "kafka.heartbeat.interval.ms=500",
                          "kafka.log_level=3"};
    outbox_conf_sources src = {.sets = sets, .set_count = sizeof sets / sizeof sets[0]};
    memset(settings, 0, sizeof *settings);
    if (outbox_consumer_settings_load(settings, "itest", "ITEST_CMOCK", &src, conf, errstr,
                                      sizeof errstr) != 0)
        fail_msg("settings: %s", errstr);
    outbox_consumer *consumer =
        outbox_consumer_new(settings, *conf, on_event, NULL, errstr, sizeof errstr);
    if (consumer == NULL)
        fail_msg("consumer: %s", errstr);
    if (outbox_consumer_start(consumer, errstr, sizeof errstr) != 0)
        fail_msg("start: %s", errstr);
    return consumer;
}

static int consumer_finish(outbox_consumer *consumer, outbox_consumer_settings *settings,
                           outbox_conf *conf)
{
    outbox_consumer_stop(consumer);
    int rc = outbox_consumer_join(consumer);
    outbox_consumer_free(consumer);
    outbox_consumer_settings_free(settings);
    outbox_conf_destroy(conf);
    return rc;
}

/* Every produced event applied once, and the stored offsets at the end of every partition. */
static void assert_applied_once(cluster *c)
{
    char sql[512];
    assert_true(wait_number("SELECT count(*) FROM seen", c->produced, 120));
    assert_int_equal(sql_number("SELECT max(n) FROM seen"), 1);
    assert_int_equal(sql_number("SELECT count(*) FROM projector_dead_letters"), 0);
    snprintf(sql, sizeof sql,
             "SELECT sum(next_offset) FROM projector_offsets WHERE projection = 'cmock' AND "
             "topic = '%s'",
             TOPIC);
    assert_true(wait_number(sql, c->produced, 30));
}

/* ------------------------------------------------------------------ tests */

static void test_rebalance_during_batches_applies_each_event_once(void **state)
{
    cluster c;
    outbox_consumer_settings sa, sb;
    outbox_conf *ca = NULL, *cb = NULL;
    fresh_schema();
    cluster_new(&c, 1);
    produce(&c, 1000);
    outbox_consumer *a = consumer_start(&c, &sa, &ca);
    assert_true(wait_number("SELECT (count(*) > 0)::int FROM seen", 1, 60));
    /* B joins while A is consuming (A's open batch is cut by the revoke), more events keep
     * coming, then A leaves (B takes every partition over). */
    outbox_consumer *b = consumer_start(&c, &sb, &cb);
    for (int i = 0; i < 5; i++) {
        produce(&c, 200);
        sleep_ms(300);
    }
    /* Everything so far applied with both members in the group, before A leaves. */
    assert_true(wait_number("SELECT count(*) FROM seen", c.produced, 90));
    assert_true(outbox_consumer_running(a) && outbox_consumer_running(b));
    assert_int_equal(consumer_finish(a, &sa, ca), 0);
    produce(&c, 500);
    assert_applied_once(&c);
    assert_true(outbox_consumer_running(b));
    assert_int_equal(consumer_finish(b, &sb, cb), 0);
    cluster_free(&c);
    drop_schema();
}

static void test_coordinator_loss_keeps_applying_each_event_once(void **state)
{
    cluster c;
    outbox_consumer_settings s;
    outbox_conf *conf = NULL;
    fresh_schema();
    cluster_new(&c, 3);
    /* Partition leaders on broker 1, the group's coordinator on broker 2. */
    for (int p = 0; p < PARTITIONS; p++)
        assert_int_equal(rd_kafka_mock_partition_set_leader(c.mcluster, TOPIC, p, 1), 0);
    assert_int_equal(rd_kafka_mock_partition_set_leader(c.mcluster, TOPIC ".dlq", 0, 1), 0);
    assert_int_equal(rd_kafka_mock_coordinator_set(c.mcluster, "group", c.group, 2), 0);
    produce(&c, 1000);
    outbox_consumer *consumer = consumer_start(&c, &s, &conf);
    assert_true(wait_number("SELECT count(*) FROM seen", 1000, 60));
    /* The coordinator goes away for 8 s (longer than session.timeout.ms) while events keep
     * coming; the consumer's commits to Kafka are advisory, its position is in PostgreSQL. */
    rd_kafka_mock_broker_set_down(c.mcluster, 2);
    for (int i = 0; i < 8; i++) {
        produce(&c, 100);
        sleep_ms(1000);
    }
    rd_kafka_mock_broker_set_up(c.mcluster, 2);
    produce(&c, 500);
    assert_applied_once(&c);
    assert_true(outbox_consumer_running(consumer));
    assert_int_equal(consumer_finish(consumer, &s, conf), 0);
    cluster_free(&c);
    drop_schema();
}

static void test_handler_commit_then_retry_stops_the_consumer(void **state)
{
    cluster c;
    outbox_consumer_settings s;
    outbox_conf *conf = NULL;
    fresh_schema();
    cluster_new(&c, 1);
    produce(&c, 100);
    atomic_store(&handler_calls, 0);
    atomic_store(&commit_at_call, 10);
    outbox_consumer *consumer = consumer_start(&c, &s, &conf);
    int64_t deadline = now_ms() + 60000;
    while (outbox_consumer_running(consumer) && now_ms() < deadline)
        sleep_ms(100);
    bool stopped = !outbox_consumer_running(consumer);
    long long seen = sql_number("SELECT count(*) FROM seen");
    atomic_store(&commit_at_call, 0);
    assert_int_equal(consumer_finish(consumer, &s, conf), stopped ? 1 : 0);
    assert_true(stopped);
    assert_true(seen < c.produced); /* it did not go on as if the batch were whole */
    cluster_free(&c);
    drop_schema();
}

int main(void)
{
    char err[512];
    pg_super = getenv("OUTBOX_PG_READ_SUPER");
    if (pg_super == NULL) {
        fprintf(stderr, "OUTBOX_PG_READ_SUPER is not set: run under the stack (eval "
                        "\"$(compose/stack env)\")\n");
        return 1;
    }
    if (outbox_schemas_load_dir(SCHEMA_DIR, &schemas, err, sizeof err) != 0) {
        fprintf(stderr, "schemas: %s\n", err);
        return 1;
    }
    post_schema = outbox_schemas_find(schemas, "PostCreated");
    if (post_schema == NULL) {
        fprintf(stderr, "no PostCreated schema in %s\n", SCHEMA_DIR);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rebalance_during_batches_applies_each_event_once),
        cmocka_unit_test(test_coordinator_loss_keeps_applying_each_event_once),
        cmocka_unit_test(test_handler_commit_then_retry_stops_the_consumer),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    outbox_schemas_destroy(schemas);
    return rc;
}
