#ifndef OUTBOX_AVRO_JSON_H
#define OUTBOX_AVRO_JSON_H

/*
 * The Avro codec: JSON (jansson) <-> Avro binary, driven by a compiled outbox_schema.
 *
 * ENCODING (the relay's hot path) walks the schema tree and the json_t together and appends
 * to a caller's outbox_buf; once the buffer is warm it allocates nothing.
 *   null      JSON null
 *   boolean   true / false
 *   int, long JSON integer in range (a real with an integral value up to 2^53 is accepted);
 *             out of range: "value 10000000000000000000 out of range for long [...]"
 *   float,    any JSON number, however spelled (PostgreSQL's jsonb prints 1e19 as twenty digits,
 *   double    which jansson cannot hold: see outbox_avro_json_encode_text()), correctly rounded;
 *             beyond the type's range a mismatch; or the strings "NaN", "Infinity", "-Infinity"
 *   string    JSON string
 *   bytes,    in the form the type's "outbox.encoding" chose (avro_schema.h): code points (the
 *   fixed     default, Avro JSON style: a string whose code points are 0..255, one byte each;
 *             a zero byte is "\u0000": load such payloads with jansson's JSON_ALLOW_NUL) or
 *             base64 (RFC 4648, '=' padding optional). fixed needs exactly `size` bytes.
 *   enum      JSON string naming a symbol
 *   array     JSON array; map: JSON object
 *   record    JSON object. A missing field takes its default, else it is an error. Members
 *             that are not fields of the record are IGNORED (so producers may add data ahead
 *             of the schema).
 *   union     JSON null selects the "null" branch. An object with exactly one member whose
 *             key names a branch ({"string": "x"}, {"blog.events.Foo": {...}}; Avro JSON
 *             encoding) selects that branch when its value fits it (else it is read as a
 *             plain value). Otherwise the first non-null branch that accepts the value is
 *             used (for ["null", X] that is X, and X's own error is reported).
 * Logical types:
 *   timestamp-millis/-micros  integer, or RFC 3339 string with offset
 *                             ("2026-11-23T15:41:33.123Z", "...T16:41:33.123+01:00"); extra
 *                             fraction digits are truncated toward the past (floor)
 *   local-timestamp-*         integer, or the same string without an offset
 *   date                      integer days since 1970-01-01, or "YYYY-MM-DD"
 *   time-millis/-micros       integer, or "HH:MM:SS[.fraction]"
 *   uuid                      string "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (hex, any case)
 *   decimal                   JSON integer, numeric string ("-12.30", "1.5e3"; exact, any
 *                             length) or JSON real (converted through its shortest
 *                             round-trip decimal text, so give more than 15 significant
 *                             digits as a string). Digits beyond `scale` must be zero (never
 *                             rounded); digits beyond `precision` are an error. Encoded as
 *                             big-endian two's complement: minimal length for bytes,
 *                             sign-extended to `size` for fixed.
 * Errors say where and what: "schema mismatch at comments[2].created_at: expected timestamp
 * string or integer, got boolean", "missing required field comment.author_id".
 *
 * DECODING (writer schema only, no resolution) is strict: truncated input, varints longer than
 * 10 bytes (5 for int) or out of range, bad union/enum indexes, invalid UTF-8, booleans other
 * than 0/1, uuid strings that are not uuids, decimals wider than their precision and trailing
 * bytes are errors (a repeated map key keeps the last value, as other Avro readers do).
 * Rendering: timestamps as RFC 3339 UTC strings with 3 (millis) or 6 (micros) fraction digits
 * ("2026-11-23T15:41:33.123Z"), local timestamps the same without "Z", date "YYYY-MM-DD",
 * time "HH:MM:SS.fff[fff]" (values outside years 0000-9999 or a day stay integers), uuid as
 * the string, decimal as a numeric string with exactly `scale` fraction digits ("-12.30"),
 * bytes and fixed in their type's form (code points 0..255 by default, or padded base64), NaN and
 * infinite floats as "NaN"/"Infinity"/"-Infinity", unions as the plain value, unless the
 * encoder would pick another branch for that value: then it is wrapped as
 * {"<branch name>": value}, so encode(decode(x)) reproduces x byte for byte.
 *
 * Thread-safety: all functions are reentrant; a schema may be shared, a buffer may not.
 */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "avro_schema.h"
#include "avro_text.h"
#include "buf.h"

/*
 * Result of the JSON -> Avro encoders, classified where the failure happens. Callers decide
 * from this code alone (never from errstr's text):
 *
 *   OUTBOX_AVRO_ENC_OK        encoded; the bytes were appended to the caller's buffer.
 *   DATA errors: a property of the EVENT. The same input fails the same way every time, so a
 *   relay may dead-letter it. errstr says what is wrong in words a producer can act on:
 *     OUTBOX_AVRO_ENC_NOT_JSON   the text is not JSON (encode_text only). errstr: "not valid
 *                                JSON: <jansson's reason> at line L column C".
 *     OUTBOX_AVRO_ENC_MISMATCH   valid JSON that does not fit the schema: wrong type, value out
 *                                of range (the range is named), missing required field, not a
 *                                symbol, bad timestamp text, nesting beyond the codec's limit...
 *                                errstr names the field path and what was expected: "schema
 *                                mismatch at comments[2].created_at: expected timestamp string
 *                                or integer, got boolean", "missing required field author_id".
 *   ENCODER failures: a property of THIS PROCESS, never the event's fault. The event must not
 *   be dead-lettered (retrying or stopping is the caller's choice):
 *     OUTBOX_AVRO_ENC_NOMEM      an allocation failed.
 *     OUTBOX_AVRO_ENC_INTERNAL   the encoder cannot handle its own input (a schema node it does
 *                                not support, an inconsistency between its two paths: a bug).
 *   OUTBOX_AVRO_ENC_DECLINED     only from outbox_avro_json_encode_text_fast(): the fast path
 *                                did not decide; run the full path. Never from the others.
 */
typedef enum outbox_avro_enc_rc {
    OUTBOX_AVRO_ENC_OK = 0,
    OUTBOX_AVRO_ENC_NOT_JSON = 1,
    OUTBOX_AVRO_ENC_MISMATCH = 2,
    OUTBOX_AVRO_ENC_NOMEM = -1,
    OUTBOX_AVRO_ENC_INTERNAL = -2,
    OUTBOX_AVRO_ENC_DECLINED = -3,
} outbox_avro_enc_rc;

/* True for the DATA errors (NOT_JSON, MISMATCH): the event's fault. Any thread. */
static inline int outbox_avro_enc_is_data(outbox_avro_enc_rc rc)
{
    return rc == OUTBOX_AVRO_ENC_NOT_JSON || rc == OUTBOX_AVRO_ENC_MISMATCH;
}

/* Static name of a code ("ok", "not_json", "mismatch", "nomem", "internal", "declined"). */
const char *outbox_avro_enc_rc_name(outbox_avro_enc_rc rc);

/*
 * Append the Avro binary encoding of `value` under `schema` to `buf`.
 * Returns OK, MISMATCH (errstr names the field path and what was expected), NOMEM or INTERNAL.
 * On error buf->len is back to its value on entry. The caller keeps ownership of everything;
 * nothing is retained.
 */
outbox_avro_enc_rc outbox_avro_json_encode(const outbox_schema *schema, const json_t *value,
                                           outbox_buf *buf, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* Same, against one node of a compiled schema (e.g. a record's field type). */
outbox_avro_enc_rc outbox_avro_json_encode_node(const outbox_avro_node *node, const json_t *value,
                                                outbox_buf *buf, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/*
 * Append the encoding of `len` bytes of JSON text (need not be NUL-terminated). This is the
 * AUTHORITATIVE text encoder: its result is final, do not re-parse the text on failure.
 *
 * It runs the fast path first (outbox_avro_json_encode_text_fast(): no jansson tree, tokens in
 * `scratch`, reused event after event, so a warm scratch and buffer allocate nothing). Only
 * when that fails does it run the reference path (outbox_avro_json_encode_text_reference():
 * jansson), which gives the exact reason. The two produce the same bytes for every input both
 * accept (tested differentially); the fast path never accepts what the reference rejects.
 * Numbers jansson cannot hold (an integer beyond int64, a real beyond a double) are JSON here:
 * a float/double takes them exactly, a decimal takes their digits, an int/long reports them out
 * of range (MISMATCH), never NOT_JSON.
 *
 * Returns OK, NOT_JSON, MISMATCH, NOMEM or INTERNAL (see outbox_avro_enc_rc). JSON_ALLOW_NUL
 * applies when the scratch has OUTBOX_AVRO_TEXT_ALLOW_NUL. On error buf->len is back to its
 * value on entry.
 *
 * Ownership: the caller keeps everything; the scratch's tokens point into `json` until the next
 * call. Thread-safety: reentrant; a scratch and a buffer are used by one thread at a time.
 */
outbox_avro_enc_rc outbox_avro_json_encode_text(const outbox_schema *schema, const char *json,
                                                size_t len, outbox_avro_scratch *scratch,
                                                outbox_buf *buf, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/*
 * The fast path alone (for tests and benchmarks; callers want outbox_avro_json_encode_text()).
 * When it succeeds, the bytes are exactly those of the reference path: same rules for every
 * type and logical type, defaults, unions (wrapped form and its fallback), and a repeated
 * object key keeps its last value in the place of its first, as in jansson's object. A decimal
 * given as a JSON real goes through the same double as on the jansson path (same bytes, same
 * loss beyond 15 significant digits). It may decline where the reference path succeeds
 * (nesting deeper than the limits, input of 4 GiB or more) and it formats no reasons.
 * Returns OK, DECLINED (anything else: not JSON, not fitting, not for the fast path) or NOMEM;
 * errstr gets a short hint. On error buf->len is back to its value on entry.
 */
outbox_avro_enc_rc outbox_avro_json_encode_text_fast(const outbox_schema *schema, const char *json,
                                                     size_t len, outbox_avro_scratch *scratch,
                                                     outbox_buf *buf, char *errstr,
                                                     size_t errstr_size)
    __attribute__((warn_unused_result));

/*
 * The reference path alone (for tests and benchmarks): json_loadb(json, len, JSON_DECODE_ANY
 * [| JSON_ALLOW_NUL when the scratch has OUTBOX_AVRO_TEXT_ALLOW_NUL]) followed by
 * outbox_avro_json_encode(). When jansson refuses the text only for a number it cannot hold,
 * the tree is built from the tokenizer's tokens instead (integers that fit int64 stay exact,
 * unlike JSON_DECODE_INT_AS_REAL). Our tokenizer also decides NOT_JSON, since jansson reports
 * some of its allocation failures as syntax errors. Returns OK, NOT_JSON, MISMATCH, NOMEM or
 * INTERNAL, with the exact reason. `scratch` is working space, as for the fast path.
 */
outbox_avro_enc_rc
outbox_avro_json_encode_text_reference(const outbox_schema *schema, const char *json, size_t len,
                                       outbox_avro_scratch *scratch, outbox_buf *buf, char *errstr,
                                       size_t errstr_size) __attribute__((warn_unused_result));

/*
 * Append the encoding of a field's default value (for a union: branch 0, per the spec). Used
 * by outbox_schema_parse() to validate and pre-encode defaults; callers need it rarely.
 */
outbox_avro_enc_rc outbox_avro_json_encode_default(const outbox_avro_field *field, outbox_buf *buf,
                                                   char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* Flags of outbox_avro_json_decode().
 * WRAP_UNIONS: render every non-null union value wrapped as {"<branch name>": value} (Avro
 * JSON style). ALLOW_TRAILING: bytes after the value are not an error. */
#define OUTBOX_AVRO_DECODE_WRAP_UNIONS 0x1u
#define OUTBOX_AVRO_DECODE_ALLOW_TRAILING 0x2u

/*
 * Decode `len` bytes of Avro binary written with `schema` into a new JSON value (*value,
 * owned by the caller: json_decref()). Returns 0, OUTBOX_AVRO_ERR_TRUNCATED,
 * OUTBOX_AVRO_ERR_MALFORMED (errstr gives the path and byte offset) or OUTBOX_AVRO_ERR_NOMEM;
 * on error *value is NULL. `consumed`, when not NULL, receives the bytes used.
 */
int outbox_avro_json_decode(const outbox_schema *schema, const void *data, size_t len,
                            unsigned flags, json_t **value, size_t *consumed, char *errstr,
                            size_t errstr_size) __attribute__((warn_unused_result));

/* Same, against one node of a compiled schema. */
int outbox_avro_json_decode_node(const outbox_avro_node *node, const void *data, size_t len,
                                 unsigned flags, json_t **value, size_t *consumed, char *errstr,
                                 size_t errstr_size) __attribute__((warn_unused_result));

/*
 * RFC 3339 date-time text, as the encoders accept it ("YYYY-MM-DDTHH:MM:SS[.frac]" then "Z" or
 * an offset; 't', 'z' and a space separator accepted; fraction digits past microseconds
 * dropped), to microseconds since the epoch. 1 and *micros set, or 0 when `s` (len bytes, no
 * terminator needed) is not such a text. Pure.
 */
int outbox_rfc3339_to_micros(const char *s, size_t len, int64_t *micros)
    __attribute__((warn_unused_result));

/* Room outbox_rfc3339_from_micros needs: "YYYY-MM-DDTHH:MM:SS.ffffffZ" and the NUL. */
#define OUTBOX_RFC3339_MAX 28

/*
 * Microseconds since the epoch as canonical RFC 3339 UTC text, "2026-11-23T15:41:33.123456Z",
 * into out (at least OUTBOX_RFC3339_MAX bytes). 1, or 0 when the year falls outside 0000-9999
 * or out is too small. Pure.
 */
int outbox_rfc3339_from_micros(int64_t micros, char *out, size_t out_size)
    __attribute__((warn_unused_result));

#endif
