#include "relcache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BYTEAOID 17

struct relcache_table {
    relay_table_name name;
    const char *columns[RELAY_ROUTE_NCOLS];
};

struct relay_relcache {
    struct relcache_table *tables;
    size_t ntables;
    relay_rel *rels;
    size_t nrels, rels_cap;
};

int relay_table_name_parse(const char *qualified, relay_table_name *out, char *errstr,
                           size_t errstr_size)
{
    const char *dot = strchr(qualified, '.');
    size_t slen = dot ? (size_t)(dot - qualified) : 0;
    if (!dot || slen == 0 || slen >= sizeof(out->schema) || dot[1] == '\0' ||
        strlen(dot + 1) >= sizeof(out->name)) {
        snprintf(errstr, errstr_size, "postgres.table '%s': expected schema.table", qualified);
        return -1;
    }
    memcpy(out->schema, qualified, slen);
    out->schema[slen] = '\0';
    snprintf(out->name, sizeof(out->name), "%s", dot + 1);
    return 0;
}

relay_relcache *relay_relcache_new(void)
{
    return calloc(1, sizeof(relay_relcache));
}

void relay_relcache_free(relay_relcache *cache)
{
    if (!cache)
        return;
    free(cache->tables);
    free(cache->rels);
    free(cache);
}

int relay_relcache_add_table(relay_relcache *cache, const char *qualified,
                             const char *const columns[RELAY_ROUTE_NCOLS], char *errstr,
                             size_t errstr_size)
{
    relay_table_name name;
    if (relay_table_name_parse(qualified, &name, errstr, errstr_size) != 0)
        return -1;
    struct relcache_table *tables =
        realloc(cache->tables, (cache->ntables + 1) * sizeof(*cache->tables));
    if (!tables) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    cache->tables = tables;
    struct relcache_table *t = &cache->tables[cache->ntables];
    t->name = name;
    memcpy(t->columns, columns, sizeof(t->columns));
    return (int)cache->ntables++;
}

size_t relay_relcache_tables(const relay_relcache *cache)
{
    return cache->ntables;
}

const relay_table_name *relay_relcache_table(const relay_relcache *cache, size_t i)
{
    return i < cache->ntables ? &cache->tables[i].name : NULL;
}

const relay_rel *relay_relcache_find(const relay_relcache *cache, uint32_t relid)
{
    for (size_t i = 0; i < cache->nrels; i++)
        if (cache->rels[i].relid == relid)
            return &cache->rels[i];
    return NULL;
}

/* The entry for relid: the existing one, or a new one at the end. NULL on ENOMEM. */
static relay_rel *relcache_slot(relay_relcache *cache, uint32_t relid)
{
    relay_rel *e = (relay_rel *)relay_relcache_find(cache, relid);
    if (e)
        return e;
    if (cache->nrels == cache->rels_cap) {
        size_t cap = cache->rels_cap ? cache->rels_cap * 2 : 8;
        relay_rel *rels = realloc(cache->rels, cap * sizeof(*rels));
        if (!rels)
            return NULL;
        cache->rels = rels;
        cache->rels_cap = cap;
    }
    return &cache->rels[cache->nrels++];
}

/* Which configured outbox table the relation is, -1 if none. */
static int relcache_table_of(const relay_relcache *cache, const relay_pgoutput_relation *rel)
{
    for (size_t i = 0; i < cache->ntables; i++) {
        const relay_table_name *t = &cache->tables[i].name;
        if (strcmp(rel->nspname, t->schema) == 0 && strcmp(rel->relname, t->name) == 0)
            return (int)i;
    }
    return -1;
}

/* Find the outbox columns among the relation's columns, by the table's names. */
static void relcache_map_columns(relay_rel *e, const struct relcache_table *t,
                                 const relay_pgoutput_relation *rel)
{
    relay_pgoutput_cursor cur;
    relay_pgoutput_column col;
    relay_pgoutput_columns_begin(rel, &cur);
    for (int i = 0; relay_pgoutput_columns_next(&cur, &col); i++) {
        for (int c = 0; c < RELAY_ROUTE_NCOLS; c++) {
            if (strcmp(col.name, t->columns[c]) != 0)
                continue;
            e->col[c] = i;
            if (c == RELAY_COL_PAYLOAD)
                e->payload_is_bytea = col.type_oid == BYTEAOID;
        }
    }
    for (int c = 0; c < RELAY_COL_HEADERS; c++) { /* headers is optional */
        if (e->col[c] < 0) {
            snprintf(e->bad, sizeof(e->bad),
                     "outbox table %s has no column \"%s\" (set outbox.column-* to its name)",
                     e->name, t->columns[c]);
            break;
        }
    }
}

const relay_rel *relay_relcache_update(relay_relcache *cache, const relay_pgoutput_relation *rel)
{
    relay_rel *e = relcache_slot(cache, rel->relid);
    if (!e)
        return NULL;
    memset(e, 0, sizeof(*e));
    e->relid = rel->relid;
    snprintf(e->name, sizeof(e->name), "%s.%s", rel->nspname, rel->relname);
    for (int c = 0; c < RELAY_ROUTE_NCOLS; c++)
        e->col[c] = -1;
    e->table = relcache_table_of(cache, rel);
    if (e->table >= 0)
        relcache_map_columns(e, &cache->tables[e->table], rel);
    return e;
}

void relay_rel_values(const relay_rel *rel, const relay_pgoutput_tuple *tuple,
                      relay_value values[RELAY_ROUTE_NCOLS])
{
    memset(values, 0, RELAY_ROUTE_NCOLS * sizeof(*values));
    relay_pgoutput_cursor cur;
    relay_pgoutput_value v;
    relay_pgoutput_tuple_begin(tuple, &cur);
    for (int i = 0; relay_pgoutput_tuple_next(&cur, &v); i++) {
        for (int c = 0; c < RELAY_ROUTE_NCOLS; c++) {
            if (rel->col[c] == i && v.kind == RELAY_PGOUTPUT_VALUE_TEXT)
                values[c] = (relay_value){v.data, v.len};
        }
    }
}
