#ifndef RELAY_SCHEMAS_CMD_H
#define RELAY_SCHEMAS_CMD_H

/*
 * `outbox-relay schemas` (and the schema part of `check`): is each schemas/<EventType>.avsc
 * compatible with what was published before, BEFORE the relay publishes with it?
 *
 * With a registry (registry.url): for each schema, every subject in the registry that carries
 * its record (topic-record strategy: "<topic>-<record full name>"; record strategy: the full
 * name) is compared with its latest version, or with every version when the subject's level
 * is *_TRANSITIVE, under the subject's compatibility level (the registry's global level when
 * the subject has none). Without one: the versions in
 * avro.schema-history/<EventType>/<version>.avsc files (in version order of their
 * names: 1.avsc, 2.avsc, ..., 10.avsc), under registry.compatibility. Each incompatibility is a
 * PROBLEM line naming the file, the subject and version, the rule and the field; compatible ones
 * are "ok" lines.
 *
 * Main thread (it makes blocking registry requests, each bounded by registry.timeout).
 */

#include <stdio.h>

#include "settings.h"

/* Print the comparison to `out` ("  ok       ..." / "  PROBLEM  ...\n           fix: ...");
 * returns the number of problems (incompatibilities, and what prevented a comparison). */
int relay_schemas_check(const relay_settings *settings, FILE *out);

#endif
