#ifndef OUTBOX_ERRSTR_H
#define OUTBOX_ERRSTR_H

/*
 * The one way to fill a caller's `char *errstr, size_t errstr_size` (STYLE.md item 4): printf
 * into it, truncating; a NULL or empty buffer is ignored. Any thread.
 */

#include <stddef.h>

void outbox_errstr_set(char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
