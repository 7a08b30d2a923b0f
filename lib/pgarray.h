#ifndef OUTBOX_PGARRAY_H
#define OUTBOX_PGARRAY_H

/*
 * outbox_pgarray: a PostgreSQL array literal ({"a","b",NULL}) built into an outbox_buf, to pass
 * a list as ONE text parameter ($1::text[], or `col = ANY($1)`), never spliced into SQL.
 * Every element is double-quoted, '"' and '\' escaped. Pure; the caller owns the buffer.
 */

#include "buf.h"

/* Start an array literal: buf (reset first) gets "{". 0 or -1 (ENOMEM). */
int outbox_pgarray_begin(outbox_buf *buf) __attribute__((warn_unused_result));

/* Append one element (NULL = SQL NULL), quoted and escaped ('"' and '\'), comma-separated.
 * `first` says whether it is the first element. 0 or -1 (ENOMEM). */
int outbox_pgarray_add(outbox_buf *buf, const char *elem, int first)
    __attribute__((warn_unused_result));

/* Close the literal and NUL-terminate it (buf->data is then a C string; len excludes NUL). */
int outbox_pgarray_end(outbox_buf *buf) __attribute__((warn_unused_result));

#endif
