/*
 * fuzz_avro_diff: differential, the fast text encoder against the jansson one.
 *
 * Input: JSON text (the Avro JSON fixtures are the seeds), encoded against one schema of
 * fuzz_schemas.h chosen by the input's length (a mutation that adds or removes a byte moves a
 * document to the next schema, so the fuzzer finds each seed's own), three ways:
 *   fast:      outbox_avro_json_encode_text_fast() (tokens, no tree);
 *   reference: outbox_avro_json_encode_text_reference() (jansson, BIGNUMs taken exactly);
 *   jansson:   json_loadb(json, len, JSON_DECODE_ANY [| JSON_ALLOW_NUL]) then
 *              outbox_avro_json_encode(schema, value, ...).
 * Both flag settings are tried when the text holds "\u0000".
 *
 * Checks (the contracts in avro_json.h and avro_text.h):
 *   - the tokenizer accepts what json_loadb accepts, plus documents with a BIGNUM (a number
 *     jansson cannot hold); it may refuse documents nested deeper than
 *     OUTBOX_AVRO_TEXT_MAX_DEPTH, and documents with a raw NUL byte: jansson 2.14 skips one NUL
 *     right after a number or a literal ("7\0" and "[7\0]" load as 7 and [7]; its lexer takes
 *     the NUL for its own empty-buffer mark), the tokenizer refuses them, and the reference path
 *     gives jansson's answer anyway (text from PostgreSQL holds no NUL byte);
 *   - fast succeeds => reference succeeds with the same bytes; fast declines where reference
 *     succeeds only for the exceptions above;
 *   - where json_loadb loads the text, the jansson encoder and the reference path give the
 *     same bytes, or both refuse with the same code (MISMATCH); where it does not, the
 *     reference path succeeds only for a document with a BIGNUM;
 *   - no path ever returns INTERNAL (an inconsistency between the paths: a bug).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "avro_json.h"
#include "avro_text.h"
#include "fuzz_schemas.h"

/* Deepest container nesting of a JSON text (strings skipped); garbage is fine. */
static size_t json_depth(const char *json, size_t len)
{
    size_t depth = 0, max = 0;
    int in_string = 0;

    for (size_t i = 0; i < len; i++) {
        char c = json[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > max)
                max = depth;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return max;
}

static void fail(const char *what, const outbox_schema *schema, const char *err)
{
    fprintf(stderr, "fuzz_avro_diff: %s (schema %s): %s\n", what,
            schema ? outbox_schema_name(schema) : "-", err);
    abort();
}

static int same(const outbox_buf *a, const outbox_buf *b)
{
    return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

/* One schema: fast, reference and jansson encoders side by side. */
static void compare_schema(const outbox_schema *schema, outbox_avro_scratch *scratch,
                           const char *json, size_t len, const json_t *value, int exempt,
                           int bignum)
{
    static outbox_buf fast, ref, tree;
    char err[512];

    fast.len = ref.len = tree.len = 0;
    outbox_avro_enc_rc frc =
        outbox_avro_json_encode_text_fast(schema, json, len, scratch, &fast, err, sizeof err);
    outbox_avro_enc_rc rrc =
        outbox_avro_json_encode_text_reference(schema, json, len, scratch, &ref, err, sizeof err);
    if (frc == OUTBOX_AVRO_ENC_INTERNAL || rrc == OUTBOX_AVRO_ENC_INTERNAL)
        fail("INTERNAL", schema, err);
    if (frc == OUTBOX_AVRO_ENC_OK && (rrc != OUTBOX_AVRO_ENC_OK || !same(&fast, &ref)))
        fail("fast and reference differ", schema, outbox_avro_enc_rc_name(rrc));
    if (frc != OUTBOX_AVRO_ENC_OK && rrc == OUTBOX_AVRO_ENC_OK && !exempt)
        fail("fast declines what the reference path encodes", schema, "");
    if (value == NULL) {
        if (rrc == OUTBOX_AVRO_ENC_OK && !bignum)
            fail("reference encodes what json_loadb refuses, without a BIGNUM", schema, "");
        return;
    }
    outbox_avro_enc_rc jrc = outbox_avro_json_encode(schema, value, &tree, err, sizeof err);
    if (jrc == OUTBOX_AVRO_ENC_INTERNAL)
        fail("INTERNAL from the jansson encoder", schema, err);
    if (jrc != rrc)
        fail("jansson encoder and reference path answer differently", schema,
             outbox_avro_enc_rc_name(jrc));
    if (jrc == OUTBOX_AVRO_ENC_OK && !same(&tree, &ref))
        fail("the jansson encoder and the text encoders give different bytes", schema, "");
}

static void compare(outbox_avro_scratch *scratch, size_t jflags, const char *json, size_t len)
{
    json_error_t jerr;
    char err[512];
    /* Deeper than the tokenizer's limit, or a raw NUL byte (see above). */
    int exempt = json_depth(json, len) > OUTBOX_AVRO_TEXT_MAX_DEPTH || memchr(json, 0, len) != NULL;
    json_t *value = json_loadb(json, len, JSON_DECODE_ANY | jflags, &jerr);
    int tokenized = outbox_avro_text_tokenize(scratch, json, len, err, sizeof err) == 0;
    int bignum = 0;

    for (size_t i = 0; tokenized && i < scratch->n_toks; i++)
        bignum |= scratch->toks[i].type == OUTBOX_AVRO_TOK_BIGNUM;
    if (tokenized && value == NULL && !bignum)
        fail("the tokenizer accepts what json_loadb refuses", NULL, jerr.text);
    if (!tokenized && value != NULL && !exempt)
        fail("the tokenizer refuses what json_loadb accepts", NULL, err);
    compare_schema(fuzz_schema_get(len), scratch, json, len, value, exempt, bignum);
    json_decref(value);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static outbox_avro_scratch plain, allow_nul;
    static int ready;
    char *json = malloc(size ? size : 1);

    if (json == NULL)
        abort();
    if (!ready) {
        outbox_avro_scratch_init(&plain, 0);
        outbox_avro_scratch_init(&allow_nul, OUTBOX_AVRO_TEXT_ALLOW_NUL);
        ready = 1;
    }
    memcpy(json, data, size);
    compare(&plain, 0, json, size);
    if (memmem(json, size, "\\u0000", 6) != NULL)
        compare(&allow_nul, JSON_ALLOW_NUL, json, size);
    free(json);
    return 0;
}
