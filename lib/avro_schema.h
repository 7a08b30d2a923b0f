#ifndef OUTBOX_AVRO_SCHEMA_H
#define OUTBOX_AVRO_SCHEMA_H

/*
 * Avro schemas: parsing, Parsing Canonical Form, CRC-64-AVRO fingerprints, and a directory of
 * event schemas looked up by event type or fingerprint.
 *
 * outbox_schema is an opaque, immutable handle. Parsing compiles the JSON text into a tree of
 * outbox_avro_node (declared below, read-only for callers) that the codec in avro_json.h walks
 * directly; field defaults are validated and pre-encoded once at parse time.
 *
 * Thread-safety: parsing and destroying need exclusive access; once parsed, a schema (and an
 * outbox_schemas set) is read-only and may be used from any number of threads at once.
 *
 * Not supported: references to named types defined in another file, aliases (accepted and
 * ignored). Schema resolution (reader/writer schemas) is avro_resolve.h.
 */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Result codes of the Avro modules (avro_schema, avro_json, wire). 0 is success. */
typedef enum outbox_avro_err {
    OUTBOX_AVRO_OK = 0,
    OUTBOX_AVRO_ERR_NOMEM = -1,     /* allocation failed */
    OUTBOX_AVRO_ERR_IO = -2,        /* reading a schema file or directory failed */
    OUTBOX_AVRO_ERR_SCHEMA = -3,    /* schema text is not a valid (supported) Avro schema */
    OUTBOX_AVRO_ERR_MISMATCH = -4,  /* JSON value does not fit the schema */
    OUTBOX_AVRO_ERR_TRUNCATED = -5, /* Avro binary ends before the value does */
    OUTBOX_AVRO_ERR_MALFORMED = -6, /* Avro binary is invalid (varint, index, UTF-8, trailing) */
    OUTBOX_AVRO_ERR_FRAMING = -7,   /* message framing (wire.h) unknown or short */
    OUTBOX_AVRO_ERR_NOT_FOUND = -8, /* no schema for that event type / fingerprint */
    OUTBOX_AVRO_ERR_RESOLVE = -9,   /* writer and reader schemas (or a value) do not resolve */
} outbox_avro_err;

/* Static name of a code ("mismatch", ...). Any thread. */
const char *outbox_avro_err_name(int err);

/*
 * True for errors caused by the message itself (MISMATCH, TRUNCATED, MALFORMED, FRAMING,
 * NOT_FOUND): retrying cannot help, the message belongs in a dead-letter topic. False for
 * NOMEM/IO/SCHEMA, which are failures of this process or its configuration. Any thread.
 */
int outbox_avro_err_is_permanent(int err);

typedef enum outbox_avro_type {
    OUTBOX_AVRO_NULL,
    OUTBOX_AVRO_BOOLEAN,
    OUTBOX_AVRO_INT,
    OUTBOX_AVRO_LONG,
    OUTBOX_AVRO_FLOAT,
    OUTBOX_AVRO_DOUBLE,
    OUTBOX_AVRO_BYTES,
    OUTBOX_AVRO_STRING,
    OUTBOX_AVRO_RECORD,
    OUTBOX_AVRO_ENUM,
    OUTBOX_AVRO_ARRAY,
    OUTBOX_AVRO_MAP,
    OUTBOX_AVRO_UNION,
    OUTBOX_AVRO_FIXED,
} outbox_avro_type;

/* Logical types the codec understands; others (and invalid ones) parse as NONE, per spec. */
typedef enum outbox_avro_logical {
    OUTBOX_AVRO_LOGICAL_NONE,
    OUTBOX_AVRO_LOGICAL_DATE,                   /* int */
    OUTBOX_AVRO_LOGICAL_TIME_MILLIS,            /* int */
    OUTBOX_AVRO_LOGICAL_TIME_MICROS,            /* long */
    OUTBOX_AVRO_LOGICAL_TIMESTAMP_MILLIS,       /* long */
    OUTBOX_AVRO_LOGICAL_TIMESTAMP_MICROS,       /* long */
    OUTBOX_AVRO_LOGICAL_LOCAL_TIMESTAMP_MILLIS, /* long */
    OUTBOX_AVRO_LOGICAL_LOCAL_TIMESTAMP_MICROS, /* long */
    OUTBOX_AVRO_LOGICAL_UUID,                   /* string */
    OUTBOX_AVRO_LOGICAL_DECIMAL,                /* bytes or fixed */
} outbox_avro_logical;

/*
 * The JSON form of a bytes or fixed value (not a decimal), chosen per type by the schema
 * property "outbox.encoding" on the bytes/fixed type object:
 *   {"type": "bytes", "outbox.encoding": "base64"}
 *   {"type": "fixed", "name": "Hash", "size": 32, "outbox.encoding": "base64"}
 * CODEPOINTS (the default, Avro's JSON encoding): a string of code points U+0000..U+00FF, one
 * per byte; a zero byte is "\u0000", which PostgreSQL's jsonb and json cannot store.
 * BASE64: RFC 4648 base64 (standard alphabet, '=' padding optional), which every JSON store
 * carries. The encoder reads and the decoder writes the same form, so a consumer sees what the
 * producer wrote. The binary Avro is the same either way (the property is not in the Parsing
 * Canonical Form, so fingerprints do not change).
 */
typedef enum outbox_avro_bytes_form {
    OUTBOX_AVRO_BYTES_CODEPOINTS = 0,
    OUTBOX_AVRO_BYTES_BASE64 = 1,
} outbox_avro_bytes_form;

/* Largest decimal precision the codec accepts (a larger one is rejected as unsupported). */
#define OUTBOX_AVRO_DECIMAL_MAX_PRECISION 300

typedef struct outbox_avro_node outbox_avro_node;

/* One record field. Owned by its schema; read-only. */
typedef struct outbox_avro_field {
    const char *name;
    size_t name_len;
    const outbox_avro_node *type;
    int has_default;
    const json_t *default_json; /* the "default" value as written, NULL if none */
    const uint8_t *default_bin; /* its Avro encoding (union: branch 0), set when has_default */
    size_t default_len;
} outbox_avro_field;

/* A compiled schema node. Owned by its schema; read-only; may be shared (named types). */
struct outbox_avro_node {
    outbox_avro_type type;
    outbox_avro_logical logical;
    const char *name;              /* full name of record/enum/fixed, else the type name ("map") */
    const char *short_name;        /* name without namespace (same as name for unnamed types) */
    size_t n;                      /* number of fields / symbols / branches */
    outbox_avro_field *fields;     /* record */
    const char **symbols;          /* enum */
    size_t *symbol_lens;           /* enum */
    const outbox_avro_node *items; /* array items, map values */
    const outbox_avro_node **branches; /* union */
    int null_branch;                   /* union: index of the "null" branch, or -1 */
    int enum_default;                  /* enum: index of its "default" symbol, or -1 */
    size_t size;                       /* fixed */
    int precision;                     /* decimal */
    int scale;                         /* decimal */
    size_t min_size;                   /* lower bound of the encoded size, for decoding */
    int id;                            /* named types: 0..n-1 within the schema; else -1 */
    outbox_avro_bytes_form bytes_form; /* bytes, fixed: their JSON form */
};

typedef struct outbox_schema outbox_schema;

/* Flags of outbox_schema_parse().
 * LAX_DEFAULTS: a default that does not fit its field's type is dropped (the field becomes
 * required) instead of failing the parse, and a misplaced or unknown "outbox.encoding" is
 * ignored; for foreign schemas only. */
#define OUTBOX_SCHEMA_LAX_DEFAULTS 0x1u

/*
 * Parse and compile an Avro schema from JSON text (`len` bytes; need not be NUL-terminated).
 * Validates names, duplicate definitions, unions, enum symbols, fixed sizes and field
 * defaults (which must fit the field type; for a union the first branch, per the spec), then
 * has avro-c parse it too (avro_reference.h): a schema avro-c refuses is refused with its
 * message.
 * On success *schema is a new handle the caller owns (outbox_schema_destroy()); on failure
 * returns OUTBOX_AVRO_ERR_SCHEMA or _NOMEM, *schema is NULL and errstr says what and where.
 * Any thread (the new handle is not shared yet).
 */
int outbox_schema_parse(const char *json, size_t len, unsigned flags, outbox_schema **schema,
                        char *errstr, size_t errstr_size) __attribute__((warn_unused_result));

/* Free a schema and everything it owns (nodes, strings). NULL is a no-op. No other thread may
 * be using it. */
void outbox_schema_destroy(outbox_schema *schema);

/* Full name of the top-level named type ("blog.events.PostCreated"), or the type name of an
 * unnamed top-level type ("string", "array"). Owned by the schema. Any thread. */
const char *outbox_schema_name(const outbox_schema *schema);

/* Name without namespace ("PostCreated"). Owned by the schema. Any thread. */
const char *outbox_schema_short_name(const outbox_schema *schema);

/* The JSON text the schema was parsed from, NUL-terminated. Owned by the schema. */
const char *outbox_schema_json(const outbox_schema *schema);

/* Parsing Canonical Form (Avro spec), NUL-terminated. Owned by the schema. Any thread. */
const char *outbox_schema_canonical(const outbox_schema *schema);

/* CRC-64-AVRO fingerprint of the canonical form. Any thread. */
uint64_t outbox_schema_fingerprint(const outbox_schema *schema);

/* Root node of the compiled tree, for the codec. Owned by the schema. Any thread. */
const outbox_avro_node *outbox_schema_root(const outbox_schema *schema);

/* CRC-64-AVRO (Rabin) fingerprint of `len` bytes, as defined by the Avro spec. Any thread. */
uint64_t outbox_avro_crc64(const void *data, size_t len);

/*
 * outbox_schemas: a set of top-level record schemas (the event types), immutable once loaded.
 */
typedef struct outbox_schemas outbox_schemas;

/* An empty set. Returns NULL when out of memory. Caller owns it (outbox_schemas_destroy()). */
outbox_schemas *outbox_schemas_new(void) __attribute__((warn_unused_result));

/*
 * Add a parsed schema; the set takes ownership on success (caller then sets its pointer to
 * NULL); on failure the caller still owns it. `origin` (e.g. a file name, may be NULL) is
 * only used in error messages. Fails with OUTBOX_AVRO_ERR_SCHEMA when the schema is not a
 * record, or its full name, short name or fingerprint is already in the set (event types
 * must be unambiguous). Needs exclusive access to the set.
 */
int outbox_schemas_add(outbox_schemas *schemas, outbox_schema *schema, const char *origin,
                       char *errstr, size_t errstr_size) __attribute__((warn_unused_result));

/*
 * Load every "*.avsc" file of `dir` (in name order) into a new set owned by the caller.
 * Each file holds one record schema. Errors name the file and what is wrong in it
 * (OUTBOX_AVRO_ERR_IO for unreadable paths, _SCHEMA for bad content, _NOMEM); an empty
 * directory is not an error. Any thread.
 */
int outbox_schemas_load_dir(const char *dir, outbox_schemas **schemas, char *errstr,
                            size_t errstr_size) __attribute__((warn_unused_result));

/* Free the set and every schema in it. NULL is a no-op. */
void outbox_schemas_destroy(outbox_schemas *schemas);

/* Number of schemas in the set, and the i-th one (load order; owned by the set). */
size_t outbox_schemas_count(const outbox_schemas *schemas);
const outbox_schema *outbox_schemas_get(const outbox_schemas *schemas, size_t i);

/*
 * The schema for an event type: a record's short name ("PostCreated") or full name
 * ("blog.events.PostCreated"). NULL when unknown. Owned by the set. Any thread.
 */
const outbox_schema *outbox_schemas_find(const outbox_schemas *schemas, const char *event_type);

/* The schema with this CRC-64-AVRO fingerprint, or NULL. Owned by the set. Any thread. */
const outbox_schema *outbox_schemas_find_fingerprint(const outbox_schemas *schemas,
                                                     uint64_t fingerprint);

#endif
