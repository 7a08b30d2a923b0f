#ifndef PROJECTOR_SETTINGS_H
#define PROJECTOR_SETTINGS_H

/*
 * projector_settings: outbox-projector's configuration. ONE table (projector_settings.c)
 * drives loading (ini file, OUTBOX_PROJECTOR_* environment, --set), --help, the Markdown
 * reference and the effective-config dump; [kafka] goes to librdkafka unchanged (consumer and
 * dead-letter producer); every [projection NAME] section is parsed by projector_projection.
 *
 * Loaded once on the main thread; read-only afterwards (any thread may read).
 */

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "projector_projection.h"
#include "projector_runner.h"

typedef struct projector_settings {
    char *conninfo;           /* postgres.conninfo: default read database */
    char *schemas_dir;        /* avro.schema-dir (was projector.schemas) */
    char *reader_schemas_dir; /* avro.reader-schema-dir; NULL/"" = none */
    char *schema_history_dir; /* avro.schema-history; NULL/"" = none */
    int64_t batch_size;
    int64_t batch_linger_ms;
    int64_t backoff_min_ms;
    int64_t backoff_max_ms;
    int64_t dedup_retention_ms;
    int64_t prune_interval_ms;
    int64_t replay_poll_ms;
    char *dlq_suffix;
    int64_t dlq_timeout_ms;
    int64_t rebuild_keep_old_ms; /* projector.rebuild-keep-old; 0 = until --drop-old */
    int64_t rebuild_workers;     /* projector.rebuild-workers: shadow runners in parallel */
    char *registry_url;
    int64_t registry_timeout_ms;
    char *registry_auth;
    char *registry_ca_file;      /* registry.ca-file: NULL/"" = the system's CAs */
    char *registry_cert_file;    /* registry.cert-file: NULL/"" = no client certificate */
    char *registry_key_file;     /* registry.key-file: NULL/"" = in the certificate file */
    char *registry_key_password; /* registry.key-password: NULL/"" = an unencrypted key */
    char *http_listen;           /* http.listen: HOST:PORT or off */
    bool http_enabled;           /* from http.listen (or the deprecated http.enabled) */
    char *http_bind;             /* from http.listen (or the deprecated http.bind) */
    int64_t http_port;           /* from http.listen (or the deprecated http.port); 0 = any */
    int64_t http_rebuild_port;   /* `rebuild` serves its progress there */
    int64_t http_max_connections;
    int64_t sse_max_clients;
    int64_t sse_backlog;
    int64_t sse_replay_max;
    int log_level;
    int log_format;
    projector_projections projections; /* from [projection NAME] sections */
} projector_settings;

extern const outbox_conf_spec projector_settings_spec;

/* Load into a zeroed *settings. On success *confp owns the [kafka] list (keep it while
 * runners are created). 0, or -1 with errstr. Main thread. */
int projector_settings_load(projector_settings *settings, const outbox_conf_sources *src,
                            outbox_conf **confp, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* The same; need_projections = false accepts a configuration without any [projection NAME]
 * (the client commands, e.g. `wait` with only postgres.conninfo). */
int projector_settings_load_opt(projector_settings *settings, const outbox_conf_sources *src,
                                bool need_projections, outbox_conf **confp, char *errstr,
                                size_t errstr_size) __attribute__((warn_unused_result));

/* Free what load allocated. Safe twice. */
void projector_settings_free(projector_settings *settings);

/* The reader-schemas directory of a projection (its own key, else avro.reader-schema-dir),
 * or NULL when it has none. */
const char *projector_settings_reader_schemas(const projector_settings *settings,
                                              const projector_projection *proj);

/* The conninfo a projection uses: its own `database`, else postgres.conninfo. */
const char *projector_settings_conninfo(const projector_settings *settings,
                                        const projector_projection *proj);

/* The registry's TLS settings (registry.ca-file, cert-file, key-file, key-password), borrowed
 * from settings. */
outbox_registry_tls projector_settings_registry_tls(const projector_settings *settings);

/* The settings' part of a runner configuration for proj (its conninfo, [kafka], registry,
 * batch, backoff, dedup and dead-letter settings); the caller sets schemas, readers, stats
 * and stop. The result borrows from settings, proj and conf. */
projector_runner_config projector_settings_runner_config(const projector_settings *settings,
                                                         const projector_projection *proj,
                                                         const outbox_conf *conf);

#endif
