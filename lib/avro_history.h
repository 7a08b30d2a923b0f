#ifndef OUTBOX_AVRO_HISTORY_H
#define OUTBOX_AVRO_HISTORY_H

/*
 * A schema history: the earlier versions of each event type, kept in a directory as
 * <dir>/<EventType>/<version>.avsc (CommentCreated/1.avsc, 2.avsc, ..., 10.avsc: version order
 * of the names). `outbox-relay schemas` checks schemas/ against it when there is no registry,
 * and the projector finds the writer schema of a single-object encoded event in it by
 * fingerprint (schemas/ holds only the current version of each type).
 *
 * Immutable once loaded: any thread may read it.
 */

#include <stddef.h>
#include <stdint.h>

#include "avro_schema.h"

typedef struct outbox_schema_history outbox_schema_history;

/*
 * Load every <dir>/<EventType>/<version>.avsc into a new history owned by the caller
 * (outbox_schema_history_free()). Each file is parsed like schemas/ (avro-c too) and must be
 * the record <EventType> names. 0, or OUTBOX_AVRO_ERR_IO / _SCHEMA / _NOMEM with errstr naming
 * the file. A missing or empty directory is an error (IO) only when it cannot be read.
 */
int outbox_schema_history_load(const char *dir, outbox_schema_history **history, char *errstr,
                               size_t errstr_size) __attribute__((warn_unused_result));

void outbox_schema_history_free(outbox_schema_history *history);

/* The versions of an event type (its record's short name), oldest first, and their file
 * paths; returns how many (0: none). Owned by the history. */
size_t outbox_schema_history_versions(const outbox_schema_history *history, const char *event_type,
                                      const outbox_schema *const **versions,
                                      const char *const **paths);

/* The version with this CRC-64-AVRO fingerprint, or NULL. Owned by the history. */
const outbox_schema *outbox_schema_history_find_fingerprint(const outbox_schema_history *history,
                                                            uint64_t fingerprint);

#endif
