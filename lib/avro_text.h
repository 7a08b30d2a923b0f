#ifndef OUTBOX_AVRO_TEXT_H
#define OUTBOX_AVRO_TEXT_H

/*
 * A strict JSON tokenizer for the encoder's fast path (outbox_avro_json_encode_text() in
 * avro_json.h): JSON text becomes a flat array of tokens in a caller-owned, reusable scratch
 * object, without building a jansson tree. Once the scratch is warm (its arrays grown to the
 * largest document seen), tokenizing allocates nothing.
 *
 * It accepts EXACTLY a subset of what jansson 2.14's json_loadb(text, len, JSON_DECODE_ANY)
 * accepts (plus JSON_ALLOW_NUL with OUTBOX_AVRO_TEXT_ALLOW_NUL), with one extension: numbers
 * jansson cannot hold (an integer beyond int64, a real beyond a double's range; jansson fails
 * the whole document with "too big integer" / "real number overflow") are JSON and become
 * BIGNUM tokens. Otherwise the same grammar, whitespace, escapes, UTF-8 and surrogate rules,
 * no NUL in object keys. Stricter only where jansson would accept something unusual: containers
 * nested deeper than OUTBOX_AVRO_TEXT_MAX_DEPTH, or input of 4 GiB or more. A rejected document
 * is simply left to jansson.
 *
 * Tokens, in document order: a value is one token; an array token is followed by its elements,
 * an object token by key (STRING) and value tokens alternating. Every token's `next` is the
 * index of the token after it and everything it contains, so containers are skipped in O(1)
 * and an object's members are walked key -> value -> next key without recursion.
 *
 * Ownership: the scratch owns its arrays; tokens refer to the input text (which the caller
 * keeps alive while it uses them) or, for strings with escapes, to the scratch's own buffer.
 * Thread-safety: none; one thread uses a scratch at a time (e.g. one per relay thread).
 */

#include <stddef.h>
#include <stdint.h>

/* Deepest container nesting the tokenizer accepts (jansson allows 2048; deeper documents are
 * left to it). */
#define OUTBOX_AVRO_TEXT_MAX_DEPTH 512

/* Flags of outbox_avro_scratch_init().
 * ALLOW_NUL: accept "\u0000" in string values, like jansson's JSON_ALLOW_NUL. Without it such
 * a document is rejected, as json_loadb without that flag rejects it. */
#define OUTBOX_AVRO_TEXT_ALLOW_NUL 0x1u

typedef enum outbox_avro_tok_type {
    OUTBOX_AVRO_TOK_NULL,
    OUTBOX_AVRO_TOK_TRUE,
    OUTBOX_AVRO_TOK_FALSE,
    OUTBOX_AVRO_TOK_INTEGER, /* no '.', 'e' or 'E'; fits int64 */
    OUTBOX_AVRO_TOK_REAL,
    OUTBOX_AVRO_TOK_STRING,
    OUTBOX_AVRO_TOK_ARRAY,
    OUTBOX_AVRO_TOK_OBJECT,
    OUTBOX_AVRO_TOK_BIGNUM, /* a number jansson cannot hold: an integer beyond int64 (no '.',
                               'e' or 'E') or a real beyond +-DBL_MAX */
} outbox_avro_tok_type;

typedef struct outbox_avro_token {
    uint32_t start;  /* STRING: offset of its bytes (in the input, or in `str` when escaped);
                        numbers: offset of the number text in the input */
    uint32_t len;    /* STRING, numbers: length in bytes; ARRAY: elements; OBJECT: members */
    uint32_t next;   /* index of the first token after this value */
    uint32_t end;    /* offset in the input just past the value or key (a string's closing
                        quote included): a member's value text runs from after its key's end,
                        whitespace and ':' to the value's end (e.g. handed on as text) */
    uint8_t type;    /* outbox_avro_tok_type */
    uint8_t escaped; /* STRING: had escapes; its decoded UTF-8 is in scratch->str */
} outbox_avro_token;

/* The reusable state of the fast path. A value type: embed it, init once, free once. */
typedef struct outbox_avro_scratch {
    outbox_avro_token *toks; /* tokens of the last document */
    size_t n_toks;
    size_t toks_cap;
    char *str; /* decoded strings that had escapes */
    size_t str_len;
    size_t str_cap;
    uint32_t *marks; /* the encoder's per-record / per-map working space */
    size_t marks_cap;
    char *num; /* a NUL-terminated copy of a long number for strtod */
    size_t num_cap;
    unsigned flags; /* OUTBOX_AVRO_TEXT_* */
    int over_limit; /* the last outbox_avro_text_tokenize() failed on a limit of its own (depth,
                       size), not because the text is not JSON */
} outbox_avro_scratch;

/* An empty scratch with no allocation. Never fails. */
void outbox_avro_scratch_init(outbox_avro_scratch *scratch, unsigned flags);

/* Release what the scratch allocated; it is empty and reusable afterwards. NULL is a no-op. */
void outbox_avro_scratch_free(outbox_avro_scratch *scratch);

/*
 * Tokenize `len` bytes of JSON text (need not be NUL-terminated) into scratch->toks,
 * replacing the previous document's tokens. Returns 0, OUTBOX_AVRO_ERR_MALFORMED (errstr gives
 * the byte offset; not jansson's message) or OUTBOX_AVRO_ERR_NOMEM. After MALFORMED,
 * scratch->over_limit tells a limit of the tokenizer (nesting, size: the text may still be
 * JSON) from text that is not JSON.
 */
int outbox_avro_text_tokenize(outbox_avro_scratch *scratch, const char *json, size_t len,
                              char *errstr, size_t errstr_size) __attribute__((warn_unused_result));

/* Bytes of a STRING token: in `json` (the tokenized text) or in the scratch. */
static inline const char *outbox_avro_tok_str(const outbox_avro_scratch *scratch, const char *json,
                                              const outbox_avro_token *tok)
{
    return (tok->escaped ? scratch->str : json) + tok->start;
}

/* The int64 value of an INTEGER token. */
int64_t outbox_avro_tok_integer(const char *json, const outbox_avro_token *tok);

/*
 * The double value of an INTEGER, REAL or BIGNUM token, exactly as jansson computes it (strtod
 * under the current locale's decimal point: correctly rounded, so "10000000000000000000" and
 * "1e19" give the same double). A BIGNUM beyond a double's range gives +-HUGE_VAL. Returns 0, or
 * OUTBOX_AVRO_ERR_NOMEM when a very long number needs a buffer and none can be allocated.
 */
int outbox_avro_tok_double(outbox_avro_scratch *scratch, const char *json,
                           const outbox_avro_token *tok, double *value)
    __attribute__((warn_unused_result));

#endif
