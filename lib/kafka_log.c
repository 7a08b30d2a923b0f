/* kafka_log: librdkafka's log lines through outbox_log (see kafka_log.h). */
#include "kafka_log.h"

outbox_log_level outbox_kafka_log_level(int syslog_level)
{
    if (syslog_level <= 3) /* emerg, alert, crit, err */
        return OUTBOX_LOG_ERROR;
    if (syslog_level == 4)
        return OUTBOX_LOG_WARN;
    if (syslog_level <= 6) /* notice, info */
        return OUTBOX_LOG_INFO;
    return OUTBOX_LOG_DEBUG;
}

static void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    outbox_log(outbox_kafka_log_level(level), "kafka", rk ? rd_kafka_name(rk) : NULL, "%s: %s",
               fac ? fac : "?", buf ? buf : "");
}

void outbox_kafka_log_to_outbox(rd_kafka_conf_t *rk_conf)
{
    rd_kafka_conf_set_log_cb(rk_conf, kafka_log_cb);
}
