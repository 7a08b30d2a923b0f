/* A directory of earlier schema versions, <EventType>/<version>.avsc. */
#include "avro_history.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errstr.h"

typedef struct history_type {
    char *name;
    outbox_schema **versions;
    char **paths;
    size_t n;
} history_type;

struct outbox_schema_history {
    history_type *types;
    size_t n;
};

void outbox_schema_history_free(outbox_schema_history *history)
{
    if (history == NULL)
        return;
    for (size_t i = 0; i < history->n; i++) {
        history_type *t = &history->types[i];
        for (size_t j = 0; j < t->n; j++) {
            outbox_schema_destroy(t->versions[j]);
            free(t->paths[j]);
        }
        free(t->versions);
        free(t->paths);
        free(t->name);
    }
    free(history->types);
    free(history);
}

static int by_version(const struct dirent **a, const struct dirent **b)
{
    return strverscmp((*a)->d_name, (*b)->d_name);
}

static int is_avsc(const struct dirent *entry)
{
    size_t len = strlen(entry->d_name);
    return len > 5 && strcmp(entry->d_name + len - 5, ".avsc") == 0;
}

static int is_subdir(const struct dirent *entry)
{
    return entry->d_name[0] != '.' && (entry->d_type == DT_DIR || entry->d_type == DT_UNKNOWN);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *text = NULL;
    if (fp == NULL)
        return NULL;
    FILE *mem = open_memstream(&text, len);
    char chunk[4096];
    size_t n;
    while (mem != NULL && (n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        fwrite(chunk, 1, n, mem);
    if (mem == NULL || fclose(mem) != 0 || ferror(fp)) {
        free(text);
        text = NULL;
    }
    fclose(fp);
    return text;
}

/* One version file into the type. */
static int add_version(history_type *t, const char *path, char *errstr, size_t errstr_size)
{
    char why[512];
    size_t len = 0;
    outbox_schema *schema = NULL;
    char *text = read_file(path, &len);
    int rc;

    if (text == NULL) {
        outbox_errstr_set(errstr, errstr_size, "%s: cannot read it", path);
        return OUTBOX_AVRO_ERR_IO;
    }
    rc = outbox_schema_parse(text, len, 0, &schema, why, sizeof why);
    free(text);
    if (rc != OUTBOX_AVRO_OK) {
        outbox_errstr_set(errstr, errstr_size, "%s: %s", path, why);
        return rc;
    }
    if (strcmp(outbox_schema_short_name(schema), t->name) != 0) {
        outbox_errstr_set(errstr, errstr_size, "%s: holds %s, not a version of %s", path,
                          outbox_schema_name(schema), t->name);
        outbox_schema_destroy(schema);
        return OUTBOX_AVRO_ERR_SCHEMA;
    }
    outbox_schema **versions = realloc(t->versions, (t->n + 1) * sizeof *versions);
    char **paths = versions ? realloc(t->paths, (t->n + 1) * sizeof *paths) : NULL;
    char *copy = paths ? strdup(path) : NULL;
    if (versions)
        t->versions = versions;
    if (paths)
        t->paths = paths;
    if (copy == NULL) {
        outbox_schema_destroy(schema);
        outbox_errstr_set(errstr, errstr_size, "out of memory");
        return OUTBOX_AVRO_ERR_NOMEM;
    }
    t->versions[t->n] = schema;
    t->paths[t->n++] = copy;
    return 0;
}

static int load_type(history_type *t, const char *dir, char *errstr, size_t errstr_size)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, is_avsc, by_version);
    int rc = 0;

    if (n < 0) {
        outbox_errstr_set(errstr, errstr_size, "%s: cannot read the directory", dir);
        return OUTBOX_AVRO_ERR_IO;
    }
    for (int i = 0; i < n; i++) {
        char *path = NULL;
        if (rc == 0 && asprintf(&path, "%s/%s", dir, names[i]->d_name) < 0) {
            path = NULL;
            rc = OUTBOX_AVRO_ERR_NOMEM;
            outbox_errstr_set(errstr, errstr_size, "out of memory");
        }
        if (rc == 0)
            rc = add_version(t, path, errstr, errstr_size);
        free(path);
        free(names[i]);
    }
    free(names);
    return rc;
}

int outbox_schema_history_load(const char *dir, outbox_schema_history **out, char *errstr,
                               size_t errstr_size)
{
    struct dirent **names = NULL;
    outbox_schema_history *history = calloc(1, sizeof *history);
    int n = history ? scandir(dir, &names, is_subdir, alphasort) : 0;
    int rc = history == NULL ? OUTBOX_AVRO_ERR_NOMEM : 0;

    *out = NULL;
    if (history != NULL && n < 0) {
        outbox_errstr_set(errstr, errstr_size, "schema history %s: cannot read the directory", dir);
        rc = OUTBOX_AVRO_ERR_IO;
    } else if (history != NULL && n > 0 &&
               (history->types = calloc((size_t)n, sizeof *history->types)) == NULL) {
        rc = OUTBOX_AVRO_ERR_NOMEM;
    }
    for (int i = 0; i < n; i++) {
        char *sub = NULL;
        if (rc == 0 && asprintf(&sub, "%s/%s", dir, names[i]->d_name) < 0) {
            sub = NULL;
            rc = OUTBOX_AVRO_ERR_NOMEM;
        }
        if (rc == 0) {
            history_type *t = &history->types[history->n++];
            t->name = strdup(names[i]->d_name);
            rc = t->name == NULL ? OUTBOX_AVRO_ERR_NOMEM : load_type(t, sub, errstr, errstr_size);
        }
        free(sub);
        free(names[i]);
    }
    free(names);
    if (rc == OUTBOX_AVRO_ERR_NOMEM)
        outbox_errstr_set(errstr, errstr_size, "out of memory");
    if (rc != 0) {
        outbox_schema_history_free(history);
        return rc;
    }
    *out = history;
    return 0;
}

size_t outbox_schema_history_versions(const outbox_schema_history *history, const char *event_type,
                                      const outbox_schema *const **versions,
                                      const char *const **paths)
{
    for (size_t i = 0; history != NULL && i < history->n; i++)
        if (strcmp(history->types[i].name, event_type) == 0) {
            *versions = (const outbox_schema *const *)history->types[i].versions;
            *paths = (const char *const *)history->types[i].paths;
            return history->types[i].n;
        }
    *versions = NULL;
    *paths = NULL;
    return 0;
}

const outbox_schema *outbox_schema_history_find_fingerprint(const outbox_schema_history *history,
                                                            uint64_t fingerprint)
{
    for (size_t i = 0; history != NULL && i < history->n; i++)
        for (size_t j = 0; j < history->types[i].n; j++)
            if (outbox_schema_fingerprint(history->types[i].versions[j]) == fingerprint)
                return history->types[i].versions[j];
    return NULL;
}
