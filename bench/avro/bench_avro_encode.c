/*
 * ns/event of the relay's encode step for a ~200-byte PostCreated payload: the jansson path
 * (json_loadb + outbox_avro_json_encode + json_decref, the baseline) against the fast path
 * (outbox_avro_json_encode_text with a warm scratch), measured in the same run, alternating
 * rounds; prints the best round of each and their ratio.
 *
 * Usage: bench_avro_encode [EVENTS_PER_ROUND]   (default 200000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "avro_json.h"
#include "avro_schema.h"
#include "avro_text.h"
#include "buf.h"
#include "bench_util.h"

#define ROUNDS 7

/* A PostCreated as PostgreSQL's jsonb text renders it (keys by length, then bytes), 270 bytes. */
static const char payload[] =
    "{\"body\": \"It might act upon other things besides number.\", \"tags\": [\"history\"], "
    "\"title\": \"Notes on the Analytical Engine\", \"post_id\": "
    "\"3f2b8c1e-9d4a-4e7b-8c21-5a6f0e9d1b27\", \"author_id\": \"user-42\", \"created_at\": "
    "\"2026-11-23T15:41:33.123Z\", \"author_name\": \"Ada Lovelace\"}";

/* One round of the jansson path; ns/event, or a negative value on error. */
static double round_jansson(const outbox_schema *schema, long events, outbox_buf *buf)
{
    double start = now_ns();
    long i;

    for (i = 0; i < events; i++) {
        json_t *value = json_loadb(payload, sizeof(payload) - 1, JSON_DECODE_ANY, NULL);

        outbox_buf_reset(buf);
        if (value == NULL || outbox_avro_json_encode(schema, value, buf, NULL, 0) != 0)
            return -1;
        json_decref(value);
    }
    return (now_ns() - start) / (double)events;
}

static double round_text(const outbox_schema *schema, long events, outbox_avro_scratch *scratch,
                         outbox_buf *buf)
{
    double start = now_ns();
    long i;

    for (i = 0; i < events; i++) {
        outbox_buf_reset(buf);
        if (outbox_avro_json_encode_text(schema, payload, sizeof(payload) - 1, scratch, buf, NULL,
                                         0) != 0)
            return -1;
    }
    return (now_ns() - start) / (double)events;
}

int main(int argc, char **argv)
{
    long events = argc > 1 ? atol(argv[1]) : 200000;
    outbox_schema *schema = NULL;
    outbox_avro_scratch scratch;
    outbox_buf slow = OUTBOX_BUF_INIT;
    outbox_buf fast = OUTBOX_BUF_INIT;
    double best_slow = 0;
    double best_fast = 0;
    char err[512];
    size_t len = 0;
    char *text;
    int rc = 1;
    int r;

    outbox_avro_scratch_init(&scratch, 0);
    text = slurp(SCHEMA_DIR "/PostCreated.avsc", &len);
    if (events <= 0 || text == NULL ||
        outbox_schema_parse(text, len, 0, &schema, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench_avro_encode: bad EVENTS or schema %s/PostCreated.avsc\n",
                SCHEMA_DIR);
        goto done;
    }
    /* same bytes first, or the comparison means nothing */
    if (round_jansson(schema, 1, &slow) < 0) {
        fprintf(stderr, "bench_avro_encode: the jansson path rejects the payload\n");
        goto done;
    }
    if (round_text(schema, 1, &scratch, &fast) < 0 || slow.len != fast.len ||
        memcmp(slow.data, fast.data, slow.len) != 0) {
        fprintf(stderr, "bench_avro_encode: the two paths disagree on the payload\n");
        goto done;
    }
    for (r = 0; r < ROUNDS; r++) {
        double s = round_jansson(schema, events, &slow);
        double f = round_text(schema, events, &scratch, &fast);

        if (s < 0 || f < 0) {
            fprintf(stderr, "bench_avro_encode: encoding failed\n");
            goto done;
        }
        if (r == 0 || s < best_slow)
            best_slow = s;
        if (r == 0 || f < best_fast)
            best_fast = f;
    }
    printf("payload %zu bytes -> %zu bytes Avro, %ld events x %d rounds (best round)\n",
           sizeof(payload) - 1, fast.len, events, ROUNDS);
    printf("jansson json_loadb + outbox_avro_json_encode  %8.1f ns/event (baseline)\n", best_slow);
    printf("outbox_avro_json_encode_text                  %8.1f ns/event\n", best_fast);
    printf("speedup                                       %8.2fx\n", best_slow / best_fast);
    rc = 0;
done:
    outbox_avro_scratch_free(&scratch);
    outbox_buf_free(&slow);
    outbox_buf_free(&fast);
    outbox_schema_destroy(schema);
    free(text);
    return rc;
}
