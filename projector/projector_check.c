/* projector_check: every problem of config + environment, each with its fix. */
#include "projector_check.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <errno.h>

#include <librdkafka/rdkafka.h>

#include "avro_resolve.h"
#include "avro_schema.h"
#include "check_report.h"
#include "registry.h"

#define TIMEOUT_MS 10000

static void chomp(char *s)
{
    size_t len = strlen(s);
    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == ' '))
        s[--len] = '\0';
}

static void check_registry(outbox_check *c, const projector_settings *settings)
{
    char errstr[512];
    if (settings->registry_url == NULL || settings->registry_url[0] == '\0') {
        outbox_check_ok(c, "no registry: Avro single-object encoded records only (a "
                           "Confluent-framed one would be dead-lettered)");
        return;
    }
    const outbox_registry_tls tls = projector_settings_registry_tls(settings);
    outbox_registry *reg =
        outbox_registry_new_tls(settings->registry_url, (long)settings->registry_timeout_ms,
                                settings->registry_auth, &tls, errstr, sizeof errstr);
    outbox_check_registry(c, reg, errstr);
    outbox_registry_free(reg);
}

/* The partitions of `topic` in the metadata; -1 when it is not there. */
static int topic_partitions(const rd_kafka_metadata_t *md, const char *topic)
{
    for (int k = 0; k < md->topic_cnt; k++)
        if (strcmp(md->topics[k].topic, topic) == 0 && !md->topics[k].err)
            return md->topics[k].partition_cnt;
    return -1;
}

/* A projection's topic, and its dead-letter topic (fine when missing where the brokers create
 * topics on first use). */
static void check_topic(outbox_check *c, const projector_settings *settings,
                        const projector_projection *proj, const char *topic,
                        const rd_kafka_metadata_t *md, rd_kafka_t *rk, const char *servers)
{
    char dlq[512], fix[768];
    int parts = topic_partitions(md, topic);
    if (parts < 0)
        outbox_check_problem(c,
                             "create the topic (kafka-topics --create) or let the relay publish "
                             "its first event; or correct `topics`",
                             "[projection %s] topic %s does not exist", proj->name, topic);
    else
        outbox_check_ok(c, "[projection %s] topic %s: %d partition(s)", proj->name, topic, parts);
    snprintf(dlq, sizeof dlq, "%s%s", topic, settings->dlq_suffix);
    if (topic_partitions(md, dlq) >= 0)
        return;
    snprintf(fix, sizeof fix,
             "create it (kafka-topics.sh --bootstrap-server %s --create --topic %s, with the "
             "partitions and replication your cluster needs)",
             servers, dlq);
    outbox_check_dlq_topic(c, rk, dlq, fix);
}

static void check_kafka(outbox_check *c, const projector_settings *settings,
                        const outbox_conf *conf)
{
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_t *rk = outbox_check_kafka_client(c, conf);
    if (rk == NULL)
        return;
    const char *servers = outbox_conf_kafka_get(conf, "bootstrap.servers");
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, TIMEOUT_MS);
    if (err) {
        outbox_check_kafka_unreachable(c, conf, rd_kafka_err2str(err));
        rd_kafka_destroy(rk);
        return;
    }
    outbox_check_ok(c, "Kafka answers at %s (%d broker(s))", servers ? servers : "(unset)",
                    md->broker_cnt);
    for (size_t i = 0; i < settings->projections.count; i++) {
        const projector_projection *proj = &settings->projections.items[i];
        for (size_t t = 0; t < proj->topic_count; t++)
            check_topic(c, settings, proj, proj->topics[t], md, rk, servers ? servers : "(unset)");
    }
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
}

/* One statement of a projection prepares, in a transaction rolled back: nothing stays behind. */
static void check_mapping(outbox_check *c, PGconn *conn, const projector_projection *proj,
                          const projector_mapping *m)
{
    const Oid types[8] = {3802, 2950, 25, 25, 25, 23, 20, 1184};
    PGresult *res = PQexec(conn, "BEGIN");
    PQclear(res);
    res = PQprepare(conn, "", m->sql, m->set ? 1 : 8, types);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(res));
        chomp(msg);
        outbox_check_problem(
            c,
            m->set ? "correct the statement (one parameter: $1 jsonb array of {event, id, type, "
                     "aggregate_id, topic, partition, offset, commit_time})"
                   : "correct the statement (parameters: $1 jsonb event, $2 uuid id, $3 type, $4 "
                     "aggregate id, $5 topic, $6 partition, $7 offset, $8 commit time)",
            "[projection %s] %s.%s (%s) does not prepare: %s", proj->name, projector_mapping_key(m),
            m->event_type, m->origin, msg);
    } else {
        outbox_check_ok(c, "[projection %s] %s.%s prepares", proj->name, projector_mapping_key(m),
                        m->event_type);
    }
    PQclear(res);
    res = PQexec(conn, "ROLLBACK");
    PQclear(res);
}

static void check_database(outbox_check *c, const projector_settings *settings,
                           const projector_projection *proj, const outbox_schemas *schemas)
{
    char label[PROJECTOR_NAME_MAX + 32];
    snprintf(label, sizeof label, "[projection %s] read database: ", proj->name);
    PGconn *conn = outbox_check_pg_connect(c, projector_settings_conninfo(settings, proj), label,
                                           "`database` / postgres.conninfo");
    if (conn == NULL)
        return;
    static const char *const own[] = {"projector_projections", "projector_dedup",
                                      "projector_offsets", "projector_dead_letters"};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        outbox_check_table(c, conn, own[i], "SELECT, INSERT, UPDATE, DELETE",
                           "apply sql/projector.sql to the read database (psql -f "
                           "sql/projector.sql)");
    for (size_t i = 0; i < proj->table_count; i++)
        outbox_check_table(c, conn, proj->tables[i], "SELECT, TRUNCATE",
                           "create the read-model table, or correct `tables`");
    for (size_t i = 0; i < proj->mapping_count; i++) {
        const projector_mapping *m = &proj->mappings[i];
        check_mapping(c, conn, proj, m);
        if (schemas != NULL && outbox_schemas_find(schemas, m->event_type) == NULL &&
            (settings->registry_url == NULL || settings->registry_url[0] == '\0'))
            outbox_check_warning(c,
                                 "add its schema to avro.schema-dir, or set registry.url if its "
                                 "records are Confluent-framed",
                                 "[projection %s] no schema for %s in %s", proj->name,
                                 m->event_type, settings->schemas_dir);
    }
    PQfinish(conn);
}

/* A projection's reader schemas load, and each resolves from the writer schema of the same
 * record in avro.schema-dir (when there is one). */
static void check_readers(outbox_check *c, const projector_settings *settings,
                          const projector_projection *proj, const outbox_schemas *schemas)
{
    const char *dir = projector_settings_reader_schemas(settings, proj);
    outbox_schemas *readers = NULL;
    char errstr[512];
    if (dir == NULL)
        return;
    if (outbox_schemas_load_dir(dir, &readers, errstr, sizeof errstr)) {
        outbox_check_problem(
            c, "point reader-schemas at a directory of *.avsc record schemas, one per type",
            "[projection %s] reader-schemas %s: %s", proj->name, dir, errstr);
        return;
    }
    int bad = 0;
    for (size_t i = 0; schemas != NULL && i < outbox_schemas_count(readers); i++) {
        const outbox_schema *reader = outbox_schemas_get(readers, i);
        const outbox_schema *writer = outbox_schemas_find(schemas, outbox_schema_name(reader));
        outbox_avro_plan *plan = NULL;
        if (writer == NULL)
            continue;
        if (outbox_avro_plan_new(writer, reader, &plan, errstr, sizeof errstr) != OUTBOX_AVRO_OK) {
            outbox_check_problem(
                c, "give the reader field a default, or drop what the writer cannot supply",
                "[projection %s] reader schema %s cannot read events written with %s/%s: %s",
                proj->name, outbox_schema_short_name(reader), settings->schemas_dir,
                outbox_schema_short_name(writer), errstr);
            bad++;
        }
        outbox_avro_plan_free(plan);
    }
    if (bad == 0)
        outbox_check_ok(c, "[projection %s] reader schemas: %zu in %s", proj->name,
                        outbox_schemas_count(readers), dir);
    outbox_schemas_destroy(readers);
}

/* The projection's `ddl` files (what `rebuild` runs into the shadow schema) are readable regular
 * files, so a rebuild does not fail on a path only after it connected and locked. */
static void check_ddl(outbox_check *c, const projector_projection *proj)
{
    int bad = 0;
    for (size_t i = 0; i < proj->ddl_count; i++) {
        const char *path = proj->ddl[i];
        struct stat st;
        FILE *f = NULL;
        const char *why = NULL;
        if (stat(path, &st) != 0)
            why = strerror(errno);
        else if (!S_ISREG(st.st_mode))
            why = "not a regular file";
        else if ((f = fopen(path, "r")) == NULL)
            why = strerror(errno);
        if (f != NULL)
            fclose(f);
        if (why == NULL)
            continue;
        outbox_check_problem(c,
                             "correct `ddl` (relative paths are read from the config file's "
                             "directory)",
                             "[projection %s] ddl file %s: %s", proj->name, path, why);
        bad++;
    }
    if (proj->ddl_count > 0 && bad == 0)
        outbox_check_ok(c, "[projection %s] ddl: %zu file(s) for `rebuild`", proj->name,
                        proj->ddl_count);
}

int projector_check_run(const projector_settings *settings, const outbox_conf *conf, FILE *out)
{
    outbox_check c = {.out = out};
    outbox_schemas *schemas = NULL;
    fprintf(out, "outbox-projector check\n");
    outbox_check_ok(&c, "configuration: %zu projection(s)", settings->projections.count);
    outbox_check_schema_dir(&c, "avro.schema-dir", settings->schemas_dir, &schemas);
    check_registry(&c, settings);
    check_kafka(&c, settings, conf);
    for (size_t i = 0; i < settings->projections.count; i++)
        check_database(&c, settings, &settings->projections.items[i], schemas);
    for (size_t i = 0; i < settings->projections.count; i++) {
        check_readers(&c, settings, &settings->projections.items[i], schemas);
        check_ddl(&c, &settings->projections.items[i]);
    }
    outbox_schemas_destroy(schemas);
    return outbox_check_summary(&c);
}
