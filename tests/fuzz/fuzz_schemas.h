#ifndef TESTS_FUZZ_SCHEMAS_H
#define TESTS_FUZZ_SCHEMAS_H

/*
 * The schemas the Avro fuzz targets encode and decode with: every .avsc of schemas/, the test
 * fixture tests/fixtures/avro/schemas/AllTypes.avsc, and a few small schemas written here for
 * what those leave out (unions of many branches, top-level logical types, local timestamps,
 * time-micros, a fixed decimal, nested maps of records).
 *
 * Loaded once per process on first use (libFuzzer runs one input at a time on one thread) and
 * never freed: LeakSanitizer ignores memory still reachable from a global.
 */

#include <stddef.h>

#include "avro_schema.h"

/* Number of schemas, and schema i (0 <= i < count), in a fixed order. Aborts when a schema of
 * the tree does not load: the targets are meaningless without them. */
size_t fuzz_schema_count(void);
const outbox_schema *fuzz_schema_get(size_t i);

/* The record schemas of the two directories as one set, for single-object fingerprints. */
const outbox_schemas *fuzz_schema_set(void);

#endif
