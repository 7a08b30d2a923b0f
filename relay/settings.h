#ifndef RELAY_SETTINGS_H
#define RELAY_SETTINGS_H

/*
 * relay_settings: outbox-relay's configuration, described by ONE table (settings.c) that
 * drives loading (ini file, OUTBOX_RELAY_* environment, --set), --help, the README reference
 * and the effective-config dump. [kafka] keys go to librdkafka unchanged.
 *
 * Loaded once on the main thread at startup; read-only afterwards (any thread may read).
 */

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "registry.h"
#include "route.h"

typedef enum relay_wire_format {
    RELAY_WIRE_AUTO,          /* confluent with a registry url, else single-object */
    RELAY_WIRE_CONFLUENT,     /* 0x00 + schema id + Avro binary (needs registry.url) */
    RELAY_WIRE_SINGLE_OBJECT, /* 0xC3 0x01 + CRC-64-AVRO fingerprint + Avro binary */
} relay_wire_format;

/* One outbox table the relay reads: its name and the names of its outbox columns (the
 * outbox.column-* defaults, or its own [table schema.name] section). */
typedef struct relay_table {
    char *name;                   /* "schema.table", as in the catalog */
    char schema[64], relname[64]; /* split (identifiers are at most 63 bytes) */
    /* Column names by enum relay_col; owned by the settings or, from a [table] section, by
     * the outbox_conf (both outlive the relay). */
    const char *columns[RELAY_ROUTE_NCOLS];
} relay_table;

/* What to do with an event Kafka refuses as too large. */
typedef enum relay_on_too_large {
    RELAY_TOO_LARGE_DEAD_LETTER, /* a small dead-letter record instead; go on */
    RELAY_TOO_LARGE_STOP,        /* stop (exit 1) without confirming its transaction */
} relay_on_too_large;

typedef struct relay_settings {
    /* [postgres] */
    char *conninfo;
    char *slot;
    char *publication;
    char *table;
    char *tables_list; /* postgres.tables as written; parsed into tables[] */
    bool create_slot;
    bool create_publication;
    /* [outbox] */
    char *topic_template;
    char *message_prefix;
    bool logical_messages;
    char *message_roles;
    char *col_id, *col_aggregate_type, *col_aggregate_id, *col_event_type, *col_payload,
        *col_headers;
    bool prune;                /* outbox.prune: delete confirmed rows (relay/prune.h) */
    int64_t prune_batch;       /* outbox.prune-batch: rows per DELETE */
    int64_t prune_interval_ms; /* outbox.prune-interval: pause when nothing is deletable */
    /* [dlq] */
    char *dlq_topic_template;
    char *dlq_fallback_topic;
    /* [avro] */
    char *schema_dir;
    char *schema_history; /* avro.schema-history: "" = none */
    int wire_format;
    /* [registry] */
    char *registry_url;
    char *registry_auth;
    char *registry_ca_file;      /* registry.ca-file: "" = the system's CAs */
    char *registry_cert_file;    /* registry.cert-file: "" = no client certificate */
    char *registry_key_file;     /* registry.key-file: "" = the key is in the certificate file */
    char *registry_key_password; /* registry.key-password: "" = an unencrypted key */
    int subject_strategy;
    int compatibility; /* registry.compatibility: outbox_compat_level */
    int64_t registry_timeout_ms;
    /* [relay] */
    int64_t status_interval_ms;
    int64_t max_inflight_bytes;
    int64_t shutdown_timeout_ms;
    int64_t registry_retry_max_ms;
    int on_too_large;     /* relay_on_too_large */
    int64_t lease_ttl_ms; /* relay.lease-ttl: the standby lease's time to live */
    /* exactly-once into Kafka (relay/txn.h) */
    bool exactly_once;
    char *transactional_id; /* "" = outbox-relay.<slot> */
    char *state_topic;      /* "" = <slot>.outbox-relay-state */
    int64_t txn_max_messages;
    int64_t txn_max_time_ms;
    /* [http] */
    char *http_listen;
    /* [log] */
    int log_level;
    int log_format;
    /* Derived at load: the outbox tables (postgres.tables, else postgres.table), at least one. */
    relay_table *tables;
    size_t ntables;
} relay_settings;

extern const outbox_conf_spec relay_settings_spec;

/* Load from `path` (may be NULL), the environment and `sets`. 0, or -1 with errstr (which names
 * the key, the value and the fix). On success *confp holds the kafka list; free both with
 * relay_settings_free() and outbox_conf_destroy(). */
int relay_settings_load(relay_settings *settings, const char *path, const char *const *sets,
                        size_t nsets, outbox_conf **confp, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));
void relay_settings_free(relay_settings *settings);

/* A registry client for settings' registry.url with its timeout, basic auth and TLS files
 * (outbox_registry_new_tls()): NULL with errstr on a bad setting or an unreadable file. The
 * caller owns it (outbox_registry_free()). Main thread or the caller's own. */
outbox_registry *relay_settings_registry_new(const relay_settings *settings, char *errstr,
                                             size_t errstr_size)
    __attribute__((warn_unused_result));

/* The configured table named `schema`.`relname`, or NULL. */
const relay_table *relay_settings_table_find(const relay_settings *settings, const char *schema,
                                             const char *relname);

#endif
