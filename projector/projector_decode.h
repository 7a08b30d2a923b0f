#ifndef PROJECTOR_DECODE_H
#define PROJECTOR_DECODE_H

/*
 * projector_decoder: a Kafka record of the relay -> a projector_event (id, type, aggregate,
 * commit time, value as JSON text).
 *
 * Value wire formats, told apart by the first bytes (lib/wire):
 *   0x00 + 4-byte big-endian schema id + Avro binary      (Confluent framing; the writer
 *        schema is fetched from the registry by id, parsed once and cached per id)
 *   0xC3 0x01 + 8-byte little-endian CRC-64-AVRO fingerprint + Avro binary
 *        (Avro single-object encoding; the schema comes from the schemas directory)
 * With reader schemas (projector_decoder_set_readers) the value is first resolved to the
 * reader schema of its record. The Avro value becomes JSON through lib/avro_json (logical types
 * rendered: timestamps as RFC 3339 UTC, dates, uuids, decimals as strings).
 *
 * Headers read: `id` (required, a uuid), `event_type` (else the schema's short name),
 * `aggregate_id` (else the record key), `outbox.commit_time` (optional; kept in canonical
 * RFC 3339 UTC form when it is RFC 3339, else dropped with ev->commit_time_ignored set: the
 * event is still decoded, its commit time is NULL).
 *
 * Results: PROJECTOR_DECODE_OK; _DEAD when the record itself is bad (no value, unknown
 * framing or fingerprint, unknown schema id, Avro that does not match, no or bad id header):
 * errstr is the dead-letter reason; _RETRY when the registry cannot be reached now (back off
 * and try the same record again); _FATAL on out of memory.
 *
 * Threads: a decoder belongs to one thread (it owns a registry handle's cache use and its
 * own schema cache). The schemas set and registry are borrowed and must outlive it; the
 * registry handle must not be used by another thread meanwhile.
 */

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "avro_history.h"
#include "avro_schema.h"
#include "projector_batch.h"
#include "registry.h"

typedef enum projector_decode_rc {
    PROJECTOR_DECODE_OK = 0,
    PROJECTOR_DECODE_DEAD = 1,
    PROJECTOR_DECODE_RETRY = 2,
    PROJECTOR_DECODE_FATAL = 3,
} projector_decode_rc;

typedef struct projector_decoder projector_decoder;

/* schemas and registry may be NULL (that wire format then dead-letters with a reason naming
 * the missing setting). NULL on ENOMEM. */
projector_decoder *projector_decoder_new(const outbox_schemas *schemas, outbox_registry *registry)
    __attribute__((warn_unused_result));
void projector_decoder_free(projector_decoder *dec);

/*
 * history (avro.schema-history; NULL: none): earlier writer schemas, looked up by
 * fingerprint when the schemas directory has none for a single-object encoded value.
 * Reader schemas (a projection's reader-schemas directory; NULL: none, the default): a value
 * whose writer record has a reader schema of the same name is resolved to it by the Avro
 * rules (avro_resolve.h; one plan per (writer, reader) pair, cached), so the JSON has the
 * reader's shape. A pair that does not resolve, or a value that does not (an enum symbol or
 * union branch the reader lacks), is _DEAD with the reason. Borrowed; must outlive the decoder.
 */
void projector_decoder_set_readers(projector_decoder *dec, const outbox_schemas *readers,
                                   const outbox_schema_history *history);

/*
 * Decode a framed Avro value into JSON text (*json, malloc'd, caller frees) and the writer
 * schema's short name (*schema_name, owned by the decoder, valid until free).
 */
projector_decode_rc projector_decode_value(projector_decoder *dec, const void *data, size_t len,
                                           char **json, const char **schema_name, char *errstr,
                                           size_t errstr_size) __attribute__((warn_unused_result));

/*
 * Fill ev (topic, partition, offset, id, event_type, aggregate_id, commit_time, json) from a
 * consumed record. ev->msg is not touched. On _DEAD the fields that could be read are set and
 * errstr holds the reason.
 */
projector_decode_rc projector_decode_message(projector_decoder *dec, const rd_kafka_message_t *msg,
                                             projector_event *ev, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* A header value as a malloc'd C string, or NULL when absent (or ENOMEM). */
char *projector_header_dup(const rd_kafka_message_t *msg, const char *name);

#endif
