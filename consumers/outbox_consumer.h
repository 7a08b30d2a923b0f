#ifndef OUTBOX_CONSUMER_H
#define OUTBOX_CONSUMER_H

/*
 * outbox_consumer: custom consumers in C on the projector's machinery.
 *
 * A consumer is a projector projection whose effect is a C function instead of a mapped SQL
 * statement. Everything else is the projector's own code (projector_runner, _decode, _store,
 * _dlq): a consumer group per consumer name, both wire formats decoded (Confluent framing with
 * the registry, Avro single-object encoding with the schemas directory), batches, and per batch
 * ONE transaction on the consumer's database:
 *
 *   BEGIN
 *   INSERT INTO projector_dedup (name, event ids) ON CONFLICT DO NOTHING RETURNING ...
 *   handler(event, conn)            for every event whose dedup row is new, in Kafka order;
 *                                   it writes its business rows AND its outbox rows here
 *   INSERT INTO projector_dead_letters / projector_offsets ... ; NOTIFY ...
 *   COMMIT
 *
 * so the inbox row, the handler's effects, its follow-up events (outbox rows) and the Kafka
 * position commit together or not at all: each effect and each follow-up event exactly once,
 * across redeliveries, crashes (kill -9) and rebalances. On partition assignment the consumer
 * seeks to the offsets stored in that database (Kafka-side commits are advisory only).
 *
 * The database needs the projector's tables (sql/projector.sql) next to the handler's own.
 *
 * Handler results (outbox_consumer_rc):
 *   OK      effects written
 *   SKIP    nothing to do (e.g. an event type it ignores): counted as unmapped; the dedup
 *           row and the position still commit
 *   RETRY   transient: the batch is rolled back, the consumer backs off (doubling) and
 *           retries it, reconnecting if needed
 *   REJECT  permanent: the event goes to `<topic><dlq-suffix>` (default .dlq) with the reason
 *           in headers and a projector_dead_letters row, and the batch is retried without it
 *   FATAL   the consumer stops (run/join return 1)
 * outbox_consumer_sql_error() turns a failed PGresult into RETRY / REJECT / FATAL with the
 * projector's SQLSTATE classes (projector_sqlstate.h: 08/40/53/57.. transient, 22/23/42..
 * permanent, 42501/28/3D000.. fatal). A handler must not COMMIT or ROLLBACK, and must return
 * an error when one of its statements failed (the transaction is then aborted); the library
 * stops with FATAL when a handler returns OK on a failed transaction, or leaves it closed
 * (COMMIT/ROLLBACK) whatever it returns.
 *
 * Minimal use:
 *
 *   static outbox_consumer_rc on_event(void *opaque, PGconn *conn,
 *                                      const outbox_consumer_event *ev,
 *                                      outbox_consumer_error *err)
 *   {
 *       if (strcmp(ev->event_type, "CommentCreated") != 0)
 *           return OUTBOX_CONSUMER_SKIP;
 *       const char *id = json_string_value(json_object_get(ev->payload, "comment_id"));
 *       const char *params[1] = {id};
 *       PGresult *res = PQexecParams(conn, "INSERT INTO seen (comment_id) VALUES ($1)", 1,
 *                                    NULL, params, NULL, NULL, 0);
 *       outbox_consumer_rc rc = PQresultStatus(res) == PGRES_COMMAND_OK
 *           ? OUTBOX_CONSUMER_OK : outbox_consumer_sql_error(conn, res, "insert", err);
 *       PQclear(res);
 *       return rc;
 *   }
 *   ...
 *   outbox_consumer *consumer = outbox_consumer_new(&settings, conf, on_event, NULL, errstr,
 *                                                   sizeof errstr);
 *   if (consumer == NULL || outbox_consumer_start(consumer, errstr, sizeof errstr))
 *       ... print errstr, free, exit 2 ...
 *   ... until asked to stop or !outbox_consumer_running(consumer) ...
 *   outbox_consumer_stop(consumer);
 *   int rc = outbox_consumer_join(consumer);
 *   outbox_consumer_free(consumer);
 *
 * Threads: the handler runs on the consumer's thread (the one running outbox_consumer_run, or
 * the thread outbox_consumer_start created), one event at a time. stop() may be called from
 * any thread (not from a signal handler: set a flag there and call it from the loop).
 */

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "config.h"

/* ------------------------------------------------------------------ settings */

typedef enum outbox_consumer_start_at {
    OUTBOX_CONSUMER_START_EARLIEST = 0,
    OUTBOX_CONSUMER_START_LATEST = 1,
} outbox_consumer_start_at;

/* A consumer's settings: embed this struct in a service's settings struct and put
 * OUTBOX_CONSUMER_CONF_DEFS(ServiceType, member) into its config table (lib/config), or use
 * outbox_consumer_settings_load() when the service has no keys of its own. Strings are owned
 * by the struct (outbox_conf_free with the table). */
typedef struct outbox_consumer_settings {
    char *conninfo;           /* postgres.conninfo: dedup, offsets and the handler's transaction */
    char *name;               /* consumer.name: the dedup/offsets key (column `projection`) */
    char *topics;             /* consumer.topics: comma/space separated */
    char *group;              /* consumer.group: "" = outbox-consumer.NAME */
    int start;                /* consumer.start: outbox_consumer_start_at */
    char *notify;             /* consumer.notify: NOTIFY channel of applied ids, "" = none */
    char *schemas_dir;        /* avro.schema-dir (was consumer.schemas) */
    char *reader_schemas_dir; /* avro.reader-schema-dir: "" = none */
    char *schema_history_dir; /* avro.schema-history: "" = none */
    int64_t batch_size;       /* consumer.batch-size */
    int64_t batch_linger_ms;
    int64_t backoff_min_ms;
    int64_t backoff_max_ms;
    int64_t dedup_retention_ms;
    int64_t prune_interval_ms;
    char *dlq_suffix;
    int64_t dlq_timeout_ms;
    char *registry_url;
    int64_t registry_timeout_ms;
    char *registry_auth;
    bool http_enabled;           /* from http.listen by outbox_consumer_settings_finalize() */
    char *http_bind;             /* from http.listen (or the deprecated http.bind) */
    int64_t http_port;           /* from http.listen (or the deprecated http.port); 0 = any */
    int log_level;               /* outbox_log_level */
    int log_format;              /* outbox_log_format */
    char *http_listen;           /* http.listen: HOST:PORT or off */
    char *registry_ca_file;      /* registry.ca-file: "" = the system's CAs */
    char *registry_cert_file;    /* registry.cert-file: "" = no client certificate */
    char *registry_key_file;     /* registry.key-file: "" = in the certificate file */
    char *registry_key_password; /* registry.key-password (a secret) */
} outbox_consumer_settings;

extern const outbox_conf_enum outbox_consumer_start_names[];

/* The library's config table entries, for a settings struct embedded as member `m` of `T`. */
#define OUTBOX_CONSUMER_CONF_DEFS(T, m)                                                            \
    OUTBOX_CONF_DEFS_CONNINFO(T, m.conninfo, OUTBOX_CONF_F_REQUIRED,                               \
                              "the consumer's database: its dedup rows, offsets and the "          \
                              "handler's own tables, written in one transaction per batch"),       \
        OUTBOX_CONF_STR("consumer.name", T, m.name, NULL, OUTBOX_CONF_F_REQUIRED,                  \
                        "Name of the consumer: the key of its dedup rows and offsets "             \
                        "([A-Za-z0-9_.-])"),                                                       \
        OUTBOX_CONF_STR("consumer.topics", T, m.topics, NULL, OUTBOX_CONF_F_REQUIRED,              \
                        "Topics to consume, comma separated"),                                     \
        OUTBOX_CONF_STR("consumer.group", T, m.group, "", 0,                                       \
                        "Kafka consumer group (empty: outbox-consumer.NAME)"),                     \
        OUTBOX_CONF_ENUM("consumer.start", T, m.start, "earliest", outbox_consumer_start_names,    \
                         "Where to start without stored offsets: earliest or latest"),             \
        OUTBOX_CONF_STR("consumer.notify", T, m.notify, "", 0,                                     \
                        "NOTIFY channel for handled event ids (empty: none)"),                     \
        OUTBOX_CONF_DEFS_SCHEMAS(T, m.schemas_dir, m.schema_history_dir),                          \
        OUTBOX_CONF_DEFS_READER_SCHEMAS(T, m.reader_schemas_dir),                                  \
        OUTBOX_CONF_INT("consumer.batch-size", T, m.batch_size, "100", 1, 5000,                    \
                        "Most events per transaction"),                                            \
        OUTBOX_CONF_DURATION("consumer.batch-linger", T, m.batch_linger_ms, "50ms", 0, 60000,      \
                             "Longest wait after a batch's first event before it is handled"),     \
        OUTBOX_CONF_DURATION("consumer.retry-backoff-min", T, m.backoff_min_ms, "100ms", 1, 60000, \
                             "First wait before retrying after a transient error"),                \
        OUTBOX_CONF_DURATION("consumer.retry-backoff-max", T, m.backoff_max_ms, "10s", 1, 600000,  \
                             "Longest wait between retries (the wait doubles up to it)"),          \
        OUTBOX_CONF_DURATION("consumer.dedup-retention", T, m.dedup_retention_ms, "7d", 0,         \
                             3650LL * 24 * 3600 * 1000,                                            \
                             "Dedup rows older than this are pruned (0 = keep forever)"),          \
        OUTBOX_CONF_DURATION("consumer.dedup-prune-interval", T, m.prune_interval_ms, "1m", 1000,  \
                             24LL * 3600 * 1000, "How often an idle consumer prunes dedup rows"),  \
        OUTBOX_CONF_STR("consumer.dlq-suffix", T, m.dlq_suffix, ".dlq", 0,                         \
                        "Dead-letter topic of topic T: T followed by this suffix"),                \
        OUTBOX_CONF_DURATION("consumer.dlq-timeout", T, m.dlq_timeout_ms, "30s", 1000, 600000,     \
                             "Longest wait for Kafka to acknowledge dead letters"),                \
        OUTBOX_CONF_DEFS_REGISTRY(T, m.registry_url, m.registry_timeout_ms, m.registry_auth),      \
        OUTBOX_CONF_DEFS_REGISTRY_TLS(T, m.registry_ca_file, m.registry_cert_file,                 \
                                      m.registry_key_file, m.registry_key_password),               \
        OUTBOX_CONF_DEFS_HTTP_LISTEN(T, m.http_listen, "off"),                                     \
        OUTBOX_CONF_DEFS_LOG(T, m.log_level, m.log_format),                                        \
        OUTBOX_CONF_ALIAS("consumer.schemas", "avro.schema-dir"),                                  \
        OUTBOX_CONF_ALIAS("consumer.schema-history", "avro.schema-history"),                       \
        OUTBOX_CONF_ALIAS("consumer.reader-schemas", "avro.reader-schema-dir"),                    \
        OUTBOX_CONF_DEFS_HTTP_OLD(T, m.http_enabled, m.http_bind, m.http_port, "false", "9189")

/* Cross-field checks: a valid name, at least one topic, backoff min <= max, a non-empty dlq
 * suffix. 0, or -1 with errstr naming the key and the fix. Pure. */
int outbox_consumer_settings_check(const outbox_consumer_settings *settings, char *errstr,
                                   size_t errstr_size) __attribute__((warn_unused_result));

/* What a service's finalize hook calls: http.listen (or the deprecated http.enabled/bind/port)
 * into http_enabled/http_bind/http_port, then outbox_consumer_settings_check(). 0, or -1 with
 * errstr. Main thread, while loading. */
int outbox_consumer_settings_finalize(outbox_consumer_settings *settings, const outbox_conf *conf,
                                      char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* For a service without keys of its own: load the library's table alone (ini file, environment
 * <env_prefix>_<SECTION>_<KEY>, --set), checked. *settings must be zeroed; *confp receives the
 * [kafka] list (outbox_conf_destroy after outbox_consumer_free). 0, or -1 with errstr. Main
 * thread. Free with outbox_consumer_settings_free(). */
int outbox_consumer_settings_load(outbox_consumer_settings *settings, const char *program,
                                  const char *env_prefix, const outbox_conf_sources *src,
                                  outbox_conf **confp, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));
void outbox_consumer_settings_free(outbox_consumer_settings *settings);

/* ------------------------------------------------------------------ events and handlers */

/* One decoded event, valid during the handler call only (copy what you keep). */
typedef struct outbox_consumer_event {
    const char *id;           /* event id (header `id`), lowercase uuid */
    const char *event_type;   /* header `event_type`, else the writer schema's short name */
    const char *aggregate_id; /* header `aggregate_id`, else the record key; may be NULL */
    const char *topic;
    int32_t partition;
    int64_t offset;
    const char *commit_time; /* header outbox.commit_time (RFC 3339), NULL when absent */
    json_t *payload;         /* the Avro value as JSON (timestamps RFC 3339, uuids text);
                              * borrowed: json_incref to keep it */
    const void *record_;     /* the library's (rd_kafka_message_t); use the accessors */
} outbox_consumer_event;

/* A header of the event's record as a malloc'd NUL-terminated string (caller frees), or NULL
 * when absent (or out of memory). The last one wins when a name repeats. */
char *outbox_consumer_event_header(const outbox_consumer_event *ev, const char *name);

typedef enum outbox_consumer_rc {
    OUTBOX_CONSUMER_OK = 0,
    OUTBOX_CONSUMER_SKIP = 1,
    OUTBOX_CONSUMER_RETRY = 2,
    OUTBOX_CONSUMER_REJECT = 3,
    OUTBOX_CONSUMER_FATAL = 4,
} outbox_consumer_rc;

/* What went wrong, filled by a handler returning RETRY/REJECT/FATAL; message becomes the
 * dead-letter reason (REJECT) or the log line. Starts zeroed for every call. */
typedef struct outbox_consumer_error {
    char sqlstate[6]; /* "" when none */
    char message[1024];
} outbox_consumer_error;

/* The handler: see the top of this file. `conn` has the batch transaction open; do not keep
 * it beyond the call. */
typedef outbox_consumer_rc (*outbox_consumer_handler)(void *opaque, PGconn *conn,
                                                      const outbox_consumer_event *ev,
                                                      outbox_consumer_error *err);

/* Classify a failed result (NULL res: the connection broke) by SQLSTATE and fill err with
 * "<what>: <PostgreSQL's message>". Returns RETRY, REJECT or FATAL. Does not PQclear. */
outbox_consumer_rc outbox_consumer_sql_error(PGconn *conn, const PGresult *res, const char *what,
                                             outbox_consumer_error *err);

/* Fill err->message (printf) and return `rc` (for one-line error returns). */
outbox_consumer_rc outbox_consumer_fail(outbox_consumer_error *err, outbox_consumer_rc rc,
                                        const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------------ the consumer */

typedef struct outbox_consumer outbox_consumer;

/*
 * Build a consumer (Kafka consumer and dead-letter producer, decoder, store; no connection
 * yet; the schemas directory is loaded now; HTTP started unless http.listen is off). `settings` and
 * `conf` ([kafka] passthrough, may be NULL) are borrowed and must outlive the consumer.
 * `handler` gets `opaque`. NULL with errstr on a configuration error (settings NULL included):
 * check it before start. Main thread.
 */
outbox_consumer *outbox_consumer_new(const outbox_consumer_settings *settings,
                                     const outbox_conf *conf, outbox_consumer_handler handler,
                                     void *opaque, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* Run on the calling thread until stop() or a fatal error: 0 clean stop, 1 fatal (also when
 * consumer is NULL or was already started or run: logged). */
int outbox_consumer_run(outbox_consumer *consumer);

/* Or on a thread of its own: start (0, or -1 with errstr), then join (0 clean stop, 1 fatal).
 * A consumer runs once: start or run a second time fails (-1 / 1); a NULL consumer (new failed)
 * fails too. start, run, join and free are called from the thread that owns the consumer. */
int outbox_consumer_start(outbox_consumer *consumer, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));
int outbox_consumer_join(outbox_consumer *consumer);

/* Ask it to stop: the pending batch is written, the group left. Any thread. */
void outbox_consumer_stop(outbox_consumer *consumer);

/* False once it stopped (cleanly or on a fatal error). Any thread. */
bool outbox_consumer_running(const outbox_consumer *consumer);

/* The HTTP port actually bound (http.listen port 0 = any), 0 without HTTP. */
uint16_t outbox_consumer_http_port(const outbox_consumer *consumer);

/* Free everything. A started consumer not joined yet is stopped and joined first (its pending
 * batch written). NULL is a no-op. */
void outbox_consumer_free(outbox_consumer *consumer);

#endif
