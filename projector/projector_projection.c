/* projector_projection: [projection NAME] sections -> projector_projection structs. */
#include "projector_projection.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECTION_PREFIX "projection "
#define KEYS_HELP                                                                                  \
    "topics, database, group, tables, notify, start, sql.<EventType>, sqlset.<EventType>, "        \
    "reader-schemas, link.<EventType>, ddl"

const char projector_projection_help[] =
    "Projections: one [projection NAME] section each, keys:\n"
    "  topics = T1, T2          topics to consume (required)\n"
    "  database = <conninfo>    read database (default postgres.conninfo)\n"
    "  group = G                consumer group (default outbox-projector.NAME)\n"
    "  tables = a, b            tables `replay` truncates\n"
    "  notify = CHANNEL         NOTIFY channel for applied ids (default projector.NAME; empty = "
    "none)\n"
    "  start = earliest|latest  where to start without stored offsets\n"
    "  reader-schemas = DIR     *.avsc reader schemas: each event is resolved to the one of its\n"
    "                           record (Avro rules; default avro.reader-schema-dir)\n"
    "  ddl = F1, F2             SQL files `rebuild` runs, in order, in a new shadow schema to\n"
    "                           create the model (the projector's own tables are created\n"
    "                           first; statements must not name a schema)\n"
    "  sql.<EventType> = SQL    statement per event: $1 jsonb event, $2 uuid id, $3 type,\n"
    "                           $4 aggregate id, $5 topic, $6 partition, $7 offset, $8 commit "
    "time\n"
    "  sqlset.<EventType> = SQL statement per run of consecutive new events of the type in a\n"
    "                           batch (instead of sql.<EventType>): $1 jsonb array, in order, of\n"
    "                           {\"event\", \"id\", \"type\", \"aggregate_id\", \"topic\", "
    "\"partition\",\n"
    "                           \"offset\", \"commit_time\"}, e.g. INSERT ... SELECT ... FROM\n"
    "                           jsonb_array_elements($1) WITH ORDINALITY AS a(e, n); on a "
    "permanent\n"
    "                           error the run is re-applied one event at a time and only the "
    "failing\n"
    "                           event is dead-lettered. Several events of a run may touch one "
    "row:\n"
    "                           the statement must then apply them in array order (see README)\n"
    "  link.<EventType> = URL   the resource an applied event of the type made, e.g.\n"
    "                           /posts/{aggregate_id} (also {aggregate_type}, {id}, {type}):\n"
    "                           GET /events/{id} and the event stream add it as \"link\"\n";

static void fail(char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(char *errstr, size_t errstr_size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errstr, errstr_size, fmt, ap);
    va_end(ap);
}

void projector_list_free(char **items, size_t count)
{
    if (items == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        free(items[i]);
    free(items);
}

int projector_list_split(const char *value, char ***items, size_t *count)
{
    char **out = NULL;
    size_t n = 0;
    const char *p = value ? value : "";

    *items = NULL;
    *count = 0;
    while (*p) {
        while (*p && (*p == ',' || isspace((unsigned char)*p)))
            p++;
        const char *start = p;
        while (*p && *p != ',' && !isspace((unsigned char)*p))
            p++;
        if (p == start)
            continue;
        char **grown = realloc(out, (n + 1) * sizeof *out);
        if (grown == NULL)
            goto nomem;
        out = grown;
        out[n] = strndup(start, (size_t)(p - start));
        if (out[n] == NULL)
            goto nomem;
        n++;
    }
    *items = out;
    *count = n;
    return 0;
nomem:
    projector_list_free(out, n);
    return -1;
}

static bool ident_part_valid(const char *s, size_t len)
{
    if (len == 0 || len > 63 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return false;
    for (size_t i = 1; i < len; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '$'))
            return false;
    return true;
}

bool projector_identifier_valid(const char *name)
{
    const char *dot = strchr(name, '.');
    if (dot == NULL)
        return ident_part_valid(name, strlen(name));
    return ident_part_valid(name, (size_t)(dot - name)) &&
           ident_part_valid(dot + 1, strlen(dot + 1));
}

static bool name_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > PROJECTOR_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!(isalnum((unsigned char)name[i]) || name[i] == '_' || name[i] == '-' ||
              name[i] == '.'))
            return false;
    return true;
}

static void projection_free(projector_projection *proj)
{
    free(proj->name);
    projector_list_free(proj->topics, proj->topic_count);
    free(proj->database);
    free(proj->reader_schemas);
    free(proj->group);
    projector_list_free(proj->tables, proj->table_count);
    projector_list_free(proj->ddl, proj->ddl_count);
    free(proj->notify);
    for (size_t i = 0; i < proj->mapping_count; i++) {
        free(proj->mappings[i].event_type);
        free(proj->mappings[i].sql);
        free(proj->mappings[i].origin);
    }
    free(proj->mappings);
    projector_list_free(proj->link_types, proj->link_count);
    projector_list_free(proj->links, proj->link_count);
    memset(proj, 0, sizeof *proj);
}

void projector_projections_free(projector_projections *projections)
{
    for (size_t i = 0; i < projections->count; i++)
        projection_free(&projections->items[i]);
    free(projections->items);
    projections->items = NULL;
    projections->count = 0;
}

const projector_projection *projector_projections_find(const projector_projections *projections,
                                                       const char *name)
{
    for (size_t i = 0; i < projections->count; i++)
        if (strcmp(projections->items[i].name, name) == 0)
            return &projections->items[i];
    return NULL;
}

const char *projector_mapping_key(const projector_mapping *mapping)
{
    return mapping->set ? "sqlset" : "sql";
}

int projector_projection_mapping(const projector_projection *proj, const char *event_type)
{
    if (event_type == NULL)
        return -1;
    for (size_t i = 0; i < proj->mapping_count; i++)
        if (strcmp(proj->mappings[i].event_type, event_type) == 0)
            return (int)i;
    return -1;
}

/* Replace *field with a copy of value. 0 or -1 (ENOMEM). */
static int set_string(char **field, const char *value)
{
    char *copy = strdup(value);
    if (copy == NULL)
        return -1;
    free(*field);
    *field = copy;
    return 0;
}

static const char *where(const outbox_conf_item *item, char *buf, size_t size)
{
    if (item->line > 0)
        snprintf(buf, size, "%s:%d", item->file, item->line);
    else
        snprintf(buf, size, "%s", item->file ? item->file : "?");
    return buf;
}

static projector_projection *find_or_add(projector_projections *out, const char *name)
{
    for (size_t i = 0; i < out->count; i++)
        if (strcmp(out->items[i].name, name) == 0)
            return &out->items[i];
    projector_projection *grown = realloc(out->items, (out->count + 1) * sizeof *grown);
    if (grown == NULL)
        return NULL;
    out->items = grown;
    projector_projection *proj = &out->items[out->count];
    memset(proj, 0, sizeof *proj);
    proj->name = strdup(name);
    if (proj->name == NULL)
        return NULL;
    out->count++;
    return proj;
}

/* Past the dollar-quoted literal ($$...$$ or $tag$...$tag$) that starts at p, or NULL when p
 * starts none (the caller knows p is not inside an identifier). */
static const char *dollar_quote_end(const char *p)
{
    const char *q = p + 1;
    if (isdigit((unsigned char)*q))
        return NULL; /* $1: a parameter */
    while (isalnum((unsigned char)*q) || *q == '_' || (unsigned char)*q >= 0x80)
        q++;
    if (*q != '$')
        return NULL;
    size_t tag = (size_t)(q - p) + 1; /* "$tag$" */
    for (q++; *q; q++)
        if (*q == '$' && strncmp(q, p, tag) == 0)
            return q + tag;
    return q;
}

int projector_sql_param_beyond(const char *sql, int max)
{
    const char *p = sql;
    while (*p) {
        if (*p == '\'' || *p == '"') {
            /* A literal or quoted identifier (a doubled quote inside it is two of them). */
            char quote = *p++;
            while (*p && *p != quote)
                p++;
            if (*p)
                p++;
            continue;
        }
        if (p[0] == '-' && p[1] == '-') {
            while (*p && *p != '\n')
                p++;
            continue;
        }
        if (p[0] == '/' && p[1] == '*') {
            const char *end = strstr(p + 2, "*/");
            p = end ? end + 2 : p + strlen(p);
            continue;
        }
        bool word = p > sql && (isalnum((unsigned char)p[-1]) || p[-1] == '_' || p[-1] == '$');
        const char *end = *p == '$' && !word ? dollar_quote_end(p) : NULL;
        if (end != NULL) {
            p = end;
            continue;
        }
        if (*p == '$' && !word && isdigit((unsigned char)p[1])) {
            long n = strtol(p + 1, NULL, 10);
            if (n < 1 || n > max)
                return n > 0 && n < 100000 ? (int)n : max + 1;
            p++;
            while (isdigit((unsigned char)*p))
                p++;
            continue;
        }
        p++;
    }
    return 0;
}

const char *projector_projection_link(const projector_projection *proj, const char *event_type)
{
    if (event_type == NULL)
        return NULL;
    for (size_t i = 0; i < proj->link_count; i++)
        if (strcmp(proj->link_types[i], event_type) == 0)
            return proj->links[i];
    return NULL;
}

bool projector_link_template_valid(const char *tmpl)
{
    static const char *const names[] = {"{aggregate_id}", "{aggregate_type}", "{id}", "{type}"};
    if (tmpl[0] != '/' && strncmp(tmpl, "http", 4) != 0)
        return false;
    for (const char *p = tmpl; *p; p++) {
        if (*p == '}' || (unsigned char)*p <= ' ')
            return false;
        if (*p != '{')
            continue;
        size_t n = 0;
        for (size_t i = 0; i < sizeof names / sizeof names[0] && n == 0; i++)
            if (strncmp(p, names[i], strlen(names[i])) == 0)
                n = strlen(names[i]);
        if (n == 0)
            return false;
        p += n - 1;
    }
    return true;
}

/* link.<EventType> = <template>: the last one of a type wins. */
static int parse_link(projector_projection *proj, const char *key, const char *value,
                      const outbox_conf_item *item, char *errstr, size_t errstr_size)
{
    char at[512];
    const char *type = key + 5;
    if (*type == '\0' || !projector_link_template_valid(value)) {
        fail(errstr, errstr_size,
             "invalid %s = '%s' in [projection %s] at %s: write link.<EventType> = a path or "
             "URL using only {aggregate_id}, {aggregate_type}, {id} and {type}, e.g. "
             "link.PostCreated = /posts/{aggregate_id}",
             key, value, proj->name, where(item, at, sizeof at));
        return -1;
    }
    for (size_t i = 0; i < proj->link_count; i++)
        if (strcmp(proj->link_types[i], type) == 0)
            return set_string(&proj->links[i], value) ? -1 : 0;
    char **types = realloc(proj->link_types, (proj->link_count + 1) * sizeof *types);
    if (types == NULL)
        goto nomem;
    proj->link_types = types;
    char **links = realloc(proj->links, (proj->link_count + 1) * sizeof *links);
    if (links == NULL)
        goto nomem;
    proj->links = links;
    types[proj->link_count] = strdup(type);
    links[proj->link_count] = strdup(value);
    if (types[proj->link_count] == NULL || links[proj->link_count] == NULL) {
        free(types[proj->link_count]);
        free(links[proj->link_count]);
        goto nomem;
    }
    proj->link_count++;
    return 0;
nomem:
    fail(errstr, errstr_size, "out of memory");
    return -1;
}

static int apply_item(projector_projection *proj, const outbox_conf_item *item, char *errstr,
                      size_t errstr_size)
{
    char at[512];
    const char *key = item->key;
    const char *value = item->value ? item->value : "";

    if (strcmp(key, "topics") == 0) {
        projector_list_free(proj->topics, proj->topic_count);
        proj->topics = NULL;
        proj->topic_count = 0;
        if (projector_list_split(value, &proj->topics, &proj->topic_count))
            goto nomem;
        for (size_t i = 0; i < proj->topic_count; i++)
            for (size_t j = 0; j < i; j++)
                if (strcmp(proj->topics[i], proj->topics[j]) == 0) {
                    fail(errstr, errstr_size, "topic '%s' listed twice in [projection %s] at %s",
                         proj->topics[i], proj->name, where(item, at, sizeof at));
                    return -1;
                }
        return 0;
    }
    if (strcmp(key, "database") == 0)
        return set_string(&proj->database, value) ? -1 : 0;
    if (strcmp(key, "reader-schemas") == 0)
        return set_string(&proj->reader_schemas, value) ? -1 : 0;
    if (strcmp(key, "group") == 0) {
        if (*value == '\0') {
            fail(errstr, errstr_size,
                 "empty group in [projection %s] at %s: remove the key to "
                 "use outbox-projector.%s",
                 proj->name, where(item, at, sizeof at), proj->name);
            return -1;
        }
        return set_string(&proj->group, value) ? -1 : 0;
    }
    if (strcmp(key, "notify") == 0) {
        if (strlen(value) > PROJECTOR_CHANNEL_MAX) {
            fail(errstr, errstr_size,
                 "notify channel '%s' in [projection %s] at %s is longer "
                 "than %d bytes",
                 value, proj->name, where(item, at, sizeof at), PROJECTOR_CHANNEL_MAX);
            return -1;
        }
        return set_string(&proj->notify, value) ? -1 : 0;
    }
    if (strcmp(key, "start") == 0) {
        if (strcmp(value, "earliest") == 0)
            proj->start = PROJECTOR_START_EARLIEST;
        else if (strcmp(value, "latest") == 0)
            proj->start = PROJECTOR_START_LATEST;
        else {
            fail(errstr, errstr_size,
                 "invalid start '%s' in [projection %s] at %s: expected "
                 "earliest or latest",
                 value, proj->name, where(item, at, sizeof at));
            return -1;
        }
        return 0;
    }
    if (strcmp(key, "ddl") == 0) {
        projector_list_free(proj->ddl, proj->ddl_count);
        proj->ddl = NULL;
        proj->ddl_count = 0;
        if (projector_list_split(value, &proj->ddl, &proj->ddl_count))
            goto nomem;
        for (size_t i = 0; i < proj->ddl_count && item->line > 0 && item->file != NULL; i++) {
            char *path = outbox_conf_path_from(item->file, proj->ddl[i]);
            if (path == NULL)
                goto nomem;
            free(proj->ddl[i]);
            proj->ddl[i] = path;
        }
        return 0;
    }
    if (strcmp(key, "tables") == 0) {
        projector_list_free(proj->tables, proj->table_count);
        proj->tables = NULL;
        proj->table_count = 0;
        if (projector_list_split(value, &proj->tables, &proj->table_count))
            goto nomem;
        for (size_t i = 0; i < proj->table_count; i++)
            if (!projector_identifier_valid(proj->tables[i])) {
                fail(errstr, errstr_size,
                     "invalid table name '%s' in [projection %s] at %s: "
                     "expected an identifier or schema.identifier ([A-Za-z_][A-Za-z0-9_$]*)",
                     proj->tables[i], proj->name, where(item, at, sizeof at));
                return -1;
            }
        return 0;
    }
    if (strncmp(key, "link.", 5) == 0)
        return parse_link(proj, key, value, item, errstr, errstr_size);
    bool set = strncmp(key, "sqlset.", 7) == 0;
    if (set || strncmp(key, "sql.", 4) == 0) {
        const char *type = key + (set ? 7 : 4);
        if (*type == '\0') {
            fail(errstr, errstr_size,
                 "key '%s' in [projection %s] at %s names no event type: "
                 "write %s<EventType> = <statement>",
                 key, proj->name, where(item, at, sizeof at), key);
            return -1;
        }
        if (*value == '\0') {
            fail(errstr, errstr_size, "empty statement for %s in [projection %s] at %s", key,
                 proj->name, where(item, at, sizeof at));
            return -1;
        }
        int param = projector_sql_param_beyond(value, set ? 1 : 8);
        if (param > 0 && set) {
            fail(errstr, errstr_size,
                 "%s in [projection %s] at %s uses $%d: a set statement has one parameter, "
                 "$1, the jsonb array of the run's events; read the metadata from each element "
                 "(e->>'id', e->>'type', e->>'aggregate_id', e->>'topic', e->>'partition', "
                 "e->>'offset', e->>'commit_time') and the event from e->'event'",
                 key, proj->name, where(item, at, sizeof at), param);
            return -1;
        }
        if (param > 0) {
            fail(errstr, errstr_size,
                 "%s in [projection %s] at %s uses $%d: a statement has eight parameters, $1 "
                 "jsonb event, $2 uuid id, $3 type, $4 aggregate id, $5 topic, $6 partition, $7 "
                 "offset, $8 commit time",
                 key, proj->name, where(item, at, sizeof at), param);
            return -1;
        }
        int idx = projector_projection_mapping(proj, type);
        projector_mapping *m;
        if (idx >= 0) {
            m = &proj->mappings[idx];
            if (m->set != set) {
                fail(errstr, errstr_size,
                     "event type %s of [projection %s] has both %s.%s (%s) and %s at %s: "
                     "keep one (sqlset.<EventType> replaces sql.<EventType>)",
                     type, proj->name, projector_mapping_key(m), type, m->origin, key,
                     where(item, at, sizeof at));
                return -1;
            }
        } else {
            projector_mapping *grown =
                realloc(proj->mappings, (proj->mapping_count + 1) * sizeof *grown);
            if (grown == NULL)
                goto nomem;
            proj->mappings = grown;
            m = &proj->mappings[proj->mapping_count];
            memset(m, 0, sizeof *m);
            if (set_string(&m->event_type, type))
                goto nomem;
            m->set = set;
            proj->mapping_count++;
        }
        if (set_string(&m->sql, value) || set_string(&m->origin, where(item, at, sizeof at)))
            goto nomem;
        return 0;
    }
    fail(errstr, errstr_size, "unknown key '%s' in [projection %s] at %s; known keys: %s", key,
         proj->name, where(item, at, sizeof at), KEYS_HELP);
    return -1;
nomem:
    fail(errstr, errstr_size, "out of memory");
    return -1;
}

/* Defaults and cross-field checks of one projection. */
static int finish(projector_projection *proj, char *errstr, size_t errstr_size)
{
    char buf[PROJECTOR_NAME_MAX + 64];
    if (proj->topic_count == 0) {
        fail(errstr, errstr_size, "[projection %s] has no topics: add topics = <topic>[, ...]",
             proj->name);
        return -1;
    }
    if (proj->mapping_count == 0) {
        fail(errstr, errstr_size,
             "[projection %s] maps no event type: add "
             "sql.<EventType> = <statement> (or sqlset.<EventType>)",
             proj->name);
        return -1;
    }
    if (proj->group == NULL) {
        snprintf(buf, sizeof buf, "outbox-projector.%s", proj->name);
        if (set_string(&proj->group, buf))
            goto nomem;
    }
    if (proj->notify == NULL) {
        snprintf(buf, sizeof buf, "projector.%s", proj->name);
        if (strlen(buf) > PROJECTOR_CHANNEL_MAX)
            buf[PROJECTOR_CHANNEL_MAX] = '\0';
        if (set_string(&proj->notify, buf))
            goto nomem;
    }
    return 0;
nomem:
    fail(errstr, errstr_size, "out of memory");
    return -1;
}

int projector_projections_parse(const outbox_conf_item *items, size_t count,
                                projector_projections *out, char *errstr, size_t errstr_size)
{
    char at[512];
    for (size_t i = 0; i < count; i++) {
        const outbox_conf_item *item = &items[i];
        const char *section = item->section ? item->section : "";
        if (strncmp(section, SECTION_PREFIX, strlen(SECTION_PREFIX)) != 0) {
            fail(errstr, errstr_size,
                 "unknown section [%s] at %s; projections are written "
                 "[projection NAME]",
                 section, where(item, at, sizeof at));
            goto fail;
        }
        const char *name = section + strlen(SECTION_PREFIX);
        while (*name == ' ')
            name++;
        if (!name_valid(name)) {
            fail(errstr, errstr_size,
                 "invalid projection name '%s' at %s: 1 to %d characters "
                 "of A-Z a-z 0-9 _ . -",
                 name, where(item, at, sizeof at), PROJECTOR_NAME_MAX);
            goto fail;
        }
        projector_projection *proj = find_or_add(out, name);
        if (proj == NULL) {
            fail(errstr, errstr_size, "out of memory");
            goto fail;
        }
        if (apply_item(proj, item, errstr, errstr_size))
            goto fail;
    }
    for (size_t i = 0; i < out->count; i++) {
        if (finish(&out->items[i], errstr, errstr_size))
            goto fail;
        for (size_t j = 0; j < i; j++)
            if (strcmp(out->items[i].group, out->items[j].group) == 0) {
                fail(errstr, errstr_size,
                     "projections %s and %s use the same consumer group "
                     "'%s': give each its own group",
                     out->items[j].name, out->items[i].name, out->items[i].group);
                goto fail;
            }
    }
    return 0;
fail:
    projector_projections_free(out);
    return -1;
}
