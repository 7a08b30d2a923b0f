/* check_report: the lines of a daemon's `check` and the probes the daemons share. */
#include "check_report.h"

#include <stdarg.h>
#include <string.h>

#include "avro_schema.h"
#include "kafka_probe.h"
#include "kafka_topics.h"
#include "pg_connect.h"
#include "pg_table.h"
#include "pg_tls.h"

__attribute__((format(printf, 4, 0))) static void
check_line(outbox_check *c, const char *tag, const char *fix, const char *fmt, va_list ap)
{
    fprintf(c->out, "  %-9s", tag);
    vfprintf(c->out, fmt, ap);
    fputc('\n', c->out);
    if (fix != NULL)
        fprintf(c->out, "           fix: %s\n", fix);
}

void outbox_check_ok(outbox_check *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    check_line(c, "ok", NULL, fmt, ap);
    va_end(ap);
}

void outbox_check_problem(outbox_check *c, const char *fix, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    check_line(c, "PROBLEM", fix, fmt, ap);
    va_end(ap);
    c->problems++;
}

void outbox_check_warning(outbox_check *c, const char *fix, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    check_line(c, "WARNING", fix, fmt, ap);
    va_end(ap);
    c->warnings++;
}

int outbox_check_summary(const outbox_check *c)
{
    if (c->problems)
        fprintf(c->out, "%d problem%s found\n", c->problems, c->problems == 1 ? "" : "s");
    else if (c->warnings)
        fprintf(c->out, "ready, %d warning%s\n", c->warnings, c->warnings == 1 ? "" : "s");
    else
        fprintf(c->out, "ready\n");
    return c->problems;
}

int outbox_check_exit_status(int problems)
{
    return problems == 0 ? 0 : OUTBOX_CHECK_EXIT_PROBLEMS;
}

PGconn *outbox_check_pg_connect(outbox_check *c, const char *conninfo, const char *label,
                                const char *key)
{
    const outbox_pg_params pgparams = {
        .conninfo = conninfo, .application_name = "outbox-check", .connect_timeout_s = 10};
    const char *pre = label ? label : "";
    char fix[512], msg[512], tls[1024];
    PGconn *pg = NULL; /* a failure's reason and TLS settings are read from pg below */
    if (outbox_pg_connect(&pgparams, &pg, NULL, 0) == OUTBOX_PG_CONNECT_OK) {
        int v = PQserverVersion(pg); /* 150018: 15.18 (major * 10000 + minor since 10) */
        outbox_check_ok(c, "%sconnected to PostgreSQL %d.%d as %s, database %s", pre, v / 10000,
                        v % 10000, PQuser(pg), PQdb(pg));
        return pg;
    }
    snprintf(msg, sizeof(msg), "%s", pg ? PQerrorMessage(pg) : "out of memory");
    msg[strcspn(msg, "\n")] = '\0';
    if (outbox_pg_tls_describe(pg, tls, sizeof(tls))) {
        snprintf(fix, sizeof(fix),
                 "check the TLS settings in %s (sslrootcert, sslcert, sslkey, sslmode), then "
                 "host, port, dbname, user and pg_hba.conf",
                 key);
        outbox_check_problem(c, fix, "%scannot connect to PostgreSQL: %s; %s", pre, msg, tls);
    } else {
        snprintf(fix, sizeof(fix), "check %s (host, port, dbname, user) and pg_hba.conf", key);
        outbox_check_problem(c, fix, "%scannot connect to PostgreSQL: %s", pre, msg);
    }
    PQfinish(pg);
    return NULL;
}

rd_kafka_t *outbox_check_kafka_client(outbox_check *c, const outbox_conf *conf)
{
    char err[512];
    rd_kafka_t *rk = NULL;
    rd_kafka_conf_t *every = rd_kafka_conf_new();
    int rc = outbox_conf_kafka_apply(conf, every, err, sizeof(err));
    rd_kafka_conf_destroy(every);
    rd_kafka_conf_t *kconf = rc == 0 ? rd_kafka_conf_new() : NULL;
    if (kconf != NULL &&
        outbox_conf_kafka_apply_for(conf, kconf, RD_KAFKA_PRODUCER, err, sizeof(err)) == 0)
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, kconf, err, sizeof(err));
    if (rk != NULL)
        return rk; /* kconf is now rk's */
    if (kconf != NULL)
        rd_kafka_conf_destroy(kconf);
    outbox_check_problem(c, "fix or remove that key under [kafka]", "%s", err);
    return NULL;
}

void outbox_check_table(outbox_check *c, PGconn *conn, const char *table, const char *privileges,
                        const char *fix_missing)
{
    char lacking[128], err[512], fix[512];
    switch (outbox_pg_table_privileges(conn, table, privileges, lacking, sizeof(lacking), err,
                                       sizeof(err))) {
    case OUTBOX_PG_TABLE_OK:
        outbox_check_ok(c, "table %s: role %s may %s", table, PQuser(conn), privileges);
        return;
    case OUTBOX_PG_TABLE_MISSING:
        outbox_check_problem(c, fix_missing, "table %s does not exist in database %s", table,
                             PQdb(conn));
        return;
    case OUTBOX_PG_TABLE_LACKS:
        snprintf(fix, sizeof(fix), "GRANT %s ON %s TO %s (as the table's owner)", lacking, table,
                 PQuser(conn));
        outbox_check_problem(c, fix, "role %s lacks %s on table %s", PQuser(conn), lacking, table);
        return;
    case OUTBOX_PG_TABLE_ERROR:
        break;
    }
    outbox_check_problem(c, "run check as the daemon's role, on its database",
                         "cannot read table %s or its privileges: %s", table, err);
}

void outbox_check_kafka_unreachable(outbox_check *c, const outbox_conf *conf, const char *err)
{
    char why[1024];
    switch (outbox_kafka_probe(conf, 5000, why, sizeof(why))) {
    case OUTBOX_KAFKA_PROBE_TLS:
        outbox_check_problem(c, "fix the [kafka] TLS settings named above", "%s", why);
        return;
    case OUTBOX_KAFKA_PROBE_AUTH:
        outbox_check_problem(c, "fix the [kafka] SASL settings", "%s", why);
        return;
    default:
        outbox_check_problem(c, "check kafka.bootstrap.servers and that the brokers run",
                             "Kafka at %s does not answer: %s",
                             outbox_conf_kafka_get(conf, "bootstrap.servers"), err);
    }
}

void outbox_check_dlq_topic(outbox_check *c, rd_kafka_t *rk, const char *topic, const char *fix)
{
    char err[512];
    bool on = false;
    int32_t off = -1;
    if (outbox_kafka_topics_auto_create(rk, 10000, &on, &off, err, sizeof(err)) != 0)
        outbox_check_warning(c, fix,
                             "dead-letter topic %s does not exist, and whether the brokers "
                             "create it is unknown: %s",
                             topic, err);
    else if (on)
        outbox_check_ok(c,
                        "dead-letter topic %s does not exist yet: the brokers create it with "
                        "the first dead letter (auto.create.topics.enable = true)",
                        topic);
    else
        outbox_check_problem(c, fix,
                             "dead-letter topic %s does not exist and broker %d will not create "
                             "it (auto.create.topics.enable = false): a rejected event could "
                             "not be set aside",
                             topic, (int)off);
}

void outbox_check_schema_dir(outbox_check *c, const char *key, const char *dir,
                             outbox_schemas **keep)
{
    char err[512], fix[128];
    outbox_schemas *schemas = NULL;
    if (keep != NULL)
        *keep = NULL;
    if (outbox_schemas_load_dir(dir, &schemas, err, sizeof(err)) != 0) {
        snprintf(fix, sizeof(fix), "fix the schema file or set %s", key);
        outbox_check_problem(c, fix, "%s", err);
        return;
    }
    outbox_check_ok(c, "%zu Avro schemas in %s", outbox_schemas_count(schemas), dir);
    if (keep != NULL)
        *keep = schemas;
    else
        outbox_schemas_destroy(schemas);
}

void outbox_check_registry(outbox_check *c, outbox_registry *reg, const char *new_err)
{
    char err[512], compat[64];
    if (reg == NULL) {
        outbox_check_problem(c, "fix registry.url or the registry's TLS files", "%s", new_err);
        return;
    }
    if (outbox_registry_check(reg, compat, sizeof(compat), err, sizeof(err)) != OUTBOX_REGISTRY_OK)
        outbox_check_problem(
            c, "check registry.url (the Confluent-compatible API base) and the registry", "%s",
            err);
    else
        outbox_check_ok(c, "schema registry answers at %s (compatibility %s)",
                        outbox_registry_base_url(reg), compat);
}
