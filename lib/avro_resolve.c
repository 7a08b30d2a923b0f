/* Avro schema resolution: writer-schema binary -> reader-schema binary, by a compiled plan. */
#include "avro_resolve.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESOLVE_MAX_DEPTH 128

/* ---- the plan ---------------------------------------------------------------------------- */

typedef enum step_kind {
    STEP_NULL,          /* nothing to read or write */
    STEP_VARINT,        /* int->int, long->long, int->long, boolean: copy one varint */
    STEP_INT_TO_FLOAT,  /* int/long -> float */
    STEP_INT_TO_DOUBLE, /* int/long -> double */
    STEP_FLOAT,         /* float -> float: copy 4 bytes */
    STEP_FLOAT_DOUBLE,  /* float -> double */
    STEP_DOUBLE,        /* double -> double: copy 8 bytes */
    STEP_BYTES,         /* bytes/string -> bytes/string: copy length and bytes */
    STEP_FIXED,         /* copy `size` bytes */
    STEP_ENUM,          /* writer symbol index -> reader index */
    STEP_ARRAY,
    STEP_MAP,
    STEP_RECORD,
    STEP_WRITER_UNION, /* read the writer's branch index, run that branch's step */
    STEP_READER_UNION, /* write the reader's branch index, run `sub` */
    STEP_FAIL,         /* a writer union branch the reader cannot take: fails at run time */
} step_kind;

typedef enum op_kind {
    OP_FIELD,   /* resolve a writer field into reader field `rindex` */
    OP_SKIP,    /* skip a writer field the reader does not have */
    OP_DEFAULT, /* write reader field `rindex`'s default */
} op_kind;

struct step;

typedef struct rec_op {
    op_kind kind;
    const struct step *step;        /* OP_FIELD */
    const outbox_avro_node *skip;   /* OP_SKIP: the writer field's type */
    const outbox_avro_field *field; /* OP_DEFAULT: the reader field; OP_FIELD/SKIP: writer's */
    size_t rindex;                  /* OP_FIELD, OP_DEFAULT */
} rec_op;

typedef struct step {
    step_kind kind;
    const outbox_avro_node *w;    /* writer node */
    const outbox_avro_node *r;    /* reader node (the union for STEP_READER_UNION) */
    const struct step *sub;       /* array items, map values, reader union's branch */
    int branch;                   /* STEP_READER_UNION: reader branch index */
    const struct step **branches; /* STEP_WRITER_UNION: one per writer branch */
    int *symbols;                 /* STEP_ENUM: writer index -> reader index or -1 */
    rec_op *ops;                  /* STEP_RECORD: writer order, defaults interleaved */
    size_t n_ops;
    int reorder; /* STEP_RECORD: writer fields come in another order than the reader's */
    char *why;   /* STEP_FAIL */
    struct step *next_alloc;
} step;

typedef struct memo {
    const outbox_avro_node *w;
    const outbox_avro_node *r;
    step *step;
} memo;

struct outbox_avro_plan {
    const step *root;
    step *steps; /* every step, for freeing */
    memo *memos; /* record pairs, so recursive types compile once */
    size_t n_memos;
};

struct build_ctx {
    outbox_avro_plan *plan;
    int strict; /* every writer value must resolve: no run-time failures left in the plan */
    /* strict, and every problem goes to each() instead of ending the build (the plan is then
     * only checked, never run) */
    void (*each)(void *opaque, const char *problem);
    void *each_opaque;
    int problems;
    char path[512];
    size_t path_len;
    char *errstr;
    size_t errstr_size;
};

static int build_fail(struct build_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int build_fail(struct build_ctx *ctx, const char *fmt, ...)
{
    char msg[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(ctx->errstr, ctx->errstr_size, "%s: %s", ctx->path_len ? ctx->path : "(top level)",
             msg);
    if (ctx->each == NULL)
        return OUTBOX_AVRO_ERR_RESOLVE;
    ctx->each(ctx->each_opaque, ctx->errstr);
    ctx->problems++;
    return 0;
}

static int build_nomem(struct build_ctx *ctx)
{
    snprintf(ctx->errstr, ctx->errstr_size, "out of memory");
    return OUTBOX_AVRO_ERR_NOMEM;
}

/* Append ".name" (or "name" at the start) to the path; returns the length to restore. */
static size_t path_push(struct build_ctx *ctx, const char *sep, const char *name)
{
    size_t mark = ctx->path_len;
    int n = snprintf(ctx->path + mark, sizeof(ctx->path) - mark, "%s%s", mark ? sep : "", name);

    if (n > 0)
        ctx->path_len =
            mark + (size_t)n < sizeof(ctx->path) ? mark + (size_t)n : sizeof(ctx->path) - 1;
    return mark;
}

static void path_pop(struct build_ctx *ctx, size_t mark)
{
    ctx->path_len = mark;
    ctx->path[mark] = '\0';
}

static step *step_new(struct build_ctx *ctx, step_kind kind, const outbox_avro_node *w,
                      const outbox_avro_node *r)
{
    step *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->kind = kind;
    s->w = w;
    s->r = r;
    s->next_alloc = ctx->plan->steps;
    ctx->plan->steps = s;
    return s;
}

static const char *type_label(const outbox_avro_node *node)
{
    return node->name;
}

/* The step of a promotion or identity between two primitive types, or -1. */
static int primitive_step(outbox_avro_type w, outbox_avro_type r)
{
    switch (w) {
    case OUTBOX_AVRO_NULL:
        return r == OUTBOX_AVRO_NULL ? STEP_NULL : -1;
    case OUTBOX_AVRO_BOOLEAN:
        return r == OUTBOX_AVRO_BOOLEAN ? STEP_VARINT : -1;
    case OUTBOX_AVRO_INT:
    case OUTBOX_AVRO_LONG:
        if (r == OUTBOX_AVRO_LONG || (r == OUTBOX_AVRO_INT && w == OUTBOX_AVRO_INT))
            return STEP_VARINT;
        if (r == OUTBOX_AVRO_FLOAT)
            return STEP_INT_TO_FLOAT;
        return r == OUTBOX_AVRO_DOUBLE ? STEP_INT_TO_DOUBLE : -1;
    case OUTBOX_AVRO_FLOAT:
        if (r == OUTBOX_AVRO_FLOAT)
            return STEP_FLOAT;
        return r == OUTBOX_AVRO_DOUBLE ? STEP_FLOAT_DOUBLE : -1;
    case OUTBOX_AVRO_DOUBLE:
        return r == OUTBOX_AVRO_DOUBLE ? STEP_DOUBLE : -1;
    case OUTBOX_AVRO_BYTES:
    case OUTBOX_AVRO_STRING:
        return r == OUTBOX_AVRO_BYTES || r == OUTBOX_AVRO_STRING ? STEP_BYTES : -1;
    default:
        return -1;
    }
}

static int is_primitive(outbox_avro_type type)
{
    return type <= OUTBOX_AVRO_STRING;
}

/* Whether a reader union branch "matches" a (non-union) writer schema, per the spec: the same
 * type or a promotion; named types by unqualified name (fixed also by size). */
static int branch_matches(const outbox_avro_node *w, const outbox_avro_node *r)
{
    if (is_primitive(w->type) && is_primitive(r->type))
        return primitive_step(w->type, r->type) >= 0;
    if (w->type != r->type)
        return 0;
    switch (w->type) {
    case OUTBOX_AVRO_RECORD:
    case OUTBOX_AVRO_ENUM:
        return strcmp(w->short_name, r->short_name) == 0;
    case OUTBOX_AVRO_FIXED:
        return strcmp(w->short_name, r->short_name) == 0 && w->size == r->size;
    default:
        return 1; /* array, map: items are resolved (and may fail) recursively */
    }
}

/* The same type without promotion (named types by unqualified name). */
static int branch_same(const outbox_avro_node *w, const outbox_avro_node *r)
{
    return w->type == r->type && branch_matches(w, r);
}

static int build(struct build_ctx *ctx, const outbox_avro_node *w, const outbox_avro_node *r,
                 const step **out);

static const outbox_avro_field *field_named(const outbox_avro_node *rec, const char *name)
{
    for (size_t i = 0; i < rec->n; i++)
        if (strcmp(rec->fields[i].name, name) == 0)
            return &rec->fields[i];
    return NULL;
}

/* Reader fields the writer lacks must have defaults; writer fields the reader lacks are
 * skipped. Ops in writer order; defaults are placed before the next matched field whose
 * reader index is greater, so in-order records stream without buffering. */
static int build_record_ops(struct build_ctx *ctx, step *s, const outbox_avro_node *w,
                            const outbox_avro_node *r)
{
    size_t next_r = 0; /* reader fields < next_r are placed (streaming order) */
    size_t n = 0;

    s->ops = calloc(w->n + r->n + 1, sizeof(*s->ops));
    if (s->ops == NULL)
        return build_nomem(ctx);
    for (size_t i = 0; i < r->n; i++) {
        const outbox_avro_field *rf = &r->fields[i];
        if (field_named(w, rf->name) == NULL && !rf->has_default) {
            size_t mark = path_push(ctx, ".", rf->name);
            int rc = build_fail(ctx,
                                "reader field (%s) has no default and the writer's %s has no "
                                "such field",
                                type_label(rf->type), w->name);
            path_pop(ctx, mark);
            if (rc != 0)
                return rc;
        }
    }
    for (size_t i = 0; i < w->n; i++) {
        const outbox_avro_field *wf = &w->fields[i];
        const outbox_avro_field *rf = field_named(r, wf->name);
        if (rf == NULL) {
            s->ops[n++] = (rec_op){.kind = OP_SKIP, .skip = wf->type, .field = wf};
            continue;
        }
        size_t ri = (size_t)(rf - r->fields);
        if (ri < next_r)
            s->reorder = 1;
        while (!s->reorder && next_r < ri) {
            if (field_named(w, r->fields[next_r].name) == NULL)
                s->ops[n++] =
                    (rec_op){.kind = OP_DEFAULT, .field = &r->fields[next_r], .rindex = next_r};
            next_r++;
        }
        if (next_r <= ri)
            next_r = ri + 1;
        size_t mark = path_push(ctx, ".", wf->name);
        const step *sub = NULL;
        int rc = build(ctx, wf->type, rf->type, &sub);
        if (rc != 0)
            return rc;
        path_pop(ctx, mark);
        s->ops[n++] = (rec_op){.kind = OP_FIELD, .step = sub, .field = wf, .rindex = ri};
    }
    for (size_t i = 0; i < r->n; i++) {
        /* trailing defaults (in order), or every default when reordering */
        if ((s->reorder || i >= next_r) && field_named(w, r->fields[i].name) == NULL)
            s->ops[n++] = (rec_op){.kind = OP_DEFAULT, .field = &r->fields[i], .rindex = i};
    }
    s->n_ops = n;
    return 0;
}

static int build_record(struct build_ctx *ctx, const outbox_avro_node *w, const outbox_avro_node *r,
                        const step **out)
{
    if (strcmp(w->short_name, r->short_name) != 0)
        return build_fail(ctx, "writer record %s and reader record %s differ in name", w->name,
                          r->name);
    for (size_t i = 0; i < ctx->plan->n_memos; i++)
        if (ctx->plan->memos[i].w == w && ctx->plan->memos[i].r == r) {
            *out = ctx->plan->memos[i].step;
            return 0;
        }
    step *s = step_new(ctx, STEP_RECORD, w, r);
    memo *grown = realloc(ctx->plan->memos, (ctx->plan->n_memos + 1) * sizeof(*grown));
    if (s == NULL || grown == NULL) {
        if (grown != NULL)
            ctx->plan->memos = grown;
        return build_nomem(ctx);
    }
    ctx->plan->memos = grown;
    ctx->plan->memos[ctx->plan->n_memos++] = (memo){w, r, s};
    *out = s;
    return build_record_ops(ctx, s, w, r);
}

static int build_enum(struct build_ctx *ctx, const outbox_avro_node *w, const outbox_avro_node *r,
                      const step **out)
{
    if (strcmp(w->short_name, r->short_name) != 0)
        return build_fail(ctx, "writer enum %s and reader enum %s differ in name", w->name,
                          r->name);
    step *s = step_new(ctx, STEP_ENUM, w, r);
    if (s == NULL || (s->symbols = calloc(w->n ? w->n : 1, sizeof(int))) == NULL)
        return build_nomem(ctx);
    for (size_t i = 0; i < w->n; i++) {
        s->symbols[i] = r->enum_default;
        for (size_t j = 0; j < r->n; j++)
            if (strcmp(w->symbols[i], r->symbols[j]) == 0) {
                s->symbols[i] = (int)j;
                break;
            }
        if (s->symbols[i] < 0 && ctx->strict)
            return build_fail(ctx,
                              "writer symbol '%s' is not in the reader's enum %s, which has no "
                              "default",
                              w->symbols[i], r->name);
    }
    *out = s;
    return 0;
}

/* A writer branch the reader cannot take: an error only for values that use it. */
static int build_fail_step(struct build_ctx *ctx, const outbox_avro_node *w,
                           const outbox_avro_node *r, const char *why, const step **out)
{
    step *s = step_new(ctx, STEP_FAIL, w, r);
    if (s == NULL || (s->why = strdup(why)) == NULL)
        return build_nomem(ctx);
    *out = s;
    return 0;
}

static int build_writer_union(struct build_ctx *ctx, const outbox_avro_node *w,
                              const outbox_avro_node *r, const step **out)
{
    step *s = step_new(ctx, STEP_WRITER_UNION, w, r);
    if (s == NULL || (s->branches = calloc(w->n ? w->n : 1, sizeof(*s->branches))) == NULL)
        return build_nomem(ctx);
    for (size_t i = 0; i < w->n; i++) {
        char saved[sizeof(ctx->path)];
        size_t mark = ctx->path_len;
        memcpy(saved, ctx->path, mark + 1);
        int rc = build(ctx, w->branches[i], r, &s->branches[i]);
        if (rc == OUTBOX_AVRO_ERR_RESOLVE && !ctx->strict) {
            memcpy(ctx->path, saved, mark + 1);
            ctx->path_len = mark;
            rc = build_fail_step(ctx, w->branches[i], r, ctx->errstr, &s->branches[i]);
        }
        if (rc != 0)
            return rc;
    }
    *out = s;
    return 0;
}

static int build_reader_union(struct build_ctx *ctx, const outbox_avro_node *w,
                              const outbox_avro_node *r, const step **out)
{
    /* The same type first (as Java and Python readers do), then the first promotion. */
    for (size_t k = 0; k < 2 * r->n; k++) {
        size_t i = k % r->n;
        if (k < r->n ? !branch_same(w, r->branches[i]) : !branch_matches(w, r->branches[i]))
            continue;
        step *s = step_new(ctx, STEP_READER_UNION, w, r);
        if (s == NULL)
            return build_nomem(ctx);
        s->branch = (int)i;
        *out = s;
        return build(ctx, w, r->branches[i], &s->sub);
    }
    char names[256];
    size_t len = 0;
    names[0] = '\0';
    for (size_t i = 0; i < r->n && len < sizeof(names); i++) {
        int n =
            snprintf(names + len, sizeof(names) - len, "%s%s", i ? ", " : "", r->branches[i]->name);
        len += n > 0 ? (size_t)n : 0;
    }
    return build_fail(ctx, "writer type %s matches no branch of the reader's union [%s]", w->name,
                      names);
}

static int build(struct build_ctx *ctx, const outbox_avro_node *w, const outbox_avro_node *r,
                 const step **out)
{
    if (w->type == OUTBOX_AVRO_UNION)
        return build_writer_union(ctx, w, r, out);
    if (r->type == OUTBOX_AVRO_UNION)
        return build_reader_union(ctx, w, r, out);
    if (is_primitive(w->type) && is_primitive(r->type)) {
        int kind = primitive_step(w->type, r->type);
        if (kind < 0)
            return build_fail(ctx, "writer type %s cannot be read as %s", w->name, r->name);
        step *s = step_new(ctx, (step_kind)kind, w, r);
        *out = s;
        return s == NULL ? build_nomem(ctx) : 0;
    }
    if (w->type != r->type)
        return build_fail(ctx, "writer type %s cannot be read as %s", w->name, r->name);
    switch (w->type) {
    case OUTBOX_AVRO_RECORD:
        return build_record(ctx, w, r, out);
    case OUTBOX_AVRO_ENUM:
        return build_enum(ctx, w, r, out);
    case OUTBOX_AVRO_FIXED: {
        if (strcmp(w->short_name, r->short_name) != 0 || w->size != r->size)
            return build_fail(ctx, "writer fixed %s (%zu bytes) cannot be read as fixed %s (%zu)",
                              w->name, w->size, r->name, r->size);
        step *s = step_new(ctx, STEP_FIXED, w, r);
        *out = s;
        return s == NULL ? build_nomem(ctx) : 0;
    }
    default: { /* array, map */
        step *s = step_new(ctx, w->type == OUTBOX_AVRO_ARRAY ? STEP_ARRAY : STEP_MAP, w, r);
        if (s == NULL)
            return build_nomem(ctx);
        *out = s;
        size_t mark = path_push(ctx, "", w->type == OUTBOX_AVRO_ARRAY ? "[]" : "{}");
        int rc = build(ctx, w->items, r->items, &s->sub);
        if (rc == 0)
            path_pop(ctx, mark);
        return rc;
    }
    }
}

void outbox_avro_plan_free(outbox_avro_plan *plan)
{
    if (plan == NULL)
        return;
    for (step *s = plan->steps; s != NULL;) {
        step *next = s->next_alloc;
        free(s->branches);
        free(s->symbols);
        free(s->ops);
        free(s->why);
        free(s);
        s = next;
    }
    free(plan->memos);
    free(plan);
}

static int plan_build(const outbox_avro_node *writer, const outbox_avro_node *reader, int strict,
                      outbox_avro_plan **plan, char *errstr, size_t errstr_size)
{
    struct build_ctx ctx = {.errstr = errstr, .errstr_size = errstr_size, .strict = strict};

    *plan = NULL;
    ctx.plan = calloc(1, sizeof(*ctx.plan));
    if (ctx.plan == NULL)
        return build_nomem(&ctx);
    if (reader->type == OUTBOX_AVRO_RECORD)
        path_push(&ctx, "", reader->short_name);
    int rc = build(&ctx, writer, reader, &ctx.plan->root);
    if (rc != 0) {
        outbox_avro_plan_free(ctx.plan);
        return rc;
    }
    *plan = ctx.plan;
    return 0;
}

int outbox_avro_plan_new_node(const outbox_avro_node *writer, const outbox_avro_node *reader,
                              outbox_avro_plan **plan, char *errstr, size_t errstr_size)
{
    return plan_build(writer, reader, 0, plan, errstr, errstr_size);
}

int outbox_avro_can_read_each(const outbox_schema *writer, const outbox_schema *reader,
                              void (*each)(void *opaque, const char *problem), void *opaque)
{
    char errstr[512];
    struct build_ctx ctx = {.errstr = errstr,
                            .errstr_size = sizeof(errstr),
                            .strict = 1,
                            .each = each,
                            .each_opaque = opaque};

    ctx.plan = calloc(1, sizeof(*ctx.plan));
    if (ctx.plan == NULL)
        return OUTBOX_AVRO_ERR_NOMEM;
    if (outbox_schema_root(reader)->type == OUTBOX_AVRO_RECORD)
        path_push(&ctx, "", outbox_schema_root(reader)->short_name);
    int rc = build(&ctx, outbox_schema_root(writer), outbox_schema_root(reader), &ctx.plan->root);
    outbox_avro_plan_free(ctx.plan);
    return rc != 0 ? rc : ctx.problems;
}

int outbox_avro_can_read(const outbox_schema *writer, const outbox_schema *reader, char *errstr,
                         size_t errstr_size)
{
    outbox_avro_plan *plan = NULL;
    int rc = plan_build(outbox_schema_root(writer), outbox_schema_root(reader), 1, &plan, errstr,
                        errstr_size);
    outbox_avro_plan_free(plan);
    return rc;
}

int outbox_avro_plan_new(const outbox_schema *writer, const outbox_schema *reader,
                         outbox_avro_plan **plan, char *errstr, size_t errstr_size)
{
    return outbox_avro_plan_new_node(outbox_schema_root(writer), outbox_schema_root(reader), plan,
                                     errstr, errstr_size);
}

/* ---- running a plan ---------------------------------------------------------------------- */

struct run_ctx {
    const uint8_t *p;
    const uint8_t *start;
    const uint8_t *end;
    outbox_buf *out;
    int depth;
    char *errstr;
    size_t errstr_size;
};

static int run_fail(struct run_ctx *ctx, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int run_fail(struct run_ctx *ctx, int rc, const char *fmt, ...)
{
    char msg[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(ctx->errstr, ctx->errstr_size, "%s (at byte %zu)", msg, (size_t)(ctx->p - ctx->start));
    return rc;
}

static int run_nomem(struct run_ctx *ctx)
{
    snprintf(ctx->errstr, ctx->errstr_size, "out of memory");
    return OUTBOX_AVRO_ERR_NOMEM;
}

/* A zigzag varint of at most 10 bytes (5 for int); *raw_len gets its encoded length. */
static int read_long(struct run_ctx *ctx, int max_bytes, int64_t *value, size_t *raw_len)
{
    uint64_t v = 0;
    const uint8_t *p = ctx->p;

    for (int i = 0;; i++) {
        if (p >= ctx->end)
            return run_fail(ctx, OUTBOX_AVRO_ERR_TRUNCATED, "input ends inside a varint");
        uint8_t b = *p++;
        if (i == max_bytes - 1 && (b & 0x80 || b > (max_bytes == 10 ? 0x01 : 0x0F)))
            return run_fail(ctx, OUTBOX_AVRO_ERR_MALFORMED, "varint longer than %d bits",
                            max_bytes == 10 ? 64 : 32);
        v |= (uint64_t)(b & 0x7F) << (7 * i);
        if (!(b & 0x80))
            break;
    }
    if (raw_len != NULL)
        *raw_len = (size_t)(p - ctx->p);
    ctx->p = p;
    *value = (int64_t)((v >> 1) ^ (0 - (v & 1)));
    return 0;
}

static int put_long(struct run_ctx *ctx, int64_t value)
{
    uint8_t tmp[10];
    uint64_t v = ((uint64_t)value << 1) ^ (uint64_t)(value >> 63);
    size_t n = 0;

    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    return outbox_buf_append(ctx->out, tmp, n) ? run_nomem(ctx) : 0;
}

static int need(struct run_ctx *ctx, size_t n)
{
    if ((size_t)(ctx->end - ctx->p) < n)
        return run_fail(ctx, OUTBOX_AVRO_ERR_TRUNCATED, "%zu bytes needed, %zu left", n,
                        (size_t)(ctx->end - ctx->p));
    return 0;
}

/* Copy the next n input bytes to the output. */
static int copy(struct run_ctx *ctx, size_t n)
{
    int rc = need(ctx, n);
    if (rc != 0)
        return rc;
    if (outbox_buf_append(ctx->out, ctx->p, n))
        return run_nomem(ctx);
    ctx->p += n;
    return 0;
}

static int read_length(struct run_ctx *ctx, size_t *len)
{
    int64_t n;
    int rc = read_long(ctx, 10, &n, NULL);
    if (rc != 0)
        return rc;
    if (n < 0)
        return run_fail(ctx, OUTBOX_AVRO_ERR_MALFORMED, "negative length %lld", (long long)n);
    *len = (size_t)n;
    return need(ctx, *len);
}

static int put_le(struct run_ctx *ctx, uint64_t bits, int n)
{
    uint8_t tmp[8];
    for (int i = 0; i < n; i++)
        tmp[i] = (uint8_t)(bits >> (8 * i));
    return outbox_buf_append(ctx->out, tmp, (size_t)n) ? run_nomem(ctx) : 0;
}

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t bits = 0;
    for (int i = 0; i < n; i++)
        bits |= (uint64_t)p[i] << (8 * i);
    return bits;
}

static int run_step(struct run_ctx *ctx, const step *s);

/* The count of the next array/map block (0 ends it); a negative count's byte size is read
 * and ignored. Bounded by what the input can hold, and for items of an empty type (null, an
 * empty record) by RESOLVE_MAX_EMPTY_ITEMS over the whole container. */
#define RESOLVE_MAX_EMPTY_ITEMS 65536

static int block_count(struct run_ctx *ctx, const outbox_avro_node *container, size_t *total,
                       int64_t *count)
{
    size_t min_size = container->items->min_size + (container->type == OUTBOX_AVRO_MAP ? 1 : 0);
    int64_t size;
    int rc = read_long(ctx, 10, count, NULL);

    if (rc != 0)
        return rc;
    if (*count < 0) {
        if (*count == INT64_MIN)
            return run_fail(ctx, OUTBOX_AVRO_ERR_MALFORMED, "block count out of range");
        *count = -*count;
        rc = read_long(ctx, 10, &size, NULL);
        if (rc != 0)
            return rc;
        if (size < 0)
            return run_fail(ctx, OUTBOX_AVRO_ERR_MALFORMED, "negative block size");
    }
    if (min_size > 0 && (uint64_t)*count > (uint64_t)(ctx->end - ctx->p) / min_size)
        return run_fail(ctx, OUTBOX_AVRO_ERR_TRUNCATED,
                        "block of %lld items cannot fit in %zu bytes", (long long)*count,
                        (size_t)(ctx->end - ctx->p));
    if (min_size == 0 && ((uint64_t)*count > RESOLVE_MAX_EMPTY_ITEMS ||
                          *total + (size_t)*count > RESOLVE_MAX_EMPTY_ITEMS))
        return run_fail(ctx, OUTBOX_AVRO_ERR_MALFORMED, "more than %d items of an empty type",
                        RESOLVE_MAX_EMPTY_ITEMS);
    *total += (size_t)*count;
    return 0;
}

static int index_in_range(struct run_ctx *ctx, int64_t v, size_t n, const char *what)
{
    if (v < 0 || (uint64_t)v >= n)
        return run_fail(ctx, OUTBOX_AVRO_ERR_MALFORMED, "%s index %lld out of range (0..%zu)", what,
                        (long long)v, n - 1);
    return 0;
}

static int skip_value(struct run_ctx *ctx, const outbox_avro_node *w);

static int skip_blocks(struct run_ctx *ctx, const outbox_avro_node *w)
{
    size_t total = 0;
    for (;;) {
        int64_t count;
        int rc = block_count(ctx, w, &total, &count);
        if (rc != 0 || count == 0)
            return rc;
        for (int64_t i = 0; i < count; i++) {
            size_t len;
            if (w->type == OUTBOX_AVRO_MAP && (rc = read_length(ctx, &len)) != 0)
                return rc;
            if (w->type == OUTBOX_AVRO_MAP)
                ctx->p += len;
            if ((rc = skip_value(ctx, w->items)) != 0)
                return rc;
        }
    }
}

static int skip_span(struct run_ctx *ctx, size_t n)
{
    int rc = need(ctx, n);
    if (rc == 0)
        ctx->p += n;
    return rc;
}

/* Skip a writer value, checking its structure, without output. */
static int skip_value(struct run_ctx *ctx, const outbox_avro_node *w)
{
    int64_t v;
    size_t len;
    int rc = 0;

    if (++ctx->depth > RESOLVE_MAX_DEPTH)
        return run_fail(ctx, OUTBOX_AVRO_ERR_MALFORMED, "value nested deeper than %d levels",
                        RESOLVE_MAX_DEPTH);
    switch (w->type) {
    case OUTBOX_AVRO_NULL:
        break;
    case OUTBOX_AVRO_BOOLEAN:
    case OUTBOX_AVRO_INT:
    case OUTBOX_AVRO_LONG:
        rc = read_long(ctx, w->type == OUTBOX_AVRO_LONG ? 10 : 5, &v, NULL);
        break;
    case OUTBOX_AVRO_FLOAT:
        rc = skip_span(ctx, 4);
        break;
    case OUTBOX_AVRO_DOUBLE:
        rc = skip_span(ctx, 8);
        break;
    case OUTBOX_AVRO_BYTES:
    case OUTBOX_AVRO_STRING:
        if ((rc = read_length(ctx, &len)) == 0)
            ctx->p += len;
        break;
    case OUTBOX_AVRO_FIXED:
        rc = skip_span(ctx, w->size);
        break;
    case OUTBOX_AVRO_ENUM:
        if ((rc = read_long(ctx, 5, &v, NULL)) == 0)
            rc = index_in_range(ctx, v, w->n, "enum");
        break;
    case OUTBOX_AVRO_UNION:
        if ((rc = read_long(ctx, 10, &v, NULL)) == 0 &&
            (rc = index_in_range(ctx, v, w->n, "union")) == 0)
            rc = skip_value(ctx, w->branches[v]);
        break;
    case OUTBOX_AVRO_RECORD:
        for (size_t i = 0; i < w->n && rc == 0; i++)
            rc = skip_value(ctx, w->fields[i].type);
        break;
    default:
        rc = skip_blocks(ctx, w);
        break;
    }
    ctx->depth--;
    return rc;
}

typedef struct span {
    size_t off;          /* in the record's scratch buffer */
    size_t len;          /* 0 with dflt == NULL: not set */
    const uint8_t *dflt; /* a reader default's bytes instead */
} span;

/* Writer fields in another order than the reader's: resolve each into a scratch buffer,
 * then emit the reader's fields in its order. */
static int run_record_reordered(struct run_ctx *ctx, const step *s)
{
    outbox_buf tmp = OUTBOX_BUF_INIT;
    outbox_buf *out = ctx->out;
    span *spans = calloc(s->r->n ? s->r->n : 1, sizeof(*spans));
    int rc = spans == NULL ? run_nomem(ctx) : 0;

    ctx->out = &tmp;
    for (size_t i = 0; i < s->n_ops && rc == 0; i++) {
        const rec_op *op = &s->ops[i];
        size_t start = tmp.len;
        if (op->kind == OP_SKIP) {
            rc = skip_value(ctx, op->skip);
        } else if (op->kind == OP_DEFAULT) {
            spans[op->rindex] = (span){0, op->field->default_len, op->field->default_bin};
        } else {
            rc = run_step(ctx, op->step);
            spans[op->rindex] = (span){start, tmp.len - start, NULL};
        }
    }
    ctx->out = out;
    for (size_t i = 0; i < s->r->n && rc == 0; i++) {
        const uint8_t *bytes = spans[i].dflt != NULL ? spans[i].dflt : tmp.data + spans[i].off;
        if (outbox_buf_append(out, bytes, spans[i].len))
            rc = run_nomem(ctx);
    }
    free(spans);
    outbox_buf_free(&tmp);
    return rc;
}

static int run_record(struct run_ctx *ctx, const step *s)
{
    int rc = 0;

    if (s->reorder)
        return run_record_reordered(ctx, s);
    for (size_t i = 0; i < s->n_ops && rc == 0; i++) {
        const rec_op *op = &s->ops[i];
        if (op->kind == OP_SKIP)
            rc = skip_value(ctx, op->skip);
        else if (op->kind == OP_DEFAULT)
            rc = outbox_buf_append(ctx->out, op->field->default_bin, op->field->default_len)
                     ? run_nomem(ctx)
                     : 0;
        else
            rc = run_step(ctx, op->step);
    }
    return rc;
}

static int run_blocks(struct run_ctx *ctx, const step *s)
{
    size_t total = 0;
    for (;;) {
        int64_t count;
        int rc = block_count(ctx, s->w, &total, &count);
        if (rc == 0)
            rc = put_long(ctx, count);
        if (rc != 0 || count == 0)
            return rc;
        for (int64_t i = 0; i < count; i++) {
            size_t len;
            if (s->kind == STEP_MAP &&
                ((rc = read_length(ctx, &len)) != 0 || (rc = put_long(ctx, (int64_t)len)) != 0 ||
                 (rc = copy(ctx, len)) != 0))
                return rc;
            if ((rc = run_step(ctx, s->sub)) != 0)
                return rc;
        }
    }
}

static int run_enum(struct run_ctx *ctx, const step *s)
{
    int64_t v;
    int rc = read_long(ctx, 5, &v, NULL);

    if (rc == 0)
        rc = index_in_range(ctx, v, s->w->n, "enum");
    if (rc != 0)
        return rc;
    if (s->symbols[v] < 0)
        return run_fail(ctx, OUTBOX_AVRO_ERR_RESOLVE,
                        "symbol '%s' of the writer's enum %s is not in the reader's enum, "
                        "which has no default",
                        s->w->symbols[v], s->w->name);
    return put_long(ctx, s->symbols[v]);
}

static int put_double(struct run_ctx *ctx, double d)
{
    uint64_t bits;
    memcpy(&bits, &d, 8);
    return put_le(ctx, bits, 8);
}

static int put_float(struct run_ctx *ctx, float f)
{
    uint32_t bits;
    memcpy(&bits, &f, 4);
    return put_le(ctx, bits, 4);
}

static int run_numeric(struct run_ctx *ctx, const step *s)
{
    int64_t v = 0;
    int rc;

    if (s->kind == STEP_FLOAT)
        return copy(ctx, 4);
    if (s->kind == STEP_DOUBLE)
        return copy(ctx, 8);
    if (s->kind == STEP_FLOAT_DOUBLE) {
        float f;
        uint32_t bits;
        if ((rc = need(ctx, 4)) != 0)
            return rc;
        bits = (uint32_t)get_le(ctx->p, 4);
        memcpy(&f, &bits, 4);
        ctx->p += 4;
        return put_double(ctx, f);
    }
    /* an int or long (boolean too: its 0/1 varint is checked by the reader's decoder) */
    rc = read_long(ctx, s->w->type == OUTBOX_AVRO_LONG ? 10 : 5, &v, NULL);
    if (rc != 0)
        return rc;
    if (s->kind == STEP_INT_TO_FLOAT)
        return put_float(ctx, (float)v);
    if (s->kind == STEP_INT_TO_DOUBLE)
        return put_double(ctx, (double)v);
    return put_long(ctx, v); /* STEP_VARINT */
}

static int run_step_inner(struct run_ctx *ctx, const step *s)
{
    int64_t v;
    size_t len;
    int rc;

    switch (s->kind) {
    case STEP_NULL:
        return 0;
    case STEP_BYTES:
        if ((rc = read_length(ctx, &len)) != 0 || (rc = put_long(ctx, (int64_t)len)) != 0)
            return rc;
        return copy(ctx, len);
    case STEP_FIXED:
        return copy(ctx, s->w->size);
    case STEP_ENUM:
        return run_enum(ctx, s);
    case STEP_ARRAY:
    case STEP_MAP:
        return run_blocks(ctx, s);
    case STEP_RECORD:
        return run_record(ctx, s);
    case STEP_WRITER_UNION:
        if ((rc = read_long(ctx, 10, &v, NULL)) != 0 ||
            (rc = index_in_range(ctx, v, s->w->n, "union")) != 0)
            return rc;
        return run_step(ctx, s->branches[v]);
    case STEP_READER_UNION:
        if ((rc = put_long(ctx, s->branch)) != 0)
            return rc;
        return run_step(ctx, s->sub);
    case STEP_FAIL:
        return run_fail(ctx, OUTBOX_AVRO_ERR_RESOLVE, "%s", s->why);
    default:
        return run_numeric(ctx, s);
    }
}

static int run_step(struct run_ctx *ctx, const step *s)
{
    if (++ctx->depth > RESOLVE_MAX_DEPTH)
        return run_fail(ctx, OUTBOX_AVRO_ERR_MALFORMED, "value nested deeper than %d levels",
                        RESOLVE_MAX_DEPTH);
    int rc = run_step_inner(ctx, s);
    ctx->depth--;
    return rc;
}

int outbox_avro_resolve(const outbox_avro_plan *plan, const void *data, size_t len, outbox_buf *out,
                        char *errstr, size_t errstr_size)
{
    struct run_ctx ctx = {.p = data,
                          .start = data,
                          .end = (const uint8_t *)data + len,
                          .out = out,
                          .errstr = errstr,
                          .errstr_size = errstr_size};
    size_t mark = out->len;
    int rc = run_step(&ctx, plan->root);

    if (rc == 0 && ctx.p != ctx.end)
        rc = run_fail(&ctx, OUTBOX_AVRO_ERR_MALFORMED, "%zu trailing bytes after the value",
                      (size_t)(ctx.end - ctx.p));
    if (rc != 0)
        out->len = mark;
    return rc;
}
