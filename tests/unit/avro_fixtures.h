#ifndef TESTS_AVRO_FIXTURES_H
#define TESTS_AVRO_FIXTURES_H

/*
 * Shared by the Avro unit tests: read a fixture file, compile a schema from a file or a string,
 * failing the running cmocka test on any error. Include after <cmocka.h>.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_schema.h"

#define AVRO_FIXTURES FIXTURE_DIR "/avro"

/* The whole file, NUL-terminated (malloc'd; the caller frees). `len` may be NULL. */
static inline char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *data;
    long size;

    if (fp == NULL)
        fail_msg("cannot open %s", path);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    size = ftell(fp);
    assert_true(size >= 0);
    rewind(fp);
    data = malloc((size_t)size + 1);
    assert_non_null(data);
    assert_int_equal(fread(data, 1, (size_t)size, fp), (size_t)size);
    data[size] = '\0';
    fclose(fp);
    if (len != NULL)
        *len = (size_t)size;
    return data;
}

/* Hex text -> bytes (out must hold strlen(hex) / 2); returns the byte count. */
static inline size_t unhex(const char *hex, uint8_t *out)
{
    size_t n = 0;
    unsigned byte;

    while (hex[0] && hex[1]) {
        assert_int_equal(sscanf(hex, "%2x", &byte), 1);
        out[n++] = (uint8_t)byte;
        hex += 2;
    }
    return n;
}

static inline outbox_schema *schema_file(const char *path)
{
    outbox_schema *schema = NULL;
    char err[512];
    size_t len;
    char *text = slurp(path, &len);

    if (outbox_schema_parse(text, len, 0, &schema, err, sizeof(err)) != 0)
        fail_msg("%s: %s", path, err);
    free(text);
    return schema;
}

static inline outbox_schema *schema_text(const char *json)
{
    outbox_schema *schema = NULL;
    char err[512];

    if (outbox_schema_parse(json, strlen(json), 0, &schema, err, sizeof(err)) != 0)
        fail_msg("schema: %s\n%s", err, json);
    return schema;
}

#endif
