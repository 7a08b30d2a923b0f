/*
 * fuzz_avro_text: the relay's JSON text -> Avro encoder, outbox_avro_json_encode_text() (the
 * tokenizer of lib/avro_text.c, the token walker of lib/avro_json.c, and its reference path).
 *
 * Input: JSON text (the Avro JSON fixtures of tests/fixtures/avro are the seeds). It is encoded
 * with one warm scratch, as the relay does event after event, against one schema of
 * fuzz_schemas.h chosen by the input's length (so a mutation that adds or removes a byte moves a
 * document to the next schema, and the fuzzer finds each seed's own); a document holding
 * "\u0000" also with a scratch that allows NUL.
 *
 * Checks, beyond no crash, leak or undefined behaviour: the answer is OK, NOT_JSON or MISMATCH
 * (never INTERNAL, never DECLINED); the output buffer is untouched on error; what encodes
 * decodes again under the same schema, using every byte.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "avro_json.h"
#include "avro_text.h"
#include "fuzz_schemas.h"

static void encode_one(outbox_avro_scratch *scratch, const char *json, size_t len)
{
    static outbox_buf buf;
    const outbox_schema *schema = fuzz_schema_get(len);
    json_t *value = NULL;
    size_t consumed = 0;
    char err[512];

    buf.len = 0;
    /* A prefix in the buffer: the encoder appends, and restores the length on error. */
    if (outbox_buf_append(&buf, "ab", 2) != 0)
        abort();
    outbox_avro_enc_rc rc =
        outbox_avro_json_encode_text(schema, json, len, scratch, &buf, err, sizeof err);
    if (rc != OUTBOX_AVRO_ENC_OK) {
        if (rc != OUTBOX_AVRO_ENC_NOT_JSON && rc != OUTBOX_AVRO_ENC_MISMATCH) {
            fprintf(stderr, "fuzz_avro_text: schema %s: %s: %s\n", outbox_schema_name(schema),
                    outbox_avro_enc_rc_name(rc), err);
            abort();
        }
        if (buf.len != 2 || memcmp(buf.data, "ab", 2) != 0)
            abort();
        return;
    }
    if (outbox_avro_json_decode(schema, buf.data + 2, buf.len - 2, 0, &value, &consumed, err,
                                sizeof err) != 0 ||
        consumed != buf.len - 2) {
        fprintf(stderr, "fuzz_avro_text: schema %s: the encoding does not decode: %s\n",
                outbox_schema_name(schema), err);
        abort();
    }
    json_decref(value);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static outbox_avro_scratch plain, allow_nul;
    static int ready;
    /* Exactly the input's bytes, not NUL-terminated: reading past them is an ASan error. */
    char *json = malloc(size ? size : 1);

    if (json == NULL)
        abort();
    if (!ready) {
        outbox_avro_scratch_init(&plain, 0);
        outbox_avro_scratch_init(&allow_nul, OUTBOX_AVRO_TEXT_ALLOW_NUL);
        ready = 1;
    }
    memcpy(json, data, size);
    encode_one(&plain, json, size);
    if (memmem(json, size, "\\u0000", 6) != NULL)
        encode_one(&allow_nul, json, size);
    free(json);
    return 0;
}
