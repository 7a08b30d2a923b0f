#ifndef OUTBOX_AVRO_RESOLVE_H
#define OUTBOX_AVRO_RESOLVE_H

/*
 * Avro schema resolution (specification, "Schema Resolution"): a value written with one
 * schema (the writer's) is read as another (the reader's).
 *
 * A plan is compiled once per (writer, reader) pair; it turns the writer's Avro binary into
 * the Avro binary of the same datum under the reader schema, which the ordinary decoder
 * (avro_json.h) then renders. The rules:
 *   records     matched by unqualified name; fields by name. A writer field the reader lacks
 *               is skipped; a reader field the writer lacks takes its default (pre-encoded at
 *               parse time); without a default the pair does not resolve. Field order may
 *               differ.
 *   promotions  int -> long, float, double; long -> float, double; float -> double;
 *               string <-> bytes. Logical types are ignored (the underlying types resolve).
 *   enums       matched by unqualified name; a writer symbol the reader lacks becomes the
 *               reader's "default" symbol, else the VALUE fails to resolve (at run time).
 *   fixed       same unqualified name and size.
 *   arrays,     items / values resolved recursively.
 *   maps
 *   unions      writer union: each branch is resolved on its own; a branch nothing in the
 *               reader matches fails only for values that use it (at run time). Reader union,
 *               writer not: the first reader branch of the same type (named types: same
 *               unqualified name) is used, else the first one it promotes to (as the Java
 *               and Python readers choose); none: the pair does not resolve.
 * Aliases are not supported (the parser ignores them).
 *
 * Errors name the path and the rule: "CommentCreated.score: reader field (long) has no
 * default and the writer has no such field", "CommentCreated.status: writer symbol 'SPAM' is
 * not in the reader's enum Status, which has no default".
 *
 * Thread-safety: a plan is immutable once built and may be used by any number of threads at
 * once; each call uses the caller's output buffer. The plan borrows both schemas' compiled
 * nodes: keep the schemas alive (and unchanged) until outbox_avro_plan_free().
 */

#include <stddef.h>
#include <stdint.h>

#include "avro_schema.h"
#include "buf.h"

typedef struct outbox_avro_plan outbox_avro_plan;

/*
 * Compile the plan that reads values written with `writer` as `reader`. Returns 0 (*plan is
 * new, the caller owns it), OUTBOX_AVRO_ERR_RESOLVE (the pair does not resolve; errstr names
 * the field and the rule) or OUTBOX_AVRO_ERR_NOMEM; *plan is NULL on error. Any thread.
 */
int outbox_avro_plan_new(const outbox_schema *writer, const outbox_schema *reader,
                         outbox_avro_plan **plan, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* The same for two nodes of compiled schemas (e.g. a field's type). */
int outbox_avro_plan_new_node(const outbox_avro_node *writer, const outbox_avro_node *reader,
                              outbox_avro_plan **plan, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/*
 * Whether EVERY value written with `writer` can be read as `reader` (the check of schema
 * compatibility): as outbox_avro_plan_new(), and also no writer union branch the reader cannot
 * take and no writer enum symbol the reader lacks without a default. Returns 0,
 * OUTBOX_AVRO_ERR_RESOLVE (errstr names the field and the rule) or _NOMEM. Any thread.
 */
int outbox_avro_can_read(const outbox_schema *writer, const outbox_schema *reader, char *errstr,
                         size_t errstr_size) __attribute__((warn_unused_result));

/* The same, reporting EVERY problem (each one as errstr above) to each(opaque, problem).
 * Returns how many (0: every value resolves) or OUTBOX_AVRO_ERR_NOMEM. */
int outbox_avro_can_read_each(const outbox_schema *writer, const outbox_schema *reader,
                              void (*each)(void *opaque, const char *problem), void *opaque)
    __attribute__((warn_unused_result));

/* Free a plan. NULL is a no-op. No other thread may be using it. */
void outbox_avro_plan_free(outbox_avro_plan *plan);

/*
 * Append to `out` the reader-schema encoding of the value in `len` bytes of writer-schema
 * Avro binary at `data`. Returns 0, OUTBOX_AVRO_ERR_TRUNCATED / _MALFORMED (the input is not
 * a value of the writer schema, or has trailing bytes), OUTBOX_AVRO_ERR_RESOLVE (the value
 * uses a union branch or enum symbol the reader cannot take) or _NOMEM; errstr says where.
 * On error out->len is back to its value on entry. The caller keeps ownership of everything.
 */
int outbox_avro_resolve(const outbox_avro_plan *plan, const void *data, size_t len, outbox_buf *out,
                        char *errstr, size_t errstr_size) __attribute__((warn_unused_result));

#endif
