#include "txnstate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kafka_admin.h"
#include "kafka_topics.h"

/* ---------------------------------------------------------------- the record (pure) */

void relay_txnstate_encode(uint64_t end_lsn, uint8_t out[RELAY_TXNSTATE_SIZE])
{
    out[0] = RELAY_TXNSTATE_VERSION;
    for (int i = 0; i < 8; i++)
        out[1 + i] = (uint8_t)(end_lsn >> (56 - 8 * i));
}

relay_txnstate_rc relay_txnstate_decode(const void *value, size_t len, uint64_t *end_lsn,
                                        char *errstr, size_t errstr_size)
{
    const uint8_t *p = value;
    if (!p || len == 0) {
        snprintf(errstr, errstr_size, "empty state record (no format version byte)");
        return RELAY_TXNSTATE_ERR_FORMAT;
    }
    if (p[0] != RELAY_TXNSTATE_VERSION) {
        snprintf(errstr, errstr_size,
                 "state record of format version %u, this relay reads version %d (written by a "
                 "newer relay?)",
                 (unsigned)p[0], RELAY_TXNSTATE_VERSION);
        return RELAY_TXNSTATE_ERR_FORMAT;
    }
    if (len != RELAY_TXNSTATE_SIZE) {
        snprintf(errstr, errstr_size, "state record of version 1 has %zu bytes, expected %d", len,
                 RELAY_TXNSTATE_SIZE);
        return RELAY_TXNSTATE_ERR_FORMAT;
    }
    uint64_t lsn = 0;
    for (int i = 0; i < 8; i++)
        lsn = lsn << 8 | p[1 + i];
    *end_lsn = lsn;
    return RELAY_TXNSTATE_OK;
}

/* ---------------------------------------------------------------- the topic */

static relay_txnstate_rc classify(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
        return RELAY_TXNSTATE_ERR_FATAL;
    default:
        return RELAY_TXNSTATE_ERR_RETRIABLE;
    }
}

static relay_txnstate_rc create_result(rd_kafka_event_t *ev, const char *topic, char *errstr,
                                       size_t errstr_size)
{
    rd_kafka_resp_err_t err = rd_kafka_event_error(ev);
    const char *msg = rd_kafka_event_error_string(ev);
    size_t n = 0;
    const rd_kafka_topic_result_t **res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    if (!err && n == 1) {
        err = rd_kafka_topic_result_error(res[0]);
        msg = rd_kafka_topic_result_error_string(res[0]);
    }
    if (!err || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
        return RELAY_TXNSTATE_OK;
    snprintf(errstr, errstr_size,
             "cannot create the state topic %s: %s; create it with cleanup.policy=compact "
             "(kafka-topics.sh --create --topic %s --partitions 1 --config cleanup.policy=compact)",
             topic, msg ? msg : rd_kafka_err2str(err), topic);
    return classify(err);
}

relay_txnstate_rc relay_txnstate_topic_ensure(rd_kafka_t *rk, const char *topic, int timeout_ms,
                                              char *errstr, size_t errstr_size)
{
    bool missing = true;
    if (outbox_kafka_topics_missing(rk, &topic, 1, &missing, timeout_ms, errstr, errstr_size) != 0)
        return RELAY_TXNSTATE_ERR_RETRIABLE;
    if (!missing)
        return RELAY_TXNSTATE_OK;
    relay_txnstate_rc rc = RELAY_TXNSTATE_ERR_FATAL;
    outbox_kafka_admin adm;
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, 1, -1, errstr, errstr_size);
    if (outbox_kafka_admin_init(&adm, rk, RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout_ms, errstr,
                                errstr_size) != 0 ||
        !nt || rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact"))
        goto done;
    rd_kafka_CreateTopics(rk, &nt, 1, adm.opts, adm.queue);
    if (!outbox_kafka_admin_wait(&adm, timeout_ms)) {
        snprintf(errstr, errstr_size, "Kafka did not create the state topic %s within %d ms", topic,
                 timeout_ms);
        rc = RELAY_TXNSTATE_ERR_RETRIABLE;
        goto done;
    }
    rc = create_result(adm.ev, topic, errstr, errstr_size);
done:
    outbox_kafka_admin_done(&adm);
    if (nt)
        rd_kafka_NewTopic_destroy(nt);
    return rc;
}

/* ---------------------------------------------------------------- reading the state */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A consumer of the [kafka] settings that reads committed records only. librdkafka assigns
 * partitions only with a group.id; the group never joins (no subscribe) and commits nothing. */
static rd_kafka_t *state_consumer(const outbox_conf *conf, const char *key, char *errstr,
                                  size_t errstr_size)
{
    char group[300];
    snprintf(group, sizeof(group), "%s.state-reader", key);
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    if (outbox_conf_kafka_apply(conf, kc, errstr, errstr_size) != 0 ||
        rd_kafka_conf_set(kc, "group.id", group, errstr, errstr_size) ||
        rd_kafka_conf_set(kc, "isolation.level", "read_committed", errstr, errstr_size) ||
        rd_kafka_conf_set(kc, "enable.partition.eof", "true", errstr, errstr_size) ||
        rd_kafka_conf_set(kc, "enable.auto.commit", "false", errstr, errstr_size) ||
        rd_kafka_conf_set(kc, "enable.auto.offset.store", "false", errstr, errstr_size)) {
        rd_kafka_conf_destroy(kc);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, errstr_size);
    if (!rk)
        rd_kafka_conf_destroy(kc); /* not taken over on failure */
    return rk;
}

/* What reading the state topic keeps, per partition (Kafka numbers them 0..nparts-1). */
struct state_read {
    rd_kafka_t *rk;
    const char *topic, *key;
    int nparts;
    int64_t *low, *high, *start; /* watermarks; where this pass starts */
    uint64_t *last;              /* LSN of the last record keyed `key` */
    bool *found, *eof;
};

static void state_read_free(struct state_read *sr)
{
    free(sr->low);
    free(sr->high);
    free(sr->start);
    free(sr->last);
    free(sr->found);
    free(sr->eof);
}

/* The topic's partitions and their watermarks. */
static relay_txnstate_rc state_partitions(struct state_read *sr, int timeout_ms, char *errstr,
                                          size_t errstr_size)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(sr->rk, sr->topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err =
        rkt ? rd_kafka_metadata(sr->rk, 0, rkt, &md, timeout_ms) : RD_KAFKA_RESP_ERR__INVALID_ARG;
    if (!err && (md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt < 1))
        err = md->topic_cnt == 1 && md->topics[0].err ? md->topics[0].err
                                                      : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
    if (!err) {
        int n = sr->nparts = md->topics[0].partition_cnt;
        sr->low = calloc((size_t)n, sizeof(int64_t));
        sr->high = calloc((size_t)n, sizeof(int64_t));
        sr->start = calloc((size_t)n, sizeof(int64_t));
        sr->last = calloc((size_t)n, sizeof(uint64_t));
        sr->found = calloc((size_t)n, sizeof(bool));
        sr->eof = calloc((size_t)n, sizeof(bool));
        if (!sr->low || !sr->high || !sr->start || !sr->last || !sr->found || !sr->eof)
            err = RD_KAFKA_RESP_ERR__NOENT; /* reported as out of memory below */
    }
    for (int p = 0; !err && p < sr->nparts; p++)
        err = rd_kafka_query_watermark_offsets(sr->rk, sr->topic, p, &sr->low[p], &sr->high[p],
                                               timeout_ms);
    if (md)
        rd_kafka_metadata_destroy(md);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    if (err == RD_KAFKA_RESP_ERR__NOENT) {
        snprintf(errstr, errstr_size, "out of memory");
        return RELAY_TXNSTATE_ERR_FATAL;
    }
    if (err)
        snprintf(errstr, errstr_size, "state topic %s: %s", sr->topic, rd_kafka_err2str(err));
    return err ? classify(err) : RELAY_TXNSTATE_OK;
}

/* Assign each partition from `window` records before its end (or its beginning). */
static relay_txnstate_rc state_assign(struct state_read *sr, int64_t window, char *errstr,
                                      size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(sr->nparts);
    for (int p = 0; p < sr->nparts; p++) {
        int64_t from = sr->high[p] - window;
        sr->start[p] = from > sr->low[p] ? from : sr->low[p];
        sr->found[p] = sr->eof[p] = false;
        rd_kafka_topic_partition_list_add(parts, sr->topic, p)->offset = sr->start[p];
    }
    rd_kafka_resp_err_t err = rd_kafka_assign(sr->rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (err) {
        snprintf(errstr, errstr_size, "reading state topic %s: %s", sr->topic,
                 rd_kafka_err2str(err));
        return classify(err);
    }
    return RELAY_TXNSTATE_OK;
}

/* One consumed record or event: a record keyed `key` sets last[partition]; an end of partition
 * marks it. */
static relay_txnstate_rc state_record(struct state_read *sr, const rd_kafka_message_t *m,
                                      char *errstr, size_t errstr_size)
{
    if (m->partition < 0 || m->partition >= sr->nparts)
        return RELAY_TXNSTATE_OK;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        sr->eof[m->partition] = true;
        return RELAY_TXNSTATE_OK;
    }
    if (m->err) {
        snprintf(errstr, errstr_size, "reading state topic %s: %s", sr->topic,
                 rd_kafka_message_errstr(m));
        return classify(m->err);
    }
    sr->eof[m->partition] = false;
    if (m->key_len != strlen(sr->key) || memcmp(m->key, sr->key, m->key_len) != 0)
        return RELAY_TXNSTATE_OK;
    sr->found[m->partition] = true;
    if (!m->payload) { /* a tombstone: the state was deleted on purpose */
        sr->last[m->partition] = 0;
        return RELAY_TXNSTATE_OK;
    }
    char why[256];
    if (relay_txnstate_decode(m->payload, m->len, &sr->last[m->partition], why, sizeof(why))) {
        snprintf(errstr, errstr_size, "state topic %s, partition %d, offset %lld: %s", sr->topic,
                 (int)m->partition, (long long)m->offset, why);
        return RELAY_TXNSTATE_ERR_FORMAT;
    }
    return RELAY_TXNSTATE_OK;
}

static bool all_true(const bool *v, int n)
{
    for (int i = 0; i < n; i++)
        if (!v[i])
            return false;
    return true;
}

/* Consume until every partition reached its end (for read_committed: the last stable offset). */
static relay_txnstate_rc state_consume(struct state_read *sr, int64_t deadline_ms, char *errstr,
                                       size_t errstr_size)
{
    relay_txnstate_rc rc = RELAY_TXNSTATE_OK;
    while (rc == RELAY_TXNSTATE_OK && !all_true(sr->eof, sr->nparts)) {
        if (mono_ms() > deadline_ms) {
            snprintf(errstr, errstr_size,
                     "state topic %s was not read to its end in time (an open transaction of "
                     "another producer holds its last stable offset back?)",
                     sr->topic);
            return RELAY_TXNSTATE_ERR_RETRIABLE;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(sr->rk, 100);
        if (!m)
            continue;
        rc = state_record(sr, m, errstr, errstr_size);
        rd_kafka_message_destroy(m);
    }
    return rc;
}

/* Whether each partition either holds our key in the part read or was read from its start. */
static bool state_complete(const struct state_read *sr)
{
    for (int p = 0; p < sr->nparts; p++)
        if (!sr->found[p] && sr->start[p] > sr->low[p])
            return false;
    return true;
}

/* Read the tail of each partition, a longer tail each pass, until our key's last record is in
 * it: a compacted topic keeps many records of its active segment, and only the last counts. */
static relay_txnstate_rc state_scan(struct state_read *sr, int timeout_ms, char *errstr,
                                    size_t errstr_size)
{
    int64_t deadline = mono_ms() + timeout_ms;
    relay_txnstate_rc rc = state_partitions(sr, timeout_ms, errstr, errstr_size);
    for (int64_t window = 256; rc == RELAY_TXNSTATE_OK; window *= 16) {
        rc = state_assign(sr, window, errstr, errstr_size);
        if (rc == RELAY_TXNSTATE_OK)
            rc = state_consume(sr, deadline, errstr, errstr_size);
        if (rc == RELAY_TXNSTATE_OK && state_complete(sr))
            break;
    }
    return rc;
}

relay_txnstate_rc relay_txnstate_read(const outbox_conf *conf, const char *topic, const char *key,
                                      int timeout_ms, uint64_t *end_lsn, char *errstr,
                                      size_t errstr_size)
{
    struct state_read sr = {.topic = topic, .key = key};
    sr.rk = state_consumer(conf, key, errstr, errstr_size);
    if (!sr.rk)
        return RELAY_TXNSTATE_ERR_FATAL;
    relay_txnstate_rc rc = state_scan(&sr, timeout_ms, errstr, errstr_size);
    *end_lsn = 0;
    for (int p = 0; rc == RELAY_TXNSTATE_OK && p < sr.nparts; p++)
        if (sr.found[p] && sr.last[p] > *end_lsn)
            *end_lsn = sr.last[p];
    rd_kafka_consumer_close(sr.rk);
    rd_kafka_destroy(sr.rk);
    state_read_free(&sr);
    return rc;
}
