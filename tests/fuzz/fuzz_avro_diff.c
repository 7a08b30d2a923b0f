/*
 * fuzz_avro_diff: differential, the fast text encoder against the jansson one.
 *
 * Input: JSON text (the Avro JSON fixtures are the seeds), encoded against every schema of
 * fuzz_schemas.h both ways:
 *   text:    outbox_avro_json_encode_text(schema, json, len, scratch, ...)
 *   jansson: json_loadb(json, len, JSON_DECODE_ANY [| JSON_ALLOW_NUL]) then
 *            outbox_avro_json_encode(schema, value, ...)
 * Both flag settings are tried when the text holds "\u0000".
 *
 * Checks (the contract in avro_json.h and avro_text.h):
 *   - the tokenizer accepts exactly what json_loadb accepts, except documents nested deeper
 *     than OUTBOX_AVRO_TEXT_MAX_DEPTH, which it may refuse, and documents with a raw NUL byte:
 *     jansson 2.14 skips one NUL right after a number or a literal ("7\0" and "[7\0]" load as
 *     7 and [7]; its lexer takes the NUL for its own empty-buffer mark), the tokenizer refuses
 *     them, and the relay's fallback to jansson gives jansson's answer anyway (text from
 *     PostgreSQL holds no NUL byte);
 *   - when the text encoder succeeds, the jansson path succeeds with the same bytes;
 *   - when the text encoder refuses a document jansson loads, the jansson encoder refuses it
 *     too (same refusal), unless it is one of the exceptions above.
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

/* `exempt`: deeper than the tokenizer's limit, or a raw NUL byte (see above). */
static void compare(outbox_avro_scratch *scratch, size_t jflags, const char *json, size_t len)
{
    static outbox_buf text, tree;
    json_error_t jerr;
    char err[512];
    int exempt = json_depth(json, len) > OUTBOX_AVRO_TEXT_MAX_DEPTH || memchr(json, 0, len) != NULL;
    json_t *value = json_loadb(json, len, JSON_DECODE_ANY | jflags, &jerr);
    int tokenized = outbox_avro_text_tokenize(scratch, json, len, err, sizeof err) == 0;

    if (tokenized && value == NULL)
        fail("the tokenizer accepts what json_loadb refuses", NULL, jerr.text);
    if (!tokenized && value != NULL && !exempt)
        fail("the tokenizer refuses what json_loadb accepts", NULL, err);
    for (size_t i = 0; i < fuzz_schema_count(); i++) {
        const outbox_schema *schema = fuzz_schema_get(i);
        text.len = 0;
        tree.len = 0;
        int trc = outbox_avro_json_encode_text(schema, json, len, scratch, &text, err, sizeof err);
        if (value == NULL) {
            if (trc == 0)
                fail("text encodes what json_loadb refuses", schema, jerr.text);
            continue;
        }
        int jrc = outbox_avro_json_encode(schema, value, &tree, err, sizeof err);
        if (trc == 0 && jrc != 0)
            fail("text encodes what the jansson encoder refuses", schema, err);
        if (trc == 0 && (text.len != tree.len || memcmp(text.data, tree.data, text.len) != 0))
            fail("the two encoders give different bytes", schema, "");
        if (trc != 0 && jrc == 0 && !exempt)
            fail("text refuses what the jansson encoder encodes", schema, err);
    }
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
