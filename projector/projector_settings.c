/* projector_settings: the configuration table of outbox-projector. */
#include "projector_settings.h"

#include <stdio.h>
#include <string.h>

#include "kafka_topics.h"
#include "log.h"
#include "projector_store.h"

#define S projector_settings

#define DAY_MS (24LL * 3600 * 1000)

static const outbox_conf_def defs[] = {
    OUTBOX_CONF_DEFS_CONNINFO(S, conninfo, 0,
                              "the read database of projections without their own `database`"),
    OUTBOX_CONF_DEFS_SCHEMAS(S, schemas_dir, schema_history_dir),
    OUTBOX_CONF_DEFS_READER_SCHEMAS(S, reader_schemas_dir),
    OUTBOX_CONF_INT("projector.batch-size", S, batch_size, "500", 1, PROJECTOR_STORE_MAX_BATCH,
                    "Most events per batch transaction"),
    OUTBOX_CONF_DURATION("projector.batch-linger", S, batch_linger_ms, "100ms", 0, 60000,
                         "Longest wait after a batch's first event before it is written"),
    OUTBOX_CONF_DURATION("projector.retry-backoff-min", S, backoff_min_ms, "100ms", 1, 60000,
                         "First wait before retrying after a transient error"),
    OUTBOX_CONF_DURATION("projector.retry-backoff-max", S, backoff_max_ms, "10s", 1, 600000,
                         "Longest wait between retries (the wait doubles up to it)"),
    OUTBOX_CONF_DURATION("projector.dedup-retention", S, dedup_retention_ms, "7d", 0, 3650 * DAY_MS,
                         "Dedup rows older than this are pruned (0 = keep forever); keep it "
                         "longer than any redelivery can be late"),
    OUTBOX_CONF_DURATION("projector.dedup-prune-interval", S, prune_interval_ms, "1m", 1000, DAY_MS,
                         "How often idle projections prune dedup rows"),
    OUTBOX_CONF_DURATION("projector.replay-poll", S, replay_poll_ms, "1s", 100, 3600000,
                         "How often an idle projection checks whether a replay happened"),
    OUTBOX_CONF_STR("projector.dlq-suffix", S, dlq_suffix, ".dlq", 0,
                    "Dead-letter topic of topic T: T followed by this suffix"),
    OUTBOX_CONF_DURATION("projector.dlq-timeout", S, dlq_timeout_ms, "30s", 1000, 600000,
                         "Longest wait for Kafka to acknowledge dead letters before retrying"),
    OUTBOX_CONF_DURATION("projector.rebuild-keep-old", S, rebuild_keep_old_ms, "0", 0,
                         3650 * DAY_MS,
                         "How long `rebuild` keeps a replaced model (schema NAME__old_<time>): "
                         "older ones are dropped at the next swap; 0 = until `rebuild NAME "
                         "--drop-old`"),
    OUTBOX_CONF_INT("projector.rebuild-workers", S, rebuild_workers, "2", 1, 64,
                    "Consumers `rebuild` runs in parallel into the shadow schema: one consumer "
                    "group, each worker its share of the partitions and its own database "
                    "connection; more workers than the topics' partitions only wait"),
    OUTBOX_CONF_DEFS_REGISTRY(S, registry_url, registry_timeout_ms, registry_auth),
    OUTBOX_CONF_DEFS_REGISTRY_TLS(S, registry_ca_file, registry_cert_file, registry_key_file,
                                  registry_key_password),
    OUTBOX_CONF_DEFS_HTTP_LISTEN(S, http_listen, "127.0.0.1:9188"),
    OUTBOX_CONF_INT("http.rebuild-port", S, http_rebuild_port, "9189", 0, 65535,
                    "HTTP port `rebuild` serves its progress on (/metrics: events done, total, "
                    "lag, rate, ETA; /healthz) while it runs, at http.listen's host (0 = any free "
                    "port, printed)"),
    OUTBOX_CONF_INT("http.max-connections", S, http_max_connections, "1100", 8, 10000,
                    "Most open HTTP connections (one thread and one file descriptor each); "
                    "event streams count"),
    OUTBOX_CONF_INT("http.sse-max-clients", S, sse_max_clients, "1000", 1, 10000,
                    "Most open GET /events/stream connections per projection (more: 503)"),
    OUTBOX_CONF_INT("http.sse-backlog", S, sse_backlog, "4096", 16, 1000000,
                    "Events kept per projection for slow stream clients; a client further "
                    "behind is disconnected (it resumes with Last-Event-ID)"),
    OUTBOX_CONF_INT("http.sse-replay-max", S, sse_replay_max, "10000", 0, 1000000,
                    "Most events replayed to a stream client resuming with Last-Event-ID; "
                    "beyond it the client gets `event: reset`"),
    OUTBOX_CONF_DEFS_LOG(S, log_level, log_format),
    /* old spellings, accepted with a warning until the next release */
    OUTBOX_CONF_ALIAS("projector.schemas", "avro.schema-dir"),
    OUTBOX_CONF_ALIAS("projector.schema-history", "avro.schema-history"),
    OUTBOX_CONF_ALIAS("projector.reader-schemas", "avro.reader-schema-dir"),
    OUTBOX_CONF_DEFS_HTTP_OLD(S, http_enabled, http_bind, http_port, "true", "9188"),
    OUTBOX_CONF_END};

/* A section that is neither a projection nor one of the table's but close to one of those
 * ([kafak], [projecter]): a typo, named with the section meant. 0, or -1 with errstr. */
static int check_section_typos(const outbox_conf_item *items, size_t count, char *errstr,
                               size_t errstr_size)
{
    char hint[64];
    for (size_t i = 0; i < count; i++) {
        const char *section = items[i].section ? items[i].section : "";
        if (strncmp(section, "projection ", 11) == 0 ||
            !outbox_conf_suggest_section(defs, section, hint, sizeof hint))
            continue;
        if (items[i].line > 0)
            snprintf(errstr, errstr_size, "unknown section [%s] at %s:%d; did you mean [%s]?",
                     section, items[i].file ? items[i].file : "?", items[i].line, hint);
        else
            snprintf(errstr, errstr_size, "unknown section [%s] in %s; did you mean [%s]?", section,
                     items[i].file ? items[i].file : "?", hint);
        return -1;
    }
    return 0;
}

static int on_sections(void *target, const outbox_conf_item *items, size_t count, void *opaque,
                       char *errstr, size_t errstr_size)
{
    S *settings = target;
    (void)opaque;
    if (check_section_typos(items, count, errstr, errstr_size) != 0)
        return -1;
    projector_projections_free(&settings->projections);
    return projector_projections_parse(items, count, &settings->projections, errstr, errstr_size);
}

/* Every projection's topics, and the dead-letter topic each makes with projector.dlq-suffix,
 * must be names Kafka accepts: a dead letter that cannot be produced would stop the projection
 * on its first bad event, so say it at start. */
static int check_topic_names(const S *settings, char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < settings->projections.count; i++) {
        const projector_projection *proj = &settings->projections.items[i];
        for (size_t t = 0; t < proj->topic_count; t++) {
            const char *topic = proj->topics[t];
            char dlq[512];
            if (!outbox_kafka_topic_name_valid(topic)) {
                snprintf(errstr, errstr_size,
                         "[projection %s] topic \"%s\" is not a legal Kafka topic name (1-249 "
                         "of a-z A-Z 0-9 . _ -): correct `topics`",
                         proj->name, topic);
                return -1;
            }
            int n = snprintf(dlq, sizeof dlq, "%s%s", topic, settings->dlq_suffix);
            if (n < 0 || (size_t)n >= sizeof dlq || !outbox_kafka_topic_name_valid(dlq)) {
                snprintf(errstr, errstr_size,
                         "[projection %s] topic %s: its dead-letter topic %s%s is not a legal "
                         "Kafka topic name (1-249 of a-z A-Z 0-9 . _ -): shorten "
                         "projector.dlq-suffix or use a shorter topic",
                         proj->name, topic, topic, settings->dlq_suffix);
                return -1;
            }
        }
    }
    return 0;
}

static int finalize(void *target, const outbox_conf *conf, void *opaque, char *errstr,
                    size_t errstr_size)
{
    S *settings = target;
    const bool *optional = opaque; /* non-NULL: projections are optional (load_opt) */
    if (optional == NULL && outbox_conf_require_bootstrap(conf, errstr, errstr_size) != 0)
        return -1;
    if (settings->projections.count == 0 && optional == NULL) {
        snprintf(errstr, errstr_size,
                 "no projection configured: add a [projection NAME] section with topics and "
                 "sql.<EventType> keys (see projector/examples/blog.ini)");
        return -1;
    }
    for (size_t i = 0; i < settings->projections.count; i++) {
        const projector_projection *proj = &settings->projections.items[i];
        const char *conninfo = projector_settings_conninfo(settings, proj);
        if (conninfo == NULL || conninfo[0] == '\0') {
            snprintf(errstr, errstr_size,
                     "[projection %s] has no database: set database = <conninfo> in it, or "
                     "postgres.conninfo",
                     proj->name);
            return -1;
        }
    }
    if (settings->backoff_min_ms > settings->backoff_max_ms) {
        snprintf(errstr, errstr_size,
                 "projector.retry-backoff-min (%lld ms) exceeds projector.retry-backoff-max "
                 "(%lld ms)",
                 (long long)settings->backoff_min_ms, (long long)settings->backoff_max_ms);
        return -1;
    }
    if (settings->dlq_suffix == NULL || settings->dlq_suffix[0] == '\0') {
        snprintf(errstr, errstr_size,
                 "projector.dlq-suffix is empty: dead letters would go back to their own topic");
        return -1;
    }
    if (check_topic_names(settings, errstr, errstr_size) != 0)
        return -1;
    return outbox_conf_http_finalize(conf, &settings->http_listen, &settings->http_enabled,
                                     &settings->http_bind, &settings->http_port, errstr,
                                     errstr_size);
}

const outbox_conf_spec projector_settings_spec = {.program = "outbox-projector",
                                                  .env_prefix = "OUTBOX_PROJECTOR",
                                                  .defs = defs,
                                                  .on_sections = on_sections,
                                                  .finalize = finalize};

int projector_settings_load(projector_settings *settings, const outbox_conf_sources *src,
                            outbox_conf **confp, char *errstr, size_t errstr_size)
{
    return projector_settings_load_opt(settings, src, true, confp, errstr, errstr_size);
}

int projector_settings_load_opt(projector_settings *settings, const outbox_conf_sources *src,
                                bool need_projections, outbox_conf **confp, char *errstr,
                                size_t errstr_size)
{
    bool optional = !need_projections;
    int rc = outbox_conf_load(&projector_settings_spec, settings, src, optional ? &optional : NULL,
                              confp, errstr, errstr_size);
    if (rc != 0)
        projector_projections_free(&settings->projections);
    return rc;
}

void projector_settings_free(projector_settings *settings)
{
    outbox_conf_free(defs, settings);
    projector_projections_free(&settings->projections);
}

const char *projector_settings_reader_schemas(const projector_settings *settings,
                                              const projector_projection *proj)
{
    const char *dir =
        proj->reader_schemas != NULL ? proj->reader_schemas : settings->reader_schemas_dir;
    return dir != NULL && dir[0] != '\0' ? dir : NULL;
}

const char *projector_settings_conninfo(const projector_settings *settings,
                                        const projector_projection *proj)
{
    if (proj->database != NULL && proj->database[0] != '\0')
        return proj->database;
    return settings->conninfo;
}

outbox_registry_tls projector_settings_registry_tls(const projector_settings *settings)
{
    outbox_registry_tls tls = {.ca_file = settings->registry_ca_file,
                               .cert_file = settings->registry_cert_file,
                               .key_file = settings->registry_key_file,
                               .key_password = settings->registry_key_password};
    return tls;
}

projector_runner_config projector_settings_runner_config(const projector_settings *settings,
                                                         const projector_projection *proj,
                                                         const outbox_conf *conf)
{
    projector_runner_config cfg = {
        .proj = proj,
        .conninfo = projector_settings_conninfo(settings, proj),
        .conf = conf,
        .registry_url = settings->registry_url,
        .registry_timeout_ms = settings->registry_timeout_ms,
        .registry_auth = settings->registry_auth,
        .registry_tls = projector_settings_registry_tls(settings),
        .batch_size = settings->batch_size,
        .batch_linger_ms = settings->batch_linger_ms,
        .backoff_min_ms = settings->backoff_min_ms,
        .backoff_max_ms = settings->backoff_max_ms,
        .dedup_retention_ms = settings->dedup_retention_ms,
        .prune_interval_ms = settings->prune_interval_ms,
        .replay_poll_ms = settings->replay_poll_ms,
        .dlq_suffix = settings->dlq_suffix,
        .dlq_timeout_ms = settings->dlq_timeout_ms,
    };
    return cfg;
}
