/* `outbox-relay schemas`: schemas/ against the registry's subjects or a schema history. */
#include "schemas_cmd.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "avro_compat.h"
#include "avro_history.h"
#include "avro_schema.h"
#include "errstr.h"
#include "registry.h"

#define FIX_INCOMPATIBLE                                                                           \
    "make the change compatible (a new field needs a default; keep fields without default "        \
    "that readers of earlier versions need; widen, never narrow), or version the event type "      \
    "under a new name"

/* Previous versions to compare with. */
typedef struct versions {
    outbox_schema **items;
    char **labels; /* "version 3", "2.avsc" */
    size_t n;
} versions;

typedef struct schemas_cmd {
    const relay_settings *s;
    FILE *out;
    int problems;
    outbox_registry *reg;
    json_t *subjects; /* the registry's, fetched once */
    /* the comparison being reported */
    const char *file;
    const char *against;
    const char *const *labels;
    outbox_compat_level level;
    int found;
} schemas_cmd;

static void say(schemas_cmd *c, const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(schemas_cmd *c, const char *fix, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(fix ? "  PROBLEM  " : "  ok       ", c->out);
    vfprintf(c->out, fmt, ap);
    fputc('\n', c->out);
    if (fix)
        fprintf(c->out, "           fix: %s\n", fix);
    va_end(ap);
    if (fix)
        c->problems++;
}

static void versions_free(versions *v)
{
    for (size_t i = 0; i < v->n; i++) {
        outbox_schema_destroy(v->items[i]);
        free(v->labels[i]);
    }
    free(v->items);
    free(v->labels);
    memset(v, 0, sizeof *v);
}

/* Parse one previous version and append it; -1 with err on a bad schema or ENOMEM. */
static int versions_add(versions *v, const char *text, const char *label, char *err,
                        size_t err_size)
{
    outbox_schema *schema = NULL;
    if (outbox_schema_parse(text, strlen(text), OUTBOX_SCHEMA_LAX_DEFAULTS, &schema, err,
                            err_size) != OUTBOX_AVRO_OK)
        return -1;
    outbox_schema **items = realloc(v->items, (v->n + 1) * sizeof *items);
    char **labels = items ? realloc(v->labels, (v->n + 1) * sizeof *labels) : NULL;
    char *copy = labels ? strdup(label) : NULL;
    if (items)
        v->items = items;
    if (labels)
        v->labels = labels;
    if (copy == NULL) {
        outbox_schema_destroy(schema);
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    v->items[v->n] = schema;
    v->labels[v->n++] = copy;
    return 0;
}

static void on_incompatible(void *opaque, size_t version, const char *message)
{
    schemas_cmd *c = opaque;
    say(c, FIX_INCOMPATIBLE, "%s is incompatible with %s %s: %s", c->file, c->against,
        c->labels[version], message);
}

/* Compare one schema with its previous versions (n, oldest first, labelled); report. */
static void compare(schemas_cmd *c, const outbox_schema *schema, const char *against,
                    const outbox_schema *const *prev, const char *const *labels, size_t n,
                    outbox_compat_level level)
{
    char file[256];
    snprintf(file, sizeof file, "%s.avsc", outbox_schema_short_name(schema));
    c->file = file;
    c->against = against;
    c->labels = labels;
    int found = outbox_compat_check(schema, prev, n, level, on_incompatible, c);
    int transitive = level == OUTBOX_COMPAT_BACKWARD_TRANSITIVE ||
                     level == OUTBOX_COMPAT_FORWARD_TRANSITIVE ||
                     level == OUTBOX_COMPAT_FULL_TRANSITIVE;
    if (found < 0)
        say(c, "free memory and run again", "%s against %s: out of memory", file, against);
    else if (found == 0 && n > 1 && transitive)
        say(c, NULL, "%s is compatible with %s, all %zu versions (%s)", file, against, n,
            outbox_compat_level_name(level));
    else if (found == 0 && n > 0)
        say(c, NULL, "%s is compatible with %s %s (%s)", file, against, labels[n - 1],
            outbox_compat_level_name(level));
}

/* ---- the registry ------------------------------------------------------------------------ */

/* GET path as JSON (a new reference), or NULL with err. *not_found tells a 404. */
static json_t *get_json(schemas_cmd *c, const char *path, int *not_found, char *err,
                        size_t err_size)
{
    const char *answer = NULL;
    size_t len = 0;
    json_error_t jerr;
    outbox_registry_err rc =
        outbox_registry_request(c->reg, "GET", path, NULL, &answer, &len, err, err_size);
    if (not_found)
        *not_found = rc == OUTBOX_REGISTRY_ERR_NOT_FOUND;
    if (rc != OUTBOX_REGISTRY_OK)
        return NULL;
    json_t *json = json_loadb(answer, len, JSON_DECODE_ANY, &jerr);
    if (json == NULL)
        snprintf(err, err_size, "GET %s: the answer is not JSON (%s)", path, jerr.text);
    return json;
}

/* The subject's compatibility level: its own, else the registry's global one. */
static int subject_level(schemas_cmd *c, const char *esc, outbox_compat_level *level, char *err,
                         size_t err_size)
{
    char path[1024];
    int not_found = 0;
    snprintf(path, sizeof path, "/config/%s", esc);
    json_t *json = get_json(c, path, &not_found, err, err_size);
    if (json == NULL && not_found)
        json = get_json(c, "/config", NULL, err, err_size);
    if (json == NULL)
        return -1;
    const char *name = json_string_value(json_object_get(json, "compatibilityLevel"));
    if (name == NULL)
        name = json_string_value(json_object_get(json, "compatibility"));
    int rc = name != NULL && outbox_compat_level_parse(name, level) == 0 ? 0 : -1;
    if (rc != 0)
        outbox_errstr_set(err, err_size, "%s: no compatibility level the relay knows in the answer",
                          path);
    json_decref(json);
    return rc;
}

/* The versions of a subject to compare with: the latest, or all when transitive. */
static int subject_versions(schemas_cmd *c, const char *esc, outbox_compat_level level,
                            versions *prev, char *err, size_t err_size)
{
    char path[1024];
    int transitive = level == OUTBOX_COMPAT_BACKWARD_TRANSITIVE ||
                     level == OUTBOX_COMPAT_FORWARD_TRANSITIVE ||
                     level == OUTBOX_COMPAT_FULL_TRANSITIVE;
    snprintf(path, sizeof path, "/subjects/%s/versions", esc);
    json_t *list = get_json(c, path, NULL, err, err_size);
    if (list == NULL)
        return -1;
    size_t n = json_array_size(list);
    int rc = 0;
    for (size_t i = transitive || n == 0 ? 0 : n - 1; i < n && rc == 0; i++) {
        json_int_t v = json_integer_value(json_array_get(list, i));
        char vpath[1100];
        char label[64];
        char *text = NULL;
        const char *answer = NULL;
        size_t len = 0;
        snprintf(vpath, sizeof vpath, "%s/%lld", path, (long long)v);
        snprintf(label, sizeof label, "version %lld", (long long)v);
        rc = outbox_registry_request(c->reg, "GET", vpath, NULL, &answer, &len, err, err_size) ||
                     outbox_registry_parse_schema(answer, len, &text, err, err_size) ||
                     versions_add(prev, text, label, err, err_size)
                 ? -1
                 : 0;
        free(text);
    }
    json_decref(list);
    return rc;
}

/* Whether `subject` carries the record `full_name` under the configured strategy. */
static int subject_carries(const relay_settings *s, const char *subject, const char *full_name)
{
    size_t len = strlen(subject);
    size_t name_len = strlen(full_name);
    if (s->subject_strategy == OUTBOX_REGISTRY_STRATEGY_RECORD)
        return strcmp(subject, full_name) == 0;
    return len > name_len + 1 && subject[len - name_len - 1] == '-' &&
           strcmp(subject + len - name_len, full_name) == 0;
}

static void check_subject(schemas_cmd *c, const outbox_schema *schema, const char *subject)
{
    char err[1024];
    char against[600];
    versions prev = {0};
    outbox_compat_level level = OUTBOX_COMPAT_BACKWARD;
    char *esc = outbox_registry_url_escape(subject);
    snprintf(against, sizeof against, "subject %s", subject);
    if (esc == NULL)
        say(c, "free memory and run again", "%s: out of memory", subject);
    else if (subject_level(c, esc, &level, err, sizeof err) != 0 ||
             subject_versions(c, esc, level, &prev, err, sizeof err) != 0)
        say(c, "check that the registry answers (registry.url, registry.basic-auth)",
            "cannot compare %s.avsc with subject %s: %s", outbox_schema_short_name(schema), subject,
            err);
    else
        compare(c, schema, against, (const outbox_schema *const *)prev.items,
                (const char *const *)prev.labels, prev.n, level);
    versions_free(&prev);
    free(esc);
}

static void check_registry(schemas_cmd *c, const outbox_schemas *schemas)
{
    char err[1024];
    if (c->s->subject_strategy == OUTBOX_REGISTRY_STRATEGY_TOPIC) {
        say(c, NULL,
            "registry.subject-strategy = topic: subjects do not name their record, "
            "the registry itself checks each registration");
        return;
    }
    c->subjects = get_json(c, "/subjects", NULL, err, sizeof err);
    if (!json_is_array(c->subjects)) {
        say(c, "check that the registry answers (registry.url, registry.basic-auth)",
            "cannot list the registry's subjects: %s", c->subjects ? "not a JSON array" : err);
        return;
    }
    for (size_t i = 0; i < outbox_schemas_count(schemas); i++) {
        const outbox_schema *schema = outbox_schemas_get(schemas, i);
        size_t matched = 0;
        for (size_t j = 0; j < json_array_size(c->subjects); j++) {
            const char *subject = json_string_value(json_array_get(c->subjects, j));
            if (subject == NULL || !subject_carries(c->s, subject, outbox_schema_name(schema)))
                continue;
            check_subject(c, schema, subject);
            matched++;
        }
        if (matched == 0)
            say(c, NULL, "%s.avsc: no subject carries %s yet (nothing to be compatible with)",
                outbox_schema_short_name(schema), outbox_schema_name(schema));
    }
}

/* ---- the schema history ----------------------------------------------------------------- */

static void check_history(schemas_cmd *c, const outbox_schemas *schemas)
{
    char err[1024];
    outbox_schema_history *history = NULL;
    if (outbox_schema_history_load(c->s->schema_history, &history, err, sizeof err) != 0) {
        say(c, "fix or remove that file of avro.schema-history", "%s", err);
        return;
    }
    for (size_t i = 0; i < outbox_schemas_count(schemas); i++) {
        const outbox_schema *schema = outbox_schemas_get(schemas, i);
        const outbox_schema *const *prev = NULL;
        const char *const *paths = NULL;
        size_t n = outbox_schema_history_versions(history, outbox_schema_short_name(schema), &prev,
                                                  &paths);
        if (n == 0)
            say(c, NULL, "%s.avsc: no versions in %s/%s (nothing to be compatible with)",
                outbox_schema_short_name(schema), c->s->schema_history,
                outbox_schema_short_name(schema));
        else
            compare(c, schema, "history", prev, paths, n, (outbox_compat_level)c->s->compatibility);
    }
    outbox_schema_history_free(history);
}

int relay_schemas_check(const relay_settings *settings, FILE *out)
{
    schemas_cmd c = {.s = settings, .out = out};
    outbox_schemas *schemas = NULL;
    char err[1024];

    if (outbox_schemas_load_dir(settings->schema_dir, &schemas, err, sizeof err) != 0) {
        say(&c, "fix the schema file or set avro.schema-dir", "%s", err);
        return c.problems;
    }
    if (settings->registry_url[0] != '\0') {
        c.reg = relay_settings_registry_new(settings, err, sizeof err);
        if (c.reg == NULL)
            say(&c, "fix registry.url or the registry's TLS files", "%s", err);
        else
            check_registry(&c, schemas);
    }
    if (settings->schema_history[0] != '\0')
        check_history(&c, schemas);
    if (settings->registry_url[0] == '\0' && settings->schema_history[0] == '\0')
        say(&c, NULL,
            "no registry.url and no avro.schema-history: schema compatibility not "
            "checked");
    json_decref(c.subjects);
    outbox_registry_free(c.reg);
    outbox_schemas_destroy(schemas);
    return c.problems;
}
