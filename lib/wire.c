#include "errstr.h"
#include "wire.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define CONFLUENT_MAGIC 0x00
#define SINGLE_OBJECT_MAGIC0 0xC3
#define SINGLE_OBJECT_MAGIC1 0x01

const char *outbox_wire_format_name(outbox_wire_format format)
{
    switch (format) {
    case OUTBOX_WIRE_CONFLUENT:
        return "confluent";
    case OUTBOX_WIRE_SINGLE_OBJECT:
        return "single-object";
    }
    return "unknown";
}

int outbox_wire_confluent_write(outbox_buf *buf, int32_t schema_id, char *errstr,
                                size_t errstr_size)
{
    uint8_t header[OUTBOX_WIRE_CONFLUENT_HEADER_SIZE];
    uint32_t id = (uint32_t)schema_id;

    if (schema_id < 0) {
        outbox_errstr_set(errstr, errstr_size, "schema id %d is negative", (int)schema_id);
        return OUTBOX_AVRO_ERR_FRAMING;
    }
    header[0] = CONFLUENT_MAGIC;
    header[1] = (uint8_t)(id >> 24);
    header[2] = (uint8_t)(id >> 16);
    header[3] = (uint8_t)(id >> 8);
    header[4] = (uint8_t)id;
    if (outbox_buf_append(buf, header, sizeof(header)) != 0) {
        outbox_errstr_set(errstr, errstr_size, "out of memory");
        return OUTBOX_AVRO_ERR_NOMEM;
    }
    return 0;
}

int outbox_wire_single_object_write(outbox_buf *buf, uint64_t fingerprint, char *errstr,
                                    size_t errstr_size)
{
    uint8_t header[OUTBOX_WIRE_SINGLE_OBJECT_HEADER_SIZE];
    int i;

    header[0] = SINGLE_OBJECT_MAGIC0;
    header[1] = SINGLE_OBJECT_MAGIC1;
    for (i = 0; i < 8; i++)
        header[2 + i] = (uint8_t)(fingerprint >> (8 * i));
    if (outbox_buf_append(buf, header, sizeof(header)) != 0) {
        outbox_errstr_set(errstr, errstr_size, "out of memory");
        return OUTBOX_AVRO_ERR_NOMEM;
    }
    return 0;
}

int outbox_wire_msg_parse(const void *data, size_t len, outbox_wire_msg *msg, char *errstr,
                          size_t errstr_size)
{
    const uint8_t *p = data;
    uint64_t fingerprint = 0;
    uint32_t id;
    int i;
    int rc;

    memset(msg, 0, sizeof(*msg));
    msg->schema_id = -1;
    if (len == 0 || p == NULL) {
        outbox_errstr_set(errstr, errstr_size, "empty message: no Avro framing");
        rc = OUTBOX_AVRO_ERR_FRAMING;
        goto done;
    }
    if (p[0] == CONFLUENT_MAGIC) {
        if (len < OUTBOX_WIRE_CONFLUENT_HEADER_SIZE) {
            outbox_errstr_set(errstr, errstr_size,
                              "message of %zu bytes is shorter than the %d-byte Confluent header",
                              len, OUTBOX_WIRE_CONFLUENT_HEADER_SIZE);
            rc = OUTBOX_AVRO_ERR_FRAMING;
            goto done;
        }
        id = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
        if (id > INT32_MAX) {
            outbox_errstr_set(errstr, errstr_size, "Confluent schema id 0x%08x is negative", id);
            rc = OUTBOX_AVRO_ERR_FRAMING;
            goto done;
        }
        msg->format = OUTBOX_WIRE_CONFLUENT;
        msg->schema_id = (int32_t)id;
        msg->body = p + OUTBOX_WIRE_CONFLUENT_HEADER_SIZE;
        msg->body_len = len - OUTBOX_WIRE_CONFLUENT_HEADER_SIZE;
        rc = 0;
        goto done;
    }
    if (p[0] == SINGLE_OBJECT_MAGIC0) {
        if (len >= 2 && p[1] != SINGLE_OBJECT_MAGIC1) {
            outbox_errstr_set(errstr, errstr_size,
                              "unknown single-object format version 0x%02x (expected 0xC3 0x01)",
                              p[1]);
            rc = OUTBOX_AVRO_ERR_FRAMING;
            goto done;
        }
        if (len < OUTBOX_WIRE_SINGLE_OBJECT_HEADER_SIZE) {
            outbox_errstr_set(
                errstr, errstr_size,
                "message of %zu bytes is shorter than the %d-byte single-object header", len,
                OUTBOX_WIRE_SINGLE_OBJECT_HEADER_SIZE);
            rc = OUTBOX_AVRO_ERR_FRAMING;
            goto done;
        }
        for (i = 7; i >= 0; i--)
            fingerprint = (fingerprint << 8) | p[2 + i];
        msg->format = OUTBOX_WIRE_SINGLE_OBJECT;
        msg->fingerprint = fingerprint;
        msg->body = p + OUTBOX_WIRE_SINGLE_OBJECT_HEADER_SIZE;
        msg->body_len = len - OUTBOX_WIRE_SINGLE_OBJECT_HEADER_SIZE;
        rc = 0;
        goto done;
    }
    outbox_errstr_set(
        errstr, errstr_size,
        "unknown framing: first byte 0x%02x (expected 0x00 for Confluent or 0xC3 0x01 for "
        "Avro single-object)",
        p[0]);
    rc = OUTBOX_AVRO_ERR_FRAMING;
done:
    if (rc != 0) {
        memset(msg, 0, sizeof(*msg));
        msg->schema_id = -1;
    }
    return rc;
}
