/*
 * The relay's loop driven by captured walsender frames (tests/fixtures/pgoutput) into a producer
 * that talks to librdkafka's mock cluster: what it produces, what it dead-letters, and which
 * LSN it lets PostgreSQL confirm. (The mock cluster is for fault injection; end-to-end behaviour
 * is tested against the real broker in tests/integration.)
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "buf.h"
#include "log.h"
#include "mock_cluster.h"
#include "pgoutput_fixtures.h"
#include "relay.h"
#include "relay_internal.h"
#include "settings.h"

/* ---------------------------------------------------------------- allocation failures */

/* Linked with -Wl,--wrap=outbox_buf_grow (tests/CMakeLists.txt): while armed, growing any
 * outbox_buf beyond `grow_fail_above` bytes fails as if malloc had (the encoders' buffers). */
int __real_outbox_buf_grow(outbox_buf *buf, size_t extra);
int __wrap_outbox_buf_grow(outbox_buf *buf, size_t extra);
static size_t grow_fail_above; /* 0: never */
static unsigned grow_failures;

int __wrap_outbox_buf_grow(outbox_buf *buf, size_t extra)
{
    if (grow_fail_above && buf->len + extra > grow_fail_above) {
        grow_failures++;
        return -1;
    }
    return __real_outbox_buf_grow(buf, extra);
}

#define LSN(hi, lo) (((uint64_t)(hi) << 32) | (uint64_t)(lo))

/* outbox_insert.bin: Begin, Relation public.outbox (relid 16389), 3 Inserts, Commit. */
#define INSERT_COMMIT_END LSN(0, 0x1ECA548)
#define INSERT_BEGIN_LSN LSN(0, 0x1ECA108)
#define OUTBOX_RELID 16389

static const char *const topics[] = {"outbox.event.post", "outbox.event.comment",
                                     "outbox.event.post.dlq", "outbox.event.comment.dlq",
                                     "outbox.dlq"};

struct env {
    rd_kafka_t *mock_rk; /* hosts the mock cluster */
    rd_kafka_mock_cluster_t *mcluster;
    relay_settings settings;
    outbox_conf *conf;
    relay *relay;
};

/* A relay on the mock cluster with the test schemas, `extra` more settings (NULL-terminated). */
static void relay_start(struct env *fx, const char *const *extra)
{
    char err[512];
    char bootstrap[256], schema_dir[512];
    snprintf(bootstrap, sizeof(bootstrap), "kafka.bootstrap.servers=%s",
             rd_kafka_mock_cluster_bootstraps(fx->mcluster));
    snprintf(schema_dir, sizeof(schema_dir), "avro.schema-dir=%s/relay_loop", FIXTURE_DIR);
    const char *sets[16] = {
        "postgres.conninfo=dbname=unused", bootstrap,           schema_dir,
        "avro.wire-format=single-object",  "kafka.log_level=0", "kafka.message.timeout.ms=5000"};
    size_t nsets = 6;
    for (size_t i = 0; extra && extra[i]; i++)
        sets[nsets++] = extra[i];
    if (relay_settings_load(&fx->settings, NULL, sets, nsets, &fx->conf, err, sizeof(err)) != 0)
        fail_msg("settings: %s", err);
    if (relay_new(&fx->settings, fx->conf, &fx->relay, err, sizeof(err)) != 0)
        fail_msg("relay_new: %s", err);
    assert_int_equal(relay_loop_begin(fx->relay, INSERT_BEGIN_LSN - 0x100, err, sizeof(err)), 0);
}

static int setup(void **state)
{
    static struct env fx;
    memset(&fx, 0, sizeof(fx));
    outbox_log_set_level(OUTBOX_LOG_ERROR);
    fx.mcluster = mock_cluster_new(&fx.mock_rk);
    for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++)
        assert_int_equal(rd_kafka_mock_topic_create(fx.mcluster, topics[i], 1, 1), 0);
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    grow_fail_above = 0;
    struct env *fx = *state;
    relay_free(fx->relay);
    relay_settings_free(&fx->settings);
    outbox_conf_destroy(fx->conf);
    rd_kafka_mock_cluster_destroy(fx->mcluster);
    rd_kafka_destroy(fx->mock_rk);
    return 0;
}

/* ---------------------------------------------------------------- frames */

/* Feed frames [from, to) of a fixture; each must be handled without failing the relay. */
static void feed(struct env *fx, const fixture *frames, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        relay_pgoutput_xlogdata x = frame_xlogdata(frames, i);
        if (relay_loop_xlogdata(fx->relay, &x) != 0)
            fail_msg("frame %zu failed the relay: %s", i, relay_loop_failure(fx->relay));
    }
}

static void put_u16(uint8_t **p, uint16_t v)
{
    *(*p)++ = (uint8_t)(v >> 8);
    *(*p)++ = (uint8_t)v;
}

static void put_u32(uint8_t **p, uint32_t v)
{
    put_u16(p, (uint16_t)(v >> 16));
    put_u16(p, (uint16_t)v);
}

static void put_u64(uint8_t **p, uint64_t v)
{
    put_u32(p, (uint32_t)(v >> 32));
    put_u32(p, (uint32_t)v);
}

/* An XLogData frame of a pgoutput Insert into the outbox of outbox_insert.bin (columns id,
 * aggregate_type, aggregate_id, event_type, payload, headers, created_at; headers NULL) at
 * `lsn`. malloc'd; the caller frees. */
static uint8_t *insert_frame(uint64_t lsn, const char *id, const char *aggregate_type,
                             const char *event_type, const char *payload, size_t *len)
{
    const char *cols[7] = {id,   aggregate_type,          "agg-1", event_type, payload,
                           NULL, "2024-01-02 03:04:05+00"};
    size_t size = 1 + 24 + 1 + 4 + 1 + 2;
    for (int i = 0; i < 7; i++)
        size += 1 + (cols[i] ? 4 + strlen(cols[i]) : 0);
    uint8_t *frame = malloc(size), *p = frame;
    assert_non_null(frame);
    *p++ = 'w';
    put_u64(&p, lsn);
    put_u64(&p, lsn);
    put_u64(&p, 0);
    *p++ = 'I';
    put_u32(&p, OUTBOX_RELID);
    *p++ = 'N';
    put_u16(&p, 7);
    for (int i = 0; i < 7; i++) {
        *p++ = cols[i] ? 't' : 'n';
        if (!cols[i])
            continue;
        put_u32(&p, (uint32_t)strlen(cols[i]));
        memcpy(p, cols[i], strlen(cols[i]));
        p += strlen(cols[i]);
    }
    assert_int_equal((size_t)(p - frame), size);
    *len = size;
    return frame;
}

/* Begin (final_lsn) or Commit (commit_lsn, end_lsn) frames of a synthetic transaction. */
static uint8_t *txn_frame(char type, uint64_t lsn, uint64_t end_lsn, size_t *len)
{
    size_t size = 25 + (type == 'B' ? 1 + 8 + 8 + 4 : 1 + 1 + 8 + 8 + 8);
    uint8_t *frame = malloc(size), *p = frame;
    assert_non_null(frame);
    *p++ = 'w';
    put_u64(&p, type == 'B' ? lsn : end_lsn);
    put_u64(&p, type == 'B' ? lsn : end_lsn);
    put_u64(&p, 0);
    *p++ = (uint8_t)type;
    if (type == 'B') {
        put_u64(&p, lsn);
        put_u64(&p, 757382400000000LL); /* 2024-01-01 in PostgreSQL epoch microseconds */
        put_u32(&p, 900);
    } else {
        *p++ = 0;
        put_u64(&p, lsn);
        put_u64(&p, end_lsn);
        put_u64(&p, 757382400000000LL);
    }
    *len = size;
    return frame;
}

/* Feed one raw XLogData frame (freed after). Returns what the loop returned. */
static int feed_raw(struct env *fx, uint8_t *frame, size_t len)
{
    relay_pgoutput_xlogdata x;
    char err[256];
    if (relay_pgoutput_read_xlogdata(frame, len, &x, err, sizeof(err)) != 0)
        fail_msg("synthetic frame: %s", err);
    int rc = relay_loop_xlogdata(fx->relay, &x);
    free(frame);
    return rc;
}

/* A whole synthetic transaction of one outbox insert: Begin at lsn, Insert, Commit ending at
 * lsn + 0x100. Returns the first non-zero result of the loop, or 0. */
static int feed_txn(struct env *fx, uint64_t lsn, const char *id, const char *event_type,
                    const char *payload)
{
    size_t len;
    uint8_t *frame = txn_frame('B', lsn, 0, &len);
    int rc = feed_raw(fx, frame, len);
    if (rc == 0) {
        frame = insert_frame(lsn + 0x10, id, "post", event_type, payload, &len);
        rc = feed_raw(fx, frame, len);
    }
    if (rc == 0) {
        frame = txn_frame('C', lsn, lsn + 0x100, &len);
        rc = feed_raw(fx, frame, len);
    }
    return rc;
}

/* A relay (with `extra` settings) that saw the outbox's Relation message and one transaction
 * of one good event (e-1, PostPublished, key agg-1) beginning at the returned LSN and ending
 * 0x100 after it. */
static uint64_t start_with_one_event(struct env *fx, const char *const *extra)
{
    relay_start(fx, extra);
    fixture *frames = fixture_load("outbox_insert.bin");
    feed(fx, frames, 1, 2); /* the Relation message of public.outbox */
    fixture_free(frames);
    uint64_t lsn = INSERT_COMMIT_END + 0x1000;
    assert_int_equal(
        feed_txn(fx, lsn, "e-1", "PostPublished", "{\"id\": \"post-9\", \"published\": false}"), 0);
    return lsn;
}

/* A PostCreated payload with a title of `n` x's (malloc'd). */
static char *big_payload(size_t n)
{
    char *payload = malloc(n + 64);
    assert_non_null(payload);
    int len = snprintf(payload, 64, "{\"id\": \"post-big\", \"title\": \"");
    memset(payload + len, 'x', n);
    strcpy(payload + len + n, "\", \"tags\": []}");
    return payload;
}

/* ---------------------------------------------------------------- what Kafka got */

struct record {
    char topic[64];
    char key[64];
    uint8_t value[256];
    size_t value_len;
    char id[64];        /* the "id" header */
    char dlq_class[64]; /* the "outbox.dlq.class" header, "" if none */
    char dlq_size[24];  /* the "outbox.dlq.size" header, "" if none */
    char lsn[24];       /* the "outbox.commit_lsn" header */
};

static void header_text(rd_kafka_headers_t *hdrs, const char *name, char *out, size_t size)
{
    const void *v;
    size_t n;
    out[0] = '\0';
    if (hdrs && rd_kafka_header_get_last(hdrs, name, &v, &n) == RD_KAFKA_RESP_ERR_NO_ERROR)
        snprintf(out, size, "%.*s", (int)n, (const char *)v);
}

/* Every record of `topic` (one partition) on the mock cluster, up to `max`. */
static size_t consume(struct env *fx, const char *topic, struct record *out, size_t max)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(fx->mcluster),
                      err, sizeof(err));
    rd_kafka_conf_set(conf, "group.id", "test", err, sizeof(err));
    rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof(err));
    /* the end of the partition is known from an empty fetch: do not let the broker hold it the
     * default 500 ms (19 reads in this file, run in three CI passes) */
    rd_kafka_conf_set(conf, "fetch.wait.max.ms", "10", err, sizeof(err));
    rd_kafka_conf_set(conf, "log_level", "0", err, sizeof(err));
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    assert_non_null(c);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(c, parts), 0);
    rd_kafka_topic_partition_list_destroy(parts);
    size_t n = 0;
    for (int tries = 0; tries < 200; tries++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            rd_kafka_message_destroy(m);
            break;
        }
        assert_int_equal(m->err, 0);
        assert_true(n < max);
        struct record *rec = &out[n++];
        memset(rec, 0, sizeof(*rec));
        snprintf(rec->topic, sizeof(rec->topic), "%s", topic);
        snprintf(rec->key, sizeof(rec->key), "%.*s", (int)m->key_len,
                 m->key ? (const char *)m->key : "");
        rec->value_len = m->len < sizeof(rec->value) ? m->len : sizeof(rec->value);
        if (rec->value_len > 0) /* a too-large dead letter has no value: payload is NULL */
            memcpy(rec->value, m->payload, rec->value_len);
        rd_kafka_headers_t *hdrs = NULL;
        rd_kafka_message_headers(m, &hdrs);
        header_text(hdrs, "id", rec->id, sizeof(rec->id));
        header_text(hdrs, "outbox.dlq.class", rec->dlq_class, sizeof(rec->dlq_class));
        header_text(hdrs, "outbox.dlq.size", rec->dlq_size, sizeof(rec->dlq_size));
        header_text(hdrs, "outbox.commit_lsn", rec->lsn, sizeof(rec->lsn));
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    return n;
}

/* Serve delivery reports until nothing is in flight (bounded). */
static void drain(struct env *fx)
{
    relay_loop_drain(fx->relay, 20000);
    assert_int_equal(relay_loop_inflight(fx->relay), 0);
}

/* ---------------------------------------------------------------- tests */

static void test_captured_transaction_is_produced_then_confirmable(void **state)
{
    struct env *fx = *state;
    relay_start(fx, NULL);
    fixture *frames = fixture_load("outbox_insert.bin");
    assert_int_equal(frames->nframes, 6);
    uint64_t start = relay_loop_confirmable(fx->relay);

    feed(fx, frames, 0, 5); /* up to the last Insert: the transaction is still open */
    drain(fx);
    assert_int_equal(relay_loop_confirmable(fx->relay), start);
    feed(fx, frames, 5, 6); /* Commit */
    drain(fx);
    assert_null(relay_loop_failure(fx->relay));
    assert_int_equal(relay_loop_confirmable(fx->relay), INSERT_COMMIT_END);

    struct record recs[8];
    assert_int_equal(consume(fx, "outbox.event.post", recs, 8), 2);
    assert_string_equal(recs[0].key, "post-1");
    assert_string_equal(recs[0].id, "6f1c2a9e-0d5b-4c1a-9a57-2b8f3d4e5a61");
    assert_string_equal(recs[1].id, "6f1c2a9e-0d5b-4c1a-9a57-2b8f3d4e5a62");
    /* Single-object framing (C3 01 + 8-byte fingerprint), then the Avro body of
     * {"id": "post-1", "tags": ["c", "kafka"], "title": "Hello, outbox"}. */
    static const uint8_t body[] = {0x0c, 'p', 'o',  's', 't', '-', '1', 0x1a, 'H', 'e', 'l',
                                   'l',  'o', ',',  ' ', 'o', 'u', 't', 'b',  'o', 'x', 0x04,
                                   0x02, 'c', 0x0a, 'k', 'a', 'f', 'k', 'a',  0x00};
    assert_int_equal(recs[0].value_len, 10 + sizeof(body));
    assert_int_equal(recs[0].value[0], 0xC3);
    assert_int_equal(recs[0].value[1], 0x01);
    assert_memory_equal(recs[0].value + 10, body, sizeof(body));
    assert_string_equal(recs[0].dlq_class, "");

    /* CommentAdded has no schema: a dead letter, and the transaction is still confirmed. */
    assert_int_equal(consume(fx, "outbox.event.comment", recs, 8), 0);
    assert_int_equal(consume(fx, "outbox.event.comment.dlq", recs, 8), 1);
    assert_string_equal(recs[0].id, "6f1c2a9e-0d5b-4c1a-9a57-2b8f3d4e5a63");
    assert_string_equal(recs[0].dlq_class, "unknown_event_type");
    assert_string_equal(recs[0].key, "comment-7");
    const relay_stats *st = relay_get_stats(fx->relay);
    assert_int_equal(st->events_published, 2);
    assert_int_equal(st->dead_letters[RELAY_DLQ_UNKNOWN_EVENT_TYPE], 1);
    fixture_free(frames);
}

static void test_refused_delivery_stops_confirmation(void **state)
{
    struct env *fx = *state;
    relay_start(fx, NULL);
    fixture *frames = fixture_load("outbox_insert.bin");
    /* The broker refuses every produce for good (not retriable). */
    rd_kafka_mock_push_request_errors(
        fx->mcluster, 0 /* Produce */, 6, RD_KAFKA_RESP_ERR_INVALID_RECORD,
        RD_KAFKA_RESP_ERR_INVALID_RECORD, RD_KAFKA_RESP_ERR_INVALID_RECORD,
        RD_KAFKA_RESP_ERR_INVALID_RECORD, RD_KAFKA_RESP_ERR_INVALID_RECORD,
        RD_KAFKA_RESP_ERR_INVALID_RECORD);
    uint64_t start = relay_loop_confirmable(fx->relay);
    feed(fx, frames, 0, 6);
    relay_loop_drain(fx->relay, 20000);
    assert_non_null(relay_loop_failure(fx->relay));
    assert_int_equal(relay_loop_confirmable(fx->relay), start);
    fixture_free(frames);
}

static void test_synthetic_transactions_confirm_in_order(void **state)
{
    struct env *fx = *state;
    uint64_t lsn = start_with_one_event(fx, NULL);
    assert_int_equal(feed_txn(fx, lsn + 0x200, "e-2", "PostPublished", "{\"id\": 1}"), 0);
    drain(fx);
    assert_null(relay_loop_failure(fx->relay));
    assert_int_equal(relay_loop_confirmable(fx->relay), lsn + 0x300);
    struct record recs[8];
    assert_int_equal(consume(fx, "outbox.event.post", recs, 8), 1);
    assert_string_equal(recs[0].id, "e-1");
    assert_int_equal(consume(fx, "outbox.event.post.dlq", recs, 8), 1);
    assert_string_equal(recs[0].id, "e-2");
    assert_string_equal(recs[0].dlq_class, "schema_mismatch");
}

static void test_out_of_memory_while_encoding_stops_unconfirmed(void **state)
{
    struct env *fx = *state;
    uint64_t lsn = start_with_one_event(fx, NULL);
    drain(fx);
    assert_int_equal(relay_loop_confirmable(fx->relay), lsn + 0x100);
    /* A valid event whose encoding needs a 100 kB buffer, while such allocations fail. */
    char *payload = big_payload(100 * 1024);
    grow_fail_above = 64 * 1024;
    int rc = feed_txn(fx, lsn + 0x200, "e-big", "PostCreated", payload);
    grow_fail_above = 0;
    free(payload);
    assert_true(grow_failures > 0);

    /* The relay stopped: the event is not a dead letter, its transaction is not confirmable. */
    assert_int_equal(rc, -1);
    const char *why = relay_loop_failure(fx->relay);
    assert_non_null(why);
    assert_non_null(strstr(why, "e-big"));
    relay_loop_drain(fx->relay, 20000);
    assert_int_equal(relay_loop_confirmable(fx->relay), lsn + 0x100);
    struct record recs[8];
    assert_int_equal(consume(fx, "outbox.event.post.dlq", recs, 8), 0);
    assert_int_equal(consume(fx, "outbox.event.post", recs, 8), 1);
    assert_string_equal(recs[0].id, "e-1");
    const relay_stats *st = relay_get_stats(fx->relay);
    for (int i = 0; i < RELAY_DLQ_REASONS; i++)
        assert_int_equal(st->dead_letters[i], 0);
}

/* An XLogData frame of a pgoutput logical message at `lsn` with `prefix` and `content`. */
static uint8_t *message_frame(uint64_t lsn, bool transactional, const char *prefix,
                              const char *content, size_t *len)
{
    size_t size = 25 + 1 + 1 + 8 + strlen(prefix) + 1 + 4 + strlen(content);
    uint8_t *frame = malloc(size), *p = frame;
    assert_non_null(frame);
    *p++ = 'w';
    put_u64(&p, lsn);
    put_u64(&p, lsn);
    put_u64(&p, 0);
    *p++ = 'M';
    *p++ = transactional ? 1 : 0;
    put_u64(&p, lsn);
    memcpy(p, prefix, strlen(prefix) + 1);
    p += strlen(prefix) + 1;
    put_u32(&p, (uint32_t)strlen(content));
    memcpy(p, content, strlen(content));
    p += strlen(content);
    assert_int_equal((size_t)(p - frame), size);
    *len = size;
    return frame;
}

/* Begin, one logical message, Commit (a transactional message), or the message alone. */
static int feed_message(struct env *fx, uint64_t lsn, bool transactional, const char *content)
{
    size_t len;
    uint8_t *frame;
    int rc = 0;
    if (transactional) {
        frame = txn_frame('B', lsn, 0, &len);
        rc = feed_raw(fx, frame, len);
    }
    if (rc == 0) {
        frame = message_frame(lsn + 0x10, transactional, "outbox", content, &len);
        rc = feed_raw(fx, frame, len);
    }
    if (rc == 0 && transactional) {
        frame = txn_frame('C', lsn, lsn + 0x100, &len);
        rc = feed_raw(fx, frame, len);
    }
    return rc;
}

#define ENVELOPE(id)                                                                               \
    "{\"id\": \"" id "\", \"aggregate_type\": \"post\", \"aggregate_id\": \"p1\", "                \
    "\"event_type\": \"PostPublished\", \"payload\": {\"id\": \"post-9\", \"published\": true}}"

/* Off by default: a logical message, even transactional with the prefix, publishes nothing. */
static void test_logical_messages_are_off_by_default(void **state)
{
    struct env *fx = *state;
    relay_start(fx, NULL);
    uint64_t lsn = INSERT_COMMIT_END + 0x1000;
    assert_int_equal(feed_message(fx, lsn, true, ENVELOPE("m-1")), 0);
    drain(fx);
    assert_null(relay_loop_failure(fx->relay));
    assert_int_equal(relay_loop_confirmable(fx->relay), lsn + 0x100);
    struct record recs[4];
    assert_int_equal(consume(fx, "outbox.event.post", recs, 4), 0);
    assert_int_equal(relay_get_stats(fx->relay)->events_published, 0);
}

/* On: transactional messages publish; a non-transactional one is ignored and counted. */
static void test_only_transactional_messages_publish(void **state)
{
    struct env *fx = *state;
    const char *const on[] = {"outbox.logical-messages=true", NULL};
    relay_start(fx, on);
    uint64_t lsn = INSERT_COMMIT_END + 0x1000;
    assert_int_equal(feed_message(fx, lsn, false, ENVELOPE("m-loose")), 0);
    assert_int_equal(feed_message(fx, lsn + 0x200, true, ENVELOPE("m-txn")), 0);
    drain(fx);
    assert_null(relay_loop_failure(fx->relay));
    struct record recs[4];
    assert_int_equal(consume(fx, "outbox.event.post", recs, 4), 1);
    assert_string_equal(recs[0].id, "m-txn");
    const relay_stats *st = relay_get_stats(fx->relay);
    assert_int_equal(st->messages_ignored, 1);
    assert_int_equal(st->events_published, 1);
    assert_int_equal(relay_loop_confirmable(fx->relay), lsn + 0x300);
}

/* A PostRated logical message envelope around `payload` (the caller frees it). */
static char *rated_envelope(const char *id, const char *payload)
{
    char *env = NULL;
    assert_true(asprintf(&env,
                         "{\"id\": \"%s\", \"aggregate_type\": \"post\", \"aggregate_id\": \"p1\", "
                         "\"event_type\": \"PostRated\", \"payload\": %s, \"headers\": {}}",
                         id, payload) > 0);
    return env;
}

/* One payload, one outcome, whether a row or a logical message carries it: a 20-digit integer
 * (valid JSON that jansson cannot hold) is a double's value, and out of range for a long (a
 * schema mismatch, never invalid_json). The same Avro bytes reach Kafka either way. */
static void test_a_payload_has_one_outcome_as_a_row_and_as_a_message(void **state)
{
    struct env *fx = *state;
    const char *const on[] = {"outbox.logical-messages=true", NULL};
    const char *fits = "{\"id\": \"post-1\", \"score\": 12345678901234567890, \"votes\": 3}";
    const char *too_big = "{\"id\": \"post-2\", \"score\": 1.5, \"votes\": 12345678901234567890}";
    uint64_t lsn = INSERT_COMMIT_END + 0x1000;
    relay_start(fx, on);
    fixture *frames = fixture_load("outbox_insert.bin");
    feed(fx, frames, 1, 2); /* the Relation message of public.outbox */
    fixture_free(frames);

    char *msg_fits = rated_envelope("msg-fits", fits),
         *msg_big = rated_envelope("msg-big", too_big);
    assert_int_equal(feed_txn(fx, lsn, "row-fits", "PostRated", fits), 0);
    assert_int_equal(feed_message(fx, lsn + 0x200, true, msg_fits), 0);
    assert_int_equal(feed_txn(fx, lsn + 0x400, "row-big", "PostRated", too_big), 0);
    assert_int_equal(feed_message(fx, lsn + 0x600, true, msg_big), 0);
    free(msg_fits);
    free(msg_big);
    drain(fx);
    assert_null(relay_loop_failure(fx->relay));

    struct record recs[4], dead[4];
    assert_int_equal(consume(fx, "outbox.event.post", recs, 4), 2);
    assert_string_equal(recs[0].id, "row-fits");
    assert_string_equal(recs[1].id, "msg-fits");
    assert_int_equal(recs[0].value_len, recs[1].value_len);
    assert_memory_equal(recs[0].value, recs[1].value, recs[0].value_len);
    assert_int_equal(consume(fx, "outbox.event.post.dlq", dead, 4), 2);
    assert_string_equal(dead[0].id, "row-big");
    assert_string_equal(dead[1].id, "msg-big");
    assert_string_equal(dead[0].dlq_class, "schema_mismatch");
    assert_string_equal(dead[1].dlq_class, "schema_mismatch");
    assert_int_equal(relay_loop_confirmable(fx->relay), lsn + 0x700);
}

/* Reserved names in a message's "headers" are dropped, counted, and the event still publishes
 * with its own id. */
static void test_reserved_headers_are_counted(void **state)
{
    struct env *fx = *state;
    const char *const on[] = {"outbox.logical-messages=true", NULL};
    relay_start(fx, on);
    assert_int_equal(
        feed_message(
            fx, INSERT_COMMIT_END + 0x1000, true,
            "{\"id\": \"m-h\", \"aggregate_type\": \"post\", \"aggregate_id\": \"p1\", "
            "\"event_type\": \"PostPublished\", \"payload\": {\"id\": \"post-9\", "
            "\"published\": true}, \"headers\": {\"id\": \"forged\", \"outbox.xid\": \"1\"}}"),
        0);
    drain(fx);
    struct record recs[4];
    assert_int_equal(consume(fx, "outbox.event.post", recs, 4), 1);
    assert_string_equal(recs[0].id, "m-h"); /* the last "id" header is the relay's */
    assert_int_equal(relay_get_stats(fx->relay)->reserved_headers_dropped, 2);
}

static void test_event_above_message_max_bytes_is_a_small_dead_letter(void **state)
{
    struct env *fx = *state;
    const char *const extra[] = {"kafka.message.max.bytes=1000", NULL};
    uint64_t lsn = start_with_one_event(fx, extra);
    char *payload = big_payload(5000);
    assert_int_equal(feed_txn(fx, lsn + 0x200, "e-big", "PostCreated", payload), 0);
    free(payload);
    assert_int_equal(
        feed_txn(fx, lsn + 0x400, "e-3", "PostPublished", "{\"id\": \"p\", \"published\": true}"),
        0);
    drain(fx);
    assert_null(relay_loop_failure(fx->relay));
    assert_int_equal(relay_loop_confirmable(fx->relay), lsn + 0x500);
    struct record recs[8];
    assert_int_equal(consume(fx, "outbox.event.post", recs, 8), 2);
    assert_string_equal(recs[0].id, "e-1");
    assert_string_equal(recs[1].id, "e-3");
    assert_int_equal(consume(fx, "outbox.event.post.dlq", recs, 8), 1);
    assert_string_equal(recs[0].id, "e-big");
    assert_string_equal(recs[0].key, "agg-1");
    assert_string_equal(recs[0].dlq_class, "too_large");
    assert_int_equal(recs[0].value_len, 0);
    assert_true(atoi(recs[0].dlq_size) > 5000);
    assert_string_equal(recs[0].lsn, "0/1ECB748");
    assert_int_equal(relay_get_stats(fx->relay)->dead_letters[RELAY_DLQ_TOO_LARGE], 1);
}

static void test_too_large_with_stop_fails_after_flushing_what_came_before(void **state)
{
    struct env *fx = *state;
    const char *const extra[] = {"kafka.message.max.bytes=1000", "relay.on-too-large=stop", NULL};
    uint64_t lsn = start_with_one_event(fx, extra);
    char *payload = big_payload(5000);
    assert_int_equal(feed_txn(fx, lsn + 0x200, "e-big", "PostCreated", payload), -1);
    free(payload);
    assert_non_null(strstr(relay_loop_failure(fx->relay), "relay.on-too-large = stop"));
    relay_loop_drain(fx->relay, 20000);
    assert_true(relay_loop_confirmable(fx->relay) <= lsn + 0x100);
    struct record recs[8];
    assert_int_equal(consume(fx, "outbox.event.post", recs, 8), 1); /* e-1, queued before */
    assert_string_equal(recs[0].id, "e-1");
    assert_int_equal(consume(fx, "outbox.event.post.dlq", recs, 8), 0);
}

static void test_broker_refusal_as_too_large_is_a_small_dead_letter_before_confirming(void **state)
{
    struct env *fx = *state;
    uint64_t lsn = start_with_one_event(fx, NULL);
    drain(fx);
    /* The broker refuses the next produce request as too large (a topic's max.message.bytes). */
    rd_kafka_mock_push_request_errors(fx->mcluster, 0 /* Produce */, 1,
                                      RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
    assert_int_equal(
        feed_txn(fx, lsn + 0x200, "e-2", "PostPublished", "{\"id\": \"p\", \"published\": true}"),
        0);
    drain(fx);
    assert_null(relay_loop_failure(fx->relay));
    assert_int_equal(relay_loop_confirmable(fx->relay), lsn + 0x300);
    struct record recs[8];
    assert_int_equal(consume(fx, "outbox.event.post", recs, 8), 1);
    assert_int_equal(consume(fx, "outbox.event.post.dlq", recs, 8), 1);
    assert_string_equal(recs[0].id, "e-2");
    assert_string_equal(recs[0].dlq_class, "too_large");
    assert_int_equal(recs[0].value_len, 0);
    const relay_stats *st = relay_get_stats(fx->relay);
    assert_int_equal(st->dead_letters[RELAY_DLQ_TOO_LARGE], 1);
    assert_int_equal(st->delivery_failures, 0);
}

static void test_broker_refusal_as_too_large_with_stop_fails(void **state)
{
    struct env *fx = *state;
    const char *const extra[] = {"relay.on-too-large=stop", NULL};
    uint64_t lsn = start_with_one_event(fx, extra);
    drain(fx);
    rd_kafka_mock_push_request_errors(fx->mcluster, 0 /* Produce */, 1,
                                      RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
    assert_int_equal(
        feed_txn(fx, lsn + 0x200, "e-2", "PostPublished", "{\"id\": \"p\", \"published\": true}"),
        0);
    relay_loop_drain(fx->relay, 20000);
    assert_non_null(relay_loop_failure(fx->relay));
    assert_non_null(strstr(relay_loop_failure(fx->relay), "relay.on-too-large = stop"));
    assert_int_equal(relay_loop_confirmable(fx->relay), lsn + 0x100);
    struct record recs[8];
    assert_int_equal(consume(fx, "outbox.event.post.dlq", recs, 8), 0);
}

/* The cluster does not know the event topic (its metadata answers UNKNOWN_TOPIC_OR_PART, as a
 * broker back from an outage does while it creates the topic) for longer than
 * topic.metadata.propagation.max.ms: librdkafka gives the messages back unsent. The relay holds
 * them, unconfirmed, with the later ones behind them, and produces them again, in order and
 * once each, when the topic is known; only then is anything confirmed. */
static void test_unknown_topic_is_held_then_produced_in_order(void **state)
{
    struct env *fx = *state;
    rd_kafka_mock_topic_set_error(fx->mcluster, "outbox.event.post",
                                  RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
    static const char *const extra[] = {"kafka.topic.metadata.propagation.max.ms=100", NULL};
    uint64_t lsn = start_with_one_event(fx, extra);
    uint64_t start = relay_loop_confirmable(fx->relay);
    const char *payload = "{\"id\": \"post-9\", \"published\": false}";
    assert_int_equal(feed_txn(fx, lsn + 0x200, "e-2", "PostPublished", payload), 0);
    char err[512];
    const relay_stats *st = relay_get_stats(fx->relay);
    for (int i = 0; i < 100 && st->delivery_retries == 0; i++)
        assert_int_equal(relay_loop_service(fx->relay, 20, err, sizeof(err)), 0);
    assert_true(st->delivery_retries > 0);
    /* produced after the first ones came back: it waits behind them */
    assert_int_equal(feed_txn(fx, lsn + 0x400, "e-3", "PostPublished", payload), 0);
    for (int i = 0; i < 50; i++) /* a second of retries */
        assert_int_equal(relay_loop_service(fx->relay, 20, err, sizeof(err)), 0);
    assert_null(relay_loop_failure(fx->relay));
    assert_int_equal(relay_loop_confirmable(fx->relay), start);
    assert_int_equal(relay_loop_inflight(fx->relay), 3);
    assert_true(st->held_messages > 0);

    rd_kafka_mock_topic_set_error(fx->mcluster, "outbox.event.post", RD_KAFKA_RESP_ERR_NO_ERROR);
    drain(fx);
    assert_null(relay_loop_failure(fx->relay));
    assert_int_equal(st->held_messages, 0);
    assert_int_equal(relay_loop_confirmable(fx->relay), lsn + 0x500);
    struct record recs[8];
    assert_int_equal(consume(fx, "outbox.event.post", recs, 8), 3);
    assert_string_equal(recs[0].id, "e-1");
    assert_string_equal(recs[1].id, "e-2");
    assert_string_equal(recs[2].id, "e-3");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_captured_transaction_is_produced_then_confirmable,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_delivery_stops_confirmation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_topic_is_held_then_produced_in_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_synthetic_transactions_confirm_in_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_logical_messages_are_off_by_default, setup, teardown),
        cmocka_unit_test_setup_teardown(test_only_transactional_messages_publish, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_payload_has_one_outcome_as_a_row_and_as_a_message,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_reserved_headers_are_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_memory_while_encoding_stops_unconfirmed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_event_above_message_max_bytes_is_a_small_dead_letter,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_too_large_with_stop_fails_after_flushing_what_came_before, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_broker_refusal_as_too_large_is_a_small_dead_letter_before_confirming, setup,
            teardown),
        cmocka_unit_test_setup_teardown(test_broker_refusal_as_too_large_with_stop_fails, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
