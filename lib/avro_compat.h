#ifndef OUTBOX_AVRO_COMPAT_H
#define OUTBOX_AVRO_COMPAT_H

/*
 * Schema compatibility, as a schema registry decides it (Confluent's levels):
 *   BACKWARD   the new schema can read data written with the latest previous version
 *   FORWARD    the latest previous version can read data written with the new schema
 *   FULL       both
 *   *_TRANSITIVE  the same against EVERY previous version, not only the latest
 *   NONE       no check
 * "Can read" is the Avro resolution of avro_resolve.h, strict: every value of the writer must
 * resolve (no union branch or enum symbol the reader cannot take).
 *
 * Pure; any thread.
 */

#include <stddef.h>

#include "avro_schema.h"

typedef enum outbox_compat_level {
    OUTBOX_COMPAT_NONE = 0,
    OUTBOX_COMPAT_BACKWARD,
    OUTBOX_COMPAT_BACKWARD_TRANSITIVE,
    OUTBOX_COMPAT_FORWARD,
    OUTBOX_COMPAT_FORWARD_TRANSITIVE,
    OUTBOX_COMPAT_FULL,
    OUTBOX_COMPAT_FULL_TRANSITIVE,
} outbox_compat_level;

/* "BACKWARD" -> OUTBOX_COMPAT_BACKWARD (case-insensitive). 0, or -1 for an unknown name. */
int outbox_compat_level_parse(const char *name, outbox_compat_level *level)
    __attribute__((warn_unused_result));

/* "BACKWARD", ... Static storage. */
const char *outbox_compat_level_name(outbox_compat_level level);

/* Called once per incompatibility: `version` indexes `previous`; `message` names the rule,
 * the field and why ("BACKWARD: the new schema cannot read data written with this version:
 * CommentCreated.mood: reader field (string) has no default and ..."). */
typedef void (*outbox_compat_report_fn)(void *opaque, size_t version, const char *message);

/*
 * Check `candidate` against `previous` (n versions, oldest first) under `level`; report each
 * incompatibility (every field, not only the first). Returns how many were found (0: compatible),
 * or OUTBOX_AVRO_ERR_NOMEM. Borrows everything.
 */
int outbox_compat_check(const outbox_schema *candidate, const outbox_schema *const *previous,
                        size_t n, outbox_compat_level level, outbox_compat_report_fn report,
                        void *opaque) __attribute__((warn_unused_result));

#endif
