/* kafka_scope: librdkafka's own property table, C/P column. */
#include "kafka_scope.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct scope_entry {
    char *name;
    outbox_kafka_scope scope;
} scope_entry;

static scope_entry *entries;
static size_t entry_count;
static pthread_once_t loaded = PTHREAD_ONCE_INIT;

static char *trim(char *s)
{
    while (*s == ' ')
        s++;
    size_t len = strlen(s);
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\n'))
        s[--len] = '\0';
    return s;
}

/* One line of the table, "name | C/P | range | default | importance | description": the entry,
 * or 0 when the line is not a property row (headings, separators, the legend). */
static int parse_row(char *line, scope_entry *out)
{
    char *bar1 = strchr(line, '|');
    if (bar1 == NULL)
        return 0;
    char *bar2 = strchr(bar1 + 1, '|');
    if (bar2 == NULL)
        return 0;
    *bar1 = '\0';
    *bar2 = '\0';
    const char *name = trim(line);
    const char *cp = trim(bar1 + 1);
    if (name[0] == '\0' || strchr(name, ' ') != NULL || strlen(cp) != 1)
        return 0;
    switch (cp[0]) {
    case '*':
        out->scope = OUTBOX_KAFKA_SCOPE_BOTH;
        break;
    case 'C':
        out->scope = OUTBOX_KAFKA_SCOPE_CONSUMER;
        break;
    case 'P':
        out->scope = OUTBOX_KAFKA_SCOPE_PRODUCER;
        break;
    default:
        return 0;
    }
    out->name = strdup(name);
    return out->name != NULL;
}

/* Read the table once. On any failure the table stays empty: every name is then UNKNOWN and
 * every client gets every key, as before this module existed. */
static void load(void)
{
    char *text = NULL, *line = NULL;
    size_t text_size = 0, line_cap = 0, cap = 0;
    FILE *mem = open_memstream(&text, &text_size);
    if (mem == NULL)
        return;
    rd_kafka_conf_properties_show(mem);
    if (fclose(mem) != 0 || text == NULL)
        goto done;
    FILE *in = fmemopen(text, text_size, "r");
    if (in == NULL)
        goto done;
    while (getline(&line, &line_cap, in) > 0) {
        scope_entry e;
        if (!parse_row(line, &e))
            continue;
        if (entry_count == cap) {
            size_t grown_cap = cap ? cap * 2 : 256;
            scope_entry *grown = realloc(entries, grown_cap * sizeof *grown);
            if (grown == NULL) {
                free(e.name);
                break;
            }
            entries = grown;
            cap = grown_cap;
        }
        entries[entry_count++] = e;
    }
    fclose(in);
done:
    free(line);
    free(text);
}

outbox_kafka_scope outbox_kafka_property_scope(const char *name)
{
    pthread_once(&loaded, load);
    for (size_t i = 0; i < entry_count; i++)
        if (strcmp(entries[i].name, name) == 0)
            return entries[i].scope;
    return OUTBOX_KAFKA_SCOPE_UNKNOWN;
}

bool outbox_kafka_property_for(const char *name, rd_kafka_type_t type)
{
    outbox_kafka_scope scope = outbox_kafka_property_scope(name);
    if (type == RD_KAFKA_PRODUCER)
        return scope != OUTBOX_KAFKA_SCOPE_CONSUMER;
    return scope != OUTBOX_KAFKA_SCOPE_PRODUCER;
}
