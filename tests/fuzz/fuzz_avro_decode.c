/*
 * fuzz_avro_decode: Avro values as consumers read them, in both framings: lib/wire.c
 * (outbox_wire_msg_parse), the decoder of lib/avro_json.c, and the projector's decoder
 * (projector/projector_decode.c) for single-object values.
 *
 * Input: a framed value. Confluent (0x00, 4-byte id, body): the id's low byte chooses the writer
 * schema among fuzz_schemas.h's list, the next two bits the decode flags (wrap unions, allow
 * trailing bytes). Single-object (0xC3 0x01, fingerprint, body): the schema with that
 * fingerprint, as the projector finds it (the seeds carry real fingerprints).
 *
 * Checks, beyond no crash, leak or undefined behaviour: whatever decodes must encode again
 * (outbox_avro_json_encode of the decoded JSON), and that encoding must be a fixed point:
 * it decodes to an equal JSON value and encodes to the same bytes. Unions rendered wrapped
 * ({"branch": value}) and plain decode alike and encode to the same bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "avro_json.h"
#include "fuzz_schemas.h"
#include "projector_decode.h"
#include "wire.h"

static void fail(const char *what, const outbox_schema *schema, const char *err)
{
    fprintf(stderr, "fuzz_avro_decode: %s (schema %s): %s\n", what, outbox_schema_name(schema),
            err);
    abort();
}

/* decode -> encode -> decode -> encode: the second round must change nothing. */
static void round_trip(const outbox_schema *schema, json_t *value, unsigned flags)
{
    outbox_buf first = {0}, second = {0};
    json_t *again = NULL;
    char err[512];

    if (outbox_avro_json_encode(schema, value, &first, err, sizeof err) != 0)
        fail("a decoded value does not encode", schema, err);
    if (outbox_avro_json_decode(schema, first.data, first.len, flags, &again, NULL, err,
                                sizeof err) != 0)
        fail("an encoded value does not decode", schema, err);
    /* Compared as text: jansson's json_equal() looks keys up as C strings, so it calls two
     * equal objects unequal when a key holds a NUL (Avro strings may). */
    char *a = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
    char *b = json_dumps(again, JSON_ENCODE_ANY | JSON_COMPACT);
    if (a == NULL || b == NULL)
        abort();
    if (strcmp(a, b) != 0) {
        fprintf(stderr, "v = %s\ndecode(encode(v)) = %s\n", a, b);
        fail("decode(encode(v)) != v", schema, "values differ");
    }
    free(a);
    free(b);
    if (outbox_avro_json_encode(schema, again, &second, err, sizeof err) != 0)
        fail("a decoded value does not encode the second time", schema, err);
    if (second.len != first.len || memcmp(first.data, second.data, first.len) != 0)
        fail("encode(decode(encode(v))) != encode(v)", schema, "bytes differ");
    json_decref(again);
    outbox_buf_free(&first);
    outbox_buf_free(&second);
}

/* Wrapped or plain unions are two renderings of one value: both encode to the same bytes. */
static void wrap_agrees(const outbox_schema *schema, const outbox_wire_msg *msg, unsigned flags,
                        const json_t *value, size_t consumed)
{
    outbox_buf a = {0}, b = {0};
    json_t *other = NULL;
    size_t other_consumed = 0;
    char err[512];

    if (outbox_avro_json_decode(schema, msg->body, msg->body_len,
                                flags ^ OUTBOX_AVRO_DECODE_WRAP_UNIONS, &other, &other_consumed,
                                err, sizeof err) != 0)
        fail("decodes with one union rendering but not the other", schema, err);
    if (other_consumed != consumed)
        fail("the two union renderings consume different lengths", schema, "");
    if (outbox_avro_json_encode(schema, value, &a, err, sizeof err) != 0 ||
        outbox_avro_json_encode(schema, other, &b, err, sizeof err) != 0)
        fail("a decoded value does not encode", schema, err);
    if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
        fail("wrapped and plain unions encode differently", schema, "bytes differ");
    json_decref(other);
    outbox_buf_free(&a);
    outbox_buf_free(&b);
}

static void projector_path(const uint8_t *data, size_t size)
{
    static projector_decoder *dec;
    char *json = NULL;
    const char *name = NULL;
    char err[512];

    if (dec == NULL && (dec = projector_decoder_new(fuzz_schema_set(), NULL)) == NULL)
        abort();
    if (projector_decode_value(dec, data, size, &json, &name, err, sizeof err) ==
            PROJECTOR_DECODE_OK &&
        (json == NULL || name == NULL))
        abort();
    free(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    outbox_wire_msg msg;
    const outbox_schema *schema = NULL;
    unsigned flags = 0;
    json_t *value = NULL;
    size_t consumed = 0;
    char err[512];

    if (outbox_wire_msg_parse(data, size, &msg, err, sizeof err) != 0)
        return 0;
    if (msg.body < data || msg.body + msg.body_len != data + size)
        abort();
    if (msg.format == OUTBOX_WIRE_CONFLUENT) {
        schema = fuzz_schema_get((uint32_t)msg.schema_id & 0xffu);
        flags = ((uint32_t)msg.schema_id >> 8) & 3u;
    } else {
        projector_path(data, size);
        schema = outbox_schemas_find_fingerprint(fuzz_schema_set(), msg.fingerprint);
        if (schema == NULL)
            return 0;
    }
    if (outbox_avro_json_decode(schema, msg.body, msg.body_len, flags, &value, &consumed, err,
                                sizeof err) != 0) {
        if (value != NULL)
            abort();
        return 0;
    }
    if (consumed > msg.body_len ||
        (!(flags & OUTBOX_AVRO_DECODE_ALLOW_TRAILING) && consumed != msg.body_len))
        fail("consumed bytes wrong", schema, "");
    round_trip(schema, value, flags);
    wrap_agrees(schema, &msg, flags, value, consumed);
    json_decref(value);
    return 0;
}
