#include "relay.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ack.h"
#include "avro_compat.h"
#include "avro_json.h"
#include "errstr.h"
#include "avro_schema.h"
#include "avro_text.h"
#include "buf.h"
#include "dlq.h"
#include "idcache.h"
#include "lag.h"
#include "lease.h"
#include "log.h"
#include "pgoutput.h"
#include "publication.h"
#include "prune.h"
#include "publish.h"
#include "registry.h"
#include "relay_internal.h"
#include "relcache.h"
#include "resend.h"
#include "route.h"
#include "slothealth.h"
#include "stream.h"
#include "toolarge.h"
#include "txn.h"
#include "wire.h"

#define COMPONENT "relay"

/* How often a standby tries to take the lease. */
#define RELAY_LEASE_POLL_MS 200
/* How often the slot's WAL status is read while streaming. */
#define RELAY_SLOT_CHECK_MS 10000
/* Held messages (topic unknown): first and longest wait between two attempts, the bound of
 * each question to the cluster, and how often the wait is logged. */
#define RELAY_RESEND_FIRST_MS 200
#define RELAY_RESEND_MAX_MS 5000
#define RELAY_RESEND_ASK_MS 1000
#define RELAY_RESEND_LOG_MS 30000

struct relay {
    const relay_settings *s;
    const outbox_conf *conf;
    relay_stats stats;

    relay_stream *stream;
    relay_publish *pub;
    relay_ack *ack;
    relay_route *route;   /* routes[0]: logical messages */
    relay_route **routes; /* one per outbox table (its own column names), by table index */
    size_t nroutes;
    outbox_schemas *schemas;
    outbox_registry *registry;
    relay_idcache *ids;
    relay_relcache *rels;
    relay_lag *lag;
    relay_toolarge_queue *too_large; /* refused by the broker, dead letters not yet produced */
    bool sending_too_large;          /* relay_send_too_large() is running (no re-entry) */
    relay_resend_queue *held;        /* to produce again: Kafka did not know their topic */
    bool resending;                  /* relay_resend_due() is running (no re-entry) */
    int64_t resend_next_us;          /* the next attempt */
    int64_t resend_backoff_ms;
    int64_t held_since_us;  /* when the queue last became non-empty */
    int64_t held_logged_us; /* when the wait was last logged */
    relay_txn *txn;         /* exactly-once (relay/txn.h); NULL when off */
    relay_lease *lease;     /* NULL: no lease (the loop driven by tests, without relay_run) */
    bool lease_lost;        /* lost while streaming: nothing more produced or confirmed */
    bool streamed;          /* connected and streamed at least once since start */
    int64_t next_slot_check_us;
    int64_t slot_warned_us; /* when the slot-at-risk warning was last logged */
    relay_prune *prune;     /* outbox.prune (NULL: off, or the loop driven by tests) */
    int row_table;          /* the outbox table of the event being published; -1: a message */

    /* the transaction being received */
    bool in_txn;
    bool skip_txn; /* exactly-once: Kafka already has it */
    uint64_t seq;
    relay_txn_meta meta;

    relay_event ev;
    outbox_avro_scratch scratch; /* the fast JSON-text encoder's tokens */
    outbox_buf value;
    outbox_buf dlq_topic;

    /* status updates */
    int64_t next_status_us;
    int64_t last_status_us;
    uint64_t last_sent_flush;
    bool reply_now;
    uint64_t received;

    volatile sig_atomic_t *stop;
    bool failed;
    char fail_msg[2048];
};

static volatile sig_atomic_t never_stop;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#define INC(field) atomic_fetch_add_explicit(&r->stats.field, 1, memory_order_relaxed)
#define ADD(field, n) atomic_fetch_add_explicit(&r->stats.field, (n), memory_order_relaxed)
#define SET(field, v) atomic_store_explicit(&r->stats.field, (v), memory_order_relaxed)

static void relay_fail(relay *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void relay_fail(relay *r, const char *fmt, ...)
{
    if (r->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->fail_msg, sizeof(r->fail_msg), fmt, ap);
    va_end(ap);
    r->failed = true;
    if (r->ack)
        relay_ack_fail(r->ack);
}

/* ---------------------------------------------------------------- delivery reports */

/* The broker refused an event as too large: queue its small dead letter, which joins the
 * event's transaction (still unconfirmable: this message is in flight until accounted for).
 * 0, or -1 when it cannot (the caller fails the relay). */
static int relay_too_large_report(relay *r, const relay_publish_report *rep)
{
    if (relay_ack_txn_extend(r->ack, rep->seq, rep->key_len) != 0)
        return -1;
    if (relay_toolarge_push(r->too_large, rep->seq, rep->topic, rep->key, rep->key_len,
                            rep->value_len, rep->headers) != 0) {
        /* Given up: take the reserved message back, so the counts stay exact. */
        if (relay_ack_delivered(r->ack, rep->seq, rep->key_len) != 0)
            outbox_log_error(COMPONENT, "internal error: reserved dead letter not tracked");
        return -1;
    }
    return 0;
}

/* What a permanent delivery failure's message adds for a too-large refusal. */
static const char *refusal_note(const relay_publish_report *rep)
{
    if (rep->err != RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)
        return "";
    return rep->dead_letter ? " (a dead letter)" : " (relay.on-too-large = stop)";
}

/* Hold a message whose topic Kafka did not know (copied, with `extra` headers after its own):
 * it stays in flight, unconfirmable, until relay_resend_due() produces it again; everything
 * produced later waits behind it. 0, or -1 on ENOMEM (the caller fails the relay). */
static int relay_hold(relay *r, const relay_resend_msg *m, const relay_header *extra, size_t nextra,
                      const char *why)
{
    bool first = relay_resend_len(r->held) == 0;
    if (relay_resend_push(r->held, m, extra, nextra) != 0)
        return -1;
    INC(delivery_retries);
    SET(held_messages, relay_resend_len(r->held));
    if (!first)
        return 0;
    int64_t now = now_us();
    r->held_since_us = r->held_logged_us = now;
    r->resend_backoff_ms = RELAY_RESEND_FIRST_MS;
    r->resend_next_us = now + RELAY_RESEND_FIRST_MS * 1000;
    outbox_log_warn(COMPONENT,
                    "Kafka does not know topic %s yet (%s): its messages are held, unconfirmed, "
                    "and produced again once it does (a broker outage, or a topic being "
                    "created on first use); later messages wait behind them",
                    m->topic, why);
    return 0;
}

/* A delivery report for a message librdkafka never sent because the cluster did not know its
 * topic (RELAY_PUBLISH_TOPIC_UNKNOWN): hold it. 0, or -1 on ENOMEM. */
static int relay_hold_report(relay *r, const relay_publish_report *rep)
{
    size_t n;
    relay_header *view = relay_headers_view(rep->headers, &n);
    if (!view && n)
        return -1;
    relay_resend_msg m = {.seq = rep->seq,
                          .flags = rep->dead_letter ? RELAY_PUBLISH_DEAD_LETTER : 0,
                          .topic = rep->topic,
                          .key = rep->key,
                          .key_len = rep->key_len,
                          .value = rep->value,
                          .value_len = rep->value_len,
                          .headers = view,
                          .nheaders = n};
    int rc = relay_hold(r, &m, NULL, 0, rep->reason);
    free(view);
    return rc;
}

/* Give the held messages up (the lease lost, or a new stream): when `account`, as settled in
 * the tracker, like purged ones, so its counts stay exact; nothing of them is confirmed. */
static void relay_held_drop(relay *r, bool account)
{
    const relay_resend_msg *h;
    while ((h = relay_resend_peek(r->held))) {
        if (account && relay_ack_delivered(r->ack, h->seq, h->key_len + h->value_len) != 0)
            outbox_log_error(COMPONENT, "held message of unknown transaction %" PRIu64, h->seq);
        relay_resend_pop(r->held);
    }
    SET(held_messages, 0);
}

static void on_delivery(void *ctx, const relay_publish_report *rep)
{
    relay *r = ctx;
    if (rep->err && r->lease_lost) {
        /* Purged (or failed) after the lease was lost: the next holder sends it again. */
        if (relay_ack_delivered(r->ack, rep->seq, rep->bytes) != 0)
            outbox_log_error(COMPONENT, "purged delivery report for unknown transaction");
        return;
    }
    if (rep->err && relay_txn_absorb_failure(r->txn, rep->err)) { /* its Kafka txn is aborted */
        INC(delivery_failures);
        if (relay_ack_delivered(r->ack, rep->seq, rep->bytes) != 0)
            outbox_log_error(COMPONENT, "failed delivery report for unknown transaction");
        return;
    }
    if (rep->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE && !rep->dead_letter && !r->txn &&
        r->s->on_too_large == RELAY_TOO_LARGE_DEAD_LETTER && relay_too_large_report(r, rep) == 0) {
        if (relay_ack_delivered(r->ack, rep->seq, rep->bytes) != 0)
            relay_fail(r, "internal error: delivery report for unknown transaction %" PRIu64,
                       rep->seq);
        return;
    }
    /* Never sent (no idempotence sequence taken): still in flight, produced again. */
    if (relay_publish_classify(rep->err) == RELAY_PUBLISH_TOPIC_UNKNOWN &&
        relay_hold_report(r, rep) == 0)
        return;
    if (rep->err) {
        INC(delivery_failures);
        relay_fail(r,
                   "delivery to topic %s failed for good: %s%s; stopping without confirming it "
                   "(the slot stays at " RELAY_LSN_FMT ", a restart re-sends from there)",
                   rep->topic, rep->reason, refusal_note(rep),
                   RELAY_LSN_ARGS(relay_ack_confirmable(r->ack)));
        /* Still account for it, so the tracker's counts stay exact. */
        if (relay_ack_delivered(r->ack, rep->seq, rep->bytes) != 0)
            outbox_log_error(COMPONENT, "failed delivery report for unknown transaction");
        return;
    }
    INC(events_acked);
    if (relay_ack_delivered(r->ack, rep->seq, rep->bytes) != 0)
        relay_fail(r, "internal error: delivery report for unknown transaction %" PRIu64, rep->seq);
}

/* ---------------------------------------------------------------- status updates */

/* A transaction ending at end_lsn was received: its commit time counts for lag until confirmed. */
static void relay_lag_add(relay *r, uint64_t end_lsn, int64_t commit_us)
{
    if (relay_lag_len(r->lag) == 0)
        SET(oldest_unconfirmed_commit_us, commit_us);
    if (relay_lag_push(r->lag, end_lsn, commit_us) != 0)
        return; /* only a metric is lost */
}

static void relay_lag_confirmed(relay *r, uint64_t confirmed)
{
    int64_t last_commit_us;
    if (!relay_lag_confirm(r->lag, confirmed, &last_commit_us))
        return;
    SET(last_confirmed_commit_us, last_commit_us);
    SET(oldest_unconfirmed_commit_us, relay_lag_oldest(r->lag));
}

/* Whether this relay may still produce and confirm: true without a lease (tests) or while the
 * lease is held. On loss, stop producing and confirming, and purge what librdkafka still holds
 * (what it already sent stays sent: duplicates of what the next holder re-sends, at most the
 * in-flight window). */
static bool relay_lease_ok(relay *r)
{
    if (!r->lease)
        return true;
    if (r->lease_lost)
        return false;
    char err[512];
    if (relay_lease_check(r->lease, err, sizeof(err)) == RELAY_LEASE_HELD)
        return true;
    r->lease_lost = true;
    if (r->ack)
        relay_ack_fail(r->ack);
    relay_publish_purge(r->pub);
    if (r->ack)
        relay_held_drop(r, true);
    INC(lease_losses);
    SET(role, RELAY_ROLE_STANDBY);
    outbox_log_error(COMPONENT,
                     "%s; another relay may be streaming the slot: nothing more is produced or "
                     "confirmed, %zu messages in flight purged; back to standby",
                     err, r->ack ? relay_ack_inflight_messages(r->ack) : (size_t)0);
    return false;
}

struct slot_query {
    const char *slot;
    relay_slot_state st;
};

static int slot_query_run(PGconn *conn, void *arg)
{
    struct slot_query *q = arg;
    char err[512];
    return relay_slothealth_query(conn, q->slot, &q->st, err, sizeof(err));
}

/* The slot's WAL status, every RELAY_SLOT_CHECK_MS while streaming (one short query on the
 * lease's session): metrics, /healthz, and a warning while the slot is at risk of being
 * invalidated. */
static void relay_slot_watch(relay *r)
{
    int64_t now = now_us();
    if (!r->lease || !r->stream || now < r->next_slot_check_us)
        return;
    r->next_slot_check_us = now + RELAY_SLOT_CHECK_MS * 1000;
    struct slot_query q = {.slot = r->s->slot};
    if (relay_lease_query(r->lease, slot_query_run, &q) != 0)
        return; /* a lost session is the lease's business; a missing slot, the stream's */
    const relay_slot_state st = q.st;
    SET(slot_health, st.health);
    SET(slot_wal_retained_bytes, st.retained_bytes);
    SET(slot_safe_wal_bytes, st.safe_bytes);
    SET(slot_wal_keep_bytes, st.keep_bytes);
    if (st.health == RELAY_SLOT_OK || now - r->slot_warned_us < 60000000)
        return;
    r->slot_warned_us = now;
    outbox_log_warn(COMPONENT,
                    "slot %s is at risk of being invalidated: wal_status %s, it retains %" PRId64
                    " bytes of WAL, %" PRId64 " bytes left before max_slot_wal_keep_size "
                    "(%" PRId64 " bytes); see the README's \"Slot at risk\"",
                    r->s->slot, st.wal_status, st.retained_bytes, st.safe_bytes, st.keep_bytes);
}

/* Send a standby status update when due: on the interval, when the server asks, or soon after
 * the confirmable position moved (so the slot does not lag by a whole interval). */
static int relay_status(relay *r, bool force, char *errstr, size_t errstr_size)
{
    if (!r->stream)
        return 0;
    int64_t now = now_us();
    uint64_t confirmable = relay_txn_cap(r->txn, relay_ack_confirmable(r->ack));
    bool moved = confirmable != r->last_sent_flush && now - r->last_status_us >= 100000;
    if (!force && !r->reply_now && now < r->next_status_us && !moved)
        return 0;
    if (!relay_lease_ok(r))
        return 0; /* confirm nothing: the loop sees lease_lost and ends the stream */
    uint64_t written = r->received > confirmable ? r->received : confirmable;
    int rc = relay_stream_send_status(r->stream, written, confirmable, confirmable, false, errstr,
                                      errstr_size);
    if (rc < 0)
        return rc;
    if (confirmable != r->last_sent_flush)
        outbox_log_debug(COMPONENT, "confirmed " RELAY_LSN_FMT, RELAY_LSN_ARGS(confirmable));
    r->last_sent_flush = confirmable;
    r->last_status_us = now;
    r->next_status_us = now + r->s->status_interval_ms * 1000;
    r->reply_now = false;
    INC(status_updates);
    SET(confirmed_lsn, confirmable);
    relay_prune_confirmed(r->prune, confirmable);
    relay_lag_confirmed(r, confirmable);
    return 0;
}

static void relay_send_too_large_queued(relay *r);
static void relay_resend_due(relay *r);

/* Serve delivery reports and status updates: what every wait inside the loop calls. */
int relay_loop_service(relay *r, int timeout_ms, char *errstr, size_t errstr_size)
{
    relay_publish_poll(r->pub, timeout_ms);
    relay_send_too_large_queued(r);
    relay_resend_due(r);
    (void)relay_lease_ok(r); /* renews the lease on time, even while idle */
    relay_slot_watch(r);
    char fatal[512];
    if (relay_publish_fatal(r->pub, fatal, sizeof(fatal)))
        relay_fail(r, "Kafka producer fatal error: %s", fatal);
    SET(inflight_bytes, relay_ack_inflight_bytes(r->ack));
    SET(inflight_messages, relay_ack_inflight_messages(r->ack));
    return relay_status(r, false, errstr, errstr_size);
}

/* ---------------------------------------------------------------- producing */

/* One message for the producer. */
struct relay_msg {
    const char *topic;
    const void *key;
    size_t key_len;
    const void *value;
    size_t value_len;
    const relay_header *headers, *extra;
    size_t nheaders, nextra;
    uint64_t seq;
    int flags;    /* RELAY_PUBLISH_* */
    bool counted; /* already counted in its transaction (relay_ack_txn_extend) */
    bool held;    /* taken from r->held: produced again (counted, and first in line) */
};

/* relay_send's result for a held message whose topic librdkafka still holds for absent. */
#define RELAY_SEND_LATER 2

/* Hold a new message behind the held ones (or because librdkafka holds its topic for absent):
 * counted in its transaction now, produced by relay_resend_due(). 0, or -1 with the relay
 * failed. */
static int relay_send_later(relay *r, const struct relay_msg *m, const char *why)
{
    relay_resend_msg hm = {.seq = m->seq,
                           .flags = m->flags,
                           .topic = m->topic,
                           .key = m->key,
                           .key_len = m->key_len,
                           .value = m->value,
                           .value_len = m->value_len,
                           .headers = m->headers,
                           .nheaders = m->nheaders};
    if (relay_hold(r, &hm, m->extra, m->nextra, why) != 0) {
        relay_fail(r, "out of memory");
        return -1;
    }
    if (!m->counted && relay_ack_txn_add(r->ack, m->seq, m->key_len + m->value_len) != 0) {
        relay_fail(r, "internal error: message outside a transaction");
        return -1;
    }
    ADD(bytes_published, m->key_len + m->value_len);
    return 0;
}

/* Hand one message to librdkafka, waiting (while serving reports and status) when its queue is
 * full. Returns 0, 1 when librdkafka refuses it as larger than kafka.message.max.bytes (nothing
 * sent, nothing counted), RELAY_SEND_LATER for a held message whose topic librdkafka still
 * holds for absent, or -1 with the relay failed. A new message goes behind held ones (order per
 * key); without exactly-once the reports already due are served first, so that the failure of
 * an earlier message of its topic is held before it. */
static int relay_send(relay *r, const struct relay_msg *m)
{
    char err[512];
    if (!relay_lease_ok(r))
        return -1;
    if (relay_txn_before_produce(r->txn, err, sizeof(err)) != RELAY_TXN_OK) {
        relay_fail(r, "%s", err);
        return -1;
    }
    if (!m->held && !r->txn) {
        relay_publish_poll(r->pub, 0);
        if (relay_resend_len(r->held) > 0)
            return relay_send_later(r, m, "earlier messages are held");
    }
    for (;;) {
        rd_kafka_resp_err_t rc = relay_publish_send(r->pub, m->topic, m->key, m->key_len, m->value,
                                                    m->value_len, m->headers, m->nheaders, m->extra,
                                                    m->nextra, m->seq, m->flags, err, sizeof(err));
        if (rc == RD_KAFKA_RESP_ERR_NO_ERROR)
            break;
        if (rc == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)
            return 1;
        if (relay_publish_classify(rc) == RELAY_PUBLISH_TOPIC_UNKNOWN && !r->txn)
            return m->held ? RELAY_SEND_LATER : relay_send_later(r, m, rd_kafka_err2str(rc));
        if (rc != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            relay_fail(r, "%s", err);
            return -1;
        }
        char serr[512];
        if (relay_loop_service(r, 100, serr, sizeof(serr)) < 0) {
            relay_fail(r, "%s", serr);
            return -1;
        }
        if (r->failed || r->lease_lost)
            return -1;
    }
    if (m->held)
        return 0; /* counted and added up when first handed over */
    if (!m->counted && relay_ack_txn_add(r->ack, m->seq, m->key_len + m->value_len) != 0) {
        relay_fail(r, "internal error: message outside a transaction");
        return -1;
    }
    ADD(bytes_published, m->key_len + m->value_len);
    return 0;
}

/* A message of the current event (its headers, its transaction): relay_send's results. */
static int relay_produce(relay *r, const char *topic, const void *value, size_t value_len,
                         const relay_header *extra, size_t nextra, int flags)
{
    const char *key = r->ev.aggregate_id;
    struct relay_msg m = {.topic = topic,
                          .key = key,
                          .key_len = key ? strlen(key) : 0,
                          .value = value,
                          .value_len = value_len,
                          .headers = r->ev.headers,
                          .nheaders = r->ev.nheaders,
                          .extra = extra,
                          .nextra = nextra,
                          .seq = r->seq,
                          .flags = flags};
    return relay_send(r, &m);
}

/* Produce the small dead letter of a too-large record: no value, the chosen headers, the dead
 * letter's own headers with the size. 0, or -1 with the relay failed. */
static int relay_send_too_large(relay *r, const relay_toolarge *t, bool counted)
{
    if (relay_dlq_topic(r->s->dlq_topic_template, r->s->dlq_fallback_topic, t->topic,
                        &r->dlq_topic) != 0) {
        relay_fail(r, "out of memory");
        return -1;
    }
    char reason[160], size[24], omitted[24];
    snprintf(reason, sizeof(reason),
             "too large: a record of %zu bytes refused by Kafka (kafka.message.max.bytes or the "
             "topic's max.message.bytes); the payload is not kept",
             t->size);
    snprintf(size, sizeof(size), "%zu", t->size);
    snprintf(omitted, sizeof(omitted), "%zu", t->omitted);
    relay_header extra[RELAY_DLQ_NHEADERS + 2];
    size_t nextra = relay_dlq_headers(RELAY_DLQ_TOO_LARGE, reason, t->topic, extra);
    extra[nextra++] = (relay_header){"outbox.dlq.size", size, strlen(size)};
    if (t->omitted)
        extra[nextra++] = (relay_header){"outbox.dlq.headers_omitted", omitted, strlen(omitted)};
    struct relay_msg m = {.topic = (const char *)r->dlq_topic.data,
                          .key = t->key,
                          .key_len = t->key_len,
                          .headers = t->headers,
                          .nheaders = t->nheaders,
                          .extra = extra,
                          .nextra = nextra,
                          .seq = t->seq,
                          .flags = RELAY_PUBLISH_DEAD_LETTER,
                          .counted = counted};
    relay_header id = {"id", "(no id)", 7};
    for (size_t i = 0; i < t->nheaders; i++)
        if (strcmp(t->headers[i].name, "id") == 0)
            id = t->headers[i];
    outbox_log_warn(COMPONENT, "dead letter to %s: event %.*s for %s: %s",
                    (const char *)r->dlq_topic.data, (int)id.value_len, id.value,
                    t->topic ? t->topic : "(no topic)", reason);
    int rc = relay_send(r, &m);
    if (rc > 0)
        relay_fail(r, "the dead letter of too-large event %.*s is itself too large",
                   (int)id.value_len, id.value);
    if (rc != 0)
        return -1;
    ADD(dead_letters[RELAY_DLQ_TOO_LARGE], 1);
    return 0;
}

/* File the dead letters of the records the broker refused as too large (queued by the delivery
 * reports). Not re-entered from the waits inside. */
static void relay_send_too_large_queued(relay *r)
{
    if (r->sending_too_large)
        return;
    r->sending_too_large = true;
    const relay_toolarge *t;
    while ((t = relay_toolarge_peek(r->too_large)) && relay_send_too_large(r, t, true) == 0)
        relay_toolarge_pop(r->too_large);
    r->sending_too_large = false;
}

/* The held messages' topic is absent: stop (naming the topic and the fix) when Kafka will not
 * create it, else go on waiting (`why` then says what is known). true when the relay failed. */
static bool relay_held_topic_refused(relay *r, const char *topic, char *why, size_t why_size)
{
    char err[512];
    int32_t off = -1;
    relay_topic_creation tc =
        relay_publish_topic_creation(r->pub, RELAY_RESEND_ASK_MS, &off, err, sizeof(err));
    if (tc == RELAY_TOPICS_UNKNOWN)
        outbox_errstr_set(
            why, why_size,
            "topic %s does not exist, and whether the brokers create topics is not known "
            "(%s): create the topic if they do not",
            topic, err);
    if (tc != RELAY_TOPICS_NOT_CREATED)
        return false;
    char who[600];
    if (off >= 0)
        snprintf(who, sizeof(who), "broker %d has auto.create.topics.enable = false", (int)off);
    else
        snprintf(who, sizeof(who), "%s", err);
    relay_fail(r,
               "topic %s does not exist and Kafka will not create it (%s): create it "
               "(kafka-topics.sh --create --topic %s) or let the brokers create topics "
               "(auto.create.topics.enable = true), then start the relay again; stopping without "
               "confirming its events (the slot stays at " RELAY_LSN_FMT
               ", a restart re-sends from there)",
               topic, who, topic, RELAY_LSN_ARGS(relay_ack_confirmable(r->ack)));
    INC(delivery_failures);
    return true;
}

/* Produce the held messages again, in order, while librdkafka takes them. 0 when the queue is
 * empty, RELAY_SEND_LATER when one waits again, -1 with the relay failed. */
static int relay_resend_held(relay *r)
{
    const relay_resend_msg *h;
    while ((h = relay_resend_peek(r->held))) {
        struct relay_msg m = {.topic = h->topic,
                              .key = h->key,
                              .key_len = h->key_len,
                              .value = h->value,
                              .value_len = h->value_len,
                              .headers = h->headers,
                              .nheaders = h->nheaders,
                              .seq = h->seq,
                              .flags = h->flags,
                              .counted = true,
                              .held = true};
        int rc = relay_send(r, &m);
        if (rc == RELAY_SEND_LATER)
            return rc;
        if (rc != 0) {
            if (rc > 0)
                relay_fail(r, "internal error: a held message became too large");
            return -1;
        }
        relay_resend_pop(r->held);
    }
    return 0;
}

/* When due, ask the cluster about the first held message's topic: present, produce the held
 * messages again in order; absent where Kafka will not create it, stop; otherwise (no broker
 * answers, the topic being created) wait longer, backing off. Not re-entered from the waits
 * inside. */
static void relay_resend_due(relay *r)
{
    int64_t now = now_us();
    if (r->resending || r->failed || r->lease_lost || relay_resend_len(r->held) == 0 ||
        now < r->resend_next_us)
        return;
    r->resending = true;
    char why[512];
    char topic[512]; /* a copy: the held message goes away once produced */
    snprintf(topic, sizeof(topic), "%s", relay_resend_peek(r->held)->topic);
    relay_topic_state st =
        relay_publish_topic_state(r->pub, topic, RELAY_RESEND_ASK_MS, why, sizeof(why));
    size_t held = relay_resend_len(r->held);
    int rc = RELAY_SEND_LATER;
    if (st == RELAY_TOPIC_PRESENT)
        rc = relay_resend_held(r);
    else if (st == RELAY_TOPIC_ABSENT && relay_held_topic_refused(r, topic, why, sizeof(why)))
        rc = -1;
    now = now_us();
    if (rc == 0) {
        outbox_log_info(COMPONENT,
                        "topic %s is known: %zu held messages produced again after "
                        "%.1f s",
                        topic, held, (double)(now - r->held_since_us) / 1e6);
    } else if (rc == RELAY_SEND_LATER) {
        r->resend_backoff_ms = r->resend_backoff_ms * 2 > RELAY_RESEND_MAX_MS
                                   ? RELAY_RESEND_MAX_MS
                                   : r->resend_backoff_ms * 2;
        r->resend_next_us = now + r->resend_backoff_ms * 1000;
        if (now - r->held_logged_us >= RELAY_RESEND_LOG_MS * 1000) {
            r->held_logged_us = now;
            outbox_log_warn(COMPONENT,
                            "%zu messages held for %.0f s, unconfirmed: %s; retrying every "
                            "%" PRId64 " ms",
                            relay_resend_len(r->held), (double)(now - r->held_since_us) / 1e6,
                            st == RELAY_TOPIC_PRESENT ? "librdkafka does not know the topic yet"
                                                      : why,
                            r->resend_backoff_ms);
        }
    }
    SET(held_messages, relay_resend_len(r->held));
    r->resending = false;
}

/* The current event (encoded as `size` bytes) is above kafka.message.max.bytes: stop, or file
 * its small dead letter. 0, or -1 with the relay failed. */
static int relay_event_too_large(relay *r, size_t value_len)
{
    const relay_event *ev = &r->ev;
    const char *key = ev->aggregate_id;
    size_t key_len = key ? strlen(key) : 0;
    relay_header picked[RELAY_DLQ_TOO_LARGE_MAX_HEADERS + 16];
    relay_toolarge t = {.seq = r->seq,
                        .size = relay_record_size(key_len, value_len, ev->headers, ev->nheaders),
                        .topic = ev->topic,
                        .key = key,
                        .key_len = key_len,
                        .headers = picked};
    if (r->s->on_too_large == RELAY_TOO_LARGE_STOP) {
        relay_fail(r,
                   "event %s (%s) at " RELAY_LSN_FMT " is too large for Kafka (%zu bytes, above "
                   "kafka.message.max.bytes) and relay.on-too-large = stop: stopping without "
                   "confirming its transaction",
                   ev->id ? ev->id : "(no id)", ev->event_type ? ev->event_type : "?",
                   RELAY_LSN_ARGS(r->meta.commit_lsn), t.size);
        return -1;
    }
    t.nheaders = relay_dlq_too_large_headers(ev->headers, ev->nheaders, picked,
                                             sizeof(picked) / sizeof(picked[0]), &t.omitted);
    return relay_send_too_large(r, &t, false);
}

/* Publish the current event, unencoded, to its dead-letter topic with the reason in headers. */
static int relay_dead_letter(relay *r, relay_dlq_reason why, const char *reason)
{
    const relay_event *ev = &r->ev;
    if (relay_dlq_topic(r->s->dlq_topic_template, r->s->dlq_fallback_topic, ev->topic,
                        &r->dlq_topic) != 0) {
        relay_fail(r, "out of memory");
        return -1;
    }
    const char *topic = (const char *)r->dlq_topic.data;
    relay_header extra[RELAY_DLQ_NHEADERS];
    size_t nextra = relay_dlq_headers(why, reason, ev->topic, extra);
    outbox_log_warn(COMPONENT, "dead letter to %s: event %s (%s) at " RELAY_LSN_FMT ": %s", topic,
                    ev->id ? ev->id : "(no id)", ev->event_type ? ev->event_type : "?",
                    RELAY_LSN_ARGS(r->meta.commit_lsn), reason);
    int rc = relay_produce(r, topic, ev->payload_raw, ev->payload_raw_len, extra, nextra,
                           RELAY_PUBLISH_DEAD_LETTER);
    if (rc > 0) /* with its payload it is too large: the small one instead */
        return relay_event_too_large(r, ev->payload_raw_len);
    if (rc == 0)
        ADD(dead_letters[why], 1);
    return rc;
}

/* Wait (serving reports and status updates) for the backoff, or until stopped or failed.
 * 0, or -1 with errstr. */
static int relay_wait(relay *r, int64_t ms, char *errstr, size_t errstr_size)
{
    int64_t until = now_us() + ms * 1000;
    while (now_us() < until) {
        if (*r->stop || r->failed) {
            snprintf(errstr, errstr_size, "stopped while waiting for the registry");
            return -1;
        }
        if (relay_loop_service(r, 50, errstr, errstr_size) < 0)
            return -1;
    }
    return 0;
}

/* Register `schema` under `subject` after setting the subject's level to registry.compatibility,
 * retrying (with backoff, serving status updates) while the registry is unavailable. 0, -1
 * (relay problem, the registry refuses the schema as incompatible, or a fatal error of the
 * relay's setup: TLS, credentials, URL; stop; errstr) or -2 (the registry rejected the schema
 * as invalid: HTTP 422). */
static int relay_schema_register(relay *r, const char *subject, const outbox_schema *schema,
                                 int32_t *id, char *errstr, size_t errstr_size)
{
    int64_t backoff_ms = 200;
    for (;;) {
        /* The request is bounded by registry.timeout; a status update goes out first so the
         * walsender never waits longer than that on us. */
        char serr[512];
        if (relay_status(r, false, serr, sizeof(serr)) < 0) {
            snprintf(errstr, errstr_size, "%s", serr);
            return -1;
        }
        const char *level = outbox_compat_level_name((outbox_compat_level)r->s->compatibility);
        outbox_registry_err rc =
            outbox_registry_set_compatibility(r->registry, subject, level, errstr, errstr_size);
        if (rc == OUTBOX_REGISTRY_OK)
            rc = outbox_registry_register(r->registry, subject, outbox_schema_json(schema), id,
                                          errstr, errstr_size);
        if (rc == OUTBOX_REGISTRY_OK)
            return 0;
        if (rc == OUTBOX_REGISTRY_ERR_INCOMPATIBLE) {
            /* publishing would break readers: stop before the event, nothing confirmed */
            char why[2048];
            snprintf(why, sizeof(why), "%s", errstr);
            outbox_errstr_set(errstr, errstr_size,
                              "the registry refuses %s under subject %s (compatibility %s): %s; "
                              "`outbox-relay schemas` names the incompatible field",
                              outbox_schema_name(schema), subject, level, why);
            return -1;
        }
        if (rc == OUTBOX_REGISTRY_ERR_INVALID_SCHEMA)
            return -2; /* the schema itself: a property of the event */
        if (!outbox_registry_err_is_retriable(rc)) {
            /* TLS, credentials, URL: the relay's setup, not the event's; stop before it */
            char why[2048];
            snprintf(why, sizeof(why), "%s", errstr);
            const char *fix = outbox_registry_err_fix(rc);
            outbox_errstr_set(errstr, errstr_size,
                              "the registry cannot be used (%s%s%s); nothing confirmed past the "
                              "event, which is published once that is fixed: %s",
                              outbox_registry_err_name(rc), fix[0] ? ": " : "", fix, why);
            return -1;
        }
        INC(registry_retries);
        outbox_log_warn(COMPONENT, "registry unavailable (%s); retrying in %" PRId64 " ms", errstr,
                        backoff_ms);
        if (relay_wait(r, backoff_ms, errstr, errstr_size) != 0)
            return -1;
        backoff_ms = backoff_ms * 2 > r->s->registry_retry_max_ms ? r->s->registry_retry_max_ms
                                                                  : backoff_ms * 2;
    }
}

/* Find or register the registry id of (topic, schema). Waits, serving status updates, while the
 * registry is unavailable; a registry that rejects the schema yields -2 and errstr. */
static int relay_schema_id(relay *r, const char *topic, const outbox_schema *schema, int32_t *id,
                           char *errstr, size_t errstr_size)
{
    if (relay_idcache_get(r->ids, topic, schema, id))
        return 0;
    char subject[512];
    if (outbox_registry_subject_build((outbox_registry_strategy)r->s->subject_strategy, topic,
                                      outbox_schema_name(schema), subject, sizeof(subject), errstr,
                                      errstr_size) != OUTBOX_REGISTRY_OK)
        return -2;
    int rc = relay_schema_register(r, subject, schema, id, errstr, errstr_size);
    if (rc != 0)
        return rc;
    if (relay_idcache_put(r->ids, topic, schema, *id) != 0) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    outbox_log_info(COMPONENT, "schema %s for topic %s: registry id %d (subject %s)",
                    outbox_schema_name(schema), topic, (int)*id, subject);
    return 0;
}

/* The wire-format header of `schema` into r->value (reset first). 0, 1 (dead-lettered) or -1
 * (failed). */
static int relay_value_header(relay *r, const outbox_schema *schema)
{
    char err[2048];
    outbox_buf_reset(&r->value);
    if (r->s->wire_format != RELAY_WIRE_CONFLUENT) {
        if (outbox_wire_single_object_write(&r->value, outbox_schema_fingerprint(schema), err,
                                            sizeof(err)) != 0)
            goto oom;
        return 0;
    }
    int32_t id;
    int rc = relay_schema_id(r, r->ev.topic, schema, &id, err, sizeof(err));
    if (rc == -2) {
        char reason[2304];
        snprintf(reason, sizeof(reason), "registry rejected schema %s: %s",
                 outbox_schema_name(schema), err);
        return relay_dead_letter(r, RELAY_DLQ_REGISTRY_REJECTED, reason) == 0 ? 1 : -1;
    }
    if (rc != 0) {
        relay_fail(r, "%s", err);
        return -1;
    }
    if (outbox_wire_confluent_write(&r->value, id, err, sizeof(err)) != 0)
        goto oom;
    return 0;
oom:
    relay_fail(r, "out of memory");
    return -1;
}

/* The relay itself failed on the current event (out of memory, a bug): the event is fine, so it
 * is not dead-lettered; stop without confirming its transaction. Returns -1. */
static int relay_event_failed(relay *r, const char *what, const char *err)
{
    const relay_event *ev = &r->ev;
    relay_fail(r,
               "%s event %s (%s) at " RELAY_LSN_FMT " failed in the relay itself: %s; stopping "
               "without confirming its transaction (a restart retries it)",
               what, ev->id ? ev->id : "(no id)", ev->event_type ? ev->event_type : "?",
               RELAY_LSN_ARGS(r->meta.commit_lsn), err);
    return -1;
}

/* Routing failed with `rc`: dead-letter the event when it is the event's fault, else stop. */
static int relay_route_failed(relay *r, relay_route_err rc, const char *err)
{
    switch (rc) {
    case RELAY_ROUTE_NULL_COLUMN:
        return relay_dead_letter(r, RELAY_DLQ_NULL_COLUMN, err);
    case RELAY_ROUTE_INVALID_TOPIC:
        return relay_dead_letter(r, RELAY_DLQ_INVALID_TOPIC, err);
    case RELAY_ROUTE_INVALID_JSON:
        return relay_dead_letter(r, RELAY_DLQ_INVALID_JSON, err);
    case RELAY_ROUTE_OK:
    case RELAY_ROUTE_ERR_NOMEM:
    case RELAY_ROUTE_ERR_INTERNAL:
        break;
    }
    return relay_event_failed(r, "routing", err);
}

/* Encode the routed event's JSON payload after the header in r->value. 0, 1 (dead-lettered) or
 * -1 (failed). The encoder classifies its failures: only a payload that is not JSON or does not
 * fit the schema is the event's fault; out of memory or an encoder bug stops the relay. */
static int relay_encode(relay *r, const outbox_schema *schema)
{
    relay_event *ev = &r->ev;
    char err[1024], reason[1200];
    outbox_avro_enc_rc rc;
    /* A row's payload column or a logical message's payload member, straight from the text
     * (authoritative; jansson only for the exact reason): one encoder, one outcome. */
    rc = outbox_avro_json_encode_text(schema, ev->payload_text, ev->payload_text_len, &r->scratch,
                                      &r->value, err, sizeof(err));
    switch (rc) {
    case OUTBOX_AVRO_ENC_OK:
        return 0;
    case OUTBOX_AVRO_ENC_NOT_JSON:
        snprintf(reason, sizeof(reason), "payload is %s", err);
        return relay_dead_letter(r, RELAY_DLQ_INVALID_JSON, reason) == 0 ? 1 : -1;
    case OUTBOX_AVRO_ENC_MISMATCH:
        snprintf(reason, sizeof(reason), "schema mismatch for %s: %s", outbox_schema_name(schema),
                 err);
        return relay_dead_letter(r, RELAY_DLQ_SCHEMA_MISMATCH, reason) == 0 ? 1 : -1;
    case OUTBOX_AVRO_ENC_NOMEM:
    case OUTBOX_AVRO_ENC_INTERNAL:
    case OUTBOX_AVRO_ENC_DECLINED:
        break;
    }
    return relay_event_failed(r, "encoding", err);
}

/* Produce the current event's encoded value to its topic; too large: relay.on-too-large. */
static int relay_publish_value(relay *r, const void *value, size_t value_len)
{
    int rc = relay_produce(r, r->ev.topic, value, value_len, NULL, 0, 0);
    if (rc > 0)
        return relay_event_too_large(r, value_len);
    if (rc == 0) {
        INC(events_published);
        relay_prune_note(r->prune, r->row_table, r->ev.id); /* a row, not a message */
    }
    return rc;
}

/* Encode and publish the routed event in r->ev, or dead-letter it. */
static int relay_publish_event(relay *r)
{
    relay_event *ev = &r->ev;
    if (ev->payload_bytes) /* bytea: already encoded by the application */
        return relay_publish_value(r, ev->payload_bytes, ev->payload_bytes_len);
    const outbox_schema *schema = outbox_schemas_find(r->schemas, ev->event_type);
    if (!schema) {
        char err[1024];
        /* The reason goes to Kafka: it names the setting, never the relay's own paths. */
        snprintf(err, sizeof(err), "unknown event type '%s': no schema %s.avsc in avro.schema-dir",
                 ev->event_type, ev->event_type);
        return relay_dead_letter(r, RELAY_DLQ_UNKNOWN_EVENT_TYPE, err);
    }
    int rc = relay_value_header(r, schema);
    if (rc == 0)
        rc = relay_encode(r, schema);
    if (rc != 0)
        return rc > 0 ? 0 : -1;
    return relay_publish_value(r, r->value.data, r->value.len);
}

/* ---------------------------------------------------------------- pgoutput handling */

/* Whether the n-th occurrence of something gets a log line: 1, 2, 4, 8, ... (a writer cannot
 * flood the log, the operator still sees that it goes on). */
static bool sparse(uint64_t n)
{
    return n > 0 && (n & (n - 1)) == 0;
}

/* Count and report the headers-column entries routing dropped for naming a reserved header. */
static void relay_note_reserved(relay *r)
{
    if (r->ev.reserved_dropped == 0)
        return;
    uint64_t before = ADD(reserved_headers_dropped, r->ev.reserved_dropped);
    uint64_t events = INC(reserved_header_events) + 1;
    if (sparse(events))
        outbox_log_warn(COMPONENT,
                        "event %s: %zu headers-column entr%s named a reserved header (id, "
                        "event_type, aggregate_type, aggregate_id, outbox.*) and %s dropped; "
                        "the event keeps the relay's own (%" PRIu64 " dropped so far)",
                        r->ev.id ? r->ev.id : "(no id)", r->ev.reserved_dropped,
                        r->ev.reserved_dropped == 1 ? "y" : "ies",
                        r->ev.reserved_dropped == 1 ? "was" : "were",
                        before + r->ev.reserved_dropped);
}

static int on_relation(relay *r, const relay_pgoutput_relation *rel)
{
    const relay_rel *e = relay_relcache_update(r->rels, rel);
    if (!e) {
        relay_fail(r, "out of memory");
        return -1;
    }
    if (e->bad[0]) {
        outbox_log_error(COMPONENT, "%s; its rows go to the dead-letter topic", e->bad);
    } else if (e->table < 0) {
        outbox_log_info(COMPONENT,
                        "relation %s is in publication %s but is not an outbox table (%s); its "
                        "changes are ignored (outbox-relay check warns about it)",
                        e->name, r->s->publication,
                        r->s->tables_list[0] ? r->s->tables_list : r->s->table);
    }
    return 0;
}

static int on_insert(relay *r, const relay_pgoutput_insert *ins)
{
    if (r->skip_txn)
        return 0;
    const relay_rel *e = relay_relcache_find(r->rels, ins->relid);
    if (!e) {
        relay_fail(r, "protocol error: Insert for relation %u before its Relation message",
                   ins->relid);
        return -1;
    }
    if (e->table < 0)
        return 0;
    relay_value values[RELAY_ROUTE_NCOLS];
    relay_rel_values(e, &ins->newtuple, values);
    char err[512];
    relay_event_reset(&r->ev);
    relay_route_err rc = relay_route_row(r->routes[e->table], values, e->payload_is_bytea, &r->meta,
                                         &r->ev, err, sizeof(err));
    if (e->bad[0]) {
        /* Routed only to fill the dead letter's headers; the table's problem is the reason. */
        if (!relay_route_err_is_event(rc) && rc != RELAY_ROUTE_OK)
            return relay_route_failed(r, rc, err);
        if (rc != RELAY_ROUTE_OK)
            outbox_log_debug(COMPONENT, "row of the unusable outbox table: %s", err);
        return relay_dead_letter(r, RELAY_DLQ_BAD_TABLE, e->bad);
    }
    relay_note_reserved(r);
    if (rc != RELAY_ROUTE_OK)
        return relay_route_failed(r, rc, err);
    r->row_table = e->table;
    return relay_publish_event(r);
}

/* A non-transactional message stands alone: its own "transaction" ending at it. */
static int message_txn_begin(relay *r, const relay_pgoutput_message *msg)
{
    r->seq = relay_ack_txn_begin(r->ack);
    if (r->seq == 0) {
        relay_fail(r, "out of memory");
        return -1;
    }
    r->meta.xid = 0;
    r->meta.commit_lsn = msg->lsn;
    r->meta.commit_time_us = wall_us();
    relay_txn_meta_format(&r->meta);
    return 0;
}

static int on_message(relay *r, const relay_pgoutput_message *msg)
{
    /* Messages are only requested with outbox.logical-messages on (see relay_connect). */
    if (!r->s->logical_messages || strcmp(msg->prefix, r->s->message_prefix) != 0 || r->skip_txn)
        return 0;
    if (!msg->transactional) {
        /* Not part of a committed transaction: nothing a writer of the outbox committed.
         * pg_logical_emit_message(false, ...) never publishes. */
        uint64_t n = INC(messages_ignored) + 1;
        if (sparse(n))
            outbox_log_warn(COMPONENT,
                            "non-transactional logical message with prefix '%s' at " RELAY_LSN_FMT
                            " ignored: only pg_logical_emit_message(true, ...) publishes (%" PRIu64
                            " ignored so far)",
                            msg->prefix, RELAY_LSN_ARGS(msg->lsn), n);
        return 0;
    }
    bool own_txn = !r->in_txn;
    if (own_txn && message_txn_begin(r, msg) != 0)
        return -1;
    char err[512];
    relay_event_reset(&r->ev);
    r->row_table = -1;
    relay_route_err route_rc = relay_route_message(
        r->route, (const char *)msg->content, msg->content_len, &r->meta, &r->ev, err, sizeof(err));
    relay_note_reserved(r);
    int rc =
        route_rc == RELAY_ROUTE_OK ? relay_publish_event(r) : relay_route_failed(r, route_rc, err);
    if (own_txn && rc == 0) {
        if (relay_ack_txn_commit(r->ack, r->seq, msg->lsn) != 0) {
            relay_fail(r, "internal error: message LSN " RELAY_LSN_FMT " behind confirmed",
                       RELAY_LSN_ARGS(msg->lsn));
            return -1;
        }
        relay_lag_add(r, msg->lsn, r->meta.commit_time_us);
        relay_txn_pg_commit(r->txn, msg->lsn);
    }
    return rc;
}

static int on_begin(relay *r, const relay_pgoutput_begin *begin)
{
    r->seq = relay_ack_txn_begin(r->ack);
    if (r->seq == 0) {
        relay_fail(r, "protocol error: Begin inside a transaction (or out of memory)");
        return -1;
    }
    r->in_txn = true;
    r->skip_txn = relay_txn_skip_begin(r->txn, begin->final_lsn);
    r->meta.xid = begin->xid;
    r->meta.commit_lsn = begin->final_lsn;
    r->meta.commit_time_us = relay_pgoutput_time_to_unix_usec(begin->commit_time);
    relay_txn_meta_format(&r->meta);
    return 0;
}

static int on_commit(relay *r, const relay_pgoutput_commit *commit)
{
    if (!r->in_txn || relay_ack_txn_commit(r->ack, r->seq, commit->end_lsn) != 0) {
        relay_fail(r, "protocol error: Commit at " RELAY_LSN_FMT " without its Begin",
                   RELAY_LSN_ARGS(commit->end_lsn));
        return -1;
    }
    relay_lag_add(r, commit->end_lsn, r->meta.commit_time_us);
    relay_prune_commit(r->prune, commit->end_lsn);
    relay_txn_pg_commit(r->txn, commit->end_lsn);
    r->in_txn = r->skip_txn = false;
    INC(transactions);
    return 0;
}

/* UPDATE, DELETE or TRUNCATE of a relation: not an event; counted and logged for the outbox. */
static void on_ignored(relay *r, uint32_t relid, const char *what)
{
    const relay_rel *e = relay_relcache_find(r->rels, relid);
    if (!e || e->table < 0)
        return;
    if (!sparse(INC(rows_ignored) + 1)) /* a cleanup job or outbox.prune deletes many */
        return;
    if (strcmp(what, "TRUNCATE") == 0)
        outbox_log_warn(COMPONENT,
                        "TRUNCATE of outbox table %s in xid %u ignored (not an "
                        "event)",
                        e->name, r->meta.xid);
    else
        outbox_log_warn(COMPONENT,
                        "%s on outbox table %s in xid %u ignored: outbox rows are "
                        "insert-only, only inserts are events (publish = 'insert' keeps "
                        "them out of the stream)",
                        what, e->name, r->meta.xid);
}

static int on_pgoutput(relay *r, const relay_pgoutput_msg *msg)
{
    switch (msg->type) {
    case RELAY_PGOUTPUT_BEGIN:
        return on_begin(r, &msg->u.begin);
    case RELAY_PGOUTPUT_COMMIT:
        return on_commit(r, &msg->u.commit);
    case RELAY_PGOUTPUT_RELATION:
        return on_relation(r, &msg->u.relation);
    case RELAY_PGOUTPUT_INSERT:
        return on_insert(r, &msg->u.insert);
    case RELAY_PGOUTPUT_UPDATE:
        on_ignored(r, msg->u.update.relid, "UPDATE");
        return 0;
    case RELAY_PGOUTPUT_DELETE:
        on_ignored(r, msg->u.delete_.relid, "DELETE");
        return 0;
    case RELAY_PGOUTPUT_TRUNCATE:
        for (uint32_t i = 0; i < msg->u.truncate.nrelids; i++)
            on_ignored(r, relay_pgoutput_truncate_relid(&msg->u.truncate, i), "TRUNCATE");
        return 0;
    case RELAY_PGOUTPUT_MESSAGE:
        return on_message(r, &msg->u.message);
    case RELAY_PGOUTPUT_ORIGIN:
    case RELAY_PGOUTPUT_TYPE:
        return 0;
    }
    return 0;
}

int relay_loop_xlogdata(relay *r, const relay_pgoutput_xlogdata *x)
{
    relay_pgoutput_msg msg;
    char err[512];
    if (x->wal_end > r->received) {
        r->received = x->wal_end;
        SET(received_lsn, x->wal_end);
    }
    if (relay_pgoutput_decode(x->data, x->size, &msg, err, sizeof(err)) != 0) {
        /* The walsender's own protocol: nothing a dead letter could hold. Stop unconfirmed. */
        relay_fail(r, "cannot decode pgoutput message at " RELAY_LSN_FMT ": %s",
                   RELAY_LSN_ARGS(x->wal_start), err);
        return -1;
    }
    if (on_pgoutput(r, &msg) != 0 || r->failed || r->lease_lost)
        return -1;
    return 0;
}

void relay_loop_keepalive(relay *r, const relay_pgoutput_keepalive *k)
{
    relay_ack_idle(r->ack, k->wal_end);
    SET(server_wal_end, k->wal_end);
    if (k->wal_end > r->received && !r->in_txn) {
        r->received = k->wal_end;
        SET(received_lsn, r->received);
    }
    if (k->reply_requested)
        r->reply_now = true;
}

uint64_t relay_loop_confirmable(const relay *r)
{
    return r->ack ? relay_txn_cap(r->txn, relay_ack_confirmable(r->ack)) : 0;
}

size_t relay_loop_inflight(const relay *r)
{
    return r->ack ? relay_ack_inflight_messages(r->ack) : 0;
}

const char *relay_loop_failure(const relay *r)
{
    return r->failed ? r->fail_msg : NULL;
}

/* ---------------------------------------------------------------- setup */

/* The relation cache and one route per outbox table of the settings (tables may name their
 * columns differently; they route the same way). */
static int relay_new_routing(relay *r, char *errstr, size_t errstr_size)
{
    const relay_settings *s = r->s;
    r->rels = relay_relcache_new();
    r->routes = calloc(s->ntables, sizeof(*r->routes));
    if (!r->rels || !r->routes) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < s->ntables; i++) {
        const relay_table *t = &s->tables[i];
        if (relay_relcache_add_table(r->rels, t->name, t->columns, errstr, errstr_size) != (int)i)
            return -1;
        r->routes[i] = relay_route_new(s->topic_template, t->columns, errstr, errstr_size);
        if (!r->routes[i])
            return -1;
        r->nroutes++;
        /* encoded straight from text when it can */
        relay_route_set_lazy_payload(r->routes[i], true);
    }
    r->route = r->routes[0];
    return 0;
}

/* Schemas, registry and the id cache. */
static int relay_new_encoding(relay *r, char *errstr, size_t errstr_size)
{
    const relay_settings *s = r->s;
    if (outbox_schemas_load_dir(s->schema_dir, &r->schemas, errstr, errstr_size) != 0)
        return -1;
    if (s->wire_format == RELAY_WIRE_CONFLUENT) {
        r->registry = relay_settings_registry_new(s, errstr, errstr_size);
        if (!r->registry)
            return -1;
    }
    r->ids = relay_idcache_new();
    r->lag = relay_lag_new();
    r->too_large = relay_toolarge_queue_new();
    r->held = relay_resend_queue_new();
    if (!r->ids || !r->lag || !r->too_large || !r->held) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    return 0;
}

int relay_new(const relay_settings *settings, const outbox_conf *conf, relay **out, char *errstr,
              size_t errstr_size)
{
    relay *r = calloc(1, sizeof(*r));
    rd_kafka_conf_t *kconf = NULL;
    if (!r) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    r->s = settings;
    r->conf = conf;
    r->stop = &never_stop;
    relay_event_init(&r->ev);
    outbox_avro_scratch_init(&r->scratch, 0);
    outbox_buf_init(&r->value);
    outbox_buf_init(&r->dlq_topic);
    SET(started_us, wall_us());
    if (relay_new_routing(r, errstr, errstr_size) != 0 ||
        relay_new_encoding(r, errstr, errstr_size) != 0)
        goto fail;
    kconf = relay_publish_conf(conf, errstr, errstr_size);
    if (kconf == NULL || relay_txn_conf(settings, kconf, errstr, errstr_size) != 0)
        goto fail;
    int rc = relay_publish_new(kconf, on_delivery, r, &r->pub, errstr, errstr_size);
    kconf = NULL; /* now owned by the producer, also on failure */
    if (rc != 0 || relay_txn_new(settings, conf, relay_publish_handle(r->pub), &r->stats.eos,
                                 &r->txn, errstr, errstr_size) != 0)
        goto fail;
    *out = r;
    return 0;
fail:
    if (kconf)
        rd_kafka_conf_destroy(kconf);
    relay_free(r);
    return -1;
}

void relay_free(relay *r)
{
    if (!r)
        return;
    relay_stream_close(r->stream);
    relay_txn_free(r->txn); /* aborts what is open, on the producer */
    relay_publish_free(r->pub);
    relay_ack_free(r->ack);
    for (size_t i = 0; i < r->nroutes; i++)
        relay_route_free(r->routes[i]);
    free(r->routes);
    outbox_schemas_destroy(r->schemas);
    outbox_registry_free(r->registry);
    relay_idcache_free(r->ids);
    relay_relcache_free(r->rels);
    relay_lag_free(r->lag);
    relay_toolarge_queue_free(r->too_large);
    relay_resend_queue_free(r->held);
    relay_lease_free(r->lease);
    relay_prune_free(r->prune);
    relay_event_free(&r->ev);
    outbox_avro_scratch_free(&r->scratch);
    outbox_buf_free(&r->value);
    outbox_buf_free(&r->dlq_topic);
    free(r);
}

const relay_stats *relay_get_stats(const relay *r)
{
    return &r->stats;
}

int relay_loop_begin(relay *r, uint64_t start_lsn, char *errstr, size_t errstr_size)
{
    relay_ack_free(r->ack);
    r->ack = relay_ack_new(start_lsn);
    if (!r->ack) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    r->in_txn = false;
    r->lease_lost = false;
    relay_held_drop(r, false); /* the old tracker's: nothing of them was confirmed */
    relay_prune_restart(r->prune);
    r->next_slot_check_us = 0; /* at once: a slot at risk shows before the backlog is read */
    r->received = start_lsn;
    r->last_sent_flush = start_lsn;
    r->next_status_us = now_us();
    relay_lag_reset(r->lag);
    SET(confirmed_lsn, start_lsn);
    return 0;
}

/* Connect, make sure the slot exists, start streaming at the slot's confirmed position. */
static int relay_connect(relay *r, char *errstr, size_t errstr_size)
{
    relay_stream_slot slot;
    int rc = relay_stream_open(r->s->conninfo, &r->stream, errstr, errstr_size);
    if (rc < 0)
        return rc;
    rc = relay_stream_slot_ensure(r->stream, r->s->slot,
                                  r->s->create_slot ? RELAY_STREAM_SLOT_CREATE : 0, &slot, errstr,
                                  errstr_size);
    if (rc < 0)
        goto fail;
    if (slot.created)
        outbox_log_info(COMPONENT, "created replication slot %s at " RELAY_LSN_FMT, r->s->slot,
                        RELAY_LSN_ARGS(slot.consistent_point));
    uint64_t start = slot.created ? slot.consistent_point : slot.confirmed_flush_lsn;
    char pubs[300];
    if (relay_publication_names_option(r->s->publication, pubs, sizeof(pubs)) != 0) {
        snprintf(errstr, errstr_size, "postgres.publication '%s' is too long", r->s->publication);
        rc = RELAY_STREAM_ERR_FATAL;
        goto fail;
    }
    rc = relay_txn_start(r->txn, start, errstr, errstr_size); /* same codes as the stream's */
    if (rc < 0)
        goto fail;
    rc = relay_stream_start(r->stream, r->s->slot, 0, pubs, r->s->logical_messages, errstr,
                            errstr_size);
    if (rc < 0)
        goto fail;
    if (relay_loop_begin(r, start, errstr, errstr_size) != 0) {
        rc = RELAY_STREAM_ERR_FATAL;
        goto fail;
    }
    SET(streaming, 1);
    outbox_log_info(COMPONENT,
                    "streaming slot %s (publication %s, table%s %s, logical messages %s%s%s) "
                    "from " RELAY_LSN_FMT,
                    r->s->slot, r->s->publication, r->s->ntables > 1 ? "s" : "",
                    r->s->tables_list[0] ? r->s->tables_list : r->s->table,
                    r->s->logical_messages ? "on, prefix '" : "off",
                    r->s->logical_messages ? r->s->message_prefix : "",
                    r->s->logical_messages ? "'" : "", RELAY_LSN_ARGS(start));
    return 0;
fail:
    relay_stream_close(r->stream);
    r->stream = NULL;
    return rc;
}

/* Wait until Kafka acknowledged what is in flight (bounded), serving status updates. */
void relay_loop_drain(relay *r, int64_t timeout_ms)
{
    int64_t until = now_us() + timeout_ms * 1000;
    char err[512];
    /* Held messages are produced again only while the relay has not failed. */
    while (relay_ack_inflight_messages(r->ack) > (r->failed ? relay_resend_len(r->held) : 0) &&
           now_us() < until) {
        if (relay_loop_service(r, 100, err, sizeof(err)) < 0)
            break;
    }
    if (relay_ack_inflight_messages(r->ack) > 0)
        outbox_log_warn(COMPONENT,
                        "%zu messages still unacknowledged after %" PRId64 " ms (%zu of them "
                        "held until Kafka knows their topic): not confirmed, they will be re-sent "
                        "after restart",
                        relay_ack_inflight_messages(r->ack), timeout_ms - (until - now_us()) / 1000,
                        relay_resend_len(r->held));
}

/* End the stream: drain, final status with what was confirmed, CopyDone. */
static void relay_disconnect(relay *r, bool drain)
{
    char err[512];
    if (!r->stream)
        return;
    if (drain && relay_txn_finish(r->txn, r->in_txn, err, sizeof(err)) != RELAY_TXN_OK)
        outbox_log_warn(COMPONENT, "%s", err);
    if (drain)
        relay_loop_drain(r, r->s->shutdown_timeout_ms);
    uint64_t confirmed = relay_txn_cap(r->txn, relay_ack_confirmable(r->ack));
    if (relay_stream_finish(r->stream, confirmed, 5000, err, sizeof(err)) < 0)
        outbox_log_warn(COMPONENT, "finishing the stream: %s", err);
    else
        outbox_log_info(COMPONENT, "final status sent: confirmed " RELAY_LSN_FMT,
                        RELAY_LSN_ARGS(confirmed));
    SET(confirmed_lsn, confirmed);
    relay_stream_close(r->stream);
    r->stream = NULL;
    SET(streaming, 0);
}

/* ---------------------------------------------------------------- the loop */

/* A relay_stream error code as the loop's result: -2 fatal, -1 retriable (-3: lease lost,
 * from the loop itself). */
#define LOOP_LEASE_LOST (-3)
static int loop_result(int rc)
{
    return rc == RELAY_STREAM_ERR_FATAL ? -2 : -1;
}

/* Read frames while there is room in flight; a bounded batch so reports get served. Returns 1
 * when something was read, 0 when nothing was ready, or a loop result (-1, -2). */
static int relay_read_batch(relay *r, char *errstr, size_t errstr_size)
{
    bool more = false;
    for (int n = 0; n < 2000 && !relay_txn_due(r->txn); n++) {
        if (relay_ack_inflight_bytes(r->ack) >= (size_t)r->s->max_inflight_bytes)
            break;
        relay_stream_event ev;
        int rc = relay_stream_read(r->stream, &ev, errstr, errstr_size);
        if (rc == RELAY_STREAM_WOULD_BLOCK)
            break;
        if (rc == RELAY_STREAM_END)
            return -1;
        if (rc < 0)
            return loop_result(rc);
        if (rc == RELAY_STREAM_KEEPALIVE) {
            relay_loop_keepalive(r, &ev.keepalive);
        } else if (relay_loop_xlogdata(r, &ev.xlogdata) != 0) {
            if (r->lease_lost && !r->failed)
                return LOOP_LEASE_LOST;
            snprintf(errstr, errstr_size, "%s", r->fail_msg);
            return -2;
        }
        more = true;
    }
    return more ? 1 : 0;
}

/* Wait for the socket, or the next deadline (status update; delivery reports). 0 or a loop
 * result. */
static int relay_poll(relay *r, char *errstr, size_t errstr_size)
{
    int64_t timeout_ms = (r->next_status_us - now_us()) / 1000;
    if (relay_ack_inflight_messages(r->ack) > 0 && timeout_ms > 5)
        timeout_ms = 5; /* reports are served by rd_kafka_poll */
    if (r->last_sent_flush != relay_ack_confirmable(r->ack) && timeout_ms > 100)
        timeout_ms = 100;
    if (r->lease && timeout_ms > r->s->lease_ttl_ms / 4)
        timeout_ms = r->s->lease_ttl_ms / 4; /* renewed on time while idle */
    if (timeout_ms < 0)
        timeout_ms = 0;
    struct pollfd pfd[2] = {{.fd = relay_stream_fd(r->stream), .events = POLLIN}};
    if (relay_stream_want_write(r->stream))
        pfd[0].events |= POLLOUT;
    if (poll(pfd, 1, (int)timeout_ms) < 0 && errno != EINTR) {
        snprintf(errstr, errstr_size, "poll: %s", strerror(errno));
        return -2;
    }
    if (pfd[0].revents & POLLOUT) {
        int rc = relay_stream_flush(r->stream, errstr, errstr_size);
        if (rc < 0)
            return loop_result(rc);
    }
    return 0;
}

/* Stream until stop, failure, or a lost connection. Returns 0 (stop), -1 (retriable: reconnect),
 * -2 (fatal, in errstr), LOOP_LEASE_LOST. */
static int relay_stream_loop(relay *r, char *errstr, size_t errstr_size)
{
    for (;;) {
        if (r->lease_lost && !r->failed)
            return LOOP_LEASE_LOST;
        if (*r->stop)
            return 0;
        if (r->failed) {
            snprintf(errstr, errstr_size, "%s", r->fail_msg);
            return -2;
        }
        int rc = relay_loop_service(r, 0, errstr, errstr_size);
        if (rc < 0)
            return loop_result(rc);

        /* Backpressure: stop reading (TCP pushes back on the walsender) but keep serving
         * delivery reports and status updates. */
        if (relay_ack_inflight_bytes(r->ack) >= (size_t)r->s->max_inflight_bytes) {
            rc = relay_loop_service(r, 10, errstr, errstr_size);
            if (rc < 0)
                return loop_result(rc);
            continue;
        }
        rc = relay_read_batch(r, errstr, errstr_size);
        if (rc < 0)
            return rc;
        int trc = relay_txn_tick(r->txn, rc == 0, r->in_txn, errstr, errstr_size);
        if (trc < 0)
            return trc; /* -1: aborted, restart from the confirmed position; -2: fatal */
        if (rc > 0)
            continue;
        rc = relay_poll(r, errstr, errstr_size);
        if (rc < 0)
            return rc;
    }
}

/* After a lost replication stream: everything produced so far is acknowledged or given up
 * before the new stream starts from the slot's confirmed position (unconfirmed transactions
 * come again). 0, or -1 when the relay failed (errstr). */
static int relay_reconnect_prepare(relay *r, char *errstr, size_t errstr_size)
{
    /* The stream is dead: close it first, so the drain's service calls send no status update
     * to it (that failure used to end the wait at once and stop the relay unconfirmed). */
    relay_stream_close(r->stream);
    r->stream = NULL;
    SET(streaming, 0);
    relay_loop_drain(r, r->s->shutdown_timeout_ms);
    INC(reconnects);
    if (!r->failed && relay_ack_inflight_messages(r->ack) > 0)
        relay_fail(r,
                   "Kafka did not acknowledge %zu messages within relay.shutdown-timeout "
                   "after the replication stream was lost; exiting unconfirmed",
                   relay_ack_inflight_messages(r->ack));
    if (r->failed) {
        snprintf(errstr, errstr_size, "%s", r->fail_msg);
        return -1;
    }
    return 0;
}

static int relay_ensure_publication(relay *r, char *errstr, size_t errstr_size)
{
    size_t n = relay_relcache_tables(r->rels);
    relay_table_name tables[n ? n : 1];
    for (size_t i = 0; i < n; i++)
        tables[i] = *relay_relcache_table(r->rels, i);
    return relay_publication_ensure(r->s->conninfo, r->s->publication, tables, n,
                                    r->s->tables_list[0] ? r->s->tables_list : r->s->table,
                                    r->s->create_publication, errstr, errstr_size);
}

/* The longest the loop blocks between two lease checks: a schema registration (two registry
 * requests), or one of exactly-once's Kafka calls. */
static int64_t relay_longest_block_ms(const relay_settings *s)
{
    int64_t ms = 2 * s->registry_timeout_ms;
    if (s->exactly_once && relay_txn_longest_block_ms() > ms)
        ms = relay_txn_longest_block_ms();
    return ms;
}

/* Standby: wait until this relay holds the slot's lease (polling), then end the walsender of
 * the holder that lost it. 0 with the lease held, 1 when stopped first. */
static int relay_lease_wait(relay *r)
{
    char err[2048];
    bool said = false;
    int64_t since = now_us(), last_warn = 0;
    for (;;) {
        relay_lease_rc rc = relay_lease_try(r->lease, err, sizeof(err));
        if (rc == RELAY_LEASE_HELD)
            break;
        SET(role, RELAY_ROLE_STANDBY);
        if (rc == RELAY_LEASE_BUSY && !said) {
            outbox_log_info(COMPONENT,
                            "standby: another relay holds the lease on slot %s; taking over "
                            "when it is gone (within relay.lease-ttl = %" PRId64 " ms)",
                            r->s->slot, r->s->lease_ttl_ms);
            said = true;
        } else if (rc == RELAY_LEASE_ERR_CONN && now_us() - last_warn > 30000000) {
            outbox_log_warn(COMPONENT, "standby: %s; retrying", err);
            last_warn = now_us();
        }
        for (int64_t until = now_us() + RELAY_LEASE_POLL_MS * 1000; now_us() < until;) {
            if (*r->stop)
                return 1;
            relay_publish_poll(r->pub, 50);
        }
    }
    int pid = relay_lease_end_previous(r->lease, 2000, err, sizeof(err));
    if (pid < 0)
        outbox_log_warn(COMPONENT, "%s", err);
    if (said || pid > 0)
        outbox_log_info(COMPONENT, "took over the lease on slot %s after %.1f s as standby%s%.0d",
                        r->s->slot, (double)(now_us() - since) / 1e6,
                        pid > 0 ? "; ended the previous holder's walsender, pid " : "", pid);
    if (said)
        INC(takeovers);
    SET(role, RELAY_ROLE_ACTIVE);
    return 0;
}

/* The lease was lost while streaming: end the stream without a final status (nothing more is
 * confirmed), serve the purged messages' reports, and give the lease's session up. */
static void relay_lease_abandon(relay *r)
{
    relay_stream_close(r->stream);
    r->stream = NULL;
    SET(streaming, 0);
    for (int64_t until = now_us() + 5000000;
         relay_ack_inflight_messages(r->ack) > 0 && now_us() < until;)
        relay_publish_poll(r->pub, 100);
    relay_lease_release(r->lease);
}

int relay_run(relay *r, volatile sig_atomic_t *stop, char *errstr, size_t errstr_size)
{
    r->stop = stop;
    int64_t backoff_ms = 500;
    if (relay_ensure_publication(r, errstr, errstr_size) != 0)
        return 1;
    r->lease =
        relay_lease_new(r->s->conninfo, r->s->slot, r->s->lease_ttl_ms,
                        relay_lease_keepalive_ms(r->s->lease_ttl_ms, relay_longest_block_ms(r->s)));
    if (!r->lease) {
        snprintf(errstr, errstr_size, "out of memory");
        return 1;
    }
    if (relay_prune_start_settings(r->s, &r->stats.prune, &r->prune, errstr, errstr_size) != 0)
        return 1;
    while (!*stop) {
        if (!relay_lease_held(r->lease) && relay_lease_wait(r) != 0)
            break;
        int rc = relay_connect(r, errstr, errstr_size);
        if (rc == RELAY_STREAM_ERR_FATAL || (rc == RELAY_STREAM_ERR_REFUSED && !r->streamed))
            return 1;
        if (rc == RELAY_STREAM_ERR_REFUSED) {
            /* It was admitted before: most often a limit that passes (max_wal_senders or
             * max_connections reached) or a pg_hba.conf being edited. Loud, never silent. */
            outbox_log_error(COMPONENT,
                             "replication connection refused: %s; retrying in %" PRId64 " ms "
                             "(this relay streamed before, so it waits for the server to "
                             "admit it again)",
                             errstr, backoff_ms);
            goto backoff;
        }
        if (rc < 0) {
            outbox_log_warn(COMPONENT,
                            "replication connection failed: %s; retrying in %" PRId64 " ms", errstr,
                            backoff_ms);
            goto backoff;
        }
        backoff_ms = 500;
        r->streamed = true;
        rc = relay_stream_loop(r, errstr, errstr_size);
        if (rc == LOOP_LEASE_LOST) {
            relay_lease_abandon(r);
            continue;
        }
        if (rc == 0) {
            relay_disconnect(r, true);
            return r->failed ? 1 : 0;
        }
        if (rc == -2) {
            /* Fatal: confirm nothing more; what was confirmed stays. What was queued before
             * still goes to Kafka (bounded), so a restart re-sends less. */
            outbox_log_error(COMPONENT, "%s", errstr);
            relay_loop_drain(r, r->s->shutdown_timeout_ms);
            relay_stream_close(r->stream);
            r->stream = NULL;
            SET(streaming, 0);
            return 1;
        }
        outbox_log_warn(COMPONENT, "replication stream lost: %s; reconnecting", errstr);
        if (relay_reconnect_prepare(r, errstr, errstr_size) != 0)
            return 1;
    backoff:
        for (int64_t until = now_us() + backoff_ms * 1000; now_us() < until && !*stop;)
            relay_publish_poll(r->pub, 100);
        backoff_ms = backoff_ms * 2 > 30000 ? 30000 : backoff_ms * 2;
    }
    return 0;
}
