#include "kafka_admin.h"

#include <stdio.h>

int outbox_kafka_admin_init(outbox_kafka_admin *adm, rd_kafka_t *rk, rd_kafka_admin_op_t op,
                            int timeout_ms, char *errstr, size_t errstr_size)
{
    adm->opts = rd_kafka_AdminOptions_new(rk, op);
    adm->queue = rd_kafka_queue_new(rk);
    adm->ev = NULL;
    if (!adm->opts || !adm->queue) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    if (rd_kafka_AdminOptions_set_request_timeout(adm->opts, timeout_ms, errstr, errstr_size) !=
        RD_KAFKA_RESP_ERR_NO_ERROR)
        return -1;
    return 0;
}

rd_kafka_event_t *outbox_kafka_admin_wait(outbox_kafka_admin *adm, int timeout_ms)
{
    adm->ev = rd_kafka_queue_poll(adm->queue, timeout_ms + 1000);
    return adm->ev;
}

void outbox_kafka_admin_done(outbox_kafka_admin *adm)
{
    if (adm->ev)
        rd_kafka_event_destroy(adm->ev);
    if (adm->queue)
        rd_kafka_queue_destroy(adm->queue);
    if (adm->opts)
        rd_kafka_AdminOptions_destroy(adm->opts);
    adm->ev = NULL;
    adm->queue = NULL;
    adm->opts = NULL;
}
