/* projector_dlq: dead letters, acknowledged before the offsets move past them. */
#include "projector_dlq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct projector_dlq {
    rd_kafka_t *rk;
    char *projection;
    char *suffix;
};

/* Per record: where its delivery report goes. */
typedef struct delivery {
    int done;
    rd_kafka_resp_err_t err;
} delivery;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    (void)rk;
    (void)opaque;
    delivery *d = msg->_private;
    if (d != NULL) {
        d->done = 1;
        d->err = msg->err;
    }
}

projector_dlq *projector_dlq_new(rd_kafka_conf_t *conf, const char *projection, const char *suffix,
                                 char *errstr, size_t errstr_size)
{
    projector_dlq *dlq = calloc(1, sizeof *dlq);
    if (dlq == NULL)
        goto nomem;
    dlq->projection = strdup(projection);
    dlq->suffix = strdup(suffix);
    if (dlq->projection == NULL || dlq->suffix == NULL)
        goto nomem;
    if (rd_kafka_conf_set(conf, "acks", "all", errstr, errstr_size) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "enable.idempotence", "true", errstr, errstr_size) !=
            RD_KAFKA_CONF_OK)
        goto fail;
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    dlq->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errstr_size);
    if (dlq->rk == NULL)
        goto fail;
    return dlq;
nomem:
    snprintf(errstr, errstr_size, "out of memory");
fail:
    if (dlq != NULL) {
        free(dlq->projection);
        free(dlq->suffix);
        free(dlq);
    }
    return NULL;
}

void projector_dlq_free(projector_dlq *dlq, int timeout_ms)
{
    if (dlq == NULL)
        return;
    if (dlq->rk != NULL) {
        rd_kafka_flush(dlq->rk, timeout_ms);
        rd_kafka_destroy(dlq->rk);
    }
    free(dlq->projection);
    free(dlq->suffix);
    free(dlq);
}

static int add_header(rd_kafka_headers_t *hdrs, const char *name, const char *value)
{
    return rd_kafka_header_add(hdrs, name, -1, value, -1) == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
}

long projector_dlq_send(projector_dlq *dlq, projector_batch *batch, int timeout_ms, char *errstr,
                        size_t errstr_size)
{
    delivery *reports = NULL;
    size_t *which = NULL;
    size_t n = 0;
    long acked = 0;
    int rc = -1;

    for (size_t i = 0; i < batch->count; i++)
        if (batch->events[i].state == PROJECTOR_EVENT_DEAD && !batch->events[i].dlq_sent)
            n++;
    if (n == 0)
        return 0;
    reports = calloc(n, sizeof *reports);
    which = calloc(n, sizeof *which);
    if (reports == NULL || which == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        goto done;
    }
    size_t k = 0;
    errstr[0] = '\0';
    for (size_t i = 0; i < batch->count; i++) {
        projector_event *ev = &batch->events[i];
        if (ev->state != PROJECTOR_EVENT_DEAD || ev->dlq_sent)
            continue;
        const rd_kafka_message_t *msg = ev->msg;
        rd_kafka_headers_t *orig = NULL, *hdrs;
        char topic[512], part[16], off[32];
        snprintf(topic, sizeof topic, "%s%s", ev->topic, dlq->suffix);
        snprintf(part, sizeof part, "%d", (int)ev->partition);
        snprintf(off, sizeof off, "%lld", (long long)ev->offset);
        if (msg != NULL && rd_kafka_message_headers(msg, &orig) == RD_KAFKA_RESP_ERR_NO_ERROR)
            hdrs = rd_kafka_headers_copy(orig);
        else
            hdrs = rd_kafka_headers_new(8);
        if (hdrs == NULL || add_header(hdrs, "dlq.reason", ev->reason ? ev->reason : "unknown") ||
            (ev->sqlstate[0] && add_header(hdrs, "dlq.sqlstate", ev->sqlstate)) ||
            add_header(hdrs, "dlq.projection", dlq->projection) ||
            add_header(hdrs, "dlq.original.topic", ev->topic) ||
            add_header(hdrs, "dlq.original.partition", part) ||
            add_header(hdrs, "dlq.original.offset", off)) {
            if (hdrs != NULL)
                rd_kafka_headers_destroy(hdrs);
            snprintf(errstr, errstr_size, "out of memory building dead-letter headers");
            break;
        }
        which[k] = i;
        rd_kafka_resp_err_t err =
            rd_kafka_producev(dlq->rk, RD_KAFKA_V_TOPIC(topic),
                              RD_KAFKA_V_KEY(msg ? msg->key : NULL, msg ? msg->key_len : 0),
                              RD_KAFKA_V_VALUE(msg ? msg->payload : NULL, msg ? msg->len : 0),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
                              RD_KAFKA_V_OPAQUE(&reports[k]), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            rd_kafka_headers_destroy(hdrs); /* not taken over on failure */
            snprintf(errstr, errstr_size, "cannot produce to %s: %s", topic, rd_kafka_err2str(err));
            break;
        }
        k++;
    }
    /* Wait for every report of what was handed over (also after a failure: the reports
     * point into `reports`). */
    rd_kafka_flush(dlq->rk, timeout_ms);
    for (size_t j = 0; j < k; j++) {
        projector_event *ev = &batch->events[which[j]];
        if (reports[j].done && reports[j].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            ev->dlq_sent = true;
            acked++;
        } else if (errstr[0] == '\0') {
            snprintf(errstr, errstr_size, "dead letter for %s [%d] @%lld not acknowledged: %s",
                     ev->topic, (int)ev->partition, (long long)ev->offset,
                     reports[j].done ? rd_kafka_err2str(reports[j].err) : "timed out");
        }
    }
    if (k < n || acked < (long)k) {
        /* A report may still arrive after the timeout and write into `reports`: purge what
         * is queued and wait for the purge's reports before freeing. */
        if (acked < (long)k) {
            rd_kafka_purge(dlq->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
            rd_kafka_flush(dlq->rk, 5000);
        }
        goto done;
    }
    rc = 0;
done:
    free(reports);
    free(which);
    return rc == 0 ? acked : -1;
}
