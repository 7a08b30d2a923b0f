#ifndef OUTBOX_CHECK_REPORT_H
#define OUTBOX_CHECK_REPORT_H

/*
 * check_report: the report of a daemon's `check` command (outbox-relay check,
 * outbox-moderation check), one line per finding:
 *
 *   outbox-moderation check
 *     ok       connected to PostgreSQL 150010 as outbox_moderation, database blog
 *     PROBLEM  topic outbox.event.comment does not exist
 *              fix: create it (kafka-topics.sh --bootstrap-server ... --create --topic ...)
 *     WARNING  ...                        (works, but likely not what was meant)
 *              fix: ...
 *   1 problem found                       (or "ready", "ready, 1 warning")
 *
 * and the probes those commands share, each reporting through it: a PostgreSQL connection (a
 * TLS failure names the conninfo's TLS settings), a table and the privileges the role needs on
 * it, brokers that do not answer (TLS and SASL failures named by librdkafka's error code), the
 * schema registry. Exit status of a check: 0 ready (warnings allowed), 3 problems found.
 *
 * Threads: one report per thread; the probes block (each bounded by a timeout, or by the
 * conninfo's connect_timeout).
 */

#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>

#include "avro_schema.h"
#include "config.h"
#include "registry.h"

#define OUTBOX_CHECK_EXIT_PROBLEMS 3

/* A report in progress: zero it, set `out`. */
typedef struct outbox_check {
    FILE *out;
    int problems;
    int warnings;
} outbox_check;

void outbox_check_ok(outbox_check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A problem: what is wrong (fmt), then `fix`; counted. */
void outbox_check_problem(outbox_check *c, const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Not a problem (the daemon works), but likely not what was meant; counted apart. */
void outbox_check_warning(outbox_check *c, const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The last line ("N problems found", "ready, N warnings" or "ready"); returns c->problems. */
int outbox_check_summary(const outbox_check *c);

/* The exit status of a check that found `problems`: 0, or OUTBOX_CHECK_EXIT_PROBLEMS. */
int outbox_check_exit_status(int problems);

/* Connect with `conninfo` (a 10 s connect_timeout unless it sets one): an ok line naming server
 * version, role and database, and the connection (the caller PQfinish()es it); or a problem
 * naming libpq's reason, the TLS settings when the conninfo insists on TLS, the config `key` to
 * fix (e.g. "postgres.conninfo"), and NULL. `label` prefixes both lines (NULL: none). */
PGconn *outbox_check_pg_connect(outbox_check *c, const char *conninfo, const char *label,
                                const char *key);

/* Whether `table` ([schema.]name as to_regclass() reads it, for conn's search_path) exists and
 * conn's role has each of `privileges` ("SELECT, INSERT") on it: ok, or a problem with
 * `fix_missing` for a missing table and the GRANT that is lacking otherwise. */
void outbox_check_table(outbox_check *c, PGconn *conn, const char *table, const char *privileges,
                        const char *fix_missing);

/* A producer on conf's [kafka] list for a check's metadata and admin requests (every key is
 * first applied on its own, so one librdkafka refuses is reported whichever client takes it):
 * the caller rd_kafka_destroy()s it; or a problem and NULL. */
rd_kafka_t *outbox_check_kafka_client(outbox_check *c, const outbox_conf *conf);

/* The brokers of conf's [kafka] list did not answer (`err`: what the caller's client said):
 * a TLS or SASL failure names those settings, anything else the address. */
void outbox_check_kafka_unreachable(outbox_check *c, const outbox_conf *conf, const char *err);

/* Dead-letter topic `topic` is missing (the caller asked the cluster): fine where the brokers
 * create topics on first use (an ok line), a problem with `fix` where one does not, a warning
 * when they would not say. `rk` (any client type) is borrowed. */
void outbox_check_dlq_topic(outbox_check *c, rd_kafka_t *rk, const char *topic, const char *fix);

/* Do the *.avsc schemas of directory `dir` (config key `key`, e.g. avro.schema-dir) load? An
 * ok line with their number, or a problem naming the file and the key. With `keep` non-NULL
 * the caller gets them (outbox_schemas_destroy; NULL when they did not load). */
void outbox_check_schema_dir(outbox_check *c, const char *key, const char *dir,
                             outbox_schemas **keep);

/* Does the registry answer like a Confluent-compatible API? `reg` is the caller's client, or
 * NULL when making it failed with `new_err` (a problem then). Borrowed. */
void outbox_check_registry(outbox_check *c, outbox_registry *reg, const char *new_err);

#endif
