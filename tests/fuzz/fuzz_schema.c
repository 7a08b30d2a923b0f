/*
 * fuzz_schema: Avro schema parsing, lib/avro_schema.c (with the default pre-encoding of
 * lib/avro_json.c it calls), as the relay reads schemas/ and as the projector reads a schema
 * fetched from a registry.
 *
 * Input, read two ways each run:
 *   - schema text: outbox_schema_parse() strict and with OUTBOX_SCHEMA_LAX_DEFAULTS;
 *   - a registry lookup answer ({"schema": "<text>", ...}): outbox_registry_parse_schema(),
 *     then outbox_schema_parse(LAX_DEFAULTS), exactly the projector's path.
 * Seeds: every .avsc of the tree, and corpus/fuzz_schema (registry answers).
 *
 * Checks, beyond no crash, leak or undefined behaviour, for every schema that parses:
 *   - the fingerprint is the CRC-64-AVRO of the canonical form, and the canonical form parses
 *     to itself (same canonical form, same fingerprint);
 *   - a strict parse that succeeds also succeeds lax, with the same canonical form;
 *   - 32 zero bytes decode under it (allowing trailing bytes) or are refused cleanly, and what
 *     decodes encodes again.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "avro_json.h"
#include "avro_schema.h"
#include "registry.h"

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_schema: %s: %s\n", what, detail);
    abort();
}

static void check_canonical(const outbox_schema *schema)
{
    const char *canonical = outbox_schema_canonical(schema);
    outbox_schema *again = NULL;
    char err[512];

    if (outbox_schema_fingerprint(schema) != outbox_avro_crc64(canonical, strlen(canonical)))
        fail("fingerprint is not the CRC-64-AVRO of the canonical form", canonical);
    if (outbox_schema_parse(canonical, strlen(canonical), 0, &again, err, sizeof err) != 0)
        fail("the canonical form does not parse", err);
    if (strcmp(outbox_schema_canonical(again), canonical) != 0)
        fail("the canonical form of the canonical form differs", canonical);
    outbox_schema_destroy(again);
}

static void check_codec(const outbox_schema *schema)
{
    static const uint8_t zeros[32];
    json_t *value = NULL;
    outbox_buf buf = {0};
    char err[512];

    if (outbox_avro_json_decode(schema, zeros, sizeof zeros, OUTBOX_AVRO_DECODE_ALLOW_TRAILING,
                                &value, NULL, err, sizeof err) != 0)
        return;
    if (outbox_avro_json_encode(schema, value, &buf, err, sizeof err) != 0)
        fail("a decoded value does not encode", err);
    json_decref(value);
    outbox_buf_free(&buf);
}

/* Parse `text` strictly and laxly; check what parses. */
static void parse_both(const char *text, size_t len)
{
    outbox_schema *strict = NULL, *lax = NULL;
    char err[512];

    int src = outbox_schema_parse(text, len, 0, &strict, err, sizeof err);
    int lrc = outbox_schema_parse(text, len, OUTBOX_SCHEMA_LAX_DEFAULTS, &lax, err, sizeof err);
    if ((src != 0) != (strict == NULL) || (lrc != 0) != (lax == NULL))
        fail("result code and handle disagree", err);
    if (src == 0 && lrc != 0)
        fail("parses strictly but not laxly", err);
    if (src == 0 && strcmp(outbox_schema_canonical(strict), outbox_schema_canonical(lax)) != 0)
        fail("strict and lax canonical forms differ", outbox_schema_canonical(strict));
    if (lax != NULL) {
        check_canonical(lax);
        check_codec(lax);
    }
    outbox_schema_destroy(strict);
    outbox_schema_destroy(lax);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1);
    char *fetched = NULL;
    char err[512];

    if (text == NULL)
        abort();
    memcpy(text, data, size);
    parse_both(text, size);
    if (outbox_registry_parse_schema(text, size, &fetched, err, sizeof err) == OUTBOX_REGISTRY_OK) {
        outbox_schema *schema = NULL;
        if (outbox_schema_parse(fetched, strlen(fetched), OUTBOX_SCHEMA_LAX_DEFAULTS, &schema, err,
                                sizeof err) == 0) {
            check_canonical(schema);
            check_codec(schema);
        }
        outbox_schema_destroy(schema);
        free(fetched);
    }
    free(text);
    return 0;
}
