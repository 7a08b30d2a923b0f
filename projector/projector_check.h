#ifndef PROJECTOR_CHECK_H
#define PROJECTOR_CHECK_H

/*
 * projector_check: `outbox-projector check` validates the loaded configuration against the live
 * environment and prints one line per finding on `out`, each problem with its fix, in the
 * report every daemon's check shares (lib/check_report.h), then a summary:
 *   - the schemas directory loads; every mapped event type has a schema there (or a registry
 *     is configured: a warning otherwise)
 *   - the registry answers (when registry.url is set)
 *   - Kafka answers; every topic of every projection exists; each dead-letter topic exists or
 *     the brokers create it on first use
 *   - per projection: the read database accepts a connection; the projector tables exist and
 *     the role may SELECT/INSERT/UPDATE/DELETE them; the listed tables exist and may be
 *     TRUNCATEd (replay); every sql.<Type> statement prepares; the reader schemas resolve
 * Main thread; blocking (each probe bounded by a timeout).
 */

#include <stdio.h>

#include "config.h"
#include "projector_settings.h"

/* Returns the number of problems found (0 = ready to run; warnings do not count). */
int projector_check_run(const projector_settings *settings, const outbox_conf *conf, FILE *out);

#endif
