#include "settings.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "registry.h"

extern char **environ;

static const outbox_conf_enum wire_formats[] = {{"auto", RELAY_WIRE_AUTO},
                                                {"confluent", RELAY_WIRE_CONFLUENT},
                                                {"single-object", RELAY_WIRE_SINGLE_OBJECT},
                                                {NULL, 0}};

static const outbox_conf_enum strategies[] = {
    {"topic-record", OUTBOX_REGISTRY_STRATEGY_TOPIC_RECORD},
    {"topic", OUTBOX_REGISTRY_STRATEGY_TOPIC},
    {"record", OUTBOX_REGISTRY_STRATEGY_RECORD},
    {NULL, 0}};

/* Values match lib/log.h's levels and formats. */
static const outbox_conf_enum log_levels[] = {
    {"error", 0}, {"warn", 1}, {"info", 2}, {"debug", 3}, {NULL, 0}};
static const outbox_conf_enum log_formats[] = {{"text", 0}, {"json", 1}, {NULL, 0}};

#define S relay_settings
static const outbox_conf_def relay_settings_defs[] = {
    OUTBOX_CONF_STR("postgres.conninfo", S, conninfo, NULL, OUTBOX_CONF_F_REQUIRED,
                    "libpq connection string of the source database, as a role with "
                    "REPLICATION (e.g. \"host=127.0.0.1 port=5432 dbname=app user=outbox_relay\")"),
    OUTBOX_CONF_STR("postgres.slot", S, slot, "outbox_relay", 0,
                    "logical replication slot (pgoutput) the relay reads and confirms"),
    OUTBOX_CONF_STR("postgres.publication", S, publication, "outbox_pub", 0,
                    "publication covering the outbox table"),
    OUTBOX_CONF_STR("postgres.table", S, table, "public.outbox", 0,
                    "the outbox table (schema.table); its inserts are events"),
    OUTBOX_CONF_BOOL("postgres.create-slot", S, create_slot, "true",
                     "create the slot when it is missing"),
    OUTBOX_CONF_BOOL("postgres.create-publication", S, create_publication, "true",
                     "create the publication (FOR TABLE, publish = 'insert') when it is missing; "
                     "needs ownership of the table"),
    OUTBOX_CONF_STR("outbox.topic", S, topic_template, "outbox.event.${aggregate_type}", 0,
                    "topic template; placeholders ${aggregate_type} and ${event_type}"),
    OUTBOX_CONF_STR("outbox.message-prefix", S, message_prefix, "outbox", 0,
                    "prefix of pg_logical_emit_message() events (a JSON envelope with id, "
                    "aggregate_type, aggregate_id, event_type, payload, headers)"),
    OUTBOX_CONF_STR("outbox.column-id", S, col_id, "id", 0, "column holding the event id"),
    OUTBOX_CONF_STR("outbox.column-aggregate-type", S, col_aggregate_type, "aggregate_type", 0,
                    "column holding the aggregate type (routes to a topic)"),
    OUTBOX_CONF_STR("outbox.column-aggregate-id", S, col_aggregate_id, "aggregate_id", 0,
                    "column holding the aggregate id (the Kafka key)"),
    OUTBOX_CONF_STR("outbox.column-event-type", S, col_event_type, "event_type", 0,
                    "column holding the event type (chooses the Avro schema)"),
    OUTBOX_CONF_STR("outbox.column-payload", S, col_payload, "payload", 0,
                    "column holding the payload: json/jsonb/text is encoded to Avro, bytea is "
                    "published unchanged"),
    OUTBOX_CONF_STR("outbox.column-headers", S, col_headers, "headers", 0,
                    "optional jsonb column whose entries become Kafka headers"),
    OUTBOX_CONF_STR("dlq.topic", S, dlq_topic_template, "${topic}.dlq", 0,
                    "dead-letter topic template; ${topic} is the event's topic"),
    OUTBOX_CONF_STR("dlq.fallback-topic", S, dlq_fallback_topic, "outbox.dlq", 0,
                    "dead-letter topic for events whose own topic cannot be computed"),
    OUTBOX_CONF_STR("avro.schema-dir", S, schema_dir, OUTBOX_DEFAULT_SCHEMA_DIR, 0,
                    "directory of <EventType>.avsc schemas; the event type names the record"),
    OUTBOX_CONF_ENUM("avro.wire-format", S, wire_format, "auto", wire_formats,
                     "auto, confluent (registry framing) or single-object (fingerprint framing)"),
    OUTBOX_CONF_STR("registry.url", S, registry_url, "", 0,
                    "Confluent-compatible schema registry base URL (empty: no registry, Avro "
                    "single-object encoding)"),
    OUTBOX_CONF_STR("registry.basic-auth", S, registry_auth, "", OUTBOX_CONF_F_SECRET,
                    "user:password for the registry, if it needs one"),
    OUTBOX_CONF_ENUM("registry.subject-strategy", S, subject_strategy, "topic-record", strategies,
                     "subject naming: topic-record (<topic>-<record>), topic (<topic>-value), "
                     "record (<record>)"),
    OUTBOX_CONF_DURATION("registry.timeout", S, registry_timeout_ms, "5s", 100, 60000,
                         "bound on one registry request; the stream keeps its status updates"),
    OUTBOX_CONF_DURATION("relay.status-interval", S, status_interval_ms, "10s", 100, 3600000,
                         "standby status update interval; keep well below wal_sender_timeout"),
    OUTBOX_CONF_SIZE("relay.max-inflight", S, max_inflight_bytes, "64MB", 65536, (int64_t)1 << 40,
                     "bytes handed to Kafka and not yet acknowledged before reading pauses"),
    OUTBOX_CONF_DURATION("relay.shutdown-timeout", S, shutdown_timeout_ms, "30s", 0, 3600000,
                         "on SIGTERM, how long to wait for Kafka to acknowledge what is in flight"),
    OUTBOX_CONF_DURATION("relay.registry-retry-max", S, registry_retry_max_ms, "30s", 100, 3600000,
                         "longest backoff between registry retries while it is down"),
    OUTBOX_CONF_STR("http.listen", S, http_listen, "127.0.0.1:9187", 0,
                    "address:port for /metrics and /healthz (empty: no HTTP server)"),
    OUTBOX_CONF_ENUM("log.level", S, log_level, "info", log_levels, "error, warn, info or debug"),
    OUTBOX_CONF_ENUM("log.format", S, log_format, "text", log_formats, "text or json lines"),
    OUTBOX_CONF_END};
#undef S

static int settings_finalize(void *target, const outbox_conf *conf, void *opaque, char *errstr,
                             size_t errstr_size)
{
    relay_settings *s = target;
    if (!outbox_conf_kafka_get(conf, "bootstrap.servers")) {
        snprintf(errstr, errstr_size,
                 "kafka.bootstrap.servers is not set: add it under [kafka] in the config file "
                 "or set OUTBOX_RELAY_KAFKA_BOOTSTRAP_SERVERS=host:port");
        return -1;
    }
    if (s->wire_format == RELAY_WIRE_CONFLUENT && s->registry_url[0] == '\0') {
        snprintf(errstr, errstr_size,
                 "avro.wire-format = confluent needs registry.url (the schema ids come from the "
                 "registry); set registry.url or use avro.wire-format = single-object");
        return -1;
    }
    if (s->wire_format == RELAY_WIRE_AUTO)
        s->wire_format = s->registry_url[0] ? RELAY_WIRE_CONFLUENT : RELAY_WIRE_SINGLE_OBJECT;
    if (!strchr(s->table, '.')) {
        snprintf(errstr, errstr_size,
                 "postgres.table = '%s' must be schema-qualified, e.g. public.%s", s->table,
                 s->table);
        return -1;
    }
    if (s->message_prefix[0] == '\0') {
        snprintf(errstr, errstr_size, "outbox.message-prefix must not be empty");
        return -1;
    }
    return 0;
}

const outbox_conf_spec relay_settings_spec = {
    .program = "outbox-relay",
    .env_prefix = "OUTBOX_RELAY",
    .defs = relay_settings_defs,
    .finalize = settings_finalize,
};

int relay_settings_load(relay_settings *settings, const char *path, const char *const *sets,
                        size_t nsets, outbox_conf **confp, char *errstr, size_t errstr_size)
{
    memset(settings, 0, sizeof(*settings));
    outbox_conf_sources src = {.path = path, .envp = environ, .sets = sets, .set_count = nsets};
    return outbox_conf_load(&relay_settings_spec, settings, &src, NULL, confp, errstr, errstr_size);
}

void relay_settings_free(relay_settings *settings)
{
    outbox_conf_free(relay_settings_defs, settings);
}
