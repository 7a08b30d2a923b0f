/* outbox_consumer: a projector runner whose effect is a C handler. */
#include "outbox_consumer.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "avro_schema.h"
#include "http.h"
#include "log.h"
#include "projector_batch.h"
#include "projector_decode.h"
#include "projector_projection.h"
#include "projector_runner.h"
#include "projector_sqlstate.h"
#include "projector_stats.h"
#include "projector_store.h"

const outbox_conf_enum outbox_consumer_start_names[] = {
    {"earliest", OUTBOX_CONSUMER_START_EARLIEST},
    {"latest", OUTBOX_CONSUMER_START_LATEST},
    {NULL, 0}};

struct outbox_consumer {
    const outbox_consumer_settings *settings;
    outbox_consumer_handler handler;
    void *opaque;
    projector_projection proj; /* built here, not parsed: no mappings */
    outbox_schemas *schemas;
    outbox_schemas *readers;        /* avro.reader-schema-dir, NULL = none */
    outbox_schema_history *history; /* avro.schema-history, NULL = none */
    projector_stats stats;
    bool stats_ready;
    atomic_int stop;
    projector_runner *runner;
    outbox_http_server *http;
    bool ran; /* start() or run() was called: a consumer runs once (owner's thread only) */
};

/* ------------------------------------------------------------------ settings */

static bool name_valid(const char *name)
{
    if (name == NULL || name[0] == '\0' || strlen(name) > PROJECTOR_NAME_MAX)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '.' || *p == '-'))
            return false;
    return true;
}

int outbox_consumer_settings_check(const outbox_consumer_settings *s, char *errstr,
                                   size_t errstr_size)
{
    if (!name_valid(s->name)) {
        snprintf(errstr, errstr_size,
                 "consumer.name '%s' is not a valid name: use 1 to %d of [A-Za-z0-9_.-]",
                 s->name ? s->name : "", PROJECTOR_NAME_MAX);
        return -1;
    }
    char **topics = NULL;
    size_t count = 0;
    if (projector_list_split(s->topics, &topics, &count)) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    projector_list_free(topics, count);
    if (count == 0) {
        snprintf(errstr, errstr_size, "consumer.topics is empty: name at least one topic");
        return -1;
    }
    if (s->backoff_min_ms > s->backoff_max_ms) {
        snprintf(errstr, errstr_size,
                 "consumer.retry-backoff-min (%lld ms) exceeds consumer.retry-backoff-max "
                 "(%lld ms)",
                 (long long)s->backoff_min_ms, (long long)s->backoff_max_ms);
        return -1;
    }
    if (s->dlq_suffix == NULL || s->dlq_suffix[0] == '\0') {
        snprintf(errstr, errstr_size,
                 "consumer.dlq-suffix is empty: dead letters would go back to their own topic");
        return -1;
    }
    if (s->notify != NULL && strlen(s->notify) > PROJECTOR_CHANNEL_MAX) {
        snprintf(errstr, errstr_size, "consumer.notify '%s' is longer than %d bytes", s->notify,
                 PROJECTOR_CHANNEL_MAX);
        return -1;
    }
    return 0;
}

int outbox_consumer_settings_finalize(outbox_consumer_settings *s, const outbox_conf *conf,
                                      char *errstr, size_t errstr_size)
{
    if (outbox_conf_http_finalize(conf, &s->http_listen, &s->http_enabled, &s->http_bind,
                                  &s->http_port, errstr, errstr_size) ||
        outbox_consumer_settings_check(s, errstr, errstr_size))
        return -1;
    return outbox_conf_require_bootstrap(conf, errstr, errstr_size);
}

/* The plain table: the library's keys alone (struct at offset 0 of a wrapper). */
typedef struct plain_settings {
    outbox_consumer_settings c;
} plain_settings;

static const outbox_conf_def plain_defs[] = {OUTBOX_CONSUMER_CONF_DEFS(plain_settings, c),
                                             OUTBOX_CONF_END};

static int plain_finalize(void *target, const outbox_conf *conf, void *opaque, char *errstr,
                          size_t errstr_size)
{
    (void)opaque;
    return outbox_consumer_settings_finalize(&((plain_settings *)target)->c, conf, errstr,
                                             errstr_size);
}

int outbox_consumer_settings_load(outbox_consumer_settings *settings, const char *program,
                                  const char *env_prefix, const outbox_conf_sources *src,
                                  outbox_conf **confp, char *errstr, size_t errstr_size)
{
    const outbox_conf_spec spec = {.program = program,
                                   .env_prefix = env_prefix,
                                   .defs = plain_defs,
                                   .finalize = plain_finalize};
    return outbox_conf_load(&spec, settings, src, NULL, confp, errstr, errstr_size);
}

void outbox_consumer_settings_free(outbox_consumer_settings *settings)
{
    outbox_conf_free(plain_defs, settings);
}

/* ------------------------------------------------------------------ handler glue */

char *outbox_consumer_event_header(const outbox_consumer_event *ev, const char *name)
{
    if (ev->record_ == NULL)
        return NULL;
    return projector_header_dup(ev->record_, name);
}

outbox_consumer_rc outbox_consumer_fail(outbox_consumer_error *err, outbox_consumer_rc rc,
                                        const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return rc;
}

outbox_consumer_rc outbox_consumer_sql_error(PGconn *conn, const PGresult *res, const char *what,
                                             outbox_consumer_error *err)
{
    const char *sqlstate = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
    snprintf(err->sqlstate, sizeof err->sqlstate, "%s", sqlstate ? sqlstate : "");
    if (primary != NULL)
        snprintf(err->message, sizeof err->message, "%s: %s%s%s", what, primary, detail ? "; " : "",
                 detail ? detail : "");
    else
        snprintf(err->message, sizeof err->message, "%s: %s", what,
                 conn ? PQerrorMessage(conn) : "no connection");
    size_t len = strlen(err->message);
    while (len > 0 && (err->message[len - 1] == '\n' || err->message[len - 1] == ' '))
        err->message[--len] = '\0';
    if (conn == NULL || PQstatus(conn) != CONNECTION_OK)
        return OUTBOX_CONSUMER_RETRY;
    switch (projector_sqlstate_classify(sqlstate)) {
    case PROJECTOR_SQLSTATE_TRANSIENT:
        return OUTBOX_CONSUMER_RETRY;
    case PROJECTOR_SQLSTATE_PERMANENT:
        return OUTBOX_CONSUMER_REJECT;
    case PROJECTOR_SQLSTATE_FATAL:
        break;
    }
    return OUTBOX_CONSUMER_FATAL;
}

/* The store's handler: projector_event -> outbox_consumer_event, rc -> projector_rc. */
static projector_rc trampoline(void *opaque, PGconn *conn, projector_event *pev, bool *ignored,
                               projector_store_error *perr)
{
    outbox_consumer *c = opaque;
    json_error_t jerr;
    json_t *payload = pev->json ? json_loads(pev->json, JSON_DECODE_ANY, &jerr) : NULL;
    if (payload == NULL) {
        snprintf(perr->message, sizeof perr->message, "the decoded value is not JSON: %s",
                 pev->json ? jerr.text : "no value");
        return PROJECTOR_ERR_PERMANENT;
    }
    outbox_consumer_event ev = {.id = pev->id,
                                .event_type = pev->event_type ? pev->event_type : "",
                                .aggregate_id = pev->aggregate_id,
                                .topic = pev->topic,
                                .partition = pev->partition,
                                .offset = pev->offset,
                                .commit_time = pev->commit_time,
                                .payload = payload,
                                .record_ = pev->msg};
    outbox_consumer_error err;
    memset(&err, 0, sizeof err);
    outbox_consumer_rc rc = c->handler(c->opaque, conn, &ev, &err);
    json_decref(payload);
    snprintf(perr->sqlstate, sizeof perr->sqlstate, "%s", err.sqlstate);
    snprintf(perr->message, sizeof perr->message, "%s", err.message);
    switch (rc) {
    case OUTBOX_CONSUMER_OK:
        return PROJECTOR_OK;
    case OUTBOX_CONSUMER_SKIP:
        *ignored = true;
        return PROJECTOR_OK;
    case OUTBOX_CONSUMER_RETRY:
        return PROJECTOR_ERR_TRANSIENT;
    case OUTBOX_CONSUMER_REJECT:
        return PROJECTOR_ERR_PERMANENT;
    case OUTBOX_CONSUMER_FATAL:
        break;
    }
    return PROJECTOR_ERR_FATAL;
}

/* ------------------------------------------------------------------ HTTP */

static void routes(void *ctx, const outbox_http_request *req, outbox_http_response *resp)
{
    outbox_consumer *c = ctx;
    if (strcmp(req->path, "/metrics") == 0) {
        projector_stats *const list[1] = {&c->stats};
        resp->body = projector_stats_render(list, 1, &resp->body_len);
        resp->status = resp->body ? 200 : 500;
        resp->content_type = OUTBOX_HTTP_PROMETHEUS;
    } else if (strcmp(req->path, "/healthz") == 0) {
        bool up =
            atomic_load_explicit(&c->stats.state, memory_order_relaxed) == PROJECTOR_STATE_RUNNING;
        resp->status = up ? 200 : 503;
        resp->static_body = up ? "ok\n" : "not running\n";
    }
}

/* ------------------------------------------------------------------ lifecycle */

static void proj_free(projector_projection *proj)
{
    free(proj->name);
    projector_list_free(proj->topics, proj->topic_count);
    free(proj->group);
    free(proj->notify);
    memset(proj, 0, sizeof *proj);
}

/* rc, with a failure's errstr prefixed by the key that names the directory or file. */
static int keyed(int rc, const char *key, char *errstr, size_t errstr_size)
{
    if (rc != 0) {
        char why[1024];
        snprintf(why, sizeof why, "%s", errstr);
        snprintf(errstr, errstr_size, "%s: %s", key, why);
    }
    return rc;
}

outbox_consumer *outbox_consumer_new(const outbox_consumer_settings *s, const outbox_conf *conf,
                                     outbox_consumer_handler handler, void *opaque, char *errstr,
                                     size_t errstr_size)
{
    outbox_consumer *c = calloc(1, sizeof *c);
    char group[PROJECTOR_NAME_MAX + 32];
    if (c == NULL)
        goto nomem;
    if (s == NULL) {
        snprintf(errstr, errstr_size,
                 "no settings: pass the outbox_consumer_settings that "
                 "outbox_consumer_settings_load() (or the service's config table) filled");
        goto fail;
    }
    if (handler == NULL) {
        snprintf(errstr, errstr_size, "no handler");
        goto fail;
    }
    if (outbox_consumer_settings_check(s, errstr, errstr_size))
        goto fail;
    c->settings = s;
    c->handler = handler;
    c->opaque = opaque;
    atomic_init(&c->stop, 0);
    snprintf(group, sizeof group, "outbox-consumer.%s", s->name);
    c->proj.name = strdup(s->name);
    c->proj.group = strdup(s->group && s->group[0] ? s->group : group);
    c->proj.notify = strdup(s->notify ? s->notify : "");
    c->proj.start = s->start == OUTBOX_CONSUMER_START_LATEST ? PROJECTOR_START_LATEST
                                                             : PROJECTOR_START_EARLIEST;
    if (c->proj.name == NULL || c->proj.group == NULL || c->proj.notify == NULL ||
        projector_list_split(s->topics, &c->proj.topics, &c->proj.topic_count))
        goto nomem;
    if (keyed(outbox_schemas_load_dir(s->schemas_dir, &c->schemas, errstr, errstr_size),
              "avro.schema-dir", errstr, errstr_size))
        goto fail;
    if (s->reader_schemas_dir != NULL && s->reader_schemas_dir[0] != '\0' &&
        keyed(outbox_schemas_load_dir(s->reader_schemas_dir, &c->readers, errstr, errstr_size),
              "avro.reader-schema-dir", errstr, errstr_size))
        goto fail;
    if (s->schema_history_dir != NULL && s->schema_history_dir[0] != '\0' &&
        keyed(outbox_schema_history_load(s->schema_history_dir, &c->history, errstr, errstr_size),
              "avro.schema-history", errstr, errstr_size))
        goto fail;
    if (projector_stats_init(&c->stats, c->proj.name))
        goto nomem;
    c->stats_ready = true;
    projector_runner_config cfg = {
        .proj = &c->proj,
        .conninfo = s->conninfo,
        .conf = conf,
        .schemas = c->schemas,
        .readers = c->readers,
        .history = c->history,
        .registry_url = s->registry_url,
        .registry_timeout_ms = s->registry_timeout_ms,
        .registry_auth = s->registry_auth,
        .registry_tls = {.ca_file = s->registry_ca_file,
                         .cert_file = s->registry_cert_file,
                         .key_file = s->registry_key_file,
                         .key_password = s->registry_key_password},
        .batch_size = s->batch_size,
        .batch_linger_ms = s->batch_linger_ms,
        .backoff_min_ms = s->backoff_min_ms,
        .backoff_max_ms = s->backoff_max_ms,
        .dedup_retention_ms = s->dedup_retention_ms,
        .prune_interval_ms = s->prune_interval_ms,
        .replay_poll_ms = 1000,
        .dlq_suffix = s->dlq_suffix,
        .dlq_timeout_ms = s->dlq_timeout_ms,
        .stats = &c->stats,
        .stop = &c->stop,
        .handler = trampoline,
        .handler_opaque = c,
        .client_name = "outbox-consumer",
    };
    c->runner = projector_runner_new(&cfg, errstr, errstr_size);
    if (c->runner == NULL)
        goto fail;
    if (s->http_enabled) {
        if (outbox_http_start(s->http_bind, (uint16_t)s->http_port, routes, c, &c->http, errstr,
                              errstr_size))
            goto fail;
        outbox_log_info("consumer", "http on %s:%u (/metrics /healthz)", s->http_bind,
                        (unsigned)outbox_http_port(c->http));
    }
    return c;
nomem:
    snprintf(errstr, errstr_size, "out of memory");
fail:
    outbox_consumer_free(c);
    return NULL;
}

/* start/run on a consumer that cannot run: NULL (new failed) or already run. Fills errstr. */
static bool cannot_run(const outbox_consumer *c, const char *verb, char *errstr, size_t errstr_size)
{
    if (c == NULL) {
        snprintf(errstr, errstr_size,
                 "%s: no consumer (outbox_consumer_new returned NULL: its errstr says why)", verb);
        return true;
    }
    if (c->ran) {
        snprintf(errstr, errstr_size,
                 "%s: consumer %s was already started (a consumer runs once: start or run it "
                 "one time, then stop, join and free it; make a new one to run again)",
                 verb, c->proj.name);
        return true;
    }
    return false;
}

int outbox_consumer_run(outbox_consumer *c)
{
    char errstr[512];
    if (cannot_run(c, "outbox_consumer_run", errstr, sizeof errstr)) {
        outbox_log_error("consumer", "%s", errstr);
        return 1;
    }
    c->ran = true;
    return projector_runner_run(c->runner);
}

int outbox_consumer_start(outbox_consumer *c, char *errstr, size_t errstr_size)
{
    if (cannot_run(c, "outbox_consumer_start", errstr, errstr_size))
        return -1;
    if (projector_runner_start(c->runner, errstr, errstr_size))
        return -1;
    c->ran = true;
    return 0;
}

int outbox_consumer_join(outbox_consumer *c)
{
    return c ? projector_runner_join(c->runner) : 1;
}

void outbox_consumer_stop(outbox_consumer *c)
{
    if (c != NULL)
        atomic_store(&c->stop, 1);
}

bool outbox_consumer_running(const outbox_consumer *c)
{
    if (c == NULL)
        return false;
    int64_t st = atomic_load_explicit(&c->stats.state, memory_order_relaxed);
    return st != PROJECTOR_STATE_FAILED && st != PROJECTOR_STATE_STOPPED;
}

uint16_t outbox_consumer_http_port(const outbox_consumer *c)
{
    return c != NULL && c->http != NULL ? outbox_http_port(c->http) : 0;
}

void outbox_consumer_free(outbox_consumer *c)
{
    if (c == NULL)
        return;
    if (c->runner != NULL) { /* started and not joined: stop the thread before freeing */
        atomic_store(&c->stop, 1);
        projector_runner_join(c->runner);
    }
    outbox_http_stop(c->http);
    projector_runner_free(c->runner);
    if (c->stats_ready)
        projector_stats_destroy(&c->stats);
    outbox_schemas_destroy(c->schemas);
    outbox_schemas_destroy(c->readers);
    outbox_schema_history_free(c->history);
    proj_free(&c->proj);
    free(c);
}
