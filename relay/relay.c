#include "relay.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ack.h"
#include "avro_json.h"
#include "avro_schema.h"
#include "avro_text.h"
#include "buf.h"
#include "log.h"
#include "pgoutput.h"
#include "publish.h"
#include "registry.h"
#include "route.h"
#include "stream.h"
#include "wire.h"

#define COMPONENT "relay"

/* What the loop knows of a relation (pgoutput Relation message). */
struct rel_entry {
    uint32_t relid;
    bool is_outbox;
    int col[RELAY_ROUTE_NCOLS]; /* column index of each outbox field, -1 if absent */
    bool payload_is_bytea;
    char bad[200]; /* why rows of this outbox relation cannot be routed, "" if they can */
    char name[130];
};

/* (topic, schema) -> registry id. Open addressing, grows at half full. */
struct id_slot {
    char *topic;
    const outbox_schema *schema;
    int32_t id;
};

struct relay {
    const relay_settings *s;
    const outbox_conf *conf;
    relay_stats stats;

    relay_stream *stream;
    relay_publish *pub;
    relay_ack *ack;
    relay_route *route;
    outbox_schemas *schemas;
    outbox_registry *registry;
    PGconn *sql;

    char table_schema[64], table_name[64];

    struct rel_entry *rels;
    size_t nrels, rels_cap;

    struct id_slot *ids;
    size_t ids_cap, ids_len;

    /* the transaction being received */
    bool in_txn;
    uint64_t seq;
    relay_txn_meta meta;
    int64_t commit_time_us;

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

    /* commit times of transactions awaiting confirmation, for lag in seconds */
    struct {
        uint64_t end_lsn;
        int64_t commit_us;
    } * pending_times;
    size_t pt_head, pt_len, pt_cap;

    volatile sig_atomic_t *stop;
    bool failed;
    char fail_msg[512];
};

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

static void on_delivery(void *ctx, uint64_t seq, size_t bytes, rd_kafka_resp_err_t err,
                        const char *topic, const char *reason)
{
    relay *r = ctx;
    if (err) {
        INC(delivery_failures);
        relay_fail(r,
                   "delivery to topic %s failed for good: %s; stopping without confirming it "
                   "(the slot stays at " RELAY_LSN_FMT ", a restart re-sends from there)",
                   topic, reason, RELAY_LSN_ARGS(relay_ack_confirmable(r->ack)));
        /* Still account for it, so the tracker's counts stay exact. */
        if (relay_ack_delivered(r->ack, seq, bytes) != 0)
            outbox_log_error(COMPONENT, "failed delivery report for unknown transaction");
        return;
    }
    INC(events_acked);
    if (relay_ack_delivered(r->ack, seq, bytes) != 0)
        relay_fail(r, "internal error: delivery report for unknown transaction %" PRIu64, seq);
}

/* ---------------------------------------------------------------- status updates */

static void pending_time_push(relay *r, uint64_t end_lsn, int64_t commit_us)
{
    if (r->pt_len == r->pt_cap) {
        size_t cap = r->pt_cap ? r->pt_cap * 2 : 256;
        void *p = malloc(cap * sizeof(*r->pending_times));
        if (!p)
            return; /* only a metric is lost */
        for (size_t i = 0; i < r->pt_len; i++)
            memcpy((char *)p + i * sizeof(*r->pending_times),
                   &r->pending_times[(r->pt_head + i) % r->pt_cap], sizeof(*r->pending_times));
        free(r->pending_times);
        r->pending_times = p;
        r->pt_cap = cap;
        r->pt_head = 0;
    }
    if (r->pt_len == 0)
        SET(oldest_unconfirmed_commit_us, commit_us);
    r->pending_times[(r->pt_head + r->pt_len) % r->pt_cap].end_lsn = end_lsn;
    r->pending_times[(r->pt_head + r->pt_len) % r->pt_cap].commit_us = commit_us;
    r->pt_len++;
}

static void pending_time_confirm(relay *r, uint64_t confirmed)
{
    while (r->pt_len > 0 && r->pending_times[r->pt_head].end_lsn <= confirmed) {
        SET(last_confirmed_commit_us, r->pending_times[r->pt_head].commit_us);
        r->pt_head = (r->pt_head + 1) % r->pt_cap;
        r->pt_len--;
        SET(oldest_unconfirmed_commit_us,
            r->pt_len ? r->pending_times[r->pt_head].commit_us : (int64_t)0);
    }
}

/* Send a standby status update when due: on the interval, when the server asks, or soon after
 * the confirmable position moved (so the slot does not lag by a whole interval). */
static int relay_status(relay *r, bool force, char *errstr, size_t errstr_size)
{
    if (!r->stream)
        return 0;
    int64_t now = now_us();
    uint64_t confirmable = relay_ack_confirmable(r->ack);
    bool moved = confirmable != r->last_sent_flush && now - r->last_status_us >= 100000;
    if (!force && !r->reply_now && now < r->next_status_us && !moved)
        return 0;
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
    pending_time_confirm(r, confirmable);
    return 0;
}

/* Serve delivery reports and status updates: what every wait inside the loop calls. */
static int relay_service(relay *r, int kafka_timeout_ms, char *errstr, size_t errstr_size)
{
    relay_publish_poll(r->pub, kafka_timeout_ms);
    char fatal[512];
    if (relay_publish_fatal(r->pub, fatal, sizeof(fatal)))
        relay_fail(r, "Kafka producer fatal error: %s", fatal);
    SET(inflight_bytes, relay_ack_inflight_bytes(r->ack));
    SET(inflight_messages, relay_ack_inflight_messages(r->ack));
    return relay_status(r, false, errstr, errstr_size);
}

/* ---------------------------------------------------------------- producing */

/* Hand one message to librdkafka, waiting (while serving reports and status) when its queue is
 * full. Returns 0, or -1 with the relay failed. */
static int relay_produce(relay *r, const char *topic, const void *key, size_t key_len,
                         const void *value, size_t value_len, const relay_header *extra,
                         size_t nextra)
{
    char err[512];
    for (;;) {
        rd_kafka_resp_err_t rc =
            relay_publish_send(r->pub, topic, key, key_len, value, value_len, r->ev.headers,
                               r->ev.nheaders, extra, nextra, r->seq, err, sizeof(err));
        if (rc == RD_KAFKA_RESP_ERR_NO_ERROR)
            break;
        if (rc != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            relay_fail(r, "%s", err);
            return -1;
        }
        char serr[512];
        if (relay_service(r, 100, serr, sizeof(serr)) < 0) {
            relay_fail(r, "%s", serr);
            return -1;
        }
        if (r->failed)
            return -1;
    }
    if (relay_ack_txn_add(r->ack, r->seq, key_len + value_len) != 0) {
        relay_fail(r, "internal error: message outside a transaction");
        return -1;
    }
    ADD(bytes_published, key_len + value_len);
    return 0;
}

static const char *const dlq_reason_names[RELAY_DLQ_REASONS] = {
    "invalid_json",  "null_column",       "unknown_event_type", "schema_mismatch",
    "invalid_topic", "registry_rejected", "bad_table",
};

/* Publish the current event, unencoded, to its dead-letter topic with the reason in headers. */
static int relay_dead_letter(relay *r, relay_dlq_reason why, const char *reason)
{
    const relay_event *ev = &r->ev;
    const char *topic = r->s->dlq_fallback_topic;
    if (ev->topic) {
        /* ${topic} in the template becomes the event's topic. */
        const char *tpl = r->s->dlq_topic_template;
        const char *ph = strstr(tpl, "${topic}");
        outbox_buf_reset(&r->dlq_topic);
        if ((ph && (outbox_buf_append(&r->dlq_topic, tpl, (size_t)(ph - tpl)) ||
                    outbox_buf_append(&r->dlq_topic, ev->topic, strlen(ev->topic)) ||
                    outbox_buf_append(&r->dlq_topic, ph + 8, strlen(ph + 8) + 1))) ||
            (!ph && outbox_buf_append(&r->dlq_topic, tpl, strlen(tpl) + 1))) {
            relay_fail(r, "out of memory");
            return -1;
        }
        topic = (const char *)r->dlq_topic.data;
    }
    char lsn[RELAY_LSN_BUFSIZE];
    (void)relay_pgoutput_lsn_format(r->meta.commit_lsn, lsn, sizeof(lsn));
    const char *intended = ev->topic ? ev->topic : "";
    relay_header extra[] = {
        {"outbox.dlq.reason", reason, strlen(reason)},
        {"outbox.dlq.class", dlq_reason_names[why], strlen(dlq_reason_names[why])},
        {"outbox.dlq.topic", intended, strlen(intended)},
        {"outbox.dlq.source", "outbox-relay", 12},
    };
    const char *key = ev->aggregate_id;
    outbox_log_warn(COMPONENT, "dead letter to %s: event %s (%s) at " RELAY_LSN_FMT ": %s", topic,
                    ev->id ? ev->id : "(no id)", ev->event_type ? ev->event_type : "?",
                    RELAY_LSN_ARGS(r->meta.commit_lsn), reason);
    ADD(dead_letters[why], 1);
    return relay_produce(r, topic, key, key ? strlen(key) : 0, ev->payload_raw, ev->payload_raw_len,
                         extra, sizeof(extra) / sizeof(extra[0]));
}

/* Find or register the registry id of (topic, schema). Waits, serving status updates, while the
 * registry is unavailable; a registry that rejects the schema yields -2 and errstr. */
static int relay_schema_id(relay *r, const char *topic, const outbox_schema *schema, int32_t *id,
                           char *errstr, size_t errstr_size)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = topic; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    h ^= (uint64_t)(uintptr_t)schema;
    for (size_t i = h & (r->ids_cap - 1);; i = (i + 1) & (r->ids_cap - 1)) {
        struct id_slot *slot = &r->ids[i];
        if (!slot->topic)
            break;
        if (slot->schema == schema && strcmp(slot->topic, topic) == 0) {
            *id = slot->id;
            return 0;
        }
    }
    char subject[512];
    if (outbox_registry_subject_build((outbox_registry_strategy)r->s->subject_strategy, topic,
                                      outbox_schema_name(schema), subject, sizeof(subject), errstr,
                                      errstr_size) != OUTBOX_REGISTRY_OK)
        return -2;
    int64_t backoff_ms = 200;
    for (;;) {
        /* The request is bounded by registry.timeout; a status update goes out first so the
         * walsender never waits longer than that on us. */
        char serr[512];
        if (relay_status(r, false, serr, sizeof(serr)) < 0) {
            snprintf(errstr, errstr_size, "%s", serr);
            return -1;
        }
        outbox_registry_err rc = outbox_registry_register(
            r->registry, subject, outbox_schema_json(schema), id, errstr, errstr_size);
        if (rc == OUTBOX_REGISTRY_OK)
            break;
        if (!outbox_registry_err_is_retriable(rc))
            return -2;
        INC(registry_retries);
        outbox_log_warn(COMPONENT, "registry unavailable (%s); retrying in %" PRId64 " ms", errstr,
                        backoff_ms);
        int64_t until = now_us() + backoff_ms * 1000;
        while (now_us() < until) {
            if (*r->stop || r->failed) {
                snprintf(errstr, errstr_size, "stopped while waiting for the registry");
                return -1;
            }
            if (relay_service(r, 50, serr, sizeof(serr)) < 0) {
                snprintf(errstr, errstr_size, "%s", serr);
                return -1;
            }
        }
        backoff_ms = backoff_ms * 2 > r->s->registry_retry_max_ms ? r->s->registry_retry_max_ms
                                                                  : backoff_ms * 2;
    }
    /* Remember it. */
    if ((r->ids_len + 1) * 2 > r->ids_cap) {
        size_t cap = r->ids_cap * 2;
        struct id_slot *ids = calloc(cap, sizeof(*ids));
        if (!ids) {
            snprintf(errstr, errstr_size, "out of memory");
            return -1;
        }
        for (size_t i = 0; i < r->ids_cap; i++) {
            if (!r->ids[i].topic)
                continue;
            uint64_t hh = 1469598103934665603ULL;
            for (const char *p = r->ids[i].topic; *p; p++)
                hh = (hh ^ (uint8_t)*p) * 1099511628211ULL;
            hh ^= (uint64_t)(uintptr_t)r->ids[i].schema;
            size_t j = hh & (cap - 1);
            while (ids[j].topic)
                j = (j + 1) & (cap - 1);
            ids[j] = r->ids[i];
        }
        free(r->ids);
        r->ids = ids;
        r->ids_cap = cap;
    }
    size_t i = h & (r->ids_cap - 1);
    while (r->ids[i].topic)
        i = (i + 1) & (r->ids_cap - 1);
    r->ids[i].topic = strdup(topic);
    if (!r->ids[i].topic) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    r->ids[i].schema = schema;
    r->ids[i].id = *id;
    r->ids_len++;
    outbox_log_info(COMPONENT, "schema %s for topic %s: registry id %d (subject %s)",
                    outbox_schema_name(schema), topic, (int)*id, subject);
    return 0;
}

/* Encode and publish the routed event in r->ev, or dead-letter it. */
static int relay_publish_event(relay *r)
{
    relay_event *ev = &r->ev;
    const char *key = ev->aggregate_id;
    char err[1024];
    if (ev->payload_bytes) /* bytea: already encoded by the application */
        goto produce_bytes;

    const outbox_schema *schema = outbox_schemas_find(r->schemas, ev->event_type);
    if (!schema) {
        snprintf(err, sizeof(err), "unknown event type '%s': no schema %s.avsc in %s",
                 ev->event_type, ev->event_type, r->s->schema_dir);
        return relay_dead_letter(r, RELAY_DLQ_UNKNOWN_EVENT_TYPE, err);
    }
    outbox_buf_reset(&r->value);
    if (r->s->wire_format == RELAY_WIRE_CONFLUENT) {
        int32_t id;
        int rc = relay_schema_id(r, ev->topic, schema, &id, err, sizeof(err));
        if (rc == -2) {
            char reason[1200];
            snprintf(reason, sizeof(reason), "registry rejected schema %s: %s",
                     outbox_schema_name(schema), err);
            return relay_dead_letter(r, RELAY_DLQ_REGISTRY_REJECTED, reason);
        }
        if (rc != 0) {
            relay_fail(r, "%s", err);
            return -1;
        }
        if (outbox_wire_confluent_write(&r->value, id, err, sizeof(err)) != 0)
            goto oom;
    } else if (outbox_wire_single_object_write(&r->value, outbox_schema_fingerprint(schema), err,
                                               sizeof(err)) != 0) {
        goto oom;
    }
    /* Fast path: Avro straight from the JSON text (same bytes as the jansson path, tested
     * differentially). Anything it does not take goes the jansson way, which has the exact
     * dead-letter reasons. */
    if (!ev->payload_json &&
        outbox_avro_json_encode_text(schema, ev->payload_raw, ev->payload_raw_len, &r->scratch,
                                     &r->value, err, sizeof(err)) == 0)
        goto produce_value;
    if (relay_event_parse_payload(ev, err, sizeof(err)) != 0)
        return relay_dead_letter(r, RELAY_DLQ_INVALID_JSON, err);
    if (outbox_avro_json_encode(schema, ev->payload_json, &r->value, err, sizeof(err)) != 0) {
        char reason[1200];
        snprintf(reason, sizeof(reason), "schema mismatch for %s: %s", outbox_schema_name(schema),
                 err);
        return relay_dead_letter(r, RELAY_DLQ_SCHEMA_MISMATCH, reason);
    }
produce_value:
    INC(events_published);
    return relay_produce(r, ev->topic, key, strlen(key), r->value.data, r->value.len, NULL, 0);

produce_bytes:
    INC(events_published);
    return relay_produce(r, ev->topic, key, strlen(key), ev->payload_bytes, ev->payload_bytes_len,
                         NULL, 0);
oom:
    relay_fail(r, "out of memory");
    return -1;
}

/* ---------------------------------------------------------------- pgoutput handling */

static struct rel_entry *rel_find(relay *r, uint32_t relid)
{
    for (size_t i = 0; i < r->nrels; i++)
        if (r->rels[i].relid == relid)
            return &r->rels[i];
    return NULL;
}

#define BYTEAOID 17

static int on_relation(relay *r, const relay_pgoutput_relation *rel)
{
    struct rel_entry *e = rel_find(r, rel->relid);
    if (!e) {
        if (r->nrels == r->rels_cap) {
            size_t cap = r->rels_cap ? r->rels_cap * 2 : 8;
            struct rel_entry *rels = realloc(r->rels, cap * sizeof(*rels));
            if (!rels) {
                relay_fail(r, "out of memory");
                return -1;
            }
            r->rels = rels;
            r->rels_cap = cap;
        }
        e = &r->rels[r->nrels++];
    }
    memset(e, 0, sizeof(*e));
    e->relid = rel->relid;
    snprintf(e->name, sizeof(e->name), "%s.%s", rel->nspname, rel->relname);
    e->is_outbox =
        strcmp(rel->nspname, r->table_schema) == 0 && strcmp(rel->relname, r->table_name) == 0;
    for (int c = 0; c < RELAY_ROUTE_NCOLS; c++)
        e->col[c] = -1;
    relay_pgoutput_cursor cur;
    relay_pgoutput_column col;
    relay_pgoutput_columns_begin(rel, &cur);
    for (int i = 0; relay_pgoutput_columns_next(&cur, &col); i++) {
        for (int c = 0; c < RELAY_ROUTE_NCOLS; c++) {
            if (strcmp(col.name, relay_route_column_name(r->route, (enum relay_col)c)) == 0) {
                e->col[c] = i;
                if (c == RELAY_COL_PAYLOAD)
                    e->payload_is_bytea = col.type_oid == BYTEAOID;
            }
        }
    }
    if (e->is_outbox) {
        for (int c = 0; c < RELAY_COL_HEADERS; c++) {
            if (e->col[c] < 0) {
                snprintf(e->bad, sizeof(e->bad),
                         "outbox table %s has no column \"%s\" (set outbox.column-* to its name)",
                         e->name, relay_route_column_name(r->route, (enum relay_col)c));
                outbox_log_error(COMPONENT, "%s; its rows go to the dead-letter topic", e->bad);
                break;
            }
        }
    } else {
        outbox_log_info(COMPONENT,
                        "relation %s is in the publication but is not the outbox table %s.%s; "
                        "its changes are ignored",
                        e->name, r->table_schema, r->table_name);
    }
    return 0;
}

static int on_insert(relay *r, const relay_pgoutput_insert *ins)
{
    struct rel_entry *e = rel_find(r, ins->relid);
    if (!e) {
        relay_fail(r, "protocol error: Insert for relation %u before its Relation message",
                   ins->relid);
        return -1;
    }
    if (!e->is_outbox)
        return 0;
    relay_value values[RELAY_ROUTE_NCOLS];
    memset(values, 0, sizeof(values));
    relay_pgoutput_cursor cur;
    relay_pgoutput_value v;
    relay_pgoutput_tuple_begin(&ins->newtuple, &cur);
    for (int i = 0; relay_pgoutput_tuple_next(&cur, &v); i++) {
        for (int c = 0; c < RELAY_ROUTE_NCOLS; c++) {
            if (e->col[c] == i && v.kind == RELAY_PGOUTPUT_VALUE_TEXT)
                values[c] = (relay_value){v.data, v.len};
        }
    }
    char err[512];
    relay_event_reset(&r->ev);
    if (e->bad[0]) {
        /* Only to fill the dead letter's headers; the table's problem is the reason. */
        if (relay_route_row(r->route, values, e->payload_is_bytea, &r->meta, &r->ev, err,
                            sizeof(err)) != 0)
            outbox_log_debug(COMPONENT, "row of the unusable outbox table: %s", err);
        return relay_dead_letter(r, RELAY_DLQ_BAD_TABLE, e->bad);
    }
    if (relay_route_row(r->route, values, e->payload_is_bytea, &r->meta, &r->ev, err,
                        sizeof(err)) != 0) {
        relay_dlq_reason why = RELAY_DLQ_INVALID_JSON;
        if (strstr(err, "is NULL"))
            why = RELAY_DLQ_NULL_COLUMN;
        else if (strstr(err, "topic"))
            why = RELAY_DLQ_INVALID_TOPIC;
        return relay_dead_letter(r, why, err);
    }
    return relay_publish_event(r);
}

static int on_message(relay *r, const relay_pgoutput_message *msg)
{
    if (strcmp(msg->prefix, r->s->message_prefix) != 0)
        return 0;
    bool own_txn = !r->in_txn;
    if (own_txn) {
        /* A non-transactional message stands alone: its own "transaction" ending at it. */
        r->seq = relay_ack_txn_begin(r->ack);
        if (r->seq == 0) {
            relay_fail(r, "out of memory");
            return -1;
        }
        r->meta.xid = 0;
        r->meta.commit_lsn = msg->lsn;
        r->meta.commit_time_us = wall_us();
        relay_txn_meta_format(&r->meta);
    }
    char err[512];
    relay_event_reset(&r->ev);
    int rc;
    if (relay_route_message(r->route, (const char *)msg->content, msg->content_len, &r->meta,
                            &r->ev, err, sizeof(err)) != 0) {
        relay_dlq_reason why = RELAY_DLQ_INVALID_JSON;
        if (strstr(err, "is NULL"))
            why = RELAY_DLQ_NULL_COLUMN;
        else if (strstr(err, "topic"))
            why = RELAY_DLQ_INVALID_TOPIC;
        rc = relay_dead_letter(r, why, err);
    } else {
        rc = relay_publish_event(r);
    }
    if (own_txn && rc == 0) {
        if (relay_ack_txn_commit(r->ack, r->seq, msg->lsn) != 0) {
            relay_fail(r, "internal error: message LSN " RELAY_LSN_FMT " behind confirmed",
                       RELAY_LSN_ARGS(msg->lsn));
            return -1;
        }
        pending_time_push(r, msg->lsn, r->meta.commit_time_us);
    }
    return rc;
}

static int on_xlogdata(relay *r, const relay_pgoutput_xlogdata *x)
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
    switch (msg.type) {
    case RELAY_PGOUTPUT_BEGIN:
        r->seq = relay_ack_txn_begin(r->ack);
        if (r->seq == 0) {
            relay_fail(r, "protocol error: Begin inside a transaction (or out of memory)");
            return -1;
        }
        r->in_txn = true;
        r->meta.xid = msg.u.begin.xid;
        r->meta.commit_lsn = msg.u.begin.final_lsn;
        r->meta.commit_time_us = relay_pgoutput_time_to_unix_usec(msg.u.begin.commit_time);
        relay_txn_meta_format(&r->meta);
        return 0;
    case RELAY_PGOUTPUT_COMMIT:
        if (!r->in_txn || relay_ack_txn_commit(r->ack, r->seq, msg.u.commit.end_lsn) != 0) {
            relay_fail(r, "protocol error: Commit at " RELAY_LSN_FMT " without its Begin",
                       RELAY_LSN_ARGS(msg.u.commit.end_lsn));
            return -1;
        }
        pending_time_push(r, msg.u.commit.end_lsn, r->meta.commit_time_us);
        r->in_txn = false;
        INC(transactions);
        return 0;
    case RELAY_PGOUTPUT_RELATION:
        return on_relation(r, &msg.u.relation);
    case RELAY_PGOUTPUT_INSERT:
        return on_insert(r, &msg.u.insert);
    case RELAY_PGOUTPUT_UPDATE:
    case RELAY_PGOUTPUT_DELETE: {
        uint32_t relid =
            msg.type == RELAY_PGOUTPUT_UPDATE ? msg.u.update.relid : msg.u.delete_.relid;
        struct rel_entry *e = rel_find(r, relid);
        if (e && e->is_outbox) {
            INC(rows_ignored);
            outbox_log_warn(COMPONENT,
                            "%s on outbox table %s in xid %u ignored: outbox rows are "
                            "insert-only, only inserts are events (publish = 'insert' keeps "
                            "them out of the stream)",
                            msg.type == RELAY_PGOUTPUT_UPDATE ? "UPDATE" : "DELETE", e->name,
                            r->meta.xid);
        }
        return 0;
    }
    case RELAY_PGOUTPUT_TRUNCATE:
        for (uint32_t i = 0; i < msg.u.truncate.nrelids; i++) {
            struct rel_entry *e = rel_find(r, relay_pgoutput_truncate_relid(&msg.u.truncate, i));
            if (e && e->is_outbox) {
                INC(rows_ignored);
                outbox_log_warn(COMPONENT,
                                "TRUNCATE of outbox table %s in xid %u ignored (not an "
                                "event)",
                                e->name, r->meta.xid);
            }
        }
        return 0;
    case RELAY_PGOUTPUT_MESSAGE:
        return on_message(r, &msg.u.message);
    case RELAY_PGOUTPUT_ORIGIN:
    case RELAY_PGOUTPUT_TYPE:
        return 0;
    }
    return 0;
}

/* ---------------------------------------------------------------- setup */

static int split_table(relay *r, char *errstr, size_t errstr_size)
{
    const char *dot = strchr(r->s->table, '.');
    size_t slen = (size_t)(dot - r->s->table);
    if (!dot || slen >= sizeof(r->table_schema) || strlen(dot + 1) >= sizeof(r->table_name)) {
        snprintf(errstr, errstr_size, "postgres.table '%s': expected schema.table", r->s->table);
        return -1;
    }
    memcpy(r->table_schema, r->s->table, slen);
    r->table_schema[slen] = '\0';
    strcpy(r->table_name, dot + 1);
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
    relay_event_init(&r->ev);
    outbox_avro_scratch_init(&r->scratch, 0);
    outbox_buf_init(&r->value);
    outbox_buf_init(&r->dlq_topic);
    SET(started_us, wall_us());
    if (split_table(r, errstr, errstr_size) != 0)
        goto fail;
    const char *cols[RELAY_ROUTE_NCOLS] = {settings->col_id,           settings->col_aggregate_type,
                                           settings->col_aggregate_id, settings->col_event_type,
                                           settings->col_payload,      settings->col_headers};
    r->route = relay_route_new(settings->topic_template, cols, errstr, errstr_size);
    if (!r->route)
        goto fail;
    relay_route_set_lazy_payload(r->route, true); /* encoded straight from text when it can */
    if (outbox_schemas_load_dir(settings->schema_dir, &r->schemas, errstr, errstr_size) != 0)
        goto fail;
    if (settings->wire_format == RELAY_WIRE_CONFLUENT) {
        r->registry = outbox_registry_new(
            settings->registry_url, (long)settings->registry_timeout_ms,
            settings->registry_auth[0] ? settings->registry_auth : NULL, errstr, errstr_size);
        if (!r->registry)
            goto fail;
    }
    r->ids_cap = 64;
    r->ids = calloc(r->ids_cap, sizeof(*r->ids));
    if (!r->ids) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    kconf = rd_kafka_conf_new();
    if (outbox_conf_kafka_apply(conf, kconf, errstr, errstr_size) != 0)
        goto fail;
    int rc = relay_publish_new(kconf, on_delivery, r, &r->pub, errstr, errstr_size);
    kconf = NULL; /* now owned by the producer, also on failure */
    if (rc != 0)
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
    relay_publish_free(r->pub);
    relay_ack_free(r->ack);
    relay_route_free(r->route);
    outbox_schemas_destroy(r->schemas);
    outbox_registry_free(r->registry);
    if (r->sql)
        PQfinish(r->sql);
    for (size_t i = 0; i < r->ids_cap; i++)
        free(r->ids ? r->ids[i].topic : NULL);
    free(r->ids);
    free(r->rels);
    free(r->pending_times);
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

/* The publication: present, or created when allowed. Through a normal SQL connection. */
static int relay_ensure_publication(relay *r, char *errstr, size_t errstr_size)
{
    int rc = -1;
    PGresult *res = NULL;
    PGconn *c = PQconnectdb(r->s->conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        snprintf(errstr, errstr_size, "cannot connect to PostgreSQL: %s", PQerrorMessage(c));
        goto done;
    }
    const char *params[1] = {r->s->publication};
    res = PQexecParams(c, "SELECT 1 FROM pg_publication WHERE pubname = $1", 1, NULL, params, NULL,
                       NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        snprintf(errstr, errstr_size, "looking up publication %s: %s", r->s->publication,
                 PQerrorMessage(c));
        goto done;
    }
    if (PQntuples(res) == 1) {
        rc = 0;
        goto done;
    }
    if (!r->s->create_publication) {
        snprintf(errstr, errstr_size,
                 "publication \"%s\" does not exist and postgres.create-publication is off: "
                 "run sql/outbox.sql, or CREATE PUBLICATION %s FOR TABLE %s WITH (publish = "
                 "'insert') as the table's owner",
                 r->s->publication, r->s->publication, r->s->table);
        goto done;
    }
    PQclear(res);
    char *pub = PQescapeIdentifier(c, r->s->publication, strlen(r->s->publication));
    char *sch = PQescapeIdentifier(c, r->table_schema, strlen(r->table_schema));
    char *tab = PQescapeIdentifier(c, r->table_name, strlen(r->table_name));
    char sql[512];
    snprintf(sql, sizeof(sql), "CREATE PUBLICATION %s FOR TABLE %s.%s WITH (publish = 'insert')",
             pub ? pub : "", sch ? sch : "", tab ? tab : "");
    PQfreemem(pub);
    PQfreemem(sch);
    PQfreemem(tab);
    res = PQexec(c, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        snprintf(errstr, errstr_size,
                 "publication \"%s\" is missing and creating it failed: %s"
                 "fix: run sql/outbox.sql as the owner of %s",
                 r->s->publication, PQerrorMessage(c), r->s->table);
        goto done;
    }
    outbox_log_info(COMPONENT, "created publication %s for %s", r->s->publication, r->s->table);
    rc = 0;
done:
    PQclear(res);
    PQfinish(c);
    return rc;
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
    snprintf(pubs, sizeof(pubs), "\"%s\"", r->s->publication);
    rc = relay_stream_start(r->stream, r->s->slot, 0, pubs, true, errstr, errstr_size);
    if (rc < 0)
        goto fail;
    relay_ack_free(r->ack);
    r->ack = relay_ack_new(start);
    if (!r->ack) {
        snprintf(errstr, errstr_size, "out of memory");
        rc = RELAY_STREAM_ERR_FATAL;
        goto fail;
    }
    r->in_txn = false;
    r->received = start;
    r->last_sent_flush = start;
    r->next_status_us = now_us();
    r->pt_len = 0;
    SET(confirmed_lsn, start);
    SET(streaming, 1);
    outbox_log_info(
        COMPONENT,
        "streaming slot %s (publication %s, table %s, messages prefix '%s') from " RELAY_LSN_FMT,
        r->s->slot, r->s->publication, r->s->table, r->s->message_prefix, RELAY_LSN_ARGS(start));
    return 0;
fail:
    relay_stream_close(r->stream);
    r->stream = NULL;
    return rc;
}

/* Wait until Kafka acknowledged what is in flight (bounded), serving status updates. */
static void relay_drain(relay *r, int64_t timeout_ms)
{
    int64_t until = now_us() + timeout_ms * 1000;
    char err[512];
    while (relay_ack_inflight_messages(r->ack) > 0 && now_us() < until && !r->failed) {
        if (relay_service(r, 100, err, sizeof(err)) < 0)
            break;
    }
    if (relay_ack_inflight_messages(r->ack) > 0)
        outbox_log_warn(COMPONENT,
                        "%zu messages still unacknowledged after %" PRId64 " ms: not confirmed, "
                        "they will be re-sent after restart",
                        relay_ack_inflight_messages(r->ack), timeout_ms);
}

/* End the stream: drain, final status with what was confirmed, CopyDone. */
static void relay_disconnect(relay *r, bool drain)
{
    char err[512];
    if (!r->stream)
        return;
    if (drain)
        relay_drain(r, r->s->shutdown_timeout_ms);
    uint64_t confirmed = relay_ack_confirmable(r->ack);
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

/* Stream until stop, failure, or a lost connection. Returns 0 (stop), -1 (retriable: reconnect),
 * -2 (fatal, in errstr). */
static int relay_stream_loop(relay *r, char *errstr, size_t errstr_size)
{
    for (;;) {
        if (*r->stop)
            return 0;
        if (r->failed) {
            snprintf(errstr, errstr_size, "%s", r->fail_msg);
            return -2;
        }
        int rc = relay_service(r, 0, errstr, errstr_size);
        if (rc < 0)
            return rc == RELAY_STREAM_ERR_FATAL ? -2 : -1;

        /* Backpressure: stop reading (TCP pushes back on the walsender) but keep serving
         * delivery reports and status updates. */
        if (relay_ack_inflight_bytes(r->ack) >= (size_t)r->s->max_inflight_bytes) {
            rc = relay_service(r, 10, errstr, errstr_size);
            if (rc < 0)
                return rc == RELAY_STREAM_ERR_FATAL ? -2 : -1;
            continue;
        }
        /* Read while there is room in flight; a bounded batch so reports get served. */
        bool more = false;
        for (int n = 0; n < 2000; n++) {
            if (relay_ack_inflight_bytes(r->ack) >= (size_t)r->s->max_inflight_bytes)
                break;
            relay_stream_event ev;
            rc = relay_stream_read(r->stream, &ev, errstr, errstr_size);
            if (rc == RELAY_STREAM_WOULD_BLOCK)
                break;
            if (rc == RELAY_STREAM_END)
                return -1;
            if (rc < 0)
                return rc == RELAY_STREAM_ERR_FATAL ? -2 : -1;
            if (rc == RELAY_STREAM_KEEPALIVE) {
                relay_ack_idle(r->ack, ev.keepalive.wal_end);
                SET(server_wal_end, ev.keepalive.wal_end);
                if (ev.keepalive.wal_end > r->received && !r->in_txn) {
                    r->received = ev.keepalive.wal_end;
                    SET(received_lsn, r->received);
                }
                if (ev.keepalive.reply_requested)
                    r->reply_now = true;
            } else if (on_xlogdata(r, &ev.xlogdata) != 0 || r->failed) {
                snprintf(errstr, errstr_size, "%s", r->fail_msg);
                return -2;
            }
            more = true;
        }
        if (more)
            continue;

        /* Wait for the socket, or the next deadline (status update; delivery reports). */
        int64_t timeout_ms = (r->next_status_us - now_us()) / 1000;
        if (relay_ack_inflight_messages(r->ack) > 0 && timeout_ms > 5)
            timeout_ms = 5; /* reports are served by rd_kafka_poll */
        if (r->last_sent_flush != relay_ack_confirmable(r->ack) && timeout_ms > 100)
            timeout_ms = 100;
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
            rc = relay_stream_flush(r->stream, errstr, errstr_size);
            if (rc < 0)
                return rc == RELAY_STREAM_ERR_FATAL ? -2 : -1;
        }
    }
}

int relay_run(relay *r, volatile sig_atomic_t *stop, char *errstr, size_t errstr_size)
{
    r->stop = stop;
    int64_t backoff_ms = 500;
    if (relay_ensure_publication(r, errstr, errstr_size) != 0)
        return 1;
    while (!*stop) {
        int rc = relay_connect(r, errstr, errstr_size);
        if (rc == RELAY_STREAM_ERR_FATAL)
            return 1;
        if (rc < 0) {
            outbox_log_warn(COMPONENT,
                            "replication connection failed: %s; retrying in %" PRId64 " ms", errstr,
                            backoff_ms);
            goto backoff;
        }
        backoff_ms = 500;
        rc = relay_stream_loop(r, errstr, errstr_size);
        if (rc == 0) {
            relay_disconnect(r, true);
            return r->failed ? 1 : 0;
        }
        if (rc == -2) {
            /* Fatal: confirm nothing more; what was confirmed stays. */
            outbox_log_error(COMPONENT, "%s", errstr);
            relay_stream_close(r->stream);
            r->stream = NULL;
            SET(streaming, 0);
            return 1;
        }
        outbox_log_warn(COMPONENT, "replication stream lost: %s; reconnecting", errstr);
        /* Everything produced so far is acknowledged or given up before the new stream starts
         * from the slot's confirmed position (unconfirmed transactions come again). */
        relay_drain(r, r->s->shutdown_timeout_ms);
        relay_stream_close(r->stream);
        r->stream = NULL;
        SET(streaming, 0);
        INC(reconnects);
        if (!r->failed && relay_ack_inflight_messages(r->ack) > 0)
            relay_fail(r,
                       "Kafka did not acknowledge %zu messages within relay.shutdown-timeout "
                       "after the replication stream was lost; exiting unconfirmed",
                       relay_ack_inflight_messages(r->ack));
        if (r->failed) {
            snprintf(errstr, errstr_size, "%s", r->fail_msg);
            return 1;
        }
    backoff:
        for (int64_t until = now_us() + backoff_ms * 1000; now_us() < until && !*stop;)
            relay_publish_poll(r->pub, 100);
        backoff_ms = backoff_ms * 2 > 30000 ? 30000 : backoff_ms * 2;
    }
    return 0;
}
