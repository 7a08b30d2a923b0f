#ifndef PROJECTOR_CHECK_H
#define PROJECTOR_CHECK_H

/*
 * projector_check: `outbox-projector check` validates the loaded configuration against the live
 * environment and prints every problem with its fix (stdout), then a summary:
 *   - the schemas directory loads; every mapped event type has a schema there (or a registry
 *     is configured)
 *   - the registry answers (when registry.url is set)
 *   - Kafka answers; every topic of every projection exists (dead-letter topics: noted when
 *     missing, created on first use if the broker auto-creates topics)
 *   - per projection: the read database accepts a connection; the projector tables exist and
 *     the role may SELECT/INSERT/UPDATE/DELETE them; the listed tables exist and may be
 *     TRUNCATEd (replay); every sql.<Type> statement prepares
 * Main thread; blocking (each probe bounded by a timeout).
 */

#include "config.h"
#include "projector_settings.h"

/* Returns the number of problems found (0 = ready to run). */
int projector_check_run(const projector_settings *settings, const outbox_conf *conf);

#endif
