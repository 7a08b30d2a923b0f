/* projector_decoder: framed Avro record -> event with JSON value. */
#include "projector_decode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "avro_json.h"
#include "avro_resolve.h"
#include "wire.h"

typedef struct cached_schema {
    int32_t id;
    outbox_schema *schema;
} cached_schema;

/* A (writer, reader) pair's plan, or why the pair does not resolve. */
typedef struct cached_plan {
    const outbox_schema *writer;
    const outbox_schema *reader;
    outbox_avro_plan *plan; /* NULL: unresolvable, see why */
    char *why;
} cached_plan;

struct projector_decoder {
    const outbox_schemas *schemas;
    const outbox_schemas *readers;        /* NULL: values keep their writer's shape */
    const outbox_schema_history *history; /* earlier writer schemas, by fingerprint */
    outbox_registry *registry;
    cached_schema *cache;
    size_t cache_count;
    cached_plan *plans;
    size_t plan_count;
    outbox_buf resolved; /* the reader-shaped binary of the current value */
};

projector_decoder *projector_decoder_new(const outbox_schemas *schemas, outbox_registry *registry)
{
    projector_decoder *dec = calloc(1, sizeof *dec);
    if (dec == NULL)
        return NULL;
    dec->schemas = schemas;
    dec->registry = registry;
    return dec;
}

void projector_decoder_free(projector_decoder *dec)
{
    if (dec == NULL)
        return;
    for (size_t i = 0; i < dec->cache_count; i++)
        outbox_schema_destroy(dec->cache[i].schema);
    free(dec->cache);
    for (size_t i = 0; i < dec->plan_count; i++) {
        outbox_avro_plan_free(dec->plans[i].plan);
        free(dec->plans[i].why);
    }
    free(dec->plans);
    outbox_buf_free(&dec->resolved);
    free(dec);
}

void projector_decoder_set_readers(projector_decoder *dec, const outbox_schemas *readers,
                                   const outbox_schema_history *history)
{
    dec->readers = readers;
    dec->history = history;
}

/* The cached plan of (writer, reader), compiled on first use. NULL only on ENOMEM. */
static const cached_plan *plan_for(projector_decoder *dec, const outbox_schema *writer,
                                   const outbox_schema *reader)
{
    char why[512];
    for (size_t i = 0; i < dec->plan_count; i++)
        if (dec->plans[i].writer == writer && dec->plans[i].reader == reader)
            return &dec->plans[i];
    cached_plan *grown = realloc(dec->plans, (dec->plan_count + 1) * sizeof *grown);
    if (grown == NULL)
        return NULL;
    dec->plans = grown;
    cached_plan entry = {.writer = writer, .reader = reader};
    int rc = outbox_avro_plan_new(writer, reader, &entry.plan, why, sizeof why);
    if (rc == OUTBOX_AVRO_ERR_NOMEM)
        return NULL;
    if (rc != OUTBOX_AVRO_OK && (entry.why = strdup(why)) == NULL)
        return NULL;
    dec->plans[dec->plan_count] = entry;
    return &dec->plans[dec->plan_count++];
}

/*
 * With reader schemas: the reader schema of the writer's record (by full, else short name)
 * and the value resolved to it (*body points into dec->resolved). Without one for that
 * record, or when it is the writer's own schema, the value is left as written.
 */
static projector_decode_rc resolve_to_reader(projector_decoder *dec, const outbox_schema **schema,
                                             const uint8_t **body, size_t *body_len, char *errstr,
                                             size_t errstr_size)
{
    const outbox_schema *writer = *schema;
    const outbox_schema *reader = NULL;
    char why[512];

    if (dec->readers == NULL)
        return PROJECTOR_DECODE_OK;
    reader = outbox_schemas_find(dec->readers, outbox_schema_name(writer));
    if (reader == NULL)
        reader = outbox_schemas_find(dec->readers, outbox_schema_short_name(writer));
    if (reader == NULL || outbox_schema_fingerprint(reader) == outbox_schema_fingerprint(writer))
        return PROJECTOR_DECODE_OK;
    const cached_plan *cp = plan_for(dec, writer, reader);
    if (cp == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return PROJECTOR_DECODE_FATAL;
    }
    if (cp->plan == NULL) {
        snprintf(errstr, errstr_size,
                 "writer schema %s (fingerprint %016llx) cannot be read with the reader schema "
                 "(fingerprint %016llx): %s",
                 outbox_schema_name(writer), (unsigned long long)outbox_schema_fingerprint(writer),
                 (unsigned long long)outbox_schema_fingerprint(reader), cp->why);
        return PROJECTOR_DECODE_DEAD;
    }
    outbox_buf_reset(&dec->resolved);
    int rc = outbox_avro_resolve(cp->plan, *body, *body_len, &dec->resolved, why, sizeof why);
    if (rc != OUTBOX_AVRO_OK) {
        snprintf(errstr, errstr_size, "Avro value of %s does not resolve to the reader schema: %s",
                 outbox_schema_name(writer), why);
        return rc == OUTBOX_AVRO_ERR_NOMEM ? PROJECTOR_DECODE_FATAL : PROJECTOR_DECODE_DEAD;
    }
    *schema = reader;
    *body = dec->resolved.data;
    *body_len = dec->resolved.len;
    return PROJECTOR_DECODE_OK;
}

/* The writer schema of a Confluent-framed value: cache, else registry. */
static projector_decode_rc schema_by_id(projector_decoder *dec, int32_t id,
                                        const outbox_schema **schema, char *errstr,
                                        size_t errstr_size)
{
    char why[512];
    for (size_t i = 0; i < dec->cache_count; i++)
        if (dec->cache[i].id == id) {
            *schema = dec->cache[i].schema;
            return PROJECTOR_DECODE_OK;
        }
    if (dec->registry == NULL) {
        snprintf(errstr, errstr_size,
                 "Confluent-framed value (schema id %d) but no registry is configured "
                 "(set registry.url)",
                 (int)id);
        return PROJECTOR_DECODE_DEAD;
    }
    const char *text = NULL;
    outbox_registry_err err = outbox_registry_lookup(dec->registry, id, &text, why, sizeof why);
    if (err != OUTBOX_REGISTRY_OK) {
        snprintf(errstr, errstr_size, "schema id %d: %s", (int)id, why);
        if (err == OUTBOX_REGISTRY_ERR_NOMEM)
            return PROJECTOR_DECODE_FATAL;
        if (outbox_registry_err_is_retriable(err))
            return PROJECTOR_DECODE_RETRY;
        /* An unknown id is the record's fault; auth or a wrong URL is ours, but retrying
         * forever would stall every projection: the reason says which. */
        return err == OUTBOX_REGISTRY_ERR_NOT_FOUND ? PROJECTOR_DECODE_DEAD
                                                    : PROJECTOR_DECODE_RETRY;
    }
    outbox_schema *parsed = NULL;
    int rc = outbox_schema_parse(text, strlen(text), OUTBOX_SCHEMA_LAX_DEFAULTS, &parsed, why,
                                 sizeof why);
    if (rc != OUTBOX_AVRO_OK) {
        snprintf(errstr, errstr_size, "schema id %d from the registry: %s", (int)id, why);
        return rc == OUTBOX_AVRO_ERR_NOMEM ? PROJECTOR_DECODE_FATAL : PROJECTOR_DECODE_DEAD;
    }
    cached_schema *grown = realloc(dec->cache, (dec->cache_count + 1) * sizeof *grown);
    if (grown == NULL) {
        outbox_schema_destroy(parsed);
        snprintf(errstr, errstr_size, "out of memory");
        return PROJECTOR_DECODE_FATAL;
    }
    dec->cache = grown;
    dec->cache[dec->cache_count].id = id;
    dec->cache[dec->cache_count].schema = parsed;
    dec->cache_count++;
    *schema = parsed;
    return PROJECTOR_DECODE_OK;
}

projector_decode_rc projector_decode_value(projector_decoder *dec, const void *data, size_t len,
                                           char **json, const char **schema_name, char *errstr,
                                           size_t errstr_size)
{
    outbox_wire_msg wire;
    const outbox_schema *schema = NULL;
    char why[512];
    json_t *value = NULL;

    *json = NULL;
    *schema_name = NULL;
    if (outbox_wire_msg_parse(data, len, &wire, errstr, errstr_size) != OUTBOX_AVRO_OK)
        return PROJECTOR_DECODE_DEAD;
    if (wire.format == OUTBOX_WIRE_CONFLUENT) {
        projector_decode_rc rc = schema_by_id(dec, wire.schema_id, &schema, errstr, errstr_size);
        if (rc != PROJECTOR_DECODE_OK)
            return rc;
    } else {
        if (dec->schemas != NULL)
            schema = outbox_schemas_find_fingerprint(dec->schemas, wire.fingerprint);
        if (schema == NULL)
            schema = outbox_schema_history_find_fingerprint(dec->history, wire.fingerprint);
        if (schema == NULL) {
            snprintf(errstr, errstr_size,
                     "no schema with fingerprint %016llx in the schemas directory "
                     "(avro.schema-dir) or the schema history (avro.schema-history)",
                     (unsigned long long)wire.fingerprint);
            return PROJECTOR_DECODE_DEAD;
        }
    }
    const uint8_t *body = wire.body;
    size_t body_len = wire.body_len;
    projector_decode_rc resolved =
        resolve_to_reader(dec, &schema, &body, &body_len, errstr, errstr_size);
    if (resolved != PROJECTOR_DECODE_OK)
        return resolved;
    int rc = outbox_avro_json_decode(schema, body, body_len, 0, &value, NULL, why, sizeof why);
    if (rc != OUTBOX_AVRO_OK) {
        snprintf(errstr, errstr_size, "Avro value does not match %s: %s",
                 outbox_schema_name(schema), why);
        return rc == OUTBOX_AVRO_ERR_NOMEM ? PROJECTOR_DECODE_FATAL : PROJECTOR_DECODE_DEAD;
    }
    *json = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(value);
    if (*json == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return PROJECTOR_DECODE_FATAL;
    }
    *schema_name = outbox_schema_short_name(schema);
    return PROJECTOR_DECODE_OK;
}

char *projector_header_dup(const rd_kafka_message_t *msg, const char *name)
{
    rd_kafka_headers_t *hdrs = NULL;
    const void *value = NULL;
    size_t size = 0;
    if (rd_kafka_message_headers(msg, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return NULL;
    if (rd_kafka_header_get_last(hdrs, name, &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        value == NULL)
        return NULL;
    return strndup(value, size);
}

/* The outbox.commit_time header as $8 takes it: RFC 3339 text (what the relay writes) in
 * canonical UTC form, so PostgreSQL's own date parsing and TimeZone never matter. Anything
 * else (e.g. epoch milliseconds from another producer) is dropped: $8 is then NULL, as when
 * the header is absent, and the event is applied (a mapping that does not use $8 must not
 * dead-letter for it). 0, or -1 on ENOMEM. */
static int commit_time_take(const rd_kafka_message_t *msg, projector_event *ev)
{
    char canon[OUTBOX_RFC3339_MAX];
    int64_t micros;
    char *raw = projector_header_dup(msg, "outbox.commit_time");
    ev->commit_time = NULL;
    ev->commit_time_ignored = false;
    if (raw == NULL)
        return 0;
    if (!outbox_rfc3339_to_micros(raw, strlen(raw), &micros) ||
        !outbox_rfc3339_from_micros(micros, canon, sizeof canon)) {
        ev->commit_time_ignored = true;
        free(raw);
        return 0;
    }
    free(raw);
    ev->commit_time = strdup(canon);
    return ev->commit_time == NULL ? -1 : 0;
}

projector_decode_rc projector_decode_message(projector_decoder *dec, const rd_kafka_message_t *msg,
                                             projector_event *ev, char *errstr, size_t errstr_size)
{
    const char *schema_name = NULL;
    char *id = NULL;
    projector_decode_rc rc = PROJECTOR_DECODE_FATAL;

    ev->topic = strdup(rd_kafka_topic_name(msg->rkt));
    if (ev->topic == NULL)
        goto nomem;
    ev->partition = msg->partition;
    ev->offset = msg->offset;
    ev->event_type = projector_header_dup(msg, "event_type");
    ev->aggregate_id = projector_header_dup(msg, "aggregate_id");
    ev->aggregate_type = projector_header_dup(msg, "aggregate_type");
    if (ev->aggregate_id == NULL && msg->key != NULL)
        ev->aggregate_id = strndup(msg->key, msg->key_len);
    if (commit_time_take(msg, ev))
        goto nomem;
    id = projector_header_dup(msg, "id");
    if (id == NULL || projector_uuid_normalize(id, strlen(id), ev->id)) {
        ev->id[0] = '\0';
        snprintf(errstr, errstr_size, "%s header 'id' (the event id, a uuid)%s%s",
                 id ? "invalid" : "missing", id ? ": " : "", id ? id : "");
        rc = PROJECTOR_DECODE_DEAD;
        goto done;
    }
    if (msg->payload == NULL) {
        snprintf(errstr, errstr_size, "record has no value (tombstone)");
        rc = PROJECTOR_DECODE_DEAD;
        goto done;
    }
    rc = projector_decode_value(dec, msg->payload, msg->len, &ev->json, &schema_name, errstr,
                                errstr_size);
    if (rc == PROJECTOR_DECODE_OK && ev->event_type == NULL) {
        ev->event_type = strdup(schema_name);
        if (ev->event_type == NULL)
            goto nomem;
    }
    goto done;
nomem:
    snprintf(errstr, errstr_size, "out of memory");
    rc = PROJECTOR_DECODE_FATAL;
done:
    free(id);
    return rc;
}
