/*
 * Our Avro code against avro-c (the baseline), same run, alternating rounds, best round each:
 *
 *   encode   a CommentCreated from the outbox's JSON text: ours (outbox_avro_json_encode_text,
 *            the relay's hot path, JSON parsing included) against a LOWER BOUND of an avro-c
 *            path: json_loadb of the text + avro_value_write of a generic value already
 *            filled (filling it from the JSON, logical types included, is not counted: avro-c
 *            has no JSON reader for its values, we would have to write one).
 *   resolve  a CommentCreated v2 event (tests/fixtures/evolution/v2) to the v1 reader
 *            (schemas/): ours (outbox_avro_resolve, plan compiled once) against avro-c's
 *            avro_value_read into the writer's generic value + avro_value_write of its
 *            resolved reader (both: writer binary -> reader binary).
 *
 * Both sides must produce the same bytes first, or the comparison means nothing.
 * Usage: bench_avro_avroc [EVENTS_PER_ROUND]   (default 200000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <avro.h>

#include "avro_json.h"
#include "avro_resolve.h"
#include "avro_schema.h"
#include "avro_text.h"
#include "buf.h"
#include "bench_util.h"

#define ROUNDS 7

static const char payload[] =
    "{\"text\": \"Babbage would have liked this.\", \"post_id\": "
    "\"3f2b8c1e-9d4a-4e7b-8c21-5a6f0e9d1b27\", \"language\": \"en\", \"revision\": 3, "
    "\"author_id\": \"user-7\", \"comment_id\": \"9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d\", "
    "\"created_at\": \"2026-11-23T15:41:33.123Z\", \"visibility\": \"PUBLIC\", "
    "\"author_name\": \"Charles\", \"parent_comment_id\": null}";

struct side {
    outbox_schema *ours;
    avro_schema_t theirs;
    avro_value_iface_t *iface;
    avro_value_t value;
};

static int side_load(struct side *s, const char *path)
{
    size_t len = 0;
    char err[512];
    char *text = slurp(path, &len);
    int rc = -1;
    if (text != NULL && outbox_schema_parse(text, len, 0, &s->ours, err, sizeof err) == 0 &&
        avro_schema_from_json_length(text, len, &s->theirs) == 0 &&
        (s->iface = avro_generic_class_from_schema(s->theirs)) != NULL &&
        avro_generic_value_new(s->iface, &s->value) == 0)
        rc = 0;
    if (rc != 0)
        fprintf(stderr, "bench_avro_avroc: cannot load %s\n", path);
    free(text);
    return rc;
}

static void side_free(struct side *s)
{
    if (s->iface != NULL) {
        avro_value_decref(&s->value);
        avro_value_iface_decref(s->iface);
    }
    if (s->theirs != NULL)
        avro_schema_decref(s->theirs);
    outbox_schema_destroy(s->ours);
}

static double round_ours_encode(const outbox_schema *schema, long n, outbox_avro_scratch *scratch,
                                outbox_buf *buf)
{
    double start = now_ns();
    for (long i = 0; i < n; i++) {
        outbox_buf_reset(buf);
        if (outbox_avro_json_encode_text(schema, payload, sizeof payload - 1, scratch, buf, NULL,
                                         0) != 0)
            return -1;
    }
    return (now_ns() - start) / (double)n;
}

static double round_avroc_encode(avro_value_t *value, long n, char *out, size_t out_size,
                                 size_t *len)
{
    double start = now_ns();
    for (long i = 0; i < n; i++) {
        avro_writer_t w = avro_writer_memory(out, (int64_t)out_size);
        if (avro_value_write(w, value) != 0)
            return -1;
        *len = (size_t)avro_writer_tell(w);
        avro_writer_free(w);
    }
    return (now_ns() - start) / (double)n;
}

static double round_json_load(long n)
{
    double start = now_ns();
    for (long i = 0; i < n; i++) {
        json_t *value = json_loadb(payload, sizeof payload - 1, JSON_DECODE_ANY, NULL);
        if (value == NULL)
            return -1;
        json_decref(value);
    }
    return (now_ns() - start) / (double)n;
}

static double round_ours_resolve(const outbox_avro_plan *plan, const outbox_buf *in, long n,
                                 outbox_buf *out)
{
    double start = now_ns();
    for (long i = 0; i < n; i++) {
        outbox_buf_reset(out);
        if (outbox_avro_resolve(plan, in->data, in->len, out, NULL, 0) != 0)
            return -1;
    }
    return (now_ns() - start) / (double)n;
}

static double round_avroc_resolve(avro_value_t *writer_value, avro_value_t *resolved,
                                  const outbox_buf *in, long n, char *out, size_t out_size,
                                  size_t *len)
{
    double start = now_ns();
    for (long i = 0; i < n; i++) {
        avro_reader_t r = avro_reader_memory((const char *)in->data, (int64_t)in->len);
        avro_writer_t w = avro_writer_memory(out, (int64_t)out_size);
        if (avro_value_read(r, writer_value) != 0 || avro_value_write(w, resolved) != 0)
            return -1;
        *len = (size_t)avro_writer_tell(w);
        avro_reader_free(r);
        avro_writer_free(w);
    }
    return (now_ns() - start) / (double)n;
}

static void report(const char *what, double theirs, double ours)
{
    printf("%-8s avro-c %8.1f ns/event (baseline)   ours %8.1f ns/event   avro-c/ours %5.2f\n",
           what, theirs, ours, theirs / ours);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200000;
    struct side v2 = {0};
    struct side v1 = {0};
    outbox_avro_scratch scratch;
    outbox_buf enc = OUTBOX_BUF_INIT;
    outbox_buf res = OUTBOX_BUF_INIT;
    outbox_avro_plan *plan = NULL;
    avro_value_iface_t *resolver = NULL;
    avro_value_t resolved;
    static char out[4096];
    size_t out_len = 0;
    double best[5] = {0};
    char err[512];
    int rc = 1;

    outbox_avro_scratch_init(&scratch, 0);
    if (n <= 0 || side_load(&v2, FIXTURE_DIR "/evolution/v2/CommentCreated.avsc") != 0 ||
        side_load(&v1, SCHEMA_DIR "/CommentCreated.avsc") != 0)
        goto done;
    if (round_ours_encode(v2.ours, 1, &scratch, &enc) < 0) {
        fprintf(stderr, "bench_avro_avroc: our encoder rejects the payload\n");
        goto done;
    }
    avro_reader_t reader = avro_reader_memory((const char *)enc.data, (int64_t)enc.len);
    int filled = avro_value_read(reader, &v2.value);
    avro_reader_free(reader);
    if (filled != 0 || round_avroc_encode(&v2.value, 1, out, sizeof out, &out_len) < 0 ||
        out_len != enc.len || memcmp(out, enc.data, enc.len) != 0) {
        fprintf(stderr, "bench_avro_avroc: avro-c encodes the payload differently\n");
        goto done;
    }
    if (outbox_avro_plan_new(v2.ours, v1.ours, &plan, err, sizeof err) != 0 ||
        (resolver = avro_resolved_reader_new(v2.theirs, v1.theirs)) == NULL ||
        avro_resolved_reader_new_value(resolver, &resolved) != 0) {
        fprintf(stderr, "bench_avro_avroc: no resolver: %s\n", err);
        goto done;
    }
    avro_resolved_reader_set_source(&resolved, &v2.value);
    if (round_ours_resolve(plan, &enc, 1, &res) < 0 ||
        round_avroc_resolve(&v2.value, &resolved, &enc, 1, out, sizeof out, &out_len) < 0 ||
        out_len != res.len || memcmp(out, res.data, res.len) != 0) {
        fprintf(stderr, "bench_avro_avroc: the resolvers disagree\n");
        goto done;
    }
    for (int r = 0; r < ROUNDS; r++) {
        double t[5] = {
            round_avroc_encode(&v2.value, n, out, sizeof out, &out_len),
            round_ours_encode(v2.ours, n, &scratch, &enc),
            round_avroc_resolve(&v2.value, &resolved, &enc, n, out, sizeof out, &out_len),
            round_ours_resolve(plan, &enc, n, &res), round_json_load(n)};
        for (int k = 0; k < 5; k++) {
            if (t[k] < 0) {
                fprintf(stderr, "bench_avro_avroc: a round failed\n");
                goto done;
            }
            if (r == 0 || t[k] < best[k])
                best[k] = t[k];
        }
    }
    printf("CommentCreated v2: JSON %zu bytes -> Avro %zu bytes; as v1: %zu bytes; %ld events x "
           "%d rounds (best round)\n",
           sizeof payload - 1, enc.len, res.len, n, ROUNDS);
    printf("encode: avro-c path = json_loadb %.1f + avro_value_write %.1f ns/event (filling "
           "the value not counted)\n",
           best[4], best[0]);
    report("encode", best[4] + best[0], best[1]);
    report("resolve", best[2], best[3]);
    rc = 0;
done:
    if (resolver != NULL) {
        avro_value_decref(&resolved);
        avro_value_iface_decref(resolver);
    }
    outbox_avro_plan_free(plan);
    side_free(&v1);
    side_free(&v2);
    outbox_buf_free(&enc);
    outbox_buf_free(&res);
    outbox_avro_scratch_free(&scratch);
    return rc;
}
