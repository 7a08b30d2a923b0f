#ifndef OUTBOX_KAFKA_LOG_H
#define OUTBOX_KAFKA_LOG_H

/*
 * kafka_log: librdkafka's own log lines through outbox_log, as component "kafka" with the
 * client's name as context ("rdkafka#producer-1"), in the daemon's log format and level, so
 * that log.format = json stays one JSON object per line and log.level filters them too.
 * librdkafka's syslog levels map to ours: 0-3 error, 4 warning, 5-6 info, 7 debug.
 *
 * Threads: the callback runs on librdkafka's threads; outbox_log is safe there.
 */

#include <librdkafka/rdkafka.h>

#include "log.h"

/* Route the logs of clients made from rk_conf through outbox_log. */
void outbox_kafka_log_to_outbox(rd_kafka_conf_t *rk_conf);

/* Our level for a librdkafka (syslog) level. Pure. */
outbox_log_level outbox_kafka_log_level(int syslog_level);

#endif
