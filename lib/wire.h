#ifndef OUTBOX_WIRE_H
#define OUTBOX_WIRE_H

/*
 * Framing of Avro-encoded Kafka record values.
 *
 *   Confluent:      0x00, schema id (4 bytes, big-endian, >= 0), Avro body
 *                   (the id is the schema registry's; consumers fetch the schema by it)
 *   Single-object:  0xC3 0x01, CRC-64-AVRO fingerprint of the schema's canonical form
 *                   (8 bytes, little-endian), Avro body (Avro specification; the schema
 *                   comes from a local set, outbox_schemas_find_fingerprint())
 *
 * Writers append a header to an outbox_buf; encode the body after it with
 * outbox_avro_json_encode(). Parsing is pure and strict: input shorter than its header or
 * starting with anything else is rejected with a message saying what was seen.
 * All functions are reentrant; no state is kept.
 */

#include <stddef.h>
#include <stdint.h>

#include "avro_schema.h"
#include "buf.h"

#define OUTBOX_WIRE_CONFLUENT_HEADER_SIZE 5
#define OUTBOX_WIRE_SINGLE_OBJECT_HEADER_SIZE 10

typedef enum outbox_wire_format {
    OUTBOX_WIRE_CONFLUENT = 1,
    OUTBOX_WIRE_SINGLE_OBJECT = 2,
} outbox_wire_format;

/* A parsed message; `body` points into the caller's input (no copy, same lifetime). */
typedef struct outbox_wire_msg {
    outbox_wire_format format;
    int32_t schema_id;    /* CONFLUENT only, else -1 */
    uint64_t fingerprint; /* SINGLE_OBJECT only, else 0 */
    const uint8_t *body;
    size_t body_len;
} outbox_wire_msg;

/* "confluent" / "single-object" / "unknown". Static storage; any thread. */
const char *outbox_wire_format_name(outbox_wire_format format);

/* Append the Confluent header for `schema_id`. Returns 0, OUTBOX_AVRO_ERR_FRAMING for a
 * negative id, or OUTBOX_AVRO_ERR_NOMEM (buf unchanged on error). */
int outbox_wire_confluent_write(outbox_buf *buf, int32_t schema_id, char *errstr,
                                size_t errstr_size) __attribute__((warn_unused_result));

/* Append the single-object header for `fingerprint`. Returns 0 or OUTBOX_AVRO_ERR_NOMEM. */
int outbox_wire_single_object_write(outbox_buf *buf, uint64_t fingerprint, char *errstr,
                                    size_t errstr_size) __attribute__((warn_unused_result));

/*
 * Recognise the framing of `len` bytes at `data` and fill *msg (format, id or fingerprint,
 * body span; an empty body is allowed). Returns 0, or OUTBOX_AVRO_ERR_FRAMING with errstr
 * saying why (empty, too short for its header, unknown magic, negative schema id); *msg is
 * then zeroed. The caller keeps `data` alive while it uses msg->body.
 */
int outbox_wire_msg_parse(const void *data, size_t len, outbox_wire_msg *msg, char *errstr,
                          size_t errstr_size) __attribute__((warn_unused_result));

#endif
