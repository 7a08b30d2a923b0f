#include "settings.h"

#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "avro_compat.h"
#include "dlq.h"
#include "kafka_topics.h"
#include "registry.h"
#include "route.h"

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

/* Values are lib/avro_compat.h's outbox_compat_level; names as the registries spell them. */
static const outbox_conf_enum compat_levels[] = {
    {"BACKWARD", OUTBOX_COMPAT_BACKWARD},
    {"BACKWARD_TRANSITIVE", OUTBOX_COMPAT_BACKWARD_TRANSITIVE},
    {"FORWARD", OUTBOX_COMPAT_FORWARD},
    {"FORWARD_TRANSITIVE", OUTBOX_COMPAT_FORWARD_TRANSITIVE},
    {"FULL", OUTBOX_COMPAT_FULL},
    {"FULL_TRANSITIVE", OUTBOX_COMPAT_FULL_TRANSITIVE},
    {"NONE", OUTBOX_COMPAT_NONE},
    {NULL, 0}};

static const outbox_conf_enum too_large_modes[] = {
    {"dead-letter", RELAY_TOO_LARGE_DEAD_LETTER}, {"stop", RELAY_TOO_LARGE_STOP}, {NULL, 0}};

#define S relay_settings
static const outbox_conf_def relay_settings_defs[] = {
    OUTBOX_CONF_DEFS_CONNINFO(S, conninfo, OUTBOX_CONF_F_REQUIRED,
                              "the source database, as a role with REPLICATION (e.g. "
                              "\"host=127.0.0.1 port=5432 dbname=app user=outbox_relay\")"),
    OUTBOX_CONF_STR("postgres.slot", S, slot, "outbox_relay", 0,
                    "logical replication slot (pgoutput) the relay reads and confirms; 1-63 of "
                    "a-z 0-9 _"),
    OUTBOX_CONF_STR("postgres.publication", S, publication, "outbox_pub", 0,
                    "publication covering the outbox tables (the relay streams it; other "
                    "tables in it are ignored, and `check` warns about them)"),
    OUTBOX_CONF_STR("postgres.table", S, table, "public.outbox", 0,
                    "the outbox table (schema.table); its inserts are events"),
    OUTBOX_CONF_STR("postgres.tables", S, tables_list, "", 0,
                    "several outbox tables, comma-separated (e.g. \"public.outbox, "
                    "billing.outbox\"), read through one slot and one publication and routed "
                    "the same way; a [table schema.name] section may name a table's own "
                    "column-* keys; empty: postgres.table alone"),
    OUTBOX_CONF_BOOL("postgres.create-slot", S, create_slot, "true",
                     "create the slot when it is missing"),
    OUTBOX_CONF_BOOL("postgres.create-publication", S, create_publication, "true",
                     "create the publication (FOR TABLE, publish = 'insert') when it is missing; "
                     "needs ownership of the table"),
    OUTBOX_CONF_STR("outbox.topic", S, topic_template, "outbox.event.${aggregate_type}", 0,
                    "topic template; placeholders ${aggregate_type} and ${event_type}"),
    OUTBOX_CONF_BOOL("outbox.logical-messages", S, logical_messages, "false",
                     "also publish pg_logical_emit_message(true, <prefix>, ...) events; only "
                     "transactional ones count (others are ignored and counted); the roles that "
                     "may execute it can then publish: revoke it from PUBLIC (sql/outbox.sql)"),
    OUTBOX_CONF_STR("outbox.message-prefix", S, message_prefix, "outbox", 0,
                    "prefix of pg_logical_emit_message() events (a JSON envelope with id, "
                    "aggregate_type, aggregate_id, event_type, payload, headers)"),
    OUTBOX_CONF_STR("outbox.message-roles", S, message_roles, "", 0,
                    "with logical messages on, the roles (comma-separated) that may execute "
                    "pg_logical_emit_message; `check` fails while PUBLIC or another role can; "
                    "empty: the roles that may INSERT into an outbox table"),
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
    OUTBOX_CONF_BOOL("outbox.prune", S, prune, "false",
                     "delete the outbox rows whose events Kafka acknowledged and the relay "
                     "confirmed, in batches on a connection of its own; the relay's role then "
                     "needs DELETE on the outbox tables (`check` prints the GRANT)"),
    OUTBOX_CONF_INT("outbox.prune-batch", S, prune_batch, "1000", 1, 100000,
                    "with outbox.prune on: rows deleted per statement"),
    OUTBOX_CONF_DURATION("outbox.prune-interval", S, prune_interval_ms, "1s", 10, 3600000,
                         "with outbox.prune on: how often to look for confirmed rows when there "
                         "is no backlog (a backlog is deleted batch after batch)"),
    OUTBOX_CONF_STR("dlq.topic", S, dlq_topic_template, "${topic}.dlq", 0,
                    "dead-letter topic template; ${topic} is the event's topic"),
    OUTBOX_CONF_STR("dlq.fallback-topic", S, dlq_fallback_topic, "outbox.dlq", 0,
                    "dead-letter topic for events with no legal topic or no legal dead-letter "
                    "topic (e.g. a 249-character topic + .dlq)"),
    OUTBOX_CONF_DEFS_SCHEMAS(S, schema_dir, schema_history),
    OUTBOX_CONF_ENUM("avro.wire-format", S, wire_format, "auto", wire_formats,
                     "auto, confluent (registry framing) or single-object (fingerprint framing)"),
    OUTBOX_CONF_ENUM("registry.compatibility", S, compatibility, "BACKWARD", compat_levels,
                     "compatibility level the relay sets on each subject it registers to (a "
                     "refusal stops it); also the level of the avro.schema-history check"),
    OUTBOX_CONF_DEFS_REGISTRY(S, registry_url, registry_timeout_ms, registry_auth),
    OUTBOX_CONF_DEFS_REGISTRY_TLS(S, registry_ca_file, registry_cert_file, registry_key_file,
                                  registry_key_password),
    OUTBOX_CONF_ENUM("registry.subject-strategy", S, subject_strategy, "topic-record", strategies,
                     "subject naming: topic-record (<topic>-<record>), topic (<topic>-value), "
                     "record (<record>)"),
    OUTBOX_CONF_DURATION("relay.status-interval", S, status_interval_ms, "10s", 100, 3600000,
                         "standby status update interval; keep well below wal_sender_timeout"),
    OUTBOX_CONF_SIZE("relay.max-inflight", S, max_inflight_bytes, "64MB", 65536, (int64_t)1 << 40,
                     "bytes handed to Kafka and not yet acknowledged before reading pauses"),
    OUTBOX_CONF_DURATION("relay.shutdown-timeout", S, shutdown_timeout_ms, "30s", 0, 3600000,
                         "on SIGTERM or a fatal error, how long to wait for Kafka to acknowledge "
                         "what is in flight"),
    OUTBOX_CONF_ENUM("relay.on-too-large", S, on_too_large, "dead-letter", too_large_modes,
                     "an event Kafka refuses as too large (above kafka.message.max.bytes or the "
                     "topic's max.message.bytes): dead-letter (a small record with its id, "
                     "headers, size, LSN and reason, no payload; the stream goes on) or stop "
                     "(exit 1, not confirmed)"),
    OUTBOX_CONF_DURATION("relay.lease-ttl", S, lease_ttl_ms, "3s", 600, 600000,
                         "relays sharing a slot: the active one holds a lease it renews; a "
                         "standby takes over at most this long after the active one is killed, "
                         "paused or cut off"),
    OUTBOX_CONF_BOOL("relay.exactly-once", S, exactly_once, "false",
                     "publish each group of PostgreSQL transactions in one Kafka transaction with "
                     "the LSN it covers (relay.state-topic), and skip on start what Kafka has: "
                     "read_committed consumers see each event once, even after a crash"),
    OUTBOX_CONF_STR("relay.transactional-id", S, transactional_id, "", 0,
                    "with relay.exactly-once: the producer's transactional.id; a standby with the "
                    "same one fences the old active relay (empty: outbox-relay.<postgres.slot>)"),
    OUTBOX_CONF_STR("relay.state-topic", S, state_topic, "", 0,
                    "with relay.exactly-once: compacted topic holding the last LSN committed to "
                    "Kafka, created with cleanup.policy=compact when missing (empty: "
                    "<postgres.slot>.outbox-relay-state)"),
    OUTBOX_CONF_INT("relay.txn-max-messages", S, txn_max_messages, "10000", 1, 100000000,
                    "with relay.exactly-once: a Kafka transaction is committed at the first "
                    "PostgreSQL commit once it holds this many messages (or is idle)"),
    OUTBOX_CONF_DURATION("relay.txn-max-time", S, txn_max_time_ms, "100ms", 1, 60000,
                         "with relay.exactly-once: a Kafka transaction is committed at the first "
                         "PostgreSQL commit once it is this old (or at once when idle)"),
    OUTBOX_CONF_DURATION("relay.registry-retry-max", S, registry_retry_max_ms, "30s", 100, 3600000,
                         "longest backoff between registry retries while it is down"),
    OUTBOX_CONF_DEFS_HTTP_LISTEN(S, http_listen, "127.0.0.1:9187"),
    OUTBOX_CONF_DEFS_LOG(S, log_level, log_format),
    OUTBOX_CONF_END};
#undef S

/* ---------------------------------------------------------------- outbox tables */

/* The per-table column keys of a [table schema.name] section, by enum relay_col. */
static const char *const table_column_keys[RELAY_ROUTE_NCOLS] = {
    "column-id",         "column-aggregate-type", "column-aggregate-id",
    "column-event-type", "column-payload",        "column-headers",
};

#define TABLE_SECTION "table "

static void tables_free(relay_settings *s)
{
    for (size_t i = 0; i < s->ntables; i++)
        free(s->tables[i].name);
    free(s->tables);
    s->tables = NULL;
    s->ntables = 0;
}

/* Add "schema.table" (trimmed, `len` bytes at `name`) with the default column names. */
static int tables_add(relay_settings *s, const char *name, size_t len, char *errstr,
                      size_t errstr_size)
{
    while (len > 0 && isspace((unsigned char)*name))
        name++, len--;
    while (len > 0 && isspace((unsigned char)name[len - 1]))
        len--;
    const char *dot = memchr(name, '.', len);
    size_t slen = dot ? (size_t)(dot - name) : 0;
    if (!dot || slen == 0 || slen >= sizeof(s->tables[0].schema) || len - slen - 1 == 0 ||
        len - slen - 1 >= sizeof(s->tables[0].relname)) {
        snprintf(errstr, errstr_size,
                 "postgres.tables: '%.*s' is not schema.table (each name schema-qualified, "
                 "e.g. public.outbox, at most 63 bytes a part)",
                 (int)len, name);
        return -1;
    }
    for (size_t i = 0; i < s->ntables; i++) {
        if (strlen(s->tables[i].name) == len && memcmp(s->tables[i].name, name, len) == 0) {
            snprintf(errstr, errstr_size, "postgres.tables names %.*s twice", (int)len, name);
            return -1;
        }
    }
    relay_table *tables = realloc(s->tables, (s->ntables + 1) * sizeof(*tables));
    if (!tables)
        goto oom;
    s->tables = tables;
    relay_table *t = &tables[s->ntables];
    memset(t, 0, sizeof(*t));
    t->name = strndup(name, len);
    if (!t->name)
        goto oom;
    memcpy(t->schema, name, slen);
    memcpy(t->relname, dot + 1, len - slen - 1);
    const char *cols[RELAY_ROUTE_NCOLS] = {s->col_id,           s->col_aggregate_type,
                                           s->col_aggregate_id, s->col_event_type,
                                           s->col_payload,      s->col_headers};
    memcpy(t->columns, cols, sizeof(cols));
    s->ntables++;
    return 0;
oom:
    snprintf(errstr, errstr_size, "out of memory");
    return -1;
}

/* postgres.tables (or postgres.table alone) into s->tables. */
static int tables_parse(relay_settings *s, const outbox_conf *conf, char *errstr,
                        size_t errstr_size)
{
    if (s->tables_list[0] == '\0')
        return tables_add(s, s->table, strlen(s->table), errstr, errstr_size);
    if (outbox_conf_is_set(conf, "postgres.table")) {
        snprintf(errstr, errstr_size,
                 "both postgres.table (%s) and postgres.tables are set: keep postgres.tables "
                 "and list every outbox table in it",
                 outbox_conf_origin(conf, "postgres.table"));
        return -1;
    }
    for (const char *p = s->tables_list;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (tables_add(s, p, len, errstr, errstr_size) != 0)
            return -1;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

/* Apply one item of a [table schema.name] section. */
static int tables_apply_item(relay_settings *s, const outbox_conf_item *item, char *errstr,
                             size_t errstr_size)
{
    const char *name = item->section + strlen(TABLE_SECTION);
    relay_table *t = NULL;
    for (size_t i = 0; i < s->ntables && !t; i++)
        if (strcmp(s->tables[i].name, name) == 0)
            t = &s->tables[i];
    if (!t) {
        snprintf(errstr, errstr_size,
                 "[%s] at %s:%d: %s is not one of the outbox tables; list it in postgres.tables",
                 item->section, item->file, item->line, name);
        return -1;
    }
    for (int c = 0; c < RELAY_ROUTE_NCOLS; c++) {
        if (strcmp(item->key, table_column_keys[c]) == 0) {
            t->columns[c] = item->value; /* owned by the conf, which outlives the relay */
            return 0;
        }
    }
    snprintf(errstr, errstr_size,
             "unknown key '%s' in [%s] at %s:%d; a table section takes column-id, "
             "column-aggregate-type, column-aggregate-id, column-event-type, column-payload, "
             "column-headers",
             item->key, item->section, item->file, item->line);
    return -1;
}

/* Sections other than the table's own: [table schema.name] is checked in finalize, once the
 * tables are known; anything else is unknown. */
static int settings_sections(void *target, const outbox_conf_item *items, size_t count,
                             void *opaque, char *errstr, size_t errstr_size)
{
    (void)target;
    (void)opaque;
    for (size_t i = 0; i < count; i++) {
        if (strncmp(items[i].section, TABLE_SECTION, strlen(TABLE_SECTION)) != 0) {
            snprintf(errstr, errstr_size,
                     "unknown section [%s] at %s:%d (sections: postgres, outbox, dlq, avro, "
                     "registry, relay, http, log, kafka, table <schema.name>)",
                     items[i].section, items[i].file, items[i].line);
            return -1;
        }
    }
    return 0;
}

static int tables_finalize(relay_settings *s, const outbox_conf *conf, char *errstr,
                           size_t errstr_size)
{
    size_t n;
    const outbox_conf_item *items = outbox_conf_sections(conf, &n);
    if (tables_parse(s, conf, errstr, errstr_size) != 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (tables_apply_item(s, &items[i], errstr, errstr_size) != 0)
            return -1;
    return 0;
}

const relay_table *relay_settings_table_find(const relay_settings *settings, const char *schema,
                                             const char *relname)
{
    for (size_t i = 0; i < settings->ntables; i++)
        if (strcmp(settings->tables[i].schema, schema) == 0 &&
            strcmp(settings->tables[i].relname, relname) == 0)
            return &settings->tables[i];
    return NULL;
}

/* ---------------------------------------------------------------- cross-field checks */

static int topic_setting_invalid(const char *key, const char *value, char *errstr,
                                 size_t errstr_size)
{
    snprintf(errstr, errstr_size,
             "%s = '%s' is not a legal Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)", key, value);
    return -1;
}

/* Names PostgreSQL or Kafka would refuse, said at load rather than at the first event: a
 * topic template or dead-letter topic that can make no legal topic would turn every event, or
 * every dead letter, into a failure. */
static int names_check(const relay_settings *s, char *errstr, size_t errstr_size)
{
    size_t slen = strlen(s->slot);
    bool slot_ok = slen > 0 && slen <= 63;
    for (size_t i = 0; slot_ok && i < slen; i++)
        slot_ok = (s->slot[i] >= 'a' && s->slot[i] <= 'z') ||
                  (s->slot[i] >= '0' && s->slot[i] <= '9') || s->slot[i] == '_';
    if (!slot_ok) {
        snprintf(errstr, errstr_size,
                 "postgres.slot = '%s': a replication slot name is 1-63 of a-z 0-9 _ "
                 "(PostgreSQL's rule)",
                 s->slot);
        return -1;
    }
    char err[512];
    relay_route *route = relay_route_new(s->topic_template, NULL, err, sizeof err);
    if (!route) {
        snprintf(errstr, errstr_size, "outbox.topic: %s", err);
        return -1;
    }
    relay_route_free(route);
    if (!relay_dlq_template_valid(s->dlq_topic_template)) {
        snprintf(errstr, errstr_size,
                 "dlq.topic = '%s' makes no legal Kafka topic name (1-249 of a-z A-Z 0-9 . _ -; "
                 "${topic} is the event's topic), e.g. ${topic}.dlq",
                 s->dlq_topic_template);
        return -1;
    }
    if (!outbox_kafka_topic_name_valid(s->dlq_fallback_topic))
        return topic_setting_invalid("dlq.fallback-topic", s->dlq_fallback_topic, errstr,
                                     errstr_size);
    if (s->state_topic[0] != '\0' && !outbox_kafka_topic_name_valid(s->state_topic))
        return topic_setting_invalid("relay.state-topic", s->state_topic, errstr, errstr_size);
    return 0;
}

static int settings_finalize(void *target, const outbox_conf *conf, void *opaque, char *errstr,
                             size_t errstr_size)
{
    relay_settings *s = target;
    if (outbox_conf_require_bootstrap(conf, errstr, errstr_size) != 0)
        return -1;
    if (outbox_conf_kafka_get(conf, "transactional.id")) {
        snprintf(errstr, errstr_size,
                 "kafka.transactional.id is set: the relay's producer becomes transactional "
                 "only with relay.exactly-once = on, and its id is relay.transactional-id; "
                 "remove kafka.transactional.id");
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
    if (names_check(s, errstr, errstr_size) != 0)
        return -1;
    /* The tables last: a failure after them must free them (the caller frees only the
     * table's own fields). */
    if (tables_finalize(s, conf, errstr, errstr_size) != 0 ||
        outbox_conf_http_finalize(conf, &s->http_listen, NULL, NULL, NULL, errstr, errstr_size) !=
            0) {
        tables_free(s);
        return -1;
    }
    return 0;
}

const outbox_conf_spec relay_settings_spec = {
    .program = "outbox-relay",
    .env_prefix = "OUTBOX_RELAY",
    .defs = relay_settings_defs,
    .on_sections = settings_sections,
    .finalize = settings_finalize,
};

int relay_settings_load(relay_settings *settings, const char *path, const char *const *sets,
                        size_t nsets, outbox_conf **confp, char *errstr, size_t errstr_size)
{
    memset(settings, 0, sizeof(*settings));
    outbox_conf_sources src = {.path = path, .envp = environ, .sets = sets, .set_count = nsets};
    return outbox_conf_load(&relay_settings_spec, settings, &src, NULL, confp, errstr, errstr_size);
}

outbox_registry *relay_settings_registry_new(const relay_settings *settings, char *errstr,
                                             size_t errstr_size)
{
    const outbox_registry_tls tls = {.ca_file = settings->registry_ca_file,
                                     .cert_file = settings->registry_cert_file,
                                     .key_file = settings->registry_key_file,
                                     .key_password = settings->registry_key_password};
    return outbox_registry_new_tls(settings->registry_url, (long)settings->registry_timeout_ms,
                                   settings->registry_auth[0] ? settings->registry_auth : NULL,
                                   &tls, errstr, errstr_size);
}

void relay_settings_free(relay_settings *settings)
{
    tables_free(settings);
    outbox_conf_free(relay_settings_defs, settings);
}
