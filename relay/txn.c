#include "txn.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "pgoutput.h"
#include "publish.h"
#include "txnstate.h"

#define COMPONENT "relay"

/* Bounds of the blocking calls (each retried or turned into a restart when exceeded). */
#define TXN_INIT_TIMEOUT_MS 30000
#define TXN_COMMIT_TIMEOUT_MS 10000
#define TXN_COMMIT_ATTEMPTS 3
#define TXN_ABORT_TIMEOUT_MS 30000
#define TXN_STATE_TIMEOUT_MS 30000

int64_t relay_txn_longest_block_ms(void)
{
    int64_t ms = (int64_t)TXN_COMMIT_TIMEOUT_MS * TXN_COMMIT_ATTEMPTS;
    const int64_t others[] = {TXN_INIT_TIMEOUT_MS, TXN_ABORT_TIMEOUT_MS, TXN_STATE_TIMEOUT_MS};
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
        if (others[i] > ms)
            ms = others[i];
    return ms;
}

struct relay_txn {
    const relay_settings *s;
    const outbox_conf *conf;
    rd_kafka_t *rk; /* the relay's producer, borrowed */
    relay_txn_stats *stats;
    char id[256], topic[256];
    bool initialized; /* init_transactions done on this producer */

    /* the open group: one Kafka transaction */
    bool open;
    size_t messages;
    int64_t opened_us;
    uint64_t group_end; /* end LSN of the last PostgreSQL transaction it covers; 0: none yet */
    bool doomed;        /* a delivery failed: abort it, never commit */
    bool in_pg;         /* inside a PostgreSQL transaction: no commit boundary here */

    /* confirmation */
    uint64_t committed; /* covered by the last committed group (or known in Kafka at start) */
    uint64_t last_cap;  /* what relay_txn_cap() last returned */
    bool halted;        /* aborted: confirm nothing more until the next start */

    /* skipping what Kafka already has */
    uint64_t kafka_lsn;
    uint64_t skipped;
};

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---------------------------------------------------------------- pure parts */

bool relay_txn_skip(uint64_t kafka_lsn, uint64_t commit_lsn)
{
    return commit_lsn < kafka_lsn;
}

int relay_txn_id(const relay_settings *s, char *out, size_t size)
{
    if (s->transactional_id[0])
        return snprintf(out, size, "%s", s->transactional_id);
    return snprintf(out, size, "outbox-relay.%s", s->slot);
}

int relay_txn_state_topic(const relay_settings *s, char *out, size_t size)
{
    if (s->state_topic[0])
        return snprintf(out, size, "%s", s->state_topic);
    return snprintf(out, size, "%s.outbox-relay-state", s->slot);
}

/* ---------------------------------------------------------------- setup */

int relay_txn_conf(const relay_settings *s, rd_kafka_conf_t *kconf, char *errstr,
                   size_t errstr_size)
{
    if (!s->exactly_once)
        return 0;
    char id[256];
    if (relay_txn_id(s, id, sizeof(id)) >= (int)sizeof(id)) {
        snprintf(errstr, errstr_size, "relay.transactional-id is too long (at most 255 bytes)");
        return -1;
    }
    return rd_kafka_conf_set(kconf, "transactional.id", id, errstr, errstr_size) == RD_KAFKA_CONF_OK
               ? 0
               : -1;
}

int relay_txn_new(const relay_settings *s, const outbox_conf *conf, rd_kafka_t *producer,
                  relay_txn_stats *stats, relay_txn **out, char *errstr, size_t errstr_size)
{
    *out = NULL;
    if (!s->exactly_once)
        return 0;
    relay_txn *t = calloc(1, sizeof(*t));
    if (!t) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    t->s = s;
    t->conf = conf;
    t->rk = producer;
    t->stats = stats;
    relay_txn_id(s, t->id, sizeof(t->id));
    if (relay_txn_state_topic(s, t->topic, sizeof(t->topic)) >= (int)sizeof(t->topic)) {
        snprintf(errstr, errstr_size, "relay.state-topic is too long (at most 255 bytes)");
        free(t);
        return -1;
    }
    *out = t;
    return 0;
}

/* ---------------------------------------------------------------- errors */

static bool fenced(rd_kafka_resp_err_t code)
{
    return code == RD_KAFKA_RESP_ERR__FENCED || code == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
           code == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH;
}

/* A transactional call failed with `e` (destroyed here) and cannot go on: errstr, and FATAL or
 * RESTART by librdkafka's classification. Abortable errors are the callers' business. */
static relay_txn_rc txn_failed(relay_txn *t, const char *what, rd_kafka_error_t *e, char *errstr,
                               size_t errstr_size)
{
    rd_kafka_resp_err_t code = rd_kafka_error_code(e);
    relay_txn_rc rc = RELAY_TXN_ERR_FATAL;
    if (fenced(code))
        snprintf(errstr, errstr_size,
                 "exactly-once: %s: fenced: another producer with transactional id '%s' (a "
                 "standby relay that took over, or a second relay with the same configuration) "
                 "is active; this relay stops (exit 1) and its supervisor restarts it as standby",
                 what, t->id);
    else if (rd_kafka_error_is_fatal(e))
        snprintf(errstr, errstr_size, "exactly-once: %s: fatal Kafka producer error: %s", what,
                 rd_kafka_error_string(e));
    else {
        snprintf(errstr, errstr_size, "exactly-once: %s: %s", what, rd_kafka_error_string(e));
        if (rd_kafka_error_is_retriable(e) || rd_kafka_error_txn_requires_abort(e))
            rc = RELAY_TXN_ERR_RESTART;
    }
    rd_kafka_error_destroy(e);
    return rc;
}

/* Abort the open group (its records are never visible to read_committed consumers) and hold
 * confirmation until the next start. OK, or FATAL with errstr. */
static relay_txn_rc txn_abort(relay_txn *t, const char *why, char *errstr, size_t errstr_size)
{
    if (!t->open)
        return RELAY_TXN_OK;
    t->halted = true;
    rd_kafka_error_t *e = rd_kafka_abort_transaction(t->rk, TXN_ABORT_TIMEOUT_MS);
    if (e && rd_kafka_error_is_retriable(e)) { /* resumable: the abort goes on in the background */
        rd_kafka_error_destroy(e);
        e = rd_kafka_abort_transaction(t->rk, TXN_ABORT_TIMEOUT_MS);
    }
    if (e) {
        relay_txn_rc rc = txn_failed(t, "aborting the Kafka transaction", e, errstr, errstr_size);
        return rc == RELAY_TXN_ERR_RESTART ? RELAY_TXN_ERR_FATAL : rc; /* cannot go on */
    }
    outbox_log_warn(COMPONENT,
                    "exactly-once: Kafka transaction of %zu messages aborted (%s); nothing of "
                    "it is visible to read_committed consumers, streaming restarts from the "
                    "confirmed position " RELAY_LSN_FMT,
                    t->messages, why, RELAY_LSN_ARGS(t->committed));
    t->open = false;
    atomic_fetch_add_explicit(&t->stats->aborted, 1, memory_order_relaxed);
    return RELAY_TXN_OK;
}

/* Abort for `why` and have the stream restart: RESTART (with errstr), or FATAL. */
static relay_txn_rc txn_abort_restart(relay_txn *t, const char *why, char *errstr,
                                      size_t errstr_size)
{
    char reason[512];
    snprintf(reason, sizeof(reason), "%s", why);
    relay_txn_rc rc = txn_abort(t, reason, errstr, errstr_size);
    if (rc != RELAY_TXN_OK)
        return rc;
    snprintf(errstr, errstr_size, "exactly-once: Kafka transaction aborted (%s)", reason);
    return RELAY_TXN_ERR_RESTART;
}

void relay_txn_free(relay_txn *t)
{
    if (!t)
        return;
    char err[512];
    if (t->open && !rd_kafka_fatal_error(t->rk, NULL, 0) &&
        txn_abort(t, "the relay stops", err, sizeof(err)) != RELAY_TXN_OK)
        outbox_log_warn(COMPONENT, "%s", err);
    free(t);
}

/* ---------------------------------------------------------------- start */

static relay_txn_rc txn_init(relay_txn *t, char *errstr, size_t errstr_size)
{
    if (t->initialized)
        return RELAY_TXN_OK;
    rd_kafka_error_t *e = rd_kafka_init_transactions(t->rk, TXN_INIT_TIMEOUT_MS);
    if (e)
        return txn_failed(t, "initializing transactions", e, errstr, errstr_size);
    t->initialized = true;
    return RELAY_TXN_OK;
}

static relay_txn_rc state_rc(relay_txnstate_rc rc)
{
    return rc == RELAY_TXNSTATE_ERR_RETRIABLE ? RELAY_TXN_ERR_RESTART : RELAY_TXN_ERR_FATAL;
}

relay_txn_rc relay_txn_start(relay_txn *t, uint64_t start_lsn, char *errstr, size_t errstr_size)
{
    if (!t)
        return RELAY_TXN_OK;
    relay_txn_rc rc = txn_init(t, errstr, errstr_size);
    if (rc == RELAY_TXN_OK)
        rc = txn_abort(t, "left open by the previous stream", errstr, errstr_size);
    if (rc != RELAY_TXN_OK)
        return rc;
    relay_txnstate_rc src =
        relay_txnstate_topic_ensure(t->rk, t->topic, TXN_STATE_TIMEOUT_MS, errstr, errstr_size);
    uint64_t lsn = 0;
    if (src == RELAY_TXNSTATE_OK)
        src = relay_txnstate_read(t->conf, t->topic, t->id, TXN_STATE_TIMEOUT_MS, &lsn, errstr,
                                  errstr_size);
    if (src != RELAY_TXNSTATE_OK)
        return state_rc(src);
    t->kafka_lsn = lsn;
    t->committed = lsn > start_lsn ? lsn : start_lsn;
    t->last_cap = start_lsn;
    t->halted = false;
    t->doomed = false;
    t->in_pg = false;
    t->skipped = 0;
    outbox_log_info(COMPONENT,
                    "exactly-once: transactional id '%s', state topic %s: Kafka holds every "
                    "transaction up to " RELAY_LSN_FMT "; the slot resends from " RELAY_LSN_FMT
                    "%s",
                    t->id, t->topic, RELAY_LSN_ARGS(lsn), RELAY_LSN_ARGS(start_lsn),
                    lsn > start_lsn ? ", what Kafka has is skipped" : "");
    return RELAY_TXN_OK;
}

bool relay_txn_skip_begin(relay_txn *t, uint64_t commit_lsn)
{
    if (!t)
        return false;
    t->in_pg = true;
    if (relay_txn_skip(t->kafka_lsn, commit_lsn)) {
        t->skipped++;
        atomic_fetch_add_explicit(&t->stats->skipped, 1, memory_order_relaxed);
        return true;
    }
    if (t->skipped) {
        outbox_log_info(COMPONENT,
                        "exactly-once: skipped %" PRIu64 " transactions already in Kafka; "
                        "publishing from the one committed at " RELAY_LSN_FMT,
                        t->skipped, RELAY_LSN_ARGS(commit_lsn));
        t->skipped = 0;
    }
    return false;
}

/* ---------------------------------------------------------------- the group */

relay_txn_rc relay_txn_before_produce(relay_txn *t, char *errstr, size_t errstr_size)
{
    if (!t)
        return RELAY_TXN_OK;
    if (t->halted) {
        snprintf(errstr, errstr_size, "exactly-once: the Kafka transaction was aborted");
        return RELAY_TXN_ERR_RESTART;
    }
    if (!t->open) {
        rd_kafka_error_t *e = rd_kafka_begin_transaction(t->rk);
        if (e)
            return txn_failed(t, "beginning a Kafka transaction", e, errstr, errstr_size);
        t->open = true;
        t->messages = 0;
        t->group_end = 0;
        t->doomed = false;
        t->opened_us = mono_us();
    }
    t->messages++;
    return RELAY_TXN_OK;
}

void relay_txn_pg_commit(relay_txn *t, uint64_t end_lsn)
{
    if (!t)
        return;
    t->in_pg = false;
    if (t->open && end_lsn > t->group_end)
        t->group_end = end_lsn;
}

bool relay_txn_due(relay_txn *t)
{
    if (!t || !t->open || t->in_pg || t->group_end == 0)
        return false;
    return t->doomed || t->messages >= (size_t)t->s->txn_max_messages ||
           mono_us() - t->opened_us >= t->s->txn_max_time_ms * 1000;
}

/* Produce the state record of the group, waiting while librdkafka's queue is full. */
static relay_txn_rc txn_state_produce(relay_txn *t, char *errstr, size_t errstr_size)
{
    uint8_t value[RELAY_TXNSTATE_SIZE];
    char text[32];
    relay_txnstate_encode(t->group_end, value);
    snprintf(text, sizeof(text), RELAY_LSN_FMT, RELAY_LSN_ARGS(t->group_end));
    for (int waited = 0;; waited++) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            t->rk, RD_KAFKA_V_TOPIC(t->topic), RD_KAFKA_V_KEY(t->id, strlen(t->id)),
            RD_KAFKA_V_VALUE(value, sizeof(value)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_HEADER("outbox.state.lsn", text, (ssize_t)strlen(text)),
            RD_KAFKA_V_OPAQUE(RELAY_PUBLISH_OPAQUE_OWN), RD_KAFKA_V_END);
        if (!err)
            return RELAY_TXN_OK;
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || waited >= 100) {
            snprintf(errstr, errstr_size, "state record to %s: %s", t->topic,
                     rd_kafka_err2str(err));
            return RELAY_TXN_ERR_RESTART;
        }
        rd_kafka_poll(t->rk, 100);
    }
}

/* State record, commit (retried while retriable), or abort. */
static relay_txn_rc txn_commit(relay_txn *t, char *errstr, size_t errstr_size)
{
    if (t->doomed)
        return txn_abort_restart(t, "a message of it was not delivered", errstr, errstr_size);
    char why[512];
    if (txn_state_produce(t, why, sizeof(why)) != RELAY_TXN_OK)
        return txn_abort_restart(t, why, errstr, errstr_size);
    for (int attempt = 1;; attempt++) {
        rd_kafka_error_t *e = rd_kafka_commit_transaction(t->rk, TXN_COMMIT_TIMEOUT_MS);
        if (!e)
            break;
        bool retry = rd_kafka_error_is_retriable(e) && attempt < TXN_COMMIT_ATTEMPTS;
        if (!retry && !rd_kafka_error_txn_requires_abort(e) && !rd_kafka_error_is_retriable(e))
            return txn_failed(t, "committing the Kafka transaction", e, errstr, errstr_size);
        snprintf(why, sizeof(why), "commit: %s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        if (!retry)
            return txn_abort_restart(t, why, errstr, errstr_size);
        outbox_log_warn(COMPONENT, "exactly-once: %s; retrying", why);
    }
    t->open = false;
    t->committed = t->group_end;
    atomic_fetch_add_explicit(&t->stats->committed, 1, memory_order_relaxed);
    atomic_store_explicit(&t->stats->committed_lsn, t->group_end, memory_order_relaxed);
    outbox_log_debug(COMPONENT,
                     "exactly-once: committed %zu messages up to " RELAY_LSN_FMT " in one Kafka "
                     "transaction",
                     t->messages, RELAY_LSN_ARGS(t->group_end));
    return RELAY_TXN_OK;
}

relay_txn_rc relay_txn_tick(relay_txn *t, bool idle, bool in_pg_txn, char *errstr,
                            size_t errstr_size)
{
    if (!t || !t->open)
        return RELAY_TXN_OK;
    if (t->doomed)
        return txn_abort_restart(t, "a message of it was not delivered", errstr, errstr_size);
    if (in_pg_txn || t->group_end == 0 || !(idle || relay_txn_due(t)))
        return RELAY_TXN_OK;
    return txn_commit(t, errstr, errstr_size);
}

relay_txn_rc relay_txn_finish(relay_txn *t, bool in_pg_txn, char *errstr, size_t errstr_size)
{
    if (!t || !t->open)
        return RELAY_TXN_OK;
    if (in_pg_txn || t->group_end == 0 || t->doomed)
        return txn_abort(t, "stopping inside a PostgreSQL transaction", errstr, errstr_size);
    return txn_commit(t, errstr, errstr_size);
}

bool relay_txn_absorb_failure(relay_txn *t, rd_kafka_resp_err_t err)
{
    if (!t || err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)
        return false;
    t->doomed = true;
    return true;
}

uint64_t relay_txn_cap(relay_txn *t, uint64_t confirmable)
{
    if (!t)
        return confirmable;
    uint64_t v = confirmable;
    if ((t->open || t->halted) && v > t->committed)
        v = t->committed;
    if (v < t->last_cap)
        v = t->last_cap;
    t->last_cap = v;
    return v;
}
