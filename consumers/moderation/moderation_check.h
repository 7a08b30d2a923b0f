#ifndef MODERATION_CHECK_H
#define MODERATION_CHECK_H

/*
 * moderation_check: `outbox-moderation check` validates the loaded configuration against the
 * live environment and prints one line per finding, each problem with its fix, in the report
 * of the other daemons' check (lib/check_report.h):
 *   - PostgreSQL (postgres.conninfo) accepts the connection; the consumer's tables from
 *     sql/projector.sql (inbox, offsets, dead letters) and moderation_decisions exist and the
 *     role has what the service does with them; it may INSERT into moderation.outbox-table;
 *     the decision statement prepares (inside a transaction that is rolled back)
 *   - Kafka answers; every topic of consumer.topics exists; each dead-letter topic
 *     (<topic><consumer.dlq-suffix>) exists or the brokers create it on first use
 *   - the schemas (avro.schema-dir, and avro.reader-schema-dir / avro.schema-history when set)
 *     load; the registry answers when registry.url is set
 * Main thread; blocking, each probe bounded by a timeout.
 */

#include <stdio.h>

#include "config.h"
#include "moderation.h"

/* The number of problems found (0: ready to run; warnings do not count). */
int moderation_check_run(const moderation_settings *settings, const outbox_conf *conf, FILE *out);

#endif
