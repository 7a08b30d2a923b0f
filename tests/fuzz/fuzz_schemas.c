/* fuzz_schemas: the schema list of the Avro fuzz targets (see fuzz_schemas.h). */
#include "fuzz_schemas.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX_SCHEMAS 32

/* Small schemas covering what the record schemas of the tree do not. */
static const char *const fuzz_extra_schemas[] = {
    "[\"null\",\"boolean\",\"int\",\"long\",\"float\",\"double\",\"bytes\",\"string\","
    "{\"type\":\"array\",\"items\":\"long\"},{\"type\":\"map\",\"values\":\"string\"},"
    "{\"type\":\"record\",\"name\":\"U\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]},"
    "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"X\",\"Y\"]},"
    "{\"type\":\"fixed\",\"name\":\"F\",\"size\":2}]",
    "{\"type\":\"fixed\",\"name\":\"Amount\",\"size\":5,\"logicalType\":\"decimal\","
    "\"precision\":11,\"scale\":3}",
    "{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":40,\"scale\":0}",
    "{\"type\":\"record\",\"name\":\"Times\",\"namespace\":\"fuzz\",\"fields\":["
    "{\"name\":\"lm\",\"type\":{\"type\":\"long\",\"logicalType\":\"local-timestamp-millis\"}},"
    "{\"name\":\"lu\",\"type\":{\"type\":\"long\",\"logicalType\":\"local-timestamp-micros\"}},"
    "{\"name\":\"tm\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}},"
    "{\"name\":\"tu\",\"type\":{\"type\":\"long\",\"logicalType\":\"time-micros\"}},"
    "{\"name\":\"d\",\"type\":[\"null\",{\"type\":\"int\",\"logicalType\":\"date\"}],"
    "\"default\":null},"
    "{\"name\":\"u\",\"type\":[{\"type\":\"string\",\"logicalType\":\"uuid\"},\"null\"],"
    "\"default\":\"00000000-0000-0000-0000-000000000000\"}]}",
    "{\"type\":\"map\",\"values\":{\"type\":\"array\",\"items\":[\"null\",{\"type\":\"record\","
    "\"name\":\"Node\",\"fields\":[{\"name\":\"v\",\"type\":[\"double\",\"string\"]},"
    "{\"name\":\"next\",\"type\":[\"null\",\"Node\"],\"default\":null}]}]}}",
};

static struct {
    int loaded;
    outbox_schemas *set;
    const outbox_schema *list[FUZZ_MAX_SCHEMAS];
    size_t count;
} fuzz_schemas;

static void fuzz_add_dir(const char *dir)
{
    outbox_schemas *set = NULL;
    char err[512];

    if (outbox_schemas_load_dir(dir, &set, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz: cannot load the schemas of %s: %s\n", dir, err);
        abort();
    }
    for (size_t i = 0; i < outbox_schemas_count(set); i++) {
        const outbox_schema *schema = outbox_schemas_get(set, i);
        /* The shared set owns its own parse of each record schema. */
        outbox_schema *copy = NULL;
        const char *text = outbox_schema_json(schema);
        if (outbox_schema_parse(text, strlen(text), 0, &copy, err, sizeof err) != 0 ||
            outbox_schemas_add(fuzz_schemas.set, copy, dir, err, sizeof err) != 0) {
            fprintf(stderr, "fuzz: %s: %s\n", dir, err);
            abort();
        }
        if (fuzz_schemas.count < FUZZ_MAX_SCHEMAS)
            fuzz_schemas.list[fuzz_schemas.count++] = copy;
    }
    outbox_schemas_destroy(set);
}

static void fuzz_load(void)
{
    char err[512];

    if (fuzz_schemas.loaded)
        return;
    fuzz_schemas.loaded = 1;
    fuzz_schemas.set = outbox_schemas_new();
    if (fuzz_schemas.set == NULL)
        abort();
    fuzz_add_dir(SCHEMA_DIR);
    fuzz_add_dir(FIXTURE_DIR "/avro/schemas");
    for (size_t i = 0; i < sizeof fuzz_extra_schemas / sizeof fuzz_extra_schemas[0]; i++) {
        outbox_schema *schema = NULL;
        const char *text = fuzz_extra_schemas[i];
        if (outbox_schema_parse(text, strlen(text), 0, &schema, err, sizeof err) != 0) {
            fprintf(stderr, "fuzz: extra schema %zu: %s\n", i, err);
            abort();
        }
        if (fuzz_schemas.count < FUZZ_MAX_SCHEMAS)
            fuzz_schemas.list[fuzz_schemas.count++] = schema;
    }
}

size_t fuzz_schema_count(void)
{
    fuzz_load();
    return fuzz_schemas.count;
}

const outbox_schema *fuzz_schema_get(size_t i)
{
    fuzz_load();
    return fuzz_schemas.list[i % fuzz_schemas.count];
}

const outbox_schemas *fuzz_schema_set(void)
{
    fuzz_load();
    return fuzz_schemas.set;
}
