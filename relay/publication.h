#ifndef RELAY_PUBLICATION_H
#define RELAY_PUBLICATION_H

/*
 * relay_publication: the publication the relay streams, on the SQL side: make sure it exists
 * (creating it FOR TABLE the outbox tables, publish = 'insert', when allowed), and its name as
 * START_REPLICATION's publication_names option.
 *
 * relay_publication_ensure() opens its own short SQL connection and blocks until the server
 * answers: call it at start-up, not inside the streaming loop. Any thread; no shared state.
 */

#include <stdbool.h>
#include <stddef.h>

#include "relcache.h"

/* The publication `name` exists, or is created for `tables` when `create` is set. Returns 0,
 * or -1 with errstr saying what is wrong and how to fix it. `table_text` is how the tables
 * are named in messages (e.g. the postgres.table setting). */
int relay_publication_ensure(const char *conninfo, const char *name, const relay_table_name *tables,
                             size_t ntables, const char *table_text, bool create, char *errstr,
                             size_t errstr_size) __attribute__((warn_unused_result));

/* The publication_names option value for `name` into out. Returns 0, or -1 when it does not
 * fit. */
int relay_publication_names_option(const char *name, char *out, size_t size)
    __attribute__((warn_unused_result));

#endif
