#include "errstr.h"
#include "avro_schema.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "avro_json.h"
#include "avro_reference.h"
#include "buf.h"

/* CRC-64-AVRO: the fingerprint of the empty string, and the polynomial (Avro spec). */
#define CRC64_AVRO_EMPTY 0xc15d213aa4d7a795ULL

/* Deepest nesting of schema JSON we compile (recursion guard). */
#define SCHEMA_MAX_DEPTH 128

/* The schema property choosing the JSON form of bytes and fixed values (avro_schema.h). */
#define BYTES_FORM_PROPERTY "outbox.encoding"

/* Largest schema file outbox_schemas_load_dir() reads. */
#define SCHEMA_FILE_MAX (16u * 1024u * 1024u)

/* ---- errors ---------------------------------------------------------------------------- */

const char *outbox_avro_err_name(int err)
{
    switch (err) {
    case OUTBOX_AVRO_OK:
        return "ok";
    case OUTBOX_AVRO_ERR_NOMEM:
        return "out of memory";
    case OUTBOX_AVRO_ERR_IO:
        return "i/o error";
    case OUTBOX_AVRO_ERR_SCHEMA:
        return "invalid schema";
    case OUTBOX_AVRO_ERR_MISMATCH:
        return "schema mismatch";
    case OUTBOX_AVRO_ERR_TRUNCATED:
        return "truncated";
    case OUTBOX_AVRO_ERR_MALFORMED:
        return "malformed";
    case OUTBOX_AVRO_ERR_FRAMING:
        return "bad framing";
    case OUTBOX_AVRO_ERR_NOT_FOUND:
        return "not found";
    case OUTBOX_AVRO_ERR_RESOLVE:
        return "unresolvable";
    default:
        return "unknown error";
    }
}

int outbox_avro_err_is_permanent(int err)
{
    return err == OUTBOX_AVRO_ERR_MISMATCH || err == OUTBOX_AVRO_ERR_TRUNCATED ||
           err == OUTBOX_AVRO_ERR_MALFORMED || err == OUTBOX_AVRO_ERR_FRAMING ||
           err == OUTBOX_AVRO_ERR_NOT_FOUND || err == OUTBOX_AVRO_ERR_RESOLVE;
}

/* ---- CRC-64-AVRO ----------------------------------------------------------------------- */

uint64_t outbox_avro_crc64(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t fp = CRC64_AVRO_EMPTY;
    size_t i;
    int bit;

    /* Bit at a time: the byte-table form of the spec is the same linear map, 8 steps at once.
     * Fingerprints are computed once per schema, so the table buys nothing here. */
    for (i = 0; i < len; i++) {
        fp ^= p[i];
        for (bit = 0; bit < 8; bit++)
            fp = (fp >> 1) ^ (CRC64_AVRO_EMPTY & (0 - (fp & 1)));
    }
    return fp;
}

/* ---- arena: every node, field and string of a schema lives here, freed at once ---------- */

struct arena_chunk {
    struct arena_chunk *next;
    size_t used;
    size_t cap;
    alignas(max_align_t) unsigned char data[];
};

#define ARENA_CHUNK_SIZE 4096

struct outbox_schema {
    struct arena_chunk *arena;
    json_t *doc; /* parsed text; field defaults point into it */
    char *text;  /* original text, NUL-terminated */
    char *canonical;
    uint64_t fingerprint;
    outbox_avro_node *root;
    outbox_avro_node **named; /* named types in definition order; node->id indexes this */
    size_t n_named;
    size_t cap_named;
};

static void *arena_alloc(outbox_schema *schema, size_t size)
{
    struct arena_chunk *chunk = schema->arena;
    size_t align = alignof(max_align_t);
    size_t cap;
    void *p;

    size = (size + align - 1) / align * align;
    if (size == 0)
        size = align;
    if (chunk == NULL || chunk->cap - chunk->used < size) {
        cap = size > ARENA_CHUNK_SIZE ? size : ARENA_CHUNK_SIZE;
        chunk = malloc(sizeof(*chunk) + cap);
        if (chunk == NULL)
            return NULL;
        chunk->used = 0;
        chunk->cap = cap;
        chunk->next = schema->arena;
        schema->arena = chunk;
    }
    p = chunk->data + chunk->used;
    chunk->used += size;
    memset(p, 0, size);
    return p;
}

static char *arena_strndup(outbox_schema *schema, const char *s, size_t len)
{
    char *copy = arena_alloc(schema, len + 1);

    if (copy == NULL)
        return NULL;
    memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}

/* ---- parsing ----------------------------------------------------------------------------- */

struct parse_ctx {
    outbox_schema *schema;
    unsigned flags;
    char *errstr;
    size_t errstr_size;
    int depth;
    size_t path_len;
    char path[512]; /* where we are, for error messages ("blog.events.PostCreated.tags") */
};

static const struct {
    const char *name;
    outbox_avro_type type;
} primitive_types[] = {
    {"null", OUTBOX_AVRO_NULL},   {"boolean", OUTBOX_AVRO_BOOLEAN}, {"int", OUTBOX_AVRO_INT},
    {"long", OUTBOX_AVRO_LONG},   {"float", OUTBOX_AVRO_FLOAT},     {"double", OUTBOX_AVRO_DOUBLE},
    {"bytes", OUTBOX_AVRO_BYTES}, {"string", OUTBOX_AVRO_STRING},
};

#define N_PRIMITIVES (sizeof(primitive_types) / sizeof(primitive_types[0]))

static int primitive_lookup(const char *name, outbox_avro_type *type)
{
    size_t i;

    for (i = 0; i < N_PRIMITIVES; i++) {
        if (strcmp(primitive_types[i].name, name) == 0) {
            *type = primitive_types[i].type;
            return 1;
        }
    }
    return 0;
}

static const char *type_name(outbox_avro_type type)
{
    switch (type) {
    case OUTBOX_AVRO_NULL:
        return "null";
    case OUTBOX_AVRO_BOOLEAN:
        return "boolean";
    case OUTBOX_AVRO_INT:
        return "int";
    case OUTBOX_AVRO_LONG:
        return "long";
    case OUTBOX_AVRO_FLOAT:
        return "float";
    case OUTBOX_AVRO_DOUBLE:
        return "double";
    case OUTBOX_AVRO_BYTES:
        return "bytes";
    case OUTBOX_AVRO_STRING:
        return "string";
    case OUTBOX_AVRO_RECORD:
        return "record";
    case OUTBOX_AVRO_ENUM:
        return "enum";
    case OUTBOX_AVRO_ARRAY:
        return "array";
    case OUTBOX_AVRO_MAP:
        return "map";
    case OUTBOX_AVRO_UNION:
        return "union";
    case OUTBOX_AVRO_FIXED:
        return "fixed";
    }
    return "?";
}

static int parse_fail(struct parse_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int parse_fail(struct parse_ctx *ctx, const char *fmt, ...)
{
    char msg[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (ctx->path_len == 0)
        outbox_errstr_set(ctx->errstr, ctx->errstr_size, "schema error at top level: %s", msg);
    else
        outbox_errstr_set(ctx->errstr, ctx->errstr_size, "schema error at %s: %s", ctx->path, msg);
    return OUTBOX_AVRO_ERR_SCHEMA;
}

static int parse_nomem(struct parse_ctx *ctx)
{
    outbox_errstr_set(ctx->errstr, ctx->errstr_size, "out of memory while compiling schema");
    return OUTBOX_AVRO_ERR_NOMEM;
}

/* Append to the error path; returns the previous length for path_pop(). Truncates quietly. */
static size_t path_push(struct parse_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static size_t path_push(struct parse_ctx *ctx, const char *fmt, ...)
{
    size_t old = ctx->path_len;
    va_list ap;
    int n;

    if (old >= sizeof(ctx->path) - 1)
        return old;
    va_start(ap, fmt);
    n = vsnprintf(ctx->path + old, sizeof(ctx->path) - old, fmt, ap);
    va_end(ap);
    if (n < 0)
        ctx->path[old] = '\0';
    else if ((size_t)n >= sizeof(ctx->path) - old)
        ctx->path_len = sizeof(ctx->path) - 1;
    else
        ctx->path_len = old + (size_t)n;
    return old;
}

static void path_pop(struct parse_ctx *ctx, size_t old)
{
    ctx->path_len = old;
    ctx->path[old] = '\0';
}

/* [A-Za-z_][A-Za-z0-9_]* */
static int name_component_valid(const char *s, size_t len)
{
    size_t i;

    if (len == 0)
        return 0;
    for (i = 0; i < len; i++) {
        char c = s[i];
        int alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';

        if (!alpha && (i == 0 || c < '0' || c > '9'))
            return 0;
    }
    return 1;
}

/* Dot-separated name components; the empty string is valid only when allow_empty. */
static int dotted_name_valid(const char *s, int allow_empty)
{
    const char *dot;

    if (*s == '\0')
        return allow_empty;
    for (;;) {
        dot = strchr(s, '.');
        if (dot == NULL)
            return name_component_valid(s, strlen(s));
        if (!name_component_valid(s, (size_t)(dot - s)))
            return 0;
        s = dot + 1;
    }
}

static outbox_avro_node *node_new(struct parse_ctx *ctx, outbox_avro_type type)
{
    outbox_avro_node *node = arena_alloc(ctx->schema, sizeof(*node));

    if (node == NULL)
        return NULL;
    node->type = type;
    node->logical = OUTBOX_AVRO_LOGICAL_NONE;
    node->name = type_name(type);
    node->short_name = node->name;
    node->null_branch = -1;
    node->enum_default = -1;
    node->id = -1;
    return node;
}

static outbox_avro_node *named_find(outbox_schema *schema, const char *fullname)
{
    size_t i;

    for (i = 0; i < schema->n_named; i++) {
        if (strcmp(schema->named[i]->name, fullname) == 0)
            return schema->named[i];
    }
    return NULL;
}

static int named_register(struct parse_ctx *ctx, outbox_avro_node *node)
{
    outbox_schema *schema = ctx->schema;
    outbox_avro_node **grown;
    size_t cap;

    if (schema->n_named == schema->cap_named) {
        cap = schema->cap_named ? schema->cap_named * 2 : 8;
        grown = realloc(schema->named, cap * sizeof(*grown));
        if (grown == NULL)
            return parse_nomem(ctx);
        schema->named = grown;
        schema->cap_named = cap;
    }
    node->id = (int)schema->n_named;
    schema->named[schema->n_named++] = node;
    return 0;
}

/* Resolve a reference to a named type relative to the enclosing namespace `ns`. */
static outbox_avro_node *named_resolve(struct parse_ctx *ctx, const char *name, const char *ns)
{
    outbox_avro_node *node;
    char full[512];

    if (strchr(name, '.') == NULL && ns != NULL && *ns != '\0') {
        if ((size_t)snprintf(full, sizeof(full), "%s.%s", ns, name) < sizeof(full)) {
            node = named_find(ctx->schema, full);
            if (node != NULL)
                return node;
        }
    }
    return named_find(ctx->schema, name);
}

/*
 * Name, namespace and registration of a record/enum/fixed. On success node->name is the full
 * name and *child_ns the namespace its nested definitions inherit (arena string).
 */
static int parse_named(struct parse_ctx *ctx, json_t *obj, const char *ns, outbox_avro_node *node,
                       const char **child_ns)
{
    json_t *jname = json_object_get(obj, "name");
    json_t *jns = json_object_get(obj, "namespace");
    const char *name;
    const char *space = ns;
    const char *dot;
    outbox_avro_type prim;
    char *full;
    size_t full_len;

    if (!json_is_string(jname))
        return parse_fail(ctx, "%s needs a \"name\" string", type_name(node->type));
    name = json_string_value(jname);
    if (strlen(name) != json_string_length(jname))
        return parse_fail(ctx, "name contains a NUL character");
    if (jns != NULL && !json_is_null(jns) && !json_is_string(jns))
        return parse_fail(ctx, "\"namespace\" of %s must be a string", name);
    if (!dotted_name_valid(name, 0))
        return parse_fail(ctx, "invalid name \"%s\"", name);
    dot = strrchr(name, '.');
    if (dot != NULL) {
        full = arena_strndup(ctx->schema, name, strlen(name));
        if (full == NULL)
            return parse_nomem(ctx);
        node->short_name = full + (dot - name) + 1;
        *child_ns = arena_strndup(ctx->schema, name, (size_t)(dot - name));
    } else {
        if (json_is_string(jns))
            space = json_string_value(jns);
        if (space != NULL && !dotted_name_valid(space, 1))
            return parse_fail(ctx, "invalid namespace \"%s\"", space);
        if (space == NULL || *space == '\0') {
            full = arena_strndup(ctx->schema, name, strlen(name));
            if (full == NULL)
                return parse_nomem(ctx);
            node->short_name = full;
            *child_ns = "";
        } else {
            full_len = strlen(space) + 1 + strlen(name);
            full = arena_alloc(ctx->schema, full_len + 1);
            if (full == NULL)
                return parse_nomem(ctx);
            snprintf(full, full_len + 1, "%s.%s", space, name);
            node->short_name = full + strlen(space) + 1;
            *child_ns = arena_strndup(ctx->schema, space, strlen(space));
        }
    }
    if (*child_ns == NULL)
        return parse_nomem(ctx);
    if (primitive_lookup(node->short_name, &prim))
        return parse_fail(ctx, "\"%s\" is a primitive type name and cannot be redefined", full);
    if (named_find(ctx->schema, full) != NULL)
        return parse_fail(ctx, "type \"%s\" is defined twice", full);
    node->name = full;
    return named_register(ctx, node);
}

static int parse_type(struct parse_ctx *ctx, json_t *json, const char *ns, outbox_avro_node **out);

/* The fields of a record whose name parse_named has read; child_ns is the namespace its field
 * types inherit. */
static int parse_record(struct parse_ctx *ctx, json_t *obj, const char *child_ns,
                        outbox_avro_node *node)
{
    json_t *jfields = json_object_get(obj, "fields");
    size_t i;
    size_t j;
    size_t mark;
    int rc;

    /* Error paths read "blog.events.Post.comment.author": the top record's full name, then
     * field names. */
    mark = ctx->path_len;
    if (mark == 0)
        path_push(ctx, "%s", node->name);
    if (!json_is_array(jfields)) {
        rc = parse_fail(ctx, "record needs a \"fields\" array");
        goto done;
    }
    node->n = json_array_size(jfields);
    node->fields = arena_alloc(ctx->schema, (node->n ? node->n : 1) * sizeof(*node->fields));
    if (node->fields == NULL) {
        rc = parse_nomem(ctx);
        goto done;
    }
    for (i = 0; i < node->n; i++) {
        json_t *jfield = json_array_get(jfields, i);
        json_t *jfname = json_object_get(jfield, "name");
        json_t *jtype = json_object_get(jfield, "type");
        json_t *jdefault = json_object_get(jfield, "default");
        outbox_avro_field *field = &node->fields[i];
        outbox_avro_node *ftype = NULL;
        size_t fmark;

        if (!json_is_object(jfield)) {
            rc = parse_fail(ctx, "fields[%zu] is not an object", i);
            goto done;
        }
        if (!json_is_string(jfname)) {
            rc = parse_fail(ctx, "fields[%zu] needs a \"name\" string", i);
            goto done;
        }
        if (json_object_get(jfield, BYTES_FORM_PROPERTY) != NULL &&
            !(ctx->flags & OUTBOX_SCHEMA_LAX_DEFAULTS)) {
            rc = parse_fail(ctx,
                            "field %s: put \"" BYTES_FORM_PROPERTY "\" on its bytes or fixed "
                            "type: {\"type\": \"bytes\", \"" BYTES_FORM_PROPERTY "\": \"base64\"}",
                            json_string_value(jfname));
            goto done;
        }
        field->name_len = json_string_length(jfname);
        field->name = arena_strndup(ctx->schema, json_string_value(jfname), field->name_len);
        if (field->name == NULL) {
            rc = parse_nomem(ctx);
            goto done;
        }
        if (!name_component_valid(field->name, field->name_len) ||
            strlen(field->name) != field->name_len) {
            rc = parse_fail(ctx, "invalid field name \"%s\"", field->name);
            goto done;
        }
        for (j = 0; j < i; j++) {
            if (strcmp(node->fields[j].name, field->name) == 0) {
                rc = parse_fail(ctx, "field \"%s\" appears twice", field->name);
                goto done;
            }
        }
        fmark = path_push(ctx, ".%s", field->name);
        if (jtype == NULL) {
            rc = parse_fail(ctx, "field needs a \"type\"");
            goto done;
        }
        rc = parse_type(ctx, jtype, child_ns, &ftype);
        if (rc != 0)
            goto done;
        path_pop(ctx, fmark);
        field->type = ftype;
        if (jdefault != NULL) {
            field->has_default = 1;
            field->default_json = jdefault;
        }
    }
    rc = 0;
done:
    if (rc == 0)
        path_pop(ctx, mark);
    return rc;
}

/* The symbols and default of an enum whose name parse_named has read. */
static int parse_enum(struct parse_ctx *ctx, json_t *obj, outbox_avro_node *node)
{
    json_t *jsymbols = json_object_get(obj, "symbols");
    json_t *jdefault = json_object_get(obj, "default");
    size_t i;
    size_t j;

    if (!json_is_array(jsymbols))
        return parse_fail(ctx, "enum %s needs a \"symbols\" array", node->name);
    node->n = json_array_size(jsymbols);
    node->symbols = arena_alloc(ctx->schema, (node->n ? node->n : 1) * sizeof(*node->symbols));
    node->symbol_lens =
        arena_alloc(ctx->schema, (node->n ? node->n : 1) * sizeof(*node->symbol_lens));
    if (node->symbols == NULL || node->symbol_lens == NULL)
        return parse_nomem(ctx);
    for (i = 0; i < node->n; i++) {
        json_t *jsym = json_array_get(jsymbols, i);

        if (!json_is_string(jsym))
            return parse_fail(ctx, "enum %s: symbols[%zu] is not a string", node->name, i);
        node->symbol_lens[i] = json_string_length(jsym);
        node->symbols[i] =
            arena_strndup(ctx->schema, json_string_value(jsym), node->symbol_lens[i]);
        if (node->symbols[i] == NULL)
            return parse_nomem(ctx);
        if (!name_component_valid(node->symbols[i], node->symbol_lens[i]) ||
            strlen(node->symbols[i]) != node->symbol_lens[i])
            return parse_fail(ctx, "enum %s: invalid symbol \"%s\"", node->name, node->symbols[i]);
        for (j = 0; j < i; j++) {
            if (strcmp(node->symbols[j], node->symbols[i]) == 0)
                return parse_fail(ctx, "enum %s: symbol \"%s\" appears twice", node->name,
                                  node->symbols[i]);
        }
    }
    if (jdefault != NULL) {
        /* The enum-level default only matters for schema resolution; it must still be valid. */
        for (i = 0; json_is_string(jdefault) && i < node->n; i++) {
            if (strcmp(node->symbols[i], json_string_value(jdefault)) == 0)
                break;
        }
        if (!json_is_string(jdefault) || i == node->n)
            return parse_fail(ctx, "enum %s: \"default\" is not one of its symbols", node->name);
        node->enum_default = (int)i;
    }
    return 0;
}

/* The size of a fixed whose name parse_named has read. */
static int parse_fixed(struct parse_ctx *ctx, json_t *obj, outbox_avro_node *node)
{
    json_t *jsize = json_object_get(obj, "size");

    if (!json_is_integer(jsize) || json_integer_value(jsize) < 0 ||
        json_integer_value(jsize) > INT32_MAX)
        return parse_fail(ctx, "fixed %s needs a \"size\" integer >= 0", node->name);
    node->size = (size_t)json_integer_value(jsize);
    return 0;
}

/* Decimal digits a two's-complement number of `size` bytes always holds. */
static int fixed_max_precision(size_t size)
{
    if (size == 0)
        return 0;
    /* floor(log10(2^(8*size-1) - 1)) + 1 digits fit partially; the full-range count is
     * floor((8*size-1)*log10(2)): 2^k is never a power of ten, so no boundary case. */
    return (int)floor((double)(8 * size - 1) * log10(2.0));
}

/* "outbox.encoding" of a bytes or fixed type object; an error anywhere else, so that a
 * misplaced property does not silently keep the default. */
static int parse_bytes_form(struct parse_ctx *ctx, json_t *obj, outbox_avro_node *node)
{
    json_t *jform = json_object_get(obj, BYTES_FORM_PROPERTY);
    const char *form;

    if (jform == NULL)
        return 0;
    if (ctx->flags & OUTBOX_SCHEMA_LAX_DEFAULTS) { /* a foreign schema: take what is valid */
        if ((node->type == OUTBOX_AVRO_BYTES || node->type == OUTBOX_AVRO_FIXED) &&
            json_is_string(jform) && strcmp(json_string_value(jform), "base64") == 0)
            node->bytes_form = OUTBOX_AVRO_BYTES_BASE64;
        return 0;
    }
    if (node->type != OUTBOX_AVRO_BYTES && node->type != OUTBOX_AVRO_FIXED)
        return parse_fail(ctx, "\"" BYTES_FORM_PROPERTY "\" applies to bytes and fixed types only");
    form = json_is_string(jform) ? json_string_value(jform) : "";
    if (strcmp(form, "base64") == 0)
        node->bytes_form = OUTBOX_AVRO_BYTES_BASE64;
    else if (strcmp(form, "codepoints") == 0)
        node->bytes_form = OUTBOX_AVRO_BYTES_CODEPOINTS;
    else
        return parse_fail(ctx, "\"" BYTES_FORM_PROPERTY "\" must be \"base64\" or \"codepoints\"");
    return 0;
}

/* Attach "logicalType" of `obj` to `node` when valid for it; invalid ones are ignored
 * (Avro spec), unsupported-but-valid ones are an error. */
static int parse_logical(struct parse_ctx *ctx, json_t *obj, outbox_avro_node *node)
{
    json_t *jlogical = json_object_get(obj, "logicalType");
    const char *logical;
    json_t *jprecision;
    json_t *jscale;
    json_int_t precision;
    json_int_t scale = 0;

    if (!json_is_string(jlogical))
        return 0;
    logical = json_string_value(jlogical);
    if (strcmp(logical, "decimal") == 0) {
        if (node->type != OUTBOX_AVRO_BYTES && node->type != OUTBOX_AVRO_FIXED)
            return 0;
        jprecision = json_object_get(obj, "precision");
        jscale = json_object_get(obj, "scale");
        if (!json_is_integer(jprecision) || json_integer_value(jprecision) <= 0)
            return 0;
        precision = json_integer_value(jprecision);
        if (jscale != NULL) {
            if (!json_is_integer(jscale) || json_integer_value(jscale) < 0)
                return 0;
            scale = json_integer_value(jscale);
        }
        if (scale > precision)
            return 0;
        if (node->type == OUTBOX_AVRO_FIXED && precision > fixed_max_precision(node->size))
            return 0;
        if (precision > OUTBOX_AVRO_DECIMAL_MAX_PRECISION)
            return parse_fail(ctx, "decimal precision %lld is above the supported %d",
                              (long long)precision, OUTBOX_AVRO_DECIMAL_MAX_PRECISION);
        node->logical = OUTBOX_AVRO_LOGICAL_DECIMAL;
        node->precision = (int)precision;
        node->scale = (int)scale;
        return 0;
    }
    static const struct {
        const char *name;
        outbox_avro_type type;
        outbox_avro_logical logical;
    } simple[] = {
        {"date", OUTBOX_AVRO_INT, OUTBOX_AVRO_LOGICAL_DATE},
        {"time-millis", OUTBOX_AVRO_INT, OUTBOX_AVRO_LOGICAL_TIME_MILLIS},
        {"time-micros", OUTBOX_AVRO_LONG, OUTBOX_AVRO_LOGICAL_TIME_MICROS},
        {"timestamp-millis", OUTBOX_AVRO_LONG, OUTBOX_AVRO_LOGICAL_TIMESTAMP_MILLIS},
        {"timestamp-micros", OUTBOX_AVRO_LONG, OUTBOX_AVRO_LOGICAL_TIMESTAMP_MICROS},
        {"local-timestamp-millis", OUTBOX_AVRO_LONG, OUTBOX_AVRO_LOGICAL_LOCAL_TIMESTAMP_MILLIS},
        {"local-timestamp-micros", OUTBOX_AVRO_LONG, OUTBOX_AVRO_LOGICAL_LOCAL_TIMESTAMP_MICROS},
        {"uuid", OUTBOX_AVRO_STRING, OUTBOX_AVRO_LOGICAL_UUID},
    };
    for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++) {
        if (strcmp(simple[i].name, logical) == 0) {
            if (simple[i].type == node->type)
                node->logical = simple[i].logical;
            return 0;
        }
    }
    return 0; /* unknown logical type: the underlying type, per spec */
}

/* Two union branches that may not coexist: same unnamed type, or same full name. */
static int union_branch_clash(const outbox_avro_node *a, const outbox_avro_node *b)
{
    if (a->type != b->type)
        return 0;
    if (a->type == OUTBOX_AVRO_RECORD || a->type == OUTBOX_AVRO_ENUM ||
        a->type == OUTBOX_AVRO_FIXED)
        return strcmp(a->name, b->name) == 0;
    return 1;
}

static int parse_union(struct parse_ctx *ctx, json_t *arr, const char *ns, outbox_avro_node **out)
{
    outbox_avro_node *node = node_new(ctx, OUTBOX_AVRO_UNION);
    size_t i;
    size_t j;
    size_t mark;
    int rc;

    if (node == NULL)
        return parse_nomem(ctx);
    node->n = json_array_size(arr);
    node->branches = arena_alloc(ctx->schema, (node->n ? node->n : 1) * sizeof(*node->branches));
    if (node->branches == NULL)
        return parse_nomem(ctx);
    for (i = 0; i < node->n; i++) {
        outbox_avro_node *branch = NULL;

        mark = path_push(ctx, "[%zu]", i);
        rc = parse_type(ctx, json_array_get(arr, i), ns, &branch);
        if (rc != 0)
            return rc;
        if (branch->type == OUTBOX_AVRO_UNION)
            return parse_fail(ctx, "a union may not directly contain another union");
        for (j = 0; j < i; j++) {
            if (union_branch_clash(node->branches[j], branch))
                return parse_fail(ctx, "union has two branches of type %s", branch->name);
        }
        path_pop(ctx, mark);
        if (branch->type == OUTBOX_AVRO_NULL)
            node->null_branch = (int)i;
        node->branches[i] = branch;
    }
    *out = node;
    return 0;
}

/* What a primitive or named type object may carry besides its type: a logical type (where
 * `logical`: primitives and fixed) and the bytes form; then *out = node. */
static int parse_annotations(struct parse_ctx *ctx, json_t *obj, outbox_avro_node *node,
                             int logical, outbox_avro_node **out)
{
    int rc = logical ? parse_logical(ctx, obj, node) : 0;

    if (rc == 0)
        rc = parse_bytes_form(ctx, obj, node);
    if (rc != 0)
        return rc;
    *out = node;
    return 0;
}

static int parse_object(struct parse_ctx *ctx, json_t *obj, const char *ns, outbox_avro_node **out)
{
    json_t *jtype = json_object_get(obj, "type");
    const char *type;
    outbox_avro_type prim;
    outbox_avro_node *node;
    outbox_avro_node *sub = NULL;
    const char *child_ns = NULL;
    size_t mark;
    int rc;

    if (!json_is_string(jtype)) {
        if (jtype == NULL)
            return parse_fail(ctx, "schema object has no \"type\"");
        return parse_fail(ctx, "\"type\" must be a type name string");
    }
    type = json_string_value(jtype);
    if (primitive_lookup(type, &prim)) {
        node = node_new(ctx, prim);
        if (node == NULL)
            return parse_nomem(ctx);
        return parse_annotations(ctx, obj, node, 1, out);
    }
    if (strcmp(type, "record") == 0 || strcmp(type, "enum") == 0 || strcmp(type, "fixed") == 0) {
        node = node_new(ctx, type[0] == 'r'   ? OUTBOX_AVRO_RECORD
                             : type[0] == 'e' ? OUTBOX_AVRO_ENUM
                                              : OUTBOX_AVRO_FIXED);
        if (node == NULL)
            return parse_nomem(ctx);
        rc = parse_named(ctx, obj, ns, node, &child_ns);
        if (rc == 0 && node->type == OUTBOX_AVRO_RECORD)
            rc = parse_record(ctx, obj, child_ns, node);
        else if (rc == 0 && node->type == OUTBOX_AVRO_ENUM)
            rc = parse_enum(ctx, obj, node);
        else if (rc == 0)
            rc = parse_fixed(ctx, obj, node);
        if (rc != 0)
            return rc;
        return parse_annotations(ctx, obj, node, node->type == OUTBOX_AVRO_FIXED, out);
    }
    if (strcmp(type, "array") == 0 || strcmp(type, "map") == 0) {
        int is_array = type[0] == 'a';
        json_t *jsub = json_object_get(obj, is_array ? "items" : "values");

        node = node_new(ctx, is_array ? OUTBOX_AVRO_ARRAY : OUTBOX_AVRO_MAP);
        if (node == NULL)
            return parse_nomem(ctx);
        if (jsub == NULL)
            return parse_fail(ctx, "%s needs \"%s\"", type, is_array ? "items" : "values");
        mark = path_push(ctx, is_array ? "[]" : "{}");
        rc = parse_type(ctx, jsub, ns, &sub);
        if (rc != 0)
            return rc;
        path_pop(ctx, mark);
        node->items = sub;
        *out = node;
        return 0;
    }
    /* {"type": "SomeNamedType"}: a reference written as an object. */
    node = named_resolve(ctx, type, ns);
    if (node != NULL) {
        *out = node;
        return 0;
    }
    return parse_fail(ctx, "unknown type \"%s\"", type);
}

static int parse_type(struct parse_ctx *ctx, json_t *json, const char *ns, outbox_avro_node **out)
{
    outbox_avro_type prim;
    outbox_avro_node *node;
    const char *name;
    int rc;

    if (++ctx->depth > SCHEMA_MAX_DEPTH) {
        rc = parse_fail(ctx, "schema nested deeper than %d levels", SCHEMA_MAX_DEPTH);
        goto done;
    }
    if (json_is_string(json)) {
        name = json_string_value(json);
        if (primitive_lookup(name, &prim)) {
            node = node_new(ctx, prim);
            if (node == NULL) {
                rc = parse_nomem(ctx);
                goto done;
            }
        } else {
            node = named_resolve(ctx, name, ns);
            if (node == NULL) {
                rc = parse_fail(ctx, "unknown type \"%s\"", name);
                goto done;
            }
        }
        *out = node;
        rc = 0;
    } else if (json_is_array(json)) {
        rc = parse_union(ctx, json, ns, out);
    } else if (json_is_object(json)) {
        rc = parse_object(ctx, json, ns, out);
    } else {
        rc = parse_fail(ctx, "a schema must be a type name, an object or a union array");
    }
done:
    ctx->depth--;
    return rc;
}

/* ---- after parsing: sizes, defaults, canonical form ------------------------------------- */

/* Lower bound of the encoded size; `state` per named id: 0 new, 1 in progress, 2 done. */
static size_t compute_min_size(outbox_avro_node *node, unsigned char *state)
{
    size_t total = 0;
    size_t best;
    size_t i;
    size_t s;

    if (node->id >= 0) {
        if (state[node->id] != 0)
            return state[node->id] == 2 ? node->min_size : 0;
        state[node->id] = 1;
    }
    switch (node->type) {
    case OUTBOX_AVRO_NULL:
        total = 0;
        break;
    case OUTBOX_AVRO_FLOAT:
        total = 4;
        break;
    case OUTBOX_AVRO_DOUBLE:
        total = 8;
        break;
    case OUTBOX_AVRO_FIXED:
        total = node->size;
        break;
    case OUTBOX_AVRO_RECORD:
        for (i = 0; i < node->n; i++) {
            s = compute_min_size((outbox_avro_node *)node->fields[i].type, state);
            total = s > SIZE_MAX - total ? SIZE_MAX : total + s;
        }
        break;
    case OUTBOX_AVRO_UNION:
        best = SIZE_MAX;
        for (i = 0; i < node->n; i++) {
            s = compute_min_size((outbox_avro_node *)node->branches[i], state);
            if (s < best)
                best = s;
        }
        total = node->n == 0 ? 1 : (best == SIZE_MAX ? SIZE_MAX : best + 1);
        break;
    case OUTBOX_AVRO_ARRAY:
    case OUTBOX_AVRO_MAP:
        compute_min_size((outbox_avro_node *)node->items, state);
        total = 1;
        break;
    default: /* boolean, int, long, bytes, string, enum: at least one byte */
        total = 1;
        break;
    }
    node->min_size = total;
    if (node->id >= 0)
        state[node->id] = 2;
    return total;
}

static int compile_defaults(struct parse_ctx *ctx)
{
    static const uint8_t empty[1] = {0};
    outbox_schema *schema = ctx->schema;
    outbox_buf buf = OUTBOX_BUF_INIT;
    char msg[300];
    size_t i;
    size_t f;
    int rc = 0;

    for (i = 0; i < schema->n_named; i++) {
        outbox_avro_node *node = schema->named[i];

        if (node->type != OUTBOX_AVRO_RECORD)
            continue;
        for (f = 0; f < node->n; f++) {
            outbox_avro_field *field = &node->fields[f];
            uint8_t *copy;

            if (!field->has_default)
                continue;
            outbox_buf_reset(&buf);
            rc = outbox_avro_json_encode_default(field, &buf, msg, sizeof(msg));
            if (rc == OUTBOX_AVRO_ENC_NOMEM) {
                rc = parse_nomem(ctx);
                goto done;
            }
            if (rc != 0) {
                if (ctx->flags & OUTBOX_SCHEMA_LAX_DEFAULTS) {
                    field->has_default = 0;
                    field->default_json = NULL;
                    rc = 0;
                    continue;
                }
                outbox_errstr_set(
                    ctx->errstr, ctx->errstr_size,
                    "schema error at %s.%s: default value does not fit the field type "
                    "(%s)",
                    node->name, field->name, msg);
                rc = OUTBOX_AVRO_ERR_SCHEMA;
                goto done;
            }
            if (buf.len == 0) {
                field->default_bin = empty;
            } else {
                copy = arena_alloc(schema, buf.len);
                if (copy == NULL) {
                    rc = parse_nomem(ctx);
                    goto done;
                }
                memcpy(copy, buf.data, buf.len);
                field->default_bin = copy;
            }
            field->default_len = buf.len;
        }
    }
done:
    outbox_buf_free(&buf);
    return rc;
}

static int pcf_str(outbox_buf *out, const char *s)
{
    return outbox_buf_append(out, s, strlen(s));
}

/* Parsing Canonical Form: names, types, fields, symbols, items, values, size, in that key
 * order, full names, a named type spelled out only at its first occurrence. Names and symbols
 * are validated identifiers, so no JSON escaping is ever needed. */
static int pcf_write(outbox_buf *out, const outbox_avro_node *node, unsigned char *emitted)
{
    char num[32];
    size_t i;
    int rc = 0;

    if (node->id >= 0 && emitted[node->id]) {
        rc |= pcf_str(out, "\"");
        rc |= pcf_str(out, node->name);
        return rc | pcf_str(out, "\"");
    }
    if (node->id >= 0)
        emitted[node->id] = 1;
    switch (node->type) {
    case OUTBOX_AVRO_RECORD:
        rc |= pcf_str(out, "{\"name\":\"");
        rc |= pcf_str(out, node->name);
        rc |= pcf_str(out, "\",\"type\":\"record\",\"fields\":[");
        for (i = 0; i < node->n; i++) {
            rc |= pcf_str(out, i ? ",{\"name\":\"" : "{\"name\":\"");
            rc |= pcf_str(out, node->fields[i].name);
            rc |= pcf_str(out, "\",\"type\":");
            rc |= pcf_write(out, node->fields[i].type, emitted);
            rc |= pcf_str(out, "}");
        }
        rc |= pcf_str(out, "]}");
        break;
    case OUTBOX_AVRO_ENUM:
        rc |= pcf_str(out, "{\"name\":\"");
        rc |= pcf_str(out, node->name);
        rc |= pcf_str(out, "\",\"type\":\"enum\",\"symbols\":[");
        for (i = 0; i < node->n; i++) {
            rc |= pcf_str(out, i ? ",\"" : "\"");
            rc |= pcf_str(out, node->symbols[i]);
            rc |= pcf_str(out, "\"");
        }
        rc |= pcf_str(out, "]}");
        break;
    case OUTBOX_AVRO_FIXED:
        snprintf(num, sizeof(num), "%zu", node->size);
        rc |= pcf_str(out, "{\"name\":\"");
        rc |= pcf_str(out, node->name);
        rc |= pcf_str(out, "\",\"type\":\"fixed\",\"size\":");
        rc |= pcf_str(out, num);
        rc |= pcf_str(out, "}");
        break;
    case OUTBOX_AVRO_ARRAY:
    case OUTBOX_AVRO_MAP:
        rc |= pcf_str(out, node->type == OUTBOX_AVRO_ARRAY ? "{\"type\":\"array\",\"items\":"
                                                           : "{\"type\":\"map\",\"values\":");
        rc |= pcf_write(out, node->items, emitted);
        rc |= pcf_str(out, "}");
        break;
    case OUTBOX_AVRO_UNION:
        rc |= pcf_str(out, "[");
        for (i = 0; i < node->n; i++) {
            if (i)
                rc |= pcf_str(out, ",");
            rc |= pcf_write(out, node->branches[i], emitted);
        }
        rc |= pcf_str(out, "]");
        break;
    default:
        rc |= pcf_str(out, "\"");
        rc |= pcf_str(out, type_name(node->type));
        rc |= pcf_str(out, "\"");
        break;
    }
    return rc;
}

static int compile_canonical(struct parse_ctx *ctx)
{
    outbox_schema *schema = ctx->schema;
    outbox_buf out = OUTBOX_BUF_INIT;
    unsigned char *emitted = NULL;
    int rc;

    emitted = calloc(schema->n_named ? schema->n_named : 1, 1);
    if (emitted == NULL) {
        rc = parse_nomem(ctx);
        goto done;
    }
    if (pcf_write(&out, schema->root, emitted) != 0 || outbox_buf_append_byte(&out, 0) != 0) {
        rc = parse_nomem(ctx);
        goto done;
    }
    schema->canonical = (char *)out.data;
    out.data = NULL;
    schema->fingerprint = outbox_avro_crc64(schema->canonical, out.len - 1);
    rc = 0;
done:
    outbox_buf_free(&out);
    free(emitted);
    return rc;
}

void outbox_schema_destroy(outbox_schema *schema)
{
    struct arena_chunk *chunk;
    struct arena_chunk *next;

    if (schema == NULL)
        return;
    for (chunk = schema->arena; chunk != NULL; chunk = next) {
        next = chunk->next;
        free(chunk);
    }
    free(schema->named);
    free(schema->canonical);
    free(schema->text);
    json_decref(schema->doc);
    free(schema);
}

int outbox_schema_parse(const char *json, size_t len, unsigned flags, outbox_schema **out,
                        char *errstr, size_t errstr_size)
{
    struct parse_ctx ctx;
    outbox_schema *schema = NULL;
    unsigned char *sizes = NULL;
    json_error_t jerr;
    int rc;

    *out = NULL;
    memset(&ctx, 0, sizeof(ctx));
    ctx.flags = flags;
    ctx.errstr = errstr;
    ctx.errstr_size = errstr_size;
    schema = calloc(1, sizeof(*schema));
    if (schema == NULL) {
        rc = parse_nomem(&ctx);
        goto done;
    }
    ctx.schema = schema;
    schema->text = malloc(len + 1);
    if (schema->text == NULL) {
        rc = parse_nomem(&ctx);
        goto done;
    }
    memcpy(schema->text, json, len);
    schema->text[len] = '\0';
    schema->doc = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (schema->doc == NULL) {
        outbox_errstr_set(errstr, errstr_size, "schema is not valid JSON: %s (line %d, column %d)",
                          jerr.text, jerr.line, jerr.column);
        rc = OUTBOX_AVRO_ERR_SCHEMA;
        goto done;
    }
    rc = parse_type(&ctx, schema->doc, "", &schema->root);
    if (rc != 0)
        goto done;
    sizes = calloc(schema->n_named ? schema->n_named : 1, 1);
    if (sizes == NULL) {
        rc = parse_nomem(&ctx);
        goto done;
    }
    compute_min_size(schema->root, sizes);
    /* compute_min_size() sets every node it reaches; named types reached only inside a cycle
     * were finished by the time their caller returned. */
    rc = compile_defaults(&ctx);
    if (rc != 0)
        goto done;
    rc = compile_canonical(&ctx);
    if (rc != 0)
        goto done;
    rc = outbox_avro_reference_check(schema->text, len, errstr, errstr_size);
    if (rc != 0)
        goto done;
    *out = schema;
    schema = NULL;
done:
    free(sizes);
    outbox_schema_destroy(schema);
    return rc;
}

const char *outbox_schema_name(const outbox_schema *schema)
{
    return schema->root->name;
}

const char *outbox_schema_short_name(const outbox_schema *schema)
{
    return schema->root->short_name;
}

const char *outbox_schema_json(const outbox_schema *schema)
{
    return schema->text;
}

const char *outbox_schema_canonical(const outbox_schema *schema)
{
    return schema->canonical;
}

uint64_t outbox_schema_fingerprint(const outbox_schema *schema)
{
    return schema->fingerprint;
}

const outbox_avro_node *outbox_schema_root(const outbox_schema *schema)
{
    return schema->root;
}

/* ---- sets of event schemas -------------------------------------------------------------- */

struct outbox_schemas {
    outbox_schema **items;
    char **origins; /* where each came from, for error messages; may hold NULL */
    size_t n;
    size_t cap;
};

outbox_schemas *outbox_schemas_new(void)
{
    return calloc(1, sizeof(outbox_schemas));
}

void outbox_schemas_destroy(outbox_schemas *schemas)
{
    size_t i;

    if (schemas == NULL)
        return;
    for (i = 0; i < schemas->n; i++) {
        outbox_schema_destroy(schemas->items[i]);
        free(schemas->origins[i]);
    }
    free(schemas->items);
    free(schemas->origins);
    free(schemas);
}

size_t outbox_schemas_count(const outbox_schemas *schemas)
{
    return schemas->n;
}

const outbox_schema *outbox_schemas_get(const outbox_schemas *schemas, size_t i)
{
    return i < schemas->n ? schemas->items[i] : NULL;
}

static const char *origin_or(const outbox_schemas *schemas, size_t i)
{
    return schemas->origins[i] ? schemas->origins[i] : schemas->items[i]->root->name;
}

int outbox_schemas_add(outbox_schemas *schemas, outbox_schema *schema, const char *origin,
                       char *errstr, size_t errstr_size)
{
    const char *where = origin ? origin : outbox_schema_name(schema);
    char *origin_copy = NULL;
    size_t i;
    size_t cap;
    int rc;

    if (schema->root->type != OUTBOX_AVRO_RECORD) {
        outbox_errstr_set(errstr, errstr_size,
                          "%s: top-level type is %s; an event schema must be a record (its name is "
                          "the event type)",
                          where, schema->root->name);
        rc = OUTBOX_AVRO_ERR_SCHEMA;
        goto done;
    }
    for (i = 0; i < schemas->n; i++) {
        const outbox_schema *other = schemas->items[i];

        if (strcmp(other->root->name, schema->root->name) == 0 ||
            strcmp(other->root->short_name, schema->root->short_name) == 0) {
            outbox_errstr_set(
                errstr, errstr_size,
                "%s: event type %s clashes with %s from %s (record names must be unique, "
                "also without namespace)",
                where, schema->root->name, other->root->name, origin_or(schemas, i));
            rc = OUTBOX_AVRO_ERR_SCHEMA;
            goto done;
        }
        if (other->fingerprint == schema->fingerprint) {
            outbox_errstr_set(errstr, errstr_size, "%s: same canonical form as %s", where,
                              origin_or(schemas, i));
            rc = OUTBOX_AVRO_ERR_SCHEMA;
            goto done;
        }
    }
    if (origin != NULL) {
        origin_copy = strdup(origin);
        if (origin_copy == NULL) {
            rc = OUTBOX_AVRO_ERR_NOMEM;
            outbox_errstr_set(errstr, errstr_size, "out of memory");
            goto done;
        }
    }
    if (schemas->n == schemas->cap) {
        outbox_schema **items;
        char **origins;

        cap = schemas->cap ? schemas->cap * 2 : 8;
        items = realloc(schemas->items, cap * sizeof(*items));
        if (items == NULL) {
            rc = OUTBOX_AVRO_ERR_NOMEM;
            outbox_errstr_set(errstr, errstr_size, "out of memory");
            goto done;
        }
        schemas->items = items;
        origins = realloc(schemas->origins, cap * sizeof(*origins));
        if (origins == NULL) {
            rc = OUTBOX_AVRO_ERR_NOMEM;
            outbox_errstr_set(errstr, errstr_size, "out of memory");
            goto done;
        }
        schemas->origins = origins;
        schemas->cap = cap;
    }
    schemas->items[schemas->n] = schema;
    schemas->origins[schemas->n] = origin_copy;
    schemas->n++;
    origin_copy = NULL;
    rc = 0;
done:
    free(origin_copy);
    return rc;
}

const outbox_schema *outbox_schemas_find(const outbox_schemas *schemas, const char *event_type)
{
    int full = strchr(event_type, '.') != NULL;
    size_t i;

    for (i = 0; i < schemas->n; i++) {
        const outbox_avro_node *root = schemas->items[i]->root;

        if (strcmp(full ? root->name : root->short_name, event_type) == 0)
            return schemas->items[i];
    }
    return NULL;
}

const outbox_schema *outbox_schemas_find_fingerprint(const outbox_schemas *schemas,
                                                     uint64_t fingerprint)
{
    size_t i;

    for (i = 0; i < schemas->n; i++) {
        if (schemas->items[i]->fingerprint == fingerprint)
            return schemas->items[i];
    }
    return NULL;
}

static int avsc_filter(const struct dirent *entry)
{
    size_t len = strlen(entry->d_name);

    return entry->d_name[0] != '.' && len > 5 && strcmp(entry->d_name + len - 5, ".avsc") == 0;
}

/* Read a whole file into a new NUL-terminated buffer. */
static int file_read(const char *path, char **text, size_t *len, char *errstr, size_t errstr_size)
{
    FILE *fp = NULL;
    char *data = NULL;
    struct stat st;
    size_t got;
    int rc;

    fp = fopen(path, "rb");
    if (fp == NULL) {
        outbox_errstr_set(errstr, errstr_size, "%s: cannot open: %s", path, strerror(errno));
        rc = OUTBOX_AVRO_ERR_IO;
        goto done;
    }
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        outbox_errstr_set(errstr, errstr_size, "%s: not a regular file", path);
        rc = OUTBOX_AVRO_ERR_IO;
        goto done;
    }
    if ((unsigned long long)st.st_size > SCHEMA_FILE_MAX) {
        outbox_errstr_set(errstr, errstr_size, "%s: larger than %u bytes", path, SCHEMA_FILE_MAX);
        rc = OUTBOX_AVRO_ERR_IO;
        goto done;
    }
    data = malloc((size_t)st.st_size + 1);
    if (data == NULL) {
        outbox_errstr_set(errstr, errstr_size, "%s: out of memory", path);
        rc = OUTBOX_AVRO_ERR_NOMEM;
        goto done;
    }
    got = fread(data, 1, (size_t)st.st_size, fp);
    if (got != (size_t)st.st_size || ferror(fp)) {
        outbox_errstr_set(errstr, errstr_size, "%s: read failed", path);
        rc = OUTBOX_AVRO_ERR_IO;
        goto done;
    }
    data[got] = '\0';
    *text = data;
    *len = got;
    data = NULL;
    rc = 0;
done:
    free(data);
    if (fp != NULL)
        fclose(fp);
    return rc;
}

int outbox_schemas_load_dir(const char *dir, outbox_schemas **out, char *errstr, size_t errstr_size)
{
    struct dirent **entries = NULL;
    outbox_schemas *schemas = NULL;
    outbox_schema *schema = NULL;
    char *text = NULL;
    char *path = NULL;
    char msg[512];
    size_t len;
    int n = 0;
    int i;
    int rc;

    *out = NULL;
    schemas = outbox_schemas_new();
    if (schemas == NULL) {
        outbox_errstr_set(errstr, errstr_size, "out of memory");
        rc = OUTBOX_AVRO_ERR_NOMEM;
        goto done;
    }
    n = scandir(dir, &entries, avsc_filter, alphasort);
    if (n < 0) {
        n = 0;
        outbox_errstr_set(errstr, errstr_size, "schema directory %s: %s", dir, strerror(errno));
        rc = OUTBOX_AVRO_ERR_IO;
        goto done;
    }
    for (i = 0; i < n; i++) {
        if (asprintf(&path, "%s/%s", dir, entries[i]->d_name) < 0) {
            path = NULL;
            outbox_errstr_set(errstr, errstr_size, "out of memory");
            rc = OUTBOX_AVRO_ERR_NOMEM;
            goto done;
        }
        rc = file_read(path, &text, &len, errstr, errstr_size);
        if (rc != 0)
            goto done;
        rc = outbox_schema_parse(text, len, 0, &schema, msg, sizeof(msg));
        if (rc != 0) {
            outbox_errstr_set(errstr, errstr_size, "%s: %s", path, msg);
            goto done;
        }
        rc = outbox_schemas_add(schemas, schema, path, errstr, errstr_size);
        if (rc != 0)
            goto done;
        schema = NULL; /* now owned by schemas */
        free(text);
        text = NULL;
        free(path);
        path = NULL;
    }
    *out = schemas;
    schemas = NULL;
    rc = 0;
done:
    free(path);
    free(text);
    outbox_schema_destroy(schema);
    for (i = 0; i < n; i++)
        free(entries[i]);
    free(entries);
    outbox_schemas_destroy(schemas);
    return rc;
}
