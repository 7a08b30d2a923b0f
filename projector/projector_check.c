/* projector_check: every problem of config + environment, each with its fix. */
#include "projector_check.h"

#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "avro_resolve.h"
#include "avro_schema.h"
#include "kafka_probe.h"
#include "pg_table.h"
#include "pg_tls.h"
#include "registry.h"

#define TIMEOUT_MS 10000

typedef struct checker {
    int problems;
} checker;

static void ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void ok(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("ok       ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("note     ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

/* A problem: what is wrong, then "fix: ...". */
static void problem(checker *c, const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void problem(checker *c, const char *fix, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("PROBLEM  ");
    vprintf(fmt, ap);
    printf("\n         fix: %s\n", fix);
    va_end(ap);
    c->problems++;
}

static void chomp(char *s)
{
    size_t len = strlen(s);
    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == ' '))
        s[--len] = '\0';
}

static void check_schemas(checker *c, const projector_settings *settings, outbox_schemas **schemas)
{
    char errstr[512];
    if (outbox_schemas_load_dir(settings->schemas_dir, schemas, errstr, sizeof errstr)) {
        problem(c, "point avro.schema-dir at the directory of the relay's *.avsc files",
                "schemas directory %s: %s", settings->schemas_dir, errstr);
        *schemas = NULL;
        return;
    }
    ok("schemas: %zu in %s", outbox_schemas_count(*schemas), settings->schemas_dir);
}

static void check_registry(checker *c, const projector_settings *settings)
{
    char errstr[512], compat[64];
    if (settings->registry_url == NULL || settings->registry_url[0] == '\0') {
        note("registry: none configured (Confluent-framed records would be dead-lettered)");
        return;
    }
    const outbox_registry_tls tls = projector_settings_registry_tls(settings);
    outbox_registry *reg =
        outbox_registry_new_tls(settings->registry_url, (long)settings->registry_timeout_ms,
                                settings->registry_auth, &tls, errstr, sizeof errstr);
    if (reg == NULL) {
        problem(c, "correct registry.url or the registry's TLS files", "registry: %s", errstr);
        return;
    }
    if (outbox_registry_check(reg, compat, sizeof compat, errstr, sizeof errstr) !=
        OUTBOX_REGISTRY_OK)
        problem(c, "start the registry or correct registry.url / registry.basic-auth",
                "registry %s: %s", outbox_registry_base_url(reg), errstr);
    else
        ok("registry %s answers (compatibility %s)", outbox_registry_base_url(reg), compat);
    outbox_registry_free(reg);
}

/* The brokers did not answer: a TLS or SASL failure (by librdkafka's error code) names its
 * settings; anything else the address. */
static void check_kafka_unreachable(checker *c, const outbox_conf *conf, const char *servers,
                                    rd_kafka_resp_err_t err)
{
    char why[1024];
    switch (outbox_kafka_probe(conf, 5000, why, sizeof why)) {
    case OUTBOX_KAFKA_PROBE_TLS:
        problem(c, "correct the [kafka] TLS settings named above", "kafka: %s", why);
        return;
    case OUTBOX_KAFKA_PROBE_AUTH:
        problem(c, "correct the [kafka] SASL settings", "kafka: %s", why);
        return;
    default:
        problem(c, "start Kafka or correct kafka.bootstrap.servers",
                "kafka %s: no answer within %d ms (%s)", servers ? servers : "(unset)", TIMEOUT_MS,
                rd_kafka_err2str(err));
    }
}

static void check_kafka(checker *c, const projector_settings *settings, const outbox_conf *conf)
{
    char errstr[512];
    rd_kafka_conf_t *kconf = rd_kafka_conf_new();
    const rd_kafka_metadata_t *md = NULL;
    /* Every key is checked (rd_kafka_conf_set validates it); the probe, a producer, gets only
     * the keys a producer uses, so it does not warn about the consumer's. */
    rd_kafka_conf_t *every = rd_kafka_conf_new();
    int bad = outbox_conf_kafka_apply(conf, every, errstr, sizeof errstr);
    rd_kafka_conf_destroy(every);
    if (bad || outbox_conf_kafka_apply_for(conf, kconf, RD_KAFKA_PRODUCER, errstr, sizeof errstr)) {
        rd_kafka_conf_destroy(kconf);
        problem(c, "correct or remove that [kafka] property", "%s", errstr);
        return;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, kconf, errstr, sizeof errstr);
    if (rk == NULL) {
        rd_kafka_conf_destroy(kconf);
        problem(c, "correct the [kafka] section", "kafka: %s", errstr);
        return;
    }
    const char *servers = outbox_conf_kafka_get(conf, "bootstrap.servers");
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, TIMEOUT_MS);
    if (err) {
        rd_kafka_destroy(rk);
        check_kafka_unreachable(c, conf, servers, err);
        return;
    }
    ok("kafka %s answers (%d broker(s))", servers ? servers : "(unset)", md->broker_cnt);
    for (size_t i = 0; i < settings->projections.count; i++) {
        const projector_projection *proj = &settings->projections.items[i];
        for (size_t t = 0; t < proj->topic_count; t++) {
            const char *topic = proj->topics[t];
            int parts = -1;
            bool dlq = false;
            char dlq_name[512];
            snprintf(dlq_name, sizeof dlq_name, "%s%s", topic, settings->dlq_suffix);
            for (int k = 0; k < md->topic_cnt; k++) {
                if (strcmp(md->topics[k].topic, topic) == 0 && !md->topics[k].err)
                    parts = md->topics[k].partition_cnt;
                if (strcmp(md->topics[k].topic, dlq_name) == 0 && !md->topics[k].err)
                    dlq = true;
            }
            if (parts < 0)
                problem(c,
                        "create the topic (kafka-topics --create) or let the relay publish "
                        "its first event; or correct `topics`",
                        "[projection %s] topic %s does not exist", proj->name, topic);
            else
                ok("[projection %s] topic %s: %d partition(s)", proj->name, topic, parts);
            if (!dlq)
                note("[projection %s] dead-letter topic %s does not exist yet: create it, "
                     "unless the broker auto-creates topics",
                     proj->name, dlq_name);
        }
    }
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
}

static void check_table(checker *c, PGconn *conn, const projector_projection *proj,
                        const char *table, const char *privileges, const char *fix_missing)
{
    char errstr[512], missing[128], fix[512];
    switch (outbox_pg_table_privileges(conn, table, privileges, missing, sizeof missing, errstr,
                                       sizeof errstr)) {
    case OUTBOX_PG_TABLE_ERROR:
        problem(c, "see the message", "[projection %s] table %s: %s", proj->name, table, errstr);
        return;
    case OUTBOX_PG_TABLE_MISSING:
        problem(c, fix_missing, "[projection %s] table %s does not exist in the read database",
                proj->name, table);
        return;
    case OUTBOX_PG_TABLE_LACKS:
        snprintf(fix, sizeof fix, "GRANT %s ON %s TO %s", missing, table,
                 PQuser(conn) ? PQuser(conn) : "<role>");
        problem(c, fix, "[projection %s] role %s lacks %s on %s", proj->name,
                PQuser(conn) ? PQuser(conn) : "?", missing, table);
        return;
    case OUTBOX_PG_TABLE_OK:
        break;
    }
    ok("[projection %s] table %s: %s", proj->name, table, privileges);
}

static void check_database(checker *c, const projector_settings *settings,
                           const projector_projection *proj, const outbox_schemas *schemas)
{
    static const char *const keys[] = {"dbname", "fallback_application_name", "connect_timeout",
                                       NULL};
    const char *values[] = {projector_settings_conninfo(settings, proj), "outbox-projector-check",
                            "10", NULL};
    PGconn *conn = PQconnectdbParams(keys, values, 1);
    if (PQstatus(conn) != CONNECTION_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(conn));
        chomp(msg);
        char tls[1024];
        if (outbox_pg_tls_describe(conn, tls, sizeof tls))
            problem(c,
                    "correct the TLS settings in `database` / postgres.conninfo (sslrootcert, "
                    "sslcert, sslkey, sslmode), or start PostgreSQL",
                    "[projection %s] cannot connect to the read database: %s; %s", proj->name, msg,
                    tls);
        else
            problem(c, "start PostgreSQL or correct `database` / postgres.conninfo",
                    "[projection %s] cannot connect to the read database: %s", proj->name, msg);
        PQfinish(conn);
        return;
    }
    ok("[projection %s] read database %s on %s:%s as %s", proj->name, PQdb(conn), PQhost(conn),
       PQport(conn), PQuser(conn));
    static const char *const own[] = {"projector_projections", "projector_dedup",
                                      "projector_offsets", "projector_dead_letters"};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        check_table(c, conn, proj, own[i], "SELECT, INSERT, UPDATE, DELETE",
                    "apply sql/projector.sql to the read database (psql -f sql/projector.sql)");
    for (size_t i = 0; i < proj->table_count; i++)
        check_table(c, conn, proj, proj->tables[i], "SELECT, TRUNCATE",
                    "create the read-model table, or correct `tables`");
    for (size_t i = 0; i < proj->mapping_count; i++) {
        const projector_mapping *m = &proj->mappings[i];
        /* Prepare inside a transaction that is rolled back: nothing stays behind. */
        const Oid types[8] = {3802, 2950, 25, 25, 25, 23, 20, 1184};
        PGresult *res = PQexec(conn, "BEGIN");
        PQclear(res);
        res = PQprepare(conn, "", m->sql, m->set ? 1 : 8, types);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(res));
            chomp(msg);
            problem(c,
                    m->set ? "correct the statement (one parameter: $1 jsonb array of {event, "
                             "id, type, aggregate_id, topic, partition, offset, commit_time})"
                           : "correct the statement (parameters: $1 jsonb event, $2 uuid id, $3 "
                             "type, $4 aggregate id, $5 topic, $6 partition, $7 offset, $8 "
                             "commit time)",
                    "[projection %s] %s.%s (%s) does not prepare: %s", proj->name,
                    projector_mapping_key(m), m->event_type, m->origin, msg);
        } else {
            ok("[projection %s] %s.%s prepares", proj->name, projector_mapping_key(m),
               m->event_type);
        }
        PQclear(res);
        res = PQexec(conn, "ROLLBACK");
        PQclear(res);
        if (schemas != NULL && outbox_schemas_find(schemas, m->event_type) == NULL &&
            (settings->registry_url == NULL || settings->registry_url[0] == '\0'))
            note("[projection %s] no schema for %s in %s (fine if its records are "
                 "Confluent-framed, which needs registry.url)",
                 proj->name, m->event_type, settings->schemas_dir);
    }
    PQfinish(conn);
}

/* A projection's reader schemas load, and each resolves from the writer schema of the same
 * record in avro.schema-dir (when there is one). */
static void check_readers(checker *c, const projector_settings *settings,
                          const projector_projection *proj, const outbox_schemas *schemas)
{
    const char *dir = projector_settings_reader_schemas(settings, proj);
    outbox_schemas *readers = NULL;
    char errstr[512];
    if (dir == NULL)
        return;
    if (outbox_schemas_load_dir(dir, &readers, errstr, sizeof errstr)) {
        problem(c, "point reader-schemas at a directory of *.avsc record schemas, one per type",
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
            problem(c, "give the reader field a default, or drop what the writer cannot supply",
                    "[projection %s] reader schema %s cannot read events written with %s/%s: %s",
                    proj->name, outbox_schema_short_name(reader), settings->schemas_dir,
                    outbox_schema_short_name(writer), errstr);
            bad++;
        }
        outbox_avro_plan_free(plan);
    }
    if (bad == 0)
        ok("[projection %s] reader schemas: %zu in %s", proj->name, outbox_schemas_count(readers),
           dir);
    outbox_schemas_destroy(readers);
}

int projector_check_run(const projector_settings *settings, const outbox_conf *conf)
{
    checker c = {0};
    outbox_schemas *schemas = NULL;
    ok("configuration: %zu projection(s)", settings->projections.count);
    check_schemas(&c, settings, &schemas);
    check_registry(&c, settings);
    check_kafka(&c, settings, conf);
    for (size_t i = 0; i < settings->projections.count; i++)
        check_database(&c, settings, &settings->projections.items[i], schemas);
    for (size_t i = 0; i < settings->projections.count; i++)
        check_readers(&c, settings, &settings->projections.items[i], schemas);
    outbox_schemas_destroy(schemas);
    if (c.problems == 0)
        printf("ready: no problems found\n");
    else
        printf("%d problem(s) found\n", c.problems);
    return c.problems;
}
