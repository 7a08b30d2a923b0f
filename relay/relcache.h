#ifndef RELAY_RELCACHE_H
#define RELAY_RELCACHE_H

/*
 * relay_relcache: what the relay knows of each relation of the stream, from pgoutput Relation
 * messages: relid -> which configured outbox table it is (if any), the index of each outbox
 * column in its tuples, whether the payload column is bytea, and why its rows cannot be routed
 * (a required column is missing).
 *
 * The outbox tables are configured up front, each with its own column names (the mapping may
 * differ from table to table). A Relation message replaces what was known of its relid (the
 * server resends it after a schema change).
 *
 * Pure: no I/O, no logging. Ownership: the cache copies table names and borrows column names
 * (they must outlive it, e.g. the settings). Thread-safety: none (the relay's loop thread).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgoutput.h"
#include "route.h"

/* A schema-qualified table name split in two. */
typedef struct relay_table_name {
    char schema[64];
    char name[64];
} relay_table_name;

/* Split "schema.table". 0, or -1 with errstr naming the value. */
int relay_table_name_parse(const char *qualified, relay_table_name *out, char *errstr,
                           size_t errstr_size) __attribute__((warn_unused_result));

/* One relation seen in the stream. */
typedef struct relay_rel {
    uint32_t relid;
    char name[130]; /* schema.table */
    int table;      /* index of the outbox table it is (order of _add_table); -1: none */
    int col[RELAY_ROUTE_NCOLS]; /* tuple index of each outbox column (enum relay_col), -1 */
    bool payload_is_bytea;
    char bad[200]; /* why rows of this outbox table cannot be routed; "" if they can */
} relay_rel;

typedef struct relay_relcache relay_relcache;

/* An empty cache with no outbox table, or NULL on ENOMEM. Free with relay_relcache_free(). */
relay_relcache *relay_relcache_new(void) __attribute__((warn_unused_result));
void relay_relcache_free(relay_relcache *cache);

/* Configure an outbox table `qualified` ("schema.table") whose outbox columns are named
 * `columns[c]` (enum relay_col; borrowed). Returns its index, or -1 with errstr (bad name,
 * ENOMEM). */
int relay_relcache_add_table(relay_relcache *cache, const char *qualified,
                             const char *const columns[RELAY_ROUTE_NCOLS], char *errstr,
                             size_t errstr_size) __attribute__((warn_unused_result));

/* Configured outbox tables, and the i-th one's name. */
size_t relay_relcache_tables(const relay_relcache *cache);
const relay_table_name *relay_relcache_table(const relay_relcache *cache, size_t i);

/* Record a Relation message. Returns the entry (valid until the next update), or NULL on
 * ENOMEM. */
const relay_rel *relay_relcache_update(relay_relcache *cache, const relay_pgoutput_relation *rel)
    __attribute__((warn_unused_result));

/* The entry of `relid`, or NULL if no Relation message named it yet. */
const relay_rel *relay_relcache_find(const relay_relcache *cache, uint32_t relid);

/* The outbox column values of an Insert's tuple for relation `rel` (an outbox table): text
 * values by column, {NULL, 0} for SQL NULL or an absent column. Pointers into the tuple. */
void relay_rel_values(const relay_rel *rel, const relay_pgoutput_tuple *tuple,
                      relay_value values[RELAY_ROUTE_NCOLS]);

#endif
