#ifndef RELAY_ROUTE_H
#define RELAY_ROUTE_H

/*
 * relay_route: an outbox event -> Kafka topic, key, headers; or the reason it is a dead letter.
 *
 * Both outbox forms route the same way:
 *  - a row of the outbox table (columns found by name in the pgoutput Relation message; text
 *    values from the Insert tuple), and
 *  - a logical message (pg_logical_emit_message(true, '<prefix>', content)) whose content is a
 *    JSON envelope {"id", "aggregate_type", "aggregate_id", "event_type", "payload",
 *    "headers"} with the same meaning as the columns.
 *
 * The topic comes from a template with ${aggregate_type} and ${event_type} placeholders
 * (default "outbox.event.${aggregate_type}"); the key is the aggregate id; the headers are the
 * event's metadata plus every entry of the headers object except the reserved names (see
 * relay_route_header_reserved()), which are dropped and counted in the event.
 *
 * Pure: no I/O. A relay_route is immutable after relay_route_new() and may be shared by
 * threads; a relay_event is owned by one thread and reused from event to event.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RELAY_ROUTE_NCOLS 6

/* The outbox columns, in this order. */
enum relay_col {
    RELAY_COL_ID,
    RELAY_COL_AGGREGATE_TYPE,
    RELAY_COL_AGGREGATE_ID,
    RELAY_COL_EVENT_TYPE,
    RELAY_COL_PAYLOAD,
    RELAY_COL_HEADERS,
};

/* A column value of a pgoutput tuple (text format), or SQL NULL (ptr == NULL). */
typedef struct relay_value {
    const char *ptr;
    size_t len;
} relay_value;

typedef struct relay_route relay_route;

/* `topic_template` e.g. "outbox.event.${aggregate_type}"; `column_names` the six outbox
 * column names (NULL: the defaults id, aggregate_type, aggregate_id, event_type, payload,
 * headers). Returns NULL and fills errstr for a template with an unknown placeholder. */
relay_route *relay_route_new(const char *topic_template, const char *const *column_names,
                             char *errstr, size_t errstr_size) __attribute__((warn_unused_result));
void relay_route_free(relay_route *route);

/* Lazy payloads: relay_route_row() and relay_route_message() leave a JSON payload as text
 * (payload_text; payload_json NULL) for the caller to encode straight from text, parsing it with
 * relay_event_parse_payload() only when needed. Off by default. Set before the route is
 * shared. */
void relay_route_set_lazy_payload(relay_route *route, bool lazy);

/* The column name of `col` under this route (for messages). */
const char *relay_route_column_name(const relay_route *route, enum relay_col col);

/* One header: name and value bytes (not NUL-terminated). */
typedef struct relay_header {
    const char *name;
    const char *value;
    size_t value_len;
} relay_header;

/* A routed event. Strings point into the event's own storage, valid until the next
 * relay_event_reset() or relay_event_free(). */
typedef struct relay_event {
    const char *id;
    const char *aggregate_type;
    const char *aggregate_id;
    const char *event_type;
    const char *topic;
    /* The payload: JSON (parsed once, owned by the event) or raw bytes (bytea column:
     * passed through unchanged). */
    json_t *payload_json;
    const uint8_t *payload_bytes;
    size_t payload_bytes_len;
    /* The original payload text or bytes, for dead letters (a logical message: all of it). */
    const char *payload_raw;
    size_t payload_raw_len;
    /* The payload's JSON text, what the encoder reads: the payload column's text, or the
     * "payload" member's text inside a logical message (a span of payload_raw). Both kinds go
     * through the same encoder (outbox_avro_json_encode_text), so the same payload gets the
     * same outcome (e.g. a 20-digit number: a double, or out of range for a long). */
    const char *payload_text;
    size_t payload_text_len;
    relay_header *headers;
    size_t nheaders;
    /* Entries of the headers column/object dropped because their name is reserved. */
    size_t reserved_dropped;
    /* internal storage */
    char *store;
    size_t store_len, store_cap;
    size_t headers_cap;
} relay_event;

void relay_event_init(relay_event *ev);
void relay_event_reset(relay_event *ev);
void relay_event_free(relay_event *ev);

/* Metadata the relay knows from the transaction, added as headers. The text forms are made
 * once per transaction by relay_txn_meta_format() (routing formats them itself when `text`
 * is NULL or stale). */
typedef struct relay_txn_meta {
    uint32_t xid;
    uint64_t commit_lsn;
    int64_t commit_time_us; /* Unix epoch microseconds */
    struct relay_txn_text {
        uint64_t commit_lsn; /* what the text was made from */
        uint32_t xid;
        int64_t commit_time_us;
        char lsn[24], xid_text[12], time[40];
        size_t lsn_len, xid_len, time_len;
    } text;
} relay_txn_meta;

/* Format the header texts of `meta` (call when its fields change). */
void relay_txn_meta_format(relay_txn_meta *meta);

/* Why routing failed, classified where it happens. Positive: a property of the EVENT (the same
 * event fails the same way every time; the relay dead-letters it). Negative: a failure of the
 * relay itself (the event is fine; the relay must stop without confirming past it). */
typedef enum relay_route_err {
    RELAY_ROUTE_OK = 0,
    RELAY_ROUTE_NULL_COLUMN = 1,   /* a required field is NULL or missing */
    RELAY_ROUTE_INVALID_TOPIC = 2, /* the topic it routes to is not a legal Kafka topic name */
    RELAY_ROUTE_INVALID_JSON = 3,  /* payload, headers or envelope is not the JSON (or bytea hex
                                      text) expected */
    RELAY_ROUTE_ERR_NOMEM = -1,    /* out of memory */
    RELAY_ROUTE_ERR_INTERNAL = -2, /* the relay's own inconsistency (a bug) */
} relay_route_err;

/* Whether `err` is a property of the event (may be dead-lettered). */
static inline bool relay_route_err_is_event(relay_route_err err)
{
    return err > 0;
}

/* Route an outbox-table row. `values[c]` is the value of column c (enum relay_col) or NULL
 * for SQL NULL; `payload_is_bytea` when the payload column's type is bytea (text form
 * "\x<hex>"). Returns RELAY_ROUTE_OK and fills `ev`, or an error with errstr set to the reason
 * (for an event error the event is still filled as far as possible, for the dead letter's
 * headers). */
relay_route_err relay_route_row(const relay_route *route,
                                const relay_value values[RELAY_ROUTE_NCOLS], bool payload_is_bytea,
                                const relay_txn_meta *meta, relay_event *ev, char *errstr,
                                size_t errstr_size) __attribute__((warn_unused_result));

/* Parse the event's JSON payload (payload_text) into payload_json (a no-op when parsed).
 * RELAY_ROUTE_OK, RELAY_ROUTE_INVALID_JSON with errstr = the dead-letter reason ("payload is not
 * valid JSON: ..."), or RELAY_ROUTE_ERR_NOMEM. */
relay_route_err relay_event_parse_payload(relay_event *ev, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* Route a logical message's content (the JSON envelope). Same contract as relay_route_row. The
 * envelope is read with lib/avro_text's tokenizer (not jansson, which refuses a whole document
 * with a number beyond int64), so its "payload" reaches the encoder as text, as a row's does;
 * its "headers" object is read by jansson, as a row's headers column. */
relay_route_err relay_route_message(const relay_route *route, const char *content, size_t len,
                                    const relay_txn_meta *meta, relay_event *ev, char *errstr,
                                    size_t errstr_size) __attribute__((warn_unused_result));

/* Whether header `name` belongs to the relay: id, event_type, aggregate_type, aggregate_id or
 * any "outbox." name, compared case-insensitively. Such entries of the headers column (or of a
 * logical message's "headers") are not published: the event is, with the relay's own values,
 * and relay_event.reserved_dropped says how many were dropped. */
bool relay_route_header_reserved(const char *name);

#endif
