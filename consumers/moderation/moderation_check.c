/* moderation_check: every problem of config + environment, each with its fix. */
#include "moderation_check.h"

#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "avro_history.h"
#include "check_report.h"
#include "kafka_topics.h"
#include "projector_projection.h"
#include "registry.h"

#define CHECK_TIMEOUT_MS 10000

static const char fix_projector_sql[] =
    "apply sql/projector.sql, then sql/moderation.sql, to this database (psql -f ...)";

/* The tables the service writes besides the outbox, and what it does with them. */
static const struct {
    const char *table;
    const char *privileges;
    const char *fix_missing;
} service_tables[] = {
    {"projector_projections", "SELECT, INSERT, UPDATE, DELETE", fix_projector_sql},
    {"projector_dedup", "SELECT, INSERT, UPDATE, DELETE", fix_projector_sql},
    {"projector_offsets", "SELECT, INSERT, UPDATE, DELETE", fix_projector_sql},
    {"projector_dead_letters", "SELECT, INSERT, UPDATE, DELETE", fix_projector_sql},
    {"moderation_decisions", "SELECT, INSERT, UPDATE",
     "apply sql/moderation.sql to this database (psql -f sql/moderation.sql)"},
};

/* The decision statement, prepared in a transaction that is rolled back: the columns it writes
 * exist with types that fit. Only asked when the tables are there (else it says the same). */
static void check_statement(outbox_check *c, PGconn *pg, const moderation_settings *s)
{
    char err[512];
    moderation_service svc;
    const moderation_rules rules = moderation_settings_rules(s);
    if (moderation_service_init(&svc, &rules, err, sizeof err) != 0) {
        outbox_check_problem(c, "set moderation.outbox-table to [schema.]table", "%s", err);
        return;
    }
    PQclear(PQexec(pg, "BEGIN"));
    PGresult *res = PQprepare(pg, "", svc.sql, 0, NULL);
    if (PQresultStatus(res) == PGRES_COMMAND_OK) {
        outbox_check_ok(c, "the decision statement prepares (moderation_decisions, %s)",
                        s->outbox_table);
    } else {
        snprintf(err, sizeof err, "%s", PQresultErrorMessage(res));
        err[strcspn(err, "\n")] = '\0';
        outbox_check_problem(c,
                             "apply sql/outbox.sql, sql/projector.sql and sql/moderation.sql "
                             "to this database, or correct moderation.outbox-table",
                             "the decision statement does not prepare: %s", err);
    }
    PQclear(res);
    PQclear(PQexec(pg, "ROLLBACK"));
    moderation_service_destroy(&svc);
}

static void check_postgres(outbox_check *c, const moderation_settings *s)
{
    PGconn *pg = outbox_check_pg_connect(c, s->consumer.conninfo, NULL, "postgres.conninfo");
    if (pg == NULL)
        return;
    int before = c->problems;
    for (size_t i = 0; i < sizeof service_tables / sizeof service_tables[0]; i++)
        outbox_check_table(c, pg, service_tables[i].table, service_tables[i].privileges,
                           service_tables[i].fix_missing);
    outbox_check_table(c, pg, s->outbox_table, "INSERT",
                       "run sql/outbox.sql, or set moderation.outbox-table to the outbox table "
                       "the relay reads");
    if (c->problems == before)
        check_statement(c, pg, s);
    PQfinish(pg);
}

/* Topic i of `names` is consumed (i < n) or the dead-letter topic of topic i - n. */
typedef struct topic_list {
    char **names; /* n consumed topics, then their n dead-letter topics */
    bool *missing;
    size_t n;
} topic_list;

static void topic_list_free(topic_list *tl)
{
    projector_list_free(tl->names, 2 * tl->n);
    free(tl->missing);
}

/* consumer.topics and their dead-letter topics, and which of them are missing. 0, or -1. */
static int topic_list_fill(topic_list *tl, const moderation_settings *s, rd_kafka_t *rk, char *err,
                           size_t err_size)
{
    char **topics = NULL;
    size_t n = 0;
    memset(tl, 0, sizeof *tl);
    if (projector_list_split(s->consumer.topics, &topics, &n) != 0)
        goto nomem;
    tl->names = calloc(2 * n + 1, sizeof *tl->names);
    tl->missing = calloc(2 * n + 1, sizeof *tl->missing);
    if (tl->names == NULL || tl->missing == NULL) {
        projector_list_free(topics, n);
        goto nomem;
    }
    tl->n = n;
    for (size_t i = 0; i < n; i++) {
        tl->names[i] = topics[i];
        if (asprintf(&tl->names[n + i], "%s%s", topics[i], s->consumer.dlq_suffix) < 0)
            tl->names[n + i] = NULL;
    }
    free(topics);
    for (size_t i = 0; i < 2 * n; i++)
        if (tl->names[i] == NULL)
            goto nomem;
    return outbox_kafka_topics_missing(rk, (const char *const *)tl->names, 2 * n, tl->missing,
                                       CHECK_TIMEOUT_MS, err, err_size);
nomem:
    snprintf(err, err_size, "out of memory");
    return -1;
}

static void check_topics(outbox_check *c, const moderation_settings *s, const outbox_conf *conf,
                         rd_kafka_t *rk)
{
    char err[512], fix[768];
    topic_list tl;
    if (topic_list_fill(&tl, s, rk, err, sizeof err) != 0) {
        outbox_check_problem(c, "check that Kafka answers", "cannot list the topics: %s", err);
        topic_list_free(&tl);
        return;
    }
    for (size_t i = 0; i < 2 * tl.n; i++) {
        const char *topic = tl.names[i];
        bool dlq = i >= tl.n;
        snprintf(fix, sizeof fix,
                 "create it (kafka-topics.sh --bootstrap-server %s --create --topic %s, with the "
                 "partitions and replication your cluster needs)%s",
                 outbox_conf_kafka_get(conf, "bootstrap.servers"), topic,
                 dlq ? "" : ", or correct consumer.topics");
        if (!tl.missing[i])
            outbox_check_ok(c, "%stopic %s exists", dlq ? "dead-letter " : "", topic);
        else if (dlq)
            outbox_check_dlq_topic(c, rk, topic, fix);
        else
            outbox_check_problem(c, fix,
                                 "topic %s does not exist: consumer %s would wait for it, "
                                 "moderating nothing",
                                 topic, s->consumer.name);
    }
    topic_list_free(&tl);
}

static void check_kafka(outbox_check *c, const moderation_settings *s, const outbox_conf *conf)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_t *rk = outbox_check_kafka_client(c, conf);
    if (rk == NULL)
        return;
    rd_kafka_resp_err_t rerr = rd_kafka_metadata(rk, 0, NULL, &md, CHECK_TIMEOUT_MS);
    if (rerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        outbox_check_kafka_unreachable(c, conf, rd_kafka_err2str(rerr));
    } else {
        rd_kafka_metadata_destroy(md);
        outbox_check_ok(c, "Kafka answers at %s", outbox_conf_kafka_get(conf, "bootstrap.servers"));
        check_topics(c, s, conf, rk);
    }
    rd_kafka_destroy(rk);
}

static void check_schemas(outbox_check *c, const outbox_consumer_settings *cs)
{
    char err[512];
    outbox_check_schema_dir(c, "avro.schema-dir", cs->schemas_dir, NULL);
    if (cs->reader_schemas_dir != NULL && cs->reader_schemas_dir[0] != '\0')
        outbox_check_schema_dir(c, "avro.reader-schema-dir", cs->reader_schemas_dir, NULL);
    if (cs->schema_history_dir == NULL || cs->schema_history_dir[0] == '\0')
        return;
    outbox_schema_history *history = NULL;
    if (outbox_schema_history_load(cs->schema_history_dir, &history, err, sizeof err) != 0)
        outbox_check_problem(c, "fix the schema file or set avro.schema-history", "%s", err);
    else
        outbox_check_ok(c, "schema history in %s loads", cs->schema_history_dir);
    outbox_schema_history_free(history);
}

static void check_registry(outbox_check *c, const outbox_consumer_settings *cs)
{
    char err[512];
    if (cs->registry_url == NULL || cs->registry_url[0] == '\0') {
        outbox_check_ok(c, "no registry: Avro single-object encoded records only (a "
                           "Confluent-framed one would be dead-lettered; set registry.url when "
                           "the relay uses a registry)");
        return;
    }
    const outbox_registry_tls tls = {cs->registry_ca_file, cs->registry_cert_file,
                                     cs->registry_key_file, cs->registry_key_password};
    outbox_registry *reg = outbox_registry_new_tls(cs->registry_url, (long)cs->registry_timeout_ms,
                                                   cs->registry_auth, &tls, err, sizeof err);
    outbox_check_registry(c, reg, err);
    outbox_registry_free(reg);
}

int moderation_check_run(const moderation_settings *settings, const outbox_conf *conf, FILE *out)
{
    outbox_check c = {.out = out};
    fprintf(out, "outbox-moderation check\n");
    outbox_check_ok(&c,
                    "configuration: consumer %s reads %s; CommentModerated rows go to %s "
                    "(aggregate type %s)",
                    settings->consumer.name, settings->consumer.topics, settings->outbox_table,
                    settings->aggregate_type);
    check_postgres(&c, settings);
    check_kafka(&c, settings, conf);
    check_schemas(&c, &settings->consumer);
    check_registry(&c, &settings->consumer);
    return outbox_check_summary(&c);
}
