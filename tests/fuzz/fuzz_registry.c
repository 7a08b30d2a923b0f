/*
 * fuzz_registry: what lib/registry.c reads from a schema registry's answers: the pure parsers
 * outbox_registry_parse_id (register), _parse_schema (lookup), _parse_config (check) and
 * _parse_error (any non-2xx answer, for three HTTP statuses chosen by the body's length).
 *
 * Input: an HTTP answer body (seeds: corpus/fuzz_registry, answers of Apicurio's ccompat API
 * and of Confluent's).
 *
 * Checks, beyond no crash, leak or undefined behaviour: each message is one line of printable
 * text (registry text ends up in logs: control characters must not pass); a level fits its
 * buffer; a schema is a NUL-free, non-empty C string; an id is in 0..INT32_MAX.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"

static void one_line(const char *what, const char *text, size_t size)
{
    size_t len = strnlen(text, size);
    if (len == size) {
        fprintf(stderr, "fuzz_registry: %s: not NUL-terminated\n", what);
        abort();
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x20 || c == 0x7f) {
            fprintf(stderr, "fuzz_registry: %s: control character 0x%02x at %zu in \"%s\"\n", what,
                    c, i, text);
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const long statuses[] = {0,   200, 204, 302, 400, 401, 403, 404, 408,
                                    409, 415, 422, 429, 500, 502, 503, 504, 999};
    const size_t nstatus = sizeof statuses / sizeof statuses[0];
    /* Exactly the body's bytes: reading past them is an ASan error. */
    char *body = malloc(size ? size : 1);
    char err[256], level[8];
    int32_t id = -1;
    char *schema = NULL;

    if (body == NULL)
        abort();
    memcpy(body, data, size);

    err[0] = '\0';
    if (outbox_registry_parse_id(body, size, &id, err, sizeof err) == OUTBOX_REGISTRY_OK) {
        if (id < 0)
            abort();
    } else {
        one_line("parse_id", err, sizeof err);
    }

    err[0] = '\0';
    if (outbox_registry_parse_schema(body, size, &schema, err, sizeof err) == OUTBOX_REGISTRY_OK) {
        if (schema == NULL || schema[0] == '\0')
            abort();
    } else {
        one_line("parse_schema", err, sizeof err);
    }
    free(schema);

    err[0] = '\0';
    if (outbox_registry_parse_config(body, size, level, sizeof level, err, sizeof err) ==
        OUTBOX_REGISTRY_OK)
        one_line("parse_config level", level, sizeof level);
    else
        one_line("parse_config", err, sizeof err);

    for (size_t i = 0; i < 3; i++) {
        long status = statuses[(size + i * 7) % nstatus];
        err[0] = '\0';
        outbox_registry_err rc = outbox_registry_parse_error(status, body, size, err, sizeof err);
        if (rc != outbox_registry_err_from_http_status(status))
            abort();
        one_line("parse_error", err, sizeof err);
    }
    free(body);
    return 0;
}
